//! The node's HTTP servers: the output protocol of `atoma_sdk::http`
//! (outputs to their requester, Sealed notices, health) on `listen`, and
//! Prometheus metrics on `metrics_listen`.
//!
//! Both run [`serve_bounded`] (module `bounded`), which bounds what one
//! client can hold: request sizes, the time a connection may wait on its
//! client, and the connections open at once.
//!
//! Not for: deciding what to compute (see `service`).

mod bounded;

use std::sync::Arc;
use std::time::Duration;

use atoma_sdk::http;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sui_sdk_types::Address;

use crate::node::service::Service;
use crate::node::stream;

pub use bounded::{Limits, MAX_BODY_BYTES, MAX_HEAD_BYTES, serve_bounded};

#[derive(serde::Deserialize)]
struct Wait {
    wait_ms: Option<u64>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

/// Serves the output protocol on `listener` until the task is dropped.
pub async fn serve(service: Arc<Service>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let limits = Limits::of(&service.config);
    let app = axum::Router::new()
        .route("/v1/outputs/{request}", axum::routing::get(output))
        .route("/v1/outputs/{request}/stream", axum::routing::get(stream))
        .route("/v1/sealed/{request}", axum::routing::post(sealed))
        .route("/v1/push/{request}", axum::routing::post(push))
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route("/v1/node", axum::routing::get(node_summary))
        .layer(cors())
        .with_state(service);
    serve_bounded(listener, app, limits).await
}

/// A requester's page may call the node from a browser (docs/web.md): any
/// origin, the requester's signature header, the output's headers readable.
/// Whoever calls still needs the requester's signature for an output.
fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{Any, CorsLayer};
    let exposed = [http::NODE, http::OUTPUT_DIGEST, http::SALT, http::NODE_SIGNATURE];
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers(Any)
        .expose_headers(exposed.map(axum::http::HeaderName::from_static))
}

/// The database's summary, for `atoma-node status` while the node runs
/// (the database admits one process at a time).
async fn node_summary(State(service): State<Arc<Service>>) -> Response {
    match service.db.summary() {
        Ok(s) => axum::Json(s).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Serves `/metrics` on `listener`.
pub async fn serve_metrics(service: Arc<Service>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let limits = Limits::of(&service.config);
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(|State(s): State<Arc<Service>>| async move { s.metrics.render() }))
        .with_state(service);
    serve_bounded(listener, app, limits).await
}

/// The request of a path whose header is its requester's signature: 400,
/// 401, 404 (not a request) or 403 (anyone else) otherwise.
async fn requester_only(service: &Service, request: &str, headers: &HeaderMap) -> Result<Address, Response> {
    let (request, signer) =
        signed(request, headers, http::verify_output_request).map_err(|(status, message)| error(status, message))?;
    let requester = match service.chain.request(request).await {
        Ok(r) => Address::from(r.requester),
        Err(e) => return Err(error(StatusCode::NOT_FOUND, e.to_string())),
    };
    if requester != signer {
        return Err(error(StatusCode::FORBIDDEN, "only the request's requester may fetch its output"));
    }
    Ok(request)
}

/// A long-poll: `ready`'s answer as soon as it has one, looked for again
/// each time an output is stored or a run starts; 404 with `missing` once
/// `wait` has passed.
async fn long_poll(
    service: &Service,
    wait: &Wait,
    missing: &str,
    ready: impl Fn() -> anyhow::Result<Option<Response>>,
) -> Response {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(wait.wait_ms.unwrap_or(0).min(http::MAX_WAIT_MS));
    loop {
        // Registered before looking, so that no wake-up in between is lost.
        let notified = service.outputs.notified();
        match ready() {
            Ok(Some(response)) => return response,
            Ok(None) => {}
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return error(StatusCode::NOT_FOUND, missing);
        }
    }
}

async fn output(
    State(service): State<Arc<Service>>,
    Path(request): Path<String>,
    Query(wait): Query<Wait>,
    headers: HeaderMap,
) -> Response {
    let request = match requester_only(&service, &request, &headers).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    long_poll(&service, &wait, "no output for this request (yet)", || {
        Ok(service.output(&request)?.map(|(output, salt)| served(&service, &request, output, salt)))
    })
    .await
}

/// The output as it is generated (the `stream` module), once its run has
/// started or its output is stored.
async fn stream(
    State(service): State<Arc<Service>>,
    Path(request): Path<String>,
    Query(wait): Query<Wait>,
    headers: HeaderMap,
) -> Response {
    let request = match requester_only(&service, &request, &headers).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    long_poll(&service, &wait, "no run nor output for this request (yet)", || {
        if let Some(live) = service.runs.get(&request) {
            return Ok(Some(stream::respond(service.clone(), request, stream::Start::Live(live))));
        }
        // An output stored, or none to come (the node declined or abstained: the stream says why).
        let settled = service
            .db
            .task(&request)?
            .is_some_and(|t| t.output.is_some() || t.declined.is_some() || t.unavailable.is_some());
        Ok(settled.then(|| stream::respond(service.clone(), request, stream::Start::Stored)))
    })
    .await
}

fn served(service: &Service, request: &Address, output: Vec<u8>, salt: [u8; 32]) -> Response {
    let node = service.node_id();
    let digest = http::output_digest(&output);
    let signature = match http::sign_served_output(service.chain.key(), request, &node, &digest, &salt) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (http::NODE, node.to_string()),
        (http::OUTPUT_DIGEST, http::hex(&digest)),
        (http::SALT, http::hex(&salt)),
        (http::NODE_SIGNATURE, signature),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    (StatusCode::OK, headers, output).into_response()
}

/// The request id of a path and the signer of its requester header, as
/// `verify` checks it: 400 for a malformed id, 401 without a valid signature.
fn signed(
    request: &str,
    headers: &HeaderMap,
    verify: fn(&str, &Address) -> atoma_sdk::Result<Address>,
) -> Result<(Address, Address), (StatusCode, String)> {
    let Ok(request) = request.parse::<Address>() else {
        return Err((StatusCode::BAD_REQUEST, "not a request id".into()));
    };
    let Some(signature) = headers.get(http::REQUESTER_SIGNATURE).and_then(|v| v.to_str().ok()) else {
        return Err((StatusCode::UNAUTHORIZED, format!("missing {}", http::REQUESTER_SIGNATURE)));
    };
    let signer = verify(signature, &request).map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
    Ok((request, signer))
}

/// A requester telling the node of its new request (docs in `atoma_sdk::http`).
async fn push(State(service): State<Arc<Service>>, Path(request): Path<String>, headers: HeaderMap) -> Response {
    let (request, signer) = match signed(&request, &headers, http::verify_push) {
        Ok(s) => s,
        Err((status, message)) => return error(status, message),
    };
    match service.take_push(request, signer).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err((code, message)) => error(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), message),
    }
}

async fn sealed(
    State(service): State<Arc<Service>>,
    Path(request): Path<String>,
    axum::Json(notice): axum::Json<http::SealedNotice>,
) -> Response {
    let Ok(request) = request.parse::<Address>() else { return error(StatusCode::BAD_REQUEST, "not a request id") };
    let Some(secret) = http::parse_hex32(&notice.secret) else {
        return error(StatusCode::BAD_REQUEST, "secret must be 64 hex digits");
    };
    match service.take_secret(request, secret).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err((code, message)) => error(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), message),
    }
}

// === Connections ===
