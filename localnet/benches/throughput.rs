//! Throughput of the local network: signed transactions per second and
//! checkpoint latency with 1, 4 and 16 concurrent clients, each sending
//! SUI transfers (SplitCoins + TransferObjects) one after the other over
//! loopback gRPC. A benchmark, not a test: it prints a table and writes
//! `target/bench/localnet.json`.
//!
//! Run: `scripts/bench-localnet` (or `cargo bench -p atoma-localnet --bench throughput`).
//! Environment: `BENCH_SECONDS` per configuration (default 5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atoma_localnet::genesis::GenesisConfig;
use atoma_localnet::{Localnet, Options};
use futures::StreamExt;
use prost_types::FieldMask;
use sui_crypto::SuiSigner;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest};
use sui_transaction_builder::{ObjectInput, TransactionBuilder};

const CLIENTS: [usize; 3] = [1, 4, 16];

struct Figures {
    clients: usize,
    transactions: usize,
    seconds: f64,
    tps: f64,
    latency_ms_mean: f64,
    checkpoint_latency_ms_mean: f64,
    checkpoint_latency_ms_p95: f64,
}

fn key(i: usize) -> Ed25519PrivateKey {
    Ed25519PrivateKey::new([(i + 1) as u8; 32])
}

async fn gas_coin(client: &mut sui_rpc::Client, owner: Address) -> (Address, u64, Digest) {
    let mut req = proto::ListOwnedObjectsRequest::default();
    req.owner = Some(owner.to_string());
    req.object_type = Some("0x2::coin::Coin<0x2::sui::SUI>".into());
    req.read_mask = Some(FieldMask::from_paths(["object_id", "version", "digest"]));
    let o = client.state_client().list_owned_objects(req).await.unwrap().into_inner().objects.remove(0);
    (o.object_id.unwrap().parse().unwrap(), o.version.unwrap(), Digest::from_base58(o.digest.unwrap()).unwrap())
}

/// Sends transfers for `duration`; returns (digest, response time, latency) per transaction.
async fn client_loop(url: String, i: usize, duration: Duration) -> Vec<(Digest, Instant, Duration)> {
    let key = key(i);
    let sender = key.public_key().derive_address();
    let mut client = sui_rpc::Client::new(url).unwrap();
    let (mut id, mut version, mut digest) = gas_coin(&mut client, sender).await;
    let mut out = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let mut tx = TransactionBuilder::new();
        tx.set_sender(sender);
        tx.set_gas_price(1_000);
        tx.set_gas_budget(10_000_000);
        tx.add_gas_objects([ObjectInput::owned(id, version, digest)]);
        let gas = tx.gas();
        let amount = tx.pure(&1_000u64);
        let coins = tx.split_coins(gas, vec![amount]);
        let to = tx.pure(&sender);
        tx.transfer_objects(coins, to);
        let tx = tx.try_build().unwrap();
        let signature = key.sign_transaction(&tx).unwrap();
        let request = proto::ExecuteTransactionRequest::new(tx.clone().into())
            .with_signatures(vec![signature.into()])
            .with_read_mask(FieldMask::from_paths(["effects.changed_objects", "effects.gas_object"]));
        let started = Instant::now();
        let response = client.execution_client().execute_transaction(request).await.unwrap().into_inner();
        let done = Instant::now();
        out.push((tx.digest(), done, done - started));
        // The gas coin's new reference, from the effects.
        let effects = response.transaction.unwrap().effects.unwrap();
        let gas = effects.gas_object.unwrap();
        id = gas.object_id.unwrap().parse().unwrap();
        version = gas.output_version.unwrap();
        digest = Digest::from_base58(gas.output_digest.unwrap()).unwrap();
    }
    out
}

async fn run(clients: usize, duration: Duration) -> Figures {
    let addresses: Vec<Address> = (0..clients).map(|i| key(i).public_key().derive_address()).collect();
    let genesis = GenesisConfig::new(addresses[0]).with_accounts(addresses.iter().copied(), 1_000_000_000_000, 1);
    let net = Localnet::start(&genesis, Options::default()).await.unwrap();
    let url = net.url();

    // Record when each transaction shows up in a checkpoint.
    let seen: Arc<Mutex<HashMap<Digest, Instant>>> = Arc::default();
    let mut sub = sui_rpc::Client::new(url.clone()).unwrap();
    let mut req = proto::SubscribeCheckpointsRequest::default();
    req.read_mask = Some(FieldMask::from_paths(["sequence_number", "transactions.digest"]));
    let mut stream = sub.subscription_client().subscribe_checkpoints(req).await.unwrap().into_inner();
    let recorder = seen.clone();
    let watcher = tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            let now = Instant::now();
            let mut map = recorder.lock().unwrap();
            for t in frame.checkpoint.map(|c| c.transactions).unwrap_or_default() {
                map.insert(Digest::from_base58(t.digest.unwrap()).unwrap(), now);
            }
        }
    });

    let started = Instant::now();
    let tasks: Vec<_> = (0..clients).map(|i| tokio::spawn(client_loop(url.clone(), i, duration))).collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    watcher.abort();
    let mut checkpoint_latency: Vec<f64> = {
        let seen = seen.lock().unwrap();
        all.iter()
            .filter_map(|(d, done, _)| seen.get(d).map(|at| at.saturating_duration_since(*done).as_secs_f64() * 1e3))
            .collect()
    };
    checkpoint_latency.sort_by(|a, b| a.total_cmp(b));
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let p95 = checkpoint_latency.get(checkpoint_latency.len() * 95 / 100).copied().unwrap_or(0.0);
    let latencies: Vec<f64> = all.iter().map(|(_, _, l)| l.as_secs_f64() * 1e3).collect();
    net.shutdown().await;
    Figures {
        clients,
        transactions: all.len(),
        seconds,
        tps: all.len() as f64 / seconds,
        latency_ms_mean: mean(&latencies),
        checkpoint_latency_ms_mean: mean(&checkpoint_latency),
        checkpoint_latency_ms_p95: p95,
    }
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rows = Vec::new();
    println!(
        "| clients | transactions | tx/s | execute latency (ms, mean) | checkpoint latency (ms, mean) | checkpoint latency (ms, p95) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for clients in CLIENTS {
        let f = runtime.block_on(run(clients, Duration::from_secs(seconds)));
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.1} | {:.1} |",
            f.clients,
            f.transactions,
            f.tps,
            f.latency_ms_mean,
            f.checkpoint_latency_ms_mean,
            f.checkpoint_latency_ms_p95
        );
        rows.push(serde_json::json!({
            "clients": f.clients,
            "transactions": f.transactions,
            "seconds": f.seconds,
            "tps": f.tps,
            "execute_latency_ms_mean": f.latency_ms_mean,
            "checkpoint_latency_ms_mean": f.checkpoint_latency_ms_mean,
            "checkpoint_latency_ms_p95": f.checkpoint_latency_ms_p95,
        }));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let json = serde_json::json!({ "benchmark": "localnet-throughput", "checkpoint_interval_ms": 100, "rows": rows });
    std::fs::write(dir.join("localnet.json"), serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("wrote target/bench/localnet.json");
}
