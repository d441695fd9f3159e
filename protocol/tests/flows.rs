//! Whole request flows for every mode, with exact balances.

mod common;

use atoma_protocol::ops::sealed_draw;
use atoma_protocol::{Event, FailReason, Mode, ObjectId, Params, ProtocolError, Role, Round, SlashReason, Status};
use common::*;

#[test]
fn sampling_agreement_finalizes_and_splits_the_fee() {
    let mut w = World::new(5);
    let req = w.submit(Mode::Sampling { n: 3 });
    let members = w.members(&req);
    assert_eq!(members.len(), 3);
    for n in &members {
        assert_eq!(w.state.node(n).unwrap().locked, TASK_LOCK);
    }
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert_eq!(f.output_digest, out("A"));
    assert!(f.verified);
    assert_eq!(f.reward_per_node, FEE / 3);
    for n in &members {
        assert_eq!(w.received[&w.owner(n)], u128::from(FEE / 3));
        assert_eq!(w.collateral(n), MIN_COLLATERAL);
    }
    assert_eq!(w.revenue(), 0);
    assert_eq!(w.req(&req).status, Status::Finalized);
    w.assert_all_unlocked();
}

#[test]
fn single_node_sampling_is_plain_unverified_inference() {
    let mut w = World::new(2);
    let req = w.submit(Mode::Sampling { n: 1 });
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert!(!f.verified);
    assert_eq!(f.reward_per_node, FEE);
}

#[test]
fn disagreement_is_decided_by_the_dispute_quorum_and_the_losers_pay_the_winners() {
    let mut w = World::new(12);
    let req = w.submit(Mode::Sampling { n: 3 });
    let main = w.members(&req);
    let cheater = main[2];
    let output = move |n: &ObjectId| if *n == cheater { out("B") } else { out("A") };
    w.play_round(&req, output);
    assert_eq!(w.req(&req).status, Status::Disputed);
    assert!(matches!(w.events_named("DisputeRaised")[0], Event::DisputeRaised(d) if d.quorum_size == 7));
    w.open_dispute(&req).unwrap();
    assert_eq!(w.req(&req).status, Status::Selecting);
    w.select_nodes(&req).unwrap();
    let disputers = w.members(&req);
    assert_eq!(disputers.len(), 7);
    assert_eq!(w.req(&req).round, Round::Dispute);
    assert!(disputers.iter().all(|d| !main.contains(d)));
    // Two disputers side with the cheater, five with the majority.
    let wrong: Vec<ObjectId> = disputers[..2].to_vec();
    w.play_round(&req, |n| if wrong.contains(n) { out("B") } else { out("A") });

    let f = finalized(&w, &req);
    assert_eq!(f.output_digest, out("A"));
    assert_eq!(f.nodes.len(), 7);
    let s = slashes(&w, &req);
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|(_, reason, amount)| *reason == SlashReason::WrongOutput && *amount == TASK_LOCK));
    // 3 x 1,000 slashed: 10 % (300) to the treasury, 2,700 to the pool;
    // fee + pool = 9,002,700 split among 7 winners = 1,286,100 each, no remainder.
    assert_eq!(w.revenue(), 300);
    assert_eq!(f.reward_per_node, 1_286_100);
    for n in main.iter().chain(disputers.iter()) {
        let expect_collateral =
            if *n == cheater || wrong.contains(n) { MIN_COLLATERAL - TASK_LOCK } else { MIN_COLLATERAL };
        assert_eq!(w.collateral(n), expect_collateral);
        let expect_reward = if expect_collateral == MIN_COLLATERAL { 1_286_100 } else { 0 };
        assert_eq!(w.received.get(&w.owner(n)).copied().unwrap_or(0), expect_reward);
    }
    w.assert_all_unlocked();
    // Slashed below the class minimum: no longer eligible until topped up.
    let class = &w.state.classes[&w.class];
    assert!(!class.active.contains(&cheater));
    let cap = w.cap(&cheater);
    let class = w.class;
    w.run(TASK_LOCK, |s| s.add_collateral(&class, &cap, TASK_LOCK)).unwrap();
    assert!(w.state.classes[&w.class].active.contains(&cheater));
}

#[test]
fn remainder_of_the_reward_split_goes_to_the_class_revenue() {
    let mut w = World::new(4);
    let req = w.try_submit(Mode::Sampling { n: 3 }, 3_000_001, w.args(b"x")).unwrap();
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).reward_per_node, 1_000_000);
    assert_eq!(w.revenue(), 1);
}

/// A Sampling request of two nodes that disagree (A, B), taken to the
/// selection of its dispute quorum.
fn disputed_pair(w: &mut World) -> ObjectId {
    let req = w.submit(Mode::Sampling { n: 2 });
    let first = w.members(&req)[0];
    w.play_round(&req, move |n| if *n == first { out("A") } else { out("B") });
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    req
}

#[test]
fn dispute_without_a_majority_fails_and_slashes_nobody_for_output() {
    let mut w = World::new(7);
    let req = disputed_pair(&mut w);
    let disputers = w.members(&req);
    assert_eq!(disputers.len(), 5); // 2 * 2 + 1
    let d = disputers.clone();
    // A, B, C, D, D: no output reaches 3 of 5.
    w.play_round(&req, move |n| {
        if *n == d[0] {
            out("A")
        } else if *n == d[1] {
            out("B")
        } else if *n == d[2] {
            out("C")
        } else {
            out("D")
        }
    });
    let f = failed(&w, &req);
    assert_eq!(f.reason, FailReason::NoMajority);
    assert_eq!(f.refund, FEE);
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(w.received[&REQUESTER], u128::from(FEE));
    w.assert_all_unlocked();
}

#[test]
fn dispute_with_no_node_left_fails() {
    let mut w = World::new(2);
    let req = disputed_pair(&mut w);
    assert_eq!(failed(&w, &req).reason, FailReason::NoDisputeQuorum);
    w.assert_all_unlocked();
}

#[test]
fn silent_node_is_slashed_for_timeout_and_replaced() {
    let mut w = World::new(4);
    let req = w.submit(Mode::Sampling { n: 2 });
    let main = w.members(&req);
    w.commit(&req, &main[0], &out("A")).unwrap();
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    let s = slashes(&w, &req);
    assert_eq!(s, vec![(main[1], SlashReason::Timeout, 100)]);
    assert_eq!(w.revenue(), 10);
    assert_eq!(w.req(&req).pool, 90);
    assert!(w.req(&req).refill_pending(), "the silent seat waits for its refill");
    assert_eq!(w.expire(&req), Err(ProtocolError::WrongPhase), "no call redraws a pending refill");
    w.select_nodes(&req).unwrap();
    let members = w.members(&req);
    assert_eq!(members.len(), 2);
    let replacement = *members.iter().find(|n| !main.contains(n)).unwrap();
    assert!(
        matches!(w.events_named("NodesSelected").last().unwrap(), Event::NodesSelected(e) if e.nodes == vec![replacement])
    );
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert_eq!(f.reward_per_node, (FEE + 90) / 2);
    assert_eq!(w.collateral(&main[1]), MIN_COLLATERAL - 100);
    assert_eq!(w.req(&req).retries, 1);
    w.assert_all_unlocked();
}

#[test]
fn request_fails_and_refunds_once_retries_are_used_up() {
    let mut w = World::new(8);
    let req = w.submit(Mode::Sampling { n: 2 });
    for _ in 0..Params::default().max_retries {
        w.now += TIMEOUT;
        w.expire_after_grace(&req);
        w.select_nodes(&req).unwrap();
    }
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    let f = failed(&w, &req);
    assert_eq!(f.reason, FailReason::Timeout);
    // Six silent nodes lost 100 each: the requester gets its fee back, never
    // the slashed stake, which goes to the treasury.
    assert_eq!(f.refund, FEE);
    assert_eq!(w.received[&REQUESTER], u128::from(FEE));
    assert_eq!(w.revenue(), 600);
    w.assert_all_unlocked();
}

#[test]
fn withheld_reveal_loses_the_whole_stake() {
    let mut w = World::new(3);
    let req = w.submit(Mode::Sampling { n: 2 });
    let main = w.members(&req);
    for n in &main {
        w.commit(&req, n, &out("A")).unwrap();
    }
    w.reveal(&req, &main[0], &out("A")).unwrap();
    w.now += Params::default().reveal_window_ms;
    w.expire_after_grace(&req);
    assert_eq!(slashes(&w, &req), vec![(main[1], SlashReason::Withheld, TASK_LOCK)]);
    let f = finalized(&w, &req);
    assert!(!f.verified);
    assert_eq!(f.nodes, vec![main[0]]);
    assert_eq!(f.reward_per_node, FEE + 900);
}

#[test]
fn nobody_revealing_fails_the_request() {
    let mut w = World::new(2);
    let req = w.submit(Mode::Sampling { n: 2 });
    for n in w.members(&req) {
        w.commit(&req, &n, &out("A")).unwrap();
    }
    w.now += Params::default().reveal_window_ms;
    w.expire_after_grace(&req);
    let f = failed(&w, &req);
    assert_eq!(f.reason, FailReason::NoReveals);
    assert_eq!(f.refund, FEE);
    assert_eq!(w.revenue(), 2 * TASK_LOCK);
}

/// A random value for `commit_primary` whose flip comes out as `checked` at `p_bps`.
fn random_with_flip(checked: bool, p_bps: u64) -> atoma_protocol::Digest {
    (0u64..)
        .map(|i| atoma_protocol::commitment::blake2b256(&i.to_le_bytes()))
        .find(|r| atoma_protocol::ops::flip(r, p_bps) == checked)
        .unwrap()
}

#[test]
fn cross_validation_unchecked_finalizes_with_the_primary_alone() {
    let mut w = World::new(3);
    let req = w.submit(Mode::CrossValidation { p_bps: 5_000, n: 2 });
    let primary = w.members(&req)[0];
    w.commit_primary(&req, &primary, &out("A"), random_with_flip(false, 5_000)).unwrap();
    assert_eq!(w.req(&req).checked, Some(false));
    assert_eq!(w.req(&req).status, Status::Revealing);
    w.reveal(&req, &primary, &out("A")).unwrap();
    let f = finalized(&w, &req);
    assert!(!f.verified);
    assert_eq!(f.reward_per_node, FEE);
}

#[test]
fn cross_validation_checked_samples_verifiers_after_the_commit() {
    let mut w = World::new(5);
    let req = w.submit(Mode::CrossValidation { p_bps: 5_000, n: 2 });
    let primary = w.members(&req)[0];
    w.commit_primary(&req, &primary, &out("A"), random_with_flip(true, 5_000)).unwrap();
    assert_eq!(w.req(&req).status, Status::Selecting);
    w.select_nodes(&req).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(verifiers.len(), 2);
    assert!(!verifiers.contains(&primary));
    assert_eq!(w.req(&req).status, Status::Committing);
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert!(f.verified);
    assert_eq!(f.nodes.len(), 3);
    assert_eq!(f.reward_per_node, FEE / 3);
}

#[test]
fn cross_validation_catches_a_cheating_primary() {
    let mut w = World::new(10);
    let req = w.submit(Mode::CrossValidation { p_bps: 10_000, n: 1 });
    let primary = w.members(&req)[0];
    let random = w.seed();
    w.commit_primary(&req, &primary, &out("WRONG"), random).unwrap();
    w.select_nodes(&req).unwrap();
    w.play_round(&req, move |n| if *n == primary { out("WRONG") } else { out("A") });
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    assert_eq!(w.members(&req).len(), 5);
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).output_digest, out("A"));
    assert_eq!(slashes(&w, &req), vec![(primary, SlashReason::WrongOutput, TASK_LOCK)]);
}

#[test]
fn cross_validation_replaces_silent_verifiers_with_verifiers() {
    let mut w = World::new(6);
    let req = w.submit(Mode::CrossValidation { p_bps: 10_000, n: 2 });
    let primary = w.members(&req)[0];
    let random = w.seed();
    w.commit_primary(&req, &primary, &out("A"), random).unwrap();
    w.select_nodes(&req).unwrap();
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    w.select_nodes(&req).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(verifiers.len(), 2);
    w.play_round(&req, |_| out("A"));
    assert!(finalized(&w, &req).verified);
    assert_eq!(slashes(&w, &req).len(), 2);
}

/// Submits a Sealed request with `World::secret()` and a seed (searched
/// here, drawn on chain in reality) for which the draw comes out `checked`.
fn submit_sealed_with(w: &mut World, p_bps: u64, n: u64, checked: bool) -> (ObjectId, atoma_protocol::Digest) {
    let secret = World::secret();
    let eligible = w.state.classes[&w.class].active.len();
    let pool = (w.state.network.params.sealed_pool_factor * n).min(eligible - 1);
    let seed = (0u64..)
        .map(|i| atoma_protocol::commitment::blake2b256(&i.to_le_bytes()))
        .find(|seed| sealed_draw(seed, &secret, p_bps, n, pool).0 == checked)
        .unwrap();
    let args = w.args(b"hello");
    let req = w.submit_with_seed(Mode::Sealed { p_bps, n }, FEE, args, seed).unwrap();
    (req, secret)
}

#[test]
fn sealed_checked_verifiers_commit_after_the_primary_and_agree() {
    let mut w = World::new(10);
    let (req, secret) = submit_sealed_with(&mut w, 5_000, 2, true);
    let primary = w.members(&req)[0];
    let pool = w.req(&req).nodes_with_role(Role::Candidate);
    assert_eq!(pool.len(), 6);
    assert!(!pool.contains(&primary));
    // Only the primary holds a stake; candidates hold nothing until chosen.
    assert_eq!(w.state.node(&primary).unwrap().locked, TASK_LOCK);
    assert!(pool.iter().all(|c| w.state.node(c).unwrap().locked == 0 && w.state.node(c).unwrap().open_tasks == 0));
    // Candidates cannot commit before the primary.
    assert_eq!(w.commit(&req, &pool[0], &out("A")), Err(atoma_protocol::ProtocolError::PrimaryNotCommitted));
    w.commit(&req, &primary, &out("A")).unwrap();
    assert_eq!(w.req(&req).status, Status::Verifying);
    // The chosen verifiers (told privately by the requester) commit.
    let r = w.req(&req);
    let (checked, chosen) = sealed_draw(&r.seed, &secret, 5_000, 2, pool.len() as u64);
    assert!(checked);
    let verifiers: Vec<ObjectId> = chosen.iter().map(|&i| pool[i as usize]).collect();
    for v in &verifiers {
        w.commit(&req, v, &out("A")).unwrap();
    }
    w.reveal_secret(&req, &secret).unwrap();
    assert_eq!(w.req(&req).status, Status::Revealing);
    assert!(verifiers.iter().all(|v| w.state.node(v).unwrap().locked == TASK_LOCK));
    for n in [primary, verifiers[0], verifiers[1]] {
        w.reveal(&req, &n, &out("A")).unwrap();
    }
    let f = finalized(&w, &req);
    assert!(f.verified);
    assert_eq!(f.nodes.len(), 3);
    w.assert_all_unlocked();
}

#[test]
fn sealed_verifiers_get_a_full_commit_timeout_after_the_secret() {
    let mut w = World::new(12);
    let (req, secret) = submit_sealed_with(&mut w, 10_000, 2, true);
    let primary = w.members(&req)[0];
    w.commit(&req, &primary, &out("A")).unwrap();
    // Revealed at the last moment of the window, told to nobody privately.
    w.now = w.req(&req).deadline_ms - 1;
    w.reveal_secret(&req, &secret).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(verifiers.len(), 2);
    assert_eq!(w.req(&req).status, Status::Committing);
    assert_eq!(w.req(&req).deadline_ms, w.now + TIMEOUT);
    assert!(matches!(w.events_named("NodesSelected").last().unwrap(),
        Event::NodesSelected(e) if e.role == Role::Verifier && e.nodes == verifiers));
    // The window is long gone; the verifiers still have their whole timeout.
    w.now += TIMEOUT - 1;
    w.commit(&req, &verifiers[0], &out("A")).unwrap();
    w.now += 1;
    w.expire_after_grace(&req);
    assert_eq!(slashes(&w, &req), vec![(verifiers[1], SlashReason::Timeout, 100)]);
    // The silent verifier is replaced by a fresh verifier of the class.
    w.select_nodes(&req).unwrap();
    let now_verifying = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(now_verifying.len(), 2);
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).nodes.len(), 3);
    w.assert_all_unlocked();
}

#[test]
fn sealed_secret_after_the_window_is_refused_and_nobody_is_slashed() {
    let mut w = World::new(10);
    let (req, secret) = submit_sealed_with(&mut w, 10_000, 1, true);
    let primary = w.members(&req)[0];
    w.commit(&req, &primary, &out("A")).unwrap();
    w.now += Params::default().reveal_window_ms;
    assert_eq!(w.reveal_secret(&req, &secret), Err(atoma_protocol::ProtocolError::DeadlinePassed));
    w.expire_after_grace(&req);
    assert_eq!(w.reveal_secret(&req, &secret), Err(atoma_protocol::ProtocolError::WrongPhase));
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(w.members(&req), vec![primary]);
    w.reveal(&req, &primary, &out("A")).unwrap();
    assert!(!finalized(&w, &req).verified);
    w.assert_all_unlocked();
}

#[test]
fn sealed_chosen_candidate_that_left_is_dropped_unslashed_and_its_seat_refilled() {
    let mut w = World::new(10);
    let (req, secret) = submit_sealed_with(&mut w, 10_000, 2, true);
    let primary = w.members(&req)[0];
    w.commit(&req, &primary, &out("A")).unwrap();
    let pool = w.req(&req).nodes_with_role(Role::Candidate);
    let (_, chosen) = sealed_draw(&w.req(&req).seed, &secret, 10_000, 2, pool.len() as u64);
    let leaver = pool[chosen[0] as usize];
    let (cap, ctx) = (w.cap(&leaver), w.ctx(w.owner(&leaver)));
    let class = w.class;
    w.run(0, |s| s.request_leave(&ctx, &class, &cap)).unwrap();
    w.reveal_secret(&req, &secret).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(verifiers, vec![pool[chosen[1] as usize]]);
    // The leaver's seat is refilled from the class's on-call nodes.
    assert!(w.req(&req).refill_pending());
    w.select_nodes(&req).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(verifiers.len(), 2);
    assert!(!verifiers.contains(&leaver));
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).nodes.len(), 3);
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(w.collateral(&leaver), MIN_COLLATERAL);
    w.assert_all_unlocked();
}

#[test]
fn sealed_unchecked_releases_the_pool() {
    let mut w = World::new(10);
    let (req, secret) = submit_sealed_with(&mut w, 5_000, 2, false);
    let primary = w.members(&req)[0];
    w.commit(&req, &primary, &out("A")).unwrap();
    w.reveal_secret(&req, &secret).unwrap();
    assert_eq!(w.req(&req).status, Status::Revealing);
    assert!(w.req(&req).nodes_with_role(Role::Candidate).is_empty());
    w.reveal(&req, &primary, &out("A")).unwrap();
    let f = finalized(&w, &req);
    assert!(!f.verified);
    assert_eq!(f.reward_per_node, FEE);
    w.assert_all_unlocked();
}

#[test]
fn sealed_without_the_secret_finalizes_the_primary_unverified() {
    let mut w = World::new(10);
    let req = w.submit(Mode::Sealed { p_bps: 10_000, n: 2 });
    let primary = w.members(&req)[0];
    w.commit(&req, &primary, &out("A")).unwrap();
    let pool = w.req(&req).nodes_with_role(Role::Candidate);
    w.commit(&req, &pool[0], &out("A")).unwrap(); // a candidate that guessed it was chosen
    w.now += Params::default().reveal_window_ms;
    w.expire_after_grace(&req);
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(w.req(&req).status, Status::Revealing);
    assert_eq!(w.members(&req), vec![primary]);
    w.reveal(&req, &primary, &out("A")).unwrap();
    assert!(!finalized(&w, &req).verified);
    w.assert_all_unlocked();
}

#[test]
fn sealed_silent_primary_is_replaced_and_the_pool_stays() {
    let mut w = World::new(10);
    let req = w.submit(Mode::Sealed { p_bps: 10_000, n: 1 });
    let primary = w.members(&req)[0];
    let pool = w.req(&req).nodes_with_role(Role::Candidate);
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    w.select_nodes(&req).unwrap();
    let new_primary = w.members(&req)[0];
    assert_ne!(new_primary, primary);
    assert!(!pool.contains(&new_primary));
    assert_eq!(w.req(&req).nodes_with_role(Role::Candidate), pool);
    w.commit(&req, &new_primary, &out("A")).unwrap();
    assert_eq!(w.req(&req).status, Status::Verifying);
}

#[test]
fn leaving_node_gets_no_new_tasks_and_withdraws_after_unbonding() {
    let mut w = World::new(3);
    let cap = w.caps[0];
    let ctx = w.ctx(owner_of(0));
    let class = w.class;
    w.run(0, |s| s.request_leave(&ctx, &class, &cap)).unwrap();
    assert!(!w.state.classes[&w.class].active.contains(&cap.id));
    let req = w.submit(Mode::Sampling { n: 2 });
    assert!(!w.members(&req).contains(&cap.id));
    w.now += Params::default().unbonding_delay_ms;
    let ctx = w.ctx(owner_of(0));
    w.run(0, |s| s.withdraw(&ctx, &class, cap)).unwrap();
    assert_eq!(w.received[&owner_of(0)], u128::from(MIN_COLLATERAL));
    assert!(w.state.node(&cap.id).is_err());
}

#[test]
fn class_revenue_is_swept_to_the_treasury_and_withdrawn_by_the_admin() {
    let mut w = World::new(4);
    let req = w.try_submit(Mode::Sampling { n: 3 }, 3_000_002, w.args(b"x")).unwrap();
    w.play_round(&req, |_| out("A"));
    // The remainder stays with the class until the admin sweeps it.
    assert_eq!((w.revenue(), w.state.network.treasury), (2, 0));
    let (cap, ctx, class) = (w.admin, w.ctx(REQUESTER), w.class);
    let swept = w.run(0, |s| s.sweep_revenue(&cap, &class)).unwrap();
    assert!(matches!(swept.events.as_slice(), [Event::RevenueSwept(e)] if e.amount == 2 && e.class_id == 0));
    assert_eq!((w.revenue(), w.state.network.treasury), (0, 2));
    w.run(0, |s| s.withdraw_treasury(&ctx, &cap, 2)).unwrap();
    assert_eq!(w.state.network.treasury, 0);
}

#[test]
fn a_node_is_never_assigned_twice_to_one_request() {
    let mut w = World::new(5);
    let req = w.submit(Mode::Sampling { n: 2 });
    for _ in 0..2 {
        w.now += TIMEOUT;
        w.expire_after_grace(&req);
        w.select_nodes(&req).unwrap();
    }
    let all = w.req(&req).all_nodes();
    let mut dedup = all.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(all.len(), dedup.len());
    // 5 nodes, 2 + 2 assigned; the third refill needs two fresh nodes and the
    // class has one left: the request fails rather than settle with fewer seats.
    assert_eq!(all.len(), 4);
    assert_eq!(failed(&w, &req).reason, FailReason::Timeout);
    w.assert_all_unlocked();
}

#[test]
fn an_upgrade_migrates_the_network_then_each_class_and_retires_the_old_package() {
    let mut w = World::new(3);
    let req = w.submit(Mode::Sampling { n: 2 });
    let members = w.members(&req);
    for n in &members {
        w.commit(&req, n, &out("A")).unwrap();
    }
    // The upgraded package (version 2) runs; the objects are still at 1.
    w.state.package_version = 2;
    assert_eq!(w.reveal(&req, &members[0], &out("A")), Err(ProtocolError::WrongVersion));
    let (cap, class) = (w.admin, w.class);
    // A class cannot move before the network.
    assert_eq!(w.run(0, |s| s.migrate_class(&cap, &class)).err(), Some(ProtocolError::WrongVersion));
    let out_net = w.run(0, |s| s.migrate(&cap)).unwrap();
    let out_class = w.run(0, |s| s.migrate_class(&cap, &class)).unwrap();
    assert!(
        matches!(out_net.events.as_slice(), [Event::Migrated(m)] if m.version == 2 && m.object_id == w.state.network.id)
    );
    assert!(matches!(out_class.events.as_slice(), [Event::Migrated(m)] if m.version == 2 && m.object_id == class));
    // The request in flight settles through the new package.
    for n in &members {
        w.reveal(&req, n, &out("A")).unwrap();
    }
    assert_eq!(w.req(&req).status, Status::Finalized);
    // The old package is refused from now on.
    w.state.package_version = 1;
    assert_eq!(w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(b"y")), Err(ProtocolError::WrongVersion));
    let node = w.caps[0];
    assert_eq!(w.run(0, |s| s.add_collateral(&class, &node, 5)).err(), Some(ProtocolError::WrongVersion));
}
