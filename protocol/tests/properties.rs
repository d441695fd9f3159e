//! Property tests over random sequences of operations: whatever the order
//! and arguments, SUI is conserved, failed operations change nothing,
//! collateral bookkeeping stays exact, a node is never selected twice for a
//! request nor from another class, slashing never exceeds a stake, sampling
//! reads O(k) entries of the class, every request reaches a final state
//! once its deadlines pass, a failed request refunds exactly its fee, a
//! dispute quorum's size never changes; and, in a network of honest prompt
//! nodes, whatever the requesters, keepers and the admin do, nobody is ever
//! slashed.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here the property tests' driver applies every operation in one match

mod common;

use std::collections::HashMap;

use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::ops::due;
use atoma_protocol::params::LATENCY_FLOOR_MS;
use atoma_protocol::{Digest, Event, Mode, ObjectId, Params, Role, Status};
use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Submit {
        kind: u8,
        n: u64,
        p_bps: u64,
        uri: bool,
    },
    Abstain {
        req: usize,
        member: usize,
    },
    SetParams {
        variant: u8,
    },
    Commit {
        req: usize,
        member: usize,
        output: u8,
    },
    Reveal {
        req: usize,
        member: usize,
    },
    RevealSecret {
        req: usize,
        right: bool,
    },
    Expire {
        req: usize,
    },
    Select {
        req: usize,
    },
    OpenDispute {
        req: usize,
    },
    Wait {
        ms: u64,
    },
    AddCollateral {
        node: usize,
        amount: u64,
    },
    Leave {
        node: usize,
    },
    Withdraw {
        node: usize,
    },
    Register,
    /// Does what a request waits for: all members commit (one may cheat), the
    /// Sealed secret is revealed, or all members reveal.
    Play {
        req: usize,
        cheat: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, 1u64..4, prop_oneof![Just(0u64), Just(5_000), Just(10_000)], any::<bool>())
            .prop_map(|(kind, n, p_bps, uri)| Op::Submit { kind, n, p_bps, uri }),
        1 => (0usize..8, 0usize..8).prop_map(|(req, member)| Op::Abstain { req, member }),
        1 => (0u8..3).prop_map(|variant| Op::SetParams { variant }),
        6 => (0usize..8, 0usize..8, 0u8..4).prop_map(|(req, member, output)| Op::Commit { req, member, output }),
        5 => (0usize..8, 0usize..8).prop_map(|(req, member)| Op::Reveal { req, member }),
        1 => (0usize..8, any::<bool>()).prop_map(|(req, right)| Op::RevealSecret { req, right }),
        2 => (0usize..8).prop_map(|req| Op::Expire { req }),
        2 => (0usize..8).prop_map(|req| Op::Select { req }),
        1 => (0usize..8).prop_map(|req| Op::OpenDispute { req }),
        2 => prop_oneof![Just(1u64), Just(TIMEOUT), Just(30_000), Just(3_600_000)].prop_map(|ms| Op::Wait { ms }),
        1 => (0usize..16, 0u64..3_000).prop_map(|(node, amount)| Op::AddCollateral { node, amount }),
        1 => (0usize..16).prop_map(|node| Op::Leave { node }),
        1 => (0usize..16).prop_map(|node| Op::Withdraw { node }),
        1 => Just(Op::Register),
        16 => (0usize..8, 0usize..6).prop_map(|(req, cheat)| Op::Play { req, cheat }),
    ]
}

/// Parameter sets the admin switches between while requests run.
fn params_variant(variant: u8) -> Params {
    match variant {
        0 => Params::default(),
        1 => Params {
            timeout_slash_bps: 10_000,
            protocol_share_bps: 5_000,
            max_retries: 0,
            reveal_window_ms: LATENCY_FLOOR_MS,
            grace_ms: LATENCY_FLOOR_MS,
            ..Params::default()
        },
        _ => Params { max_retries: 10, reveal_window_ms: 3_600_000, grace_ms: 60_000, ..Params::default() },
    }
}

/// Outputs: honest "A", a cheat "B", or a per-node guess.
fn output_for(node: &ObjectId, choice: u8) -> Digest {
    match choice {
        0 | 1 => out("A"),
        2 => out("B"),
        _ => blake2b256(&node.0),
    }
}

struct Run {
    w: World,
    requests: Vec<ObjectId>,
    outputs: HashMap<(ObjectId, ObjectId), Digest>,
    live_caps: Vec<atoma_protocol::NodeCap>,
    /// Each request's dispute quorum size, once raised.
    dispute_sizes: HashMap<ObjectId, u64>,
}

impl Run {
    fn req_at(&self, i: usize) -> Option<ObjectId> {
        (!self.requests.is_empty()).then(|| self.requests[i % self.requests.len()])
    }

    fn slot_node(&self, req: &ObjectId, member: usize) -> Option<ObjectId> {
        let r = self.w.req(req);
        let active: Vec<ObjectId> = r.slots.iter().filter(|s| s.active).map(|s| s.node_id).collect();
        (!active.is_empty()).then(|| active[member % active.len()])
    }

    /// Commits `digest` for `node` (with `commit_primary` for a CrossValidation primary).
    fn commit_node(&mut self, req: &ObjectId, node: &ObjectId, digest: Digest) {
        let r = self.w.req(req);
        let is_primary = matches!(r.mode, Mode::CrossValidation { .. })
            && r.round == atoma_protocol::Round::Main
            && r.slots.iter().any(|s| s.active && s.node_id == *node && s.role == Role::Executor);
        let result = if is_primary {
            let random = self.w.seed();
            self.w.commit_primary(req, node, &digest, random)
        } else {
            self.w.commit(req, node, &digest)
        };
        if result.is_ok() {
            self.outputs.insert((*req, *node), digest);
        }
    }

    fn apply(&mut self, op: &Op) {
        let reads_before = self.reads();
        let slots_before: usize = self.requests.iter().map(|r| self.w.req(r).slots.len()).sum();
        match op.clone() {
            Op::Submit { kind, n, p_bps, uri } => {
                let mode = match kind {
                    0 => Mode::Sampling { n },
                    1 => Mode::CrossValidation { p_bps, n },
                    _ => Mode::Sealed { p_bps, n },
                };
                let input = format!("input {}", self.requests.len());
                let args = if uri { self.w.uri_args(input.as_bytes()) } else { self.w.args(input.as_bytes()) };
                if let Ok(id) = self.w.try_submit(mode, FEE, args) {
                    self.requests.push(id);
                }
            }
            Op::Abstain { req, member } => {
                let Some(req) = self.req_at(req) else { return };
                let Some(node) = self.slot_node(&req, member) else { return };
                let _ = self.w.abstain(&req, &node);
            }
            Op::SetParams { variant } => {
                let cap = self.w.admin;
                self.w.run(0, |s| s.set_params(&cap, params_variant(variant))).unwrap();
            }
            Op::Commit { req, member, output } => {
                let Some(req) = self.req_at(req) else { return };
                let Some(node) = self.slot_node(&req, member) else { return };
                self.commit_node(&req, &node, output_for(&node, output));
            }
            Op::Reveal { req, member } => {
                let Some(req) = self.req_at(req) else { return };
                let Some(node) = self.slot_node(&req, member) else { return };
                let digest = self.outputs.get(&(req, node)).copied().unwrap_or(out("A"));
                let _ = self.w.reveal(&req, &node, &digest);
            }
            Op::RevealSecret { req, right } => {
                let Some(req) = self.req_at(req) else { return };
                let secret = if right { World::secret() } else { Digest([1; 32]) };
                let _ = self.w.reveal_secret(&req, &secret);
            }
            Op::Expire { req } => {
                if let Some(req) = self.req_at(req) {
                    let _ = self.w.expire(&req);
                }
            }
            Op::Select { req } => {
                if let Some(req) = self.req_at(req) {
                    let _ = self.w.select_nodes(&req);
                }
            }
            Op::OpenDispute { req } => {
                if let Some(req) = self.req_at(req) {
                    let _ = self.w.open_dispute(&req);
                }
            }
            Op::Wait { ms } => self.w.now += ms,
            Op::AddCollateral { node, amount } => {
                if let Some(cap) = self.live_caps.get(node % self.live_caps.len().max(1)).copied() {
                    let class = self.w.class;
                    let _ = self.w.run(amount, |s| s.add_collateral(&class, &cap, amount));
                }
            }
            Op::Leave { node } => {
                if let Some(cap) = self.live_caps.get(node % self.live_caps.len().max(1)).copied() {
                    let ctx = self.w.ctx(self.w.owner(&cap.id));
                    let class = self.w.class;
                    let _ = self.w.run(0, |s| s.request_leave(&ctx, &class, &cap));
                }
            }
            Op::Withdraw { node } => {
                if self.live_caps.is_empty() {
                    return;
                }
                let idx = node % self.live_caps.len();
                let cap = self.live_caps[idx];
                let ctx = self.w.ctx(self.w.owner(&cap.id));
                let class = self.w.class;
                if self.w.run(0, |s| s.withdraw(&ctx, &class, cap)).is_ok() {
                    self.live_caps.remove(idx);
                }
            }
            Op::Register => {
                let cap = self.w.add_node();
                self.live_caps.push(cap);
            }
            Op::Play { req, cheat } => {
                let Some(req) = self.req_at(req) else { return };
                let r = self.w.req(&req).clone();
                match r.status {
                    Status::Verifying if r.secret.is_none() => {
                        let _ = self.w.reveal_secret(&req, &World::secret());
                    }
                    Status::Committing | Status::Verifying => {
                        for (k, i) in r.members().into_iter().enumerate() {
                            if r.slots[i].commitment.is_none() {
                                let node = r.slots[i].node_id;
                                self.commit_node(&req, &node, output_for(&node, if k == cheat { 2 } else { 0 }));
                            }
                        }
                    }
                    Status::Revealing => {
                        for i in r.members() {
                            let node = r.slots[i].node_id;
                            let digest = self.outputs.get(&(req, node)).copied().unwrap_or(out("A"));
                            let _ = self.w.reveal(&req, &node, &digest);
                        }
                    }
                    _ => {}
                }
            }
        }
        for r in &self.requests {
            let size = self.w.req(r).dispute_size;
            if size > 0 {
                self.dispute_sizes.entry(*r).or_insert(size);
            }
        }
        // Sampling reads O(k): each selection reads one entry per node drawn
        // and one per node the request already holds (its exclusions).
        let slots_after: usize = self.requests.iter().map(|r| self.w.req(r).slots.len()).sum();
        let reads = self.reads() - reads_before;
        assert!(
            reads <= 2 * slots_after as u64 + 2,
            "{op:?} read {reads} entries ({slots_before} -> {slots_after} slots)"
        );
        self.check_invariants();
    }

    fn reads(&self) -> u64 {
        self.w.state.classes.values().map(|c| c.active.reads()).sum()
    }

    fn check_invariants(&self) {
        let state = &self.w.state;
        let mut locked: HashMap<ObjectId, (u64, u64)> = HashMap::new();
        for r in self.w.state.requests.values() {
            let mut seen = std::collections::HashSet::new();
            for s in &r.slots {
                assert!(seen.insert(s.node_id), "node selected twice for one request");
                if let Ok(node) = state.node(&s.node_id) {
                    assert_eq!(node.class_id, r.class_id, "node from another class");
                }
                if s.active && s.role != Role::Candidate {
                    let e = locked.entry(s.node_id).or_default();
                    e.0 += s.stake;
                    e.1 += 1;
                }
            }
            if r.status.is_final() {
                assert!(r.slots.iter().all(|s| !s.active), "final request holds stakes");
                assert_eq!((r.fee, r.pool), (0, 0));
            }
            if let Some(size) = self.dispute_sizes.get(&r.id) {
                assert_eq!(r.dispute_size, *size, "a dispute quorum changed size");
            }
        }
        for e in &self.w.events {
            if let Event::RequestFailed(f) = e {
                let charged = f.reason == atoma_protocol::FailReason::InputUnavailable;
                assert!(f.refund == FEE || charged && f.refund < FEE, "a failed request refunds its fee: {f:?}");
            }
        }
        for class in state.classes.values() {
            for (id, node) in &class.nodes {
                let (l, t) = locked.get(id).copied().unwrap_or_default();
                assert_eq!((node.locked, node.open_tasks), (l, t), "lock bookkeeping of {id}");
                // Drafted seats may lock beyond the collateral; admission never does.
                assert!(node.collateral >= node.locked || !class.active.contains(id));
                assert_eq!(class.on_call.contains(id), class.is_on_call(node), "on-call list of {id}");
                assert_eq!(node.class_id, class.class_id, "node {id} filed under another class");
                assert_eq!(class.active.contains(id), class.is_eligible(node), "active list of {id}");
            }
        }
        for e in &self.w.events {
            if let Event::NodeSlashed(s) = e {
                assert!(s.amount <= TASK_LOCK, "slash above the stake");
            }
        }
    }

    /// Keeper: with time far past every deadline, drive each request to a final state.
    fn drain(&mut self) {
        for _ in 0..40 {
            self.w.now += 10 * Params::default().max_timeout_ms;
            let mut open = false;
            for req in self.requests.clone() {
                let r = self.w.req(&req).clone();
                if r.status.is_final() {
                    continue;
                }
                open = true;
                let call = *due(&r, self.w.now, 0).first().expect("a keeper call is due on an open request");
                let result = match call {
                    atoma_protocol::ops::KeeperCall::SelectNodes => self.w.select_nodes(&req),
                    atoma_protocol::ops::KeeperCall::OpenDispute => self.w.open_dispute(&req),
                    atoma_protocol::ops::KeeperCall::Expire => self.w.expire(&req),
                };
                result.expect("a keeper call due is possible");
                self.check_invariants();
            }
            if !open {
                break;
            }
        }
        for req in &self.requests {
            assert!(self.w.req(req).status.is_final(), "request {req} never finished");
        }
        self.w.assert_all_unlocked();
    }
}

/// What requesters, keepers and the admin may do to a network of honest nodes.
fn outside_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, 1u64..4, prop_oneof![Just(0u64), Just(5_000), Just(10_000)], any::<bool>())
            .prop_map(|(kind, n, p_bps, uri)| Op::Submit { kind, n, p_bps, uri }),
        1 => (0usize..8, 0usize..8).prop_map(|(req, member)| Op::Abstain { req, member }),
        1 => (0u8..3).prop_map(|variant| Op::SetParams { variant }),
        1 => (0usize..8, any::<bool>()).prop_map(|(req, right)| Op::RevealSecret { req, right }),
        2 => (0usize..8).prop_map(|req| Op::Expire { req }),
        2 => (0usize..8).prop_map(|req| Op::Select { req }),
        1 => (0usize..8).prop_map(|req| Op::OpenDispute { req }),
        3 => prop_oneof![Just(1u64), Just(TIMEOUT), Just(30_000), Just(3_600_000)].prop_map(|ms| Op::Wait { ms }),
        1 => (0usize..16, 0u64..3_000).prop_map(|(node, amount)| Op::AddCollateral { node, amount }),
        1 => (0usize..16).prop_map(|node| Op::Leave { node }),
        1 => (0usize..16).prop_map(|node| Op::Withdraw { node }),
        1 => Just(Op::Register),
    ]
}

impl Run {
    /// Honest, prompt nodes: after anything happens, every member that has not
    /// committed commits the true output and every member in a reveal phase
    /// reveals it. Abstention is an `Op` (a node that could not fetch a URI).
    fn respond(&mut self) {
        loop {
            let mut acted = false;
            for req in self.requests.clone() {
                let r = self.w.req(&req).clone();
                for i in r.members() {
                    let (node, slot) = (r.slots[i].node_id, &r.slots[i]);
                    if r.status == Status::Committing && slot.commitment.is_none() {
                        self.commit_node(&req, &node, out("A"));
                        assert!(self.outputs.contains_key(&(req, node)), "an honest commit is accepted");
                        acted = true;
                    } else if r.status == Status::Revealing && slot.reveal.is_none() {
                        self.w.reveal(&req, &node, &out("A")).expect("an honest reveal is accepted");
                        acted = true;
                    }
                }
            }
            if !acted {
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn honest_prompt_nodes_are_never_slashed_whatever_anyone_else_does(
        nodes in 3usize..12,
        ops in prop::collection::vec(outside_op(), 1..60),
    ) {
        let w = World::new(nodes);
        let live_caps = w.caps.clone();
        let mut run = Run { w, requests: Vec::new(), outputs: HashMap::new(), live_caps, dispute_sizes: HashMap::new() };
        for op in &ops {
            run.apply(op);
            run.respond();
        }
        for _ in 0..40 {
            run.w.now += 10 * Params::default().max_timeout_ms;
            for req in run.requests.clone() {
                let r = run.w.req(&req).clone();
                for call in due(&r, run.w.now, 0) {
                    let _ = match call {
                        atoma_protocol::ops::KeeperCall::SelectNodes => run.w.select_nodes(&req),
                        atoma_protocol::ops::KeeperCall::OpenDispute => run.w.open_dispute(&req),
                        atoma_protocol::ops::KeeperCall::Expire => run.w.expire(&req),
                    };
                }
                run.respond();
            }
        }
        for req in &run.requests {
            prop_assert!(run.w.req(req).status.is_final(), "request {} never finished", req);
        }
        run.w.assert_all_unlocked();
        let slashed: Vec<_> = run.w.events.iter().filter(|e| matches!(e, Event::NodeSlashed(_))).collect();
        prop_assert!(slashed.is_empty(), "honest nodes slashed: {:?}", slashed);
        prop_assert!(!run.w.events.iter().any(|e| matches!(e, Event::DisputeRaised(_))));
    }

    #[test]
    fn random_operation_sequences_keep_every_invariant(nodes in 3usize..12, ops in prop::collection::vec(op(), 1..80)) {
        let w = World::new(nodes);
        let live_caps = w.caps.clone();
        let mut run = Run { w, requests: Vec::new(), outputs: HashMap::new(), live_caps, dispute_sizes: HashMap::new() };
        for op in &ops {
            run.apply(op);
        }
        run.drain();
    }

    #[test]
    fn sampler_draws_distinct_indices_outside_the_exclusions(
        seed in any::<[u8; 32]>(),
        len in 1u64..500,
        k_frac in 0.0f64..1.0,
        excluded in prop::collection::vec(0u64..600, 0..20),
    ) {
        let excl_in_range = excluded.iter().filter(|&&i| i < len).collect::<std::collections::BTreeSet<_>>().len() as u64;
        let k = ((len - excl_in_range) as f64 * k_frac) as u64;
        let got = atoma_protocol::sampler::sample(&Digest(seed), k, len, &excluded).unwrap();
        prop_assert_eq!(got.len() as u64, k);
        let set: std::collections::BTreeSet<_> = got.iter().collect();
        prop_assert_eq!(set.len() as u64, k);
        prop_assert!(got.iter().all(|i| *i < len && !excluded.contains(i)));
        // Deterministic.
        prop_assert_eq!(atoma_protocol::sampler::sample(&Digest(seed), k, len, &excluded).unwrap(), got);
    }

    #[test]
    fn commitment_binds_every_field(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), c in any::<[u8; 32]>(), s in any::<[u8; 32]>(), which in 0usize..4) {
        let (rid, nid, out, salt) = (ObjectId(a), ObjectId(b), Digest(c), Digest(s));
        let base = commitment(&rid, &nid, &out, &salt);
        let mut flipped = [a, b, c, s];
        flipped[which][0] ^= 1;
        let other = commitment(&ObjectId(flipped[0]), &ObjectId(flipped[1]), &Digest(flipped[2]), &Digest(flipped[3]));
        prop_assert_ne!(base, other);
    }

    #[test]
    fn event_bytes_never_panic_on_decode(name_idx in 0usize..21, bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let name = Event::NAMES[name_idx % Event::NAMES.len()];
        if let Some(Ok(e)) = Event::from_bcs(name, &bytes) {
            // Whatever decodes re-encodes to a prefix-free value of the same type.
            prop_assert_eq!(e.name(), name);
        }
    }
}

#[test]
fn selection_cost_does_not_grow_with_the_class() {
    let mut costs = Vec::new();
    for size in [10usize, 1_000, 10_000] {
        let mut w = World::new(size);
        let before: u64 = w.state.classes.values().map(|c| c.active.reads()).sum();
        w.submit(Mode::Sampling { n: 5 });
        let after: u64 = w.state.classes.values().map(|c| c.active.reads()).sum();
        costs.push(after - before);
    }
    assert!(costs.iter().all(|&c| c == 5), "reads per submission: {costs:?}");
}
