//! The package's Move sources, compiled into the local network, and their
//! one reader: each module's functions (visibility, entry, parameters,
//! returns) and datatypes (structs' fields, enums' variants, abilities), as
//! Sui's `MovePackageService` describes them. Names are resolved with the
//! module's `use` declarations and Move 2024's implicit ones. The RPC serves
//! these descriptions (`rpc::package`); the executor asks which functions a
//! transaction may call (`execute::signatures`).
//!
//! Not for: running functions (see `execute`).

use std::collections::HashMap;

use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;

use proto::open_signature_body::Type as Body;

/// The Move sources of the package, read at build time, so that the
/// local network knows every public function the package has.
pub const SOURCES: &[(&str, &str)] = &[
    ("commitment", include_str!("../../move/sources/commitment.move")),
    ("events", include_str!("../../move/sources/events.move")),
    ("hardware", include_str!("../../move/sources/hardware.move")),
    ("model", include_str!("../../move/sources/model.move")),
    ("network", include_str!("../../move/sources/network.move")),
    ("node", include_str!("../../move/sources/node.move")),
    ("params", include_str!("../../move/sources/params.move")),
    ("request", include_str!("../../move/sources/request.move")),
    ("sampler", include_str!("../../move/sources/sampler.move")),
    ("terms", include_str!("../../move/sources/terms.move")),
    ("types", include_str!("../../move/sources/types.move")),
    ("version", include_str!("../../move/sources/version.move")),
];

/// The functions `module` declares (test-only ones left out), or none for a
/// module the package does not have. Types are named under `package`.
pub fn functions_of(module: &str, package: Address) -> Vec<proto::FunctionDescriptor> {
    SOURCES
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(m, source)| Module::new(m, source, package).functions())
        .unwrap_or_default()
}

/// A module's source with comments removed, and its names in scope.
pub(crate) struct Module<'a> {
    pub(crate) name: &'a str,
    text: String,
    /// Short name → fully qualified (`Table` → `0x2::table::Table`, `balance` → `0x2::balance`).
    scope: HashMap<String, String>,
    package: Address,
}

fn named_address(name: &str, package: &Address) -> String {
    match name {
        "std" => Address::from_static("0x1").to_string(),
        "sui" => Address::TWO.to_string(),
        "atoma" => package.to_string(),
        other => other.to_string(),
    }
}

impl<'a> Module<'a> {
    pub(crate) fn new(name: &'a str, source: &str, package: Address) -> Self {
        let text: String =
            source.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let mut scope = HashMap::new();
        // Move 2024's implicit uses.
        for (short, full) in [
            ("UID", "sui::object::UID"),
            ("ID", "sui::object::ID"),
            ("TxContext", "sui::tx_context::TxContext"),
            ("Option", "std::option::Option"),
            ("object", "sui::object"),
            ("transfer", "sui::transfer"),
            ("tx_context", "sui::tx_context"),
            ("option", "std::option"),
            ("vector", "std::vector"),
        ] {
            scope.insert(short.to_string(), full.to_string());
        }
        for statement in text.split(';') {
            let Some(path) = statement.trim().strip_prefix("use ") else { continue };
            let (module, members) = match path.split_once("::{") {
                Some((m, rest)) => (m.trim(), rest.trim_end_matches('}').split(',').map(str::trim).collect::<Vec<_>>()),
                None => match path.rsplit_once("::") {
                    // `use a::b::X` (a member) or `use a::b` (a module).
                    Some((m, last)) if m.contains("::") => (m.trim(), vec![last.trim()]),
                    _ => (path.trim(), vec!["Self"]),
                },
            };
            let module_name = module.rsplit("::").next().unwrap_or(module);
            for member in members.into_iter().filter(|m| !m.is_empty()) {
                let (member, alias) = member.split_once(" as ").map_or((member, member), |(m, a)| (m.trim(), a.trim()));
                if member == "Self" {
                    scope.insert(module_name.to_string(), module.to_string());
                } else {
                    scope.insert(alias.to_string(), format!("{module}::{member}"));
                }
            }
        }
        Module { name, text, scope, package }
    }

    /// `a::b::C` with `a` a named address, as Sui writes it (`0x…::b::C`).
    fn qualify(&self, path: &str) -> String {
        let mut parts = path.splitn(2, "::");
        let head = parts.next().unwrap_or_default();
        let rest = parts.next().unwrap_or_default();
        format!("{}::{rest}", named_address(head, &self.package))
    }

    /// A type's name as written here (`Table`, `balance::Balance`, `Network`), fully qualified.
    fn type_name(&self, name: &str) -> String {
        if let Some((head, tail)) = name.split_once("::") {
            return match self.scope.get(head) {
                Some(module) => self.qualify(&format!("{module}::{tail}")),
                None => self.qualify(name),
            };
        }
        match self.scope.get(name) {
            Some(full) => self.qualify(full),
            None => format!("{}::{}::{name}", self.package, self.name),
        }
    }

    /// A type as written (`&mut Table<u64, ID>`), with the function's type parameters.
    fn signature(&self, text: &str, generics: &[String]) -> proto::OpenSignature {
        let text = text.trim();
        let (reference, rest) = if let Some(r) = text.strip_prefix("&mut") {
            (Some(proto::open_signature::Reference::Mutable), r)
        } else if let Some(r) = text.strip_prefix('&') {
            (Some(proto::open_signature::Reference::Immutable), r)
        } else {
            (None, text)
        };
        let mut s = proto::OpenSignature::default();
        s.reference = reference.map(|r| r as i32);
        s.body = Some(self.body(rest, generics));
        s
    }

    fn body(&self, text: &str, generics: &[String]) -> proto::OpenSignatureBody {
        let text = text.trim();
        let mut b = proto::OpenSignatureBody::default();
        let (name, args) = match text.split_once('<') {
            Some((n, rest)) => (n.trim(), split_top(rest.strip_suffix('>').unwrap_or(rest))),
            None => (text, Vec::new()),
        };
        let primitive = match name {
            "address" => Some(Body::Address),
            "bool" => Some(Body::Bool),
            "u8" => Some(Body::U8),
            "u16" => Some(Body::U16),
            "u32" => Some(Body::U32),
            "u64" => Some(Body::U64),
            "u128" => Some(Body::U128),
            "u256" => Some(Body::U256),
            "vector" => Some(Body::Vector),
            _ => None,
        };
        if let Some(p) = primitive {
            b.r#type = Some(p as i32);
        } else if let Some(i) = generics.iter().position(|g| g == name) {
            b.r#type = Some(Body::Parameter as i32);
            b.type_parameter = Some(i as u32);
        } else {
            b.r#type = Some(Body::Datatype as i32);
            b.type_name = Some(self.type_name(name));
        }
        b.type_parameter_instantiation = args.iter().map(|a| self.body(a, generics)).collect();
        b
    }

    /// Every function declared `public`, `public(package)`, `entry` or private, test-only ones left out.
    pub(crate) fn functions(&self) -> Vec<proto::FunctionDescriptor> {
        let mut out = Vec::new();
        let mut rest = self.text.as_str();
        while let Some(at) = rest.find("fun ") {
            let before = &rest[..at];
            let head = before.rsplit(['}', ';']).next().unwrap_or_default();
            rest = &rest[at + 4..];
            if head.contains("#[test") || head.contains("native") {
                continue;
            }
            let words: Vec<&str> = head.split_whitespace().filter(|w| !w.starts_with("#[")).collect();
            let visibility = if words.iter().any(|w| w.starts_with("public(")) {
                proto::function_descriptor::Visibility::Friend
            } else if words.contains(&"public") {
                proto::function_descriptor::Visibility::Public
            } else {
                proto::function_descriptor::Visibility::Private
            };
            let Some(open) = rest.find('(') else { break };
            let (name, generics) = match rest[..open].split_once('<') {
                Some((n, g)) => (n.trim(), type_params(g.trim_end().trim_end_matches('>'))),
                None => (rest[..open].trim(), Vec::new()),
            };
            let Some(close) = matching(&rest[open..], '(', ')') else { break };
            let params = &rest[open + 1..open + close];
            let after = &rest[open + close + 1..];
            let returns = after.split('{').next().unwrap_or_default().trim();
            let returns = returns.strip_prefix(':').map(str::trim).unwrap_or_default();
            let mut f = proto::FunctionDescriptor::default();
            f.name = Some(name.to_string());
            f.visibility = Some(visibility as i32);
            f.is_entry = Some(words.contains(&"entry"));
            let names: Vec<String> = generics.iter().map(|(n, _)| n.clone()).collect();
            f.type_parameters = generics.iter().map(|(_, c)| type_parameter(c, false)).collect();
            f.parameters = split_top(params)
                .iter()
                .filter_map(|p| p.split_once(':').map(|(_, t)| self.signature(t, &names)))
                .collect();
            let returns = returns.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(returns);
            f.returns = split_top(returns).iter().map(|r| self.signature(r, &names)).collect();
            out.push(f);
        }
        out
    }

    /// Every struct and enum.
    pub(crate) fn datatypes(&self) -> Vec<proto::DatatypeDescriptor> {
        let mut out = Vec::new();
        for (keyword, kind) in [
            ("struct ", proto::datatype_descriptor::DatatypeKind::Struct),
            ("enum ", proto::datatype_descriptor::DatatypeKind::Enum),
        ] {
            let mut rest = self.text.as_str();
            while let Some(at) = rest.find(keyword) {
                let head = rest[..at].rsplit(['}', ';', '\n']).next().unwrap_or_default();
                rest = &rest[at + keyword.len()..];
                if !head.trim().is_empty() && head.trim() != "public" {
                    continue; // the word inside another construct
                }
                let Some(body_at) = rest.find(['{', '(', ';']) else { break };
                let declaration = &rest[..body_at];
                let (name_part, abilities) = match declaration.split_once(" has ") {
                    Some((n, a)) => (n.trim(), a.split(',').map(str::trim).collect::<Vec<_>>()),
                    None => (declaration.trim(), Vec::new()),
                };
                let (name, generics) = match name_part.split_once('<') {
                    Some((n, g)) => (n.trim(), type_params(g.trim_end_matches('>'))),
                    None => (name_part, Vec::new()),
                };
                let names: Vec<String> = generics.iter().map(|(n, _)| n.clone()).collect();
                let mut d = proto::DatatypeDescriptor::default();
                d.type_name = Some(format!("{}::{}::{name}", self.package, self.name));
                d.defining_id = Some(self.package.to_string());
                d.module = Some(self.name.to_string());
                d.name = Some(name.to_string());
                d.abilities = abilities.iter().filter_map(|a| ability(a)).map(|a| a as i32).collect();
                d.type_parameters = generics.iter().map(|(n, c)| type_parameter(c, n.starts_with("phantom"))).collect();
                d.kind = Some(kind as i32);
                let open = rest.as_bytes()[body_at] as char;
                if open != ';' {
                    let close = if open == '{' { '}' } else { ')' };
                    let Some(len) = matching(&rest[body_at..], open, close) else { break };
                    let body = &rest[body_at + 1..body_at + len];
                    if kind == proto::datatype_descriptor::DatatypeKind::Struct {
                        d.fields = self.fields(body, open == '(', &names);
                    } else {
                        d.variants = split_top(body)
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                let mut variant = proto::VariantDescriptor::default();
                                variant.position = Some(i as u32);
                                match v.find(['{', '(']) {
                                    Some(at) => {
                                        variant.name = Some(v[..at].trim().to_string());
                                        let inner = &v[at + 1..v.len() - 1];
                                        variant.fields = self.fields(inner, v.as_bytes()[at] == b'(', &names);
                                    }
                                    None => variant.name = Some(v.trim().to_string()),
                                }
                                variant
                            })
                            .collect();
                    }
                }
                out.push(d);
            }
        }
        out
    }

    fn fields(&self, body: &str, positional: bool, generics: &[String]) -> Vec<proto::FieldDescriptor> {
        split_top(body)
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (name, ty) = match (positional, f.split_once(':')) {
                    (false, Some((n, t))) => (n.trim().to_string(), t),
                    _ => (format!("pos{i}"), f.as_str()),
                };
                proto::FieldDescriptor::default()
                    .with_name(name)
                    .with_position(i as u32)
                    .with_type(self.body(ty, generics))
            })
            .collect()
    }
}

fn ability(a: &str) -> Option<proto::Ability> {
    match a {
        "copy" => Some(proto::Ability::Copy),
        "drop" => Some(proto::Ability::Drop),
        "store" => Some(proto::Ability::Store),
        "key" => Some(proto::Ability::Key),
        _ => None,
    }
}

/// `T: copy + drop, phantom U` → names with their constraints.
fn type_params(text: &str) -> Vec<(String, String)> {
    split_top(text)
        .into_iter()
        .map(|p| match p.split_once(':') {
            Some((n, c)) => (n.trim().to_string(), c.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        })
        .map(|(n, c)| (n.trim_start_matches("phantom ").to_string(), c))
        .collect()
}

fn type_parameter(constraints: &str, phantom: bool) -> proto::TypeParameter {
    let mut t = proto::TypeParameter::default();
    t.constraints = constraints.split('+').filter_map(|c| ability(c.trim())).map(|a| a as i32).collect();
    t.is_phantom = Some(phantom);
    t
}

/// The length up to the bracket closing the one `text` starts with.
fn matching(text: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Splits at commas outside brackets; drops empty parts.
fn split_top(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut current) = (0i32, String::new());
    for c in text.chars() {
        match c {
            '<' | '(' | '{' => depth += 1,
            '>' | ')' | '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}
