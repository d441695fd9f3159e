//! The local network driven by the real Sui client (`sui_rpc::Client`) and
//! transaction builder over loopback: execution, the checks that reject a
//! transaction, Move aborts with the protocol's codes, a whole Sampling
//! request, the checkpoint stream across a reconnect, and restarts.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a test reads top to bottom as one scenario

#[path = "../common/mod.rs"]
mod common;
mod congestion;
mod execution;
mod reads;
mod request;
mod simulate;
mod support;
