//! Reading what the node answers: object references, shared versions, the
//! package's events and the objects a transaction created.

use super::*;

/// The reference of an object read with `object_id,version,digest`.
pub fn reference(o: &proto::Object) -> Result<ObjectReference> {
    let id: Address = o
        .object_id
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| SdkError::decode("an object without a valid id").because(e))?;
    let version = o.version.ok_or_else(|| SdkError::decode(format!("object {id} without a version")))?;
    let digest = Digest::from_base58(o.digest.as_deref().unwrap_or_default())
        .map_err(|e| SdkError::decode(format!("object {id} without a valid digest")).because(e))?;
    Ok(ObjectReference::new(id, version, digest))
}

/// The initial shared version of a shared object read with `owner`.
pub fn initial_shared_version(o: &proto::Object, id: Address) -> Result<u64> {
    let owner = o.owner.as_ref().ok_or_else(|| SdkError::decode(format!("object {id} has no owner")))?;
    match owner.kind.and_then(|k| proto::owner::OwnerKind::try_from(k).ok()) {
        Some(proto::owner::OwnerKind::Shared) => {
            owner.version.ok_or_else(|| SdkError::decode(format!("shared object {id} has no initial version")))
        }
        _ => Err(SdkError::InvalidArgument(format!("object {id} is not a shared object"))),
    }
}

/// The package's events among a transaction's events, decoded.
pub fn decode_events(package: &Address, events: Option<&proto::TransactionEvents>) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for e in events.map(|e| e.events.as_slice()).unwrap_or_default() {
        let event = sui_sdk_types::Event::try_from(e).map_err(|err| SdkError::decode("an event").because(err))?;
        if let Some(decoded) = decode_event(package, &event)? {
            out.push(decoded);
        }
    }
    Ok(out)
}

/// The package's event in a Sui event, or `None` for another package's event.
pub fn decode_event(package: &Address, event: &sui_sdk_types::Event) -> Result<Option<Event>> {
    let tag = &event.type_;
    if tag.address() != package || tag.module().as_str() != atoma_protocol::events::EVENTS_MODULE {
        return Ok(None);
    }
    match Event::from_bcs(tag.name().as_str(), &event.contents) {
        Some(Ok(e)) => Ok(Some(e)),
        Some(Err(err)) => Err(SdkError::decode(format!("event {} does not decode", tag.name())).because(err)),
        None => Ok(None),
    }
}

pub(super) fn created_objects(effects: &TransactionEffects) -> Vec<Address> {
    let TransactionEffects::V2(v2) = effects else { return Vec::new() };
    v2.changed_objects
        .iter()
        .filter(|c| c.id_operation == sui_sdk_types::IdOperation::Created)
        .map(|c| c.object_id)
        .collect()
}
