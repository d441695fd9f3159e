//! A request's life in a scenario: its submission, each member's commit,
//! reveal or leave, the keepers' calls, the Sealed secret and disputes.

use atoma_protocol::commitment::{blake2b256, commitment, dispute_key, secret_hash};
use atoma_protocol::ops::{KeeperCall, SubmitArgs, sealed_draw};
use atoma_protocol::{Digest, Input, Mode, NodeCap, ObjectId};
use atoma_protocol::{Role, Round, Status};
use rand::Rng;

use super::move_text::*;
use super::*;

impl Scenario {
    pub(super) fn submit(&mut self) {
        let n = self.rng.random_range(1..4);
        let p_bps = [0, 2_500, 10_000][self.rng.random_range(0..3)];
        let mode = match self.rng.random_range(0..3) {
            0 => Mode::Sampling { n },
            1 => Mode::CrossValidation { p_bps, n },
            _ => Mode::Sealed { p_bps, n },
        };
        let k = self.requests.len() as u64;
        let input = format!("input {k}").into_bytes();
        let uri = self.rng.random_bool(0.3);
        let params = self.world.state.network.params;
        let min = params.min_fee_for(mode);
        let fee =
            if self.rng.random_bool(0.05) { min.saturating_sub(1) } else { min + self.rng.random_range(0..5_000) };
        let (model, run_ms) = self.models[self.rng.random_range(0..self.models.len())].clone();
        // The shortest timeout the chain accepts, one short of it (refused), or more.
        let longest = self.world.state.classes[&self.class].longest_run_ms;
        let shortest = params.min_timeout_ms + run_ms + longest;
        let timeout_ms = match self.rng.random_range(0..8) {
            0 => shortest - 1,
            1 | 2 => shortest,
            _ => shortest + self.rng.random_range(0..10_000),
        };
        let seed = blake2b256(&self.rng.random::<[u8; 32]>());
        let secret = blake2b256(&self.rng.random::<[u8; 32]>());
        let hash = secret_hash(&secret);
        let sender = requester(self.rng.random_range(0..2));
        // The minted coin is the transaction's first object, the request its second.
        let id = scenario_id(self.txn + 1, 1);
        let (inline, uri_arg) = if uri {
            ("vector[]".to_string(), "option::some(b\"https://inputs.example/x\".to_string())".to_string())
        } else {
            (mv_bytes(&input), "option::none()".to_string())
        };
        let secret_arg = match mode {
            Mode::Sealed { .. } => format!("option::some({})", mv_bytes(&hash.0)),
            _ => "option::none()".into(),
        };
        let op = Op::new(
            sender,
            "request",
            format!(
                "        request::submit_with_seed_for_testing(&net, &mut class, b\"{model}\".to_string(), {digest}, {inline}, {uri_arg}, {timeout_ms}, {mode}, {secret_arg}, coin::mint_for_testing<SUI>({fee}, s.ctx()), {seed}, &clock, s.ctx());
",
                digest = mv_bytes(&blake2b256(&input).0),
                mode = mv_mode(&mode),
                seed = mv_bytes(&seed.0),
            ),
        );
        let args = SubmitArgs {
            model_id: model.clone(),
            input_digest: blake2b256(&input).0.to_vec(),
            input_inline: if uri { Vec::new() } else { input.clone() },
            input_uri: uri.then(|| "https://inputs.example/x".into()),
            timeout_ms,
        };
        let class = self.class;
        let ran = self.apply(op, |d, sender| d.submit(sender, &class, id, args, mode, &hash.0, fee, seed));
        if ran {
            // The request's object was created by the transaction just replayed;
            // check it exists under the predicted id.
            let exists = format!(
                "    s.next_tx({keeper});\n    {{ let r = s.take_shared_by_id<Request>({id}); ts::return_shared(r); }};\n",
                keeper = mv_addr(&addr(KEEPER).0),
                id = mv_id(&id)
            );
            self.code.push_str(&exists);
            self.plain.push_str(&exists);
            self.txn += 1;
            self.requests.push(id);
            self.secrets.insert(id, secret);
        }
    }

    /// The output bytes a node of `behaviour` claims for `req`.
    pub(super) fn output_of(&self, req: &ObjectId, node: &ObjectId, behaviour: Behaviour) -> Vec<u8> {
        let k = self.requests.iter().position(|r| r == req).unwrap_or(0);
        let split = self.split.get(req).is_some_and(|wrong| wrong.contains(node));
        match behaviour {
            _ if split => format!("wrong {k}").into_bytes(),
            Behaviour::Wrong => format!("wrong {k}").into_bytes(),
            Behaviour::LazyDisputer if self.is_disputer(req, node) => format!("guess {k}").into_bytes(),
            _ => format!("output {k}").into_bytes(),
        }
    }

    pub(super) fn is_disputer(&self, req: &ObjectId, node: &ObjectId) -> bool {
        self.world.state.requests[req].slots.iter().any(|s| s.node_id == *node && s.role == Role::Disputer)
    }

    /// The (digest, salt) a node commits and reveals for `req`.
    pub(super) fn answer(&self, req: &ObjectId, node: &ObjectId) -> (Digest, Digest) {
        let behaviour = self.behaviours[node];
        let bytes = self.output_of(req, node, behaviour);
        let salt = if self.is_disputer(req, node) {
            match behaviour {
                // A lazy disputer has no bytes: it guesses the key.
                Behaviour::LazyDisputer => blake2b256(b"a guessed key"),
                _ => dispute_key(req, &bytes),
            }
        } else {
            blake2b256(&[node.0.as_slice(), &req.0].concat())
        };
        (blake2b256(&bytes), salt)
    }

    pub(super) fn node_call(&mut self, req: ObjectId, node: ObjectId, body: String, consumes: bool) -> Op {
        let i = self.world.caps.iter().position(|c| c.id == node).expect("known node");
        Op {
            needs_request: Some(req),
            needs_cap: Some(node),
            consumes_cap: consumes,
            ..Op::new(owner(i), "request", body)
        }
    }

    pub(super) fn commit(&mut self, req: ObjectId, node: ObjectId) -> bool {
        let (digest, salt) = self.answer(&req, &node);
        let c = commitment(&req, &node, &digest, &salt);
        let r = &self.world.state.requests[&req];
        let primary = matches!(r.mode, Mode::CrossValidation { .. })
            && r.round == Round::Main
            && r.checked.is_none()
            && r.slots.iter().any(|s| s.active && s.node_id == node && s.role == Role::Executor);
        if primary {
            let random = blake2b256(&self.rng.random::<[u8; 32]>());
            let body = format!(
                "        request::commit_primary_with_seed_for_testing(&class, &mut r, &cap, {}, {}, &clock);\n",
                mv_bytes(&c.0),
                mv_bytes(&random.0)
            );
            let op = self.node_call(req, node, body, false);
            let class = self.class;
            self.apply(op, |d, _| d.commit_primary(&class, &req, &node, &c, random))
        } else {
            let body = format!("        request::commit(&class, &mut r, &cap, {}, &clock);\n", mv_bytes(&c.0));
            let op = self.node_call(req, node, body, false);
            let class = self.class;
            self.apply(op, |d, _| d.commit(&class, &req, &node, &c))
        }
    }

    pub(super) fn reveal(&mut self, req: ObjectId, node: ObjectId, lie: bool) -> bool {
        let (digest, mut salt) = self.answer(&req, &node);
        if lie {
            salt = blake2b256(&salt.0);
        }
        let body = format!(
            "        request::reveal(&mut class, &mut r, &cap, {}, {}, &clock, s.ctx());\n",
            mv_bytes(&digest.0),
            mv_bytes(&salt.0)
        );
        let op = self.node_call(req, node, body, false);
        let class = self.class;
        self.apply(op, |d, _| d.reveal(&class, &req, &node, &digest, &salt))
    }

    /// The node leaves its seat: `abstain` (no input) or `decline`.
    pub(super) fn leave(&mut self, req: ObjectId, node: ObjectId, abstain: bool) -> bool {
        let seed = blake2b256(&self.rng.random::<[u8; 32]>());
        let function = if abstain { "abstain" } else { "decline" };
        let body = format!(
            "        request::{function}_with_seed_for_testing(&mut class, &mut r, &cap, {}, &clock, s.ctx());\n",
            mv_bytes(&seed.0)
        );
        let op = self.node_call(req, node, body, false);
        let class = self.class;
        self.apply(op, |d, _| {
            if abstain { d.abstain(&class, &req, &node, seed) } else { d.decline(&class, &req, &node, seed) }
        })
    }

    /// A node call made with a cap of another class (`WrongClass`, refused):
    /// the class check of each function that takes a cap.
    pub(super) fn foreign_cap_call(&mut self, req: ObjectId) {
        let kind = self.rng.random_range(0..4);
        let seed = blake2b256(&self.rng.random::<[u8; 32]>());
        let call = match kind {
            0 => "request::commit(&class, &mut r, &cap, x\"00\", &clock)".to_string(),
            1 => format!(
                "request::reveal(&mut class, &mut r, &cap, {}, {}, &clock, s.ctx())",
                mv_bytes(&[1; 32]),
                mv_bytes(&[2; 32])
            ),
            2 => format!(
                "request::abstain_with_seed_for_testing(&mut class, &mut r, &cap, {}, &clock, s.ctx())",
                mv_bytes(&seed.0)
            ),
            _ => format!(
                "request::decline_with_seed_for_testing(&mut class, &mut r, &cap, {}, &clock, s.ctx())",
                mv_bytes(&seed.0)
            ),
        };
        let body = format!(
            "        let cap = node::new_cap_for_testing(object::id(&net), 7, s.ctx());\n        {call};\n        node::destroy_cap_for_testing(cap);\n"
        );
        let op = Op { needs_request: Some(req), ..Op::new(addr(KEEPER), "request", body) };
        let (class, network_id) = (self.class, self.world.state.network.id);
        // The cap's id is the transaction's first new object.
        let cap = NodeCap { id: scenario_id(self.txn + 1, 0), network_id, class_id: 7 };
        self.apply(op, |d, sender| {
            d.apply(sender, 0, |s, ctx| match kind {
                0 => s.commit(ctx, &class, &req, &cap, &[0]),
                1 => s.reveal(ctx, &class, &req, &cap, &[1; 32], &[2; 32]),
                2 => s.abstain(ctx, &class, &req, &cap, seed),
                _ => s.decline(ctx, &class, &req, &cap, seed),
            })
        });
    }

    pub(super) fn keeper(&mut self, req: ObjectId, kind: u8) -> bool {
        let seed = blake2b256(&self.rng.random::<[u8; 32]>());
        let body = match kind {
            0 => "        request::select_nodes(&mut class, &mut r, &clock, s.ctx());\n".to_string(),
            1 => {
                format!("        request::open_dispute_with_seed_for_testing(&class, &mut r, {});\n", mv_bytes(&seed.0))
            }
            _ => format!(
                "        request::expire_with_seed_for_testing(&mut class, &mut r, {}, &clock, s.ctx());\n",
                mv_bytes(&seed.0)
            ),
        };
        let op = Op { needs_request: Some(req), ..Op::new(addr(KEEPER), "request", body) };
        let class = self.class;
        let call = match kind {
            0 => KeeperCall::SelectNodes,
            1 => KeeperCall::OpenDispute,
            _ => KeeperCall::Expire,
        };
        self.apply(op, |d, sender| d.keep(sender, &class, &req, call, || seed))
    }

    pub(super) fn reveal_secret(&mut self, req: ObjectId, right: bool) -> bool {
        let secret = if right { self.secrets[&req] } else { Digest([1; 32]) };
        let requester = self.world.state.requests[&req].requester;
        let op = Op {
            needs_request: Some(req),
            ..Op::new(
                requester,
                "request",
                format!(
                    "        request::reveal_secret(&mut class, &mut r, {}, &clock, s.ctx());\n",
                    mv_bytes(&secret.0)
                ),
            )
        };
        let class = self.class;
        self.apply(op, |d, sender| d.reveal_secret(sender, &class, &req, &secret))
    }

    /// Does what a request waits for, as its nodes' behaviours say; returns
    /// whether anything ran.
    pub(super) fn play(&mut self, req: ObjectId) -> bool {
        let r = self.world.state.requests[&req].clone();
        match r.status {
            // A pending selection: verifiers, a dispute quorum, a refill.
            Status::Selecting => {
                let opened = r.selection.role == Role::Disputer && r.round == Round::Main;
                let ran = self.keeper(req, 0);
                if ran && opened {
                    self.split_dispute(req);
                }
                ran
            }
            Status::Committing if r.refill_pending() => self.keeper(req, 0),
            Status::Disputed => self.keeper(req, 1),
            Status::Verifying => {
                // Chosen candidates told by the requester may commit early; the
                // requester reveals (or not) inside the window.
                if self.rng.random_bool(0.3)
                    && let (Mode::Sealed { p_bps, n }, Some(secret)) = (r.mode, self.secrets.get(&req).copied())
                {
                    let pool: Vec<ObjectId> = r.nodes_with_role(Role::Candidate);
                    let (_, chosen) = sealed_draw(&r.seed, &secret, p_bps, n, pool.len() as u64);
                    if let Some(&p) = chosen.first() {
                        let node = pool[p as usize];
                        let idle = r.slots.iter().any(|s| s.node_id == node && s.active && s.commitment.is_none());
                        if idle && self.live.contains(&node) {
                            return self.commit(req, node);
                        }
                    }
                }
                if self.rng.random_bool(0.7) { self.reveal_secret(req, true) } else { false }
            }
            Status::Committing => {
                let mut acted = false;
                for i in r.members() {
                    let node = r.slots[i].node_id;
                    if r.slots[i].commitment.is_some() {
                        continue;
                    }
                    match self.behaviours[&node] {
                        Behaviour::Silent => {}
                        Behaviour::Decliner => acted |= self.leave(req, node, false),
                        _ if matches!(r.input, Input::Uri(_)) && self.rng.random_bool(0.15) => {
                            acted |= self.leave(req, node, true)
                        }
                        _ => acted |= self.commit(req, node),
                    }
                    let now = &self.world.state.requests[&req];
                    if now.status != Status::Committing || now.refill_pending() {
                        break;
                    }
                }
                acted
            }
            Status::Revealing => {
                let mut acted = false;
                for i in r.members() {
                    let node = r.slots[i].node_id;
                    if r.slots[i].reveal.is_some() || self.behaviours[&node] == Behaviour::Withhold {
                        continue;
                    }
                    acted |= self.reveal(req, node, false);
                    if self.world.state.requests[&req].status != Status::Revealing {
                        break;
                    }
                }
                acted
            }
            Status::Finalized | Status::Failed => false,
        }
    }

    /// Now and then, a dispute quorum just seated splits on purpose: `k` of
    /// its `2k + 1` disputers vote the wrong output (the majority's edge).
    pub(super) fn split_dispute(&mut self, req: ObjectId) {
        let r = &self.world.state.requests[&req];
        if r.round != Round::Dispute || !self.rng.random_bool(0.4) {
            return;
        }
        let disputers = r.nodes_with_role(Role::Disputer);
        let k = (r.dispute_size / 2) as usize;
        self.split.insert(req, disputers.into_iter().take(k).collect());
    }
}
