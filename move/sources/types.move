/// Value types shared by requests and events: where an input lives, how a
/// request is verified, what a node does for it, which round it is in, and
/// why collateral was slashed or a request failed.
///
/// The BCS layout of each enum (variant index, then fields) is the layout of
/// the Rust enum of the same name in `atoma_protocol::types`.
module atoma::types;

use std::string::String;

// === Enums ===

/// Where the executors find a request's input.
public enum Input has copy, drop, store {
    /// The input bytes, stored on chain.
    Inline(vector<u8>),
    /// A URI whose content hashes to the request's input digest.
    Uri(String),
}

/// How a request is verified.
public enum Mode has copy, drop, store {
    /// `n` nodes execute and must agree.
    Sampling { n: u64 },
    /// One primary; with probability `p_bps / 10_000`, `n` verifiers after its commit.
    CrossValidation { p_bps: u64, n: u64 },
    /// One primary and a public pool; the requester's secret picks `n` verifiers
    /// with probability `p_bps / 10_000`.
    Sealed { p_bps: u64, n: u64 },
}

/// What a node does for a request.
public enum Role has copy, drop, store {
    Executor,
    Verifier,
    Candidate,
    Disputer,
}

public enum Round has copy, drop, store {
    Main,
    Dispute,
}

public enum SlashReason has copy, drop, store {
    Timeout,
    Withheld,
    WrongOutput,
}

public enum FailReason has copy, drop, store {
    Timeout,
    NoReveals,
    NoDisputeQuorum,
    NoMajority,
    InputUnavailable,
}

// === Constructors ===

public fun inline_input(bytes: vector<u8>): Input { Input::Inline(bytes) }

public fun uri_input(uri: String): Input { Input::Uri(uri) }

public fun sampling(n: u64): Mode { Mode::Sampling { n } }

public fun cross_validation(p_bps: u64, n: u64): Mode { Mode::CrossValidation { p_bps, n } }

public fun sealed(p_bps: u64, n: u64): Mode { Mode::Sealed { p_bps, n } }

public fun executor(): Role { Role::Executor }

public fun verifier(): Role { Role::Verifier }

public fun candidate(): Role { Role::Candidate }

public fun disputer(): Role { Role::Disputer }

public fun main_round(): Round { Round::Main }

public fun dispute_round(): Round { Round::Dispute }

public fun slash_timeout(): SlashReason { SlashReason::Timeout }

public fun slash_withheld(): SlashReason { SlashReason::Withheld }

public fun slash_wrong_output(): SlashReason { SlashReason::WrongOutput }

public fun fail_timeout(): FailReason { FailReason::Timeout }

public fun fail_no_reveals(): FailReason { FailReason::NoReveals }

public fun fail_no_dispute_quorum(): FailReason { FailReason::NoDisputeQuorum }

public fun fail_no_majority(): FailReason { FailReason::NoMajority }

public fun fail_input_unavailable(): FailReason { FailReason::InputUnavailable }

// === Views ===

/// The number of re-executing nodes.
public fun n(mode: &Mode): u64 {
    match (mode) {
        Mode::Sampling { n } => *n,
        Mode::CrossValidation { n, .. } => *n,
        Mode::Sealed { n, .. } => *n,
    }
}

/// The check probability in basis points (10_000 for Sampling).
public fun p_bps(mode: &Mode): u64 {
    match (mode) {
        Mode::Sampling { .. } => 10_000,
        Mode::CrossValidation { p_bps, .. } => *p_bps,
        Mode::Sealed { p_bps, .. } => *p_bps,
    }
}

/// Whether the input is inline (on chain), as opposed to a URI.
public fun is_inline(input: &Input): bool {
    match (input) {
        Input::Inline(_) => true,
        Input::Uri(_) => false,
    }
}

public fun is_sampling(mode: &Mode): bool {
    match (mode) {
        Mode::Sampling { .. } => true,
        _ => false,
    }
}

public fun is_cross_validation(mode: &Mode): bool {
    match (mode) {
        Mode::CrossValidation { .. } => true,
        _ => false,
    }
}

public fun is_sealed(mode: &Mode): bool {
    match (mode) {
        Mode::Sealed { .. } => true,
        _ => false,
    }
}

/// Whether a slot with `role` takes part in `round`'s commit and reveal.
public fun includes(round: &Round, role: &Role): bool {
    match (round) {
        Round::Main => role == &Role::Executor || role == &Role::Verifier,
        Round::Dispute => role == &Role::Disputer,
    }
}
