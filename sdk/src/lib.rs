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
//! - [`client`]: the requester's API: `submit`, `first_output`, `finality`, `verify`.
//! - [`error`]: the SDK's errors (`SdkError`).

pub mod calls;
pub mod chain;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod keys;
pub mod registry;

pub use chain::{Chain, Executed, Identity};
pub use client::{Attestation, Client, FirstOutput, InputSpec, RequestHandle, RequestSpec, verify};
pub use error::{Result, SdkError};
pub use events::{EventCursor, EventStream, PackageEvent, Start};
pub use keys::{Key, Keystore};
