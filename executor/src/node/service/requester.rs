//! What a requester tells the node directly, besides the chain: a Sealed
//! request's secret (`POST /v1/sealed/…`), which makes a chosen pool member
//! compute, and a push (`POST /v1/push/…`), which starts a task before a
//! checkpoint brings the selection.
//!
//! Not for: the HTTP routes themselves (see `node::server`).

use std::sync::Arc;

use atoma_protocol::commitment::secret_hash;
use atoma_protocol::{Digest as ProtoDigest, Mode, ObjectId, Request, Role};
use sui_sdk_types::Address;

use super::Service;
use crate::node::db::Task;

impl Service {
    /// Whether a Sealed pool member holds the requester's secret and is chosen by it.
    pub(super) fn chosen(&self, req: &Request, task: &Task) -> bool {
        let (Mode::Sealed { p_bps, n }, Some(secret)) = (req.mode, task.secret) else { return false };
        if req.secret_hash != Some(secret_hash(&ProtoDigest(secret))) {
            return false;
        }
        let pool: Vec<ObjectId> = req.slots.iter().filter(|s| s.role == Role::Candidate).map(|s| s.node_id).collect();
        let (checked, positions) =
            atoma_protocol::ops::sealed_draw(&req.seed, &ProtoDigest(secret), p_bps, n, pool.len() as u64);
        let me = ObjectId::from(self.node);
        checked && positions.iter().any(|p| pool.get(*p as usize) == Some(&me))
    }

    /// Takes a Sealed requester's secret (from `POST /v1/sealed/…`): kept only
    /// if it matches the request's hash and chooses this node.
    pub(crate) async fn take_secret(self: &Arc<Self>, request: Address, secret: [u8; 32]) -> Result<(), (u16, String)> {
        let req = self.chain.request(request).await.map_err(|e| (404, e.to_string()))?;
        if req.secret_hash != Some(secret_hash(&ProtoDigest(secret))) {
            return Err((400, "the secret does not match the request's hash".into()));
        }
        let task = Task { secret: Some(secret), ..Task::default() };
        if !self.chosen(&req, &task) {
            return Err((404, "this node is not a chosen verifier of the request".into()));
        }
        self.db.update_task(&request, |t| t.secret = Some(secret)).map_err(|e| (500, e.to_string()))?;
        tracing::info!(request = %request, node = %self.node, "told it verifies a Sealed request");
        self.clone().drive(request);
        Ok(())
    }

    /// Takes a requester's push (`POST /v1/push/…`, signed by `signer`):
    /// the request is read on chain, and its task starts at once if this
    /// node holds an active seat in it, instead of when a checkpoint brings
    /// the selection (which the event stream still does, to the same task).
    pub(crate) async fn take_push(self: &Arc<Self>, request: Address, signer: Address) -> Result<(), (u16, String)> {
        let req = self.chain.request(request).await.map_err(|e| (404, e.to_string()))?;
        if Address::from(req.requester) != signer {
            return Err((403, "only the request's requester may push it".into()));
        }
        let me = ObjectId::from(self.node);
        if !req.slots.iter().any(|s| s.node_id == me && s.active) {
            return Err((404, "this node holds no seat in the request".into()));
        }
        let known = self.db.task(&request).map_err(|e| (500, e.to_string()))?.is_some();
        if !known {
            self.start_timing(request);
            self.db.update_task(&request, |_| {}).map_err(|e| (500, e.to_string()))?;
            tracing::info!(request = %request, node = %self.node, "assigned (pushed by the requester)");
        } else {
            tracing::info!(request = %request, node = %self.node, "pushed by the requester (already assigned from events)");
        }
        self.clone().drive(request);
        Ok(())
    }
}
