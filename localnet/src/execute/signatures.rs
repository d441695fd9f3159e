//! The entry functions of the `atoma` package that the local network runs,
//! with their Move signatures (the protocol's table, `atoma_protocol::entry`,
//! checked against the Move sources by the tests below), and which public
//! functions the package has (read from its sources by `crate::sources`).
//!
//! The public view functions of the package (getters that return references
//! or plain values) are not run here: calling one is rejected before
//! execution as unsupported, never answered with a made-up value. Clients read
//! objects with `GetObject` instead.
//!
//! Not for: a call's typed arguments and what it does
//! (`atoma_protocol::entry`).

pub use atoma_protocol::entry::{FUNCTIONS, Param, REQUEST_PATH, params};
use sui_rpc::proto::sui::rpc::v2::function_descriptor::Visibility;
use sui_sdk_types::Address;

use crate::sources;

/// The functions a PTB may call in `module` (public or entry), as the one
/// reader of the Move sources (`crate::sources`) describes them.
pub fn callable_functions(module: &str) -> Vec<String> {
    sources::functions_of(module, Address::ZERO)
        .into_iter()
        .filter(|f| f.is_entry() || f.visibility() == Visibility::Public)
        .map(|f| f.name().to_string())
        .filter(|name| !name.ends_with("_for_testing"))
        .collect()
}

/// Whether the package has this public function but the local network does
/// not run it (a view; `check::check` rejects the call as unsupported).
pub fn is_view(module: &str, function: &str) -> bool {
    params(module, function).is_none() && callable_functions(module).iter().any(|f| f == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Param::*;
    use sui_rpc::proto::sui::rpc::v2::OpenSignatureBody;
    use sui_rpc::proto::sui::rpc::v2::open_signature::Reference;
    use sui_rpc::proto::sui::rpc::v2::open_signature_body::Type as Body;

    /// The parameters of `module::function` as the Move sources declare them
    /// (read by `crate::sources`), written back as Move types with short
    /// names (`&mut Network`, `Option<String>`), without `TxContext`.
    fn move_params(module: &str, function: &str) -> Vec<String> {
        let functions = sources::functions_of(module, Address::ZERO);
        let f = functions.iter().find(|f| f.name() == function).unwrap_or_else(|| panic!("{module}::{function}"));
        f.parameters
            .iter()
            .map(|p| {
                let reference = match p.reference() {
                    Reference::Mutable => "&mut ",
                    Reference::Immutable => "&",
                    _ => "",
                };
                format!("{reference}{}", written(p.body.as_ref().unwrap()))
            })
            .filter(|t| t != "&mut TxContext")
            .collect()
    }

    /// A type body as Move writes it, datatypes by their short name.
    fn written(body: &OpenSignatureBody) -> String {
        let name = match body.r#type() {
            Body::Datatype => body.type_name().rsplit("::").next().unwrap_or_default().to_string(),
            Body::Vector => "vector".into(),
            other => other.as_str_name().to_lowercase(),
        };
        let args: Vec<String> = body.type_parameter_instantiation.iter().map(written).collect();
        if args.is_empty() { name } else { format!("{name}<{}>", args.join(", ")) }
    }

    fn param_of(move_type: &str) -> Param {
        match move_type {
            "&mut Network" => NetworkMut,
            "&Network" => NetworkRef,
            "&mut HardwareClass" => ClassMut,
            "&HardwareClass" => ClassRef,
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
        for (module, source) in sources::SOURCES {
            for function in callable_functions(module) {
                let params = move_params(module, &function);
                let mutates = params.iter().any(|p| p.starts_with("&mut ") && p != "&mut TxContext");
                let entry = source.contains(&format!("entry fun {function}("));
                if mutates || entry {
                    assert!(!is_view(module, &function), "{module}::{function} changes state but is not run");
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
}
