//! # atoma-executor
//!
//! The node operator's side of Sampling Consensus. Today: the deterministic
//! inference engine and model manifests; the node service (`atoma-node`)
//! builds on them.
//!
//! ## Layout
//! - [`engine`]: the [`engine::Engine`] trait and its libtorch implementation
//!   (built-in GPT decoder, TorchScript modules), hardware-class profiles and
//!   deterministic mode, the canonical tensor encoding.
//! - [`manifest`]: model manifests (TOML) and weight digests.
//! - [`testmodel`]: the generated test model and its TorchScript trace.
//!
//! libtorch comes from `scripts/setup` (torch 2.13.0 for tch 0.26); the
//! build embeds an rpath to it, so binaries and tests need no
//! `LD_LIBRARY_PATH`.

pub mod engine;
pub mod manifest;
pub mod testmodel;
