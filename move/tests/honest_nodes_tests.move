/// The protocol's edges, as in the Rust crate's `tests/honest_nodes.rs`:
/// each test plays one attack on honest nodes (or one way to be paid without
/// working) and checks the rule of docs/protocol.md ("Threats and the rules
/// that meet them") that defeats it, to the MIST.
#[test_only]
module atoma::honest_nodes_tests;

use atoma::node::NodeCap;
use atoma::hardware::HardwareClass;
use atoma::network::{Network, AdminCap};
use atoma::request;
use atoma::sampler;
use atoma::test_utils::{Self as tu, out};
use atoma::types;
use sui::clock::Clock;
use sui::test_scenario::{Self as ts, Scenario};

fun start(nodes: u64): u64 { nodes * tu::min_collateral() + tu::fee() }

fun paid(s: &mut Scenario, node: ID): u64 {
    let owner = tu::owner_of(s, node);
    tu::coins_of(s, owner)
}

/// A Sampling request of `n` nodes where the last reveals B and the others
/// A, taken to its dispute round with the quorum selected.
fun dispute(s: &mut Scenario, n: u64): (ID, vector<ID>) {
    let req = tu::submit_sampling(s, n);
    let main = tu::members(s, req);
    let cheater = main[n - 1];
    main.do_ref!(|m| tu::commit(s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    main.do_ref!(|m| tu::reveal(s, req, *m, if (*m == cheater) out(b"B") else out(b"A")));
    assert!(tu::inspect!(s, req, |r| r.is_disputed()));
    tu::open_dispute(s, req);
    tu::select_nodes(s, req);
    (req, main)
}

fun leave(s: &mut Scenario, node_id: ID) {
    let owner = tu::owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let clock = s.take_shared<Clock>();
    atoma::node::request_leave(&net, &mut class, &cap, &clock);
    s.return_to_sender(cap);
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(clock);
}

// === 1. The dispute quorum's size is fixed when the dispute is raised ===

#[test]
fun silent_disputers_are_replaced_seat_for_seat_and_the_quorum_keeps_its_size() {
    let mut s = tu::setup(9);
    let (req, _) = dispute(&mut s, 2);
    assert!(tu::inspect!(&mut s, req, |r| r.dispute_size()) == 5);
    let d = tu::members(&mut s, req);
    assert!(d.length() == 5);
    3u64.do!(|i| tu::commit(&mut s, req, d[2 + i], out(b"A")));
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.dispute_size()) == 5);
    assert!(tu::members(&mut s, req).length() == 5);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    assert!(tu::total_sui(&mut s, req, 9) == start(9));
    tu::assert_all_unlocked(&mut s, 9);
    s.end();
}

#[test]
fun one_reveal_cannot_decide_a_dispute_whose_silent_seats_stay_empty() {
    // Sampling n = 5: Q = 11 and no node left to replace silent disputers.
    let mut s = tu::setup(16);
    let (req, main) = dispute(&mut s, 5);
    let d = tu::members(&mut s, req);
    tu::commit(&mut s, req, d[0], out(b"B"));
    tu::commit(&mut s, req, d[1], out(b"A"));
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    // No fresh node is left to refill the nine silent seats: no round of
    // fewer than 11 decides, the request fails.
    assert!(tu::inspect!(&mut s, req, |r| r.dispute_size() == 11 && r.pending_refill() == 9));
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    4u64.do!(|i| assert!(tu::collateral(&mut s, main[i]) == tu::min_collateral()));
    assert!(tu::collateral(&mut s, main[4]) == tu::min_collateral());
    assert!(tu::total_sui(&mut s, req, 16) == start(16));
    tu::assert_all_unlocked(&mut s, 16);
    s.end();
}

// === 2. Unobtainable inputs: abstain, the seat is refilled; a request that
// fails for want of its input pays the minimum fee, never slashed stake ===

#[test]
fun a_node_that_cannot_fetch_the_input_abstains_unslashed_and_unpaid() {
    let mut s = tu::setup(4);
    let req = tu::submit_sampling_uri(&mut s, 3);
    let m = tu::members(&mut s, req);
    tu::abstain(&mut s, req, m[0]);
    assert!(tu::inspect_class!(&mut s, |class| class.node(m[0]).locked()) == 0);
    assert!(tu::members(&mut s, req).length() == 2);
    tu::select_nodes(&mut s, req);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    assert!(paid(&mut s, m[0]) == 0 && paid(&mut s, m[1]) == tu::fee() / 3);
    assert!(tu::collateral(&mut s, m[0]) == tu::min_collateral());
    assert!(tu::total_sui(&mut s, req, 4) == start(4));
    tu::assert_all_unlocked(&mut s, 4);
    s.end();
}

#[test]
fun a_request_whose_input_no_node_can_obtain_pays_its_minimum_fee() {
    let mut s = tu::setup(6);
    let req = tu::submit_sampling_uri(&mut s, 5);
    let m = tu::members(&mut s, req);
    m.do_ref!(|n| tu::abstain(&mut s, req, *n));
    assert!(tu::inspect!(&mut s, req, |r| r.pending_refill()) == 5);
    // Five seats to refill, one fresh node in the class.
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    let price = 5 * atoma::params::default().min_fee_per_execution();
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee() - price);
    assert!(tu::revenue(&mut s) == price);
    6u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        assert!(tu::collateral(&mut s, id) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 6) == start(6));
    tu::assert_all_unlocked(&mut s, 6);
    s.end();
}

#[test, expected_failure(abort_code = request::EInputOnChain)]
fun abstaining_from_an_inline_input_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::abstain(&mut s, req, m);
    abort
}

#[test, expected_failure(abort_code = request::EAlreadyCommitted)]
fun abstaining_after_committing_is_rejected() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling_uri(&mut s, 2);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::abstain(&mut s, req, m);
    abort
}

#[test, expected_failure(abort_code = request::EDeadlinePassed)]
fun abstaining_after_the_deadline_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling_uri(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::advance(&mut s, tu::timeout());
    tu::abstain(&mut s, req, m);
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun abstaining_in_the_reveal_phase_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling_uri(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::abstain(&mut s, req, m);
    abort
}

#[test, expected_failure(abort_code = request::ENotSelected)]
fun a_node_of_no_slot_cannot_abstain() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling_uri(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    let mut other = tu::node_id(&mut s, 0);
    if (other == m) other = tu::node_id(&mut s, 1);
    tu::abstain(&mut s, req, other);
    abort
}

// === 3. A Sealed secret is accepted only inside its window ===

#[test, expected_failure(abort_code = request::EDeadlinePassed)]
fun a_sealed_secret_after_the_window_is_rejected() {
    let mut s = tu::setup(4);
    let req = tu::submit_sealed(&mut s, 100, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::reveal_secret(&mut s, req, tu::secret());
    abort
}

#[test]
fun a_chosen_candidate_that_left_is_dropped_unslashed_and_its_seat_refilled() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    let pool = tu::nodes_with_role(&mut s, req, types::candidate());
    let seed = tu::inspect!(&mut s, req, |r| r.seed());
    let (_, chosen) = sampler::sealed_draw(&seed, &tu::secret(), 10_000, 2, pool.length());
    let leaver = pool[chosen[0]];
    leave(&mut s, leaver);
    tu::reveal_secret(&mut s, req, tu::secret());
    assert!(tu::nodes_with_role(&mut s, req, types::verifier()) == vector[pool[chosen[1]]]);
    // The leaver's seat is refilled from the class's on-call nodes.
    assert!(tu::inspect!(&mut s, req, |r| r.pending_refill()) == 1);
    tu::select_nodes(&mut s, req);
    let verifiers = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(verifiers.length() == 2 && !verifiers.contains(&leaver));
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    assert!(tu::collateral(&mut s, leaver) == tu::min_collateral());
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    s.end();
}

// === 4. Parameters are copied at submission ===

#[test]
fun parameters_changed_in_flight_do_not_reach_the_request() {
    let mut s = tu::setup(6);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    s.next_tx(tu::admin());
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<AdminCap>();
        net.set_params(&cap, 1_000_000, 5_000, 3_600_000, 5_000, 10_000, 10_000, 0, 3_600_000, 16, 3, 8_192, 5_000);
        s.return_to_sender(cap);
        ts::return_shared(net);
    };
    assert!(tu::inspect!(&mut s, req, |r| r.params()) == atoma::params::default());
    tu::advance(&mut s, tu::timeout());
    tu::expire(&mut s, req);
    // The grace of the parameters at submission (10 s), not the new 5 s.
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_000_000 + tu::timeout() + tu::grace());
    tu::advance(&mut s, tu::grace());
    tu::expire(&mut s, req);
    // 10 % of the stake lost, 10 % of that to the treasury, and a refill pending.
    assert!(tu::collateral(&mut s, m[1]) == tu::min_collateral() - 100);
    assert!(tu::revenue(&mut s) == 10);
    assert!(tu::inspect!(&mut s, req, |r| r.pending_refill()) == 1);
    s.end();
}

// === 5. Lazy disputers are not paid ===

#[test]
fun a_lazy_disputer_that_votes_the_public_majority_digest_is_slashed_and_unpaid() {
    let mut s = tu::setup(12);
    let (req, main) = dispute(&mut s, 3);
    let d = tu::members(&mut s, req);
    let lazy = d[0];
    let guess = out(b"a guessed key");
    tu::commit_with_salt(&mut s, req, lazy, out(b"A"), guess);
    6u64.do!(|i| tu::commit(&mut s, req, d[1 + i], out(b"A")));
    tu::reveal_with_salt(&mut s, req, lazy, out(b"A"), guess);
    6u64.do!(|i| tu::reveal(&mut s, req, d[1 + i], out(b"A")));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    assert!(tu::collateral(&mut s, lazy) == tu::min_collateral() - tu::task_lock());
    assert!(tu::collateral(&mut s, main[2]) == tu::min_collateral() - tu::task_lock());
    assert!(paid(&mut s, lazy) == 0);
    // Eight winners share fee + 1,800 of pool: (9,000,000 + 1,800) / 8 = 1,125,225.
    assert!(paid(&mut s, d[1]) == 1_125_225 && paid(&mut s, main[0]) == 1_125_225);
    assert!(tu::total_sui(&mut s, req, 12) == start(12));
    tu::assert_all_unlocked(&mut s, 12);
    s.end();
}

// === 6. A dispute the class cannot fill fails without slashing anyone ===

#[test]
fun a_dispute_the_class_cannot_fill_fails_without_slashing_anyone() {
    let mut s = tu::setup(7);
    let req = tu::submit_sampling(&mut s, 3);
    let m = tu::members(&mut s, req);
    let honest = m[0];
    m.do_ref!(|n| tu::commit(&mut s, req, *n, if (*n == honest) out(b"A") else out(b"B")));
    m.do_ref!(|n| tu::reveal(&mut s, req, *n, if (*n == honest) out(b"A") else out(b"B")));
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    m.do_ref!(|n| assert!(tu::collateral(&mut s, *n) == tu::min_collateral()));
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee());
    assert!(tu::total_sui(&mut s, req, 7) == start(7));
    tu::assert_all_unlocked(&mut s, 7);
    s.end();
}

// === 7. What a request locks is what it pays for ===

#[test]
fun sealed_requests_lock_only_their_primary() {
    let mut s = tu::setup(4);
    let mut reqs = vector[];
    10u64.do!(|_| reqs.push_back(tu::submit_sealed(&mut s, 0, 1)));
    let mut locked = 0;
    4u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        locked = locked + tu::inspect_class!(&mut s, |class| class.node(id).locked());
    });
    assert!(locked == 10 * tu::task_lock());
    // Another requester is served by all four nodes.
    let req = tu::submit_sampling(&mut s, 4);
    assert!(tu::members(&mut s, req).length() == 4);
    s.end();
}

// === 10. A chain halt cannot eat the time nodes have to act ===

#[test]
fun after_a_halt_longer_than_the_timeout_late_commits_inside_the_grace_are_not_slashed() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::advance(&mut s, 25_000);
    tu::expire(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.extended() && r.is_committing()));
    m.do_ref!(|n| tu::commit(&mut s, req, *n, out(b"A")));
    assert!(tu::inspect!(&mut s, req, |r| !r.extended() && r.is_revealing()));
    tu::advance(&mut s, tu::reveal_window() + 25_000);
    tu::expire(&mut s, req);
    m.do_ref!(|n| tu::reveal(&mut s, req, *n, out(b"A")));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    m.do_ref!(|n| assert!(tu::collateral(&mut s, *n) == tu::min_collateral()));
    assert!(tu::total_sui(&mut s, req, 3) == start(3));
    s.end();
}

#[test, expected_failure(abort_code = request::EDeadlineNotReached)]
fun a_second_expire_inside_the_grace_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::advance(&mut s, tu::timeout());
    tu::expire(&mut s, req);
    tu::advance(&mut s, tu::grace() - 1);
    tu::expire(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = request::EDeadlinePassed)]
fun a_commit_after_the_grace_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::advance(&mut s, tu::timeout());
    tu::expire(&mut s, req);
    tu::advance(&mut s, tu::grace());
    tu::commit(&mut s, req, m, out(b"A"));
    abort
}
