//! What a typed entry call does: the protocol operation it runs on the
//! state, with the fresh object ids and random draws of its transaction
//! (`Fresh`, in the order the Move code takes them), and the object it
//! creates (`Created`).

use super::EntryCall;
use crate::ProtocolError;
use crate::ops::{Ctx, Outcome, State};
use crate::state::NodeCap;
use crate::types::{Digest, ObjectId};

/// The source of a transaction's fresh object ids and random draws.
pub trait Fresh {
    /// A fresh object id, as `object::new` would give.
    fn object_id(&mut self) -> ObjectId;
    /// 32 random bytes, as `sui::random` would give.
    fn random(&mut self) -> Digest;
}

/// An object a call created besides its events and payouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// A hardware class object, and the class's id (the call's result).
    Class {
        /// The class's shared object.
        object: ObjectId,
        /// The class id the call returns.
        class_id: u64,
    },
    /// A node's capability, owned by the sender.
    NodeCap(NodeCap),
    /// A request object.
    Request(ObjectId),
}

impl EntryCall {
    /// Runs the call on `state`: its outcome (events, payouts) and the
    /// object it created, if any.
    pub fn apply(
        self,
        state: &mut State,
        ctx: &Ctx,
        fresh: &mut impl Fresh,
    ) -> Result<(Outcome, Option<Created>), ProtocolError> {
        use EntryCall::*;
        let done = |out| Ok((out, None));
        match self {
            AddHardwareClass { cap, name, profile, min_collateral, task_lock } => {
                // Move's class takes four fresh ids (the object and its three
                // tables); the state keeps no tables as objects and takes one.
                let object = fresh.object_id();
                let (class_id, out) =
                    state.add_hardware_class(&cap, object, &name, &profile, min_collateral, task_lock)?;
                Ok((out, Some(Created::Class { object, class_id })))
            }
            AddModel { cap, class, id, digest, max_run_ms } => {
                done(state.add_model(&cap, &class, &id, &digest, max_run_ms)?)
            }
            SetParams { cap, params } => done(state.set_params(&cap, params)?),
            Migrate { cap } => done(state.migrate(&cap)?),
            MigrateClass { cap, class } => done(state.migrate_class(&cap, &class)?),
            SweepRevenue { cap, class } => done(state.sweep_revenue(&cap, &class)?),
            WithdrawTreasury { cap, amount } => done(state.withdraw_treasury(ctx, &cap, amount)?),
            RegisterNode { class, collateral, endpoint, key } => {
                let cap_id = fresh.object_id();
                let (cap, out) = state.register_node(ctx, &class, cap_id, collateral, &endpoint, &key)?;
                Ok((out, Some(Created::NodeCap(cap))))
            }
            AddCollateral { class, cap, amount } => done(state.add_collateral(&class, &cap, amount)?),
            SetEndpoint { class, cap, endpoint } => done(state.set_endpoint(&class, &cap, &endpoint)?),
            RequestLeave { class, cap } => done(state.request_leave(ctx, &class, &cap)?),
            Withdraw { class, cap } => done(state.withdraw(ctx, &class, cap)?),
            Submit { class, args, mode, secret_hash, fee } => {
                // Move draws the seed before it checks anything else (`draw_seed` first).
                let request = fresh.object_id();
                let seed = fresh.random();
                let out = state.submit_mode(ctx, &class, request, args, mode, &secret_hash, fee, seed)?;
                Ok((out, Some(Created::Request(request))))
            }
            RevealSecret { class, request, secret } => done(state.reveal_secret(ctx, &class, &request, &secret)?),
            Commit { class, request, cap, commitment } => {
                done(state.commit(ctx, &class, &request, &cap, &commitment)?)
            }
            CommitPrimary { class, request, cap, commitment } => {
                let random = fresh.random();
                done(state.commit_primary(ctx, &class, &request, &cap, &commitment, random)?)
            }
            Abstain { class, request, cap } => {
                let random = fresh.random();
                done(state.abstain(ctx, &class, &request, &cap, random)?)
            }
            Decline { class, request, cap } => {
                let random = fresh.random();
                done(state.decline(ctx, &class, &request, &cap, random)?)
            }
            Reveal { class, request, cap, output, salt } => {
                done(state.reveal(ctx, &class, &request, &cap, &output, &salt)?)
            }
            SelectNodes { class, request } => done(state.select_nodes(ctx, &class, &request)?),
            OpenDispute { class, request } => {
                let random = fresh.random();
                done(state.open_dispute(ctx, &class, &request, random)?)
            }
            Expire { class, request } => {
                let random = fresh.random();
                done(state.expire(ctx, &class, &request, random)?)
            }
        }
    }
}
