//! A Monte Carlo network of honest, malicious and lazy nodes, driven through
//! the real state machine (`ops`) by the [`Driver`], one request at a time,
//! with a fixed seed.
//!
//! - Honest nodes execute (cost `cost` per execution) and commit the true
//!   output (in a dispute, with the dispute key of its bytes).
//! - Malicious nodes collude: they skip the work and all commit the same
//!   wrong output, hoping to be checked only by each other.
//! - Lazy nodes skip the work and commit a guess of their own.
//!
//! Every node acts promptly, so deadlines never fire; the requester of a
//! Sealed request reveals its secret as soon as the primary has committed.
//! After each request, slashed nodes are topped up to their registered
//! collateral so that the class (and thus the adversary's share) stays the
//! same throughout the run.
//!
//! Not for: timing, networking or the executor's behaviour; those are
//! measured end to end.

use std::collections::{BTreeMap, HashMap};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::commitment::{self, blake2b256, dispute_key, secret_hash};
use crate::driver::Driver;
use crate::events::Event;
use crate::ops::{Outcome, Payout, State, SubmitArgs, due};
use crate::params::Params;
use crate::request::Request;
use crate::state::NodeCap;
use crate::types::{Address, Digest, Mode, ObjectId, Role, Round, Status};

/// How a simulated node behaves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Strategy {
    /// Executes and commits the true output.
    Honest,
    /// Skips the work and commits the colluders' common wrong output.
    Malicious,
    /// Skips the work and commits a guess of its own.
    Lazy,
}

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Nodes in the class.
    pub nodes: u64,
    /// Of which colluding malicious nodes.
    pub malicious: u64,
    /// Of which lazy nodes.
    pub lazy: u64,
    /// The mode every request uses.
    pub mode: Mode,
    /// How many requests to simulate.
    pub requests: u64,
    /// Seed of the run's random numbers.
    pub seed: u64,
    /// Fee per request (MIST).
    pub fee: u64,
    /// Task lock of the class: the stake a wrong output loses (MIST).
    pub stake: u64,
    /// Native cost of one execution, charged to honest nodes (MIST).
    pub cost: u64,
}

impl SimConfig {
    /// The adversary's share `r` of the class.
    pub fn malicious_share(&self) -> f64 {
        self.malicious as f64 / self.nodes as f64
    }
}

/// Earnings of one strategy over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StrategyStats {
    /// Tasks taken (any role).
    pub tasks: u64,
    /// Net earnings over all tasks: rewards - slashes - execution costs (MIST).
    pub net: i128,
    /// Tasks taken as the first executor of a CrossValidation/Sealed request.
    pub primary_tasks: u64,
    /// Net earnings over those tasks.
    pub primary_net: i128,
}

impl StrategyStats {
    /// Mean net earnings per task.
    pub fn mean(&self) -> f64 {
        self.net as f64 / self.tasks.max(1) as f64
    }

    /// Mean net earnings per task as primary.
    pub fn primary_mean(&self) -> f64 {
        self.primary_net as f64 / self.primary_tasks.max(1) as f64
    }
}

/// What the run measured.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    /// Requests simulated.
    pub requests: u64,
    /// Requests finalized.
    pub finalized: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests whose first executors included a cheater (malicious or lazy).
    pub with_cheater: u64,
    /// Requests on which a wrong output was exposed (a dispute, or a wrong-output slash).
    pub detected: u64,
    /// Requests on which every main-round member was malicious (accepted with no check able to expose it).
    pub all_colluding: u64,
    /// Requests finalized with a wrong output.
    pub false_finality: u64,
    /// CrossValidation/Sealed requests whose primary was checked.
    pub checked: u64,
    /// Requests whose primary was a cheater.
    pub cheating_primary: u64,
    /// Of those, requests on which the cheat was exposed.
    pub cheating_primary_detected: u64,
    /// Commitments made, i.e. executions an honest network would have run.
    pub executions: u64,
    /// Earnings per strategy.
    pub by_strategy: HashMap<Strategy, StrategyStats>,
}

impl SimReport {
    /// Executions per request, relative to one native execution.
    pub fn compute_ratio(&self) -> f64 {
        self.executions as f64 / self.requests.max(1) as f64
    }

    /// `count` as a share of all requests.
    pub fn rate(&self, count: u64) -> f64 {
        count as f64 / self.requests.max(1) as f64
    }
}

struct SimNode {
    cap: NodeCap,
    owner: Address,
    strategy: Strategy,
}

/// Runs the simulation. Panics only on a configuration the class cannot
/// serve (more nodes per request than registered).
pub fn run(cfg: &SimConfig) -> SimReport {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let params = Params { min_fee_per_execution: 0, max_retries: 0, ..Params::default() };
    let (mut state, admin_cap, _) =
        State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), params).expect("default params are valid");
    let class = ObjectId::from_u64(3);
    state.add_hardware_class(&admin_cap, class, "sim", "device=cpu", cfg.stake, cfg.stake).expect("valid class");
    state.add_model(&admin_cap, &class, "m", &[0; 32], 1_000).expect("valid model");
    let mut driver = Driver::unchecked(state, 0);

    let mut nodes: HashMap<ObjectId, SimNode> = HashMap::new();
    let mut by_owner: HashMap<Address, ObjectId> = HashMap::new();
    for i in 0..cfg.nodes {
        let strategy = if i < cfg.malicious {
            Strategy::Malicious
        } else if i < cfg.malicious + cfg.lazy {
            Strategy::Lazy
        } else {
            Strategy::Honest
        };
        let owner = Address::from_u64(1_000 + i);
        let (cap, _) = driver
            .register(owner, &class, ObjectId::from_u64(1_000_000 + i), cfg.stake, "http://sim", &[0; 32])
            .expect("valid node");
        by_owner.insert(owner, cap.id);
        nodes.insert(cap.id, SimNode { cap, owner, strategy });
    }

    let mut report = SimReport { requests: cfg.requests, ..Default::default() };
    let sim = Sim { cfg, class: &class, nodes: &nodes, by_owner: &by_owner };
    for k in 0..cfg.requests {
        driver.now = request_time(k);
        driver.events.clear(); // the driver keeps the events of the request being simulated only
        sim.simulate(&mut driver, k, &mut rng, &mut report);
    }
    report
}

fn random_digest(rng: &mut ChaCha8Rng) -> Digest {
    let mut d = [0u8; 32];
    rng.fill_bytes(&mut d);
    Digest(d)
}

/// The parts of the simulated network a request does not change.
struct Sim<'a> {
    cfg: &'a SimConfig,
    class: &'a ObjectId,
    nodes: &'a HashMap<ObjectId, SimNode>,
    by_owner: &'a HashMap<Address, ObjectId>,
}

/// One simulated request as it runs.
struct Run {
    id: ObjectId,
    /// The requester's Sealed secret (drawn for every mode, used by Sealed).
    secret: Digest,
    truth_bytes: Vec<u8>,
    wrong_bytes: Vec<u8>,
    payouts: Vec<Payout>,
    /// What each node committed, with its salt (in the dispute round, the
    /// dispute key of the bytes it claims).
    answers: HashMap<ObjectId, (Digest, Digest)>,
    /// The CrossValidation or Sealed primary.
    primary: Option<ObjectId>,
    /// The main round's members when it reached its reveal phase.
    main_members_seen: Vec<ObjectId>,
}

/// The time every action of request `k` happens at (deadlines never pass).
fn request_time(k: u64) -> u64 {
    1_000 + k * 10
}

/// Who submits every request.
fn requester() -> Address {
    Address::from_u64(7)
}

impl Sim<'_> {
    /// Runs request `k` from submission to settlement and adds it to the report.
    fn simulate(&self, d: &mut Driver, k: u64, rng: &mut ChaCha8Rng, report: &mut SimReport) {
        let mut run = self.submit(d, k, rng);
        let first = d.state.request(&run.id).expect("submitted").nodes_with_role(Role::Executor);
        if first.iter().any(|id| self.nodes[id].strategy != Strategy::Honest) {
            report.with_cheater += 1;
        }
        run.primary = match self.cfg.mode {
            Mode::Sampling { .. } => None,
            _ => first.first().copied(),
        };
        for _step in 0..64 {
            let req = d.state.request(&run.id).expect("submitted").clone();
            if req.status.is_final() {
                break;
            }
            let outcome = self.step(d, &mut run, &req, rng);
            let outcome = outcome.expect("simulated nodes follow the protocol");
            run.payouts.extend(outcome.payouts);
        }
        self.tally(d, &run, report);
    }

    /// Submits request `k` in the configured mode.
    fn submit(&self, d: &mut Driver, k: u64, rng: &mut ChaCha8Rng) -> Run {
        let id = ObjectId::from_u64(10_000_000 + k);
        let input = k.to_le_bytes().to_vec();
        let args = SubmitArgs {
            model_id: "m".into(),
            input_digest: blake2b256(&input).0.to_vec(),
            input_inline: input.clone(),
            input_uri: None,
            timeout_ms: 60_000,
        };
        let (class, fee) = (self.class, self.cfg.fee);
        let secret = random_digest(rng);
        let seed = random_digest(rng);
        let hash = secret_hash(&secret).0;
        d.submit(requester(), class, id, args, self.cfg.mode, &hash, fee, seed)
            .expect("the class can serve the configured mode");
        Run {
            id,
            secret,
            truth_bytes: [b"out".as_slice(), &input].concat(),
            wrong_bytes: [b"colluded".as_slice(), &input].concat(),
            payouts: Vec::new(),
            answers: HashMap::new(),
            primary: None,
            main_members_seen: Vec::new(),
        }
    }

    /// What `node` claims the output is, and its salt.
    fn answer(&self, run: &Run, node: &SimNode, round: Round, rng: &mut ChaCha8Rng) -> (Digest, Digest) {
        let bytes = match node.strategy {
            Strategy::Honest => run.truth_bytes.clone(),
            Strategy::Malicious => run.wrong_bytes.clone(),
            Strategy::Lazy => random_digest(rng).0.to_vec(),
        };
        let salt = if round == Round::Dispute { dispute_key(&run.id, &bytes) } else { random_digest(rng) };
        (blake2b256(&bytes), salt)
    }

    /// Everyone's next move on a request that is not final: the keeper
    /// calls due (`ops::due`), the Sealed requester's secret, the members'
    /// commits or reveals.
    fn step(&self, d: &mut Driver, run: &mut Run, req: &Request, rng: &mut ChaCha8Rng) -> crate::Result<Outcome> {
        let (class, id) = (self.class, &run.id);
        match req.status {
            Status::Verifying if req.secret.is_none() => d.reveal_secret(requester(), class, id, &run.secret),
            Status::Committing | Status::Verifying => self.commit_all(d, run, req, rng),
            Status::Revealing => {
                if req.round == Round::Main {
                    run.main_members_seen = req.members().iter().map(|&i| req.slots[i].node_id).collect();
                }
                let mut outs = Vec::new();
                for i in req.members() {
                    let node = req.slots[i].node_id;
                    let (out, salt) = run.answers[&node];
                    outs.push(d.reveal(class, id, &node, &out, &salt));
                }
                merge(outs)
            }
            _ => {
                let mut outs = Vec::new();
                for call in due(req, d.now, 0) {
                    outs.push(d.keep(requester(), class, id, call, || random_digest(rng)));
                }
                merge(outs)
            }
        }
    }

    /// Every member that has not committed commits its answer.
    fn commit_all(&self, d: &mut Driver, run: &mut Run, req: &Request, rng: &mut ChaCha8Rng) -> crate::Result<Outcome> {
        let mut outs = Vec::new();
        for i in req.members() {
            let slot = &req.slots[i];
            if slot.commitment.is_some() {
                continue;
            }
            let node = &self.nodes[&slot.node_id];
            let (out, salt) = self.answer(run, node, req.round, rng);
            run.answers.insert(slot.node_id, (out, salt));
            let c = commitment::commitment(&run.id, &slot.node_id, &out, &salt);
            let is_cv_primary =
                matches!(self.cfg.mode, Mode::CrossValidation { .. }) && Some(slot.node_id) == run.primary;
            outs.push(if is_cv_primary && req.checked.is_none() {
                d.commit_primary(self.class, &run.id, &slot.node_id, &c, random_digest(rng))
            } else {
                d.commit(self.class, &run.id, &slot.node_id, &c)
            });
        }
        merge(outs)
    }

    /// Adds a settled request to the report, then tops slashed nodes back up.
    fn tally(&self, d: &mut Driver, run: &Run, report: &mut SimReport) {
        let req = d.state.request(&run.id).expect("submitted").clone();
        let truth = blake2b256(&run.truth_bytes);
        let mut exposed = false;
        let mut slashed: BTreeMap<ObjectId, u64> = BTreeMap::new();
        for e in &d.events {
            match e {
                Event::DisputeRaised(_) => exposed = true,
                Event::NodeSlashed(s) => {
                    exposed |= s.reason == crate::types::SlashReason::WrongOutput;
                    *slashed.entry(s.node_id).or_default() += s.amount;
                }
                Event::VerificationDrawn(d) if d.checked => report.checked += 1,
                Event::SecretRevealed(s) if s.checked => report.checked += 1,
                _ => {}
            }
        }
        match req.status {
            Status::Finalized => report.finalized += 1,
            _ => report.failed += 1,
        }
        if req.output_digest.is_some_and(|d| d != truth) {
            report.false_finality += 1;
        }
        if exposed {
            report.detected += 1;
        }
        let seen = &run.main_members_seen;
        if !seen.is_empty() && seen.iter().all(|id| self.nodes[id].strategy == Strategy::Malicious) {
            report.all_colluding += 1;
        }
        if run.primary.is_some_and(|p| self.nodes[&p].strategy != Strategy::Honest) {
            report.cheating_primary += 1;
            if exposed {
                report.cheating_primary_detected += 1;
            }
        }
        report.executions += req.slots.iter().filter(|s| s.commitment.is_some()).count() as u64;
        self.tally_earnings(&req, run, &slashed, report);
        for (node_id, amount) in slashed {
            let node = &self.nodes[&node_id];
            d.apply(node.owner, amount, |s, _| s.add_collateral(self.class, &node.cap, amount))
                .expect("registered node");
        }
    }

    /// Earnings per strategy: payouts less slashes less the cost of honest work.
    fn tally_earnings(&self, req: &Request, run: &Run, slashed: &BTreeMap<ObjectId, u64>, report: &mut SimReport) {
        let mut rewards: HashMap<ObjectId, u64> = HashMap::new();
        for p in &run.payouts {
            if let Some(node_id) = self.by_owner.get(&p.recipient) {
                *rewards.entry(*node_id).or_default() += p.amount;
            }
        }
        for slot in &req.slots {
            if slot.role == Role::Candidate {
                continue; // a Sealed candidate the secret did not choose did nothing
            }
            let node = &self.nodes[&slot.node_id];
            let cost = if node.strategy == Strategy::Honest && slot.commitment.is_some() { self.cfg.cost } else { 0 };
            let net = rewards.get(&slot.node_id).copied().unwrap_or(0) as i128
                - slashed.get(&slot.node_id).copied().unwrap_or(0) as i128
                - cost as i128;
            let stats = report.by_strategy.entry(node.strategy).or_default();
            stats.tasks += 1;
            stats.net += net;
            if Some(slot.node_id) == run.primary {
                stats.primary_tasks += 1;
                stats.primary_net += net;
            }
        }
    }
}

fn merge(outs: Vec<crate::Result<Outcome>>) -> crate::Result<Outcome> {
    let mut all = Outcome::default();
    for o in outs {
        let o = o?;
        all.events.extend(o.events);
        all.payouts.extend(o.payouts);
    }
    Ok(all)
}
