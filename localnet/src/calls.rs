//! MoveCalls to the `atoma` package: each entry function's Move signature,
//! the typing of its arguments, and the protocol operation it applies.
//!
//! A Move abort becomes `MoveAbort` with a clever-error code carrying the
//! protocol error's code (bits 48..56, top nibble `0b1100`), located at the
//! entry function that was called; line numbers are not known here and are 0.
//!
//! The public view functions of the package (getters that return references
//! or plain values) are not run here: calling one is rejected before
//! execution as unsupported, never answered with a made-up value. Clients read
//! objects with `GetObject` instead.
//!
//! Not for: coins and commands other than MoveCall (see `ptb`).

// Errors are Sui's `ExecutionError`, returned at most once per transaction.
#![allow(clippy::result_large_err)]

use atoma_protocol::objects::{CapObject, NodeCapObject};
use atoma_protocol::{AdminCap, Ctx, NodeCap, ObjectId, Params, ProtocolError, State, SubmitArgs};
use serde::de::DeserializeOwned;
use sui_sdk_types::{Argument, CommandArgumentError, ExecutionError, Identifier, MoveCall, MoveLocation};

use crate::objects::{self, Kind};
use crate::ptb::{Interp, Value};

/// A parameter of an entry function (the trailing `&mut TxContext` is implicit).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Param {
    /// `&mut Network`.
    NetworkMut,
    /// `&Network`.
    NetworkRef,
    /// `&mut HardwareClass`.
    ClassMut,
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
    ("network", "add_model", &[NetworkMut, AdminCap, Str, Bytes, U64]),
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
    ("request", "commit", &[RequestMut, NodeCap, Bytes, Clock]),
    ("request", "commit_primary", &[RequestMut, NodeCap, Bytes, Random, Clock]),
    ("request", "abstain", &[ClassMut, RequestMut, NodeCap, Clock]),
    ("request", "reveal", &[ClassMut, RequestMut, NodeCap, Bytes, Bytes, Clock]),
    ("request", "select_nodes", &[ClassMut, RequestMut, Clock]),
    ("request", "open_dispute", &[RequestMut, Random]),
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
    "reveal",
    "select_nodes",
    "open_dispute",
    "expire",
];

/// The Move sources of the package, read at build time, so that the
/// local network knows every public function the package has.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    ("commitment", include_str!("../../move/sources/commitment.move")),
    ("events", include_str!("../../move/sources/events.move")),
    ("hardware", include_str!("../../move/sources/hardware.move")),
    ("model", include_str!("../../move/sources/model.move")),
    ("network", include_str!("../../move/sources/network.move")),
    ("node", include_str!("../../move/sources/node.move")),
    ("params", include_str!("../../move/sources/params.move")),
    ("request", include_str!("../../move/sources/request.move")),
    ("sampler", include_str!("../../move/sources/sampler.move")),
    ("types", include_str!("../../move/sources/types.move")),
    ("version", include_str!("../../move/sources/version.move")),
];

/// The functions a PTB may call in `module` (public or entry), from the Move sources.
pub fn callable_functions(module: &str) -> Vec<&'static str> {
    let Some((_, source)) = SOURCES.iter().find(|(m, _)| *m == module) else { return Vec::new() };
    source
        .lines()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("public fun ")
                .or_else(|| line.strip_prefix("entry fun "))
                .or_else(|| line.strip_prefix("public entry fun "))?;
            let name = rest.split(['(', '<']).next()?.trim();
            (!name.ends_with("_for_testing")).then_some(name)
        })
        .collect()
}

/// Whether the package has this public function but the local network does
/// not run it (a view; `exec::check` rejects the call as unsupported).
pub fn is_view(module: &str, function: &str) -> bool {
    !FUNCTIONS.iter().any(|(m, f, _)| *m == module && *f == function) && callable_functions(module).contains(&function)
}

/// A typed argument.
enum Arg {
    Request(ObjectId),
    Class(ObjectId),
    AdminCap(CapObject),
    NodeCap(NodeCapObject),
    U64(u64),
    Str(String),
    Bytes(Vec<u8>),
    OptStr(Option<String>),
    Coin(u64),
    Ignored,
}

/// Decodes a pure argument as `T`, requiring every byte to be used.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], position: usize) -> Result<T, ExecutionError> {
    bcs::from_bytes(bytes).map_err(|_| ExecutionError::CommandArgumentError {
        argument: position as u16,
        kind: CommandArgumentError::InvalidBcsBytes,
    })
}

fn arg_error(position: usize, kind: CommandArgumentError) -> ExecutionError {
    ExecutionError::CommandArgumentError { argument: position as u16, kind }
}

/// Runs one MoveCall; returns its results (only `add_hardware_class` returns a value).
pub fn move_call(it: &mut Interp<'_>, call: &MoveCall) -> Result<Vec<Value>, ExecutionError> {
    let module = call.module.as_str();
    let function = call.function.as_str();
    let Some((_, _, params)) = FUNCTIONS.iter().find(|(m, f, _)| *m == module && *f == function) else {
        return Err(ExecutionError::FunctionNotFound);
    };
    if !call.type_arguments.is_empty() {
        return Err(ExecutionError::TypeArityMismatch);
    }
    if call.arguments.len() != params.len() {
        return Err(ExecutionError::ArityMismatch);
    }
    let mut args = Vec::with_capacity(params.len());
    for (position, (param, arg)) in params.iter().zip(&call.arguments).enumerate() {
        args.push(typed(it, *param, *arg, position)?);
    }
    if it.out.event_module.is_none() {
        it.out.event_module = Some(call.module.clone());
    }
    match dispatch(it, function, args) {
        Ok(values) => Ok(values),
        Err(e) => Err(abort(it, &call.module, &call.function, e)),
    }
}

fn typed(it: &mut Interp<'_>, param: Param, arg: Argument, position: usize) -> Result<Arg, ExecutionError> {
    let by_value = matches!(param, Coin | NodeCapOwned);
    let value = if by_value { it.take(arg, position)? } else { it.borrow(arg, position)? };
    let mismatch = || arg_error(position, CommandArgumentError::TypeMismatch);
    let pure = |value: &Value| match value {
        Value::Pure(bytes) => Ok(bytes.clone()),
        Value::Object(..) => Err(mismatch()),
    };
    Ok(match param {
        U64 => Arg::U64(decode(&pure(&value)?, position)?),
        Str => Arg::Str(decode_string(&pure(&value)?, position)?),
        Bytes => Arg::Bytes(decode(&pure(&value)?, position)?),
        OptStr => {
            let raw: Option<Vec<u8>> = decode(&pure(&value)?, position)?;
            Arg::OptStr(raw.map(|s| utf8(s, position)).transpose()?)
        }
        Coin => {
            if arg == Argument::Gas {
                return Err(arg_error(position, CommandArgumentError::InvalidGasCoinUsage));
            }
            Arg::Coin(it.consume_coin(&value, position)?)
        }
        _ => {
            let Value::Object(id, kind) = value else { return Err(mismatch()) };
            let expected = match param {
                NetworkMut | NetworkRef => Kind::Network,
                ClassMut => Kind::HardwareClass,
                RequestMut => Kind::Request,
                AdminCap => Kind::AdminCap,
                NodeCap | NodeCapOwned => Kind::NodeCap,
                Clock => Kind::Clock,
                _ => Kind::Random,
            };
            if kind != expected {
                return Err(mismatch());
            }
            if matches!(param, NetworkMut | ClassMut | RequestMut | NodeCapOwned) && !it.is_mutable(&id) {
                let kind = if param == NodeCapOwned {
                    CommandArgumentError::InvalidObjectByValue
                } else {
                    CommandArgumentError::InvalidObjectByMutRef
                };
                return Err(arg_error(position, kind));
            }
            let object = || it.checked_object(&id).ok_or_else(mismatch);
            match param {
                RequestMut => Arg::Request(objects::to_object_id(&id)),
                ClassMut => Arg::Class(objects::to_object_id(&id)),
                AdminCap => Arg::AdminCap(objects::cap_contents(object()?).ok_or_else(mismatch)?),
                NodeCap => Arg::NodeCap(objects::node_cap_contents(object()?).ok_or_else(mismatch)?),
                NodeCapOwned => {
                    let c = objects::node_cap_contents(object()?).ok_or_else(mismatch)?;
                    it.destroy(id);
                    Arg::NodeCap(c)
                }
                _ => Arg::Ignored,
            }
        }
    })
}

fn utf8(bytes: Vec<u8>, position: usize) -> Result<String, ExecutionError> {
    String::from_utf8(bytes).map_err(|_| arg_error(position, CommandArgumentError::InvalidUsageOfPureArgument))
}

fn decode_string(bytes: &[u8], position: usize) -> Result<String, ExecutionError> {
    utf8(decode(bytes, position)?, position)
}

/// The clever-error abort code of a protocol error (line, identifier and constant indices 0).
pub fn clever_code(e: ProtocolError) -> u64 {
    (0b1100u64 << 60) | ((e.code() as u64) << 48)
}

fn abort(it: &Interp<'_>, module: &Identifier, function: &Identifier, e: ProtocolError) -> ExecutionError {
    ExecutionError::MoveAbort {
        location: MoveLocation {
            package: it.chain.identity.package,
            module: module.clone(),
            function: 0,
            instruction: 0,
            function_name: Some(function.clone()),
        },
        code: clever_code(e),
    }
}

macro_rules! args {
    ($args:expr, $($pat:pat),+) => {
        let mut iter = $args.into_iter();
        $(let Some($pat) = iter.next() else { unreachable!("arguments are typed by FUNCTIONS") };)+
    };
}

/// Applies the call to the scratch state and collects its effects.
fn dispatch(it: &mut Interp<'_>, function: &str, args: Vec<Arg>) -> Result<Vec<Value>, ProtocolError> {
    let ctx = Ctx::new(objects::to_protocol_address(&it.checked.sender), it.now_ms);
    let mut state = it.out.state.take().unwrap_or_else(|| it.scratch_state());
    let result = apply(it, &mut state, &ctx, function, args);
    it.out.state = Some(state);
    let (outcome, values) = result?;
    for payout in outcome.payouts {
        it.mint_coin(payout.amount, sui_sdk_types::Address::new(payout.recipient.0));
    }
    it.out.events.extend(outcome.events);
    Ok(values)
}

fn admin(cap: CapObject) -> AdminCap {
    AdminCap { id: cap.id, network_id: cap.network_id }
}

fn node(cap: NodeCapObject) -> NodeCap {
    cap.into()
}

fn submit_args(
    model_id: String,
    input_digest: Vec<u8>,
    input_inline: Vec<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
) -> SubmitArgs {
    SubmitArgs { model_id, input_digest, input_inline, input_uri, timeout_ms }
}

fn apply(
    it: &mut Interp<'_>,
    state: &mut State,
    ctx: &Ctx,
    function: &str,
    args: Vec<Arg>,
) -> Result<(atoma_protocol::Outcome, Vec<Value>), ProtocolError> {
    let none = |o| Ok((o, Vec::new()));
    match function {
        "add_hardware_class" => {
            args!(args, _, Arg::AdminCap(cap), Arg::Str(name), Arg::Str(profile), Arg::U64(min), Arg::U64(lock));
            // The class object and its three tables take four fresh ids, as in Move.
            let object = objects::to_object_id(&it.new_id());
            let (class_id, out) = state.add_hardware_class(&admin(cap), object, &name, &profile, min, lock)?;
            it.out.new_classes.insert(object);
            // A u64 result is a pure value for later commands.
            Ok((out, vec![Value::Pure(class_id.to_le_bytes().to_vec())]))
        }
        "add_model" => {
            args!(args, _, Arg::AdminCap(cap), Arg::Str(id), Arg::Bytes(digest), Arg::U64(class));
            none(state.add_model(&admin(cap), &id, &digest, class)?)
        }
        "set_params" => {
            let mut iter = args.into_iter();
            let (Some(_), Some(Arg::AdminCap(cap))) = (iter.next(), iter.next()) else { unreachable!("typed") };
            let mut v = [0u64; 12];
            for (slot, a) in v.iter_mut().zip(iter) {
                *slot = if let Arg::U64(x) = a { x } else { unreachable!("typed") };
            }
            let params = Params::from_values(v);
            none(state.set_params(&admin(cap), params)?)
        }
        "migrate" => {
            args!(args, _, Arg::AdminCap(cap));
            none(state.migrate(&admin(cap))?)
        }
        "migrate_class" => {
            args!(args, _, Arg::AdminCap(cap), Arg::Class(class));
            none(state.migrate_class(&admin(cap), &class)?)
        }
        "sweep_revenue" => {
            args!(args, _, Arg::AdminCap(cap), Arg::Class(class));
            none(state.sweep_revenue(&admin(cap), &class)?)
        }
        "withdraw_treasury" => {
            args!(args, _, Arg::AdminCap(cap), Arg::U64(amount));
            none(state.withdraw_treasury(ctx, &admin(cap), amount)?)
        }
        "register_node" => {
            args!(args, Arg::Class(class), Arg::Coin(collateral), Arg::Str(endpoint), Arg::Bytes(key));
            let cap_id = it.new_id();
            let (cap, out) =
                state.register_node(ctx, &class, objects::to_object_id(&cap_id), collateral, &endpoint, &key)?;
            it.out.new_caps.push((NodeCapObject::from(&cap), it.checked.sender));
            none(out)
        }
        "add_collateral" => {
            args!(args, Arg::Class(class), Arg::NodeCap(cap), Arg::Coin(amount));
            none(state.add_collateral(&class, &node(cap), amount)?)
        }
        "set_endpoint" => {
            args!(args, Arg::Class(class), Arg::NodeCap(cap), Arg::Str(endpoint));
            none(state.set_endpoint(&class, &node(cap), &endpoint)?)
        }
        "request_leave" => {
            args!(args, _, Arg::Class(class), Arg::NodeCap(cap), _);
            none(state.request_leave(ctx, &class, &node(cap))?)
        }
        "withdraw" => {
            args!(args, _, Arg::Class(class), Arg::NodeCap(cap), _);
            none(state.withdraw(ctx, &class, node(cap))?)
        }
        "submit_sampling" | "submit_cross_validation" | "submit_sealed" => submit(it, state, ctx, function, args),
        "reveal_secret" => {
            args!(args, Arg::Class(class), Arg::Request(request), Arg::Bytes(secret), _);
            none(state.reveal_secret(ctx, &class, &request, &secret)?)
        }
        "commit" => {
            args!(args, Arg::Request(request), Arg::NodeCap(cap), Arg::Bytes(commitment), _);
            none(state.commit(ctx, &request, &node(cap), &commitment)?)
        }
        "commit_primary" => {
            args!(args, Arg::Request(request), Arg::NodeCap(cap), Arg::Bytes(commitment), _, _);
            let random = atoma_protocol::Digest(it.draw());
            none(state.commit_primary(ctx, &request, &node(cap), &commitment, random)?)
        }
        "abstain" => {
            args!(args, Arg::Class(class), Arg::Request(request), Arg::NodeCap(cap), _);
            none(state.abstain(ctx, &class, &request, &node(cap))?)
        }
        "reveal" => {
            args!(
                args,
                Arg::Class(class),
                Arg::Request(request),
                Arg::NodeCap(cap),
                Arg::Bytes(output),
                Arg::Bytes(salt),
                _
            );
            none(state.reveal(ctx, &class, &request, &node(cap), &output, &salt)?)
        }
        "select_nodes" => {
            args!(args, Arg::Class(class), Arg::Request(request), _);
            none(state.select_nodes(ctx, &class, &request)?)
        }
        "open_dispute" => {
            args!(args, Arg::Request(request), _);
            let random = atoma_protocol::Digest(it.draw());
            none(state.open_dispute(ctx, &request, random)?)
        }
        "expire" => {
            args!(args, Arg::Class(class), Arg::Request(request), _, _);
            let random = atoma_protocol::Digest(it.draw());
            none(state.expire(ctx, &class, &request, random)?)
        }
        _ => unreachable!("every function of FUNCTIONS is dispatched"),
    }
}

fn submit(
    it: &mut Interp<'_>,
    state: &mut State,
    ctx: &Ctx,
    function: &str,
    args: Vec<Arg>,
) -> Result<(atoma_protocol::Outcome, Vec<Value>), ProtocolError> {
    let mut iter = args.into_iter();
    let mut next = || iter.next().expect("arguments are typed by FUNCTIONS");
    let _network = next();
    let Arg::Class(class) = next() else { unreachable!("typed") };
    let (Arg::Str(model), Arg::Bytes(digest), Arg::Bytes(inline), Arg::OptStr(uri), Arg::U64(timeout)) =
        (next(), next(), next(), next(), next())
    else {
        unreachable!("typed")
    };
    let args = submit_args(model, digest, inline, uri, timeout);
    let u64_arg = |a: Arg| if let Arg::U64(x) = a { x } else { unreachable!("typed") };
    // Move draws the seed before it checks anything else (`draw_seed` first).
    let request_id = it.new_id();
    let request = objects::to_object_id(&request_id);
    let out = match function {
        "submit_sampling" => {
            let n = u64_arg(next());
            let Arg::Coin(fee) = next() else { unreachable!("typed") };
            let seed = atoma_protocol::Digest(it.draw());
            state.submit_sampling(ctx, &class, request, args, n, fee, seed)?
        }
        "submit_cross_validation" => {
            let (p, n) = (u64_arg(next()), u64_arg(next()));
            let Arg::Coin(fee) = next() else { unreachable!("typed") };
            let seed = atoma_protocol::Digest(it.draw());
            state.submit_cross_validation(ctx, &class, request, args, p, n, fee, seed)?
        }
        _ => {
            let (p, n) = (u64_arg(next()), u64_arg(next()));
            let Arg::Bytes(secret_hash) = next() else { unreachable!("typed") };
            let Arg::Coin(fee) = next() else { unreachable!("typed") };
            let seed = atoma_protocol::Digest(it.draw());
            state.submit_sealed(ctx, &class, request, args, p, n, &secret_hash, fee, seed)?
        }
    };
    it.out.new_requests.insert(request);
    Ok((out, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters of `module::function` in the Move sources, without `TxContext`.
    fn move_params(module: &str, function: &str) -> Vec<String> {
        let (_, source) = SOURCES.iter().find(|(m, _)| *m == module).unwrap();
        let start = source.find(&format!("fun {function}(")).unwrap_or_else(|| panic!("{module}::{function}"));
        let rest = &source[start + function.len() + 5..];
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' | '<' => depth += 1,
                    ')' | '>' if depth > 0 => depth -= 1,
                    ')' => return true,
                    _ => {}
                }
                false
            })
            .unwrap()
            .0;
        let mut params = Vec::new();
        let (mut depth, mut current) = (0, String::new());
        for c in rest[..end].chars() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                ',' if depth == 0 => {
                    params.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        params.push(current);
        params
            .into_iter()
            .map(|p| p.split_once(':').map(|(_, t)| t.trim().to_string()).unwrap_or_default())
            .filter(|t| !t.is_empty() && t != "&mut TxContext")
            .collect()
    }

    fn param_of(move_type: &str) -> Param {
        match move_type {
            "&mut Network" => NetworkMut,
            "&Network" => NetworkRef,
            "&mut HardwareClass" => ClassMut,
            "&mut Request" => RequestMut,
            "&AdminCap" => AdminCap,
            "&NodeCap" => NodeCap,
            "NodeCap" => NodeCapOwned,
            "&Clock" => Clock,
            "&Random" => Random,
            "Coin<SUI>" => Coin,
            "u64" => U64,
            "String" => Str,
            "vector<u8>" => Bytes,
            "Option<String>" => OptStr,
            other => panic!("no parameter kind for {other}"),
        }
    }

    #[test]
    fn every_function_has_its_move_signature() {
        for (module, function, params) in FUNCTIONS {
            let expected: Vec<Param> = move_params(module, function).iter().map(|t| param_of(t)).collect();
            assert_eq!(&expected, params, "{module}::{function}");
        }
    }

    #[test]
    fn every_entry_function_and_mutator_is_run_here() {
        for (module, source) in SOURCES {
            for function in callable_functions(module) {
                let params = move_params(module, function);
                let mutates = params.iter().any(|p| p.starts_with("&mut ") && p != "&mut TxContext");
                let entry = source.contains(&format!("entry fun {function}("));
                if mutates || entry {
                    assert!(!is_view(module, function), "{module}::{function} changes state but is not run");
                    assert!(FUNCTIONS.iter().any(|(m, f, _)| m == module && *f == function));
                }
            }
        }
        assert!(is_view("network", "treasury"));
        assert!(!is_view("network", "no_such_function"));
    }

    /// The shared objects a call of `params` may change: those it takes by
    /// `&mut` (a `Coin` is owned, a cap owned or read).
    fn shared_objects_mutated(params: &[Param]) -> Vec<&'static str> {
        params
            .iter()
            .filter_map(|p| match p {
                NetworkMut => Some("Network"),
                ClassMut => Some("HardwareClass"),
                RequestMut => Some("Request"),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn no_request_path_function_mutates_the_network() {
        // The table of docs/scaling.md, from the Move signatures.
        let table: Vec<String> =
            FUNCTIONS.iter().map(|(m, f, p)| format!("{m}::{f}: {}", shared_objects_mutated(p).join(", "))).collect();
        for (module, function, params) in FUNCTIONS {
            let mutated = shared_objects_mutated(params);
            if REQUEST_PATH.contains(function) {
                assert!(
                    !mutated.contains(&"Network"),
                    "{module}::{function} takes &mut Network:\n{}",
                    table.join("\n")
                );
                if !function.starts_with("submit_") {
                    assert!(
                        mutated.contains(&"Request"),
                        "{module}::{function} is on the request path but takes no request"
                    );
                }
            }
            if *module == "node" {
                assert_eq!(mutated, ["HardwareClass"], "{module}::{function} changes more than its class");
            }
        }
        for f in REQUEST_PATH {
            assert!(FUNCTIONS.iter().any(|(_, g, _)| g == f), "{f} is not run here");
        }
        // Submissions create the request: they change the class only.
        for f in ["submit_sampling", "submit_cross_validation", "submit_sealed"] {
            let (_, _, p) = FUNCTIONS.iter().find(|(_, g, _)| *g == f).unwrap();
            assert_eq!(shared_objects_mutated(p), ["HardwareClass"], "{f}");
        }
    }

    #[test]
    fn clever_codes_decode_to_their_error() {
        for e in ProtocolError::ALL {
            assert_eq!(atoma_protocol::error::decode_abort_code(clever_code(*e)), Some(*e));
        }
    }
}
