//! A harness for the local network's tests: accounts with fixed keys, a
//! genesis with one class and one model, and helpers that build, sign and
//! execute transactions with the real `sui-transaction-builder` and
//! `sui_rpc::Client`, over loopback.
#![allow(dead_code)]

use std::time::Duration;

use atoma_localnet::genesis::{GenesisConfig, ParamsConfig};
use atoma_localnet::{Localnet, Options};
use prost_types::FieldMask;
use sui_crypto::SuiSigner;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest, Identifier, Transaction, UserSignature};
use sui_transaction_builder::{Function, ObjectInput, TransactionBuilder};

pub const PACKAGE: Address = atoma_localnet::genesis::DEFAULT_PACKAGE;
pub const CLASS_MIN: u64 = 10_000_000_000;
pub const TASK_LOCK: u64 = 1_000_000_000;
pub const BALANCE: u64 = 1_000_000_000_000;
pub const GAS_BUDGET: u64 = 100_000_000;
pub const SEED: [u8; 32] = [7; 32];

pub struct Account {
    pub key: Ed25519PrivateKey,
    pub address: Address,
}

/// `n` accounts with keys derived from their index.
pub fn accounts(n: u8) -> Vec<Account> {
    (0..n)
        .map(|i| {
            let key = Ed25519PrivateKey::new([i + 1; 32]);
            let address = key.public_key().derive_address();
            Account { key, address }
        })
        .collect()
}

/// A genesis funding `accounts` (two coins each), with account 0 as admin,
/// one class `cpu` and one model `tiny`.
pub fn genesis(accounts: &[Account]) -> GenesisConfig {
    GenesisConfig::new(accounts[0].address)
        .with_params(ParamsConfig { reveal_window_ms: Some(5_000), ..Default::default() })
        .with_accounts(accounts.iter().map(|a| a.address), BALANCE, 2)
        .with_class("cpu", "device=cpu", CLASS_MIN, TASK_LOCK)
        .with_model("tiny", &format!("0x{}", "ab".repeat(32)), "cpu", 1_000)
}

pub async fn start(genesis: &GenesisConfig, options: Options) -> Localnet {
    Localnet::start(genesis, Options { seed: Some(SEED), ..options }).await.expect("local network starts")
}

pub fn client(net: &Localnet) -> sui_rpc::Client {
    sui_rpc::Client::new(net.url()).expect("client")
}

/// An object's current reference and owner, read with GetObject.
pub async fn object(client: &mut sui_rpc::Client, id: Address) -> proto::Object {
    let mut req = proto::GetObjectRequest::default();
    req.object_id = Some(id.to_string());
    req.read_mask =
        Some(FieldMask::from_paths(["object_id", "version", "digest", "owner", "object_type", "contents", "balance"]));
    client.ledger_client().get_object(req).await.expect("GetObject").into_inner().object.expect("object")
}

pub fn reference(o: &proto::Object) -> (Address, u64, Digest) {
    (
        o.object_id.as_deref().unwrap().parse().unwrap(),
        o.version.unwrap(),
        Digest::from_base58(o.digest.as_deref().unwrap()).unwrap(),
    )
}

pub fn owned(o: &proto::Object) -> ObjectInput {
    let (id, version, digest) = reference(o);
    ObjectInput::owned(id, version, digest)
}

/// The SUI coins `owner` holds, largest first.
pub async fn coins(client: &mut sui_rpc::Client, owner: Address) -> Vec<proto::Object> {
    let mut req = proto::ListOwnedObjectsRequest::default();
    req.owner = Some(owner.to_string());
    req.object_type = Some("0x2::coin::Coin<0x2::sui::SUI>".into());
    req.read_mask = Some(FieldMask::from_paths(["object_id", "version", "digest", "balance", "owner"]));
    let mut coins = client.state_client().list_owned_objects(req).await.expect("ListOwnedObjects").into_inner().objects;
    coins.sort_by_key(|c| std::cmp::Reverse(c.balance.unwrap_or(0)));
    coins
}

/// A builder with sender, gas price, budget and the sender's largest coin as gas.
pub async fn builder(client: &mut sui_rpc::Client, sender: &Account) -> TransactionBuilder {
    let gas = coins(client, sender.address).await.remove(0);
    let mut tx = TransactionBuilder::new();
    tx.set_sender(sender.address);
    tx.set_gas_price(1_000);
    tx.set_gas_budget(GAS_BUDGET);
    tx.add_gas_objects([owned(&gas)]);
    tx
}

pub fn function(module: &'static str, name: &'static str) -> Function {
    Function::new(PACKAGE, Identifier::from_static(module), Identifier::from_static(name))
}

pub fn sign(tx: &Transaction, signer: &Account) -> UserSignature {
    signer.key.sign_transaction(tx).expect("signing")
}

/// Executes a signed transaction; the full executed transaction, or the gRPC status.
pub async fn execute_signed(
    client: &mut sui_rpc::Client,
    tx: &Transaction,
    signature: UserSignature,
) -> Result<proto::ExecutedTransaction, tonic::Status> {
    let request = proto::ExecuteTransactionRequest::new(tx.clone().into())
        .with_signatures(vec![signature.into()])
        .with_read_mask(FieldMask::from_paths(["digest", "effects", "events", "checkpoint", "balance_changes"]));
    let response = client.execution_client().execute_transaction(request).await?;
    Ok(response.into_inner().transaction.expect("executed transaction"))
}

/// Builds, signs (by `signer`) and executes.
pub async fn execute(
    client: &mut sui_rpc::Client,
    tx: TransactionBuilder,
    signer: &Account,
) -> Result<proto::ExecutedTransaction, tonic::Status> {
    let tx = tx.try_build().expect("transaction builds");
    let signature = sign(&tx, signer);
    execute_signed(client, &tx, signature).await
}

pub fn succeeded(tx: &proto::ExecutedTransaction) -> bool {
    tx.effects.as_ref().and_then(|e| e.status.as_ref()).and_then(|s| s.success).unwrap_or(false)
}

/// The package's events of a transaction, decoded.
pub fn events(tx: &proto::ExecutedTransaction) -> Vec<atoma_protocol::Event> {
    tx.events
        .as_ref()
        .map(|e| e.events.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let event = sui_sdk_types::Event::try_from(e).expect("event converts");
            assert_eq!(event.type_.address(), &PACKAGE);
            atoma_protocol::Event::from_bcs(event.type_.name().as_str(), &event.contents)
                .expect("one of the package's events")
                .expect("decodes")
        })
        .collect()
}

/// The shared Network object as an input (`mutable`), from GetObject.
pub async fn network_input(client: &mut sui_rpc::Client, net: &Localnet) -> ObjectInput {
    let id = net.node().with_ledger(|c| c.identity.network_id);
    shared_input(client, id, true).await
}

/// The shared Network object as a read-only input.
pub async fn network_ref_input(client: &mut sui_rpc::Client, net: &Localnet) -> ObjectInput {
    let id = net.node().with_ledger(|c| c.identity.network_id);
    shared_input(client, id, false).await
}

/// The id of the shared object of class `class_id`.
pub fn class_object(net: &Localnet, class_id: u64) -> Address {
    net.node().with_ledger(|c| Address::from(c.state.network.classes[&class_id]))
}

/// The first class's shared object as a mutable input.
pub async fn class_input(client: &mut sui_rpc::Client, net: &Localnet) -> ObjectInput {
    shared_input(client, class_object(net, 0), true).await
}

pub async fn shared_input(client: &mut sui_rpc::Client, id: Address, mutable: bool) -> ObjectInput {
    let o = object(client, id).await;
    let initial = match o.owner.as_ref().and_then(|owner| owner.version) {
        Some(v) => v,
        None => panic!("object {id} is not shared"),
    };
    ObjectInput::shared(id, initial, mutable)
}

/// Registers a node for `owner` with `collateral` taken from its gas coin;
/// returns the NodeCap's id.
pub async fn register_node(client: &mut sui_rpc::Client, net: &Localnet, owner: &Account, collateral: u64) -> Address {
    register_node_in(client, net, 0, owner, collateral).await
}

/// As `register_node`, in class `class_id`.
pub async fn register_node_in(
    client: &mut sui_rpc::Client,
    net: &Localnet,
    class_id: u64,
    owner: &Account,
    collateral: u64,
) -> Address {
    let tx = register_tx(client, net, class_id, owner, collateral).await;
    let done = execute(client, tx, owner).await.expect("register_node is accepted");
    assert!(succeeded(&done), "register_node succeeds: {:?}", done.effects);
    match &events(&done)[..] {
        [atoma_protocol::Event::NodeRegistered(e)] => Address::from(e.node_id),
        other => panic!("unexpected events {other:?}"),
    }
}

/// The (unsent) transaction of `owner` registering a node in class
/// `class_id` with `collateral` split off its gas coin.
pub async fn register_tx(
    client: &mut sui_rpc::Client,
    net: &Localnet,
    class_id: u64,
    owner: &Account,
    collateral: u64,
) -> TransactionBuilder {
    let mut tx = builder(client, owner).await;
    let class = shared_input(client, class_object(net, class_id), true).await;
    let class = tx.object(class);
    let gas = tx.gas();
    let amount = tx.pure(&collateral);
    let coin = tx.split_coins(gas, vec![amount]).remove(0);
    let endpoint = tx.pure(&"http://127.0.0.1:1".to_string());
    let key = tx.pure(&vec![9u8; 32]);
    tx.move_call(function("node", "register_node"), vec![class, coin, endpoint, key]);
    tx
}

pub const WAIT: Duration = Duration::from_secs(10);
