//! The network's tables as Sui dynamic fields, so that clients read a node's
//! endpoint and key, a class or a model exactly as they would on Sui: with
//! `GetObject` on the field's id, derived from the table's id and the key
//! (`Address::derive_dynamic_child_id`), or with `ListDynamicFields` on the
//! table's id.
//!
//! ```text
//! field object = 0x2::dynamic_field::Field<K, V> { id: UID, name: K, value: V }, owned by the table
//! Network.classes:     K = u64,                  V = 0x2::object::ID (the class's shared object)
//! Network.models:      K = 0x1::string::String,  V = atoma::model::Model
//! HardwareClass.nodes: K = 0x2::object::ID,      V = atoma::hardware::Node
//! ```
//!
//! The fields are built from the protocol state when asked for. They carry
//! the current version and previous transaction of the object that holds
//! the table (on Sui a field keeps the version of the last transaction that
//! changed it, which is at most that). A class's tables have ids derived
//! from the class object's id (`objects::class_tables`).
//!
//! Not for: changing anything; fields are views of `chain.state`.

use atoma_protocol::ObjectId;
use atoma_protocol::objects::type_names;
use sui_sdk_types::{Address, Digest, Identifier, MoveStruct, Object, ObjectData, Owner, StructTag, TypeTag};

use crate::ledger::Ledger;
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

fn id_type() -> TypeTag {
    TypeTag::from(StructTag::new(
        Address::TWO,
        Identifier::from_static("object"),
        Identifier::from_static("ID"),
        vec![],
    ))
}

/// Every entry of the table `table` (the network's classes or models, or a
/// class's nodes), in key order, with the object whose version the entries
/// carry (the network or the class).
pub fn fields_of(chain: &Ledger, table: &Address) -> Option<(Address, Vec<Field>)> {
    let [classes, models] = chain.identity.network_tables.map(Address::from);
    let package = &chain.identity.package;
    let network = &chain.state.network;
    let owner = chain.identity.network_id;
    if *table == classes {
        let fields = network
            .classes
            .iter()
            .map(|(class_id, object)| Field::new(classes, TypeTag::U64, bcs(class_id), id_type(), bcs(object)))
            .collect();
        Some((owner, fields))
    } else if *table == models {
        let string_type = TypeTag::from(StructTag::new(
            Address::from_static("0x1"),
            Identifier::from_static("string"),
            Identifier::from_static("String"),
            vec![],
        ));
        let value_type = package_type(package, type_names::MODEL);
        let fields = network
            .models
            .iter()
            .map(|(id, model)| Field::new(models, string_type.clone(), bcs(id), value_type.clone(), bcs(model)))
            .collect();
        Some((owner, fields))
    } else {
        let class = chain.state.classes.values().find(|c| objects::nodes_table(&c.id) == ObjectId::from(table))?;
        let value_type = package_type(package, type_names::NODE);
        let fields = class
            .nodes
            .iter()
            .map(|(id, node)| Field::new(*table, id_type(), bcs(id), value_type.clone(), bcs(node)))
            .collect();
        Some((Address::from(class.id), fields))
    }
}

/// The field object with this id, if it is an entry of the network's tables
/// or of a class's nodes table.
pub fn field_object(chain: &Ledger, id: &Address) -> Option<Object> {
    let tables = chain
        .identity
        .network_tables
        .iter()
        .copied()
        .chain(chain.state.classes.values().map(|c| objects::nodes_table(&c.id)));
    for table in tables {
        let Some((owner, fields)) = fields_of(chain, &Address::from(table)) else { continue };
        if let Some(f) = fields.into_iter().find(|f| f.id == *id) {
            let parent = chain.objects.get(&owner)?;
            return Some(f.object(parent.version(), parent.previous_transaction()));
        }
    }
    None
}

fn bcs<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Keys and values here are plain structs of sized values.
    bcs::to_bytes(value).expect("BCS of a table entry")
}
