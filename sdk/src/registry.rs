//! Reading the package's state as a Sui client does: the `Network` object,
//! the entries of its tables (nodes, classes, models) as dynamic fields, and
//! `Request` objects, decoded with the Move layouts of
//! `atoma_protocol::objects`.
//!
//! Not for: changing state (see `calls`).

use atoma_protocol::ObjectId;
use atoma_protocol::objects::{HardwareClassObject, ModelObject, NetworkObject, NodeObject, RequestObject};
use prost_types::FieldMask;
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
        .ok_or_else(|| SdkError::Decode(format!("{what} has no contents")))?;
    bcs::from_bytes(bytes).map_err(|e| SdkError::Decode(format!("{what} does not decode: {e}")))
}

/// The value of a `dynamic_field::Field<K, V>` object (after its UID and key).
fn field_value<K: DeserializeOwned, V: DeserializeOwned>(o: &proto::Object, what: &str) -> Result<(K, V)> {
    let bytes = o
        .contents
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .ok_or_else(|| SdkError::Decode(format!("{what} has no contents")))?;
    let rest = bytes.get(32..).ok_or_else(|| SdkError::Decode(format!("{what} is too short")))?;
    bcs::from_bytes(rest).map_err(|e| SdkError::Decode(format!("{what} does not decode: {e}")))
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

    /// A node, read from the network's nodes table; `None` if it is not registered.
    pub async fn node(&self, node_id: Address) -> Result<Option<NodeObject>> {
        let table = Address::new(self.network().await?.nodes.id.0);
        let key = bcs::to_bytes(&node_id).map_err(|e| SdkError::Decode(e.to_string()))?;
        let field = table.derive_dynamic_child_id(&id_type(), &key);
        match self.get_object(field, &["contents"]).await {
            Ok(o) => Ok(Some(field_value::<ObjectId, NodeObject>(&o, &format!("node {node_id}"))?.1)),
            Err(SdkError::Rpc { status, .. }) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn table<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        table: ObjectId,
        what: &str,
    ) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let mut req = proto::ListDynamicFieldsRequest::default();
            req.parent = Some(Address::new(table.0).to_string());
            req.read_mask = Some(FieldMask::from_paths(["name", "value"]));
            req.page_size = Some(1_000);
            req.page_token = token;
            let page = self
                .rpc()
                .state_client()
                .list_dynamic_fields(req)
                .await
                .map_err(|e| SdkError::rpc(format!("listing the {what} table"), e))?
                .into_inner();
            for f in &page.dynamic_fields {
                let bytes = |b: &Option<proto::Bcs>| b.as_ref().and_then(|b| b.value.clone()).unwrap_or_default();
                let key =
                    bcs::from_bytes(&bytes(&f.name)).map_err(|e| SdkError::Decode(format!("a {what} key: {e}")))?;
                let value =
                    bcs::from_bytes(&bytes(&f.value)).map_err(|e| SdkError::Decode(format!("a {what} entry: {e}")))?;
                out.push((key, value));
            }
            token = page.next_page_token;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every registered node, with its id.
    pub async fn nodes(&self) -> Result<Vec<(Address, NodeObject)>> {
        let table = self.network().await?.nodes.id;
        let entries: Vec<(ObjectId, NodeObject)> = self.table(table, "nodes").await?;
        Ok(entries.into_iter().map(|(k, v)| (Address::new(k.0), v)).collect())
    }

    /// Every hardware class, with its id.
    pub async fn classes(&self) -> Result<Vec<(u64, HardwareClassObject)>> {
        let table = self.network().await?.classes.id;
        let mut entries: Vec<(u64, HardwareClassObject)> = self.table(table, "classes").await?;
        entries.sort_by_key(|(id, _)| *id);
        Ok(entries)
    }

    /// Every model, with its id.
    pub async fn models(&self) -> Result<Vec<(String, ModelObject)>> {
        let table = self.network().await?.models.id;
        let mut entries: Vec<(String, ModelObject)> = self.table(table, "models").await?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    /// A request object.
    pub async fn request(&self, request: Address) -> Result<RequestObject> {
        let o = self.get_object(request, &["contents", "object_type"]).await.map_err(|e| match e {
            SdkError::Rpc { status, .. } if status.code() == tonic::Code::NotFound => {
                SdkError::InvalidArgument(format!("request {request} does not exist"))
            }
            other => other,
        })?;
        contents(&o, &format!("request {request}"))
    }
}
