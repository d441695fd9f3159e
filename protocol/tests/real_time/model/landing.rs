//! A transaction landing on the chain: the protocol operation it calls (on
//! the driver's state, between `begin` and `finish`, which keep the ledger
//! and check it), and what its outcome wakes.

use super::*;

impl Model {
    pub(super) fn land(&mut self, tx: Tx) {
        let key = format!("{tx:?}");
        self.inflight.remove(&key);
        let now = self.driver.now;
        let class = self.class;
        let admin = self.admin;
        let (sender, paid_in) = self.sender_of(&tx);
        let ctx = Ctx::new(sender, now);
        let random = self.random();
        let before = self.driver.begin();
        let mut exit_promise = None;
        let result: Result<Outcome, ProtocolError> = match &tx {
            Tx::Submit(r) => {
                let r = *r;
                let Some(args) = self.submit_args(r) else { return };
                let (mode, id, secret) = (self.reqs[r].ask.mode, self.reqs[r].id, self.reqs[r].secret);
                chain::submit(&mut self.driver.state, &ctx, &class, id, mode, args, paid_in, random, &secret)
            }
            Tx::Commit { node, req, digest } => {
                let cap = self.nodes[*node].cap;
                let r = self.driver.state.request(req).cloned();
                match r {
                    Err(e) => Err(e),
                    Ok(r) => {
                        let salt = self.salt(&r, &cap.id, digest);
                        let c = commitment(req, &cap.id, digest, &salt);
                        let primary = matches!(r.mode, Mode::CrossValidation { .. })
                            && r.round == Round::Main
                            && r.active_slot(&cap.id).is_some_and(|i| r.slots[i].role == Role::Executor);
                        if primary {
                            chain::commit_primary(&mut self.driver.state, &ctx, &class, req, &cap, &c, random)
                        } else {
                            chain::commit(&mut self.driver.state, &ctx, &class, req, &cap, &c)
                        }
                    }
                }
            }
            Tx::Reveal { node, req, digest } => {
                let cap = self.nodes[*node].cap;
                match self.driver.state.request(req).cloned() {
                    Err(e) => Err(e),
                    Ok(r) => {
                        let salt = self.salt(&r, &cap.id, digest);
                        chain::reveal(&mut self.driver.state, &ctx, &class, req, &cap, digest, &salt)
                    }
                }
            }
            Tx::Abstain { node, req } => {
                let cap = self.nodes[*node].cap;
                chain::abstain(&mut self.driver.state, &ctx, &class, req, &cap, random)
            }
            Tx::Decline { node, req } => {
                let cap = self.nodes[*node].cap;
                chain::decline(&mut self.driver.state, &ctx, &class, req, &cap, random)
            }
            Tx::Secret { req } => {
                let r = self.req_index(req).expect("known request");
                let secret = self.reqs[r].secret;
                chain::reveal_secret(&mut self.driver.state, &ctx, &class, req, &secret)
            }
            Tx::Keep { req, call } => chain::keep(&mut self.driver.state, &ctx, &class, req, *call, random),
            Tx::Old { req, kind } => self.old_call(&ctx, req, *kind, random),
            Tx::SetParams(p) => chain::set_params(&mut self.driver.state, &admin, *p),
            Tx::AddModel { name, run_ms } => {
                let r = chain::add_model(&mut self.driver.state, &admin, &class, name, *run_ms);
                if r.is_ok() {
                    self.models.push((name.clone(), *run_ms));
                    for n in self.nodes.iter_mut() {
                        n.models.insert(name.clone(), now + INSTALL_MS);
                    }
                }
                r
            }
            Tx::Upgrade => chain::upgrade(&mut self.driver.state, &admin, &class),
            Tx::Leave { node } => {
                let cap = self.nodes[*node].cap;
                let r = self.driver.state.request_leave(&ctx, &class, &cap);
                if let Ok(out) = &r {
                    exit_promise = chain::promised_exit(out).map(|t| (*node, t));
                }
                r
            }
            Tx::Withdraw { node } => {
                let cap = self.nodes[*node].cap;
                let r = self.driver.state.withdraw(&ctx, &class, cap);
                match &r {
                    Ok(_) => self.nodes[*node].gone = true,
                    Err(ProtocolError::OpenTasks) => self.at(now + 10_000, Ev::Land(Tx::Withdraw { node: *node })),
                    Err(e) => {
                        let promised = self.nodes[*node].exit_ms;
                        self.violate(
                            "an exit NodeLeaving promised is honoured",
                            format!("withdraw at {now} (promised {promised:?}): {e:?}"),
                        );
                    }
                }
                r
            }
            Tx::AddCollateral { node, amount } => {
                let cap = self.nodes[*node].cap;
                self.driver.state.add_collateral(&class, &cap, *amount)
            }
            Tx::Register { colluder } => {
                let kind = if *colluder { Kind::Colluder } else { Kind::Honest };
                let r = self.register(kind);
                self.trace.push(format!("[{now}] register {kind:?}: {r:?}"));
                if r.is_ok() {
                    self.landed += 1;
                    self.wake_all();
                }
                return;
            }
        };
        self.landed += 1;
        if let Err(broken) = self.driver.finish(before, paid_in, &result) {
            let promise = match broken {
                Broken::NotConserved { .. } => "(c) SUI is conserved",
                Broken::RefusalChanged { .. } => "a refused transaction changes nothing",
            };
            self.violate(promise, broken.to_string());
        }
        match result {
            Ok(out) => {
                self.trace.push(format!("[{now}] {} ok: {}", short(&tx), names(&out)));
                if let Tx::Submit(r) = tx {
                    self.reqs[r].fee = paid_in;
                }
                if let Some((node, t)) = exit_promise {
                    self.nodes[node].exit_ms = Some(t);
                    self.at(t, Ev::Land(Tx::Withdraw { node }));
                }
                self.check_outcome(&tx, &out);
                self.wake_all();
            }
            Err(e) => {
                self.trace.push(format!("[{now}] {} refused: {e:?}", short(&tx)));
            }
        }
    }

    pub(super) fn sender_of(&self, tx: &Tx) -> (Address, u64) {
        match tx {
            Tx::Submit(r) => (Address::from_u64(0xbeef + *r as u64), self.fee_of(*r)),
            Tx::Commit { node, .. }
            | Tx::Reveal { node, .. }
            | Tx::Abstain { node, .. }
            | Tx::Decline { node, .. }
            | Tx::Leave { node }
            | Tx::Withdraw { node } => (Self::owner(*node), 0),
            Tx::AddCollateral { node, amount } => (Self::owner(*node), *amount),
            Tx::Secret { req } => {
                let r = self.req_index(req).unwrap_or(0);
                (Address::from_u64(0xbeef + r as u64), 0)
            }
            _ => (Address::from_u64(0xcafe), 0),
        }
    }

    pub(super) fn fee_of(&self, r: usize) -> u64 {
        let min = self.driver.state.network.params.min_fee_for(self.reqs[r].ask.mode);
        match self.reqs[r].ask.fee {
            Fee::Minimum => min,
            Fee::Plus(x) => min.saturating_add(x),
            Fee::Huge => SUI_SUPPLY_MIST,
        }
    }

    pub(super) fn submit_args(&self, r: usize) -> Option<SubmitArgs> {
        let req = &self.reqs[r];
        let p = self.driver.state.network.params;
        let bound = self.models.iter().find(|(n, _)| *n == req.model).map_or(0, |m| m.1);
        let timeout_ms = match req.ask.timeout {
            Timeout::Shortest => shortest_timeout(&p, bound, self.longest_run()),
            Timeout::Fair => shortest_timeout(&p, bound, self.longest_run())
                .max(p.min_timeout_ms + 2 * self.longest_run() + LATENCY_MS),
            Timeout::Ms(ms) => ms,
            Timeout::Longest => p.max_timeout_ms,
        };
        let input = format!("input {}", req.id).into_bytes();
        let digest = blake2b256(&input).0.to_vec();
        Some(match req.ask.uri {
            None => SubmitArgs {
                model_id: req.model.clone(),
                input_digest: digest,
                input_inline: input,
                input_uri: None,
                timeout_ms,
            },
            Some(_) => SubmitArgs {
                model_id: req.model.clone(),
                input_digest: digest,
                input_inline: Vec::new(),
                input_uri: Some("https://requester.example/input".into()),
                timeout_ms,
            },
        })
    }

    pub(super) fn longest_run(&self) -> u64 {
        self.models.iter().map(|m| m.1).max().unwrap_or(0)
    }

    pub(super) fn salt(&self, r: &Request, node: &ObjectId, digest: &Digest) -> Digest {
        let disputer = r.slots.iter().any(|s| s.node_id == *node && s.role == Role::Disputer);
        if disputer { dispute_key(&r.id, &digest.0) } else { salt_of(node) }
    }

    /// A call through the retired package.
    pub(super) fn old_call(
        &mut self,
        ctx: &Ctx,
        req: &ObjectId,
        kind: u8,
        random: Digest,
    ) -> Result<Outcome, ProtocolError> {
        let current = self.driver.state.package_version;
        if current == 1 {
            return Err(ProtocolError::WrongVersion);
        }
        let r = self.driver.state.request(req)?.clone();
        let class = self.class;
        self.driver.state.package_version = current - 1;
        let result = match kind % 2 {
            0 => {
                // A member commits (the colluders' answer) through the old package.
                let slot = r.members().into_iter().find(|&i| r.slots[i].commitment.is_none());
                match slot {
                    None => Err(ProtocolError::NotSelected),
                    Some(i) => {
                        let node = r.slots[i].node_id;
                        let cap = self.nodes[self.node_index(&node).expect("known")].cap;
                        let c = commitment(req, &node, &Digest([9; 32]), &salt_of(&node));
                        let ctx = Ctx::new(Self::owner(self.node_index(&node).unwrap_or(0)), ctx.now_ms);
                        if matches!(r.mode, Mode::CrossValidation { .. }) && r.slots[i].role == Role::Executor {
                            chain::commit_primary(&mut self.driver.state, &ctx, &class, req, &cap, &c, random)
                        } else {
                            chain::commit(&mut self.driver.state, &ctx, &class, req, &cap, &c)
                        }
                    }
                }
            }
            _ => chain::keep(&mut self.driver.state, ctx, &class, req, KeeperCall::OpenDispute, random),
        };
        self.driver.state.package_version = current;
        if result.is_ok() {
            self.violate("retired code cannot act", format!("a call through package {} moved {req}", current - 1));
        }
        result
    }
}
