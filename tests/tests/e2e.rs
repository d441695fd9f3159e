//! End to end, as separate processes (the local network, `atoma-node`
//! processes running the test model, the SDK here): slashing and
//! redistribution exact to the MIST, the CrossValidation flip rate against
//! p, Sealed mode's indistinguishability for the primary, an absent Sealed
//! verifier slashed, and chat and embedding requests to Hugging Face models
//! (a generated Llama, the real all-MiniLM-L6-v2), and two classes served
//! side by side without a request writing the `Network`. Per-node behaviours (every mode, each
//! misbehaviour, crash recovery, refused inputs) are in
//! `executor/tests/node.rs`; attacks on honest nodes in `adversaries.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use atoma_e2e::{COLLATERAL, Cluster, ClusterSpec, HfModel, NodeSpec, TASK_LOCK, request_events};
use atoma_localnet::genesis::ParamsConfig;
use atoma_protocol::output::Output;
use atoma_protocol::params::bps_of;
use atoma_protocol::{Event, Mode, Role, SlashReason};
use atoma_sdk::client::Outcome;
use atoma_sdk::{InputSpec, RequestSpec};
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;

const WAIT: Duration = Duration::from_secs(120);

/// The commit timeout of the Hugging Face models' requests: the class's
/// shortest (`min_timeout_ms` + the model's run-time bound + the class's
/// longest, the chat model's).
fn hf_timeout_ms() -> u64 {
    atoma_protocol::params::LATENCY_FLOOR_MS + 2 * HfModel::tiny_llama().max_run_ms()
}

fn spec(nodes: Vec<NodeSpec>, params: ParamsConfig) -> ClusterSpec {
    ClusterSpec { nodes, params, seed: Some([17; 32]), ..ClusterSpec::default() }
}

fn honest(n: usize) -> Vec<NodeSpec> {
    (0..n).map(|_| NodeSpec::default()).collect()
}

fn request(prompt: &str, mode: Mode) -> RequestSpec {
    let input = format!("{{\"prompt\":\"{prompt}\",\"max_tokens\":4}}").into_bytes();
    RequestSpec { timeout_ms: 8_000, ..RequestSpec::new("tiny-gpt", InputSpec::Bytes(input), mode) }
}

fn quiet(_: &str) {}

/// The SUI balance changes of a transaction, by address.
async fn balance_changes(cluster: &Cluster, digest: &sui_sdk_types::Digest) -> BTreeMap<Address, i128> {
    let mut rpc = sui_rpc::Client::new(&cluster.url).unwrap();
    let mut req = proto::GetTransactionRequest::default();
    req.digest = Some(digest.to_string());
    req.read_mask = Some(FieldMask::from_paths(["balance_changes"]));
    let tx = rpc.ledger_client().get_transaction(req).await.unwrap().into_inner().transaction.unwrap();
    tx.balance_changes
        .iter()
        .map(|b| (b.address.as_deref().unwrap().parse().unwrap(), b.amount.as_deref().unwrap().parse().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_output_is_slashed_and_redistributed_exactly() {
    // Seven nodes: a Sampling pair and the five fresh nodes of its dispute quorum.
    let mut nodes = honest(7);
    nodes[0].adversary = Some("wrong-output".into());
    let cluster = Cluster::start(&spec(nodes, ParamsConfig::default()), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let cheater = cluster.nodes[0].id;
    // Each request samples the cheater with probability 2/7: 50 requests all
    // miss it about once in 10^7 runs.
    for i in 0..50 {
        let from = chain.checkpoint_height().await.unwrap();
        let treasury_before = chain.protocol_revenue().await.unwrap();
        let handle = client.submit(request(&format!("exact {i}"), Mode::Sampling { n: 2 })).await.unwrap();
        let attestation = handle.finality_within(WAIT).await.unwrap();
        if !handle.executors().contains(&cheater) {
            continue;
        }
        let Outcome::Finalized { nodes: winners, .. } = &attestation.outcome else {
            panic!("{:?}", attestation.outcome)
        };
        let events = request_events(chain, handle.id(), from, WAIT).await.unwrap();
        let slashed: Vec<(Address, SlashReason, u64)> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::NodeSlashed(s) => Some((Address::from(s.node_id), s.reason, s.amount)),
                _ => None,
            })
            .collect();
        assert_eq!(
            slashed,
            vec![(cheater, SlashReason::WrongOutput, TASK_LOCK)],
            "the whole stake of the cheater only"
        );
        let (per_node, finalize_tx) = events
            .iter()
            .find_map(|e| match &e.event {
                Event::RequestFinalized(f) => Some((f.reward_per_node, e.transaction)),
                _ => None,
            })
            .unwrap();
        // fee + slash - protocol share, split equally; the class's revenue gets the share and the remainder.
        let share = bps_of(TASK_LOCK, atoma_protocol::Params::default().protocol_share_bps);
        let total = handle.fee() + TASK_LOCK - share;
        let k = winners.len() as u64;
        assert_eq!(per_node, total / k);
        let treasury_after = chain.protocol_revenue().await.unwrap();
        assert_eq!(treasury_after - treasury_before, share + total % k);
        // Collateral: the cheater lost exactly its stake; the others kept theirs.
        assert_eq!(chain.node(cheater).await.unwrap().unwrap().collateral, COLLATERAL - TASK_LOCK);
        for w in winners {
            assert_eq!(chain.node(*w).await.unwrap().unwrap().collateral, COLLATERAL);
        }
        // Each winner's owner was paid exactly `per_node` (the one that sent the
        // finalizing transaction also paid its gas there).
        let changes = balance_changes(&cluster, &finalize_tx).await;
        let sender = events.iter().find(|e| e.transaction == finalize_tx).unwrap().sender;
        for w in winners {
            let owner = Address::new(chain.node(*w).await.unwrap().unwrap().owner.0);
            if owner != sender {
                assert_eq!(changes.get(&owner).copied(), Some(per_node as i128), "winner {w}");
            }
        }
        cluster.audit().await.unwrap();
        return;
    }
    panic!("the cheater was not sampled in 50 requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cross_validation_flip_rate_matches_p() {
    let cluster = Cluster::start(&spec(honest(3), ParamsConfig::default()), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let from = chain.checkpoint_height().await.unwrap();
    let (p, requests, wave) = (0.25, 60, 10);
    // Each request locks collateral on its nodes until it is final, so the
    // requests go in waves that three nodes can always serve.
    let mut checked = 0;
    for start in (0..requests).step_by(wave) {
        let mut handles = Vec::new();
        for i in start..start + wave {
            let mode = Mode::CrossValidation { p_bps: 2_500, n: 1 };
            handles.push(client.submit(request(&format!("flip {i}"), mode)).await.unwrap());
        }
        for h in &handles {
            let attestation = h.finality_within(WAIT).await.unwrap();
            let events = request_events(chain, h.id(), from, WAIT).await.unwrap();
            let drawn = events.iter().find_map(|e| match &e.event {
                Event::VerificationDrawn(v) => Some(v.checked),
                _ => None,
            });
            let drawn = drawn.expect("every primary committed and drew");
            assert_eq!(attestation.verified(), drawn, "checked requests are verified, the others not");
            checked += drawn as u32;
        }
    }
    // 99.9 % two-sided interval of a binomial(60, 0.25): 15 ± 3.29 sd.
    let sd = (requests as f64 * p * (1.0 - p)).sqrt();
    let expected = requests as f64 * p;
    assert!(
        (checked as f64 - expected).abs() <= 3.29 * sd,
        "{checked} of {requests} checked, expected {expected} ± {:.1}",
        3.29 * sd
    );
}

/// The event kinds and roles a primary sees until it has committed.
fn primary_view(events: &[atoma_sdk::PackageEvent], primary: Address) -> Vec<String> {
    let mut view = Vec::new();
    for e in events {
        match &e.event {
            Event::RequestSubmitted(_) => view.push("submitted".to_string()),
            Event::NodesSelected(s) => view.push(format!("selected {:?} x{}", s.role, s.nodes.len())),
            Event::Committed(c) => {
                view.push(if Address::from(c.node_id) == primary {
                    "primary committed".into()
                } else {
                    "other committed".into()
                });
                if Address::from(c.node_id) == primary {
                    break;
                }
            }
            other => view.push(other.name().to_string()),
        }
    }
    view
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_primary_sees_the_same_whether_it_is_checked_or_not() {
    let cluster = Cluster::start(&spec(honest(5), ParamsConfig::default()), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let mut views: BTreeMap<bool, Vec<Vec<String>>> = BTreeMap::new();
    for i in 0..16 {
        let from = chain.checkpoint_height().await.unwrap();
        let handle = client.submit(request(&format!("sealed {i}"), Mode::Sealed { p_bps: 5_000, n: 1 })).await.unwrap();
        let (checked, chosen) = handle.sealed_draw().unwrap();
        let attestation = handle.finality_within(WAIT).await.unwrap();
        assert_eq!(attestation.verified(), checked);
        let primary = handle.executors()[0];
        assert!(!chosen.contains(&primary));
        let events = request_events(chain, handle.id(), from, WAIT).await.unwrap();
        views.entry(checked).or_default().push(primary_view(&events, primary));
        // Only the chosen verifier was told: no other pool member logged a notice.
        for (i, n) in cluster.nodes.iter().enumerate() {
            let told = cluster
                .log(i)
                .lines()
                .any(|l| l.contains("told it verifies") && l.contains(&format!("request={}", handle.id())));
            if told {
                assert!(chosen.contains(&n.id), "node {i} was told but is not chosen");
            }
        }
    }
    let (Some(checked), Some(unchecked)) = (views.get(&true), views.get(&false)) else {
        panic!("16 draws at p = 0.5 gave only one outcome: {views:?}")
    };
    let expected = vec![
        "submitted".to_string(),
        "selected Executor x1".into(),
        "selected Candidate x3".into(),
        "primary committed".into(),
    ];
    for v in checked.iter().chain(unchecked) {
        assert_eq!(v, &expected, "until it commits, a primary sees the same in both cases");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absent_sealed_verifier_is_slashed() {
    // Five nodes: the primary, a pool of three and one left to refill the
    // verifier's seat, so the silent node is the chosen verifier in about one
    // request of five. It stakes more than the minimum, so that a timeout
    // slash as primary leaves it eligible.
    let mut nodes = honest(5);
    nodes[0].adversary = Some("silent".into());
    nodes[0].collateral = Some(3 * COLLATERAL);
    let cluster = Cluster::start(&spec(nodes, ParamsConfig::default()), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let absent = cluster.nodes[0].id;
    // Each request makes the silent node the chosen verifier with probability
    // 4/5 (not the primary) x 3/4 (in the pool) x 1/3 (chosen): 40 requests
    // all miss it about once in 10^5 runs.
    let mut aside = Vec::new();
    for i in 0..40 {
        let from = chain.checkpoint_height().await.unwrap();
        let handle =
            client.submit(request(&format!("absent {i}"), Mode::Sealed { p_bps: 10_000, n: 1 })).await.unwrap();
        let (_, chosen) = handle.sealed_draw().unwrap();
        if handle.executors().contains(&absent) {
            // A silent primary is replaced at its deadline; the request is seen
            // to its end aside, releasing its locks.
            aside.push(tokio::spawn(async move { handle.finality_within(WAIT).await.map(|_| ()) }));
            continue;
        }
        let attestation = handle.finality_within(WAIT).await;
        if !chosen.contains(&absent) {
            continue;
        }
        let attestation = attestation.unwrap();
        let events = request_events(chain, handle.id(), from, WAIT).await.unwrap();
        let slashed: Vec<(Address, SlashReason)> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::NodeSlashed(s) => Some((Address::from(s.node_id), s.reason)),
                _ => None,
            })
            .collect();
        assert_eq!(slashed, vec![(absent, SlashReason::Timeout)]);
        assert!(matches!(attestation.outcome, Outcome::Finalized { verified: true, .. }), "{:?}", attestation.outcome);
        let roles: Vec<Role> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::NodesSelected(s) => Some(s.role),
                _ => None,
            })
            .collect();
        // The pool at submission, the verifier once the secret chose it, and
        // the fresh node that took its seat when it stayed silent.
        assert_eq!(roles, [Role::Executor, Role::Candidate, Role::Verifier, Role::Verifier]);
        // The audit reads events and balances: no request may settle between the two.
        for settling in aside {
            settling.await.unwrap().unwrap();
        }
        cluster.audit().await.unwrap();
        return;
    }
    panic!("the silent node was never the chosen verifier in 40 requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trained_chat_model_from_gguf_answers_a_question_it_can_answer() {
    // SmolLM2-135M-Instruct, from the GGUF file scripts/setup installs,
    // served by two nodes: greedy, it knows the capital of France.
    let spec = ClusterSpec { hf_models: vec![HfModel::SmolLm2], ..spec(honest(2), ParamsConfig::default()) };
    let cluster = Cluster::start(&spec, None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let model = HfModel::SmolLm2.id();
    let input = serde_json::to_vec(&serde_json::json!({
        "messages": [{ "role": "user", "content": "What is the capital of France? Answer in one sentence." }],
        "max_tokens": 24,
    }))
    .unwrap();
    let spec = RequestSpec {
        timeout_ms: client.chain().shortest_timeout_ms(model).await.unwrap(),
        ..RequestSpec::new(model, InputSpec::Bytes(input), Mode::Sampling { n: 2 })
    };
    let handle = client.submit(spec).await.unwrap();
    let first = handle.first_output_within(WAIT).await.unwrap();
    let attestation = handle.finality_within(WAIT).await.unwrap();
    atoma_sdk::verify(&first.output, &attestation).unwrap();
    assert!(attestation.verified(), "{:?}", attestation.outcome);
    let Output::Text(text) = Output::decode(&first.output) else { panic!("not a text output") };
    assert!(text.text.contains("Paris"), "{:?}", text.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_and_embedding_requests_to_hugging_face_models_are_served_verified_and_a_cheater_is_slashed() {
    // Seven nodes serving a generated Llama chat model and the real
    // all-MiniLM-L6-v2; node 0 returns wrong outputs.
    let mut nodes = honest(7);
    nodes[0].adversary = Some("wrong-output".into());
    let spec =
        ClusterSpec { hf_models: vec![HfModel::tiny_llama(), HfModel::MiniLm], ..spec(nodes, ParamsConfig::default()) };
    let cluster = Cluster::start(&spec, None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let cheater = cluster.nodes[0].id;
    let mut caught = false;
    for i in 0..40 {
        let input = serde_json::to_vec(&serde_json::json!({
            "messages": [{ "role": "user", "content": format!("What is the capital of France? ({i})") }],
            "max_tokens": 12,
        }))
        .unwrap();
        let from = chain.checkpoint_height().await.unwrap();
        let spec = RequestSpec {
            timeout_ms: hf_timeout_ms(),
            ..RequestSpec::new(HfModel::tiny_llama().id(), InputSpec::Bytes(input.clone()), Mode::Sampling { n: 2 })
        };
        let handle = client.submit(spec).await.unwrap();
        let first = handle.first_output_within(WAIT).await.unwrap();
        let attestation = handle.finality_within(WAIT).await.unwrap();
        let Outcome::Finalized { output_digest, .. } = attestation.outcome else { panic!("{:?}", attestation.outcome) };
        // The attested output is the model's: a text output equal to a native run's.
        let seed = request_events(chain, handle.id(), from, WAIT)
            .await
            .unwrap()
            .iter()
            .find_map(|e| match &e.event {
                Event::RequestSubmitted(s) => Some(s.seed.0),
                _ => None,
            })
            .unwrap();
        let (_, native) = cluster.native(HfModel::tiny_llama().id(), &input, &seed, 1).unwrap();
        assert_eq!(native, atoma_protocol::Digest(output_digest).to_string());
        if first.node != cheater {
            atoma_sdk::verify(&first.output, &attestation).unwrap();
            let Output::Text(text) = Output::decode(&first.output) else { panic!("not a text output") };
            assert!(text.prompt_tokens > 10 && !text.tokens.is_empty() && text.tokens.len() <= 12, "{text:?}");
        }
        if handle.executors().contains(&cheater) {
            let events = request_events(chain, handle.id(), from, WAIT).await.unwrap();
            assert!(events.iter().any(|e| matches!(&e.event,
                Event::NodeSlashed(s) if Address::from(s.node_id) == cheater && s.reason == SlashReason::WrongOutput)));
            caught = true;
            break;
        }
    }
    assert!(caught, "40 requests never sampled the cheater (probability about 1e-6)");

    // Embeddings, checked by a verifier: two unit vectors of 384 values.
    let input = br#"{"input": ["Verifiable inference on Sui", "A quorum agrees bit for bit"]}"#.to_vec();
    let spec = RequestSpec {
        timeout_ms: hf_timeout_ms(),
        ..RequestSpec::new(HfModel::MiniLm.id(), InputSpec::Bytes(input), Mode::CrossValidation { p_bps: 10_000, n: 1 })
    };
    let handle = client.submit(spec).await.unwrap();
    let attestation = handle.finality_within(WAIT).await.unwrap();
    assert!(attestation.verified(), "{:?}", attestation.outcome);
    let first = handle.first_output_within(WAIT).await.unwrap();
    if first.node != cheater {
        atoma_sdk::verify(&first.output, &attestation).unwrap();
        let Output::Embeddings(e) = Output::decode(&first.output) else { panic!("not embeddings") };
        assert_eq!((e.rows, e.dims), (2, 384));
        let norm: f32 = e.row(1).iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_classes_serve_their_own_requests_and_no_request_writes_the_network() {
    let classes = vec![atoma_e2e::ClassSpec { threads: 1 }, atoma_e2e::ClassSpec { threads: 2 }];
    let nodes = (0..4).map(|i| NodeSpec { class: i % 2, ..NodeSpec::default() }).collect();
    let cluster =
        Cluster::start(&ClusterSpec { classes: classes.clone(), ..spec(nodes, ParamsConfig::default()) }, None, &quiet)
            .await
            .unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let version = |o: proto::Object| (o.version.unwrap(), o.digest.unwrap());
    let network = chain.identity().network;
    let rpc = sui_rpc::Client::new(&cluster.url).unwrap();
    let get = |id: Address| {
        let mut req = proto::GetObjectRequest::default();
        req.object_id = Some(id.to_string());
        req.read_mask = Some(FieldMask::from_paths(["version", "digest"]));
        let mut rpc = rpc.clone();
        async move { rpc.ledger_client().get_object(req).await.unwrap().into_inner().object.unwrap() }
    };
    let network_before = version(get(network).await);
    let mut class_versions = Vec::new();
    for (k, class) in classes.iter().enumerate() {
        let object = chain.class_object(k as u64).await.unwrap();
        let before = version(get(object).await);
        let input = b"{\"prompt\":\"two classes\",\"max_tokens\":4}".to_vec();
        let spec = RequestSpec {
            timeout_ms: 8_000,
            ..RequestSpec::new(&class.model(), InputSpec::Bytes(input), Mode::Sampling { n: 2 })
        };
        let handle = client.submit(spec).await.unwrap();
        let attestation = handle.finality_within(WAIT).await.unwrap();
        assert!(matches!(attestation.outcome, Outcome::Finalized { verified: true, .. }), "{:?}", attestation.outcome);
        // Only the class's own nodes served it.
        for node in handle.executors() {
            let i = cluster.index_of(node).unwrap();
            assert_eq!(i % 2, k, "node {i} of another class served class {k}");
        }
        assert_eq!(chain.request(handle.id()).await.unwrap().class_id, k as u64);
        class_versions.push((object, before));
    }
    // The requests wrote their class objects and never the Network.
    assert_eq!(version(get(network).await), network_before, "a request wrote the Network");
    for (object, before) in class_versions {
        assert_ne!(version(get(object).await), before, "class object {object} was not written");
    }
    atoma_e2e::audit::audit(chain).await.unwrap();
}
