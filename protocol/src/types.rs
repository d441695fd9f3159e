//! Value types shared by the state machine, its events and the Move package.
//!
//! Every type here has the BCS layout of its Move counterpart, because events
//! are decoded from the bytes that Move emits:
//!
//! ```text
//! Address  = 32 bytes                       (Move `address`)
//! ObjectId = 32 bytes                       (Move `sui::object::ID`, a struct holding an address)
//! Digest   = uleb128(32) || 32 bytes        (Move `vector<u8>` of length 32)
//! Input    = uleb128(variant) || payload    (Move `enum Input { Inline(vector<u8>), Uri(String) }`)
//! Mode     = uleb128(variant) || u64 fields (Move `enum Mode`)
//! ```
//!
//! Not for: state or rules; those live in `state`, `request` and `ops`.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Basis points: 10_000 = 100 %.
pub const BPS: u64 = 10_000;

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Parses `0x`-prefixed (or bare) hex of at most 64 digits into 32 bytes,
/// left-padded with zeros as Sui does for short addresses such as `0x6`.
fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{hex:0>64}");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&padded[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Parses `0x` hex (short forms are zero-padded on the left).
            pub fn from_hex(s: &str) -> Option<Self> {
                parse_hex32(s).map(Self)
            }

            /// A value whose last 8 bytes are `n` (big-endian), for tests and simulations.
            pub fn from_u64(n: u64) -> Self {
                let mut b = [0u8; 32];
                b[24..].copy_from_slice(&n.to_be_bytes());
                Self(b)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }
    };
}

id32!(
    /// A Sui account address (Move `address`).
    Address
);
id32!(
    /// A Sui object id (Move `sui::object::ID`). Nodes are identified by the id
    /// of their `NodeCap`, requests by the id of their shared `Request` object.
    ObjectId
);

/// A 32-byte Blake2b-256 value, encoded as Move's `vector<u8>` (length-prefixed).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Reads a digest from a byte slice; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// Parses exactly 64 hex digits, with or without `0x`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("0x").unwrap_or(s);
        (hex.len() == 64).then(|| parse_hex32(hex)).flatten().map(Self)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = Vec::deserialize(d)?;
        Digest::from_slice(&bytes).ok_or_else(|| D::Error::invalid_length(bytes.len(), &"a 32-byte digest"))
    }
}

/// Where the executors find a request's input.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Input {
    /// The input bytes themselves, stored on chain (at most `Params::max_inline_input`).
    Inline(Vec<u8>),
    /// A URI the executors fetch; its content must hash to the request's input digest.
    Uri(String),
}

/// How a request is verified (docs/protocol.md, "Modes").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Mode {
    /// `n` nodes sampled at submission all execute; any disagreement opens a dispute.
    Sampling {
        /// Nodes that execute.
        n: u64,
    },
    /// One primary; after it commits, with probability `p_bps / 10_000`, `n` more nodes re-execute.
    CrossValidation {
        /// Check probability in basis points.
        p_bps: u64,
        /// Verifiers when checked.
        n: u64,
    },
    /// One primary and a public pool of candidates; a requester's secret decides,
    /// with probability `p_bps / 10_000`, which `n` candidates verify.
    Sealed {
        /// Check probability in basis points.
        p_bps: u64,
        /// Verifiers when checked.
        n: u64,
    },
}

impl Mode {
    /// The number of re-executing nodes (`n`).
    pub fn n(&self) -> u64 {
        match *self {
            Mode::Sampling { n } | Mode::CrossValidation { n, .. } | Mode::Sealed { n, .. } => n,
        }
    }

    /// Nodes that execute at submission besides the re-executions: 0 for
    /// Sampling (the quorum is the `n`), 1 (the primary) otherwise.
    pub fn primaries(&self) -> u64 {
        u64::from(!matches!(self, Mode::Sampling { .. }))
    }

    /// Eligible nodes a submission needs in its class: the primary (if any) and the `n`.
    pub fn nodes_needed(&self) -> u64 {
        self.primaries() + self.n()
    }

    /// The check probability in basis points (10_000 for Sampling: always checked).
    pub fn p_bps(&self) -> u64 {
        match *self {
            Mode::Sampling { .. } => BPS,
            Mode::CrossValidation { p_bps, .. } | Mode::Sealed { p_bps, .. } => p_bps,
        }
    }

    /// The name used by the CLI and in docs.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Sampling { .. } => "sampling",
            Mode::CrossValidation { .. } => "cross-validation",
            Mode::Sealed { .. } => "sealed",
        }
    }
}

/// What a node does for a request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Role {
    /// A member of a Sampling quorum, or the primary of a CrossValidation/Sealed request.
    Executor,
    /// A CrossValidation verifier, or a Sealed candidate that the secret chose.
    Verifier,
    /// A member of a Sealed request's public pool, not (yet) known to be chosen.
    Candidate,
    /// A member of a dispute quorum.
    Disputer,
}

impl Role {
    /// The role's name in messages (`executor`, `verifier`, …).
    pub fn name(self) -> &'static str {
        match self {
            Role::Executor => "executor",
            Role::Verifier => "verifier",
            Role::Candidate => "candidate",
            Role::Disputer => "disputer",
        }
    }
}

/// Which round a request is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Round {
    /// The primary or quorum, with CrossValidation/Sealed verifiers.
    Main,
    /// The dispute quorum, after the main round disagreed.
    Dispute,
}

impl Round {
    /// Whether a slot with `role` takes part in this round's commit/reveal.
    pub fn includes(self, role: Role) -> bool {
        match self {
            Round::Main => matches!(role, Role::Executor | Role::Verifier),
            Round::Dispute => role == Role::Disputer,
        }
    }
}

/// Why collateral was slashed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SlashReason {
    /// Did not commit before the commit deadline: `timeout_slash_bps` of the stake.
    Timeout,
    /// Committed but did not reveal before the reveal deadline: the whole stake.
    Withheld,
    /// Revealed an output that the decisive quorum rejected: the whole stake.
    WrongOutput,
}

impl SlashReason {
    /// The reason in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SlashReason::Timeout => "did not commit in time",
            SlashReason::Withheld => "committed but withheld its reveal",
            SlashReason::WrongOutput => "revealed an output the deciding quorum rejected",
        }
    }

    /// The reason's name (`timeout`, `withheld`, `wrong_output`), for JSON.
    pub fn name(self) -> &'static str {
        match self {
            SlashReason::Timeout => "timeout",
            SlashReason::Withheld => "withheld",
            SlashReason::WrongOutput => "wrong_output",
        }
    }
}

/// Why a request failed (the fee goes back to the requester, less the
/// minimum fee for `InputUnavailable`; slashed stake to the class's revenue).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum FailReason {
    /// A seat of the main round stayed empty (its members silent or
    /// declining) and no refill was left, or no fresh node was on call.
    Timeout,
    /// Every committed node of the round withheld its reveal.
    NoReveals,
    /// A seat of the dispute quorum could not be filled: the class does not
    /// hold enough fresh on-call nodes, or no refill was left.
    NoDisputeQuorum,
    /// No output won a strict majority of the dispute quorum.
    NoMajority,
    /// A seat stayed empty and a member of the request had abstained: it
    /// could not obtain the input. The requester pays the minimum fee.
    InputUnavailable,
}

impl FailReason {
    /// The reason in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FailReason::Timeout => "a seat stayed empty: its members were silent or declined, and no refill was left",
            FailReason::NoReveals => "every committed node withheld its reveal",
            FailReason::NoDisputeQuorum => "the nodes disagreed and the class could not seat a dispute quorum",
            FailReason::NoMajority => "no output won a majority of the dispute quorum",
            FailReason::InputUnavailable => "members could not obtain the input and their seats could not be refilled",
        }
    }

    /// The reason's name (`timeout`, `no_reveals`, …), for JSON.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::NoReveals => "no_reveals",
            FailReason::NoDisputeQuorum => "no_dispute_quorum",
            FailReason::NoMajority => "no_majority",
            FailReason::InputUnavailable => "input_unavailable",
        }
    }
}

/// The life-cycle state of a request (docs/protocol.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Status {
    /// Members of the current round commit before `deadline_ms`; empty
    /// seats wait for a refill (`Request::refill_pending`).
    Committing,
    /// Sealed only: the primary committed; pool candidates may commit and the
    /// requester reveals its secret before `deadline_ms`.
    Verifying,
    /// A selection (CrossValidation verifiers, the dispute quorum) waits for `select_nodes`.
    Selecting,
    /// The main round disagreed; `open_dispute` draws the dispute quorum's seed.
    Disputed,
    /// Committed members reveal before `deadline_ms`.
    Revealing,
    /// Settled: the output digest is final and the fee paid.
    Finalized,
    /// Ended without an output: the fee refunded (less the minimum fee when
    /// the input could not be had), the pool to the class's revenue.
    Failed,
}

impl Status {
    /// The status's name (`committing`, `finalized`, …), for messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Status::Committing => "committing",
            Status::Verifying => "verifying",
            Status::Selecting => "selecting",
            Status::Disputed => "disputed",
            Status::Revealing => "revealing",
            Status::Finalized => "finalized",
            Status::Failed => "failed",
        }
    }
}

impl Status {
    /// Whether the request has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Finalized | Status::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_encodes_as_a_length_prefixed_vector() {
        let d = Digest([7; 32]);
        let bytes = bcs::to_bytes(&d).unwrap();
        assert_eq!(bytes.len(), 33);
        assert_eq!(bytes[0], 32);
        assert_eq!(bcs::from_bytes::<Digest>(&bytes).unwrap(), d);
    }

    #[test]
    fn digest_of_wrong_length_is_rejected() {
        let bytes = bcs::to_bytes(&vec![1u8; 31]).unwrap();
        assert!(bcs::from_bytes::<Digest>(&bytes).is_err());
    }

    #[test]
    fn ids_encode_as_32_raw_bytes() {
        let id = ObjectId::from_u64(5);
        assert_eq!(bcs::to_bytes(&id).unwrap(), id.0.to_vec());
    }

    #[test]
    fn short_hex_is_left_padded() {
        assert_eq!(Address::from_hex("0x6").unwrap(), Address::from_u64(6));
        assert_eq!(ObjectId::from_hex("0x").map(|_| ()), None);
        assert_eq!(Address::from_u64(6).to_string(), format!("0x{:0>64}", "6"));
    }

    #[test]
    fn enums_encode_variant_index_then_fields() {
        let m = Mode::CrossValidation { p_bps: 500, n: 2 };
        let bytes = bcs::to_bytes(&m).unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..9], &500u64.to_le_bytes());
        assert_eq!(bcs::to_bytes(&Input::Uri("a".into())).unwrap(), vec![1, 1, b'a']);
    }
}
