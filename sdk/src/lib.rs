//! # atoma-sdk
//!
//! Submit verifiable inference requests to the `atoma` package on Sui and
//! act for nodes and admins, over Sui's gRPC API.
//!
//! ## Layout
//! - [`keys`]: Sui keystores and `suiprivkey` strings.
//! - [`chain`]: build, sign, execute one Move call, with gas coins and owned
//!   objects locked (no equivocation); decode events and protocol errors.
//! - [`calls`]: one typed function per entry function of the package.
//! - [`registry`]: read the network, its classes, models and nodes, and requests.
//! - [`events`]: the package's events from a checkpoint or cursor onward,
//!   resumable without loss or duplication.
//! - [`http`]: the node output protocol (shared with the node service).
//! - [`config`]: the CLI's environments and key, and the Sui CLI's `client.yaml`.
//! - [`cli`]: the network and key flags the command-line tools share.
//! - [`client`]: the requester's API: `submit`, `first_output`, `finality`, `verify`.
//! - [`error`]: the SDK's errors (`SdkError`).
//! - [`init_tracing`]: the log set-up of the `atoma` and `atoma-node` binaries.

pub mod calls;
pub mod chain;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod keys;
pub mod registry;

pub use chain::{Chain, Executed, Identity};
pub use client::{Attestation, Client, FirstOutput, InputSpec, RequestHandle, RequestSpec, Streamed, verify};
pub use error::{Result, SdkError};
pub use events::{EventCursor, EventStream, PackageEvent, Start};
pub use keys::{Key, Keystore};

/// Milliseconds since the Unix epoch, by this machine's clock (0 before
/// the epoch): the unit of every deadline on chain.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Logs to stderr at `default_filter` unless `RUST_LOG` says otherwise,
/// coloured only on a terminal and without `NO_COLOR`: the set-up of the
/// command-line tools built on the SDK (`atoma`, `atoma-node`).
pub fn init_tracing(default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
}
