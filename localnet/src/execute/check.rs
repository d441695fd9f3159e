//! The checks a Sui validator makes before it accepts a transaction; a
//! failed check rejects it (`Reject`) and nothing is charged.
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
//! Not for: running the transaction (see `interp`).

use std::collections::BTreeSet;

use sui_crypto::Verifier;
use sui_crypto::simple::SimpleVerifier;
use sui_sdk_types::{
    Address, Command, Digest, Input, Object, Owner, ProgrammableTransaction, SimpleSignature, Transaction,
    TransactionExpiration, TransactionKind, UserSignature, Version,
};

use super::signatures;
use crate::gas;
use crate::ledger::Ledger;
use crate::objects::{self, CLOCK_ID, Kind, RANDOM_ID};

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

/// Every check made before execution (see the module doc).
pub(crate) fn check(chain: &Ledger, tx: &Transaction, signatures: &[UserSignature]) -> Result<Checked, Reject> {
    check_with(chain, tx, Some(signatures))
}

/// The expirations the local network accepts, as Sui checks them in its
/// one epoch (0): none; an epoch at least the current one; `ValidDuring`
/// (which the TypeScript SDK sets for a gas payment it leaves empty) when
/// it names this chain and its epoch bounds hold 0, its sub-epoch times
/// unset as Sui requires.
fn check_expiration(chain: &Ledger, expiration: &TransactionExpiration) -> Result<(), Reject> {
    match expiration {
        TransactionExpiration::None | TransactionExpiration::Epoch(_) => Ok(()),
        TransactionExpiration::ValidDuring { min_epoch, min_timestamp, max_timestamp, chain: id, .. } => {
            if *id != chain.chain_id() {
                return Err(Reject::Invalid(format!(
                    "the expiration names chain {id}, this network is {}",
                    chain.chain_id()
                )));
            }
            // Any max_epoch holds epoch 0.
            if min_epoch.is_some_and(|e| e > 0) {
                return Err(Reject::Invalid("the transaction is not valid in epoch 0, the current epoch".into()));
            }
            if min_timestamp.is_some() || max_timestamp.is_some() {
                return Err(Reject::Invalid("ValidDuring timestamps are not supported (as on Sui)".into()));
            }
            Ok(())
        }
        _ => Err(Reject::Unsupported("only `None`, `Epoch` and `ValidDuring` expirations are supported".into())),
    }
}

/// The checks of execution, the signature's only when `signatures` are given
/// (a simulation has none).
pub(super) fn check_with(
    chain: &Ledger,
    tx: &Transaction,
    signatures: Option<&[UserSignature]>,
) -> Result<Checked, Reject> {
    let TransactionKind::ProgrammableTransaction(ptb) = &tx.kind else {
        return Err(Reject::Unsupported("only programmable transactions are accepted by the local network".into()));
    };
    let size = bcs::serialized_size(tx).unwrap_or(usize::MAX);
    if size > MAX_TX_BYTES {
        return Err(Reject::Invalid(format!("transaction is {size} bytes; the limit is {MAX_TX_BYTES}")));
    }
    check_expiration(chain, &tx.expiration)?;
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
                if signatures::is_view(call.module.as_str(), call.function.as_str()) {
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
