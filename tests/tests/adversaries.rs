//! The adversarial suite: every attack on honest nodes that docs/protocol.md
//! ("Threats and the rules that meet them") lists, played against real
//! `atoma-node` processes on a local network, plus the misbehaviours that
//! always lost. Each test ends with `Cluster::audit`: every balance the
//! protocol holds recomputed from the events to the MIST and compared with
//! the chain, and SUI conserved over the run; and checks who was slashed,
//! for what, and who was paid.
//!
//! The nodes' draws are random, so a test that needs a node in a given seat
//! submits requests until the draw puts it there, checking the rules on
//! every request on the way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atoma_e2e::audit::Audit;
use atoma_e2e::{COLLATERAL, Cluster, ClusterSpec, NodeSpec, TASK_LOCK, TINY_GPT_TIMEOUT_MS, request_events};
use atoma_localnet::genesis::ParamsConfig;
use atoma_protocol::commitment::{blake2b256, secret_hash};
use atoma_protocol::output::ErrorOutput;
use atoma_protocol::params::LATENCY_FLOOR_MS;
use atoma_protocol::{Event, FailReason, Mode, Params, ProtocolError, Role, SlashReason, Status, SubmitArgs};
use atoma_sdk::client::Outcome;
use atoma_sdk::{InputSpec, RequestHandle, RequestSpec, SdkError};
use sui_sdk_types::Address;

const WAIT: Duration = Duration::from_secs(180);

fn quiet(_: &str) {}

fn cluster_spec(nodes: Vec<NodeSpec>) -> ClusterSpec {
    ClusterSpec { nodes, ..ClusterSpec::default() }
}

fn honest(n: usize) -> Vec<NodeSpec> {
    (0..n).map(|_| NodeSpec::honest()).collect()
}

fn prompt(text: &str) -> Vec<u8> {
    format!("{{\"prompt\":\"{text}\",\"max_tokens\":4}}").into_bytes()
}

fn request(text: &str, mode: Mode) -> RequestSpec {
    RequestSpec {
        timeout_ms: TINY_GPT_TIMEOUT_MS,
        ..RequestSpec::new("tiny-gpt", InputSpec::Bytes(prompt(text)), mode)
    }
}

/// The honest output's digest for `text`: what honest nodes commit to.
fn honest_digest(cluster: &Cluster, text: &str) -> [u8; 32] {
    let (_, digest) = cluster.native(&cluster.classes[0].model(), &prompt(text), &[0; 32], 1).unwrap();
    atoma_protocol::Digest::from_hex(&digest).unwrap().0
}

/// No node in `honest` was ever slashed.
fn assert_never_slashed(audit: &Audit, cluster: &Cluster, honest: &[usize]) {
    for &i in honest {
        let id = cluster.nodes[i].id;
        assert!(!audit.slashed(&id), "honest node {i} slashed: {:?}", audit.slashes_of(&id));
    }
}

/// Every slash of node `i` has one of `reasons`.
fn assert_slashed_only_for(audit: &Audit, cluster: &Cluster, i: usize, reasons: &[SlashReason]) {
    for (request, reason, _) in audit.slashes_of(&cluster.nodes[i].id) {
        assert!(reasons.contains(&reason), "node {i} slashed for {reason:?} on {request}");
    }
}

/// Retries a call that may meet the node process using the same key's gas
/// coins at the same moment (a stale coin version), never a protocol error.
async fn retry<T, F: std::future::Future<Output = Result<T, SdkError>>>(
    mut call: impl FnMut() -> F,
) -> Result<T, SdkError> {
    for _ in 0..5 {
        match call().await {
            Err(e) if e.protocol_error().is_none() && !matches!(e, SdkError::Execution { .. }) => {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            other => return other,
        }
    }
    call().await
}

async fn finish(handle: &RequestHandle) -> Outcome {
    handle.finality_within(WAIT).await.unwrap().outcome
}

/// The roles each node held on a request, from its events.
async fn seats(cluster: &Cluster, handle: &RequestHandle, from: u64) -> BTreeMap<Address, Vec<Role>> {
    let chain = cluster.chain().await.unwrap();
    let mut out: BTreeMap<Address, Vec<Role>> = BTreeMap::new();
    for e in request_events(&chain, handle.id(), from, WAIT).await.unwrap() {
        if let Event::NodesSelected(s) = e.event {
            for n in s.nodes {
                out.entry(Address::from(n)).or_default().push(s.role);
            }
        }
    }
    out
}

// === 1 and 5: a dispute whose silent seats stay empty; a lazy disputer ===

#[tokio::test(flavor = "multi_thread")]
async fn silent_disputers_cannot_shrink_the_quorum_and_a_lazy_disputer_is_not_paid() {
    // Eight nodes: a Sampling pair leaves six fresh nodes, five for its
    // dispute quorum and one to refill the seat the silent node leaves
    // empty (docs/protocol.md, "Seats"; with seven, a dispute the silent
    // node sits in ends NoDisputeQuorum). #0 cheats, #1 is silent, #2 is a
    // lazy disputer, #3..#7 are honest. Misbehaving nodes stake more so
    // that a slash leaves them eligible.
    let mut nodes = honest(8);
    nodes[0] = NodeSpec::adversary("wrong-output", 4);
    nodes[1] = NodeSpec::adversary("silent", 4);
    nodes[2] = NodeSpec::adversary("lazy-disputer", 4);
    let cluster = Cluster::start(&cluster_spec(nodes), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let (cheater, silent, lazy) = (cluster.nodes[0].id, cluster.nodes[1].id, cluster.nodes[2].id);
    let mut seen_silent_seat = false;
    let mut seen_lazy_disputer = false;
    for i in 0..40 {
        let text = format!("dispute {i}");
        let from = chain.checkpoint_height().await.unwrap();
        let handle = client.submit(request(&text, Mode::Sampling { n: 2 })).await.unwrap();
        let outcome = finish(&handle).await;
        let seats = seats(&cluster, &handle, from).await;
        let disputer = |n: &Address| seats.get(n).is_some_and(|r| r.contains(&Role::Disputer));
        if let Outcome::Finalized { output_digest, nodes, .. } = &outcome {
            assert_eq!(*output_digest, honest_digest(&cluster, &text), "request {i} finalized a wrong output");
            assert!(!nodes.contains(&cheater));
            if disputer(&lazy) {
                assert!(!nodes.contains(&lazy), "request {i}: the lazy disputer was paid");
            }
        }
        seen_silent_seat |= disputer(&silent) && handle.executors().contains(&cheater);
        seen_lazy_disputer |= disputer(&lazy) && matches!(outcome, Outcome::Finalized { .. });
        if seen_silent_seat && seen_lazy_disputer {
            break;
        }
    }
    assert!(seen_silent_seat, "no dispute had the silent node in its quorum in 40 requests");
    assert!(seen_lazy_disputer, "the lazy node was never a disputer of a decided dispute in 40 requests");
    let audit = cluster.audit().await.unwrap();
    assert_never_slashed(&audit, &cluster, &[3, 4, 5, 6, 7]);
    assert_slashed_only_for(&audit, &cluster, 0, &[SlashReason::WrongOutput]);
    assert_slashed_only_for(&audit, &cluster, 1, &[SlashReason::Timeout]);
    // The lazy node is honest in the main round: only its dispute votes lose.
    assert_slashed_only_for(&audit, &cluster, 2, &[SlashReason::WrongOutput]);
    assert!(audit.slashed(&lazy), "the lazy disputer lost its stake");
}

// === 2: inputs the model refuses, and inputs nobody can fetch ===

/// An input server for URI requests: valid inputs, errors, hangs, large
/// bodies, and one that serves only the first two nodes that ask.
async fn input_server(inputs: BTreeMap<String, Vec<u8>>) -> String {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    type S = Arc<(BTreeMap<String, Vec<u8>>, AtomicUsize)>;
    async fn ok(State(s): State<S>, Path(name): Path<String>) -> axum::response::Response {
        match s.0.get(&name) {
            Some(b) => b.clone().into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    async fn slow(state: State<S>, name: Path<String>) -> axum::response::Response {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ok(state, name).await
    }
    async fn after_two(state: State<S>, name: Path<String>) -> axum::response::Response {
        // The requester withholds its input from the first two fetches only.
        if state.1.fetch_add(1, Ordering::SeqCst) < 2 {
            StatusCode::FORBIDDEN.into_response()
        } else {
            ok(state, name).await
        }
    }
    async fn some(state: State<S>, name: Path<String>) -> axum::response::Response {
        // The requester withholds its input from all but the first two fetches.
        if state.1.fetch_add(1, Ordering::SeqCst) < 2 {
            ok(state, name).await
        } else {
            StatusCode::FORBIDDEN.into_response()
        }
    }
    let app = axum::Router::new()
        .route("/ok/{name}", axum::routing::get(ok))
        .route("/slow/{name}", axum::routing::get(slow))
        .route("/some/{name}", axum::routing::get(some))
        .route("/after-two/{name}", axum::routing::get(after_two))
        .route("/missing", axum::routing::get(|| async { StatusCode::NOT_FOUND }))
        .route("/broken", axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/hang",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                "late"
            }),
        )
        .route("/big2", axum::routing::get(|| async { vec![b'x'; 2 << 20] }))
        .route("/big4", axum::routing::get(|| async { vec![b'x'; 4 << 20] }))
        .with_state(Arc::new((inputs, AtomicUsize::new(0))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn uri(uri: String, content: &[u8]) -> InputSpec {
    InputSpec::Uri { uri, digest: blake2b256(content).0 }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_inputs_finalize_an_error_output_and_unobtainable_ones_fail_without_slashing() {
    let cluster = Cluster::start(&cluster_spec(honest(5)), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let good = prompt("a good input");
    let server = input_server(BTreeMap::from([("good".to_string(), good.clone())])).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sampling = Mode::Sampling { n: 5 };
    let spec = |input| RequestSpec { timeout_ms: TINY_GPT_TIMEOUT_MS, ..RequestSpec::new("tiny-gpt", input, sampling) };

    // Refused by the model: an error output all five nodes agree on.
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"hello world".to_vec(), "invalid_json"),
        ("wrong JSON shape", br#"{"text":"x"}"#.to_vec(), "invalid_json"),
        ("a million tokens", br#"{"prompt":"x","max_tokens":1000000}"#.to_vec(), "max_tokens_out_of_range"),
        ("negative tokens", br#"{"prompt":"x","max_tokens":-1}"#.to_vec(), "max_tokens_out_of_range"),
    ];
    let mut handles = Vec::new();
    for (what, bytes, code) in &refused {
        handles.push((*what, *code, client.submit(spec(InputSpec::Bytes(bytes.clone()))).await.unwrap()));
    }
    for (what, code, handle) in &handles {
        let (first, attestation) = tokio::join!(handle.first_output_within(WAIT), handle.finality_within(WAIT));
        let (first, attestation) = (first.unwrap(), attestation.unwrap());
        let Outcome::Finalized { nodes, verified, .. } = &attestation.outcome else {
            panic!("{what}: {:?}", attestation.outcome)
        };
        assert!(*verified && nodes.len() == 5, "{what}: all five agree");
        atoma_sdk::verify(&first.output, &attestation).unwrap();
        assert_eq!(ErrorOutput::from_bytes(&first.output).map(|e| e.code).as_deref(), Some(*code), "{what}");
    }

    // Unobtainable: the nodes abstain and no refill is left (every node of the
    // class was drafted); the requester pays the minimum fee, to the class's
    // revenue, for the capacity its request locked.
    let min_fee = client.chain().network().await.unwrap().params.min_fee_for(sampling);
    let unobtainable: Vec<(&str, InputSpec)> = vec![
        ("404", uri(format!("{server}/missing"), &good)),
        ("503", uri(format!("{server}/broken"), &good)),
        ("hanging", uri(format!("{server}/hang"), &good)),
        ("2 MiB", uri(format!("{server}/big2"), &vec![b'x'; 2 << 20])),
        ("4 MiB", uri(format!("{server}/big4"), &vec![b'x'; 4 << 20])),
        ("digest mismatch", uri(format!("{server}/ok/good"), b"something else")),
        ("ftp", uri("ftp://127.0.0.1/input".into(), &good)),
        ("refused connection", uri(format!("http://127.0.0.1:{closed}/x"), &good)),
    ];
    let mut handles = Vec::new();
    for (what, input) in unobtainable {
        handles.push((what, client.submit(spec(input)).await.unwrap()));
    }
    for (what, handle) in &handles {
        match finish(handle).await {
            Outcome::Failed { reason: FailReason::InputUnavailable, refund } => {
                assert_eq!(refund, handle.fee() - min_fee, "{what}: the fee less the minimum fee")
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    // Slow but there: computed. Withheld from all but two nodes: two seats
    // of five never finalize it (the output is not had for two nodes' pay);
    // it fails as unobtainable.
    let slow = client.submit(spec(uri(format!("{server}/slow/good"), &good))).await.unwrap();
    let some = client.submit(spec(uri(format!("{server}/some/good"), &good))).await.unwrap();
    let Outcome::Finalized { nodes, .. } = finish(&slow).await else { panic!("the slow input was not computed") };
    assert_eq!(nodes.len(), 5);
    match finish(&some).await {
        Outcome::Failed { reason: FailReason::InputUnavailable, refund } => assert_eq!(refund, some.fee() - min_fee),
        other => panic!("the partial input: {other:?}"),
    }

    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "nobody is slashed: {:?}", audit.slashes);
    // Each unobtainable request failed on an abstention; none left a seat to a
    // node that neither committed nor abstained.
    for (what, handle) in handles.iter().chain([&("partial", some)]) {
        let id = atoma_protocol::ObjectId::from(handle.id());
        let abstained =
            audit.events.iter().filter(|e| matches!(&e.event, Event::Abstained(a) if a.request_id == id)).count();
        assert!((1..=5).contains(&abstained), "{what}: {abstained} abstentions");
    }
}

// === 3 and 11: the Sealed secret inside its window, never, or wrong ===

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_secret_counts_only_inside_its_window_and_untold_verifiers_get_their_timeout() {
    let cluster = Cluster::start(&cluster_spec(honest(5)), None, &quiet).await.unwrap();
    let requester = cluster.requester_chain().await.unwrap();
    let chain = cluster.chain().await.unwrap();
    let secret = [7u8; 32];
    let hash = secret_hash(&atoma_protocol::Digest(secret)).0;
    let args = |text: &str| {
        let input = prompt(text);
        SubmitArgs {
            model_id: "tiny-gpt".into(),
            input_digest: blake2b256(&input).0.to_vec(),
            input_inline: input,
            input_uri: None,
            timeout_ms: TINY_GPT_TIMEOUT_MS,
        }
    };
    let fee = Params::default().min_fee(1, 10_000, 1);
    let verifying = |request: Address| {
        let chain = &chain;
        async move {
            loop {
                let r = chain.request(request).await.unwrap();
                if r.status == Status::Verifying {
                    return r.deadline_ms;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;

    // Revealed 300 ms before the window closes, told to no verifier: the
    // verifier learns it from the chain and still has its whole timeout.
    let (late, _) =
        requester.submit(&args("last moment"), Mode::Sealed { p_bps: 10_000, n: 1 }, Some(&hash), fee).await.unwrap();
    let deadline = verifying(late).await;
    tokio::time::sleep(Duration::from_millis(deadline.saturating_sub(now_ms() + 300))).await;
    requester.reveal_secret(late, &secret).await.unwrap();
    // A wrong secret is refused.
    let (wrong, _) =
        requester.submit(&args("wrong secret"), Mode::Sealed { p_bps: 10_000, n: 1 }, Some(&hash), fee).await.unwrap();
    verifying(wrong).await;
    let err = requester.reveal_secret(wrong, &[8; 32]).await.unwrap_err();
    assert_eq!(err.protocol_error(), Some(ProtocolError::SecretMismatch), "{err}");
    // Revealed after the window: refused; the primary's answer stands unverified.
    let (after, _) = requester
        .submit(&args("after the window"), Mode::Sealed { p_bps: 10_000, n: 1 }, Some(&hash), fee)
        .await
        .unwrap();
    let deadline = verifying(after).await;
    tokio::time::sleep(Duration::from_millis(deadline.saturating_sub(now_ms()) + 100)).await;
    let err = requester.reveal_secret(after, &secret).await.unwrap_err();
    assert_eq!(err.protocol_error(), Some(ProtocolError::DeadlinePassed), "{err}");

    // Keepers (the nodes) end each request; the secret of `wrong` and `after` is never revealed.
    for (request, verified) in [(late, true), (wrong, false), (after, false)] {
        let deadline = tokio::time::Instant::now() + WAIT;
        let r = loop {
            let r = chain.request(request).await.unwrap();
            if r.status.is_final() {
                break r;
            }
            assert!(tokio::time::Instant::now() < deadline, "request {request} did not settle");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(r.status, Status::Finalized, "{request}");
        let winners = r.slots.iter().filter(|s| s.reveal.is_some()).count();
        assert_eq!(winners >= 2, verified, "request {request}: verified = {verified}");
    }
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "nobody is slashed: {:?}", audit.slashes);
}

// === 4: parameters are fixed at submission ===

#[tokio::test(flavor = "multi_thread")]
async fn parameters_changed_in_flight_do_not_reach_the_request() {
    let mut nodes = honest(4);
    nodes[0] = NodeSpec::adversary("silent", 4);
    let cluster = Cluster::start(&cluster_spec(nodes), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let admin = cluster.requester_chain().await.unwrap();
    let silent = cluster.nodes[0].id;
    let before = client.chain().network().await.unwrap().params;
    let harsh = Params { timeout_slash_bps: 10_000, protocol_share_bps: 5_000, max_retries: 0, ..before };
    for i in 0..20 {
        let handle = client.submit(request(&format!("params {i}"), Mode::Sampling { n: 3 })).await.unwrap();
        if !handle.executors().contains(&silent) {
            finish(&handle).await;
            continue;
        }
        // While it runs, the admin makes timeouts cost the whole stake and stops replacements.
        admin.set_params(cluster.admin_cap, &harsh).await.unwrap();
        let outcome = finish(&handle).await;
        assert!(matches!(outcome, Outcome::Finalized { verified: true, .. }), "replaced as before: {outcome:?}");
        let audit = cluster.audit().await.unwrap();
        assert_eq!(audit.slashes_of(&silent), vec![(handle.id(), SlashReason::Timeout, bps(TASK_LOCK, before))]);
        assert_eq!(client.chain().request(handle.id()).await.unwrap().params, before);
        // A request submitted now takes the new parameters.
        let later = client.submit(request("after the change", Mode::Sampling { n: 1 })).await.unwrap();
        assert_eq!(client.chain().request(later.id()).await.unwrap().params, harsh);
        finish(&later).await;
        cluster.audit().await.unwrap();
        return;
    }
    panic!("the silent node was not sampled in 20 requests");
}

fn bps(amount: u64, params: Params) -> u64 {
    atoma_protocol::params::bps_of(amount, params.timeout_slash_bps)
}

// === 6: a class too small for a full dispute quorum ===

#[tokio::test(flavor = "multi_thread")]
async fn a_dispute_the_class_cannot_fill_fails_without_slashing_anyone() {
    // Two colluders and two honest nodes: every quorum of three disagrees,
    // and one fresh node is left where the dispute needs seven.
    let mut nodes = honest(4);
    nodes[0] = NodeSpec::adversary("wrong-output", 1);
    nodes[1] = NodeSpec::adversary("wrong-output", 1);
    let cluster = Cluster::start(&cluster_spec(nodes), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    assert_eq!(atoma_protocol::security::min_class_size(Mode::Sampling { n: 3 }, 3), 10);
    for i in 0..3 {
        let handle = client.submit(request(&format!("small {i}"), Mode::Sampling { n: 3 })).await.unwrap();
        match finish(&handle).await {
            Outcome::Failed { reason: FailReason::NoDisputeQuorum, refund } => assert_eq!(refund, handle.fee()),
            other => panic!("request {i}: {other:?}"),
        }
    }
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "nobody is slashed for an output no full quorum judged: {:?}", audit.slashes);
}

// === 7 and 8: capacity costs what it locks; failures never credit their sender ===

#[tokio::test(flavor = "multi_thread")]
async fn cheap_sealed_requests_do_not_lock_the_class_and_failed_transactions_credit_nobody() {
    let cluster = Cluster::start(&cluster_spec(honest(4)), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let fee = Params::default().min_fee(1, 0, 1);
    let mut sealed = Vec::new();
    for i in 0..10 {
        let spec =
            RequestSpec { max_fee: Some(fee), ..request(&format!("cheap {i}"), Mode::Sealed { p_bps: 0, n: 1 }) };
        sealed.push(client.submit(spec).await.unwrap());
    }
    let locked: u64 = client.chain().nodes().await.unwrap().iter().map(|(_, n)| n.locked).sum();
    assert!(locked <= 10 * TASK_LOCK, "ten Sealed requests lock {locked}, at most one task each");
    // Another requester is served by the whole class at once.
    let all = client.submit(request("the whole class", Mode::Sampling { n: 4 })).await.unwrap();
    assert!(matches!(finish(&all).await, Outcome::Finalized { .. }));
    for h in &sealed {
        assert!(matches!(finish(h).await, Outcome::Finalized { .. }));
    }
    // A transaction that fails under the smallest budget, ten times: the sender only pays.
    let small = cluster.requester_chain().await.unwrap().with_gas_budget(1_000_000);
    for _ in 0..10 {
        let before = small.balance().await.unwrap();
        let err = small.select_nodes(all.id()).await.unwrap_err();
        assert!(matches!(err, SdkError::Protocol { .. } | SdkError::Execution { .. }), "{err}");
        let after = small.balance().await.unwrap();
        assert!(after < before, "a failed transaction credited its sender {} MIST", after - before);
    }
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty());
}

// === 9: idle connections cannot starve a node ===

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_do_not_starve_a_node_of_file_descriptors() {
    let mut nodes = honest(3);
    nodes[0].max_open_files = Some(400);
    let cluster = Cluster::start(&cluster_spec(nodes), None, &quiet).await.unwrap();
    let port = cluster.nodes[0].port;
    // 450 connections that never send a byte, under a limit of 400 files.
    let mut idle = Vec::new();
    for _ in 0..450 {
        if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            idle.push(s);
        }
    }
    let client = cluster.client().await.unwrap();
    let good = prompt("fetched while besieged");
    let server = input_server(BTreeMap::from([("good".to_string(), good.clone())])).await;
    for i in 0..2 {
        let spec = RequestSpec {
            timeout_ms: TINY_GPT_TIMEOUT_MS,
            ..RequestSpec::new("tiny-gpt", uri(format!("{server}/ok/good"), &good), Mode::Sampling { n: 3 })
        };
        let handle = client.submit(spec).await.unwrap();
        let Outcome::Finalized { nodes, .. } = finish(&handle).await else { panic!("request {i}") };
        assert!(nodes.contains(&cluster.nodes[0].id), "request {i}: the besieged node computed and was paid");
    }
    // Idle connections ahead of it in the backlog are closed by the header timeout.
    let answered = tokio::task::spawn_blocking(move || {
        atoma_e2e::wait_for("/health", Duration::from_secs(30), || Ok(atoma_e2e::health(port)))
    });
    answered.await.unwrap().expect("the besieged node answers /health");
    drop(idle);
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "{:?}", audit.slashes);
}

// === 9, again: strangers stalling in request heads and bodies cannot starve a node ===

/// How a stranger stalls on a node's output server.
#[derive(Clone, Copy)]
enum Stall {
    /// Sends a whole `POST /v1/sealed/...` head announcing 100000 bytes of
    /// body, then three bytes.
    Body,
    /// Sends a request head a byte every half second, never finishing it.
    Head,
}

/// Strangers stalling on `port`, each opening a new connection once the node
/// closes its last, so that the pressure stays; they stop when this is dropped.
struct Siege {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    opened: Arc<AtomicUsize>,
}

impl Siege {
    fn start(port: u16, stall: Stall, strangers: usize) -> Siege {
        let opened = Arc::new(AtomicUsize::new(0));
        let tasks = (0..strangers)
            .map(|_| {
                let opened = opened.clone();
                tokio::spawn(async move {
                    loop {
                        stall_once(port, stall, &opened).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                })
            })
            .collect();
        Siege { tasks, opened }
    }

    fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Waits until every stranger has a connection open (accepted or in the backlog).
    async fn all_connected(&self) {
        let strangers = self.tasks.len();
        tokio::time::timeout(Duration::from_secs(60), async {
            while self.opened() < strangers {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{} of {strangers} strangers connected", self.opened()));
    }
}

impl Drop for Siege {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One connection of a stranger, until the node closes it.
async fn stall_once(port: u16, stall: Stall, opened: &AtomicUsize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return };
    opened.fetch_add(1, Ordering::SeqCst);
    let head = match stall {
        Stall::Body => format!(
            "POST /v1/sealed/{} HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{{\"s",
            Address::ZERO
        ),
        Stall::Head => format!("GET /v1/outputs/{} HTTP/1.1\r\nhost: node\r\nx-drip: ", Address::ZERO),
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut drip = tokio::time::interval(Duration::from_millis(500));
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { return },
            _ = drip.tick(), if matches!(stall, Stall::Head) => if stream.write_all(b"a").await.is_err() { return },
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_stalling_in_heads_and_bodies_on_every_member_keep_no_requester_from_its_output() {
    let cluster = Cluster::start(&cluster_spec(honest(3)), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    // On every node, more strangers stalling in a body than it keeps
    // connections (256): a server that waits for bodies gives them every
    // slot. Then more, dripping a head.
    let mut sieges = Vec::new();
    for node in &cluster.nodes {
        sieges.push(Siege::start(node.port, Stall::Body, 300));
    }
    for s in &sieges {
        s.all_connected().await;
    }
    for node in &cluster.nodes {
        sieges.push(Siege::start(node.port, Stall::Head, 100));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let opened_before: usize = sieges.iter().map(Siege::opened).sum();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let port = node.port;
        // Connecting may wait on a full backlog: the whole check is bounded.
        let answered = tokio::time::timeout(
            Duration::from_secs(40),
            tokio::task::spawn_blocking(move || {
                atoma_e2e::wait_for("/health", Duration::from_secs(30), || Ok(atoma_e2e::health(port)))
            }),
        );
        match answered.await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("node {i} under siege does not answer /health: {other:?}"),
        }
    }
    // Every node is a member of the request; the requester asks them all.
    let handle = client.submit(request("besieged", Mode::Sampling { n: 3 })).await.unwrap();
    let timed =
        atoma_e2e::first_output_and_finality(&handle, std::time::Instant::now(), Duration::from_secs(60), WAIT).await;
    let first = timed.first.0.expect("the requester gets its first output from a besieged node");
    let attestation = timed.finality.0.unwrap();
    let Outcome::Finalized { nodes, verified: true, .. } = &attestation.outcome else {
        panic!("{:?}", attestation.outcome)
    };
    assert_eq!(nodes.len(), 3, "every besieged member computed and was paid");
    atoma_sdk::verify(&first.output, &attestation).unwrap();
    // The pressure stayed: the nodes kept closing strangers, who came back.
    let opened_after: usize = sieges.iter().map(Siege::opened).sum();
    assert!(opened_after > opened_before, "the strangers held their connections throughout");
    drop(sieges);
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "{:?}", audit.slashes);
}

// === 10: a chain halt longer than the commit timeout ===

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_halt_longer_than_the_commit_timeout_slashes_nobody() {
    let spec = ClusterSpec {
        nodes: honest(3),
        params: ParamsConfig {
            reveal_window_ms: Some(LATENCY_FLOOR_MS),
            max_retries: Some(1),
            grace_ms: Some(10_000),
            ..Default::default()
        },
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&spec, None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    // An input that takes 2 s to fetch, seen after the halt: fetched and run
    // in the grace.
    let good = prompt("halt late input");
    let server = input_server(BTreeMap::from([("good".to_string(), good.clone())])).await;
    let late = uri(format!("{server}/slow/good"), &good);
    let spec =
        RequestSpec { timeout_ms: TINY_GPT_TIMEOUT_MS, ..RequestSpec::new("tiny-gpt", late, Mode::Sampling { n: 3 }) };
    let mut handles = vec![client.submit(spec).await.unwrap()];
    for i in 0..3 {
        let spec = request(&format!("halt {i}"), Mode::Sampling { n: 3 });
        handles.push(client.submit(spec).await.unwrap());
    }
    // 25 s without a checkpoint, while the clock runs on past every deadline.
    cluster.halt_chain(Duration::from_secs(25)).await.unwrap();
    for h in &handles {
        let outcome = finish(h).await;
        assert!(matches!(outcome, Outcome::Finalized { verified: true, .. }), "{outcome:?}");
    }
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "honest nodes slashed after a halt: {:?}", audit.slashes);
}

// === 12 and 18: a timeout shorter than a run; a model the nodes do not have yet ===

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_shorter_than_the_class_needs_is_refused_and_a_model_not_yet_installed_is_declined() {
    let cluster = Cluster::start(&cluster_spec(honest(3)), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let chain = client.chain();
    let model = cluster.classes[0].model();
    // The chain's floor for the tiny GPT: the latency floor, its bound, the class's longest (its own).
    let shortest = chain.shortest_timeout_ms(&model).await.unwrap();
    assert_eq!(shortest, TINY_GPT_TIMEOUT_MS);
    let at = |timeout_ms: u64, text: &str| RequestSpec { timeout_ms, ..request(text, Mode::Sampling { n: 2 }) };
    let Err(err) = client.submit(at(shortest - 1, "one ms short")).await else { panic!("accepted") };
    assert_eq!(err.protocol_error(), Some(ProtocolError::InvalidTimeout), "{err}");

    // The admin adds a model that runs up to 20 s: a node drafted for the tiny
    // GPT may be finishing such a run, so every timeout of the class grows.
    let admin = cluster.requester_chain().await.unwrap();
    let class_id = chain.model(&model).await.unwrap().class_id;
    retry(|| admin.add_model(cluster.admin_cap, "slow-model", &[9; 32], class_id, 20_000)).await.unwrap();
    let longer = chain.shortest_timeout_ms(&model).await.unwrap();
    assert_eq!(longer, shortest + 20_000 - atoma_e2e::TINY_GPT_RUN_MS);
    let Err(err) = client.submit(at(shortest, "the old floor")).await else { panic!("accepted") };
    assert_eq!(err.protocol_error(), Some(ProtocolError::InvalidTimeout), "{err}");
    let handle = client.submit(at(longer, "the new floor")).await.unwrap();
    assert!(matches!(finish(&handle).await, Outcome::Finalized { verified: true, .. }));

    // No operator installed the new model yet: each drafted node declines at
    // once, the refill's too, and the request fails with the fee refunded.
    let slow = RequestSpec {
        timeout_ms: chain.shortest_timeout_ms("slow-model").await.unwrap(),
        ..RequestSpec::new("slow-model", InputSpec::Bytes(prompt("not installed")), Mode::Sampling { n: 1 })
    };
    let handle = client.submit(slow).await.unwrap();
    match finish(&handle).await {
        Outcome::Failed { reason: FailReason::Timeout, refund } => assert_eq!(refund, handle.fee()),
        other => panic!("{other:?}"),
    }
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "nobody is slashed: {:?}", audit.slashes);
    let declined = audit.events.iter().filter(|e| matches!(e.event, Event::Declined(_))).count();
    assert_eq!(declined, 2, "the drafted node and its replacement declined");
}

// === 14: an input served to some nodes and not others ===

#[tokio::test(flavor = "multi_thread")]
async fn an_input_withheld_from_the_first_members_is_computed_by_their_replacements_and_nobody_is_slashed() {
    let spec = ClusterSpec {
        nodes: honest(5),
        params: ParamsConfig { max_retries: Some(2), ..ClusterSpec::default().params },
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&spec, None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let good = prompt("withheld from the first two");
    let server = input_server(BTreeMap::from([("good".to_string(), good.clone())])).await;
    let input = uri(format!("{server}/after-two/good"), &good);
    let handle = client
        .submit(RequestSpec {
            timeout_ms: TINY_GPT_TIMEOUT_MS,
            ..RequestSpec::new("tiny-gpt", input, Mode::Sampling { n: 2 })
        })
        .await
        .unwrap();
    let first = handle.executors().to_vec();
    // The two members drafted first abstain; two fresh nodes take their
    // seats, fetch the input and decide with the whole quorum.
    let Outcome::Finalized { nodes, verified, output_digest } = finish(&handle).await else { panic!("not finalized") };
    assert!(verified && nodes.len() == 2, "{nodes:?}");
    assert!(nodes.iter().all(|n| !first.contains(n)), "the replacements decide: {nodes:?}, first {first:?}");
    assert_eq!(output_digest, honest_digest(&cluster, "withheld from the first two"));
    let audit = cluster.audit().await.unwrap();
    assert!(audit.slashes.is_empty(), "nobody is slashed: {:?}", audit.slashes);
    let abstained: Vec<Address> = audit
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Abstained(a) => Some(Address::from(a.node_id)),
            _ => None,
        })
        .collect();
    assert_eq!(abstained.len(), 2);
    assert!(abstained.iter().all(|a| first.contains(a)), "{abstained:?}");
}

// === What always lost: colluders, keepers out of order, withdrawing with open tasks ===

#[tokio::test(flavor = "multi_thread")]
async fn colluders_with_one_wrong_output_lose_every_dispute_they_do_not_fill() {
    // Two colluders that give the same wrong output, five honest nodes.
    let mut nodes = honest(7);
    nodes[0] = NodeSpec::adversary("wrong-output", 4);
    nodes[1] = NodeSpec::adversary("wrong-output", 4);
    let cluster = Cluster::start(&cluster_spec(nodes), None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let colluders = [cluster.nodes[0].id, cluster.nodes[1].id];
    let mut disputes = 0;
    for i in 0..24 {
        let text = format!("colluders {i}");
        let handle = client.submit(request(&text, Mode::Sampling { n: 2 })).await.unwrap();
        let main = handle.executors().to_vec();
        match finish(&handle).await {
            Outcome::Finalized { output_digest, .. } => {
                // A wrong output wins only when every member of the quorum colludes (r^n).
                if output_digest != honest_digest(&cluster, &text) {
                    assert!(main.iter().all(|m| colluders.contains(m)), "request {i}: a mixed quorum lost");
                }
                disputes += main.iter().any(|m| colluders.contains(m)) as u32;
            }
            other => panic!("request {i}: {other:?}"),
        }
        if disputes >= 3 {
            break;
        }
    }
    assert!(disputes >= 3, "fewer than three disputes in 24 requests");
    let audit = cluster.audit().await.unwrap();
    assert_never_slashed(&audit, &cluster, &[2, 3, 4, 5, 6]);
    assert_slashed_only_for(&audit, &cluster, 0, &[SlashReason::WrongOutput]);
    assert_slashed_only_for(&audit, &cluster, 1, &[SlashReason::WrongOutput]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keeper_calls_out_of_order_and_twice_change_nothing_and_open_tasks_block_a_withdrawal() {
    let spec = ClusterSpec {
        nodes: vec![
            NodeSpec::adversary("silent", 2),
            NodeSpec::honest(),
            NodeSpec::honest(),
            NodeSpec::honest(),
            NodeSpec::honest(),
        ],
        params: ParamsConfig {
            reveal_window_ms: Some(LATENCY_FLOOR_MS),
            max_retries: Some(1),
            grace_ms: Some(LATENCY_FLOOR_MS),
            unbonding_delay_ms: Some(1_000),
            ..Default::default()
        },
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&spec, None, &quiet).await.unwrap();
    let client = cluster.client().await.unwrap();
    let keeper = cluster.requester_chain().await.unwrap();
    let operator = cluster.operator(0).await.unwrap();
    let silent = cluster.nodes[0].id;
    // Four of five nodes are sampled until the silent one is: it holds a task
    // until it times out, and the fifth node takes its seat.
    let mut handle = client.submit(request("keepers 0", Mode::Sampling { n: 4 })).await.unwrap();
    for i in 1.. {
        if handle.executors().contains(&silent) {
            break;
        }
        assert!(i < 40, "the silent node was never drawn");
        finish(&handle).await;
        handle = client.submit(request(&format!("keepers {i}"), Mode::Sampling { n: 4 })).await.unwrap();
    }
    retry(|| operator.request_leave(silent)).await.unwrap();
    let err = retry(|| operator.withdraw(silent)).await.unwrap_err();
    assert_eq!(err.protocol_error(), Some(ProtocolError::Unbonding), "{err}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let err = retry(|| operator.withdraw(silent)).await.unwrap_err();
    assert_eq!(err.protocol_error(), Some(ProtocolError::OpenTasks), "{err}");
    // A keeper calls everything, out of order and twice, while the request runs.
    let running = async {
        loop {
            if keeper.request(handle.id()).await.unwrap().status.is_final() {
                return;
            }
            for _ in 0..2 {
                for result in [
                    keeper.select_nodes(handle.id()).await,
                    keeper.open_dispute(handle.id()).await,
                    keeper.expire(handle.id()).await,
                ] {
                    if let Err(e) = result {
                        let allowed = [ProtocolError::WrongPhase, ProtocolError::DeadlineNotReached];
                        assert!(e.protocol_error().is_some_and(|p| allowed.contains(&p)), "{e}");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    tokio::time::timeout(WAIT, running).await.unwrap();
    let outcome = finish(&handle).await;
    assert!(matches!(outcome, Outcome::Finalized { verified: true, .. }), "{outcome:?}");
    // The task is over: the node withdraws what the timeout slash left.
    retry(|| operator.withdraw(silent)).await.unwrap();
    let audit = cluster.audit().await.unwrap();
    assert_never_slashed(&audit, &cluster, &[1, 2, 3, 4]);
    assert_eq!(audit.slashes_of(&silent).len(), 1);
    assert_slashed_only_for(&audit, &cluster, 0, &[SlashReason::Timeout]);
    let withdrawn = audit.events.iter().find_map(|e| match &e.event {
        Event::NodeWithdrawn(w) if Address::from(w.node_id) == silent => Some(w.amount),
        _ => None,
    });
    let slashed: u64 = audit.slashes_of(&silent).iter().map(|s| s.2).sum();
    assert_eq!(withdrawn, Some(2 * COLLATERAL - slashed));
}
