//! What anyone may call to move a request on (Move module `request`):
//! `select_nodes`, `open_dispute` and `expire`.
//!
//! Randomness is drawn in one call and used in a later one: `open_dispute`
//! and `expire` store a fresh seed with a pending `Selection`, and
//! `select_nodes` (no randomness, deterministic) performs it. A draw is thus
//! never retried by aborting the transaction that would use it.
//!
//! `expire`, once the current phase's deadline has passed: the first call
//! only extends the deadline, once, by the request's `grace_ms`
//! (`DeadlineExtended`), so that every member has that much time on a
//! running chain before it can be slashed, however long the chain was halted;
//! the second call ends the phase:
//! - `Committing`: members that did not commit lose `timeout_slash_bps` of
//!   their stake and are replaced by fresh nodes (up to `max_retries` times;
//!   then the round goes on with those that committed, or fails);
//! - `Verifying` (Sealed, no secret): the pool is released and the primary
//!   reveals alone (unverified);
//! - `Revealing`: the round settles with the reveals it has; members that
//!   withheld their reveal lose their whole stake.

use super::execute::close_verification;
use super::settle::{advance, perform_selection, settle_round, slash_timeouts};
use super::{Ctx, Outcome, State};
use crate::error::{ProtocolError, Result};
use crate::events::DeadlineExtended;
use crate::request::Selection;
use crate::types::{Digest, ObjectId, Role, Status};

/// A call anyone may make to move a request on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeeperCall {
    /// `select_nodes`: performs a pending selection.
    SelectNodes,
    /// `open_dispute`: draws a disputed request's quorum seed.
    OpenDispute,
    /// `expire`: extends, then ends, a phase past its deadline.
    Expire,
}

impl KeeperCall {
    /// The entry function's name.
    pub fn name(self) -> &'static str {
        match self {
            KeeperCall::SelectNodes => "select_nodes",
            KeeperCall::OpenDispute => "open_dispute",
            KeeperCall::Expire => "expire",
        }
    }
}

/// The keeper calls due on a request in `status` at `now_ms`: a pending
/// selection is performed at once; a disputed request draws its quorum's
/// seed, then selects it; a phase `margin_ms` past its deadline is expired
/// (the first call extends it by the grace, a later one ends it), and the
/// replacements that may follow are selected. A call another keeper made
/// first is refused harmlessly (`ProtocolError::is_lost_race`).
pub fn due(status: Status, deadline_ms: u64, now_ms: u64, margin_ms: u64) -> Vec<KeeperCall> {
    match status {
        Status::Selecting => vec![KeeperCall::SelectNodes],
        Status::Disputed => vec![KeeperCall::OpenDispute, KeeperCall::SelectNodes],
        Status::Committing | Status::Verifying | Status::Revealing
            if now_ms >= deadline_ms.saturating_add(margin_ms) =>
        {
            vec![KeeperCall::Expire, KeeperCall::SelectNodes]
        }
        _ => Vec::new(),
    }
}

impl State {
    /// Makes one keeper call on the request; `random` gives the draw of a
    /// call that takes `Random` (`open_dispute`, `expire`), and is not
    /// called for `select_nodes`.
    pub fn keep(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        call: KeeperCall,
        random: impl FnOnce() -> Digest,
    ) -> Result<Outcome> {
        match call {
            KeeperCall::SelectNodes => self.select_nodes(ctx, class, request_id),
            KeeperCall::OpenDispute => self.open_dispute(ctx, request_id, random()),
            KeeperCall::Expire => self.expire(ctx, class, request_id, random()),
        }
    }

    /// Performs the request's pending selection (CrossValidation verifiers,
    /// a dispute quorum or replacements) from its stored seed.
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `WrongPhase` (nothing pending).
    pub fn select_nodes(&mut self, ctx: &Ctx, class: &ObjectId, request_id: &ObjectId) -> Result<Outcome> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        if req.status != Status::Selecting {
            return Err(ProtocolError::WrongPhase);
        }
        let sel = req.selection;
        let (class, req) = self.split(class, request_id);
        let mut out = Outcome::default();
        perform_selection(class, req, sel, ctx.now_ms, &mut out);
        Ok(out)
    }

    /// Draws the seed of a disputed request's dispute quorum (its
    /// `dispute_size` seats, fixed when the dispute was raised), to be
    /// selected by `select_nodes`.
    ///
    /// Errors: `WrongNetwork`, `UnknownRequest`, `WrongPhase` (not `Disputed`).
    pub fn open_dispute(&mut self, _ctx: &Ctx, request_id: &ObjectId, random: Digest) -> Result<Outcome> {
        let req = self.request_checked(request_id)?;
        if req.status != Status::Disputed {
            return Err(ProtocolError::WrongPhase);
        }
        let req = self.request_mut(request_id);
        req.selection = Selection { role: Role::Disputer, count: req.dispute_size, seed: random };
        req.status = Status::Selecting;
        Ok(Outcome::default())
    }

    /// After a deadline: extends it by the grace the first time, ends the
    /// phase the second time (see the module doc). `random` seeds the
    /// replacements of silent members.
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `WrongPhase` (no deadline runs), `DeadlineNotReached`.
    pub fn expire(&mut self, ctx: &Ctx, class: &ObjectId, request_id: &ObjectId, random: Digest) -> Result<Outcome> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        if !matches!(req.status, Status::Committing | Status::Verifying | Status::Revealing) {
            return Err(ProtocolError::WrongPhase);
        }
        if ctx.now_ms < req.deadline_ms {
            return Err(ProtocolError::DeadlineNotReached);
        }
        let (class, req) = self.split(class, request_id);
        let mut out = Outcome::default();
        if !req.extended {
            req.extended = true;
            req.deadline_ms = ctx.now_ms.saturating_add(req.params.grace_ms);
            out.emit(DeadlineExtended { request_id: req.id, deadline_ms: req.deadline_ms });
            return Ok(out);
        }
        match req.status {
            Status::Committing => {
                let silent: Vec<usize> =
                    req.members().into_iter().filter(|&i| req.slots[i].commitment.is_none()).collect();
                let role = silent.first().map_or(Role::Executor, |&i| req.slots[i].role);
                slash_timeouts(class, req, &silent, &mut out);
                if req.retries < req.params.max_retries && !silent.is_empty() {
                    req.retries += 1;
                    req.selection = Selection { role, count: silent.len() as u64, seed: random };
                    req.status = Status::Selecting;
                } else {
                    advance(class, req, ctx.now_ms, &mut out);
                }
            }
            Status::Verifying => close_verification(class, req, ctx.now_ms, &mut out),
            _ => settle_round(class, req, &mut out),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeeperCall::*;

    #[test]
    fn the_calls_due_follow_the_status_and_the_deadline() {
        let (deadline, margin) = (10_000, 500);
        let cases: &[(Status, u64, &[KeeperCall])] = &[
            (Status::Selecting, 0, &[SelectNodes]),
            (Status::Disputed, 0, &[OpenDispute, SelectNodes]),
            (Status::Committing, 10_499, &[]),
            (Status::Committing, 10_500, &[Expire, SelectNodes]),
            (Status::Verifying, 10_500, &[Expire, SelectNodes]),
            (Status::Revealing, 99_999, &[Expire, SelectNodes]),
            (Status::Revealing, 9_999, &[]),
            (Status::Finalized, 99_999, &[]),
            (Status::Failed, 99_999, &[]),
        ];
        for (status, now, expected) in cases {
            assert_eq!(due(*status, deadline, *now, margin), *expected, "{status:?} at {now}");
        }
        // A deadline near the end of time does not overflow.
        assert_eq!(due(Status::Committing, u64::MAX, u64::MAX, margin), [Expire, SelectNodes]);
    }
}
