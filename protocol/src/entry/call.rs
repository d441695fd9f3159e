//! One call of an entry function of the `atoma` package, typed: whoever
//! runs a transaction (the local network) types each argument by the
//! function's parameters in [`FUNCTIONS`](super::FUNCTIONS) (`Arg`) and
//! `EntryCall::parse` reads them once into the call's named fields; whoever
//! builds one (the SDK) makes the `EntryCall` and `into_args` places its
//! arguments in the function's order. The tests check that each is the
//! other's inverse for every function of the table.
//!
//! Not for: what a call does (`run`), or reading a transaction's inputs or
//! coins (the local network's `execute::interp`).

use super::{self as entry, Param, Pure};
use crate::ops::SubmitArgs;
use crate::params::Params;
use crate::state::{AdminCap, NodeCap};
use crate::types::{Mode, ObjectId};

/// An argument typed by its parameter ([`Param`]). Capabilities are `A`
/// and `N`: their contents (`AdminCap`, `NodeCap`) where a transaction is
/// run, their object ids where one is built (the SDK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg<A = AdminCap, N = NodeCap> {
    /// A `Request`, by id.
    Request(ObjectId),
    /// A `HardwareClass` object, by id.
    Class(ObjectId),
    /// An `AdminCap`.
    AdminCap(A),
    /// A `NodeCap`.
    NodeCap(N),
    /// A pure value, read by `Pure::from_bcs` (the SDK writes it with `Pure::to_bcs`).
    Pure(Pure),
    /// A coin's value, taken into Move.
    Coin(u64),
    /// An object read by the call that carries no value here: the
    /// `Network` (the state holds it), the `Clock` (the context's time) and
    /// `Random` (drawn through `Fresh`).
    Read,
}

/// A call of one of the entry functions of [`FUNCTIONS`](super::FUNCTIONS):
/// each variant is the function of the same name (snake case; `Submit` for
/// the three `submit_*`, with its `Mode` whole), and its fields are the
/// function's arguments named as Move's parameters (`docs/move.md`). A
/// submission's `secret_hash` is empty but for Sealed. Capabilities are
/// `A` and `N`, as in [`Arg`].
#[allow(missing_docs)] // the fields are documented with the Move functions
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryCall<A = AdminCap, N = NodeCap> {
    AddHardwareClass { cap: A, name: String, profile: String, min_collateral: u64, task_lock: u64 },
    AddModel { cap: A, class: ObjectId, id: String, digest: Vec<u8>, max_run_ms: u64 },
    SetParams { cap: A, params: Params },
    Migrate { cap: A },
    MigrateClass { cap: A, class: ObjectId },
    SweepRevenue { cap: A, class: ObjectId },
    WithdrawTreasury { cap: A, amount: u64 },
    RegisterNode { class: ObjectId, collateral: u64, endpoint: String, key: Vec<u8> },
    AddCollateral { class: ObjectId, cap: N, amount: u64 },
    SetEndpoint { class: ObjectId, cap: N, endpoint: String },
    RequestLeave { class: ObjectId, cap: N },
    Withdraw { class: ObjectId, cap: N },
    Submit { class: ObjectId, args: SubmitArgs, mode: Mode, secret_hash: Vec<u8>, fee: u64 },
    RevealSecret { class: ObjectId, request: ObjectId, secret: Vec<u8> },
    Commit { class: ObjectId, request: ObjectId, cap: N, commitment: Vec<u8> },
    CommitPrimary { class: ObjectId, request: ObjectId, cap: N, commitment: Vec<u8> },
    Abstain { class: ObjectId, request: ObjectId, cap: N },
    Decline { class: ObjectId, request: ObjectId, cap: N },
    Reveal { class: ObjectId, request: ObjectId, cap: N, output: Vec<u8>, salt: Vec<u8> },
    SelectNodes { class: ObjectId, request: ObjectId },
    OpenDispute { class: ObjectId, request: ObjectId },
    Expire { class: ObjectId, request: ObjectId },
}

/// The arguments do not fit the function: its parameters in `FUNCTIONS`
/// and its parsing here disagree (the tests check that they never do).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the arguments of {function} do not fit its signature")]
pub struct Mismatch {
    /// The function called.
    pub function: String,
}

/// Reads typed arguments in order.
struct Args<'a, A, N> {
    function: &'a str,
    args: std::vec::IntoIter<Arg<A, N>>,
}

macro_rules! reader {
    ($name:ident, $pattern:pat => $value:ident: $ty:ty) => {
        fn $name(&mut self) -> Result<$ty, Mismatch> {
            match self.args.next() {
                Some($pattern) => Ok($value),
                _ => Err(self.mismatch()),
            }
        }
    };
}

impl<A, N> Args<'_, A, N> {
    fn mismatch(&self) -> Mismatch {
        Mismatch { function: self.function.to_string() }
    }

    reader!(request, Arg::Request(v) => v: ObjectId);
    reader!(class, Arg::Class(v) => v: ObjectId);
    reader!(admin_cap, Arg::AdminCap(v) => v: A);
    reader!(node_cap, Arg::NodeCap(v) => v: N);
    reader!(u64, Arg::Pure(Pure::U64(v)) => v: u64);
    reader!(string, Arg::Pure(Pure::Str(v)) => v: String);
    reader!(bytes, Arg::Pure(Pure::Bytes(v)) => v: Vec<u8>);
    reader!(opt_string, Arg::Pure(Pure::OptStr(v)) => v: Option<String>);
    reader!(coin, Arg::Coin(v) => v: u64);

    /// Skips an object the call reads without a value (see `Arg::Read`).
    fn read(&mut self) -> Result<(), Mismatch> {
        match self.args.next() {
            Some(Arg::Read) => Ok(()),
            _ => Err(self.mismatch()),
        }
    }

    /// The request fields every submission takes, after the Network and the class.
    fn submit_args(&mut self) -> Result<SubmitArgs, Mismatch> {
        Ok(SubmitArgs {
            model_id: self.string()?,
            input_digest: self.bytes()?,
            input_inline: self.bytes()?,
            input_uri: self.opt_string()?,
            timeout_ms: self.u64()?,
        })
    }

    fn end(mut self) -> Result<(), Mismatch> {
        match self.args.next() {
            None => Ok(()),
            Some(_) => Err(self.mismatch()),
        }
    }
}

impl<A, N> EntryCall<A, N> {
    /// The call of `function` with these arguments, in its signature's order.
    pub fn parse(function: &str, args: Vec<Arg<A, N>>) -> Result<Self, Mismatch> {
        let mut a = Args { function, args: args.into_iter() };
        let call = match Self::parse_network(function, &mut a)? {
            Some(call) => call,
            None => match Self::parse_node(function, &mut a)? {
                Some(call) => call,
                None => Self::parse_request(function, &mut a)?.ok_or_else(|| a.mismatch())?,
            },
        };
        a.end()?;
        Ok(call)
    }

    /// The admin's calls (module `network`).
    fn parse_network(function: &str, a: &mut Args<'_, A, N>) -> Result<Option<Self>, Mismatch> {
        use EntryCall::*;
        Ok(Some(match function {
            "add_hardware_class" => {
                a.read()?;
                AddHardwareClass {
                    cap: a.admin_cap()?,
                    name: a.string()?,
                    profile: a.string()?,
                    min_collateral: a.u64()?,
                    task_lock: a.u64()?,
                }
            }
            "add_model" => {
                a.read()?;
                AddModel {
                    cap: a.admin_cap()?,
                    class: a.class()?,
                    id: a.string()?,
                    digest: a.bytes()?,
                    max_run_ms: a.u64()?,
                }
            }
            "set_params" => {
                a.read()?;
                let cap = a.admin_cap()?;
                let mut values = [0u64; 12];
                for v in &mut values {
                    *v = a.u64()?;
                }
                SetParams { cap, params: Params::from_values(values) }
            }
            "migrate" => {
                a.read()?;
                Migrate { cap: a.admin_cap()? }
            }
            "migrate_class" => {
                a.read()?;
                MigrateClass { cap: a.admin_cap()?, class: a.class()? }
            }
            "sweep_revenue" => {
                a.read()?;
                SweepRevenue { cap: a.admin_cap()?, class: a.class()? }
            }
            "withdraw_treasury" => {
                a.read()?;
                WithdrawTreasury { cap: a.admin_cap()?, amount: a.u64()? }
            }
            _ => return Ok(None),
        }))
    }

    /// The node operators' calls (module `node`).
    fn parse_node(function: &str, a: &mut Args<'_, A, N>) -> Result<Option<Self>, Mismatch> {
        use EntryCall::*;
        Ok(Some(match function {
            "register_node" => {
                RegisterNode { class: a.class()?, collateral: a.coin()?, endpoint: a.string()?, key: a.bytes()? }
            }
            "add_collateral" => AddCollateral { class: a.class()?, cap: a.node_cap()?, amount: a.coin()? },
            "set_endpoint" => SetEndpoint { class: a.class()?, cap: a.node_cap()?, endpoint: a.string()? },
            "request_leave" | "withdraw" => {
                a.read()?;
                let (class, cap) = (a.class()?, a.node_cap()?);
                a.read()?;
                if function == "withdraw" { Withdraw { class, cap } } else { RequestLeave { class, cap } }
            }
            _ => return Ok(None),
        }))
    }

    /// The calls on a request's path (module `request`).
    fn parse_request(function: &str, a: &mut Args<'_, A, N>) -> Result<Option<Self>, Mismatch> {
        use EntryCall::*;
        Ok(Some(match function {
            "submit_sampling" | "submit_cross_validation" | "submit_sealed" => {
                a.read()?;
                let (class, args) = (a.class()?, a.submit_args()?);
                // The mode's own arguments, as the protocol's table spells them.
                let (mut values, mut secret_hash) = (Vec::new(), Vec::new());
                for param in entry::mode_params(function).unwrap_or_default() {
                    match param {
                        Param::U64 => values.push(a.u64()?),
                        Param::Bytes => secret_hash = a.bytes()?,
                        _ => return Err(a.mismatch()),
                    }
                }
                let mode = entry::mode_of(function, &values).ok_or_else(|| a.mismatch())?;
                let fee = a.coin()?;
                a.read()?;
                a.read()?;
                Submit { class, args, mode, secret_hash, fee }
            }
            "reveal_secret" => {
                let call = RevealSecret { class: a.class()?, request: a.request()?, secret: a.bytes()? };
                a.read()?;
                call
            }
            "commit" => {
                let call =
                    Commit { class: a.class()?, request: a.request()?, cap: a.node_cap()?, commitment: a.bytes()? };
                a.read()?;
                call
            }
            "commit_primary" => {
                let (class, request, cap, commitment) = (a.class()?, a.request()?, a.node_cap()?, a.bytes()?);
                a.read()?;
                a.read()?;
                CommitPrimary { class, request, cap, commitment }
            }
            "abstain" | "decline" => {
                let (class, request, cap) = (a.class()?, a.request()?, a.node_cap()?);
                a.read()?;
                a.read()?;
                if function == "abstain" { Abstain { class, request, cap } } else { Decline { class, request, cap } }
            }
            "reveal" => {
                let call = Reveal {
                    class: a.class()?,
                    request: a.request()?,
                    cap: a.node_cap()?,
                    output: a.bytes()?,
                    salt: a.bytes()?,
                };
                a.read()?;
                call
            }
            "select_nodes" => {
                let call = SelectNodes { class: a.class()?, request: a.request()? };
                a.read()?;
                call
            }
            "open_dispute" => {
                let call = OpenDispute { class: a.class()?, request: a.request()? };
                a.read()?;
                call
            }
            "expire" => {
                let call = Expire { class: a.class()?, request: a.request()? };
                a.read()?;
                a.read()?;
                call
            }
            _ => return Ok(None),
        }))
    }

    /// The entry function called.
    pub fn function(&self) -> &'static str {
        use EntryCall::*;
        match self {
            AddHardwareClass { .. } => "add_hardware_class",
            AddModel { .. } => "add_model",
            SetParams { .. } => "set_params",
            Migrate { .. } => "migrate",
            MigrateClass { .. } => "migrate_class",
            SweepRevenue { .. } => "sweep_revenue",
            WithdrawTreasury { .. } => "withdraw_treasury",
            RegisterNode { .. } => "register_node",
            AddCollateral { .. } => "add_collateral",
            SetEndpoint { .. } => "set_endpoint",
            RequestLeave { .. } => "request_leave",
            Withdraw { .. } => "withdraw",
            Submit { mode, .. } => entry::submit_function(*mode),
            RevealSecret { .. } => "reveal_secret",
            Commit { .. } => "commit",
            CommitPrimary { .. } => "commit_primary",
            Abstain { .. } => "abstain",
            Decline { .. } => "decline",
            Reveal { .. } => "reveal",
            SelectNodes { .. } => "select_nodes",
            OpenDispute { .. } => "open_dispute",
            Expire { .. } => "expire",
        }
    }

    /// The module of the entry function called.
    pub fn module(&self) -> &'static str {
        let function = self.function();
        super::FUNCTIONS
            .iter()
            .find(|(_, f, _)| *f == function)
            .map(|(m, _, _)| *m)
            .expect("every call is in the table")
    }

    /// The call's arguments in its function's order, as `parse` reads them
    /// (`Read` for the `Network`, the `Clock` and `Random`). A submission's
    /// `secret_hash` is written for Sealed only, as `parse` reads it: a
    /// caller checks that it has one exactly then (`Chain::submit` does).
    pub fn into_args(self) -> Vec<Arg<A, N>> {
        use Arg::{Class, Coin, Read};
        use EntryCall::*;
        let (u64, string, bytes) =
            (|v| Arg::Pure(Pure::U64(v)), |v| Arg::Pure(Pure::Str(v)), |v| Arg::Pure(Pure::Bytes(v)));
        match self {
            AddHardwareClass { cap, name, profile, min_collateral, task_lock } => {
                vec![Read, Arg::AdminCap(cap), string(name), string(profile), u64(min_collateral), u64(task_lock)]
            }
            AddModel { cap, class, id, digest, max_run_ms } => {
                vec![Read, Arg::AdminCap(cap), Class(class), string(id), bytes(digest), u64(max_run_ms)]
            }
            SetParams { cap, params } => {
                [Read, Arg::AdminCap(cap)].into_iter().chain(params.values().into_iter().map(u64)).collect()
            }
            Migrate { cap } => vec![Read, Arg::AdminCap(cap)],
            MigrateClass { cap, class } | SweepRevenue { cap, class } => vec![Read, Arg::AdminCap(cap), Class(class)],
            WithdrawTreasury { cap, amount } => vec![Read, Arg::AdminCap(cap), u64(amount)],
            RegisterNode { class, collateral, endpoint, key } => {
                vec![Class(class), Coin(collateral), string(endpoint), bytes(key)]
            }
            AddCollateral { class, cap, amount } => vec![Class(class), Arg::NodeCap(cap), Coin(amount)],
            SetEndpoint { class, cap, endpoint } => vec![Class(class), Arg::NodeCap(cap), string(endpoint)],
            RequestLeave { class, cap } | Withdraw { class, cap } => vec![Read, Class(class), Arg::NodeCap(cap), Read],
            Submit { class, args, mode, secret_hash, fee } => {
                let mut all = vec![
                    Read,
                    Class(class),
                    string(args.model_id),
                    bytes(args.input_digest),
                    bytes(args.input_inline),
                    Arg::Pure(Pure::OptStr(args.input_uri)),
                    u64(args.timeout_ms),
                ];
                all.extend(entry::mode_args(mode, &secret_hash).into_iter().map(Arg::Pure));
                all.extend([Coin(fee), Read, Read]);
                all
            }
            RevealSecret { class, request, secret } => vec![Class(class), Arg::Request(request), bytes(secret), Read],
            Commit { class, request, cap, commitment } => {
                vec![Class(class), Arg::Request(request), Arg::NodeCap(cap), bytes(commitment), Read]
            }
            CommitPrimary { class, request, cap, commitment } => {
                vec![Class(class), Arg::Request(request), Arg::NodeCap(cap), bytes(commitment), Read, Read]
            }
            Abstain { class, request, cap } | Decline { class, request, cap } => {
                vec![Class(class), Arg::Request(request), Arg::NodeCap(cap), Read, Read]
            }
            Reveal { class, request, cap, output, salt } => {
                vec![Class(class), Arg::Request(request), Arg::NodeCap(cap), bytes(output), bytes(salt), Read]
            }
            SelectNodes { class, request } => vec![Class(class), Arg::Request(request), Read],
            OpenDispute { class, request } => vec![Class(class), Arg::Request(request), Read],
            Expire { class, request } => vec![Class(class), Arg::Request(request), Read, Read],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::FUNCTIONS;
    use super::*;

    /// An argument of the kind the interpreter gives for `param`.
    fn sample(param: Param, k: u64) -> Arg {
        let id = ObjectId([k as u8 + 1; 32]);
        match param {
            Param::NetworkMut | Param::NetworkRef | Param::Clock | Param::Random => Arg::Read,
            Param::ClassMut | Param::ClassRef => Arg::Class(id),
            Param::RequestMut => Arg::Request(id),
            Param::AdminCap => Arg::AdminCap(AdminCap { id, network_id: id }),
            Param::NodeCap | Param::NodeCapOwned => Arg::NodeCap(NodeCap { id, network_id: id, class_id: k }),
            Param::Coin => Arg::Coin(k),
            Param::U64 => Arg::Pure(Pure::U64(k)),
            Param::Str => Arg::Pure(Pure::Str(format!("s{k}"))),
            Param::Bytes => Arg::Pure(Pure::Bytes(vec![k as u8])),
            Param::OptStr => Arg::Pure(Pure::OptStr(Some(format!("o{k}")))),
        }
    }

    #[test]
    fn every_function_parses_from_arguments_of_its_signature_and_no_others() {
        for (module, function, params) in FUNCTIONS {
            let args: Vec<Arg> = params.iter().enumerate().map(|(k, p)| sample(*p, k as u64)).collect();
            let call = EntryCall::parse(function, args.clone()).unwrap_or_else(|e| panic!("{module}::{function}: {e}"));
            // Built back into its function and arguments, the call is what was parsed.
            assert_eq!((call.module(), call.function()), (*module, *function));
            assert_eq!(call.into_args(), args, "{module}::{function}");
            let mut longer = args.clone();
            longer.push(Arg::Pure(Pure::U64(0)));
            assert!(EntryCall::parse(function, longer).is_err(), "{module}::{function} with one more");
            let shorter = args[..args.len() - 1].to_vec();
            assert!(EntryCall::parse(function, shorter).is_err(), "{module}::{function} with one less");
            // Each argument in its place: swapping in a different kind is refused.
            for k in 0..args.len() {
                let mut wrong = args.clone();
                wrong[k] = if args[k] == Arg::Read { Arg::Pure(Pure::U64(0)) } else { Arg::Read };
                assert!(EntryCall::parse(function, wrong).is_err(), "{module}::{function} argument {k}");
            }
        }
    }

    #[test]
    fn arguments_land_in_their_named_fields() {
        let args: Vec<Arg> = [Param::ClassMut, Param::Coin, Param::Str, Param::Bytes]
            .iter()
            .enumerate()
            .map(|(k, p)| sample(*p, k as u64))
            .collect();
        assert_eq!(
            EntryCall::parse("register_node", args).unwrap(),
            EntryCall::RegisterNode { class: ObjectId([1; 32]), collateral: 1, endpoint: "s2".into(), key: vec![3] }
        );
    }
}
