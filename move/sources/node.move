/// Node operators: register with collateral, top it up, change the endpoint,
/// leave and withdraw (Rust: `atoma_protocol::ops::node`). Each operation
/// changes only the node's `HardwareClass` object; leaving reads the
/// `Network`'s unbonding delay and fixes the node's exit time with it.
///
/// A `NodeCap` is the right to act for one node; the node's id is the cap's
/// id. It has `key` only, so it cannot be transferred by accident.
module atoma::node;

use atoma::events;
use atoma::hardware::HardwareClass;
use atoma::network::Network;
use std::string::String;
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::sui::SUI;

// === Errors ===

/// The collateral is below the class minimum.
#[error(code = 9)]
const EInsufficientCollateral: vector<u8> = b"collateral is below the class minimum";
/// The cap's node is not registered (it withdrew).
#[error(code = 10)]
const EUnknownNode: vector<u8> = b"no node with this id";
/// The endpoint is empty or longer than 256 bytes.
#[error(code = 11)]
const EInvalidEndpoint: vector<u8> = b"endpoint is empty or longer than 256 bytes";
/// The public key is not 32 bytes.
#[error(code = 12)]
const EInvalidPublicKey: vector<u8> = b"public key must be 32 bytes";
/// The node asked to leave already.
#[error(code = 13)]
const EAlreadyLeaving: vector<u8> = b"node is already leaving";
/// The node must ask to leave before withdrawing.
#[error(code = 14)]
const ENotLeaving: vector<u8> = b"node must request to leave before withdrawing";
/// The unbonding delay has not passed.
#[error(code = 15)]
const EUnbonding: vector<u8> = b"unbonding delay has not passed";
/// The node still has open tasks.
#[error(code = 16)]
const EOpenTasks: vector<u8> = b"node has open tasks";

// === Constants ===

const MAX_ENDPOINT_LEN: u64 = 256;

// === Structs ===

public struct NodeCap has key {
    id: UID,
    network_id: ID,
    class_id: u64,
}

// === Public functions ===

/// Registers a node in `class` with the whole `collateral` coin, its output
/// server's `endpoint` and its Ed25519 `public_key`; sends the `NodeCap` to
/// the sender. Emits `NodeRegistered`.
/// Aborts: `version::EWrongVersion`, `EInsufficientCollateral`, `EInvalidEndpoint`, `EInvalidPublicKey`.
public fun register_node(
    class: &mut HardwareClass,
    collateral: Coin<SUI>,
    endpoint: String,
    public_key: vector<u8>,
    ctx: &mut TxContext,
) {
    class.check_version();
    let amount = collateral.value();
    assert!(amount >= class.min_collateral(), EInsufficientCollateral);
    check_endpoint(&endpoint);
    assert!(public_key.length() == 32, EInvalidPublicKey);
    let cap = NodeCap { id: object::new(ctx), network_id: class.network_id(), class_id: class.class_id() };
    let node_id = object::id(&cap);
    class.add_node(node_id, ctx.sender(), collateral.into_balance(), endpoint, public_key);
    events::emit_node_registered(node_id, ctx.sender(), class.class_id(), amount, endpoint, public_key);
    transfer::transfer(cap, ctx.sender());
}

/// Adds the whole `payment` coin to the node's collateral. Emits `CollateralAdded`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EUnknownNode`.
public fun add_collateral(class: &mut HardwareClass, cap: &NodeCap, payment: Coin<SUI>) {
    let node_id = check_cap(class, cap);
    let amount = payment.value();
    let total = class.deposit(node_id, payment.into_balance());
    events::emit_collateral_added(node_id, amount, total);
}

/// Changes the node's output server address. Emits `EndpointUpdated`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EUnknownNode`, `EInvalidEndpoint`.
public fun set_endpoint(class: &mut HardwareClass, cap: &NodeCap, endpoint: String) {
    let node_id = check_cap(class, cap);
    check_endpoint(&endpoint);
    class.set_endpoint(node_id, endpoint);
    events::emit_endpoint_updated(node_id, endpoint);
}

/// Stops new assignments (admitted or drafted) and fixes the node's exit at
/// `now + unbonding_delay_ms`, which a later change of the delay does not
/// move. Emits `NodeLeaving`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EUnknownNode`, `EAlreadyLeaving`.
public fun request_leave(net: &Network, class: &mut HardwareClass, cap: &NodeCap, clock: &Clock) {
    net.check_version();
    net.check_network(class.network_id());
    let node_id = check_cap(class, cap);
    assert!(class.node(node_id).withdraw_after_ms().is_none(), EAlreadyLeaving);
    let withdraw_after_ms = clock.timestamp_ms() + net.params().unbonding_delay_ms();
    class.leave(node_id, withdraw_after_ms);
    events::emit_node_leaving(node_id, withdraw_after_ms);
}

/// From the exit time `request_leave` fixed on, pays the whole collateral to
/// the node's owner and deletes the node and its cap. Emits `NodeWithdrawn`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EUnknownNode`,
/// `ENotLeaving`, `EUnbonding`, `EOpenTasks`.
public fun withdraw(net: &Network, class: &mut HardwareClass, cap: NodeCap, clock: &Clock, ctx: &mut TxContext) {
    net.check_version();
    net.check_network(class.network_id());
    let node_id = check_cap(class, &cap);
    let node = class.node(node_id);
    let exit = node.withdraw_after_ms();
    assert!(exit.is_some(), ENotLeaving);
    assert!(clock.timestamp_ms() >= exit.destroy_some(), EUnbonding);
    assert!(node.open_tasks() == 0, EOpenTasks);
    let NodeCap { id, .. } = cap;
    id.delete();
    let (owner, collateral) = class.remove_node(node_id);
    let amount = collateral.value();
    transfer::public_transfer(coin::from_balance(collateral, ctx), owner);
    events::emit_node_withdrawn(node_id, amount);
}

// === Views ===

public fun node_id(cap: &NodeCap): ID { object::id(cap) }

public fun network_id(cap: &NodeCap): ID { cap.network_id }

public fun class_id(cap: &NodeCap): u64 { cap.class_id }

// === Private functions ===

/// Checks the class's version and the cap against the class, and returns
/// the cap's node's id.
fun check_cap(class: &HardwareClass, cap: &NodeCap): ID {
    class.check_version();
    class.check_member(cap.network_id, cap.class_id);
    let node_id = object::id(cap);
    assert!(class.has_node(node_id), EUnknownNode);
    node_id
}

fun check_endpoint(endpoint: &String) {
    assert!(endpoint.length() > 0 && endpoint.length() <= MAX_ENDPOINT_LEN, EInvalidEndpoint);
}

// === Test-only functions ===

/// A cap of no registered node, or of another network or class.
#[test_only]
public fun new_cap_for_testing(network_id: ID, class_id: u64, ctx: &mut TxContext): NodeCap {
    NodeCap { id: object::new(ctx), network_id, class_id }
}

#[test_only]
public fun destroy_cap_for_testing(cap: NodeCap) {
    let NodeCap { id, .. } = cap;
    id.delete();
}
