//! The BCS contents of the package's objects, field for field the Move
//! structs, so that a client can decode what `GetObject` returns for a
//! `Network`, a `Request` or a capability, and the local network can serve
//! exactly the bytes a Sui node would.
//!
//! ```text
//! UID, ID          = 32 bytes
//! Balance<SUI>     = u64                      (struct Balance { value: u64 })
//! Table<K, V>      = UID || u64 size          (entries are dynamic fields, not in the object)
//! AdminCap         = UID || network_id
//! NodeCap          = UID || network_id || u64 class_id
//! Network          = UID || u64 version || Params || Table classes || u64 next_class_id
//!                    || Table models || Balance treasury
//! HardwareClass    = UID || u64 version || ID network_id || u64 class_id || String name || String profile
//!                    || u64 min_collateral || u64 task_lock || u64 longest_run_ms || TableVec active (= Table)
//!                    || Table index || TableVec on_call || Table on_call_index || Table nodes || Balance revenue
//! Request          = see `Request` (in the order of `atoma::request::Request`)
//! ```
//!
//! Tables keep their entries as dynamic fields
//! (`0x2::dynamic_field::Field<K, V>` = UID || K || V), whose ids derive from
//! the table's id and the key. The values are:
//!
//! ```text
//! Network.classes:     u64 -> ID      the class's shared object
//! Network.models:      String -> Model = vector<u8> weight_digest || u64 class_id || u64 max_run_ms
//! HardwareClass.nodes: ID  -> Node     = address owner || u64 class_id || Balance collateral || u64 locked
//!                                        || u64 open_tasks || Option<u64> withdraw_after_ms || String endpoint
//!                                        || vector<u8> public_key || u64 completed || u64 slashed
//! ```
//!
//! The capabilities (`AdminCap`, `NodeCap`), `Request`, `Node` and `Model`
//! are the state machine's own types, whose fields are Move's in Move's
//! order: their BCS is the object's (tests here and the conformance run
//! check it against Move). `Network` and `HardwareClass` hold their tables'
//! entries in the state machine, so their objects here hold the tables'
//! headers instead.
//!
//! Not for: rules. These are read-only views built from `State`.

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::state::{HardwareClass, Network};
use crate::types::ObjectId;

/// The Move module and struct name of each object type, for type tags.
pub mod type_names {
    /// `atoma::network::Network`.
    pub const NETWORK: (&str, &str) = ("network", "Network");
    /// `atoma::network::AdminCap`.
    pub const ADMIN_CAP: (&str, &str) = ("network", "AdminCap");
    /// `atoma::node::NodeCap`.
    pub const NODE_CAP: (&str, &str) = ("node", "NodeCap");
    /// `atoma::request::Request`.
    pub const REQUEST: (&str, &str) = ("request", "Request");
    /// `atoma::hardware::Node` (a value of a class's nodes table).
    pub const NODE: (&str, &str) = ("hardware", "Node");
    /// `atoma::hardware::HardwareClass`, one shared object per class.
    pub const HARDWARE_CLASS: (&str, &str) = ("hardware", "HardwareClass");
    /// `atoma::model::Model` (a value of the models table).
    pub const MODEL: (&str, &str) = ("model", "Model");
}

/// The header of a `sui::table::Table` (or `TableVec`): its id and size.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TableHeader {
    /// The table's UID (parent of its dynamic fields).
    pub id: ObjectId,
    /// Number of entries.
    pub size: u64,
}

/// `atoma::network::Network`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NetworkObject {
    /// The shared object's UID.
    pub id: ObjectId,
    /// The package version that may use it.
    pub version: u64,
    /// The current parameters.
    pub params: Params,
    /// The class objects' ids by class id.
    pub classes: TableHeader,
    /// The id the next class will get.
    pub next_class_id: u64,
    /// Models by id.
    pub models: TableHeader,
    /// The treasury's balance (MIST).
    pub treasury: u64,
}

impl NetworkObject {
    /// The object of `network`, whose tables have the ids `tables` (classes,
    /// models), fixed when the network was created.
    pub fn new(network: &Network, tables: [ObjectId; 2]) -> Self {
        NetworkObject {
            id: network.id,
            version: network.version,
            params: network.params,
            classes: TableHeader { id: tables[0], size: network.classes.len() as u64 },
            next_class_id: network.next_class_id,
            models: TableHeader { id: tables[1], size: network.models.len() as u64 },
            treasury: network.treasury,
        }
    }
}

/// `atoma::hardware::HardwareClass`, one shared object per class.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct HardwareClassObject {
    pub id: ObjectId,
    pub version: u64,
    pub network_id: ObjectId,
    pub class_id: u64,
    pub name: String,
    pub profile: String,
    pub min_collateral: u64,
    pub task_lock: u64,
    pub longest_run_ms: u64,
    /// `TableVec<ID>`: a struct holding one `Table<u64, ID>`.
    pub active: TableHeader,
    pub index: TableHeader,
    /// `TableVec<ID>`, as `active`.
    pub on_call: TableHeader,
    pub on_call_index: TableHeader,
    pub nodes: TableHeader,
    /// `Balance<SUI>`: the protocol's revenue from the class (MIST).
    pub revenue: u64,
}

impl HardwareClassObject {
    /// The object of `class`, whose tables have the ids `tables` (active,
    /// index, on_call, on_call_index, nodes), fixed when the class was created.
    pub fn new(class: &HardwareClass, tables: [ObjectId; 5]) -> Self {
        let (size, on_call) = (class.active.len(), class.on_call.len());
        HardwareClassObject {
            id: class.id,
            version: class.version,
            network_id: class.network_id,
            class_id: class.class_id,
            name: class.name.clone(),
            profile: class.profile.clone(),
            min_collateral: class.min_collateral,
            task_lock: class.task_lock,
            longest_run_ms: class.longest_run_ms,
            active: TableHeader { id: tables[0], size },
            index: TableHeader { id: tables[1], size },
            on_call: TableHeader { id: tables[2], size: on_call },
            on_call_index: TableHeader { id: tables[3], size: on_call },
            nodes: TableHeader { id: tables[4], size: class.nodes.len() as u64 },
            revenue: class.revenue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Slot;
    use crate::state::AdminCap;
    use crate::types::{Digest, Role};

    #[test]
    fn caps_and_tables_are_ids_then_values() {
        let cap = AdminCap { id: ObjectId::from_u64(1), network_id: ObjectId::from_u64(2) };
        let bytes = bcs::to_bytes(&cap).unwrap();
        assert_eq!(bytes.len(), 64);
        assert_eq!(&bytes[..32], &ObjectId::from_u64(1).0);
        let t = TableHeader { id: ObjectId::from_u64(3), size: 9 };
        assert_eq!(&bcs::to_bytes(&t).unwrap()[32..], &9u64.to_le_bytes());
    }

    #[test]
    fn slots_encode_in_the_move_order() {
        let slot = Slot {
            node_id: ObjectId::from_u64(4),
            role: Role::Verifier,
            stake: 5,
            commitment: None,
            reveal: Some(Digest([6; 32])),
            salt: None,
            active: true,
        };
        let bytes = bcs::to_bytes(&slot).unwrap();
        // node_id(32) role(1) stake(8) commitment(1: none) reveal(1 + 1 + 32) salt(1: none) active(1)
        assert_eq!(bytes.len(), 32 + 1 + 8 + 1 + 34 + 1 + 1);
        assert_eq!(bytes[32], 1);
        assert_eq!(bytes[41], 0);
        assert_eq!(bytes[42], 1);
        assert_eq!(*bytes.last().unwrap(), 1);
    }
}
