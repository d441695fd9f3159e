//! Executing a signed transaction: the checks a Sui validator makes before it
//! accepts a transaction (a failed check rejects it, nothing is charged),
//! then execution, gas, new object versions and the effects.
//!
//! Execution never rejects: it produces effects with a success or failure
//! status. A failure keeps only the gas charge and the version bumps of the
//! mutable inputs, as on Sui. Execution is computed first (`run`, which
//! writes nothing: simulation stops there) and then applied to the ledger.
//!
//! ## Layout (each module imports only those listed before it)
//! - `signatures`: the package's entry functions and their Move signatures.
//!   A call's typed arguments, its parsing into `EntryCall` and what it does
//!   to the protocol state are the protocol's (`atoma_protocol::entry`).
//! - `check`: the checks before execution (`Reject`), giving a `Checked`
//!   transaction.
//! - `effects`: what a transaction changed (`Outcome`), its gas, Sui events
//!   and effects, computed without writing (genesis uses them too).
//! - `interp`: the programmable-transaction interpreter (coins and MoveCalls).

mod check;
pub(crate) mod effects;
mod interp;
pub mod signatures;

pub use check::{MAX_PURE_ARGUMENT, MAX_TX_BYTES};

use sui_sdk_types::{Address, Digest, ExecutionError, ExecutionStatus, Transaction, UserSignature};

use crate::ledger::{Ledger, TxRecord};
use crate::objects::Kind;
pub(crate) use check::{Checked, CheckedInput, Reject, check};
use effects::{Execution, Outcome, Run};

/// Checks and executes a signed transaction at `now_ms`, and records it.
/// A transaction that was executed before returns its digest again
/// (idempotent, as on Sui).
pub(crate) fn execute(
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
pub(crate) fn execute_or_cancel(
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
pub(crate) fn execute_checked(
    chain: &mut Ledger,
    tx: Transaction,
    signatures: Vec<UserSignature>,
    checked: Checked,
    now_ms: u64,
    cancelled: Option<Vec<Address>>,
) -> Digest {
    let digest = tx.digest();
    let now_ms = chain.tick(now_ms);
    let execution = run(chain, Run::new(tx, signatures, checked, now_ms), cancelled);
    let record = apply(chain, execution);
    chain.record(digest, record);
    digest
}

/// Runs `tx` as it would execute now, after every check but the
/// signature's, and returns its record without writing anything (the
/// local network's `SimulateTransaction`).
pub(crate) fn simulate(chain: &Ledger, tx: Transaction, now_ms: u64) -> Result<TxRecord, Reject> {
    let checked = check::check_with(chain, &tx, None)?;
    let now_ms = now_ms.max(chain.last_time_ms);
    Ok(run(chain, Run::new(tx, Vec::new(), checked, now_ms), None).record)
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
pub(crate) fn shared_inputs(checked: &Checked) -> (Vec<crate::congestion::SharedInput>, bool) {
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

/// Executes a checked transaction and computes its record (effects, events,
/// objects) and the writes that `apply` makes, writing nothing.
fn run(chain: &Ledger, run: Run, cancelled: Option<Vec<Address>>) -> Execution {
    let outcome = match cancelled {
        None => interp::interpret(chain, &run.checked, run.digest, run.now_ms),
        Some(congested_objects) => {
            Err((ExecutionError::ExecutionCanceledDueToConsensusObjectCongestion { congested_objects }, None))
        }
    };
    // Try the outcome's writes under the budget; fall back to the failure path.
    let failure = match outcome {
        Ok(o) => {
            let cost = run.costs(chain, &o);
            if cost.computation_cost + cost.storage_cost <= run.checked.budget {
                return run.finish(chain, o, ExecutionStatus::Success, cost);
            }
            ExecutionStatus::Failure { error: ExecutionError::InsufficientGas, command: None }
        }
        Err((error, command)) => ExecutionStatus::Failure { error, command },
    };
    let outcome = Outcome::failed(&run.checked);
    let mut gas_used = run.costs(chain, &outcome);
    // A failure still rewrites its mutable inputs (new versions), so it
    // pays their storage in full and gets their old rebate back, as on
    // Sui: capping the storage charge while paying the whole rebate would
    // credit the sender with SUI nobody paid. The computation takes what
    // is left of the budget.
    let net_storage = gas_used.storage_cost.saturating_sub(gas_used.storage_rebate);
    gas_used.computation_cost = gas_used.computation_cost.min(run.checked.budget.saturating_sub(net_storage));
    run.finish(chain, outcome, failure, gas_used)
}
