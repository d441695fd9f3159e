//! The network's state: parameters, hardware classes with their active node
//! lists, models, nodes and the treasury (Move: the shared `Network` object
//! and the owned capabilities).
//!
//! A node is *eligible* for new tasks when it is not leaving, its collateral
//! is at least the class minimum and its free collateral (collateral minus
//! locked) covers one more task lock. A class's active list holds exactly its
//! eligible nodes; `Network::sync_node` restores that after every change, so
//! sampling draws uniformly among eligible nodes in O(k).
//!
//! Not for: requests (see `request`) or the operations that change state
//! (see `ops`).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use crate::error::{ProtocolError, Result};
use crate::params::Params;
use crate::types::{Address, Digest, ObjectId};

/// The right to change parameters, add classes and models, and withdraw the
/// treasury (Move: `AdminCap has key`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AdminCap {
    /// The capability object's id.
    pub id: ObjectId,
    /// The network it governs.
    pub network_id: ObjectId,
}

/// The right to act for one node; the node's id is the cap's id
/// (Move: `NodeCap has key`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NodeCap {
    /// The capability object's id, which is also the node's id.
    pub id: ObjectId,
    /// The network the node belongs to.
    pub network_id: ObjectId,
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

/// Nodes of one hardware, driver, libtorch and executor version.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HardwareClass {
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
}

/// A model that requests may name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Model {
    /// Blake2b-256 of the weight file; executors refuse files that differ.
    pub weight_digest: Digest,
    /// The hardware class the model runs on.
    pub class_id: u64,
}

/// A registered node (Move: an entry of `Network.nodes`).
#[derive(Clone, PartialEq, Eq, Debug)]
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

impl Node {
    /// Collateral not locked by open tasks.
    pub fn free_collateral(&self) -> u64 {
        self.collateral - self.locked
    }
}

/// The shared `Network` object.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Network {
    /// The shared object's id.
    pub id: ObjectId,
    /// The current parameters.
    pub params: Params,
    /// Hardware classes by id.
    pub classes: BTreeMap<u64, HardwareClass>,
    /// The id the next class will get.
    pub next_class_id: u64,
    /// Models by id.
    pub models: BTreeMap<String, Model>,
    /// Registered nodes by id.
    pub nodes: BTreeMap<ObjectId, Node>,
    /// Protocol share of slashed collateral and rounding remainders (MIST).
    pub treasury: u64,
}

impl Network {
    /// The class with this id (`UnknownClass` if none).
    pub fn class(&self, class_id: u64) -> Result<&HardwareClass> {
        self.classes.get(&class_id).ok_or(ProtocolError::UnknownClass)
    }

    /// The model with this id (`UnknownModel` if none).
    pub fn model(&self, model_id: &str) -> Result<&Model> {
        self.models.get(model_id).ok_or(ProtocolError::UnknownModel)
    }

    /// The node with this id (`UnknownNode` if none).
    pub fn node(&self, node_id: &ObjectId) -> Result<&Node> {
        self.nodes.get(node_id).ok_or(ProtocolError::UnknownNode)
    }

    /// Checks that a capability was issued by this network.
    pub fn check_network(&self, network_id: &ObjectId) -> Result<()> {
        if *network_id == self.id { Ok(()) } else { Err(ProtocolError::WrongNetwork) }
    }

    /// Whether `node` may be given a new task (see the module doc).
    pub fn is_eligible(&self, node: &Node) -> bool {
        let Some(class) = self.classes.get(&node.class_id) else { return false };
        node.leaving_since_ms.is_none()
            && node.collateral >= class.min_collateral
            && node.free_collateral() >= class.task_lock
    }

    /// Puts `node_id` in its class's active list if eligible, takes it out otherwise.
    pub(crate) fn sync_node(&mut self, node_id: &ObjectId) {
        let Some(node) = self.nodes.get(node_id) else { return };
        let eligible = self.is_eligible(node);
        let class_id = node.class_id;
        if let Some(class) = self.classes.get_mut(&class_id) {
            if eligible {
                class.active.insert(*node_id);
            } else {
                class.active.remove(node_id);
            }
        }
    }

    pub(crate) fn remove_from_active(&mut self, class_id: u64, node_id: &ObjectId) {
        if let Some(class) = self.classes.get_mut(&class_id) {
            class.active.remove(node_id);
        }
    }

    /// Total SUI the network holds: collateral of all nodes and the treasury.
    pub fn held(&self) -> u128 {
        self.nodes.values().map(|n| n.collateral as u128).sum::<u128>() + self.treasury as u128
    }
}
