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
//! | `admin`    | create_network, add_hardware_class, add_model, set_params, sweep_revenue, withdraw_treasury |
//! | `node`     | register_node, add_collateral, set_endpoint, request_leave, withdraw |
//! | `submit`   | submit_sampling, submit_cross_validation, submit_sealed            |
//! | `execute`  | commit, commit_primary, abstain, decline, reveal, reveal_secret    |
//! | `keeper`   | select_nodes, open_dispute, expire                                 |
//! | `settle`   | (internal) slashing, seats and refills, reveal phases, settlement  |
//!
//! An operation on a request runs inside `State::on_request`, which undoes
//! every change to the class and the request if it fails half way (an
//! overflow, a missing node), as a Move abort would.
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
pub use keeper::{KeeperCall, due};
pub use submit::{SubmitArgs, Terms, check_input_parts};

use crate::error::{ProtocolError, Result};
use crate::events::Event;
use crate::request::Request;
use crate::state::{HardwareClass, Network, Node};
use crate::types::{Address, ObjectId};
use crate::version;

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

/// The whole on-chain state of one network: the shared `Network` object,
/// one shared `HardwareClass` object per class and the shared `Request`
/// objects.
///
/// An operation on a request takes the request's class object and never
/// changes the `Network` (docs/scaling.md): it touches the class, the
/// request and the system objects only.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct State {
    /// The shared `Network` object.
    pub network: Network,
    /// The shared `HardwareClass` objects, by object id.
    pub classes: BTreeMap<ObjectId, HardwareClass>,
    /// The shared `Request` objects, by id.
    pub requests: BTreeMap<ObjectId, Request>,
    /// The version of the package the operations run as (Move: the called
    /// package's `version::VERSION`): `PACKAGE_VERSION`, or another to model
    /// calls through an older or newer package.
    pub package_version: u64,
}

impl State {
    /// The request with this id (`UnknownRequest` if none).
    pub fn request(&self, request_id: &ObjectId) -> Result<&Request> {
        self.requests.get(request_id).ok_or(ProtocolError::UnknownRequest)
    }

    /// The class object with this id (`UnknownClass` if none).
    pub fn class(&self, class: &ObjectId) -> Result<&HardwareClass> {
        self.classes.get(class).ok_or(ProtocolError::UnknownClass)
    }

    /// The class with this class id (`UnknownClass` if none).
    pub fn class_by_id(&self, class_id: u64) -> Result<&HardwareClass> {
        self.class(&self.network.class_object(class_id)?)
    }

    /// The node with this id, in whichever class it is registered.
    pub fn node(&self, node_id: &ObjectId) -> Result<&Node> {
        self.classes.values().find_map(|c| c.nodes.get(node_id)).ok_or(ProtocolError::UnknownNode)
    }

    /// Every registered node, with its id, class by class.
    pub fn nodes(&self) -> impl Iterator<Item = (&ObjectId, &Node)> {
        self.classes.values().flat_map(|c| c.nodes.iter())
    }

    /// Total SUI held by the network, its classes and its requests. Every
    /// operation keeps `held() + paid out == held before + paid in`.
    pub fn held(&self) -> u128 {
        self.network.treasury as u128
            + self.classes.values().map(HardwareClass::held).sum::<u128>()
            + self.requests.values().map(|r| r.fee as u128 + r.pool as u128).sum::<u128>()
    }

    /// Looks up a class object of this network, for an operation that uses it.
    fn class_checked(&self, class: &ObjectId) -> Result<&HardwareClass> {
        let c = self.class(class)?;
        self.network.check_network(&c.network_id)?;
        Ok(c)
    }

    /// As `class_checked`, and checks that this package may use the class
    /// (`WrongVersion`).
    fn class_current(&self, class: &ObjectId) -> Result<&HardwareClass> {
        let c = self.class_checked(class)?;
        version::check(c.version, self.package_version)?;
        Ok(c)
    }

    /// Checks that this package may use the `Network` (`WrongVersion`).
    fn network_current(&self) -> Result<()> {
        version::check(self.network.version, self.package_version)
    }

    /// Looks up a request of this network, for an operation that changes it.
    fn request_checked(&self, request_id: &ObjectId) -> Result<&Request> {
        let req = self.request(request_id)?;
        self.network.check_network(&req.network_id)?;
        Ok(req)
    }

    /// Looks up a request and checks that it belongs to `class`
    /// (`WrongNetwork`, `WrongClass`).
    fn request_in(&self, class: &ObjectId, request_id: &ObjectId) -> Result<&Request> {
        let c = self.class_checked(class)?;
        let req = self.request(request_id)?;
        c.check_member(&req.network_id, req.class_id)?;
        Ok(req)
    }

    /// The class, mutable, once `class_checked` found it.
    fn class_mut(&mut self, class: &ObjectId) -> &mut HardwareClass {
        // Callers look the class up with `class_checked` first.
        self.classes.get_mut(class).expect("class checked before mutation")
    }

    /// Runs a request-path operation on the class object and the request,
    /// the only objects it may change (callers look both up with
    /// `request_in` first). If `f` fails, both are left as they were.
    fn on_request(
        &mut self,
        class: &ObjectId,
        request_id: &ObjectId,
        f: impl FnOnce(&mut HardwareClass, &mut Request, &mut Outcome) -> Result<()>,
    ) -> Result<Outcome> {
        let State { classes, requests, .. } = self;
        let c = classes.get_mut(class).ok_or(ProtocolError::UnknownClass)?;
        let req = requests.get_mut(request_id).ok_or(ProtocolError::UnknownRequest)?;
        let saved = req.clone();
        let mut out = Outcome::default();
        match c.atomically(|c| f(c, req, &mut out)) {
            Ok(()) => Ok(out),
            Err(e) => {
                *req = saved;
                Err(e)
            }
        }
    }
}
