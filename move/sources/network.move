/// The shared `Network`: parameters, hardware classes, models, nodes and the
/// protocol treasury, with the admin's entry functions (Rust:
/// `atoma_protocol::state` and `ops::admin`).
///
/// A node is eligible for new tasks when it is not leaving, its collateral is
/// at least its class's minimum and its free collateral (collateral minus
/// locked) covers one more task lock. The class's active list holds exactly
/// the eligible nodes: `sync_node` restores that after every change.
module atoma::network;

use atoma::events;
use atoma::hardware::{Self, HardwareClass};
use atoma::model::{Self, Model};
use atoma::params::{Self, Params};
use atoma::sampler;
use std::string::String;
use sui::balance::{Self, Balance};
use sui::coin;
use sui::sui::SUI;
use sui::table::{Self, Table};

// === Errors ===

/// The capability belongs to another network.
#[error(code = 1)]
const EWrongNetwork: vector<u8> = b"object belongs to another network";
/// No hardware class with this id.
#[error(code = 3)]
const EUnknownClass: vector<u8> = b"no hardware class with this id";
/// A model with this id exists already.
#[error(code = 5)]
const EModelExists: vector<u8> = b"a model with this id exists already";
/// A digest argument is not 32 bytes.
#[error(code = 6)]
const EInvalidDigest: vector<u8> = b"digest must be 32 bytes";
/// A name is empty or longer than 128 bytes.
#[error(code = 7)]
const EInvalidName: vector<u8> = b"name is empty or longer than 128 bytes";
/// A class profile is empty or longer than 256 bytes.
#[error(code = 41)]
const EInvalidProfile: vector<u8> = b"class profile is empty or longer than 256 bytes";
/// The task lock is zero or above the minimum collateral.
#[error(code = 8)]
const EInvalidTaskLock: vector<u8> = b"task lock must be positive and at most the minimum collateral";
/// The treasury holds less than the amount asked for.
#[error(code = 38)]
const EInsufficientTreasury: vector<u8> = b"treasury holds less than the amount";

// === Constants ===

const MAX_NAME_LEN: u64 = 128;
const MAX_PROFILE_LEN: u64 = 256;

// === Structs ===

public struct Network has key {
    id: UID,
    params: Params,
    classes: Table<u64, HardwareClass>,
    next_class_id: u64,
    models: Table<String, Model>,
    nodes: Table<ID, Node>,
    /// Protocol share of slashed collateral and rounding remainders.
    treasury: Balance<SUI>,
}

/// The right to change parameters, add classes and models and withdraw the treasury.
public struct AdminCap has key {
    id: UID,
    network_id: ID,
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

// === Initializer ===

fun init(ctx: &mut TxContext) {
    create(params::default(), ctx);
}

fun create(params: Params, ctx: &mut TxContext) {
    let network = Network {
        id: object::new(ctx),
        params,
        classes: table::new(ctx),
        next_class_id: 0,
        models: table::new(ctx),
        nodes: table::new(ctx),
        treasury: balance::zero(),
    };
    let cap = AdminCap { id: object::new(ctx), network_id: object::id(&network) };
    events::emit_network_created(object::id(&network), object::id(&cap), params);
    transfer::transfer(cap, ctx.sender());
    transfer::share_object(network);
}

// === Admin functions ===

/// Adds a hardware class with the determinism profile its nodes must run
/// with (docs/protocol.md, "Hardware classes"); ids count up from 0. Emits
/// `HardwareClassAdded`.
/// Aborts: `EWrongNetwork`, `EInvalidName`, `EInvalidProfile`, `EInvalidTaskLock`.
public fun add_hardware_class(
    net: &mut Network,
    cap: &AdminCap,
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
    ctx: &mut TxContext,
): u64 {
    net.check_admin(cap);
    check_name(&name);
    assert!(profile.length() > 0 && profile.length() <= MAX_PROFILE_LEN, EInvalidProfile);
    assert!(task_lock > 0 && task_lock <= min_collateral, EInvalidTaskLock);
    let class_id = net.next_class_id;
    net.next_class_id = class_id + 1;
    net.classes.add(class_id, hardware::new(name, profile, min_collateral, task_lock, ctx));
    events::emit_hardware_class_added(class_id, name, profile, min_collateral, task_lock);
    class_id
}

/// Adds a model with the digest of its weight file. Emits `ModelAdded`.
/// Aborts: `EWrongNetwork`, `EInvalidName`, `EInvalidDigest`, `EUnknownClass`, `EModelExists`.
public fun add_model(net: &mut Network, cap: &AdminCap, model_id: String, weight_digest: vector<u8>, class_id: u64) {
    net.check_admin(cap);
    check_name(&model_id);
    assert!(weight_digest.length() == 32, EInvalidDigest);
    assert!(net.classes.contains(class_id), EUnknownClass);
    assert!(!net.models.contains(model_id), EModelExists);
    net.models.add(model_id, model::new(weight_digest, class_id));
    events::emit_model_added(model_id, weight_digest, class_id);
}

/// Replaces the parameters for requests submitted from now on (a request
/// keeps the copy it took at submission). Emits `ParamsUpdated`.
/// Aborts: `EWrongNetwork`, `params::EInvalidParams`.
public fun set_params(
    net: &mut Network,
    cap: &AdminCap,
    min_fee_per_execution: u64,
    min_timeout_ms: u64,
    max_timeout_ms: u64,
    reveal_window_ms: u64,
    timeout_slash_bps: u64,
    protocol_share_bps: u64,
    max_retries: u64,
    unbonding_delay_ms: u64,
    max_n: u64,
    sealed_pool_factor: u64,
    max_inline_input: u64,
    grace_ms: u64,
) {
    net.check_admin(cap);
    let params = params::new(
        min_fee_per_execution,
        min_timeout_ms,
        max_timeout_ms,
        reveal_window_ms,
        timeout_slash_bps,
        protocol_share_bps,
        max_retries,
        unbonding_delay_ms,
        max_n,
        sealed_pool_factor,
        max_inline_input,
        grace_ms,
    );
    net.params = params;
    events::emit_params_updated(params);
}

/// Pays `amount` of the treasury to the sender. Emits `TreasuryWithdrawn`.
/// Aborts: `EWrongNetwork`, `EInsufficientTreasury`.
#[allow(lint(self_transfer))] // the admin pays itself, like the Rust reference's payout
public fun withdraw_treasury(net: &mut Network, cap: &AdminCap, amount: u64, ctx: &mut TxContext) {
    net.check_admin(cap);
    assert!(amount <= net.treasury.value(), EInsufficientTreasury);
    transfer::public_transfer(coin::from_balance(net.treasury.split(amount), ctx), ctx.sender());
    events::emit_treasury_withdrawn(amount, ctx.sender());
}

// === Views ===

public fun params(net: &Network): &Params { &net.params }

public fun treasury(net: &Network): u64 { net.treasury.value() }

public fun class(net: &Network, class_id: u64): &HardwareClass {
    assert!(net.classes.contains(class_id), EUnknownClass);
    &net.classes[class_id]
}

public fun has_class(net: &Network, class_id: u64): bool { net.classes.contains(class_id) }

public fun has_model(net: &Network, model_id: String): bool { net.models.contains(model_id) }

public fun model(net: &Network, model_id: String): &Model { &net.models[model_id] }

public fun has_node(net: &Network, node_id: ID): bool { net.nodes.contains(node_id) }

public fun node(net: &Network, node_id: ID): &Node { &net.nodes[node_id] }

public fun admin_network_id(cap: &AdminCap): ID { cap.network_id }

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

/// Whether `node` may be given a new task.
public fun is_eligible(net: &Network, node: &Node): bool {
    let class = &net.classes[node.class_id];
    let collateral = node.collateral.value();
    node.leaving_since_ms.is_none() && collateral >= class.min_collateral() && collateral - node.locked >= class.task_lock()
}

// === Package functions: nodes ===

public(package) fun check_network(net: &Network, network_id: ID) {
    assert!(object::id(net) == network_id, EWrongNetwork);
}

public(package) fun add_node(
    net: &mut Network,
    node_id: ID,
    owner: address,
    class_id: u64,
    collateral: Balance<SUI>,
    endpoint: String,
    public_key: vector<u8>,
) {
    let node = Node {
        owner,
        class_id,
        collateral,
        locked: 0,
        open_tasks: 0,
        leaving_since_ms: option::none(),
        endpoint,
        public_key,
        completed: 0,
        slashed: 0,
    };
    net.nodes.add(node_id, node);
    net.sync_node(node_id);
}

/// Adds to a node's collateral and returns the new total.
public(package) fun deposit(net: &mut Network, node_id: ID, amount: Balance<SUI>): u64 {
    let total = net.nodes[node_id].collateral.join(amount);
    net.sync_node(node_id);
    total
}

public(package) fun set_endpoint(net: &mut Network, node_id: ID, endpoint: String) {
    net.nodes[node_id].endpoint = endpoint;
}

/// Marks the node as leaving and takes it out of its class's active list.
public(package) fun leave(net: &mut Network, node_id: ID, now_ms: u64) {
    let node = &mut net.nodes[node_id];
    node.leaving_since_ms = option::some(now_ms);
    let class_id = node.class_id;
    net.classes[class_id].remove(node_id);
}

/// Deletes the node and returns its owner and collateral.
public(package) fun remove_node(net: &mut Network, node_id: ID): (address, Balance<SUI>) {
    let Node { owner, collateral, .. } = net.nodes.remove(node_id);
    (owner, collateral)
}

/// Puts the node in its class's active list if eligible, takes it out otherwise.
public(package) fun sync_node(net: &mut Network, node_id: ID) {
    let node = &net.nodes[node_id];
    let eligible = net.is_eligible(node);
    let class_id = node.class_id;
    let class = &mut net.classes[class_id];
    if (eligible) class.insert(node_id) else class.remove(node_id);
}

// === Package functions: tasks ===

/// Locks one task's stake on the node and returns the stake.
public(package) fun lock(net: &mut Network, node_id: ID): u64 {
    let class_id = net.nodes[node_id].class_id;
    let stake = net.classes[class_id].task_lock();
    let node = &mut net.nodes[node_id];
    node.locked = node.locked + stake;
    node.open_tasks = node.open_tasks + 1;
    net.sync_node(node_id);
    stake
}

/// Unlocks a task's stake.
public(package) fun unlock(net: &mut Network, node_id: ID, stake: u64) {
    let node = &mut net.nodes[node_id];
    node.locked = node.locked - stake;
    node.open_tasks = node.open_tasks - 1;
    net.sync_node(node_id);
}

/// Takes `amount` (at most `stake`) of the node's collateral and unlocks the
/// stake; `share_bps` of it (the request's protocol share) goes to the
/// treasury, the rest is returned.
public(package) fun slash(net: &mut Network, node_id: ID, stake: u64, amount: u64, share_bps: u64): Balance<SUI> {
    let node = &mut net.nodes[node_id];
    let mut taken = node.collateral.split(amount.min(stake));
    node.slashed = node.slashed + 1;
    net.unlock(node_id, stake);
    let share = params::bps_of(taken.value(), share_bps);
    net.treasury.join(taken.split(share));
    taken
}

/// Records a task settled on the winning side; returns the owner to pay.
public(package) fun complete(net: &mut Network, node_id: ID): address {
    let node = &mut net.nodes[node_id];
    node.completed = node.completed + 1;
    node.owner
}

public(package) fun deposit_treasury(net: &mut Network, amount: Balance<SUI>) {
    net.treasury.join(amount);
}

/// Indices, in the class's active list, of the given nodes that are active.
public(package) fun active_indices(net: &Network, class_id: u64, nodes: &vector<ID>): vector<u64> {
    let class = &net.classes[class_id];
    let mut out = vector[];
    nodes.do_ref!(|id| {
        let i = class.index_of(*id);
        if (i.is_some()) out.push_back(i.destroy_some());
    });
    out
}

/// Whether the node is in its class's active list (eligible for a new task).
public(package) fun is_active(net: &Network, class_id: u64, node_id: ID): bool {
    net.classes[class_id].is_active(node_id)
}

/// How many eligible nodes of the class are not in `exclude`.
public(package) fun available(net: &Network, class_id: u64, exclude: &vector<ID>): u64 {
    net.classes[class_id].active_count() - net.active_indices(class_id, exclude).length()
}

/// Samples up to `count` eligible nodes of the class that are not in
/// `exclude`, from `seed`. Reads only the drawn entries and those of `exclude`.
public(package) fun sample_nodes(net: &Network, class_id: u64, seed: &vector<u8>, count: u64, exclude: &vector<ID>): vector<ID> {
    let excluded = net.active_indices(class_id, exclude);
    let class = &net.classes[class_id];
    let len = class.active_count();
    let k = count.min(len - excluded.length());
    sampler::sample(seed, k, len, &excluded).map!(|i| class.active_at(i))
}

// === Private functions ===

fun check_admin(net: &Network, cap: &AdminCap) {
    net.check_network(cap.network_id);
}

fun check_name(name: &String) {
    assert!(name.length() > 0 && name.length() <= MAX_NAME_LEN, EInvalidName);
}

// === Test-only functions ===

#[test_only]
public fun init_for_testing(ctx: &mut TxContext) {
    init(ctx);
}

#[test_only]
public fun create_for_testing(params: Params, ctx: &mut TxContext) {
    create(params, ctx);
}
