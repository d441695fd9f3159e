/// The package's events, one per state change a client must see. Field
/// order is the order of the Rust structs in `atoma_protocol::events`, so
/// clients decode the BCS that `event::emit` records; the vectors in
/// `tests/vectors_tests.move` pin the layouts.
module atoma::events;

use atoma::params::Params;
use atoma::types::{FailReason, Input, Mode, Role, Round, SlashReason};
use std::string::String;
use sui::event;

// === Structs ===

/// A network was created at publication.
public struct NetworkCreated has copy, drop {
    network_id: ID,
    admin_cap_id: ID,
    params: Params,
}

public struct HardwareClassAdded has copy, drop {
    class_id: u64,
    /// The class's shared object.
    object_id: ID,
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
}

public struct ModelAdded has copy, drop {
    model_id: String,
    weight_digest: vector<u8>,
    class_id: u64,
    /// The model's run-time bound on its class (ms).
    max_run_ms: u64,
}

public struct ParamsUpdated has copy, drop {
    params: Params,
}

public struct TreasuryWithdrawn has copy, drop {
    amount: u64,
    recipient: address,
}

public struct RevenueSwept has copy, drop {
    class_id: u64,
    amount: u64,
}

public struct Migrated has copy, drop {
    object_id: ID,
    version: u64,
}

public struct NodeRegistered has copy, drop {
    node_id: ID,
    owner: address,
    class_id: u64,
    collateral: u64,
    endpoint: String,
    public_key: vector<u8>,
}

public struct CollateralAdded has copy, drop {
    node_id: ID,
    amount: u64,
    collateral: u64,
}

public struct EndpointUpdated has copy, drop {
    node_id: ID,
    endpoint: String,
}

public struct NodeLeaving has copy, drop {
    node_id: ID,
    withdraw_after_ms: u64,
}

public struct NodeWithdrawn has copy, drop {
    node_id: ID,
    amount: u64,
}

public struct RequestSubmitted has copy, drop {
    request_id: ID,
    requester: address,
    model_id: String,
    input_digest: vector<u8>,
    input: Input,
    mode: Mode,
    fee: u64,
    seed: vector<u8>,
    timeout_ms: u64,
}

/// Nodes were assigned to a request: its quorum or primary, a Sealed pool
/// (`Candidate`), verifiers, a dispute quorum or replacements.
public struct NodesSelected has copy, drop {
    request_id: ID,
    role: Role,
    nodes: vector<ID>,
    deadline_ms: u64,
}

public struct Committed has copy, drop {
    request_id: ID,
    node_id: ID,
    commitment: vector<u8>,
}

/// The CrossValidation coin flip, drawn when the primary committed.
public struct VerificationDrawn has copy, drop {
    request_id: ID,
    checked: bool,
}

public struct RevealPhaseStarted has copy, drop {
    request_id: ID,
    round: Round,
    deadline_ms: u64,
}

public struct Revealed has copy, drop {
    request_id: ID,
    node_id: ID,
    output_digest: vector<u8>,
}

/// A Sealed secret was revealed: whether the primary is checked, and by whom.
public struct SecretRevealed has copy, drop {
    request_id: ID,
    checked: bool,
    verifiers: vector<ID>,
}

/// The main round's reveals differ; `open_dispute` draws the dispute quorum.
public struct DisputeRaised has copy, drop {
    request_id: ID,
    quorum_size: u64,
}

public struct NodeSlashed has copy, drop {
    request_id: ID,
    node_id: ID,
    reason: SlashReason,
    amount: u64,
}

public struct RequestFinalized has copy, drop {
    request_id: ID,
    output_digest: vector<u8>,
    nodes: vector<ID>,
    verified: bool,
    reward_per_node: u64,
}

public struct RequestFailed has copy, drop {
    request_id: ID,
    reason: FailReason,
    refund: u64,
}

/// A member could not obtain the request's input (a URI) and left its seat,
/// neither slashed nor paid; the seat is refilled.
public struct Abstained has copy, drop {
    request_id: ID,
    node_id: ID,
}

/// A member could not run the request in time and left its seat, neither
/// slashed nor paid; the seat is refilled.
public struct Declined has copy, drop {
    request_id: ID,
    node_id: ID,
}

/// The first `expire` after a deadline extended it by the request's grace.
public struct DeadlineExtended has copy, drop {
    request_id: ID,
    deadline_ms: u64,
}

// === Package functions ===

public(package) fun emit_network_created(network_id: ID, admin_cap_id: ID, params: Params) {
    event::emit(NetworkCreated { network_id, admin_cap_id, params });
}

public(package) fun emit_hardware_class_added(
    class_id: u64,
    object_id: ID,
    name: String,
    profile: String,
    min_collateral: u64,
    task_lock: u64,
) {
    event::emit(HardwareClassAdded { class_id, object_id, name, profile, min_collateral, task_lock });
}

public(package) fun emit_model_added(model_id: String, weight_digest: vector<u8>, class_id: u64, max_run_ms: u64) {
    event::emit(ModelAdded { model_id, weight_digest, class_id, max_run_ms });
}

public(package) fun emit_params_updated(params: Params) {
    event::emit(ParamsUpdated { params });
}

public(package) fun emit_treasury_withdrawn(amount: u64, recipient: address) {
    event::emit(TreasuryWithdrawn { amount, recipient });
}

public(package) fun emit_revenue_swept(class_id: u64, amount: u64) {
    event::emit(RevenueSwept { class_id, amount });
}

public(package) fun emit_migrated(object_id: ID, version: u64) {
    event::emit(Migrated { object_id, version });
}

public(package) fun emit_node_registered(node_id: ID, owner: address, class_id: u64, collateral: u64, endpoint: String, public_key: vector<u8>) {
    event::emit(NodeRegistered { node_id, owner, class_id, collateral, endpoint, public_key });
}

public(package) fun emit_collateral_added(node_id: ID, amount: u64, collateral: u64) {
    event::emit(CollateralAdded { node_id, amount, collateral });
}

public(package) fun emit_endpoint_updated(node_id: ID, endpoint: String) {
    event::emit(EndpointUpdated { node_id, endpoint });
}

public(package) fun emit_node_leaving(node_id: ID, withdraw_after_ms: u64) {
    event::emit(NodeLeaving { node_id, withdraw_after_ms });
}

public(package) fun emit_node_withdrawn(node_id: ID, amount: u64) {
    event::emit(NodeWithdrawn { node_id, amount });
}

public(package) fun emit_request_submitted(request_id: ID, requester: address, model_id: String, input_digest: vector<u8>, input: Input, mode: Mode, fee: u64, seed: vector<u8>, timeout_ms: u64) {
    event::emit(RequestSubmitted { request_id, requester, model_id, input_digest, input, mode, fee, seed, timeout_ms });
}

public(package) fun emit_nodes_selected(request_id: ID, role: Role, nodes: vector<ID>, deadline_ms: u64) {
    event::emit(NodesSelected { request_id, role, nodes, deadline_ms });
}

public(package) fun emit_committed(request_id: ID, node_id: ID, commitment: vector<u8>) {
    event::emit(Committed { request_id, node_id, commitment });
}

public(package) fun emit_verification_drawn(request_id: ID, checked: bool) {
    event::emit(VerificationDrawn { request_id, checked });
}

public(package) fun emit_reveal_phase_started(request_id: ID, round: Round, deadline_ms: u64) {
    event::emit(RevealPhaseStarted { request_id, round, deadline_ms });
}

public(package) fun emit_revealed(request_id: ID, node_id: ID, output_digest: vector<u8>) {
    event::emit(Revealed { request_id, node_id, output_digest });
}

public(package) fun emit_secret_revealed(request_id: ID, checked: bool, verifiers: vector<ID>) {
    event::emit(SecretRevealed { request_id, checked, verifiers });
}

public(package) fun emit_dispute_raised(request_id: ID, quorum_size: u64) {
    event::emit(DisputeRaised { request_id, quorum_size });
}

public(package) fun emit_node_slashed(request_id: ID, node_id: ID, reason: SlashReason, amount: u64) {
    event::emit(NodeSlashed { request_id, node_id, reason, amount });
}

public(package) fun emit_request_finalized(request_id: ID, output_digest: vector<u8>, nodes: vector<ID>, verified: bool, reward_per_node: u64) {
    event::emit(RequestFinalized { request_id, output_digest, nodes, verified, reward_per_node });
}

public(package) fun emit_request_failed(request_id: ID, reason: FailReason, refund: u64) {
    event::emit(RequestFailed { request_id, reason, refund });
}

public(package) fun emit_abstained(request_id: ID, node_id: ID) {
    event::emit(Abstained { request_id, node_id });
}

public(package) fun emit_declined(request_id: ID, node_id: ID) {
    event::emit(Declined { request_id, node_id });
}

public(package) fun emit_deadline_extended(request_id: ID, deadline_ms: u64) {
    event::emit(DeadlineExtended { request_id, deadline_ms });
}
