//! The Monte Carlo simulator (driven through the real state machine) agrees
//! with the closed forms of `security`, within four standard errors.

use atoma_protocol::Mode;
use atoma_protocol::security::{Payoffs, collusion_probability_finite, proportion_margin};
use atoma_protocol::sim::{SimConfig, Strategy, run};

const Z: f64 = 4.0;

fn config(mode: Mode, nodes: u64, malicious: u64, requests: u64, seed: u64) -> SimConfig {
    SimConfig { nodes, malicious, lazy: 0, mode, requests, seed, fee: 1_000, stake: 2_000, cost: 400 }
}

fn assert_rate(observed: f64, expected: f64, trials: u64, what: &str) {
    let margin = proportion_margin(expected, trials, Z).max(1e-9);
    assert!(
        (observed - expected).abs() <= margin,
        "{what}: observed {observed:.4}, expected {expected:.4} +- {margin:.4}"
    );
}

#[test]
fn sampling_accepts_a_colluded_output_at_the_hypergeometric_rate() {
    let cfg = config(Mode::Sampling { n: 2 }, 30, 10, 3_000, 1);
    let rep = run(&cfg);
    let all_malicious = collusion_probability_finite(10, 30, 2);
    let all_honest = collusion_probability_finite(20, 30, 2);
    assert_rate(rep.rate(rep.all_colluding), all_malicious, rep.requests, "all members colluding");
    assert_rate(rep.rate(rep.detected), 1.0 - all_malicious - all_honest, rep.requests, "disputes");
    // A colluded quorum is accepted; a mixed one is (almost always) overturned.
    assert!(rep.false_finality >= rep.all_colluding);
    assert_eq!(rep.finalized + rep.failed, rep.requests);
}

#[test]
fn cross_validation_checks_at_rate_p_and_costs_one_plus_p_n() {
    let (p_bps, n) = (2_500, 2);
    let cfg = config(Mode::CrossValidation { p_bps, n }, 10, 0, 4_000, 2);
    let rep = run(&cfg);
    let p = p_bps as f64 / 10_000.0;
    assert_rate(rep.rate(rep.checked), p, rep.requests, "check rate");
    // Executions per request are 1 + n * Bernoulli(p): mean 1 + p n.
    let sd = n as f64 * (p * (1.0 - p) / rep.requests as f64).sqrt();
    assert!((rep.compute_ratio() - (1.0 + p * n as f64)).abs() <= Z * sd, "compute ratio {}", rep.compute_ratio());
    assert_eq!(rep.detected, 0);
    assert_eq!(rep.false_finality, 0);
}

#[test]
fn cross_validation_detects_a_cheating_primary_at_p_times_one_minus_collusion() {
    let (p_bps, n) = (5_000, 2);
    let rep = run(&config(Mode::CrossValidation { p_bps, n }, 30, 10, 3_000, 3));
    let expected = 0.5 * (1.0 - collusion_probability_finite(9, 29, n));
    assert!(rep.cheating_primary > 500);
    assert_rate(
        rep.cheating_primary_detected as f64 / rep.cheating_primary as f64,
        expected,
        rep.cheating_primary,
        "detection",
    );
}

#[test]
fn sealed_detects_a_cheating_primary_like_cross_validation() {
    let (p_bps, n) = (5_000, 2);
    let rep = run(&config(Mode::Sealed { p_bps, n }, 30, 10, 3_000, 4));
    let expected = 0.5 * (1.0 - collusion_probability_finite(9, 29, n));
    assert_rate(
        rep.cheating_primary_detected as f64 / rep.cheating_primary as f64,
        expected,
        rep.cheating_primary,
        "detection",
    );
    assert_rate(rep.rate(rep.checked), 0.5, rep.requests, "check rate");
}

#[test]
fn lazy_nodes_are_always_caught_when_checked() {
    let mut cfg = config(Mode::Sampling { n: 3 }, 20, 0, 1_000, 5);
    cfg.lazy = 4;
    let rep = run(&cfg);
    // Every quorum holding a lazy node disagrees; none can agree on a guess.
    assert_eq!(rep.detected, rep.with_cheater);
    assert_eq!(rep.false_finality, 0);
    assert!(rep.by_strategy[&Strategy::Lazy].mean() < 0.0);
}

#[test]
fn honesty_pays_above_p_min_and_cheating_pays_below() {
    // One verifier; a checked honest primary shares the fee with it, so the
    // model's reward is fee / 2, and the colluding share is (M - 1) / (N - 1).
    let n = 1;
    let r = 9.0 / 29.0;
    let model = Payoffs::new(500.0, 400.0, 2_000.0);
    let p_min = model.min_check_probability(r, n).unwrap();
    for (factor, honesty_wins) in [(2.0, true), (0.25, false)] {
        let p_bps = (p_min * factor * 10_000.0) as u64;
        let rep = run(&config(Mode::CrossValidation { p_bps, n: n as u64 }, 30, 10, 2_000, 6));
        let honest = rep.by_strategy[&Strategy::Honest].primary_mean();
        let malicious = rep.by_strategy[&Strategy::Malicious].primary_mean();
        assert_eq!(honest > malicious, honesty_wins, "p = {p_bps} bps: honest {honest:.0}, malicious {malicious:.0}");
    }
}
