//! Persistence: a data directory holds the genesis file the network started
//! from (with its random seed and genesis time filled in) and an append-only
//! log of everything that changed the chain after genesis: each accepted
//! transaction with its signatures and execution time, and each checkpoint
//! with its time. Execution is deterministic (see `ledger`), so replaying the
//! log rebuilds the same chain, object versions, digests and checkpoints.
//!
//! ```text
//! <data dir>/genesis.toml   the genesis config, `random_seed` set
//! <data dir>/genesis_ms     genesis time (ms), one decimal number
//! <data dir>/ledger.log     records: u32 little-endian length || BCS(Record)
//! ```
//!
//! A record is flushed to the operating system before the transaction's
//! response is sent. A torn last record (a crash in the middle of a write)
//! is dropped on replay, which is what happened: that transaction's client
//! never got an answer.
//!
//! Not for: the ledger's contents (see `ledger`).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sui_sdk_types::{Transaction, UserSignature};

/// One change of the chain after genesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // written and read one at a time
pub enum Record {
    /// An accepted transaction, executed at `now_ms`.
    Transaction {
        /// The transaction.
        transaction: Transaction,
        /// Its signatures.
        signatures: Vec<UserSignature>,
        /// The time it was executed at.
        now_ms: u64,
    },
    /// A checkpoint sealed at `timestamp_ms`.
    Checkpoint {
        /// The checkpoint's time.
        timestamp_ms: u64,
    },
    /// A transaction the congestion model cancelled at `now_ms` (it failed
    /// and paid for gas without running).
    Cancelled {
        /// The transaction.
        transaction: Transaction,
        /// Its signatures.
        signatures: Vec<UserSignature>,
        /// The time it was cancelled at.
        now_ms: u64,
        /// The congested objects it names.
        congested: Vec<sui_sdk_types::Address>,
    },
}

/// The data directory's files.
pub struct DataDir {
    dir: PathBuf,
}

impl DataDir {
    /// A data directory (created if missing).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
        Ok(DataDir { dir: dir.to_path_buf() })
    }

    /// The genesis file kept in the directory.
    pub fn genesis_path(&self) -> PathBuf {
        self.dir.join("genesis.toml")
    }

    fn genesis_time_path(&self) -> PathBuf {
        self.dir.join("genesis_ms")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("ledger.log")
    }

    /// Whether a network was started in this directory before.
    pub fn has_genesis(&self) -> bool {
        self.genesis_path().exists() && self.genesis_time_path().exists()
    }

    /// Saves the genesis config and time (first start).
    pub fn save_genesis(&self, config_toml: &str, genesis_ms: u64) -> anyhow::Result<()> {
        std::fs::write(self.genesis_path(), config_toml).context("writing genesis.toml")?;
        std::fs::write(self.genesis_time_path(), genesis_ms.to_string()).context("writing genesis_ms")?;
        Ok(())
    }

    /// The genesis time saved at the first start.
    pub fn genesis_time(&self) -> anyhow::Result<u64> {
        let text = std::fs::read_to_string(self.genesis_time_path()).context("reading genesis_ms")?;
        text.trim().parse().context("genesis_ms holds no number")
    }

    /// Reads every complete record of the log, in order, and cuts off a torn
    /// last record so that appends continue after the last complete one.
    pub fn records(&self) -> anyhow::Result<Vec<Record>> {
        let path = self.log_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        let mut reader = BufReader::new(file);
        let mut records = Vec::new();
        let mut complete = 0u64;
        loop {
            let mut len = [0u8; 4];
            if read_full(&mut reader, &mut len)? < 4 {
                break;
            }
            let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
            if read_full(&mut reader, &mut buf)? < buf.len() {
                break;
            }
            let record = bcs::from_bytes(&buf)
                .with_context(|| format!("record {} of {} is corrupt", records.len(), path.display()))?;
            records.push(record);
            complete += 4 + buf.len() as u64;
        }
        let file = reader.into_inner();
        if file.metadata()?.len() > complete {
            OpenOptions::new().write(true).open(&path)?.set_len(complete).context("cutting a torn record")?;
        }
        Ok(records)
    }

    /// Opens the log for appending.
    pub fn log(&self) -> anyhow::Result<Log> {
        let path = self.log_path();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Log { file })
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> anyhow::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The append-only log.
pub struct Log {
    file: File,
}

impl Log {
    /// Appends a record and hands it to the operating system.
    pub fn append(&mut self, record: &Record) -> anyhow::Result<()> {
        let bytes = bcs::to_bytes(record).context("encoding a log record")?;
        let mut frame = Vec::with_capacity(bytes.len() + 4);
        frame.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        frame.extend_from_slice(&bytes);
        self.file.write_all(&frame).context("appending to ledger.log")?;
        self.file.flush().context("flushing ledger.log")
    }
}
