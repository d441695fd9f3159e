//! The node service: follows the package's events, runs the model for every
//! assignment, commits, reveals, serves outputs, and moves its requests on
//! as a keeper.
//!
//! Each request the node is assigned to is a task. What to do next is
//! decided by `drive`, from two sources only: the `Request` object on chain
//! and the task in the database. So it is the same decision after a crash,
//! a duplicate event or a timer: events and a one-second tick only say when
//! to decide again. For one task:
//!
//! 1. assigned and no commitment on chain: fetch the input, run the model
//!    on a worker thread, **write output and salt to the database**, sign
//!    the commitment, **write the signed transaction to the outbox**, send it.
//!    An input the model refuses gives the engine's error output, committed
//!    like any output. A URI input that cannot be obtained (refused, 4xx,
//!    too large, not matching its digest, or not in hand `input_timeout_ms`
//!    after the first try) makes the node `abstain`; a model it does not
//!    serve, an engine failure, or no worker free in time to finish before
//!    the deadline makes it `decline`: either way never slashed, never paid,
//!    and its seat refilled (see `compute` for when it gives up).
//!    As a disputer, the salt is the dispute key of the output;
//! 2. committed and the reveal phase open: reveal the digest and salt, but
//!    only if the commitment on chain is the one in the database;
//! 3. the request `Selecting` or `Disputed`, or a refill pending: call
//!    `select_nodes` or `open_dispute` (anyone may; another keeper being
//!    first is fine);
//! 4. a deadline passed by the margin: call `expire`;
//! 5. the request settled, or the node's slot released: the task is done.
//!
//! A Sealed pool member computes as soon as the requester tells it that it
//! is chosen (checked against the secret's hash and the draw), and commits
//! once the primary has committed.
//!
//! Not for: HTTP (see `server`), configuration (see `config`).
//!
//! ## Layout
//! - this module: the service, its event loop and `step`, the keeper calls;
//! - `compute`: a task's input, model run and output, kept before anything is sent;
//! - `duties`: the node's own commit, reveal and abstain transactions;
//! - `requester`: what a requester tells the node directly (a Sealed secret, a push).

mod compute;
mod duties;
mod requester;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use atoma_protocol::ops::KeeperCall;
use atoma_protocol::state::Standing;
use atoma_protocol::{Event, ObjectId, Role, Status};
use atoma_sdk::error::report;
use atoma_sdk::{Chain, EventStream, SdkError, Start, now_ms};
use sui_sdk_types::Address;
use tokio::sync::{Notify, Semaphore};

use crate::engine::TchEngine;
use crate::node::config::{Adversary, Config};
use crate::node::db::Db;
use crate::node::metrics::Metrics;

/// How often every open task is looked at again.
const TICK: Duration = Duration::from_secs(1);
/// Ticks between two reads of the node's standing (collateral, eligibility).
const STANDING_EVERY_TICKS: u64 = 30;

/// A running node.
pub struct Service {
    pub(crate) config: Config,
    pub(crate) chain: Chain,
    /// The node's id (its NodeCap's id).
    pub(crate) node: Address,
    /// The shared object of the node's class, which every call on its
    /// requests names.
    pub(crate) class_object: Address,
    /// The node's class id.
    class_id: u64,
    pub(crate) db: Db,
    engines: HashMap<String, Arc<Mutex<TchEngine>>>,
    /// Every model's run-time bound on the class (ms), from the chain.
    run_bounds: HashMap<String, u64>,
    /// Workers for admitted seats (`concurrency` of them).
    workers: Semaphore,
    /// One more worker, for drafted seats (verifiers, disputers), so that a
    /// check never waits behind the queue of admitted tasks.
    drafted_workers: Semaphore,
    http: reqwest::Client,
    pub(crate) metrics: Metrics,
    /// Woken when an output is computed or a run starts (long-polling
    /// readers and streams wait on it).
    pub(crate) outputs: Notify,
    /// The runs of open tasks, whose text streams read (kept until the
    /// task is done, so that a stream opened late gives the same chunks).
    pub(crate) runs: crate::node::live::Runs,
    /// Requests being driven now, and whether another pass was asked for.
    driving: Mutex<HashMap<Address, bool>>,
    /// Timestamp (ms) of the last checkpoint whose events were read.
    last_checkpoint_ms: AtomicU64,
    /// Per open assignment, how long its steps took: logged when the node commits.
    timings: Mutex<HashMap<Address, Timing>>,
    /// The standing last logged (`check_standing`).
    standing: Mutex<Option<Standing>>,
}

/// The timing of one assignment.
struct Timing {
    /// When the assignment was read.
    assigned: Instant,
    /// The model's time for the output.
    model: Duration,
    /// From the assignment to the output stored.
    ready: Duration,
}

impl Service {
    /// Connects to the chain, checks the node is registered, and loads every
    /// model (checking its weights against the manifest and the chain).
    pub async fn start(config: Config, db: Db) -> anyhow::Result<Arc<Service>> {
        let key = atoma_sdk::config::resolve_key(Some(&config.key), &Default::default()).context("key")?.key;
        let chain = Chain::connect(&config.url, config.package, config.network, key).await?;
        let node = match config.node_cap.or(db.node_cap()?) {
            Some(n) => n,
            None => anyhow::bail!("this node is not registered: run `atoma-node register` first (or set node_cap)"),
        };
        let info = chain.node(node).await?.with_context(|| format!("node {node} is not registered on this network"))?;
        if info.owner.0 != chain.sender().into_inner() {
            anyhow::bail!("node {node} belongs to {}, not to this key's {}", Address::from(info.owner), chain.sender());
        }
        let classes = chain.classes().await?;
        let Some((_, class)) = classes.iter().find(|(id, _)| *id == info.class_id) else {
            anyhow::bail!("node {node}'s class {} is not on this network", info.class_id);
        };
        if class.name != config.class.name {
            anyhow::bail!(
                "node {node} is registered in class {:?}, this configuration says {:?} (class.name)",
                class.name,
                config.class.name
            );
        }
        config.class.check_chain_profile(&class.profile)?;
        let class_object = Address::from(class.id);
        let on_chain = chain.models().await?;
        let mut engines = HashMap::new();
        for path in &config.models {
            let manifest = crate::manifest::ModelManifest::read(path)?;
            let Some((_, model)) = on_chain.iter().find(|(id, _)| *id == manifest.id) else {
                anyhow::bail!("model {} of {} is not registered on this network", manifest.id, path.display());
            };
            let engine = TchEngine::load(path, &config.class, Some(&model.weight_digest))?;
            tracing::info!(model = %manifest.id, class = %config.class.name, "model loaded, weights match the chain");
            engines.insert(manifest.id.clone(), Arc::new(Mutex::new(engine)));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.input_timeout_ms))
            .build()
            .context("building the HTTP client")?;
        let run_bounds = on_chain.iter().map(|(id, m)| (id.clone(), m.max_run_ms)).collect();
        Ok(Arc::new(Service {
            run_bounds,
            workers: Semaphore::new(config.concurrency),
            drafted_workers: Semaphore::new(1),
            config,
            chain,
            node,
            class_object,
            class_id: info.class_id,
            db,
            engines,
            http,
            metrics: Metrics::default(),
            outputs: Notify::new(),
            runs: Default::default(),
            driving: Mutex::default(),
            last_checkpoint_ms: AtomicU64::new(0),
            timings: Mutex::default(),
            standing: Mutex::default(),
        }))
    }

    fn adversary(&self) -> Option<Adversary> {
        if cfg!(feature = "adversary") { self.config.adversary } else { None }
    }

    /// Crash points for the recovery tests: aborts the process (as kill -9
    /// would) at a named step when `ATOMA_NODE_CRASH_AT` names it.
    fn crash_point(&self, step: &str) {
        if cfg!(feature = "adversary") && std::env::var("ATOMA_NODE_CRASH_AT").is_ok_and(|s| s == step) {
            tracing::warn!(step, "crashing on purpose");
            std::process::abort();
        }
    }

    /// Runs the node: resends what the outbox holds, drives open tasks,
    /// follows events, and ticks, until the task is dropped.
    pub async fn run(self: Arc<Self>) -> anyhow::Result<()> {
        for signed in self.db.outbox()? {
            let digest = signed.digest();
            tracing::info!(%digest, "sending a transaction signed before a restart again");
            match self.chain.resend(signed).await {
                Ok(_) | Err(SdkError::Protocol { .. } | SdkError::Execution { .. } | SdkError::Rejected(_)) => {
                    self.db.outbox_remove(&digest)?;
                }
                Err(e) => tracing::warn!(%digest, error = %report(&e), "outcome still unknown; kept in the outbox"),
            }
        }
        self.check_standing().await;
        let ticker = {
            let service = self.clone();
            tokio::spawn(async move {
                let mut ticks = 0u64;
                loop {
                    tokio::time::sleep(TICK).await;
                    ticks += 1;
                    if ticks.is_multiple_of(STANDING_EVERY_TICKS) {
                        service.check_standing().await;
                    }
                    match service.db.open_tasks() {
                        Ok(tasks) => {
                            for (request, _) in tasks {
                                service.clone().drive(request);
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "reading open tasks"),
                    }
                }
            })
        };
        let result = self.clone().follow_events().await;
        ticker.abort();
        result
    }

    async fn follow_events(self: Arc<Self>) -> anyhow::Result<()> {
        let start = match (self.db.cursor()?, self.db.start_checkpoint()?) {
            (Some(cursor), _) => Start::After(cursor),
            (None, Some(checkpoint)) => Start::Checkpoint(checkpoint),
            (None, None) => Start::Tip,
        };
        tracing::info!(node = %self.node, %start, "following the package's events");
        let mut events = EventStream::new(self.chain.rpc(), self.chain.identity().type_origin, start);
        loop {
            let e = events.next().await?;
            self.last_checkpoint_ms.store(e.timestamp_ms, Ordering::Relaxed);
            self.metrics.chain_lag_seconds.set((now_ms().saturating_sub(e.timestamp_ms) / 1_000) as i64);
            self.on_event(&e.event)?;
            self.db.set_cursor(&e.cursor)?;
        }
    }

    /// Reads the node's collateral and class on chain, sets the standing
    /// metrics, and logs when the node stops (or starts again) being
    /// eligible for new tasks: after a slash, collateral below the class
    /// minimum takes the node out of sampling until it is topped up.
    pub(crate) async fn check_standing(&self) {
        let read = async {
            let class = self.chain.class(self.class_id).await?;
            let node = self.chain.node_in(&class, self.node).await?;
            Ok::<_, SdkError>((node, class))
        };
        let (node, class) = match read.await {
            Ok((Some(node), class)) => (node, class),
            Ok((None, _)) => {
                tracing::warn!(node = %self.node, "the node is not registered any more (withdrawn?)");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %report(&e), "reading the node's standing");
                return;
            }
        };
        let standing =
            Standing::of(node.leaving(), node.collateral, node.locked, class.min_collateral, class.task_lock);
        self.metrics.eligible.set(i64::from(standing == Standing::Eligible));
        self.metrics.collateral_mist.set(node.collateral.min(i64::MAX as u64) as i64);
        let short = if let Standing::BelowMinimum { short } = standing { short } else { 0 };
        self.metrics.collateral_shortfall_mist.set(short.min(i64::MAX as u64) as i64);
        let mut last = self.standing.lock().expect("standing");
        if last.replace(standing) == Some(standing) {
            return;
        }
        match standing {
            Standing::Eligible => {
                tracing::info!(node = %self.node, collateral = node.collateral, "eligible for new tasks")
            }
            Standing::BelowMinimum { short } => tracing::warn!(
                node = %self.node,
                collateral = node.collateral,
                min_collateral = class.min_collateral,
                "collateral is below the class minimum: the node gets no new tasks until {short} MIST is added \
                 (`atoma-node add-collateral {short}`)"
            ),
            Standing::Leaving => tracing::info!(node = %self.node, "leaving: no new tasks"),
            Standing::FullyLocked => tracing::info!(
                node = %self.node,
                collateral = node.collateral,
                locked = node.locked,
                "open tasks lock the collateral: no new tasks until they settle"
            ),
        }
    }

    /// Records what an event means for this node; the work happens in `drive`.
    fn on_event(self: &Arc<Self>, event: &Event) -> anyhow::Result<()> {
        let me = ObjectId::from(self.node);
        let Some(request) = event.request_id().map(Address::from) else { return Ok(()) };
        let has_task = self.db.task(&request)?.is_some();
        match event {
            Event::NodesSelected(s) if s.nodes.contains(&me) => {
                self.metrics.assigned.inc();
                // A push may have started the task already: its time counts from then.
                self.start_timing(request);
                tracing::info!(request = %request, node = %self.node, role = s.role.name(), "assigned");
                self.db.update_task(&request, |_| {})?;
            }
            Event::NodeSlashed(s) if s.node_id == me => {
                self.metrics.slashed.inc();
                tracing::warn!(request = %request, node = %self.node, reason = s.reason.name(), amount = s.amount, "slashed");
                let service = self.clone();
                tokio::spawn(async move { service.check_standing().await });
            }
            Event::DisputeRaised(_) if has_task => {
                self.metrics.disputed.inc();
                tracing::warn!(request = %request, node = %self.node, "dispute raised");
            }
            _ => {}
        }
        if has_task || self.db.task(&request)?.is_some() {
            self.clone().drive(request);
        }
        Ok(())
    }

    /// Decides and does the next step of a request's task, once at a time per request.
    pub(crate) fn drive(self: Arc<Self>, request: Address) {
        {
            let mut driving = self.driving.lock().expect("driving table");
            if let Some(again) = driving.get_mut(&request) {
                *again = true;
                return;
            }
            driving.insert(request, false);
        }
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.step(request).await {
                    tracing::warn!(request = %request, node = %self.node, error = %format!("{e:#}"), "task step failed; will retry");
                }
                let mut driving = self.driving.lock().expect("driving table");
                if driving.get(&request) == Some(&true) {
                    driving.insert(request, false);
                    continue;
                }
                driving.remove(&request);
                return;
            }
        });
    }

    async fn step(&self, request: Address) -> anyhow::Result<()> {
        let Some(mut task) = self.db.task(&request)? else { return Ok(()) };
        if task.done {
            return Ok(());
        }
        let req = self.chain.request(request).await?;
        let index = req.active_slot(&ObjectId::from(self.node));
        if req.status.is_final() || index.is_none() {
            self.db.update_task(&request, |t| t.done = true)?;
            // A task that ends without a commitment (a bad input, a replaced node) leaves no timing behind.
            self.timings.lock().expect("timings").remove(&request);
            self.runs.end(&request);
            self.outputs.notify_waiters();
            tracing::info!(request = %request, node = %self.node, status = req.status.name(), "task done");
            return Ok(());
        }
        let index = index.expect("checked above");
        let slot = req.slots[index].clone();
        let now = now_ms();

        // Keeper duties: a pending selection or dispute moves on at once; an
        // expired phase after this node's own duties below.
        let due = atoma_protocol::ops::due(&req, now, self.config.deadline_margin_ms);
        if matches!(req.status, Status::Selecting | Status::Disputed) {
            for call in due {
                self.keeper(request, call).await?;
            }
            return Ok(());
        }

        let member = req.round.includes(slot.role);
        let chosen_candidate = slot.role == Role::Candidate && self.chosen(&req, &task);
        if slot.commitment.is_none() && (member || chosen_candidate) {
            // Compute as soon as assigned (a chosen Sealed verifier: as soon as told).
            if task.output.is_none() && task.unavailable.is_none() && task.declined.is_none() {
                task = self.compute(request, &req, &slot, &task).await?;
            }
            // The protocol's commit rule (members in the commit phase, before
            // the deadline); in a Sealed verification window, of the pool only
            // a candidate the requester's secret chose commits early.
            let may_act = req.may_commit(index, now) && (req.status != Status::Verifying || chosen_candidate);
            // Only a member leaves its seat; a chosen candidate does once the
            // secret makes it a verifier.
            if let Some(why) = &task.unavailable {
                if may_act && member {
                    self.abstain(request, why).await?;
                }
            } else if let Some(why) = &task.declined {
                if may_act && member {
                    self.decline(request, why).await?;
                }
            } else if may_act && task.output.is_some() {
                self.commit(request, &req, &slot, &mut task).await?;
            }
        } else if let (Some(on_chain), None, Status::Revealing, true) =
            (slot.commitment, slot.reveal, req.status, member)
        {
            self.reveal(request, &req, on_chain, &task).await?;
        }

        // Past the deadline: expire, and select replacements for silent nodes at once.
        for call in due {
            self.keeper(request, call).await?;
        }
        Ok(())
    }

    /// Starts timing `request` from now, unless it is timed already.
    fn start_timing(&self, request: Address) {
        let timing = Timing { assigned: Instant::now(), model: Duration::ZERO, ready: Duration::ZERO };
        self.timings.lock().expect("timings").entry(request).or_insert(timing);
    }

    async fn keeper(&self, request: Address, call: KeeperCall) -> anyhow::Result<()> {
        match self.chain.keeper(call, request).await {
            Ok(_) => {
                self.metrics.keeper_calls.inc();
                tracing::info!(request = %request, node = %self.node, call = call.name(), "keeper call");
                Ok(())
            }
            Err(SdkError::Protocol { error, .. }) if error.is_lost_race() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The output of a request this node computed, with its salt.
    pub(crate) fn output(&self, request: &Address) -> anyhow::Result<Option<(Vec<u8>, [u8; 32])>> {
        Ok(self.db.task(request)?.and_then(|t| Some((t.output?, t.salt?))))
    }

    /// The node's id.
    pub fn node_id(&self) -> Address {
        self.node
    }

    /// Requests this node has a task for (for tests and status).
    pub fn known_requests(&self) -> anyhow::Result<HashSet<Address>> {
        Ok(self.db.open_tasks()?.into_iter().map(|(r, _)| r).collect())
    }
}
