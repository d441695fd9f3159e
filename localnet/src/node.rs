//! The running local network: the chain behind a lock, its optional data
//! directory, the time source, and the checkpoint timer that seals executed
//! transactions into checkpoints and wakes subscribers.
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

use crate::chain::Chain;
use crate::exec::{self, Reject};
use crate::genesis::{self, AccountConfig, GenesisConfig};
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

/// How checkpoints are cut.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Executed transactions are sealed into a checkpoint at most this long after they ran.
    pub checkpoint_interval: Duration,
    /// When nothing runs, an empty checkpoint is sealed this often, so that
    /// subscribers see progress (Sui's clients reset a stream silent for 30 s).
    pub idle_checkpoint_interval: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig { checkpoint_interval: Duration::from_millis(100), idle_checkpoint_interval: Duration::from_secs(2) }
    }
}

struct Inner {
    chain: Chain,
    log: Option<Log>,
    last_checkpoint_ms: u64,
}

/// A running local network.
pub struct Node {
    inner: Mutex<Inner>,
    height: watch::Sender<u64>,
    time: TimeSource,
    config: NodeConfig,
}

impl Node {
    /// Starts a network from `genesis`. With a data directory, a network
    /// started there before continues where it stopped (its saved genesis
    /// wins over `genesis`); otherwise the genesis is saved there first.
    /// `seed` overrides the genesis file's random seed on a first start.
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
                    replay(&mut chain, data.records()?)?;
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
        Ok(Arc::new(Node { inner: Mutex::new(Inner { chain, log, last_checkpoint_ms }), height, time, config }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug; the state it left is still the best there is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the chain.
    pub fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        f(&self.lock().chain)
    }

    /// The time source.
    pub fn time(&self) -> &TimeSource {
        &self.time
    }

    /// Checks, executes and records a transaction (see `exec::execute`), and
    /// logs it before returning.
    pub fn execute(&self, transaction: Transaction, signatures: Vec<UserSignature>) -> Result<Digest, Reject> {
        let now_ms = self.time.now_ms();
        let mut inner = self.lock();
        let known = inner.chain.txs.contains_key(&transaction.digest());
        let digest = exec::execute(&mut inner.chain, transaction.clone(), signatures.clone(), now_ms)?;
        let now_ms = inner.chain.txs[&digest].timestamp_ms;
        if !known && let Some(log) = inner.log.as_mut() {
            if let Err(e) = log.append(&Record::Transaction { transaction, signatures, now_ms }) {
                tracing::error!(error = %e, "could not log a transaction; a restart will not replay it");
            }
        }
        Ok(digest)
    }

    /// Seals a checkpoint now if transactions are pending, or if `idle` has
    /// passed since the last one; returns the new height if one was sealed.
    pub fn maybe_seal(&self, idle: Duration) -> Option<u64> {
        let now_ms = self.time.now_ms();
        let mut inner = self.lock();
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

    /// Seals a checkpoint now, empty or not; returns its sequence number.
    pub fn seal_now(&self) -> u64 {
        self.maybe_seal(Duration::ZERO).expect("a zero idle interval always seals")
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
                }
            }
        }
    }
}

fn replay(chain: &mut Chain, records: Vec<Record>) -> anyhow::Result<()> {
    let total = records.len();
    for (i, record) in records.into_iter().enumerate() {
        match record {
            Record::Transaction { transaction, signatures, now_ms } => {
                exec::execute(chain, transaction, signatures, now_ms)
                    .map_err(|e| anyhow::anyhow!("replaying record {i} of {total}: {e}"))?;
            }
            Record::Checkpoint { timestamp_ms } => {
                chain.seal_checkpoint(timestamp_ms);
            }
        }
    }
    Ok(())
}

fn random_seed() -> [u8; 32] {
    rand::random()
}
