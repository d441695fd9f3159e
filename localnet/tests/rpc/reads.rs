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

fn literal(negated: bool, predicate: proto::transaction_literal::Predicate) -> proto::TransactionLiteral {
    let mut l = proto::TransactionLiteral::default();
    l.negated = negated;
    l.predicate = Some(predicate);
    l
}

/// A filter of one term, the AND of `literals`.
fn tx_filter(literals: Vec<proto::TransactionLiteral>) -> proto::TransactionFilter {
    let mut term = proto::TransactionTerm::default();
    term.literals = literals;
    let mut filter = proto::TransactionFilter::default();
    filter.terms = vec![term];
    filter
}

fn sender(a: Address) -> proto::transaction_literal::Predicate {
    let mut f = proto::SenderFilter::default();
    f.address = Some(a.to_string());
    proto::transaction_literal::Predicate::Sender(f)
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_list_in_both_orders_with_every_filter_a_client_offers() {
    use proto::transaction_literal::Predicate as P;
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let first = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    net.node().seal_now();
    let (one, two) = (accounts[1].address, accounts[2].address);
    let mask = FieldMask::from_paths(["digest", "transaction.sender", "checkpoint"]);
    let list = |filter: Option<proto::TransactionFilter>, descending: bool, limit: Option<u32>| {
        let mut request = proto::ListTransactionsRequest::default();
        request.read_mask = Some(mask.clone());
        request.filter = filter;
        let mut options = proto::QueryOptions::default();
        options.limit = limit;
        if descending {
            options.ordering = Some(proto::Ordering::Descending as i32);
        }
        request.options = Some(options);
        let client = client.clone();
        async move {
            let pages: Vec<_> = client.list_transactions(request).collect().await;
            pages
                .into_iter()
                .filter_map(|p| p.unwrap().transaction)
                .map(|t| t.transaction.and_then(|t| t.sender).unwrap_or_default())
                .collect::<Vec<String>>()
        }
    };
    // All of them, genesis first, paginated one at a time by the client's helper.
    let all = list(None, false, Some(1)).await;
    assert_eq!(all.len(), 3, "genesis and the two registrations: {all:?}");
    assert_eq!(&all[1..], [one.to_string(), two.to_string()]);
    for limit in [Some(1), None] {
        let mut reversed = list(None, true, limit).await;
        reversed.reverse();
        assert_eq!(reversed, all, "descending is ascending reversed (limit {limit:?})");
    }
    // Events too, newest first: the second registration's, then the first's.
    let mut events = proto::ListEventsRequest::default();
    events.read_mask = Some(FieldMask::from_paths(["sender"]));
    events.filter = Some(event_type_filter(format!("{PACKAGE}::events::NodeRegistered")));
    let mut options = proto::QueryOptions::default();
    options.ordering = Some(proto::Ordering::Descending as i32);
    for limit in [Some(1), None] {
        options.limit = limit;
        events.options = Some(options.clone());
        let pages: Vec<_> = client.list_events(events.clone()).collect().await;
        let senders: Vec<String> = pages.into_iter().filter_map(|p| p.unwrap().event?.sender).collect();
        assert_eq!(senders, [two.to_string(), one.to_string()], "limit {limit:?}");
    }
    assert_eq!(list(Some(tx_filter(vec![literal(false, sender(one))])), false, None).await, [one.to_string()]);
    // Negated: every registration but the first account's.
    let mut call = proto::MoveCallFilter::default();
    call.function = Some(format!("{PACKAGE}::node::register_node"));
    let not_one = tx_filter(vec![literal(false, P::MoveCall(call.clone())), literal(true, sender(one))]);
    assert_eq!(list(Some(not_one), false, None).await, [two.to_string()]);
    // Affected: the node object the first registration created, and its owner.
    let mut object = proto::AffectedObjectFilter::default();
    object.object_id = Some(first.to_string());
    assert_eq!(
        list(Some(tx_filter(vec![literal(false, P::AffectedObject(object))])), false, None).await,
        [one.to_string()]
    );
    // The second account: its registration, and genesis, which gave it its coins.
    let mut address = proto::AffectedAddressFilter::default();
    address.address = Some(two.to_string());
    assert_eq!(
        list(Some(tx_filter(vec![literal(false, P::AffectedAddress(address))])), false, None).await,
        [Address::ZERO.to_string(), two.to_string()]
    );
    // A predicate nothing here can satisfy is refused by name.
    let mut request = proto::ListTransactionsRequest::default();
    request.filter = Some(tx_filter(vec![literal(false, P::PackageWrite(proto::PackageWriteFilter::default()))]));
    let refused = client.clone().ledger_client().list_transactions(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented);
    assert!(refused.message().contains("package-write"), "{}", refused.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_epoch_its_system_state_and_protocol_config_and_sui_coin_info_are_served() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let client = client(&net);
    // By default, the epoch's own fields; the state and config when the mask asks.
    let epoch = client.clone().ledger_client().get_epoch(proto::GetEpochRequest::default()).await.unwrap();
    let epoch = epoch.into_inner().epoch.unwrap();
    assert!(epoch.system_state.is_none() && epoch.protocol_config.is_none());
    let mut request = proto::GetEpochRequest::default();
    request.read_mask =
        Some(FieldMask::from_paths(["system_state.epoch", "system_state.epoch_start_timestamp_ms", "protocol_config"]));
    let epoch = client.clone().ledger_client().get_epoch(request).await.unwrap().into_inner().epoch.unwrap();
    let state = epoch.system_state.unwrap();
    assert_eq!(state.epoch, Some(0));
    assert!(state.epoch_start_timestamp_ms.is_some_and(|t| t > 0));
    // As Sui's node, the system state comes whole whichever of its fields the mask names.
    assert!(state.reference_gas_price.is_some_and(|p| p > 0));
    let config = epoch.protocol_config.unwrap();
    assert!(config.attributes["max_tx_gas"].parse::<u64>().unwrap() > 0);
    // SUI, under either spelling of its type; any other coin type is not found.
    for coin_type in ["0x2::sui::SUI", "0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI"] {
        let mut request = proto::GetCoinInfoRequest::default();
        request.coin_type = Some(coin_type.into());
        let info = client.clone().state_client().get_coin_info(request).await.unwrap().into_inner();
        let metadata = info.metadata.unwrap();
        assert_eq!((metadata.decimals, metadata.symbol.as_deref()), (Some(9), Some("SUI")));
    }
    let mut request = proto::GetCoinInfoRequest::default();
    request.coin_type = Some(format!("{PACKAGE}::nope::NOPE"));
    let missing = client.clone().state_client().get_coin_info(request).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{}", missing.message());
}
