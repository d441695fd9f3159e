//! A class's eligible (or on-call) nodes as Move holds them: a vector with
//! an index, swap-remove, O(1) membership and uniform draws in O(k), and a
//! journal that undoes a failed operation's changes.

use std::cell::Cell;
use std::collections::HashMap;

use crate::types::ObjectId;

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
    /// While recording: the changes made, to undo in reverse order.
    journal: Option<Vec<SetChange>>,
}

/// One change to an `ActiveSet`, with what undoing it needs.
#[derive(Clone, Copy, Debug)]
enum SetChange {
    /// `node` was pushed at the end.
    Inserted(ObjectId),
    /// `node` was removed from position `at`; the last entry moved there.
    Removed { node: ObjectId, at: u64 },
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

    pub(super) fn insert(&mut self, node: ObjectId) {
        if !self.index.contains_key(&node) {
            self.index.insert(node, self.nodes.len() as u64);
            self.nodes.push(node);
            if let Some(j) = &mut self.journal {
                j.push(SetChange::Inserted(node));
            }
        }
    }

    pub(super) fn remove(&mut self, node: &ObjectId) {
        if let Some(i) = self.index.remove(node) {
            let last = self.nodes.len() - 1;
            self.nodes.swap(i as usize, last);
            self.nodes.pop();
            if let Some(moved) = self.nodes.get(i as usize) {
                self.index.insert(*moved, i);
            }
            if let Some(j) = &mut self.journal {
                j.push(SetChange::Removed { node: *node, at: i });
            }
        }
    }

    pub(super) fn begin(&mut self) {
        self.journal = Some(Vec::new());
    }

    pub(super) fn commit(&mut self) {
        self.journal = None;
    }

    /// Undoes every change since `begin`, newest first, restoring the order.
    pub(super) fn rollback(&mut self) {
        for change in self.journal.take().unwrap_or_default().into_iter().rev() {
            match change {
                SetChange::Inserted(node) => {
                    self.nodes.pop();
                    self.index.remove(&node);
                }
                SetChange::Removed { node, at } => {
                    let at = at as usize;
                    if at == self.nodes.len() {
                        self.nodes.push(node);
                    } else {
                        let moved = self.nodes[at];
                        self.nodes[at] = node;
                        self.index.insert(moved, self.nodes.len() as u64);
                        self.nodes.push(moved);
                    }
                    self.index.insert(node, at as u64);
                }
            }
        }
    }
}
