/// The admin's entry functions and the parameters: a happy path each, and
/// one test per abort code.
#[test_only]
module atoma::network_tests;

use atoma::hardware::HardwareClass;
use atoma::network::{Self, Network, AdminCap};
use atoma::params;
use atoma::version;
use atoma::test_utils::{Self as tu, out};
use sui::test_scenario as ts;

/// Creates a second network (sender `@0xB2`) and returns the ids of the first and second.
fun second_network(s: &mut ts::Scenario): (ID, ID) {
    s.next_tx(tu::admin());
    let first = ts::most_recent_id_shared<Network>().destroy_some();
    s.next_tx(@0xB2);
    network::create_for_testing(params::default(), s.ctx());
    s.next_tx(@0xB2);
    let second = ts::most_recent_id_shared<Network>().destroy_some();
    (first, second)
}

#[test]
fun init_shares_a_network_with_default_params() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let net = s.take_shared<Network>();
    assert!(net.params() == &params::default());
    assert!(net.treasury() == 0);
    assert!(net.has_class(0) && !net.has_class(1));
    assert!(net.has_model(tu::model()));
    let cap = s.take_from_sender<AdminCap>();
    assert!(cap.admin_network_id() == object::id(&net));
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.end();
}

#[test]
fun add_hardware_class_counts_ids_up() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    let profile = b"device=cuda;dtype=bf16;threads=1;cpu_capability=avx2;libtorch=2.13.0".to_string();
    let id = net.add_hardware_class(&cap, b"h100".to_string(), profile, 500, 500, s.ctx());
    assert!(id == 1 && net.has_class(1));
    s.return_to_sender(cap);
    ts::return_shared(net);
    // The class is a shared object of its own, registered by id in the network.
    s.next_tx(tu::admin());
    let object_id = ts::most_recent_id_shared<HardwareClass>().destroy_some();
    assert!(tu::inspect_network!(&mut s, |net| net.class_object_id(1)) == object_id);
    let class = s.take_shared_by_id<HardwareClass>(object_id);
    assert!(class.class_id() == 1 && class.name() == b"h100".to_string());
    assert!(class.profile() == profile);
    assert!(class.min_collateral() == 500 && class.task_lock() == 500);
    assert!(class.active_count() == 0 && class.revenue() == 0);
    assert!(class.network_id() == tu::inspect_network!(&mut s, |net| object::id(net)));
    ts::return_shared(class);
    s.end();
}

#[test]
fun add_model_records_its_digest_class_and_run_time_bound() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    assert!(class.longest_run_ms() == tu::run_ms());
    net.add_model(&cap, &mut class, b"gpt".to_string(), out(b"w"), 20_000);
    assert!(net.model(b"gpt".to_string()).weight_digest() == out(b"w"));
    assert!(net.model(b"gpt".to_string()).class_id() == 0);
    assert!(net.model(b"gpt".to_string()).max_run_ms() == 20_000);
    // The class keeps the longest bound of its models.
    assert!(class.longest_run_ms() == 20_000);
    net.add_model(&cap, &mut class, b"small".to_string(), out(b"w"), 10);
    assert!(class.longest_run_ms() == 20_000);
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(net);
    s.end();
}

#[test]
fun set_params_replaces_every_parameter() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.set_params(&cap, 7, 10_000, 20_000, 30_000, 40, 50, 3, 60, 8, 2, 100, 70_000);
    let p = net.params();
    assert!(p.min_fee_per_execution() == 7 && p.min_timeout_ms() == 10_000 && p.max_timeout_ms() == 20_000);
    assert!(p.reveal_window_ms() == 30_000 && p.timeout_slash_bps() == 40 && p.protocol_share_bps() == 50);
    assert!(p.max_retries() == 3 && p.unbonding_delay_ms() == 60 && p.max_n() == 8);
    assert!(p.sealed_pool_factor() == 2 && p.max_inline_input() == 100 && p.grace_ms() == 70_000);
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.end();
}

#[test]
fun class_revenue_is_swept_to_the_treasury_and_withdrawn_by_the_admin() {
    let mut s = tu::setup(3);
    // A silent node's timeout slash (10 % of 1,000) sends 10 % of it (10) to the class's revenue.
    let req = tu::submit_sampling(&mut s, 1);
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::revenue(&mut s) == 10 && tu::treasury(&mut s) == 0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.sweep_revenue(&cap, &mut class);
    assert!(class.revenue() == 0 && net.treasury() == 10);
    ts::return_shared(class);
    net.withdraw_treasury(&cap, 10, s.ctx());
    assert!(net.treasury() == 0);
    s.return_to_sender(cap);
    ts::return_shared(net);
    assert!(tu::coins_of(&mut s, tu::admin()) == 10);
    s.end();
}

#[test]
fun params_helpers_compute_fees_and_shares() {
    let p = params::new(1_000, 5_000, 5_000, 5_000, 0, 0, 0, 0, 16, 3, 1, 5_000);
    assert!(p.min_fee(0, 10_000, 3) == 3_000);
    assert!(p.min_fee(1, 1_000, 2) == 1_200);
    assert!(p.min_fee(1, 1, 1) == 1_001);
    let huge = params::new(18_446_744_073_709_551_615, 5_000, 5_000, 5_000, 0, 0, 0, 0, 32, 3, 1, 5_000);
    assert!(huge.min_fee(0, 10_000, 32) == 18_446_744_073_709_551_615);
    assert!(params::bps_of(999, 1_000) == 99);
    assert!(params::default().is_valid());
}

#[test, expected_failure(abort_code = network::EWrongNetwork)]
fun admin_cap_of_another_network_is_rejected() {
    let mut s = tu::setup(0);
    let (first, _) = second_network(&mut s);
    s.next_tx(@0xB2);
    let mut net = s.take_shared_by_id<Network>(first);
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, b"x".to_string(), out(b"w"), 1_000);
    abort
}

#[test, expected_failure(abort_code = network::EWrongNetwork)]
fun model_of_a_class_of_another_network_is_rejected() {
    let mut s = tu::setup(0);
    let (first, second) = second_network(&mut s);
    s.next_tx(@0xB2);
    {
        let mut net = s.take_shared_by_id<Network>(second);
        let cap = s.take_from_sender<AdminCap>();
        net.add_hardware_class(&cap, b"other".to_string(), b"p".to_string(), 10, 1, s.ctx());
        s.return_to_sender(cap);
        ts::return_shared(net);
    };
    s.next_tx(tu::admin());
    let other_id = ts::most_recent_id_shared<HardwareClass>().destroy_some();
    let mut net = s.take_shared_by_id<Network>(first);
    let mut other = s.take_shared_by_id<HardwareClass>(other_id);
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut other, b"x".to_string(), out(b"w"), 1_000);
    abort
}

#[test, expected_failure(abort_code = network::EInvalidRunTime)]
fun a_run_time_bound_of_zero_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, b"x".to_string(), out(b"w"), 0);
    abort
}

#[test, expected_failure(abort_code = network::EInvalidRunTime)]
fun a_run_time_bound_above_a_year_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, b"x".to_string(), out(b"w"), params::max_duration_ms() + 1);
    abort
}

#[test, expected_failure(abort_code = network::EWrongNetwork)]
fun sweeping_a_class_of_another_network_is_rejected() {
    let mut s = tu::setup(0);
    let (_, second) = second_network(&mut s);
    s.next_tx(@0xB2);
    let mut net = s.take_shared_by_id<Network>(second);
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.sweep_revenue(&cap, &mut class);
    abort
}

#[test, expected_failure(abort_code = network::EUnknownClass)]
fun an_unknown_class_id_has_no_class_object() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let net = s.take_shared<Network>();
    net.class_object_id(9);
    abort
}

#[test, expected_failure(abort_code = network::EModelExists)]
fun model_added_twice_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, tu::model(), out(b"w"), 1_000);
    abort
}

#[test, expected_failure(abort_code = network::EInvalidDigest)]
fun weight_digest_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, b"x".to_string(), x"0102", 1_000);
    abort
}

#[test, expected_failure(abort_code = network::EInvalidName)]
fun empty_class_name_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_hardware_class(&cap, b"".to_string(), b"p".to_string(), 10, 1, s.ctx());
    abort
}

#[test, expected_failure(abort_code = network::EInvalidProfile)]
fun empty_class_profile_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_hardware_class(&cap, b"c".to_string(), b"".to_string(), 10, 1, s.ctx());
    abort
}

#[test, expected_failure(abort_code = network::EInvalidProfile)]
fun a_class_profile_over_256_bytes_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    let mut long = b"";
    257u64.do!(|_| long.push_back(0x61));
    net.add_hardware_class(&cap, b"c".to_string(), long.to_string(), 10, 1, s.ctx());
    abort
}

#[test, expected_failure(abort_code = network::EInvalidTaskLock)]
fun task_lock_above_the_minimum_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_hardware_class(&cap, b"c".to_string(), b"p".to_string(), 10, 11, s.ctx());
    abort
}

#[test, expected_failure(abort_code = network::EInsufficientTreasury)]
fun treasury_overdraw_is_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.withdraw_treasury(&cap, 1, s.ctx());
    abort
}

#[test, expected_failure(abort_code = params::EInvalidParams)]
fun out_of_range_params_are_rejected() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.set_params(&cap, 1, 10, 20, 30, 40, 50, 3, 60, 0, 2, 100, 1);
    abort
}

#[test, expected_failure(abort_code = params::EInvalidParams)]
fun durations_beyond_a_year_are_rejected() {
    params::new(1, 1, 31_536_000_001, 3, 0, 0, 0, 0, 16, 3, 1, 1);
}

// === Versions and migration (docs/deploy.md, "Upgrading") ===

/// Sets the network's and the class's versions, as another package version left them.
fun set_versions(s: &mut ts::Scenario, version: u64) {
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    net.set_version_for_testing(version);
    class.set_version_for_testing(version);
    ts::return_shared(net);
    ts::return_shared(class);
}

#[test]
fun objects_of_an_older_package_are_migrated_by_the_admin_and_then_serve_requests() {
    let mut s = tu::setup(3);
    // Objects an older package (version 0) created.
    set_versions(&mut s, 0);
    s.next_tx(tu::admin());
    {
        let mut net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<AdminCap>();
        net.migrate(&cap);
        net.migrate_class(&cap, &mut class);
        assert!(net.version() == 1 && class.version() == 1);
        let migrated = sui::event::events_by_type<atoma::events::Migrated>();
        assert!(migrated.length() == 2);
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(class);
    };
    let req = tu::submit_sampling(&mut s, 2);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    s.end();
}

#[test, expected_failure(abort_code = version::EWrongVersion)]
fun a_class_not_yet_migrated_refuses_requests() {
    let mut s = tu::setup(3);
    s.next_tx(tu::admin());
    {
        let mut class = s.take_shared<HardwareClass>();
        class.set_version_for_testing(0);
        ts::return_shared(class);
    };
    tu::submit_sampling(&mut s, 2);
    abort
}

#[test, expected_failure(abort_code = version::EWrongVersion)]
fun this_package_is_refused_once_the_objects_moved_to_a_newer_one() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    m.do_ref!(|n| tu::commit(&mut s, req, *n, out(b"A")));
    // A newer package migrated the network and the class: this one may not settle.
    set_versions(&mut s, 2);
    tu::reveal(&mut s, req, m[0], out(b"A"));
    abort
}

#[test, expected_failure(abort_code = version::EWrongVersion)]
fun node_operations_are_refused_on_a_class_of_another_version() {
    let mut s = tu::setup(1);
    set_versions(&mut s, 2);
    s.next_tx(tu::owner(0));
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<atoma::node::NodeCap>();
    atoma::node::set_endpoint(&mut class, &cap, b"http://x".to_string());
    abort
}

#[test, expected_failure(abort_code = version::EWrongVersion)]
fun migrating_twice_is_refused() {
    let mut s = tu::setup(0);
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.migrate(&cap);
    abort
}

#[test, expected_failure(abort_code = version::EWrongVersion)]
fun a_class_cannot_be_migrated_before_the_network() {
    let mut s = tu::setup(0);
    set_versions(&mut s, 0);
    s.next_tx(tu::admin());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.migrate_class(&cap, &mut class);
    abort
}
