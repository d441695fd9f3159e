//! The shared test vectors: the Rust implementation must reproduce the
//! vectors that `scripts/gen-vectors.py` computed independently (sampler,
//! commitments, seeds and draws), and the event layouts pinned in
//! `events.json` (written by this test with `UPDATE_VECTORS=1`, and checked
//! against Move's own encoding by the Move tests).

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a vector file is written as one table

mod event_samples;

use std::path::PathBuf;

use atoma_protocol::commitment::{commitment, commitment_preimage, derive, secret_hash};
use atoma_protocol::ops::{flip, sealed_draw};
use atoma_protocol::sampler::{draw, sample};
use atoma_protocol::{Digest, ObjectId};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(vectors_dir().join(name)).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

#[test]
fn sampler_matches_the_vectors() {
    let v = load("sampler.json");
    for d in v["draws"].as_array().unwrap() {
        assert_eq!(draw(&digest(&d["seed"]), d["counter"].as_u64().unwrap()), d["value"].as_u64().unwrap());
    }
    let samples = v["samples"].as_array().unwrap();
    assert!(samples.len() >= 10);
    for s in samples {
        let got =
            sample(&digest(&s["seed"]), s["k"].as_u64().unwrap(), s["len"].as_u64().unwrap(), &u64s(&s["excluded"]))
                .unwrap();
        assert_eq!(got, u64s(&s["indices"]), "{}", s["name"]);
    }
}

#[test]
fn commitments_match_the_vectors() {
    let v = load("commitments.json");
    for c in v["commitments"].as_array().unwrap() {
        let rid = ObjectId(digest(&c["request_id"]).0);
        let nid = ObjectId(digest(&c["node_id"]).0);
        let (out, salt) = (digest(&c["output_digest"]), digest(&c["salt"]));
        let pre: String = commitment_preimage(&rid, &nid, &out, &salt).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(pre, c["preimage"].as_str().unwrap());
        assert_eq!(commitment(&rid, &nid, &out, &salt), digest(&c["commitment"]));
    }
}

#[test]
fn derived_seeds_flips_and_sealed_draws_match_the_vectors() {
    let v = load("draws.json");
    for d in v["derives"].as_array().unwrap() {
        assert_eq!(derive(&digest(&d["seed"]), d["tag"].as_u64().unwrap() as u8), digest(&d["derived"]));
    }
    for f in v["flips"].as_array().unwrap() {
        assert_eq!(flip(&digest(&f["seed"]), f["p_bps"].as_u64().unwrap()), f["checked"].as_bool().unwrap());
    }
    let sealed = v["sealed"].as_array().unwrap();
    assert!(
        sealed.iter().any(|s| s["checked"].as_bool().unwrap())
            && sealed.iter().any(|s| !s["checked"].as_bool().unwrap())
    );
    for s in sealed {
        assert_eq!(secret_hash(&digest(&s["secret"])), digest(&s["secret_hash"]));
        let (checked, chosen) = sealed_draw(
            &digest(&s["request_seed"]),
            &digest(&s["secret"]),
            s["p_bps"].as_u64().unwrap(),
            s["n"].as_u64().unwrap(),
            s["pool"].as_u64().unwrap(),
        );
        assert_eq!(checked, s["checked"].as_bool().unwrap());
        assert_eq!(chosen, u64s(&s["chosen"]));
    }
}

#[test]
fn the_request_object_layout_matches_the_vector() {
    let generated = event_samples::request_vector();
    let path = vectors_dir().join("objects.json");
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).expect("objects.json (run with UPDATE_VECTORS=1 to write it)");
    assert_eq!(
        stored, text,
        "the Request layout changed: the Move package must change too (UPDATE_VECTORS=1 rewrites)"
    );
}

#[test]
fn event_layouts_match_the_vectors() {
    let generated = event_samples::vectors();
    let path = vectors_dir().join("events.json");
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).expect("events.json (run with UPDATE_VECTORS=1 to write it)");
    assert_eq!(stored, text, "event layouts changed: the Move package must change too (UPDATE_VECTORS=1 rewrites)");
    let names: Vec<&str> =
        generated["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for name in atoma_protocol::Event::NAMES {
        assert!(names.contains(name), "no vector for event {name}");
    }
}
