//! # atoma-gateway
//!
//! An OpenAI-compatible HTTP API over verified inference: every request a
//! submission on chain paid from the gateway's key, every answer with its
//! receipt (docs/gateway.md).
//!
//! - [`openai`]: the API's request shapes and their translation into the
//!   engine's input; every parameter maps or is refused by name.
//! - [`run`]: one request's life: submitted, first output, finality, and
//!   the finalized output in place of a cheater's.
//! - [`server`]: the routes, streamed (server-sent events) and not.
//! - [`keys`]: API keys and their budgets, in SQLite. [`limits`]: requests
//!   in flight, in all and per key.
//! - [`web`]: the explorer and playground's files and the two routes it
//!   needs besides the chain and the OpenAI routes.
//! - [`error`]: errors in OpenAI's shape. [`metrics`]: Prometheus counters.

pub mod error;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod openai;
pub mod run;
pub mod server;
pub mod web;
