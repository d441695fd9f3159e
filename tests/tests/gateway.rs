//! `atoma-gateway` driven by clients nobody here wrote: the official
//! `openai` Python package and the official `openai` npm package
//! (gateway/clients/, installed by scripts/setup-clients) against a cluster
//! of real nodes serving a generated Llama chat model and the real
//! all-MiniLM-L6-v2. Each client asserts what an application relies on
//! (docs/gateway.md); this test then checks every receipt it saw against
//! the chain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use atoma_e2e::{Cluster, ClusterSpec, HfModel, NodeSpec};
use atoma_protocol::Status;
use atoma_sdk::Chain;
use serde_json::Value;
use sui_sdk_types::Address;

/// The gateway process, stopped when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway(cluster: &Cluster) -> Gateway {
    let mut child = Command::new(atoma_e2e::bin("atoma-gateway").unwrap())
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", "sampling", "--n", "2"])
        .arg("--info")
        .arg(cluster.dir.join("localnet/info.json"))
        .env("ATOMA_KEY", cluster.requester.to_suiprivkey().unwrap())
        .env("ATOMA_CONFIG", cluster.dir.join("no-atoma-config.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("the gateway did not say where it listens: {line:?}"))
        .to_string();
    Gateway { child, url }
}

fn run_client(program: &Path, script: &Path, gateway: &Gateway) -> Value {
    let out = Command::new(program)
        .arg(script)
        .args(["--base-url", &gateway.url, "--api-key", "sk-test"])
        .args(["--chat-model", HfModel::tiny_llama().id(), "--embed-model", HfModel::MiniLm.id()])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{} failed:\n{stderr}\n{stdout}", script.display());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {stdout}", script.display()))
}

/// A receipt says what the chain says of its request.
async fn check_receipt(chain: &Chain, receipt: &Value) {
    let id: Address = receipt["request"].as_str().unwrap().parse().unwrap();
    let request = chain.request(id).await.unwrap();
    match receipt["status"].as_str().unwrap() {
        "verified" | "unverified" => {
            assert_eq!(request.status, Status::Finalized, "{receipt}");
            assert_eq!(
                receipt["output_digest"].as_str().unwrap(),
                atoma_sdk::http::hex(&request.output_digest.unwrap().0),
                "{receipt}"
            );
            assert!(receipt["transaction"].is_string(), "{receipt}");
        }
        "first_output" => assert!(receipt["output_digest"].is_string(), "{receipt}"),
        other => panic!("status {other}: {receipt}"),
    }
    let model = chain.model(receipt["model"].as_str().unwrap()).await.unwrap();
    assert_eq!(receipt["model_digest"].as_str().unwrap(), atoma_sdk::http::hex(&model.weight_digest.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_clients_get_verified_answers_streams_embeddings_and_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".work/openai-python/bin/python");
    let node_check = root.join("gateway/clients/node");
    assert!(python.exists(), "{} is missing: run scripts/setup-clients", python.display());
    assert!(
        node_check.join("node_modules/openai").is_dir(),
        "the openai npm package is missing: run scripts/setup-clients"
    );
    let spec = ClusterSpec {
        nodes: vec![NodeSpec::default(), NodeSpec::default(), NodeSpec::default()],
        hf_models: vec![HfModel::tiny_llama(), HfModel::MiniLm],
        seed: Some([9; 32]),
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    let gateway = start_gateway(&cluster);
    let chain = cluster.chain().await.unwrap();

    let py = run_client(&python, &root.join("gateway/clients/python/check.py"), &gateway);
    eprintln!("python: {py}");
    for receipt in
        [&py["chat"]["receipt"], &py["stream"]["receipt"], &py["completion"]["receipt"], &py["embeddings"]["receipt"]]
    {
        check_receipt(&chain, receipt).await;
    }
    for receipt in py["modes"].as_object().unwrap().values() {
        check_receipt(&chain, receipt).await;
    }
    // The chat model's entry names its class and digest as the chain does.
    let listed = &py["models"][HfModel::tiny_llama().id()];
    let model = chain.model(HfModel::tiny_llama().id()).await.unwrap();
    assert_eq!(listed["digest"].as_str().unwrap(), atoma_sdk::http::hex(&model.weight_digest.0));
    assert_eq!(listed["class_id"].as_u64().unwrap(), model.class_id);

    let js = run_client(Path::new("node"), &node_check.join("check.mjs"), &gateway);
    eprintln!("node: {js}");
    assert_eq!(js["chat"]["text"], py["chat"]["text"], "greedy answers to one prompt agree across clients");
    check_receipt(&chain, &js["chat"]["receipt"]).await;
}
