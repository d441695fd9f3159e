/// Node operators' entry functions: a happy path each, and one test per abort code.
#[test_only]
module atoma::node_tests;

use atoma::hardware::{Self, HardwareClass};
use atoma::network::{Network, AdminCap};
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
    let class = s.take_shared<HardwareClass>();
    let node = class.node(id);
    assert!(node.owner() == tu::owner(0) && node.node_class_id() == 0);
    assert!(node.collateral() == tu::min_collateral() && node.locked() == 0 && node.open_tasks() == 0);
    assert!(node.endpoint() == b"http://node".to_string() && node.public_key() == KEY);
    assert!(class.is_active(id) && class.active_count() == 1);
    let cap = s.take_from_sender<NodeCap>();
    assert!(cap.node_id() == id && cap.network_id() == object::id(&net) && cap.class_id() == 0);
    s.return_to_sender(cap);
    ts::return_shared(net);
    ts::return_shared(class);
    s.end();
}

#[test]
fun add_collateral_tops_a_node_up() {
    let mut s = tu::setup(1);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    node::add_collateral(&mut class, &cap, coin::mint_for_testing<SUI>(5, s.ctx()));
    assert!(class.node(id).collateral() == tu::min_collateral() + 5);
    s.return_to_sender(cap);
    ts::return_shared(class);
    s.end();
}

#[test]
fun set_endpoint_changes_the_address() {
    let mut s = tu::setup(1);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    node::set_endpoint(&mut class, &cap, b"https://n.example".to_string());
    assert!(class.node(id).endpoint() == b"https://n.example".to_string());
    s.return_to_sender(cap);
    ts::return_shared(class);
    s.end();
}

#[test]
fun leaving_node_leaves_the_active_list_and_withdraws_after_unbonding() {
    let mut s = tu::setup(2);
    let id = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    {
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::request_leave(&net, &mut class, &cap, &clock);
        assert!(!class.is_active(id) && class.active_count() == 1);
        assert!(class.node(id).withdraw_after_ms() == option::some(1_000_000 + atoma::params::default().unbonding_delay_ms()));
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(clock);
    };
    tu::advance(&mut s, params::default().unbonding_delay_ms());
    s.next_tx(tu::owner(0));
    {
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::withdraw(&net, &mut class, cap, &clock, s.ctx());
        assert!(!class.has_node(id));
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(clock);
    };
    assert!(tu::coins_of(&mut s, tu::owner(0)) == tu::min_collateral());
    s.end();
}

/// Adds a second class, "other", and returns its object's id.
fun add_other_class(s: &mut ts::Scenario): ID {
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_hardware_class(&cap, b"other".to_string(), b"device=cpu".to_string(), tu::min_collateral(), tu::task_lock(), s.ctx());
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.next_tx(tu::admin());
    ts::most_recent_id_shared<HardwareClass>().destroy_some()
}

#[test]
fun a_node_registers_in_the_class_object_it_names_and_only_that_class_changes() {
    let mut s = tu::setup(1);
    let other = add_other_class(&mut s);
    s.next_tx(tu::owner(1));
    let mut class = s.take_shared_by_id<HardwareClass>(other);
    node::register_node(&mut class, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"http://n".to_string(), KEY, s.ctx());
    ts::return_shared(class);
    s.next_tx(tu::owner(1));
    let cap = s.take_from_sender<NodeCap>();
    assert!(cap.class_id() == 1);
    let class = s.take_shared_by_id<HardwareClass>(other);
    assert!(class.has_node(cap.node_id()) && class.active_count() == 1 && class.node(cap.node_id()).node_class_id() == 1);
    s.return_to_sender(cap);
    ts::return_shared(class);
    // The first class still holds its one node only.
    assert!(tu::inspect_network!(&mut s, |net| net.class_object_id(1)) == other);
    s.end();
}

#[test, expected_failure(abort_code = hardware::EWrongClass)]
fun a_node_cap_used_with_another_class_object_is_rejected() {
    let mut s = tu::setup(1);
    let other = add_other_class(&mut s);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared_by_id<HardwareClass>(other);
    let cap = s.take_from_sender<NodeCap>();
    node::add_collateral(&mut class, &cap, coin::mint_for_testing<SUI>(5, s.ctx()));
    abort
}

#[test, expected_failure(abort_code = node::EInsufficientCollateral)]
fun registering_below_the_minimum_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    node::register_node(&mut class, coin::mint_for_testing<SUI>(tu::min_collateral() - 1, s.ctx()), b"http://n".to_string(), KEY, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EInvalidEndpoint)]
fun empty_endpoint_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    node::register_node(&mut class, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"".to_string(), KEY, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EInvalidPublicKey)]
fun short_public_key_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    node::register_node(&mut class, coin::mint_for_testing<SUI>(tu::min_collateral(), s.ctx()), b"http://n".to_string(), x"01", s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EUnknownNode)]
fun cap_of_no_registered_node_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    let cap = node::new_cap_for_testing(class.network_id(), 0, s.ctx());
    node::add_collateral(&mut class, &cap, coin::mint_for_testing<SUI>(1, s.ctx()));
    abort
}

#[test, expected_failure(abort_code = hardware::EWrongNetwork)]
fun cap_of_another_network_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    let cap = node::new_cap_for_testing(object::id_from_address(@0x99), 0, s.ctx());
    node::set_endpoint(&mut class, &cap, b"http://x".to_string());
    abort
}

#[test, expected_failure(abort_code = node::EAlreadyLeaving)]
fun leaving_twice_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::request_leave(&net, &mut class, &cap, &clock);
    node::request_leave(&net, &mut class, &cap, &clock);
    abort
}

#[test, expected_failure(abort_code = node::ENotLeaving)]
fun withdrawing_without_leaving_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::withdraw(&net, &mut class, cap, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EUnbonding)]
fun withdrawing_before_the_unbonding_delay_is_rejected() {
    let mut s = tu::setup(1);
    s.next_tx(tu::owner(0));
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::request_leave(&net, &mut class, &cap, &clock);
    node::withdraw(&net, &mut class, cap, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = node::EOpenTasks)]
fun withdrawing_with_open_tasks_is_rejected() {
    let mut s = tu::setup(1);
    tu::submit_sampling(&mut s, 1);
    s.next_tx(tu::owner(0));
    {
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<NodeCap>();
        let clock = s.take_shared<Clock>();
        node::request_leave(&net, &mut class, &cap, &clock);
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(clock);
    };
    tu::advance(&mut s, params::default().unbonding_delay_ms());
    s.next_tx(tu::owner(0));
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<NodeCap>();
    let clock = s.take_shared<Clock>();
    node::withdraw(&net, &mut class, cap, &clock, s.ctx());
    abort
}
