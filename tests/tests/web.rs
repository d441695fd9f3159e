//! The explorer and playground (web/) in a real browser: Debian's Chromium
//! driven by `playwright-core` (web/tests/browser.mjs) against a gateway
//! serving web/dist over a cluster with a cheating node. The page reads the
//! chain itself (Sui's TypeScript SDK over gRPC-web); the test checks what a
//! visitor sees: streamed text that turns verified, the browser's own check
//! of the output against the finalized digest, the cheater slashed, and a
//! name on every control. Screenshots: target/web-screenshots/.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a test reads top to bottom as one scenario

use std::path::{Path, PathBuf};
use std::process::Command;

use atoma_e2e::gateway::Gateway;
use atoma_e2e::{Cluster, ClusterSpec, HfModel, NodeSpec};
use serde_json::Value;

/// Chromium, or `None` (the test skipped, saying why) where it is not
/// installed; on CI a missing browser fails.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("ATOMA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if path.is_file() {
        return Some(path);
    }
    let why = format!("no Chromium at {} (scripts/setup-web installs Debian's as root)", path.display());
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_and_playground_show_a_streamed_answer_verified_its_digest_checked_and_the_cheater_slashed() {
    let Some(chromium) = chromium() else { return };
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    assert!(web.join("dist/index.html").is_file(), "web/dist is not built: run scripts/setup-web");
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "web's packages are not installed: run scripts/setup-web"
    );
    // Seven nodes, one answering wrong text: Sampling with two nodes draws
    // it into two requests in seven, and the dispute quorum of the five
    // others outvotes it.
    let mut nodes = vec![NodeSpec::default(); 6];
    nodes.push(NodeSpec::adversary("wrong-text", 20));
    let spec =
        ClusterSpec { nodes, hf_models: vec![HfModel::tiny_llama()], seed: Some([26; 32]), ..ClusterSpec::default() };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    let cheater = cluster.nodes[6].id.to_string();
    let dist = web.join("dist");
    let web_args = ["--no-auth", "--web", dist.to_str().unwrap(), "--faucet", &cluster.faucet_url];
    let gateway = Gateway::start(&cluster, &web_args).unwrap();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots");
    let out = Command::new("node")
        .arg(web.join("tests/browser.mjs"))
        .args(["--url", &gateway.root(), "--cheater", &cheater, "--chromium"])
        .arg(&chromium)
        .arg("--shots")
        .arg(&shots)
        .output()
        .expect("node runs the browser script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|_| panic!("no report from the browser: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("browser report: {report:#}");
    assert!(out.status.success(), "the browser script failed: {}", report["error"]);
    assert_eq!(report["console_errors"], serde_json::json!([]), "the page logged errors");
    assert_eq!(report["unnamed_controls"], serde_json::json!([]), "controls without a name");
    assert_eq!(report["digest_ok"], true, "the browser's digest check: {}", report["digest_check"]);
    let answers = report["answers"].as_array().unwrap();
    // The text streamed in before the answer was final.
    for a in answers {
        let shown = a["badge_while_streaming"].as_str().unwrap();
        assert!(["submitted", "first output"].contains(&shown), "a badge already final while streaming: {a}");
        assert_ne!(a["final"], "failed", "{a}");
    }
    assert!(answers.iter().any(|a| a["final"] == "verified"));
    assert!(report["cheater_row"].as_str().unwrap().contains("slashed"));
    let standings = &report["standings"];
    assert_eq!(standings["folded"], standings["on_chain"], "eligible nodes: the page's fold against the class object");
    // The browser's own key: a request it signed, verified, its output hashed there.
    let direct = &report["direct"];
    assert_eq!(direct["badge"], "verified", "{direct}");
    assert!(direct["note"].as_str().unwrap().contains("hashes, in this browser"), "{direct}");
    let signer: sui_sdk_types::Address = report["dev_address"].as_str().unwrap().parse().unwrap();
    let chain = cluster.chain().await.unwrap();
    let request: sui_sdk_types::Address = direct["request"].as_str().unwrap().parse().unwrap();
    assert_eq!(chain.request(request).await.unwrap().requester, signer.into(), "the browser's key made the request");
    // And a wallet's, through Sui's dApp kit.
    let wallet = &report["wallet"];
    assert_eq!(wallet["badge"], "verified", "{wallet}");
    let signer: sui_sdk_types::Address = report["wallet_address"].as_str().unwrap().parse().unwrap();
    let request: sui_sdk_types::Address = wallet["request"].as_str().unwrap().parse().unwrap();
    assert_eq!(chain.request(request).await.unwrap().requester, signer.into(), "the wallet's key made the request");
    eprintln!("the page loaded in {} ms; screenshots in {}", report["load_ms"], shots.display());

    // With the page at `/`, the API's unknown paths stay the API's: a JSON
    // 404, never the page; the page's own routes get its index.
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", gateway.root())).send();
    let unknown = get("v1/models/llama-chat/extra").await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    assert_eq!(get("atoma/v1/nothing").await.unwrap().status(), 404);
    let page = get("requests/deep/link").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<main id=\"main\">"));
    // The output route asks only a node that finalized the request (one
    // of the verified requests without a dispute has nodes that did not),
    // and brings a gateway request's output from one that did.
    // A finalizer revealed the finalized digest: in a dispute the cheater
    // revealed too, another digest, and is not one.
    let finalizers = |request: sui_sdk_types::Address| {
        let chain = &chain;
        async move {
            let request = chain.request(request).await.unwrap();
            let finalized = request.output_digest.expect("a final request");
            let agreed = request.slots.iter().filter(|s| s.reveal == Some(finalized));
            agreed.map(|s| sui_sdk_types::Address::from(s.node_id)).collect::<Vec<_>>()
        }
    };
    let parse = |a: &Value| a["request"].as_str().unwrap().parse::<sui_sdk_types::Address>().unwrap();
    let verified: Vec<_> = report["answers"].as_array().unwrap().iter().filter(|a| a["final"] == "verified").collect();
    let mine = parse(verified[0]);
    let finalizer = finalizers(mine).await[0];
    assert_eq!(get(&format!("atoma/v1/outputs/{mine}?node={finalizer}")).await.unwrap().status(), 200);
    let mut outsider = None;
    for a in verified.into_iter().chain([&report["direct"], &report["wallet"]]) {
        let done = finalizers(parse(a)).await;
        if let Some(n) = cluster.nodes.iter().find(|n| !done.contains(&n.id)) {
            outsider = Some((parse(a), n.id));
            break;
        }
    }
    let (request, stranger) = outsider.expect("a verified request that a node did not finalize");
    assert_eq!(get(&format!("atoma/v1/outputs/{request}?node={stranger}")).await.unwrap().status(), 404);
}
