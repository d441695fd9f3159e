//! The package's entry functions as data: each function with its Move
//! parameters ([`FUNCTIONS`]), the typed pure values its calls carry
//! ([`Pure`], written with `to_bcs` and read with `from_bcs`), and a call
//! with its arguments in named fields ([`EntryCall`], in `call`: built into
//! arguments and parsed back from them), which runs the protocol operation
//! it stands for (`run`).
//!
//! The SDK builds every call as an `EntryCall` and encodes its pure values
//! here; the local network types the arguments of a transaction by the
//! table, decodes them here and runs them as `EntryCall`s (its tests check
//! the table against the Move sources). A submission's mode stays one `Mode`:
//! [`submit_function`] and [`mode_args`] spell it as Move's arguments, and
//! [`mode_of`] reads it back.
//!
//! Not for: the rules of each operation (see `ops`).

use serde::{Deserialize, Serialize};

mod call;
mod run;

pub use call::{Arg, EntryCall, Mismatch};
pub use run::{Created, Fresh};

use crate::types::Mode;

/// A parameter of an entry function (the trailing `&mut TxContext` is implicit).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Param {
    /// `&mut Network`.
    NetworkMut,
    /// `&Network`.
    NetworkRef,
    /// `&mut HardwareClass`.
    ClassMut,
    /// `&HardwareClass`.
    ClassRef,
    /// `&mut Request`.
    RequestMut,
    /// `&AdminCap`.
    AdminCap,
    /// `&NodeCap`.
    NodeCap,
    /// `NodeCap` by value (consumed).
    NodeCapOwned,
    /// `&Clock`.
    Clock,
    /// `&Random`.
    Random,
    /// `Coin<SUI>` by value (consumed).
    Coin,
    /// `u64`.
    U64,
    /// `std::string::String`.
    Str,
    /// `vector<u8>`.
    Bytes,
    /// `Option<String>`.
    OptStr,
}

use Param::*;

/// The entry functions the local network runs, with their parameters.
pub const FUNCTIONS: &[(&str, &str, &[Param])] = &[
    ("network", "add_hardware_class", &[NetworkMut, AdminCap, Str, Str, U64, U64]),
    ("network", "add_model", &[NetworkMut, AdminCap, ClassMut, Str, Bytes, U64]),
    ("network", "set_params", &[NetworkMut, AdminCap, U64, U64, U64, U64, U64, U64, U64, U64, U64, U64, U64, U64]),
    ("network", "migrate", &[NetworkMut, AdminCap]),
    ("network", "migrate_class", &[NetworkRef, AdminCap, ClassMut]),
    ("network", "sweep_revenue", &[NetworkMut, AdminCap, ClassMut]),
    ("network", "withdraw_treasury", &[NetworkMut, AdminCap, U64]),
    ("node", "register_node", &[ClassMut, Coin, Str, Bytes]),
    ("node", "add_collateral", &[ClassMut, NodeCap, Coin]),
    ("node", "set_endpoint", &[ClassMut, NodeCap, Str]),
    ("node", "request_leave", &[NetworkRef, ClassMut, NodeCap, Clock]),
    ("node", "withdraw", &[NetworkRef, ClassMut, NodeCapOwned, Clock]),
    ("request", "submit_sampling", &[NetworkRef, ClassMut, Str, Bytes, Bytes, OptStr, U64, U64, Coin, Random, Clock]),
    (
        "request",
        "submit_cross_validation",
        &[NetworkRef, ClassMut, Str, Bytes, Bytes, OptStr, U64, U64, U64, Coin, Random, Clock],
    ),
    (
        "request",
        "submit_sealed",
        &[NetworkRef, ClassMut, Str, Bytes, Bytes, OptStr, U64, U64, U64, Bytes, Coin, Random, Clock],
    ),
    ("request", "reveal_secret", &[ClassMut, RequestMut, Bytes, Clock]),
    ("request", "commit", &[ClassRef, RequestMut, NodeCap, Bytes, Clock]),
    ("request", "commit_primary", &[ClassRef, RequestMut, NodeCap, Bytes, Random, Clock]),
    ("request", "abstain", &[ClassMut, RequestMut, NodeCap, Random, Clock]),
    ("request", "decline", &[ClassMut, RequestMut, NodeCap, Random, Clock]),
    ("request", "reveal", &[ClassMut, RequestMut, NodeCap, Bytes, Bytes, Clock]),
    ("request", "select_nodes", &[ClassMut, RequestMut, Clock]),
    ("request", "open_dispute", &[ClassRef, RequestMut, Random]),
    ("request", "expire", &[ClassMut, RequestMut, Random, Clock]),
];

/// The functions on a request's path (submitting, executing, settling):
/// each may change the request's class object and the request, and never
/// the `Network` (docs/scaling.md).
pub const REQUEST_PATH: &[&str] = &[
    "submit_sampling",
    "submit_cross_validation",
    "submit_sealed",
    "reveal_secret",
    "commit",
    "commit_primary",
    "abstain",
    "decline",
    "reveal",
    "select_nodes",
    "open_dispute",
    "expire",
];

/// The parameters of `module::function`, when it is an entry function the
/// table holds.
pub fn params(module: &str, function: &str) -> Option<&'static [Param]> {
    FUNCTIONS.iter().find(|(m, f, _)| *m == module && *f == function).map(|(_, _, p)| *p)
}

/// A pure argument, typed by its parameter; its BCS is what a transaction carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pure {
    /// `u64`.
    U64(u64),
    /// `String`.
    Str(String),
    /// `vector<u8>`.
    Bytes(Vec<u8>),
    /// `Option<String>`.
    OptStr(Option<String>),
}

impl Pure {
    /// The parameter kind this value fills.
    pub fn param(&self) -> Param {
        match self {
            Pure::U64(_) => Param::U64,
            Pure::Str(_) => Param::Str,
            Pure::Bytes(_) => Param::Bytes,
            Pure::OptStr(_) => Param::OptStr,
        }
    }

    /// The value's BCS, as a transaction's pure input holds it.
    pub fn to_bcs(&self) -> Vec<u8> {
        // BCS of these values cannot fail.
        match self {
            Pure::U64(v) => bcs::to_bytes(v),
            Pure::Str(v) => bcs::to_bytes(v),
            Pure::Bytes(v) => bcs::to_bytes(v),
            Pure::OptStr(v) => bcs::to_bytes(v),
        }
        .expect("BCS of a pure value")
    }

    /// The value of a `param` that a transaction carries as `bytes`: what
    /// `to_bcs` wrote, read back, every byte used. Strings are read as
    /// bytes, then checked as UTF-8, as Move's `String` is.
    pub fn from_bcs(param: Param, bytes: &[u8]) -> Result<Pure, PureError> {
        fn read<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PureError> {
            bcs::from_bytes(bytes).map_err(|_| PureError::Bcs)
        }
        let utf8 = |raw: Vec<u8>| String::from_utf8(raw).map_err(|_| PureError::Utf8);
        Ok(match param {
            Param::U64 => Pure::U64(read(bytes)?),
            Param::Str => Pure::Str(utf8(read(bytes)?)?),
            Param::Bytes => Pure::Bytes(read(bytes)?),
            Param::OptStr => Pure::OptStr(read::<Option<Vec<u8>>>(bytes)?.map(utf8).transpose()?),
            _ => return Err(PureError::NotPure),
        })
    }
}

/// Why bytes are not a pure value of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PureError {
    /// Not the BCS of the parameter's type, or bytes left over.
    #[error("not the BCS of the parameter's type")]
    Bcs,
    /// A string whose bytes are not UTF-8.
    #[error("a string that is not UTF-8")]
    Utf8,
    /// The parameter is an object, not a pure value.
    #[error("the parameter is not a pure value")]
    NotPure,
}

/// The entry function that submits a request in `mode`.
pub fn submit_function(mode: Mode) -> &'static str {
    match mode {
        Mode::Sampling { .. } => "submit_sampling",
        Mode::CrossValidation { .. } => "submit_cross_validation",
        Mode::Sealed { .. } => "submit_sealed",
    }
}

/// The mode's own arguments of its submit function, after the request's
/// common ones: `n` (Sampling); `p_bps, n` (CrossValidation); `p_bps, n,
/// secret_hash` (Sealed, `secret_hash` ignored otherwise).
pub fn mode_args(mode: Mode, secret_hash: &[u8]) -> Vec<Pure> {
    match mode {
        Mode::Sampling { n } => vec![Pure::U64(n)],
        Mode::CrossValidation { p_bps, n } => vec![Pure::U64(p_bps), Pure::U64(n)],
        Mode::Sealed { p_bps, n } => vec![Pure::U64(p_bps), Pure::U64(n), Pure::Bytes(secret_hash.to_vec())],
    }
}

/// The parameters a submit function takes for its mode (what `mode_args`
/// fills): after the `Network`, the class and the request's five common
/// arguments, before the coin, `Random` and `Clock`.
pub fn mode_params(function: &str) -> Option<&'static [Param]> {
    let all = params("request", function)?;
    function.starts_with("submit_").then(|| &all[7..all.len() - 3])
}

/// The mode a submit function's call asks for, from its name and the
/// mode's own `u64` arguments in order (`mode_args` read back); `None` for
/// another function or the wrong count.
pub fn mode_of(function: &str, values: &[u64]) -> Option<Mode> {
    match (function, values) {
        ("submit_sampling", [n]) => Some(Mode::Sampling { n: *n }),
        ("submit_cross_validation", [p_bps, n]) => Some(Mode::CrossValidation { p_bps: *p_bps, n: *n }),
        ("submit_sealed", [p_bps, n]) => Some(Mode::Sealed { p_bps: *p_bps, n: *n }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_is_spelt_as_its_function_s_parameters_and_read_back() {
        for mode in
            [Mode::Sampling { n: 3 }, Mode::CrossValidation { p_bps: 2_500, n: 2 }, Mode::Sealed { p_bps: 1, n: 4 }]
        {
            let function = submit_function(mode);
            let own = mode_args(mode, &[7; 32]);
            let kinds: Vec<Param> = own.iter().map(Pure::param).collect();
            assert_eq!(mode_params(function), Some(kinds.as_slice()), "{function}");
            let values: Vec<u64> =
                own.iter().filter_map(|p| if let Pure::U64(v) = p { Some(*v) } else { None }).collect();
            assert_eq!(mode_of(function, &values), Some(mode));
        }
        assert_eq!(mode_of("submit_sampling", &[1, 2]), None);
        assert_eq!(mode_of("commit", &[1]), None);
        assert_eq!(mode_params("commit"), None);
    }

    #[test]
    fn pure_values_are_bcs_as_the_sdk_sent_them() {
        assert_eq!(Pure::U64(258).to_bcs(), 258u64.to_le_bytes());
        assert_eq!(Pure::Str("ab".into()).to_bcs(), [2, b'a', b'b']);
        assert_eq!(Pure::Bytes(vec![9]).to_bcs(), [1, 9]);
        assert_eq!(Pure::OptStr(None).to_bcs(), [0]);
        assert_eq!(Pure::OptStr(Some("x".into())).to_bcs(), [1, 1, b'x']);
    }

    #[test]
    fn pure_values_are_read_back_as_they_were_written_and_nothing_else() {
        let values = [
            Pure::U64(u64::MAX),
            Pure::Str("é".into()),
            Pure::Bytes(vec![0, 255]),
            Pure::OptStr(None),
            Pure::OptStr(Some("x".into())),
        ];
        for v in values {
            let bytes = v.to_bcs();
            assert_eq!(Pure::from_bcs(v.param(), &bytes), Ok(v.clone()));
            assert_eq!(Pure::from_bcs(v.param(), &[bytes.as_slice(), &[0]].concat()), Err(PureError::Bcs), "{v:?}");
            assert_eq!(Pure::from_bcs(v.param(), &bytes[..bytes.len() - 1]), Err(PureError::Bcs), "{v:?}");
        }
        assert_eq!(Pure::from_bcs(Param::Str, &[1, 0xff]), Err(PureError::Utf8));
        assert_eq!(Pure::from_bcs(Param::OptStr, &[1, 1, 0xff]), Err(PureError::Utf8));
        assert_eq!(Pure::from_bcs(Param::Bytes, &[1, 0xff]), Ok(Pure::Bytes(vec![0xff])));
        assert_eq!(Pure::from_bcs(Param::Clock, &[]), Err(PureError::NotPure));
    }
}
