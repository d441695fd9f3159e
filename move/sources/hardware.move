/// A hardware class: nodes with the same hardware, driver, libtorch and
/// executor version, whose honest outputs agree bit for bit. Each class is
/// its own shared object holding everything a request of the class touches:
/// its nodes, their collateral and locks, the active list and the protocol's
/// revenue from the class (Rust: `atoma_protocol::state::HardwareClass`). So
/// requests of different classes never contend for one object
/// (docs/scaling.md).
///
/// A node is eligible for new tasks when it is not leaving, its collateral is
/// at least the class's minimum and its free collateral (collateral minus
/// locked) covers one more task lock. `active` holds exactly the eligible
/// nodes, for uniform sampling in O(1) per draw: a `TableVec` with an index
/// table and swap-remove, so a class of any size is sampled without scanning
/// it; `sync_node` restores that after every change.
module atoma::hardware;

use atoma::params;
use atoma::sampler;
use atoma::version;
use std::string::String;
use sui::balance::{Self, Balance};
use sui::sui::SUI;
use sui::table::{Self, Table};
use sui::table_vec::{Self, TableVec};

// === Errors ===

/// The object belongs to another network.
#[error(code = 1)]
const EWrongNetwork: vector<u8> = b"object belongs to another network";
/// The request, node or model belongs to another hardware class.
#[error(code = 42)]
const EWrongClass: vector<u8> = b"object belongs to another hardware class";

// === Structs ===

public struct HardwareClass has key {
    id: UID,
    /// The package version that may use the class (see `version`).
    version: u64,
    network_id: ID,
    /// The class's number in the network's registry (0, 1, ...).
    class_id: u64,
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
    /// The class's registered nodes, keyed by their `NodeCap`'s id.
    nodes: Table<ID, Node>,
    /// Protocol share of the class's slashes and rounding remainders, until
    /// the admin sweeps it to the network's treasury.
    revenue: Balance<SUI>,
}

/// A registered node, keyed by its `NodeCap`'s id.
public struct Node has store {
    owner: address,
    class_id: u64,
    collateral: Balance<SUI>,
    locked: u64,
    open_tasks: u64,
    leaving_since_ms: Option<u64>,
    endpoint: String,
    public_key: vector<u8>,
    /// Tasks settled on the winning side.
    completed: u64,
    /// Times slashed.
    slashed: u64,
}

// === Package functions: the class ===

public(package) fun new(
    network_id: ID,
    class_id: u64,
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
    ctx: &mut TxContext,
): HardwareClass {
    HardwareClass {
        id: object::new(ctx),
        version: version::current(),
        network_id,
        class_id,
        name,
        profile,
        min_collateral,
        task_lock,
        active: table_vec::empty(ctx),
        index: table::new(ctx),
        nodes: table::new(ctx),
        revenue: balance::zero(),
    }
}

public(package) fun share(class: HardwareClass) {
    transfer::share_object(class);
}

/// Aborts unless this package may use the class (`version::EWrongVersion`).
public(package) fun check_version(class: &HardwareClass) {
    version::check(class.version);
}

/// Moves the class to this package's version (the admin's `migrate_class`).
public(package) fun migrate(class: &mut HardwareClass) {
    version::check_migration(class.version);
    class.version = version::current();
}

/// Checks that an object of `network_id` and class `class_id` (a request, a
/// node's cap, a model) belongs to this class.
/// Aborts: `EWrongNetwork`, `EWrongClass`.
public(package) fun check_member(class: &HardwareClass, network_id: ID, class_id: u64) {
    assert!(network_id == class.network_id, EWrongNetwork);
    assert!(class_id == class.class_id, EWrongClass);
}

/// Takes the whole revenue (for the admin's sweep).
public(package) fun take_revenue(class: &mut HardwareClass): Balance<SUI> {
    class.revenue.withdraw_all()
}

public(package) fun deposit_revenue(class: &mut HardwareClass, amount: Balance<SUI>) {
    class.revenue.join(amount);
}

// === Package functions: nodes ===

public(package) fun add_node(
    class: &mut HardwareClass,
    node_id: ID,
    owner: address,
    collateral: Balance<SUI>,
    endpoint: String,
    public_key: vector<u8>,
) {
    let node = Node {
        owner,
        class_id: class.class_id,
        collateral,
        locked: 0,
        open_tasks: 0,
        leaving_since_ms: option::none(),
        endpoint,
        public_key,
        completed: 0,
        slashed: 0,
    };
    class.nodes.add(node_id, node);
    class.sync_node(node_id);
}

/// Adds to a node's collateral and returns the new total.
public(package) fun deposit(class: &mut HardwareClass, node_id: ID, amount: Balance<SUI>): u64 {
    let total = class.nodes[node_id].collateral.join(amount);
    class.sync_node(node_id);
    total
}

public(package) fun set_endpoint(class: &mut HardwareClass, node_id: ID, endpoint: String) {
    class.nodes[node_id].endpoint = endpoint;
}

/// Marks the node as leaving and takes it out of the active list.
public(package) fun leave(class: &mut HardwareClass, node_id: ID, now_ms: u64) {
    class.nodes[node_id].leaving_since_ms = option::some(now_ms);
    class.remove(node_id);
}

/// Deletes the node and returns its owner and collateral.
public(package) fun remove_node(class: &mut HardwareClass, node_id: ID): (address, Balance<SUI>) {
    let Node { owner, collateral, .. } = class.nodes.remove(node_id);
    (owner, collateral)
}

/// Puts the node in the active list if eligible, takes it out otherwise.
public(package) fun sync_node(class: &mut HardwareClass, node_id: ID) {
    let eligible = class.is_eligible(&class.nodes[node_id]);
    if (eligible) class.insert(node_id) else class.remove(node_id);
}

// === Package functions: tasks ===

/// Locks one task's stake on the node and returns the stake.
public(package) fun lock(class: &mut HardwareClass, node_id: ID): u64 {
    let stake = class.task_lock;
    let node = &mut class.nodes[node_id];
    node.locked = node.locked + stake;
    node.open_tasks = node.open_tasks + 1;
    class.sync_node(node_id);
    stake
}

/// Unlocks a task's stake.
public(package) fun unlock(class: &mut HardwareClass, node_id: ID, stake: u64) {
    let node = &mut class.nodes[node_id];
    node.locked = node.locked - stake;
    node.open_tasks = node.open_tasks - 1;
    class.sync_node(node_id);
}

/// Takes `amount` (at most `stake`) of the node's collateral and unlocks the
/// stake; `share_bps` of it (the request's protocol share) goes to the
/// class's revenue, the rest is returned.
public(package) fun slash(class: &mut HardwareClass, node_id: ID, stake: u64, amount: u64, share_bps: u64): Balance<SUI> {
    let node = &mut class.nodes[node_id];
    let mut taken = node.collateral.split(amount.min(stake));
    node.slashed = node.slashed + 1;
    class.unlock(node_id, stake);
    let share = params::bps_of(taken.value(), share_bps);
    class.revenue.join(taken.split(share));
    taken
}

/// Records a task settled on the winning side; returns the owner to pay.
public(package) fun complete(class: &mut HardwareClass, node_id: ID): address {
    let node = &mut class.nodes[node_id];
    node.completed = node.completed + 1;
    node.owner
}

/// Indices, in the active list, of the given nodes that are active.
public(package) fun active_indices(class: &HardwareClass, nodes: &vector<ID>): vector<u64> {
    let mut out = vector[];
    nodes.do_ref!(|id| {
        let i = class.index_of(*id);
        if (i.is_some()) out.push_back(i.destroy_some());
    });
    out
}

/// How many eligible nodes are not in `exclude`.
public(package) fun available(class: &HardwareClass, exclude: &vector<ID>): u64 {
    class.active_count() - class.active_indices(exclude).length()
}

/// Samples up to `count` eligible nodes that are not in `exclude`, from
/// `seed`. Reads only the drawn entries and those of `exclude`.
public(package) fun sample_nodes(class: &HardwareClass, seed: &vector<u8>, count: u64, exclude: &vector<ID>): vector<ID> {
    let excluded = class.active_indices(exclude);
    let len = class.active_count();
    let k = count.min(len - excluded.length());
    sampler::sample(seed, k, len, &excluded).map!(|i| class.active_at(i))
}

// === Views ===

public fun version(class: &HardwareClass): u64 { class.version }

public fun network_id(class: &HardwareClass): ID { class.network_id }

public fun class_id(class: &HardwareClass): u64 { class.class_id }

public fun name(class: &HardwareClass): String { class.name }

public fun profile(class: &HardwareClass): String { class.profile }

public fun min_collateral(class: &HardwareClass): u64 { class.min_collateral }

public fun task_lock(class: &HardwareClass): u64 { class.task_lock }

public fun revenue(class: &HardwareClass): u64 { class.revenue.value() }

/// Number of eligible nodes.
public fun active_count(class: &HardwareClass): u64 { class.active.length() }

/// The eligible node at index `i`.
public fun active_at(class: &HardwareClass, i: u64): ID { *class.active.borrow(i) }

public fun is_active(class: &HardwareClass, node: ID): bool { class.index.contains(node) }

/// The index of an eligible node.
public fun index_of(class: &HardwareClass, node: ID): Option<u64> {
    if (class.index.contains(node)) option::some(class.index[node]) else option::none()
}

public fun has_node(class: &HardwareClass, node_id: ID): bool { class.nodes.contains(node_id) }

public fun node(class: &HardwareClass, node_id: ID): &Node { &class.nodes[node_id] }

/// Whether `node` may be given a new task.
public fun is_eligible(class: &HardwareClass, node: &Node): bool {
    let collateral = node.collateral.value();
    node.leaving_since_ms.is_none() && collateral >= class.min_collateral && collateral - node.locked >= class.task_lock
}

public fun owner(node: &Node): address { node.owner }

public fun node_class_id(node: &Node): u64 { node.class_id }

public fun collateral(node: &Node): u64 { node.collateral.value() }

public fun locked(node: &Node): u64 { node.locked }

public fun open_tasks(node: &Node): u64 { node.open_tasks }

public fun leaving_since_ms(node: &Node): Option<u64> { node.leaving_since_ms }

public fun endpoint(node: &Node): String { node.endpoint }

public fun public_key(node: &Node): vector<u8> { node.public_key }

public fun completed(node: &Node): u64 { node.completed }

public fun slashed(node: &Node): u64 { node.slashed }

// === Test-only functions ===

/// Sets the class's version, as an older or newer package would have left it.
#[test_only]
public fun set_version_for_testing(class: &mut HardwareClass, version: u64) {
    class.version = version;
}

// === Private functions ===

/// Adds `node` to the active list (nothing if present).
fun insert(class: &mut HardwareClass, node: ID) {
    if (class.index.contains(node)) return;
    class.index.add(node, class.active.length());
    class.active.push_back(node);
}

/// Removes `node` from the active list by swap-remove (nothing if absent).
fun remove(class: &mut HardwareClass, node: ID) {
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
