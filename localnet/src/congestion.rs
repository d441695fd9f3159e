//! A model of Sui's per-object congestion control, so that the local network
//! shows what a real one does to a layout whose transactions all write one
//! shared object (docs/scaling.md, "The local network's model").
//!
//! Sui (protocol config, `ExecutionTimeEstimate` mode) gives each shared
//! object a budget of execution time per consensus commit: the commit period
//! times `target_utilization` (50 %); transactions that use `Random` are
//! tracked apart, with `randomness_scalar` (20 %) of that budget. Each
//! scheduled transaction starts when the last writer of its shared inputs
//! (read-only inputs included) ends, and its end cost is charged to the
//! objects it writes. A transaction whose start cost is over the budget plus
//! a burst allowance (500 ms, scaled likewise for randomness) is deferred to
//! the next commit; after `max_deferral_rounds` (10) deferrals it is
//! cancelled. Cost over the budget carries over to the next commit as debt.
//!
//! Here a commit is one round of the checkpoint timer, and every transaction
//! costs the same `tx_cost_us` (Sui estimates each Move entry point's cost
//! from observed execution times; the model takes one figure for all).
//!
//! Not for: executing anything (see `exec`), or waiting (see `node`).

use std::collections::{BTreeMap, HashMap};

use sui_sdk_types::Address;

/// The model's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CongestionConfig {
    /// The commit period the budget is a share of (ms): the checkpoint timer's round.
    pub commit_period_ms: u64,
    /// Estimated execution time of one transaction (µs).
    pub tx_cost_us: u64,
    /// Share of the commit period an object may be busy, in percent (Sui: 50).
    pub target_utilization: u64,
    /// What an object may be charged beyond its budget in one commit (µs; Sui: 500,000).
    pub burst_us: u64,
    /// Share of the budget and burst for transactions that use `Random`, in percent (Sui: 20).
    pub randomness_scalar: u64,
    /// Deferrals before a transaction is cancelled (Sui: 10).
    pub max_deferral_rounds: u64,
}

impl CongestionConfig {
    /// Sui's current parameters (protocol config since version 102), with a
    /// commit period of `commit_period_ms` and a cost of 1 ms per transaction.
    pub fn sui(commit_period_ms: u64) -> Self {
        CongestionConfig {
            commit_period_ms,
            tx_cost_us: 1_000,
            target_utilization: 50,
            burst_us: 500_000,
            randomness_scalar: 20,
            max_deferral_rounds: 10,
        }
    }

    /// The per-object budget of one commit (µs), for transactions with or without randomness.
    pub fn budget_us(&self, randomness: bool) -> u64 {
        let budget = self.commit_period_ms.saturating_mul(1_000).saturating_mul(self.target_utilization) / 100;
        if randomness { budget.saturating_mul(self.randomness_scalar) / 100 } else { budget }
    }

    /// The burst allowance above the budget (µs).
    pub fn burst(&self, randomness: bool) -> u64 {
        if randomness { self.burst_us.saturating_mul(self.randomness_scalar) / 100 } else { self.burst_us }
    }

    /// The most transactions writing one object that one commit admits when
    /// the object starts the commit free (budget plus burst, in transactions).
    pub fn per_commit_cap(&self, randomness: bool) -> u64 {
        (self.budget_us(randomness) + self.burst(randomness)) / self.tx_cost_us.max(1) + 1
    }
}

/// A shared input of a transaction: its id, whether it is written, and
/// whether the transaction uses `Random`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedInput {
    /// The object.
    pub id: Address,
    /// Taken by `&mut` (written).
    pub mutable: bool,
}

/// What the model decides for one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Schedule it in this commit.
    Run,
    /// Defer it to the next commit: these objects are on its critical path.
    Defer(Vec<Address>),
}

/// Counts of what the model did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CongestionStats {
    /// Transactions scheduled (each once).
    pub scheduled: u64,
    /// Deferrals (a transaction deferred three times counts three).
    pub deferrals: u64,
    /// Transactions cancelled after too many deferrals.
    pub cancelled: u64,
    /// Per shared object: transactions that wrote it, and deferrals it caused.
    pub objects: BTreeMap<Address, ObjectStats>,
}

/// Per-object counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Scheduled transactions that wrote the object.
    pub writes: u64,
    /// Deferrals the object caused.
    pub deferrals: u64,
}

/// The per-object cost accumulated in the current commit (with the debt of
/// earlier ones), for transactions without and with randomness.
#[derive(Debug)]
pub struct Tracker {
    config: CongestionConfig,
    cost: [HashMap<Address, u64>; 2],
    stats: CongestionStats,
}

impl Tracker {
    /// A tracker with nothing charged.
    pub fn new(config: CongestionConfig) -> Self {
        Tracker { config, cost: [HashMap::new(), HashMap::new()], stats: CongestionStats::default() }
    }

    /// The model's parameters.
    pub fn config(&self) -> &CongestionConfig {
        &self.config
    }

    /// What the model did so far.
    pub fn stats(&self) -> &CongestionStats {
        &self.stats
    }

    /// Decides whether a transaction with these shared inputs is scheduled
    /// in this commit; when it is, charges its cost to the objects it writes.
    /// A transaction without shared inputs is always scheduled.
    pub fn admit(&mut self, shared: &[SharedInput], randomness: bool) -> Admission {
        if shared.is_empty() {
            self.stats.scheduled += 1;
            return Admission::Run;
        }
        let cost = &mut self.cost[randomness as usize];
        let start = shared.iter().map(|o| cost.get(&o.id).copied().unwrap_or(0)).max().unwrap_or(0);
        if start > self.config.budget_us(randomness) + self.config.burst(randomness) {
            let congested: Vec<Address> =
                shared.iter().filter(|o| cost.get(&o.id).copied().unwrap_or(0) == start).map(|o| o.id).collect();
            self.stats.deferrals += 1;
            for id in &congested {
                self.stats.objects.entry(*id).or_default().deferrals += 1;
            }
            return Admission::Defer(congested);
        }
        let end = start + self.config.tx_cost_us;
        for o in shared.iter().filter(|o| o.mutable) {
            cost.insert(o.id, end);
            self.stats.objects.entry(o.id).or_default().writes += 1;
        }
        self.stats.scheduled += 1;
        Admission::Run
    }

    /// Records a transaction cancelled after too many deferrals.
    pub fn cancelled(&mut self) {
        self.stats.cancelled += 1;
    }

    /// Ends a commit: what each object was charged beyond its budget carries
    /// over as debt; the rest is forgotten.
    pub fn end_commit(&mut self) {
        for (randomness, cost) in self.cost.iter_mut().enumerate() {
            let budget = self.config.budget_us(randomness == 1);
            cost.retain(|_, c| {
                *c = c.saturating_sub(budget);
                *c > 0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(n: u8) -> Address {
        Address::new([n; 32])
    }

    fn writes(n: u8) -> Vec<SharedInput> {
        vec![SharedInput { id: object(n), mutable: true }]
    }

    /// Schedules as many transactions on `inputs` as one commit admits.
    fn fill(t: &mut Tracker, inputs: &[SharedInput], randomness: bool) -> u64 {
        let mut n = 0;
        while t.admit(inputs, randomness) == Admission::Run {
            n += 1;
        }
        n
    }

    #[test]
    fn sui_parameters_give_the_budget_of_half_the_commit_and_a_fifth_of_it_for_randomness() {
        let c = CongestionConfig::sui(100);
        assert_eq!(c.budget_us(false), 50_000);
        assert_eq!(c.budget_us(true), 10_000);
        assert_eq!(c.burst(true), 100_000);
        // 50 ms + 500 ms of 1 ms transactions, and the one that starts at the limit.
        assert_eq!(c.per_commit_cap(false), 551);
        assert_eq!(c.per_commit_cap(true), 111);
    }

    #[test]
    fn one_object_is_capped_per_commit_and_the_next_is_deferred_naming_it() {
        let mut t = Tracker::new(CongestionConfig::sui(100));
        assert_eq!(fill(&mut t, &writes(1), false), 551);
        assert_eq!(t.admit(&writes(1), false), Admission::Defer(vec![object(1)]));
        assert_eq!(t.stats().objects[&object(1)], ObjectStats { writes: 551, deferrals: 2 });
    }

    #[test]
    fn different_objects_do_not_contend() {
        let mut t = Tracker::new(CongestionConfig::sui(100));
        let a = fill(&mut t, &writes(1), false);
        let b = fill(&mut t, &writes(2), false);
        assert_eq!(a, b);
    }

    #[test]
    fn readers_wait_for_the_writer_but_are_not_charged() {
        let mut t = Tracker::new(CongestionConfig::sui(100));
        let read = vec![SharedInput { id: object(1), mutable: false }, SharedInput { id: object(2), mutable: true }];
        // Reading object 1 charges only object 2.
        assert_eq!(fill(&mut t, &read, false), 551);
        assert_eq!(t.stats().objects.get(&object(1)), None);
        // A written object 1 delays its readers.
        let mut t = Tracker::new(CongestionConfig::sui(100));
        fill(&mut t, &writes(1), false);
        assert!(matches!(t.admit(&read, false), Admission::Defer(c) if c == vec![object(1)]));
    }

    #[test]
    fn randomness_has_its_own_smaller_budget() {
        let mut t = Tracker::new(CongestionConfig::sui(100));
        assert_eq!(fill(&mut t, &writes(1), true), 111);
        // Transactions without randomness still have their whole budget.
        assert_eq!(fill(&mut t, &writes(1), false), 551);
    }

    #[test]
    fn debt_beyond_the_budget_carries_over_so_a_busy_object_gets_its_budget_per_commit() {
        let mut t = Tracker::new(CongestionConfig::sui(100));
        assert_eq!(fill(&mut t, &writes(1), false), 551);
        // 551 ms charged against 50 ms of budget: 501 ms of debt, so only
        // 50 ms of transactions (the budget) fit under the burst, commit after commit.
        for _ in 0..3 {
            t.end_commit();
            assert_eq!(fill(&mut t, &writes(1), false), 50);
        }
        // Idle commits pay the debt off (50 ms each), and the burst is there again.
        for _ in 0..12 {
            t.end_commit();
        }
        assert_eq!(fill(&mut t, &writes(1), false), 551);
    }
}
