//! The protocol's edges: each test plays one attack on an honest node (or
//! one way to be paid without working) through the state machine and checks
//! that the rule of docs/protocol.md ("Threats and the rules that meet
//! them") defeats it, to the MIST. The world's checked driver
//! (`Driver::apply`) checks SUI conservation and that a refused operation
//! changes nothing.

mod common;

use atoma_protocol::commitment::blake2b256;
use atoma_protocol::events::DeadlineExtended;
use atoma_protocol::params::LATENCY_FLOOR_MS;
use atoma_protocol::{
    Digest, Event, FailReason, Mode, ObjectId, Params, ProtocolError, Role, Round, SlashReason, Status,
};
use common::*;

/// A Sampling request of `n` nodes where the last one reveals B and the others
/// A, taken to its dispute round with the quorum selected.
fn dispute(w: &mut World, n: u64) -> (ObjectId, Vec<ObjectId>) {
    let req = w.submit(Mode::Sampling { n });
    let main = w.members(&req);
    let cheater = *main.last().unwrap();
    w.play_round(&req, move |m| if *m == cheater { out("B") } else { out("A") });
    assert_eq!(w.req(&req).status, Status::Disputed);
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    (req, main)
}

// === 1. The dispute quorum's size is fixed when the dispute is raised ===

#[test]
fn silent_disputers_are_replaced_seat_for_seat_and_the_quorum_keeps_its_size() {
    // Sampling n = 2 (A, B): Q = 5. Two disputers are silent; the class has
    // two fresh nodes left to replace them.
    let mut w = World::new(2 + 5 + 2);
    let (req, _) = dispute(&mut w, 2);
    assert_eq!(w.req(&req).dispute_size, 5);
    let disputers = w.members(&req);
    assert_eq!(disputers.len(), 5);
    for d in &disputers[2..] {
        w.commit(&req, d, &out("A")).unwrap();
    }
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    let selection = w.req(&req).selection;
    assert_eq!((selection.role, selection.count), (Role::Disputer, 2), "one replacement per silent seat");
    w.select_nodes(&req).unwrap();
    assert_eq!(w.req(&req).dispute_size, 5);
    assert_eq!(w.members(&req).len(), 5);
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert_eq!(f.output_digest, out("A"));
    // The main round's A node and five disputers; B and the two silent disputers lost stake.
    assert_eq!(f.nodes.len(), 6);
}

#[test]
fn one_reveal_cannot_decide_a_dispute_whose_silent_seats_stay_empty() {
    // Sampling n = 5 (four A, one B): Q = 11. The class holds exactly the 16
    // nodes, so silent disputers cannot be replaced. Nine are silent; the two
    // that reveal are one colluder (B) and one honest node (A).
    let mut w = World::new(5 + 11);
    let (req, main) = dispute(&mut w, 5);
    assert_eq!(w.req(&req).dispute_size, 11);
    let disputers = w.members(&req);
    let colluder = disputers[0];
    w.commit(&req, &colluder, &out("B")).unwrap();
    w.commit(&req, &disputers[1], &out("A")).unwrap();
    w.now += TIMEOUT;
    w.expire_after_grace(&req);
    // No fresh node is left to refill the nine silent seats: no round of
    // fewer than 11 decides, the request fails.
    assert_eq!(w.req(&req).dispute_size, 11, "the quorum never shrinks");
    assert_eq!(w.req(&req).selection.count, 9);
    w.select_nodes(&req).unwrap();
    assert_eq!(failed(&w, &req).reason, FailReason::NoDisputeQuorum);
    let wrong_output: Vec<_> = slashes(&w, &req).into_iter().filter(|s| s.1 == SlashReason::WrongOutput).collect();
    assert!(wrong_output.is_empty(), "nobody is slashed for the output without a full quorum");
    for honest in &main[..4] {
        assert_eq!(w.collateral(honest), MIN_COLLATERAL);
    }
    w.assert_all_unlocked();
}

// === 2. Unobtainable inputs: abstain, the seat is refilled; a request that
// fails for want of its input pays the minimum fee, never slashed stake ===

#[test]
fn a_node_that_cannot_fetch_the_input_abstains_unslashed_and_unpaid() {
    let mut w = World::new(4);
    let req = w.try_submit(Mode::Sampling { n: 3 }, FEE, w.uri_args(b"x")).unwrap();
    let members = w.members(&req);
    let out_of_reach = members[0];
    let e = w.abstain(&req, &out_of_reach).unwrap();
    assert!(matches!(e.events.as_slice(), [Event::Abstained(a)] if a.node_id == out_of_reach));
    assert_eq!(w.state.node(&out_of_reach).unwrap().locked, 0);
    assert_eq!(w.members(&req).len(), 2);
    w.select_nodes(&req).unwrap();
    w.play_round(&req, |_| out("A"));
    let f = finalized(&w, &req);
    assert_eq!((f.nodes.len(), f.reward_per_node), (3, FEE / 3));
    assert_eq!(w.received.get(&w.owner(&out_of_reach)), None);
    assert_eq!(w.collateral(&out_of_reach), MIN_COLLATERAL);
    assert!(slashes(&w, &req).is_empty());
    w.assert_all_unlocked();
}

#[test]
fn a_request_whose_input_no_node_can_obtain_pays_its_minimum_fee() {
    // Six nodes, Sampling n = 5: every member abstains; the refill needs five
    // fresh nodes and the class has one.
    let mut w = World::new(6);
    let req = w.try_submit(Mode::Sampling { n: 5 }, FEE, w.uri_args(b"x")).unwrap();
    for node in w.members(&req) {
        w.abstain(&req, &node).unwrap();
    }
    assert_eq!(w.req(&req).selection.count, 5);
    w.select_nodes(&req).unwrap();
    let f = failed(&w, &req);
    let min_fee = Params::default().min_fee_for(Mode::Sampling { n: 5 });
    assert_eq!((f.reason, f.refund), (FailReason::InputUnavailable, FEE - min_fee));
    assert_eq!(w.received[&REQUESTER], u128::from(FEE - min_fee));
    assert_eq!(w.revenue(), min_fee, "the charge goes to the class's revenue, not to a node");
    assert!(slashes(&w, &req).is_empty());
    for cap in &w.caps {
        assert_eq!(w.collateral(&cap.id), MIN_COLLATERAL);
        assert_eq!(w.received.get(&w.owner(&cap.id)), None);
    }
    w.assert_all_unlocked();
}

#[test]
fn an_abstaining_primary_is_replaced_in_cross_validation_and_sealed_requests() {
    for mode in [Mode::CrossValidation { p_bps: 0, n: 1 }, Mode::Sealed { p_bps: 0, n: 1 }] {
        let mut w = World::new(6);
        let req = w.try_submit(mode, FEE, w.uri_args(b"x")).unwrap();
        let primary = w.members(&req)[0];
        w.abstain(&req, &primary).unwrap();
        w.select_nodes(&req).unwrap();
        let second = w.members(&req)[0];
        assert_ne!(second, primary, "{mode:?}");
        if matches!(mode, Mode::CrossValidation { .. }) {
            let random = w.seed();
            w.commit_primary(&req, &second, &out("A"), random).unwrap();
        } else {
            w.commit(&req, &second, &out("A")).unwrap();
            w.reveal_secret(&req, &World::secret()).unwrap();
        }
        w.reveal(&req, &second, &out("A")).unwrap();
        assert_eq!(finalized(&w, &req).nodes, vec![second], "{mode:?}");
        assert!(slashes(&w, &req).is_empty());
        w.assert_all_unlocked();
    }
}

#[test]
fn members_that_all_committed_wait_for_the_refill_of_the_last_seat() {
    let mut w = World::new(4);
    let req = w.try_submit(Mode::Sampling { n: 3 }, FEE, w.uri_args(b"x")).unwrap();
    let members = w.members(&req);
    w.commit(&req, &members[0], &out("A")).unwrap();
    w.commit(&req, &members[1], &out("A")).unwrap();
    w.abstain(&req, &members[2]).unwrap();
    assert_eq!(w.req(&req).status, Status::Committing, "two commitments do not decide a request of three");
    assert!(w.req(&req).refill_pending());
    w.select_nodes(&req).unwrap();
    let last = *w.members(&req).iter().find(|n| !members.contains(n)).unwrap();
    let e = w.commit(&req, &last, &out("A")).unwrap();
    assert!(matches!(e.events.last(), Some(Event::RevealPhaseStarted(_))));
}

// === 3. A Sealed secret is accepted only inside its window ===
// (flows.rs: sealed_secret_after_the_window_is_refused_and_nobody_is_slashed,
// sealed_verifiers_get_a_full_commit_timeout_after_the_secret)

// === 4. Parameters are copied at submission ===

#[test]
fn parameters_changed_in_flight_do_not_reach_the_request() {
    let mut w = World::new(6);
    let req = w.submit(Mode::Sampling { n: 2 });
    let main = w.members(&req);
    w.commit(&req, &main[0], &out("A")).unwrap();
    let harsh = Params {
        timeout_slash_bps: 10_000,
        protocol_share_bps: 10_000,
        max_retries: 0,
        reveal_window_ms: LATENCY_FLOOR_MS,
        grace_ms: LATENCY_FLOOR_MS,
        ..Params::default()
    };
    let cap = w.admin;
    w.run(0, |s| s.set_params(&cap, harsh)).unwrap();
    assert_eq!(w.req(&req).params, Params::default());
    w.now += TIMEOUT;
    w.expire(&req).unwrap();
    assert_eq!(w.req(&req).deadline_ms, w.now + Params::default().grace_ms);
    w.now += Params::default().grace_ms;
    w.expire(&req).unwrap();
    // The silent node loses 10 % (100), of which 10 % (10) goes to the treasury, and it is replaced.
    assert_eq!(slashes(&w, &req), vec![(main[1], SlashReason::Timeout, 100)]);
    assert_eq!(w.revenue(), 10);
    assert!(w.req(&req).refill_pending());
    w.select_nodes(&req).unwrap();
    let members = w.members(&req);
    for n in &members {
        if w.req(&req).slots.iter().any(|s| s.node_id == *n && s.commitment.is_none()) {
            w.commit(&req, n, &out("A")).unwrap();
        }
    }
    assert_eq!(w.req(&req).deadline_ms, w.now + Params::default().reveal_window_ms);
    // A request submitted now uses the new parameters.
    let later = w.submit(Mode::Sampling { n: 1 });
    assert_eq!(w.req(&later).params, harsh);
}

// === 5. Lazy disputers are not paid ===

#[test]
fn a_lazy_disputer_that_votes_the_public_majority_digest_is_slashed_and_unpaid() {
    let mut w = World::new(12);
    let (req, main) = dispute(&mut w, 3);
    let disputers = w.members(&req);
    let lazy = disputers[0];
    // It saw A revealed twice in the main round, but without the output bytes
    // it can only guess the dispute key.
    let guess = blake2b256(b"a guessed key");
    w.commit_with_salt(&req, &lazy, &out("A"), &guess).unwrap();
    for d in &disputers[1..] {
        w.commit(&req, d, &out("A")).unwrap();
    }
    w.reveal_with_salt(&req, &lazy, &out("A"), &guess).unwrap();
    for d in &disputers[1..] {
        w.reveal(&req, d, &out("A")).unwrap();
    }
    let f = finalized(&w, &req);
    assert_eq!(f.output_digest, out("A"));
    assert!(!f.nodes.contains(&lazy));
    let s = slashes(&w, &req);
    assert!(s.contains(&(lazy, SlashReason::WrongOutput, TASK_LOCK)));
    assert!(s.contains(&(main[2], SlashReason::WrongOutput, TASK_LOCK)));
    assert_eq!(w.received.get(&w.owner(&lazy)), None);
    // The two honest main-round nodes and six honest disputers share fee and pool.
    assert_eq!(f.nodes.len(), 8);
}

// === 6. A dispute the class cannot fill fails without slashing anyone ===

#[test]
fn a_dispute_the_class_cannot_fill_fails_without_slashing_anyone() {
    // A class of 7 and Sampling n = 3: a full quorum needs 7 fresh nodes, and 4 are left.
    // Two colluders reveal B, one honest node reveals A.
    let mut w = World::new(7);
    let req = w.submit(Mode::Sampling { n: 3 });
    let main = w.members(&req);
    let honest = main[0];
    w.play_round(&req, move |n| if *n == honest { out("A") } else { out("B") });
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    let f = failed(&w, &req);
    assert_eq!((f.reason, f.refund), (FailReason::NoDisputeQuorum, FEE));
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(w.collateral(&honest), MIN_COLLATERAL);
    assert_eq!(
        atoma_protocol::security::min_class_size(Mode::Sampling { n: 3 }, 3),
        10,
        "the smallest class for Sampling n = 3"
    );
    w.assert_all_unlocked();
}

#[test]
fn a_class_of_the_smallest_size_decides_the_dispute() {
    let mut w = World::new(10);
    let req = w.submit(Mode::Sampling { n: 3 });
    let main = w.members(&req);
    let cheater = main[0];
    w.play_round(&req, move |n| if *n == cheater { out("B") } else { out("A") });
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    assert_eq!(w.members(&req).len(), 7);
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).output_digest, out("A"));
    assert_eq!(slashes(&w, &req), vec![(cheater, SlashReason::WrongOutput, TASK_LOCK)]);
}

// === 7. What a request locks is what it pays for ===

#[test]
fn sealed_requests_at_the_minimum_fee_lock_only_their_primary() {
    // Four nodes, each able to hold 10 task locks (40 in all). Ten Sealed
    // requests at the minimum fee, each with a pool of three, used to lock
    // all 40; now they lock one node each.
    let mut w = World::new(4);
    let fee = Params::default().min_fee(1, 0, 1);
    let mut reqs = Vec::new();
    for i in 0..10u32 {
        let args = w.args(&i.to_le_bytes());
        reqs.push(w.try_submit(Mode::Sealed { p_bps: 0, n: 1 }, fee, args).unwrap());
    }
    assert!(reqs.iter().all(|r| w.req(r).nodes_with_role(Role::Candidate).len() == 3));
    let locked: u64 = w.state.nodes().map(|(_, n)| n.locked).sum();
    assert_eq!(locked, 10 * TASK_LOCK);
    // Other requesters are served.
    w.try_submit(Mode::Sampling { n: 4 }, FEE, w.args(b"y")).unwrap();
    // Filling the class takes as many paid executions as it has task locks.
    let mut paid: u32 = 10 + 4;
    while w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(&paid.to_le_bytes())).is_ok() {
        paid += 1;
    }
    assert_eq!(paid, 40);
    assert_eq!(w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(b"z")), Err(ProtocolError::NotEnoughNodes));
}

// === 10. A chain halt cannot eat the time nodes have to act ===

#[test]
fn after_a_halt_longer_than_the_timeout_late_commits_inside_the_grace_are_not_slashed() {
    let mut w = World::new(3);
    let req = w.submit(Mode::Sampling { n: 2 });
    let main = w.members(&req);
    // The chain halts for 25 s; its clock jumps past the commit deadline.
    w.now += 25_000;
    assert_eq!(w.commit(&req, &main[0], &out("A")), Err(ProtocolError::DeadlinePassed));
    let first = w.expire(&req).unwrap();
    let deadline_ms = w.now + Params::default().grace_ms;
    assert_eq!(first.events, vec![Event::DeadlineExtended(DeadlineExtended { request_id: req, deadline_ms })]);
    assert!(w.req(&req).extended);
    assert_eq!(w.expire(&req), Err(ProtocolError::DeadlineNotReached));
    w.commit(&req, &main[0], &out("A")).unwrap();
    w.commit(&req, &main[1], &out("A")).unwrap();
    assert!(!w.req(&req).extended, "a new phase has a fresh grace");
    // The same for the reveal phase.
    w.now += Params::default().reveal_window_ms + 25_000;
    w.expire(&req).unwrap();
    w.reveal(&req, &main[0], &out("A")).unwrap();
    w.reveal(&req, &main[1], &out("A")).unwrap();
    assert!(slashes(&w, &req).is_empty());
    assert_eq!(finalized(&w, &req).nodes.len(), 2);
}

#[test]
fn the_grace_ends_with_the_second_expire() {
    let mut w = World::new(3);
    let req = w.submit(Mode::Sampling { n: 2 });
    let main = w.members(&req);
    w.commit(&req, &main[0], &out("A")).unwrap();
    w.now += TIMEOUT;
    w.expire(&req).unwrap();
    w.now += Params::default().grace_ms;
    assert_eq!(w.commit(&req, &main[1], &out("A")), Err(ProtocolError::DeadlinePassed));
    w.expire(&req).unwrap();
    assert_eq!(slashes(&w, &req), vec![(main[1], SlashReason::Timeout, 100)]);
    assert_eq!(w.req(&req).round, Round::Main);
    let _ = Digest::default();
}
