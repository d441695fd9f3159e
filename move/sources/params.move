/// Network parameters, their defaults and bounds (Rust: `atoma_protocol::params`).
///
/// Amounts are MIST, times milliseconds, shares basis points.
module atoma::params;

// === Errors ===

/// A parameter is outside its documented bounds.
#[error(code = 2)]
const EInvalidParams: vector<u8> = b"parameter out of range";

// === Constants ===

const BPS: u64 = 10_000;
/// Largest allowed `max_n`: keeps a Sealed pool and a dispute quorum within
/// Sui's 1,000 dynamic-field accesses per transaction.
const MAX_N_LIMIT: u64 = 32;
const POOL_FACTOR_LIMIT: u64 = 4;
/// Sui's limit for one pure argument.
const INLINE_INPUT_LIMIT: u64 = 16_384;
const RETRIES_LIMIT: u64 = 10;
/// Upper bound on every duration (365 days), so that no deadline overflows.
const MAX_DURATION_MS: u64 = 31_536_000_000;
/// Lower bound on every window a node must act in (`min_timeout_ms`,
/// `reveal_window_ms`, `grace_ms`): more than three of Sui's reactions
/// (docs/protocol.md, "Time").
const LATENCY_FLOOR_MS: u64 = 5_000;

// === Structs ===

public struct Params has copy, drop, store {
    /// Minimum fee per expected execution.
    min_fee_per_execution: u64,
    /// What a commit timeout holds besides the runs of models; a request's
    /// timeout is at least this plus its model's and its class's longest run.
    min_timeout_ms: u64,
    max_timeout_ms: u64,
    /// Length of a reveal phase and of a Sealed verification window.
    reveal_window_ms: u64,
    /// Share of its stake a node loses for missing a commit deadline.
    timeout_slash_bps: u64,
    /// Share of every slashed amount that goes to the treasury.
    protocol_share_bps: u64,
    max_retries: u64,
    unbonding_delay_ms: u64,
    max_n: u64,
    sealed_pool_factor: u64,
    max_inline_input: u64,
    /// How long the first `expire` after a deadline extends it.
    grace_ms: u64,
}

// === Public functions ===

public fun default(): Params {
    Params {
        min_fee_per_execution: 1_000_000,
        min_timeout_ms: 5_000,
        max_timeout_ms: 3_600_000,
        reveal_window_ms: 30_000,
        timeout_slash_bps: 1_000,
        protocol_share_bps: 1_000,
        max_retries: 2,
        unbonding_delay_ms: 3_600_000,
        max_n: 16,
        sealed_pool_factor: 3,
        max_inline_input: 8_192,
        grace_ms: 10_000,
    }
}

/// Builds parameters, aborting with `EInvalidParams` if any is out of bounds.
public fun new(
    min_fee_per_execution: u64,
    min_timeout_ms: u64,
    max_timeout_ms: u64,
    reveal_window_ms: u64,
    timeout_slash_bps: u64,
    protocol_share_bps: u64,
    max_retries: u64,
    unbonding_delay_ms: u64,
    max_n: u64,
    sealed_pool_factor: u64,
    max_inline_input: u64,
    grace_ms: u64,
): Params {
    let p = Params {
        min_fee_per_execution,
        min_timeout_ms,
        max_timeout_ms,
        reveal_window_ms,
        timeout_slash_bps,
        protocol_share_bps,
        max_retries,
        unbonding_delay_ms,
        max_n,
        sealed_pool_factor,
        max_inline_input,
        grace_ms,
    };
    assert!(p.is_valid(), EInvalidParams);
    p
}

public fun is_valid(p: &Params): bool {
    p.min_timeout_ms >= LATENCY_FLOOR_MS
        && p.min_timeout_ms <= p.max_timeout_ms
        && p.max_timeout_ms <= MAX_DURATION_MS
        && p.reveal_window_ms >= LATENCY_FLOOR_MS
        && p.reveal_window_ms <= MAX_DURATION_MS
        && p.unbonding_delay_ms <= MAX_DURATION_MS
        && p.timeout_slash_bps <= BPS
        && p.protocol_share_bps <= BPS
        && p.max_retries <= RETRIES_LIMIT
        && p.max_n >= 1 && p.max_n <= MAX_N_LIMIT
        && p.sealed_pool_factor >= 1 && p.sealed_pool_factor <= POOL_FACTOR_LIMIT
        && p.max_inline_input >= 1 && p.max_inline_input <= INLINE_INPUT_LIMIT
        && p.grace_ms >= LATENCY_FLOOR_MS && p.grace_ms <= MAX_DURATION_MS
}

/// `ceil(min_fee_per_execution * (primaries * 10_000 + p_bps * n) / 10_000)`,
/// saturating at the largest u64.
public fun min_fee(p: &Params, primaries: u64, p_bps: u64, n: u64): u64 {
    let units = (primaries as u128) * (BPS as u128) + (p_bps as u128) * (n as u128);
    let fee = ((p.min_fee_per_execution as u128) * units + (BPS as u128) - 1) / (BPS as u128);
    if (fee > (std::u64::max_value!() as u128)) std::u64::max_value!() else fee as u64
}

/// `amount * bps / 10_000`, rounded down (`bps` is at most 10_000).
public fun bps_of(amount: u64, bps: u64): u64 {
    (((amount as u128) * (bps.min(BPS) as u128)) / (BPS as u128)) as u64
}

// === Views ===

public fun min_fee_per_execution(p: &Params): u64 { p.min_fee_per_execution }

public fun min_timeout_ms(p: &Params): u64 { p.min_timeout_ms }

public fun max_timeout_ms(p: &Params): u64 { p.max_timeout_ms }

public fun reveal_window_ms(p: &Params): u64 { p.reveal_window_ms }

public fun timeout_slash_bps(p: &Params): u64 { p.timeout_slash_bps }

public fun protocol_share_bps(p: &Params): u64 { p.protocol_share_bps }

public fun max_retries(p: &Params): u64 { p.max_retries }

public fun unbonding_delay_ms(p: &Params): u64 { p.unbonding_delay_ms }

public fun max_n(p: &Params): u64 { p.max_n }

public fun sealed_pool_factor(p: &Params): u64 { p.sealed_pool_factor }

public fun max_inline_input(p: &Params): u64 { p.max_inline_input }

public fun grace_ms(p: &Params): u64 { p.grace_ms }

/// The longest duration a parameter or a model's run-time bound may be.
public fun max_duration_ms(): u64 { MAX_DURATION_MS }
