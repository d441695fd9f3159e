//! Executing a signed transaction: the checks a Sui validator makes before it
//! accepts a transaction (a failed check rejects it, nothing is charged),
//! then execution (`ptb`), gas, new object versions and the effects.
//!
//! Checks, in order: a programmable transaction; no expiry in the past; not
//! sponsored; one simple signature (Ed25519, Secp256k1 or Secp256r1) that
//! verifies and whose key derives the sender; gas price at least the
//! reference price and a budget within bounds; every input object exists at
//! the referenced version and digest and may be used by the sender; shared
//! inputs name their initial shared version; Clock and Random only
//! immutably; gas coins owned by the sender holding at least the budget;
//! only commands the local network runs; after a command that uses Random,
//! only `TransferObjects` or `MergeCoins`.
//!
//! Execution never rejects: it produces effects with a success or failure
//! status. A failure keeps only the gas charge and the version bumps of the
//! mutable inputs, as on Sui.
//!
//! Not for: the meaning of the commands (see `ptb`).

use std::collections::{BTreeMap, BTreeSet};

use sui_crypto::Verifier;
use sui_crypto::simple::SimpleVerifier;
use sui_sdk_types::{
    Address, ChangedObject, Command, Digest, ExecutionError, ExecutionStatus, GasCostSummary, IdOperation, Input,
    Object, ObjectIn, ObjectOut, Owner, ProgrammableTransaction, SimpleSignature, Transaction, TransactionEffects,
    TransactionEffectsV2, TransactionEvents, TransactionExpiration, TransactionKind, UnchangedConsensusKind,
    UnchangedConsensusObject, UserSignature, Version,
};

use crate::gas;
use crate::ledger::{Ledger, TxRecord};
use crate::objects::{self, CLOCK_ID, Kind, RANDOM_ID};
use crate::ptb::{self, Outcome};

/// Why a transaction was not accepted; nothing was executed or charged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// The transaction is malformed or breaks a rule of Sui (gRPC `InvalidArgument`).
    #[error("{0}")]
    Invalid(String),
    /// An input names an object version or digest that is not current (gRPC `FailedPrecondition`).
    #[error("{0}")]
    Stale(String),
    /// An input object does not exist (gRPC `NotFound`).
    #[error("{0}")]
    NotFound(String),
    /// Valid on Sui, but the local network does not run it (gRPC `Unimplemented`).
    #[error("{0}")]
    Unsupported(String),
}

/// An input object after the checks: what it is and how it may be used.
#[derive(Clone, Debug)]
pub struct InputObject {
    /// The object as it is now.
    pub object: Object,
    /// What it is to the interpreter.
    pub kind: Kind,
    /// Whether the transaction may change it (owned, or shared taken mutably).
    pub mutable: bool,
    /// Whether it is shared (consensus-sequenced).
    pub shared: bool,
}

/// A PTB input after the checks.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // one per input, short-lived
pub enum CheckedInput {
    /// Pure BCS bytes, typed where they are used.
    Pure(Vec<u8>),
    /// An object.
    Object(InputObject),
}

/// A transaction that passed every check.
#[derive(Debug)]
pub struct Checked {
    /// The sender.
    pub sender: Address,
    /// Gas price and budget.
    pub gas_price: u64,
    /// Gas budget.
    pub budget: u64,
    /// The gas coins; the first pays.
    pub gas: Vec<Object>,
    /// The programmable transaction.
    pub ptb: ProgrammableTransaction,
    /// Its inputs, resolved.
    pub inputs: Vec<CheckedInput>,
}

/// Largest pure argument (Sui's `max_pure_argument_size`).
pub const MAX_PURE_ARGUMENT: usize = 16_384;
/// Largest transaction (Sui's `max_tx_size_bytes`).
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// Checks and executes a signed transaction at `now_ms`, and records it.
/// A transaction that was executed before returns its digest again
/// (idempotent, as on Sui).
pub fn execute(
    chain: &mut Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    now_ms: u64,
) -> Result<Digest, Reject> {
    execute_or_cancel(chain, tx, signatures, now_ms, None)
}

/// As `execute`; with `cancelled`, the transaction is not run but fails
/// with `ExecutionCanceledDueToConsensusObjectCongestion` naming those
/// objects, and pays for gas like any failed transaction (the congestion
/// model's cancellation, see `congestion`).
pub fn execute_or_cancel(
    chain: &mut Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    now_ms: u64,
    cancelled: Option<Vec<Address>>,
) -> Result<Digest, Reject> {
    let digest = tx.digest();
    if chain.txs.contains_key(&digest) {
        return Ok(digest);
    }
    let checked = check(chain, &tx, &signatures)?;
    Ok(execute_checked(chain, tx, signatures, checked, now_ms, cancelled))
}

/// As `execute_or_cancel`, for a transaction `check` accepted (and not
/// executed before): the checks are not made again.
pub fn execute_checked(
    chain: &mut Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    checked: Checked,
    now_ms: u64,
    cancelled: Option<Vec<Address>>,
) -> Digest {
    let digest = tx.digest();
    let now_ms = chain.tick(now_ms);
    let execution = run(chain, tx, signatures, checked, digest, now_ms, cancelled);
    let record = apply(chain, execution);
    chain.record(digest, record);
    digest
}

/// Runs `tx` as it would execute now, after every check but the
/// signature's, and returns its record without writing anything (the
/// local network's `SimulateTransaction`).
pub fn simulate(chain: &Ledger, tx: Transaction, now_ms: u64) -> Result<TxRecord, Reject> {
    let checked = check_with(chain, &tx, None)?;
    let digest = tx.digest();
    let now_ms = now_ms.max(chain.last_time_ms);
    Ok(run(chain, tx, Vec::new(), checked, digest, now_ms, None).record)
}

/// What executing a transaction produced, not yet applied to the ledger.
struct Execution {
    /// The transaction's record: its effects, events and object states.
    record: TxRecord,
    /// Objects it deleted, at `lamport`.
    deleted: BTreeSet<Address>,
    lamport: Version,
    /// The protocol state it changed.
    state: Option<atoma_protocol::State>,
}

/// Writes an execution's objects and protocol state to the ledger.
fn apply(chain: &mut Ledger, execution: Execution) -> TxRecord {
    for id in &execution.deleted {
        chain.objects.delete(id, execution.lamport);
    }
    for o in &execution.record.output_objects {
        chain.objects.put(o.clone());
    }
    if let Some(state) = execution.state {
        chain.state.network = state.network;
        chain.state.classes.extend(state.classes);
        chain.state.requests.extend(state.requests);
    }
    execution.record
}

/// The shared inputs of a checked transaction (for the congestion model),
/// and whether it uses `Random`.
pub fn shared_inputs(checked: &Checked) -> (Vec<crate::congestion::SharedInput>, bool) {
    let mut randomness = false;
    let shared = checked
        .inputs
        .iter()
        .filter_map(|i| match i {
            CheckedInput::Object(o) if o.shared => {
                randomness |= o.kind == Kind::Random;
                // The Clock and Random are written only by the system.
                let system = matches!(o.kind, Kind::Clock | Kind::Random);
                Some(crate::congestion::SharedInput { id: o.object.object_id(), mutable: o.mutable && !system })
            }
            _ => None,
        })
        .collect();
    (shared, randomness)
}

/// Every check made before execution (see the module doc).
pub fn check(chain: &Ledger, tx: &Transaction, signatures: &[UserSignature]) -> Result<Checked, Reject> {
    check_with(chain, tx, Some(signatures))
}

/// The checks of execution, the signature's only when `signatures` are given
/// (a simulation has none).
fn check_with(chain: &Ledger, tx: &Transaction, signatures: Option<&[UserSignature]>) -> Result<Checked, Reject> {
    let TransactionKind::ProgrammableTransaction(ptb) = &tx.kind else {
        return Err(Reject::Unsupported("only programmable transactions are accepted by the local network".into()));
    };
    let size = bcs::serialized_size(tx).unwrap_or(usize::MAX);
    if size > MAX_TX_BYTES {
        return Err(Reject::Invalid(format!("transaction is {size} bytes; the limit is {MAX_TX_BYTES}")));
    }
    match tx.expiration {
        TransactionExpiration::None | TransactionExpiration::Epoch(_) => {}
        _ => return Err(Reject::Unsupported("only `None` and `Epoch` expirations are supported".into())),
    }
    if tx.gas_payment.owner != tx.sender {
        return Err(Reject::Unsupported("sponsored transactions (gas owner != sender) are not supported".into()));
    }
    if let Some(signatures) = signatures {
        check_signature(tx, signatures)?;
    }
    let reference = chain.identity.reference_gas_price;
    if tx.gas_payment.price < reference {
        return Err(Reject::Invalid(format!(
            "gas price {} is below the reference gas price {reference}",
            tx.gas_payment.price
        )));
    }
    let min_budget = gas::MIN_BUDGET_UNITS.saturating_mul(tx.gas_payment.price);
    if tx.gas_payment.budget < min_budget || tx.gas_payment.budget > gas::MAX_BUDGET {
        return Err(Reject::Invalid(format!(
            "gas budget {} is outside {min_budget}..={}",
            tx.gas_payment.budget,
            gas::MAX_BUDGET
        )));
    }

    let mut seen = BTreeSet::new();
    let mut inputs = Vec::with_capacity(ptb.inputs.len());
    for input in &ptb.inputs {
        inputs.push(check_input(chain, tx.sender, input, &mut seen)?);
    }
    let gas = check_gas(chain, tx, &seen)?;
    check_commands(chain, ptb, &inputs)?;
    Ok(Checked {
        sender: tx.sender,
        gas_price: tx.gas_payment.price,
        budget: tx.gas_payment.budget,
        gas,
        ptb: ptb.clone(),
        inputs,
    })
}

fn check_signature(tx: &Transaction, signatures: &[UserSignature]) -> Result<(), Reject> {
    let [signature] = signatures else {
        return Err(Reject::Invalid(format!("expected exactly one signature, got {}", signatures.len())));
    };
    let UserSignature::Simple(simple) = signature else {
        return Err(Reject::Unsupported(format!(
            "{:?} signatures are not supported; use Ed25519, Secp256k1 or Secp256r1",
            signature.scheme()
        )));
    };
    let signer = match simple {
        SimpleSignature::Ed25519 { public_key, .. } => public_key.derive_address(),
        SimpleSignature::Secp256k1 { public_key, .. } => public_key.derive_address(),
        SimpleSignature::Secp256r1 { public_key, .. } => public_key.derive_address(),
        _ => return Err(Reject::Unsupported("unknown signature scheme".into())),
    };
    if signer != tx.sender {
        return Err(Reject::Invalid(format!("signature is by {signer}, not by the sender {}", tx.sender)));
    }
    SimpleVerifier
        .verify(&tx.signing_digest(), signature)
        .map_err(|e| Reject::Invalid(format!("signature does not verify: {e}")))
}

fn current(chain: &Ledger, id: &Address) -> Result<Object, Reject> {
    match chain.objects.get(id) {
        Some(o) => Ok(o.clone()),
        None => match chain.objects.deleted_at(id) {
            Some(v) => Err(Reject::Stale(format!("object {id} was deleted at version {v}"))),
            None => Err(Reject::NotFound(format!("object {id} does not exist"))),
        },
    }
}

fn check_reference(object: &Object, version: Version, digest: &Digest) -> Result<(), Reject> {
    if object.version() != version || object.digest() != *digest {
        return Err(Reject::Stale(format!(
            "object {} at version {version} is not available for consumption; its current version is {} with digest {}",
            object.object_id(),
            object.version(),
            object.digest()
        )));
    }
    Ok(())
}

fn check_input(
    chain: &Ledger,
    sender: Address,
    input: &Input,
    seen: &mut BTreeSet<Address>,
) -> Result<CheckedInput, Reject> {
    let package = chain.identity.package;
    let mut unique = |id: Address| {
        if seen.insert(id) { Ok(()) } else { Err(Reject::Invalid(format!("object {id} is used twice as an input"))) }
    };
    match input {
        Input::Pure(bytes) => {
            if bytes.len() > MAX_PURE_ARGUMENT {
                return Err(Reject::Invalid(format!(
                    "pure argument of {} bytes exceeds {MAX_PURE_ARGUMENT}",
                    bytes.len()
                )));
            }
            Ok(CheckedInput::Pure(bytes.clone()))
        }
        Input::ImmutableOrOwned(r) => {
            unique(*r.object_id())?;
            let object = current(chain, r.object_id())?;
            check_reference(&object, r.version(), r.digest())?;
            let mutable = match object.owner() {
                Owner::Address(owner) if *owner == sender => true,
                Owner::Immutable => false,
                Owner::Address(owner) => {
                    return Err(Reject::Invalid(format!(
                        "object {} is owned by {owner}, not by the sender",
                        r.object_id()
                    )));
                }
                _ => {
                    return Err(Reject::Invalid(format!(
                        "object {} is not owned or immutable; pass it as a shared input",
                        r.object_id()
                    )));
                }
            };
            let kind = objects::kind(&object, &package);
            Ok(CheckedInput::Object(InputObject { object, kind, mutable, shared: false }))
        }
        Input::Shared(s) => {
            let id = s.object_id();
            unique(id)?;
            let object = current(chain, &id)?;
            let Owner::Shared(initial) = object.owner() else {
                return Err(Reject::Invalid(format!("object {id} is not shared")));
            };
            if *initial != s.version() {
                return Err(Reject::Invalid(format!(
                    "object {id} was shared at version {initial}, not {}",
                    s.version()
                )));
            }
            let mutable = s.mutability().is_mutable();
            if mutable && (id == CLOCK_ID || id == RANDOM_ID) {
                return Err(Reject::Invalid(format!("{id} (Clock or Random) can only be used immutably")));
            }
            let kind = objects::kind(&object, &package);
            Ok(CheckedInput::Object(InputObject { object, kind, mutable, shared: true }))
        }
        _ => Err(Reject::Unsupported(
            "receiving and funds-withdrawal inputs are not supported by the local network".into(),
        )),
    }
}

fn check_gas(chain: &Ledger, tx: &Transaction, inputs: &BTreeSet<Address>) -> Result<Vec<Object>, Reject> {
    let payment = &tx.gas_payment;
    if payment.objects.is_empty() {
        return Err(Reject::Invalid("no gas coin given".into()));
    }
    let mut gas = Vec::with_capacity(payment.objects.len());
    let mut total: u128 = 0;
    let mut seen = BTreeSet::new();
    for r in &payment.objects {
        if inputs.contains(r.object_id()) || !seen.insert(*r.object_id()) {
            return Err(Reject::Invalid(format!("gas coin {} is also used elsewhere", r.object_id())));
        }
        let object = current(chain, r.object_id())?;
        check_reference(&object, r.version(), r.digest())?;
        let Kind::Coin(balance) = objects::kind(&object, &chain.identity.package) else {
            return Err(Reject::Invalid(format!("gas object {} is not a Coin<SUI>", r.object_id())));
        };
        if object.owner() != &Owner::Address(tx.sender) {
            return Err(Reject::Invalid(format!("gas coin {} is not owned by the sender", r.object_id())));
        }
        total += balance as u128;
        gas.push(object);
    }
    if total < payment.budget as u128 {
        return Err(Reject::Invalid(format!("gas coins hold {total} MIST, less than the budget {}", payment.budget)));
    }
    Ok(gas)
}

fn check_commands(chain: &Ledger, ptb: &ProgrammableTransaction, inputs: &[CheckedInput]) -> Result<(), Reject> {
    let mut after_random = None;
    for (i, command) in ptb.commands.iter().enumerate() {
        if let Some(r) = after_random
            && !matches!(command, Command::TransferObjects(_) | Command::MergeCoins(_))
        {
            return Err(Reject::Invalid(format!(
                "command {i} follows command {r}, which uses Random; only TransferObjects and MergeCoins may follow it"
            )));
        }
        match command {
            Command::MoveCall(call) => {
                if call.package != chain.identity.package {
                    return Err(Reject::Unsupported(format!(
                        "package {} is not available on the local network, which runs only the atoma package ({})",
                        call.package, chain.identity.package
                    )));
                }
                if crate::calls::is_view(call.module.as_str(), call.function.as_str()) {
                    return Err(Reject::Unsupported(format!(
                        "{}::{} is a view function, which the local network does not run; read the object with GetObject",
                        call.module, call.function
                    )));
                }
                let uses_random = call.arguments.iter().any(|a| {
                    matches!(a, sui_sdk_types::Argument::Input(j)
                        if matches!(inputs.get(*j as usize), Some(CheckedInput::Object(o)) if o.kind == Kind::Random))
                });
                if uses_random && after_random.is_none() {
                    after_random = Some(i);
                }
            }
            Command::TransferObjects(_) | Command::SplitCoins(_) | Command::MergeCoins(_) => {}
            _ => {
                return Err(Reject::Unsupported(format!(
                    "command {i}: only MoveCall, TransferObjects, SplitCoins and MergeCoins are supported"
                )));
            }
        }
    }
    Ok(())
}

/// Executes a checked transaction and builds its record (effects, events,
/// objects) and the writes that `apply` makes.
fn run(
    chain: &Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    checked: Checked,
    digest: Digest,
    now_ms: u64,
    cancelled: Option<Vec<Address>>,
) -> Execution {
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
    let outcome = match cancelled {
        None => ptb::interpret(chain, &checked, digest, now_ms),
        Some(congested_objects) => {
            Err((ExecutionError::ExecutionCanceledDueToConsensusObjectCongestion { congested_objects }, None))
        }
    };
    let commands = checked.ptb.commands.len() as u64;

    // Try the outcome's writes under the budget; fall back to the failure path.
    let (status, outcome) = match outcome {
        Ok(o) => {
            let cost = costs(chain, &checked, &o, lamport, commands);
            if cost.computation_cost + cost.storage_cost <= checked.budget {
                (ExecutionStatus::Success, o)
            } else {
                let failed = ExecutionStatus::Failure { error: ExecutionError::InsufficientGas, command: None };
                (failed, Outcome::failed(&checked))
            }
        }
        Err((error, command)) => (ExecutionStatus::Failure { error, command }, Outcome::failed(&checked)),
    };
    let mut gas_used = costs(chain, &checked, &outcome, lamport, commands);
    if !matches!(status, ExecutionStatus::Success) {
        // A failure still rewrites its mutable inputs (new versions), so it
        // pays their storage in full and gets their old rebate back, as on
        // Sui: capping the storage charge while paying the whole rebate would
        // credit the sender with SUI nobody paid. The computation takes what
        // is left of the budget.
        let net_storage = gas_used.storage_cost.saturating_sub(gas_used.storage_rebate);
        gas_used.computation_cost = gas_used.computation_cost.min(checked.budget.saturating_sub(net_storage));
    }
    build_record(chain, tx, signatures, checked, outcome, status, gas_used, input_objects, digest, lamport, now_ms)
}

/// The gas summary of writing `outcome`.
fn costs(chain: &Ledger, checked: &Checked, outcome: &Outcome, lamport: Version, commands: u64) -> GasCostSummary {
    let computation = gas::computation_cost(checked.gas_price, commands, outcome.events.len() as u64);
    let written = outcome.written(chain, checked, lamport);
    let storage: u64 = written.iter().map(gas::object_storage_cost).sum();
    let previous: u64 = outcome.overwritten(checked).iter().map(|o| o.storage_rebate()).sum();
    let (rebate, non_refundable) = gas::rebate(previous);
    GasCostSummary::new(computation, storage, rebate, non_refundable)
}

/// The record of an execution and its writes (computed, not applied).
#[allow(clippy::too_many_arguments)]
fn build_record(
    chain: &Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    checked: Checked,
    outcome: Outcome,
    status: ExecutionStatus,
    gas_used: GasCostSummary,
    input_objects: Vec<Object>,
    digest: Digest,
    lamport: Version,
    now_ms: u64,
) -> Execution {
    let gas_id = checked.gas[0].object_id();
    let charge = gas::net_charge(&gas_used);
    let mut written = outcome.written_with_gas(chain, &checked, lamport, charge);
    for o in &mut written {
        *o = objects::finish(o.clone(), digest, gas::object_storage_cost(o));
    }

    let inputs_by_id: BTreeMap<Address, &Object> = input_objects.iter().map(|o| (o.object_id(), o)).collect();
    let mut changed = Vec::new();
    for o in &written {
        let id = o.object_id();
        let input_state = match inputs_by_id.get(&id) {
            Some(old) => ObjectIn::Exist { version: old.version(), digest: old.digest(), owner: *old.owner() },
            None => ObjectIn::NotExist,
        };
        let id_operation = if inputs_by_id.contains_key(&id) { IdOperation::None } else { IdOperation::Created };
        let output_state = ObjectOut::ObjectWrite { digest: o.digest(), owner: *o.owner() };
        changed.push(ChangedObject { object_id: id, input_state, output_state, id_operation });
    }
    for id in &outcome.deleted {
        if let Some(old) = inputs_by_id.get(id) {
            changed.push(ChangedObject {
                object_id: *id,
                input_state: ObjectIn::Exist { version: old.version(), digest: old.digest(), owner: *old.owner() },
                output_state: ObjectOut::NotExist,
                id_operation: IdOperation::Deleted,
            });
        }
    }
    changed.sort_by_key(|c| c.object_id);
    let gas_object_index = changed.iter().position(|c| c.object_id == gas_id).map(|i| i as u32);

    let unchanged_consensus_objects = checked
        .inputs
        .iter()
        .filter_map(|i| match i {
            CheckedInput::Object(o) if o.shared && !o.mutable => Some(UnchangedConsensusObject {
                object_id: o.object.object_id(),
                kind: UnchangedConsensusKind::ReadOnlyRoot { version: o.object.version(), digest: o.object.digest() },
            }),
            _ => None,
        })
        .collect();
    let dependencies: BTreeSet<Digest> =
        input_objects.iter().map(|o| o.previous_transaction()).filter(|d| *d != Digest::ZERO).collect();

    let sui_events: Vec<sui_sdk_types::Event> = outcome
        .events
        .iter()
        .map(|e| sui_sdk_types::Event {
            package_id: chain.identity.package,
            module: outcome.event_module.clone().unwrap_or_else(|| sui_sdk_types::Identifier::from_static("events")),
            sender: checked.sender,
            type_: chain.builder().event_tag(e.name()),
            contents: e.to_bcs(),
        })
        .collect();
    let events = (!sui_events.is_empty()).then(|| TransactionEvents(sui_events));
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
