/// Inference requests: submission, commit and reveal, the keeper calls that
/// move a request on, and settlement (Rust: `atoma_protocol::ops::{submit,
/// execute, keeper, settle}`; the rules are stated there and in
/// `docs/protocol.md`, and both implementations follow them step for step).
/// The rules a submission's terms and input must meet are in `terms`.
///
/// Life cycle: `Committing` (members commit before the deadline) ->
/// [`Verifying`, Sealed only] -> `Revealing` -> `Finalized`, with
/// `Selecting` (a stored draw waits for `select_nodes`) and `Disputed` (the
/// main round disagreed; `open_dispute` draws the dispute quorum) on the way,
/// and `Failed` when nothing can finish it (fee refunded).
///
/// Randomness: the functions that take `Random` are private `entry`
/// functions. A draw that decides something is stored on the request and
/// used by a later, deterministic call, so a draw is never retried by
/// aborting; `commit_primary` writes the same fields whatever its coin flip
/// gives, so a primary cannot make one outcome run out of gas.
///
/// A request keeps a copy of the network's parameters from its submission
/// (`params`) and reads only that copy; every deadline gets one grace
/// (`expire` extends it once); a Sealed candidate holds no stake until the
/// secret chooses it; the dispute quorum's size is fixed when the dispute is
/// raised and disputers vote with `(output_digest, dispute key)`.
///
/// Seats (docs/protocol.md, "Seats"): a round's reveal phase opens only when
/// every seat is held by a member that committed. A member that cannot do
/// its part abstains (no input) or declines (cannot run it in time); its
/// seat, and a silent member's, is refilled from the class's on-call nodes
/// with a stored draw, at most `max_retries` times, or the request fails.
/// Every call on a request's path takes its class and checks the version.
module atoma::request;

use atoma::commitment;
use atoma::events;
use atoma::hardware::HardwareClass;
use atoma::network::Network;
use atoma::node::NodeCap;
use atoma::params::Params;
use atoma::sampler;
use atoma::terms;
use atoma::types::{Self, Input, Mode, Role, Round, SlashReason, FailReason};
use std::string::String;
use sui::balance::{Self, Balance};
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::random::{Self, Random};
use sui::sui::SUI;

// === Errors ===

/// No model with this id.
#[error(code = 4)]
const EUnknownModel: vector<u8> = b"no model with this id";
/// A digest argument is not 32 bytes.
#[error(code = 6)]
const EInvalidDigest: vector<u8> = b"digest must be 32 bytes";
/// The request is not in a phase that allows this.
#[error(code = 24)]
const EWrongPhase: vector<u8> = b"request is not in a phase that allows this";
/// The node holds no slot of the current round.
#[error(code = 25)]
const ENotSelected: vector<u8> = b"node is not selected for this request";
/// The node committed already.
#[error(code = 26)]
const EAlreadyCommitted: vector<u8> = b"node has committed already";
/// The phase's deadline has passed.
#[error(code = 27)]
const EDeadlinePassed: vector<u8> = b"deadline has passed";
/// The node revealed already.
#[error(code = 28)]
const EAlreadyRevealed: vector<u8> = b"node has revealed already";
/// The reveal does not hash to the commitment.
#[error(code = 29)]
const ECommitmentMismatch: vector<u8> = b"reveal does not match the commitment";
/// The phase's deadline has not been reached.
#[error(code = 30)]
const EDeadlineNotReached: vector<u8> = b"deadline has not been reached";
/// The CrossValidation primary must commit with `commit_primary`.
#[error(code = 31)]
const EPrimaryCommitRequired: vector<u8> = b"the CrossValidation primary commits with commit_primary";
/// Only the CrossValidation primary commits with `commit_primary`.
#[error(code = 32)]
const ENotPrimary: vector<u8> = b"only the CrossValidation primary commits with commit_primary";
/// A Sealed candidate commits only after the primary.
#[error(code = 33)]
const EPrimaryNotCommitted: vector<u8> = b"a Sealed candidate commits only after the primary";
/// The request is not in Sealed mode.
#[error(code = 34)]
const ENotSealed: vector<u8> = b"request is not in Sealed mode";
/// The secret does not hash to the published hash.
#[error(code = 35)]
const ESecretMismatch: vector<u8> = b"secret does not match its hash";
/// The secret is not 32 bytes.
#[error(code = 36)]
const EInvalidSecret: vector<u8> = b"secret must be 32 bytes";
/// The salt is not 32 bytes.
#[error(code = 37)]
const EInvalidSalt: vector<u8> = b"salt must be 32 bytes";
/// `abstain` from a request whose input is inline (on chain).
#[error(code = 40)]
const EInputOnChain: vector<u8> = b"the input is on chain: only a URI input can be unavailable";

// === Constants ===

/// The tag of the seed that refills the seats of chosen Sealed verifiers no
/// longer on call (`derive(sealed_draw_seed, REFILL_TAG)`).
const REFILL_TAG: u8 = 2;

// === Structs ===

public enum Status has copy, drop, store {
    Committing,
    Verifying,
    Selecting,
    Disputed,
    Revealing,
    Finalized,
    Failed,
}

/// One node's assignment to a request. A slot stays after its node was
/// dropped or released, so that no node is ever assigned twice.
public struct Slot has copy, drop, store {
    node_id: ID,
    role: Role,
    /// Collateral locked while the slot is active (0 for a Sealed candidate).
    stake: u64,
    commitment: Option<vector<u8>>,
    reveal: Option<vector<u8>>,
    /// The salt revealed (in the dispute round, the dispute key).
    salt: Option<vector<u8>>,
    active: bool,
}

/// A selection for `select_nodes`; pending while the status is `Selecting`,
/// or while it is `Committing` with a non-zero `count` (a refill). Always
/// present, so that writing it costs the same whatever a draw gave.
public struct Selection has copy, drop, store {
    role: Role,
    count: u64,
    seed: vector<u8>,
}

public struct Request has key {
    id: UID,
    network_id: ID,
    requester: address,
    model_id: String,
    class_id: u64,
    input_digest: vector<u8>,
    input: Input,
    mode: Mode,
    /// Sealed: `blake2b256(secret)`.
    secret_hash: Option<vector<u8>>,
    /// Sealed: the secret, once revealed.
    secret: Option<vector<u8>>,
    /// CrossValidation/Sealed: whether the primary is checked, once drawn.
    checked: Option<bool>,
    seed: vector<u8>,
    timeout_ms: u64,
    /// The network's parameters at submission; later steps read only this copy.
    params: Params,
    fee: Balance<SUI>,
    /// Slashed collateral held for the winners (the treasury's on failure).
    pool: Balance<SUI>,
    status: Status,
    round: Round,
    /// End of the current phase; actions need `now < deadline_ms`.
    deadline_ms: u64,
    /// Whether a first `expire` extended the current deadline by the grace.
    extended: bool,
    /// Refills made so far.
    retries: u64,
    /// Whether a member abstained for want of the input (a failure then
    /// costs the requester the minimum fee).
    input_unavailable: bool,
    slots: vector<Slot>,
    selection: Selection,
    /// The dispute quorum's size, fixed when the dispute is raised.
    dispute_size: u64,
    output_digest: Option<vector<u8>>,
    created_ms: u64,
}

// === Requester functions ===

/// Submits a Sampling request: `n` nodes execute and must agree. The whole
/// `payment` is the fee. Emits `RequestSubmitted` and `NodesSelected`.
/// Aborts: see `submit`.
entry fun submit_sampling(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    n: u64,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let seed = draw_seed(random, ctx);
    submit(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, types::sampling(n), option::none(), payment, seed, clock, ctx);
}

/// Submits a CrossValidation request: one primary, checked by `n` nodes with
/// probability `p_bps / 10_000`. Emits `RequestSubmitted` and `NodesSelected`.
entry fun submit_cross_validation(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    p_bps: u64,
    n: u64,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let seed = draw_seed(random, ctx);
    let mode = types::cross_validation(p_bps, n);
    submit(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, mode, option::none(), payment, seed, clock, ctx);
}

/// Submits a Sealed request with `secret_hash = blake2b256(secret)`. Emits
/// `RequestSubmitted` and `NodesSelected` for the primary and for the pool.
/// Aborts: `EInvalidDigest` (secret hash), then see `submit`.
entry fun submit_sealed(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    p_bps: u64,
    n: u64,
    secret_hash: vector<u8>,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    assert!(secret_hash.length() == 32, EInvalidDigest);
    let seed = draw_seed(random, ctx);
    let mode = types::sealed(p_bps, n);
    submit(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, mode, option::some(secret_hash), payment, seed, clock, ctx);
}

/// Reveals a Sealed request's secret (the requester, or a chosen verifier
/// that received it), inside the verification window. Unchosen candidates
/// are released; unchecked, the reveal phase opens for the primary alone;
/// checked, every chosen candidate still on call is locked and becomes a
/// verifier, the seats of the others (dropped, unslashed) are refilled from
/// `derive(blake2b256(seed || secret), 2)`, and the verifiers get a full
/// commit timeout from now. Emits `SecretRevealed`, then `NodesSelected`
/// (role `Verifier`) when some verifier has yet to commit.
/// Aborts: `version::EWrongVersion`, `EInvalidSecret`, `hardware::EWrongNetwork`, `hardware::EWrongClass`,
/// `ENotSealed`, `EWrongPhase`, `EDeadlinePassed`, `ESecretMismatch`.
public fun reveal_secret(
    class: &mut HardwareClass,
    request: &mut Request,
    secret: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    class.check_version();
    assert!(secret.length() == 32, EInvalidSecret);
    class.check_member(request.network_id, request.class_id);
    assert!(request.mode.is_sealed(), ENotSealed);
    assert!(request.status == Status::Verifying && request.secret.is_none(), EWrongPhase);
    let now = clock.timestamp_ms();
    assert!(now < request.deadline_ms, EDeadlinePassed);
    assert!(request.secret_hash == option::some(commitment::secret_hash(&secret)), ESecretMismatch);
    let pool = request.indices_with_role(types::candidate());
    let (checked, chosen) = sampler::sealed_draw(&request.seed, &secret, request.mode.p_bps(), request.mode.n(), pool.length());
    let refill_seed = sampler::derive(&sampler::sealed_draw_seed(&request.seed, &secret), REFILL_TAG);
    request.secret = option::some(secret);
    request.checked = option::some(checked);
    let mut verifiers = vector[];
    let mut pos = 0;
    while (pos < pool.length()) {
        let i = pool[pos];
        let node_id = request.slots[i].node_id;
        if (chosen.contains(&pos) && class.is_on_call_node(node_id)) {
            let stake = class.lock(node_id);
            let slot = &mut request.slots[i];
            slot.stake = stake;
            slot.role = types::verifier();
            verifiers.push_back(node_id);
        } else {
            release(class, &mut request.slots[i]);
        };
        pos = pos + 1;
    };
    let request_id = object::id(request);
    events::emit_secret_revealed(request_id, checked, verifiers);
    let pending = request.members().any!(|m| request.slots[*m].commitment.is_none());
    let empty = request.empty_seats();
    if (pending || empty > 0) {
        request.status = Status::Committing;
        let deadline = now + request.timeout_ms;
        request.set_deadline(deadline);
        if (pending) events::emit_nodes_selected(request_id, types::verifier(), verifiers, request.deadline_ms);
    };
    if (empty > 0) refill(class, request, types::verifier(), refill_seed, ctx)
    else { request.try_open_reveal(now); }
}

// === Executor functions ===

/// Commits `blake2b256(bcs(request_id, node_id, output_digest, salt))`. Emits `Committed`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`,
/// `EInvalidDigest`, `ENotSelected`, `EPrimaryNotCommitted`, `EWrongPhase`, `EDeadlinePassed`,
/// `EAlreadyCommitted`, `EPrimaryCommitRequired`.
public fun commit(class: &HardwareClass, request: &mut Request, cap: &NodeCap, commitment: vector<u8>, clock: &Clock) {
    let now = clock.timestamp_ms();
    let i = check_commit(class, request, cap, &commitment, now);
    assert!(!(request.status == Status::Committing && request.is_cv_primary(i)), EPrimaryCommitRequired);
    request.record_commit(i, commitment);
    // Verifying: a candidate told it is chosen commits early; the secret decides.
    if (request.status == Status::Committing) {
        if (request.mode.is_sealed() && request.slots[i].role == types::executor()) {
            // The Sealed primary committed: the verification window opens.
            request.status = Status::Verifying;
            let deadline = now + request.params.reveal_window_ms();
            request.set_deadline(deadline);
        } else {
            request.try_open_reveal(now);
        }
    };
}

/// Leaves the current round without committing, because the request's input
/// (a URI) cannot be obtained: the stake is unlocked, the node is neither
/// slashed nor paid, and its seat is refilled from a fresh draw (the request
/// fails, `InputUnavailable`, when no refill is left: the requester pays the
/// minimum fee). Emits `Abstained`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EInputOnChain`,
/// `EWrongPhase`, `ENotSelected`, `EDeadlinePassed`, `EAlreadyCommitted`.
entry fun abstain(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let seed = draw_seed(random, ctx);
    abstain_with(class, request, cap, seed, clock, ctx);
}

/// `abstain` with the draw `seed` made.
fun abstain_with(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let i = check_leave(class, request, cap, true, clock.timestamp_ms());
    request.input_unavailable = true;
    events::emit_abstained(object::id(request), cap.node_id());
    leave_seat(class, request, i, seed, ctx);
}

/// Leaves the current round without committing, because the node cannot run
/// the request in time (it does not serve the model, or its queue would make
/// it late): as `abstain`, for any input; a failure for want of seats then
/// refunds the whole fee. Emits `Declined`.
/// Aborts: those of `abstain` but `EInputOnChain`.
entry fun decline(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let seed = draw_seed(random, ctx);
    decline_with(class, request, cap, seed, clock, ctx);
}

/// `decline` with the draw `seed` made.
fun decline_with(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let i = check_leave(class, request, cap, false, clock.timestamp_ms());
    events::emit_declined(object::id(request), cap.node_id());
    leave_seat(class, request, i, seed, ctx);
}

/// The CrossValidation primary's commit, which also draws the coin flip:
/// checked with probability `p_bps / 10_000`, then `select_nodes` samples `n`
/// verifiers from the stored seed. Emits `Committed` and `VerificationDrawn`.
/// Aborts: those of `commit`, and `ENotPrimary` for any other slot or mode.
entry fun commit_primary(
    class: &HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    commitment: vector<u8>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let r = draw_seed(random, ctx);
    commit_primary_with(class, request, cap, commitment, r, clock);
}

/// `commit_primary` with the draw `r` made.
fun commit_primary_with(
    class: &HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    commitment: vector<u8>,
    r: vector<u8>,
    clock: &Clock,
) {
    let now = clock.timestamp_ms();
    let i = check_commit(class, request, cap, &commitment, now);
    assert!(request.status == Status::Committing && request.is_cv_primary(i), ENotPrimary);
    request.record_commit(i, commitment);
    let checked = sampler::flip(&r, request.mode.p_bps());
    // The same fields are written either way; only the count differs.
    request.checked = option::some(checked);
    request.selection = Selection { role: types::verifier(), count: if (checked) request.mode.n() else 0, seed: sampler::verifier_seed(&r) };
    events::emit_verification_drawn(object::id(request), checked);
    if (checked) {
        request.status = Status::Selecting;
    } else {
        request.try_open_reveal(now);
    };
}

/// Reveals the output digest and salt behind the node's commitment; the
/// last reveal of the round settles it. Emits `Revealed`, and the settlement's events.
/// Aborts: `version::EWrongVersion`, `EInvalidDigest`, `EInvalidSalt`, `hardware::EWrongNetwork`, `hardware::EWrongClass`,
/// `EWrongPhase`, `ENotSelected`, `EDeadlinePassed`, `EAlreadyRevealed`, `ECommitmentMismatch`.
public fun reveal(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    output_digest: vector<u8>,
    salt: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    class.check_version();
    assert!(output_digest.length() == 32, EInvalidDigest);
    assert!(salt.length() == 32, EInvalidSalt);
    class.check_member(request.network_id, request.class_id);
    class.check_member(cap.network_id(), cap.class_id());
    assert!(request.status == Status::Revealing, EWrongPhase);
    let node_id = cap.node_id();
    let i = request.member_before_deadline(node_id, clock.timestamp_ms());
    let slot = &request.slots[i];
    assert!(slot.reveal.is_none(), EAlreadyRevealed);
    let expected = commitment::commitment(object::id(request), node_id, output_digest, salt);
    // Every member committed before the reveal phase opened.
    assert!(slot.commitment == option::some(expected), ECommitmentMismatch);
    request.slots[i].reveal = option::some(output_digest);
    request.slots[i].salt = option::some(salt);
    events::emit_revealed(object::id(request), node_id, output_digest);
    if (request.members().all!(|m| request.slots[*m].reveal.is_some())) {
        settle_round(class, request, ctx);
    };
}

// === Keeper functions (anyone) ===

/// Performs the pending selection from the stored seed, from the class's
/// on-call nodes: the CrossValidation verifiers or the dispute quorum
/// (status `Selecting`), or a refill of empty seats (status `Committing`).
/// It takes every seat at once, or the request fails without slashing
/// anyone for its output when the class holds too few fresh on-call nodes;
/// the round's commit deadline is then a full timeout from now. Emits
/// `NodesSelected`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EWrongPhase` (nothing pending).
public fun select_nodes(class: &mut HardwareClass, request: &mut Request, clock: &Clock, ctx: &mut TxContext) {
    class.check_version();
    class.check_member(request.network_id, request.class_id);
    assert!(request.status == Status::Selecting || request.refill_pending(), EWrongPhase);
    let now = clock.timestamp_ms();
    let sel = request.selection;
    let opening_dispute = sel.role == types::disputer() && request.round == types::main_round();
    if (class.available(&request.all_nodes(), true) < sel.count) {
        let reason = request.unfilled(sel.role == types::disputer());
        fail(class, request, reason, ctx);
        return
    };
    if (opening_dispute) request.round = types::dispute_round();
    if (request.status == Status::Committing) request.retries = request.retries + 1;
    let nodes = assign(class, request, &sel.seed, sel.count, sel.role, true);
    request.selection.count = 0;
    let deadline = now + request.timeout_ms;
    request.set_deadline(deadline);
    request.status = Status::Committing;
    if (!nodes.is_empty()) {
        events::emit_nodes_selected(object::id(request), sel.role, nodes, request.deadline_ms);
    };
    request.try_open_reveal(now);
}

/// Draws the seed of a disputed request's dispute quorum (its
/// `dispute_size` seats), to be selected by `select_nodes`.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EWrongPhase` (not disputed).
entry fun open_dispute(class: &HardwareClass, request: &mut Request, random: &Random, ctx: &mut TxContext) {
    let seed = draw_seed(random, ctx);
    open_dispute_with(class, request, seed);
}

/// `open_dispute` with the draw `seed` made.
fun open_dispute_with(class: &HardwareClass, request: &mut Request, seed: vector<u8>) {
    class.check_version();
    class.check_member(request.network_id, request.class_id);
    assert!(request.status == Status::Disputed, EWrongPhase);
    request.selection = Selection { role: types::disputer(), count: request.dispute_size, seed };
    request.status = Status::Selecting;
}

/// After a deadline (and no refill pending): the first call extends it,
/// once, by the request's `grace_ms` (`DeadlineExtended`), so that every
/// member has that long on a running chain before it can be slashed; the
/// second call ends the phase: in `Committing`, silent members lose
/// `timeout_slash_bps` of their stake and their seats are refilled (or the
/// request fails when no refill is left); in `Verifying` (no secret), the
/// pool is released and the primary reveals alone; in `Revealing`, the
/// round settles and members that withheld lose their stake.
/// Aborts: `version::EWrongVersion`, `hardware::EWrongNetwork`, `hardware::EWrongClass`, `EWrongPhase`, `EDeadlineNotReached`.
entry fun expire(class: &mut HardwareClass, request: &mut Request, random: &Random, clock: &Clock, ctx: &mut TxContext) {
    let seed = draw_seed(random, ctx);
    expire_with(class, request, seed, clock, ctx);
}

/// `expire` with the draw `seed` made (it seeds the refill of silent members' seats).
fun expire_with(class: &mut HardwareClass, request: &mut Request, seed: vector<u8>, clock: &Clock, ctx: &mut TxContext) {
    class.check_version();
    class.check_member(request.network_id, request.class_id);
    let status = request.status;
    assert!(
        (status == Status::Committing || status == Status::Verifying || status == Status::Revealing) && !request.refill_pending(),
        EWrongPhase,
    );
    let now = clock.timestamp_ms();
    assert!(now >= request.deadline_ms, EDeadlineNotReached);
    if (!request.extended) {
        request.extended = true;
        request.deadline_ms = now + request.params.grace_ms();
        events::emit_deadline_extended(object::id(request), request.deadline_ms);
        return
    };
    if (status == Status::Committing) {
        let silent = request.members().filter!(|i| request.slots[*i].commitment.is_none());
        let role = if (silent.is_empty()) types::executor() else request.slots[silent[0]].role;
        slash_timeouts(class, request, &silent);
        if (request.empty_seats() > 0) refill(class, request, role, seed, ctx)
        else { request.try_open_reveal(now); }
    } else if (status == Status::Verifying) {
        close_verification(class, request, now);
    } else {
        settle_round(class, request, ctx);
    }
}

// === Views ===

public fun network_id(r: &Request): ID { r.network_id }

public fun requester(r: &Request): address { r.requester }

public fun model_id(r: &Request): String { r.model_id }

public fun class_id(r: &Request): u64 { r.class_id }

public fun input_digest(r: &Request): vector<u8> { r.input_digest }

public fun input(r: &Request): Input { r.input }

public fun mode(r: &Request): Mode { r.mode }

public fun seed(r: &Request): vector<u8> { r.seed }

public fun checked(r: &Request): Option<bool> { r.checked }

public fun fee(r: &Request): u64 { r.fee.value() }

public fun pool(r: &Request): u64 { r.pool.value() }

public fun deadline_ms(r: &Request): u64 { r.deadline_ms }

public fun extended(r: &Request): bool { r.extended }

public fun params(r: &Request): Params { r.params }

public fun retries(r: &Request): u64 { r.retries }

public fun input_unavailable(r: &Request): bool { r.input_unavailable }

/// Empty seats waiting for `select_nodes` to refill them (0: none pending).
public fun pending_refill(r: &Request): u64 { if (r.refill_pending()) r.selection.count else 0 }

public fun round(r: &Request): Round { r.round }

public fun dispute_size(r: &Request): u64 { r.dispute_size }

public fun output_digest(r: &Request): Option<vector<u8>> { r.output_digest }

public fun slots(r: &Request): &vector<Slot> { &r.slots }

public fun is_committing(r: &Request): bool { r.status == Status::Committing }

public fun is_verifying(r: &Request): bool { r.status == Status::Verifying }

public fun is_selecting(r: &Request): bool { r.status == Status::Selecting }

public fun is_disputed(r: &Request): bool { r.status == Status::Disputed }

public fun is_revealing(r: &Request): bool { r.status == Status::Revealing }

public fun is_finalized(r: &Request): bool { r.status == Status::Finalized }

public fun is_failed(r: &Request): bool { r.status == Status::Failed }

public fun slot_node_id(s: &Slot): ID { s.node_id }

public fun slot_role(s: &Slot): Role { s.role }

public fun slot_stake(s: &Slot): u64 { s.stake }

public fun slot_commitment(s: &Slot): Option<vector<u8>> { s.commitment }

public fun slot_reveal(s: &Slot): Option<vector<u8>> { s.reveal }

public fun slot_salt(s: &Slot): Option<vector<u8>> { s.salt }

public fun slot_active(s: &Slot): bool { s.active }

/// Ids of the active slots with `role`.
public fun nodes_with_role(r: &Request, role: Role): vector<ID> {
    r.indices_with_role(role).map!(|i| r.slots[i].node_id)
}

/// Ids of the current round's members.
public fun member_ids(r: &Request): vector<ID> {
    r.members().map!(|i| r.slots[i].node_id)
}

// === Private functions: submission ===

fun draw_seed(random: &Random, ctx: &mut TxContext): vector<u8> {
    let mut g = random::new_generator(random, ctx);
    g.generate_bytes(32)
}

/// Checks a submission and shares its new request, whose first members are
/// drawn from `seed`. Emits `RequestSubmitted` and `NodesSelected`.
/// Aborts, in this order: `version::EWrongVersion` (network, then class),
/// `EUnknownModel`, `hardware::EWrongNetwork`, `hardware::EWrongClass`,
/// `EInvalidDigest` (input digest), those of `terms::check_input`, then those
/// of `terms::check`.
fun submit(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    mode: Mode,
    secret_hash: Option<vector<u8>>,
    payment: Coin<SUI>,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    net.check_version();
    class.check_version();
    assert!(net.has_model(model_id), EUnknownModel);
    let class_id = net.model(model_id).class_id();
    class.check_member(object::id(net), class_id);
    let eligible = class.active_count();
    let params = *net.params();
    assert!(input_digest.length() == 32, EInvalidDigest);
    let input = terms::check_input(input_inline, input_uri, &input_digest, params.max_inline_input());
    let fee = payment.value();
    let max_run_ms = net.model(model_id).max_run_ms();
    terms::check(&params, mode, timeout_ms, fee, max_run_ms, class.longest_run_ms(), eligible);
    let n = mode.n();

    let now = clock.timestamp_ms();
    let deadline_ms = now + timeout_ms;
    let mut request = Request {
        id: object::new(ctx),
        network_id: object::id(net),
        requester: ctx.sender(),
        model_id,
        class_id,
        input_digest,
        input,
        mode,
        secret_hash,
        secret: option::none(),
        checked: option::none(),
        seed,
        timeout_ms,
        params,
        fee: payment.into_balance(),
        pool: balance::zero(),
        status: Status::Committing,
        round: types::main_round(),
        deadline_ms,
        extended: false,
        retries: 0,
        input_unavailable: false,
        slots: vector[],
        selection: Selection { role: types::executor(), count: 0, seed },
        dispute_size: 0,
        output_digest: option::none(),
        created_ms: now,
    };
    let request_id = object::id(&request);
    events::emit_request_submitted(request_id, ctx.sender(), model_id, input_digest, input, mode, fee, seed, timeout_ms);
    if (mode.is_sealed()) {
        // One draw for the primary and the pool, so that the pool never holds
        // the primary; only the primary is locked.
        let pool = (params.sealed_pool_factor() * n).min(eligible - 1);
        let mut nodes = class.sample_nodes(&seed, 1 + pool, &request.all_nodes(), false);
        nodes.length().do!(|k| {
            let node_id = nodes[k];
            let slot = if (k == 0) new_slot(node_id, types::executor(), class.lock(node_id))
                else new_slot(node_id, types::candidate(), 0);
            request.slots.push_back(slot);
        });
        let primary = vector[nodes.remove(0)];
        events::emit_nodes_selected(request_id, types::executor(), primary, deadline_ms);
        events::emit_nodes_selected(request_id, types::candidate(), nodes, deadline_ms);
    } else {
        let count = if (mode.is_sampling()) n else 1;
        let nodes = assign(class, &mut request, &seed, count, types::executor(), false);
        events::emit_nodes_selected(request_id, types::executor(), nodes, deadline_ms);
    };
    transfer::share_object(request);
}

// === Private functions: commit ===

/// Checks a commit by `cap`'s node on `class`'s request and returns its slot index.
fun check_commit(class: &HardwareClass, request: &Request, cap: &NodeCap, commitment: &vector<u8>, now: u64): u64 {
    class.check_version();
    class.check_member(request.network_id, request.class_id);
    class.check_member(cap.network_id(), cap.class_id());
    assert!(commitment.length() == 32, EInvalidDigest);
    let found = request.active_slot(cap.node_id());
    assert!(found.is_some(), ENotSelected);
    let i = found.destroy_some();
    let role = request.slots[i].role;
    if (request.status == Status::Committing) {
        assert!(role != types::candidate(), EPrimaryNotCommitted);
        assert!(types::includes(&request.round, &role), ENotSelected);
    } else {
        assert!(request.status == Status::Verifying, EWrongPhase);
        assert!(role != types::disputer(), ENotSelected);
    };
    assert!(now < request.deadline_ms, EDeadlinePassed);
    assert!(request.slots[i].commitment.is_none(), EAlreadyCommitted);
    i
}

/// Checks that `cap`'s node may leave its seat (`abstain` with
/// `for_input`, `decline`) and returns its slot index.
fun check_leave(class: &HardwareClass, request: &Request, cap: &NodeCap, for_input: bool, now: u64): u64 {
    class.check_version();
    class.check_member(request.network_id, request.class_id);
    class.check_member(cap.network_id(), cap.class_id());
    assert!(!(for_input && request.input.is_inline()), EInputOnChain);
    assert!(request.status == Status::Committing, EWrongPhase);
    let i = request.member_before_deadline(cap.node_id(), now);
    assert!(request.slots[i].commitment.is_none(), EAlreadyCommitted);
    i
}

fun is_cv_primary(request: &Request, i: u64): bool {
    request.mode.is_cross_validation() && request.round == types::main_round() && request.slots[i].role == types::executor()
}

fun record_commit(request: &mut Request, i: u64, commitment: vector<u8>) {
    request.slots[i].commitment = option::some(commitment);
    events::emit_committed(object::id(request), request.slots[i].node_id, commitment);
}

// === Private functions: slots ===

/// The slot of `node_id` in the current round, before the phase's deadline.
/// Aborts: `ENotSelected`, then `EDeadlinePassed`.
fun member_before_deadline(request: &Request, node_id: ID, now: u64): u64 {
    let found = request.active_slot(node_id);
    assert!(found.is_some(), ENotSelected);
    let i = found.destroy_some();
    assert!(types::includes(&request.round, &request.slots[i].role), ENotSelected);
    assert!(now < request.deadline_ms, EDeadlinePassed);
    i
}

fun active_slot(request: &Request, node_id: ID): Option<u64> {
    request.slots.find_index!(|s| s.active && s.node_id == node_id)
}

/// Indices of the active slots taking part in the current round.
fun members(request: &Request): vector<u64> {
    let mut out = vector[];
    request.slots.length().do!(|i| {
        let s = &request.slots[i];
        if (s.active && types::includes(&request.round, &s.role)) out.push_back(i);
    });
    out
}

fun indices_with_role(request: &Request, role: Role): vector<u64> {
    let mut out = vector[];
    request.slots.length().do!(|i| {
        let s = &request.slots[i];
        if (s.active && s.role == role) out.push_back(i);
    });
    out
}

/// Every node that ever held a slot (excluded from new selections).
fun all_nodes(request: &Request): vector<ID> {
    request.slots.map_ref!(|s| s.node_id)
}

/// The seats of the current round: `n` (Sampling), the primary's and, once
/// checked, the `n` verifiers' (CrossValidation, Sealed), or the dispute
/// quorum's size.
fun seats(request: &Request): u64 {
    if (request.round == types::dispute_round()) return request.dispute_size;
    if (request.mode.is_sampling()) return request.mode.n();
    1 + if (request.checked == option::some(true)) request.mode.n() else 0
}

/// Seats of the current round no active member holds.
fun empty_seats(request: &Request): u64 {
    let (seats, members) = (request.seats(), request.members().length());
    if (seats > members) seats - members else 0
}

/// Whether empty seats wait for `select_nodes` to refill them.
fun refill_pending(request: &Request): bool {
    request.status == Status::Committing && request.selection.count > 0
}

/// Why a request whose seats cannot all be filled fails: `InputUnavailable`
/// once a member abstained, otherwise `NoDisputeQuorum` for the dispute
/// quorum and `Timeout` for the main round.
fun unfilled(request: &Request, dispute: bool): FailReason {
    if (request.input_unavailable) types::fail_input_unavailable()
    else if (dispute) types::fail_no_dispute_quorum()
    else types::fail_timeout()
}

/// Samples up to `count` fresh nodes of the class from `seed` (eligible
/// ones, or with `on_call` on-call ones), locks their stakes and adds them
/// as slots with `role`.
fun assign(class: &mut HardwareClass, request: &mut Request, seed: &vector<u8>, count: u64, role: Role, on_call: bool): vector<ID> {
    let nodes = class.sample_nodes(seed, count, &request.all_nodes(), on_call);
    nodes.do_ref!(|id| {
        let stake = class.lock(*id);
        request.slots.push_back(new_slot(*id, role, stake));
    });
    nodes
}

fun new_slot(node_id: ID, role: Role, stake: u64): Slot {
    Slot { node_id, role, stake, commitment: option::none(), reveal: option::none(), salt: option::none(), active: true }
}

/// What a slot voted for: `reveal || salt` (in the dispute round the salt is
/// the dispute key), once revealed.
fun vote(slot: &Slot): Option<vector<u8>> {
    if (slot.reveal.is_none()) return option::none();
    let mut v = *slot.reveal.borrow();
    v.append(*slot.salt.borrow());
    option::some(v)
}

/// Starts a phase that ends at `deadline_ms`, with a fresh grace.
fun set_deadline(request: &mut Request, deadline_ms: u64) {
    request.deadline_ms = deadline_ms;
    request.extended = false;
}

/// Ends an active slot and unlocks its stake (a Sealed candidate holds none).
fun release(class: &mut HardwareClass, slot: &mut Slot) {
    if (!slot.active) return;
    slot.active = false;
    if (slot.role == types::candidate()) return;
    class.unlock(slot.node_id, slot.stake);
}

fun release_all(class: &mut HardwareClass, request: &mut Request) {
    request.slots.length().do!(|i| release(class, &mut request.slots[i]));
}

// === Private functions: settlement ===

/// Slashes `amount` (at most the stake and what the node holds) from an
/// active slot's node, unlocks its stake and ends the slot; the protocol
/// share goes to the class's revenue and the rest to the request's pool.
fun slash(class: &mut HardwareClass, request: &mut Request, i: u64, amount: u64, reason: SlashReason) {
    let (node_id, stake) = (request.slots[i].node_id, request.slots[i].stake);
    let (taken, amount) = class.slash(node_id, stake, amount, request.params.protocol_share_bps());
    request.slots[i].active = false;
    request.pool.join(taken);
    events::emit_node_slashed(object::id(request), node_id, reason, amount);
}

fun slash_timeouts(class: &mut HardwareClass, request: &mut Request, indices: &vector<u64>) {
    let bps = request.params.timeout_slash_bps();
    indices.do_ref!(|i| {
        let amount = atoma::params::bps_of(request.slots[*i].stake, bps);
        slash(class, request, *i, amount, types::slash_timeout());
    });
}

/// Opens the reveal phase if every seat of the round is held by a member
/// that committed. Returns whether it did.
fun try_open_reveal(request: &mut Request, now: u64): bool {
    let members = request.members();
    if (request.empty_seats() > 0 || members.any!(|i| request.slots[*i].commitment.is_none())) return false;
    request.status = Status::Revealing;
    let deadline = now + request.params.reveal_window_ms();
    request.set_deadline(deadline);
    events::emit_reveal_phase_started(object::id(request), request.round, request.deadline_ms);
    true
}

/// After seats of the round were emptied: fails the request when no refill
/// is left, or else leaves a refill pending for `select_nodes`, drawn from
/// `seed` unless one is pending already (a stored draw is never replaced
/// before it is used).
fun refill(class: &mut HardwareClass, request: &mut Request, role: Role, seed: vector<u8>, ctx: &mut TxContext) {
    let empty = request.empty_seats();
    if (empty == 0) return;
    if (request.retries >= request.params.max_retries()) {
        let reason = request.unfilled(request.round == types::dispute_round());
        fail(class, request, reason, ctx);
        return
    };
    if (request.selection.count == 0) request.selection = Selection { role, count: empty, seed }
    else request.selection.count = empty;
    request.status = Status::Committing;
}

/// A member leaves its seat in slot `i`, unslashed: its stake is unlocked
/// and the seat refilled (or the request fails).
fun leave_seat(class: &mut HardwareClass, request: &mut Request, i: u64, seed: vector<u8>, ctx: &mut TxContext) {
    let role = request.slots[i].role;
    release(class, &mut request.slots[i]);
    refill(class, request, role, seed, ctx);
}

/// Ends a Sealed verification window without the secret: the pool is
/// released and the reveal phase opens for the primary alone (unverified).
fun close_verification(class: &mut HardwareClass, request: &mut Request, now: u64) {
    let pool = request.indices_with_role(types::candidate());
    pool.do_ref!(|i| release(class, &mut request.slots[*i]));
    request.try_open_reveal(now);
}

/// Settles the current round after its reveal phase (see the module doc of
/// `atoma_protocol::ops::settle` for the rules).
fun settle_round(class: &mut HardwareClass, request: &mut Request, ctx: &mut TxContext) {
    let members = request.members();
    members.do_ref!(|i| {
        if (request.slots[*i].reveal.is_none()) {
            let stake = request.slots[*i].stake;
            slash(class, request, *i, stake, types::slash_withheld());
        }
    });
    let mut reveals = vector[];
    members.do_ref!(|i| {
        let r = request.slots[*i].reveal;
        if (r.is_some()) reveals.push_back(r.destroy_some());
    });
    if (reveals.is_empty()) {
        fail(class, request, types::fail_no_reveals(), ctx);
        return
    };
    let first = reveals[0];
    if (request.round == types::main_round()) {
        if (reveals.all!(|d| d == &first)) {
            finalize(class, request, first, ctx);
        } else {
            request.status = Status::Disputed;
            request.dispute_size = 2 * reveals.length() + 1;
            events::emit_dispute_raised(object::id(request), request.dispute_size);
        }
    } else {
        let winner = majority(request, &members);
        if (winner.is_none()) {
            fail(class, request, types::fail_no_majority(), ctx);
        } else {
            let w = winner.destroy_some();
            let vote_won = request.slots[w].vote();
            let digest = *request.slots[w].reveal.borrow();
            request.slots.length().do!(|i| {
                let s = &request.slots[i];
                let wrong = if (s.reveal.is_none()) false
                    else if (s.role == types::disputer()) s.vote() != vote_won
                    else s.reveal != option::some(digest);
                if (s.active && wrong) {
                    let stake = s.stake;
                    slash(class, request, i, stake, types::slash_wrong_output());
                }
            });
            finalize(class, request, digest, ctx);
        }
    }
}

/// The first of `members` whose vote more than `dispute_size / 2` of them cast, if any.
fun majority(request: &Request, members: &vector<u64>): Option<u64> {
    let votes = members.map_ref!(|i| request.slots[*i].vote());
    let found = votes.find_index!(|v| v.is_some() && 2 * votes.count!(|w| w == v) > request.dispute_size);
    if (found.is_some()) option::some(members[found.destroy_some()]) else option::none()
}

/// Pays `fee + pool` equally to the nodes that revealed `digest` (the
/// remainder to the class's revenue) and releases every slot. Emits `RequestFinalized`.
fun finalize(class: &mut HardwareClass, request: &mut Request, digest: vector<u8>, ctx: &mut TxContext) {
    let mut winners = vector[];
    request.slots.length().do!(|i| {
        let s = &request.slots[i];
        if (s.active && s.reveal == option::some(digest)) winners.push_back(i);
    });
    let mut total = request.fee.withdraw_all();
    total.join(request.pool.withdraw_all());
    // Settlement runs only with at least one reveal of `digest`.
    let per_node = total.value() / winners.length();
    let mut nodes = vector[];
    winners.do_ref!(|i| {
        let node_id = request.slots[*i].node_id;
        let owner = class.complete(node_id);
        if (per_node > 0) transfer::public_transfer(coin::from_balance(total.split(per_node), ctx), owner);
        nodes.push_back(node_id);
    });
    class.deposit_revenue(total);
    release_all(class, request);
    request.status = Status::Finalized;
    request.output_digest = option::some(digest);
    events::emit_request_finalized(object::id(request), digest, nodes, winners.length() >= 2, per_node);
}

/// Refunds the fee to the requester (less the minimum fee of its mode, for
/// the class's revenue, when it failed for want of its input), moves the
/// pool (slashed stake) to the class's revenue and releases every slot: a
/// requester never receives slashed stake. Emits `RequestFailed`.
fun fail(class: &mut HardwareClass, request: &mut Request, reason: FailReason, ctx: &mut TxContext) {
    let mut refund = request.fee.withdraw_all();
    let charge = if (reason == types::fail_input_unavailable()) {
        let (primaries, p_bps, n) = (if (request.mode.is_sampling()) 0 else 1, request.mode.p_bps(), request.mode.n());
        refund.value().min(request.params.min_fee(primaries, p_bps, n))
    } else 0;
    class.deposit_revenue(refund.split(charge));
    class.deposit_revenue(request.pool.withdraw_all());
    let amount = refund.value();
    if (amount > 0) {
        transfer::public_transfer(coin::from_balance(refund, ctx), request.requester);
    } else {
        refund.destroy_zero();
    };
    release_all(class, request);
    request.status = Status::Failed;
    events::emit_request_failed(object::id(request), reason, amount);
}

// === Test-only functions ===

/// A request with every field given (a fresh id), for the layout vector.
#[test_only]
public fun new_for_testing(
    network_id: ID,
    requester: address,
    model_id: String,
    class_id: u64,
    input_digest: vector<u8>,
    input: Input,
    mode: Mode,
    secret_hash: Option<vector<u8>>,
    secret: Option<vector<u8>>,
    checked: Option<bool>,
    seed: vector<u8>,
    timeout_ms: u64,
    params: Params,
    fee: u64,
    pool: u64,
    status: u8,
    round: Round,
    deadline_ms: u64,
    extended: bool,
    retries: u64,
    input_unavailable: bool,
    slots: vector<Slot>,
    selection_role: Role,
    selection_count: u64,
    selection_seed: vector<u8>,
    dispute_size: u64,
    output_digest: Option<vector<u8>>,
    created_ms: u64,
    ctx: &mut TxContext,
): Request {
    let statuses = vector[
        Status::Committing,
        Status::Verifying,
        Status::Selecting,
        Status::Disputed,
        Status::Revealing,
        Status::Finalized,
        Status::Failed,
    ];
    Request {
        id: object::new(ctx),
        network_id,
        requester,
        model_id,
        class_id,
        input_digest,
        input,
        mode,
        secret_hash,
        secret,
        checked,
        seed,
        timeout_ms,
        params,
        fee: balance::create_for_testing(fee),
        pool: balance::create_for_testing(pool),
        status: statuses[status as u64],
        round,
        deadline_ms,
        extended,
        retries,
        input_unavailable,
        slots,
        selection: Selection { role: selection_role, count: selection_count, seed: selection_seed },
        dispute_size,
        output_digest,
        created_ms,
    }
}

#[test_only]
public fun slot_for_testing(
    node_id: ID,
    role: Role,
    stake: u64,
    commitment: Option<vector<u8>>,
    reveal: Option<vector<u8>>,
    salt: Option<vector<u8>>,
    active: bool,
): Slot {
    Slot { node_id, role, stake, commitment, reveal, salt, active }
}

#[test_only]
public fun destroy_for_testing(request: Request) {
    let Request { id, fee, pool, .. } = request;
    id.delete();
    fee.destroy_for_testing();
    pool.destroy_for_testing();
}

#[test_only]
public fun submit_sampling_for_testing(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    n: u64,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    submit_sampling(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, n, payment, random, clock, ctx);
}

#[test_only]
public fun submit_cross_validation_for_testing(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    p_bps: u64,
    n: u64,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    submit_cross_validation(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, p_bps, n, payment, random, clock, ctx);
}

#[test_only]
public fun submit_sealed_for_testing(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    p_bps: u64,
    n: u64,
    secret_hash: vector<u8>,
    payment: Coin<SUI>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    submit_sealed(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, p_bps, n, secret_hash, payment, random, clock, ctx);
}

/// A submission with the draw `seed` made (any mode; `secret_hash` for Sealed).
#[test_only]
public fun submit_with_seed_for_testing(
    net: &Network,
    class: &mut HardwareClass,
    model_id: String,
    input_digest: vector<u8>,
    input_inline: vector<u8>,
    input_uri: Option<String>,
    timeout_ms: u64,
    mode: Mode,
    secret_hash: Option<vector<u8>>,
    payment: Coin<SUI>,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    if (mode.is_sealed()) assert!(secret_hash.borrow().length() == 32, EInvalidDigest);
    submit(net, class, model_id, input_digest, input_inline, input_uri, timeout_ms, mode, secret_hash, payment, seed, clock, ctx);
}

#[test_only]
public fun commit_primary_with_seed_for_testing(
    class: &HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    commitment: vector<u8>,
    r: vector<u8>,
    clock: &Clock,
) {
    commit_primary_with(class, request, cap, commitment, r, clock);
}

#[test_only]
public fun open_dispute_with_seed_for_testing(class: &HardwareClass, request: &mut Request, seed: vector<u8>) {
    open_dispute_with(class, request, seed);
}

#[test_only]
public fun expire_with_seed_for_testing(
    class: &mut HardwareClass,
    request: &mut Request,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    expire_with(class, request, seed, clock, ctx);
}

#[test_only]
public fun abstain_with_seed_for_testing(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    abstain_with(class, request, cap, seed, clock, ctx);
}

#[test_only]
public fun decline_with_seed_for_testing(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    seed: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    decline_with(class, request, cap, seed, clock, ctx);
}

#[test_only]
public fun commit_primary_for_testing(
    class: &HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    commitment: vector<u8>,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    commit_primary(class, request, cap, commitment, random, clock, ctx);
}

#[test_only]
public fun abstain_for_testing(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    abstain(class, request, cap, random, clock, ctx);
}

#[test_only]
public fun decline_for_testing(
    class: &mut HardwareClass,
    request: &mut Request,
    cap: &NodeCap,
    random: &Random,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    decline(class, request, cap, random, clock, ctx);
}

#[test_only]
public fun open_dispute_for_testing(class: &HardwareClass, request: &mut Request, random: &Random, ctx: &mut TxContext) {
    open_dispute(class, request, random, ctx);
}

#[test_only]
public fun expire_for_testing(class: &mut HardwareClass, request: &mut Request, random: &Random, clock: &Clock, ctx: &mut TxContext) {
    expire(class, request, random, clock, ctx);
}

#[test_only]
public fun secret_for_testing(r: &Request): Option<vector<u8>> { r.secret }
