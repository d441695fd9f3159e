//! One sample of every event, with the BCS bytes the Rust layout gives and
//! each field's Move type, for `tests/vectors/events.json`. The Move tests
//! (generated from that file) emit the same events from Move and compare
//! the bytes.

use atoma_protocol::events::*;
use atoma_protocol::request::{Selection, Slot};
use atoma_protocol::{
    Address, Digest, Event, FailReason, Input, Mode, ObjectId, Params, Role, Round, SlashReason, Status,
};
use serde_json::{Map, Value, json};

fn id(n: u64) -> ObjectId {
    ObjectId::from_u64(n)
}

fn d(b: u8) -> Digest {
    Digest([b; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Turns serde's JSON of a 32-byte array or byte vector into hex.
fn bytes_to_hex(v: &Value) -> Value {
    let bytes: Vec<u8> = v.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
    Value::String(hex(&bytes))
}

fn typed(ty: &str, v: &Value) -> Value {
    match ty {
        "ID" | "address" | "digest" | "vector<u8>" => bytes_to_hex(v),
        "vector<ID>" | "vector<digest>" => Value::Array(v.as_array().unwrap().iter().map(bytes_to_hex).collect()),
        "Input" => match v.as_object().unwrap().iter().next().unwrap() {
            (k, inner) if k == "Inline" => json!({ "Inline": bytes_to_hex(inner) }),
            (k, inner) => json!({ k.clone(): inner.clone() }),
        },
        _ => v.clone(),
    }
}

/// An event's vector: its name, typed fields in declaration order, and BCS.
fn sample(e: impl Into<Event> + serde::Serialize + Clone, types: &[&str]) -> Value {
    let raw = serde_json::to_value(e.clone()).unwrap();
    let obj = raw.as_object().unwrap();
    assert_eq!(obj.len(), types.len(), "one type per field");
    let fields: Vec<Value> = obj
        .iter()
        .zip(types)
        .map(|((name, value), ty)| json!({ "name": name, "type": ty, "value": typed(ty, value) }))
        .collect();
    let event: Event = e.into();
    let mut out = Map::new();
    out.insert("name".into(), event.name().into());
    out.insert("fields".into(), Value::Array(fields));
    out.insert("bcs".into(), hex(&event.to_bcs()).into());
    Value::Object(out)
}

pub fn vectors() -> Value {
    let params = Params::default();
    let events = vec![
        sample(NetworkCreated { network_id: id(1), admin_cap_id: id(2), params }, &["ID", "ID", "Params"]),
        sample(
            HardwareClassAdded {
                class_id: 3,
                object_id: id(30),
                name: "h100-80gb/cuda-12.4/torch-2.5".into(),
                profile: "device=cuda;dtype=bf16;threads=1;cpu_capability=avx2;libtorch=2.13.0".into(),
                min_collateral: 5_000,
                task_lock: 500,
            },
            &["u64", "ID", "String", "String", "u64", "u64"],
        ),
        sample(
            ModelAdded { model_id: "tiny-gpt".into(), weight_digest: d(9), class_id: 3, max_run_ms: 20_000 },
            &["String", "digest", "u64", "u64"],
        ),
        sample(ParamsUpdated { params: Params { max_n: 8, ..params } }, &["Params"]),
        sample(TreasuryWithdrawn { amount: 77, recipient: Address::from_u64(0xabc) }, &["u64", "address"]),
        sample(RevenueSwept { class_id: 3, amount: 1_234 }, &["u64", "u64"]),
        sample(Migrated { object_id: id(31), version: 2 }, &["ID", "u64"]),
        sample(
            NodeRegistered {
                node_id: id(4),
                owner: Address::from_u64(5),
                class_id: 3,
                collateral: 10_000,
                endpoint: "http://127.0.0.1:9000".into(),
                public_key: vec![0xee; 32],
            },
            &["ID", "address", "u64", "u64", "String", "vector<u8>"],
        ),
        sample(CollateralAdded { node_id: id(4), amount: 1, collateral: 10_001 }, &["ID", "u64", "u64"]),
        sample(EndpointUpdated { node_id: id(4), endpoint: "https://n.example".into() }, &["ID", "String"]),
        sample(NodeLeaving { node_id: id(4), withdraw_after_ms: 1 << 40 }, &["ID", "u64"]),
        sample(NodeWithdrawn { node_id: id(4), amount: 9_000 }, &["ID", "u64"]),
        sample(
            RequestSubmitted {
                request_id: id(6),
                requester: Address::from_u64(7),
                model_id: "tiny-gpt".into(),
                input_digest: d(1),
                input: Input::Inline(b"hello".to_vec()),
                mode: Mode::Sealed { p_bps: 1_000, n: 2 },
                fee: 3_000_000,
                seed: d(2),
                timeout_ms: 60_000,
            },
            &["ID", "address", "String", "digest", "Input", "Mode", "u64", "digest", "u64"],
        ),
        sample(
            RequestSubmitted {
                request_id: id(8),
                requester: Address::from_u64(7),
                model_id: "m".into(),
                input_digest: d(3),
                input: Input::Uri("https://inputs.example/x".into()),
                mode: Mode::CrossValidation { p_bps: 500, n: 3 },
                fee: 1,
                seed: d(4),
                timeout_ms: 1_000,
            },
            &["ID", "address", "String", "digest", "Input", "Mode", "u64", "digest", "u64"],
        ),
        sample(
            NodesSelected {
                request_id: id(6),
                role: Role::Candidate,
                nodes: vec![id(10), id(11), id(12)],
                deadline_ms: 123,
            },
            &["ID", "Role", "vector<ID>", "u64"],
        ),
        sample(
            NodesSelected { request_id: id(8), role: Role::Executor, nodes: vec![id(10)], deadline_ms: 1 },
            &["ID", "Role", "vector<ID>", "u64"],
        ),
        sample(Committed { request_id: id(6), node_id: id(10), commitment: d(5) }, &["ID", "ID", "digest"]),
        sample(VerificationDrawn { request_id: id(8), checked: true }, &["ID", "bool"]),
        sample(
            RevealPhaseStarted { request_id: id(6), round: Round::Dispute, deadline_ms: 456 },
            &["ID", "Round", "u64"],
        ),
        sample(Revealed { request_id: id(6), node_id: id(10), output_digest: d(6) }, &["ID", "ID", "digest"]),
        sample(
            SecretRevealed { request_id: id(6), checked: true, verifiers: vec![id(11), id(12)] },
            &["ID", "bool", "vector<ID>"],
        ),
        sample(DisputeRaised { request_id: id(6), quorum_size: 7 }, &["ID", "u64"]),
        sample(
            NodeSlashed { request_id: id(6), node_id: id(11), reason: SlashReason::Withheld, amount: 500 },
            &["ID", "ID", "SlashReason", "u64"],
        ),
        sample(
            RequestFinalized {
                request_id: id(6),
                output_digest: d(6),
                nodes: vec![id(10), id(12)],
                verified: true,
                reward_per_node: 1_500_000,
            },
            &["ID", "digest", "vector<ID>", "bool", "u64"],
        ),
        sample(
            RequestFailed { request_id: id(8), reason: FailReason::NoMajority, refund: 42 },
            &["ID", "FailReason", "u64"],
        ),
        sample(
            RequestFailed { request_id: id(8), reason: FailReason::InputUnavailable, refund: 3_000_000 },
            &["ID", "FailReason", "u64"],
        ),
        sample(Abstained { request_id: id(8), node_id: id(10) }, &["ID", "ID"]),
        sample(Declined { request_id: id(8), node_id: id(11) }, &["ID", "ID"]),
        sample(DeadlineExtended { request_id: id(6), deadline_ms: 1 << 41 }, &["ID", "u64"]),
    ];
    json!({
        "origin": "protocol/tests/event_samples.rs (the Rust layout); UPDATE_VECTORS=1 cargo test -p atoma-protocol --test vectors rewrites it",
        "module": atoma_protocol::events::EVENTS_MODULE,
        "events": events,
    })
}

fn opt_hex(d: Option<Digest>) -> Value {
    d.map_or(Value::Null, |d| Value::String(hex(&d.0)))
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Executor => "Executor",
        Role::Verifier => "Verifier",
        Role::Candidate => "Candidate",
        Role::Disputer => "Disputer",
    }
}

/// A `Request` object in mid-flight (a Sealed request whose secret chose one
/// verifier, one candidate released, reveals under way), with its BCS, for
/// `tests/vectors/objects.json`: the Move test builds the same object and
/// compares the bytes after its id.
pub fn request_vector() -> Value {
    let slot = |n: u64, role, stake, commitment: Option<u8>, reveal: Option<u8>, salt: Option<u8>, active| Slot {
        node_id: id(n),
        role,
        stake,
        commitment: commitment.map(d),
        reveal: reveal.map(d),
        salt: salt.map(d),
        active,
    };
    let r = atoma_protocol::Request {
        id: id(0x77),
        network_id: id(1),
        requester: Address::from_u64(7),
        model_id: "tiny-gpt".into(),
        class_id: 3,
        input_digest: d(1),
        input: Input::Uri("https://inputs.example/x".into()),
        mode: Mode::Sealed { p_bps: 2_500, n: 1 },
        secret_hash: Some(d(2)),
        secret: Some(d(3)),
        checked: Some(true),
        seed: d(4),
        timeout_ms: 60_000,
        params: Params { grace_ms: 12_345, ..Params::default() },
        fee: 3_000_000,
        pool: 900,
        status: Status::Revealing,
        round: Round::Main,
        deadline_ms: 1 << 40,
        extended: true,
        retries: 1,
        input_unavailable: true,
        slots: vec![
            slot(10, Role::Executor, 500, Some(5), Some(6), Some(7), true),
            slot(11, Role::Verifier, 500, Some(8), None, None, true),
            slot(12, Role::Candidate, 0, None, None, None, false),
        ],
        selection: Selection { role: Role::Verifier, count: 1, seed: d(9) },
        dispute_size: 0,
        output_digest: None,
        created_ms: 1_000,
    };
    let slots: Vec<Value> = r
        .slots
        .iter()
        .map(|s| {
            json!({
                "node_id": hex(&s.node_id.0), "role": role_name(s.role), "stake": s.stake,
                "commitment": opt_hex(s.commitment), "reveal": opt_hex(s.reveal), "salt": opt_hex(s.salt),
                "active": s.active,
            })
        })
        .collect();
    let fields = json!([
        { "name": "network_id", "type": "ID", "value": hex(&r.network_id.0) },
        { "name": "requester", "type": "address", "value": hex(&r.requester.0) },
        { "name": "model_id", "type": "String", "value": r.model_id },
        { "name": "class_id", "type": "u64", "value": r.class_id },
        { "name": "input_digest", "type": "digest", "value": hex(&r.input_digest.0) },
        { "name": "input", "type": "Input", "value": { "Uri": "https://inputs.example/x" } },
        { "name": "mode", "type": "Mode", "value": { "Sealed": { "p_bps": 2_500, "n": 1 } } },
        { "name": "secret_hash", "type": "Option<digest>", "value": opt_hex(r.secret_hash) },
        { "name": "secret", "type": "Option<digest>", "value": opt_hex(r.secret) },
        { "name": "checked", "type": "Option<bool>", "value": r.checked },
        { "name": "seed", "type": "digest", "value": hex(&r.seed.0) },
        { "name": "timeout_ms", "type": "u64", "value": r.timeout_ms },
        { "name": "params", "type": "Params", "value": serde_json::to_value(r.params).unwrap() },
        { "name": "fee", "type": "u64", "value": r.fee },
        { "name": "pool", "type": "u64", "value": r.pool },
        { "name": "status", "type": "Status", "value": "Revealing" },
        { "name": "round", "type": "Round", "value": "Main" },
        { "name": "deadline_ms", "type": "u64", "value": r.deadline_ms },
        { "name": "extended", "type": "bool", "value": r.extended },
        { "name": "retries", "type": "u64", "value": r.retries },
        { "name": "input_unavailable", "type": "bool", "value": r.input_unavailable },
        { "name": "slots", "type": "vector<Slot>", "value": slots },
        { "name": "selection", "type": "Selection", "value": {
            "role": role_name(r.selection.role), "count": r.selection.count, "seed": hex(&r.selection.seed.0) } },
        { "name": "dispute_size", "type": "u64", "value": r.dispute_size },
        { "name": "output_digest", "type": "Option<digest>", "value": opt_hex(r.output_digest) },
        { "name": "created_ms", "type": "u64", "value": r.created_ms },
    ]);
    let bcs = r.to_bcs();
    json!({
        "origin": "protocol/tests/event_samples.rs (the Rust layout); UPDATE_VECTORS=1 cargo test -p atoma-protocol --test vectors rewrites it",
        "request": { "fields": fields, "bcs_after_id": hex(&bcs[32..]) },
    })
}
