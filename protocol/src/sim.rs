//! A Monte Carlo network of honest, malicious and lazy nodes, driven through
//! the real state machine (`ops`), one request at a time, with a fixed seed.
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
use crate::events::Event;
use crate::ops::{Ctx, State, SubmitArgs};
use crate::params::Params;
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
    let (class_id, _) =
        state.add_hardware_class(&admin_cap, class, "sim", "device=cpu", cfg.stake, cfg.stake).expect("valid class");
    state.add_model(&admin_cap, "m", &[0; 32], class_id).expect("valid model");

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
        let ctx = Ctx::new(owner, 0);
        let (cap, _) = state
            .register_node(&ctx, &class, ObjectId::from_u64(1_000_000 + i), cfg.stake, "http://sim", &[0; 32])
            .expect("valid node");
        by_owner.insert(owner, cap.id);
        nodes.insert(cap.id, SimNode { cap, owner, strategy });
    }

    let mut report = SimReport { requests: cfg.requests, ..Default::default() };
    for k in 0..cfg.requests {
        simulate_request(cfg, &mut state, &class, &nodes, &by_owner, k, &mut rng, &mut report);
    }
    report
}

fn random_digest(rng: &mut ChaCha8Rng) -> Digest {
    let mut d = [0u8; 32];
    rng.fill_bytes(&mut d);
    Digest(d)
}

#[allow(clippy::too_many_arguments)]
fn simulate_request(
    cfg: &SimConfig,
    state: &mut State,
    class: &ObjectId,
    nodes: &HashMap<ObjectId, SimNode>,
    by_owner: &HashMap<Address, ObjectId>,
    k: u64,
    rng: &mut ChaCha8Rng,
    report: &mut SimReport,
) {
    let requester = Address::from_u64(7);
    let now = 1_000 + k * 10;
    let ctx = Ctx::new(requester, now);
    let request_id = ObjectId::from_u64(10_000_000 + k);
    let input = k.to_le_bytes().to_vec();
    let truth_bytes = [b"out".as_slice(), &input].concat();
    let wrong_bytes = [b"colluded".as_slice(), &input].concat();
    let truth = blake2b256(&truth_bytes);
    let args = SubmitArgs {
        model_id: "m".into(),
        input_digest: blake2b256(&input).0.to_vec(),
        input_inline: input.clone(),
        input_uri: None,
        timeout_ms: 60_000,
    };
    let secret = random_digest(rng);
    let seed = random_digest(rng);
    let submitted = match cfg.mode {
        Mode::Sampling { n } => state.submit_sampling(&ctx, class, request_id, args, n, cfg.fee, seed),
        Mode::CrossValidation { p_bps, n } => {
            state.submit_cross_validation(&ctx, class, request_id, args, p_bps, n, cfg.fee, seed)
        }
        Mode::Sealed { p_bps, n } => {
            state.submit_sealed(&ctx, class, request_id, args, p_bps, n, &secret_hash(&secret).0, cfg.fee, seed)
        }
    };
    let mut events = submitted.expect("the class can serve the configured mode").events;
    let mut payouts = Vec::new();

    // What each node committed, with its salt (in the dispute round, the
    // dispute key of the bytes it claims).
    let mut answers: HashMap<ObjectId, (Digest, Digest)> = HashMap::new();
    let answer = |node: &SimNode, round: Round, rng: &mut ChaCha8Rng| {
        let bytes = match node.strategy {
            Strategy::Honest => truth_bytes.clone(),
            Strategy::Malicious => wrong_bytes.clone(),
            Strategy::Lazy => random_digest(rng).0.to_vec(),
        };
        let salt = if round == Round::Dispute { dispute_key(&request_id, &bytes) } else { random_digest(rng) };
        (blake2b256(&bytes), salt)
    };
    let first: Vec<ObjectId> = state.request(&request_id).expect("submitted").nodes_with_role(Role::Executor);
    if first.iter().any(|id| nodes[id].strategy != Strategy::Honest) {
        report.with_cheater += 1;
    }
    let primary = match cfg.mode {
        Mode::Sampling { .. } => None,
        _ => first.first().copied(),
    };
    let primary_cheats = primary.is_some_and(|p| nodes[&p].strategy != Strategy::Honest);
    let mut main_members_seen: Vec<ObjectId> = Vec::new();

    for _step in 0..64 {
        let req = state.request(&request_id).expect("submitted").clone();
        let ctx = Ctx::new(requester, now);
        let outcome = match req.status {
            Status::Finalized | Status::Failed => break,
            Status::Selecting => state.select_nodes(&ctx, class, &request_id),
            Status::Disputed => state.open_dispute(&ctx, &request_id, random_digest(rng)),
            Status::Verifying if req.secret.is_none() => state.reveal_secret(&ctx, class, &request_id, &secret.0),
            Status::Committing | Status::Verifying => {
                let mut outs = Vec::new();
                for i in req.members() {
                    let slot = &req.slots[i];
                    if slot.commitment.is_some() {
                        continue;
                    }
                    let node = &nodes[&slot.node_id];
                    let (out, salt) = answer(node, req.round, rng);
                    answers.insert(slot.node_id, (out, salt));
                    let c = commitment::commitment(&request_id, &slot.node_id, &out, &salt);
                    let nctx = Ctx::new(node.owner, now);
                    let is_cv_primary =
                        matches!(cfg.mode, Mode::CrossValidation { .. }) && Some(slot.node_id) == primary;
                    outs.push(if is_cv_primary && req.checked.is_none() {
                        state.commit_primary(&nctx, &request_id, &node.cap, &c.0, random_digest(rng))
                    } else {
                        state.commit(&nctx, &request_id, &node.cap, &c.0)
                    });
                }
                merge(outs)
            }
            Status::Revealing => {
                if req.round == Round::Main {
                    main_members_seen = req.members().iter().map(|&i| req.slots[i].node_id).collect();
                }
                let mut outs = Vec::new();
                for i in req.members() {
                    let slot = &req.slots[i];
                    let node = &nodes[&slot.node_id];
                    let (out, salt) = answers[&slot.node_id];
                    outs.push(state.reveal(&Ctx::new(node.owner, now), class, &request_id, &node.cap, &out.0, &salt.0));
                }
                merge(outs)
            }
        };
        let outcome = outcome.expect("simulated nodes follow the protocol");
        events.extend(outcome.events);
        payouts.extend(outcome.payouts);
    }

    // Outcome of the request.
    let req = state.request(&request_id).expect("submitted").clone();
    let mut exposed = false;
    let mut slashed: BTreeMap<ObjectId, u64> = BTreeMap::new();
    for e in &events {
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
    if !main_members_seen.is_empty() && main_members_seen.iter().all(|id| nodes[id].strategy == Strategy::Malicious) {
        report.all_colluding += 1;
    }
    if primary_cheats {
        report.cheating_primary += 1;
        if exposed {
            report.cheating_primary_detected += 1;
        }
    }
    report.executions += req.slots.iter().filter(|s| s.commitment.is_some()).count() as u64;

    // Earnings per strategy, then top slashed nodes back up.
    let mut rewards: HashMap<ObjectId, u64> = HashMap::new();
    for p in &payouts {
        if let Some(node_id) = by_owner.get(&p.recipient) {
            *rewards.entry(*node_id).or_default() += p.amount;
        }
    }
    for slot in &req.slots {
        if slot.role == Role::Candidate {
            continue; // a Sealed candidate the secret did not choose did nothing
        }
        let node = &nodes[&slot.node_id];
        let cost = if node.strategy == Strategy::Honest && slot.commitment.is_some() { cfg.cost } else { 0 };
        let net = rewards.get(&slot.node_id).copied().unwrap_or(0) as i128
            - slashed.get(&slot.node_id).copied().unwrap_or(0) as i128
            - cost as i128;
        let stats = report.by_strategy.entry(node.strategy).or_default();
        stats.tasks += 1;
        stats.net += net;
        if Some(slot.node_id) == primary {
            stats.primary_tasks += 1;
            stats.primary_net += net;
        }
    }
    for (node_id, amount) in slashed {
        state.add_collateral(class, &nodes[&node_id].cap, amount).expect("registered node");
    }
}

fn merge(outs: Vec<crate::Result<crate::ops::Outcome>>) -> crate::Result<crate::ops::Outcome> {
    let mut all = crate::ops::Outcome::default();
    for o in outs {
        let o = o?;
        all.events.extend(o.events);
        all.payouts.extend(o.payouts);
    }
    Ok(all)
}
