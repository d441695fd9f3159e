//! Security maths (docs/protocol.md, "Security maths"): how likely a colluding adversary is
//! to go undetected, and when honesty is a rational node's strict best
//! response in CrossValidation and Sealed modes.
//!
//! ## The payoff model
//! A node executes one request for reward `R` at native cost `C`. A cheating
//! node skips or alters the work: unchecked (probability `1 - p`) it earns
//! `R + H`; checked, `n` verifiers are sampled, of which `i` are colluders
//! with probability `C(n, i) r^i (1 - r)^(n - i)` (an adversary owning a
//! share `r` of the class). Only if all `n` collude (`i = n`) is the wrong
//! output accepted, for `R + L`; otherwise it is detected and the node loses
//! its stake `S`:
//!
//! ```text
//! E[honest]    = R - C
//! E[dishonest] = (1 - p)(R + H) + p * sum_{i=0..n} C(n,i) r^i (1-r)^(n-i) * (i == n ? R + L : -S)
//!              = (1 - p)(R + H) + p * (r^n (R + L) - (1 - r^n) S)
//! ```
//!
//! The seed text's binomial term reads `(1 - r)^i` in one place; the weights
//! must be `(1 - r)^(n - i)`, or they do not sum to one. Honesty is the
//! strict best response when `E[honest] > E[dishonest]`, that is
//!
//! ```text
//! p > p_min = (C + H) / ((R + H) - r^n (R + L) + (1 - r^n) S)
//! ```
//!
//! which for one verifier and `H = L = 0` is the published condition
//! `p > C / ((1 - r)(R + S))`.
//!
//! Not for: simulation (see `sim`), which checks these forms empirically.

/// Probability that all `n` sampled nodes belong to an adversary owning a
/// share `r` of an (infinitely large) class: `r^n`.
pub fn collusion_probability(r: f64, n: u32) -> f64 {
    r.powi(n as i32)
}

/// The same for a finite class of `total` nodes of which `malicious` collude,
/// sampled without replacement: `C(malicious, n) / C(total, n)`.
pub fn collusion_probability_finite(malicious: u64, total: u64, n: u64) -> f64 {
    if n > malicious || n > total {
        return 0.0;
    }
    (0..n).map(|i| (malicious - i) as f64 / (total - i) as f64).product()
}

/// The smallest class (eligible nodes with a free task lock) in which a
/// request of `mode` can always gather a full dispute quorum of fresh nodes:
/// the nodes it excludes before the dispute (every node that held a slot)
/// plus `2m + 1`, with `m` the main round's size (docs/protocol.md, Security
/// maths). In a smaller class a disagreement fails the request
/// (`NoDisputeQuorum`) rather than being decided by fewer nodes.
///
/// | mode | excluded | m | smallest class |
/// |---|---|---|---|
/// | Sampling | n | n | 3n + 1 |
/// | CrossValidation | 1 + n | 1 + n | 3n + 4 |
/// | Sealed | 1 + f n | 1 + n | (f + 2) n + 4 |
pub fn min_class_size(mode: crate::types::Mode, sealed_pool_factor: u64) -> u64 {
    use crate::types::Mode;
    let (excluded, main) = match mode {
        Mode::Sampling { n } => (n, n),
        Mode::CrossValidation { n, .. } => (1 + n, 1 + n),
        Mode::Sealed { n, .. } => (1 + sealed_pool_factor * n, 1 + n),
    };
    excluded + 2 * main + 1
}

/// `C(n, i) r^i (1 - r)^(n - i)`.
pub fn binomial_pmf(n: u32, i: u32, r: f64) -> f64 {
    if i > n {
        return 0.0;
    }
    let mut c = 1.0;
    for k in 0..i {
        c = c * (n - k) as f64 / (k + 1) as f64;
    }
    c * r.powi(i as i32) * (1.0 - r).powi((n - i) as i32)
}

/// The economic parameters of one task (any consistent unit, e.g. MIST).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Payoffs {
    /// Reward for the task (`R`).
    pub reward: f64,
    /// Native cost of executing it (`C`).
    pub cost: f64,
    /// Stake lost when caught (`S`).
    pub slash: f64,
    /// Extra gain of an unchecked cheat (`H`).
    pub gain_unchecked: f64,
    /// Extra gain of a cheat checked only by colluders (`L`).
    pub gain_colluded: f64,
}

impl Payoffs {
    /// `H = L = 0`: the cheater's only gain is the saved cost.
    pub fn new(reward: f64, cost: f64, slash: f64) -> Self {
        Payoffs { reward, cost, slash, gain_unchecked: 0.0, gain_colluded: 0.0 }
    }

    /// `E[honest] = R - C`.
    pub fn honest(&self) -> f64 {
        self.reward - self.cost
    }

    /// `E[dishonest]` with `n` verifiers, adversary share `r`, check probability `p`,
    /// summed term by term over the binomial distribution of colluding verifiers.
    pub fn dishonest(&self, r: f64, n: u32, p: f64) -> f64 {
        let checked: f64 = (0..=n)
            .map(|i| {
                let outcome = if i == n { self.reward + self.gain_colluded } else { -self.slash };
                binomial_pmf(n, i, r) * outcome
            })
            .sum();
        (1.0 - p) * (self.reward + self.gain_unchecked) + p * checked
    }

    /// The denominator of `p_min`: how much a check costs a cheater.
    fn check_penalty(&self, r: f64, n: u32) -> f64 {
        let rn = collusion_probability(r, n);
        (self.reward + self.gain_unchecked) - rn * (self.reward + self.gain_colluded) + (1.0 - rn) * self.slash
    }

    /// `p_min`: honesty is the strict best response exactly when `p > p_min`.
    /// `None` when no check probability up to 1 achieves it.
    pub fn min_check_probability(&self, r: f64, n: u32) -> Option<f64> {
        let denominator = self.check_penalty(r, n);
        if denominator <= 0.0 {
            return None;
        }
        let p = ((self.cost + self.gain_unchecked) / denominator).max(0.0);
        (p < 1.0).then_some(p)
    }

    /// The smallest check rate in basis points that satisfies `p > p_min`.
    pub fn min_check_bps(&self, r: f64, n: u32) -> Option<u64> {
        let p = self.min_check_probability(r, n)?;
        let bps = (p * 10_000.0).floor() as u64 + 1;
        (bps <= 10_000).then_some(bps)
    }

    /// `S_min`: at check probability `p`, honesty is the strict best response
    /// exactly when the stake `S > S_min` (0 when any stake will do). `None`
    /// when no stake achieves it (`p = 0`, or `r = 1`).
    pub fn min_slash(&self, r: f64, n: u32, p: f64) -> Option<f64> {
        let rn = collusion_probability(r, n);
        if p <= 0.0 || rn >= 1.0 {
            return None;
        }
        let s = ((self.cost + self.gain_unchecked) / p - (self.reward + self.gain_unchecked)
            + rn * (self.reward + self.gain_colluded))
            / (1.0 - rn);
        Some(s.max(0.0))
    }
}

/// A two-sided normal-approximation bound for an observed proportion:
/// `z * sqrt(p (1 - p) / trials)` around the expected `p`.
pub fn proportion_margin(p: f64, trials: u64, z: f64) -> f64 {
    z * (p * (1.0 - p) / trials.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn smallest_classes_hold_the_main_round_and_a_full_dispute_quorum() {
        use crate::types::Mode;
        assert_eq!(min_class_size(Mode::Sampling { n: 3 }, 3), 10);
        assert_eq!(min_class_size(Mode::CrossValidation { p_bps: 1_000, n: 1 }, 3), 7);
        assert_eq!(min_class_size(Mode::Sealed { p_bps: 1_000, n: 1 }, 3), 9);
        assert_eq!(min_class_size(Mode::Sealed { p_bps: 1_000, n: 2 }, 4), 16);
    }

    #[test]
    fn seed_collusion_figures_are_reproduced() {
        assert!(close(collusion_probability(1.0 / 3.0, 5), 4.115e-3, 1e-4));
        assert!(close(collusion_probability(1.0 / 3.0, 10), 1.6935e-5, 1e-4));
    }

    #[test]
    fn corrected_binomial_weights_sum_to_one() {
        for n in 0..12 {
            let total: f64 = (0..=n).map(|i| binomial_pmf(n, i, 0.3)).sum();
            assert!((total - 1.0).abs() < 1e-12, "n = {n}: {total}");
        }
        // The uncorrected weights C(n,i) r^i (1-r)^i do not.
        let wrong: f64 =
            (0..=3).map(|i| binomial_pmf(3, i, 0.3) / 0.7f64.powi(3 - i as i32) * 0.7f64.powi(i as i32)).sum();
        assert!((wrong - 1.0).abs() > 0.1);
    }

    #[test]
    fn single_verifier_condition_is_the_published_one() {
        let m = Payoffs::new(10.0, 4.0, 100.0);
        for r in [0.0, 0.1, 1.0 / 3.0, 0.5, 0.9] {
            let published = 4.0 / ((1.0 - r) * (10.0 + 100.0));
            assert!(close(m.min_check_probability(r, 1).unwrap(), published, 1e-12), "r = {r}");
        }
    }

    #[test]
    fn honesty_wins_just_above_p_min_and_loses_just_below() {
        let m = Payoffs { reward: 10.0, cost: 6.0, slash: 50.0, gain_unchecked: 2.0, gain_colluded: 1.0 };
        for n in 1..5 {
            let p = m.min_check_probability(0.25, n).unwrap();
            assert!(m.honest() > m.dishonest(0.25, n, p * 1.001));
            assert!(m.honest() < m.dishonest(0.25, n, p * 0.999));
            assert!((m.honest() - m.dishonest(0.25, n, p)).abs() < 1e-9);
        }
    }

    #[test]
    fn closed_form_equals_the_binomial_sum() {
        let m = Payoffs { reward: 3.0, cost: 1.0, slash: 20.0, gain_unchecked: 0.5, gain_colluded: 0.2 };
        let (r, n, p) = (0.4f64, 4, 0.3);
        let rn = r.powi(4);
        let closed = (1.0 - p) * 3.5 + p * (rn * 3.2 - (1.0 - rn) * 20.0);
        assert!((m.dishonest(r, n, p) - closed).abs() < 1e-12);
    }

    #[test]
    fn min_bps_is_strictly_above_p_min() {
        let m = Payoffs::new(10.0, 4.0, 100.0);
        let p = m.min_check_probability(1.0 / 3.0, 1).unwrap();
        let bps = m.min_check_bps(1.0 / 3.0, 1).unwrap();
        assert!(bps as f64 / 10_000.0 > p);
        assert!((bps - 1) as f64 / 10_000.0 <= p);
    }

    #[test]
    fn min_slash_makes_the_condition_hold() {
        let m = Payoffs::new(10.0, 4.0, 0.0);
        let s = m.min_slash(0.2, 2, 0.1).unwrap();
        let above = Payoffs { slash: s * 1.001, ..m };
        let below = Payoffs { slash: s * 0.999, ..m };
        assert!(above.honest() > above.dishonest(0.2, 2, 0.1));
        assert!(below.honest() < below.dishonest(0.2, 2, 0.1));
        assert_eq!(m.min_slash(0.2, 2, 0.0), None);
        assert_eq!(m.min_slash(1.0, 2, 0.5), None);
    }

    #[test]
    fn impossible_targets_have_no_solution() {
        // A cheater that always colludes with every verifier is never caught.
        assert_eq!(Payoffs::new(10.0, 4.0, 100.0).min_check_probability(1.0, 3), None);
        // Cost above what any check can take away.
        assert_eq!(Payoffs::new(1.0, 50.0, 1.0).min_check_probability(0.0, 1), None);
    }

    #[test]
    fn finite_population_tends_to_r_pow_n() {
        assert!((collusion_probability_finite(10, 30, 2) - 90.0 / 870.0).abs() < 1e-12);
        let big = collusion_probability_finite(1_000_000, 3_000_000, 5);
        assert!(close(big, collusion_probability(1.0 / 3.0, 5), 1e-4));
        assert_eq!(collusion_probability_finite(2, 30, 3), 0.0);
    }
}
