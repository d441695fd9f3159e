//! The operations, one per Move entry function, on the whole on-chain state
//! (`State`: the network and its requests).
//!
//! Every operation checks all of its arguments and the state it needs before
//! it changes anything, so an `Err` leaves the state exactly as it was (like
//! a Move abort). It returns an `Outcome`: the events emitted, in order, and
//! the SUI paid out to addresses (Move: coins transferred).
//!
//! | module     | operations                                                         |
//! |------------|--------------------------------------------------------------------|
//! | `admin`    | create_network, add_hardware_class, add_model, set_params, withdraw_treasury |
//! | `node`     | register_node, add_collateral, set_endpoint, request_leave, withdraw |
//! | `submit`   | submit_sampling, submit_cross_validation, submit_sealed            |
//! | `execute`  | commit, commit_primary, reveal, reveal_secret                      |
//! | `keeper`   | select_nodes, open_dispute, expire                                 |
//! | `settle`   | (internal) locking, slashing, reveal phases, settlement             |
//!
//! Not for: I/O, clocks or randomness sources; callers pass `Ctx::now_ms`
//! and 32-byte random seeds.

mod admin;
mod execute;
mod keeper;
mod node;
mod settle;
mod submit;

use std::collections::BTreeMap;

pub use execute::{flip, sealed_draw};
pub use submit::SubmitArgs;

use crate::error::{ProtocolError, Result};
use crate::events::Event;
use crate::request::Request;
use crate::state::Network;
use crate::types::{Address, ObjectId};

/// The transaction context: who sends it and the clock's time.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The transaction's sender.
    pub sender: Address,
    /// The clock's time (ms), as `sui::clock::Clock` gives it.
    pub now_ms: u64,
}

impl Ctx {
    /// A context for `sender` at `now_ms`.
    pub fn new(sender: Address, now_ms: u64) -> Self {
        Ctx { sender, now_ms }
    }
}

/// SUI paid to an address (Move: a `Coin<SUI>` transferred to it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Payout {
    /// The address paid.
    pub recipient: Address,
    /// MIST paid.
    pub amount: u64,
}

/// What an operation did: events in emission order and payouts.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Outcome {
    /// Events, in emission order.
    pub events: Vec<Event>,
    /// SUI paid to addresses.
    pub payouts: Vec<Payout>,
}

impl Outcome {
    pub(crate) fn emit(&mut self, e: impl Into<Event>) {
        self.events.push(e.into());
    }

    pub(crate) fn pay(&mut self, recipient: Address, amount: u64) {
        if amount > 0 {
            self.payouts.push(Payout { recipient, amount });
        }
    }

    /// Total MIST paid out.
    pub fn paid(&self) -> u128 {
        self.payouts.iter().map(|p| p.amount as u128).sum()
    }
}

/// The whole on-chain state of one network: the shared `Network` object and
/// the shared `Request` objects.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct State {
    /// The shared `Network` object.
    pub network: Network,
    /// The shared `Request` objects, by id.
    pub requests: BTreeMap<ObjectId, Request>,
}

impl State {
    /// The request with this id (`UnknownRequest` if none).
    pub fn request(&self, request_id: &ObjectId) -> Result<&Request> {
        self.requests.get(request_id).ok_or(ProtocolError::UnknownRequest)
    }

    /// Total SUI held by the network and its requests. Every operation keeps
    /// `held() + paid out == held before + paid in`.
    pub fn held(&self) -> u128 {
        self.network.held() + self.requests.values().map(|r| r.fee as u128 + r.pool as u128).sum::<u128>()
    }

    /// Looks up a request of this network, for an operation that changes it.
    fn request_checked(&self, request_id: &ObjectId) -> Result<&Request> {
        let req = self.request(request_id)?;
        self.network.check_network(&req.network_id)?;
        Ok(req)
    }

    /// The request, mutable, once `request_checked` found it.
    fn request_mut(&mut self, request_id: &ObjectId) -> &mut Request {
        self.split(request_id).1
    }

    /// Splits the state into the network and one request, both mutable.
    fn split(&mut self, request_id: &ObjectId) -> (&mut Network, &mut Request) {
        let State { network, requests } = self;
        // Callers look the request up with `request_checked` first.
        let req = requests.get_mut(request_id).expect("request checked before mutation");
        (network, req)
    }
}
