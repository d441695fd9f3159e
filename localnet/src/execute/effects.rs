//! What a transaction changed (`Outcome`) and the record of it: the objects
//! it writes at their new version, its gas, its Sui events and its effects,
//! all computed without touching the ledger. Genesis builds its record
//! with the same functions.
//!
//! Not for: deciding what a transaction changes (see `interp`), or writing
//! it (see `apply` in the parent module).

use std::collections::{BTreeMap, BTreeSet};

use atoma_protocol::{NodeCap, ObjectId, State};
use sui_sdk_types::{
    Address, ChangedObject, Digest, ExecutionStatus, GasCostSummary, IdOperation, Identifier, Object, ObjectIn,
    ObjectOut, Owner, Transaction, TransactionEffects, TransactionEffectsV2, TransactionEvents, UnchangedConsensusKind,
    UnchangedConsensusObject, UserSignature, Version,
};

use super::check::{Checked, CheckedInput};
use crate::gas;
use crate::ledger::{Ledger, TxRecord};
use crate::objects::{self, Builder, Kind};

/// What a transaction changed, before it is written (see `Outcome::written`).
#[derive(Debug, Default)]
pub struct Outcome {
    /// The network, the classes and the requests this transaction used or
    /// created, after it, if a Move call ran (a partial state: other classes
    /// and requests are not in it).
    pub state: Option<State>,
    /// The balance of every coin the transaction touched (gas coin: before the gas charge).
    pub balances: BTreeMap<Address, u64>,
    /// New owners of objects (transfers and payouts).
    pub owners: BTreeMap<Address, Address>,
    /// Coins created by this transaction and still alive at its end.
    pub new_coins: BTreeSet<Address>,
    /// Node capabilities created, with their owners.
    pub new_caps: Vec<(NodeCap, Address)>,
    /// Hardware class objects created (shared at this transaction's version).
    pub new_classes: BTreeSet<ObjectId>,
    /// Requests created.
    pub new_requests: BTreeSet<ObjectId>,
    /// Input objects deleted (merged coins, consumed payments, a withdrawn node's cap).
    pub deleted: BTreeSet<Address>,
    /// Events in emission order.
    pub events: Vec<atoma_protocol::Event>,
    /// Module of the first MoveCall (an event's `module` field on Sui).
    pub event_module: Option<Identifier>,
}

impl Outcome {
    /// The outcome of a failed transaction: the gas coins are smashed into
    /// the first one and every mutable input gets a new version, nothing else.
    pub(crate) fn failed(checked: &Checked) -> Outcome {
        let mut out = Outcome::default();
        let gas_total: u64 = checked.gas.iter().map(coin_value).sum();
        out.balances.insert(checked.gas[0].object_id(), gas_total);
        out.deleted.extend(checked.gas[1..].iter().map(|o| o.object_id()));
        out
    }

    /// Input objects that this outcome overwrites or deletes (their storage
    /// rebate is paid back).
    pub(crate) fn overwritten<'a>(&self, checked: &'a Checked) -> Vec<&'a Object> {
        mutable_inputs(checked).chain(checked.gas.iter()).collect()
    }

    /// Every object this outcome writes, at version `lamport`, with the gas
    /// coin charged `gas_charge` (negative: refunded). Previous transaction
    /// and storage rebate are set by the caller.
    pub(crate) fn written(&self, chain: &Ledger, checked: &Checked, lamport: Version) -> Vec<Object> {
        self.written_with_gas(chain, checked, lamport, 0)
    }

    /// As `written`, with the gas coin's balance net of `gas_charge`.
    pub(crate) fn written_with_gas(
        &self,
        chain: &Ledger,
        checked: &Checked,
        lamport: Version,
        gas_charge: i128,
    ) -> Vec<Object> {
        let b = chain.builder();
        let gas_id = checked.gas[0].object_id();
        let mut out = Vec::new();
        let state = self.state.as_ref().unwrap_or(&chain.state);
        let owner_of = |o: &Object| match self.owners.get(&o.object_id()) {
            Some(a) => Owner::Address(*a),
            None => *o.owner(),
        };
        for o in mutable_inputs(checked).chain(std::iter::once(&checked.gas[0])) {
            let id = o.object_id();
            if self.deleted.contains(&id) {
                continue;
            }
            let object = match objects::kind(o, &b.package) {
                Kind::Coin(old) => {
                    let mut balance = self.balances.get(&id).copied().unwrap_or(old) as i128;
                    if id == gas_id {
                        balance -= gas_charge;
                    }
                    // Checked: budget <= balance and charge <= budget, so this stays within u64.
                    let balance = u64::try_from(balance.max(0)).unwrap_or(u64::MAX);
                    b.coin(id, balance, lamport, owner_of(o))
                }
                Kind::Network => {
                    let initial = initial_version(o);
                    b.network(&state.network, chain.identity.network_tables, lamport, initial)
                }
                Kind::HardwareClass => match state.classes.get(&ObjectId::from(id)) {
                    Some(c) => b.class(c, lamport, initial_version(o)),
                    None => objects::with_version(o, lamport),
                },
                Kind::Request => match state.requests.get(&ObjectId::from(id)) {
                    Some(r) => b.request(r, lamport, initial_version(o)),
                    None => objects::with_version(o, lamport),
                },
                _ => objects::with_version(o, lamport),
            };
            out.push(object);
        }
        for id in &self.new_coins {
            let owner = self.owners.get(id).copied().unwrap_or(checked.sender);
            out.push(b.coin(*id, self.balances.get(id).copied().unwrap_or(0), lamport, Owner::Address(owner)));
        }
        for (cap, owner) in &self.new_caps {
            out.push(b.node_cap(*cap, lamport, *owner));
        }
        for id in &self.new_classes {
            if let Some(c) = state.classes.get(id) {
                out.push(b.class(c, lamport, lamport));
            }
        }
        for id in &self.new_requests {
            if let Some(r) = state.requests.get(id) {
                out.push(b.request(r, lamport, lamport));
            }
        }
        out
    }
}

fn coin_value(o: &Object) -> u64 {
    o.as_struct().and_then(|s| objects::coin_balance(s.contents())).unwrap_or(0)
}

fn initial_version(o: &Object) -> Version {
    match o.owner() {
        Owner::Shared(v) => *v,
        _ => o.version(),
    }
}

fn mutable_inputs(checked: &Checked) -> impl Iterator<Item = &Object> {
    checked.inputs.iter().filter_map(|i| match i {
        CheckedInput::Object(o) if o.mutable => Some(&o.object),
        _ => None,
    })
}

/// A transaction being executed: what was sent, what the checks found, and
/// when and at which version it runs.
pub(super) struct Run {
    pub tx: Transaction,
    pub signatures: Vec<UserSignature>,
    pub checked: Checked,
    pub digest: Digest,
    pub now_ms: u64,
    /// Its input objects and gas coins as they were before it.
    pub input_objects: Vec<Object>,
    /// The version of every object it writes: one above its inputs' highest.
    pub lamport: Version,
}

impl Run {
    pub(super) fn new(tx: Transaction, signatures: Vec<UserSignature>, checked: Checked, now_ms: u64) -> Run {
        let input_objects: Vec<Object> = checked
            .inputs
            .iter()
            .filter_map(|i| match i {
                CheckedInput::Object(o) => Some(o.object.clone()),
                CheckedInput::Pure(_) => None,
            })
            .chain(checked.gas.iter().cloned())
            .collect();
        let lamport = input_objects.iter().map(|o| o.version()).max().unwrap_or(0) + 1;
        Run { digest: tx.digest(), tx, signatures, checked, now_ms, input_objects, lamport }
    }

    /// The gas summary of writing `outcome`.
    pub(super) fn costs(&self, chain: &Ledger, outcome: &Outcome) -> GasCostSummary {
        let commands = self.checked.ptb.commands.len() as u64;
        let computation = gas::computation_cost(self.checked.gas_price, commands, outcome.events.len() as u64);
        let written = outcome.written(chain, &self.checked, self.lamport);
        let storage: u64 = written.iter().map(gas::object_storage_cost).sum();
        let previous: u64 = outcome.overwritten(&self.checked).iter().map(|o| o.storage_rebate()).sum();
        let (rebate, non_refundable) = gas::rebate(previous);
        GasCostSummary::new(computation, storage, rebate, non_refundable)
    }

    /// The record of this run ending with `outcome`, and the writes that
    /// `apply` makes.
    pub(super) fn finish(
        self,
        chain: &Ledger,
        outcome: Outcome,
        status: ExecutionStatus,
        gas_used: GasCostSummary,
    ) -> Execution {
        let Run { tx, signatures, checked, digest, now_ms, input_objects, lamport } = self;
        let gas_id = checked.gas[0].object_id();
        let charge = gas::net_charge(&gas_used);
        let written = finish_objects(outcome.written_with_gas(chain, &checked, lamport, charge), digest);
        let changed = changed_objects(&input_objects, &written, &outcome.deleted);
        let gas_object_index = changed.iter().position(|c| c.object_id == gas_id).map(|i| i as u32);
        let unchanged_consensus_objects = checked
            .inputs
            .iter()
            .filter_map(|i| match i {
                CheckedInput::Object(o) if o.shared && !o.mutable => Some(UnchangedConsensusObject {
                    object_id: o.object.object_id(),
                    kind: UnchangedConsensusKind::ReadOnlyRoot {
                        version: o.object.version(),
                        digest: o.object.digest(),
                    },
                }),
                _ => None,
            })
            .collect();
        let dependencies: BTreeSet<Digest> =
            input_objects.iter().map(|o| o.previous_transaction()).filter(|d| *d != Digest::ZERO).collect();
        let module = outcome.event_module.clone().unwrap_or_else(|| Identifier::from_static("events"));
        let events = sui_events(&chain.builder(), module, checked.sender, &outcome.events);
        let effects = TransactionEffects::V2(Box::new(TransactionEffectsV2 {
            status,
            epoch: 0,
            gas_used,
            transaction_digest: digest,
            gas_object_index,
            events_digest: events.as_ref().map(|e| e.digest()),
            dependencies: dependencies.into_iter().collect(),
            lamport_version: lamport,
            changed_objects: changed,
            unchanged_consensus_objects,
            auxiliary_data_digest: None,
        }));
        let record = TxRecord {
            transaction: tx,
            signatures,
            effects,
            events,
            timestamp_ms: now_ms,
            checkpoint: None,
            input_objects,
            output_objects: written,
        };
        Execution { record, deleted: outcome.deleted, lamport, state: outcome.state }
    }
}

/// What executing a transaction produced, not yet applied to the ledger.
pub(super) struct Execution {
    /// The transaction's record: its effects, events and object states.
    pub record: TxRecord,
    /// Objects it deleted, at `lamport`.
    pub deleted: BTreeSet<Address>,
    pub lamport: Version,
    /// The protocol state it changed.
    pub state: Option<State>,
}

/// The objects a transaction writes as they are stored: each names the
/// transaction and records the storage it occupies (its rebate when it is
/// rewritten or deleted, as on Sui).
pub(crate) fn finish_objects(written: Vec<Object>, digest: Digest) -> Vec<Object> {
    written
        .into_iter()
        .map(|o| {
            let rebate = gas::object_storage_cost(&o);
            objects::finish(o, digest, rebate)
        })
        .collect()
}

/// The effects' changed objects, in id order: each written object (created
/// unless it was an input) and each deleted input.
pub(crate) fn changed_objects(
    inputs: &[Object],
    written: &[Object],
    deleted: &BTreeSet<Address>,
) -> Vec<ChangedObject> {
    let inputs_by_id: BTreeMap<Address, &Object> = inputs.iter().map(|o| (o.object_id(), o)).collect();
    let before = |old: &Object| ObjectIn::Exist { version: old.version(), digest: old.digest(), owner: *old.owner() };
    let mut changed = Vec::new();
    for o in written {
        let id = o.object_id();
        let (input_state, id_operation) = match inputs_by_id.get(&id) {
            Some(old) => (before(old), IdOperation::None),
            None => (ObjectIn::NotExist, IdOperation::Created),
        };
        let output_state = ObjectOut::ObjectWrite { digest: o.digest(), owner: *o.owner() };
        changed.push(ChangedObject { object_id: id, input_state, output_state, id_operation });
    }
    for id in deleted {
        if let Some(old) = inputs_by_id.get(id) {
            changed.push(ChangedObject {
                object_id: *id,
                input_state: before(old),
                output_state: ObjectOut::NotExist,
                id_operation: IdOperation::Deleted,
            });
        }
    }
    changed.sort_by_key(|c| c.object_id);
    changed
}

/// The protocol's events as Sui events emitted by `module` of the package
/// for `sender`; `None` when there are none.
pub(crate) fn sui_events(
    b: &Builder,
    module: Identifier,
    sender: Address,
    events: &[atoma_protocol::Event],
) -> Option<TransactionEvents> {
    let events: Vec<sui_sdk_types::Event> = events
        .iter()
        .map(|e| sui_sdk_types::Event {
            package_id: b.package,
            module: module.clone(),
            sender,
            type_: b.event_tag(e.name()),
            contents: e.to_bcs(),
        })
        .collect();
    (!events.is_empty()).then_some(TransactionEvents(events))
}
