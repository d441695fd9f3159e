//! The transitions every operation shares: locking and releasing stakes,
//! slashing, seats and their refills, opening the reveal phase, selecting
//! nodes, and settling a round.
//!
//! Seats (docs/protocol.md, "Seats"): a round's reveal phase opens only
//! when every seat is held by a member that committed. A seat left empty
//! (abstained, declined, silent, a dropped Sealed verifier) waits for a
//! refill, drawn from the seed the emptying call stored, at most
//! `max_retries` times; with none left, or too few fresh on-call nodes, the
//! request fails.
//!
//! Settlement (docs/protocol.md, "Settlement and money"):
//! - members that committed but did not reveal lose their whole stake (`Withheld`);
//! - no reveal at all: the request fails (`NoReveals`);
//! - main round, every reveal equal: finalized with that digest;
//! - main round, reveals differ: `Disputed`, with the dispute quorum's size
//!   `Q = 2m + 1` (m = main-round reveals) fixed there and then; its `Q`
//!   fresh on-call nodes are selected all at once or the request fails
//!   (`NoDisputeQuorum`); refills fill empty seats one for one;
//! - dispute round: the vote `(output_digest, dispute key)` revealed by more
//!   than `Q / 2` disputers wins; every main-round node that revealed another
//!   digest, and every disputer with another vote, loses its whole stake
//!   (`WrongOutput`); no majority: the request fails (`NoMajority`) and
//!   nobody is slashed for its output.
//!
//! Money: a slash moves the request's `protocol_share_bps` of the amount to
//! the class's revenue and the rest to the request's pool. On finalization
//! `fee + pool` is split equally among the nodes that revealed the final
//! digest (paid to their owners); the remainder of the division goes to the
//! class's revenue. On failure the fee is refunded to the requester, less
//! the minimum fee of its mode when it failed for want of its input, which
//! goes to the class's revenue with the pool.
//!
//! Every parameter is read from the request's copy (`Request::params`).
//! Arithmetic is checked and a missing node is an error, where Move aborts;
//! the operations run these inside `State::on_request`, which undoes
//! everything on an error.

use super::Outcome;
use crate::error::{Result, add, sub};
use crate::events::{DisputeRaised, NodeSlashed, NodesSelected, RequestFailed, RequestFinalized, RevealPhaseStarted};
use crate::params::bps_of;
use crate::request::{Request, Selection, Slot};
use crate::sampler;
use crate::state::{ActiveSet, HardwareClass};
use crate::types::{Digest, FailReason, ObjectId, Role, Round, SlashReason, Status};

/// Ends an active slot and unlocks its stake (a Sealed candidate holds none).
pub(super) fn release(class: &mut HardwareClass, slot: &mut Slot) -> Result<()> {
    if !slot.active {
        return Ok(());
    }
    slot.active = false;
    if slot.role == Role::Candidate {
        return Ok(());
    }
    class.unlock(&slot.node_id, slot.stake)
}

/// Slashes `amount` (at most the slot's stake and what the node holds) from
/// an active slot's node, unlocks its stake and ends the slot.
fn slash(
    class: &mut HardwareClass,
    req: &mut Request,
    i: usize,
    amount: u64,
    reason: SlashReason,
    out: &mut Outcome,
) -> Result<()> {
    let share_bps = req.params.protocol_share_bps;
    let (node_id, stake) = (req.slots[i].node_id, req.slots[i].stake);
    let node = class.node_mut(&node_id)?;
    let amount = amount.min(stake).min(node.collateral);
    node.collateral -= amount;
    node.slashed = add(node.slashed, 1)?;
    class.unlock(&node_id, stake)?;
    req.slots[i].active = false;
    let share = bps_of(amount, share_bps);
    class.deposit_revenue(share)?;
    req.pool = add(req.pool, amount - share)?;
    out.emit(NodeSlashed { request_id: req.id, node_id, reason, amount });
    Ok(())
}

/// Slashes the slots `indices` for missing a commit deadline (`timeout_slash_bps` of the stake).
pub(super) fn slash_timeouts(
    class: &mut HardwareClass,
    req: &mut Request,
    indices: &[usize],
    out: &mut Outcome,
) -> Result<()> {
    for &i in indices {
        let amount = bps_of(req.slots[i].stake, req.params.timeout_slash_bps);
        slash(class, req, i, amount, SlashReason::Timeout, out)?;
    }
    Ok(())
}

/// Opens the reveal phase if every seat of the round is held by a member
/// that committed. Returns whether it did.
pub(super) fn try_open_reveal(req: &mut Request, now_ms: u64, out: &mut Outcome) -> Result<bool> {
    let members = req.members();
    if req.empty_seats() > 0 || members.iter().any(|&i| req.slots[i].commitment.is_none()) {
        return Ok(false);
    }
    req.status = Status::Revealing;
    req.set_deadline(add(now_ms, req.params.reveal_window_ms)?);
    out.emit(RevealPhaseStarted { request_id: req.id, round: req.round, deadline_ms: req.deadline_ms });
    Ok(true)
}

/// Why a request whose seats cannot all be filled fails: `InputUnavailable`
/// once a member abstained (the requester then pays the minimum fee),
/// otherwise `NoDisputeQuorum` for the dispute quorum and `Timeout` for the
/// main round.
fn unfilled(req: &Request, dispute: bool) -> FailReason {
    if req.input_unavailable {
        FailReason::InputUnavailable
    } else if dispute {
        FailReason::NoDisputeQuorum
    } else {
        FailReason::Timeout
    }
}

/// After seats of the round were emptied: fails the request when no refill
/// is left, or else leaves a refill pending for `select_nodes`, drawn from
/// `seed` unless one is pending already (a stored draw is never replaced
/// before it is used).
pub(super) fn refill(
    class: &mut HardwareClass,
    req: &mut Request,
    role: Role,
    seed: Digest,
    out: &mut Outcome,
) -> Result<()> {
    let empty = req.empty_seats();
    if empty == 0 {
        return Ok(());
    }
    if req.retries >= req.params.max_retries {
        let reason = unfilled(req, req.round == Round::Dispute);
        return fail(class, req, reason, out);
    }
    if req.selection.count == 0 {
        req.selection = Selection { role, count: empty, seed };
    } else {
        req.selection.count = empty;
    }
    req.status = Status::Committing;
    Ok(())
}

/// Indices, in `list`, of the nodes that ever held a slot on `req` (they
/// are excluded from new selections).
fn excluded_indices(list: &ActiveSet, req: &Request) -> Vec<u64> {
    req.slots.iter().filter_map(|s| list.index_of(&s.node_id)).collect()
}

/// How many nodes of `list` never held a slot on `req`.
fn fresh(list: &ActiveSet, req: &Request) -> u64 {
    list.len() - excluded_indices(list, req).len() as u64
}

/// Samples up to `count` nodes of `list` that never held a slot on `req`,
/// from `seed`, without locking them.
pub(super) fn sample_fresh(list: &ActiveSet, req: &Request, seed: &Digest, count: u64) -> Vec<ObjectId> {
    let excluded = excluded_indices(list, req);
    let len = list.len();
    let k = count.min(len - excluded.len() as u64);
    // `k` never exceeds the nodes left after exclusions, so sampling succeeds.
    let indices = sampler::sample(seed, k, len, &excluded).unwrap_or_default();
    indices.iter().filter_map(|&i| list.get(i)).collect()
}

/// Which of a class's lists a selection draws from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Pool {
    /// The eligible nodes (free collateral for one more task): submissions.
    Eligible,
    /// The on-call nodes, whatever they hold locked: every later seat.
    OnCall,
}

/// Samples up to `count` fresh nodes of the request's class from `seed` in
/// `pool`, locks their stakes and adds them as slots with `role`. Returns
/// their ids.
pub(super) fn assign(
    class: &mut HardwareClass,
    req: &mut Request,
    seed: &Digest,
    count: u64,
    role: Role,
    pool: Pool,
) -> Result<Vec<ObjectId>> {
    let list = if pool == Pool::Eligible { &class.active } else { &class.on_call };
    let nodes = sample_fresh(list, req, seed, count);
    for node_id in &nodes {
        let stake = class.lock(node_id)?;
        req.slots.push(Slot::new(*node_id, role, stake));
    }
    Ok(nodes)
}

/// Performs the pending selection (`select_nodes`) from the class's
/// on-call nodes: the CrossValidation verifiers and the dispute quorum
/// (status `Selecting`), or a refill of empty seats (status `Committing`).
/// It takes every seat at once, or fails the request (nobody slashed for the
/// output) when the class holds too few fresh on-call nodes. The round's
/// commit deadline is then a full timeout from now.
pub(super) fn perform_selection(
    class: &mut HardwareClass,
    req: &mut Request,
    sel: Selection,
    now_ms: u64,
    out: &mut Outcome,
) -> Result<()> {
    let opening_dispute = sel.role == Role::Disputer && req.round == Round::Main;
    if fresh(&class.on_call, req) < sel.count {
        let reason = unfilled(req, sel.role == Role::Disputer);
        return fail(class, req, reason, out);
    }
    if opening_dispute {
        req.round = Round::Dispute;
    }
    if req.status == Status::Committing {
        req.retries = add(req.retries, 1)?;
    }
    let nodes = assign(class, req, &sel.seed, sel.count, sel.role, Pool::OnCall)?;
    req.selection.count = 0;
    req.set_deadline(add(now_ms, req.timeout_ms)?);
    req.status = Status::Committing;
    if !nodes.is_empty() {
        out.emit(NodesSelected { request_id: req.id, role: sel.role, nodes, deadline_ms: req.deadline_ms });
    }
    try_open_reveal(req, now_ms, out)?;
    Ok(())
}

/// Settles the current round once its reveal phase is over (all revealed, or
/// the deadline passed).
pub(super) fn settle_round(class: &mut HardwareClass, req: &mut Request, out: &mut Outcome) -> Result<()> {
    let members = req.members();
    for &i in &members {
        if req.slots[i].reveal.is_none() {
            let stake = req.slots[i].stake;
            slash(class, req, i, stake, SlashReason::Withheld, out)?;
        }
    }
    let reveals: Vec<Digest> = members.iter().filter_map(|&i| req.slots[i].reveal).collect();
    let Some(first) = reveals.first().copied() else {
        return fail(class, req, FailReason::NoReveals, out);
    };
    match req.round {
        Round::Main if reveals.iter().all(|d| *d == first) => finalize(class, req, first, out),
        Round::Main => {
            req.status = Status::Disputed;
            req.dispute_size = 2 * reveals.len() as u64 + 1;
            out.emit(DisputeRaised { request_id: req.id, quorum_size: req.dispute_size });
            Ok(())
        }
        Round::Dispute => {
            let votes: Vec<(Digest, Digest)> = members.iter().filter_map(|&i| req.slots[i].vote()).collect();
            match majority(&votes, req.dispute_size) {
                None => fail(class, req, FailReason::NoMajority, out),
                Some(winner) => {
                    for i in 0..req.slots.len() {
                        let s = &req.slots[i];
                        let wrong = match (s.role, s.reveal) {
                            (_, None) => false,
                            (Role::Disputer, Some(_)) => s.vote() != Some(winner),
                            (_, Some(d)) => d != winner.0,
                        };
                        if s.active && wrong {
                            let stake = s.stake;
                            slash(class, req, i, stake, SlashReason::WrongOutput, out)?;
                        }
                    }
                    finalize(class, req, winner.0, out)
                }
            }
        }
    }
}

/// The vote cast by more than `quorum_size / 2` members, if any.
fn majority(votes: &[(Digest, Digest)], quorum_size: u64) -> Option<(Digest, Digest)> {
    votes.iter().find(|v| 2 * votes.iter().filter(|w| w == v).count() as u64 > quorum_size).copied()
}

/// Finalizes with `digest`: pays `fee + pool` to the nodes that revealed it
/// and releases every slot.
fn finalize(class: &mut HardwareClass, req: &mut Request, digest: Digest, out: &mut Outcome) -> Result<()> {
    let winners: Vec<usize> =
        (0..req.slots.len()).filter(|&i| req.slots[i].active && req.slots[i].reveal == Some(digest)).collect();
    let total = add(req.fee, req.pool)?;
    req.fee = 0;
    req.pool = 0;
    // Settlement only runs with at least one reveal of `digest`.
    let per_node = total / winners.len().max(1) as u64;
    for &i in &winners {
        let node = class.node_mut(&req.slots[i].node_id)?;
        node.completed = add(node.completed, 1)?;
        out.pay(node.owner, per_node);
    }
    class.deposit_revenue(total - per_node * winners.len() as u64)?;
    let nodes = winners.iter().map(|&i| req.slots[i].node_id).collect();
    release_all(class, req)?;
    req.status = Status::Finalized;
    req.output_digest = Some(digest);
    out.emit(RequestFinalized {
        request_id: req.id,
        output_digest: digest,
        nodes,
        verified: winners.len() >= 2,
        reward_per_node: per_node,
    });
    Ok(())
}

/// Fails the request: refunds the fee to the requester (less the minimum
/// fee of its mode, for the class's revenue, when it failed for want of its
/// input), moves the pool (slashed stake) to the class's revenue and
/// releases every slot. A requester never receives slashed stake, so no
/// requester profits from a failure it provoked.
pub(super) fn fail(class: &mut HardwareClass, req: &mut Request, reason: FailReason, out: &mut Outcome) -> Result<()> {
    let fee = req.fee;
    let charge = if reason == FailReason::InputUnavailable { fee.min(req.params.min_fee_for(req.mode)) } else { 0 };
    req.fee = 0;
    class.deposit_revenue(charge)?;
    class.deposit_revenue(req.pool)?;
    req.pool = 0;
    let refund = sub(fee, charge)?;
    out.pay(req.requester, refund);
    release_all(class, req)?;
    req.status = Status::Failed;
    out.emit(RequestFailed { request_id: req.id, reason, refund });
    Ok(())
}

fn release_all(class: &mut HardwareClass, req: &mut Request) -> Result<()> {
    for slot in req.slots.iter_mut() {
        release(class, slot)?;
    }
    Ok(())
}
