//! The ledger of the local network: live objects with their versions, the
//! protocol state behind the package's objects, executed transactions with
//! their effects and events, and checkpoints.
//!
//! Everything here is synchronous and deterministic: given the genesis and
//! the same sequence of transactions (with their execution times) and
//! checkpoint times, two chains are identical. That is what persistence
//! relies on (see `persist`): it logs the inputs and replays them.
//!
//! Not for: transaction rules (see `exec`), networking (see `rpc`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atoma_protocol::{ObjectId, State};
use sui_sdk_types::{
    Address, CheckpointContents, CheckpointSummary, CheckpointTransactionInfo, Digest, Event, GasCostSummary, Object,
    ObjectReference, Owner, StructTag, Transaction, TransactionEffects, TransactionEvents, UserSignature, Version,
};

use crate::objects::{self, Builder, CLOCK_ID};

/// An executed transaction, as `GetTransaction` shows it.
#[derive(Clone, Debug)]
pub struct TxRecord {
    /// The transaction data.
    pub transaction: Transaction,
    /// Its signatures (none for the genesis transaction).
    pub signatures: Vec<UserSignature>,
    /// Its effects.
    pub effects: TransactionEffects,
    /// Its events, if it emitted any.
    pub events: Option<TransactionEvents>,
    /// Time it was executed at (the clock it saw), ms.
    pub timestamp_ms: u64,
    /// The checkpoint that includes it, once sealed, and its index there.
    pub checkpoint: Option<(u64, u64)>,
    /// The objects it read (input states), for `balance_changes` and object sets.
    pub input_objects: Vec<Object>,
    /// The objects it wrote (output states).
    pub output_objects: Vec<Object>,
}

/// A sealed checkpoint.
#[derive(Clone, Debug)]
pub struct CheckpointRecord {
    /// The summary (its digest is the checkpoint digest).
    pub summary: CheckpointSummary,
    /// The contents: transactions with their effects digests and signatures.
    pub contents: CheckpointContents,
    /// The transactions in order.
    pub transactions: Vec<Digest>,
}

/// Live objects by id, every version ever written, and an index by owner.
#[derive(Default, Debug)]
pub struct ObjectStore {
    live: HashMap<Address, Object>,
    history: HashMap<(Address, Version), Object>,
    owned: BTreeMap<Address, BTreeSet<Address>>,
    deleted: HashMap<Address, Version>,
}

impl ObjectStore {
    /// The current state of an object.
    pub fn get(&self, id: &Address) -> Option<&Object> {
        self.live.get(id)
    }

    /// An object at a given version, live or past.
    pub fn get_version(&self, id: &Address, version: Version) -> Option<&Object> {
        self.history.get(&(*id, version))
    }

    /// The version at which an object was deleted, if it was.
    pub fn deleted_at(&self, id: &Address) -> Option<Version> {
        self.deleted.get(id).copied()
    }

    /// Ids of the objects `owner` owns, in id order.
    pub fn owned_by(&self, owner: &Address) -> impl Iterator<Item = &Address> {
        self.owned.get(owner).into_iter().flatten()
    }

    /// The SUI coins `owner` owns, with their references and balances,
    /// largest first (gas selection, the faucet and balances read them).
    pub fn coins_of(&self, owner: &Address) -> Vec<(ObjectReference, u64)> {
        let mut coins: Vec<(ObjectReference, u64)> = self
            .owned_by(owner)
            .filter_map(|id| self.get(id))
            .filter_map(|o| {
                let s = o.as_struct().filter(|s| *s.object_type() == StructTag::gas_coin())?;
                Some((
                    ObjectReference::new(o.object_id(), o.version(), o.digest()),
                    crate::objects::coin_balance(s.contents())?,
                ))
            })
            .collect();
        coins.sort_by_key(|(_, balance)| std::cmp::Reverse(*balance));
        coins
    }

    /// Writes a new version of an object (or a new object).
    pub fn put(&mut self, object: Object) {
        let id = object.object_id();
        if let Some(old) = self.live.get(&id)
            && let Owner::Address(a) = old.owner()
            && let Some(set) = self.owned.get_mut(a)
        {
            set.remove(&id);
        }
        if let Owner::Address(a) = object.owner() {
            self.owned.entry(*a).or_default().insert(id);
        }
        self.history.insert((id, object.version()), object.clone());
        self.live.insert(id, object);
    }

    /// Deletes an object at `version`.
    pub fn delete(&mut self, id: &Address, version: Version) {
        if let Some(old) = self.live.remove(id)
            && let Owner::Address(a) = old.owner()
            && let Some(set) = self.owned.get_mut(a)
        {
            set.remove(id);
        }
        self.deleted.insert(*id, version);
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no object is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// Fixed facts about a network, set at genesis.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The `atoma` package's address.
    pub package: Address,
    /// The shared `Network` object's id.
    pub network_id: Address,
    /// The `Network`'s initial shared version.
    pub network_initial_version: Version,
    /// The `AdminCap`'s id.
    pub admin_cap_id: Address,
    /// Ids of the network's tables (classes, models).
    pub network_tables: [ObjectId; 2],
    /// The Random object's initial shared version.
    pub random_initial_version: Version,
    /// Reference gas price (MIST per computation unit).
    pub reference_gas_price: u64,
    /// Seed of the randomness source.
    pub random_seed: [u8; 32],
}

/// The whole ledger.
#[derive(Debug)]
pub struct Ledger {
    /// Fixed facts.
    pub identity: Identity,
    /// The protocol state behind the `Network`, `HardwareClass` and `Request` objects.
    pub state: State,
    /// Live and past objects.
    pub objects: ObjectStore,
    /// Executed transactions by digest.
    pub txs: HashMap<Digest, TxRecord>,
    /// Sealed checkpoints; index = sequence number.
    pub checkpoints: Vec<CheckpointRecord>,
    /// Executed transactions not yet in a checkpoint, in order.
    pub pending: Vec<Digest>,
    /// Latest time any transaction or checkpoint saw (the clock never goes back).
    pub last_time_ms: u64,
    /// Gas of the epoch so far (checkpoint summaries carry it).
    pub epoch_gas: GasCostSummary,
    /// Transactions executed, genesis included.
    pub total_transactions: u64,
}

impl Ledger {
    /// Object builders for this network's package.
    pub fn builder(&self) -> Builder {
        Builder { package: self.identity.package }
    }

    /// The chain id: the base58 digest of checkpoint 0's summary.
    pub fn chain_id(&self) -> Digest {
        self.checkpoints[0].summary.digest()
    }

    /// The last sealed checkpoint's sequence number.
    pub fn checkpoint_height(&self) -> u64 {
        self.checkpoints.len() as u64 - 1
    }

    /// The time a transaction executed now sees: the wall clock, never earlier
    /// than what was seen before.
    pub fn tick(&mut self, now_ms: u64) -> u64 {
        self.last_time_ms = self.last_time_ms.max(now_ms);
        self.last_time_ms
    }

    /// Records an executed transaction (not yet checkpointed).
    pub fn record(&mut self, digest: Digest, record: TxRecord) {
        let gas = record.effects.gas_summary();
        self.epoch_gas.computation_cost += gas.computation_cost;
        self.epoch_gas.storage_cost += gas.storage_cost;
        self.epoch_gas.storage_rebate += gas.storage_rebate;
        self.epoch_gas.non_refundable_storage_fee += gas.non_refundable_storage_fee;
        self.txs.insert(digest, record);
        self.pending.push(digest);
        self.total_transactions += 1;
    }

    /// Seals the pending transactions into a checkpoint at `now_ms` (an empty
    /// one if none is pending) and moves the Clock to its time. Returns its
    /// sequence number.
    pub fn seal_checkpoint(&mut self, now_ms: u64) -> u64 {
        let timestamp_ms = self.tick(now_ms);
        let sequence_number = self.checkpoints.len() as u64;
        let transactions = std::mem::take(&mut self.pending);
        let mut infos = Vec::with_capacity(transactions.len());
        for (i, digest) in transactions.iter().enumerate() {
            // Every pending digest was recorded by `record`.
            let tx = self.txs.get_mut(digest).expect("pending transactions are recorded");
            tx.checkpoint = Some((sequence_number, i as u64));
            infos.push(CheckpointTransactionInfo::new(*digest, tx.effects.digest(), tx.signatures.clone()));
        }
        let contents = CheckpointContents::new_v1(infos);
        let previous_digest = self.checkpoints.last().map(|c| c.summary.digest());
        let summary = CheckpointSummary {
            epoch: 0,
            sequence_number,
            network_total_transactions: self.total_transactions,
            content_digest: contents.digest(),
            previous_digest,
            epoch_rolling_gas_cost_summary: self.epoch_gas.clone(),
            timestamp_ms,
            checkpoint_commitments: Vec::new(),
            end_of_epoch_data: None,
            version_specific_data: Vec::new(),
        };
        self.checkpoints.push(CheckpointRecord { summary, contents, transactions });
        self.move_clock(timestamp_ms);
        sequence_number
    }

    /// Writes the Clock's new time, as a consensus commit does on Sui.
    fn move_clock(&mut self, timestamp_ms: u64) {
        if let Some(clock) = self.objects.get(&CLOCK_ID) {
            let version = clock.version() + 1;
            let previous = clock.previous_transaction();
            let updated = objects::finish(self.builder().clock(timestamp_ms, version), previous, 0);
            self.objects.put(updated);
        }
    }

    /// Draws 32 random bytes for the `draw`-th use of randomness in the
    /// transaction `tx`: `blake2b256(seed || tx digest || le_u64(draw))`.
    /// Deterministic for a given seed, so a run with a fixed seed repeats.
    pub fn randomness(&self, tx: &Digest, draw: u64) -> [u8; 32] {
        let mut data = self.identity.random_seed.to_vec();
        data.extend_from_slice(tx.inner());
        data.extend_from_slice(&draw.to_le_bytes());
        atoma_protocol::commitment::blake2b256(&data).0
    }

    /// The events of the package in a transaction, with their indices.
    pub fn events_of<'a>(&'a self, tx: &'a TxRecord) -> impl Iterator<Item = (usize, &'a Event)> {
        tx.events.iter().flat_map(|e| e.0.iter().enumerate())
    }
}
