//! API keys and their budgets, in an embedded SQLite database.
//!
//! A key is shown once, when it is created (`atoma-gateway keys add NAME
//! --budget MIST`); the database keeps only its BLAKE2b-256 hash. Each
//! request reserves its fee against its key's budget before anything is
//! sent (two requests at once cannot both spend the last of a budget), the
//! reservation becomes a charge naming the request once it is submitted,
//! and it is released if the submission is refused: nothing is charged for
//! a request that was never made. A request that fails on chain is credited
//! its refund. Every change is committed before the response goes on, so a
//! gateway killed at any point loses no charge.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use atoma_protocol::commitment::blake2b256;
use atoma_sdk::http::hex;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::ApiError;

/// The prefix of every key, so that one is recognised in a log or a leak scanner.
const PREFIX: &str = "sk-atoma-";

/// A key as listed (never the key itself).
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub budget: u64,
    /// Fees charged less refunds, in MIST.
    pub spent: u64,
    pub requests: u64,
    /// Requests charged and not yet known to be final (a refund may come).
    pub pending: u64,
    pub revoked: bool,
}

/// A fee held against a key's budget until the request is submitted or refused.
#[derive(Debug)]
pub struct Reservation(i64);

/// The key database.
pub struct Keys {
    db: Mutex<Connection>,
}

fn hash(token: &str) -> String {
    hex(&blake2b256(token.as_bytes()).0)
}

impl Keys {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Keys> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Connection::open(path).with_context(|| format!("opening the key database {}", path.display()))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS keys (
                 name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, budget INTEGER NOT NULL,
                 revoked INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS charges (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL REFERENCES keys(name),
                 fee INTEGER NOT NULL, refund INTEGER NOT NULL DEFAULT 0, request TEXT UNIQUE,
                 settled INTEGER NOT NULL DEFAULT 0, at_ms INTEGER NOT NULL);",
        )
        .with_context(|| format!("setting up the key database {}", path.display()))?;
        Ok(Keys { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a key named `name` with `budget` MIST; returns the key, shown only now.
    pub fn add(&self, name: &str, budget: u64) -> anyhow::Result<String> {
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            bail!("a key name is 1 to 64 letters, digits, `-`, `_` or `.`");
        }
        let token = format!("{PREFIX}{}", hex(&rand::random::<[u8; 24]>()));
        let added = self.db().execute(
            "INSERT INTO keys (name, hash, budget, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash(&token), budget as i64, atoma_sdk::now_ms() as i64],
        );
        match added {
            Ok(_) => Ok(token),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                bail!("a key named `{name}` exists already (`keys revoke {name}` first, or choose another name)")
            }
            Err(e) => Err(e).context("adding the key"),
        }
    }

    /// Revokes the key `name`; its record stays.
    pub fn revoke(&self, name: &str) -> anyhow::Result<()> {
        let n = self.db().execute("UPDATE keys SET revoked = 1 WHERE name = ?1", params![name])?;
        if n == 0 {
            bail!("no key named `{name}`");
        }
        Ok(())
    }

    /// Every key with what it has spent.
    pub fn list(&self) -> anyhow::Result<Vec<KeyInfo>> {
        let db = self.db();
        let mut q = db.prepare(
            "SELECT k.name, k.budget, k.revoked, COALESCE(SUM(c.fee - c.refund), 0), COUNT(c.request),
                    COUNT(CASE WHEN c.settled = 0 THEN c.request END)
             FROM keys k LEFT JOIN charges c ON c.key = k.name GROUP BY k.name ORDER BY k.name",
        )?;
        let rows = q.query_map([], |r| {
            Ok(KeyInfo {
                name: r.get(0)?,
                budget: r.get::<_, i64>(1)? as u64,
                revoked: r.get(2)?,
                spent: r.get::<_, i64>(3)? as u64,
                requests: r.get::<_, i64>(4)? as u64,
                pending: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The name of the key `token`, if it is one and not revoked.
    pub fn authorize(&self, token: Option<&str>) -> Result<String, ApiError> {
        let Some(token) = token else {
            return Err(ApiError::unauthorized("no API key: send `Authorization: Bearer sk-atoma-…`"));
        };
        let found: Option<(String, bool)> = self
            .db()
            .query_row("SELECT name, revoked FROM keys WHERE hash = ?1", params![hash(token)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| ApiError::internal(format!("reading the key database: {e}")))?;
        match found {
            Some((name, false)) => Ok(name),
            Some((_, true)) => Err(ApiError::unauthorized("this API key was revoked")),
            None => Err(ApiError::unauthorized("unknown API key")),
        }
    }

    /// Whether request `request` was made with the key `key` (charged to it).
    pub fn made(&self, key: &str, request: &str) -> Result<bool, ApiError> {
        self.db()
            .query_row("SELECT 1 FROM charges WHERE key = ?1 AND request = ?2", params![key, request], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| ApiError::internal(format!("reading the key database: {e}")))
    }

    /// Holds `fee` against `key`'s budget, or refuses with 429 if it does not fit.
    pub fn reserve(&self, key: &str, fee: u64) -> Result<Reservation, ApiError> {
        let internal = |e: rusqlite::Error| ApiError::internal(format!("the key database: {e}"));
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(internal)?;
        let (budget, spent): (i64, i64) = tx
            .query_row(
                "SELECT k.budget, COALESCE((SELECT SUM(fee - refund) FROM charges WHERE key = k.name), 0)
                 FROM keys k WHERE k.name = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(internal)?;
        let left = (budget - spent).max(0) as u64;
        if fee > left {
            return Err(ApiError::over_budget(
                format!("the key `{key}` has {left} MIST of its {budget} left; this request's fee is {fee} MIST"),
                3600,
            ));
        }
        tx.execute(
            "INSERT INTO charges (key, fee, at_ms) VALUES (?1, ?2, ?3)",
            params![key, fee as i64, atoma_sdk::now_ms() as i64],
        )
        .map_err(internal)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(internal)?;
        Ok(Reservation(id))
    }

    /// The reserved fee became request `request`'s.
    pub fn charge(&self, r: Reservation, request: &str) {
        self.log(self.db().execute("UPDATE charges SET request = ?2 WHERE id = ?1", params![r.0, request]));
    }

    /// The request was refused before it was made: nothing is charged.
    pub fn release(&self, r: Reservation) {
        self.log(self.db().execute("DELETE FROM charges WHERE id = ?1 AND request IS NULL", params![r.0]));
    }

    /// Request `request` is final: it failed and `refund` MIST came back,
    /// or (`None`) it was finalized and the whole charge stands.
    pub fn settle(&self, request: &str, refund: Option<u64>) {
        self.log(self.db().execute(
            "UPDATE charges SET refund = ?2, settled = 1 WHERE request = ?1",
            params![request, refund.unwrap_or(0) as i64],
        ));
    }

    /// The requests charged and not yet known to be final (their follower
    /// ended early, or the gateway stopped): `run::reconcile` reads them on chain.
    pub fn unsettled(&self) -> anyhow::Result<Vec<String>> {
        let db = self.db();
        let mut q = db.prepare("SELECT request FROM charges WHERE settled = 0 AND request IS NOT NULL")?;
        let rows = q.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `f` on the database off the async workers (each write waits for the disk).
    pub async fn blocking<T: Send + 'static>(self: &Arc<Self>, f: impl FnOnce(&Keys) -> T + Send + 'static) -> T {
        let keys = self.clone();
        tokio::task::spawn_blocking(move || f(&keys)).await.expect("a key database task panicked")
    }

    fn log(&self, result: rusqlite::Result<usize>) {
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a charge in the key database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_spends_its_budget_once_and_a_refused_request_costs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.sqlite");
        let keys = Keys::open(&path).unwrap();
        let token = keys.add("app", 5).unwrap();
        assert!(token.starts_with(PREFIX));
        assert!(keys.add("app", 1).unwrap_err().to_string().contains("exists already"));
        assert_eq!(keys.authorize(Some(&token)).unwrap(), "app");
        assert_eq!(keys.authorize(Some("sk-atoma-nope")).unwrap_err().status, 401);
        assert_eq!(keys.authorize(None).unwrap_err().status, 401);

        let a = keys.reserve("app", 3).unwrap();
        // The second cannot have what the first holds.
        let over = keys.reserve("app", 3).unwrap_err();
        assert_eq!((over.status.as_u16(), over.retry_after.is_some()), (429, true));
        keys.release(a);
        let b = keys.reserve("app", 3).unwrap();
        keys.charge(b, "0xreq");
        assert_eq!(keys.unsettled().unwrap(), ["0xreq"]);
        keys.settle("0xreq", Some(1));
        assert!(keys.unsettled().unwrap().is_empty());
        // Reopened, as after a crash: the charge and the refund are there.
        drop(keys);
        let keys = Keys::open(&path).unwrap();
        let listed = keys.list().unwrap();
        assert_eq!((listed[0].spent, listed[0].requests, listed[0].budget), (2, 1, 5));
        assert!(keys.db().query_row("SELECT hash FROM keys", [], |r| r.get::<_, String>(0)).unwrap() != token);
        keys.revoke("app").unwrap();
        assert_eq!(keys.authorize(Some(&token)).unwrap_err().status, 401);
    }
}
