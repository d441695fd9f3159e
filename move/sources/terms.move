/// The rules a submission's terms and input must meet (Rust:
/// `atoma_protocol::ops::submit`, `Terms::check` and `check_input_parts`),
/// checked in the same order by both implementations, so that a submission
/// that breaks several rules is refused with the same error by each.
///
/// `request::submit` calls `check_input`, then `check`, after it has checked
/// the versions, that the model exists and is the class's, and the input
/// digest's length. Not for: anything about a request once it exists. The
/// functions take plain values and `Params`, so that `request` can call them
/// without this module naming a `Request`.
module atoma::terms;

use atoma::params::Params;
use atoma::types::{Self, Input, Mode};
use std::string::String;
use sui::hash::blake2b256;

// === Errors ===

/// `n` is zero or above `max_n`.
#[error(code = 17)]
const EInvalidQuorum: vector<u8> = b"n must be between 1 and max_n";
/// `p_bps` is above 10_000.
#[error(code = 18)]
const EInvalidProbability: vector<u8> = b"p_bps must be at most 10000";
/// The class has fewer eligible nodes than the mode needs.
#[error(code = 19)]
const ENotEnoughNodes: vector<u8> = b"not enough eligible nodes in the hardware class";
/// The payment is below the minimum fee for this mode.
#[error(code = 20)]
const EFeeTooLow: vector<u8> = b"fee is below the minimum for this mode";
/// Not exactly one of inline input and URI, or one of them too long.
#[error(code = 21)]
const EInvalidInput: vector<u8> = b"give exactly one of inline input and URI, within the size limits";
/// The inline input does not hash to the input digest.
#[error(code = 22)]
const EInputDigestMismatch: vector<u8> = b"inline input does not match its digest";
/// The timeout is outside the allowed range.
#[error(code = 23)]
const EInvalidTimeout: vector<u8> = b"timeout is outside the allowed range";

// === Constants ===

const BPS: u64 = 10_000;
/// The longest input URI, in bytes.
const MAX_URI_LEN: u64 = 512;

// === Package functions ===

/// Checks what a submission asks of the network besides its input: `mode`,
/// the commit `timeout_ms` asked for and the `fee` paid, against the
/// network's `params`, the model's run-time bound `max_run_ms`, the longest
/// run-time bound of the model's class `longest_run_ms` and the class's
/// `eligible` nodes.
/// Aborts, in this order: `EInvalidQuorum` (`n` is 0 or above `max_n`),
/// `EInvalidProbability` (`p_bps` above 10_000), an arithmetic error (the
/// shortest timeout, `min_timeout_ms + max_run_ms + longest_run_ms`,
/// overflows), `EInvalidTimeout` (below the shortest or above
/// `max_timeout_ms`), `EFeeTooLow`, `ENotEnoughNodes`.
public(package) fun check(
    params: &Params,
    mode: Mode,
    timeout_ms: u64,
    fee: u64,
    max_run_ms: u64,
    longest_run_ms: u64,
    eligible: u64,
) {
    let (n, p_bps) = (mode.n(), mode.p_bps());
    assert!(n >= 1 && n <= params.max_n(), EInvalidQuorum);
    assert!(p_bps <= BPS, EInvalidProbability);
    let shortest = params.min_timeout_ms() + max_run_ms + longest_run_ms;
    assert!(timeout_ms >= shortest && timeout_ms <= params.max_timeout_ms(), EInvalidTimeout);
    let (primaries, needed) = if (mode.is_sampling()) (0, n) else (1, 1 + n);
    assert!(fee >= params.min_fee(primaries, p_bps, n), EFeeTooLow);
    assert!(eligible >= needed, ENotEnoughNodes);
}

/// The request's input, once it meets the input rule (docs/protocol.md):
/// exactly one of `inline` bytes (1 to `max_inline` bytes, hashing to
/// `digest`) and a `uri` (1 to 512 bytes).
/// Aborts: `EInvalidInput`, or `EInputDigestMismatch` when inline bytes of an
/// allowed length do not hash to `digest`.
public(package) fun check_input(inline: vector<u8>, uri: Option<String>, digest: &vector<u8>, max_inline: u64): Input {
    if (!inline.is_empty() && uri.is_none()) {
        assert!(inline.length() <= max_inline, EInvalidInput);
        assert!(&blake2b256(&inline) == digest, EInputDigestMismatch);
        types::inline_input(inline)
    } else {
        assert!(inline.is_empty() && uri.is_some(), EInvalidInput);
        let uri = uri.destroy_some();
        assert!(uri.length() > 0 && uri.length() <= MAX_URI_LEN, EInvalidInput);
        types::uri_input(uri)
    }
}
