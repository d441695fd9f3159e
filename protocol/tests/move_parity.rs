//! The Move package and the Rust crate state the same errors: every Move
//! error constant carries the code, name and message of a `ProtocolError`,
//! every `ProtocolError` that Move can raise exists in Move, and every Move
//! error constant has a `#[expected_failure]` test. Runs without the Move
//! toolchain (it reads the sources), so CI checks it everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use atoma_protocol::ProtocolError;

fn move_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../move")
}

fn read_dir(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "move"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// `(module, constant) -> (code, message)` for every `#[error(code = N)]` constant.
fn move_errors() -> BTreeMap<(String, String), (u8, String)> {
    let mut out = BTreeMap::new();
    for (module, text) in read_dir(&move_dir().join("sources")) {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim().strip_prefix("#[error(code = ") else { continue };
            let code: u8 = rest.trim_end_matches(")]").parse().expect("numeric code");
            let decl = lines[i + 1].trim();
            let name = decl.strip_prefix("const ").unwrap().split(':').next().unwrap().trim().to_string();
            let msg = decl.split("b\"").nth(1).unwrap().trim_end_matches("\";").to_string();
            out.insert((module.clone(), name), (code, msg));
        }
    }
    out
}

#[test]
fn move_error_constants_match_the_rust_errors() {
    let errors = move_errors();
    assert!(errors.len() > 30, "found only {} Move error constants", errors.len());
    for ((module, name), (code, msg)) in &errors {
        let e = ProtocolError::from_code(*code).unwrap_or_else(|| panic!("{module}::{name}: unknown code {code}"));
        assert_eq!(e.move_name(), name, "{module}::{name} has code {code}, which Rust calls {}", e.move_name());
        assert_eq!(e.message(), msg, "{module}::{name}: message differs from Rust");
    }
    let in_move: BTreeSet<u8> = errors.values().map(|(c, _)| *c).collect();
    for e in ProtocolError::ALL {
        // A missing request object rejects a Sui transaction before Move runs,
        // and Move's own arithmetic error carries no code.
        if !e.is_rust_only() {
            assert!(in_move.contains(&e.code()), "{} ({}) has no Move constant", e.move_name(), e.code());
        }
    }
}

#[test]
fn every_move_error_constant_has_an_expected_failure_test() {
    let tests: String = read_dir(&move_dir().join("tests")).into_iter().map(|(_, t)| t).collect();
    let missing: Vec<String> = move_errors()
        .into_keys()
        .filter(|(module, name)| !tests.contains(&format!("abort_code = {module}::{name})")))
        .map(|(module, name)| format!("{module}::{name}"))
        .collect();
    assert!(missing.is_empty(), "Move errors without an expected_failure test: {missing:?}");
}

#[test]
fn every_move_entry_function_has_a_test_that_calls_it() {
    let tests: String = read_dir(&move_dir().join("tests")).into_iter().map(|(_, t)| t).collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (module, text) in read_dir(&move_dir().join("sources")) {
        for (at, _) in text.match_indices("\npublic fun ").chain(text.match_indices("\nentry fun ")) {
            let signature = &text[at + 1..at + 1 + text[at + 1..].find('{').unwrap()];
            let name = signature.split_whitespace().nth(2).unwrap().split(['(', '<']).next().unwrap();
            // Test-only hooks (the seeded entry points the conformance tests call) are not entry points.
            if text[..at].trim_end().ends_with("#[test_only]") {
                continue;
            }
            // Entry points: what a transaction calls to change the network or a request.
            let mutates =
                [": &mut Network", ": &mut HardwareClass", ": &mut Request"].iter().any(|t| signature.contains(t));
            if !(mutates || signature.starts_with("entry fun")) {
                continue;
            }
            checked += 1;
            let called = tests.contains(&format!("{name}(")) || tests.contains(&format!("{name}_for_testing("));
            if !called {
                missing.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(checked >= 21, "found only {checked} entry functions");
    assert!(missing.is_empty(), "entry functions no Move test calls: {missing:?}");
}
