//! Network parameters, their defaults and the bounds `set_params` enforces.
//!
//! The field order is the Move struct's (`atoma::network::Params`), so the
//! `ParamsUpdated` event decodes. Amounts are MIST, times milliseconds,
//! shares basis points.
//!
//! Not for: per-class values (minimum collateral and task lock live on the
//! hardware class).

use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, Result};
use crate::types::BPS;

/// Upper bound on `max_n`: keeps a Sealed pool (`1 + pool_factor * n` nodes)
/// and a dispute quorum within Sui's 1,000 dynamic-field accesses per transaction.
pub const MAX_N_LIMIT: u64 = 32;
/// Upper bound on `sealed_pool_factor`.
pub const POOL_FACTOR_LIMIT: u64 = 4;
/// Upper bound on `max_inline_input`: Sui's limit for one pure argument.
pub const INLINE_INPUT_LIMIT: u64 = 16_384;
/// Upper bound on `max_retries`.
pub const RETRIES_LIMIT: u64 = 10;
/// Upper bound on every duration parameter (365 days), so that no deadline
/// computed from the clock can overflow.
pub const MAX_DURATION_MS: u64 = 31_536_000_000;
/// Lower bound on every window a node must act in (`min_timeout_ms`,
/// `reveal_window_ms`, `grace_ms`): more than three of Sui's reactions
/// (finality in about 0.5 s, a checkpoint seen a fraction of a second
/// later), so no admin can choose a window no transaction meets
/// (docs/protocol.md, "Time").
pub const LATENCY_FLOOR_MS: u64 = 5_000;
/// Longest model id, class name (bytes).
pub const MAX_NAME_LEN: usize = 128;
/// Longest node endpoint (bytes).
pub const MAX_ENDPOINT_LEN: usize = 256;
/// Longest hardware-class profile, in bytes.
pub const MAX_PROFILE_LEN: usize = 256;
/// Longest input URI (bytes).
pub const MAX_URI_LEN: usize = 512;

/// What a parameter counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    /// An amount of MIST.
    Mist,
    /// A duration in milliseconds.
    Ms,
    /// A share in basis points (10,000 is the whole).
    Bps,
    /// A number of things.
    Count,
    /// A size in bytes.
    Bytes,
}

impl Unit {
    /// The unit's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Mist => "MIST",
            Unit::Ms => "ms",
            Unit::Bps => "basis points",
            Unit::Count => "count",
            Unit::Bytes => "bytes",
        }
    }
}

/// One parameter as `set_params` checks it: its name, unit, meaning and
/// allowed range. The tools' help and `Params::violations` both read
/// `PARAMS`, so what they say is what the chain enforces.
#[derive(Clone, Copy, Debug)]
pub struct ParamInfo {
    /// The field's name.
    pub name: &'static str,
    /// What it counts.
    pub unit: Unit,
    /// What it does, in a sentence.
    pub about: &'static str,
    /// The smallest value `set_params` accepts.
    pub min: u64,
    /// The largest value `set_params` accepts.
    pub max: u64,
}

impl ParamInfo {
    /// The range in words: `between 1 and 32`, `at least 5000`, `any`.
    pub fn range(&self) -> String {
        match (self.min, self.max) {
            (0, u64::MAX) => "any value".into(),
            (min, u64::MAX) => format!("at least {min}"),
            (0, max) => format!("at most {max}"),
            (min, max) => format!("between {min} and {max}"),
        }
    }
}

/// Declares every parameter once, in the Move order: its field in
/// [`Params`] with its documentation, its unit, the range `set_params`
/// accepts, its default and its meaning in a sentence. From that one list
/// come the struct, [`PARAMS`], `Default`, `values`/`from_values` (the
/// arguments of `set_params` and `params::new`) and [`ParamsPatch`] (the
/// genesis file's `[params]` table).
macro_rules! params {
    ($( $(#[doc = $doc:literal])* $field:ident: $unit:ident, min $min:expr, max $max:expr, default $default:expr, $about:literal; )*) => {
        /// The network's parameters.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
        pub struct Params {
            $( $(#[doc = $doc])* pub $field: u64, )*
        }

        /// Every parameter, in the Move order of `Params::values`. Besides these
        /// ranges, `min_timeout_ms` must be at most `max_timeout_ms`.
        pub const PARAMS: [ParamInfo; PARAM_COUNT] = [
            $( ParamInfo { name: stringify!($field), unit: Unit::$unit, about: $about, min: $min, max: $max }, )*
        ];

        /// How many parameters there are.
        pub const PARAM_COUNT: usize = [$(stringify!($field)),*].len();

        impl Default for Params {
            fn default() -> Self {
                Params { $( $field: $default, )* }
            }
        }

        impl Params {
            /// The fields in their Move order: the arguments of `network::set_params`
            /// and of `params::new`.
            pub fn values(&self) -> [u64; PARAM_COUNT] {
                [$( self.$field ),*]
            }

            /// The parameters of `values` in their Move order (see `values`).
            pub fn from_values(values: [u64; PARAM_COUNT]) -> Self {
                let [$( $field ),*] = values;
                Params { $( $field ),* }
            }
        }

        /// Some of the parameters, by name, the others left as they are (the
        /// local network's genesis `[params]` table; unknown names are refused).
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ParamsPatch {
            $( #[allow(missing_docs)] #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<u64>, )*
        }

        impl ParamsPatch {
            /// `base` with this patch's values applied.
            pub fn apply(&self, base: Params) -> Params {
                Params { $( $field: self.$field.unwrap_or(base.$field), )* }
            }
        }
    };
}

params! {
    /// Minimum fee per expected execution; a request's minimum fee is
    /// `min_fee_per_execution * executions` (see `Params::min_fee`).
    min_fee_per_execution: Mist, min 0, max u64::MAX, default 1_000_000,
        "minimum fee per expected execution (a request's minimum fee is this times its executions)";
    /// What a commit timeout holds besides the runs of models: seeing the
    /// seat, fetching the input, landing the commit. A request's timeout is
    /// at least this plus its model's run-time bound plus its class's longest.
    min_timeout_ms: Ms, min LATENCY_FLOOR_MS, max MAX_DURATION_MS, default 5_000,
        "what a commit timeout holds besides the runs of models: seeing the seat, fetching the input, landing the commit";
    /// Longest commit timeout a requester may ask for.
    max_timeout_ms: Ms, min 0, max MAX_DURATION_MS, default 3_600_000,
        "longest commit timeout a requester may ask for";
    /// Length of a reveal phase, and of a Sealed request's verification window.
    reveal_window_ms: Ms, min LATENCY_FLOOR_MS, max MAX_DURATION_MS, default 30_000,
        "length of a reveal phase, and of a Sealed request's verification window";
    /// Share of its stake a node loses for missing a commit deadline.
    timeout_slash_bps: Bps, min 0, max BPS, default 1_000,
        "share of its stake a node loses for missing a commit deadline";
    /// Share of every slashed amount that goes to the treasury.
    protocol_share_bps: Bps, min 0, max BPS, default 1_000,
        "share of every slashed amount that goes to the treasury";
    /// How many times a request's silent nodes are replaced before it gives up.
    max_retries: Count, min 0, max RETRIES_LIMIT, default 2,
        "refills of a request's empty seats before it gives up";
    /// Time between `request_leave` and `withdraw`.
    unbonding_delay_ms: Ms, min 0, max MAX_DURATION_MS, default 3_600_000,
        "time between a node's request to leave and its withdrawal (fixed when it asks)";
    /// Largest `n` in any mode.
    max_n: Count, min 1, max MAX_N_LIMIT, default 16,
        "largest n in any mode";
    /// A Sealed pool holds `sealed_pool_factor * n` candidates.
    sealed_pool_factor: Count, min 1, max POOL_FACTOR_LIMIT, default 3,
        "a Sealed pool holds this many candidates per verifier";
    /// Largest inline input (bytes).
    max_inline_input: Bytes, min 1, max INLINE_INPUT_LIMIT, default 8_192,
        "largest input stored on chain (larger inputs go by URI)";
    /// How long the first `expire` after a deadline extends it: the live-chain
    /// time every member gets before it can be slashed (see docs/protocol.md, Timeouts).
    grace_ms: Ms, min LATENCY_FLOOR_MS, max MAX_DURATION_MS, default 10_000,
        "how long the first expire after a deadline extends it before anyone is slashed";
}

impl Params {
    /// Rejects values outside the documented bounds with `InvalidParams`.
    pub fn validate(&self) -> Result<()> {
        if self.violations().is_empty() { Ok(()) } else { Err(ProtocolError::InvalidParams) }
    }

    /// Each rule of `validate` that these parameters break, in words with
    /// the allowed range (for messages; the chain only says `EInvalidParams`).
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |ok: bool, rule: String| {
            if !ok {
                out.push(rule);
            }
        };
        for (info, value) in PARAMS.iter().zip(self.values()) {
            check((info.min..=info.max).contains(&value), format!("{} must be {}", info.name, info.range()));
        }
        check(self.min_timeout_ms <= self.max_timeout_ms, "min_timeout_ms must be at most max_timeout_ms".into());
        out
    }

    /// The shortest commit timeout of a request for a model whose run-time
    /// bound is `max_run_ms` in a class whose longest is `longest_run_ms`
    /// (docs/protocol.md, "Time"); `None` when the sum overflows.
    pub fn shortest_timeout_ms(&self, max_run_ms: u64, longest_run_ms: u64) -> Option<u64> {
        self.min_timeout_ms.checked_add(max_run_ms)?.checked_add(longest_run_ms)
    }

    /// The smallest fee of a request in `mode` (`min_fee` with its primaries, p and n).
    pub fn min_fee_for(&self, mode: crate::types::Mode) -> u64 {
        self.min_fee(mode.primaries(), mode.p_bps(), mode.n())
    }

    /// The minimum fee for `n` re-executions checked with probability `p_bps`
    /// on top of `primaries` first executions:
    /// `ceil(min_fee_per_execution * (primaries * 10_000 + p_bps * n) / 10_000)`.
    /// Sampling is `primaries = 0, p = 100 %`; CrossValidation and Sealed are
    /// `primaries = 1`. Computed in u128; saturates at `u64::MAX`.
    pub fn min_fee(&self, primaries: u64, p_bps: u64, n: u64) -> u64 {
        let units = primaries as u128 * BPS as u128 + p_bps as u128 * n as u128;
        let fee = (self.min_fee_per_execution as u128 * units).div_ceil(BPS as u128);
        u64::try_from(fee).unwrap_or(u64::MAX)
    }
}

/// `amount * bps / 10_000`, rounded down, without overflow.
pub fn bps_of(amount: u64, bps: u64) -> u64 {
    // bps <= 10_000, so the quotient is at most `amount`.
    (amount as u128 * bps.min(BPS) as u128 / BPS as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_field_in_move_order_and_holds_the_defaults() {
        let fields = serde_json::to_value(Params::default()).unwrap();
        let names: Vec<&str> = fields.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, PARAMS.map(|p| p.name));
        for (info, value) in PARAMS.iter().zip(Params::default().values()) {
            assert!((info.min..=info.max).contains(&value), "{} default {value}: {}", info.name, info.range());
        }
        let low = Params { grace_ms: LATENCY_FLOOR_MS - 1, ..Params::default() };
        assert_eq!(low.violations(), [format!("grace_ms must be between {LATENCY_FLOOR_MS} and {MAX_DURATION_MS}")]);
    }

    #[test]
    fn a_patch_names_parameters_and_keeps_the_others() {
        let patch: ParamsPatch = serde_json::from_str(r#"{"grace_ms": 7000, "max_n": 4}"#).unwrap();
        let base = Params { max_n: 9, ..Params::default() };
        assert_eq!(patch.apply(base), Params { grace_ms: 7_000, max_n: 4, ..base });
        assert_eq!(ParamsPatch::default().apply(base), base);
        let unknown = serde_json::from_str::<ParamsPatch>(r#"{"grace": 7000}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown field `grace`") && unknown.contains("grace_ms"), "{unknown}");
        let all: ParamsPatch = serde_json::from_value(serde_json::to_value(Params::default()).unwrap()).unwrap();
        assert_eq!(all.apply(base), Params::default(), "every field of Params is a field of the patch");
    }

    #[test]
    fn defaults_are_valid() {
        Params::default().validate().unwrap();
    }

    #[test]
    fn every_window_a_node_acts_in_is_at_least_the_latency_floor() {
        let p = Params {
            min_timeout_ms: LATENCY_FLOOR_MS,
            max_timeout_ms: LATENCY_FLOOR_MS,
            reveal_window_ms: LATENCY_FLOOR_MS,
            grace_ms: LATENCY_FLOOR_MS,
            ..Params::default()
        };
        p.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let bad = [
            Params { min_timeout_ms: 0, ..Default::default() },
            Params { min_timeout_ms: LATENCY_FLOOR_MS - 1, ..Default::default() },
            Params { min_timeout_ms: 10_000, max_timeout_ms: 9_999, ..Default::default() },
            Params { reveal_window_ms: 0, ..Default::default() },
            Params { reveal_window_ms: LATENCY_FLOOR_MS - 1, ..Default::default() },
            Params { reveal_window_ms: MAX_DURATION_MS + 1, ..Default::default() },
            Params { max_timeout_ms: MAX_DURATION_MS + 1, ..Default::default() },
            Params { unbonding_delay_ms: MAX_DURATION_MS + 1, ..Default::default() },
            Params { timeout_slash_bps: 10_001, ..Default::default() },
            Params { protocol_share_bps: 10_001, ..Default::default() },
            Params { max_retries: RETRIES_LIMIT + 1, ..Default::default() },
            Params { max_n: 0, ..Default::default() },
            Params { max_n: MAX_N_LIMIT + 1, ..Default::default() },
            Params { sealed_pool_factor: 0, ..Default::default() },
            Params { max_inline_input: INLINE_INPUT_LIMIT + 1, ..Default::default() },
            Params { grace_ms: 0, ..Default::default() },
            Params { grace_ms: LATENCY_FLOOR_MS - 1, ..Default::default() },
            Params { grace_ms: MAX_DURATION_MS + 1, ..Default::default() },
        ];
        for p in bad {
            assert_eq!(p.validate(), Err(ProtocolError::InvalidParams), "{p:?}");
        }
    }

    #[test]
    fn min_fee_scales_with_expected_executions() {
        let p = Params { min_fee_per_execution: 1_000, ..Default::default() };
        assert_eq!(p.min_fee(0, BPS, 3), 3_000);
        assert_eq!(p.min_fee(1, 1_000, 2), 1_200);
        assert_eq!(p.min_fee(1, 1, 1), 1_001); // rounded up
        let huge = Params { min_fee_per_execution: u64::MAX, ..Default::default() };
        assert_eq!(huge.min_fee(0, BPS, 32), u64::MAX);
    }

    #[test]
    fn values_are_the_fields_in_their_bcs_order() {
        let p = Params { grace_ms: 7_777, max_n: 9, ..Params::default() };
        let bcs: Vec<u8> = p.values().iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(bcs::to_bytes(&p).unwrap(), bcs);
        assert_eq!(Params::from_values(p.values()), p);
    }

    #[test]
    fn bps_of_rounds_down() {
        assert_eq!(bps_of(999, 1_000), 99);
        assert_eq!(bps_of(u64::MAX, BPS), u64::MAX);
    }
}
