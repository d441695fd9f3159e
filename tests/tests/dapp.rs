//! The example dApp (`examples/dapp`, Node.js with Sui's TypeScript SDK
//! `@mysten/sui` and nothing of ours) against the local network and a node
//! process: the SDK's ordinary `signAndExecuteTransaction` resolves the
//! transaction through `SimulateTransaction` over gRPC-web, the request is
//! finalized, and the output the node serves matches the attested digest.
//! `scripts/setup-dapp` installs the pinned packages (`npm ci`).

use std::path::{Path, PathBuf};
use std::process::Command;

use atoma_e2e::{Cluster, ClusterSpec, NodeSpec};
use atoma_protocol::Status;
use sui_sdk_types::Address;

/// `examples/dapp`, its packages installed; `None` (the test skipped, and
/// says so) without Node.js.
fn example() -> Option<PathBuf> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dapp");
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: Node.js is not installed; the example dApp needs it");
        return None;
    }
    assert!(
        example.join("node_modules/@mysten/sui").is_dir(),
        "the example's packages are not installed: run scripts/setup-dapp"
    );
    Some(example)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_example_dapp_submits_waits_for_finality_and_verifies_the_output() {
    let Some(example) = example() else { return };
    let spec = ClusterSpec { nodes: vec![NodeSpec::default()], seed: Some([5; 32]), ..ClusterSpec::default() };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    let out = Command::new("node")
        .arg(example.join("submit.mjs"))
        .args(["--url", &cluster.url, "--package", &cluster.package.to_string()])
        .args(["--network", &cluster.network.to_string(), "--model", "tiny-gpt", "--prompt", "hello"])
        .args(["--max-tokens", "4", "--n", "1"])
        .env("ATOMA_KEY", cluster.requester.to_suiprivkey().unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the example failed:\n{stderr}\n{stdout}");
    eprintln!("{stderr}{stdout}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let request: Address = answer["request"].as_str().unwrap().parse().unwrap();

    // What the example printed is what the chain says.
    let chain = cluster.chain().await.unwrap();
    let on_chain = chain.request(request).await.unwrap();
    assert_eq!(on_chain.status, Status::Finalized);
    assert_eq!(answer["output_digest"].as_str().unwrap(), atoma_sdk::http::hex(&on_chain.output_digest.unwrap().0));
    assert_eq!(answer["nodes"][0].as_str().unwrap(), cluster.nodes[0].id.to_string());
    assert_eq!(on_chain.requester.to_string(), cluster.requester.address().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_calls_a_browser_dapp_makes_are_answered_as_a_sui_full_node_answers_them() {
    // `examples/dapp/core-calls.mjs`: Sui's TypeScript SDK asks for the
    // system state, the protocol config, SUI's coin metadata, a simulation
    // with its gas left to the node, and transaction lists, and checks what
    // comes back (docs/localnet.md).
    let Some(example) = example() else { return };
    let spec = ClusterSpec { nodes: vec![NodeSpec::default()], seed: Some([6; 32]), ..ClusterSpec::default() };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    // A request on chain, so that the lists hold calls of the package.
    let client = cluster.client().await.unwrap();
    let input = atoma_sdk::InputSpec::Bytes(br#"{"prompt":"hi","max_tokens":2}"#.to_vec());
    let spec = atoma_sdk::RequestSpec::new("tiny-gpt", input, atoma_protocol::Mode::Sampling { n: 1 });
    client.submit(spec).await.unwrap().finality().await.unwrap();
    // A key with two coins: one to spend, one for the gas the node chooses.
    let key = atoma_sdk::Key::generate();
    for amount in [1_000_000_000, 1_000_000_000] {
        client.chain().transfer_sui(key.address(), amount).await.unwrap();
    }
    let out = Command::new("node")
        .arg(example.join("core-calls.mjs"))
        .args(["--url", &cluster.url, "--package", &cluster.package.to_string()])
        .env("ATOMA_KEY", key.to_suiprivkey().unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the SDK's calls failed:\n{stderr}\n{stdout}");
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    eprintln!("{seen}");
    assert_eq!(seen["coinMetadata"]["decimals"], 9);
    assert_eq!(seen["simulation"]["status"]["success"], true);
    let latest = seen["transactions"]["latest"][0].as_str().unwrap();
    let first = seen["transactions"]["first"][0].as_str().unwrap();
    assert_ne!(latest, first, "descending starts at the tip, ascending at genesis");
}
