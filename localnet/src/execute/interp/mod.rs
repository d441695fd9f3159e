//! The programmable-transaction interpreter: SplitCoins, MergeCoins and
//! TransferObjects on `Coin<SUI>` (`coins`), and MoveCalls to the `atoma`
//! package (`call`), applied to a scratch copy of the protocol state.
//!
//! Values follow Move's rules as Sui applies them to a PTB: an object taken
//! by value cannot be used again; the gas coin can be borrowed by SplitCoins
//! and MergeCoins and taken only by TransferObjects, and only its balance
//! above the budget can be spent; a coin left unused at the end is an error
//! (`Coin` has no `drop`); only `Coin<SUI>` can be transferred (the
//! package's objects have `key` without `store`).
//!
//! Not for: the checks before execution (see `check`) or the effects (see
//! `effects`).

// Errors are Sui's `ExecutionError`, returned at most once per transaction.
#![allow(clippy::result_large_err)]

mod call;
mod coins;

use atoma_protocol::{ObjectId, State};
use serde::de::DeserializeOwned;
use sui_sdk_types::{Address, Argument, Command, CommandArgumentError, Digest, ExecutionError, Object};

use super::check::{Checked, CheckedInput};
use super::effects::Outcome;
use crate::ledger::Ledger;
use crate::objects::Kind;
use atoma_protocol::entry::Fresh;

/// A value in the interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    /// BCS bytes of a primitive (typed where used).
    Pure(Vec<u8>),
    /// An object (input, gas or created in this transaction) of this kind.
    Object(Address, Kind),
}

/// A failed execution: the error and the index of the command it happened in.
pub(super) type Failure = (ExecutionError, Option<u64>);

/// The interpreter's state while it runs one transaction.
struct Interp<'a> {
    chain: &'a Ledger,
    checked: &'a Checked,
    digest: Digest,
    now_ms: u64,
    /// Objects created so far (`derive_id` counter).
    created: u64,
    /// Random draws so far.
    draws: u64,
    inputs: Vec<Option<Value>>,
    results: Vec<Vec<Option<Value>>>,
    gas_id: Address,
    out: Outcome,
}

/// Runs the commands of a checked transaction.
pub(super) fn interpret(chain: &Ledger, checked: &Checked, digest: Digest, now_ms: u64) -> Result<Outcome, Failure> {
    let mut it = Interp::new(chain, checked, digest, now_ms);
    for (i, command) in checked.ptb.commands.iter().enumerate() {
        let result = match command {
            Command::SplitCoins(c) => it.split_coins(c),
            Command::MergeCoins(c) => it.merge_coins(c).map(|()| Vec::new()),
            Command::TransferObjects(c) => it.transfer_objects(c).map(|()| Vec::new()),
            Command::MoveCall(c) => it.move_call(c),
            // `check::check` admits no other command.
            _ => Err(ExecutionError::FeatureNotYetSupported),
        };
        match result {
            Ok(values) => it.results.push(values.into_iter().map(Some).collect()),
            Err(e) => return Err((e, Some(i as u64))),
        }
    }
    it.finish()
}

fn arg_error(argument: usize, kind: CommandArgumentError) -> ExecutionError {
    ExecutionError::CommandArgumentError { argument: argument as u16, kind }
}

/// Decodes a pure argument as `T`, requiring every byte to be used.
fn decode<T: DeserializeOwned>(bytes: &[u8], position: usize) -> Result<T, ExecutionError> {
    bcs::from_bytes(bytes).map_err(|_| arg_error(position, CommandArgumentError::InvalidBcsBytes))
}

impl<'a> Interp<'a> {
    fn new(chain: &'a Ledger, checked: &'a Checked, digest: Digest, now_ms: u64) -> Self {
        let mut out = Outcome::failed(checked);
        let gas_id = checked.gas[0].object_id();
        // Only the balance above the budget can be spent during execution.
        let gas_total = out.balances[&gas_id];
        out.balances.insert(gas_id, gas_total - checked.budget);
        let inputs = checked
            .inputs
            .iter()
            .map(|i| {
                Some(match i {
                    CheckedInput::Pure(bytes) => Value::Pure(bytes.clone()),
                    CheckedInput::Object(o) => Value::Object(o.object.object_id(), o.kind),
                })
            })
            .collect();
        Interp { chain, checked, digest, now_ms, created: 0, draws: 0, inputs, results: Vec::new(), gas_id, out }
    }

    fn finish(mut self) -> Result<Outcome, Failure> {
        for (i, values) in self.results.iter().enumerate() {
            for (j, v) in values.iter().enumerate() {
                if let Some(Value::Object(..)) = v {
                    let error = ExecutionError::UnusedValueWithoutDrop { result: i as u16, subresult: j as u16 };
                    return Err((error, None));
                }
            }
        }
        let budget = self.checked.budget;
        // `balances[gas]` was reduced by the budget in `new`; give it back.
        if let Some(b) = self.out.balances.get_mut(&self.gas_id) {
            *b += budget;
        }
        Ok(self.out)
    }

    /// A fresh object id, as `object::new` would give.
    fn new_id(&mut self) -> Address {
        let id = Address::derive_id(self.digest, self.created);
        self.created += 1;
        id
    }

    /// 32 random bytes, as `sui::random` would give this transaction.
    fn draw(&mut self) -> [u8; 32] {
        let r = self.chain.randomness(&self.digest, self.draws);
        self.draws += 1;
        r
    }

    fn slot(&mut self, arg: Argument, position: usize) -> Result<&mut Option<Value>, ExecutionError> {
        match arg {
            Argument::Gas => Err(arg_error(position, CommandArgumentError::InvalidGasCoinUsage)),
            Argument::Input(i) => self
                .inputs
                .get_mut(i as usize)
                .ok_or(arg_error(position, CommandArgumentError::IndexOutOfBounds { index: i })),
            Argument::Result(i) => {
                let values = self
                    .results
                    .get_mut(i as usize)
                    .ok_or(arg_error(position, CommandArgumentError::IndexOutOfBounds { index: i }))?;
                if values.len() != 1 {
                    return Err(arg_error(position, CommandArgumentError::InvalidResultArity { result: i }));
                }
                Ok(&mut values[0])
            }
            Argument::NestedResult(i, j) => {
                let values = self
                    .results
                    .get_mut(i as usize)
                    .ok_or(arg_error(position, CommandArgumentError::IndexOutOfBounds { index: i }))?;
                values.get_mut(j as usize).ok_or(arg_error(
                    position,
                    CommandArgumentError::SecondaryIndexOutOfBounds { result: i, subresult: j },
                ))
            }
        }
    }

    /// The value of an argument, left in place (a borrow, or a copy of a pure value).
    fn borrow(&mut self, arg: Argument, position: usize) -> Result<Value, ExecutionError> {
        if arg == Argument::Gas {
            return Ok(Value::Object(self.gas_id, Kind::Coin(0)));
        }
        self.slot(arg, position)?.clone().ok_or(arg_error(position, CommandArgumentError::InvalidValueUsage))
    }

    /// The value of an argument, moved out (pure values are copied).
    fn take(&mut self, arg: Argument, position: usize) -> Result<Value, ExecutionError> {
        let slot = self.slot(arg, position)?;
        match slot {
            Some(Value::Pure(bytes)) => Ok(Value::Pure(bytes.clone())),
            Some(Value::Object(..)) => Ok(slot.take().expect("checked Some")),
            None => Err(arg_error(position, CommandArgumentError::InvalidValueUsage)),
        }
    }

    /// A copy of the protocol state with the network, and the classes and
    /// requests that are inputs of this transaction: what a Move call may
    /// read or change.
    fn scratch_state(&self) -> State {
        let inputs = || {
            self.checked.inputs.iter().filter_map(|i| match i {
                CheckedInput::Object(o) => Some((o.kind, ObjectId::from(o.object.object_id()))),
                _ => None,
            })
        };
        let state = &self.chain.state;
        let classes = inputs()
            .filter(|(kind, _)| *kind == Kind::HardwareClass)
            .filter_map(|(_, id)| state.classes.get(&id).map(|c| (id, c.clone())))
            .collect();
        let requests = inputs()
            .filter(|(kind, _)| *kind == Kind::Request)
            .filter_map(|(_, id)| state.requests.get(&id).map(|r| (id, r.clone())))
            .collect();
        State { network: state.network.clone(), classes, requests, package_version: state.package_version }
    }

    /// The input object with this id.
    fn checked_object(&self, id: &Address) -> Option<&Object> {
        self.checked.inputs.iter().find_map(|i| match i {
            CheckedInput::Object(o) if o.object.object_id() == *id => Some(&o.object),
            _ => None,
        })
    }

    /// Whether an input object may be changed (owned, or shared and mutable).
    fn is_mutable(&self, id: &Address) -> bool {
        if *id == self.gas_id || self.out.new_coins.contains(id) {
            return true;
        }
        self.checked
            .inputs
            .iter()
            .any(|i| matches!(i, CheckedInput::Object(o) if o.object.object_id() == *id && o.mutable))
    }

    /// Whether an object is an input or gas coin (as opposed to created here).
    fn is_input(&self, id: &Address) -> bool {
        *id == self.gas_id || !self.out.new_coins.contains(id)
    }

    /// The coin behind a value, with its balance.
    fn coin(&self, value: &Value, position: usize) -> Result<(Address, u64), ExecutionError> {
        match value {
            Value::Object(id, Kind::Coin(initial)) => Ok((*id, self.out.balances.get(id).copied().unwrap_or(*initial))),
            _ => Err(arg_error(position, CommandArgumentError::TypeMismatch)),
        }
    }

    /// Removes a coin taken by value into Move (its balance moves into the protocol state).
    fn consume_coin(&mut self, value: &Value, position: usize) -> Result<u64, ExecutionError> {
        let (id, balance) = self.coin(value, position)?;
        self.destroy(id);
        Ok(balance)
    }

    /// Deletes an object taken by value: an input is deleted, a new coin vanishes.
    fn destroy(&mut self, id: Address) {
        self.out.balances.remove(&id);
        if !self.out.new_coins.remove(&id) {
            self.out.deleted.insert(id);
        }
    }

    /// Creates a coin of `amount` owned by `owner` (a payout).
    fn mint_coin(&mut self, amount: u64, owner: Address) -> Address {
        let id = self.new_id();
        self.out.balances.insert(id, amount);
        self.out.new_coins.insert(id);
        self.out.owners.insert(id, owner);
        id
    }
}

impl Fresh for Interp<'_> {
    fn object_id(&mut self) -> ObjectId {
        ObjectId::from(self.new_id())
    }

    fn random(&mut self) -> atoma_protocol::Digest {
        atoma_protocol::Digest(self.draw())
    }
}
