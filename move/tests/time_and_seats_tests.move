/// The rules that keep honest nodes safe in real time (docs/protocol.md,
/// "Time" and "Seats"), as in the Rust crate's `tests/time_and_seats.rs`:
/// one test per class of attack, with the same names.
#[test_only]
module atoma::time_and_seats_tests;

use atoma::hardware::{Self, HardwareClass};
use atoma::network::{Network, AdminCap};
use atoma::node::NodeCap;
use atoma::params;
use atoma::request::{Self, Request};
use atoma::terms;
use atoma::test_utils::{Self as tu, out};
use atoma::types;
use sui::clock::Clock;
use sui::coin;
use sui::random::Random;
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

fun start(nodes: u64): u64 { nodes * tu::min_collateral() + tu::fee() }

fun paid(s: &mut Scenario, node: ID): u64 {
    let owner = tu::owner_of(s, node);
    tu::coins_of(s, owner)
}

/// Submits a Sampling request of `n` for `model` with this timeout and fee
/// (inline input unless `uri`), and returns its id.
fun submit(s: &mut Scenario, model: vector<u8>, timeout: u64, n: u64, fee: u64, uri: bool): ID {
    s.next_tx(tu::requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee, s.ctx());
    let (inline, input_uri) = if (uri) (vector[], option::some(tu::uri())) else (tu::input(), option::none());
    request::submit_sampling_for_testing(&net, &mut class, model.to_string(), tu::input_digest(), inline, input_uri, timeout, n, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
    s.next_tx(tu::requester());
    ts::most_recent_id_shared<Request>().destroy_some()
}

fun add_model(s: &mut Scenario, model: vector<u8>, max_run_ms: u64) {
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, model.to_string(), out(model), max_run_ms);
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(net);
}

fun set_params(s: &mut Scenario, p: params::Params) {
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.set_params(
        &cap,
        p.min_fee_per_execution(),
        p.min_timeout_ms(),
        p.max_timeout_ms(),
        p.reveal_window_ms(),
        p.timeout_slash_bps(),
        p.protocol_share_bps(),
        p.max_retries(),
        p.unbonding_delay_ms(),
        p.max_n(),
        p.sealed_pool_factor(),
        p.max_inline_input(),
        p.grace_ms(),
    );
    s.return_to_sender(cap);
    ts::return_shared(net);
}

/// Every member of the current round leaves its seat (abstains, or
/// declines) and the refill is selected, until the request ends.
macro fun leave_until_final($s: &mut Scenario, $req: ID, $abstain: bool) {
    let s = $s;
    let req = $req;
    while (!tu::inspect!(s, req, |r| r.is_failed() || r.is_finalized())) {
        let members = tu::members(s, req);
        members.do_ref!(|n| {
            if (!tu::inspect!(s, req, |r| r.is_failed())) {
                if ($abstain) tu::abstain(s, req, *n) else tu::decline(s, req, *n);
            }
        });
        if (!tu::inspect!(s, req, |r| r.is_failed())) tu::select_nodes(s, req);
    }
}

/// A Sampling request of `n` where the last member reveals B and the
/// others A, taken to its dispute round with the quorum selected.
fun dispute(s: &mut Scenario, n: u64, uri: bool): (ID, vector<ID>) {
    let req = submit(s, b"m", tu::timeout(), n, tu::fee(), uri);
    let main = tu::members(s, req);
    let cheater = main[n - 1];
    main.do_ref!(|m| tu::commit(s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    main.do_ref!(|m| tu::reveal(s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    tu::open_dispute(s, req);
    tu::select_nodes(s, req);
    (req, main)
}

// === 1. Requester-chosen time: every commit timeout covers the run ===

#[test, expected_failure(abort_code = terms::EInvalidTimeout)]
fun a_timeout_shorter_than_the_model_needs_is_refused() {
    let mut s = tu::setup(3);
    // The shortest timeout is accepted...
    submit(&mut s, b"m", tu::timeout(), 1, tu::fee(), false);
    // ...until a slower model joins the class: a node may be finishing one
    // of its runs first.
    add_model(&mut s, b"slow", 60_000);
    assert!(tu::inspect_class!(&mut s, |class| class.longest_run_ms()) == 60_000);
    submit(&mut s, b"m", tu::timeout(), 1, tu::fee(), false);
    abort
}

#[test]
fun every_seat_filled_later_gets_a_full_timeout() {
    let mut s = tu::setup(12);
    // CrossValidation verifiers.
    let req = tu::submit_cross_validation(&mut s, 10_000, 2);
    let primary = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, primary, out(b"A"));
    tu::advance(&mut s, 3_000);
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_003_000 + tu::timeout());
    // A refill, late in the phase.
    let verifier = tu::members(&mut s, req)[1];
    tu::advance(&mut s, tu::timeout() - 1);
    tu::decline(&mut s, req, verifier);
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_003_000 + 2 * tu::timeout() - 1);
    // The dispute quorum, drawn at the same moment.
    let (req, _) = dispute(&mut s, 2, false);
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_003_000 + 2 * tu::timeout() - 1);
    s.end();
}

// === 2. Admin-chosen time: floors, and an exit fixed when asked ===

#[test, expected_failure(abort_code = params::EInvalidParams)]
fun windows_below_the_latency_floor_are_refused() {
    let mut s = tu::setup(0);
    let d = params::default();
    // At the floor: accepted.
    set_params(&mut s, params::new(d.min_fee_per_execution(), 5_000, 5_000, 5_000, 0, 0, 0, 0, 16, 3, 8_192, 5_000));
    // A reveal window no transaction can meet: refused.
    set_params(&mut s, params::new(d.min_fee_per_execution(), 5_000, 5_000, 4_999, 0, 0, 0, 0, 16, 3, 8_192, 5_000));
    abort
}

#[test]
fun a_nodes_exit_is_fixed_when_it_asks_to_leave() {
    let mut s = tu::setup(2);
    let node = tu::node_id(&mut s, 0);
    s.next_tx(tu::owner(0));
    {
        let cap = s.take_from_sender_by_id<NodeCap>(node);
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let clock = s.take_shared<Clock>();
        atoma::node::request_leave(&net, &mut class, &cap, &clock);
        s.return_to_sender(cap);
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(clock);
    };
    let promised = 1_000_000 + params::default().unbonding_delay_ms();
    assert!(tu::inspect_class!(&mut s, |class| class.node(node).withdraw_after_ms()) == option::some(promised));
    // The admin raises the unbonding delay to its bound afterwards.
    let d = params::default();
    set_params(&mut s, params::new(
        d.min_fee_per_execution(), d.min_timeout_ms(), d.max_timeout_ms(), d.reveal_window_ms(),
        d.timeout_slash_bps(), d.protocol_share_bps(), d.max_retries(), params::max_duration_ms(),
        d.max_n(), d.sealed_pool_factor(), d.max_inline_input(), d.grace_ms(),
    ));
    tu::advance(&mut s, params::default().unbonding_delay_ms());
    s.next_tx(tu::owner(0));
    {
        let cap = s.take_from_sender_by_id<NodeCap>(node);
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let clock = s.take_shared<Clock>();
        atoma::node::withdraw(&net, &mut class, cap, &clock, s.ctx());
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(clock);
    };
    assert!(tu::coins_of(&mut s, tu::owner(0)) == tu::min_collateral());
    s.end();
}

// === 3. Selective input: abstention never changes who decides ===

#[test]
fun an_abstaining_member_is_replaced_and_the_request_needs_every_seat() {
    let mut s = tu::setup(8);
    let req = submit(&mut s, b"m", tu::timeout(), 3, tu::fee(), true);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"B"));
    tu::abstain(&mut s, req, m[1]);
    tu::abstain(&mut s, req, m[2]);
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing() && r.pending_refill() == 2));
    tu::select_nodes(&mut s, req);
    let members = tu::members(&mut s, req);
    assert!(members.length() == 3);
    members.do_ref!(|n| if (*n != m[0]) tu::commit(&mut s, req, *n, out(b"A")));
    members.do_ref!(|n| tu::reveal(&mut s, req, *n, if (*n == m[0]) out(b"B") else out(b"A")));
    // The lone member is out-voted: the request goes to a dispute.
    assert!(tu::inspect!(&mut s, req, |r| r.is_disputed()));
    m.do_ref!(|n| assert!(tu::collateral(&mut s, *n) == tu::min_collateral()));
    s.end();
}

#[test]
fun a_checked_request_never_finalizes_without_its_verifiers() {
    let mut s = tu::setup(8);
    s.next_tx(tu::requester());
    {
        let net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
        let payment = coin::mint_for_testing<SUI>(tu::fee(), s.ctx());
        request::submit_cross_validation_for_testing(&net, &mut class, tu::model(), tu::input_digest(), vector[], option::some(tu::uri()), tu::timeout(), 10_000, 2, payment, &random, &clock, s.ctx());
        ts::return_shared(net);
        ts::return_shared(class);
        ts::return_shared(random);
        ts::return_shared(clock);
    };
    s.next_tx(tu::requester());
    let req = ts::most_recent_id_shared<Request>().destroy_some();
    let primary = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, primary, out(b"B"));
    tu::select_nodes(&mut s, req);
    let verifiers = tu::nodes_with_role(&mut s, req, types::verifier());
    verifiers.do_ref!(|v| tu::abstain(&mut s, req, *v));
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing() && r.pending_refill() == 2));
    tu::select_nodes(&mut s, req);
    let seated = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(seated.length() == 2 && seated.all!(|v| !verifiers.contains(v)));
    seated.do_ref!(|v| tu::commit(&mut s, req, *v, out(b"A")));
    tu::reveal(&mut s, req, primary, out(b"B"));
    seated.do_ref!(|v| tu::reveal(&mut s, req, *v, out(b"A")));
    // The wrong primary is caught.
    assert!(tu::inspect!(&mut s, req, |r| r.is_disputed()));
    s.end();
}

// === 4. Free lock-ups: failing for want of input pays; locks cannot stop a dispute ===

#[test]
fun a_lock_up_pays_its_minimum_fee() {
    let mut s = tu::setup(10);
    let req = submit(&mut s, b"m", tu::timeout(), 2, tu::fee(), true);
    leave_until_final!(&mut s, req, true);
    let price = 2 * params::default().min_fee_per_execution();
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed() && r.retries() == params::default().max_retries()));
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee() - price);
    assert!(tu::revenue(&mut s) == price);
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun a_dispute_is_seated_whatever_the_class_holds_locked() {
    let mut s = tu::setup(10);
    let req = tu::submit_sampling(&mut s, 3);
    let main = tu::members(&mut s, req);
    let cheater = main[2];
    main.do_ref!(|m| tu::commit(&mut s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    main.do_ref!(|m| tu::reveal(&mut s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    // Meanwhile requests lock every task lock the class has left.
    while (tu::inspect_class!(&mut s, |class| class.active_count()) > 0) {
        tu::submit_sampling(&mut s, 1);
    };
    // The quorum of seven is drawn from the on-call nodes all the same.
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    let disputers = tu::members(&mut s, req);
    assert!(disputers.length() == 7);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    assert!(tu::collateral(&mut s, cheater) == tu::min_collateral() - tu::task_lock());
    main.do_ref!(|m| if (*m != cheater) assert!(tu::collateral(&mut s, *m) == tu::min_collateral()));
    s.end();
}

// === 5. Output for free: starving the dispute of the input costs the minimum fee ===

#[test]
fun starving_the_dispute_of_the_input_costs_the_requester_its_minimum_fee() {
    let mut s = tu::setup(12);
    let (req, main) = dispute(&mut s, 2, true);
    leave_until_final!(&mut s, req, true);
    let price = 2 * params::default().min_fee_per_execution();
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee() - price);
    // Nobody is slashed for an output no quorum decided, nor paid for unverified work.
    main.do_ref!(|m| {
        assert!(tu::collateral(&mut s, *m) == tu::min_collateral());
        assert!(paid(&mut s, *m) == 0);
    });
    assert!(tu::total_sui(&mut s, req, 12) == start(12));
    tu::assert_all_unlocked(&mut s, 12);
    s.end();
}

// === 6. Retired code: every request-path call checks the version ===

/// Moves the class to version 2, as a newer package's migration does.
fun retire(s: &mut Scenario) {
    s.next_tx(tu::admin());
    let mut class = s.take_shared<HardwareClass>();
    class.set_version_for_testing(2);
    ts::return_shared(class);
}

#[test, expected_failure(abort_code = atoma::version::EWrongVersion)]
fun a_retired_package_cannot_commit_or_open_a_dispute() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req)[0];
    retire(&mut s);
    tu::commit(&mut s, req, m, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = atoma::version::EWrongVersion)]
fun a_retired_package_cannot_draw_the_cross_validation_flip() {
    let mut s = tu::setup(3);
    let req = tu::submit_cross_validation(&mut s, 10_000, 1);
    let p = tu::members(&mut s, req)[0];
    retire(&mut s);
    tu::commit_primary(&mut s, req, p, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = atoma::version::EWrongVersion)]
fun a_retired_package_cannot_open_a_dispute() {
    let mut s = tu::setup(12);
    let req = tu::submit_sampling(&mut s, 2);
    let main = tu::members(&mut s, req);
    main.do_ref!(|m| tu::commit(&mut s, req, *m, if (*m == main[1]) out(b"B") else out(b"A")));
    main.do_ref!(|m| tu::reveal(&mut s, req, *m, if (*m == main[1]) out(b"B") else out(b"A")));
    retire(&mut s);
    tu::open_dispute(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = atoma::version::EWrongVersion)]
fun a_retired_package_cannot_abstain() {
    let mut s = tu::setup(3);
    let req = submit(&mut s, b"m", tu::timeout(), 1, tu::fee(), true);
    let m = tu::members(&mut s, req)[0];
    retire(&mut s);
    tu::abstain(&mut s, req, m);
    abort
}

#[test, expected_failure(abort_code = atoma::version::EWrongVersion)]
fun a_retired_package_cannot_decline() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    retire(&mut s);
    tu::decline(&mut s, req, m);
    abort
}

// === 7. A model is never held against a node that could not have it yet ===

#[test]
fun a_node_without_a_new_model_declines_unslashed() {
    let mut s = tu::setup(4);
    add_model(&mut s, b"new", tu::run_ms());
    let req = submit(&mut s, b"new", tu::timeout(), 2, tu::fee(), false);
    // No operator has installed it yet: every member declines, every refill too.
    leave_until_final!(&mut s, req, false);
    // A decline costs the requester nothing and slashes nobody.
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee());
    4u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        assert!(tu::collateral(&mut s, id) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 4) == start(4));
    tu::assert_all_unlocked(&mut s, 4);
    s.end();
}

// === 8. The twins fail alike ===

#[test, expected_failure(arithmetic_error, location = sui::balance)]
fun overflowing_arithmetic_fails_alike_and_changes_nothing() {
    // A fee no coin on Sui can hold, and a slash that adds to it.
    let mut s = tu::setup(3);
    let req = submit(&mut s, b"m", tu::timeout(), 3, 18_446_744_073_709_551_615, false);
    let m = tu::members(&mut s, req);
    m.do_ref!(|n| tu::commit(&mut s, req, *n, out(b"A")));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    tu::reveal(&mut s, req, m[1], out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::expire_after_grace(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = hardware::EUnknownNode)]
fun a_slot_whose_node_is_gone_fails_alike_and_changes_nothing() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    // A state no sequence of calls reaches: a member's node is missing.
    s.next_tx(tu::admin());
    let mut class = s.take_shared<HardwareClass>();
    class.remove_node_for_testing(m[1]);
    ts::return_shared(class);
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    abort
}
