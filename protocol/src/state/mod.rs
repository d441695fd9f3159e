//! The network's state: the `Network` (parameters, the registries of classes
//! and models, the treasury) and one `HardwareClass` per class (its nodes,
//! their collateral and locks, its active list and revenue). Move: the shared
//! `Network` object, one shared `HardwareClass` object per class, and the
//! owned capabilities.
//!
//! A node is *on call* when it is not leaving and its collateral is at least
//! the class minimum, and *eligible* for new tasks when it is on call and
//! its free collateral (collateral minus locked) covers one more task lock.
//! A class's active list holds exactly its eligible nodes (submissions draw
//! from it), its on-call list exactly its on-call nodes (every later seat is
//! drawn from it); `HardwareClass::sync_node` restores both after every
//! change, so sampling draws uniformly from either in O(k).
//!
//! An operation that fails half way (an overflow, a missing node) must leave
//! the class as it was, as a Move abort does: `HardwareClass::begin` starts
//! recording every change to the class (`rollback` undoes them, `commit`
//! keeps them), so no operation needs to copy a class.
//!
//! Not for: requests (see `request`) or the operations that change state
//! (see `ops`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, Result, add, sub};
use crate::params::Params;
use crate::types::{Address, Digest, ObjectId};

mod active_set;

pub use active_set::ActiveSet;

/// The right to change parameters, add classes and models, and withdraw the
/// treasury (Move: `AdminCap has key`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AdminCap {
    /// The capability object's id.
    pub id: ObjectId,
    /// The network it governs.
    pub network_id: ObjectId,
}

/// The right to act for one node; the node's id is the cap's id
/// (Move: `NodeCap has key`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeCap {
    /// The capability object's id, which is also the node's id.
    pub id: ObjectId,
    /// The network the node belongs to.
    pub network_id: ObjectId,
    /// The node's hardware class.
    pub class_id: u64,
}

impl NodeCap {
    /// The id of the node this cap acts for.
    pub fn node_id(&self) -> ObjectId {
        self.id
    }
}

/// Nodes of one hardware, driver, libtorch and executor version, and
/// everything a request of the class touches: the nodes, their collateral
/// and locks, the active list and the protocol's revenue from the class
/// (Move: the shared `HardwareClass` object, one per class; see
/// docs/scaling.md for why the class is the shard).
#[derive(Clone, Debug)]
pub struct HardwareClass {
    /// The shared object's id.
    pub id: ObjectId,
    /// The package version that may use the class (see `crate::version`).
    pub version: u64,
    /// The network the class belongs to.
    pub network_id: ObjectId,
    /// The class's number in the network's registry (0, 1, ...).
    pub class_id: u64,
    /// Human-readable name, e.g. `h100-80gb/cuda-12.4/torch-2.5`.
    pub name: String,
    /// The determinism profile every node of the class must run with, e.g.
    /// `device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0`
    /// (docs/protocol.md, "Hardware classes"); nodes compare it with their own.
    pub profile: String,
    /// Collateral a node needs to register and to stay eligible.
    pub min_collateral: u64,
    /// Collateral locked per task (the stake a wrong output loses).
    pub task_lock: u64,
    /// The longest run-time bound of the class's models (0 before the first).
    pub longest_run_ms: u64,
    /// The class's eligible nodes (submissions draw from them).
    pub active: ActiveSet,
    /// The class's on-call nodes (every seat filled after submission is drawn from them).
    pub on_call: ActiveSet,
    /// The class's registered nodes by id.
    pub nodes: BTreeMap<ObjectId, Node>,
    /// Protocol share of the class's slashes and rounding remainders (MIST),
    /// until the admin sweeps it to the network's treasury.
    pub revenue: u64,
    /// While recording (`begin`): each changed node's value before the
    /// change (`None`: it did not exist), and the revenue before.
    undo: Option<(BTreeMap<ObjectId, Option<Node>>, u64)>,
}

impl HardwareClass {
    /// A new class with no node, of this package `version`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: ObjectId,
        version: u64,
        network_id: ObjectId,
        class_id: u64,
        name: &str,
        profile: &str,
        min_collateral: u64,
        task_lock: u64,
    ) -> Self {
        HardwareClass {
            id,
            version,
            network_id,
            class_id,
            name: name.to_string(),
            profile: profile.to_string(),
            min_collateral,
            task_lock,
            longest_run_ms: 0,
            active: ActiveSet::default(),
            on_call: ActiveSet::default(),
            nodes: BTreeMap::new(),
            revenue: 0,
            undo: None,
        }
    }

    /// The node with this id (`UnknownNode` if it is not in this class).
    pub fn node(&self, node_id: &ObjectId) -> Result<&Node> {
        self.nodes.get(node_id).ok_or(ProtocolError::UnknownNode)
    }

    /// The node with this id, to change (`UnknownNode` if it is not in this
    /// class); while recording, its value before the change is kept.
    pub(crate) fn node_mut(&mut self, node_id: &ObjectId) -> Result<&mut Node> {
        let node = self.nodes.get_mut(node_id).ok_or(ProtocolError::UnknownNode)?;
        if let Some((nodes, _)) = &mut self.undo {
            nodes.entry(*node_id).or_insert_with(|| Some(node.clone()));
        }
        Ok(node)
    }

    /// Adds a node (registration).
    pub(crate) fn insert_node(&mut self, node_id: ObjectId, node: Node) {
        if let Some((nodes, _)) = &mut self.undo {
            nodes.entry(node_id).or_insert(None);
        }
        self.nodes.insert(node_id, node);
        self.sync_node(&node_id);
    }

    /// Deletes a node (withdrawal) and returns it.
    pub(crate) fn remove_node(&mut self, node_id: &ObjectId) -> Result<Node> {
        self.node_mut(node_id)?;
        let node = self.nodes.remove(node_id).ok_or(ProtocolError::UnknownNode)?;
        self.active.remove(node_id);
        self.on_call.remove(node_id);
        Ok(node)
    }

    /// Adds `amount` to the class's revenue.
    pub(crate) fn deposit_revenue(&mut self, amount: u64) -> Result<()> {
        self.revenue = add(self.revenue, amount)?;
        Ok(())
    }

    /// Starts recording changes, for `rollback`.
    pub(crate) fn begin(&mut self) {
        self.undo = Some((BTreeMap::new(), self.revenue));
        self.active.begin();
        self.on_call.begin();
    }

    /// Keeps the changes made since `begin`.
    pub(crate) fn commit(&mut self) {
        self.undo = None;
        self.active.commit();
        self.on_call.commit();
    }

    /// Undoes every change made since `begin`.
    pub(crate) fn rollback(&mut self) {
        if let Some((nodes, revenue)) = self.undo.take() {
            for (id, before) in nodes {
                match before {
                    Some(node) => self.nodes.insert(id, node),
                    None => self.nodes.remove(&id),
                };
            }
            self.revenue = revenue;
        }
        self.active.rollback();
        self.on_call.rollback();
    }

    /// Runs `f` on the class; if it fails, the class is left as it was.
    pub(crate) fn atomically<T>(&mut self, f: impl FnOnce(&mut HardwareClass) -> Result<T>) -> Result<T> {
        self.begin();
        match f(self) {
            Ok(t) => {
                self.commit();
                Ok(t)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Locks one task's stake on `node_id`, even beyond its free collateral
    /// (a drafted seat, see docs/protocol.md, "Seats"), and returns the stake.
    pub(crate) fn lock(&mut self, node_id: &ObjectId) -> Result<u64> {
        let stake = self.task_lock;
        let node = self.node_mut(node_id)?;
        node.locked = add(node.locked, stake)?;
        node.open_tasks = add(node.open_tasks, 1)?;
        self.sync_node(node_id);
        Ok(stake)
    }

    /// Unlocks a task's stake.
    pub(crate) fn unlock(&mut self, node_id: &ObjectId, stake: u64) -> Result<()> {
        let node = self.node_mut(node_id)?;
        node.locked = sub(node.locked, stake)?;
        node.open_tasks = sub(node.open_tasks, 1)?;
        self.sync_node(node_id);
        Ok(())
    }

    /// Checks that an object of `network_id` and class `class_id` (a request,
    /// a node cap, a model) belongs to this class.
    pub fn check_member(&self, network_id: &ObjectId, class_id: u64) -> Result<()> {
        if *network_id != self.network_id {
            Err(ProtocolError::WrongNetwork)
        } else if class_id != self.class_id {
            Err(ProtocolError::WrongClass)
        } else {
            Ok(())
        }
    }

    /// Whether `node` may be given a new task (see the module doc).
    pub fn is_eligible(&self, node: &Node) -> bool {
        Standing::of(node.leaving(), node.collateral, node.locked, self.min_collateral, self.task_lock)
            == Standing::Eligible
    }

    /// Whether `node` may be drafted into a seat after submission: not
    /// leaving, collateral at least the minimum (see the module doc).
    pub fn is_on_call(&self, node: &Node) -> bool {
        !node.leaving() && node.collateral >= self.min_collateral
    }

    /// Puts `node_id` in (or takes it out of) the active and on-call lists
    /// as it is eligible and on call.
    pub(crate) fn sync_node(&mut self, node_id: &ObjectId) {
        let Some(node) = self.nodes.get(node_id) else { return };
        let (eligible, on_call) = (self.is_eligible(node), self.is_on_call(node));
        if eligible {
            self.active.insert(*node_id);
        } else {
            self.active.remove(node_id);
        }
        if on_call {
            self.on_call.insert(*node_id);
        } else {
            self.on_call.remove(node_id);
        }
    }

    /// SUI the class holds: its nodes' collateral and its revenue.
    pub fn held(&self) -> u128 {
        self.nodes.values().map(|n| n.collateral as u128).sum::<u128>() + self.revenue as u128
    }
}

impl PartialEq for HardwareClass {
    /// The class's contents; what an operation in progress recorded is not part of it.
    fn eq(&self, other: &Self) -> bool {
        (
            &self.id,
            self.version,
            &self.network_id,
            self.class_id,
            &self.name,
            &self.profile,
            self.min_collateral,
            self.task_lock,
            self.longest_run_ms,
        ) == (
            &other.id,
            other.version,
            &other.network_id,
            other.class_id,
            &other.name,
            &other.profile,
            other.min_collateral,
            other.task_lock,
            other.longest_run_ms,
        ) && self.active == other.active
            && self.on_call == other.on_call
            && self.nodes == other.nodes
            && self.revenue == other.revenue
    }
}

impl Eq for HardwareClass {}

/// A model that requests may name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Model {
    /// Blake2b-256 of the weight file; executors refuse files that differ.
    pub weight_digest: Digest,
    /// The hardware class the model runs on.
    pub class_id: u64,
    /// The longest an honest node of the class takes to run the model on
    /// any input (ms): every commit timeout of its requests covers it.
    pub max_run_ms: u64,
}

/// A registered node (Move: an entry of its class's `nodes` table).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Node {
    /// The address that registered the node; rewards and withdrawals go here.
    pub owner: Address,
    /// The node's hardware class.
    pub class_id: u64,
    /// Collateral held (MIST), locked part included.
    pub collateral: u64,
    /// Collateral locked by open tasks.
    pub locked: u64,
    /// Active slots held on requests.
    pub open_tasks: u64,
    /// Once the node asked to leave: the time from which it may withdraw,
    /// fixed then (what its `NodeLeaving` event announced).
    pub withdraw_after_ms: Option<u64>,
    /// Base URL of the node's output server.
    pub endpoint: String,
    /// Ed25519 public key the node signs served outputs with.
    pub public_key: Vec<u8>,
    /// Tasks settled on the winning side.
    pub completed: u64,
    /// Times slashed.
    pub slashed: u64,
}

/// Whether a node may be given a new task, and if not, why (the rule of the
/// module doc, in one place for the state machine and for operators' tools).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Standing {
    /// The node is in its class's active list.
    Eligible,
    /// The node asked to leave.
    Leaving,
    /// Collateral is below the class minimum by `short` MIST (after a slash).
    BelowMinimum {
        /// MIST to add to reach the minimum.
        short: u64,
    },
    /// Open tasks lock so much that no further task lock fits; it passes
    /// when they settle. The node is still on call for drafted seats.
    FullyLocked,
}

impl Standing {
    /// The standing of a node with these amounts in a class with these limits.
    pub fn of(leaving: bool, collateral: u64, locked: u64, min_collateral: u64, task_lock: u64) -> Standing {
        if leaving {
            Standing::Leaving
        } else if collateral < min_collateral {
            Standing::BelowMinimum { short: min_collateral - collateral }
        } else if collateral.saturating_sub(locked) < task_lock {
            Standing::FullyLocked
        } else {
            Standing::Eligible
        }
    }
}

impl Node {
    /// Collateral not locked by open tasks (0 when drafted seats lock more
    /// than the node holds).
    pub fn free_collateral(&self) -> u64 {
        self.collateral.saturating_sub(self.locked)
    }

    /// Whether the node asked to leave.
    pub fn leaving(&self) -> bool {
        self.withdraw_after_ms.is_some()
    }
}

/// The shared `Network` object: what every class shares and no request
/// changes (parameters, the registries of classes and models, the treasury).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Network {
    /// The shared object's id.
    pub id: ObjectId,
    /// The package version that may use the network (see `crate::version`).
    pub version: u64,
    /// The current parameters.
    pub params: Params,
    /// The class objects' ids by class id.
    pub classes: BTreeMap<u64, ObjectId>,
    /// The id the next class will get.
    pub next_class_id: u64,
    /// Models by id.
    pub models: BTreeMap<String, Model>,
    /// Protocol revenue swept from the classes (MIST).
    pub treasury: u64,
}

impl Network {
    /// The object id of the class with this id (`UnknownClass` if none).
    pub fn class_object(&self, class_id: u64) -> Result<ObjectId> {
        self.classes.get(&class_id).copied().ok_or(ProtocolError::UnknownClass)
    }

    /// The model with this id (`UnknownModel` if none).
    pub fn model(&self, model_id: &str) -> Result<&Model> {
        self.models.get(model_id).ok_or(ProtocolError::UnknownModel)
    }

    /// Checks that a capability or object was issued by this network.
    pub fn check_network(&self, network_id: &ObjectId) -> Result<()> {
        if *network_id == self.id { Ok(()) } else { Err(ProtocolError::WrongNetwork) }
    }
}
