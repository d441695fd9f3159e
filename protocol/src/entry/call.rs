//! One call of an entry function of the `atoma` package, typed: whoever
//! runs a transaction (the local network) types each argument by the
//! function's parameters in [`FUNCTIONS`](super::FUNCTIONS) (`Arg`),
//! `EntryCall::parse` reads them once into the call's named fields, and
//! `EntryCall::apply` runs the protocol operation on the state.
//!
//! Fresh object ids and random draws come from the transaction (`Fresh`),
//! in the order the Move code takes them.
//!
//! Not for: reading a transaction's inputs or coins (the local network's
//! `execute::interp`).

use super::{self as entry, Param, Pure};
use crate::ProtocolError;
use crate::ops::{Ctx, Outcome, State, SubmitArgs};
use crate::params::Params;
use crate::state::{AdminCap, NodeCap};
use crate::types::{Digest, Mode, ObjectId};

/// An argument typed by its parameter ([`Param`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A `Request`, by id.
    Request(ObjectId),
    /// A `HardwareClass` object, by id.
    Class(ObjectId),
    /// An `AdminCap`'s contents.
    AdminCap(AdminCap),
    /// A `NodeCap`'s contents.
    NodeCap(NodeCap),
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
/// submission's `secret_hash` is empty but for Sealed.
#[allow(missing_docs)] // the fields are documented with the Move functions
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryCall {
    AddHardwareClass { cap: AdminCap, name: String, profile: String, min_collateral: u64, task_lock: u64 },
    AddModel { cap: AdminCap, class: ObjectId, id: String, digest: Vec<u8>, max_run_ms: u64 },
    SetParams { cap: AdminCap, params: Params },
    Migrate { cap: AdminCap },
    MigrateClass { cap: AdminCap, class: ObjectId },
    SweepRevenue { cap: AdminCap, class: ObjectId },
    WithdrawTreasury { cap: AdminCap, amount: u64 },
    RegisterNode { class: ObjectId, collateral: u64, endpoint: String, key: Vec<u8> },
    AddCollateral { class: ObjectId, cap: NodeCap, amount: u64 },
    SetEndpoint { class: ObjectId, cap: NodeCap, endpoint: String },
    RequestLeave { class: ObjectId, cap: NodeCap },
    Withdraw { class: ObjectId, cap: NodeCap },
    Submit { class: ObjectId, args: SubmitArgs, mode: Mode, secret_hash: Vec<u8>, fee: u64 },
    RevealSecret { class: ObjectId, request: ObjectId, secret: Vec<u8> },
    Commit { class: ObjectId, request: ObjectId, cap: NodeCap, commitment: Vec<u8> },
    CommitPrimary { class: ObjectId, request: ObjectId, cap: NodeCap, commitment: Vec<u8> },
    Abstain { class: ObjectId, request: ObjectId, cap: NodeCap },
    Decline { class: ObjectId, request: ObjectId, cap: NodeCap },
    Reveal { class: ObjectId, request: ObjectId, cap: NodeCap, output: Vec<u8>, salt: Vec<u8> },
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
struct Args<'a> {
    function: &'a str,
    args: std::vec::IntoIter<Arg>,
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

impl Args<'_> {
    fn mismatch(&self) -> Mismatch {
        Mismatch { function: self.function.to_string() }
    }

    reader!(request, Arg::Request(v) => v: ObjectId);
    reader!(class, Arg::Class(v) => v: ObjectId);
    reader!(admin_cap, Arg::AdminCap(v) => v: AdminCap);
    reader!(node_cap, Arg::NodeCap(v) => v: NodeCap);
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

/// The source of a transaction's fresh object ids and random draws.
pub trait Fresh {
    /// A fresh object id, as `object::new` would give.
    fn object_id(&mut self) -> ObjectId;
    /// 32 random bytes, as `sui::random` would give.
    fn random(&mut self) -> Digest;
}

/// An object a call created besides its events and payouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// A hardware class object, and the class's id (the call's result).
    Class {
        /// The class's shared object.
        object: ObjectId,
        /// The class id the call returns.
        class_id: u64,
    },
    /// A node's capability, owned by the sender.
    NodeCap(NodeCap),
    /// A request object.
    Request(ObjectId),
}

impl EntryCall {
    /// The call of `function` with these arguments, in its signature's order.
    pub fn parse(function: &str, args: Vec<Arg>) -> Result<EntryCall, Mismatch> {
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
    fn parse_network(function: &str, a: &mut Args<'_>) -> Result<Option<EntryCall>, Mismatch> {
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
    fn parse_node(function: &str, a: &mut Args<'_>) -> Result<Option<EntryCall>, Mismatch> {
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
    fn parse_request(function: &str, a: &mut Args<'_>) -> Result<Option<EntryCall>, Mismatch> {
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

    /// Runs the call on `state`: its outcome (events, payouts) and the
    /// object it created, if any.
    pub fn apply(
        self,
        state: &mut State,
        ctx: &Ctx,
        fresh: &mut impl Fresh,
    ) -> Result<(Outcome, Option<Created>), ProtocolError> {
        use EntryCall::*;
        let done = |out| Ok((out, None));
        match self {
            AddHardwareClass { cap, name, profile, min_collateral, task_lock } => {
                // The class object and its three tables take four fresh ids, as in Move.
                let object = fresh.object_id();
                let (class_id, out) =
                    state.add_hardware_class(&cap, object, &name, &profile, min_collateral, task_lock)?;
                Ok((out, Some(Created::Class { object, class_id })))
            }
            AddModel { cap, class, id, digest, max_run_ms } => {
                done(state.add_model(&cap, &class, &id, &digest, max_run_ms)?)
            }
            SetParams { cap, params } => done(state.set_params(&cap, params)?),
            Migrate { cap } => done(state.migrate(&cap)?),
            MigrateClass { cap, class } => done(state.migrate_class(&cap, &class)?),
            SweepRevenue { cap, class } => done(state.sweep_revenue(&cap, &class)?),
            WithdrawTreasury { cap, amount } => done(state.withdraw_treasury(ctx, &cap, amount)?),
            RegisterNode { class, collateral, endpoint, key } => {
                let cap_id = fresh.object_id();
                let (cap, out) = state.register_node(ctx, &class, cap_id, collateral, &endpoint, &key)?;
                Ok((out, Some(Created::NodeCap(cap))))
            }
            AddCollateral { class, cap, amount } => done(state.add_collateral(&class, &cap, amount)?),
            SetEndpoint { class, cap, endpoint } => done(state.set_endpoint(&class, &cap, &endpoint)?),
            RequestLeave { class, cap } => done(state.request_leave(ctx, &class, &cap)?),
            Withdraw { class, cap } => done(state.withdraw(ctx, &class, cap)?),
            Submit { class, args, mode, secret_hash, fee } => {
                // Move draws the seed before it checks anything else (`draw_seed` first).
                let request = fresh.object_id();
                let seed = fresh.random();
                let out = state.submit_mode(ctx, &class, request, args, mode, &secret_hash, fee, seed)?;
                Ok((out, Some(Created::Request(request))))
            }
            RevealSecret { class, request, secret } => done(state.reveal_secret(ctx, &class, &request, &secret)?),
            Commit { class, request, cap, commitment } => {
                done(state.commit(ctx, &class, &request, &cap, &commitment)?)
            }
            CommitPrimary { class, request, cap, commitment } => {
                let random = fresh.random();
                done(state.commit_primary(ctx, &class, &request, &cap, &commitment, random)?)
            }
            Abstain { class, request, cap } => {
                let random = fresh.random();
                done(state.abstain(ctx, &class, &request, &cap, random)?)
            }
            Decline { class, request, cap } => {
                let random = fresh.random();
                done(state.decline(ctx, &class, &request, &cap, random)?)
            }
            Reveal { class, request, cap, output, salt } => {
                done(state.reveal(ctx, &class, &request, &cap, &output, &salt)?)
            }
            SelectNodes { class, request } => done(state.select_nodes(ctx, &class, &request)?),
            OpenDispute { class, request } => {
                let random = fresh.random();
                done(state.open_dispute(ctx, &class, &request, random)?)
            }
            Expire { class, request } => {
                let random = fresh.random();
                done(state.expire(ctx, &class, &request, random)?)
            }
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
            assert!(EntryCall::parse(function, args.clone()).is_ok(), "{module}::{function}");
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
