//! The programmable-transaction interpreter: SplitCoins, MergeCoins and
//! TransferObjects on `Coin<SUI>`, and MoveCalls to the `atoma` package,
//! which `calls` applies to a scratch copy of the protocol state.
//!
//! Values follow Move's rules as Sui applies them to a PTB: an object taken
//! by value cannot be used again; the gas coin can be borrowed by SplitCoins
//! and MergeCoins and taken only by TransferObjects, and only its balance
//! above the budget can be spent; a coin left unused at the end is an error
//! (`Coin` has no `drop`); only `Coin<SUI>` can be transferred (the
//! package's objects have `key` without `store`).
//!
//! Not for: the checks before execution or the effects (see `exec`).

// Errors are Sui's `ExecutionError`, returned at most once per transaction.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};

use atoma_protocol::objects::NodeCapObject;
use atoma_protocol::{ObjectId, State};
use sui_sdk_types::{
    Address, Argument, Command, CommandArgumentError, Digest, ExecutionError, Identifier, MergeCoins, Object, Owner,
    SplitCoins, TransferObjects, Version,
};

use crate::calls;
use crate::exec::{Checked, CheckedInput};
use crate::ledger::Ledger;
use crate::objects::{self, Kind};

/// A value in the interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// BCS bytes of a primitive (typed where used).
    Pure(Vec<u8>),
    /// An object (input, gas or created in this transaction) of this kind.
    Object(Address, Kind),
}

/// A failed execution: the error and the index of the command it happened in.
pub type Failure = (ExecutionError, Option<u64>);

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
    pub new_caps: Vec<(NodeCapObject, Address)>,
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
    pub fn failed(checked: &Checked) -> Outcome {
        let mut out = Outcome::default();
        let gas_total: u64 = checked.gas.iter().map(coin_value).sum();
        out.balances.insert(checked.gas[0].object_id(), gas_total);
        out.deleted.extend(checked.gas[1..].iter().map(|o| o.object_id()));
        out
    }

    /// Input objects that this outcome overwrites or deletes (their storage
    /// rebate is paid back).
    pub fn overwritten<'a>(&self, checked: &'a Checked) -> Vec<&'a Object> {
        mutable_inputs(checked).chain(checked.gas.iter()).collect()
    }

    /// Every object this outcome writes, at version `lamport`, with the gas
    /// coin charged `gas_charge` (negative: refunded). Previous transaction
    /// and storage rebate are set by the caller.
    pub fn written(&self, chain: &Ledger, checked: &Checked, lamport: Version) -> Vec<Object> {
        self.written_with_gas(chain, checked, lamport, 0)
    }

    /// As `written`, with the gas coin's balance net of `gas_charge`.
    pub fn written_with_gas(
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
                Kind::HardwareClass => match state.classes.get(&objects::to_object_id(&id)) {
                    Some(c) => b.class(c, lamport, initial_version(o)),
                    None => objects::with_version(o, lamport),
                },
                Kind::Request => match state.requests.get(&objects::to_object_id(&id)) {
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

/// The interpreter's state while it runs one transaction.
pub struct Interp<'a> {
    pub(crate) chain: &'a Ledger,
    pub(crate) checked: &'a Checked,
    pub(crate) digest: Digest,
    pub(crate) now_ms: u64,
    /// Objects created so far (`derive_id` counter).
    created: u64,
    /// Random draws so far.
    draws: u64,
    inputs: Vec<Option<Value>>,
    results: Vec<Vec<Option<Value>>>,
    gas_id: Address,
    pub(crate) out: Outcome,
}

/// Runs the commands of a checked transaction.
pub fn interpret(chain: &Ledger, checked: &Checked, digest: Digest, now_ms: u64) -> Result<Outcome, Failure> {
    let mut it = Interp::new(chain, checked, digest, now_ms);
    for (i, command) in checked.ptb.commands.iter().enumerate() {
        let result = match command {
            Command::SplitCoins(c) => it.split_coins(c),
            Command::MergeCoins(c) => it.merge_coins(c).map(|()| Vec::new()),
            Command::TransferObjects(c) => it.transfer_objects(c).map(|()| Vec::new()),
            Command::MoveCall(c) => calls::move_call(&mut it, c),
            // `exec::check` admits no other command.
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
    pub(crate) fn new_id(&mut self) -> Address {
        let id = Address::derive_id(self.digest, self.created);
        self.created += 1;
        id
    }

    /// 32 random bytes, as `sui::random` would give this transaction.
    pub(crate) fn draw(&mut self) -> [u8; 32] {
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
    pub(crate) fn borrow(&mut self, arg: Argument, position: usize) -> Result<Value, ExecutionError> {
        if arg == Argument::Gas {
            return Ok(Value::Object(self.gas_id, Kind::Coin(0)));
        }
        self.slot(arg, position)?.clone().ok_or(arg_error(position, CommandArgumentError::InvalidValueUsage))
    }

    /// The value of an argument, moved out (pure values are copied).
    pub(crate) fn take(&mut self, arg: Argument, position: usize) -> Result<Value, ExecutionError> {
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
    pub(crate) fn scratch_state(&self) -> State {
        let inputs = || {
            self.checked.inputs.iter().filter_map(|i| match i {
                CheckedInput::Object(o) => Some((o.kind, objects::to_object_id(&o.object.object_id()))),
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
    pub(crate) fn checked_object(&self, id: &Address) -> Option<&Object> {
        self.checked.inputs.iter().find_map(|i| match i {
            CheckedInput::Object(o) if o.object.object_id() == *id => Some(&o.object),
            _ => None,
        })
    }

    /// Whether an input object may be changed (owned, or shared and mutable).
    pub(crate) fn is_mutable(&self, id: &Address) -> bool {
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
    pub(crate) fn consume_coin(&mut self, value: &Value, position: usize) -> Result<u64, ExecutionError> {
        let (id, balance) = self.coin(value, position)?;
        self.destroy(id);
        Ok(balance)
    }

    /// Deletes an object taken by value: an input is deleted, a new coin vanishes.
    pub(crate) fn destroy(&mut self, id: Address) {
        self.out.balances.remove(&id);
        if !self.out.new_coins.remove(&id) {
            self.out.deleted.insert(id);
        }
    }

    /// Creates a coin of `amount` owned by `owner` (a payout).
    pub(crate) fn mint_coin(&mut self, amount: u64, owner: Address) -> Address {
        let id = self.new_id();
        self.out.balances.insert(id, amount);
        self.out.new_coins.insert(id);
        self.out.owners.insert(id, owner);
        id
    }

    fn split_coins(&mut self, c: &SplitCoins) -> Result<Vec<Value>, ExecutionError> {
        let source = self.borrow(c.coin, 0)?;
        let (id, balance) = self.coin(&source, 0)?;
        if !self.is_mutable(&id) {
            return Err(arg_error(0, CommandArgumentError::InvalidObjectByMutRef));
        }
        let mut amounts = Vec::with_capacity(c.amounts.len());
        for (k, a) in c.amounts.iter().enumerate() {
            let Value::Pure(bytes) = self.take(*a, k + 1)? else {
                return Err(arg_error(k + 1, CommandArgumentError::TypeMismatch));
            };
            amounts.push(calls::decode::<u64>(&bytes, k + 1)?);
        }
        let total: u128 = amounts.iter().map(|&a| a as u128).sum();
        if total > balance as u128 {
            return Err(ExecutionError::InsufficientCoinBalance);
        }
        self.out.balances.insert(id, balance - total as u64);
        let mut results = Vec::with_capacity(amounts.len());
        for amount in amounts {
            let new = self.new_id();
            self.out.balances.insert(new, amount);
            self.out.new_coins.insert(new);
            results.push(Value::Object(new, Kind::Coin(amount)));
        }
        Ok(results)
    }

    fn merge_coins(&mut self, c: &MergeCoins) -> Result<(), ExecutionError> {
        let target = self.borrow(c.coin, 0)?;
        let (target_id, mut balance) = self.coin(&target, 0)?;
        if !self.is_mutable(&target_id) {
            return Err(arg_error(0, CommandArgumentError::InvalidObjectByMutRef));
        }
        for (k, arg) in c.coins_to_merge.iter().enumerate() {
            if *arg == Argument::Gas {
                return Err(arg_error(k + 1, CommandArgumentError::InvalidGasCoinUsage));
            }
            let source = self.take(*arg, k + 1)?;
            let (id, amount) = self.coin(&source, k + 1)?;
            if id == target_id {
                return Err(arg_error(k + 1, CommandArgumentError::InvalidValueUsage));
            }
            if !self.is_mutable(&id) {
                return Err(arg_error(k + 1, CommandArgumentError::InvalidObjectByValue));
            }
            balance = balance.checked_add(amount).ok_or(ExecutionError::CoinBalanceOverflow)?;
            self.destroy(id);
        }
        self.out.balances.insert(target_id, balance);
        Ok(())
    }

    fn transfer_objects(&mut self, c: &TransferObjects) -> Result<(), ExecutionError> {
        let position = c.objects.len();
        let Value::Pure(bytes) = self.take(c.address, position)? else {
            return Err(arg_error(position, CommandArgumentError::TypeMismatch));
        };
        let recipient: Address = calls::decode(&bytes, position)?;
        for (k, arg) in c.objects.iter().enumerate() {
            let value =
                if *arg == Argument::Gas { Value::Object(self.gas_id, Kind::Coin(0)) } else { self.take(*arg, k)? };
            let Value::Object(id, kind) = value else {
                return Err(arg_error(k, CommandArgumentError::TypeMismatch));
            };
            if !matches!(kind, Kind::Coin(_)) {
                return Err(arg_error(k, CommandArgumentError::InvalidTransferObject));
            }
            if self.is_input(&id) && !self.is_mutable(&id) {
                return Err(arg_error(k, CommandArgumentError::InvalidObjectByValue));
            }
            self.out.owners.insert(id, recipient);
        }
        Ok(())
    }
}
