/// The request entry functions: a happy path each, and one test per abort code.
#[test_only]
module atoma::request_tests;

use atoma::hardware::{Self, HardwareClass};
use atoma::network::{Self, Network, AdminCap};
use atoma::node::{Self, NodeCap};
use atoma::params;
use atoma::request::{Self, Request};
use atoma::sampler;
use atoma::terms;
use atoma::test_utils::{Self as tu, out};
use atoma::types;
use sui::clock::Clock;
use sui::coin;
use sui::random::Random;
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

/// Submits a Sampling request with the given arguments (any may be bad).
fun submit_with(
    s: &mut Scenario,
    model: vector<u8>,
    digest: vector<u8>,
    inline: vector<u8>,
    uri: Option<std::string::String>,
    timeout: u64,
    n: u64,
    fee: u64,
) {
    s.next_tx(tu::requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(fee, s.ctx());
    request::submit_sampling_for_testing(&net, &mut class, model.to_string(), digest, inline, uri, timeout, n, payment, &random, &clock, s.ctx());
    ts::return_shared(net);
    ts::return_shared(class);
    ts::return_shared(random);
    ts::return_shared(clock);
}

/// Commits raw bytes as the commitment of `node_id`.
fun commit_raw(s: &mut Scenario, req: ID, node_id: ID, commitment: vector<u8>) {
    let owner = tu::owner_of(s, node_id);
    s.next_tx(owner);
    let cap = s.take_from_sender_by_id<NodeCap>(node_id);
    let class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::commit(&class, &mut r, &cap, commitment, &clock);
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(r);
    ts::return_shared(clock);
}

/// A node of the class that holds no slot on `req`.
fun outsider(s: &mut Scenario, req: ID, nodes: u64): ID {
    let mut i = 0;
    loop {
        let id = tu::node_id(s, i);
        let on_request = tu::inspect!(s, req, |r| r.slots().any!(|slot| slot.slot_node_id() == id));
        if (!on_request) return id;
        i = i + 1;
        assert!(i < nodes);
    }
}

// === Happy paths ===

#[test]
fun submit_sampling_selects_n_executors_and_locks_their_stake() {
    let mut s = tu::setup(5);
    let req = tu::submit_sampling(&mut s, 3);
    let members = tu::members(&mut s, req);
    assert!(members.length() == 3);
    members.do_ref!(|n| assert!(tu::inspect_class!(&mut s, |class| class.node(*n).locked()) == tu::task_lock()));
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing() && r.fee() == tu::fee()));
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_000_000 + tu::timeout());
    assert!(tu::inspect!(&mut s, req, |r| r.seed().length()) == 32);
    s.end();
}

#[test]
fun submit_by_uri_stores_the_uri() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), vector[], option::some(b"https://in.example/x".to_string()), tu::timeout(), 1, tu::fee());
    s.next_tx(tu::requester());
    let req = ts::most_recent_id_shared<Request>().destroy_some();
    assert!(tu::inspect!(&mut s, req, |r| r.input()) == types::uri_input(b"https://in.example/x".to_string()));
    s.end();
}

#[test]
fun submit_cross_validation_selects_one_primary() {
    let mut s = tu::setup(3);
    let req = tu::submit_cross_validation(&mut s, 5_000, 2);
    assert!(tu::members(&mut s, req).length() == 1);
    assert!(tu::inspect!(&mut s, req, |r| r.mode()) == types::cross_validation(5_000, 2));
    s.end();
}

#[test]
fun submit_sealed_selects_a_primary_and_a_disjoint_pool() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 1_000, 2);
    let primary = tu::nodes_with_role(&mut s, req, types::executor());
    let pool = tu::nodes_with_role(&mut s, req, types::candidate());
    assert!(primary.length() == 1 && pool.length() == 6);
    assert!(!pool.contains(&primary[0]));
    s.end();
}

#[test]
fun commit_of_the_last_member_opens_the_reveal_phase() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing()));
    tu::commit(&mut s, req, m[1], out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_revealing()));
    assert!(tu::inspect!(&mut s, req, |r| r.deadline_ms()) == 1_000_000 + tu::reveal_window());
    s.end();
}

#[test]
fun commit_primary_draws_the_flip_and_stores_it() {
    let mut s = tu::setup(4);
    let req = tu::submit_cross_validation(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.checked()) == option::some(true));
    assert!(tu::inspect!(&mut s, req, |r| r.is_selecting()));
    s.end();
}

#[test]
fun reveal_records_the_digest_and_the_last_one_settles() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    tu::commit(&mut s, req, m[1], out(b"A"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_revealing()));
    tu::reveal(&mut s, req, m[1], out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    s.end();
}

#[test]
fun reveal_secret_records_the_secret_and_the_draw() {
    let mut s = tu::setup(6);
    let req = tu::submit_sealed(&mut s, 0, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_verifying()));
    tu::reveal_secret(&mut s, req, tu::secret());
    assert!(tu::inspect!(&mut s, req, |r| request::secret_for_testing(r)) == option::some(tu::secret()));
    assert!(tu::inspect!(&mut s, req, |r| r.checked()) == option::some(false));
    assert!(tu::inspect!(&mut s, req, |r| r.is_revealing()));
    s.end();
}

#[test]
fun select_nodes_adds_verifiers_excluding_the_primary() {
    let mut s = tu::setup(4);
    let req = tu::submit_cross_validation(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"A"));
    tu::select_nodes(&mut s, req);
    let verifiers = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(verifiers.length() == 2 && !verifiers.contains(&p));
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing()));
    s.end();
}

#[test]
fun open_dispute_stores_a_selection_of_two_m_plus_one() {
    let mut s = tu::setup(8);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    tu::commit(&mut s, req, m[1], out(b"B"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    tu::reveal(&mut s, req, m[1], out(b"B"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_disputed()));
    tu::open_dispute(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_selecting()));
    tu::select_nodes(&mut s, req);
    assert!(tu::members(&mut s, req).length() == 5);
    assert!(tu::inspect!(&mut s, req, |r| r.round()) == types::dispute_round());
    s.end();
}

#[test]
fun expire_slashes_silent_members_and_stores_a_replacement_draw() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 1);
    let silent = tu::members(&mut s, req)[0];
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::collateral(&mut s, silent) == tu::min_collateral() - 100);
    // The silent seat waits for its refill; the refill counts when selected.
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing() && r.pending_refill() == 1 && r.retries() == 0 && r.pool() == 90));
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.pending_refill() == 0 && r.retries() == 1));
    assert!(tu::members(&mut s, req).length() == 1 && tu::members(&mut s, req)[0] != silent);
    s.end();
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun expire_is_refused_while_a_refill_is_pending() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 1);
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    tu::advance(&mut s, tu::timeout());
    tu::expire(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = sampler::ENotEnoughNodes)]
fun sampling_more_than_is_left_aborts() {
    sampler::sample(&x"00", 3, 4, &vector[1, 2]);
}

// === Aborts of submission ===

#[test, expected_failure(abort_code = request::EUnknownModel)]
fun unknown_model_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"nope", tu::input_digest(), tu::input(), option::none(), tu::timeout(), 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun input_digest_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", x"00", tu::input(), option::none(), tu::timeout(), 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun secret_hash_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(4);
    s.next_tx(tu::requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared<HardwareClass>();
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(tu::fee(), s.ctx());
    request::submit_sealed_for_testing(&net, &mut class, tu::model(), tu::input_digest(), tu::input(), option::none(), tu::timeout(), 100, 1, x"01", payment, &random, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidInput)]
fun inline_input_and_uri_together_are_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), tu::input(), option::some(b"https://x".to_string()), tu::timeout(), 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidInput)]
fun missing_input_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), vector[], option::none(), tu::timeout(), 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = terms::EInputDigestMismatch)]
fun inline_input_not_matching_its_digest_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", out(b"other"), tu::input(), option::none(), tu::timeout(), 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidQuorum)]
fun zero_n_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), tu::input(), option::none(), tu::timeout(), 0, tu::fee());
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidProbability)]
fun p_above_one_is_rejected() {
    let mut s = tu::setup(3);
    tu::submit_cross_validation(&mut s, 10_001, 1);
    abort
}

#[test, expected_failure(abort_code = terms::ENotEnoughNodes)]
fun n_above_the_class_size_is_rejected() {
    let mut s = tu::setup(2);
    tu::submit_sampling(&mut s, 3);
    abort
}

#[test, expected_failure(abort_code = terms::EFeeTooLow)]
fun fee_below_the_minimum_is_rejected() {
    let mut s = tu::setup(3);
    let fee = params::default().min_fee_per_execution() * 3 - 1;
    submit_with(&mut s, b"m", tu::input_digest(), tu::input(), option::none(), tu::timeout(), 3, fee);
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidTimeout)]
fun timeout_below_the_minimum_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), tu::input(), option::none(), 999, 1, tu::fee());
    abort
}

#[test, expected_failure(abort_code = terms::EInvalidTimeout)]
fun timeout_short_of_the_models_run_is_rejected() {
    let mut s = tu::setup(2);
    submit_with(&mut s, b"m", tu::input_digest(), tu::input(), option::none(), tu::timeout() - 1, 1, tu::fee());
    abort
}

// === Aborts of commit, reveal and the keeper calls ===

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun commitment_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    commit_raw(&mut s, req, m, x"0102");
    abort
}

#[test, expected_failure(abort_code = hardware::EWrongNetwork)]
fun cap_of_another_network_cannot_commit() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    s.next_tx(tu::owner(0));
    let class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let cap = node::new_cap_for_testing(object::id_from_address(@0x99), 0, s.ctx());
    let clock = s.take_shared<Clock>();
    request::commit(&class, &mut r, &cap, out(b"c"), &clock);
    abort
}

#[test, expected_failure(abort_code = request::ENotSelected)]
fun unselected_node_cannot_commit() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 1);
    let other = outsider(&mut s, req, 3);
    tu::commit(&mut s, req, other, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EAlreadyCommitted)]
fun committing_twice_is_rejected() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::commit(&mut s, req, m, out(b"B"));
    abort
}

#[test, expected_failure(abort_code = request::EDeadlinePassed)]
fun committing_after_the_deadline_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::advance(&mut s, tu::timeout());
    tu::commit(&mut s, req, m, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun revealing_during_the_commit_phase_is_rejected() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun committing_during_the_reveal_phase_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::commit(&mut s, req, m, out(b"B"));
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun select_nodes_with_nothing_pending_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::select_nodes(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun open_dispute_without_a_dispute_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::open_dispute(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun expiring_a_finalized_request_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::play_round(&mut s, req, out(b"A"));
    tu::advance(&mut s, 1_000_000);
    tu::expire(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun output_digest_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::reveal(&mut s, req, m, x"01");
    abort
}

#[test, expected_failure(abort_code = request::EInvalidSalt)]
fun salt_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::reveal_with_salt(&mut s, req, m, out(b"A"), x"0102");
    abort
}

#[test, expected_failure(abort_code = request::ENotSelected)]
fun unselected_node_cannot_reveal() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    let other = outsider(&mut s, req, 3);
    tu::reveal(&mut s, req, other, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EAlreadyRevealed)]
fun revealing_twice_is_rejected() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    tu::commit(&mut s, req, m[1], out(b"A"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EDeadlinePassed)]
fun revealing_after_the_deadline_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::reveal(&mut s, req, m, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::ECommitmentMismatch)]
fun revealing_another_output_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    tu::reveal(&mut s, req, m, out(b"B"));
    abort
}

#[test, expected_failure(abort_code = request::EDeadlineNotReached)]
fun expiring_before_the_deadline_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::advance(&mut s, tu::timeout() - 1);
    tu::expire(&mut s, req);
    abort
}

#[test, expected_failure(abort_code = request::EPrimaryCommitRequired)]
fun cross_validation_primary_must_use_commit_primary() {
    let mut s = tu::setup(3);
    let req = tu::submit_cross_validation(&mut s, 100, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::ENotPrimary)]
fun commit_primary_outside_cross_validation_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, m, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::EPrimaryNotCommitted)]
fun sealed_candidate_cannot_commit_before_the_primary() {
    let mut s = tu::setup(4);
    let req = tu::submit_sealed(&mut s, 100, 1);
    let c = tu::nodes_with_role(&mut s, req, types::candidate())[0];
    tu::commit(&mut s, req, c, out(b"A"));
    abort
}

#[test, expected_failure(abort_code = request::ENotSealed)]
fun revealing_a_secret_of_a_sampling_request_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    tu::reveal_secret(&mut s, req, tu::secret());
    abort
}

#[test, expected_failure(abort_code = request::EWrongPhase)]
fun revealing_the_secret_before_the_primary_commits_is_rejected() {
    let mut s = tu::setup(4);
    let req = tu::submit_sealed(&mut s, 100, 1);
    tu::reveal_secret(&mut s, req, tu::secret());
    abort
}

#[test, expected_failure(abort_code = request::ESecretMismatch)]
fun wrong_secret_is_rejected() {
    let mut s = tu::setup(4);
    let req = tu::submit_sealed(&mut s, 100, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    tu::reveal_secret(&mut s, req, out(b"not the secret"));
    abort
}

#[test, expected_failure(abort_code = request::EInvalidSecret)]
fun secret_of_the_wrong_length_is_rejected() {
    let mut s = tu::setup(4);
    let req = tu::submit_sealed(&mut s, 100, 1);
    tu::reveal_secret(&mut s, req, x"0102");
    abort
}

#[test, expected_failure(abort_code = hardware::EWrongNetwork)]
fun request_of_another_network_cannot_be_settled_there() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    s.next_tx(@0xB2);
    network::create_for_testing(params::default(), s.ctx());
    s.next_tx(@0xB2);
    {
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<AdminCap>();
        net.add_hardware_class(&cap, b"cpu-test".to_string(), b"device=cpu".to_string(), 10, 1, s.ctx());
        s.return_to_sender(cap);
        ts::return_shared(net);
    };
    s.next_tx(@0xB2);
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::select_nodes(&mut class, &mut r, &clock, s.ctx());
    abort
}

/// Adds a second class, "other", with a model "other-m"; returns the class object's id.
fun add_other_class(s: &mut Scenario): ID {
    s.next_tx(tu::admin());
    let mut net = s.take_shared<Network>();
    let cap = s.take_from_sender<AdminCap>();
    net.add_hardware_class(&cap, b"other".to_string(), b"device=cpu".to_string(), tu::min_collateral(), tu::task_lock(), s.ctx());
    s.return_to_sender(cap);
    ts::return_shared(net);
    s.next_tx(tu::admin());
    let id = ts::most_recent_id_shared<HardwareClass>().destroy_some();
    let mut net = s.take_shared<Network>();
    let mut class = s.take_shared_by_id<HardwareClass>(id);
    let cap = s.take_from_sender<AdminCap>();
    net.add_model(&cap, &mut class, b"other-m".to_string(), out(b"w"), tu::run_ms());
    s.return_to_sender(cap);
    ts::return_shared(class);
    ts::return_shared(net);
    id
}

#[test, expected_failure(abort_code = hardware::EWrongClass)]
fun a_request_submitted_with_another_class_object_than_its_models_is_rejected() {
    let mut s = tu::setup(2);
    let other = add_other_class(&mut s);
    s.next_tx(tu::requester());
    let net = s.take_shared<Network>();
    let mut class = s.take_shared_by_id<HardwareClass>(other);
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    let payment = coin::mint_for_testing<SUI>(tu::fee(), s.ctx());
    request::submit_sampling_for_testing(&net, &mut class, tu::model(), tu::input_digest(), tu::input(), option::none(), tu::timeout(), 1, payment, &random, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = hardware::EWrongClass)]
fun a_keeper_call_with_another_class_object_than_the_requests_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let other = add_other_class(&mut s);
    tu::advance(&mut s, tu::timeout());
    s.next_tx(tu::keeper());
    let mut class = s.take_shared_by_id<HardwareClass>(other);
    let mut r = s.take_shared_by_id<Request>(req);
    let (random, clock) = (s.take_shared<Random>(), s.take_shared<Clock>());
    request::expire_for_testing(&mut class, &mut r, &random, &clock, s.ctx());
    abort
}

#[test, expected_failure(abort_code = hardware::EWrongClass)]
fun a_reveal_with_a_cap_of_another_class_is_rejected() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 1);
    let m = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, m, out(b"A"));
    let owner = tu::owner_of(&mut s, m);
    s.next_tx(owner);
    let net_id = tu::inspect_network!(&mut s, |net| object::id(net));
    let cap = node::new_cap_for_testing(net_id, 7, s.ctx());
    let mut class = s.take_shared<HardwareClass>();
    let mut r = s.take_shared_by_id<Request>(req);
    let clock = s.take_shared<Clock>();
    request::reveal(&mut class, &mut r, &cap, out(b"A"), tu::salt(m), &clock, s.ctx());
    abort
}
