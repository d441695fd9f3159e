//! One typed function per entry function of the package (`docs/move.md`),
//! each a Move call through `Chain::execute`, built as the protocol's typed
//! `EntryCall` (`atoma_protocol::entry`), which places its arguments in the
//! function's order. A protocol rule that aborts the call comes back as
//! `SdkError::Protocol` with the protocol's error.
//!
//! Not for: building or sending transactions (see `chain`).

use atoma_protocol::ops::KeeperCall;
use atoma_protocol::{Event, Mode, ObjectId, Params, SubmitArgs};
use sui_sdk_types::Address;

use crate::chain::{Call, Chain, Executed};
use crate::error::{Result, SdkError};

/// A call of the package, capabilities named by their object ids.
type EntryCall = atoma_protocol::entry::EntryCall<ObjectId, ObjectId>;

fn id(address: Address) -> ObjectId {
    ObjectId::from(address)
}

/// The call of `request::commit`, or of `request::commit_primary` when
/// `primary`, on a request of the class object `class` (for
/// `Chain::execute_journaled`).
pub fn commit_call(class: Address, request: Address, node_cap: Address, commitment: &[u8; 32], primary: bool) -> Call {
    let (class, request, cap, commitment) = (id(class), id(request), id(node_cap), commitment.to_vec());
    if primary {
        EntryCall::CommitPrimary { class, request, cap, commitment }.into()
    } else {
        EntryCall::Commit { class, request, cap, commitment }.into()
    }
}

/// The call of `request::reveal` on a request of the class object `class`
/// (for `Chain::execute_journaled`).
pub fn reveal_call(
    class: Address,
    request: Address,
    node_cap: Address,
    output_digest: &[u8; 32],
    salt: &[u8; 32],
) -> Call {
    let (output, salt) = (output_digest.to_vec(), salt.to_vec());
    EntryCall::Reveal { class: id(class), request: id(request), cap: id(node_cap), output, salt }.into()
}

/// The call of `request::abstain` (the node cannot obtain the input) on a
/// request of the class object `class` (for `Chain::execute_journaled`).
pub fn abstain_call(class: Address, request: Address, node_cap: Address) -> Call {
    EntryCall::Abstain { class: id(class), request: id(request), cap: id(node_cap) }.into()
}

/// The call of `request::decline` (the node cannot run the request in time)
/// on a request of the class object `class` (for `Chain::execute_journaled`).
pub fn decline_call(class: Address, request: Address, node_cap: Address) -> Call {
    EntryCall::Decline { class: id(class), request: id(request), cap: id(node_cap) }.into()
}

/// The id of the request a submission created.
fn submitted(executed: &Executed) -> Result<Address> {
    executed
        .events
        .iter()
        .find_map(|e| match e {
            Event::RequestSubmitted(s) => Some(Address::from(s.request_id)),
            _ => None,
        })
        .ok_or_else(|| SdkError::decode(format!("transaction {} emitted no RequestSubmitted", executed.digest)))
}

impl Chain {
    // === Admin ===

    /// `network::add_hardware_class`: returns the new class's id (its shared
    /// object is in the `HardwareClassAdded` event). `profile` is the
    /// determinism profile its nodes must run with (an executor's
    /// `ClassProfile::chain_profile`).
    pub async fn add_hardware_class(
        &self,
        admin_cap: Address,
        name: &str,
        profile: &str,
        min_collateral: u64,
        task_lock: u64,
    ) -> Result<(u64, Executed)> {
        let (cap, name, profile) = (id(admin_cap), name.to_string(), profile.to_string());
        let call = EntryCall::AddHardwareClass { cap, name, profile, min_collateral, task_lock };
        let executed = self.execute(call.into()).await?;
        let added = executed.events.iter().find_map(|e| match e {
            Event::HardwareClassAdded(c) => Some((c.class_id, c.object_id)),
            _ => None,
        });
        let (id, object) = added.ok_or_else(|| SdkError::decode("no HardwareClassAdded event"))?;
        self.class_objects.lock().expect("class cache").insert(id, Address::from(object));
        Ok((id, executed))
    }

    /// `network::add_model`.
    pub async fn add_model(
        &self,
        admin_cap: Address,
        model_id: &str,
        weight_digest: &[u8],
        class_id: u64,
        max_run_ms: u64,
    ) -> Result<Executed> {
        let class = id(self.class_object(class_id).await?);
        let (cap, model, digest) = (id(admin_cap), model_id.to_string(), weight_digest.to_vec());
        self.execute(EntryCall::AddModel { cap, class, id: model, digest, max_run_ms }.into()).await
    }

    /// `network::set_params`.
    pub async fn set_params(&self, admin_cap: Address, p: &Params) -> Result<Executed> {
        self.execute(EntryCall::SetParams { cap: id(admin_cap), params: *p }.into()).await
    }

    /// `network::migrate`: after a package upgrade, moves the `Network` to
    /// the new package's version (call it through the new package).
    pub async fn migrate(&self, admin_cap: Address) -> Result<Executed> {
        self.execute(EntryCall::Migrate { cap: id(admin_cap) }.into()).await
    }

    /// `network::migrate_class`: after `migrate`, moves class `class_id` to the new package's version.
    pub async fn migrate_class(&self, admin_cap: Address, class_id: u64) -> Result<Executed> {
        let class = id(self.class_object(class_id).await?);
        self.execute(EntryCall::MigrateClass { cap: id(admin_cap), class }.into()).await
    }

    /// `network::sweep_revenue`: moves class `class_id`'s revenue to the treasury.
    pub async fn sweep_revenue(&self, admin_cap: Address, class_id: u64) -> Result<Executed> {
        let class = id(self.class_object(class_id).await?);
        self.execute(EntryCall::SweepRevenue { cap: id(admin_cap), class }.into()).await
    }

    /// `network::withdraw_treasury`: pays `amount` to the sender.
    pub async fn withdraw_treasury(&self, admin_cap: Address, amount: u64) -> Result<Executed> {
        self.execute(EntryCall::WithdrawTreasury { cap: id(admin_cap), amount }.into()).await
    }

    // === Node ===

    /// `node::register_node` with `collateral` MIST from the sender's coins;
    /// returns the node's id (its `NodeCap`'s id).
    pub async fn register_node(
        &self,
        class_id: u64,
        collateral: u64,
        endpoint: &str,
        public_key: &[u8],
    ) -> Result<(Address, Executed)> {
        let class = id(self.class_object(class_id).await?);
        let (endpoint, key) = (endpoint.to_string(), public_key.to_vec());
        let executed = self.execute(EntryCall::RegisterNode { class, collateral, endpoint, key }.into()).await?;
        let id = executed.events.iter().find_map(|e| match e {
            Event::NodeRegistered(r) => Some(Address::from(r.node_id)),
            _ => None,
        });
        let id = id.ok_or_else(|| SdkError::decode("no NodeRegistered event"))?;
        Ok((id, executed))
    }

    /// `node::add_collateral` with `amount` MIST from the sender's coins.
    pub async fn add_collateral(&self, node_cap: Address, amount: u64) -> Result<Executed> {
        let class = id(self.node_class(node_cap).await?);
        self.execute(EntryCall::AddCollateral { class, cap: id(node_cap), amount }.into()).await
    }

    /// `node::set_endpoint`.
    pub async fn set_endpoint(&self, node_cap: Address, endpoint: &str) -> Result<Executed> {
        let class = id(self.node_class(node_cap).await?);
        self.execute(EntryCall::SetEndpoint { class, cap: id(node_cap), endpoint: endpoint.to_string() }.into()).await
    }

    /// `node::request_leave`.
    pub async fn request_leave(&self, node_cap: Address) -> Result<Executed> {
        let class = id(self.node_class(node_cap).await?);
        self.execute(EntryCall::RequestLeave { class, cap: id(node_cap) }.into()).await
    }

    /// `node::withdraw`: pays the collateral to the node's owner and deletes the cap.
    pub async fn withdraw(&self, node_cap: Address) -> Result<Executed> {
        let class = id(self.node_class(node_cap).await?);
        self.execute(EntryCall::Withdraw { class, cap: id(node_cap) }.into()).await
    }

    // === Requester ===

    /// `request::submit_sampling`, `submit_cross_validation` or
    /// `submit_sealed`, as `mode` asks (`atoma_protocol::entry::submit_function`), paying
    /// `fee`; `secret_hash` (`blake2b256(secret)`) is for Sealed only.
    /// Returns the request's id.
    pub async fn submit(
        &self,
        args: &SubmitArgs,
        mode: Mode,
        secret_hash: Option<&[u8; 32]>,
        fee: u64,
    ) -> Result<(Address, Executed)> {
        let secret_hash = match (mode, secret_hash) {
            (Mode::Sealed { .. }, Some(hash)) => hash.to_vec(),
            (Mode::Sealed { .. }, None) => {
                return Err(SdkError::InvalidArgument("a Sealed submission needs its secret's hash".into()));
            }
            (Mode::Sampling { .. } | Mode::CrossValidation { .. }, None) => Vec::new(),
            (Mode::Sampling { .. } | Mode::CrossValidation { .. }, Some(_)) => {
                return Err(SdkError::InvalidArgument("only a Sealed submission takes a secret hash".into()));
            }
        };
        let class = id(self.model_class(&args.model_id).await?);
        let call = EntryCall::Submit { class, args: args.clone(), mode, secret_hash, fee };
        let executed = self.execute(call.into()).await?;
        Ok((submitted(&executed)?, executed))
    }

    /// `request::reveal_secret` (the requester, or a chosen verifier that received it).
    pub async fn reveal_secret(&self, request: Address, secret: &[u8; 32]) -> Result<Executed> {
        let class = id(self.request_class(request).await?);
        self.execute(EntryCall::RevealSecret { class, request: id(request), secret: secret.to_vec() }.into()).await
    }

    // === Executor ===

    /// `request::commit`.
    pub async fn commit(&self, request: Address, node_cap: Address, commitment: &[u8; 32]) -> Result<Executed> {
        self.execute(commit_call(self.request_class(request).await?, request, node_cap, commitment, false)).await
    }

    /// `request::commit_primary` (the CrossValidation primary; draws the coin flip).
    pub async fn commit_primary(&self, request: Address, node_cap: Address, commitment: &[u8; 32]) -> Result<Executed> {
        self.execute(commit_call(self.request_class(request).await?, request, node_cap, commitment, true)).await
    }

    /// `request::abstain`: the node cannot obtain the request's input (a URI)
    /// and leaves its seat, neither slashed nor paid; the seat is refilled.
    pub async fn abstain(&self, request: Address, node_cap: Address) -> Result<Executed> {
        self.execute(abstain_call(self.request_class(request).await?, request, node_cap)).await
    }

    /// `request::decline`: the node cannot run the request in time (it does
    /// not serve the model, or its queue is too long) and leaves its seat,
    /// neither slashed nor paid; the seat is refilled.
    pub async fn decline(&self, request: Address, node_cap: Address) -> Result<Executed> {
        self.execute(decline_call(self.request_class(request).await?, request, node_cap)).await
    }

    /// `request::reveal`.
    pub async fn reveal(
        &self,
        request: Address,
        node_cap: Address,
        output_digest: &[u8; 32],
        salt: &[u8; 32],
    ) -> Result<Executed> {
        self.execute(reveal_call(self.request_class(request).await?, request, node_cap, output_digest, salt)).await
    }

    // === Anyone (keepers) ===

    /// One of the calls anyone may make to move a request on.
    pub async fn keeper(&self, call: KeeperCall, request: Address) -> Result<Executed> {
        match call {
            KeeperCall::SelectNodes => self.select_nodes(request).await,
            KeeperCall::OpenDispute => self.open_dispute(request).await,
            KeeperCall::Expire => self.expire(request).await,
        }
    }

    /// `request::select_nodes`.
    pub async fn select_nodes(&self, request: Address) -> Result<Executed> {
        let class = id(self.request_class(request).await?);
        self.execute(EntryCall::SelectNodes { class, request: id(request) }.into()).await
    }

    /// `request::open_dispute`: draws a disputed request's quorum seed.
    pub async fn open_dispute(&self, request: Address) -> Result<Executed> {
        let class = id(self.request_class(request).await?);
        self.execute(EntryCall::OpenDispute { class, request: id(request) }.into()).await
    }

    /// `request::expire`: after a deadline, the first call extends it by the
    /// request's grace, the second ends the phase.
    pub async fn expire(&self, request: Address) -> Result<Executed> {
        let class = id(self.request_class(request).await?);
        self.execute(EntryCall::Expire { class, request: id(request) }.into()).await
    }
}
