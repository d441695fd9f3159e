//! The congestion model: deferral, independent class objects,
//! cancellation and its replay.

use atoma_localnet::Options;
use atoma_localnet::congestion::CongestionConfig;
use atoma_localnet::node::NodeConfig;
use atoma_protocol::ObjectId;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Digest;

use crate::common::*;
use crate::support::*;

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
