//! Node operations, authorized by the node's `NodeCap` (Move module `node`).

use super::{Ctx, Outcome, State};
use crate::error::{ProtocolError, Result};
use crate::events::{CollateralAdded, EndpointUpdated, NodeLeaving, NodeRegistered, NodeWithdrawn};
use crate::params::MAX_ENDPOINT_LEN;
use crate::state::{Node, NodeCap};
use crate::types::ObjectId;

fn check_endpoint(endpoint: &str) -> Result<()> {
    if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT_LEN { Err(ProtocolError::InvalidEndpoint) } else { Ok(()) }
}

impl State {
    /// Registers a node in `class_id` with `collateral` (the whole payment
    /// coin), its output server's `endpoint` and its Ed25519 `public_key`.
    /// Returns the `NodeCap` (id `cap_id`), which is also the node's id.
    ///
    /// Errors: `UnknownClass`, `InsufficientCollateral`, `InvalidEndpoint`, `InvalidPublicKey`.
    pub fn register_node(
        &mut self,
        ctx: &Ctx,
        cap_id: ObjectId,
        class_id: u64,
        collateral: u64,
        endpoint: &str,
        public_key: &[u8],
    ) -> Result<(NodeCap, Outcome)> {
        let class = self.network.class(class_id)?;
        if collateral < class.min_collateral {
            return Err(ProtocolError::InsufficientCollateral);
        }
        check_endpoint(endpoint)?;
        if public_key.len() != 32 {
            return Err(ProtocolError::InvalidPublicKey);
        }
        self.network.nodes.insert(
            cap_id,
            Node {
                owner: ctx.sender,
                class_id,
                collateral,
                locked: 0,
                open_tasks: 0,
                leaving_since_ms: None,
                endpoint: endpoint.to_string(),
                public_key: public_key.to_vec(),
                completed: 0,
                slashed: 0,
            },
        );
        self.network.sync_node(&cap_id);
        let mut out = Outcome::default();
        out.emit(NodeRegistered {
            node_id: cap_id,
            owner: ctx.sender,
            class_id,
            collateral,
            endpoint: endpoint.to_string(),
            public_key: public_key.to_vec(),
        });
        Ok((NodeCap { id: cap_id, network_id: self.network.id }, out))
    }

    fn node_of(&self, cap: &NodeCap) -> Result<&Node> {
        self.network.check_network(&cap.network_id)?;
        self.network.node(&cap.node_id())
    }

    /// Adds `amount` (the whole payment coin) to the node's collateral; a
    /// node slashed below the class minimum becomes eligible again this way.
    ///
    /// Errors: `WrongNetwork`, `UnknownNode`.
    pub fn add_collateral(&mut self, cap: &NodeCap, amount: u64) -> Result<Outcome> {
        self.node_of(cap)?;
        let node_id = cap.node_id();
        let node = self.network.nodes.get_mut(&node_id).ok_or(ProtocolError::UnknownNode)?;
        node.collateral += amount;
        let collateral = node.collateral;
        self.network.sync_node(&node_id);
        let mut out = Outcome::default();
        out.emit(CollateralAdded { node_id, amount, collateral });
        Ok(out)
    }

    /// Changes the node's output server address.
    ///
    /// Errors: `WrongNetwork`, `UnknownNode`, `InvalidEndpoint`.
    pub fn set_endpoint(&mut self, cap: &NodeCap, endpoint: &str) -> Result<Outcome> {
        self.node_of(cap)?;
        check_endpoint(endpoint)?;
        let node_id = cap.node_id();
        let node = self.network.nodes.get_mut(&node_id).ok_or(ProtocolError::UnknownNode)?;
        node.endpoint = endpoint.to_string();
        let mut out = Outcome::default();
        out.emit(EndpointUpdated { node_id, endpoint: endpoint.to_string() });
        Ok(out)
    }

    /// Stops new assignments and starts the unbonding delay; open tasks continue.
    ///
    /// Errors: `WrongNetwork`, `UnknownNode`, `AlreadyLeaving`.
    pub fn request_leave(&mut self, ctx: &Ctx, cap: &NodeCap) -> Result<Outcome> {
        if self.node_of(cap)?.leaving_since_ms.is_some() {
            return Err(ProtocolError::AlreadyLeaving);
        }
        let node_id = cap.node_id();
        let node = self.network.nodes.get_mut(&node_id).ok_or(ProtocolError::UnknownNode)?;
        node.leaving_since_ms = Some(ctx.now_ms);
        let class_id = node.class_id;
        self.network.remove_from_active(class_id, &node_id);
        let withdraw_after_ms = ctx.now_ms.saturating_add(self.network.params.unbonding_delay_ms);
        let mut out = Outcome::default();
        out.emit(NodeLeaving { node_id, withdraw_after_ms });
        Ok(out)
    }

    /// Pays the whole collateral to the node's owner, deletes the node and
    /// consumes its cap.
    ///
    /// Errors: `WrongNetwork`, `UnknownNode`, `NotLeaving`, `Unbonding`, `OpenTasks`.
    pub fn withdraw(&mut self, ctx: &Ctx, cap: NodeCap) -> Result<Outcome> {
        let node = self.node_of(&cap)?;
        let since = node.leaving_since_ms.ok_or(ProtocolError::NotLeaving)?;
        if ctx.now_ms < since.saturating_add(self.network.params.unbonding_delay_ms) {
            return Err(ProtocolError::Unbonding);
        }
        if node.open_tasks > 0 {
            return Err(ProtocolError::OpenTasks);
        }
        let node_id = cap.node_id();
        let node = self.network.nodes.remove(&node_id).ok_or(ProtocolError::UnknownNode)?;
        let mut out = Outcome::default();
        out.pay(node.owner, node.collateral);
        out.emit(NodeWithdrawn { node_id, amount: node.collateral });
        Ok(out)
    }
}
