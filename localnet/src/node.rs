//! The running local network: the chain behind a lock, its optional data
//! directory (locked while the node is open, see `persist`), the time
//! source, the congestion model that schedules transactions on shared
//! objects, and the checkpoint timer that seals executed transactions into
//! checkpoints, ends the model's commits and wakes subscribers.
//!
//! Not for: the gRPC surface (see `rpc`) or the rules (see `exec`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sui_sdk_types::{Digest, Transaction, UserSignature};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::congestion::{Admission, CongestionConfig, CongestionStats, Tracker};
use crate::execute::{self, Reject};
use crate::genesis::{self, AccountConfig, GenesisConfig};
use crate::ledger::Ledger;
use crate::persist::{DataDir, Log, Record};

/// Where the network reads the time.
#[derive(Clone, Debug)]
pub enum TimeSource {
    /// The wall clock.
    System,
    /// A clock that tests move by hand (ms); it never goes back.
    Manual(Arc<AtomicU64>),
}

impl TimeSource {
    /// A manual clock starting at `ms`, and the handle that moves it.
    pub fn manual(ms: u64) -> (Self, Arc<AtomicU64>) {
        let handle = Arc::new(AtomicU64::new(ms));
        (TimeSource::Manual(handle.clone()), handle)
    }

    /// The time now, in ms since the Unix epoch (or the manual clock's value).
    pub fn now_ms(&self) -> u64 {
        match self {
            // The system clock is after 1970 on any machine this runs on.
            TimeSource::System => {
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
            }
            TimeSource::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }
}

/// How checkpoints are cut and transactions scheduled.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Executed transactions are sealed into a checkpoint at most this long
    /// after they ran; one such round is one commit of the congestion model.
    pub checkpoint_interval: Duration,
    /// When nothing runs, an empty checkpoint is sealed this often, so that
    /// subscribers see progress (Sui's clients reset a stream silent for 30 s).
    pub idle_checkpoint_interval: Duration,
    /// The per-object congestion model (`None`: every transaction runs at once).
    pub congestion: Option<CongestionConfig>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            checkpoint_interval: Duration::from_millis(100),
            idle_checkpoint_interval: Duration::from_secs(2),
            congestion: Some(CongestionConfig::sui(100)),
        }
    }
}

struct Inner {
    chain: Ledger,
    /// The data directory's log, holding its lock (`None`: in memory, or closed).
    log: Option<Log>,
    /// Whether `close` was called: nothing executes or seals any more.
    closed: bool,
    last_checkpoint_ms: u64,
    congestion: Option<Tracker>,
    /// Deferrals already reported in the log.
    reported_deferrals: u64,
}

/// A running local network.
pub struct Node {
    inner: Mutex<Inner>,
    height: watch::Sender<u64>,
    /// Counts the congestion model's commits (rounds of the checkpoint timer).
    rounds: watch::Sender<u64>,
    time: TimeSource,
    config: NodeConfig,
}

/// One try at scheduling a transaction.
enum Attempt {
    /// It executed (or was cancelled, or had executed before).
    Done(Digest),
    /// It waits for the next commit.
    Deferred,
}

impl Node {
    /// Starts a network from `genesis`. With a data directory, a network
    /// started there before continues where it stopped (its saved genesis
    /// wins over `genesis`); otherwise the genesis is saved there first.
    /// `seed` overrides the genesis file's random seed on a first start.
    /// The directory is locked first and stays locked until `close` or the
    /// node's end; a directory another process holds is refused
    /// (`persist::InUse`, naming its PID).
    pub fn open(
        genesis: &GenesisConfig,
        data_dir: Option<&Path>,
        seed: Option<[u8; 32]>,
        time: TimeSource,
        config: NodeConfig,
    ) -> anyhow::Result<Arc<Node>> {
        let (chain, log) = match data_dir {
            None => {
                let seed = seed.or(genesis.seed()).unwrap_or_else(random_seed);
                (genesis::build(genesis, seed, time.now_ms())?, None)
            }
            Some(dir) => {
                let data = DataDir::open(dir)?;
                let chain = if data.has_genesis() {
                    let saved = GenesisConfig::load(&data.genesis_path())?;
                    let seed = saved.seed().context("the saved genesis.toml has no random_seed")?;
                    let mut chain = genesis::build(&saved, seed, data.genesis_time()?)?;
                    replay(&mut chain, &data)?;
                    chain
                } else {
                    // The saved genesis is self-contained: keystores become their addresses.
                    let mut fixed = genesis.clone();
                    fixed.accounts = genesis
                        .funded()?
                        .into_iter()
                        .map(|(address, balance, coins)| AccountConfig {
                            address: Some(address),
                            keystore: None,
                            balance,
                            coins,
                        })
                        .collect();
                    let seed = seed.or(genesis.seed()).unwrap_or_else(random_seed);
                    fixed.random_seed = Some(atoma_protocol::Digest(seed).to_string());
                    let now = time.now_ms();
                    data.save_genesis(&toml::to_string(&fixed).context("writing the genesis config")?, now)?;
                    genesis::build(&fixed, seed, now)?
                };
                (chain, Some(data.log()?))
            }
        };
        let height = watch::Sender::new(chain.checkpoint_height());
        let last_checkpoint_ms = chain.last_time_ms;
        let congestion = config.congestion.map(Tracker::new);
        let inner = Inner { chain, log, closed: false, last_checkpoint_ms, congestion, reported_deferrals: 0 };
        Ok(Arc::new(Node { inner: Mutex::new(inner), height, rounds: watch::Sender::new(0), time, config }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug; the state it left is still the best there is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the node: the log is closed, which unlocks the data directory
    /// for the next network, and transactions are refused from now on.
    /// `Localnet` calls it when it stops, so that tasks still ending (a
    /// subscription, a connection) do not keep the directory locked.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.log = None;
    }

    /// Reads the chain.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.lock().chain)
    }

    /// The time source.
    pub fn time(&self) -> &TimeSource {
        &self.time
    }

    /// Checks, schedules, executes and records a transaction (see
    /// `execute::execute`), and logs it before returning. Under the congestion
    /// model a transaction over a shared object's budget waits for later
    /// commits, and after too many is executed as cancelled.
    pub async fn execute(&self, transaction: Transaction, signatures: Vec<UserSignature>) -> Result<Digest, Reject> {
        let mut rounds = self.rounds.subscribe();
        let mut deferrals = 0;
        loop {
            match self.attempt(&transaction, &signatures, deferrals)? {
                Attempt::Done(digest) => return Ok(digest),
                Attempt::Deferred => {
                    deferrals += 1;
                    if rounds.changed().await.is_err() {
                        return Err(Reject::Unsupported("the local network is stopping".into()));
                    }
                }
            }
        }
    }

    fn attempt(
        &self,
        transaction: &Transaction,
        signatures: &[UserSignature],
        deferrals: u64,
    ) -> Result<Attempt, Reject> {
        let now_ms = self.time.now_ms();
        let mut guard = self.lock();
        let Inner { chain, log, closed, congestion, .. } = &mut *guard;
        if *closed {
            return Err(Reject::Unsupported("the local network has stopped".into()));
        }
        let digest = transaction.digest();
        if chain.txs.contains_key(&digest) {
            return Ok(Attempt::Done(digest));
        }
        let checked = execute::check(chain, transaction, signatures)?;
        let mut cancelled = None;
        if let Some(tracker) = congestion.as_mut() {
            let (shared, randomness) = execute::shared_inputs(&checked);
            if let Admission::Defer(objects) = tracker.admit(&shared, randomness) {
                if deferrals < tracker.config().max_deferral_rounds {
                    return Ok(Attempt::Deferred);
                }
                tracker.cancelled();
                tracing::info!(
                    %digest,
                    objects = %objects.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(","),
                    deferrals,
                    "transaction cancelled: shared objects congested"
                );
                cancelled = Some(objects);
            }
        }
        let (transaction, signatures) = (transaction.clone(), signatures.to_vec());
        let digest = execute::execute_checked(
            chain,
            transaction.clone(),
            signatures.clone(),
            checked,
            now_ms,
            cancelled.clone(),
        );
        let now_ms = chain.txs[&digest].timestamp_ms;
        if let Some(log) = log.as_mut() {
            let record = match cancelled {
                None => Record::Transaction { transaction, signatures, now_ms },
                Some(congested) => Record::Cancelled { transaction, signatures, now_ms, congested },
            };
            if let Err(e) = log.append(&record) {
                tracing::error!(error = %e, "could not log a transaction; a restart will not replay it");
            }
        }
        Ok(Attempt::Done(digest))
    }

    /// What the congestion model did so far (`None` when it is off).
    pub fn congestion(&self) -> Option<CongestionStats> {
        self.lock().congestion.as_ref().map(|t| t.stats().clone())
    }

    /// Ends one commit of the congestion model and wakes deferred transactions.
    fn end_round(&self) {
        let mut inner = self.lock();
        let reported = inner.reported_deferrals;
        if let Some(tracker) = inner.congestion.as_mut() {
            tracker.end_commit();
            let deferrals = tracker.stats().deferrals;
            if deferrals > reported {
                let cancelled = tracker.stats().cancelled;
                tracing::info!(
                    deferred = deferrals - reported,
                    cancelled,
                    "congestion: transactions deferred this round"
                );
                inner.reported_deferrals = deferrals;
            }
        }
        drop(inner);
        self.rounds.send_modify(|r| *r += 1);
    }

    /// Seals a checkpoint now if transactions are pending, or if `idle` has
    /// passed since the last one; returns the new height if one was sealed.
    pub fn maybe_seal(&self, idle: Duration) -> Option<u64> {
        let now_ms = self.time.now_ms();
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let idle_due = now_ms.saturating_sub(inner.last_checkpoint_ms) >= idle.as_millis() as u64;
        if inner.chain.pending.is_empty() && !idle_due {
            return None;
        }
        let sequence = inner.chain.seal_checkpoint(now_ms);
        let timestamp_ms = inner.chain.checkpoints[sequence as usize].summary.timestamp_ms;
        inner.last_checkpoint_ms = now_ms;
        if let Some(log) = inner.log.as_mut()
            && let Err(e) = log.append(&Record::Checkpoint { timestamp_ms })
        {
            tracing::error!(error = %e, "could not log a checkpoint");
        }
        drop(inner);
        self.height.send_replace(sequence);
        Some(sequence)
    }

    /// Seals a checkpoint now, empty or not; returns its sequence number
    /// (after `close`, seals nothing and returns the last one).
    pub fn seal_now(&self) -> u64 {
        self.maybe_seal(Duration::ZERO).unwrap_or_else(|| *self.height.borrow())
    }

    /// Watches the checkpoint height.
    pub fn watch_height(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// Seals checkpoints on the configured intervals until `cancel` fires.
    pub async fn run_checkpoints(self: Arc<Self>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.checkpoint_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    self.maybe_seal(self.config.idle_checkpoint_interval);
                    self.end_round();
                }
            }
        }
    }
}

/// Applies the log of `data` to the genesis chain; a record that does not
/// apply is an error naming it, the likely cause and the remedy.
fn replay(chain: &mut Ledger, data: &DataDir) -> anyhow::Result<()> {
    let records = data.records()?;
    let total = records.len();
    for (i, record) in records.into_iter().enumerate() {
        let applied = match record {
            Record::Transaction { transaction, signatures, now_ms } => {
                execute::execute(chain, transaction, signatures, now_ms).map(drop)
            }
            Record::Cancelled { transaction, signatures, now_ms, congested } => {
                execute::execute_or_cancel(chain, transaction, signatures, now_ms, Some(congested)).map(drop)
            }
            Record::Checkpoint { timestamp_ms } => {
                chain.seal_checkpoint(timestamp_ms);
                Ok(())
            }
        };
        applied.map_err(|reject| data.unreplayable(i, total, reject))?;
    }
    Ok(())
}

fn random_seed() -> [u8; 32] {
    rand::random()
}
