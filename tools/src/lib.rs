//! # atoma-tools
//!
//! The programs that use the whole system rather than test it, and what
//! only they need:
//! - `atoma-demo` (`scripts/demo`): a local network, node processes in two
//!   hardware classes (one cheating, one silent) and requests in every mode;
//! - `atoma-bench` and `atoma-bench-gateway` (`scripts/bench`,
//!   `scripts/bench-gateway`): the measurements behind docs/benchmarks.md;
//!   [`scaling`] is the scaling section's model and runs;
//! - `atoma-conformance` (`scripts/test`, `scripts/conformance`): random
//!   scenarios of the Rust state machine written out as Move tests
//!   ([`conformance`]).
//!
//! The processes are started through `atoma-e2e`'s cluster harness.

pub mod conformance;
pub mod scaling;
