//! One sample of every event, with the BCS bytes the Rust layout gives and
//! each field's Move type, for `tests/vectors/events.json`. The Move tests
//! (generated from that file) emit the same events from Move and compare
//! the bytes.

use atoma_protocol::events::*;
use atoma_protocol::{Address, Digest, Event, FailReason, Input, Mode, ObjectId, Params, Role, Round, SlashReason};
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
                name: "h100-80gb/cuda-12.4/torch-2.5".into(),
                min_collateral: 5_000,
                task_lock: 500,
            },
            &["u64", "String", "u64", "u64"],
        ),
        sample(
            ModelAdded { model_id: "tiny-gpt".into(), weight_digest: d(9), class_id: 3 },
            &["String", "digest", "u64"],
        ),
        sample(ParamsUpdated { params: Params { max_n: 8, ..params } }, &["Params"]),
        sample(TreasuryWithdrawn { amount: 77, recipient: Address::from_u64(0xabc) }, &["u64", "address"]),
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
    ];
    json!({
        "origin": "protocol/tests/event_samples.rs (the Rust layout); UPDATE_VECTORS=1 cargo test -p atoma-protocol --test vectors rewrites it",
        "module": atoma_protocol::events::EVENTS_MODULE,
        "events": events,
    })
}
