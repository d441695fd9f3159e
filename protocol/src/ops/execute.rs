//! What executors and requesters do while a request runs (Move module
//! `request`): `commit`, `commit_primary`, `abstain`, `decline`, `reveal`
//! and `reveal_secret`. Each takes the request's class object and checks
//! that this package may use it (`WrongVersion`).
//!
//! Commit rules:
//! - in `Committing`, a member of the current round commits before the deadline;
//!   the CrossValidation primary must use `commit_primary`, which also draws
//!   the coin flip; a Sealed candidate must wait for the primary
//!   (`PrimaryNotCommitted`);
//! - the Sealed primary's commit moves the request to `Verifying` for one
//!   reveal window, in which pool candidates that were told they are chosen
//!   may commit early;
//! - when every seat of the round is held by a member that committed, the
//!   reveal phase opens.
//!
//! Abstain and decline: a member that has not committed leaves its seat,
//! unslashed and unpaid, because it cannot obtain a URI input (`abstain`; an
//! inline input is on chain) or cannot run the request in time (`decline`);
//! the seat is refilled (docs/protocol.md, "Seats").
//!
//! The Sealed secret is accepted only inside the verification window; the
//! chosen verifiers still on call are locked then and get a full commit
//! timeout; the seats of the others are refilled.
//!
//! Reveal rules: in `Revealing`, a member reveals `(output_digest, salt)`
//! that hashes to its commitment; the last reveal settles the round.

use super::settle::{refill, release, settle_round, try_open_reveal};
use super::{Ctx, Outcome, State};
use crate::commitment::{self, FLIP_TAG, REFILL_TAG, VERIFIERS_TAG, derive, sealed_draw_seed, secret_hash};
use crate::error::{ProtocolError, Result, add};
use crate::events::{Abstained, Committed, Declined, NodesSelected, Revealed, SecretRevealed, VerificationDrawn};
use crate::request::{Request, Selection};
use crate::sampler::{draw_below, sample};
use crate::state::{HardwareClass, NodeCap};
use crate::types::{BPS, Digest, Input, Mode, ObjectId, Role, Round, Status};

/// The CrossValidation/Sealed coin flip of `seed`: checked with probability `p_bps / 10_000`.
pub fn flip(seed: &Digest, p_bps: u64) -> bool {
    // BPS > 0, so drawing below it cannot fail.
    draw_below(&derive(seed, FLIP_TAG), BPS).is_ok_and(|x| x < p_bps)
}

/// A Sealed request's verification draw from `blake2b256(seed || secret)`:
/// whether the primary is checked, and which pool positions verify.
pub fn sealed_draw(request_seed: &Digest, secret: &Digest, p_bps: u64, n: u64, pool_len: u64) -> (bool, Vec<u64>) {
    let h = sealed_draw_seed(request_seed, secret);
    if !flip(&h, p_bps) {
        return (false, Vec::new());
    }
    // Submission guarantees pool_len >= n.
    (true, sample(&derive(&h, VERIFIERS_TAG), n.min(pool_len), pool_len, &[]).unwrap_or_default())
}

fn is_cv_primary(req: &Request, role: Role) -> bool {
    matches!(req.mode, Mode::CrossValidation { .. }) && req.round == Round::Main && role == Role::Executor
}

impl Request {
    /// The commit rules above for the node in slot `i` at `now_ms`: the
    /// phase, the slot's role and round, the deadline, one commitment. The
    /// caller's own checks (the digest, the network, the cap) are not made.
    pub fn commit_rule(&self, i: usize, now_ms: u64) -> Result<()> {
        let slot = &self.slots[i];
        match self.status {
            Status::Committing if slot.role == Role::Candidate => return Err(ProtocolError::PrimaryNotCommitted),
            Status::Committing if !self.round.includes(slot.role) => return Err(ProtocolError::NotSelected),
            Status::Committing => {}
            Status::Verifying if matches!(slot.role, Role::Candidate | Role::Verifier | Role::Executor) => {}
            Status::Verifying => return Err(ProtocolError::NotSelected),
            _ => return Err(ProtocolError::WrongPhase),
        }
        if now_ms >= self.deadline_ms {
            return Err(ProtocolError::DeadlinePassed);
        }
        if slot.commitment.is_some() {
            return Err(ProtocolError::AlreadyCommitted);
        }
        Ok(())
    }

    /// Whether the node in slot `i` may commit at `now_ms` (`commit_rule`).
    pub fn may_commit(&self, i: usize, now_ms: u64) -> bool {
        self.commit_rule(i, now_ms).is_ok()
    }
}

impl State {
    /// Checks a commit by `cap`'s node on `class`'s request and returns its
    /// slot index (`WrongVersion`, `WrongNetwork`, `WrongClass`,
    /// `InvalidDigest`, `NotSelected`, then the commit rule's errors).
    fn check_commit(
        &self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        commitment: &[u8],
    ) -> Result<usize> {
        let c = self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        c.check_member(&cap.network_id, cap.class_id)?;
        Digest::from_slice(commitment).ok_or(ProtocolError::InvalidDigest)?;
        let i = req.active_slot(&cap.node_id()).ok_or(ProtocolError::NotSelected)?;
        req.commit_rule(i, ctx.now_ms)?;
        Ok(i)
    }

    /// Commits `blake2b256(bcs(request_id, node_id, output_digest, salt))`.
    ///
    /// Errors: `UnknownClass`, `WrongNetwork`, `WrongVersion`, `UnknownRequest`,
    /// `WrongClass`, `InvalidDigest`, `NotSelected`, `PrimaryNotCommitted`,
    /// `WrongPhase`, `DeadlinePassed`, `AlreadyCommitted`,
    /// `PrimaryCommitRequired`, `ArithmeticError`.
    pub fn commit(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        commitment: &[u8],
    ) -> Result<Outcome> {
        let i = self.check_commit(ctx, class, request_id, cap, commitment)?;
        let req = self.request_checked(request_id)?;
        if req.status == Status::Committing && is_cv_primary(req, req.slots[i].role) {
            return Err(ProtocolError::PrimaryCommitRequired);
        }
        self.on_request(class, request_id, |_, req, out| {
            record_commit(req, i, commitment, out);
            let sealed_primary = matches!(req.mode, Mode::Sealed { .. }) && req.slots[i].role == Role::Executor;
            match req.status {
                Status::Committing if sealed_primary => {
                    // The Sealed primary committed: the verification window opens.
                    req.status = Status::Verifying;
                    req.set_deadline(add(ctx.now_ms, req.params.reveal_window_ms)?);
                }
                Status::Committing => {
                    try_open_reveal(req, ctx.now_ms, out)?;
                }
                // Verifying: a candidate told it is chosen commits early; the secret decides.
                _ => {}
            }
            Ok(())
        })
    }

    /// The CrossValidation primary's commit, which also draws the coin flip
    /// from `random`: checked with probability `p_bps / 10_000`, then `n`
    /// verifiers are selected by `select_nodes` from `derive(random, 1)`.
    ///
    /// Errors: those of `commit`, and `NotPrimary` for any other slot or mode.
    pub fn commit_primary(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        commitment: &[u8],
        random: Digest,
    ) -> Result<Outcome> {
        let i = self.check_commit(ctx, class, request_id, cap, commitment)?;
        let req = self.request_checked(request_id)?;
        if req.status != Status::Committing || !is_cv_primary(req, req.slots[i].role) {
            return Err(ProtocolError::NotPrimary);
        }
        self.on_request(class, request_id, |_, req, out| {
            record_commit(req, i, commitment, out);
            let checked = flip(&random, req.mode.p_bps());
            req.checked = Some(checked);
            out.emit(VerificationDrawn { request_id: req.id, checked });
            // The same fields are written either way; only the count differs (as in Move).
            let count = if checked { req.mode.n() } else { 0 };
            req.selection = Selection { role: Role::Verifier, count, seed: derive(&random, VERIFIERS_TAG) };
            if checked {
                req.status = Status::Selecting;
            } else {
                try_open_reveal(req, ctx.now_ms, out)?;
            }
            Ok(())
        })
    }

    /// Reveals the output digest and salt behind the node's commitment; the
    /// last reveal of the round settles it.
    ///
    /// Errors: `UnknownClass`, `WrongNetwork`, `WrongVersion` (the class's),
    /// `InvalidDigest`, `InvalidSalt`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass` (the request or the cap
    /// of another class), `WrongPhase`, `NotSelected`, `DeadlinePassed`,
    /// `AlreadyRevealed`, `CommitmentMismatch`, and a settlement's
    /// `UnknownNode`, `ArithmeticError`.
    #[allow(clippy::too_many_arguments)]
    pub fn reveal(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        output_digest: &[u8],
        salt: &[u8],
    ) -> Result<Outcome> {
        self.class_current(class)?;
        let output_digest = Digest::from_slice(output_digest).ok_or(ProtocolError::InvalidDigest)?;
        let salt = Digest::from_slice(salt).ok_or(ProtocolError::InvalidSalt)?;
        let req = self.request_in(class, request_id)?;
        self.class_checked(class)?.check_member(&cap.network_id, cap.class_id)?;
        if req.status != Status::Revealing {
            return Err(ProtocolError::WrongPhase);
        }
        let node_id = cap.node_id();
        let i = member_before_deadline(req, &node_id, ctx.now_ms)?;
        let slot = &req.slots[i];
        // Every member committed before the reveal phase opened.
        let committed = slot.commitment.unwrap_or_default();
        if slot.reveal.is_some() {
            return Err(ProtocolError::AlreadyRevealed);
        }
        if commitment::commitment(request_id, &node_id, &output_digest, &salt) != committed {
            return Err(ProtocolError::CommitmentMismatch);
        }
        self.on_request(class, request_id, |class, req, out| {
            req.slots[i].reveal = Some(output_digest);
            req.slots[i].salt = Some(salt);
            out.emit(Revealed { request_id: req.id, node_id, output_digest });
            if req.members().iter().all(|&m| req.slots[m].reveal.is_some()) {
                settle_round(class, req, out)?;
            }
            Ok(())
        })
    }

    /// Reveals a Sealed request's secret (the requester, or a chosen verifier
    /// that received it), inside the verification window. The chain
    /// recomputes the draw: unchosen candidates are released; unchecked, the
    /// reveal phase opens for the primary alone; checked, every chosen
    /// candidate still on call is locked and becomes a verifier, and the
    /// verifiers get a full commit timeout from now (the reveal phase opens
    /// at once if all committed early); the seats of chosen candidates no
    /// longer on call (dropped, unslashed) are refilled from
    /// `derive(sealed_draw_seed(seed, secret), REFILL_TAG)`.
    ///
    /// Errors: `UnknownClass`, `WrongVersion` (the class's), `InvalidSecret`,
    /// `UnknownRequest`, `WrongNetwork`, `WrongClass`, `NotSealed`, `WrongPhase` (before the
    /// primary committed, or revealed already), `DeadlinePassed`,
    /// `SecretMismatch`, `UnknownNode`, `ArithmeticError`.
    pub fn reveal_secret(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        secret: &[u8],
    ) -> Result<Outcome> {
        self.class_current(class)?;
        let secret = Digest::from_slice(secret).ok_or(ProtocolError::InvalidSecret)?;
        let req = self.request_in(class, request_id)?;
        let Mode::Sealed { p_bps, n } = req.mode else { return Err(ProtocolError::NotSealed) };
        if req.status != Status::Verifying || req.secret.is_some() {
            return Err(ProtocolError::WrongPhase);
        }
        if ctx.now_ms >= req.deadline_ms {
            return Err(ProtocolError::DeadlinePassed);
        }
        if req.secret_hash != Some(secret_hash(&secret)) {
            return Err(ProtocolError::SecretMismatch);
        }
        self.on_request(class, request_id, |class, req, out| {
            let pool: Vec<usize> =
                (0..req.slots.len()).filter(|&i| req.slots[i].active && req.slots[i].role == Role::Candidate).collect();
            let (checked, chosen) = sealed_draw(&req.seed, &secret, p_bps, n, pool.len() as u64);
            req.secret = Some(secret);
            req.checked = Some(checked);
            let mut verifiers = Vec::new();
            for (pos, &i) in pool.iter().enumerate() {
                let node_id = req.slots[i].node_id;
                if chosen.contains(&(pos as u64)) && class.on_call.contains(&node_id) {
                    req.slots[i].stake = class.lock(&node_id)?;
                    req.slots[i].role = Role::Verifier;
                    verifiers.push(node_id);
                } else {
                    release(class, &mut req.slots[i])?;
                }
            }
            out.emit(SecretRevealed { request_id: req.id, checked, verifiers: verifiers.clone() });
            let pending = req.members().iter().any(|&m| req.slots[m].commitment.is_none());
            let empty = req.empty_seats();
            if pending || empty > 0 {
                req.status = Status::Committing;
                req.set_deadline(add(ctx.now_ms, req.timeout_ms)?);
                if pending {
                    out.emit(NodesSelected {
                        request_id: req.id,
                        role: Role::Verifier,
                        nodes: verifiers,
                        deadline_ms: req.deadline_ms,
                    });
                }
            }
            if empty > 0 {
                let seed = derive(&sealed_draw_seed(&req.seed, &secret), REFILL_TAG);
                refill(class, req, Role::Verifier, seed, out)
            } else {
                try_open_reveal(req, ctx.now_ms, out).map(drop)
            }
        })
    }

    /// Leaves the current round without committing, because the request's
    /// input (a URI) cannot be obtained: the node's stake is unlocked, it is
    /// neither slashed nor paid, and its seat is refilled from `random` (or
    /// the request fails when no refill is left: `InputUnavailable`, the
    /// requester paying the minimum fee).
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `InputOnChain`, `WrongPhase`, `NotSelected`, `DeadlinePassed`,
    /// `AlreadyCommitted`, `UnknownNode`, `ArithmeticError`.
    pub fn abstain(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        random: Digest,
    ) -> Result<Outcome> {
        let i = self.check_leave(ctx, class, request_id, cap, true)?;
        self.on_request(class, request_id, |class, req, out| {
            req.input_unavailable = true;
            out.emit(Abstained { request_id: req.id, node_id: cap.node_id() });
            leave_seat(class, req, i, random, out)
        })
    }

    /// Leaves the current round without committing, because the node cannot
    /// run the request in time (it does not serve the model, or its queue
    /// would make it late): as `abstain`, for any input, and a failure for
    /// want of seats refunds the whole fee.
    ///
    /// Errors: those of `abstain` but `InputOnChain`.
    pub fn decline(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        random: Digest,
    ) -> Result<Outcome> {
        let i = self.check_leave(ctx, class, request_id, cap, false)?;
        self.on_request(class, request_id, |class, req, out| {
            out.emit(Declined { request_id: req.id, node_id: cap.node_id() });
            leave_seat(class, req, i, random, out)
        })
    }

    /// Checks that `cap`'s node may leave its seat (`abstain`, `decline`)
    /// and returns its slot index.
    fn check_leave(
        &self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        cap: &NodeCap,
        for_input: bool,
    ) -> Result<usize> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        self.class_checked(class)?.check_member(&cap.network_id, cap.class_id)?;
        if for_input && matches!(req.input, Input::Inline(_)) {
            return Err(ProtocolError::InputOnChain);
        }
        if req.status != Status::Committing {
            return Err(ProtocolError::WrongPhase);
        }
        let i = member_before_deadline(req, &cap.node_id(), ctx.now_ms)?;
        if req.slots[i].commitment.is_some() {
            return Err(ProtocolError::AlreadyCommitted);
        }
        Ok(i)
    }
}

/// A member leaves its seat in slot `i`, unslashed: its stake is unlocked
/// and the seat refilled (or the request fails).
fn leave_seat(class: &mut HardwareClass, req: &mut Request, i: usize, random: Digest, out: &mut Outcome) -> Result<()> {
    let role = req.slots[i].role;
    release(class, &mut req.slots[i])?;
    refill(class, req, role, random, out)
}

/// Ends a Sealed verification window without the secret: the pool is
/// released and the reveal phase opens for the primary alone (unverified).
pub(super) fn close_verification(
    class: &mut HardwareClass,
    req: &mut Request,
    now_ms: u64,
    out: &mut Outcome,
) -> Result<()> {
    for slot in req.slots.iter_mut().filter(|s| s.role == Role::Candidate) {
        release(class, slot)?;
    }
    try_open_reveal(req, now_ms, out).map(drop)
}

/// The slot of `node_id` in the current round, before the phase's deadline
/// (`NotSelected`, then `DeadlinePassed`).
fn member_before_deadline(req: &Request, node_id: &ObjectId, now_ms: u64) -> Result<usize> {
    let i = req
        .active_slot(node_id)
        .filter(|&i| req.round.includes(req.slots[i].role))
        .ok_or(ProtocolError::NotSelected)?;
    if now_ms >= req.deadline_ms {
        return Err(ProtocolError::DeadlinePassed);
    }
    Ok(i)
}

fn record_commit(req: &mut Request, i: usize, commitment: &[u8], out: &mut Outcome) {
    // `check_commit` verified the length.
    let commitment = Digest::from_slice(commitment).unwrap_or_default();
    req.slots[i].commitment = Some(commitment);
    out.emit(Committed { request_id: req.id, node_id: req.slots[i].node_id, commitment });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Slot;

    #[test]
    fn the_commit_rule_follows_phase_role_round_deadline_and_one_commitment() {
        use ProtocolError::*;
        let slot = |role| Slot::new(ObjectId::from_u64(9), role, 1);
        let committed = |role| Slot { commitment: Some(Digest([1; 32])), ..slot(role) };
        let cases: &[(Status, Round, Slot, u64, Result<()>)] = &[
            (Status::Committing, Round::Main, slot(Role::Executor), 9_999, Ok(())),
            (Status::Committing, Round::Main, slot(Role::Verifier), 9_999, Ok(())),
            (Status::Committing, Round::Main, slot(Role::Executor), 10_000, Err(DeadlinePassed)),
            (Status::Committing, Round::Main, committed(Role::Executor), 0, Err(AlreadyCommitted)),
            (Status::Committing, Round::Main, slot(Role::Candidate), 0, Err(PrimaryNotCommitted)),
            (Status::Committing, Round::Main, slot(Role::Disputer), 0, Err(NotSelected)),
            (Status::Committing, Round::Dispute, slot(Role::Disputer), 0, Ok(())),
            (Status::Committing, Round::Dispute, slot(Role::Executor), 0, Err(NotSelected)),
            (Status::Verifying, Round::Main, slot(Role::Candidate), 0, Ok(())),
            (Status::Verifying, Round::Main, slot(Role::Disputer), 0, Err(NotSelected)),
            (Status::Verifying, Round::Main, committed(Role::Executor), 0, Err(AlreadyCommitted)),
            (Status::Revealing, Round::Main, slot(Role::Executor), 0, Err(WrongPhase)),
            (Status::Selecting, Round::Main, slot(Role::Executor), 0, Err(WrongPhase)),
            (Status::Finalized, Round::Main, slot(Role::Executor), 0, Err(WrongPhase)),
        ];
        for (status, round, slot, now, expected) in cases {
            let req = Request::for_tests(*status, *round, vec![slot.clone()]);
            assert_eq!(req.commit_rule(0, *now), *expected, "{status:?} {round:?} {:?} at {now}", slot.role);
            assert_eq!(req.may_commit(0, *now), expected.is_ok());
        }
    }
}
