//! One inference request (Move: the shared `Request` object): what was asked,
//! the fee it holds, who was assigned, what they committed and revealed, and
//! where it is in its life cycle.
//!
//! Each assignment is a `Slot`. A slot stays in the list after its node was
//! dropped (timed out, withheld or abstained) or released (a Sealed
//! candidate not chosen), so that a node is never assigned twice to one
//! request: every selection excludes every node that ever held a slot.
//!
//! A Sealed `Candidate` slot holds no stake and no task: its node is locked
//! only when the secret chooses it (it becomes a `Verifier`).
//!
//! Each round has a number of seats (`Request::seats`); a seat is empty when
//! fewer active members hold the round's seats, and waits for a refill
//! (docs/protocol.md, "Seats").
//!
//! Not for: the transitions themselves (see `ops`).

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::types::{Address, Digest, Input, Mode, ObjectId, Role, Round, Status};

/// One node's assignment to a request (BCS layout of Move's `Slot`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Slot {
    /// The assigned node (its `NodeCap`'s id).
    pub node_id: ObjectId,
    /// What the node does for the request.
    pub role: Role,
    /// Collateral locked for this slot while it is active (0 for a Sealed candidate).
    pub stake: u64,
    /// The node's commitment, once made.
    pub commitment: Option<Digest>,
    /// The output digest the node revealed, once revealed.
    pub reveal: Option<Digest>,
    /// The salt the node revealed (in the dispute round, its dispute key).
    pub salt: Option<Digest>,
    /// Takes part (and, unless a candidate, holds its stake); false once
    /// dropped, released or settled.
    pub active: bool,
}

impl Slot {
    /// A new active slot for `node_id`.
    pub(crate) fn new(node_id: ObjectId, role: Role, stake: u64) -> Self {
        Slot { node_id, role, stake, commitment: None, reveal: None, salt: None, active: true }
    }

    /// What the node voted for: in the dispute round the pair `(output_digest,
    /// dispute key)`, so that only a node holding the output bytes matches.
    pub fn vote(&self) -> Option<(Digest, Digest)> {
        Some((self.reveal?, self.salt?))
    }
}

/// The last selection drawn for a request; `select_nodes` performs it while
/// the status is `Selecting`, or while it is `Committing` with a non-zero
/// `count` (a refill; BCS layout of Move's `Selection`). It is always
/// present, as in Move, so that a draw writes the same fields whatever it gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Selection {
    /// Role of the nodes to select: `Verifier` (CrossValidation), `Disputer`,
    /// or the role of the empty seats to refill.
    pub role: Role,
    /// How many nodes to select (0: nothing pending).
    pub count: u64,
    /// The stored random seed the selection samples from.
    pub seed: Digest,
}

/// The shared `Request` object; its fields are Move's, in Move's order, so
/// its BCS is the object's contents.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The request object's id.
    pub id: ObjectId,
    /// The network the request belongs to.
    pub network_id: ObjectId,
    /// Who submitted it (refunds go here).
    pub requester: Address,
    /// The model to run.
    pub model_id: String,
    /// The model's hardware class, from which nodes are sampled.
    pub class_id: u64,
    /// Blake2b-256 of the input bytes.
    pub input_digest: Digest,
    /// The input, inline or by URI.
    pub input: Input,
    /// How the request is verified.
    pub mode: Mode,
    /// Sealed: `blake2b256(secret)`, published at submission.
    pub secret_hash: Option<Digest>,
    /// Sealed: the secret, once revealed.
    pub secret: Option<Digest>,
    /// CrossValidation/Sealed: whether the primary is checked, once drawn.
    pub checked: Option<bool>,
    /// Drawn from on-chain randomness at submission.
    pub seed: Digest,
    /// The commit timeout the requester chose.
    pub timeout_ms: u64,
    /// The network's parameters when the request was submitted: every later
    /// step reads this copy, so parameter changes never reach a request in flight.
    pub params: Params,
    /// Fee held until settlement (MIST).
    pub fee: u64,
    /// Slashed collateral held for the winners, the treasury's on failure (MIST).
    pub pool: u64,
    /// Where the request is in its life cycle.
    pub status: Status,
    /// The main round, or the dispute round.
    pub round: Round,
    /// End of the current phase (exclusive: actions need `now < deadline_ms`).
    pub deadline_ms: u64,
    /// Whether a first `expire` extended the current phase's deadline by the grace.
    pub extended: bool,
    /// Refills made so far.
    pub retries: u64,
    /// Whether a member abstained because it could not obtain the input (a
    /// failure then costs the requester the minimum fee).
    pub input_unavailable: bool,
    /// Every assignment ever made, in order.
    pub slots: Vec<Slot>,
    /// The last selection drawn; pending while the status is `Selecting`
    /// (at submission: role `Executor`, count 0, the request's seed).
    pub selection: Selection,
    /// Size of the dispute quorum, fixed when the dispute is raised (0 before).
    pub dispute_size: u64,
    /// The final output digest, once finalized.
    pub output_digest: Option<Digest>,
    /// Submission time (ms).
    pub created_ms: u64,
}

impl Request {
    /// The BCS contents of the Move object.
    pub fn to_bcs(&self) -> Vec<u8> {
        // BCS of plain structs of sized values cannot fail.
        bcs::to_bytes(self).expect("BCS of a request")
    }

    /// Starts a phase that ends at `deadline_ms` (with a fresh grace).
    pub(crate) fn set_deadline(&mut self, deadline_ms: u64) {
        self.deadline_ms = deadline_ms;
        self.extended = false;
    }

    /// Index of the active slot of `node_id`, if any.
    pub fn active_slot(&self, node_id: &ObjectId) -> Option<usize> {
        self.slots.iter().position(|s| s.active && s.node_id == *node_id)
    }

    /// Whether `node_id` ever held a slot on this request.
    pub fn has_node(&self, node_id: &ObjectId) -> bool {
        self.slots.iter().any(|s| s.node_id == *node_id)
    }

    /// Indices of the active slots that take part in the current round.
    pub fn members(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| self.slots[i].active && self.round.includes(self.slots[i].role)).collect()
    }

    /// The seats of the current round: `n` (Sampling), the primary's and,
    /// once checked, the `n` verifiers' (CrossValidation, Sealed), or the
    /// dispute quorum's size.
    pub fn seats(&self) -> u64 {
        match (self.round, self.mode) {
            (Round::Dispute, _) => self.dispute_size,
            (Round::Main, Mode::Sampling { n }) => n,
            (Round::Main, Mode::CrossValidation { n, .. } | Mode::Sealed { n, .. }) => {
                1 + if self.checked == Some(true) { n } else { 0 }
            }
        }
    }

    /// Seats of the current round no active member holds.
    pub fn empty_seats(&self) -> u64 {
        self.seats().saturating_sub(self.members().len() as u64)
    }

    /// Whether empty seats wait for `select_nodes` to refill them.
    pub fn refill_pending(&self) -> bool {
        self.status == Status::Committing && self.selection.count > 0
    }

    /// The primary of a CrossValidation or Sealed request: its first executor slot.
    pub fn primary(&self) -> Option<&Slot> {
        match self.mode {
            Mode::Sampling { .. } => None,
            _ => self.slots.iter().find(|s| s.active && s.role == Role::Executor),
        }
    }

    /// Ids of the active slots with `role`.
    pub fn nodes_with_role(&self, role: Role) -> Vec<ObjectId> {
        self.slots.iter().filter(|s| s.active && s.role == role).map(|s| s.node_id).collect()
    }

    /// Ids of every node that ever held a slot (excluded from new selections).
    pub fn all_nodes(&self) -> Vec<ObjectId> {
        self.slots.iter().map(|s| s.node_id).collect()
    }
}

#[cfg(test)]
impl Request {
    /// A Sealed request (p 50 %, n 1) in `status` and `round` holding
    /// `slots`, for unit tests.
    pub(crate) fn for_tests(status: Status, round: Round, slots: Vec<Slot>) -> Request {
        Request {
            id: ObjectId::from_u64(1),
            network_id: ObjectId::from_u64(2),
            requester: Address::from_u64(3),
            model_id: "m".into(),
            class_id: 0,
            input_digest: Digest([0; 32]),
            input: Input::Inline(Vec::new()),
            mode: Mode::Sealed { p_bps: 5_000, n: 1 },
            secret_hash: None,
            secret: None,
            checked: None,
            seed: Digest([0; 32]),
            timeout_ms: 1_000,
            params: Params::default(),
            fee: 0,
            pool: 0,
            status,
            round,
            deadline_ms: 10_000,
            extended: false,
            retries: 0,
            input_unavailable: false,
            slots,
            selection: Selection { role: Role::Executor, count: 0, seed: Digest([0; 32]) },
            dispute_size: 0,
            output_digest: None,
            created_ms: 0,
        }
    }
}
