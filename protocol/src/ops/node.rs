//! Node operations, authorized by the node's `NodeCap` (Move module `node`).
//! Each changes only the node's class object; `request_leave` reads the
//! `Network`'s unbonding delay and fixes the node's exit time with it.

use super::{Ctx, Outcome, State};
use crate::error::{ProtocolError, Result, add};
use crate::events::{CollateralAdded, EndpointUpdated, NodeLeaving, NodeRegistered, NodeWithdrawn};
use crate::params::MAX_ENDPOINT_LEN;
use crate::state::{HardwareClass, Node, NodeCap};
use crate::types::ObjectId;

fn check_endpoint(endpoint: &str) -> Result<()> {
    if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT_LEN { Err(ProtocolError::InvalidEndpoint) } else { Ok(()) }
}

impl State {
    /// Registers a node in the class `class` with `collateral` (the whole
    /// payment coin), its output server's `endpoint` and its Ed25519
    /// `public_key`. Returns the `NodeCap` (id `cap_id`), which is also the
    /// node's id.
    ///
    /// Errors: `UnknownClass`, `WrongNetwork`, `WrongVersion`,
    /// `InsufficientCollateral`, `InvalidEndpoint`, `InvalidPublicKey`.
    pub fn register_node(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        cap_id: ObjectId,
        collateral: u64,
        endpoint: &str,
        public_key: &[u8],
    ) -> Result<(NodeCap, Outcome)> {
        let c = self.class_current(class)?;
        if collateral < c.min_collateral {
            return Err(ProtocolError::InsufficientCollateral);
        }
        check_endpoint(endpoint)?;
        if public_key.len() != 32 {
            return Err(ProtocolError::InvalidPublicKey);
        }
        let c = self.class_mut(class);
        let class_id = c.class_id;
        c.insert_node(
            cap_id,
            Node {
                owner: ctx.sender,
                class_id,
                collateral,
                locked: 0,
                open_tasks: 0,
                withdraw_after_ms: None,
                endpoint: endpoint.to_string(),
                public_key: public_key.to_vec(),
                completed: 0,
                slashed: 0,
            },
        );
        let mut out = Outcome::default();
        out.emit(NodeRegistered {
            node_id: cap_id,
            owner: ctx.sender,
            class_id,
            collateral,
            endpoint: endpoint.to_string(),
            public_key: public_key.to_vec(),
        });
        Ok((NodeCap { id: cap_id, network_id: c.network_id, class_id }, out))
    }

    /// The class and node `cap` acts for (`UnknownClass`, `WrongNetwork`,
    /// `WrongVersion`, `WrongClass`, `UnknownNode`).
    fn node_of(&self, class: &ObjectId, cap: &NodeCap) -> Result<(&HardwareClass, &Node)> {
        let c = self.class_current(class)?;
        c.check_member(&cap.network_id, cap.class_id)?;
        Ok((c, c.node(&cap.node_id())?))
    }

    /// The node, mutable, once `node_of` found it.
    fn node_mut(&mut self, class: &ObjectId, cap: &NodeCap) -> &mut Node {
        // Callers look the node up with `node_of` first.
        self.class_mut(class).nodes.get_mut(&cap.node_id()).expect("node checked before mutation")
    }

    /// Adds `amount` (the whole payment coin) to the node's collateral; a
    /// node slashed below the class minimum becomes eligible again this way.
    ///
    /// Errors: those of `node_of`.
    pub fn add_collateral(&mut self, class: &ObjectId, cap: &NodeCap, amount: u64) -> Result<Outcome> {
        let collateral = add(self.node_of(class, cap)?.1.collateral, amount)?;
        self.node_mut(class, cap).collateral = collateral;
        let node_id = cap.node_id();
        self.class_mut(class).sync_node(&node_id);
        let mut out = Outcome::default();
        out.emit(CollateralAdded { node_id, amount, collateral });
        Ok(out)
    }

    /// Changes the node's output server address.
    ///
    /// Errors: those of `node_of`, `InvalidEndpoint`.
    pub fn set_endpoint(&mut self, class: &ObjectId, cap: &NodeCap, endpoint: &str) -> Result<Outcome> {
        self.node_of(class, cap)?;
        check_endpoint(endpoint)?;
        self.node_mut(class, cap).endpoint = endpoint.to_string();
        let mut out = Outcome::default();
        out.emit(EndpointUpdated { node_id: cap.node_id(), endpoint: endpoint.to_string() });
        Ok(out)
    }

    /// Stops new assignments (admitted or drafted) and fixes the node's exit
    /// at `now + unbonding_delay_ms`; open tasks continue.
    ///
    /// Errors: `WrongVersion` (the network's), those of `node_of`,
    /// `AlreadyLeaving`, `ArithmeticError`.
    pub fn request_leave(&mut self, ctx: &Ctx, class: &ObjectId, cap: &NodeCap) -> Result<Outcome> {
        self.network_current()?;
        if self.node_of(class, cap)?.1.leaving() {
            return Err(ProtocolError::AlreadyLeaving);
        }
        let node_id = cap.node_id();
        let withdraw_after_ms = add(ctx.now_ms, self.network.params.unbonding_delay_ms)?;
        self.node_mut(class, cap).withdraw_after_ms = Some(withdraw_after_ms);
        self.class_mut(class).sync_node(&node_id);
        let mut out = Outcome::default();
        out.emit(NodeLeaving { node_id, withdraw_after_ms });
        Ok(out)
    }

    /// From the exit time fixed by `request_leave` on, pays the whole
    /// collateral to the node's owner, deletes the node and consumes its cap.
    ///
    /// Errors: `WrongVersion` (the network's), those of `node_of`, `NotLeaving`,
    /// `Unbonding`, `OpenTasks`.
    pub fn withdraw(&mut self, ctx: &Ctx, class: &ObjectId, cap: NodeCap) -> Result<Outcome> {
        self.network_current()?;
        let (_, node) = self.node_of(class, &cap)?;
        let exit = node.withdraw_after_ms.ok_or(ProtocolError::NotLeaving)?;
        if ctx.now_ms < exit {
            return Err(ProtocolError::Unbonding);
        }
        if node.open_tasks > 0 {
            return Err(ProtocolError::OpenTasks);
        }
        let node_id = cap.node_id();
        let node = self.class_mut(class).remove_node(&node_id)?;
        let mut out = Outcome::default();
        out.pay(node.owner, node.collateral);
        out.emit(NodeWithdrawn { node_id, amount: node.collateral });
        Ok(out)
    }
}
