//! The entry functions of the `atoma` package that the local network runs,
//! with their Move signatures (the protocol's table, `atoma_protocol::entry`,
//! checked against the Move sources by the tests below), and the package's
//! Move sources themselves.
//!
//! The public view functions of the package (getters that return references
//! or plain values) are not run here: calling one is rejected before
//! execution as unsupported, never answered with a made-up value. Clients read
//! objects with `GetObject` instead.
//!
//! Not for: what a call does (see `entry`).

pub use atoma_protocol::entry::{FUNCTIONS, Param, REQUEST_PATH, params};

/// The Move sources of the package, read at build time, so that the
/// local network knows every public function the package has.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    ("commitment", include_str!("../../../move/sources/commitment.move")),
    ("events", include_str!("../../../move/sources/events.move")),
    ("hardware", include_str!("../../../move/sources/hardware.move")),
    ("model", include_str!("../../../move/sources/model.move")),
    ("network", include_str!("../../../move/sources/network.move")),
    ("node", include_str!("../../../move/sources/node.move")),
    ("params", include_str!("../../../move/sources/params.move")),
    ("request", include_str!("../../../move/sources/request.move")),
    ("sampler", include_str!("../../../move/sources/sampler.move")),
    ("types", include_str!("../../../move/sources/types.move")),
    ("version", include_str!("../../../move/sources/version.move")),
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
/// not run it (a view; `check::check` rejects the call as unsupported).
pub fn is_view(module: &str, function: &str) -> bool {
    params(module, function).is_none() && callable_functions(module).contains(&function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Param::*;

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
}
