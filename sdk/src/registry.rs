//! Reading the package's state as a Sui client does: the `Network` object
//! and the entries of its tables (classes, models) as dynamic fields, each
//! class's shared object and its nodes table, and `Request` objects, decoded
//! with the Move layouts of `atoma_protocol::objects`; and which class object
//! a call on a model, a request or a node must name.
//!
//! Not for: changing state (see `calls`).

use atoma_protocol::objects::{HardwareClassObject, NetworkObject, type_names};
use atoma_protocol::state::{Model, Node};
use atoma_protocol::{AdminCap, NodeCap, ObjectId, ProtocolError, Request};
use futures::TryStreamExt;
use prost_types::FieldMask;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, TypeTag};

use crate::chain::Chain;
use crate::error::{Result, SdkError};

fn contents<T: DeserializeOwned>(o: &proto::Object, what: &str) -> Result<T> {
    let bytes = o
        .contents
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .ok_or_else(|| SdkError::decode(format!("{what} has no contents")))?;
    bcs::from_bytes(bytes).map_err(|e| SdkError::decode(format!("{what} does not decode")).because(e))
}

/// The value of a `dynamic_field::Field<K, V>` object (after its UID and key).
fn field_value<K: DeserializeOwned, V: DeserializeOwned>(o: &proto::Object, what: &str) -> Result<(K, V)> {
    let bytes = o
        .contents
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .ok_or_else(|| SdkError::decode(format!("{what} has no contents")))?;
    let rest = bytes.get(32..).ok_or_else(|| SdkError::decode(format!("{what} is too short")))?;
    bcs::from_bytes(rest).map_err(|e| SdkError::decode(format!("{what} does not decode")).because(e))
}

fn id_type() -> TypeTag {
    // A valid type literal.
    "0x2::object::ID".parse().expect("the ID type")
}

impl Chain {
    /// The `Network` object: parameters, table ids, treasury.
    pub async fn network(&self) -> Result<NetworkObject> {
        let o = self.get_object(self.identity().network, &["contents"]).await?;
        contents(&o, "the Network object")
    }

    /// The shared object of class `class_id` (`UnknownClass` if none),
    /// from the network's classes table; cached, since it never changes.
    pub async fn class_object(&self, class_id: u64) -> Result<Address> {
        if let Some(a) = self.class_objects.lock().expect("class cache").get(&class_id) {
            return Ok(*a);
        }
        let table = self.network().await?.classes.id;
        let entry: Option<ObjectId> = self.entry(table, &TypeTag::U64, &class_id, &format!("class {class_id}")).await?;
        let object = Address::from(entry.ok_or(SdkError::Refused { error: ProtocolError::UnknownClass })?);
        self.class_objects.lock().expect("class cache").insert(class_id, object);
        Ok(object)
    }

    /// The protocol's revenue: the treasury and every class's revenue not yet swept to it.
    pub async fn protocol_revenue(&self) -> Result<u64> {
        let mut total = self.network().await?.treasury;
        for (_, class) in self.classes().await? {
            total += class.revenue;
        }
        Ok(total)
    }

    /// The shared object of a class.
    pub async fn class(&self, class_id: u64) -> Result<HardwareClassObject> {
        let o = self.get_object(self.class_object(class_id).await?, &["contents"]).await?;
        contents(&o, &format!("class {class_id}"))
    }

    /// A registered model (`UnknownModel` if none).
    pub async fn model(&self, model_id: &str) -> Result<Model> {
        let table = self.network().await?.models.id;
        let string_type: TypeTag = "0x1::string::String".parse().expect("the String type");
        let model: Option<Model> =
            self.entry(table, &string_type, &model_id.to_string(), &format!("model {model_id}")).await?;
        model.ok_or(SdkError::Refused { error: ProtocolError::UnknownModel })
    }

    /// The class object a request of `model_id` runs in (`UnknownModel` if none).
    pub async fn model_class(&self, model_id: &str) -> Result<Address> {
        self.class_object(self.model(model_id).await?.class_id).await
    }

    /// The shortest commit timeout a request for `model_id` may ask for now:
    /// the network's `min_timeout_ms` plus the model's run-time bound plus
    /// the longest of its class (docs/protocol.md, "Time"). It grows when
    /// the admin adds a slower model to the class.
    pub async fn shortest_timeout_ms(&self, model_id: &str) -> Result<u64> {
        let model = self.model(model_id).await?;
        let params = self.network().await?.params;
        let class = self.class(model.class_id).await?;
        params
            .shortest_timeout_ms(model.max_run_ms, class.longest_run_ms)
            .ok_or(SdkError::Refused { error: ProtocolError::ArithmeticError })
    }

    /// The class object of the request's class.
    pub async fn request_class(&self, request: Address) -> Result<Address> {
        let known = self.request_classes.lock().expect("request cache").get(&request).copied();
        let class_id = match known {
            Some(c) => c,
            None => {
                let c = self.request(request).await?.class_id;
                let mut cache = self.request_classes.lock().expect("request cache");
                if cache.len() >= crate::chain::REQUEST_CLASSES_KEPT {
                    cache.clear();
                }
                cache.insert(request, c);
                c
            }
        };
        self.class_object(class_id).await
    }

    /// The class object of the node a `NodeCap` acts for.
    pub async fn node_class(&self, node_cap: Address) -> Result<Address> {
        let o = self.get_object(node_cap, &["contents"]).await?;
        let cap: NodeCap = contents(&o, &format!("node cap {node_cap}"))?;
        self.class_object(cap.class_id).await
    }

    /// A node, read from its class's nodes table; `None` if it is not registered.
    pub async fn node(&self, node_id: Address) -> Result<Option<Node>> {
        for (_, class) in self.classes().await? {
            let node = self.node_in(&class, node_id).await?;
            if node.is_some() {
                return Ok(node);
            }
        }
        Ok(None)
    }

    /// A node of a class already read; `None` if the class has no such node.
    pub async fn node_in(&self, class: &HardwareClassObject, node_id: Address) -> Result<Option<Node>> {
        self.entry(class.nodes.id, &id_type(), &node_id, &format!("node {node_id}")).await
    }

    /// The value under `key` (of Move type `key_type`) in the table `table`,
    /// read as its dynamic field; `None` if the table has no such key.
    async fn entry<K: Serialize + DeserializeOwned, V: DeserializeOwned>(
        &self,
        table: ObjectId,
        key_type: &TypeTag,
        key: &K,
        what: &str,
    ) -> Result<Option<V>> {
        let key = bcs::to_bytes(key).map_err(|e| SdkError::decode(e.to_string()))?;
        let field = Address::from(table).derive_dynamic_child_id(key_type, &key);
        match self.get_object(field, &["contents"]).await {
            Ok(o) => Ok(Some(field_value::<K, V>(&o, what)?.1)),
            Err(SdkError::Rpc { status, .. }) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn table<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        table: ObjectId,
        what: &str,
    ) -> Result<Vec<(K, V)>> {
        let request = proto::ListDynamicFieldsRequest::default()
            .with_parent(Address::from(table).to_string())
            .with_read_mask(FieldMask::from_paths(["name", "value"]))
            .with_page_size(1_000);
        let fields: Vec<proto::DynamicField> = self
            .rpc()
            .list_dynamic_fields(request)
            .try_collect()
            .await
            .map_err(|e| SdkError::rpc(format!("listing the {what} table"), e))?;
        let bytes = |b: &Option<proto::Bcs>| b.as_ref().and_then(|b| b.value.clone()).unwrap_or_default();
        fields
            .iter()
            .map(|f| {
                let key = bcs::from_bytes(&bytes(&f.name))
                    .map_err(|e| SdkError::decode(format!("a {what} key")).because(e))?;
                let value = bcs::from_bytes(&bytes(&f.value))
                    .map_err(|e| SdkError::decode(format!("a {what} entry")).because(e))?;
                Ok((key, value))
            })
            .collect()
    }

    /// Every registered node, with its id, class by class.
    pub async fn nodes(&self) -> Result<Vec<(Address, Node)>> {
        let mut out = Vec::new();
        for (_, class) in self.classes().await? {
            let entries: Vec<(ObjectId, Node)> = self.table(class.nodes.id, "nodes").await?;
            out.extend(entries.into_iter().map(|(k, v)| (Address::from(k), v)));
        }
        Ok(out)
    }

    /// Every hardware class's object, by class id.
    pub async fn classes(&self) -> Result<Vec<(u64, HardwareClassObject)>> {
        let table = self.network().await?.classes.id;
        let mut entries: Vec<(u64, ObjectId)> = self.table(table, "classes").await?;
        entries.sort_by_key(|(id, _)| *id);
        let mut out = Vec::with_capacity(entries.len());
        for (class_id, object) in entries {
            let object = Address::from(object);
            self.class_objects.lock().expect("class cache").insert(class_id, object);
            let o = self.get_object(object, &["contents"]).await?;
            out.push((class_id, contents(&o, &format!("class {class_id}"))?));
        }
        Ok(out)
    }

    /// Every model, with its id.
    pub async fn models(&self) -> Result<Vec<(String, Model)>> {
        let table = self.network().await?.models.id;
        let mut entries: Vec<(String, Model)> = self.table(table, "models").await?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    /// A request object.
    pub async fn request(&self, request: Address) -> Result<Request> {
        let o = self.get_object(request, &["contents", "object_type"]).await.map_err(|e| match e {
            SdkError::Rpc { status, .. } if status.code() == tonic::Code::NotFound => {
                SdkError::InvalidArgument(format!("request {request} does not exist"))
            }
            other => other,
        })?;
        let tag: Option<sui_sdk_types::StructTag> = o.object_type.as_deref().and_then(|t| t.parse().ok());
        if let Some(tag) = tag.filter(|t| (t.module().as_str(), t.name().as_str()) != type_names::REQUEST) {
            let hint = match (tag.module().as_str(), tag.name().as_str()) {
                type_names::NODE_CAP => ": it is a node's id (see `atoma nodes`)",
                type_names::HARDWARE_CLASS => ": it is a hardware class (see `atoma classes`)",
                type_names::NETWORK => ": it is the Network",
                _ => "",
            };
            return Err(SdkError::InvalidArgument(format!("{request} is a {tag}, not a request{hint}")));
        }
        contents(&o, &format!("request {request}"))
    }

    /// Every event of a request, oldest first, read back through its
    /// versions: each version of the request object names the transaction
    /// that wrote it, and that transaction's effects the version before.
    /// Costs two reads per transaction of the request (a few dozen at most).
    pub async fn request_events(&self, request: Address) -> Result<Vec<atoma_protocol::Event>> {
        let id = ObjectId::from(request);
        let package = self.identity().type_origin;
        let mut version = None;
        let mut history = Vec::new();
        loop {
            let mut req =
                proto::GetObjectRequest::new(&request).with_read_mask(FieldMask::from_paths(["previous_transaction"]));
            req.version = version;
            let object = self
                .rpc()
                .ledger_client()
                .get_object(req)
                .await
                .map_err(|e| SdkError::rpc(format!("reading request {request}"), e))?
                .into_inner()
                .object;
            let Some(digest) = object.and_then(|o| o.previous_transaction) else { return Ok(history) };
            let req = proto::GetTransactionRequest::default()
                .with_digest(digest.clone())
                .with_read_mask(FieldMask::from_paths(["events", "effects"]));
            let tx = self
                .rpc()
                .ledger_client()
                .get_transaction(req)
                .await
                .map_err(|e| SdkError::rpc(format!("reading transaction {digest}"), e))?
                .into_inner()
                .transaction
                .ok_or_else(|| SdkError::decode(format!("transaction {digest} came back empty")))?;
            let mut events: Vec<_> = crate::chain::decode_events(&package, tx.events.as_ref())?
                .into_iter()
                .filter(|e| e.request_id() == Some(id))
                .collect();
            events.append(&mut history);
            history = events;
            let request_text = request.to_string();
            let before = tx
                .effects
                .as_ref()
                .and_then(|e| e.changed_objects.iter().find(|c| c.object_id.as_deref() == Some(&request_text)))
                .and_then(|c| c.input_version)
                .filter(|v| *v > 0);
            match before {
                Some(v) if Some(v) != version => version = Some(v),
                _ => return Ok(history),
            }
        }
    }

    /// The objects of type `package::module::name` that `owner` holds, with their contents.
    pub async fn owned_of_type(&self, owner: Address, type_: (&str, &str)) -> Result<Vec<(Address, Vec<u8>)>> {
        let object_type = format!("{}::{}::{}", self.identity().type_origin, type_.0, type_.1);
        let request = proto::ListOwnedObjectsRequest::default()
            .with_owner(owner.to_string())
            .with_object_type(object_type.clone())
            .with_read_mask(FieldMask::from_paths(["object_id", "contents"]))
            .with_page_size(1_000);
        let objects: Vec<proto::Object> = self
            .rpc()
            .list_owned_objects(request)
            .try_collect()
            .await
            .map_err(|e| SdkError::rpc(format!("listing the {object_type} objects of {owner}"), e))?;
        objects
            .into_iter()
            .map(|o| {
                let id: Address = o
                    .object_id
                    .as_deref()
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| SdkError::decode("an owned object without id"))?;
                Ok((id, o.contents.and_then(|c| c.value).map(|v| v.to_vec()).unwrap_or_default()))
            })
            .collect()
    }

    /// The `AdminCap` of this network that the sender holds, if any.
    pub async fn find_admin_cap(&self) -> Result<Option<Address>> {
        let network = ObjectId::from(self.identity().network);
        for (id, bytes) in self.owned_of_type(self.sender(), type_names::ADMIN_CAP).await? {
            let cap: Option<AdminCap> = bcs::from_bytes(&bytes).ok();
            if cap.is_some_and(|c| c.network_id == network) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}
