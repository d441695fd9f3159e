//! The network's state: the `Network` (parameters, the registries of classes
//! and models, the treasury) and one `HardwareClass` per class (its nodes,
//! their collateral and locks, its active list and revenue). Move: the shared
//! `Network` object, one shared `HardwareClass` object per class, and the
//! owned capabilities.
//!
//! A node is *eligible* for new tasks when it is not leaving, its collateral
//! is at least the class minimum and its free collateral (collateral minus
//! locked) covers one more task lock. A class's active list holds exactly its
//! eligible nodes; `HardwareClass::sync_node` restores that after every change, so
//! sampling draws uniformly among eligible nodes in O(k).
//!
//! Not for: requests (see `request`) or the operations that change state
//! (see `ops`).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, Result};
use crate::params::Params;
use crate::types::{Address, Digest, ObjectId};

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

/// The eligible nodes of a class, for O(1) uniform sampling: a vector with an
/// index (Move: `TableVec<ID>` and `Table<ID, u64>`), with swap-remove.
///
/// `reads` counts element reads, so tests can check that sampling touches
/// O(k) entries and never scans the list.
#[derive(Clone, Debug, Default)]
pub struct ActiveSet {
    nodes: Vec<ObjectId>,
    index: HashMap<ObjectId, u64>,
    reads: Cell<u64>,
}

impl PartialEq for ActiveSet {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl Eq for ActiveSet {}

impl ActiveSet {
    /// Number of eligible nodes.
    pub fn len(&self) -> u64 {
        self.nodes.len() as u64
    }

    /// Whether no node is eligible.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at index `i` (one read).
    pub fn get(&self, i: u64) -> Option<ObjectId> {
        self.reads.set(self.reads.get() + 1);
        self.nodes.get(i as usize).copied()
    }

    /// The index of `node`, if active (one read).
    pub fn index_of(&self, node: &ObjectId) -> Option<u64> {
        self.reads.set(self.reads.get() + 1);
        self.index.get(node).copied()
    }

    /// Whether `node` is eligible (an index lookup, not counted as a read).
    pub fn contains(&self, node: &ObjectId) -> bool {
        self.index.contains_key(node)
    }

    /// Element reads since creation (for tests of sampling cost).
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// The active nodes in list order (a full scan: views and tests only).
    pub fn to_vec(&self) -> Vec<ObjectId> {
        self.nodes.clone()
    }

    fn insert(&mut self, node: ObjectId) {
        if !self.index.contains_key(&node) {
            self.index.insert(node, self.nodes.len() as u64);
            self.nodes.push(node);
        }
    }

    fn remove(&mut self, node: &ObjectId) {
        if let Some(i) = self.index.remove(node) {
            let last = self.nodes.len() - 1;
            self.nodes.swap(i as usize, last);
            self.nodes.pop();
            if let Some(moved) = self.nodes.get(i as usize) {
                self.index.insert(*moved, i);
            }
        }
    }
}

/// Nodes of one hardware, driver, libtorch and executor version, and
/// everything a request of the class touches: the nodes, their collateral
/// and locks, the active list and the protocol's revenue from the class
/// (Move: the shared `HardwareClass` object, one per class; see
/// docs/scaling.md for why the class is the shard).
#[derive(Clone, PartialEq, Eq, Debug)]
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
    /// The class's eligible nodes.
    pub active: ActiveSet,
    /// The class's registered nodes by id.
    pub nodes: BTreeMap<ObjectId, Node>,
    /// Protocol share of the class's slashes and rounding remainders (MIST),
    /// until the admin sweeps it to the network's treasury.
    pub revenue: u64,
}

impl HardwareClass {
    /// The node with this id (`UnknownNode` if it is not in this class).
    pub fn node(&self, node_id: &ObjectId) -> Result<&Node> {
        self.nodes.get(node_id).ok_or(ProtocolError::UnknownNode)
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
        Standing::of(node.leaving_since_ms.is_some(), node.collateral, node.locked, self.min_collateral, self.task_lock)
            == Standing::Eligible
    }

    /// Puts `node_id` in the active list if eligible, takes it out otherwise.
    pub(crate) fn sync_node(&mut self, node_id: &ObjectId) {
        let Some(node) = self.nodes.get(node_id) else { return };
        if self.is_eligible(node) {
            self.active.insert(*node_id);
        } else {
            self.active.remove(node_id);
        }
    }

    pub(crate) fn remove_from_active(&mut self, node_id: &ObjectId) {
        self.active.remove(node_id);
    }

    /// SUI the class holds: its nodes' collateral and its revenue.
    pub fn held(&self) -> u128 {
        self.nodes.values().map(|n| n.collateral as u128).sum::<u128>() + self.revenue as u128
    }
}

/// A model that requests may name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Model {
    /// Blake2b-256 of the weight file; executors refuse files that differ.
    pub weight_digest: Digest,
    /// The hardware class the model runs on.
    pub class_id: u64,
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
    /// When the node asked to leave, if it did.
    pub leaving_since_ms: Option<u64>,
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
    /// when they settle.
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
    /// Collateral not locked by open tasks.
    pub fn free_collateral(&self) -> u64 {
        self.collateral - self.locked
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
