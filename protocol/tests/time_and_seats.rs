//! The rules that keep honest nodes safe in real time (docs/protocol.md,
//! "Time" and "Seats"), one test per class of attack; the Move tests of
//! `move/tests/time_and_seats_tests.move` have the same names. The world's
//! checked driver (`Driver::apply`) checks SUI conservation and that a
//! refused operation changes nothing.

mod common;

use atoma_protocol::params::{LATENCY_FLOOR_MS, MAX_DURATION_MS};
use atoma_protocol::{
    Event, FailReason, Mode, ObjectId, Params, ProtocolError, Role, Round, SlashReason, Status, SubmitArgs,
};
use common::*;

/// A Sampling request of `n` where the last member reveals B and the
/// others A, taken to its dispute round with the quorum selected.
fn dispute(w: &mut World, n: u64, uri: bool) -> (ObjectId, Vec<ObjectId>) {
    let args = if uri { w.uri_args(b"x") } else { w.args(b"x") };
    let req = w.try_submit(Mode::Sampling { n }, FEE, args).unwrap();
    let main = w.members(&req);
    let cheater = *main.last().unwrap();
    w.play_round(&req, move |m| if *m == cheater { out("B") } else { out("A") });
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    (req, main)
}

// === 1. Requester-chosen time: every commit timeout covers the run ===

#[test]
fn a_timeout_shorter_than_the_model_needs_is_refused() {
    let mut w = World::new(3);
    let p = Params::default();
    // The floor alone, the floor and one run, one millisecond short: refused.
    for timeout_ms in [p.min_timeout_ms, p.min_timeout_ms + RUN_MS, TIMEOUT - 1] {
        let args = SubmitArgs { timeout_ms, ..w.args(b"x") };
        assert_eq!(w.try_submit(Mode::Sampling { n: 1 }, FEE, args), Err(ProtocolError::InvalidTimeout));
    }
    w.try_submit(Mode::Sampling { n: 1 }, FEE, SubmitArgs { timeout_ms: TIMEOUT, ..w.args(b"x") }).unwrap();
    // A slower model in the class: a node may be finishing one of its runs
    // first, so every model's requests now need room for it.
    let (cap, class) = (w.admin, w.class);
    w.run(0, |s| s.add_model(&cap, &class, "slow", &[9; 32], 60_000)).unwrap();
    assert_eq!(w.state.classes[&class].longest_run_ms, 60_000);
    let args = SubmitArgs { timeout_ms: TIMEOUT, ..w.args(b"y") };
    assert_eq!(w.try_submit(Mode::Sampling { n: 1 }, FEE, args), Err(ProtocolError::InvalidTimeout));
    let enough = p.min_timeout_ms + RUN_MS + 60_000;
    w.try_submit(Mode::Sampling { n: 1 }, FEE, SubmitArgs { timeout_ms: enough, ..w.args(b"y") }).unwrap();
    let slow = SubmitArgs { model_id: "slow".into(), timeout_ms: enough, ..w.args(b"z") };
    assert_eq!(w.try_submit(Mode::Sampling { n: 1 }, FEE, slow.clone()), Err(ProtocolError::InvalidTimeout));
    let slow = SubmitArgs { timeout_ms: p.min_timeout_ms + 120_000, ..slow };
    w.try_submit(Mode::Sampling { n: 1 }, FEE, slow).unwrap();
}

#[test]
fn every_seat_filled_later_gets_a_full_timeout() {
    let mut w = World::new(12);
    // CrossValidation verifiers.
    let req = w.submit(Mode::CrossValidation { p_bps: 10_000, n: 2 });
    let primary = w.members(&req)[0];
    let random = w.seed();
    w.commit_primary(&req, &primary, &out("A"), random).unwrap();
    w.now += 3_000;
    w.select_nodes(&req).unwrap();
    assert_eq!(w.req(&req).deadline_ms, w.now + TIMEOUT);
    // A refill, late in the phase.
    let verifier = w.members(&req)[1];
    w.now += TIMEOUT - 1;
    w.decline(&req, &verifier).unwrap();
    w.select_nodes(&req).unwrap();
    assert_eq!(w.req(&req).deadline_ms, w.now + TIMEOUT);
    // The dispute quorum.
    let (req, _) = dispute(&mut w, 2, false);
    assert_eq!(w.req(&req).deadline_ms, w.now + TIMEOUT);
    assert_eq!(w.req(&req).timeout_ms, TIMEOUT);
}

// === 2. Admin-chosen time: floors, and an exit fixed when asked ===

#[test]
fn windows_below_the_latency_floor_are_refused() {
    let mut w = World::new(1);
    let cap = w.admin;
    let below = LATENCY_FLOOR_MS - 1;
    for params in [
        Params { reveal_window_ms: below, ..Params::default() },
        Params { grace_ms: below, ..Params::default() },
        Params { min_timeout_ms: below, ..Params::default() },
        Params { reveal_window_ms: 1, grace_ms: 1, min_timeout_ms: 1, ..Params::default() },
    ] {
        assert_eq!(w.run(0, |s| s.set_params(&cap, params)).err(), Some(ProtocolError::InvalidParams));
    }
    let floor = Params {
        reveal_window_ms: LATENCY_FLOOR_MS,
        grace_ms: LATENCY_FLOOR_MS,
        min_timeout_ms: LATENCY_FLOOR_MS,
        ..Params::default()
    };
    w.run(0, |s| s.set_params(&cap, floor)).unwrap();
}

#[test]
fn a_nodes_exit_is_fixed_when_it_asks_to_leave() {
    let mut w = World::new(2);
    let (node, class, admin) = (w.caps[0], w.class, w.admin);
    let ctx = w.ctx(owner_of(0));
    let out = w.run(0, |s| s.request_leave(&ctx, &class, &node)).unwrap();
    let promised = w.now + Params::default().unbonding_delay_ms;
    assert!(matches!(out.events.as_slice(), [Event::NodeLeaving(l)] if l.withdraw_after_ms == promised));
    // The admin raises the unbonding delay to its bound afterwards.
    let longest = Params { unbonding_delay_ms: MAX_DURATION_MS, ..Params::default() };
    w.run(0, |s| s.set_params(&admin, longest)).unwrap();
    w.now = promised - 1;
    let ctx = w.ctx(owner_of(0));
    assert_eq!(w.run(0, |s| s.withdraw(&ctx, &class, node)).err(), Some(ProtocolError::Unbonding));
    w.now = promised;
    let ctx = w.ctx(owner_of(0));
    let out = w.run(0, |s| s.withdraw(&ctx, &class, node)).unwrap();
    assert_eq!(out.payouts[0].amount, MIN_COLLATERAL);
}

// === 3. Selective input: abstention never changes who decides ===

#[test]
fn an_abstaining_member_is_replaced_and_the_request_needs_every_seat() {
    // The requester serves its input to one member only: the others abstain.
    let mut w = World::new(8);
    let req = w.try_submit(Mode::Sampling { n: 3 }, FEE, w.uri_args(b"x")).unwrap();
    let members = w.members(&req);
    w.commit(&req, &members[0], &out("B")).unwrap();
    w.abstain(&req, &members[1]).unwrap();
    w.abstain(&req, &members[2]).unwrap();
    assert_eq!(w.req(&req).status, Status::Committing, "one member does not decide a request of three");
    assert_eq!((w.req(&req).selection.role, w.req(&req).selection.count), (Role::Executor, 2));
    w.select_nodes(&req).unwrap();
    let refills: Vec<ObjectId> = w.members(&req).into_iter().filter(|n| !members.contains(n)).collect();
    assert_eq!(refills.len(), 2);
    for n in &refills {
        w.commit(&req, n, &out("A")).unwrap();
    }
    for n in w.members(&req) {
        let output = if n == members[0] { out("B") } else { out("A") };
        w.reveal(&req, &n, &output).unwrap();
    }
    // The lone member is out-voted: the request goes to a dispute.
    assert_eq!(w.req(&req).status, Status::Disputed);
    assert!(slashes(&w, &req).is_empty(), "abstainers are not slashed");
}

#[test]
fn a_checked_request_never_finalizes_without_its_verifiers() {
    let mut w = World::new(8);
    let req = w.try_submit(Mode::CrossValidation { p_bps: 10_000, n: 2 }, FEE, w.uri_args(b"x")).unwrap();
    let primary = w.members(&req)[0];
    let random = w.seed();
    w.commit_primary(&req, &primary, &out("B"), random).unwrap();
    w.select_nodes(&req).unwrap();
    let verifiers = w.req(&req).nodes_with_role(Role::Verifier);
    for v in &verifiers {
        w.abstain(&req, v).unwrap();
    }
    assert_eq!(w.req(&req).status, Status::Committing, "the primary alone does not decide a checked request");
    w.select_nodes(&req).unwrap();
    let seated = w.req(&req).nodes_with_role(Role::Verifier);
    assert_eq!(seated.len(), 2);
    assert!(seated.iter().all(|v| !verifiers.contains(v)));
    for v in &seated {
        w.commit(&req, v, &out("A")).unwrap();
    }
    w.reveal(&req, &primary, &out("B")).unwrap();
    for v in &seated {
        w.reveal(&req, v, &out("A")).unwrap();
    }
    assert_eq!(w.req(&req).status, Status::Disputed, "the wrong primary is caught");
}

// === 4. Free lock-ups: failing for want of input pays; locks cannot stop a dispute ===

#[test]
fn a_lock_up_pays_its_minimum_fee() {
    // A URI that never answers, with every refill used up.
    let mut w = World::with_params(10, Params { max_retries: 1, ..Params::default() });
    let req = w.try_submit(Mode::Sampling { n: 2 }, FEE, w.uri_args(b"x")).unwrap();
    while !w.req(&req).status.is_final() {
        for n in w.members(&req) {
            if !w.req(&req).status.is_final() {
                w.abstain(&req, &n).unwrap();
            }
        }
        if !w.req(&req).status.is_final() {
            w.select_nodes(&req).unwrap();
        }
    }
    let f = failed(&w, &req);
    let price = Params::default().min_fee_for(Mode::Sampling { n: 2 });
    assert_eq!((f.reason, f.refund), (FailReason::InputUnavailable, FEE - price));
    assert_eq!(w.revenue(), price);
    assert_eq!(w.req(&req).retries, 1);
    w.assert_all_unlocked();
}

#[test]
fn a_dispute_is_seated_whatever_the_class_holds_locked() {
    // Ten nodes; one disagreeing Sampling request of three.
    let mut w = World::new(10);
    let req = w.submit(Mode::Sampling { n: 3 });
    let main = w.members(&req);
    let cheater = main[2];
    w.play_round(&req, move |m| if *m == cheater { out("B") } else { out("A") });
    assert_eq!(w.req(&req).status, Status::Disputed);
    // Meanwhile requests lock every task lock the class has left.
    let mut k = 0u32;
    while w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(&k.to_le_bytes())).is_ok() {
        k += 1;
    }
    assert!(w.state.classes[&w.class].active.is_empty(), "no node can be admitted");
    // The quorum of seven is drawn from the on-call nodes all the same.
    w.open_dispute(&req).unwrap();
    w.select_nodes(&req).unwrap();
    assert_eq!(w.req(&req).round, Round::Dispute);
    let disputers = w.members(&req);
    assert_eq!(disputers.len(), 7);
    assert!(disputers.iter().any(|d| w.state.node(d).unwrap().locked > MIN_COLLATERAL), "drafted beyond collateral");
    w.play_round(&req, |_| out("A"));
    assert_eq!(finalized(&w, &req).output_digest, out("A"));
    assert_eq!(slashes(&w, &req), vec![(cheater, SlashReason::WrongOutput, TASK_LOCK)]);
}

// === 5. Output for free: starving the dispute of the input costs the minimum fee ===

#[test]
fn starving_the_dispute_of_the_input_costs_the_requester_its_minimum_fee() {
    let mut w = World::new(12);
    let (req, main) = dispute(&mut w, 2, true);
    // The requester holds a first output and serves no disputer.
    while !w.req(&req).status.is_final() {
        for d in w.members(&req) {
            if !w.req(&req).status.is_final() {
                w.abstain(&req, &d).unwrap();
            }
        }
        if !w.req(&req).status.is_final() {
            w.select_nodes(&req).unwrap();
        }
    }
    let f = failed(&w, &req);
    let price = Params::default().min_fee_for(Mode::Sampling { n: 2 });
    assert_eq!((f.reason, f.refund), (FailReason::InputUnavailable, FEE - price));
    assert!(slashes(&w, &req).is_empty(), "nobody is slashed for an output no quorum decided");
    for m in &main {
        assert_eq!(w.received.get(&w.owner(m)), None, "unverified work is not paid");
    }
    w.assert_all_unlocked();
}

// === 6. Retired code: every request-path call checks the version ===

#[test]
fn a_retired_package_cannot_commit_or_open_a_dispute() {
    let mut w = World::new(12);
    let sampling = w.submit(Mode::Sampling { n: 2 });
    let cv = w.submit(Mode::CrossValidation { p_bps: 10_000, n: 1 });
    let uri = w.try_submit(Mode::Sampling { n: 1 }, FEE, w.uri_args(b"u")).unwrap();
    let disputed = w.submit(Mode::Sampling { n: 2 });
    let cheater = w.members(&disputed)[1];
    w.play_round(&disputed, move |n| if *n == cheater { out("B") } else { out("A") });
    assert_eq!(w.req(&disputed).status, Status::Disputed);
    // An upgrade: the network and the class move to version 2.
    let (cap, class) = (w.admin, w.class);
    w.state.package_version = 2;
    w.run(0, |s| s.migrate(&cap)).unwrap();
    w.run(0, |s| s.migrate_class(&cap, &class)).unwrap();
    // The retired package keeps calling, and moves nothing.
    w.state.package_version = 1;
    let member = w.members(&sampling)[0];
    assert_eq!(w.commit(&sampling, &member, &out("A")), Err(ProtocolError::WrongVersion));
    let primary = w.members(&cv)[0];
    let random = w.seed();
    assert_eq!(w.commit_primary(&cv, &primary, &out("A"), random), Err(ProtocolError::WrongVersion));
    let node = w.members(&uri)[0];
    assert_eq!(w.abstain(&uri, &node), Err(ProtocolError::WrongVersion));
    assert_eq!(w.decline(&uri, &node), Err(ProtocolError::WrongVersion));
    assert_eq!(w.open_dispute(&disputed), Err(ProtocolError::WrongVersion));
    // The current package moves them on.
    w.state.package_version = 2;
    w.commit(&sampling, &member, &out("A")).unwrap();
    w.commit_primary(&cv, &primary, &out("A"), random).unwrap();
    w.open_dispute(&disputed).unwrap();
}

// === 7. A model is never held against a node that could not have it yet ===

#[test]
fn a_node_without_a_new_model_declines_unslashed() {
    let mut w = World::new(4);
    let (cap, class) = (w.admin, w.class);
    w.run(0, |s| s.add_model(&cap, &class, "new", &[5; 32], RUN_MS)).unwrap();
    let args = SubmitArgs { model_id: "new".into(), ..w.args(b"x") };
    let req = w.try_submit(Mode::Sampling { n: 2 }, FEE, args).unwrap();
    // No operator has installed it yet: every member declines, every refill too.
    while !w.req(&req).status.is_final() {
        for n in w.members(&req) {
            if !w.req(&req).status.is_final() {
                w.decline(&req, &n).unwrap();
            }
        }
        if !w.req(&req).status.is_final() {
            w.select_nodes(&req).unwrap();
        }
    }
    let f = failed(&w, &req);
    assert_eq!((f.reason, f.refund), (FailReason::Timeout, FEE), "a decline costs the requester nothing");
    assert!(slashes(&w, &req).is_empty());
    for c in &w.caps {
        assert_eq!(w.collateral(&c.id), MIN_COLLATERAL);
    }
    w.assert_all_unlocked();
}

// === 8. The twins fail alike ===

#[test]
fn overflowing_arithmetic_fails_alike_and_changes_nothing() {
    // A fee no coin on Sui can hold, and a slash that adds to it.
    let mut w = World::new(3);
    let req = w.try_submit(Mode::Sampling { n: 3 }, u64::MAX, w.args(b"x")).unwrap();
    let members = w.members(&req);
    for n in &members {
        w.commit(&req, n, &out("A")).unwrap();
    }
    w.reveal(&req, &members[0], &out("A")).unwrap();
    w.reveal(&req, &members[1], &out("A")).unwrap();
    w.now += Params::default().reveal_window_ms;
    w.expire(&req).unwrap();
    w.now += Params::default().grace_ms;
    // The world's checked driver checks that the refused call changed nothing.
    assert_eq!(w.expire(&req), Err(ProtocolError::ArithmeticError));
    assert_eq!(w.req(&req).status, Status::Revealing);
}

#[test]
fn a_slot_whose_node_is_gone_fails_alike_and_changes_nothing() {
    let mut w = World::new(3);
    let req = w.submit(Mode::Sampling { n: 2 });
    let members = w.members(&req);
    // A state no sequence of calls reaches: a member's node is missing.
    let class = w.class;
    w.state.classes.get_mut(&class).unwrap().nodes.remove(&members[1]);
    w.now += TIMEOUT;
    w.expire(&req).unwrap();
    w.now += Params::default().grace_ms;
    assert_eq!(w.expire(&req), Err(ProtocolError::UnknownNode));
    assert_eq!(w.req(&req).status, Status::Committing);
}
