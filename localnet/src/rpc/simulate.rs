//! `SimulateTransaction`: runs a transaction against the current ledger
//! without recording it, after resolving what the client left out, as a
//! Sui full node does for the Sui TypeScript SDK's `Transaction.build`:
//!
//! - an object input given by id only becomes an owned reference at the
//!   object's current version, or a shared input with its initial shared
//!   version, mutable unless every use reads it (`&Network`, `&Clock`,
//!   `&Random` parameters of the package's functions);
//! - the gas price defaults to the reference gas price; with gas selection,
//!   the budget is estimated by running the transaction (computation and
//!   storage cost), and the sender's largest coins not used as inputs pay
//!   it. An empty gas payment, which Sui pays from the sender's address
//!   balance, gets the sender's coins chosen the same way whether or not
//!   gas selection was asked (the local network has no address balances;
//!   a transaction given as BCS keeps its own budget).
//!
//! The resolved transaction goes through every check of execution except
//! the signature, and runs as it would execute now: its effects, events and
//! balance changes are returned, and nothing is written.
//!
//! Not for: executing (see `execution`).

use std::collections::BTreeSet;

use sui_rpc::field::FieldMaskTree;
use sui_rpc::merge::Merge;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{
    Address, Argument, Command, Digest, GasPayment, Input, ObjectReference, ProgrammableTransaction, SharedInput,
    Transaction, TransactionExpiration, TransactionKind,
};
use tonic::Status;

use crate::execute;
use crate::execute::signatures::{self, Param};
use crate::gas;
use crate::ledger::Ledger;
use crate::objects::{CLOCK_ID, RANDOM_ID};

/// What the client asked to simulate, resolved or not.
pub(super) struct Simulation {
    /// The transaction as resolved.
    pub transaction: Transaction,
    /// Whether only the transaction kind was asked for (no gas, no checks).
    pub kind_only: bool,
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

/// Whether input `index` is only read by the transaction's commands: every
/// use is a Move call parameter taken by immutable reference.
fn only_read(ptb_commands: &[Command], index: u16) -> bool {
    let mut uses = 0;
    for command in ptb_commands {
        let args: Vec<(Argument, Option<Param>)> = match command {
            Command::MoveCall(call) => {
                let params = signatures::params(call.module.as_str(), call.function.as_str());
                call.arguments.iter().enumerate().map(|(i, a)| (*a, params.and_then(|p| p.get(i).copied()))).collect()
            }
            Command::SplitCoins(c) => {
                std::iter::once(c.coin).chain(c.amounts.iter().copied()).map(|a| (a, None)).collect()
            }
            Command::MergeCoins(c) => {
                std::iter::once(c.coin).chain(c.coins_to_merge.iter().copied()).map(|a| (a, None)).collect()
            }
            Command::TransferObjects(c) => {
                c.objects.iter().copied().chain(std::iter::once(c.address)).map(|a| (a, None)).collect()
            }
            _ => return false,
        };
        for (arg, param) in args {
            if arg == Argument::Input(index) {
                uses += 1;
                if !matches!(param, Some(Param::NetworkRef | Param::ClassRef | Param::Clock | Param::Random)) {
                    return false;
                }
            }
        }
    }
    uses > 0
}

/// An input given by object id only, resolved from the ledger.
fn resolve_object(chain: &Ledger, input: &proto::Input, commands: &[Command], index: u16) -> Result<Input, Status> {
    let id: Address = input
        .object_id
        .as_deref()
        .ok_or_else(|| invalid(format!("inputs[{index}]: neither a pure value nor an object id")))?
        .parse()
        .map_err(|e| invalid(format!("inputs[{index}].object_id: {e}")))?;
    let object = chain.objects.get(&id).ok_or_else(|| Status::not_found(format!("object {id} does not exist")))?;
    Ok(match object.owner() {
        sui_sdk_types::Owner::Shared(initial) => {
            let system = id == CLOCK_ID || id == RANDOM_ID;
            let mutable = match input.mutable {
                Some(m) => m && !system,
                None => !system && !only_read(commands, index),
            };
            Input::Shared(SharedInput::new(id, *initial, mutable))
        }
        _ => Input::ImmutableOrOwned(ObjectReference::new(id, object.version(), object.digest())),
    })
}

/// The inputs of a programmable transaction, resolving those given by id only.
fn resolve_inputs(
    chain: &Ledger,
    ptb: &proto::ProgrammableTransaction,
    commands: &[Command],
) -> Result<Vec<Input>, Status> {
    ptb.inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let index = u16::try_from(i).map_err(|_| invalid("too many inputs"))?;
            if input.literal.is_some() {
                return Err(invalid(format!(
                    "inputs[{i}]: literal values are not resolved by the local network; give BCS bytes (`pure`)"
                )));
            }
            match input.kind {
                Some(_) => Input::try_from(input).map_err(|e| invalid(format!("inputs[{i}]: {e}"))),
                None if input.pure.is_some() => Ok(Input::Pure(input.pure.clone().unwrap_or_default().to_vec())),
                None => resolve_object(chain, input, commands, index),
            }
        })
        .collect()
}

/// The sender's coins, largest first, that the transaction does not use as inputs.
fn gas_coins(chain: &Ledger, sender: &Address, inputs: &[Input]) -> Vec<(ObjectReference, u64)> {
    let used: BTreeSet<Address> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::ImmutableOrOwned(r) | Input::Receiving(r) => Some(*r.object_id()),
            _ => None,
        })
        .collect();
    let mut coins = chain.objects.coins_of(sender);
    coins.retain(|(r, _)| !used.contains(r.object_id()));
    coins
}

/// Most coins one gas payment may name (Sui's `max_gas_payment_objects`).
pub const MAX_GAS_COINS: usize = 256;

/// The largest coins covering `budget` (at most `MAX_GAS_COINS`).
fn pay(coins: &[(ObjectReference, u64)], budget: u64, sender: &Address) -> Result<Vec<ObjectReference>, Status> {
    let mut chosen = Vec::new();
    let mut total: u128 = 0;
    for (r, balance) in coins.iter().take(MAX_GAS_COINS) {
        chosen.push(r.clone());
        total += *balance as u128;
        if total >= budget as u128 {
            return Ok(chosen);
        }
    }
    Err(Status::failed_precondition(format!(
        "{sender} holds {total} MIST in coins the transaction does not use, less than the gas budget of {budget}"
    )))
}

/// Resolves the request's transaction (see the module doc).
pub(super) fn resolve(
    chain: &Ledger,
    request: &proto::SimulateTransactionRequest,
    now_ms: u64,
) -> Result<Simulation, Status> {
    let tx = request.transaction.as_ref().ok_or_else(|| invalid("transaction is required"))?;
    let kind_only = request.checks == Some(proto::simulate_transaction_request::TransactionChecks::Disabled as i32);
    // An empty gas payment is paid from the sender's address balance on
    // Sui; the local network has none, so it chooses the sender's coins
    // for it, as it does when asked to select the gas.
    let select = |payment_empty: bool| !kind_only && (request.do_gas_selection.unwrap_or(false) || payment_empty);
    if tx.bcs.is_some() {
        let transaction =
            Transaction::try_from(tx).map_err(|e| invalid(format!("transaction does not decode: {e}")))?;
        if !kind_only && transaction.gas_payment.objects.is_empty() {
            let asked = request.do_gas_selection.unwrap_or(false);
            return Ok(Simulation { transaction: select_gas(chain, transaction, asked, now_ms)?, kind_only });
        }
        return Ok(Simulation { transaction, kind_only });
    }
    let ptb = match tx.kind.as_ref().and_then(|k| k.data.as_ref()) {
        Some(proto::transaction_kind::Data::ProgrammableTransaction(p)) => p,
        _ => return Err(Status::unimplemented("only programmable transactions are simulated")),
    };
    let commands = ptb
        .commands
        .iter()
        .enumerate()
        .map(|(i, c)| Command::try_from(c).map_err(|e| invalid(format!("commands[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = resolve_inputs(chain, ptb, &commands)?;
    let kind = TransactionKind::ProgrammableTransaction(ProgrammableTransaction { inputs, commands });
    let sender: Address = match tx.sender.as_deref() {
        Some(s) => s.parse().map_err(|e| invalid(format!("sender: {e}")))?,
        None => Address::ZERO,
    };
    let expiration = match &tx.expiration {
        Some(e) => TransactionExpiration::try_from(e).map_err(|e| invalid(format!("expiration: {e}")))?,
        None => TransactionExpiration::None,
    };
    let payment = tx.gas_payment.as_ref();
    let price = payment.and_then(|p| p.price).unwrap_or(chain.identity.reference_gas_price);
    let gas = GasPayment {
        objects: payment
            .map(|p| p.objects.iter().map(ObjectReference::try_from).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(|e| invalid(format!("gas_payment.objects: {e}")))?
            .unwrap_or_default(),
        owner: sender,
        price,
        budget: payment.and_then(|p| p.budget).unwrap_or(0),
    };
    let empty = gas.objects.is_empty();
    let mut transaction = Transaction { kind, sender, gas_payment: gas, expiration };
    if !select(empty) {
        if transaction.gas_payment.budget == 0 {
            transaction.gas_payment.budget = gas::MAX_BUDGET;
        }
        return Ok(Simulation { transaction, kind_only });
    }
    let asked = request.do_gas_selection.unwrap_or(false);
    Ok(Simulation { transaction: select_gas(chain, transaction, asked, now_ms)?, kind_only })
}

/// Chooses the gas of `transaction` from its sender's coins: a budget (if
/// it has none) from a trial run, and coins covering it (if it names none).
/// When gas selection was not `asked` (an empty payment only), the budget
/// is capped by what the coins hold, so that a client estimating a budget
/// by simulating with the largest one and no coins gets a run.
fn select_gas(chain: &Ledger, mut transaction: Transaction, asked: bool, now_ms: u64) -> Result<Transaction, Status> {
    let sender = transaction.sender;
    if sender == Address::ZERO {
        return Err(invalid("gas selection needs the sender"));
    }
    let mut gas = transaction.gas_payment.clone();
    let price = gas.price;
    let TransactionKind::ProgrammableTransaction(p) = &transaction.kind else {
        return Err(Status::unimplemented("only programmable transactions are simulated"));
    };
    let coins = gas_coins(chain, &sender, &p.inputs);
    if gas.budget == 0 {
        // Estimate: run with the most the coins allow, then charge what it used.
        let held: u64 = coins.iter().take(MAX_GAS_COINS).map(|(_, b)| *b).fold(0u64, u64::saturating_add);
        let trial_budget = held.min(gas::MAX_BUDGET);
        let min_budget = gas::MIN_BUDGET_UNITS.saturating_mul(price);
        if trial_budget < min_budget {
            return Err(Status::failed_precondition(format!(
                "{sender} holds {held} MIST in coins the transaction does not use, less than the smallest gas budget of {min_budget}"
            )));
        }
        let mut trial = transaction.clone();
        trial.gas_payment.objects = pay(&coins, trial_budget, &sender)?;
        trial.gas_payment.budget = trial_budget;
        let record = execute::simulate(chain, trial, now_ms)?;
        let used = record.effects.gas_summary();
        gas.budget = (used.computation_cost + used.storage_cost).max(min_budget);
    }
    if gas.objects.is_empty() {
        if !asked {
            let held = coins.iter().take(MAX_GAS_COINS).map(|(_, b)| *b).fold(0u64, u64::saturating_add);
            gas.budget = gas.budget.min(held);
        }
        gas.objects = pay(&coins, gas.budget, &sender)?;
    }
    transaction.gas_payment = gas;
    Ok(transaction)
}

/// The answer: the resolved transaction and, unless only its kind was
/// asked for, how it runs now.
pub(super) fn answer(
    chain: &Ledger,
    simulation: Simulation,
    mask: &FieldMaskTree,
    now_ms: u64,
) -> Result<proto::SimulateTransactionResponse, Status> {
    let mut response = proto::SimulateTransactionResponse::default();
    let sub = mask.subtree("transaction").unwrap_or_else(FieldMaskTree::new_wildcard);
    if simulation.kind_only {
        let mut executed = proto::ExecutedTransaction::default();
        executed.digest = Some(simulation.transaction.digest().to_string());
        executed.transaction = Some(proto::Transaction::from(simulation.transaction));
        response.transaction = Some(proto::ExecutedTransaction::merge_from(&executed, &sub));
        return Ok(response);
    }
    let digest: Digest = simulation.transaction.digest();
    let record = execute::simulate(chain, simulation.transaction, now_ms)?;
    response.transaction = Some(super::transaction_proto(chain, &digest, &record, &sub));
    Ok(response)
}
