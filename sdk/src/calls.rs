//! One typed function per entry function of the package (`docs/move.md`),
//! each a Move call through `Chain::execute`. A protocol rule that aborts
//! the call comes back as `SdkError::Protocol` with the protocol's error.
//!
//! Not for: building or sending transactions (see `chain`).

use atoma_protocol::entry;
use atoma_protocol::ops::KeeperCall;
use atoma_protocol::{Event, Mode, Params, SubmitArgs};
use sui_sdk_types::Address;

use crate::chain::{Arg, Call, Chain, Executed};
use crate::error::{Result, SdkError};

fn call(module: &'static str, function: &'static str, args: Vec<Arg>) -> Call {
    Call { module, function, args }
}

fn submit_prefix(class: Address, args: &SubmitArgs) -> Vec<Arg> {
    vec![
        Arg::NetworkRef,
        Arg::Class(class),
        Arg::str(&args.model_id),
        Arg::bytes(&args.input_digest),
        Arg::bytes(&args.input_inline),
        Arg::opt_str(args.input_uri.as_deref()),
        Arg::u64(args.timeout_ms),
    ]
}

/// The call of `request::commit`, or of `request::commit_primary` when
/// `primary`, on a request of the class object `class` (for
/// `Chain::execute_journaled`).
pub fn commit_call(class: Address, request: Address, node_cap: Address, commitment: &[u8; 32], primary: bool) -> Call {
    let mut args = vec![Arg::ClassRef(class), Arg::Request(request), Arg::Owned(node_cap), Arg::bytes(commitment)];
    if primary {
        args.push(Arg::Random);
    }
    args.push(Arg::Clock);
    call("request", if primary { "commit_primary" } else { "commit" }, args)
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
    let args = vec![
        Arg::Class(class),
        Arg::Request(request),
        Arg::Owned(node_cap),
        Arg::bytes(output_digest),
        Arg::bytes(salt),
        Arg::Clock,
    ];
    call("request", "reveal", args)
}

/// The call of `request::abstain` (the node cannot obtain the input) on a
/// request of the class object `class` (for `Chain::execute_journaled`).
pub fn abstain_call(class: Address, request: Address, node_cap: Address) -> Call {
    let args = vec![Arg::Class(class), Arg::Request(request), Arg::Owned(node_cap), Arg::Random, Arg::Clock];
    call("request", "abstain", args)
}

/// The call of `request::decline` (the node cannot run the request in time)
/// on a request of the class object `class` (for `Chain::execute_journaled`).
pub fn decline_call(class: Address, request: Address, node_cap: Address) -> Call {
    let args = vec![Arg::Class(class), Arg::Request(request), Arg::Owned(node_cap), Arg::Random, Arg::Clock];
    call("request", "decline", args)
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
        let args = vec![
            Arg::Network,
            Arg::Owned(admin_cap),
            Arg::str(name),
            Arg::str(profile),
            Arg::u64(min_collateral),
            Arg::u64(task_lock),
        ];
        let executed = self.execute(call("network", "add_hardware_class", args)).await?;
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
        let args = vec![
            Arg::Network,
            Arg::Owned(admin_cap),
            Arg::Class(self.class_object(class_id).await?),
            Arg::str(model_id),
            Arg::bytes(weight_digest),
            Arg::u64(max_run_ms),
        ];
        self.execute(call("network", "add_model", args)).await
    }

    /// `network::set_params`.
    pub async fn set_params(&self, admin_cap: Address, p: &Params) -> Result<Executed> {
        let values = p.values();
        let mut args = vec![Arg::Network, Arg::Owned(admin_cap)];
        args.extend(values.into_iter().map(Arg::u64));
        self.execute(call("network", "set_params", args)).await
    }

    /// `network::migrate`: after a package upgrade, moves the `Network` to
    /// the new package's version (call it through the new package).
    pub async fn migrate(&self, admin_cap: Address) -> Result<Executed> {
        self.execute(call("network", "migrate", vec![Arg::Network, Arg::Owned(admin_cap)])).await
    }

    /// `network::migrate_class`: after `migrate`, moves class `class_id` to the new package's version.
    pub async fn migrate_class(&self, admin_cap: Address, class_id: u64) -> Result<Executed> {
        let class = Arg::Class(self.class_object(class_id).await?);
        self.execute(call("network", "migrate_class", vec![Arg::NetworkRef, Arg::Owned(admin_cap), class])).await
    }

    /// `network::sweep_revenue`: moves class `class_id`'s revenue to the treasury.
    pub async fn sweep_revenue(&self, admin_cap: Address, class_id: u64) -> Result<Executed> {
        let class = self.class_object(class_id).await?;
        self.execute(call("network", "sweep_revenue", vec![Arg::Network, Arg::Owned(admin_cap), Arg::Class(class)]))
            .await
    }

    /// `network::withdraw_treasury`: pays `amount` to the sender.
    pub async fn withdraw_treasury(&self, admin_cap: Address, amount: u64) -> Result<Executed> {
        self.execute(call("network", "withdraw_treasury", vec![Arg::Network, Arg::Owned(admin_cap), Arg::u64(amount)]))
            .await
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
        let args = vec![
            Arg::Class(self.class_object(class_id).await?),
            Arg::Payment(collateral),
            Arg::str(endpoint),
            Arg::bytes(public_key),
        ];
        let executed = self.execute(call("node", "register_node", args)).await?;
        let id = executed.events.iter().find_map(|e| match e {
            Event::NodeRegistered(r) => Some(Address::from(r.node_id)),
            _ => None,
        });
        let id = id.ok_or_else(|| SdkError::decode("no NodeRegistered event"))?;
        Ok((id, executed))
    }

    /// `node::add_collateral` with `amount` MIST from the sender's coins.
    pub async fn add_collateral(&self, node_cap: Address, amount: u64) -> Result<Executed> {
        let class = Arg::Class(self.node_class(node_cap).await?);
        self.execute(call("node", "add_collateral", vec![class, Arg::Owned(node_cap), Arg::Payment(amount)])).await
    }

    /// `node::set_endpoint`.
    pub async fn set_endpoint(&self, node_cap: Address, endpoint: &str) -> Result<Executed> {
        let class = Arg::Class(self.node_class(node_cap).await?);
        self.execute(call("node", "set_endpoint", vec![class, Arg::Owned(node_cap), Arg::str(endpoint)])).await
    }

    /// `node::request_leave`.
    pub async fn request_leave(&self, node_cap: Address) -> Result<Executed> {
        let class = Arg::Class(self.node_class(node_cap).await?);
        self.execute(call("node", "request_leave", vec![Arg::NetworkRef, class, Arg::Owned(node_cap), Arg::Clock]))
            .await
    }

    /// `node::withdraw`: pays the collateral to the node's owner and deletes the cap.
    pub async fn withdraw(&self, node_cap: Address) -> Result<Executed> {
        let class = Arg::Class(self.node_class(node_cap).await?);
        self.execute(call("node", "withdraw", vec![Arg::NetworkRef, class, Arg::Owned(node_cap), Arg::Clock])).await
    }

    // === Requester ===

    /// `request::submit_sampling`, `submit_cross_validation` or
    /// `submit_sealed`, as `mode` asks (`entry::submit_function`), paying
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
            (Mode::Sealed { .. }, Some(hash)) => &hash[..],
            (Mode::Sealed { .. }, None) => {
                return Err(SdkError::InvalidArgument("a Sealed submission needs its secret's hash".into()));
            }
            (Mode::Sampling { .. } | Mode::CrossValidation { .. }, None) => &[][..],
            (Mode::Sampling { .. } | Mode::CrossValidation { .. }, Some(_)) => {
                return Err(SdkError::InvalidArgument("only a Sealed submission takes a secret hash".into()));
            }
        };
        let mut a = submit_prefix(self.model_class(&args.model_id).await?, args);
        a.extend(entry::mode_args(mode, secret_hash).into_iter().map(Arg::Pure));
        a.extend([Arg::Payment(fee), Arg::Random, Arg::Clock]);
        let executed = self.execute(call("request", entry::submit_function(mode), a)).await?;
        Ok((submitted(&executed)?, executed))
    }

    /// `request::reveal_secret` (the requester, or a chosen verifier that received it).
    pub async fn reveal_secret(&self, request: Address, secret: &[u8; 32]) -> Result<Executed> {
        let class = Arg::Class(self.request_class(request).await?);
        let args = vec![class, Arg::Request(request), Arg::bytes(secret), Arg::Clock];
        self.execute(call("request", "reveal_secret", args)).await
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
        let class = Arg::Class(self.request_class(request).await?);
        self.execute(call("request", "select_nodes", vec![class, Arg::Request(request), Arg::Clock])).await
    }

    /// `request::open_dispute`: draws a disputed request's quorum seed.
    pub async fn open_dispute(&self, request: Address) -> Result<Executed> {
        let class = Arg::ClassRef(self.request_class(request).await?);
        self.execute(call("request", "open_dispute", vec![class, Arg::Request(request), Arg::Random])).await
    }

    /// `request::expire`: after a deadline, the first call extends it by the
    /// request's grace, the second ends the phase.
    pub async fn expire(&self, request: Address) -> Result<Executed> {
        let class = Arg::Class(self.request_class(request).await?);
        self.execute(call("request", "expire", vec![class, Arg::Request(request), Arg::Random, Arg::Clock])).await
    }
}
