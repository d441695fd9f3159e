//! What the node sends for its own tasks: `commit` (or `commit_primary`),
//! `reveal`, `abstain` and `decline`, each signed and journaled in the
//! outbox before it is sent.

use std::time::Duration;

use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::{Digest as ProtoDigest, Mode, ObjectId, ProtocolError, Request, Role, Round};
use atoma_sdk::SdkError;
use atoma_sdk::calls::{abstain_call, commit_call, decline_call, reveal_call};
use sui_sdk_types::Address;

use crate::node::config::Adversary;
use crate::node::db::Task;

use super::{Service, now_ms};

impl Service {
    /// Leaves the seat: the input cannot be obtained (never slashed, never paid).
    pub(super) async fn abstain(&self, request: Address, why: &str) -> anyhow::Result<()> {
        match self.send(abstain_call(self.class_object, request, self.node)).await {
            Ok(_) => {
                self.metrics.abstained.inc();
                tracing::warn!(request = %request, node = %self.node, reason = %why, "abstained: the input cannot be obtained");
                Ok(())
            }
            Err(SdkError::Protocol { error, .. }) => {
                tracing::warn!(request = %request, node = %self.node, %error, "abstain refused by the protocol");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Leaves the seat: the node cannot run the request in time (never slashed, never paid).
    pub(super) async fn decline(&self, request: Address, why: &str) -> anyhow::Result<()> {
        match self.send(decline_call(self.class_object, request, self.node)).await {
            Ok(_) => {
                self.metrics.declined.inc();
                tracing::warn!(request = %request, node = %self.node, reason = %why, "declined: cannot run it in time");
                Ok(())
            }
            Err(SdkError::Protocol { error, .. }) => {
                tracing::warn!(request = %request, node = %self.node, %error, "decline refused by the protocol");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn commit(
        &self,
        request: Address,
        req: &Request,
        slot: &atoma_protocol::Slot,
        task: &mut Task,
    ) -> anyhow::Result<()> {
        let me = ObjectId::from(self.node);
        if self.adversary() == Some(Adversary::Silent) {
            return Ok(());
        }
        let value = match (self.adversary(), task.commitment) {
            (_, Some(c)) => c, // committing again after a crash: the same value
            (Some(Adversary::LazyDisputer), None) if slot.role == Role::Disputer => {
                // Votes the main round's most revealed digest, with a guessed key.
                let (Some(digest), Some(salt)) = (majority_main_digest(req), task.salt) else { return Ok(()) };
                commitment(&ObjectId::from(request), &me, &digest, &ProtoDigest(salt)).0
            }
            (Some(Adversary::LazyCopy), None) => {
                // Copies the first commitment another node made; it cannot open it.
                let Some(other) = req.slots.iter().find_map(|s| s.commitment.filter(|_| s.node_id != me)) else {
                    return Ok(()); // nothing to copy yet
                };
                other.0
            }
            (_, None) => {
                let (Some(output), Some(salt)) = (&task.output, task.salt) else { return Ok(()) };
                commitment(&ObjectId::from(request), &me, &blake2b256(output), &ProtoDigest(salt)).0
            }
        };
        if task.commitment.is_none() {
            *task = self.db.update_task(&request, |t| t.commitment = Some(value))?;
        }
        let primary =
            matches!(req.mode, Mode::CrossValidation { .. }) && slot.role == Role::Executor && req.round == Round::Main;
        let call = commit_call(self.class_object, request, self.node, &value, primary);
        match self.send(call).await {
            Ok(_) => {
                self.metrics.committed.inc();
                // From reading the assignment: to the output stored, and to the commitment confirmed.
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                let (pipeline_ms, ready_ms, model_ms) = match self.timings.lock().expect("timings").remove(&request) {
                    Some(t) => (ms(t.assigned.elapsed()), ms(t.ready), ms(t.model)),
                    None => (0.0, 0.0, 0.0),
                };
                tracing::info!(
                    request = %request,
                    node = %self.node,
                    primary,
                    pipeline_ms = %format_args!("{pipeline_ms:.1}"),
                    ready_ms = %format_args!("{ready_ms:.1}"),
                    model_ms = %format_args!("{model_ms:.1}"),
                    "committed"
                );
                self.crash_point("after-commit");
                Ok(())
            }
            Err(SdkError::Protocol { error: ProtocolError::AlreadyCommitted, .. }) => Ok(()),
            Err(SdkError::Protocol { error, .. }) => {
                tracing::warn!(request = %request, node = %self.node, %error, "commit refused by the protocol");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn reveal(
        &self,
        request: Address,
        req: &Request,
        on_chain: ProtoDigest,
        task: &Task,
    ) -> anyhow::Result<()> {
        if task.commitment != Some(on_chain.0) {
            tracing::error!(request = %request, node = %self.node, "the commitment on chain is not the one this node stored: not revealing");
            return Ok(());
        }
        let (Some(output), Some(salt)) = (&task.output, task.salt) else {
            tracing::error!(request = %request, node = %self.node, "committed but the output is not in the database: cannot reveal");
            return Ok(());
        };
        match self.adversary() {
            Some(Adversary::Withhold) => return Ok(()),
            Some(Adversary::LateReveal) => {
                // Waits out the deadline, and the grace a first `expire` grants.
                if !req.extended {
                    return Ok(());
                }
                let wait = req.deadline_ms.saturating_sub(now_ms()) + 200;
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            _ => {}
        }
        self.crash_point("before-reveal");
        let digest = blake2b256(output);
        let me = ObjectId::from(self.node);
        let disputer = req.slots.iter().any(|s| s.node_id == me && s.role == Role::Disputer);
        let digest = match self.adversary() {
            // A copier does not know the other node's salt: its reveal fails.
            Some(Adversary::LazyCopy) => req.slots.iter().find_map(|s| s.reveal).unwrap_or(digest),
            Some(Adversary::LazyDisputer) if disputer => majority_main_digest(req).unwrap_or(digest),
            _ => digest,
        };
        let salt = if self.adversary() == Some(Adversary::WrongSalt) { blake2b256(&salt).0 } else { salt };
        match self.send(reveal_call(self.class_object, request, self.node, &digest.0, &salt)).await {
            Ok(_) => {
                self.metrics.revealed.inc();
                self.db.update_task(&request, |t| t.revealed = true)?;
                tracing::info!(request = %request, node = %self.node, "revealed");
                Ok(())
            }
            Err(SdkError::Protocol { error, .. }) => {
                tracing::warn!(request = %request, node = %self.node, %error, "reveal refused by the protocol");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a call, journaling the signed transaction in the outbox first.
    async fn send(&self, call: atoma_sdk::chain::Call) -> Result<atoma_sdk::Executed, SdkError> {
        let mut journaled = None;
        let result = self
            .chain
            .execute_journaled(call, |signed| {
                journaled = Some(signed.digest());
                self.db.outbox_put(signed).map_err(|e| SdkError::InvalidArgument(format!("writing the outbox: {e}")))
            })
            .await;
        if let Some(digest) = journaled
            && !matches!(result, Err(SdkError::Unknown { .. }))
            && let Err(e) = self.db.outbox_remove(&digest)
        {
            tracing::error!(error = %e, "clearing the outbox");
        }
        result
    }
}

/// The digest most main-round nodes revealed (what a lazy disputer votes).
fn majority_main_digest(req: &Request) -> Option<ProtoDigest> {
    let reveals: Vec<ProtoDigest> =
        req.slots.iter().filter(|s| s.role != Role::Disputer).filter_map(|s| s.reveal).collect();
    reveals.iter().max_by_key(|d| reveals.iter().filter(|e| e == d).count()).copied()
}
