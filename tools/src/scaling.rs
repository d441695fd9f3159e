//! Throughput against the number of hardware classes under Sui's
//! per-object congestion control (docs/scaling.md), for the benchmark:
//!
//! - `model`: the local network's congestion model (`atoma_localnet::congestion`)
//!   driven round by round by the transactions of Sampling requests, with the
//!   shared objects each layout makes them write: one `Network` written by
//!   every request (the layout before classes had objects of their own), or
//!   one object per class. Saturating load: every class always has requests
//!   waiting.
//! - `localnet`: the local network itself, with the model on, serving
//!   requesters and nodes that submit, commit and reveal through the SDK
//!   (no inference: the nodes reveal a fixed output), one object per class.
//!
//! Not for: latency (the benchmark's other sections).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use atoma_localnet::congestion::{Admission, CongestionConfig, SharedInput, Tracker};
use atoma_localnet::genesis::{GenesisConfig, ParamsConfig};
use atoma_localnet::node::NodeConfig;
use atoma_localnet::{Localnet, Options};
use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::{Digest, Event, Mode, ObjectId, SubmitArgs};
use atoma_sdk::Chain;
use atoma_sdk::keys::Key;
use sui_sdk_types::Address;

/// The two object layouts compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Every request-path transaction that touches the network's state writes the one `Network`.
    OneNetwork,
    /// Each class is its own shared object; requests only read the `Network`.
    PerClass,
}

impl Layout {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Layout::OneNetwork => "one Network (before)",
            Layout::PerClass => "one object per class (after)",
        }
    }
}

/// A shared object a request's transaction names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    /// The `Network`.
    Network,
    /// The request's class object.
    Class,
    /// The request itself.
    Request,
}

/// One step of a request: `count` transactions (one per node, or the
/// requester's one) with the same shared objects, run in the same commit at
/// the earliest.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// What the step is.
    pub name: &'static str,
    /// The shared objects each transaction takes, and whether it writes them.
    pub objects: &'static [(Object, bool)],
    /// Whether it uses `Random`.
    pub random: bool,
    /// Transactions in the step.
    pub count: u32,
}

/// The transactions of a Sampling request with `n` = 3 that finalizes, in
/// each layout (from the entry functions' signatures: docs/scaling.md).
pub fn sampling_trace(layout: Layout) -> [Step; 3] {
    use Object::*;
    match layout {
        Layout::OneNetwork => [
            Step { name: "submit_sampling", objects: &[(Network, true)], random: true, count: 1 },
            Step { name: "commit", objects: &[(Request, true)], random: false, count: 3 },
            Step { name: "reveal", objects: &[(Network, true), (Request, true)], random: false, count: 3 },
        ],
        Layout::PerClass => [
            Step { name: "submit_sampling", objects: &[(Network, false), (Class, true)], random: true, count: 1 },
            Step { name: "commit", objects: &[(Request, true)], random: false, count: 3 },
            Step { name: "reveal", objects: &[(Class, true), (Request, true)], random: false, count: 3 },
        ],
    }
}

/// Writes of each shared object per request of `trace`.
pub fn writes_per_request(trace: &[Step]) -> BTreeMap<Object, u32> {
    let mut out = BTreeMap::from([(Object::Network, 0), (Object::Class, 0), (Object::Request, 0)]);
    for step in trace {
        for (object, mutable) in step.objects {
            if *mutable {
                *out.entry(*object).or_default() += step.count;
            }
        }
    }
    out
}

/// What one run of the model gave.
#[derive(Clone, Debug)]
pub struct ModelRun {
    /// Requests finalized per minute over the measured window.
    pub finalized_per_minute: f64,
    /// Deferrals per finalized request.
    pub deferrals_per_request: f64,
    /// Transactions cancelled (and sent again) over the run.
    pub cancelled: u64,
}

struct InFlight {
    class: usize,
    id: Address,
    step: usize,
    remaining: u32,
    ready: u64,
    deferred_rounds: u64,
}

/// Runs the model for `warmup + measured` commits with `classes` classes of
/// `in_flight` requests each, and counts the requests finalized during the
/// measured commits.
pub fn model(layout: Layout, classes: usize, config: CongestionConfig, in_flight: usize, measured: u64) -> ModelRun {
    let warmup = 100;
    let trace = sampling_trace(layout);
    let network = Address::new([0xAA; 32]);
    let class_object = |k: usize| Address::new(blake2b256(format!("class {k}").as_bytes()).0);
    let mut next_id = 0u64;
    let mut fresh = |class: usize, ready: u64| {
        next_id += 1;
        let id = Address::new(blake2b256(&next_id.to_le_bytes()).0);
        InFlight { class, id, step: 0, remaining: trace[0].count, ready, deferred_rounds: 0 }
    };
    let mut requests: Vec<InFlight> = (0..classes * in_flight).map(|i| fresh(i % classes, 0)).collect();
    let mut tracker = Tracker::new(config);
    let (mut finalized, mut cancelled) = (0u64, 0u64);
    let mut deferrals_before = 0;
    for round in 0..warmup + measured {
        if round == warmup {
            deferrals_before = tracker.stats().deferrals;
        }
        // Rotate the order, so that no request is always first.
        let len = requests.len();
        let start = (round as usize * 7919) % len;
        for j in 0..len {
            let r = &mut requests[(start + j) % len];
            if r.ready > round {
                continue;
            }
            let step = trace[r.step];
            let shared: Vec<SharedInput> = step
                .objects
                .iter()
                .map(|(object, mutable)| {
                    let id = match object {
                        Object::Network => network,
                        Object::Class => class_object(r.class),
                        Object::Request => r.id,
                    };
                    SharedInput { id, mutable: *mutable }
                })
                .collect();
            let mut deferred = false;
            while r.remaining > 0 {
                match tracker.admit(&shared, step.random) {
                    Admission::Run => r.remaining -= 1,
                    Admission::Defer(_) => {
                        deferred = true;
                        break;
                    }
                }
            }
            if deferred {
                r.deferred_rounds += 1;
                if r.deferred_rounds > config.max_deferral_rounds {
                    // Cancelled: the senders send the same calls again.
                    tracker.cancelled();
                    cancelled += u64::from(r.remaining);
                    r.deferred_rounds = 0;
                }
                continue;
            }
            // The next step's senders learn of this one from the next checkpoint.
            r.step += 1;
            r.deferred_rounds = 0;
            if r.step == trace.len() {
                if round >= warmup {
                    finalized += 1;
                }
                let class = r.class;
                *r = fresh(class, round + 1);
            } else {
                r.remaining = trace[r.step].count;
                r.ready = round + 1;
            }
        }
        tracker.end_commit();
    }
    let minutes = (measured * config.commit_period_ms) as f64 / 60_000.0;
    let deferrals = tracker.stats().deferrals - deferrals_before;
    ModelRun {
        finalized_per_minute: finalized as f64 / minutes,
        deferrals_per_request: deferrals as f64 / finalized.max(1) as f64,
        cancelled,
    }
}

/// What one run on the local network gave.
#[derive(Clone, Debug)]
pub struct LocalnetRun {
    /// Requests finalized per minute over the measured time.
    pub finalized_per_minute: f64,
    /// Transactions the local network deferred, per finalized request.
    pub deferrals_per_request: f64,
    /// Transactions it cancelled.
    pub cancelled: u64,
    /// Writes of the `Network` object by the run's transactions.
    pub network_writes: u64,
    /// Writes of class objects per finalized request.
    pub class_writes_per_request: f64,
}

const NODES_PER_CLASS: usize = 3;
const BALANCE: u64 = 1_000_000_000_000_000;
const COLLATERAL: u64 = 1_000_000_000;

/// Starts a local network with `classes` classes (one model each) and the
/// congestion model `config`, registers three nodes per class, and runs
/// `requesters` requesters per class for `seconds`: each submits a Sampling
/// request of n = 3, its nodes commit and reveal a fixed output, and it
/// submits again once the request finalized.
pub async fn localnet(
    classes: usize,
    config: CongestionConfig,
    requesters: usize,
    seconds: u64,
) -> anyhow::Result<LocalnetRun> {
    let keys: Vec<Key> = (0..classes * (NODES_PER_CLASS + requesters) + 1)
        .map(|i| Key::from_ed25519_bytes(blake2b256(format!("scaling bench key {i}").as_bytes()).0))
        .collect();
    let mut genesis = GenesisConfig::new(keys[0].address())
        .with_seed([3; 32])
        .with_params(ParamsConfig { min_fee_per_execution: Some(1), ..Default::default() })
        .with_accounts(keys.iter().map(|k| k.address()), BALANCE, 8);
    for k in 0..classes {
        let class = format!("class-{k}");
        genesis = genesis.with_class(&class, "device=cpu", COLLATERAL, COLLATERAL / 10).with_model(
            &format!("model-{k}"),
            &Digest([7; 32]).to_string(),
            &class,
            1_000,
        );
    }
    let period = Duration::from_millis(config.commit_period_ms);
    let options = Options {
        node: NodeConfig { checkpoint_interval: period, idle_checkpoint_interval: period, congestion: Some(config) },
        ..Options::default()
    };
    let net = Localnet::start(&genesis, options).await?;
    let (package, network) = net.node().with_ledger(|c| (c.identity.package, c.identity.network_id));
    let url = net.url();
    let connect = |key: &Key| Chain::connect(&url, package, network, key.clone());
    let mut key = 1;
    let mut nodes: BTreeMap<Address, Chain> = BTreeMap::new();
    for class in 0..classes {
        for _ in 0..NODES_PER_CLASS {
            let chain = connect(&keys[key]).await?;
            key += 1;
            let (id, _) = chain.register_node(class as u64, COLLATERAL, "http://127.0.0.1:1", &[1; 32]).await?;
            nodes.insert(id, chain);
        }
    }
    let nodes = Arc::new(nodes);
    let finalized = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let before = net.node().congestion().context("the congestion model is on")?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for class in 0..classes {
        for _ in 0..requesters {
            let requester = connect(&keys[key]).await?;
            key += 1;
            let (nodes, finalized) = (nodes.clone(), finalized.clone());
            tasks.push(tokio::spawn(async move {
                let mut k = 0u64;
                while Instant::now() < deadline {
                    k += 1;
                    if one_request(&requester, &nodes, class, k).await.is_ok() {
                        finalized.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64() / 60.0;
    let after = net.node().congestion().context("the congestion model is on")?;
    let done = finalized.load(Ordering::Relaxed);
    let writes = |id: &Address, s: &atoma_localnet::congestion::CongestionStats| {
        s.objects.get(id).map(|o| o.writes).unwrap_or(0)
    };
    let class_objects: Vec<Address> =
        net.node().with_ledger(|c| c.state.network.classes.values().map(Address::from).collect());
    let class_writes: u64 = class_objects.iter().map(|id| writes(id, &after) - writes(id, &before)).sum();
    let run = LocalnetRun {
        finalized_per_minute: done as f64 / elapsed,
        deferrals_per_request: (after.deferrals - before.deferrals) as f64 / done.max(1) as f64,
        cancelled: after.cancelled - before.cancelled,
        network_writes: writes(&network, &after),
        class_writes_per_request: class_writes as f64 / done.max(1) as f64,
    };
    net.shutdown().await;
    Ok(run)
}

/// One Sampling request of class `class`, played to its end by its nodes.
async fn one_request(requester: &Chain, nodes: &BTreeMap<Address, Chain>, class: usize, k: u64) -> anyhow::Result<()> {
    let input = format!("request {k} of {}", requester.sender()).into_bytes();
    let args = SubmitArgs {
        model_id: format!("model-{class}"),
        input_digest: blake2b256(&input).0.to_vec(),
        input_inline: input,
        input_uri: None,
        timeout_ms: 60_000,
    };
    let (request, executed) = requester.submit(&args, Mode::Sampling { n: 3 }, None, 1_000_000).await?;
    let selected: Vec<Address> = executed
        .events
        .iter()
        .find_map(|e| match e {
            Event::NodesSelected(s) => Some(s.nodes.iter().map(Address::from).collect()),
            _ => None,
        })
        .context("no NodesSelected")?;
    let output = blake2b256(b"the output");
    let rid = ObjectId::from(request);
    let salt = |node: &Address| blake2b256(&[node.into_inner(), request.into_inner()].concat());
    let commits = selected.iter().map(|node| {
        let c = commitment(&rid, &ObjectId::from(node), &output, &salt(node));
        async move { nodes[node].commit(request, *node, &c.0).await }
    });
    for r in futures::future::join_all(commits).await {
        r?;
    }
    let reveals = selected.iter().map(|node| {
        let s = salt(node);
        async move { nodes[node].reveal(request, *node, &output.0, &s.0).await }
    });
    for r in futures::future::join_all(reveals).await {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_write_what_the_signatures_say() {
        let before = writes_per_request(&sampling_trace(Layout::OneNetwork));
        let after = writes_per_request(&sampling_trace(Layout::PerClass));
        assert_eq!(before.values().copied().collect::<Vec<_>>(), [4, 0, 6]);
        assert_eq!(after.values().copied().collect::<Vec<_>>(), [0, 4, 6]);
    }

    #[test]
    fn under_the_model_one_network_caps_the_whole_network_and_classes_add_up() {
        let config = CongestionConfig::sui(100);
        let one = |layout, classes| model(layout, classes, config, 60, 300).finalized_per_minute;
        let (before_1, before_4) = (one(Layout::OneNetwork, 1), one(Layout::OneNetwork, 4));
        let (after_1, after_4) = (one(Layout::PerClass, 1), one(Layout::PerClass, 4));
        // One object, however many classes: the same cap (within rounding).
        assert!((before_4 - before_1).abs() <= 0.05 * before_1, "{before_1} -> {before_4}");
        // One object per class: four classes, four times the requests.
        assert!(after_4 >= 3.8 * after_1, "{after_1} -> {after_4}");
        assert!(after_1 >= 0.95 * before_1);
    }
}
