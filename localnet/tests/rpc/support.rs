//! Helpers the tests share: reading a failure, submitting a request,
//! calling as a node, counting SUI.

use atoma_protocol::commitment::blake2b256;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;
use sui_transaction_builder::ObjectInput;

use crate::common::*;

pub(crate) fn error_kind(tx: &proto::ExecutedTransaction) -> Option<proto::execution_error::ExecutionErrorKind> {
    let kind = tx.effects.as_ref()?.status.as_ref()?.error.as_ref()?.kind?;
    proto::execution_error::ExecutionErrorKind::try_from(kind).ok()
}

pub(crate) fn abort_code(tx: &proto::ExecutedTransaction) -> Option<u64> {
    let error = tx.effects.as_ref()?.status.as_ref()?.error.as_ref()?;
    match error.error_details.as_ref()? {
        proto::execution_error::ErrorDetails::Abort(a) => a.abort_code,
        _ => None,
    }
}

/// The pure arguments of a submission with an inline input: model, input
/// digest, inline bytes, no URI, a 60 s timeout.
pub(crate) fn submit_args(
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

/// The arguments of `request::submit_sampling` for `n` nodes and the
/// input "hello", paying `fee` from a coin split off the gas (the
/// transaction's first command): network 0, class 1, model 2, digest 3,
/// inline 4, URI 5, timeout 6, `n` 7, payment 8, Random 9, Clock 10.
pub(crate) async fn sampling_call(
    client: &mut sui_rpc::Client,
    net: &atoma_localnet::Localnet,
    tx: &mut sui_transaction_builder::TransactionBuilder,
    n: u64,
    fee: u64,
) -> Vec<sui_transaction_builder::Argument> {
    let network = network_ref_input(client, net).await;
    let network = tx.object(network);
    let class = class_input(client, net).await;
    let class = tx.object(class);
    let random = shared_input(client, Address::from_static("0x8"), false).await;
    let random = tx.object(random);
    let clock = tx.object(ObjectInput::shared(Address::from_static("0x6"), 1, false));
    let args = submit_args(tx, b"hello");
    let gas = tx.gas();
    let fee = tx.pure(&fee);
    let payment = tx.split_coins(gas, vec![fee]).remove(0);
    let n = tx.pure(&n);
    let mut call = vec![network, class];
    call.extend(args);
    call.extend([n, payment, random, clock]);
    call
}

/// Submits a Sampling request of `n` nodes; returns the executed transaction.
pub(crate) async fn submit_sampling(
    client: &mut sui_rpc::Client,
    net: &atoma_localnet::Localnet,
    requester: &Account,
    n: u64,
    fee: u64,
) -> proto::ExecutedTransaction {
    let mut tx = builder(client, requester).await;
    let call = sampling_call(client, net, &mut tx, n, fee).await;
    tx.move_call(function("request", "submit_sampling"), call);
    execute(client, tx, requester).await.expect("submission is accepted")
}

/// Commits (or reveals) for a node through its cap.
pub(crate) async fn node_call(
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
            // The class is read, not written: a commit touches only the request.
            let class = shared_input(client, class_object(net, 0), false).await;
            let class = tx.object(class);
            let request = tx.object(request);
            let c = tx.pure(&commitment.to_vec());
            tx.move_call(function("request", "commit"), vec![class, request, cap, c, clock]);
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
pub(crate) fn total_sui(net: &atoma_localnet::Localnet) -> u128 {
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
