//! The network's tables as Sui dynamic fields, so that clients read a node's
//! endpoint and key, a class or a model exactly as they would on Sui: with
//! `GetObject` on the field's id, derived from the table's id and the key
//! (`Address::derive_dynamic_child_id`), or with `ListDynamicFields` on the
//! table's id.
//!
//! ```text
//! field object = 0x2::dynamic_field::Field<K, V> { id: UID, name: K, value: V }, owned by the table
//! nodes   table: K = 0x2::object::ID,      V = atoma::network::Node
//! classes table: K = u64,                  V = atoma::hardware::HardwareClass
//! models  table: K = 0x1::string::String,  V = atoma::model::Model
//! ```
//!
//! The fields are built from the protocol state when asked for. They carry
//! the `Network` object's current version and previous transaction (on Sui a
//! field keeps the version of the last transaction that changed it, which
//! is at most that). A class's inner tables (`active`, `index`) get ids
//! derived from the classes table's id and the class id.
//!
//! Not for: changing anything; fields are views of `chain.state`.

use atoma_protocol::ObjectId;
use atoma_protocol::objects::{HardwareClassObject, ModelObject, NodeObject, type_names};
use sui_sdk_types::{Address, Digest, Identifier, MoveStruct, Object, ObjectData, Owner, StructTag, TypeTag};

use crate::chain::Chain;
use crate::objects;

/// One entry of a table, as a dynamic field.
#[derive(Clone, Debug)]
pub struct Field {
    /// The field object's id.
    pub id: Address,
    /// The table's id (the field's parent).
    pub parent: Address,
    /// BCS of the key.
    pub name: Vec<u8>,
    /// The key's type.
    pub name_type: TypeTag,
    /// BCS of the value.
    pub value: Vec<u8>,
    /// The value's type.
    pub value_type: TypeTag,
}

impl Field {
    fn new(parent: Address, name_type: TypeTag, name: Vec<u8>, value_type: TypeTag, value: Vec<u8>) -> Field {
        let id = parent.derive_dynamic_child_id(&name_type, &name);
        Field { id, parent, name, name_type, value, value_type }
    }

    /// The field as a Sui object, at `version` written by `previous_transaction`.
    pub fn object(&self, version: u64, previous_transaction: Digest) -> Object {
        let tag = StructTag::new(
            Address::TWO,
            Identifier::from_static("dynamic_field"),
            Identifier::from_static("Field"),
            vec![self.name_type.clone(), self.value_type.clone()],
        );
        let mut contents = self.id.into_inner().to_vec();
        contents.extend_from_slice(&self.name);
        contents.extend_from_slice(&self.value);
        // The contents start with the field's UID.
        let s = MoveStruct::new(tag, false, version, contents).expect("contents start with a UID");
        Object::new(ObjectData::Struct(s), Owner::Object(self.parent), previous_transaction, 0)
    }
}

fn package_type(package: &Address, (module, name): (&str, &str)) -> TypeTag {
    // The names come from `type_names`, valid identifiers.
    TypeTag::from(StructTag::new(
        *package,
        Identifier::new(module).expect("module"),
        Identifier::new(name).expect("name"),
        vec![],
    ))
}

/// Ids of a class's inner tables (`active`, `index`).
pub fn class_tables(classes_table: &ObjectId, class_id: u64) -> [ObjectId; 2] {
    let base = Digest::new(classes_table.0);
    [0, 1].map(|k| objects::to_object_id(&Address::derive_id(base, 1 + 2 * class_id + k)))
}

/// Every entry of the table `table` (one of the network's three), in key order.
pub fn fields_of(chain: &Chain, table: &Address) -> Option<Vec<Field>> {
    let [classes, models, nodes] = chain.identity.network_tables.map(|t| objects::to_address(&t));
    let package = &chain.identity.package;
    let network = &chain.state.network;
    if *table == nodes {
        let id_type = TypeTag::from(StructTag::new(
            Address::TWO,
            Identifier::from_static("object"),
            Identifier::from_static("ID"),
            vec![],
        ));
        let value_type = package_type(package, type_names::NODE);
        Some(
            network
                .nodes
                .iter()
                .map(|(id, node)| {
                    Field::new(nodes, id_type.clone(), bcs(id), value_type.clone(), bcs(&NodeObject::from(node)))
                })
                .collect(),
        )
    } else if *table == classes {
        let value_type = package_type(package, type_names::HARDWARE_CLASS);
        let table_id = chain.identity.network_tables[0];
        Some(
            network
                .classes
                .iter()
                .map(|(id, class)| {
                    let value = HardwareClassObject::new(class, class_tables(&table_id, *id));
                    Field::new(classes, TypeTag::U64, bcs(id), value_type.clone(), bcs(&value))
                })
                .collect(),
        )
    } else if *table == models {
        let string_type = TypeTag::from(StructTag::new(
            Address::from_static("0x1"),
            Identifier::from_static("string"),
            Identifier::from_static("String"),
            vec![],
        ));
        let value_type = package_type(package, type_names::MODEL);
        Some(
            network
                .models
                .iter()
                .map(|(id, model)| {
                    Field::new(models, string_type.clone(), bcs(id), value_type.clone(), bcs(&ModelObject::from(model)))
                })
                .collect(),
        )
    } else {
        None
    }
}

/// The field object with this id, if it is an entry of one of the network's tables.
pub fn field_object(chain: &Chain, id: &Address) -> Option<Object> {
    let network = chain.objects.get(&chain.identity.network_id)?;
    chain
        .identity
        .network_tables
        .iter()
        .filter_map(|t| fields_of(chain, &objects::to_address(t)))
        .flatten()
        .find(|f| f.id == *id)
        .map(|f| f.object(network.version(), network.previous_transaction()))
}

fn bcs<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Keys and values here are plain structs of sized values.
    bcs::to_bytes(value).expect("BCS of a table entry")
}
