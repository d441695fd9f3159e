//! The explorer and playground (`web/`, docs/web.md): with `serve --web
//! DIR`, its static files at `/` and `GET /atoma/v1/config`, where the page
//! finds the chain; and always `GET /atoma/v1/outputs/{request}?node=…`, a
//! request's output as a finalizing node serves it to the gateway's key,
//! which the page checks against the digest the chain finalized. The page
//! reads everything else from the chain itself (gRPC-web), and chats
//! through the OpenAI routes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sui_sdk_types::Address;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;
use crate::run::Account;
use crate::server::{Gateway, authorize};

/// What the page needs to find the chain: the gateway's network.
pub struct Page {
    /// The Sui node's gRPC URL as browsers reach it (told to every visitor).
    pub chain_url: String,
    pub package: Address,
    pub network: Address,
    /// A local network's faucet, which funds the page's development key.
    pub faucet: Option<String>,
    /// The built page (`web/dist`), served at `/`.
    pub dir: PathBuf,
}

/// `GET /atoma/v1/outputs/{request}`, behind the API keys: for the page,
/// and for any reader that checks an output against the chain's digest.
pub fn outputs(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/atoma/v1/outputs/{request}", get(output))
        .layer(middleware::from_fn_with_state(gateway.clone(), authorize))
        .with_state(gateway)
}

/// The page's files at `/` and where it finds the chain. Any other path
/// under `/v1/` or `/atoma/` is the API's, answered 404 in its error shape,
/// never with the page.
pub fn page(gateway: &Gateway, page: Page) -> Router {
    let config = json!({
        "chain_url": page.chain_url, "package": page.package.to_string(), "network": page.network.to_string(),
        "requester": gateway.client.chain().sender().to_string(), "api_keys": gateway.keys.is_some(),
        "faucet_url": page.faucet,
    });
    // Unknown paths are the page's own routes: its index answers them.
    let files = ServeDir::new(&page.dir).fallback(ServeFile::new(page.dir.join("index.html")));
    Router::new().route("/atoma/v1/config", get(move || async move { Json(config) })).fallback(
        move |req: Request| async move {
            let path = req.uri().path();
            if path.starts_with("/v1/") || path.starts_with("/atoma/") || path == "/v1" {
                return ApiError::not_found(format!("no route {} {path}", req.method())).into_response();
            }
            files.oneshot(req).await.into_response()
        },
    )
}

#[derive(Deserialize)]
struct OutputQuery {
    /// The node to ask: one the chain says computed the output.
    node: String,
}

/// Request `request`'s output as `node` serves it, for a caller whose key
/// made the request (anyone, with `--no-auth`).
async fn output(
    State(g): State<Arc<Gateway>>,
    Extension(account): Extension<Option<Account>>,
    Path(request): Path<String>,
    Query(q): Query<OutputQuery>,
) -> Response {
    let result = async {
        let parse = |s: &str, what: &str| {
            s.parse::<Address>().map_err(|_| ApiError::invalid(what, &format!("`{s}` is not a Sui address")))
        };
        let (id, node) = (parse(&request, "request")?, parse(&q.node, "node")?);
        if let Some(a) = &account {
            let (keys, name, request) = (a.keys.clone(), a.name.clone(), id.to_string());
            if !keys.blocking(move |k| k.made(&name, &request)).await? {
                return Err(ApiError::not_found(format!("this API key made no request {id}")));
            }
        }
        // Only a node whose reveal is the finalized digest is asked: the
        // gateway calls no endpoint the caller picks.
        let r = g.client.chain().request(id).await.map_err(|e| ApiError::from_sdk(&e, "reading the request"))?;
        let finalized = r
            .output_digest
            .is_some_and(|d| r.slots.iter().any(|s| Address::from(s.node_id) == node && s.reveal == Some(d)));
        if !finalized {
            return Err(ApiError::not_found(format!("node {node} did not finalize the output of request {id}")));
        }
        g.client
            .served_output(id, node, Duration::from_secs(5))
            .await
            .map_err(|e| ApiError::from_sdk(&e, "asking the node for the output"))
    }
    .await;
    match result {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => e.into_response(),
    }
}
