/// A hardware class: nodes with the same hardware, driver, libtorch and
/// executor version, whose honest outputs agree bit for bit. Each class is
/// its own shared object holding everything a request of the class touches:
/// its nodes, their collateral and locks, the active list and the protocol's
/// revenue from the class (Rust: `atoma_protocol::state::HardwareClass`). So
/// requests of different classes never contend for one object
/// (docs/scaling.md).
///
/// A node is on call when it is not leaving and its collateral is at least
/// the class's minimum, and eligible for new tasks when it is on call and its
/// free collateral (collateral minus locked) covers one more task lock.
/// `active` holds exactly the eligible nodes (submissions draw from them),
/// `on_call` exactly the on-call ones (every seat filled later is drawn from
/// them, its stake locked even beyond the node's free collateral), each for
/// uniform sampling in O(1) per draw: a `TableVec` with an index table and
/// swap-remove, so a class of any size is sampled without scanning it;
/// `sync_node` restores both after every change.
///
/// A function given a node the class does not hold aborts with
/// `EUnknownNode`, as the Rust reference fails.
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
/// The class holds no node with this id.
#[error(code = 10)]
const EUnknownNode: vector<u8> = b"no node with this id";

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
    /// The longest run-time bound of the class's models (0 before the first).
    longest_run_ms: u64,
    /// The eligible nodes (submissions draw from them), with their index.
    active: TableVec<ID>,
    index: Table<ID, u64>,
    /// The on-call nodes (every later seat is drawn from them), with their index.
    on_call: TableVec<ID>,
    on_call_index: Table<ID, u64>,
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
    /// May exceed the collateral: drafted seats lock beyond it.
    locked: u64,
    open_tasks: u64,
    /// Once the node asked to leave: when it may withdraw, fixed then.
    withdraw_after_ms: Option<u64>,
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
        longest_run_ms: 0,
        active: table_vec::empty(ctx),
        index: table::new(ctx),
        on_call: table_vec::empty(ctx),
        on_call_index: table::new(ctx),
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

/// Records a model's run-time bound: the class keeps the longest.
public(package) fun add_run_bound(class: &mut HardwareClass, max_run_ms: u64) {
    class.longest_run_ms = class.longest_run_ms.max(max_run_ms);
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
        withdraw_after_ms: option::none(),
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
    let total = class.node_mut(node_id).collateral.join(amount);
    class.sync_node(node_id);
    total
}

public(package) fun set_endpoint(class: &mut HardwareClass, node_id: ID, endpoint: String) {
    class.node_mut(node_id).endpoint = endpoint;
}

/// Marks the node as leaving from now on, free to withdraw from
/// `withdraw_after_ms`, and takes it out of both lists.
public(package) fun leave(class: &mut HardwareClass, node_id: ID, withdraw_after_ms: u64) {
    class.node_mut(node_id).withdraw_after_ms = option::some(withdraw_after_ms);
    class.sync_node(node_id);
}

/// Deletes the node and returns its owner and collateral.
public(package) fun remove_node(class: &mut HardwareClass, node_id: ID): (address, Balance<SUI>) {
    assert!(class.nodes.contains(node_id), EUnknownNode);
    let Node { owner, collateral, .. } = class.nodes.remove(node_id);
    remove(&mut class.active, &mut class.index, node_id);
    remove(&mut class.on_call, &mut class.on_call_index, node_id);
    (owner, collateral)
}

/// Puts the node in (or takes it out of) the active and on-call lists as it
/// is eligible and on call.
public(package) fun sync_node(class: &mut HardwareClass, node_id: ID) {
    let node = &class.nodes[node_id];
    let (eligible, on_call) = (class.is_eligible(node), class.is_on_call(node));
    if (eligible) insert(&mut class.active, &mut class.index, node_id)
    else remove(&mut class.active, &mut class.index, node_id);
    if (on_call) insert(&mut class.on_call, &mut class.on_call_index, node_id)
    else remove(&mut class.on_call, &mut class.on_call_index, node_id);
}

// === Package functions: tasks ===

/// Locks one task's stake on the node, even beyond its free collateral (a
/// drafted seat), and returns the stake.
public(package) fun lock(class: &mut HardwareClass, node_id: ID): u64 {
    let stake = class.task_lock;
    let node = class.node_mut(node_id);
    node.locked = node.locked + stake;
    node.open_tasks = node.open_tasks + 1;
    class.sync_node(node_id);
    stake
}

/// Unlocks a task's stake.
public(package) fun unlock(class: &mut HardwareClass, node_id: ID, stake: u64) {
    let node = class.node_mut(node_id);
    node.locked = node.locked - stake;
    node.open_tasks = node.open_tasks - 1;
    class.sync_node(node_id);
}

/// Takes `amount` (at most `stake` and what the node holds) of the node's
/// collateral and unlocks the stake; `share_bps` of it (the request's
/// protocol share) goes to the class's revenue, the rest is returned with
/// the amount taken.
public(package) fun slash(
    class: &mut HardwareClass,
    node_id: ID,
    stake: u64,
    amount: u64,
    share_bps: u64,
): (Balance<SUI>, u64) {
    let node = class.node_mut(node_id);
    let take = amount.min(stake).min(node.collateral.value());
    let mut taken = node.collateral.split(take);
    node.slashed = node.slashed + 1;
    class.unlock(node_id, stake);
    let share = params::bps_of(take, share_bps);
    class.revenue.join(taken.split(share));
    (taken, take)
}

/// Records a task settled on the winning side; returns the owner to pay.
public(package) fun complete(class: &mut HardwareClass, node_id: ID): address {
    let node = class.node_mut(node_id);
    node.completed = node.completed + 1;
    node.owner
}

/// Indices, in the eligible (or, with `on_call`, the on-call) list, of the
/// given nodes that are in it.
public(package) fun list_indices(class: &HardwareClass, nodes: &vector<ID>, on_call: bool): vector<u64> {
    let index = if (on_call) &class.on_call_index else &class.index;
    let mut out = vector[];
    nodes.do_ref!(|id| {
        if (index.contains(*id)) out.push_back(index[*id]);
    });
    out
}

/// How many eligible (or on-call) nodes are not in `exclude`.
public(package) fun available(class: &HardwareClass, exclude: &vector<ID>, on_call: bool): u64 {
    let len = if (on_call) class.on_call.length() else class.active.length();
    len - class.list_indices(exclude, on_call).length()
}

/// Samples up to `count` eligible (or, with `on_call`, on-call) nodes that
/// are not in `exclude`, from `seed`. Reads only the drawn entries and those
/// of `exclude`.
public(package) fun sample_nodes(
    class: &HardwareClass,
    seed: &vector<u8>,
    count: u64,
    exclude: &vector<ID>,
    on_call: bool,
): vector<ID> {
    let excluded = class.list_indices(exclude, on_call);
    let list = if (on_call) &class.on_call else &class.active;
    let len = list.length();
    let k = count.min(len - excluded.length());
    sampler::sample(seed, k, len, &excluded).map!(|i| *list.borrow(i))
}

// === Views ===

public fun version(class: &HardwareClass): u64 { class.version }

public fun network_id(class: &HardwareClass): ID { class.network_id }

public fun class_id(class: &HardwareClass): u64 { class.class_id }

public fun name(class: &HardwareClass): String { class.name }

public fun profile(class: &HardwareClass): String { class.profile }

public fun min_collateral(class: &HardwareClass): u64 { class.min_collateral }

public fun task_lock(class: &HardwareClass): u64 { class.task_lock }

public fun longest_run_ms(class: &HardwareClass): u64 { class.longest_run_ms }

public fun revenue(class: &HardwareClass): u64 { class.revenue.value() }

/// Number of eligible nodes.
public fun active_count(class: &HardwareClass): u64 { class.active.length() }

/// The eligible node at index `i`.
public fun active_at(class: &HardwareClass, i: u64): ID { *class.active.borrow(i) }

public fun is_active(class: &HardwareClass, node: ID): bool { class.index.contains(node) }

/// Number of on-call nodes.
public fun on_call_count(class: &HardwareClass): u64 { class.on_call.length() }

/// Whether a node may be drafted into a seat after submission.
public fun is_on_call_node(class: &HardwareClass, node: ID): bool { class.on_call_index.contains(node) }

/// The index of an eligible node.
public fun index_of(class: &HardwareClass, node: ID): Option<u64> {
    if (class.index.contains(node)) option::some(class.index[node]) else option::none()
}

public fun has_node(class: &HardwareClass, node_id: ID): bool { class.nodes.contains(node_id) }

public fun node(class: &HardwareClass, node_id: ID): &Node { &class.nodes[node_id] }

/// Whether `node` may be given a new task.
public fun is_eligible(class: &HardwareClass, node: &Node): bool {
    let collateral = node.collateral.value();
    class.is_on_call(node) && collateral > node.locked && collateral - node.locked >= class.task_lock
}

/// Whether `node` may be drafted into a seat after submission.
public fun is_on_call(class: &HardwareClass, node: &Node): bool {
    node.withdraw_after_ms.is_none() && node.collateral.value() >= class.min_collateral
}

public fun owner(node: &Node): address { node.owner }

public fun node_class_id(node: &Node): u64 { node.class_id }

public fun collateral(node: &Node): u64 { node.collateral.value() }

public fun locked(node: &Node): u64 { node.locked }

public fun open_tasks(node: &Node): u64 { node.open_tasks }

public fun withdraw_after_ms(node: &Node): Option<u64> { node.withdraw_after_ms }

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

/// Removes a node whatever it holds: a state no sequence of calls reaches,
/// to check that the request functions abort on it (`EUnknownNode`).
#[test_only]
public fun remove_node_for_testing(class: &mut HardwareClass, node_id: ID) {
    let Node { collateral, .. } = class.nodes.remove(node_id);
    collateral.destroy_for_testing();
    remove(&mut class.active, &mut class.index, node_id);
    remove(&mut class.on_call, &mut class.on_call_index, node_id);
}

// === Private functions ===

/// The node with this id, to change. Aborts: `EUnknownNode`.
fun node_mut(class: &mut HardwareClass, node_id: ID): &mut Node {
    assert!(class.nodes.contains(node_id), EUnknownNode);
    &mut class.nodes[node_id]
}

/// Adds `node` to a list (nothing if present).
fun insert(list: &mut TableVec<ID>, index: &mut Table<ID, u64>, node: ID) {
    if (index.contains(node)) return;
    index.add(node, list.length());
    list.push_back(node);
}

/// Removes `node` from a list by swap-remove (nothing if absent).
fun remove(list: &mut TableVec<ID>, index: &mut Table<ID, u64>, node: ID) {
    if (!index.contains(node)) return;
    let i = index.remove(node);
    let last = list.length() - 1;
    if (i != last) {
        let moved = *list.borrow(last);
        *list.borrow_mut(i) = moved;
        *index.borrow_mut(moved) = i;
    };
    list.pop_back();
}
