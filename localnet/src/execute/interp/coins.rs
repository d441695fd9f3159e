//! The coin commands of a PTB: SplitCoins, MergeCoins and TransferObjects
//! on `Coin<SUI>`.

// Errors are Sui's `ExecutionError`, returned at most once per transaction.
#![allow(clippy::result_large_err)]

use sui_sdk_types::{Address, Argument, CommandArgumentError, ExecutionError, MergeCoins, SplitCoins, TransferObjects};

use super::{Interp, Value, arg_error, decode};
use crate::objects::Kind;

impl Interp<'_> {
    pub(super) fn split_coins(&mut self, c: &SplitCoins) -> Result<Vec<Value>, ExecutionError> {
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
            amounts.push(decode::<u64>(&bytes, k + 1)?);
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

    pub(super) fn merge_coins(&mut self, c: &MergeCoins) -> Result<(), ExecutionError> {
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

    pub(super) fn transfer_objects(&mut self, c: &TransferObjects) -> Result<(), ExecutionError> {
        let position = c.objects.len();
        let Value::Pure(bytes) = self.take(c.address, position)? else {
            return Err(arg_error(position, CommandArgumentError::TypeMismatch));
        };
        let recipient: Address = decode(&bytes, position)?;
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
