//! The `atoma-localnet` binary as processes on one data directory: a second
//! start is refused while the first serves (one writer per ledger), and a
//! network killed with SIGKILL in the middle of a stream of transactions
//! restarts (the operating system released its lock) with every transaction
//! it acknowledged.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;

/// How long a process may take to start serving, or to stop, on a loaded machine.
const START: Duration = Duration::from_secs(60);

/// An `atoma-localnet start` process, killed when dropped (a failing test leaves none behind).
struct Localnet {
    child: Child,
    log: PathBuf,
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Localnet {
    /// Starts `atoma-localnet start` on `dir/genesis.toml` and `dir/ledger`;
    /// its info file is `dir/<name>.json`, its stderr `dir/<name>.log`.
    fn spawn(dir: &Path, name: &str) -> Localnet {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_atoma-localnet"))
            .arg("start")
            .arg("--genesis")
            .arg(dir.join("genesis.toml"))
            .args(["--listen", "127.0.0.1:0", "--faucet-listen", "127.0.0.1:0"])
            .arg("--info-file")
            .arg(dir.join(format!("{name}.json")))
            .arg("--data-dir")
            .arg(dir.join("ledger"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("atoma-localnet starts");
        Localnet { child, log }
    }

    /// Its info file, once it serves.
    async fn info(&mut self, dir: &Path, name: &str) -> serde_json::Value {
        let path = dir.join(format!("{name}.json"));
        let deadline = Instant::now() + START;
        loop {
            if let Some(info) = std::fs::read_to_string(&path).ok().and_then(|s| serde_json::from_str(&s).ok()) {
                return info;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("atoma-localnet exited ({status}): {}", self.stderr());
            }
            assert!(Instant::now() < deadline, "atoma-localnet did not serve in time: {}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for it to exit by itself; `None` if it still runs after `START`.
    async fn exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + START;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

/// A directory with a genesis file funding two accounts (and the faucet).
fn network_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let genesis = common::genesis(&common::accounts(2));
    std::fs::write(dir.path().join("genesis.toml"), toml::to_string(&genesis).unwrap()).unwrap();
    dir
}

/// Asks the faucet at `url` for 1 SUI for `to`; the payment's digest once acknowledged.
async fn fund(http: &reqwest::Client, url: &str, to: Address) -> Result<String, String> {
    let body = serde_json::json!({ "FixedAmountRequest": { "recipient": to.to_string(), "amount": 1_000_000_000u64 } });
    let response = http.post(format!("{url}/v2/gas")).json(&body).send().await.map_err(|e| e.to_string())?;
    let answer: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    answer["coins_sent"][0]["transferTxDigest"].as_str().map(str::to_string).ok_or_else(|| answer.to_string())
}

/// Whether the network at `url` knows transaction `digest`.
async fn knows(client: &mut sui_rpc::Client, digest: &str) -> bool {
    let request = proto::GetTransactionRequest::default().with_digest(digest.to_string());
    match client.ledger_client().get_transaction(request).await {
        Ok(_) => true,
        Err(status) if status.code() == tonic::Code::NotFound => false,
        Err(status) => panic!("GetTransaction {digest}: {status}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_start_on_a_data_dir_in_use_is_refused_naming_the_holder() {
    let dir = network_dir();
    let mut first = Localnet::spawn(dir.path(), "first");
    let info = first.info(dir.path(), "first").await;

    let mut second = Localnet::spawn(dir.path(), "second");
    let Some(status) = second.exit().await else {
        panic!("a second atoma-localnet started on a data directory in use: {}", second.stderr());
    };
    let stderr = second.stderr();
    assert!(!status.success(), "{stderr}");
    let (pid, ledger) = (first.child.id(), dir.path().join("ledger"));
    assert!(stderr.contains(&format!("in use by process {pid}")), "names the holder {pid}: {stderr}");
    assert!(stderr.contains(&ledger.display().to_string()) && stderr.contains("--data-dir"), "{stderr}");
    assert!(!dir.path().join("second.json").exists(), "the second never served");

    // The first keeps serving and recording.
    assert!(first.child.try_wait().unwrap().is_none(), "the first still runs: {}", first.stderr());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let faucet = info["faucet_url"].as_str().unwrap();
    let digest = fund(&http, faucet, Address::from([5; 32])).await.expect("the first network pays");
    let mut client = sui_rpc::Client::new(info["url"].as_str().unwrap()).unwrap();
    assert!(knows(&mut client, &digest).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_killed_mid_stream_restarts_with_every_acknowledged_transaction() {
    let dir = network_dir();
    let mut net = Localnet::spawn(dir.path(), "first");
    let info = net.info(dir.path(), "first").await;
    let faucet = info["faucet_url"].as_str().unwrap().to_string();

    // Two clients pay out without pause, each keeping the digests acknowledged to it.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..2u8)
        .map(|sender| {
            let (http, faucet, acknowledged) = (http.clone(), faucet.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0u32.. {
                    let mut to = [sender; 32];
                    to[..4].copy_from_slice(&i.to_le_bytes());
                    // Fails once the network is killed: a refused or cut connection.
                    match fund(&http, &faucet, Address::from(to)).await {
                        Ok(digest) => acknowledged.lock().unwrap().push(digest),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + START;
    while acknowledged.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "the faucet did not pay in time: {}", net.stderr());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    net.child.kill().unwrap(); // SIGKILL, while both clients are sending
    net.child.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    drop(net);

    let mut net = Localnet::spawn(dir.path(), "restarted");
    let restarted = net.info(dir.path(), "restarted").await;
    assert_eq!(restarted["chain_id"], info["chain_id"], "the same chain continues");
    let mut client = sui_rpc::Client::new(restarted["url"].as_str().unwrap()).unwrap();
    let mut lost = Vec::new();
    for digest in &acknowledged {
        if !knows(&mut client, digest).await {
            lost.push(digest.clone());
        }
    }
    assert!(lost.is_empty(), "{} of {} acknowledged transactions lost: {lost:?}", lost.len(), acknowledged.len());
    // And it keeps paying.
    let digest = fund(&http, restarted["faucet_url"].as_str().unwrap(), Address::from([9; 32])).await.unwrap();
    assert!(knows(&mut client, &digest).await);
}
