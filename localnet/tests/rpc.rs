//! The local network driven by the real Sui client (`sui_rpc::Client`) and
//! transaction builder over loopback: execution, the checks that reject a
//! transaction, Move aborts with the protocol's codes, a whole Sampling
//! request, the checkpoint stream across a reconnect, and restarts.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use atoma_localnet::Options;
use atoma_localnet::congestion::CongestionConfig;
use atoma_localnet::node::{NodeConfig, TimeSource};
use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::{Event, ObjectId, ProtocolError, Role, Status};
use common::*;
use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest};
use sui_transaction_builder::ObjectInput;

fn error_kind(tx: &proto::ExecutedTransaction) -> Option<proto::execution_error::ExecutionErrorKind> {
    let kind = tx.effects.as_ref()?.status.as_ref()?.error.as_ref()?.kind?;
    proto::execution_error::ExecutionErrorKind::try_from(kind).ok()
}

fn abort_code(tx: &proto::ExecutedTransaction) -> Option<u64> {
    let error = tx.effects.as_ref()?.status.as_ref()?.error.as_ref()?;
    match error.error_details.as_ref()? {
        proto::execution_error::ErrorDetails::Abort(a) => a.abort_code,
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_info_and_reference_gas_price_describe_the_network() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let info =
        client.ledger_client().get_service_info(proto::GetServiceInfoRequest::default()).await.unwrap().into_inner();
    let chain_id = net.node().with_ledger(|c| c.chain_id().to_string());
    assert_eq!(info.chain_id.as_deref(), Some(chain_id.as_str()));
    assert!(info.checkpoint_height.is_some());
    assert_eq!(client.get_reference_gas_price().await.unwrap(), 1_000);
    // The genesis transaction created the network and the admin's cap.
    let admin_cap = net.node().with_ledger(|c| c.identity.admin_cap_id);
    let cap = object(&mut client, admin_cap).await;
    assert!(cap.object_type.unwrap().ends_with("::network::AdminCap"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_transaction_executes_and_its_events_decode() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let before: u64 = coins(&mut client, accounts[1].address).await.iter().map(|c| c.balance.unwrap()).sum();
    let cap = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let cap_object = object(&mut client, cap).await;
    assert!(cap_object.object_type.unwrap().ends_with("::node::NodeCap"));
    assert_eq!(cap_object.owner.unwrap().address, Some(accounts[1].address.to_string()));
    let after: u64 = coins(&mut client, accounts[1].address).await.iter().map(|c| c.balance.unwrap()).sum();
    let gas = before - after - CLASS_MIN;
    assert!(gas > 0 && gas < GAS_BUDGET, "paid {gas} MIST of gas");
    let node = net.node().with_ledger(|c| c.state.node(&ObjectId::from(cap)).unwrap().clone());
    assert_eq!(node.collateral, CLASS_MIN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_signer_is_rejected_and_nothing_changes() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut tx = builder(&mut client, &accounts[0]).await;
    let gas = tx.gas();
    let to = tx.pure(&accounts[1].address);
    tx.transfer_objects(vec![gas], to);
    let tx = tx.try_build().unwrap();
    let forged = sign(&tx, &accounts[1]);
    let err = execute_signed(&mut client, &tx, forged).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("not by the sender"), "{err}");
    let gas_ref = tx.gas_payment.objects[0].clone();
    let now = object(&mut client, *gas_ref.object_id()).await;
    assert_eq!(now.version, Some(gas_ref.version()), "the gas coin is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_object_version_is_rejected() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let gas_before = coins(&mut client, accounts[0].address).await.remove(0);
    let mut first = builder(&mut client, &accounts[0]).await;
    let gas = first.gas();
    let amount = first.pure(&5u64);
    let coin = first.split_coins(gas, vec![amount]);
    let to = first.pure(&accounts[1].address);
    first.transfer_objects(coin, to);
    assert!(succeeded(&execute(&mut client, first, &accounts[0]).await.unwrap()));
    // The same gas coin at the version it had before.
    let mut stale = sui_transaction_builder::TransactionBuilder::new();
    stale.set_sender(accounts[0].address);
    stale.set_gas_price(1_000);
    stale.set_gas_budget(GAS_BUDGET);
    stale.add_gas_objects([owned(&gas_before)]);
    let to = stale.pure(&accounts[1].address);
    let gas = stale.gas();
    stale.transfer_objects(vec![gas], to);
    let err = execute(&mut client, stale, &accounts[0]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("not available for consumption"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_above_the_gas_balance_is_rejected() {
    let accounts = accounts(1);
    let mut config = genesis(&accounts);
    config.accounts[0].balance = 3_000_000;
    config.accounts[0].coins = 1;
    let net = start(&config, Options::default()).await;
    let mut client = client(&net);
    let mut tx = builder(&mut client, &accounts[0]).await;
    tx.set_gas_budget(5_000_000);
    let to = tx.pure(&accounts[0].address);
    let gas = tx.gas();
    tx.transfer_objects(vec![gas], to);
    let err = execute(&mut client, tx, &accounts[0]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("less than the budget"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_below_the_cost_fails_with_insufficient_gas_and_pays_it() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut tx = register_tx(&mut client, &net, 0, &accounts[1], CLASS_MIN).await;
    let budget = 1_000_000; // the minimum: less than a register_node costs
    tx.set_gas_budget(budget);
    let before: u64 = coins(&mut client, accounts[1].address).await.iter().map(|c| c.balance.unwrap()).sum();
    let done = execute(&mut client, tx, &accounts[1]).await.unwrap();
    assert!(!succeeded(&done));
    assert_eq!(error_kind(&done), Some(proto::execution_error::ExecutionErrorKind::InsufficientGas));
    let after: u64 = coins(&mut client, accounts[1].address).await.iter().map(|c| c.balance.unwrap()).sum();
    assert!(before > after && before - after <= budget, "charged {} of a {budget} budget", before - after);
    assert!(net.node().with_ledger(|c| c.state.nodes().next().is_none()), "no node was registered");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_transactions_under_a_small_budget_never_credit_the_sender() {
    // Each failure rewrites the class and a Request (large objects, large
    // rebates) under the smallest budget: the sender must lose SUI every time.
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, 2_000_000).await;
    let request = match &events(&submitted)[..] {
        [Event::RequestSubmitted(s), ..] => Address::from(s.request_id),
        other => panic!("unexpected events {other:?}"),
    };
    for _ in 0..10 {
        let mut tx = builder(&mut client, &accounts[0]).await;
        tx.set_gas_budget(1_000_000);
        let class = class_input(&mut client, &net).await;
        let class = tx.object(class);
        let req = shared_input(&mut client, request, true).await;
        let req = tx.object(req);
        let clock = tx.object(ObjectInput::shared(Address::from_static("0x6"), 1, false));
        // Nothing to select: aborts with EWrongPhase after reading both objects.
        tx.move_call(function("request", "select_nodes"), vec![class, req, clock]);
        let before: u64 = coins(&mut client, accounts[0].address).await.iter().map(|c| c.balance.unwrap()).sum();
        let done = execute(&mut client, tx, &accounts[0]).await.unwrap();
        assert!(!succeeded(&done));
        let after: u64 = coins(&mut client, accounts[0].address).await.iter().map(|c| c.balance.unwrap()).sum();
        assert!(after < before, "a failed transaction credited its sender {} MIST", after - before);
        assert!(before - after <= 1_000_000, "charged {} of a 1,000,000 budget", before - after);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_move_calls_fail_or_are_rejected() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);

    let mut tx = builder(&mut client, &accounts[0]).await;
    tx.move_call(function("node", "no_such_function"), vec![]);
    let done = execute(&mut client, tx, &accounts[0]).await.unwrap();
    assert_eq!(error_kind(&done), Some(proto::execution_error::ExecutionErrorKind::FunctionNotFound));

    let mut tx = builder(&mut client, &accounts[0]).await;
    let class = class_input(&mut client, &net).await;
    let class = tx.object(class);
    tx.move_call(function("node", "register_node"), vec![class]);
    let done = execute(&mut client, tx, &accounts[0]).await.unwrap();
    assert_eq!(error_kind(&done), Some(proto::execution_error::ExecutionErrorKind::ArityMismatch));

    let mut tx = builder(&mut client, &accounts[0]).await;
    tx.move_call(
        sui_transaction_builder::Function::new(
            Address::TWO,
            sui_sdk_types::Identifier::from_static("coin"),
            sui_sdk_types::Identifier::from_static("zero"),
        ),
        vec![],
    );
    let err = execute(&mut client, tx, &accounts[0]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err}");

    let mut tx = builder(&mut client, &accounts[0]).await;
    let network = network_input(&mut client, &net).await;
    let network = tx.object(network);
    tx.move_call(function("network", "treasury"), vec![network]);
    let err = execute(&mut client, tx, &accounts[0]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "a view function: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_abort_carries_the_protocol_error_code() {
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let tx = register_tx(&mut client, &net, 0, &accounts[1], CLASS_MIN - 1).await;
    let done = execute(&mut client, tx, &accounts[1]).await.unwrap();
    assert_eq!(error_kind(&done), Some(proto::execution_error::ExecutionErrorKind::MoveAbort));
    let code = abort_code(&done).unwrap();
    assert_eq!(atoma_protocol::error::decode_abort_code(code), Some(ProtocolError::InsufficientCollateral));
    let error = done.effects.unwrap().status.unwrap().error.unwrap();
    let Some(proto::execution_error::ErrorDetails::Abort(abort)) = error.error_details else { panic!("abort details") };
    let clever = abort.clever_error.unwrap();
    assert_eq!(clever.error_code, Some(9));
    assert_eq!(clever.constant_name.as_deref(), Some("EInsufficientCollateral"));
    assert_eq!(abort.location.unwrap().function_name.as_deref(), Some("register_node"));
    // The split coin went back: only gas was paid.
    let left: u64 = coins(&mut client, accounts[1].address).await.iter().map(|c| c.balance.unwrap()).sum();
    assert!(BALANCE - left < GAS_BUDGET);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_transfers_and_merges_may_follow_a_command_that_uses_random() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut tx = builder(&mut client, &accounts[0]).await;
    let network = network_ref_input(&mut client, &net).await;
    let network = tx.object(network);
    let class = class_input(&mut client, &net).await;
    let class = tx.object(class);
    let random = shared_input(&mut client, Address::from_static("0x8"), false).await;
    let random = tx.object(random);
    let clock = tx.object(ObjectInput::shared(Address::from_static("0x6"), 1, false));
    let input = b"hello".to_vec();
    let args = submit_args(&mut tx, &input);
    let gas = tx.gas();
    let fee = tx.pure(&10_000_000u64);
    let payment = tx.split_coins(gas, vec![fee]).remove(0);
    let n = tx.pure(&1u64);
    let mut call = vec![network, class];
    call.extend(args);
    call.extend([n, payment, random, clock]);
    tx.move_call(function("request", "submit_sampling"), call);
    let gas = tx.gas();
    let more = tx.pure(&1u64);
    let extra = tx.split_coins(gas, vec![more]);
    let to = tx.pure(&accounts[0].address);
    tx.transfer_objects(extra, to);
    let err = execute(&mut client, tx, &accounts[0]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("uses Random"), "{err}");
}

/// The pure arguments of a submission with an inline input: model, input
/// digest, inline bytes, no URI, a 60 s timeout.
fn submit_args(
    tx: &mut sui_transaction_builder::TransactionBuilder,
    input: &[u8],
) -> Vec<sui_transaction_builder::Argument> {
    vec![
        tx.pure(&"tiny".to_string()),
        tx.pure(&blake2b256(input).0.to_vec()),
        tx.pure(&input.to_vec()),
        tx.pure(&Option::<String>::None),
        tx.pure(&60_000u64),
    ]
}

/// Submits a Sampling request of `n` nodes; returns the executed transaction.
async fn submit_sampling(
    client: &mut sui_rpc::Client,
    net: &atoma_localnet::Localnet,
    requester: &Account,
    n: u64,
    fee: u64,
) -> proto::ExecutedTransaction {
    let mut tx = builder(client, requester).await;
    let network = network_ref_input(client, net).await;
    let network = tx.object(network);
    let class = class_input(client, net).await;
    let class = tx.object(class);
    let random = shared_input(client, Address::from_static("0x8"), false).await;
    let random = tx.object(random);
    let clock = tx.object(ObjectInput::shared(Address::from_static("0x6"), 1, false));
    let args = submit_args(&mut tx, b"hello");
    let gas = tx.gas();
    let fee = tx.pure(&fee);
    let payment = tx.split_coins(gas, vec![fee]).remove(0);
    let n = tx.pure(&n);
    let mut call = vec![network, class];
    call.extend(args);
    call.extend([n, payment, random, clock]);
    tx.move_call(function("request", "submit_sampling"), call);
    execute(client, tx, requester).await.expect("submission is accepted")
}

/// Commits (or reveals) for a node through its cap.
async fn node_call(
    client: &mut sui_rpc::Client,
    net: &atoma_localnet::Localnet,
    owner: &Account,
    cap: Address,
    request: Address,
    reveal: Option<(&[u8; 32], &[u8; 32])>,
    commitment: &[u8; 32],
) -> proto::ExecutedTransaction {
    let mut tx = builder(client, owner).await;
    let request = shared_input(client, request, true).await;
    let cap = object(client, cap).await;
    let cap = tx.object(owned(&cap));
    let clock = tx.object(ObjectInput::shared(Address::from_static("0x6"), 1, false));
    match reveal {
        None => {
            let request = tx.object(request);
            let c = tx.pure(&commitment.to_vec());
            tx.move_call(function("request", "commit"), vec![request, cap, c, clock]);
        }
        Some((output, salt)) => {
            let class = class_input(client, net).await;
            let class = tx.object(class);
            let request = tx.object(request);
            let o = tx.pure(&output.to_vec());
            let s = tx.pure(&salt.to_vec());
            tx.move_call(function("request", "reveal"), vec![class, request, cap, o, s, clock]);
        }
    }
    execute(client, tx, owner).await.expect("accepted")
}

/// All SUI: coins of every account, the protocol's holdings, and gas spent.
fn total_sui(net: &atoma_localnet::Localnet) -> u128 {
    net.node().with_ledger(|c| {
        let coins: u128 = c
            .txs
            .values()
            .flat_map(|t| t.output_objects.iter())
            .filter(|o| c.objects.get(&o.object_id()).map(|cur| cur.version()) == Some(o.version()))
            .filter_map(|o| match atoma_localnet::objects::kind(o, &c.identity.package) {
                atoma_localnet::objects::Kind::Coin(b) => Some(b as u128),
                _ => None,
            })
            .sum();
        let gas: u128 = c
            .txs
            .values()
            .map(|t| {
                let g = t.effects.gas_summary();
                g.computation_cost as u128 + g.storage_cost as u128 - g.storage_rebate as u128
            })
            .sum();
        coins + c.state.held() + gas
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sampling_request_settles_through_transactions_and_conserves_sui() {
    let accounts = accounts(4);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let initial = total_sui(&net);
    let mut caps = Vec::new();
    for owner in &accounts[1..] {
        caps.push(register_node(&mut client, &net, owner, CLASS_MIN).await);
    }
    let fee = 3_000_000;
    let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, fee).await;
    assert!(succeeded(&submitted), "{:?}", submitted.effects);
    let events = events(&submitted);
    let (request, selected) = match &events[..] {
        [Event::RequestSubmitted(s), Event::NodesSelected(n)] => (s.request_id, n.nodes.clone()),
        other => panic!("unexpected events {other:?}"),
    };
    assert_eq!(selected.len(), 2);
    let request = Address::from(request);
    let mut path = vec![submitted.clone()];
    let output = blake2b256(b"the output");
    let mut members = Vec::new();
    for node in &selected {
        let i = caps.iter().position(|c| c.into_inner() == node.0).unwrap();
        members.push((&accounts[i + 1], caps[i], [i as u8; 32]));
    }
    for (owner, cap, salt) in &members {
        let c = commitment(&ObjectId::from(request), &ObjectId::from(cap), &output, &atoma_protocol::Digest(*salt));
        let done = node_call(&mut client, &net, owner, *cap, request, None, &c.0).await;
        assert!(succeeded(&done), "{:?}", done.effects);
        path.push(done);
    }
    let mut last = None;
    for (owner, cap, salt) in &members {
        let done = node_call(&mut client, &net, owner, *cap, request, Some((&output.0, salt)), &[0; 32]).await;
        path.push(done.clone());
        last = Some(done);
    }
    let last = last.unwrap();
    // No transaction of the request's path wrote the Network; the submission
    // and the reveals wrote the class's object, the commits only the request.
    let (network, class) = (net.node().with_ledger(|c| c.identity.network_id), class_object(&net, 0));
    for (k, done) in path.iter().enumerate() {
        let digest = Digest::from_base58(done.digest.as_deref().unwrap()).unwrap();
        let changed: Vec<Address> = net.node().with_ledger(|c| match &c.txs[&digest].effects {
            sui_sdk_types::TransactionEffects::V2(e) => e.changed_objects.iter().map(|o| o.object_id).collect(),
            other => panic!("effects {other:?}"),
        });
        assert!(!changed.contains(&network), "transaction {k} of the request's path wrote the Network");
        let commit = (1..=2).contains(&k);
        assert_eq!(changed.contains(&class), !commit, "transaction {k}: class written {}", changed.contains(&class));
        assert!(changed.contains(&request), "transaction {k} (the submission creates it)");
    }
    assert!(succeeded(&last));
    assert!(
        common::events(&last).iter().any(|e| matches!(e, Event::RequestFinalized(f) if f.output_digest == output)),
        "{:?}",
        common::events(&last)
    );
    // The fee was paid to the two nodes' owners as new coins.
    let changes = last.balance_changes.iter().filter(|b| b.amount.as_deref() == Some(&(fee / 2).to_string())).count();
    assert!(changes >= 1, "{:?}", last.balance_changes);
    // The Request object holds the Move layout of the settled request.
    let mut req = proto::GetObjectRequest::default();
    req.object_id = Some(request.to_string());
    req.read_mask = Some(FieldMask::from_paths(["contents"]));
    let o = client.ledger_client().get_object(req).await.unwrap().into_inner().object.unwrap();
    let decoded: atoma_protocol::Request = bcs::from_bytes(o.contents.unwrap().value.as_deref().unwrap()).unwrap();
    assert_eq!(decoded.status, Status::Finalized);
    assert_eq!(decoded.output_digest, Some(output));
    assert_eq!(decoded.nodes_with_role(Role::Executor).len(), 0, "slots are released when settled");
    assert_eq!(total_sui(&net), initial, "SUI is conserved, gas included");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_after_the_deadline_aborts_on_the_controllable_clock() {
    let accounts = accounts(3);
    let (time, clock) = TimeSource::manual(1_700_000_000_000);
    let net = start(&genesis(&accounts), Options { time, ..Default::default() }).await;
    let mut client = client(&net);
    let cap1 = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let _cap2 = register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, 3_000_000).await;
    let Event::RequestSubmitted(s) = &common::events(&submitted)[0] else { panic!("submitted") };
    clock.fetch_add(60_001, Ordering::SeqCst);
    let request = Address::from(s.request_id);
    let done = node_call(&mut client, &net, &accounts[1], cap1, request, None, &[1; 32]).await;
    let code = abort_code(&done).expect("aborted");
    assert_eq!(atoma_protocol::error::decode_abort_code(code), Some(ProtocolError::DeadlinePassed));
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_stream_in_order_and_a_reconnect_misses_nothing() {
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mask = FieldMask::from_paths(["sequence_number", "transactions.digest", "transactions.events"]);
    let mut req = proto::SubscribeCheckpointsRequest::default();
    req.read_mask = Some(mask.clone());
    let mut stream = client.subscription_client().subscribe_checkpoints(req.clone()).await.unwrap().into_inner();

    let mut executed = Vec::new();
    for owner in &accounts[1..] {
        let cap = register_node(&mut client, &net, owner, CLASS_MIN).await;
        executed.push(cap);
    }
    // Read until both registrations were seen.
    let mut seen_sequences = Vec::new();
    let mut seen_events = Vec::new();
    let mut last = 0;
    while seen_events.len() < 2 {
        let frame = tokio::time::timeout(WAIT, stream.next()).await.expect("a checkpoint").unwrap().unwrap();
        let cp = frame.checkpoint.unwrap();
        assert_eq!(frame.cursor, cp.sequence_number);
        last = cp.sequence_number.unwrap();
        seen_sequences.push(last);
        for t in &cp.transactions {
            for e in t.events.as_ref().map(|e| e.events.clone()).unwrap_or_default() {
                seen_events.push(sui_sdk_types::Event::try_from(&e).unwrap());
            }
        }
    }
    drop(stream);
    // While disconnected: one more registration and some empty checkpoints.
    let missed = register_node(&mut client, &net, &accounts[0], CLASS_MIN).await;
    net.node().seal_now();
    let height = net.node().with_ledger(|c| c.checkpoint_height());
    // Catch up from the cursor with GetCheckpoint, then subscribe again.
    let mut resumed = client.subscription_client().subscribe_checkpoints(req).await.unwrap().into_inner();
    for sequence in last + 1..=height {
        let mut get = proto::GetCheckpointRequest::default();
        get.checkpoint_id = Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(sequence));
        get.read_mask = Some(mask.clone());
        let cp = client.ledger_client().get_checkpoint(get).await.unwrap().into_inner().checkpoint.unwrap();
        seen_sequences.push(cp.sequence_number.unwrap());
        for t in &cp.transactions {
            for e in t.events.as_ref().map(|e| e.events.clone()).unwrap_or_default() {
                seen_events.push(sui_sdk_types::Event::try_from(&e).unwrap());
            }
        }
    }
    net.node().seal_now();
    let next = tokio::time::timeout(WAIT, resumed.next()).await.expect("a checkpoint").unwrap().unwrap();
    assert_eq!(next.cursor, Some(height + 1), "the new subscription continues at the next checkpoint");

    let contiguous: Vec<u64> = (seen_sequences[0]..=height).collect();
    assert_eq!(seen_sequences, contiguous, "every checkpoint once, in order");
    let registered: Vec<Address> = seen_events
        .iter()
        .filter_map(|e| match Event::from_bcs(e.type_.name().as_str(), &e.contents) {
            Some(Ok(Event::NodeRegistered(r))) => Some(Address::from(r.node_id)),
            _ => None,
        })
        .collect();
    executed.push(missed);
    assert_eq!(registered, executed, "every event once, in order, the missed one included");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_on_the_same_data_dir_continues_where_it_stopped() {
    let accounts = accounts(2);
    let dir = tempfile::tempdir().unwrap();
    let options = || Options { data_dir: Some(dir.path().join("ledger")), ..Default::default() };
    // Account 1 is funded through a Sui keystore file.
    let keystore = dir.path().join("sui.keystore");
    let entry = sui_crypto::ed25519::Ed25519PrivateKey::new([2u8; 32]).to_base64();
    std::fs::write(&keystore, format!("[\"{entry}\"]")).unwrap();
    let mut config = genesis(&accounts);
    config.accounts[1].address = None;
    config.accounts[1].keystore = Some(keystore.clone());
    let net = start(&config, options()).await;
    let mut client = client(&net);
    let cap = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    net.node().seal_now();
    let before = object(&mut client, cap).await;
    let (chain_id, height, coins_before) =
        net.node().with_ledger(|c| (c.chain_id(), c.checkpoint_height(), c.objects.len()));
    net.shutdown().await;
    // The data directory does not depend on the keystore any more.
    std::fs::remove_file(&keystore).unwrap();

    // A different genesis is ignored: the directory's own continues.
    let mut other = genesis(&accounts);
    other.reference_gas_price = 5;
    let net = start(&other, options()).await;
    let mut client = common::client(&net);
    let after = object(&mut client, cap).await;
    assert_eq!((after.version, after.digest), (before.version, before.digest));
    net.node().with_ledger(|c| {
        assert_eq!(c.chain_id(), chain_id);
        assert!(c.checkpoint_height() >= height);
        assert_eq!(c.objects.len(), coins_before);
        assert_eq!(c.identity.reference_gas_price, 1_000);
    });
    // And it keeps executing.
    register_node(&mut client, &net, &accounts[0], CLASS_MIN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_seed_repeats_the_draws() {
    let accounts = accounts(5);
    let mut selections = BTreeSet::new();
    for _ in 0..2 {
        let (time, _clock) = TimeSource::manual(1_700_000_000_000);
        let net = start(&genesis(&accounts), Options { time, ..Default::default() }).await;
        let mut client = client(&net);
        for owner in &accounts[1..] {
            register_node(&mut client, &net, owner, CLASS_MIN).await;
        }
        let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, 3_000_000).await;
        let Event::RequestSubmitted(s) = &common::events(&submitted)[0] else { panic!("submitted") };
        selections.insert((s.seed, Digest::from_base58(submitted.digest.as_deref().unwrap()).unwrap()));
    }
    assert_eq!(selections.len(), 1, "the same transactions on the same seed draw the same seed");
}

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

/// A congestion model that binds at once: each transaction costs `tx_cost_ms`
/// against a 50 ms budget per 100 ms round, with no burst, so an object
/// written once is busy for `tx_cost_ms / 50` rounds (long enough that the
/// time a test takes between two transactions does not matter).
fn tight(tx_cost_ms: u64, max_deferral_rounds: u64) -> Options {
    let congestion = CongestionConfig {
        tx_cost_us: tx_cost_ms * 1_000,
        burst_us: 0,
        max_deferral_rounds,
        ..CongestionConfig::sui(100)
    };
    Options { node: NodeConfig { congestion: Some(congestion), ..NodeConfig::default() }, ..Options::default() }
}

/// A genesis with a second class, `gpu`.
fn two_classes(accounts: &[Account]) -> atoma_localnet::genesis::GenesisConfig {
    let mut g = genesis(accounts);
    let mut second = g.classes[0].clone();
    second.name = "gpu".into();
    g.classes.push(second);
    g
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_over_its_objects_budget_waits_for_later_rounds_then_runs() {
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), tight(1_000, 40)).await;
    let mut client = client(&net);
    // Both write the class object: the second waits until the first's
    // second of cost is paid off (19 rounds after it).
    let first = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let second = register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    let stats = net.node().congestion().unwrap();
    assert!(stats.deferrals >= 1, "{stats:?}");
    assert_eq!(stats.cancelled, 0);
    assert_eq!(stats.objects[&class_object(&net, 0)].writes, 2);
    assert!(net.node().with_ledger(|c| c.state.node(&ObjectId::from(first)).is_ok()));
    assert!(net.node().with_ledger(|c| c.state.node(&ObjectId::from(second)).is_ok()));
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_on_different_class_objects_do_not_wait_for_each_other() {
    let accounts = accounts(3);
    let net = start(&two_classes(&accounts), tight(1_000, 40)).await;
    let mut client = client(&net);
    register_node_in(&mut client, &net, 0, &accounts[1], CLASS_MIN).await;
    register_node_in(&mut client, &net, 1, &accounts[2], CLASS_MIN).await;
    let stats = net.node().congestion().unwrap();
    assert_eq!(stats.deferrals, 0, "{stats:?}");
    assert_eq!((stats.objects[&class_object(&net, 0)].writes, stats.objects[&class_object(&net, 1)].writes), (1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_deferred_too_often_is_cancelled_and_pays_for_gas() {
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), tight(5_000, 2)).await;
    let mut client = client(&net);
    register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let before: u64 = coins(&mut client, accounts[2].address).await.iter().map(|c| c.balance.unwrap()).sum();
    let tx = register_tx(&mut client, &net, 0, &accounts[2], CLASS_MIN).await;
    let done = execute(&mut client, tx, &accounts[2]).await.unwrap();
    assert!(!succeeded(&done));
    assert_eq!(
        error_kind(&done),
        Some(proto::execution_error::ExecutionErrorKind::ExecutionCanceledDueToConsensusObjectCongestion)
    );
    let digest = Digest::from_base58(done.digest.as_deref().unwrap()).unwrap();
    let status = net.node().with_ledger(|c| c.txs[&digest].effects.status().clone());
    let sui_sdk_types::ExecutionStatus::Failure { error, .. } = status else { panic!("{status:?}") };
    assert_eq!(
        error,
        sui_sdk_types::ExecutionError::ExecutionCanceledDueToConsensusObjectCongestion {
            congested_objects: vec![class_object(&net, 0)]
        }
    );
    let after: u64 = coins(&mut client, accounts[2].address).await.iter().map(|c| c.balance.unwrap()).sum();
    assert!(after < before && before - after < GAS_BUDGET, "paid {} MIST of gas, no collateral", before - after);
    assert_eq!(net.node().with_ledger(|c| c.state.nodes().count()), 1, "the cancelled registration did nothing");
    assert_eq!(net.node().congestion().unwrap().cancelled, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_transaction_is_replayed_as_cancelled_after_a_restart() {
    let accounts = accounts(3);
    let dir = tempfile::tempdir().unwrap();
    let options = || Options { data_dir: Some(dir.path().join("ledger")), ..tight(5_000, 0) };
    let net = start(&genesis(&accounts), options()).await;
    let mut client = client(&net);
    register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let tx = register_tx(&mut client, &net, 0, &accounts[2], CLASS_MIN).await;
    let done = execute(&mut client, tx, &accounts[2]).await.unwrap();
    let digest = Digest::from_base58(done.digest.as_deref().unwrap()).unwrap();
    let effects = net.node().with_ledger(|c| c.txs[&digest].effects.clone());
    assert!(!succeeded(&done));
    net.shutdown().await;
    let net = start(&genesis(&accounts), options()).await;
    assert_eq!(net.node().with_ledger(|c| c.txs[&digest].effects.clone()), effects);
    assert_eq!(net.node().with_ledger(|c| c.state.nodes().count()), 1);
}

/// An input the client left unresolved: an object id only.
fn by_id(id: Address) -> proto::Input {
    let mut input = proto::Input::default();
    input.object_id = Some(id.to_string());
    input
}

fn pure_input(bytes: Vec<u8>) -> proto::Input {
    let mut input = proto::Input::default();
    input.kind = Some(proto::input::InputKind::Pure as i32);
    input.pure = Some(bytes.into());
    input
}

/// A transaction as the Sui TypeScript SDK sends it to be resolved: the
/// sender, inputs by id, no gas.
fn unresolved(sender: Address, inputs: Vec<proto::Input>, commands: Vec<sui_sdk_types::Command>) -> proto::Transaction {
    let mut ptb = proto::ProgrammableTransaction::default();
    ptb.inputs = inputs;
    ptb.commands = commands.into_iter().map(proto::Command::from).collect();
    let mut kind = proto::TransactionKind::default();
    kind.kind = Some(proto::transaction_kind::Kind::ProgrammableTransaction as i32);
    kind.data = Some(proto::transaction_kind::Data::ProgrammableTransaction(ptb));
    let mut tx = proto::Transaction::default();
    tx.sender = Some(sender.to_string());
    tx.kind = Some(kind);
    tx
}

async fn simulate(
    client: &mut sui_rpc::Client,
    tx: proto::Transaction,
) -> Result<proto::ExecutedTransaction, tonic::Status> {
    let mut request = proto::SimulateTransactionRequest::default();
    request.transaction = Some(tx);
    request.do_gas_selection = Some(true);
    request.read_mask = Some(FieldMask::from_paths([
        "transaction.transaction",
        "transaction.effects",
        "transaction.events",
        "transaction.balance_changes",
    ]));
    let response = client.execution_client().simulate_transaction(request).await?;
    Ok(response.into_inner().transaction.expect("a simulated transaction"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simulation_resolves_inputs_and_gas_runs_the_transaction_and_writes_nothing() {
    use sui_sdk_types::{Argument, Command, SplitCoins, TransferObjects};
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let (network, class) = (net.node().with_ledger(|c| c.identity.network_id), class_object(&net, 0));
    let transactions = net.node().with_ledger(|c| c.total_transactions);

    // A submission with every object by id: the Network is read, the class written.
    let inputs = vec![
        by_id(network),
        by_id(class),
        pure_input(bcs::to_bytes("tiny").unwrap()),
        pure_input(bcs::to_bytes(&blake2b256(b"hi").0.to_vec()).unwrap()),
        pure_input(bcs::to_bytes(&b"hi".to_vec()).unwrap()),
        pure_input(bcs::to_bytes(&Option::<String>::None).unwrap()),
        pure_input(bcs::to_bytes(&60_000u64).unwrap()),
        pure_input(bcs::to_bytes(&1u64).unwrap()),
        pure_input(bcs::to_bytes(&1_000_000u64).unwrap()),
        by_id(Address::from_static("0x8")),
        by_id(Address::from_static("0x6")),
    ];
    let split = Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(8)] });
    let call = sui_sdk_types::MoveCall {
        package: PACKAGE,
        module: sui_sdk_types::Identifier::from_static("request"),
        function: sui_sdk_types::Identifier::from_static("submit_sampling"),
        type_arguments: vec![],
        arguments: (0..8)
            .map(Argument::Input)
            .chain([Argument::NestedResult(0, 0)])
            .chain([9, 10].map(Argument::Input))
            .collect(),
    };
    let simulated =
        simulate(&mut client, unresolved(accounts[1].address, inputs, vec![split, Command::MoveCall(call)]))
            .await
            .expect("simulated");
    let resolved = sui_sdk_types::Transaction::try_from(simulated.transaction.as_ref().unwrap()).expect("resolved");
    let sui_sdk_types::TransactionKind::ProgrammableTransaction(ptb) = &resolved.kind else { panic!() };
    let shared = |i: usize| match &ptb.inputs[i] {
        sui_sdk_types::Input::Shared(s) => (s.object_id(), s.mutability() == sui_sdk_types::Mutability::Mutable),
        other => panic!("input {i} is {other:?}"),
    };
    assert_eq!(shared(0), (network, false), "the Network is read only by submissions");
    assert_eq!(shared(1), (class, true));
    assert!(!shared(9).1 && !shared(10).1, "Random and the Clock are read");
    assert_eq!(resolved.gas_payment.owner, accounts[1].address);
    assert!(!resolved.gas_payment.objects.is_empty() && resolved.gas_payment.budget > 0);
    assert_eq!(resolved.gas_payment.price, 1_000);
    // No node is registered: the submission would abort, and the simulation says so.
    assert_eq!(
        abort_code(&simulated).and_then(atoma_protocol::error::decode_abort_code),
        Some(ProtocolError::NotEnoughNodes)
    );

    // A payment: it succeeds, shows its balance changes, and the resolved
    // transaction, signed, executes as simulated.
    let amount = pure_input(bcs::to_bytes(&5_000u64).unwrap());
    let to = pure_input(bcs::to_bytes(&accounts[0].address).unwrap());
    let commands = vec![
        Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] }),
        Command::TransferObjects(TransferObjects {
            objects: vec![Argument::NestedResult(0, 0)],
            address: Argument::Input(1),
        }),
    ];
    let simulated = simulate(&mut client, unresolved(accounts[1].address, vec![amount, to], commands)).await.unwrap();
    assert!(succeeded(&simulated), "{simulated:?}");
    assert!(
        simulated
            .balance_changes
            .iter()
            .any(|b| b.address.as_deref() == Some(&accounts[0].address.to_string())
                && b.amount.as_deref() == Some("5000"))
    );
    assert_eq!(net.node().with_ledger(|c| c.total_transactions), transactions, "a simulation writes nothing");
    let resolved = sui_sdk_types::Transaction::try_from(simulated.transaction.as_ref().unwrap()).unwrap();
    let executed = execute_signed(&mut client, &resolved, sign(&resolved, &accounts[1])).await.expect("executes");
    assert!(succeeded(&executed));
    assert_eq!(
        executed.effects.as_ref().unwrap().gas_used,
        simulated.effects.as_ref().unwrap().gas_used,
        "the simulation charged what execution charges"
    );

    // Nothing to pay with: the error names the sender.
    let poor = Address::from_static("0x1234");
    let err = simulate(
        &mut client,
        unresolved(
            poor,
            vec![pure_input(bcs::to_bytes(&1u64).unwrap())],
            vec![Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] })],
        ),
    )
    .await
    .unwrap_err();
    assert!(err.message().contains(&poor.to_string()), "{err}");
    // An unknown object is named.
    let err = simulate(&mut client, unresolved(accounts[1].address, vec![by_id(poor)], vec![])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_package_service_describes_functions_and_datatypes_from_the_move_sources() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut packages = client.package_client();
    let function = |module: &str, name: &str| {
        let mut r = proto::GetFunctionRequest::default();
        r.package_id = Some(PACKAGE.to_string());
        r.module_name = Some(module.into());
        r.name = Some(name.into());
        r
    };
    let submit =
        packages.get_function(function("request", "submit_sampling")).await.unwrap().into_inner().function.unwrap();
    assert_eq!(submit.is_entry, Some(true));
    let params: Vec<(Option<i32>, String)> = submit
        .parameters
        .iter()
        .map(|p| (p.reference, p.body.as_ref().unwrap().type_name.clone().unwrap_or_default()))
        .collect();
    use proto::open_signature::Reference::{Immutable, Mutable};
    assert_eq!(params[0], (Some(Immutable as i32), format!("{PACKAGE}::network::Network")));
    assert_eq!(params[1], (Some(Mutable as i32), format!("{PACKAGE}::hardware::HardwareClass")));
    assert!(params[8].1.ends_with("::coin::Coin"), "{params:?}");
    assert!(params.last().unwrap().1.ends_with("::tx_context::TxContext"), "{params:?}");
    // Every function the local network runs is described, with as many
    // parameters as it checks (and the trailing TxContext, when there is one).
    for (module, name, checked) in atoma_localnet::execute::signatures::FUNCTIONS {
        let f = packages.get_function(function(module, name)).await.unwrap().into_inner().function.unwrap();
        let described = f.parameters.len()
            - usize::from(f.parameters.last().is_some_and(|p| {
                p.body
                    .as_ref()
                    .and_then(|b| b.type_name.as_deref())
                    .is_some_and(|t| t.ends_with("::tx_context::TxContext"))
            }));
        assert_eq!(described, checked.len(), "{module}::{name}");
    }
    let err = packages.get_function(function("request", "nope")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let mut r = proto::GetDatatypeRequest::default();
    r.package_id = Some(PACKAGE.to_string());
    r.module_name = Some("network".into());
    r.name = Some("Network".into());
    let network = packages.get_datatype(r).await.unwrap().into_inner().datatype.unwrap();
    let fields: Vec<&str> = network.fields.iter().map(|f| f.name.as_deref().unwrap()).collect();
    assert_eq!(fields, ["id", "version", "params", "classes", "next_class_id", "models", "treasury"]);
    assert_eq!(network.abilities, [proto::Ability::Key as i32]);

    let mut r = proto::GetPackageRequest::default();
    r.package_id = Some(PACKAGE.to_string());
    let package = packages.get_package(r).await.unwrap().into_inner().package.unwrap();
    let types = package.modules.iter().find(|m| m.name.as_deref() == Some("types")).unwrap();
    let mode = types.datatypes.iter().find(|d| d.name.as_deref() == Some("Mode")).unwrap();
    let variants: Vec<&str> = mode.variants.iter().map(|v| v.name.as_deref().unwrap()).collect();
    assert_eq!(variants, ["Sampling", "CrossValidation", "Sealed"]);
}
