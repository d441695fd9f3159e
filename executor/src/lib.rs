//! # atoma-executor
//!
//! The node operator's side of Sampling Consensus: the deterministic
//! inference engine, model manifests, and the node service `atoma-node`.
//!
//! ## Layout
//! - [`engine`]: the [`engine::Engine`] trait and its libtorch implementation
//!   (Hugging Face checkpoints, built-in GPT decoder, TorchScript modules),
//!   hardware-class profiles and deterministic mode, the canonical tensor
//!   encoding.
//! - [`manifest`] (`engine/manifest.rs`): a checkpoint's files hashed
//!   against its manifest, and a manifest made for a checkpoint; the format
//!   and the model digest are the `atoma-manifest` crate's.
//! - `checkpoint`: generated Hugging Face checkpoints (fixed seed, real
//!   layout), and `testmodel`: the generated test model and its TorchScript
//!   trace; both behind the `fixtures` feature (on by default).
//! - [`node`]: the node service: configuration, database, event loop,
//!   commits and reveals, output server, metrics.
//!
//! libtorch comes from `scripts/setup` (torch 2.13.0 for tch 0.26); the
//! build embeds an rpath to it, so binaries and tests need no
//! `LD_LIBRARY_PATH`.

#[cfg(feature = "fixtures")]
pub mod checkpoint;
pub mod engine;
pub mod node;
#[cfg(feature = "fixtures")]
pub mod testmodel;

/// Model manifests live with the engine that loads them; this is their
/// public path.
pub use engine::manifest;
