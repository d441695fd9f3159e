//! The package's events: one struct per state change a client must see.
//!
//! Each struct's fields are in the order of the Move struct of the same name
//! in module `atoma::events`, so `bcs::from_bytes` decodes what Move emits
//! (and the localnet emits exactly these bytes). The vectors in
//! `tests/vectors/events.json` pin the layouts for the Move tests.
//!
//! Field meanings are in `docs/protocol.md` (section Events); each name says
//! what the field holds.
//!
//! Not for: deciding anything; events only report what the state machine did.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::types::{Address, Digest, FailReason, Input, Mode, ObjectId, Role, Round, SlashReason};

/// The Move module that declares every event.
pub const EVENTS_MODULE: &str = "events";

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NetworkCreated {
    pub network_id: ObjectId,
    pub admin_cap_id: ObjectId,
    pub params: Params,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct HardwareClassAdded {
    pub class_id: u64,
    /// The class's shared object.
    pub object_id: ObjectId,
    pub name: String,
    pub profile: String,
    pub min_collateral: u64,
    pub task_lock: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ModelAdded {
    pub model_id: String,
    pub weight_digest: Digest,
    pub class_id: u64,
    /// The model's run-time bound on its class (ms).
    pub max_run_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ParamsUpdated {
    pub params: Params,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TreasuryWithdrawn {
    pub amount: u64,
    pub recipient: Address,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RevenueSwept {
    pub class_id: u64,
    pub amount: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Migrated {
    pub object_id: ObjectId,
    pub version: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeRegistered {
    pub node_id: ObjectId,
    pub owner: Address,
    pub class_id: u64,
    pub collateral: u64,
    pub endpoint: String,
    pub public_key: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CollateralAdded {
    pub node_id: ObjectId,
    pub amount: u64,
    pub collateral: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EndpointUpdated {
    pub node_id: ObjectId,
    pub endpoint: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeLeaving {
    pub node_id: ObjectId,
    pub withdraw_after_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeWithdrawn {
    pub node_id: ObjectId,
    pub amount: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RequestSubmitted {
    pub request_id: ObjectId,
    pub requester: Address,
    pub model_id: String,
    pub input_digest: Digest,
    pub input: Input,
    pub mode: Mode,
    pub fee: u64,
    pub seed: Digest,
    pub timeout_ms: u64,
}

/// Nodes were assigned to a request: the quorum or primary at submission,
/// a Sealed pool (`Candidate`), CrossValidation verifiers, a dispute quorum,
/// or replacements for silent nodes.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodesSelected {
    pub request_id: ObjectId,
    pub role: Role,
    pub nodes: Vec<ObjectId>,
    pub deadline_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Committed {
    pub request_id: ObjectId,
    pub node_id: ObjectId,
    pub commitment: Digest,
}

/// The CrossValidation coin flip, drawn when the primary committed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VerificationDrawn {
    pub request_id: ObjectId,
    pub checked: bool,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RevealPhaseStarted {
    pub request_id: ObjectId,
    pub round: Round,
    pub deadline_ms: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Revealed {
    pub request_id: ObjectId,
    pub node_id: ObjectId,
    pub output_digest: Digest,
}

/// A Sealed requester's secret was revealed: whether the primary is checked and by whom.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SecretRevealed {
    pub request_id: ObjectId,
    pub checked: bool,
    pub verifiers: Vec<ObjectId>,
}

/// The main round's reveals differ; `open_dispute` draws the dispute quorum.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputeRaised {
    pub request_id: ObjectId,
    pub quorum_size: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeSlashed {
    pub request_id: ObjectId,
    pub node_id: ObjectId,
    pub reason: SlashReason,
    pub amount: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RequestFinalized {
    pub request_id: ObjectId,
    pub output_digest: Digest,
    pub nodes: Vec<ObjectId>,
    pub verified: bool,
    pub reward_per_node: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RequestFailed {
    pub request_id: ObjectId,
    pub reason: FailReason,
    pub refund: u64,
}

/// A member of the round could not obtain the request's input (a URI) and
/// left its seat, neither slashed nor paid; the seat is refilled.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Abstained {
    pub request_id: ObjectId,
    pub node_id: ObjectId,
}

/// A member of the round could not run the request in time (it does not
/// serve the model, or its queue is too long) and left its seat, neither
/// slashed nor paid; the seat is refilled.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Declined {
    pub request_id: ObjectId,
    pub node_id: ObjectId,
}

/// The first `expire` after a deadline extended it by the request's grace.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeadlineExtended {
    pub request_id: ObjectId,
    pub deadline_ms: u64,
}

macro_rules! event_enum {
    ($($name:ident),* $(,)?) => {
        /// Any event of the package.
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub enum Event {
            $($name($name),)*
        }

        impl Event {
            /// Every event struct's name, as declared in `atoma::events`.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name),)*];

            /// The Move struct's name, e.g. `RequestSubmitted`.
            pub fn name(&self) -> &'static str {
                match self { $(Event::$name(_) => stringify!($name),)* }
            }

            /// The BCS bytes that Move's `event::emit` records.
            pub fn to_bcs(&self) -> Vec<u8> {
                // BCS of these plain structs cannot fail.
                match self { $(Event::$name(e) => bcs::to_bytes(e).expect("BCS of an event"),)* }
            }

            /// Decodes an event from its Move struct name and BCS contents;
            /// `None` for a name that is not one of ours.
            pub fn from_bcs(name: &str, contents: &[u8]) -> Option<Result<Event, bcs::Error>> {
                match name {
                    $(stringify!($name) => Some(bcs::from_bytes(contents).map(Event::$name)),)*
                    _ => None,
                }
            }
        }

        $(impl From<$name> for Event {
            fn from(e: $name) -> Event { Event::$name(e) }
        })*
    };
}

event_enum!(
    NetworkCreated,
    HardwareClassAdded,
    ModelAdded,
    ParamsUpdated,
    TreasuryWithdrawn,
    NodeRegistered,
    CollateralAdded,
    EndpointUpdated,
    NodeLeaving,
    NodeWithdrawn,
    RequestSubmitted,
    NodesSelected,
    Committed,
    VerificationDrawn,
    RevealPhaseStarted,
    Revealed,
    SecretRevealed,
    DisputeRaised,
    NodeSlashed,
    RequestFinalized,
    RequestFailed,
    Abstained,
    DeadlineExtended,
    RevenueSwept,
    Migrated,
    Declined,
);

impl Event {
    /// The request this event concerns, if any.
    pub fn request_id(&self) -> Option<ObjectId> {
        match self {
            Event::RequestSubmitted(e) => Some(e.request_id),
            Event::NodesSelected(e) => Some(e.request_id),
            Event::Committed(e) => Some(e.request_id),
            Event::VerificationDrawn(e) => Some(e.request_id),
            Event::RevealPhaseStarted(e) => Some(e.request_id),
            Event::Revealed(e) => Some(e.request_id),
            Event::SecretRevealed(e) => Some(e.request_id),
            Event::DisputeRaised(e) => Some(e.request_id),
            Event::NodeSlashed(e) => Some(e.request_id),
            Event::RequestFinalized(e) => Some(e.request_id),
            Event::RequestFailed(e) => Some(e.request_id),
            Event::Abstained(e) => Some(e.request_id),
            Event::Declined(e) => Some(e.request_id),
            Event::DeadlineExtended(e) => Some(e.request_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_names() {
        let e: Event = NodeSlashed {
            request_id: ObjectId::from_u64(1),
            node_id: ObjectId::from_u64(2),
            reason: SlashReason::WrongOutput,
            amount: 42,
        }
        .into();
        let bytes = e.to_bcs();
        assert_eq!(Event::from_bcs(e.name(), &bytes).unwrap().unwrap(), e);
        assert!(Event::from_bcs("Unknown", &bytes).is_none());
        assert!(Event::from_bcs("NodeSlashed", &bytes[..10]).unwrap().is_err());
    }
}
