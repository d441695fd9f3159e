//! The local network's gas schedule: simple, published, and close to Sui's
//! orders of magnitude, so that budgets that work here work on a Sui network.
//!
//! ```text
//! computation_cost = gas_price * (BASE_UNITS + COMMAND_UNITS * commands + EVENT_UNITS * events)
//! storage_cost     = STORAGE_COST_PER_BYTE * (BCS size of every object written)
//! storage_rebate   = REBATE_BPS / 10_000 of the storage rebate of every object overwritten or deleted
//! charged          = computation_cost + storage_cost - storage_rebate   (may be negative: a refund)
//! ```
//!
//! A transaction whose `computation_cost + storage_cost` exceeds its budget
//! fails with `InsufficientGas` and changes nothing but the versions of its
//! mutable inputs and the gas coin: it pays the storage of those rewritten
//! objects in full, gets their previous rebate back, and pays computation
//! with what is left of the budget. A failed transaction never credits its
//! sender.
//!
//! Not for: checking budgets and gas coins before execution (see `exec`).

use sui_sdk_types::GasCostSummary;

/// Computation units every transaction costs.
pub const BASE_UNITS: u64 = 1_000;
/// Computation units per command of the programmable transaction.
pub const COMMAND_UNITS: u64 = 500;
/// Computation units per event emitted.
pub const EVENT_UNITS: u64 = 50;
/// MIST per byte of object written (Sui: 100 storage units at a storage price of 76).
pub const STORAGE_COST_PER_BYTE: u64 = 7_600;
/// Share of an object's storage rebate paid back when it is overwritten or deleted.
pub const REBATE_BPS: u64 = 9_900;
/// The smallest budget accepted, in computation units (times the gas price).
pub const MIN_BUDGET_UNITS: u64 = BASE_UNITS;
/// The largest budget accepted (50 SUI, as on Sui).
pub const MAX_BUDGET: u64 = 50_000_000_000;

/// The computation cost of a transaction with `commands` commands and `events` events.
pub fn computation_cost(gas_price: u64, commands: u64, events: u64) -> u64 {
    gas_price.saturating_mul(BASE_UNITS + COMMAND_UNITS * commands + EVENT_UNITS * events)
}

/// The storage cost of writing an object of `bytes` bytes, which is also the
/// rebate recorded on it.
pub fn storage_cost(bytes: usize) -> u64 {
    STORAGE_COST_PER_BYTE.saturating_mul(bytes as u64)
}

/// The storage cost of writing `object` (its BCS size), which is also the
/// rebate recorded on it.
pub fn object_storage_cost(object: &sui_sdk_types::Object) -> u64 {
    storage_cost(bcs::serialized_size(object).unwrap_or(0))
}

/// Splits the storage rebate of overwritten objects into what is paid back
/// and what is kept: `(rebate, non_refundable)`.
pub fn rebate(previous_rebates: u64) -> (u64, u64) {
    let paid = (previous_rebates as u128 * REBATE_BPS as u128 / 10_000) as u64;
    (paid, previous_rebates - paid)
}

/// The net charge of a summary: positive is paid by the gas coin, negative refunded to it.
pub fn net_charge(summary: &GasCostSummary) -> i128 {
    summary.computation_cost as i128 + summary.storage_cost as i128 - summary.storage_rebate as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebate_keeps_one_percent() {
        assert_eq!(rebate(10_000), (9_900, 100));
        assert_eq!(rebate(0), (0, 0));
    }

    #[test]
    fn costs_grow_with_work() {
        assert_eq!(computation_cost(1_000, 0, 0), 1_000_000);
        assert!(computation_cost(1_000, 2, 3) > computation_cost(1_000, 1, 3));
        assert_eq!(storage_cost(40), 304_000);
    }
}
