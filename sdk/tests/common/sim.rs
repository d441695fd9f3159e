//! Simulated nodes for the SDK's tests: each follows the package's events
//! with the SDK's event stream, "runs the model" (a function of the input),
//! commits and reveals with the SDK's typed calls, serves its output with the
//! node output protocol, and takes Sealed notices. A test double of the node
//! service, small enough to read in one go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::{Event, Input, Mode, ObjectId, Role};
use atoma_sdk::http;
use atoma_sdk::{Chain, EventStream, Start};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use sui_sdk_types::Address;
use tokio::sync::Notify;

/// What a simulated node outputs for an input.
pub type Model = fn(&[u8]) -> Vec<u8>;

pub fn honest(input: &[u8]) -> Vec<u8> {
    [b"echo:".as_slice(), input].concat()
}

#[derive(Default)]
struct Request {
    requester: Option<Address>,
    input: Vec<u8>,
    mode: Option<Mode>,
    output: Option<(Vec<u8>, [u8; 32])>,
    selected_as: Option<Role>,
    notice: Option<[u8; 32]>,
    primary_committed: bool,
    committed: bool,
}

struct Shared {
    node: Address,
    key: atoma_sdk::Key,
    requests: Mutex<HashMap<Address, Request>>,
    ready: Notify,
}

/// Starts a simulated node; returns its HTTP endpoint. It runs until the test ends.
pub async fn start(chain: Chain, node: Address, model: Model, listener: tokio::net::TcpListener) {
    let shared = Arc::new(Shared { node, key: chain.key().clone(), requests: Mutex::default(), ready: Notify::new() });
    let app = axum::Router::new()
        .route("/v1/outputs/{request}", axum::routing::get(serve_output))
        .route("/v1/sealed/{request}", axum::routing::post(take_notice))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut events = EventStream::new(chain.rpc(), chain.identity().package, Start::Checkpoint(0));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                e = events.next() => {
                    let Ok(e) = e else { continue };
                    on_event(&chain, &shared, model, e.event).await;
                }
                _ = shared.ready.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
            // A Sealed verifier commits once it holds a notice and the primary committed.
            let due: Vec<Address> = shared
                .requests
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, r)| r.notice.is_some() && r.primary_committed && !r.committed)
                .map(|(id, _)| *id)
                .collect();
            for request in due {
                execute_and_commit(&chain, &shared, model, request, false, false).await;
            }
        }
    });
}

async fn on_event(chain: &Chain, shared: &Shared, model: Model, event: Event) {
    let me = ObjectId::from(shared.node);
    match event {
        Event::RequestSubmitted(s) => {
            let input = match s.input {
                Input::Inline(b) => b,
                Input::Uri(_) => Vec::new(),
            };
            let mut requests = shared.requests.lock().unwrap();
            let r = requests.entry(Address::from(s.request_id)).or_default();
            r.requester = Some(Address::from(s.requester));
            r.input = input;
            r.mode = Some(s.mode);
        }
        Event::NodesSelected(s) if s.nodes.contains(&me) => {
            let request = Address::from(s.request_id);
            let mode = {
                let mut requests = shared.requests.lock().unwrap();
                let r = requests.entry(request).or_default();
                r.selected_as = Some(s.role);
                r.mode
            };
            if s.role != Role::Candidate {
                let primary = s.role == Role::Executor && matches!(mode, Some(Mode::CrossValidation { .. }));
                execute_and_commit(chain, shared, model, request, primary, s.role == Role::Disputer).await;
            }
        }
        Event::Committed(c) => {
            let mut requests = shared.requests.lock().unwrap();
            if let Some(r) = requests.get_mut(&Address::from(c.request_id))
                && matches!(r.mode, Some(Mode::Sealed { .. }))
                && c.node_id != me
            {
                r.primary_committed = true;
            }
        }
        Event::RevealPhaseStarted(p) => {
            let request = Address::from(p.request_id);
            let output = shared.requests.lock().unwrap().get(&request).and_then(|r| r.output.clone());
            if let Some((bytes, salt)) = output {
                let _ = chain.reveal(request, shared.node, &http::output_digest(&bytes), &salt).await;
            }
        }
        _ => {}
    }
}

/// Runs the model and commits; a disputer's salt is the dispute key of its output.
async fn execute_and_commit(
    chain: &Chain,
    shared: &Shared,
    model: Model,
    request: Address,
    primary: bool,
    disputer: bool,
) {
    let (output, salt) = {
        let mut requests = shared.requests.lock().unwrap();
        let r = requests.entry(request).or_default();
        if r.committed {
            return;
        }
        r.committed = true;
        let output = model(&r.input);
        let salt = if disputer {
            atoma_protocol::commitment::dispute_key(&ObjectId::from(request), &output).0
        } else {
            blake2b256(&[shared.node.as_bytes(), request.as_bytes()].concat()).0
        };
        r.output = Some((output.clone(), salt));
        (output, salt)
    };
    shared.ready.notify_waiters();
    let c = commitment(
        &ObjectId::from(request),
        &ObjectId::from(shared.node),
        &atoma_protocol::Digest(http::output_digest(&output)),
        &atoma_protocol::Digest(salt),
    );
    let result = if primary {
        chain.commit_primary(request, shared.node, &c.0).await
    } else {
        chain.commit(request, shared.node, &c.0).await
    };
    if let Err(e) = result {
        eprintln!("simulated node {}: commit failed: {e}", shared.node);
    }
}

#[derive(serde::Deserialize)]
struct Wait {
    wait_ms: Option<u64>,
}

async fn serve_output(
    State(shared): State<Arc<Shared>>,
    Path(request): Path<Address>,
    Query(wait): Query<Wait>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let signature = headers.get(http::REQUESTER_SIGNATURE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Ok(signer) = http::verify_output_request(signature, &request) else {
        return (StatusCode::UNAUTHORIZED, HeaderMap::new(), Vec::new());
    };
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(wait.wait_ms.unwrap_or(0).min(http::MAX_WAIT_MS));
    loop {
        let notified = shared.ready.notified();
        let found = {
            let requests = shared.requests.lock().unwrap();
            match requests.get(&request) {
                Some(r) if r.requester != Some(signer) => return (StatusCode::FORBIDDEN, HeaderMap::new(), Vec::new()),
                Some(r) => r.output.clone(),
                None => None,
            }
        };
        if let Some((output, salt)) = found {
            let digest = http::output_digest(&output);
            let mut h = HeaderMap::new();
            h.insert(http::NODE, shared.node.to_string().parse().unwrap());
            h.insert(http::OUTPUT_DIGEST, http::hex(&digest).parse().unwrap());
            h.insert(http::SALT, http::hex(&salt).parse().unwrap());
            let sig = http::sign_served_output(&shared.key, &request, &shared.node, &digest, &salt).unwrap();
            h.insert(http::NODE_SIGNATURE, sig.parse().unwrap());
            return (StatusCode::OK, h, output);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return (StatusCode::NOT_FOUND, HeaderMap::new(), Vec::new());
        }
    }
}

async fn take_notice(
    State(shared): State<Arc<Shared>>,
    Path(request): Path<Address>,
    axum::Json(notice): axum::Json<http::SealedNotice>,
) -> StatusCode {
    let Some(secret) = http::parse_hex32(&notice.secret) else { return StatusCode::BAD_REQUEST };
    shared.requests.lock().unwrap().entry(request).or_default().notice = Some(secret);
    shared.ready.notify_waiters();
    StatusCode::ACCEPTED
}
