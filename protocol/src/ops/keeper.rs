//! What anyone may call to move a request on (Move module `request`):
//! `select_nodes`, `open_dispute` and `expire`. Each takes the request's
//! class object and checks that this package may use it.
//!
//! Randomness is drawn in one call and used in a later one: `open_dispute`,
//! `expire` (and `abstain`, `decline`) store a fresh seed with a pending
//! `Selection`, and `select_nodes` (no randomness, deterministic) performs
//! it. A draw is thus never retried by aborting the transaction that would
//! use it, and a pending draw is never replaced.
//!
//! `expire`, once the current phase's deadline has passed (and no refill is
//! pending): the first call only extends the deadline, once, by the
//! request's `grace_ms` (`DeadlineExtended`), so that every member has that
//! much time on a running chain before it can be slashed, however long the
//! chain was halted; the second call ends the phase:
//! - `Committing`: members that did not commit lose `timeout_slash_bps` of
//!   their stake and their seats are refilled (or the request fails when no
//!   refill is left);
//! - `Verifying` (Sealed, no secret): the pool is released and the primary
//!   reveals alone (unverified);
//! - `Revealing`: the round settles with the reveals it has; members that
//!   withheld their reveal lose their whole stake.

use super::execute::close_verification;
use super::settle::{perform_selection, refill, settle_round, slash_timeouts, try_open_reveal};
use super::{Ctx, Outcome, State};
use crate::error::{ProtocolError, Result, add};
use crate::events::DeadlineExtended;
use crate::request::{Request, Selection};
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

/// The keeper calls due on `req` at `now_ms`: a pending selection (or
/// refill) is performed at once; a disputed request draws its quorum's
/// seed, then selects it; a phase `margin_ms` past its deadline is expired
/// (the first call extends it by the grace, a later one ends it), and the
/// refill that may follow is selected. A call another keeper made first is
/// refused harmlessly (`ProtocolError::is_lost_race`).
pub fn due(req: &Request, now_ms: u64, margin_ms: u64) -> Vec<KeeperCall> {
    match req.status {
        Status::Selecting => vec![KeeperCall::SelectNodes],
        Status::Disputed => vec![KeeperCall::OpenDispute, KeeperCall::SelectNodes],
        Status::Committing if req.refill_pending() => vec![KeeperCall::SelectNodes],
        Status::Committing | Status::Verifying | Status::Revealing
            if now_ms >= req.deadline_ms.saturating_add(margin_ms) =>
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
            KeeperCall::OpenDispute => self.open_dispute(ctx, class, request_id, random()),
            KeeperCall::Expire => self.expire(ctx, class, request_id, random()),
        }
    }

    /// Performs the request's pending selection from its stored seed: the
    /// CrossValidation verifiers, the dispute quorum, or a refill of empty
    /// seats, drawn from the class's on-call nodes.
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `WrongPhase` (nothing pending), `UnknownNode`, `ArithmeticError`.
    pub fn select_nodes(&mut self, ctx: &Ctx, class: &ObjectId, request_id: &ObjectId) -> Result<Outcome> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        if req.status != Status::Selecting && !req.refill_pending() {
            return Err(ProtocolError::WrongPhase);
        }
        let sel = req.selection;
        self.on_request(class, request_id, |class, req, out| perform_selection(class, req, sel, ctx.now_ms, out))
    }

    /// Draws the seed of a disputed request's dispute quorum (its
    /// `dispute_size` seats, fixed when the dispute was raised), to be
    /// selected by `select_nodes`.
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `WrongPhase` (not `Disputed`).
    pub fn open_dispute(
        &mut self,
        _ctx: &Ctx,
        class: &ObjectId,
        request_id: &ObjectId,
        random: Digest,
    ) -> Result<Outcome> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        if req.status != Status::Disputed {
            return Err(ProtocolError::WrongPhase);
        }
        self.on_request(class, request_id, |_, req, _| {
            req.selection = Selection { role: Role::Disputer, count: req.dispute_size, seed: random };
            req.status = Status::Selecting;
            Ok(())
        })
    }

    /// After a deadline: extends it by the grace the first time, ends the
    /// phase the second time (see the module doc). `random` seeds the
    /// refill of silent members' seats.
    ///
    /// Errors: `UnknownClass`, `WrongVersion`, `UnknownRequest`, `WrongNetwork`,
    /// `WrongClass`, `WrongPhase` (no deadline runs, or a refill is pending),
    /// `DeadlineNotReached`, `UnknownNode`, `ArithmeticError`.
    pub fn expire(&mut self, ctx: &Ctx, class: &ObjectId, request_id: &ObjectId, random: Digest) -> Result<Outcome> {
        self.class_current(class)?;
        let req = self.request_in(class, request_id)?;
        if !matches!(req.status, Status::Committing | Status::Verifying | Status::Revealing) || req.refill_pending() {
            return Err(ProtocolError::WrongPhase);
        }
        if ctx.now_ms < req.deadline_ms {
            return Err(ProtocolError::DeadlineNotReached);
        }
        self.on_request(class, request_id, |class, req, out| {
            if !req.extended {
                req.extended = true;
                req.deadline_ms = add(ctx.now_ms, req.params.grace_ms)?;
                out.emit(DeadlineExtended { request_id: req.id, deadline_ms: req.deadline_ms });
                return Ok(());
            }
            match req.status {
                Status::Committing => {
                    let silent: Vec<usize> =
                        req.members().into_iter().filter(|&i| req.slots[i].commitment.is_none()).collect();
                    let role = silent.first().map_or(Role::Executor, |&i| req.slots[i].role);
                    slash_timeouts(class, req, &silent, out)?;
                    if req.empty_seats() > 0 {
                        refill(class, req, role, random, out)
                    } else {
                        try_open_reveal(req, ctx.now_ms, out).map(drop)
                    }
                }
                Status::Verifying => close_verification(class, req, ctx.now_ms, out),
                _ => settle_round(class, req, out),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeeperCall::*;

    #[test]
    fn the_calls_due_follow_the_status_and_the_deadline() {
        let (deadline, margin) = (10_000, 500);
        let due = |status, deadline_ms, now, margin| {
            let mut req = Request::for_tests(status, crate::types::Round::Main, Vec::new());
            req.deadline_ms = deadline_ms;
            super::due(&req, now, margin)
        };
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
        // A pending refill is selected at once, before and after the deadline.
        let mut req = Request::for_tests(Status::Committing, crate::types::Round::Main, Vec::new());
        req.selection.count = 1;
        assert_eq!(super::due(&req, 0, margin), [SelectNodes]);
        assert_eq!(super::due(&req, 99_999, margin), [SelectNodes]);
    }
}
