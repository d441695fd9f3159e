//! A small world for the protocol's tests: one network, one class of nodes,
//! one model, run by the protocol's checked `Driver` (a clock, the nodes'
//! capabilities, and a ledger that checks SUI conservation and that a refused
//! operation changes nothing, after every operation).

#![allow(dead_code)]

use atoma_protocol::commitment::{blake2b256, commitment, dispute_key, secret_hash};
use std::ops::{Deref, DerefMut};

use atoma_protocol::driver::Driver;
use atoma_protocol::ops::{KeeperCall, Outcome, State, SubmitArgs};
use atoma_protocol::{Address, AdminCap, Digest, Event, Mode, NodeCap, ObjectId, Params, ProtocolError, Request, Role};

pub const MIN_COLLATERAL: u64 = 10_000;
pub const TASK_LOCK: u64 = 1_000;
pub const FEE: u64 = 9_000_000;
/// The world's model's run-time bound on its class.
pub const RUN_MS: u64 = 1_000;
/// The shortest commit timeout the chain accepts for the world's model:
/// the default `min_timeout_ms`, one run of it, one run of the class's longest.
pub const TIMEOUT: u64 = 5_000 + 2 * RUN_MS;
pub const REQUESTER: Address = Address([0xaa; 32]);

/// The world; its driver's state, clock, caps, ledger and events are read
/// through it (`w.state`, `w.now`, `w.received`, ...).
pub struct World {
    driver: Driver,
    pub admin: AdminCap,
    /// The class's object id.
    pub class: ObjectId,
    next_id: u64,
}

impl Deref for World {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.driver
    }
}

impl DerefMut for World {
    fn deref_mut(&mut self) -> &mut Driver {
        &mut self.driver
    }
}

/// Who makes the keeper calls.
pub fn keeper() -> Address {
    Address::from_u64(9)
}

pub fn owner_of(i: usize) -> Address {
    Address::from_u64(100 + i as u64)
}

pub fn salt_of(node: &ObjectId) -> Digest {
    blake2b256(&[b"salt".as_slice(), &node.0].concat())
}

/// The digest of the output bytes `tag`. The world's outputs are named by
/// their digest; a dispute key hashes the digest's 32 bytes in place of the
/// output bytes, which changes nothing for the rules (any function of the
/// output that honest nodes share would do).
pub fn out(tag: &str) -> Digest {
    blake2b256(tag.as_bytes())
}

/// The dispute key an honest disputer computes for `output`.
pub fn key_of(req: &ObjectId, output: &Digest) -> Digest {
    dispute_key(req, &output.0)
}

impl World {
    pub fn new(nodes: usize) -> World {
        Self::with_params(nodes, Params::default())
    }

    pub fn with_params(nodes: usize, params: Params) -> World {
        let (state, admin, _) = State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), params).unwrap();
        let mut w =
            World { driver: Driver::checked(state, 1_000_000), admin, class: ObjectId::from_u64(3), next_id: 1_000 };
        let class = w.class;
        w.state.add_hardware_class(&admin, class, "cpu-test", "device=cpu", MIN_COLLATERAL, TASK_LOCK).unwrap();
        w.state.add_model(&admin, &class, "m", &[7; 32], RUN_MS).unwrap();
        for _ in 0..nodes {
            w.add_node();
        }
        w
    }

    /// Adds another class (same collateral and lock) with one model of its
    /// own, `name`; returns the class's object id and class id.
    pub fn add_class(&mut self, name: &str) -> (ObjectId, u64) {
        let (admin, object) = (self.admin, self.fresh_id());
        let (class_id, _) =
            self.state.add_hardware_class(&admin, object, name, "device=cpu", MIN_COLLATERAL, TASK_LOCK).unwrap();
        self.state.add_model(&admin, &object, name, &[8; 32], RUN_MS).unwrap();
        (object, class_id)
    }

    pub fn fresh_id(&mut self) -> ObjectId {
        self.next_id += 1;
        ObjectId::from_u64(self.next_id)
    }

    pub fn add_node(&mut self) -> NodeCap {
        let (owner, id, class) = (owner_of(self.caps.len()), self.fresh_id(), self.class);
        self.driver.register(owner, &class, id, MIN_COLLATERAL, "http://node", &[1; 32]).unwrap().0
    }

    /// Runs an operation (its context built by the test) that pays `paid_in`
    /// into the state, through the checked driver.
    pub fn run(
        &mut self,
        paid_in: u64,
        op: impl FnOnce(&mut State) -> Result<Outcome, ProtocolError>,
    ) -> Result<Outcome, ProtocolError> {
        self.driver.apply(Address::default(), paid_in, |s, _| op(s))
    }

    pub fn args(&self, input: &[u8]) -> SubmitArgs {
        SubmitArgs {
            model_id: "m".into(),
            input_digest: blake2b256(input).0.to_vec(),
            input_inline: input.to_vec(),
            input_uri: None,
            timeout_ms: TIMEOUT,
        }
    }

    /// Arguments for an input given by URI (whose content hashes to `input`).
    pub fn uri_args(&self, input: &[u8]) -> SubmitArgs {
        SubmitArgs { input_inline: Vec::new(), input_uri: Some("https://inputs.example/x".into()), ..self.args(input) }
    }

    pub fn seed(&mut self) -> Digest {
        let id = self.fresh_id();
        blake2b256(&id.0)
    }

    /// Submits with the default input and fee; returns the request id.
    pub fn submit(&mut self, mode: Mode) -> ObjectId {
        self.try_submit(mode, FEE, self.args(b"hello")).unwrap()
    }

    pub fn secret() -> Digest {
        Digest([0x5e; 32])
    }

    pub fn try_submit(&mut self, mode: Mode, fee: u64, args: SubmitArgs) -> Result<ObjectId, ProtocolError> {
        let seed = self.seed();
        self.submit_with_seed(mode, fee, args, seed)
    }

    pub fn submit_with_seed(
        &mut self,
        mode: Mode,
        fee: u64,
        args: SubmitArgs,
        seed: Digest,
    ) -> Result<ObjectId, ProtocolError> {
        let (id, class) = (self.fresh_id(), self.class);
        let hash = secret_hash(&Self::secret()).0;
        self.driver.submit(REQUESTER, &class, id, args, mode, &hash, fee, seed)?;
        Ok(id)
    }

    pub fn req(&self, id: &ObjectId) -> &Request {
        self.state.request(id).unwrap()
    }

    /// The salt an honest node uses: its own in the main round, the dispute
    /// key of its output as a disputer.
    pub fn salt(&self, req: &ObjectId, node: &ObjectId, output: &Digest) -> Digest {
        let disputer = self.req(req).slots.iter().any(|s| s.node_id == *node && s.role == Role::Disputer);
        if disputer { key_of(req, output) } else { salt_of(node) }
    }

    pub fn commitment(&self, req: &ObjectId, node: &ObjectId, output: &Digest) -> Digest {
        commitment(req, node, output, &self.salt(req, node, output))
    }

    pub fn commit(&mut self, req: &ObjectId, node: &ObjectId, output: &Digest) -> Result<Outcome, ProtocolError> {
        let salt = self.salt(req, node, output);
        self.commit_with_salt(req, node, output, &salt)
    }

    /// Commits `output` with an explicit salt (a lazy disputer guessing a key, say).
    pub fn commit_with_salt(
        &mut self,
        req: &ObjectId,
        node: &ObjectId,
        output: &Digest,
        salt: &Digest,
    ) -> Result<Outcome, ProtocolError> {
        let (c, class) = (commitment(req, node, output, salt), self.class);
        self.driver.commit(&class, req, node, &c)
    }

    pub fn commit_primary(
        &mut self,
        req: &ObjectId,
        node: &ObjectId,
        output: &Digest,
        random: Digest,
    ) -> Result<Outcome, ProtocolError> {
        let (c, class) = (self.commitment(req, node, output), self.class);
        self.driver.commit_primary(&class, req, node, &c, random)
    }

    pub fn reveal(&mut self, req: &ObjectId, node: &ObjectId, output: &Digest) -> Result<Outcome, ProtocolError> {
        let salt = self.salt(req, node, output);
        self.reveal_with_salt(req, node, output, &salt)
    }

    pub fn reveal_with_salt(
        &mut self,
        req: &ObjectId,
        node: &ObjectId,
        output: &Digest,
        salt: &Digest,
    ) -> Result<Outcome, ProtocolError> {
        let class = self.class;
        self.driver.reveal(&class, req, node, output, salt)
    }

    /// The node cannot obtain the input.
    pub fn abstain(&mut self, req: &ObjectId, node: &ObjectId) -> Result<Outcome, ProtocolError> {
        let (class, random) = (self.class, self.seed());
        self.driver.abstain(&class, req, node, random)
    }

    /// The node cannot run the request in time.
    pub fn decline(&mut self, req: &ObjectId, node: &ObjectId) -> Result<Outcome, ProtocolError> {
        let (class, random) = (self.class, self.seed());
        self.driver.decline(&class, req, node, random)
    }

    pub fn reveal_secret(&mut self, req: &ObjectId, secret: &Digest) -> Result<Outcome, ProtocolError> {
        let class = self.class;
        self.driver.reveal_secret(REQUESTER, &class, req, secret)
    }

    /// One `expire` call (the first after a deadline only extends it).
    pub fn expire(&mut self, req: &ObjectId) -> Result<Outcome, ProtocolError> {
        let (random, class) = (self.seed(), self.class);
        self.driver.keep(keeper(), &class, req, KeeperCall::Expire, || random)
    }

    /// Ends the current phase once its deadline has passed: `expire`, the
    /// grace, `expire` again.
    pub fn expire_after_grace(&mut self, req: &ObjectId) {
        let first = self.expire(req).unwrap();
        assert!(matches!(first.events.as_slice(), [Event::DeadlineExtended(_)]), "{first:?}");
        self.now += self.req(req).params.grace_ms;
        self.expire(req).unwrap();
    }

    pub fn select_nodes(&mut self, req: &ObjectId) -> Result<Outcome, ProtocolError> {
        let class = self.class;
        self.driver.keep(keeper(), &class, req, KeeperCall::SelectNodes, || unreachable!("select_nodes draws nothing"))
    }

    pub fn open_dispute(&mut self, req: &ObjectId) -> Result<Outcome, ProtocolError> {
        let (random, class) = (self.seed(), self.class);
        self.driver.keep(keeper(), &class, req, KeeperCall::OpenDispute, || random)
    }

    /// Commits then reveals `output(node)` for every current member.
    pub fn play_round(&mut self, req: &ObjectId, output: impl Fn(&ObjectId) -> Digest) {
        let members = self.members(req);
        for n in &members {
            if self.req(req).slots.iter().any(|s| s.node_id == *n && s.commitment.is_none()) {
                self.commit(req, n, &output(n)).unwrap();
            }
        }
        for n in &members {
            self.reveal(req, n, &output(n)).unwrap();
        }
    }

    pub fn members(&self, req: &ObjectId) -> Vec<ObjectId> {
        let r = self.req(req);
        r.members().iter().map(|&i| r.slots[i].node_id).collect()
    }

    /// Every node's locked collateral and open tasks are zero.
    pub fn assert_all_unlocked(&self) {
        for (id, n) in self.state.nodes() {
            assert_eq!((n.locked, n.open_tasks), (0, 0), "node {id} still locked");
        }
    }

    pub fn collateral(&self, node: &ObjectId) -> u64 {
        self.state.node(node).unwrap().collateral
    }

    /// The protocol revenue the world's class holds.
    pub fn revenue(&self) -> u64 {
        self.state.classes[&self.class].revenue
    }

    pub fn events_named(&self, name: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.name() == name).collect()
    }
}

/// The request's `RequestFinalized` event (panics if it did not finalize).
pub fn finalized(w: &World, req: &ObjectId) -> atoma_protocol::events::RequestFinalized {
    w.events
        .iter()
        .find_map(|e| match e {
            Event::RequestFinalized(f) if f.request_id == *req => Some(f.clone()),
            _ => None,
        })
        .expect("request finalized")
}

/// The request's `RequestFailed` event (panics if it did not fail).
pub fn failed(w: &World, req: &ObjectId) -> atoma_protocol::events::RequestFailed {
    w.events
        .iter()
        .find_map(|e| match e {
            Event::RequestFailed(f) if f.request_id == *req => Some(f.clone()),
            _ => None,
        })
        .expect("request failed")
}

/// Every slash of the request: (node, reason, amount).
pub fn slashes(w: &World, req: &ObjectId) -> Vec<(ObjectId, atoma_protocol::SlashReason, u64)> {
    w.events
        .iter()
        .filter_map(|e| match e {
            Event::NodeSlashed(s) if s.request_id == *req => Some((s.node_id, s.reason, s.amount)),
            _ => None,
        })
        .collect()
}
