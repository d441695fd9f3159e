//! The node's HTTP servers: the output protocol of `atoma_sdk::http`
//! (outputs to their requester, Sealed notices, health) on `listen`, and
//! Prometheus metrics on `metrics_listen`.
//!
//! Both accept at most `max_connections` connections at once (the others
//! wait in the kernel's backlog) and close a connection that does not send a
//! complete request head within `header_timeout_ms`, idle keep-alive
//! connections included: so clients that open connections and send nothing
//! cannot use up the file descriptors the node needs to fetch inputs and
//! reach the chain.
//!
//! Not for: deciding what to compute (see `service`).

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use atoma_sdk::http;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sui_sdk_types::Address;

use crate::node::service::Service;

#[derive(serde::Deserialize)]
struct Wait {
    wait_ms: Option<u64>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

/// What one server accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a complete request head (and between requests).
    pub header_timeout: Duration,
}

impl Limits {
    /// The limits of the node's configuration.
    pub fn of(config: &crate::node::config::Config) -> Self {
        Limits {
            max_connections: config.max_connections,
            header_timeout: Duration::from_millis(config.header_timeout_ms),
        }
    }
}

/// Serves the output protocol on `listener` until the task is dropped.
pub async fn serve(service: Arc<Service>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let limits = Limits::of(&service.config);
    let app = axum::Router::new()
        .route("/v1/outputs/{request}", axum::routing::get(output))
        .route("/v1/sealed/{request}", axum::routing::post(sealed))
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route("/v1/node", axum::routing::get(node_summary))
        .with_state(service);
    serve_bounded(listener, app, limits).await
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

/// Serves `app` over HTTP/1.1 on `listener` within `limits` (see the module
/// doc), until the task is dropped. A failed accept (out of file
/// descriptors, say) is retried after a pause, never fatal.
pub async fn serve_bounded(listener: tokio::net::TcpListener, app: axum::Router, limits: Limits) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // A permit per open connection: past the cap, accepting waits.
        let permit = permits.clone().acquire_owned().await?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
}

async fn output(
    State(service): State<Arc<Service>>,
    Path(request): Path<String>,
    Query(wait): Query<Wait>,
    headers: HeaderMap,
) -> Response {
    let Ok(request) = request.parse::<Address>() else { return error(StatusCode::BAD_REQUEST, "not a request id") };
    let Some(signature) = headers.get(http::REQUESTER_SIGNATURE).and_then(|v| v.to_str().ok()) else {
        return error(StatusCode::UNAUTHORIZED, format!("missing {}", http::REQUESTER_SIGNATURE));
    };
    let signer = match http::verify_output_request(signature, &request) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::UNAUTHORIZED, e.to_string()),
    };
    let requester = match service.chain.request(request).await {
        Ok(r) => Address::from(r.requester),
        Err(e) => return error(StatusCode::NOT_FOUND, e.to_string()),
    };
    if requester != signer {
        return error(StatusCode::FORBIDDEN, "only the request's requester may fetch its output");
    }
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(wait.wait_ms.unwrap_or(0).min(http::MAX_WAIT_MS));
    loop {
        let notified = service.outputs.notified();
        match service.output(&request) {
            Ok(Some((output, salt))) => return served(&service, &request, output, salt),
            Ok(None) => {}
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return error(StatusCode::NOT_FOUND, "no output for this request (yet)");
        }
    }
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
