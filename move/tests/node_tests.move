/// Node operators' entry functions: a happy path each, and one test per abort code.
#[test_only]
module atoma::node_tests;

use atoma::network::{Self, Network};
use atoma::node::{Self, NodeCap};
use atoma::params;
use atoma::test_utils as tu;
use sui::clock::Clock;
use sui::coin;
use sui::sui::SUI;
use sui::test_scenario as ts;

const KEY: vector<u8> = x"0101010101010101010101010101010101010101010101010101010101010101";

#[test]
fun register_node_stakes_collateral_and_becomes_eligible() {
    let mut s = tu::setup(1);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    let net = s.take_shared<Network>();
    let node = net.node(id);
    assert!(node.owner() == tu::owner(0) && node.node_class_id() == 0);
    assert!(node.collateral() == tu::min_collateral() && node.locked() == 0 && node.open_tasks() == 0);
    assert!(node.endpoint() == b"http://node".to_string() && node.public_key() == KEY);
    assert!(net.class(0).is_active(id) && net.class(0).active_count() == 1);
    let cap = s.take_from_sender<NodeCap>();
    assert!(cap.node_id() == id && cap.network_id() == object::id(&net));
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.end();
}

#[test]
fun add_collateral_tops_a_node_up() {
    let mut s = tu::setup(1);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    node::add_collateral(&mut net, &cap, coin::mint_for_testing<SUI>(5, s.ctx()));
    assert!(net.node(id).collateral() == tu::min_collateral() + 5);
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.end();
}

#[test]
fun set_endpoint_changes_the_address() {
    let mut s = tu::setup(1);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    node::set_endpoint(&mut net, &cap, b"https://n.example".to_string());
    assert!(net.node(id).endpoint() == b"https://n.example".to_string());
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.end();
}

#[test]
fun leaving_node_leaves_the_active_list_and_withdraws_after_unbonding() {
    let mut s = tu::setup(2);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::request_leave(&mut net, &cap, &clock);
        assert!(!net.class(0).is_active(id) && net.class(0).active_count() == 1);
        assert!(net.node(id).leaving_since_ms() == option::some(1_000_000));
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(clock);
    };
    tu::advance(&mut s, params::default().unbonding_delay_ms());
    s.next_tx(tu::owner(0));
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::withdraw(&mut net, cap, &clock, s.ctx());
        assert!(!net.has_node(id));
        ts::return_shared(net);
        ts::return_shared(clock);
    };
    assert!(tu::coins_of(&mut s, tu::owner(0)) == tu::min_collateral());
    s.end();
}

#[test, expected_failure(abort_code = node::EUnknownClass)]
fun registering_in_an_unknown_class_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    node::register_node(&mut net, 7, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"http://n".to_string(), KEY, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EInsufficientCollateral)]
fun registering_below_the_minimum_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    node::register_node(&mut net, 0, coin::mint_for_testing<SUI>(tu::min_collateral() - 1, s.ctx()), b"http://n".to_string(), KEY, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EInvalidEndpoint)]
fun empty_endpoint_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    node::register_node(&mut net, 0, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"".to_string(), KEY, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EInvalidPublicKey)]
fun short_public_key_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    node::register_node(&mut net, 0, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"http://n".to_string(), x"01", s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EUnknownNode)]
fun cap_of_no_registered_node_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = node::new_cap_for_testing(object::id(&net), s.ctx());
    node::add_collateral(&mut net, &cap, coin::mint_for_testing<SUI>(1, s.ctx()));
    abort
}

#[test, expected_failure(abort_code = network::EWrongNetwork)]
fun cap_of_another_network_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = node::new_cap_for_testing(object::id_from_address(@0x99), s.ctx());
    node::set_endpoint(&mut net, &cap, b"http://x".to_string());
    abort
}

#[test, expected_failure(abort_code = node::EAlreadyLeaving)]
fun leaving_twice_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::request_leave(&mut net, &cap, &clock);
    node::request_leave(&mut net, &cap, &clock);
    abort
}

#[test, expected_failure(abort_code = node::ENotLeaving)]
fun withdrawing_without_leaving_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::withdraw(&mut net, cap, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EUnbonding)]
fun withdrawing_before_the_unbonding_delay_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::request_leave(&mut net, &cap, &clock);
    node::withdraw(&mut net, cap, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EOpenTasks)]
fun withdrawing_with_open_tasks_is_rejected() {
    let mut s = tu::setup(1);
    tu::submit_sampling(&mut s, 1);
    s.next_tx(tu::owner(0));
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::request_leave(&mut net, &cap, &clock);
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(clock);
    };
    tu::advance(&mut s, params::default().unbonding_delay_ms());
    s.next_tx(tu::owner(0));
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::withdraw(&mut net, cap, &clock, s.ctx());
    abort
}
