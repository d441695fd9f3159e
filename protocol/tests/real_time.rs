//! The protocol's promises in real time, against anyone (docs/protocol.md,
//! "Promises"): a node needs time to run a model, a transaction time to
//! land; requesters choose any parameter the chain accepts and serve their
//! input to whomever they like; the admin changes any parameter within its
//! bounds at any moment; keepers call anything at any time; a retired
//! package keeps calling. `real_time/model.rs` plays it out; each test here
//! gives the adversary one family of moves (and the last one all of them),
//! and fails with the shortest sequence of moves that breaks a promise.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here the model lands every kind of transaction in one match

mod real_time {
    pub mod chain;
    pub mod model;
}

use atoma_protocol::{Mode, Params};
use proptest::prelude::*;
use real_time::model::{Ask, Fee, Model, Op, SecretPlan, Serve, Timeout};

fn mode() -> impl Strategy<Value = Mode> {
    let p = prop_oneof![Just(0u64), Just(5_000), Just(10_000)];
    prop_oneof![
        (1u64..=3).prop_map(|n| Mode::Sampling { n }),
        (p.clone(), 1u64..=2).prop_map(|(p_bps, n)| Mode::CrossValidation { p_bps, n }),
        (p, 1u64..=2).prop_map(|(p_bps, n)| Mode::Sealed { p_bps, n }),
    ]
}

fn timeout() -> impl Strategy<Value = Timeout> {
    prop_oneof![
        4 => Just(Timeout::Shortest),
        2 => Just(Timeout::Fair),
        2 => prop_oneof![Just(1_000u64), Just(2_000), Just(5_000), Just(8_000), Just(30_000)].prop_map(Timeout::Ms),
        1 => Just(Timeout::Longest),
    ]
}

fn fee() -> impl Strategy<Value = Fee> {
    prop_oneof![4 => Just(Fee::Minimum), 2 => (0u64..5_000).prop_map(Fee::Plus), 1 => Just(Fee::Huge)]
}

fn secret() -> impl Strategy<Value = SecretPlan> {
    prop_oneof![4 => Just(SecretPlan::Prompt), 1 => Just(SecretPlan::Late), 1 => Just(SecretPlan::Never)]
}

fn serve() -> impl Strategy<Value = Serve> {
    prop_oneof![
        Just(Serve::All),
        Just(Serve::Nobody),
        Just(Serve::Colluders),
        any::<u32>().prop_map(Serve::Mask),
        prop_oneof![Just(2_000u64), Just(10_000), Just(30_000)].prop_map(Serve::Until),
    ]
}

/// A request with any of the given inputs and timeouts.
fn ask(
    uri: impl Strategy<Value = Option<Serve>>,
    timeout: impl Strategy<Value = Timeout>,
    model: impl Strategy<Value = usize>,
) -> impl Strategy<Value = Op> {
    (mode(), timeout, fee(), uri, any::<bool>(), model, secret()).prop_map(
        |(mode, timeout, fee, uri, attacked, model, secret)| {
            Op::Submit(Ask { mode, timeout, fee, uri, attacked, model, secret })
        },
    )
}

fn inline() -> impl Strategy<Value = Option<Serve>> {
    Just(None)
}

/// Any parameters; the chain refuses those outside its bounds.
fn params() -> impl Strategy<Value = Params> {
    let d = Params::default();
    (
        (
            prop_oneof![Just(0u64), Just(1), Just(d.min_fee_per_execution)],
            prop_oneof![Just(1u64), Just(1_000), Just(2_000), Just(5_000), Just(10_000)],
            prop_oneof![Just(5_000u64), Just(60_000), Just(d.max_timeout_ms)],
            prop_oneof![Just(1u64), Just(1_000), Just(5_000), Just(d.reveal_window_ms)],
            prop_oneof![Just(0u64), Just(1_000), Just(10_000)],
            prop_oneof![Just(0u64), Just(1_000), Just(10_000)],
        ),
        (
            prop_oneof![Just(0u64), Just(1), Just(2), Just(10)],
            prop_oneof![Just(0u64), Just(d.unbonding_delay_ms), Just(31_536_000_000)],
            prop_oneof![Just(1u64), Just(16), Just(32)],
            prop_oneof![Just(1u64), Just(3), Just(4)],
            prop_oneof![Just(1u64), Just(1_000), Just(d.grace_ms)],
        ),
    )
        .prop_map(move |((fee, min_t, max_t, window, slash, share), (retries, unbonding, max_n, pool, grace))| {
            Params {
                min_fee_per_execution: fee,
                min_timeout_ms: min_t,
                max_timeout_ms: max_t,
                reveal_window_ms: window,
                timeout_slash_bps: slash,
                protocol_share_bps: share,
                max_retries: retries,
                unbonding_delay_ms: unbonding,
                max_n,
                sealed_pool_factor: pool,
                max_inline_input: d.max_inline_input,
                grace_ms: grace,
            }
        })
}

/// The first model's run-time bound on the class.
fn run_ms() -> impl Strategy<Value = u64> {
    prop_oneof![Just(1_000u64), Just(5_000), Just(20_000)]
}

/// Every move at once: requests of any kind, parameters, models, upgrades
/// and retired calls, keepers calling anything, operators leaving, topping
/// up and registering.
fn everything() -> impl Strategy<Value = Op> {
    prop_oneof![
    4 => ask(prop_oneof![3 => inline(), 2 => serve().prop_map(Some)], timeout(), 0usize..3),
    1 => params().prop_map(Op::SetParams),
    1 => prop_oneof![Just(1_000u64), Just(3_000), Just(20_000)].prop_map(|run_ms| Op::AddModel { run_ms }),
    1 => Just(Op::Upgrade),
    1 => (0usize..8, 0u8..2).prop_map(|(req, kind)| Op::OldCall { req, kind }),
    2 => (0usize..8, 0u8..3).prop_map(|(req, call)| Op::Keeper { req, call }),
    1 => (0usize..12).prop_map(|node| Op::Leave { node }),
    1 => (0usize..12, 0u64..20_000).prop_map(|(node, amount)| Op::AddCollateral { node, amount }),
    1 => any::<bool>().prop_map(|colluder| Op::Register { colluder }),
    3 => wait(),
        ]
}

fn wait() -> impl Strategy<Value = Op> {
    prop_oneof![Just(200u64), Just(1_000), Just(5_000), Just(30_000), Just(600_000)].prop_map(|ms| Op::Wait { ms })
}

/// Plays `ops` on a class of `honest` honest nodes and `colluders`
/// colluders, then lets every request end; fails with the trace of the
/// first broken promise.
fn play(seed: u64, honest: usize, colluders: usize, run_ms: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = Model::new(seed, honest, colluders, run_ms);
    for op in ops {
        m.apply(op);
        m.run_until(m.driver.now);
        if m.violation.is_some() {
            break;
        }
    }
    m.finish();
    if let Some(v) = &m.violation {
        let tail: Vec<&String> = m.trace.iter().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
        let trace: Vec<&str> = tail.iter().map(|s| s.as_str()).collect();
        return Err(TestCaseError::fail(format!(
            "{}: {}\n({} operations, {} transactions landed)\n{}",
            v.promise,
            v.detail,
            ops.len(),
            m.landed,
            trace.join("\n")
        )));
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// 1: a requester picks any timeout the chain accepts; honest nodes
    /// need up to the model's run-time bound; colluders answer at once.
    #[test]
    fn requester_chosen_time(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..9, colluders in 0usize..3,
        ops in prop::collection::vec(prop_oneof![3 => ask(inline(), timeout(), Just(0)), 2 => wait()], 1..12)) {
        play(seed, honest, colluders, run_ms, &ops)?;
    }

    /// 2: the admin sets any parameters within bounds, at any moment, while
    /// requests run and honest operators leave.
    #[test]
    fn admin_chosen_time(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..9,
        ops in prop::collection::vec(prop_oneof![
            2 => params().prop_map(Op::SetParams),
            3 => ask(inline(), Just(Timeout::Fair), Just(0)),
            1 => (0usize..9).prop_map(|node| Op::Leave { node }),
            2 => wait(),
        ], 1..14)) {
        play(seed, honest, 0, run_ms, &ops)?;
    }

    /// 3: a requester serves its URI input to some members and not others.
    #[test]
    fn selective_input(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..9, colluders in 1usize..3,
        ops in prop::collection::vec(prop_oneof![
            3 => ask(prop_oneof![Just(Serve::Colluders), any::<u32>().prop_map(Serve::Mask)].prop_map(Some), Just(Timeout::Fair), Just(0)),
            2 => wait(),
        ], 1..10)) {
        play(seed, honest, colluders, run_ms, &ops)?;
    }

    /// 4: requests whose input never comes hold the class while others,
    /// checked or disputed, need it.
    #[test]
    fn lock_ups(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..10, colluders in 0usize..3,
        ops in prop::collection::vec(prop_oneof![
            3 => ask(Just(Some(Serve::Nobody)), prop_oneof![Just(Timeout::Fair), Just(Timeout::Longest)], Just(0)),
            3 => ask(inline(), Just(Timeout::Fair), Just(0)),
            2 => wait(),
        ], 1..14)) {
        play(seed, honest, colluders, run_ms, &ops)?;
    }

    /// 5: a requester stops serving its input once it holds a first output.
    #[test]
    fn output_for_free(seed in any::<u64>(), run_ms in run_ms(), honest in 6usize..10, colluders in 1usize..3,
        ops in prop::collection::vec(prop_oneof![
            3 => ask(prop_oneof![Just(2_000u64), Just(10_000)].prop_map(|ms| Some(Serve::Until(ms))), Just(Timeout::Fair), Just(0)),
            2 => wait(),
        ], 1..10)) {
        play(seed, honest, colluders, run_ms, &ops)?;
    }

    /// 6: after an upgrade, the retired package keeps calling.
    #[test]
    fn retired_code(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..8,
        ops in prop::collection::vec(prop_oneof![
            2 => ask(inline(), Just(Timeout::Fair), Just(0)),
            1 => Just(Op::Upgrade),
            3 => (0usize..8, 0u8..2).prop_map(|(req, kind)| Op::OldCall { req, kind }),
            2 => wait(),
        ], 1..12)) {
        play(seed, honest, 0, run_ms, &ops)?;
    }

    /// 7: the admin adds a model while nodes serve the class; requests name
    /// it before operators have installed it.
    #[test]
    fn new_models(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..8,
        ops in prop::collection::vec(prop_oneof![
            1 => prop_oneof![Just(1_000u64), Just(3_000), Just(20_000)].prop_map(|run_ms| Op::AddModel { run_ms }),
            3 => ask(inline(), Just(Timeout::Fair), 0usize..3),
            2 => wait(),
        ], 1..12)) {
        play(seed, honest, 0, run_ms, &ops)?;
    }

    /// Everything at once: every move above, keepers calling anything,
    /// operators leaving, topping up and registering.
    #[test]
    fn everyone_at_once(seed in any::<u64>(), run_ms in run_ms(), honest in 4usize..10, colluders in 0usize..3,
        ops in prop::collection::vec(everything(), 1..24)) {
        play(seed, honest, colluders, run_ms, &ops)?;
    }
}

/// The model is not vacuous: across a fixed set of runs with every move,
/// it reaches every path the promises are about (disputes won and lost,
/// abstentions and declines refilled, failures for want of input, seats
/// that cannot be filled, grace extensions, retired calls refused).
#[test]
fn the_adversary_reaches_every_path() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let strategy = (any::<u64>(), run_ms(), 4usize..10, 0usize..3, prop::collection::vec(everything(), 8..24));
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..300 {
        let (seed, run_ms, honest, colluders, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let mut m = Model::new(seed, honest, colluders, run_ms);
        for op in &ops {
            m.apply(op);
        }
        m.finish();
        assert!(m.violation.is_none(), "{:?}", m.violation);
        for (k, v) in m.seen {
            *seen.entry(k).or_default() += v;
        }
    }
    for path in [
        "DisputeRaised",
        "Abstained",
        "Declined",
        "DeadlineExtended",
        "NodesSelected/Disputer",
        "NodesSelected/Verifier",
        "NodeSlashed/WrongOutput",
        "NodeSlashed/Timeout",
        "NodeSlashed/Withheld",
        "RequestFailed/InputUnavailable",
        "RequestFailed/Timeout",
        "SecretRevealed",
        "RequestFinalized",
        "Migrated",
        "NodeLeaving",
        "NodeWithdrawn",
    ] {
        assert!(seen.contains_key(path), "no run reached {path}: {seen:?}");
    }
}
