/// The shared `Network`: parameters, the registries of hardware classes and
/// models, and the protocol treasury, with the admin's entry functions
/// (Rust: `atoma_protocol::state` and `ops::admin`).
///
/// No request or node operation changes the `Network`: they read it at most
/// (submissions read the parameters and the model, node operations the
/// unbonding delay) and change only their class's shared `HardwareClass`
/// object, so that classes never contend for one object (docs/scaling.md).
module atoma::network;

use atoma::events;
use atoma::hardware::{Self, HardwareClass};
use atoma::model::{Self, Model};
use atoma::params::{Self, Params};
use atoma::version;
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
/// A model's run-time bound is zero or above 365 days.
#[error(code = 44)]
const EInvalidRunTime: vector<u8> = b"a model's run-time bound must be between 1 ms and 365 days";

// === Constants ===

const MAX_NAME_LEN: u64 = 128;
const MAX_PROFILE_LEN: u64 = 256;

// === Structs ===

public struct Network has key {
    id: UID,
    /// The package version that may use the network (see `version`).
    version: u64,
    params: Params,
    /// Each class's shared object, by class id.
    classes: Table<u64, ID>,
    next_class_id: u64,
    models: Table<String, Model>,
    /// Protocol revenue swept from the classes.
    treasury: Balance<SUI>,
}

/// The right to change parameters, add classes and models, sweep the
/// classes' revenue and withdraw the treasury.
public struct AdminCap has key {
    id: UID,
    network_id: ID,
}

// === Initializer ===

fun init(ctx: &mut TxContext) {
    create(params::default(), ctx);
}

fun create(params: Params, ctx: &mut TxContext) {
    let network = Network {
        id: object::new(ctx),
        version: version::current(),
        params,
        classes: table::new(ctx),
        next_class_id: 0,
        models: table::new(ctx),
        treasury: balance::zero(),
    };
    let cap = AdminCap { id: object::new(ctx), network_id: object::id(&network) };
    events::emit_network_created(object::id(&network), object::id(&cap), params);
    transfer::transfer(cap, ctx.sender());
    transfer::share_object(network);
}

// === Admin functions ===

/// Adds a hardware class with the determinism profile its nodes must run
/// with (docs/protocol.md, "Hardware classes"), as a new shared
/// `HardwareClass` object; class ids count up from 0. Emits
/// `HardwareClassAdded`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion`, `EInvalidName`, `EInvalidProfile`, `EInvalidTaskLock`.
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
    let class = hardware::new(object::id(net), class_id, name, profile, min_collateral, task_lock, ctx);
    let object_id = object::id(&class);
    net.classes.add(class_id, object_id);
    events::emit_hardware_class_added(class_id, object_id, name, profile, min_collateral, task_lock);
    class.share();
    class_id
}

/// Adds a model that runs on `class`, with the digest of its weight file
/// and its run-time bound on the class (`max_run_ms`: the longest an honest
/// node of the class takes to run it on any input), which every commit
/// timeout of its requests covers; the class keeps the longest bound of its
/// models. Emits `ModelAdded`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion`, `EInvalidName`, `EInvalidDigest`,
/// `EInvalidRunTime`, then the class's `EWrongNetwork`, `version::EWrongVersion`; `EModelExists`.
public fun add_model(
    net: &mut Network,
    cap: &AdminCap,
    class: &mut HardwareClass,
    model_id: String,
    weight_digest: vector<u8>,
    max_run_ms: u64,
) {
    net.check_admin(cap);
    check_name(&model_id);
    assert!(weight_digest.length() == 32, EInvalidDigest);
    assert!(max_run_ms >= 1 && max_run_ms <= params::max_duration_ms(), EInvalidRunTime);
    net.check_network(class.network_id());
    class.check_version();
    assert!(!net.models.contains(model_id), EModelExists);
    let class_id = class.class_id();
    net.models.add(model_id, model::new(weight_digest, class_id, max_run_ms));
    class.add_run_bound(max_run_ms);
    events::emit_model_added(model_id, weight_digest, class_id, max_run_ms);
}

/// Replaces the parameters for requests submitted from now on (a request
/// keeps the copy it took at submission). Emits `ParamsUpdated`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion`, `params::EInvalidParams`.
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

/// After a package upgrade, moves the `Network` to this package's version:
/// the old package's functions abort on it from now on. Emits `Migrated`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion` (already at this version or newer).
public fun migrate(net: &mut Network, cap: &AdminCap) {
    net.check_network(cap.network_id);
    version::check_migration(net.version);
    net.version = version::current();
    events::emit_migrated(object::id(net), net.version);
}

/// After `migrate`, moves a class to this package's version. Emits `Migrated`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion` (the network not
/// migrated yet, or the class already at this version or newer).
public fun migrate_class(net: &Network, cap: &AdminCap, class: &mut HardwareClass) {
    net.check_admin(cap);
    net.check_network(class.network_id());
    class.migrate();
    events::emit_migrated(object::id(class), class.version());
}

/// Moves the revenue a class has accrued (its share of slashes and rounding
/// remainders) to the treasury. Emits `RevenueSwept`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion`.
public fun sweep_revenue(net: &mut Network, cap: &AdminCap, class: &mut HardwareClass) {
    net.check_admin(cap);
    net.check_network(class.network_id());
    class.check_version();
    let revenue = class.take_revenue();
    let amount = revenue.value();
    net.treasury.join(revenue);
    events::emit_revenue_swept(class.class_id(), amount);
}

/// Pays `amount` of the treasury to the sender. Emits `TreasuryWithdrawn`.
/// Aborts: `EWrongNetwork`, `version::EWrongVersion`, `EInsufficientTreasury`.
#[allow(lint(self_transfer))] // the admin pays itself, like the Rust reference's payout
public fun withdraw_treasury(net: &mut Network, cap: &AdminCap, amount: u64, ctx: &mut TxContext) {
    net.check_admin(cap);
    assert!(amount <= net.treasury.value(), EInsufficientTreasury);
    transfer::public_transfer(coin::from_balance(net.treasury.split(amount), ctx), ctx.sender());
    events::emit_treasury_withdrawn(amount, ctx.sender());
}

// === Views ===

public fun version(net: &Network): u64 { net.version }

public fun params(net: &Network): &Params { &net.params }

public fun treasury(net: &Network): u64 { net.treasury.value() }

public fun has_class(net: &Network, class_id: u64): bool { net.classes.contains(class_id) }

/// The shared object of the class with this id.
public fun class_object_id(net: &Network, class_id: u64): ID {
    assert!(net.classes.contains(class_id), EUnknownClass);
    net.classes[class_id]
}

public fun has_model(net: &Network, model_id: String): bool { net.models.contains(model_id) }

public fun model(net: &Network, model_id: String): &Model { &net.models[model_id] }

public fun admin_network_id(cap: &AdminCap): ID { cap.network_id }

// === Package functions ===

public(package) fun check_network(net: &Network, network_id: ID) {
    assert!(object::id(net) == network_id, EWrongNetwork);
}

/// Aborts unless this package may use the network (`version::EWrongVersion`).
public(package) fun check_version(net: &Network) {
    version::check(net.version);
}

// === Private functions ===

/// Checks the cap and that this package may use the network.
fun check_admin(net: &Network, cap: &AdminCap) {
    net.check_network(cap.network_id);
    version::check(net.version);
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

/// Sets the network's version, as an older or newer package would have left it.
#[test_only]
public fun set_version_for_testing(net: &mut Network, version: u64) {
    net.version = version;
}
