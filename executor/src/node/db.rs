//! The node's database (redb, one file in the data directory): what must
//! survive a crash. Every write is a durable transaction.
//!
//! | table   | key                  | value |
//! |---------|----------------------|-------|
//! | meta    | `schema_version`     | u32 LE (this code writes `SCHEMA_VERSION`) |
//! | meta    | `node_cap`           | 32 bytes: the node's id, stored by `register` |
//! | meta    | `cursor`             | BCS `EventCursor` of the last event handled |
//! | meta    | `start_checkpoint`   | u64 LE: where the first run starts following events |
//! | tasks   | request id (32)      | BCS `Task`: output, salt, commitment, secret, state |
//! | outbox  | transaction digest   | BCS `Signed`: a commit or reveal signed and not yet confirmed |
//!
//! The rule the service keeps with it: an output and its salt are written
//! here before the commitment is signed, and a signed transaction before it
//! is sent; so after a crash the node commits the same thing again (same
//! salt, same commitment, same signed bytes), never something else, and
//! reveals only what it committed.
//!
//! Not for: deciding what to do (see `service`).

use std::path::Path;

use anyhow::{Context, bail};
use atoma_sdk::EventCursor;
use atoma_sdk::chain::Signed;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sui_sdk_types::{Address, Digest};

/// The layout version this code reads and writes (3: a task records why the
/// node declines and when it first fetched; version 2 databases are
/// migrated when opened).
pub const SCHEMA_VERSION: u32 = 3;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const TASKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tasks");
const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");

/// What the node keeps about one request it is assigned to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The output, once computed.
    pub output: Option<Vec<u8>>,
    /// The salt of the commitment, chosen with the output.
    pub salt: Option<[u8; 32]>,
    /// The commitment, once signed.
    pub commitment: Option<[u8; 32]>,
    /// Whether the reveal was confirmed.
    pub revealed: bool,
    /// A Sealed requester's secret, if it told this node.
    pub secret: Option<[u8; 32]>,
    /// Nothing is left to do.
    pub done: bool,
    /// Why the input could not be obtained: the node abstains.
    pub unavailable: Option<String>,
    /// Why the node cannot run the request in time (it does not serve the
    /// model, the model failed, its queue is too long): the node declines.
    pub declined: Option<String>,
    /// When the node first tried to fetch the input (ms): it abstains
    /// `input_timeout_ms` later at the latest.
    pub fetching_since_ms: Option<u64>,
}

/// A task as schema version 2 stored it (read once, to migrate).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct TaskV2 {
    output: Option<Vec<u8>>,
    salt: Option<[u8; 32]>,
    commitment: Option<[u8; 32]>,
    revealed: bool,
    secret: Option<[u8; 32]>,
    failure: Option<String>,
    done: bool,
    unavailable: Option<String>,
}

impl From<TaskV2> for Task {
    fn from(t: TaskV2) -> Task {
        // A version 2 failure was a model the node does not serve, or one that failed: it declines.
        let TaskV2 { output, salt, commitment, revealed, secret, failure, done, unavailable } = t;
        Task {
            output,
            salt,
            commitment,
            revealed,
            secret,
            done,
            unavailable,
            declined: failure,
            fetching_since_ms: None,
        }
    }
}

/// A summary of the database: the node, its tasks, unconfirmed
/// transactions and where it follows events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The node's id, once registered.
    pub node: Option<String>,
    /// Tasks kept.
    pub tasks: u64,
    /// Of which finished.
    pub tasks_done: u64,
    /// Signed transactions whose outcome is not yet known.
    pub outbox: u64,
    /// The last event handled: checkpoint, transaction, event index.
    pub cursor: Option<[u64; 3]>,
}

/// The database.
pub struct Db {
    db: Database,
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    bcs::from_bytes(bytes).with_context(|| format!("the database's {what} does not decode"))
}

impl Db {
    /// Opens (or creates) the database in `dir`, checking its schema version.
    pub fn open(dir: &Path) -> anyhow::Result<Db> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join("node.redb");
        let db = Database::create(&path).with_context(|| format!("opening database {}", path.display()))?;
        let db = Db { db };
        match db.meta("schema_version")? {
            None => db.put_meta("schema_version", &SCHEMA_VERSION.to_le_bytes())?,
            Some(v) => {
                let version = u32::from_le_bytes(v.as_slice().try_into().context("schema_version is not 4 bytes")?);
                if version == 2 {
                    db.migrate_v2()
                        .with_context(|| format!("migrating database {} to schema version 3", path.display()))?;
                } else if version != SCHEMA_VERSION {
                    bail!(
                        "database {} has schema version {version}; this atoma-node reads {SCHEMA_VERSION}",
                        path.display()
                    );
                }
            }
        }
        Ok(db)
    }

    fn meta(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let read = self.db.begin_read()?;
        let table = match read.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Rewrites every task of a version 2 database in the current layout,
    /// and the version with them, in one transaction.
    fn migrate_v2(&self) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        {
            let mut table = write.open_table(TASKS)?;
            let mut tasks = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let old: TaskV2 = decode(value.value(), "version 2 task")?;
                tasks.push((key.value().to_vec(), Task::from(old)));
            }
            for (key, task) in tasks {
                table.insert(key.as_slice(), bcs::to_bytes(&task)?.as_slice())?;
            }
            write.open_table(META)?.insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        }
        write.commit()?;
        Ok(())
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        write.open_table(META)?.insert(key, value)?;
        write.commit()?;
        Ok(())
    }

    /// The node's id stored by `register`.
    pub fn node_cap(&self) -> anyhow::Result<Option<Address>> {
        self.meta("node_cap")?.map(Address::from_bytes).transpose().context("node_cap")
    }

    /// Stores the node's id.
    pub fn set_node_cap(&self, id: &Address) -> anyhow::Result<()> {
        self.put_meta("node_cap", id.as_bytes())
    }

    /// Forgets a node that withdrew, so that the directory can register a
    /// new one: its id and where it followed events. Its finished tasks stay.
    pub fn forget_node(&self) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        {
            let mut meta = write.open_table(META)?;
            for key in ["node_cap", "cursor", "start_checkpoint"] {
                meta.remove(key)?;
            }
        }
        write.commit()?;
        Ok(())
    }

    /// What the database holds, in a few numbers (for `atoma-node status`).
    pub fn summary(&self) -> anyhow::Result<Summary> {
        let (tasks, done) = self.task_counts()?;
        Ok(Summary {
            node: self.node_cap()?.map(|a| a.to_string()),
            tasks,
            tasks_done: done,
            outbox: self.outbox()?.len() as u64,
            cursor: self.cursor()?.map(|c| [c.checkpoint, c.transaction, c.event]),
        })
    }

    /// Where the first run starts following events.
    pub fn start_checkpoint(&self) -> anyhow::Result<Option<u64>> {
        Ok(self.meta("start_checkpoint")?.map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())))
    }

    /// Stores where the first run starts following events.
    pub fn set_start_checkpoint(&self, checkpoint: u64) -> anyhow::Result<()> {
        self.put_meta("start_checkpoint", &checkpoint.to_le_bytes())
    }

    /// The cursor of the last event handled.
    pub fn cursor(&self) -> anyhow::Result<Option<EventCursor>> {
        self.meta("cursor")?.map(|b| decode(&b, "cursor")).transpose()
    }

    /// Stores the cursor of the last event handled.
    pub fn set_cursor(&self, cursor: &EventCursor) -> anyhow::Result<()> {
        self.put_meta("cursor", &bcs::to_bytes(cursor)?)
    }

    /// The task of a request.
    pub fn task(&self, request: &Address) -> anyhow::Result<Option<Task>> {
        let read = self.db.begin_read()?;
        let table = match read.open_table(TASKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table.get(request.as_bytes())?.map(|v| decode(v.value(), "task")).transpose()
    }

    /// Writes a task (durably).
    pub fn put_task(&self, request: &Address, task: &Task) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        write.open_table(TASKS)?.insert(request.as_bytes(), bcs::to_bytes(task)?.as_slice())?;
        write.commit()?;
        Ok(())
    }

    /// Changes a task (creating it if missing) and writes it; returns the new value.
    pub fn update_task(&self, request: &Address, f: impl FnOnce(&mut Task)) -> anyhow::Result<Task> {
        let write = self.db.begin_write()?;
        let task = {
            let mut table = write.open_table(TASKS)?;
            let mut task: Task = match table.get(request.as_bytes())? {
                Some(v) => decode(v.value(), "task")?,
                None => Task::default(),
            };
            f(&mut task);
            table.insert(request.as_bytes(), bcs::to_bytes(&task)?.as_slice())?;
            task
        };
        write.commit()?;
        Ok(task)
    }

    /// Requests with a task not done.
    pub fn open_tasks(&self) -> anyhow::Result<Vec<(Address, Task)>> {
        let read = self.db.begin_read()?;
        let table = match read.open_table(TASKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let task: Task = decode(v.value(), "task")?;
            if !task.done {
                out.push((Address::from_bytes(k.value()).context("a task key")?, task));
            }
        }
        Ok(out)
    }

    /// Counts tasks: (all, done).
    pub fn task_counts(&self) -> anyhow::Result<(u64, u64)> {
        let read = self.db.begin_read()?;
        let table = match read.open_table(TASKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, 0)),
            Err(e) => return Err(e.into()),
        };
        let (mut all, mut done) = (0, 0);
        for entry in table.iter()? {
            let (_, v) = entry?;
            all += 1;
            done += decode::<Task>(v.value(), "task")?.done as u64;
        }
        Ok((all, done))
    }

    /// Stores a signed transaction before it is sent.
    pub fn outbox_put(&self, signed: &Signed) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        write.open_table(OUTBOX)?.insert(signed.digest().as_bytes(), bcs::to_bytes(signed)?.as_slice())?;
        write.commit()?;
        Ok(())
    }

    /// Forgets a transaction whose outcome is known.
    pub fn outbox_remove(&self, digest: &Digest) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        write.open_table(OUTBOX)?.remove(digest.as_bytes())?;
        write.commit()?;
        Ok(())
    }

    /// Signed transactions whose outcome is not known.
    pub fn outbox(&self) -> anyhow::Result<Vec<Signed>> {
        let read = self.db.begin_read()?;
        let table = match read.open_table(OUTBOX) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(decode(entry?.1.value(), "outbox entry")?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_2_database_is_migrated_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join("node.redb")).unwrap();
            let write = db.begin_write().unwrap();
            {
                write.open_table(META).unwrap().insert("schema_version", 2u32.to_le_bytes().as_slice()).unwrap();
                let old = TaskV2 {
                    output: Some(b"out".to_vec()),
                    salt: Some([7; 32]),
                    commitment: None,
                    revealed: false,
                    secret: None,
                    failure: Some("model m is not served by this node".into()),
                    done: false,
                    unavailable: None,
                };
                let key = Address::from([1; 32]);
                write
                    .open_table(TASKS)
                    .unwrap()
                    .insert(key.as_bytes(), bcs::to_bytes(&old).unwrap().as_slice())
                    .unwrap();
            }
            write.commit().unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        let task = db.task(&Address::from([1; 32])).unwrap().unwrap();
        assert_eq!((task.output.as_deref(), task.salt), (Some(b"out".as_slice()), Some([7; 32])));
        assert_eq!(task.declined.as_deref(), Some("model m is not served by this node"));
        drop(db);
        // Opened again: version 3 now, read as it is.
        assert!(Db::open(dir.path()).unwrap().task(&Address::from([1; 32])).unwrap().is_some());
    }

    #[test]
    fn tasks_and_meta_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let request = Address::from_static("0x42");
        {
            let db = Db::open(dir.path()).unwrap();
            db.set_node_cap(&Address::from_static("0x7")).unwrap();
            db.update_task(&request, |t| {
                t.output = Some(vec![1, 2]);
                t.salt = Some([3; 32]);
            })
            .unwrap();
            db.set_cursor(&EventCursor { checkpoint: 5, transaction: 1, event: 2 }).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.node_cap().unwrap(), Some(Address::from_static("0x7")));
        assert_eq!(db.task(&request).unwrap().unwrap().salt, Some([3; 32]));
        assert_eq!(db.open_tasks().unwrap().len(), 1);
        assert_eq!(db.cursor().unwrap().unwrap().checkpoint, 5);
        db.update_task(&request, |t| t.done = true).unwrap();
        assert!(db.open_tasks().unwrap().is_empty());
    }

    #[test]
    fn another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path()).unwrap();
            db.put_meta("schema_version", &99u32.to_le_bytes()).unwrap();
        }
        let err = Db::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
