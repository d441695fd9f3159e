//! The protocol in real time: a discrete-event model of one class of nodes
//! on a chain where nothing is instant.
//!
//! - Every transaction lands `0..=LAND_MS` after it is sent, and every
//!   actor sees a change `0..=SEE_MS` after it landed: one reaction takes
//!   at most `LATENCY_MS`.
//! - An honest node has one worker: it runs one model at a time, each run
//!   taking up to the model's run-time bound on the class; it fetches a URI
//!   input (`FETCH_MS` when served), commits what it computed, reveals,
//!   abstains when it cannot obtain the input, declines what it cannot run
//!   in time (a model it has not installed yet, a queue too long), and
//!   moves every request on as a keeper once a deadline has passed.
//!   An operator installs a model `INSTALL_MS` after it is added.
//! - A colluder answers an attacked request with the colluders' common
//!   wrong output at once, without running the model.
//! - Requesters, the admin, keepers and a retired package are driven by the
//!   adversary's operations (`Op`): any parameter, any moment.
//!
//! After every transaction and every step, `Model::check` holds the
//! protocol to its promises (docs/protocol.md, "Promises"); a broken one is
//! a `Violation`, with the trace that led to it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use atoma_protocol::commitment::{blake2b256, commitment, dispute_key};
use atoma_protocol::ops::{Ctx, KeeperCall, Outcome, State, SubmitArgs};
use atoma_protocol::{
    Address, AdminCap, Digest, Event, FailReason, Mode, NodeCap, ObjectId, Params, ProtocolError, Request, Role, Round,
    SlashReason,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::chain;

mod actors;
mod promises;

/// The most a transaction takes to land.
pub const LAND_MS: u64 = 1_000;
/// The most an actor takes to see a change.
pub const SEE_MS: u64 = 500;
/// One reaction: seeing a change and landing the answer.
pub const LATENCY_MS: u64 = LAND_MS + SEE_MS;
/// How long after a deadline keepers call `expire`.
pub const KEEP_MARGIN_MS: u64 = 500;
/// Fetching a URI input that is served.
pub const FETCH_MS: u64 = 200;
/// How long a node tries to fetch an input before it abstains.
pub const INPUT_TIMEOUT_MS: u64 = 10_000;
/// How long an operator takes to install a model after it is added.
pub const INSTALL_MS: u64 = 120_000;
pub const MIN_COLLATERAL: u64 = 10_000;
pub const TASK_LOCK: u64 = 1_000;
/// Sui's total supply (10 billion SUI): no payment is larger, and no two
/// balances add up to more, so no settlement overflows on chain.
pub const SUI_SUPPLY_MIST: u64 = 10_000_000_000 * 1_000_000_000;
/// The class's first model.
pub const BASE_MODEL: &str = "m";

/// Who gets a URI input from the requester's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    All,
    Nobody,
    /// Only the colluders.
    Colluders,
    /// The nodes whose index bit is set.
    Mask(u32),
    /// Everyone, until this long after submission.
    Until(u64),
}

/// When a Sealed requester reveals its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretPlan {
    Prompt,
    Late,
    Never,
}

/// A requester's choice of timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// The smallest the chain accepts for the model.
    Shortest,
    /// Enough for a node finishing another run first: the smallest the
    /// chain accepts, or twice the class's longest run and a reaction.
    Fair,
    /// This many ms.
    Ms(u64),
    /// The largest the chain accepts.
    Longest,
}

/// A requester's choice of fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fee {
    Minimum,
    Plus(u64),
    Huge,
}

/// One request as the adversary asks for it.
#[derive(Clone, Debug)]
pub struct Ask {
    pub mode: Mode,
    pub timeout: Timeout,
    pub fee: Fee,
    /// `None`: inline.
    pub uri: Option<Serve>,
    /// Colluders answer it with their wrong output.
    pub attacked: bool,
    /// Index into the models (0 is the base model).
    pub model: usize,
    pub secret: SecretPlan,
}

/// What the adversary does next.
#[derive(Clone, Debug)]
pub enum Op {
    Submit(Ask),
    SetParams(Params),
    AddModel {
        run_ms: u64,
    },
    Upgrade,
    /// A call through the package before the last upgrade.
    OldCall {
        req: usize,
        kind: u8,
    },
    Keeper {
        req: usize,
        call: u8,
    },
    Leave {
        node: usize,
    },
    AddCollateral {
        node: usize,
        amount: u64,
    },
    Register {
        colluder: bool,
    },
    Wait {
        ms: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Honest,
    Colluder,
}

struct Node {
    cap: NodeCap,
    kind: Kind,
    /// Model -> when the operator had it installed.
    models: BTreeMap<String, u64>,
    /// Queued runs: (priority, deadline, request).
    queue: Vec<(u8, u64, ObjectId)>,
    /// The run in progress and when it ends.
    running: Option<(ObjectId, u64)>,
    /// The exit time `NodeLeaving` promised.
    exit_ms: Option<u64>,
    gone: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Work {
    /// Trying to fetch the input since this time.
    Fetching(u64),
    Queued,
    Running,
    Done(Digest),
    GaveUp,
    /// A colluder's: committed this, and will not reveal it.
    Withhold(Digest),
}

struct Req {
    id: ObjectId,
    ask: Ask,
    model: String,
    submitted_ms: u64,
    secret: Digest,
    truth: Digest,
    wrong: Digest,
    /// Per node: its work on the request, and whether a call is in flight.
    work: BTreeMap<ObjectId, Work>,
    /// Nodes that ran the model (and got the truth).
    computed: BTreeSet<ObjectId>,
    /// The fee paid, once the submission landed.
    fee: u64,
}

#[derive(Clone, Debug)]
enum Tx {
    Submit(usize),
    Commit { node: usize, req: ObjectId, digest: Digest },
    Reveal { node: usize, req: ObjectId, digest: Digest },
    Abstain { node: usize, req: ObjectId },
    Decline { node: usize, req: ObjectId },
    Secret { req: ObjectId },
    Keep { req: ObjectId, call: KeeperCall },
    Old { req: ObjectId, kind: u8 },
    SetParams(Params),
    AddModel { name: String, run_ms: u64 },
    Upgrade,
    Leave { node: usize },
    Withdraw { node: usize },
    AddCollateral { node: usize, amount: u64 },
    Register { colluder: bool },
}

#[derive(Clone, Debug)]
enum Ev {
    Land(Tx),
    Wake(usize),
    Keeper,
    Done { node: usize, req: ObjectId },
}

/// A broken promise.
#[derive(Debug)]
pub struct Violation {
    pub promise: &'static str,
    pub detail: String,
}

/// The class, its chain and everyone acting on it.
pub struct Model {
    pub state: State,
    admin: AdminCap,
    class: ObjectId,
    pub now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Ev>,
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    reqs: Vec<Req>,
    /// Models: name -> run-time bound.
    models: Vec<(String, u64)>,
    /// Calls in flight, so that an actor does not send the same twice.
    inflight: BTreeSet<String>,
    /// SUI that entered from outside, less what was paid out.
    net_in: i128,
    next_id: u64,
    pub trace: Vec<String>,
    pub violation: Option<Violation>,
    /// Transactions landed.
    pub landed: usize,
    /// How often each event (and each slash and failure reason) occurred.
    pub seen: BTreeMap<String, usize>,
}

fn salt_of(node: &ObjectId) -> Digest {
    blake2b256(&[b"salt".as_slice(), &node.0].concat())
}

impl Model {
    /// A class of `honest` and `colluders` nodes whose first model runs in up to `run_ms`.
    pub fn new(seed: u64, honest: usize, colluders: usize, run_ms: u64) -> Model {
        let (state, admin, _) =
            State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), Params::default()).unwrap();
        let class = ObjectId::from_u64(3);
        let mut m = Model {
            state,
            admin,
            class,
            now: 1_000_000,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: Vec::new(),
            reqs: Vec::new(),
            models: Vec::new(),
            inflight: BTreeSet::new(),
            net_in: 0,
            next_id: 100,
            trace: Vec::new(),
            violation: None,
            landed: 0,
            seen: BTreeMap::new(),
        };
        m.state.add_hardware_class(&admin, class, "cpu", "device=cpu", MIN_COLLATERAL, TASK_LOCK).unwrap();
        chain::add_model(&mut m.state, &admin, &class, BASE_MODEL, run_ms).unwrap();
        m.models.push((BASE_MODEL.to_string(), run_ms));
        for i in 0..honest + colluders {
            m.register(if i < honest { Kind::Honest } else { Kind::Colluder }).unwrap();
        }
        m
    }

    fn fresh_id(&mut self) -> ObjectId {
        self.next_id += 1;
        ObjectId::from_u64(self.next_id)
    }

    fn random(&mut self) -> Digest {
        Digest(self.rng.random())
    }

    fn owner(i: usize) -> Address {
        Address::from_u64(0x1000 + i as u64)
    }

    fn register(&mut self, kind: Kind) -> Result<(), ProtocolError> {
        let i = self.nodes.len();
        let id = self.fresh_id();
        let ctx = Ctx::new(Self::owner(i), self.now);
        let class = self.class;
        let held = self.state.held();
        let (cap, out) = self.state.register_node(&ctx, &class, id, MIN_COLLATERAL, "http://node", &[1; 32])?;
        self.ledger(held, MIN_COLLATERAL, &out);
        // An operator registers a node that serves every model of its class.
        let models = self.models.iter().map(|(name, _)| (name.clone(), self.now)).collect();
        self.nodes.push(Node { cap, kind, models, queue: Vec::new(), running: None, exit_ms: None, gone: false });
        Ok(())
    }

    fn ledger(&mut self, held_before: u128, paid_in: u64, out: &Outcome) {
        let held_after = self.state.held();
        if held_before as i128 + paid_in as i128 != held_after as i128 + out.paid() as i128 {
            self.violate(
                "(c) SUI is conserved",
                format!("held {held_before} + in {paid_in} != {held_after} + out {}", out.paid()),
            );
        }
        self.net_in += paid_in as i128 - out.paid() as i128;
    }

    fn violate(&mut self, promise: &'static str, detail: String) {
        if self.violation.is_none() {
            self.trace.push(format!("VIOLATION {promise}: {detail}"));
            self.violation = Some(Violation { promise, detail });
        }
    }

    fn node_index(&self, id: &ObjectId) -> Option<usize> {
        self.nodes.iter().position(|n| n.cap.id == *id)
    }

    fn is_colluder(&self, id: &ObjectId) -> bool {
        self.node_index(id).is_some_and(|i| self.nodes[i].kind == Kind::Colluder)
    }

    fn req_index(&self, id: &ObjectId) -> Option<usize> {
        self.reqs.iter().position(|r| r.id == *id)
    }

    // === Scheduling ===

    fn at(&mut self, time: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((time, self.seq)));
        self.events.insert(self.seq, ev);
    }

    fn send(&mut self, tx: Tx) {
        let delay = self.rng.random_range(0..=LAND_MS);
        self.at(self.now + delay, Ev::Land(tx));
    }

    /// Every actor looks at the chain again, each after its own delay.
    fn wake_all(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.nodes[i].gone {
                let d = self.rng.random_range(0..=SEE_MS);
                self.at(self.now + d, Ev::Wake(i));
            }
        }
        let d = self.rng.random_range(0..=SEE_MS);
        self.at(self.now + d, Ev::Keeper);
    }

    /// Runs every event up to `until`.
    pub fn run_until(&mut self, until: u64) {
        while self.violation.is_none() {
            let Some(Reverse((time, seq))) = self.queue.peek().copied() else { break };
            if time > until {
                break;
            }
            self.queue.pop();
            self.now = self.now.max(time);
            let ev = self.events.remove(&seq).expect("scheduled");
            self.handle(ev);
            self.check_open();
        }
        self.now = self.now.max(until);
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Land(tx) => self.land(tx),
            Ev::Wake(i) => self.act(i),
            Ev::Keeper => self.keep(),
            Ev::Done { node, req } => {
                self.nodes[node].running = None;
                if let Some(r) = self.req_index(&req) {
                    let id = self.nodes[node].cap.id;
                    let digest = self.reqs[r].truth;
                    self.reqs[r].work.insert(id, Work::Done(digest));
                    self.reqs[r].computed.insert(id);
                }
                self.start_next(node);
                self.at(self.now, Ev::Wake(node));
            }
        }
    }

    // === The adversary ===

    pub fn apply(&mut self, op: &Op) {
        self.trace.push(format!("[{}] op {op:?}", self.now));
        match op.clone() {
            Op::Submit(ask) => self.ask(ask),
            Op::SetParams(p) => self.send(Tx::SetParams(p)),
            Op::AddModel { run_ms } => {
                let name = format!("model-{}", self.models.len());
                self.send(Tx::AddModel { name, run_ms });
            }
            Op::Upgrade => self.send(Tx::Upgrade),
            Op::OldCall { req, kind } => {
                if let Some(r) = self.pick_req(req) {
                    self.send(Tx::Old { req: r, kind });
                }
            }
            Op::Keeper { req, call } => {
                if let Some(r) = self.pick_req(req) {
                    let call =
                        [KeeperCall::Expire, KeeperCall::SelectNodes, KeeperCall::OpenDispute][call as usize % 3];
                    self.send(Tx::Keep { req: r, call });
                }
            }
            Op::Leave { node } => {
                let i = node % self.nodes.len();
                if self.nodes[i].kind == Kind::Honest && !self.nodes[i].gone && self.nodes[i].exit_ms.is_none() {
                    self.send(Tx::Leave { node: i });
                }
            }
            Op::AddCollateral { node, amount } => {
                let i = node % self.nodes.len();
                self.send(Tx::AddCollateral { node: i, amount });
            }
            Op::Register { colluder } => self.send(Tx::Register { colluder }),
            Op::Wait { ms } => {
                let until = self.now + ms;
                self.run_until(until);
            }
        }
    }

    fn pick_req(&self, i: usize) -> Option<ObjectId> {
        (!self.reqs.is_empty()).then(|| self.reqs[i % self.reqs.len()].id)
    }

    fn ask(&mut self, ask: Ask) {
        let id = self.fresh_id();
        let k = self.reqs.len() as u64;
        let model = self.models[ask.model % self.models.len()].0.clone();
        self.reqs.push(Req {
            id,
            model,
            submitted_ms: self.now,
            secret: blake2b256(&id.0),
            truth: blake2b256(format!("truth {k}").as_bytes()),
            wrong: blake2b256(format!("wrong {k}").as_bytes()),
            ask,
            work: BTreeMap::new(),
            computed: BTreeSet::new(),
            fee: 0,
        });
        self.send(Tx::Submit(self.reqs.len() - 1));
    }

    /// The requester's server: whether node `i` gets the input now.
    fn served(&self, r: usize, i: usize) -> bool {
        let req = &self.reqs[r];
        match req.ask.uri {
            None | Some(Serve::All) => true,
            Some(Serve::Nobody) => false,
            Some(Serve::Colluders) => self.nodes[i].kind == Kind::Colluder,
            Some(Serve::Mask(mask)) => mask & (1 << (i % 32)) != 0,
            Some(Serve::Until(ms)) => self.now < req.submitted_ms + ms,
        }
    }

    // === Transactions ===

    fn land(&mut self, tx: Tx) {
        let key = format!("{tx:?}");
        self.inflight.remove(&key);
        let now = self.now;
        let class = self.class;
        let admin = self.admin;
        let (sender, paid_in) = self.sender_of(&tx);
        let ctx = Ctx::new(sender, now);
        let random = self.random();
        let held = self.state.held();
        let mut exit_promise = None;
        let result: Result<Outcome, ProtocolError> = match &tx {
            Tx::Submit(r) => {
                let r = *r;
                let Some(args) = self.submit_args(r) else { return };
                let (mode, id, secret) = (self.reqs[r].ask.mode, self.reqs[r].id, self.reqs[r].secret);
                chain::submit(&mut self.state, &ctx, &class, id, mode, args, paid_in, random, &secret)
            }
            Tx::Commit { node, req, digest } => {
                let cap = self.nodes[*node].cap;
                let r = self.state.request(req).cloned();
                match r {
                    Err(e) => Err(e),
                    Ok(r) => {
                        let salt = self.salt(&r, &cap.id, digest);
                        let c = commitment(req, &cap.id, digest, &salt);
                        let primary = matches!(r.mode, Mode::CrossValidation { .. })
                            && r.round == Round::Main
                            && r.active_slot(&cap.id).is_some_and(|i| r.slots[i].role == Role::Executor);
                        if primary {
                            chain::commit_primary(&mut self.state, &ctx, &class, req, &cap, &c, random)
                        } else {
                            chain::commit(&mut self.state, &ctx, &class, req, &cap, &c)
                        }
                    }
                }
            }
            Tx::Reveal { node, req, digest } => {
                let cap = self.nodes[*node].cap;
                match self.state.request(req).cloned() {
                    Err(e) => Err(e),
                    Ok(r) => {
                        let salt = self.salt(&r, &cap.id, digest);
                        chain::reveal(&mut self.state, &ctx, &class, req, &cap, digest, &salt)
                    }
                }
            }
            Tx::Abstain { node, req } => {
                let cap = self.nodes[*node].cap;
                chain::abstain(&mut self.state, &ctx, &class, req, &cap, random)
            }
            Tx::Decline { node, req } => {
                let cap = self.nodes[*node].cap;
                chain::decline(&mut self.state, &ctx, &class, req, &cap, random)
            }
            Tx::Secret { req } => {
                let r = self.req_index(req).expect("known request");
                let secret = self.reqs[r].secret;
                chain::reveal_secret(&mut self.state, &ctx, &class, req, &secret)
            }
            Tx::Keep { req, call } => chain::keep(&mut self.state, &ctx, &class, req, *call, random),
            Tx::Old { req, kind } => self.old_call(&ctx, req, *kind, random),
            Tx::SetParams(p) => chain::set_params(&mut self.state, &admin, *p),
            Tx::AddModel { name, run_ms } => {
                let r = chain::add_model(&mut self.state, &admin, &class, name, *run_ms);
                if r.is_ok() {
                    self.models.push((name.clone(), *run_ms));
                    for n in self.nodes.iter_mut() {
                        n.models.insert(name.clone(), now + INSTALL_MS);
                    }
                }
                r
            }
            Tx::Upgrade => chain::upgrade(&mut self.state, &admin, &class),
            Tx::Leave { node } => {
                let cap = self.nodes[*node].cap;
                let r = self.state.request_leave(&ctx, &class, &cap);
                if let Ok(out) = &r {
                    exit_promise = chain::promised_exit(out).map(|t| (*node, t));
                }
                r
            }
            Tx::Withdraw { node } => {
                let cap = self.nodes[*node].cap;
                let r = self.state.withdraw(&ctx, &class, cap);
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
                self.state.add_collateral(&class, &cap, *amount)
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
        match result {
            Ok(out) => {
                self.trace.push(format!("[{now}] {} ok: {}", short(&tx), names(&out)));
                self.ledger(held, paid_in, &out);
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

    fn sender_of(&self, tx: &Tx) -> (Address, u64) {
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

    fn fee_of(&self, r: usize) -> u64 {
        let min = self.state.network.params.min_fee_for(self.reqs[r].ask.mode);
        match self.reqs[r].ask.fee {
            Fee::Minimum => min,
            Fee::Plus(x) => min.saturating_add(x),
            Fee::Huge => SUI_SUPPLY_MIST,
        }
    }

    fn submit_args(&self, r: usize) -> Option<SubmitArgs> {
        let req = &self.reqs[r];
        let p = self.state.network.params;
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

    fn longest_run(&self) -> u64 {
        self.models.iter().map(|m| m.1).max().unwrap_or(0)
    }

    fn salt(&self, r: &Request, node: &ObjectId, digest: &Digest) -> Digest {
        let disputer = r.slots.iter().any(|s| s.node_id == *node && s.role == Role::Disputer);
        if disputer { dispute_key(&r.id, &digest.0) } else { salt_of(node) }
    }

    /// A call through the retired package.
    fn old_call(&mut self, ctx: &Ctx, req: &ObjectId, kind: u8, random: Digest) -> Result<Outcome, ProtocolError> {
        let current = self.state.package_version;
        if current == 1 {
            return Err(ProtocolError::WrongVersion);
        }
        let r = self.state.request(req)?.clone();
        let class = self.class;
        self.state.package_version = current - 1;
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
                            chain::commit_primary(&mut self.state, &ctx, &class, req, &cap, &c, random)
                        } else {
                            chain::commit(&mut self.state, &ctx, &class, req, &cap, &c)
                        }
                    }
                }
            }
            _ => chain::keep(&mut self.state, ctx, &class, req, KeeperCall::OpenDispute, random),
        };
        self.state.package_version = current;
        if result.is_ok() {
            self.violate("retired code cannot act", format!("a call through package {} moved {req}", current - 1));
        }
        result
    }
}

/// The seats of a request's current round.
pub fn seats(r: &Request) -> u64 {
    match r.round {
        Round::Dispute => r.dispute_size,
        Round::Main => match r.mode {
            Mode::Sampling { n } => n,
            Mode::CrossValidation { n, .. } | Mode::Sealed { n, .. } => 1 + if r.checked == Some(true) { n } else { 0 },
        },
    }
}

/// The shortest commit timeout the chain accepts for a model of `run_ms`
/// in a class whose longest model runs in `longest_ms`.
pub fn shortest_timeout(p: &Params, run_ms: u64, longest_ms: u64) -> u64 {
    p.min_timeout_ms + run_ms + longest_ms
}

/// How long a request may stay open (docs/protocol.md, "Every request ends").
pub fn end_bound(r: &Request) -> u64 {
    let p = &r.params;
    let react = KEEP_MARGIN_MS + LATENCY_MS;
    let phase = |window: u64| window.saturating_add(p.grace_ms).saturating_add(2 * react);
    let commits = (p.max_retries + 3).saturating_mul(phase(r.timeout_ms));
    let windows = 3u64.saturating_mul(phase(p.reveal_window_ms));
    commits.saturating_add(windows).saturating_add((p.max_retries + 4) * react)
}

fn short(tx: &Tx) -> String {
    let s = format!("{tx:?}");
    s.chars().take(90).collect()
}

fn names(out: &Outcome) -> String {
    out.events.iter().map(|e| e.name()).collect::<Vec<_>>().join(",")
}
