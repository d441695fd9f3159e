//! Reading the network's tables as dynamic fields and its events through
//! the client's list and stream helpers.

use atoma_localnet::Options;
use atoma_protocol::{Event, ObjectId};
use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn table_entries_are_read_as_dynamic_fields_as_on_sui() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let cap = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    // The Network's classes table maps class 0 to its object, which names its
    // nodes table; a node is the field keyed by its id.
    let network_id = net.node().with_ledger(|c| c.identity.network_id);
    let o = object(&mut client, network_id).await;
    let network: atoma_protocol::objects::NetworkObject =
        bcs::from_bytes(o.contents.unwrap().value.as_deref().unwrap()).unwrap();
    let classes_table = Address::from(network.classes.id);
    let entry = object(
        &mut client,
        classes_table.derive_dynamic_child_id(&sui_sdk_types::TypeTag::U64, &bcs::to_bytes(&0u64).unwrap()),
    )
    .await;
    let (_, class_key, class_obj): ([u8; 32], u64, ObjectId) =
        bcs::from_bytes(entry.contents.unwrap().value.as_deref().unwrap()).unwrap();
    assert_eq!((class_key, class_obj.0), (0, class_object(&net, 0).into_inner()));
    let class = object(&mut client, Address::from(class_obj)).await;
    assert!(class.object_type.as_deref().unwrap().ends_with("::hardware::HardwareClass"));
    let class: atoma_protocol::objects::HardwareClassObject =
        bcs::from_bytes(class.contents.unwrap().value.as_deref().unwrap()).unwrap();
    let nodes_table = Address::from(class.nodes.id);
    assert_eq!((class.class_id, class.nodes.size, class.active.size), (0, 1, 1));
    let id_type: sui_sdk_types::TypeTag = "0x2::object::ID".parse().unwrap();
    let field_id = nodes_table.derive_dynamic_child_id(&id_type, &bcs::to_bytes(&cap).unwrap());
    let field = object(&mut client, field_id).await;
    let tag: sui_sdk_types::StructTag = field.object_type.as_deref().unwrap().parse().unwrap();
    assert_eq!((tag.module().as_str(), tag.name().as_str()), ("dynamic_field", "Field"));
    assert_eq!(tag.type_params()[0], id_type);
    let bytes = field.contents.unwrap().value.unwrap();
    let (uid, rest) = bytes.split_at(32);
    assert_eq!(uid, field_id.as_bytes());
    let (key, value): (ObjectId, atoma_protocol::state::Node) = bcs::from_bytes(rest).unwrap();
    assert_eq!(key.0, cap.into_inner());
    assert_eq!(value.owner.0, accounts[1].address.into_inner());
    assert_eq!(value.endpoint, "http://127.0.0.1:1");
    // ListDynamicFields on the models table lists the genesis model.
    let models_table = Address::from(network.models.id);
    let mut req = proto::ListDynamicFieldsRequest::default();
    req.parent = Some(models_table.to_string());
    req.read_mask = Some(FieldMask::from_paths(["field_id", "name", "value", "value_type"]));
    let fields = client.state_client().list_dynamic_fields(req).await.unwrap().into_inner().dynamic_fields;
    assert_eq!(fields.len(), 1);
    let name: String = bcs::from_bytes(fields[0].name.as_ref().unwrap().value.as_deref().unwrap()).unwrap();
    assert_eq!(name, "tiny");
    let model: atoma_protocol::state::Model =
        bcs::from_bytes(fields[0].value.as_ref().unwrap().value.as_deref().unwrap()).unwrap();
    assert_eq!(model.weight_digest, atoma_protocol::Digest([0xab; 32]));
}

fn event_type_filter(type_: String) -> proto::EventFilter {
    let mut t = proto::EventTypeFilter::default();
    t.event_type = Some(type_);
    let mut literal = proto::EventLiteral::default();
    literal.predicate = Some(proto::event_literal::Predicate::EventType(t));
    let mut term = proto::EventTerm::default();
    term.literals = vec![literal];
    let mut filter = proto::EventFilter::default();
    filter.terms = vec![term];
    filter
}

#[tokio::test(flavor = "multi_thread")]
async fn events_list_and_stream_through_the_clients_stream_helpers() {
    use sui_rpc::client::{EventStreamRequest, EventStreamStart};
    let accounts = accounts(4);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let first = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let second = register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    net.node().seal_now();
    let registered = |e: &proto::Event| {
        let event = sui_sdk_types::Event::try_from(e).unwrap();
        match Event::from_bcs(event.type_.name().as_str(), &event.contents) {
            Some(Ok(Event::NodeRegistered(r))) => Some(Address::from(r.node_id)),
            _ => None,
        }
    };
    let mask = FieldMask::from_paths([
        "checkpoint",
        "transaction_index",
        "event_index",
        "event_type",
        "contents",
        "sender",
        "package_id",
        "module",
    ]);
    let filter = event_type_filter(format!("{PACKAGE}::events::NodeRegistered"));

    // A finite list, paginated by the helper (two items per page).
    let mut list = proto::ListEventsRequest::default();
    list.read_mask = Some(mask.clone());
    list.filter = Some(filter.clone());
    let mut options = proto::QueryOptions::default();
    options.limit = Some(1);
    list.options = Some(options);
    let pages: Vec<_> = client.list_events(list).collect().await;
    let listed: Vec<Address> =
        pages.into_iter().filter_map(|p| p.unwrap().event).filter_map(|e| registered(&e)).collect();
    assert_eq!(listed, vec![first, second]);

    // A stream from genesis that then follows the tip: the two, and a third registered while it runs.
    let request = EventStreamRequest::new()
        .with_read_mask(mask.clone())
        .with_filter(filter.clone())
        .with_start(EventStreamStart::Checkpoint(0));
    let mut stream = Box::pin(client.stream_events(request));
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    let third = loop {
        let frame = tokio::time::timeout(WAIT, stream.next()).await.expect("a frame in time").unwrap().unwrap();
        if let Some(e) = frame.event.as_ref().and_then(registered) {
            seen.push(e);
            cursors.push(frame.cursor.clone());
            if seen.len() == 2 {
                break register_node(&mut client, &net, &accounts[3], CLASS_MIN).await;
            }
        }
    };
    loop {
        let frame = tokio::time::timeout(WAIT, stream.next()).await.expect("a frame in time").unwrap().unwrap();
        if let Some(e) = frame.event.as_ref().and_then(registered) {
            seen.push(e);
            break;
        }
    }
    assert_eq!(seen, vec![first, second, third], "in order, none twice, the live one included");

    // Resuming after the first event's cursor yields the second next.
    let request = EventStreamRequest::new()
        .with_read_mask(mask)
        .with_filter(filter)
        .with_start(EventStreamStart::Resume(cursors[0].clone()));
    let mut resumed = Box::pin(client.stream_events(request));
    let next = loop {
        let frame = tokio::time::timeout(WAIT, resumed.next()).await.expect("a frame in time").unwrap().unwrap();
        if let Some(e) = frame.event.as_ref().and_then(registered) {
            break e;
        }
    };
    assert_eq!(next, second);
}
