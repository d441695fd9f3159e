//! The transitions every operation shares: locking and releasing stakes,
//! slashing, opening the reveal phase, selecting nodes, and settling a round.
//!
//! Settlement (docs/protocol.md, "Settlement and money"):
//! - members that committed but did not reveal lose their whole stake (`Withheld`);
//! - no reveal at all: the request fails (`NoReveals`);
//! - main round, every reveal equal: finalized with that digest;
//! - main round, reveals differ: `Disputed`, with the dispute quorum's size
//!   `Q = 2m + 1` (m = main-round reveals) fixed there and then; its `Q`
//!   fresh nodes are selected all at once or the request fails
//!   (`NoDisputeQuorum`); replacements fill silent seats one for one;
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
//! treasury. On failure the fee is refunded to the requester and the pool
//! goes to the class's revenue.
//!
//! Every parameter is read from the request's copy (`Request::params`).
//! Every function here is infallible: callers have checked their arguments.

use super::Outcome;
use crate::events::{DisputeRaised, NodeSlashed, NodesSelected, RequestFailed, RequestFinalized, RevealPhaseStarted};
use crate::params::bps_of;
use crate::request::{Request, Selection, Slot};
use crate::sampler;
use crate::state::HardwareClass;
use crate::types::{Digest, FailReason, ObjectId, Role, Round, SlashReason, Status};

/// Locks one task's stake on `node_id` and returns the stake.
pub(super) fn lock(class: &mut HardwareClass, node_id: &ObjectId) -> u64 {
    let stake = class.task_lock;
    let Some(node) = class.nodes.get_mut(node_id) else { return 0 };
    node.locked += stake;
    node.open_tasks += 1;
    class.sync_node(node_id);
    stake
}

/// Ends an active slot and unlocks its stake (a Sealed candidate holds none).
pub(super) fn release(class: &mut HardwareClass, slot: &mut Slot) {
    if !slot.active {
        return;
    }
    slot.active = false;
    if slot.role == Role::Candidate {
        return;
    }
    if let Some(node) = class.nodes.get_mut(&slot.node_id) {
        node.locked -= slot.stake;
        node.open_tasks -= 1;
        class.sync_node(&slot.node_id);
    }
}

/// Slashes `amount` (at most the slot's stake) from an active slot's node,
/// unlocks the rest of its stake and ends the slot.
fn slash(class: &mut HardwareClass, req: &mut Request, i: usize, amount: u64, reason: SlashReason, out: &mut Outcome) {
    let share_bps = req.params.protocol_share_bps;
    let slot = &mut req.slots[i];
    let amount = amount.min(slot.stake);
    if let Some(node) = class.nodes.get_mut(&slot.node_id) {
        node.collateral -= amount;
        node.slashed += 1;
    }
    release(class, slot);
    let share = bps_of(amount, share_bps);
    class.revenue += share;
    req.pool += amount - share;
    out.emit(NodeSlashed { request_id: req.id, node_id: req.slots[i].node_id, reason, amount });
}

/// Slashes the slots `indices` for missing a commit deadline (`timeout_slash_bps` of the stake).
pub(super) fn slash_timeouts(class: &mut HardwareClass, req: &mut Request, indices: &[usize], out: &mut Outcome) {
    for &i in indices {
        let amount = bps_of(req.slots[i].stake, req.params.timeout_slash_bps);
        slash(class, req, i, amount, SlashReason::Timeout, out);
    }
}

/// Opens the reveal phase if the current round has members and all committed.
/// Returns whether it did.
pub(super) fn try_open_reveal(req: &mut Request, now_ms: u64, out: &mut Outcome) -> bool {
    let members = req.members();
    if members.is_empty() || members.iter().any(|&i| req.slots[i].commitment.is_none()) {
        return false;
    }
    req.status = Status::Revealing;
    req.set_deadline(now_ms.saturating_add(req.params.reveal_window_ms));
    out.emit(RevealPhaseStarted { request_id: req.id, round: req.round, deadline_ms: req.deadline_ms });
    true
}

/// After members changed (a selection, or drops without replacement): commit
/// phase if someone still has to commit, reveal phase if all did, failure if
/// nobody is left.
pub(super) fn advance(class: &mut HardwareClass, req: &mut Request, now_ms: u64, out: &mut Outcome) {
    if req.members().is_empty() {
        let reason = if req.round == Round::Dispute { FailReason::NoDisputeQuorum } else { FailReason::Timeout };
        fail(class, req, reason, out);
    } else if !try_open_reveal(req, now_ms, out) {
        req.status = Status::Committing;
    }
}

/// Indices, in the class's active list, of the nodes that ever held a slot
/// on `req` (they are excluded from new selections).
pub(super) fn excluded_indices(class: &HardwareClass, req: &Request) -> Vec<u64> {
    req.slots.iter().filter_map(|s| class.active.index_of(&s.node_id)).collect()
}

/// How many eligible nodes of the class never held a slot on `req`.
pub(super) fn available(class: &HardwareClass, req: &Request) -> u64 {
    class.active.len() - excluded_indices(class, req).len() as u64
}

/// Samples up to `count` eligible nodes of the request's class that never
/// held a slot on `req`, from `seed`, without locking them.
pub(super) fn sample_fresh(class: &HardwareClass, req: &Request, seed: &Digest, count: u64) -> Vec<ObjectId> {
    let excluded = excluded_indices(class, req);
    let len = class.active.len();
    let k = count.min(len - excluded.len() as u64);
    // `k` never exceeds the nodes left after exclusions, so sampling succeeds.
    let indices = sampler::sample(seed, k, len, &excluded).unwrap_or_default();
    indices.iter().filter_map(|&i| class.active.get(i)).collect()
}

/// Samples up to `count` fresh nodes of the request's class from `seed`,
/// locks their stakes and adds them as slots with `role`. Returns their ids.
pub(super) fn assign(
    class: &mut HardwareClass,
    req: &mut Request,
    seed: &Digest,
    count: u64,
    role: Role,
) -> Vec<ObjectId> {
    let nodes = sample_fresh(class, req, seed, count);
    for node_id in &nodes {
        let stake = lock(class, node_id);
        req.slots.push(Slot::new(*node_id, role, stake));
    }
    nodes
}

/// Performs a pending selection (`select_nodes`). Opening the dispute round
/// takes the quorum's `dispute_size` seats at once, or fails the request
/// without slashing anyone when the class cannot fill them; replacements
/// take what the class can give, one per silent seat.
pub(super) fn perform_selection(
    class: &mut HardwareClass,
    req: &mut Request,
    sel: Selection,
    now_ms: u64,
    out: &mut Outcome,
) {
    if sel.role == Role::Disputer && req.round == Round::Main {
        if available(class, req) < req.dispute_size {
            fail(class, req, FailReason::NoDisputeQuorum, out);
            return;
        }
        req.round = Round::Dispute;
    }
    let nodes = assign(class, req, &sel.seed, sel.count, sel.role);
    req.set_deadline(now_ms.saturating_add(req.timeout_ms));
    if !nodes.is_empty() {
        out.emit(NodesSelected { request_id: req.id, role: sel.role, nodes, deadline_ms: req.deadline_ms });
    }
    advance(class, req, now_ms, out);
}

/// Settles the current round once its reveal phase is over (all revealed, or
/// the deadline passed).
pub(super) fn settle_round(class: &mut HardwareClass, req: &mut Request, out: &mut Outcome) {
    let members = req.members();
    for &i in &members {
        if req.slots[i].reveal.is_none() {
            let stake = req.slots[i].stake;
            slash(class, req, i, stake, SlashReason::Withheld, out);
        }
    }
    let reveals: Vec<Digest> = members.iter().filter_map(|&i| req.slots[i].reveal).collect();
    let Some(first) = reveals.first().copied() else {
        fail(class, req, FailReason::NoReveals, out);
        return;
    };
    match req.round {
        Round::Main if reveals.iter().all(|d| *d == first) => finalize(class, req, first, out),
        Round::Main => {
            req.status = Status::Disputed;
            req.dispute_size = 2 * reveals.len() as u64 + 1;
            out.emit(DisputeRaised { request_id: req.id, quorum_size: req.dispute_size });
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
                            slash(class, req, i, stake, SlashReason::WrongOutput, out);
                        }
                    }
                    finalize(class, req, winner.0, out);
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
fn finalize(class: &mut HardwareClass, req: &mut Request, digest: Digest, out: &mut Outcome) {
    let winners: Vec<usize> =
        (0..req.slots.len()).filter(|&i| req.slots[i].active && req.slots[i].reveal == Some(digest)).collect();
    let total = req.fee + req.pool;
    // Settlement only runs with at least one reveal of `digest`.
    let per_node = total / winners.len().max(1) as u64;
    class.revenue += total - per_node * winners.len() as u64;
    req.fee = 0;
    req.pool = 0;
    for &i in &winners {
        if let Some(node) = class.nodes.get_mut(&req.slots[i].node_id) {
            node.completed += 1;
            out.pay(node.owner, per_node);
        }
    }
    let nodes = winners.iter().map(|&i| req.slots[i].node_id).collect();
    release_all(class, req);
    req.status = Status::Finalized;
    req.output_digest = Some(digest);
    out.emit(RequestFinalized {
        request_id: req.id,
        output_digest: digest,
        nodes,
        verified: winners.len() >= 2,
        reward_per_node: per_node,
    });
}

/// Fails the request: refunds the fee to the requester, moves the pool
/// (slashed stake) to the class's revenue and releases every slot. A requester never
/// receives slashed stake, so no requester profits from a failure it provoked.
pub(super) fn fail(class: &mut HardwareClass, req: &mut Request, reason: FailReason, out: &mut Outcome) {
    let refund = req.fee;
    class.revenue += req.pool;
    req.fee = 0;
    req.pool = 0;
    out.pay(req.requester, refund);
    release_all(class, req);
    req.status = Status::Failed;
    out.emit(RequestFailed { request_id: req.id, reason, refund });
}

fn release_all(class: &mut HardwareClass, req: &mut Request) {
    for slot in req.slots.iter_mut() {
        release(class, slot);
    }
}
