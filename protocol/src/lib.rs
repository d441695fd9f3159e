//! # atoma-protocol
//!
//! The rules of Sampling Consensus as a pure state machine: the executable
//! reference of the Move package `atoma` (see `move/`), used by the local
//! network to apply Move calls, by the SDK and the executor to decode events
//! and compute commitments, and by the simulator to measure the protocol.
//!
//! ## Layout
//! - [`types`]: ids, digests, modes, roles, statuses (Move layouts).
//! - [`error`]: [`ProtocolError`] with the stable codes Move aborts with.
//! - [`params`]: network parameters and their bounds.
//! - [`commitment`]: output digests, commitments, seeds derived from draws.
//! - [`sampler`]: the deterministic sampler shared with Move.
//! - [`state`], [`request`]: the network, its nodes and classes, requests.
//! - [`ops`]: one operation per Move entry function, on [`State`].
//! - [`events`]: the events, field for field the Move structs.
//! - [`security`]: collusion probabilities, payoffs and the minimum check rate.
//! - [`sim`]: a Monte Carlo network of honest, malicious and lazy nodes
//!   driven through [`ops`].
//!
//! Nothing here performs I/O, reads a clock or draws randomness: time
//! (`Ctx::now_ms`) and 32-byte random seeds are arguments.

pub mod commitment;
pub mod error;
pub mod events;
pub mod ops;
pub mod params;
pub mod request;
pub mod sampler;
pub mod security;
pub mod sim;
pub mod state;
pub mod types;

pub use error::{ProtocolError, Result};
pub use events::Event;
pub use ops::{Ctx, Outcome, Payout, State, SubmitArgs};
pub use params::Params;
pub use request::{Request, Slot};
pub use state::{AdminCap, NodeCap};
pub use types::{Address, Digest, FailReason, Input, Mode, ObjectId, Role, Round, SlashReason, Status};
