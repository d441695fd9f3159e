/// A hardware class: nodes with the same hardware, driver, libtorch and
/// executor version, whose honest outputs agree bit for bit.
///
/// `active` holds exactly the class's eligible nodes, for uniform sampling
/// in O(1) per draw: a `TableVec` with an index table and swap-remove, so a
/// class of any size is sampled without scanning it.
module atoma::hardware;

use std::string::String;
use sui::table::{Self, Table};
use sui::table_vec::{Self, TableVec};

public struct HardwareClass has store {
    name: String,
    /// The determinism profile its nodes run with, e.g.
    /// `device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0`;
    /// a node whose own differs refuses to register or start.
    profile: String,
    /// Collateral a node needs to register and stay eligible.
    min_collateral: u64,
    /// Collateral locked per task: what a wrong output loses.
    task_lock: u64,
    active: TableVec<ID>,
    index: Table<ID, u64>,
}

public(package) fun new(
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
    ctx: &mut TxContext,
): HardwareClass {
    HardwareClass { name, profile, min_collateral, task_lock, active: table_vec::empty(ctx), index: table::new(ctx) }
}

/// Adds `node` to the active list (nothing if present).
public(package) fun insert(class: &mut HardwareClass, node: ID) {
    if (class.index.contains(node)) return;
    class.index.add(node, class.active.length());
    class.active.push_back(node);
}

/// Removes `node` from the active list by swap-remove (nothing if absent).
public(package) fun remove(class: &mut HardwareClass, node: ID) {
    if (!class.index.contains(node)) return;
    let i = class.index.remove(node);
    let last = class.active.length() - 1;
    if (i != last) {
        let moved = *class.active.borrow(last);
        *class.active.borrow_mut(i) = moved;
        *class.index.borrow_mut(moved) = i;
    };
    class.active.pop_back();
}

// === Views ===

public fun name(class: &HardwareClass): String { class.name }

public fun profile(class: &HardwareClass): String { class.profile }

public fun min_collateral(class: &HardwareClass): u64 { class.min_collateral }

public fun task_lock(class: &HardwareClass): u64 { class.task_lock }

/// Number of eligible nodes.
public fun active_count(class: &HardwareClass): u64 { class.active.length() }

/// The eligible node at index `i`.
public fun active_at(class: &HardwareClass, i: u64): ID { *class.active.borrow(i) }

public fun is_active(class: &HardwareClass, node: ID): bool { class.index.contains(node) }

/// The index of an eligible node.
public fun index_of(class: &HardwareClass, node: ID): Option<u64> {
    if (class.index.contains(node)) option::some(class.index[node]) else option::none()
}
