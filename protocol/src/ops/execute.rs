//! What executors and requesters do while a request runs (Move module
//! `request`): `commit`, `commit_primary`, `reveal` and `reveal_secret`.
//!
//! Commit rules:
//! - in `Committing`, a member of the current round commits before the deadline;
//!   the CrossValidation primary must use `commit_primary`, which also draws
//!   the coin flip; a Sealed candidate must wait for the primary
//!   (`PrimaryNotCommitted`);
//! - the Sealed primary's commit moves the request to `Verifying` for one
//!   reveal window, in which pool candidates (and, after the secret, the
//!   chosen verifiers) commit;
//! - when every member has committed, the reveal phase opens.
//!
//! Reveal rules: in `Revealing`, a member reveals `(output_digest, salt)`
//! that hashes to its commitment; the last reveal settles the round.

use super::settle::{release, settle_round, slash_timeouts, try_open_reveal};
use super::{Ctx, Outcome, State};
use crate::commitment::{self, FLIP_TAG, VERIFIERS_TAG, derive, sealed_draw_seed, secret_hash};
use crate::error::{ProtocolError, Result};
use crate::events::{Committed, Revealed, SecretRevealed, VerificationDrawn};
use crate::request::{Request, Selection};
use crate::sampler::{draw_below, sample};
use crate::state::NodeCap;
use crate::types::{BPS, Digest, Mode, ObjectId, Role, Round, Status};

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

impl State {
    /// Checks a commit by `cap`'s node and returns its slot index.
    fn check_commit(&self, ctx: &Ctx, request_id: &ObjectId, cap: &NodeCap, commitment: &[u8]) -> Result<usize> {
        Digest::from_slice(commitment).ok_or(ProtocolError::InvalidDigest)?;
        self.network.check_network(&cap.network_id)?;
        let req = self.request_checked(request_id)?;
        let i = req.active_slot(&cap.node_id()).ok_or(ProtocolError::NotSelected)?;
        let slot = &req.slots[i];
        match req.status {
            Status::Committing if slot.role == Role::Candidate => return Err(ProtocolError::PrimaryNotCommitted),
            Status::Committing if !req.round.includes(slot.role) => return Err(ProtocolError::NotSelected),
            Status::Committing => {}
            Status::Verifying if matches!(slot.role, Role::Candidate | Role::Verifier | Role::Executor) => {}
            Status::Verifying => return Err(ProtocolError::NotSelected),
            _ => return Err(ProtocolError::WrongPhase),
        }
        if ctx.now_ms >= req.deadline_ms {
            return Err(ProtocolError::DeadlinePassed);
        }
        if slot.commitment.is_some() {
            return Err(ProtocolError::AlreadyCommitted);
        }
        Ok(i)
    }

    /// Commits `blake2b256(bcs(request_id, node_id, output_digest, salt))`.
    ///
    /// Errors: `InvalidDigest`, `WrongNetwork`, `UnknownRequest`, `NotSelected`,
    /// `PrimaryNotCommitted`, `WrongPhase`, `DeadlinePassed`, `AlreadyCommitted`,
    /// `PrimaryCommitRequired`.
    pub fn commit(&mut self, ctx: &Ctx, request_id: &ObjectId, cap: &NodeCap, commitment: &[u8]) -> Result<Outcome> {
        let i = self.check_commit(ctx, request_id, cap, commitment)?;
        let req = self.request_checked(request_id)?;
        if req.status == Status::Committing && is_cv_primary(req, req.slots[i].role) {
            return Err(ProtocolError::PrimaryCommitRequired);
        }
        let req = self.request_mut(request_id);
        let mut out = Outcome::default();
        record_commit(req, i, commitment, &mut out);
        match req.status {
            Status::Committing if matches!(req.mode, Mode::Sealed { .. }) && req.round == Round::Main => {
                // The Sealed primary committed: the verification window opens.
                req.status = Status::Verifying;
                req.deadline_ms = ctx.now_ms.saturating_add(req.reveal_window_ms);
            }
            Status::Committing => {
                try_open_reveal(req, ctx.now_ms, &mut out);
            }
            _ => {
                // Verifying: once the secret chose the verifiers and all committed, reveal.
                if req.checked == Some(true) {
                    try_open_reveal(req, ctx.now_ms, &mut out);
                }
            }
        }
        Ok(out)
    }

    /// The CrossValidation primary's commit, which also draws the coin flip
    /// from `random`: checked with probability `p_bps / 10_000`, then `n`
    /// verifiers are selected by `select_nodes` from `derive(random, 1)`.
    ///
    /// Errors: those of `commit`, and `NotPrimary` for any other slot or mode.
    pub fn commit_primary(
        &mut self,
        ctx: &Ctx,
        request_id: &ObjectId,
        cap: &NodeCap,
        commitment: &[u8],
        random: Digest,
    ) -> Result<Outcome> {
        let i = self.check_commit(ctx, request_id, cap, commitment)?;
        let req = self.request_checked(request_id)?;
        if req.status != Status::Committing || !is_cv_primary(req, req.slots[i].role) {
            return Err(ProtocolError::NotPrimary);
        }
        let req = self.request_mut(request_id);
        let mut out = Outcome::default();
        record_commit(req, i, commitment, &mut out);
        let checked = flip(&random, req.mode.p_bps());
        req.checked = Some(checked);
        out.emit(VerificationDrawn { request_id: req.id, checked });
        // The same fields are written either way; only the count differs (as in Move).
        let count = if checked { req.mode.n() } else { 0 };
        req.selection = Selection { role: Role::Verifier, count, seed: derive(&random, VERIFIERS_TAG) };
        if checked {
            req.status = Status::Selecting;
        } else {
            try_open_reveal(req, ctx.now_ms, &mut out);
        }
        Ok(out)
    }

    /// Reveals the output digest and salt behind the node's commitment; the
    /// last reveal of the round settles it.
    ///
    /// Errors: `InvalidDigest`, `InvalidSalt`, `WrongNetwork`, `UnknownRequest`,
    /// `WrongPhase`, `NotSelected`, `DeadlinePassed`, `AlreadyRevealed`,
    /// `CommitmentMismatch`.
    pub fn reveal(
        &mut self,
        ctx: &Ctx,
        request_id: &ObjectId,
        cap: &NodeCap,
        output_digest: &[u8],
        salt: &[u8],
    ) -> Result<Outcome> {
        let output_digest = Digest::from_slice(output_digest).ok_or(ProtocolError::InvalidDigest)?;
        let salt = Digest::from_slice(salt).ok_or(ProtocolError::InvalidSalt)?;
        self.network.check_network(&cap.network_id)?;
        let req = self.request_checked(request_id)?;
        if req.status != Status::Revealing {
            return Err(ProtocolError::WrongPhase);
        }
        let node_id = cap.node_id();
        let i = req
            .active_slot(&node_id)
            .filter(|&i| req.round.includes(req.slots[i].role))
            .ok_or(ProtocolError::NotSelected)?;
        if ctx.now_ms >= req.deadline_ms {
            return Err(ProtocolError::DeadlinePassed);
        }
        let slot = &req.slots[i];
        // Every member committed before the reveal phase opened.
        let committed = slot.commitment.unwrap_or_default();
        if slot.reveal.is_some() {
            return Err(ProtocolError::AlreadyRevealed);
        }
        if commitment::commitment(request_id, &node_id, &output_digest, &salt) != committed {
            return Err(ProtocolError::CommitmentMismatch);
        }
        let (net, req) = self.split(request_id);
        let mut out = Outcome::default();
        req.slots[i].reveal = Some(output_digest);
        out.emit(Revealed { request_id: req.id, node_id, output_digest });
        if req.members().iter().all(|&m| req.slots[m].reveal.is_some()) {
            settle_round(net, req, &mut out);
        }
        Ok(out)
    }

    /// Reveals a Sealed request's secret (the requester, or a chosen verifier
    /// that received it). The chain recomputes the draw: unchosen candidates
    /// are released; if the primary is checked and every chosen verifier has
    /// committed, or the window is over (chosen verifiers that did not commit
    /// are slashed for timeout), the reveal phase opens; unchecked, it opens
    /// for the primary alone.
    ///
    /// Errors: `InvalidSecret`, `WrongNetwork`, `UnknownRequest`, `NotSealed`,
    /// `WrongPhase` (before the primary committed, or revealed already), `SecretMismatch`.
    pub fn reveal_secret(&mut self, ctx: &Ctx, request_id: &ObjectId, secret: &[u8]) -> Result<Outcome> {
        let secret = Digest::from_slice(secret).ok_or(ProtocolError::InvalidSecret)?;
        let req = self.request_checked(request_id)?;
        let Mode::Sealed { p_bps, n } = req.mode else { return Err(ProtocolError::NotSealed) };
        if req.status != Status::Verifying || req.secret.is_some() {
            return Err(ProtocolError::WrongPhase);
        }
        if req.secret_hash != Some(secret_hash(&secret)) {
            return Err(ProtocolError::SecretMismatch);
        }
        let (net, req) = self.split(request_id);
        let mut out = Outcome::default();
        let pool: Vec<usize> =
            (0..req.slots.len()).filter(|&i| req.slots[i].active && req.slots[i].role == Role::Candidate).collect();
        let (checked, chosen) = sealed_draw(&req.seed, &secret, p_bps, n, pool.len() as u64);
        req.secret = Some(secret);
        req.checked = Some(checked);
        for (pos, &i) in pool.iter().enumerate() {
            if chosen.contains(&(pos as u64)) {
                req.slots[i].role = Role::Verifier;
            } else {
                release(net, &mut req.slots[i]);
            }
        }
        let verifiers = chosen.iter().map(|&pos| req.slots[pool[pos as usize]].node_id).collect();
        out.emit(SecretRevealed { request_id: req.id, checked, verifiers });
        if !try_open_reveal(req, ctx.now_ms, &mut out) && ctx.now_ms >= req.deadline_ms {
            close_verification(net, req, ctx.now_ms, &mut out);
        }
        Ok(out)
    }
}

/// Ends a Sealed verification window: chosen verifiers that did not commit
/// are slashed for timeout, unchosen candidates released, and the reveal
/// phase opens for the primary and the verifiers that committed.
pub(super) fn close_verification(net: &mut crate::state::Network, req: &mut Request, now_ms: u64, out: &mut Outcome) {
    let silent: Vec<usize> = (0..req.slots.len())
        .filter(|&i| req.slots[i].active && req.slots[i].role == Role::Verifier && req.slots[i].commitment.is_none())
        .collect();
    slash_timeouts(net, req, &silent, out);
    for slot in req.slots.iter_mut().filter(|s| s.role == Role::Candidate) {
        release(net, slot);
    }
    try_open_reveal(req, now_ms, out);
}

fn record_commit(req: &mut Request, i: usize, commitment: &[u8], out: &mut Outcome) {
    // `check_commit` verified the length.
    let commitment = Digest::from_slice(commitment).unwrap_or_default();
    req.slots[i].commitment = Some(commitment);
    out.emit(Committed { request_id: req.id, node_id: req.slots[i].node_id, commitment });
}
