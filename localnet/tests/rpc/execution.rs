//! Execution over the real client: what runs, what is rejected before
//! execution and what fails in it, and Move aborts with the protocol's codes.

use atoma_localnet::Options;
use atoma_protocol::{Event, ObjectId, ProtocolError};
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;
use sui_transaction_builder::ObjectInput;

use crate::common::*;
use crate::support::*;

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
    let call = sampling_call(&mut client, &net, &mut tx, 1, 10_000_000).await;
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

/// A submission whose argument `position` is replaced by raw pure bytes.
async fn submit_with_pure(position: usize, bytes: &[u8]) -> sui_sdk_types::ExecutionStatus {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut tx = builder(&mut client, &accounts[0]).await;
    let mut call = sampling_call(&mut client, &net, &mut tx, 1, 10_000_000).await;
    // A pure input's bytes as they are (a `Vec<u8>` would gain its length).
    call[position] = tx.pure_bytes(bytes.to_vec());
    tx.move_call(function("request", "submit_sampling"), call);
    let done = execute(&mut client, tx, &accounts[0]).await.unwrap();
    assert!(!succeeded(&done));
    let digest = sui_sdk_types::Digest::from_base58(done.digest.as_deref().unwrap()).unwrap();
    net.node().with_ledger(|c| c.txs[&digest].effects.status().clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pure_argument_that_is_not_its_parameter_s_bcs_fails_at_its_position() {
    use sui_sdk_types::{CommandArgumentError::*, ExecutionError, ExecutionStatus};
    let failure = |argument, kind| ExecutionStatus::Failure {
        error: ExecutionError::CommandArgumentError { argument, kind },
        command: Some(1),
    };
    // The argument positions of `sampling_call`.
    let cases: [(usize, &[u8], _); 4] = [
        (2, &[1, 0xff], failure(2, InvalidUsageOfPureArgument)), // a String that is not UTF-8
        (5, &[1, 1, 0xff], failure(5, InvalidUsageOfPureArgument)), // an Option<String> likewise
        (7, &[1, 0, 0, 0, 0, 0, 0, 0, 0], failure(7, InvalidBcsBytes)), // a u64 and a byte left over
        (3, &[32, 0], failure(3, InvalidBcsBytes)),              // a vector shorter than its length
    ];
    for (position, bytes, expected) in cases {
        assert_eq!(submit_with_pure(position, bytes).await, expected, "argument {position}: {bytes:?}");
    }
}
