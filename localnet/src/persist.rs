//! Persistence: a data directory holds the genesis file the network started
//! from (with its random seed and genesis time filled in) and an append-only
//! log of everything that changed the chain after genesis: each accepted
//! transaction with its signatures and execution time, and each checkpoint
//! with its time. Execution is deterministic (see `ledger`), so replaying the
//! log rebuilds the same chain, object versions, digests and checkpoints.
//!
//! ```text
//! <data dir>/lock           locked (flock) by the process that uses the directory; holds its PID
//! <data dir>/genesis.toml   the genesis config, `random_seed` set
//! <data dir>/genesis_ms     genesis time (ms), one decimal number
//! <data dir>/ledger.log     records: u32 little-endian length || BCS(Record)
//! ```
//!
//! One ledger has one writer: opening a directory takes an exclusive lock on
//! its `lock` file before anything else there is read or written, and the
//! log keeps it until the network stops. A second process is refused with
//! the holder's PID (`InUse`): two processes appending to one log interleave
//! two chains, and the next replay fails. The operating system releases the
//! lock of a process that dies, even by SIGKILL, so a restart needs no
//! cleanup.
//!
//! A record is flushed to the operating system before the transaction's
//! response is sent. A torn last record (a crash in the middle of a write)
//! is dropped on replay, which is what happened: that transaction's client
//! never got an answer. A record that does not apply to the chain the records
//! before it built is an error naming the record, the likely cause and what
//! to do (`DataDir::unreplayable`); such a ledger cannot be repaired.
//!
//! Not for: the ledger's contents (see `ledger`).

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
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

/// The data directory's files, locked for this process.
pub struct DataDir {
    dir: PathBuf,
    /// The locked `lock` file; the lock lasts as long as this handle.
    lock: File,
}

/// Another process holds the data directory's lock.
#[derive(Debug)]
pub struct InUse {
    /// The data directory.
    pub dir: PathBuf,
    /// The holder's PID, as it wrote it into the lock file (`None`: not
    /// written yet, or not a number).
    pub holder: Option<u32>,
}

impl fmt::Display for InUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        match self.holder {
            Some(pid) => write!(f, "the data directory {dir} is in use by process {pid}, another atoma-localnet")?,
            None => write!(f, "the data directory {dir} is in use by another process")?,
        }
        write!(
            f,
            ": a ledger has one writer (two processes appending to one ledger.log corrupt it); \
             stop that process first, or start this network with another --data-dir"
        )
    }
}

impl std::error::Error for InUse {}

impl DataDir {
    /// A data directory (created if missing), locked for this process before
    /// anything in it is read or written; refused with `InUse` while another
    /// process (or another `DataDir` of this one) holds it.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
        let lock = lock(dir)?;
        Ok(DataDir { dir: dir.to_path_buf(), lock })
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

    /// The error for record `index` (from 0) of `total` that does not apply
    /// to the chain the records before it built: which record, the likely
    /// cause and what to do.
    pub fn unreplayable(&self, index: usize, total: usize, cause: impl fmt::Display) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot restore the network kept in {dir}: record {n} of {total} in {log} does not apply to the \
             chain the records before it built ({cause}). Likely cause: two processes appended to this ledger at \
             once (possible before atoma-localnet locked its data directory), or the directory mixes files of \
             different networks, or they were edited. {remedy}",
            dir = self.dir.display(),
            n = index + 1,
            log = self.log_path().display(),
            remedy = self.remedy(),
        )
    }

    /// What to do with a ledger that cannot be replayed.
    fn remedy(&self) -> String {
        format!(
            "The ledger cannot be repaired. Keep {dir} for inspection and start a fresh network in a new data \
             directory: with the same accounts and seed, `atoma-localnet start --genesis {genesis} --data-dir \
             NEW_DIR`; or with new accounts, `atoma-localnet init --dir DIR`, then `atoma-localnet start --genesis \
             DIR/genesis.toml --data-dir NEW_DIR`",
            dir = self.dir.display(),
            genesis = self.genesis_path().display(),
        )
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
            let record = bcs::from_bytes(&buf).map_err(|e| {
                anyhow::anyhow!(
                    "cannot restore the network kept in {}: record {} of {} is not a record ({e}). {}",
                    self.dir.display(),
                    records.len() + 1,
                    path.display(),
                    self.remedy(),
                )
            })?;
            records.push(record);
            complete += 4 + buf.len() as u64;
        }
        let file = reader.into_inner();
        if file.metadata()?.len() > complete {
            OpenOptions::new().write(true).open(&path)?.set_len(complete).context("cutting a torn record")?;
        }
        Ok(records)
    }

    /// Opens the log for appending; the log keeps the directory's lock.
    pub fn log(self) -> anyhow::Result<Log> {
        let path = self.log_path();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Log { file, _lock: self.lock })
    }
}

/// Takes the exclusive lock of `dir`'s `lock` file and writes this process's
/// PID into it. The lock is the operating system's (`flock`), released when
/// the file is closed or its process dies; the PID only names the holder.
fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false) // the holder's PID, until the lock is ours
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
            return Err(InUse { dir: dir.to_path_buf(), holder }.into());
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {} (is the file system local?)", path.display()));
        }
    }
    file.set_len(0).with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{}", std::process::id()).with_context(|| format!("writing {}", path.display()))?;
    Ok(file)
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

/// The append-only log, holding the data directory's lock.
pub struct Log {
    file: File,
    _lock: File,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_data_dir_is_refused_naming_the_holder_until_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let refused = DataDir::open(dir.path()).err().expect("a second open is refused");
        let in_use = refused.downcast_ref::<InUse>().expect("refused as in use");
        assert_eq!((in_use.dir.as_path(), in_use.holder), (dir.path(), Some(std::process::id())));
        let message = refused.to_string();
        assert!(message.contains(&dir.path().display().to_string()) && message.contains("--data-dir"), "{message}");

        // The log keeps the lock; closing it releases the directory.
        let log = first.log().unwrap();
        assert!(DataDir::open(dir.path()).is_err(), "the log holds the lock");
        drop(log);
        DataDir::open(dir.path()).expect("released with the log");
    }
}
