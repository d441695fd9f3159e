//! The objects the local network holds, as Sui objects: their type tags,
//! their BCS contents (the Move struct layouts, from `atoma_protocol::objects`
//! for the package's own types) and what kind of value each one is to the
//! transaction interpreter.
//!
//! ```text
//! Coin<SUI>  = UID || u64 balance                              (0x2::coin::Coin<0x2::sui::SUI>)
//! Clock      = UID(0x6) || u64 timestamp_ms                    (0x2::clock::Clock)
//! Random     = UID(0x8) || Versioned { UID, u64 version }      (0x2::random::Random)
//! ```
//!
//! Not for: deciding who may use an object (see `exec`).

use atoma_protocol::objects::{HardwareClassObject, NetworkObject, type_names};
use atoma_protocol::state::{HardwareClass, Network};
use atoma_protocol::{AdminCap, NodeCap, ObjectId, Request};
use sui_sdk_types::{Address, Digest, Identifier, MoveStruct, Object, ObjectData, Owner, StructTag, Version};

/// The Clock's id, `0x6`.
pub const CLOCK_ID: Address = Address::from_static("0x6");
/// The Random object's id, `0x8`.
pub const RANDOM_ID: Address = Address::from_static("0x8");
/// The Clock's initial shared version (as on every Sui network).
pub const CLOCK_INITIAL_VERSION: Version = 1;

/// What an object is to the interpreter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `Coin<SUI>` with its balance.
    Coin(u64),
    /// `0x2::clock::Clock`.
    Clock,
    /// `0x2::random::Random`.
    Random,
    /// `atoma::network::Network`.
    Network,
    /// `atoma::hardware::HardwareClass`.
    HardwareClass,
    /// `atoma::network::AdminCap`.
    AdminCap,
    /// `atoma::node::NodeCap`.
    NodeCap,
    /// `atoma::request::Request`.
    Request,
    /// Anything else (not produced by this network).
    Other,
}

/// Reads what kind of object `object` is, given the package's address.
pub fn kind(object: &Object, package: &Address) -> Kind {
    let Some(s) = object.as_struct() else { return Kind::Other };
    let tag = s.object_type();
    if tag == &StructTag::gas_coin() {
        return Kind::Coin(coin_balance(s.contents()).unwrap_or(0));
    }
    let name = (tag.module().as_str(), tag.name().as_str());
    if tag.address() == &Address::TWO {
        return match name {
            ("clock", "Clock") => Kind::Clock,
            ("random", "Random") => Kind::Random,
            _ => Kind::Other,
        };
    }
    if tag.address() != package {
        return Kind::Other;
    }
    match name {
        n if n == type_names::NETWORK => Kind::Network,
        n if n == type_names::HARDWARE_CLASS => Kind::HardwareClass,
        n if n == type_names::ADMIN_CAP => Kind::AdminCap,
        n if n == type_names::NODE_CAP => Kind::NodeCap,
        n if n == type_names::REQUEST => Kind::Request,
        _ => Kind::Other,
    }
}

/// The balance in a `Coin<SUI>`'s contents.
pub fn coin_balance(contents: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = contents.get(32..40)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The `(id, network_id)` in an `AdminCap`'s contents.
pub fn cap_contents(object: &Object) -> Option<AdminCap> {
    bcs::from_bytes(object.as_struct()?.contents()).ok()
}

/// The `(id, network_id, class_id)` in a `NodeCap`'s contents.
pub fn node_cap_contents(object: &Object) -> Option<NodeCap> {
    bcs::from_bytes(object.as_struct()?.contents()).ok()
}

/// The `(network_id, class_id)` in a `HardwareClass` object's contents.
pub fn class_contents(object: &Object) -> Option<(ObjectId, u64)> {
    let c = object.as_struct()?.contents();
    let network_id: ObjectId = bcs::from_bytes(c.get(32..64)?).ok()?;
    let class_id = u64::from_le_bytes(c.get(64..72)?.try_into().ok()?);
    Some((network_id, class_id))
}

/// Ids of a class object's tables (`active`, `index`, `on_call`,
/// `on_call_index`, `nodes`), derived from the class object's id.
pub fn class_tables(class: &ObjectId) -> [ObjectId; 5] {
    let base = Digest::new(class.0);
    [1, 2, 3, 4, 5].map(|k| ObjectId::from(Address::derive_id(base, k)))
}

/// The id of a class object's `nodes` table (see `class_tables`).
pub fn nodes_table(class: &ObjectId) -> ObjectId {
    class_tables(class)[4]
}

fn move_object(tag: StructTag, public_transfer: bool, version: Version, contents: Vec<u8>, owner: Owner) -> Object {
    // Every content built here starts with its 32-byte UID, which is all `MoveStruct::new` checks.
    let s = MoveStruct::new(tag, public_transfer, version, contents).expect("contents start with a UID");
    Object::new(ObjectData::Struct(s), owner, Digest::ZERO, 0)
}

fn package_tag(package: &Address, (module, name): (&str, &str)) -> StructTag {
    // The names come from `type_names`, valid Move identifiers.
    StructTag::new(
        *package,
        Identifier::new(module).expect("module name"),
        Identifier::new(name).expect("struct name"),
        vec![],
    )
}

/// Object builders; each gives version `version` and owner `owner`; the
/// caller sets the previous transaction and storage rebate.
pub struct Builder {
    /// The package's address.
    pub package: Address,
}

impl Builder {
    /// A `Coin<SUI>` holding `balance`.
    pub fn coin(&self, id: Address, balance: u64, version: Version, owner: Owner) -> Object {
        let mut contents = id.into_inner().to_vec();
        contents.extend_from_slice(&balance.to_le_bytes());
        move_object(StructTag::gas_coin(), true, version, contents, owner)
    }

    /// The Clock at `timestamp_ms`.
    pub fn clock(&self, timestamp_ms: u64, version: Version) -> Object {
        let mut contents = CLOCK_ID.into_inner().to_vec();
        contents.extend_from_slice(&timestamp_ms.to_le_bytes());
        let tag =
            StructTag::new(Address::TWO, Identifier::from_static("clock"), Identifier::from_static("Clock"), vec![]);
        move_object(tag, false, version, contents, Owner::Shared(CLOCK_INITIAL_VERSION))
    }

    /// The Random object, whose inner versioned state has id `inner_id`.
    pub fn random(&self, inner_id: Address, version: Version) -> Object {
        let mut contents = RANDOM_ID.into_inner().to_vec();
        contents.extend_from_slice(inner_id.as_bytes());
        contents.extend_from_slice(&1u64.to_le_bytes());
        let tag =
            StructTag::new(Address::TWO, Identifier::from_static("random"), Identifier::from_static("Random"), vec![]);
        move_object(tag, false, version, contents, Owner::Shared(version))
    }

    /// The shared `Network` object.
    pub fn network(
        &self,
        network: &Network,
        tables: [ObjectId; 2],
        version: Version,
        initial_version: Version,
    ) -> Object {
        let contents = bcs::to_bytes(&NetworkObject::new(network, tables)).expect("BCS of the network");
        let tag = package_tag(&self.package, type_names::NETWORK);
        move_object(tag, false, version, contents, Owner::Shared(initial_version))
    }

    /// The shared object of a hardware class.
    pub fn class(&self, class: &HardwareClass, version: Version, initial_version: Version) -> Object {
        let object = HardwareClassObject::new(class, class_tables(&class.id));
        let contents = bcs::to_bytes(&object).expect("BCS of a hardware class");
        let tag = package_tag(&self.package, type_names::HARDWARE_CLASS);
        move_object(tag, false, version, contents, Owner::Shared(initial_version))
    }

    /// An `AdminCap` owned by `owner`.
    pub fn admin_cap(&self, cap: AdminCap, version: Version, owner: Address) -> Object {
        let contents = bcs::to_bytes(&cap).expect("BCS of a capability");
        move_object(package_tag(&self.package, type_names::ADMIN_CAP), false, version, contents, Owner::Address(owner))
    }

    /// A `NodeCap` owned by `owner`.
    pub fn node_cap(&self, cap: NodeCap, version: Version, owner: Address) -> Object {
        let contents = bcs::to_bytes(&cap).expect("BCS of a capability");
        move_object(package_tag(&self.package, type_names::NODE_CAP), false, version, contents, Owner::Address(owner))
    }

    /// The shared object of `request`.
    pub fn request(&self, request: &Request, version: Version, initial_version: Version) -> Object {
        let contents = request.to_bcs();
        move_object(
            package_tag(&self.package, type_names::REQUEST),
            false,
            version,
            contents,
            Owner::Shared(initial_version),
        )
    }

    /// The type tag of a package event struct, `<package>::events::<name>`.
    pub fn event_tag(&self, name: &str) -> StructTag {
        // Event names come from `Event::name`, valid identifiers.
        package_tag(&self.package, (atoma_protocol::events::EVENTS_MODULE, name))
    }
}

/// Sets the previous transaction and storage rebate of an object built above.
pub fn finish(object: Object, previous_transaction: Digest, storage_rebate: u64) -> Object {
    Object::new(object.data().clone(), *object.owner(), previous_transaction, storage_rebate)
}

/// The same object with a new version (other fields unchanged).
pub fn with_version(object: &Object, version: Version) -> Object {
    match object.data() {
        ObjectData::Struct(s) => {
            let s = MoveStruct::new(s.object_type().clone(), s.has_public_transfer(), version, s.contents().to_vec())
                .expect("existing contents start with a UID");
            Object::new(ObjectData::Struct(s), *object.owner(), object.previous_transaction(), object.storage_rebate())
        }
        ObjectData::Package(_) => object.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coins_round_trip_their_balance_and_kind() {
        let b = Builder { package: Address::from_static("0xa70") };
        let c = b.coin(Address::from_static("0x55"), 1234, 3, Owner::Address(Address::from_static("0x1")));
        assert_eq!(kind(&c, &b.package), Kind::Coin(1234));
        assert_eq!(c.object_id(), Address::from_static("0x55"));
        assert_eq!(c.version(), 3);
    }

    #[test]
    fn system_objects_are_recognised() {
        let b = Builder { package: Address::from_static("0xa70") };
        assert_eq!(kind(&b.clock(5, 1), &b.package), Kind::Clock);
        assert_eq!(kind(&b.random(Address::from_static("0x99"), 4), &b.package), Kind::Random);
        let cap = NodeCap { id: ObjectId::from_u64(1), network_id: ObjectId::from_u64(2), class_id: 3 };
        let o = b.node_cap(cap, 2, Address::from_static("0x1"));
        assert_eq!(kind(&o, &b.package), Kind::NodeCap);
        assert_eq!(node_cap_contents(&o), Some(cap));
        // The same struct under another package is not ours.
        assert_eq!(kind(&o, &Address::from_static("0xb")), Kind::Other);
    }
}
