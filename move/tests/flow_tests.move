/// Whole request flows for every mode, with exact balances and SUI
/// conservation: every test ends with the SUI it started with, held as
/// collateral, treasury, request fee and pool, or paid out in coins.
#[test_only]
module atoma::flow_tests;

use atoma::request::Request;
use atoma::sampler;
use atoma::test_utils::{Self as tu, out};
use atoma::types;

fun start(nodes: u64): u64 { nodes * tu::min_collateral() + tu::fee() }

/// How many slots revealed the final output (2 or more: verified).
fun agreeing(r: &Request): u64 {
    let final_digest = r.output_digest();
    r.slots().count!(|slot| slot.slot_reveal() == final_digest)
}

fun paid(s: &mut sui::test_scenario::Scenario, node: ID): u64 {
    let owner = tu::owner_of(s, node);
    tu::coins_of(s, owner)
}

#[test]
fun sampling_agreement_finalizes_and_splits_the_fee() {
    let mut s = tu::setup(5);
    let req = tu::submit_sampling(&mut s, 3);
    let members = tu::members(&mut s, req);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    members.do_ref!(|n| {
        assert!(paid(&mut s, *n) == tu::fee() / 3);
        assert!(tu::collateral(&mut s, *n) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 5) == start(5));
    tu::assert_all_unlocked(&mut s, 5);
    s.end();
}

#[test]
fun disagreement_is_decided_by_the_dispute_quorum_and_the_losers_pay_the_winners() {
    let mut s = tu::setup(12);
    let req = tu::submit_sampling(&mut s, 3);
    let main = tu::members(&mut s, req);
    let cheater = main[2];
    main.do_ref!(|n| tu::commit(&mut s, req, *n, if (*n == cheater) out(b"B") else out(b"A")));
    main.do_ref!(|n| tu::reveal(&mut s, req, *n, if (*n == cheater) out(b"B") else out(b"A")));
    assert!(tu::inspect!(&mut s, req, |r| r.is_disputed()));
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    let disputers = tu::members(&mut s, req);
    assert!(disputers.length() == 7);
    assert!(disputers.all!(|d| !main.contains(d)));
    let wrong = vector[disputers[0], disputers[1]];
    disputers.do_ref!(|n| tu::commit(&mut s, req, *n, if (wrong.contains(n)) out(b"B") else out(b"A")));
    disputers.do_ref!(|n| tu::reveal(&mut s, req, *n, if (wrong.contains(n)) out(b"B") else out(b"A")));

    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    // 3 x 1,000 slashed: 300 to the treasury, 2,700 to the pool; fee + pool
    // = 9,002,700 split among the 7 winners: 1,286,100 each.
    assert!(tu::revenue(&mut s) == 300);
    main.do_ref!(|n| {
        let lost = *n == cheater;
        assert!(tu::collateral(&mut s, *n) == if (lost) 9_000 else 10_000);
        assert!(paid(&mut s, *n) == if (lost) 0 else 1_286_100);
    });
    disputers.do_ref!(|n| {
        let lost = wrong.contains(n);
        assert!(tu::collateral(&mut s, *n) == if (lost) 9_000 else 10_000);
        assert!(paid(&mut s, *n) == if (lost) 0 else 1_286_100);
    });
    assert!(tu::total_sui(&mut s, req, 12) == start(12));
    tu::assert_all_unlocked(&mut s, 12);
    // Below the class minimum: no longer eligible.
    assert!(!tu::inspect_class!(&mut s, |class| class.is_active(cheater)));
    s.end();
}

#[test]
fun dispute_without_a_majority_fails_and_slashes_nobody_for_output() {
    let mut s = tu::setup(7);
    let req = tu::submit_sampling(&mut s, 2);
    let main = tu::members(&mut s, req);
    tu::commit(&mut s, req, main[0], out(b"A"));
    tu::commit(&mut s, req, main[1], out(b"B"));
    tu::reveal(&mut s, req, main[0], out(b"A"));
    tu::reveal(&mut s, req, main[1], out(b"B"));
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    let d = tu::members(&mut s, req);
    assert!(d.length() == 5); // 2 * 2 + 1
    // A, B, C, D, D: no output reaches 3 of 5.
    let outputs = vector[out(b"A"), out(b"B"), out(b"C"), out(b"D"), out(b"D")];
    5u64.do!(|i| tu::commit(&mut s, req, d[i], outputs[i]));
    5u64.do!(|i| tu::reveal(&mut s, req, d[i], outputs[i]));
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee());
    7u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        assert!(tu::collateral(&mut s, id) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 7) == start(7));
    tu::assert_all_unlocked(&mut s, 7);
    s.end();
}

#[test]
fun dispute_with_no_node_left_fails() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 2);
    let main = tu::members(&mut s, req);
    tu::commit(&mut s, req, main[0], out(b"A"));
    tu::commit(&mut s, req, main[1], out(b"B"));
    tu::reveal(&mut s, req, main[0], out(b"A"));
    tu::reveal(&mut s, req, main[1], out(b"B"));
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    tu::assert_all_unlocked(&mut s, 2);
    s.end();
}

#[test]
fun silent_node_is_slashed_for_timeout_and_replaced() {
    let mut s = tu::setup(4);
    let req = tu::submit_sampling(&mut s, 2);
    let main = tu::members(&mut s, req);
    tu::commit(&mut s, req, main[0], out(b"A"));
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::collateral(&mut s, main[1]) == tu::min_collateral() - 100);
    assert!(tu::revenue(&mut s) == 10);
    tu::select_nodes(&mut s, req);
    let members = tu::members(&mut s, req);
    assert!(members.length() == 2 && members.contains(&main[0]) && !members.contains(&main[1]));
    tu::play_round(&mut s, req, out(b"A"));
    members.do_ref!(|n| assert!(paid(&mut s, *n) == (tu::fee() + 90) / 2));
    assert!(tu::total_sui(&mut s, req, 4) == start(4));
    tu::assert_all_unlocked(&mut s, 4);
    s.end();
}

#[test]
fun request_fails_and_refunds_once_retries_are_used_up() {
    let mut s = tu::setup(8);
    let req = tu::submit_sampling(&mut s, 2);
    2u64.do!(|_| {
        tu::advance(&mut s, tu::timeout());
        tu::expire_after_grace(&mut s, req);
        tu::select_nodes(&mut s, req);
    });
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    // Six silent nodes lost 100 each: the requester gets its fee back, never
    // the slashed stake, which goes to the treasury.
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee());
    assert!(tu::revenue(&mut s) == 600);
    assert!(tu::total_sui(&mut s, req, 8) == start(8));
    tu::assert_all_unlocked(&mut s, 8);
    s.end();
}

#[test]
fun withheld_reveal_loses_the_whole_stake() {
    let mut s = tu::setup(3);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    tu::commit(&mut s, req, m[0], out(b"A"));
    tu::commit(&mut s, req, m[1], out(b"A"));
    tu::reveal(&mut s, req, m[0], out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::collateral(&mut s, m[1]) == tu::min_collateral() - tu::task_lock());
    assert!(paid(&mut s, m[0]) == tu::fee() + 900);
    assert!(tu::inspect!(&mut s, req, |r| agreeing(r)) == 1);
    assert!(tu::total_sui(&mut s, req, 3) == start(3));
    s.end();
}

#[test]
fun nobody_revealing_fails_the_request() {
    let mut s = tu::setup(2);
    let req = tu::submit_sampling(&mut s, 2);
    let m = tu::members(&mut s, req);
    m.do_ref!(|n| tu::commit(&mut s, req, *n, out(b"A")));
    tu::advance(&mut s, tu::reveal_window());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::inspect!(&mut s, req, |r| r.is_failed()));
    assert!(tu::coins_of(&mut s, tu::requester()) == tu::fee());
    assert!(tu::revenue(&mut s) == 2_000);
    assert!(tu::total_sui(&mut s, req, 2) == start(2));
    s.end();
}

#[test]
fun cross_validation_unchecked_finalizes_with_the_primary_alone() {
    let mut s = tu::setup(3);
    let req = tu::submit_cross_validation(&mut s, 0, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.checked()) == option::some(false));
    tu::reveal(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 1));
    assert!(paid(&mut s, p) == tu::fee());
    assert!(tu::total_sui(&mut s, req, 3) == start(3));
    s.end();
}

#[test]
fun cross_validation_checked_samples_verifiers_after_the_commit() {
    let mut s = tu::setup(5);
    let req = tu::submit_cross_validation(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"A"));
    tu::select_nodes(&mut s, req);
    let verifiers = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(verifiers.length() == 2 && !verifiers.contains(&p));
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 3));
    assert!(paid(&mut s, p) == tu::fee() / 3);
    assert!(tu::total_sui(&mut s, req, 5) == start(5));
    tu::assert_all_unlocked(&mut s, 5);
    s.end();
}

#[test]
fun cross_validation_catches_a_cheating_primary() {
    let mut s = tu::setup(10);
    let req = tu::submit_cross_validation(&mut s, 10_000, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"WRONG"));
    tu::select_nodes(&mut s, req);
    let v = tu::nodes_with_role(&mut s, req, types::verifier())[0];
    tu::commit(&mut s, req, v, out(b"A"));
    tu::reveal(&mut s, req, p, out(b"WRONG"));
    tu::reveal(&mut s, req, v, out(b"A"));
    tu::open_dispute(&mut s, req);
    tu::select_nodes(&mut s, req);
    assert!(tu::members(&mut s, req).length() == 5);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    assert!(tu::collateral(&mut s, p) == tu::min_collateral() - tu::task_lock());
    assert!(paid(&mut s, p) == 0);
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun cross_validation_replaces_silent_verifiers_with_verifiers() {
    let mut s = tu::setup(6);
    let req = tu::submit_cross_validation(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit_primary(&mut s, req, p, out(b"A"));
    tu::select_nodes(&mut s, req);
    let first = tu::nodes_with_role(&mut s, req, types::verifier());
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    tu::select_nodes(&mut s, req);
    let second = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(second.length() == 2 && second.all!(|v| !first.contains(v)));
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 3));
    first.do_ref!(|v| assert!(tu::collateral(&mut s, *v) == tu::min_collateral() - 100));
    assert!(tu::total_sui(&mut s, req, 6) == start(6));
    s.end();
}

/// The pool positions the test secret chooses on `req`.
fun chosen_verifiers(s: &mut sui::test_scenario::Scenario, req: ID, p_bps: u64, n: u64): (bool, vector<ID>) {
    let pool = tu::nodes_with_role(s, req, types::candidate());
    let seed = tu::inspect!(s, req, |r| r.seed());
    let (checked, chosen) = sampler::sealed_draw(&seed, &tu::secret(), p_bps, n, pool.length());
    (checked, chosen.map!(|i| pool[i]))
}

#[test]
fun sealed_checked_verifiers_commit_after_the_primary_and_agree() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    let (checked, verifiers) = chosen_verifiers(&mut s, req, 10_000, 2);
    assert!(checked && verifiers.length() == 2);
    tu::commit(&mut s, req, p, out(b"A"));
    verifiers.do_ref!(|v| tu::commit(&mut s, req, *v, out(b"A")));
    tu::reveal_secret(&mut s, req, tu::secret());
    assert!(tu::inspect!(&mut s, req, |r| r.is_revealing()));
    tu::reveal(&mut s, req, p, out(b"A"));
    verifiers.do_ref!(|v| tu::reveal(&mut s, req, *v, out(b"A")));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 3));
    assert!(paid(&mut s, p) == tu::fee() / 3);
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun sealed_verifiers_get_a_full_commit_timeout_after_the_secret() {
    let mut s = tu::setup(12);
    let req = tu::submit_sealed(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    let (_, chosen) = chosen_verifiers(&mut s, req, 10_000, 2);
    // Candidates hold no stake until the secret chooses them.
    chosen.do_ref!(|c| assert!(tu::inspect_class!(&mut s, |class| class.node(*c).locked()) == 0));
    tu::commit(&mut s, req, p, out(b"A"));
    // Revealed at the last moment of the window, told to nobody privately.
    tu::advance(&mut s, tu::reveal_window() - 1);
    tu::reveal_secret(&mut s, req, tu::secret());
    let verifiers = tu::nodes_with_role(&mut s, req, types::verifier());
    assert!(verifiers.length() == 2 && verifiers.all!(|v| chosen.contains(v)));
    assert!(tu::inspect!(&mut s, req, |r| r.is_committing()));
    verifiers.do_ref!(|v| assert!(tu::inspect_class!(&mut s, |class| class.node(*v).locked()) == tu::task_lock()));
    tu::advance(&mut s, tu::timeout() - 1);
    tu::commit(&mut s, req, verifiers[0], out(b"A"));
    tu::advance(&mut s, 1);
    tu::expire_after_grace(&mut s, req);
    assert!(tu::collateral(&mut s, verifiers[1]) == tu::min_collateral() - 100);
    // The silent verifier is replaced by a fresh verifier of the class.
    tu::select_nodes(&mut s, req);
    assert!(tu::nodes_with_role(&mut s, req, types::verifier()).length() == 2);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 3));
    assert!(tu::total_sui(&mut s, req, 12) == start(12));
    tu::assert_all_unlocked(&mut s, 12);
    s.end();
}

#[test]
fun sealed_secret_after_the_window_is_refused_and_nobody_is_slashed() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 10_000, 1);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::members(&mut s, req) == vector[p]);
    tu::reveal(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 1));
    10u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        assert!(tu::collateral(&mut s, id) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun sealed_unchecked_releases_the_pool() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 0, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    tu::reveal_secret(&mut s, req, tu::secret());
    assert!(tu::nodes_with_role(&mut s, req, types::candidate()).is_empty());
    tu::reveal(&mut s, req, p, out(b"A"));
    assert!(paid(&mut s, p) == tu::fee());
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun sealed_without_the_secret_finalizes_the_primary_unverified() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 10_000, 2);
    let p = tu::members(&mut s, req)[0];
    tu::commit(&mut s, req, p, out(b"A"));
    let candidate = tu::nodes_with_role(&mut s, req, types::candidate())[0];
    tu::commit(&mut s, req, candidate, out(b"A"));
    tu::advance(&mut s, tu::reveal_window());
    tu::expire_after_grace(&mut s, req);
    assert!(tu::members(&mut s, req) == vector[p]);
    tu::reveal(&mut s, req, p, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized() && agreeing(r) == 1));
    10u64.do!(|i| {
        let id = tu::node_id(&mut s, i);
        assert!(tu::collateral(&mut s, id) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 10) == start(10));
    tu::assert_all_unlocked(&mut s, 10);
    s.end();
}

#[test]
fun sealed_silent_primary_is_replaced_and_the_pool_stays() {
    let mut s = tu::setup(10);
    let req = tu::submit_sealed(&mut s, 10_000, 1);
    let p = tu::members(&mut s, req)[0];
    let pool = tu::nodes_with_role(&mut s, req, types::candidate());
    tu::advance(&mut s, tu::timeout());
    tu::expire_after_grace(&mut s, req);
    tu::select_nodes(&mut s, req);
    let new_primary = tu::members(&mut s, req)[0];
    assert!(new_primary != p && !pool.contains(&new_primary));
    assert!(tu::nodes_with_role(&mut s, req, types::candidate()) == pool);
    tu::commit(&mut s, req, new_primary, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_verifying()));
    s.end();
}
