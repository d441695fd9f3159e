//! Errors in OpenAI's shape: `{"error": {"message", "type", "param",
//! "code"}}` with the matching HTTP status, so that every OpenAI client
//! raises its own exception class for them.

use atoma_protocol::error::ProtocolError;
use atoma_sdk::SdkError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, …
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Seconds a client should wait before trying again (429, 503).
    pub retry_after: Option<u32>,
    /// The receipt of a request that was made (and charged) before the error.
    pub receipt: Option<Box<serde_json::Value>>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind, param: None, code: None, retry_after: None, receipt: None }
    }

    fn with(mut self, param: Option<&str>, code: &str) -> Self {
        self.param = param.map(str::to_string);
        self.code = Some(code.to_string());
        self
    }

    /// A parameter with a value the API does not accept.
    pub fn invalid(param: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).with(Some(param), "invalid_value")
    }

    /// A parameter this gateway cannot honour.
    pub fn unsupported(param: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).with(Some(param), "unsupported_parameter")
    }

    /// An input over the network's limit for inputs carried on chain.
    pub fn too_large(bytes: usize, limit: u64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("the request's input is {bytes} bytes as the engine reads it, over the network's limit of {limit} for an input carried on chain"),
        )
        .with(Some("messages"), "input_too_large")
    }

    /// A body that is not the JSON the route takes.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).with(None, "invalid_json")
    }

    pub fn unknown_model(model: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("the model `{model}` does not exist"))
            .with(Some("model"), "model_not_found")
    }

    /// Something the route names that this caller cannot see.
    pub fn not_found(message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message).with(None, "not_found")
    }

    /// A model of the wrong kind for the route (a chat model asked for embeddings).
    pub fn wrong_kind(model: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", format!("`{model}`: {message}"))
            .with(Some("model"), "model_not_supported")
    }

    /// The engine refused the input (its error output, committed by the nodes).
    pub fn refused_by_engine(code: &str, message: &str) -> Self {
        let (param, code) = match code {
            "context_exceeded" => (Some("messages"), "context_length_exceeded"),
            "max_tokens_out_of_range" => (Some("max_tokens"), "invalid_value"),
            other => (None, other),
        };
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).with(param, code)
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message).with(None, "invalid_api_key")
    }

    pub fn over_budget(message: String, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", message)
        }
        .with(None, "insufficient_quota")
    }

    pub fn busy(message: &str) -> Self {
        ApiError { retry_after: Some(1), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message) }
            .with(None, "rate_limit_exceeded")
    }

    /// The chain cannot be reached, or has too few nodes for the request.
    pub fn unavailable(message: impl Into<String>, code: &str) -> Self {
        ApiError { retry_after: Some(5), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message) }
            .with(None, code)
    }

    /// The request was submitted and failed on chain (the refund is in the message).
    pub fn failed(message: String) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "server_error", message).with(None, "request_failed")
    }

    /// A streamed output the chain did not finalize: its node was wrong.
    pub fn replaced() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            "the text streamed came from a node the chain found wrong; the verified output is `atoma.output`",
        )
        .with(None, "output_replaced")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message).with(None, "internal_error")
    }

    /// The same error, with the receipt of the request it answers.
    pub fn with_receipt(mut self, receipt: &impl serde::Serialize) -> Self {
        self.receipt = serde_json::to_value(receipt).ok().map(Box::new);
        self
    }

    /// The body of the error (also sent as a stream's last event).
    pub fn body(&self) -> serde_json::Value {
        let mut body =
            json!({ "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code } });
        if let Some(r) = &self.receipt {
            body["atoma"] = (**r).clone();
        }
        body
    }

    /// The error an SDK call gave, as the client should see it.
    pub fn from_sdk(e: &SdkError, doing: &str) -> Self {
        let text = format!("{doing}: {}", atoma_sdk::error::report(e));
        match e {
            SdkError::Refused { error } | SdkError::Protocol { error, .. } => match error {
                ProtocolError::NotEnoughNodes => Self::unavailable(text, "no_eligible_nodes"),
                ProtocolError::UnknownModel => Self::new(StatusCode::NOT_FOUND, "invalid_request_error", text)
                    .with(Some("model"), "model_not_found"),
                _ => Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", text).with(None, error.move_name()),
            },
            SdkError::InvalidArgument(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", text).with(None, "invalid_value")
            }
            SdkError::Rpc { .. } | SdkError::Unknown { .. } | SdkError::Congested { .. } => {
                Self::unavailable(text, "chain_unavailable")
            }
            SdkError::InsufficientBalance(_) => Self::unavailable(text, "gateway_balance"),
            SdkError::Timeout(_) => Self::new(StatusCode::GATEWAY_TIMEOUT, "server_error", text).with(None, "timeout"),
            _ => Self::internal(text),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        response
    }
}
