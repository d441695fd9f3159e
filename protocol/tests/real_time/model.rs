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
use atoma_protocol::driver::{Broken, Driver};
use atoma_protocol::ops::{Ctx, KeeperCall, Outcome, State, SubmitArgs};
use atoma_protocol::{
    Address, AdminCap, Digest, Event, FailReason, Mode, NodeCap, ObjectId, Params, ProtocolError, Request, Role, Round,
    SlashReason,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::chain;

mod actors;
mod landing;
mod ops;
mod promises;

pub use ops::{Ask, Fee, Kind, Op, SecretPlan, Serve, Timeout};

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
    /// The state, the clock and the ledger, checked after every transaction.
    pub driver: Driver,
    admin: AdminCap,
    class: ObjectId,
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
            driver: Driver::checked(state, 1_000_000),
            admin,
            class,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: Vec::new(),
            reqs: Vec::new(),
            models: Vec::new(),
            inflight: BTreeSet::new(),
            next_id: 100,
            trace: Vec::new(),
            violation: None,
            landed: 0,
            seen: BTreeMap::new(),
        };
        m.driver.state.add_hardware_class(&admin, class, "cpu", "device=cpu", MIN_COLLATERAL, TASK_LOCK).unwrap();
        chain::add_model(&mut m.driver.state, &admin, &class, BASE_MODEL, run_ms).unwrap();
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
        let (id, class) = (self.fresh_id(), self.class);
        let (cap, _) = self.driver.register(Self::owner(i), &class, id, MIN_COLLATERAL, "http://node", &[1; 32])?;
        // An operator registers a node that serves every model of its class.
        let models = self.models.iter().map(|(name, _)| (name.clone(), self.driver.now)).collect();
        self.nodes.push(Node { cap, kind, models, queue: Vec::new(), running: None, exit_ms: None, gone: false });
        Ok(())
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
        self.at(self.driver.now + delay, Ev::Land(tx));
    }

    /// Every actor looks at the chain again, each after its own delay.
    fn wake_all(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.nodes[i].gone {
                let d = self.rng.random_range(0..=SEE_MS);
                self.at(self.driver.now + d, Ev::Wake(i));
            }
        }
        let d = self.rng.random_range(0..=SEE_MS);
        self.at(self.driver.now + d, Ev::Keeper);
    }

    /// Runs every event up to `until`.
    pub fn run_until(&mut self, until: u64) {
        while self.violation.is_none() {
            let Some(Reverse((time, seq))) = self.queue.peek().copied() else { break };
            if time > until {
                break;
            }
            self.queue.pop();
            self.driver.now = self.driver.now.max(time);
            let ev = self.events.remove(&seq).expect("scheduled");
            self.handle(ev);
            self.check_open();
        }
        self.driver.now = self.driver.now.max(until);
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
                self.at(self.driver.now, Ev::Wake(node));
            }
        }
    }

    // === The adversary ===

    pub fn apply(&mut self, op: &Op) {
        self.trace.push(format!("[{}] op {op:?}", self.driver.now));
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
                let until = self.driver.now + ms;
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
            submitted_ms: self.driver.now,
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
            Some(Serve::Until(ms)) => self.driver.now < req.submitted_ms + ms,
        }
    }

    // === Transactions ===
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
