/// Helpers for the package's tests: a scenario with the system objects,
/// seeded randomness, a network with one class ("cpu-test", minimum 10,000,
/// task lock 1,000) and one model ("m"), and registered nodes; and one
/// function per user action, each run as its own transaction.
#[test_only]
module atoma::test_utils;

use atoma::commitment;
use atoma::hardware::HardwareClass;
use atoma::network::{Self, Network, AdminCap};
use atoma::node::{Self, NodeCap};
use atoma::request::{Self, Request};
use std::string::String;
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::hash::blake2b256;
use sui::random::{Self, Random};
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

// === Constants of the test world ===

public fun admin(): address { @0xAD }

public fun requester(): address { @0xBEEF }

public fun keeper(): address { @0xCAFE }

public fun owner(i: u64): address { sui::address::from_u256(0x1000 + (i as u256)) }

public fun min_collateral(): u64 { 10_000 }

public fun task_lock(): u64 { 1_000 }

public fun fee(): u64 { 9_000_000 }

/// The model's run-time bound on the class.
public fun run_ms(): u64 { 1_000 }

/// The shortest commit timeout the chain accepts for the model: the default
/// `min_timeout_ms`, one run of it, one run of the class's longest.
public fun timeout(): u64 { 5_000 + 2 * run_ms() }

public fun reveal_window(): u64 { 30_000 }

public fun model(): String { b"m".to_string() }

public fun input(): vector<u8> { b"hello" }

public fun input_digest(): vector<u8> { blake2b256(&input()) }

public fun out(tag: vector<u8>): vector<u8> { blake2b256(&tag) }

public fun secret(): vector<u8> { blake2b256(&b"secret") }

public fun salt(node_id: ID): vector<u8> { blake2b256(&node_id.to_bytes()) }

/// The dispute key an honest disputer computes: `blake2b256(request_id ||
/// output)`, where the tests' output bytes are the digest's 32 bytes.
public fun dispute_key(req: ID, output: vector<u8>): vector<u8> {
    let mut data = req.to_bytes();
    data.append(output);
    blake2b256(&data)
}

public fun grace(): u64 { 10_000 }

public fun uri(): std::string::String { b"https://inputs.example/x".to_string() }

// === Set-up ===

/// A network with `nodes` registered nodes (owners `owner(0..nodes)`), the
/// clock at 1,000,000 ms.
public fun setup(nodes: u64): Scenario {
    setup_with_seed(nodes, x"1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f")
}

public fun setup_with_seed(nodes: u64, randomness: vector<u8>): Scenario {
    let mut s = ts::begin(admin());
    s.create_system_objects();
    s.next_tx(@0x0);
    {
        let mut r = s.take_shared<Random>();
        random::update_randomness_state_for_testing(&mut r, 0, randomness, s.ctx());
        ts::return_shared(r);
    };
    s.next_tx(admin());
    network::init_for_testing(s.ctx());
    s.next_tx(admin());
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<AdminCap>();
        net.add_hardware_class(&cap, b"cpu-test".to_string(), b"device=cpu".to_string(), min_collateral(), task_lock(), s.ctx());
        s.return_to_sender(cap);
        ts::return_shared(net);
    };
    s.next_tx(admin());
    {
        let mut net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<AdminCap>();
        net.add_model(&cap, &mut class, model(), blake2b256(&b"weights"), run_ms());
        s.return_to_sender(cap);
        ts::return_shared(class);
        ts::return_shared(net);
    };
    s.next_tx(admin());
    {
        let mut c = s.take_shared<Clock>();
        c.set_for_testing(1_000_000);
        ts::return_shared(c);
    };
    nodes.do!(|i| register(&mut s, i));
    s
}

/// Registers node `i` with the class minimum.
public fun register(s: &mut Scenario, i: u64) {
    s.next_tx(owner(i));
    let mut class = s.take_shared<HardwareClass>();
    let collateral = coin::mint_for_testing<SUI>(min_collateral(), s.ctx());
    node::register_node(&mut class, collateral, b"http://node".to_string(), x"0101010101010101010101010101010101010101010101010101010101010101", s.ctx());
    ts::return_shared(class);
}

/// The id of node `i` (the id of its `NodeCap`).
public fun node_id(s: &mut Scenario, i: u64): ID {
    s.next_tx(owner(i));
    ts::most_recent_id_for_address<NodeCap>(owner(i)).destroy_some()
}

public fun owner_of(s: &mut Scenario, node_id: ID): address {
    inspect_class!(s, |class| class.node(node_id).owner())
}

public fun advance(s: &mut Scenario, ms: u64) {
    s.next_tx(admin());
    let mut c = s.take_shared<Clock>();
    c.increment_for_testing(ms);
    ts::return_shared(c);
}

// === Requester actions ===

public fun submit_sampling(s: &mut Scenario, n: u64): ID {
    s.next_tx(requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee(), s.ctx());
    request::submit_sampling_for_testing(&net, &mut class, model(), input_digest(), input(), option::none(), timeout(), n, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
    latest_request(s)
}

public fun submit_cross_validation(s: &mut Scenario, p_bps: u64, n: u64): ID {
    s.next_tx(requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee(), s.ctx());
    request::submit_cross_validation_for_testing(&net, &mut class, model(), input_digest(), input(), option::none(), timeout(), p_bps, n, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
    latest_request(s)
}

public fun submit_sealed(s: &mut Scenario, p_bps: u64, n: u64): ID {
    s.next_tx(requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee(), s.ctx());
    let hash = commitment::secret_hash(&secret());
    request::submit_sealed_for_testing(&net, &mut class, model(), input_digest(), input(), option::none(), timeout(), p_bps, n, hash, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
    latest_request(s)
}

/// A Sampling request whose input is given by URI.
public fun submit_sampling_uri(s: &mut Scenario, n: u64): ID {
    s.next_tx(requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee(), s.ctx());
    request::submit_sampling_for_testing(&net, &mut class, model(), input_digest(), vector[], option::some(uri()), timeout(), n, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
    latest_request(s)
}

fun latest_request(s: &mut Scenario): ID {
    s.next_tx(requester());
    ts::most_recent_id_shared<Request>().destroy_some()
}

public fun reveal_secret(s: &mut Scenario, req: ID, secret: vector<u8>) {
    s.next_tx(requester());
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::reveal_secret(&mut class, &mut r, secret, &clock, s.ctx());
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(clock);
}

// === Executor actions ===

/// The salt an honest node uses: its own in the main round, the dispute key
/// of its output as a disputer.
public fun salt_for(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>): vector<u8> {
    let disputer = inspect!(s, req, |r| r.slots().any!(|slot| slot.slot_node_id() == node_id && slot.slot_role() == atoma::types::disputer()));
    if (disputer) dispute_key(req, output) else salt(node_id)
}

public fun commitment_of(req: ID, node_id: ID, output: vector<u8>): vector<u8> {
    commitment::commitment(req, node_id, output, salt(node_id))
}

public fun commit(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>) {
    let salt = salt_for(s, req, node_id, output);
    commit_with_salt(s, req, node_id, output, salt);
}

public fun commit_with_salt(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>, salt: vector<u8>) {
    let owner = owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::commit(&class, &mut r, &cap, commitment::commitment(req, node_id, output, salt), &clock);
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(clock);
}

public fun commit_primary(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>) {
    let owner = owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    request::commit_primary_for_testing(&class, &mut r, &cap, commitment_of(req, node_id, output), &random, &clock, s.ctx());
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(random);
    ts::return_shared(clock);
}

public fun reveal(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>) {
    let salt = salt_for(s, req, node_id, output);
    reveal_with_salt(s, req, node_id, output, salt);
}

/// The node cannot obtain the input.
public fun abstain(s: &mut Scenario, req: ID, node_id: ID) {
    leave(s, req, node_id, true);
}

/// The node cannot run the request in time.
public fun decline(s: &mut Scenario, req: ID, node_id: ID) {
    leave(s, req, node_id, false);
}

fun leave(s: &mut Scenario, req: ID, node_id: ID, for_input: bool) {
    let owner = owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    if (for_input) request::abstain_for_testing(&mut class, &mut r, &cap, &random, &clock, s.ctx())
    else request::decline_for_testing(&mut class, &mut r, &cap, &random, &clock, s.ctx());
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(random);
    ts::return_shared(clock);
}

public fun reveal_with_salt(s: &mut Scenario, req: ID, node_id: ID, output: vector<u8>, salt: vector<u8>) {
    let owner = owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::reveal(&mut class, &mut r, &cap, output, salt, &clock, s.ctx());
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(clock);
}

/// Every current member commits `output`, then every member reveals it.
public fun play_round(s: &mut Scenario, req: ID, output: vector<u8>) {
    let members = members(s, req);
    members.do_ref!(|n| if (!has_committed(s, req, *n)) commit(s, req, *n, output));
    members.do_ref!(|n| reveal(s, req, *n, output));
}

// === Keeper actions ===

public fun expire(s: &mut Scenario, req: ID) {
    s.next_tx(keeper());
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    request::expire_for_testing(&mut class, &mut r, &random, &clock, s.ctx());
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(random);
    ts::return_shared(clock);
}

/// Ends the current phase once its deadline has passed: `expire` (which
/// extends the deadline by the grace), the grace, `expire` again.
public fun expire_after_grace(s: &mut Scenario, req: ID) {
    expire(s, req);
    assert!(inspect!(s, req, |r| r.extended()));
    advance(s, grace());
    expire(s, req);
}

public fun select_nodes(s: &mut Scenario, req: ID) {
    s.next_tx(keeper());
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::select_nodes(&mut class, &mut r, &clock, s.ctx());
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(clock);
}

public fun open_dispute(s: &mut Scenario, req: ID) {
    s.next_tx(keeper());
    let class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let random = s.take_shared<Random>();
    request::open_dispute_for_testing(&class, &mut r, &random, s.ctx());
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(random);
}

// === Views ===

public fun members(s: &mut Scenario, req: ID): vector<ID> {
    s.next_tx(keeper());
    let r = s.take_shared_by_id<Request>(req);
    let ids = r.member_ids();
    ts::return_shared(r);
    ids
}

public fun nodes_with_role(s: &mut Scenario, req: ID, role: atoma::types::Role): vector<ID> {
    s.next_tx(keeper());
    let r = s.take_shared_by_id<Request>(req);
    let ids = r.nodes_with_role(role);
    ts::return_shared(r);
    ids
}

public fun has_committed(s: &mut Scenario, req: ID, node_id: ID): bool {
    s.next_tx(keeper());
    let r = s.take_shared_by_id<Request>(req);
    let found = r.slots().find_index!(|slot| slot.slot_node_id() == node_id && slot.slot_commitment().is_some());
    ts::return_shared(r);
    found.is_some()
}

/// Runs `$f` on the request, read only.
public macro fun inspect<$T>($s: &mut Scenario, $req: ID, $f: |&Request| -> $T): $T {
    let s = $s;
    s.next_tx(keeper());
    let r = s.take_shared_by_id<Request>($req);
    let result = $f(&r);
    ts::return_shared(r);
    result
}

/// Runs `$f` on the (only) hardware class, read only.
public macro fun inspect_class<$T>($s: &mut Scenario, $f: |&HardwareClass| -> $T): $T {
    let s = $s;
    s.next_tx(keeper());
    let class = s.take_shared<HardwareClass>();
    let result = $f(&class);
    ts::return_shared(class);
    result
}

/// Runs `$f` on the network, read only.
public macro fun inspect_network<$T>($s: &mut Scenario, $f: |&Network| -> $T): $T {
    let s = $s;
    s.next_tx(keeper());
    let net = s.take_shared<Network>();
    let result = $f(&net);
    ts::return_shared(net);
    result
}

public fun collateral(s: &mut Scenario, node_id: ID): u64 {
    inspect_class!(s, |class| class.node(node_id).collateral())
}

public fun treasury(s: &mut Scenario): u64 {
    inspect_network!(s, |net| net.treasury())
}

/// The protocol revenue the class holds (not yet swept to the treasury).
public fun revenue(s: &mut Scenario): u64 {
    inspect_class!(s, |class| class.revenue())
}

/// SUI in the coins an address holds.
public fun coins_of(s: &mut Scenario, addr: address): u64 {
    s.next_tx(addr);
    let ids = ts::ids_for_address<Coin<SUI>>(addr);
    let mut total = 0;
    ids.do_ref!(|id| {
        let c = s.take_from_address_by_id<Coin<SUI>>(addr, *id);
        total = total + c.value();
        ts::return_to_address(addr, c);
    });
    total
}

/// Every node's collateral, the treasury and the class's revenue, the
/// request's fee and pool, and the coins paid to the requester and to the
/// first `nodes` owners: the total the tests started with must be there still.
public fun total_sui(s: &mut Scenario, req: ID, nodes: u64): u64 {
    let mut total = treasury(s) + revenue(s) + coins_of(s, requester());
    nodes.do!(|i| {
        let id = node_id(s, i);
        total = total + coins_of(s, owner(i));
        let present = inspect_class!(s, |class| class.has_node(id));
        if (present) total = total + collateral(s, id);
    });
    total + inspect!(s, req, |r| r.fee() + r.pool())
}

/// Every node's locked collateral and open tasks are zero.
public fun assert_all_unlocked(s: &mut Scenario, nodes: u64) {
    nodes.do!(|i| {
        let id = node_id(s, i);
        assert!(inspect_class!(s, |class| class.node(id).locked()) == 0);
        assert!(inspect_class!(s, |class| class.node(id).open_tasks()) == 0);
    });
}
