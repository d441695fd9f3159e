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
//! - [`state`], [`request`]: the network, its classes and their nodes, requests.
//! - [`version`]: the package version the shared objects may be used by.
//! - [`ops`]: one operation per Move entry function, on [`State`].
//! - [`events`]: the events, field for field the Move structs.
//! - [`objects`]: the BCS contents of the package's objects (Move layouts).
//! - [`output`]: the canonical error output nodes commit to for a refused input.
//! - [`security`]: collusion probabilities, payoffs and the minimum check rate.
//! - `sui` (feature `sui`): the one conversion between the protocol's ids
//!   and addresses and Sui's `Address`.
//! - `driver` (feature `driver`): the state machine with a clock, nodes and
//!   a ledger, for the simulator, the tests and the conformance generator.
//! - `sim` (feature `driver`): a Monte Carlo network of honest, malicious
//!   and lazy nodes run by the driver.
//!
//! Nothing here performs I/O, reads a clock or draws randomness: time
//! (`Ctx::now_ms`) and 32-byte random seeds are arguments.
//!
//! ## Example: one Sampling request, from submission to settlement
//!
//! ```
//! use atoma_protocol::commitment::{blake2b256, commitment};
//! use atoma_protocol::{Address, Ctx, Digest, Event, Mode, ObjectId, Params, State, Status, SubmitArgs};
//!
//! let (mut state, admin, _) = State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), Params::default())?;
//! // The class is a shared object of its own (id 3); requests of its models touch only it.
//! let class = ObjectId::from_u64(3);
//! state.add_hardware_class(&admin, class, "cpu", "device=cpu;threads=1", 10_000, 1_000)?;
//! // The model runs in at most 2 s on the class: every commit timeout covers that.
//! state.add_model(&admin, &class, "tiny-gpt", &[7; 32], 2_000)?;
//! let mut caps = Vec::new();
//! for i in 0..3 {
//!     let ctx = Ctx::new(Address::from_u64(100 + i), 0);
//!     caps.push(state.register_node(&ctx, &class, ObjectId::from_u64(10 + i), 10_000, "http://node", &[1; 32])?.0);
//! }
//!
//! let requester = Ctx::new(Address::from_u64(7), 1_000);
//! let input = b"hello".to_vec();
//! let args = SubmitArgs {
//!     model_id: "tiny-gpt".into(),
//!     input_digest: blake2b256(&input).0.to_vec(),
//!     input_inline: input,
//!     input_uri: None,
//!     timeout_ms: 10_000,
//! };
//! let request = ObjectId::from_u64(99);
//! let seed = Digest([42; 32]); // from sui::random on chain
//! state.submit_mode(&requester, &class, request, args, Mode::Sampling { n: 2 }, &[], 3_000_000, seed)?;
//!
//! let output = blake2b256(b"the model's output");
//! let members: Vec<ObjectId> = state.request(&request)?.nodes_with_role(atoma_protocol::Role::Executor);
//! for node in &members {
//!     let cap = caps.iter().find(|c| c.id == *node).unwrap();
//!     let ctx = Ctx::new(state.node(node)?.owner, 2_000);
//!     let salt = Digest([node.0[31]; 32]);
//!     state.commit(&ctx, &class, &request, cap, &commitment(&request, node, &output, &salt).0)?;
//! }
//! let mut last = None;
//! for node in &members {
//!     let cap = caps.iter().find(|c| c.id == *node).unwrap();
//!     let ctx = Ctx::new(state.node(node)?.owner, 3_000);
//!     last = Some(state.reveal(&ctx, &class, &request, cap, &output.0, &[node.0[31]; 32])?);
//! }
//! assert_eq!(state.request(&request)?.status, Status::Finalized);
//! let finalized = last.unwrap().events.into_iter().find_map(|e| match e {
//!     Event::RequestFinalized(f) => Some(f),
//!     _ => None,
//! });
//! assert_eq!(finalized.unwrap().reward_per_node, 1_500_000);
//! # Ok::<(), atoma_protocol::ProtocolError>(())
//! ```

#![warn(missing_docs)]

pub mod commitment;
#[cfg(feature = "driver")]
pub mod driver;
pub mod entry;
pub mod error;
pub mod events;
pub mod objects;
pub mod ops;
pub mod output;
pub mod params;
pub mod request;
pub mod sampler;
pub mod security;
#[cfg(feature = "driver")]
pub mod sim;
pub mod state;
#[cfg(feature = "sui")]
pub mod sui;
pub mod types;
pub mod version;

pub use error::{ProtocolError, Result};
pub use events::Event;
pub use ops::{Ctx, Outcome, Payout, State, SubmitArgs};
pub use params::Params;
pub use request::{Request, Slot};
pub use state::{AdminCap, NodeCap};
pub use types::{Address, Digest, FailReason, Input, Mode, ObjectId, Role, Round, SlashReason, Status};
