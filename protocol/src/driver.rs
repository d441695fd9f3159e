//! One driver of the state machine without a chain: the simulator
//! ([`crate::sim`]), the protocol's tests and the conformance generator
//! (`atoma-conformance`) all run their operations through it.
//!
//! A [`Driver`] holds the [`State`], the clock, the registered nodes'
//! capabilities and a ledger of the SUI that entered and left the state.
//! Every operation goes through [`Driver::apply`] (or, for a caller that
//! works on the state itself, between `begin` and `finish`), which gives it
//! the transaction context (sender, clock) and records its events and
//! payouts.
//! A checked driver also checks, after every operation, the two promises
//! every caller relies on:
//! - SUI is conserved: what the state holds before, plus what the call paid
//!   in, equals what it holds after, plus what it paid out;
//! - a refused operation changes nothing (Move aborts the whole transaction).
//!
//! The typed calls (`submit`, `commit`, ...) name nodes by id and find their
//! capability and owner; ids, seeds and random draws are the caller's, so
//! that each caller keeps its own numbering (the conformance generator
//! derives ids as Move's test scenario does, the simulator from its seed).
//!
//! Not for: scheduling or timing (callers move `now`); deciding what nodes
//! answer (callers compute commitments).

use std::collections::BTreeMap;

use crate::events::Event;
use crate::ops::{Ctx, KeeperCall, Outcome, State, SubmitArgs};
use crate::state::NodeCap;
use crate::types::{Address, Digest, Mode, ObjectId};
use crate::{ProtocolError, Result};

/// A transaction's start, for `Driver::finish` of the same driver: the
/// state's holdings and the state itself, when the driver checks.
#[derive(Debug)]
#[must_use = "a transaction begun is recorded only by `finish`"]
pub struct Before {
    checked: Option<(u128, State)>,
}

/// A promise a transaction broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// What the state held and was paid does not match what it holds and paid out.
    NotConserved {
        /// MIST the state held before.
        held: u128,
        /// MIST paid in.
        paid_in: u64,
        /// MIST the state holds after.
        held_after: u128,
        /// MIST paid out.
        paid_out: u128,
    },
    /// A refused operation changed the state (Move would have aborted it whole).
    RefusalChanged {
        /// The refusal.
        error: ProtocolError,
        /// The state before.
        before: Box<State>,
        /// The state after.
        after: Box<State>,
    },
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::NotConserved { held, paid_in, held_after, paid_out } => {
                write!(
                    f,
                    "SUI not conserved: held {held} + paid in {paid_in} != held {held_after} + paid out {paid_out}"
                )
            }
            Broken::RefusalChanged { error, before, after } => {
                write!(f, "a refused operation ({error:?}) changed the state\nbefore: {before:?}\nafter: {after:?}")
            }
        }
    }
}

/// The state machine with a clock, its nodes and a ledger.
#[derive(Clone, Debug)]
pub struct Driver {
    /// The network, its classes and requests.
    pub state: State,
    /// The clock's time (ms) every operation sees.
    pub now: u64,
    /// The capabilities of every node registered through the driver, in order.
    pub caps: Vec<NodeCap>,
    /// Net SUI that entered the state from outside (payments in minus payouts).
    pub net_in: i128,
    /// MIST paid out to each address (more than a `u64` can hold, over a long run).
    pub received: BTreeMap<Address, u128>,
    /// Every event emitted, in order.
    pub events: Vec<Event>,
    checked: bool,
}

impl Driver {
    /// A driver that checks conservation and atomicity after every operation
    /// (each operation then clones the state once).
    pub fn checked(state: State, now: u64) -> Driver {
        Driver { state, now, caps: Vec::new(), net_in: 0, received: BTreeMap::new(), events: Vec::new(), checked: true }
    }

    /// A driver that trusts the state machine (for long simulations).
    pub fn unchecked(state: State, now: u64) -> Driver {
        Driver { checked: false, ..Driver::checked(state, now) }
    }

    /// The context of a transaction `sender` sends now.
    pub fn ctx(&self, sender: Address) -> Ctx {
        Ctx::new(sender, self.now)
    }

    /// Runs `op` as a transaction of `sender` that pays `paid_in` MIST into
    /// the state; records its events and payouts.
    ///
    /// Panics, when checked, if SUI was not conserved or a refused operation
    /// changed the state.
    pub fn apply(
        &mut self,
        sender: Address,
        paid_in: u64,
        op: impl FnOnce(&mut State, &Ctx) -> Result<Outcome>,
    ) -> Result<Outcome> {
        let (ctx, before) = (self.ctx(sender), self.begin());
        let result = op(&mut self.state, &ctx);
        if let Err(broken) = self.finish(before, paid_in, &result) {
            panic!("a call of {sender}: {broken}");
        }
        result
    }

    /// The start of a transaction that its caller runs on `state` itself
    /// (several operations, or one between other work), to be closed by
    /// `finish`: what the checks compare its end with.
    pub fn begin(&self) -> Before {
        Before { checked: self.checked.then(|| (self.state.held(), self.state.clone())) }
    }

    /// Closes the transaction begun with `before`, which paid `paid_in` MIST
    /// into the state and ended with `result`: records its events and
    /// payouts, and says, when checked, which promise it broke.
    pub fn finish(
        &mut self,
        before: Before,
        paid_in: u64,
        result: &Result<Outcome>,
    ) -> std::result::Result<(), Broken> {
        match (result, before.checked) {
            (Ok(out), Some((held, _))) => {
                let (held_after, paid_out) = (self.state.held(), out.paid());
                if held as i128 + paid_in as i128 != held_after as i128 + paid_out as i128 {
                    return Err(Broken::NotConserved { held, paid_in, held_after, paid_out });
                }
            }
            (Err(error), Some((_, state))) if self.state != state => {
                let after = Box::new(self.state.clone());
                return Err(Broken::RefusalChanged { error: *error, before: Box::new(state), after });
            }
            _ => {}
        }
        if let Ok(out) = result {
            self.net_in += paid_in as i128 - out.paid() as i128;
            for p in &out.payouts {
                *self.received.entry(p.recipient).or_default() += p.amount as u128;
            }
            self.events.extend(out.events.iter().cloned());
        }
        Ok(())
    }

    /// Registers a node of `owner` in `class` with `collateral` MIST, and
    /// keeps its capability.
    pub fn register(
        &mut self,
        owner: Address,
        class: &ObjectId,
        id: ObjectId,
        collateral: u64,
        endpoint: &str,
        key: &[u8],
    ) -> Result<(NodeCap, Outcome)> {
        let mut cap = None;
        let out = self.apply(owner, collateral, |s, ctx| {
            let (c, out) = s.register_node(ctx, class, id, collateral, endpoint, key)?;
            cap = Some(c);
            Ok(out)
        })?;
        let cap = cap.expect("a registration that succeeded gives a cap");
        self.caps.push(cap);
        Ok((cap, out))
    }

    /// The capability of a node registered through the driver.
    pub fn cap(&self, node: &ObjectId) -> NodeCap {
        *self.caps.iter().find(|c| c.id == *node).expect("a node registered through the driver")
    }

    /// The node's owner (the zero address once the node has withdrawn).
    pub fn owner(&self, node: &ObjectId) -> Address {
        self.state.node(node).map_or(Address::default(), |n| n.owner)
    }

    /// `requester` submits request `id` in `mode`, paying `fee`.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        requester: Address,
        class: &ObjectId,
        id: ObjectId,
        args: SubmitArgs,
        mode: Mode,
        secret_hash: &[u8],
        fee: u64,
        seed: Digest,
    ) -> Result<Outcome> {
        self.apply(requester, fee, |s, ctx| s.submit_mode(ctx, class, id, args, mode, secret_hash, fee, seed))
    }

    /// Runs `op` as a transaction of the node's owner, with the node's capability.
    fn node_call(
        &mut self,
        node: &ObjectId,
        op: impl FnOnce(&mut State, &Ctx, &NodeCap) -> Result<Outcome>,
    ) -> Result<Outcome> {
        let cap = self.cap(node);
        self.apply(self.owner(node), 0, |s, ctx| op(s, ctx, &cap))
    }

    /// The node commits `commitment` to the request.
    pub fn commit(
        &mut self,
        class: &ObjectId,
        req: &ObjectId,
        node: &ObjectId,
        commitment: &Digest,
    ) -> Result<Outcome> {
        self.node_call(node, |s, ctx, cap| s.commit(ctx, class, req, cap, &commitment.0))
    }

    /// The CrossValidation primary commits, drawing whether it is checked from `random`.
    pub fn commit_primary(
        &mut self,
        class: &ObjectId,
        req: &ObjectId,
        node: &ObjectId,
        commitment: &Digest,
        random: Digest,
    ) -> Result<Outcome> {
        self.node_call(node, |s, ctx, cap| s.commit_primary(ctx, class, req, cap, &commitment.0, random))
    }

    /// The node reveals `output` with `salt`.
    pub fn reveal(
        &mut self,
        class: &ObjectId,
        req: &ObjectId,
        node: &ObjectId,
        output: &Digest,
        salt: &Digest,
    ) -> Result<Outcome> {
        self.node_call(node, |s, ctx, cap| s.reveal(ctx, class, req, cap, &output.0, &salt.0))
    }

    /// The node cannot obtain the input; `random` draws its replacement.
    pub fn abstain(&mut self, class: &ObjectId, req: &ObjectId, node: &ObjectId, random: Digest) -> Result<Outcome> {
        self.node_call(node, |s, ctx, cap| s.abstain(ctx, class, req, cap, random))
    }

    /// The node cannot run the request in time; `random` draws its replacement.
    pub fn decline(&mut self, class: &ObjectId, req: &ObjectId, node: &ObjectId, random: Digest) -> Result<Outcome> {
        self.node_call(node, |s, ctx, cap| s.decline(ctx, class, req, cap, random))
    }

    /// The requester of a Sealed request reveals its secret.
    pub fn reveal_secret(
        &mut self,
        requester: Address,
        class: &ObjectId,
        req: &ObjectId,
        secret: &Digest,
    ) -> Result<Outcome> {
        self.apply(requester, 0, |s, ctx| s.reveal_secret(ctx, class, req, &secret.0))
    }

    /// `keeper` makes a keeper call; `random` is asked only by a call that takes `Random`.
    pub fn keep(
        &mut self,
        keeper: Address,
        class: &ObjectId,
        req: &ObjectId,
        call: KeeperCall,
        random: impl FnOnce() -> Digest,
    ) -> Result<Outcome> {
        self.apply(keeper, 0, |s, ctx| s.keep(ctx, class, req, call, random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Params;

    fn driver() -> (Driver, ObjectId) {
        let (mut state, admin, _) =
            State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), Params::default()).unwrap();
        let class = ObjectId::from_u64(3);
        state.add_hardware_class(&admin, class, "cpu", "device=cpu", 10_000, 1_000).unwrap();
        (Driver::checked(state, 1_000), class)
    }

    #[test]
    fn a_registration_is_paid_in_and_kept() {
        let (mut d, class) = driver();
        let (cap, _) =
            d.register(Address::from_u64(5), &class, ObjectId::from_u64(9), 10_000, "http://n", &[1; 32]).unwrap();
        assert_eq!((d.caps.clone(), d.net_in, d.owner(&cap.id)), (vec![cap], 10_000, Address::from_u64(5)));
        assert_eq!(d.events.len(), 1);
    }

    #[test]
    fn a_refused_operation_records_nothing() {
        let (mut d, class) = driver();
        let refused = d.register(Address::from_u64(5), &class, ObjectId::from_u64(9), 1, "http://n", &[1; 32]);
        assert_eq!(refused.unwrap_err(), ProtocolError::InsufficientCollateral);
        assert!(d.caps.is_empty() && d.events.is_empty() && d.net_in == 0);
    }

    #[test]
    fn finish_says_which_promise_a_transaction_broke_and_records_nothing() {
        let (mut d, _) = driver();
        let before = d.begin();
        d.state.network.treasury += 1; // one MIST from nowhere
        let broken = d.finish(before, 0, &Ok(Outcome::default())).unwrap_err();
        assert!(matches!(broken, Broken::NotConserved { paid_in: 0, paid_out: 0, .. }), "{broken}");
        let before = d.begin();
        d.state.network.treasury += 1;
        let broken = d.finish(before, 0, &Err(ProtocolError::WrongPhase)).unwrap_err();
        assert!(matches!(broken, Broken::RefusalChanged { error: ProtocolError::WrongPhase, .. }), "{broken}");
        assert!(d.events.is_empty() && d.net_in == 0 && d.received.is_empty());
    }

    #[test]
    #[should_panic(expected = "SUI not conserved")]
    fn a_call_that_creates_sui_is_caught() {
        let (mut d, class) = driver();
        // Pays 10,000 in but declares 1: the state holds 9,999 MIST from nowhere.
        let _ = d.apply(Address::from_u64(5), 1, |s, ctx| {
            s.register_node(ctx, &class, ObjectId::from_u64(9), 10_000, "http://n", &[1; 32]).map(|(_, out)| out)
        });
    }

    #[test]
    #[should_panic(expected = "a refused operation")]
    fn a_refusal_that_changes_the_state_is_caught() {
        let (mut d, _) = driver();
        let _ = d.apply(Address::from_u64(5), 0, |s, _| {
            s.network.treasury += 1;
            Err(ProtocolError::WrongPhase)
        });
    }
}
