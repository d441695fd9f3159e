//! `atoma-gateway` driven by clients nobody here wrote: the official
//! `openai` Python package and the official `openai` npm package
//! (gateway/clients/, installed by scripts/setup-clients) against a cluster
//! of real nodes serving a generated Llama chat model and the real
//! all-MiniLM-L6-v2. Each client asserts what an application relies on
//! (docs/gateway.md); this test then checks every receipt it saw against
//! the chain, and that the key database charged exactly the requests made.
//! A gateway killed in the middle of a stream loses no charge.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a test reads top to bottom as one scenario

use std::path::Path;
use std::process::Command;

use atoma_e2e::gateway::Gateway;
use atoma_e2e::{Cluster, ClusterSpec, HfModel, NodeSpec};
use atoma_protocol::Status;
use atoma_sdk::Chain;
use serde_json::Value;
use sui_sdk_types::Address;

/// `atoma-gateway keys add NAME --budget MIST`: the key it prints.
fn add_key(db: &Path, name: &str, budget: u64) -> String {
    let out = Command::new(atoma_e2e::bin("atoma-gateway").unwrap())
        .args(["keys", "add", name, "--budget", &budget.to_string(), "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `atoma-gateway keys list --json`, by name.
fn list_keys(db: &Path) -> Value {
    let out = Command::new(atoma_e2e::bin("atoma-gateway").unwrap())
        .args(["keys", "list", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    keys.into_iter().map(|k| (k["name"].as_str().unwrap().to_string(), k)).collect()
}

/// Starts `atoma-gateway serve` on the cluster's network with `args`.
fn start_gateway(cluster: &Cluster, args: &[&str]) -> Gateway {
    Gateway::start(cluster, args).unwrap()
}

fn run_client(program: &Path, script: &Path, gateway: &Gateway, key: &str, extra: &[&str]) -> Value {
    let out = Command::new(program)
        .arg(script)
        .args(["--base-url", &gateway.url, "--api-key", key])
        .args(["--chat-model", HfModel::tiny_llama().id(), "--embed-model", HfModel::MiniLm.id()])
        .args(extra)
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
    let db = cluster.dir.join("gateway.sqlite");
    let key = add_key(&db, "app", 1_000_000_000);
    let poor = add_key(&db, "poor", 1);
    let gateway = start_gateway(&cluster, &["--mode", "sampling", "--n", "2", "--db", db.to_str().unwrap()]);
    let chain = cluster.chain().await.unwrap();

    let python_check = root.join("gateway/clients/python/check.py");
    let py = run_client(&python, &python_check, &gateway, &key, &["--poor-api-key", &poor]);
    eprintln!("python: {py}");
    let receipts: Vec<&Value> = [&py["chat"]["receipt"], &py["stream"]["receipt"], &py["completion"]["receipt"]]
        .into_iter()
        .chain(py["modes"].as_object().unwrap().values())
        .chain([&py["embeddings"]["receipt"], &py["embeddings"]["receipt"]])
        .collect();
    for receipt in &receipts {
        check_receipt(&chain, receipt).await;
    }
    // `atoma verify` bears a receipt out, and refuses one with a changed claim.
    let verify = |receipt: &Value| {
        let file = cluster.dir.join("receipt.json");
        std::fs::write(&file, receipt.to_string()).unwrap();
        Command::new(atoma_e2e::bin("atoma").unwrap())
            .args(["verify", "--info"])
            .arg(cluster.dir.join("localnet/info.json"))
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = verify(&py["chat"]["receipt"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut forged = py["chat"]["receipt"].clone();
    forged["output_digest"] = Value::String("00".repeat(32));
    let out = verify(&forged);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).contains("FAIL output digest"));
    // Given the whole response, it checks the answer itself: the text a
    // client got is the output the chain attests, and no other.
    let chat = &py["chat"];
    let response = serde_json::json!({
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": chat["text"] },
                      "finish_reason": chat["finish_reason"] }],
        "usage": chat["usage"], "atoma": chat["receipt"] });
    let out = verify(&response);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && said.contains("ok   answer"), "{said}");
    let mut changed = response.clone();
    changed["choices"][0]["message"]["content"] = Value::String(format!("{} (edited)", chat["text"].as_str().unwrap()));
    let out = verify(&changed);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).contains("FAIL answer"));
    // The gateway pushed the request to its nodes as soon as it was
    // submitted (each logs it, whether the push or a checkpoint came
    // first); a push needs the requester's signature and a seat.
    let chat: Address = py["chat"]["receipt"]["request"].as_str().unwrap().parse().unwrap();
    let pushed = (0..cluster.nodes.len())
        .filter(|&i| {
            cluster.log(i).lines().any(|l| l.contains(&chat.to_string()) && l.contains("pushed by the requester"))
        })
        .count();
    assert_eq!(pushed, 2, "both nodes of the chat request were pushed");
    let seated = chain.request(chat).await.unwrap().slots.iter().map(|s| Address::from(s.node_id)).collect::<Vec<_>>();
    let seat = cluster.nodes.iter().position(|n| seated.contains(&n.id)).unwrap();
    let (inside, outside) = {
        let o = cluster.nodes.iter().position(|n| !seated.contains(&n.id)).unwrap();
        (cluster.nodes[seat].port, cluster.nodes[o].port)
    };
    let push = |port: u16, key: Option<&atoma_sdk::Key>| {
        let mut call =
            reqwest::Client::new().post(format!("http://127.0.0.1:{port}{}", atoma_sdk::http::push_path(&chat)));
        if let Some(k) = key {
            call = call.header(atoma_sdk::http::REQUESTER_SIGNATURE, atoma_sdk::http::sign_push(k, &chat).unwrap());
        }
        async move { call.send().await.unwrap().status().as_u16() }
    };
    // The request is final: its seats are closed, and a push starts nothing.
    assert_eq!(push(inside, Some(&cluster.requester)).await, 404);
    assert_eq!(push(inside, None).await, 401);
    assert_eq!(push(inside, Some(&atoma_sdk::Key::generate())).await, 403);
    assert_eq!(push(outside, Some(&cluster.requester)).await, 404);
    check_node_stream(&chain, &cluster, seat, chat, py["chat"]["text"].as_str().unwrap()).await;
    // The web page's output route: the key that made the request gets the
    // bytes a finalizing node serves, which hash to the finalized digest;
    // another key learns nothing of it.
    let node = py["chat"]["receipt"]["nodes"][0].as_str().unwrap();
    let root = gateway.url.trim_end_matches("/v1");
    let output = |key: &str| {
        let call = reqwest::Client::new().get(format!("{root}/atoma/v1/outputs/{chat}?node={node}")).bearer_auth(key);
        async move { call.send().await.unwrap() }
    };
    let mine = output(&key).await;
    assert_eq!(mine.status(), 200);
    let bytes = mine.bytes().await.unwrap();
    assert_eq!(atoma_sdk::http::hex(&atoma_sdk::http::output_digest(&bytes)), py["chat"]["receipt"]["output_digest"]);
    assert_eq!(output(&poor).await.status(), 404);
    assert_eq!(output("sk-atoma-unknown").await.status(), 401);
    // The chat model's entry names its class and digest as the chain does.
    let listed = &py["models"][HfModel::tiny_llama().id()];
    let model = chain.model(HfModel::tiny_llama().id()).await.unwrap();
    assert_eq!(listed["digest"].as_str().unwrap(), atoma_sdk::http::hex(&model.weight_digest.0));
    assert_eq!(listed["class_id"].as_u64().unwrap(), model.class_id);

    let js = run_client(Path::new("node"), &node_check.join("check.mjs"), &gateway, &key, &[]);
    eprintln!("node: {js}");
    assert_eq!(js["chat"]["text"], py["chat"]["text"], "greedy answers to one prompt agree across clients");
    check_receipt(&chain, &js["chat"]["receipt"]).await;

    let fee = |r: &Value| r["fee"].as_u64().unwrap();
    // Charged: each request made, once, its fee and its input's storage on
    // chain (the context-length refusal was made, and says so in its
    // receipt; the node client's four requests match its chat's mode and
    // input sizes closely enough to count, not to sum); nothing for the
    // requests refused before submission.
    let charge = |r: &Value| r["charge"].as_u64().unwrap();
    let context = &py["errors"]["context"]["receipt"];
    check_receipt(&chain, context).await;
    let made = receipts.len() as u64 + 1 + 4;
    let keys = list_keys(&db);
    assert_eq!(keys["app"]["requests"].as_u64().unwrap(), made);
    let python_charges = receipts.iter().map(|r| charge(r)).sum::<u64>() + charge(context);
    assert!(keys["app"]["spent"].as_u64().unwrap() > python_charges + 4 * fee(&js["chat"]["receipt"]));
    assert_eq!((keys["poor"]["requests"].as_u64().unwrap(), keys["poor"]["spent"].as_u64().unwrap()), (0, 0));
    for r in &receipts {
        assert!(charge(r) > fee(r), "the input's storage is part of the charge: {r}");
    }

    // Killed in the middle of a stream: the charge made at submission stays.
    let stream = the_first_event_of_a_stream(&gateway, &key).await;
    drop(gateway);
    let keys = list_keys(&db);
    assert_eq!(keys["app"]["requests"].as_u64().unwrap(), made + 1, "{stream}");
    let request: Address = stream["id"].as_str().unwrap().trim_start_matches("chatcmpl-").parse().unwrap();
    assert_eq!(chain.request(request).await.unwrap().requester, cluster.requester.address().into());
    assert!(
        keys["app"]["pending"].as_u64().unwrap() >= 1,
        "the killed gateway did not follow its last request to the end"
    );
    // A gateway started again on the database serves the same key, and
    // settles the charges its predecessor could not follow to the end.
    let again = start_gateway(&cluster, &["--db", db.to_str().unwrap()]);
    let response = reqwest::Client::new().get(format!("{}/models", again.url)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let settled = async {
        while list_keys(&db)["app"]["pending"].as_u64() != Some(0) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), settled).await.expect("the charges were never settled");
}

/// The node's own stream of a settled request, asked directly: only its
/// requester may read it; after the run it gives the text (the run's
/// pieces, or once the task is done the stored text in one chunk), then the
/// output, each signed by the node's registered key and chained.
async fn check_node_stream(chain: &Chain, cluster: &Cluster, seat: usize, request: Address, text: &str) {
    use atoma_sdk::http;
    let url = format!("http://127.0.0.1:{}{}", cluster.nodes[seat].port, http::stream_path(&request));
    let ask = |key: Option<&atoma_sdk::Key>| {
        let mut call = reqwest::Client::new().get(&url);
        if let Some(k) = key {
            call = call.header(http::REQUESTER_SIGNATURE, http::sign_output_request(k, &request).unwrap());
        }
        async move {
            let response = call.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(ask(None).await.0, 401);
    assert_eq!(ask(Some(&atoma_sdk::Key::generate())).await.0, 403);
    let (status, body) = ask(Some(&cluster.requester)).await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<(&str, Value)> = body
        .split("\n\n")
        .filter_map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = e.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name, serde_json::from_str(data).unwrap()))
        })
        .collect();
    let (last, chunks) = events.split_last().unwrap();
    assert!(last.0 == "output" && chunks.iter().all(|(n, _)| *n == "chunk"), "{body}");
    let node = cluster.nodes[seat].id;
    let key = chain.node(node).await.unwrap().unwrap().public_key;
    let mut running = http::stream_start(&request);
    let mut joined = String::new();
    for (i, (_, chunk)) in chunks.iter().enumerate() {
        let chunk: http::StreamChunk = serde_json::from_value(chunk.clone()).unwrap();
        running = http::stream_running(&running, &chunk.text);
        assert_eq!((chunk.index, http::parse_hex32(&chunk.running)), (i as u64, Some(running)));
        let message = http::chunk_message(&request, &node, chunk.index, &running, &chunk.text);
        http::verify_node(&chunk.signature, &key, &node, &message).unwrap();
        joined.push_str(&chunk.text);
    }
    assert_eq!(joined, text);
    let end: http::StreamEnd = serde_json::from_value(last.1.clone()).unwrap();
    let (digest, salt) = (http::parse_hex32(&end.digest).unwrap(), http::parse_hex32(&end.salt).unwrap());
    let message = http::stream_end_message(&request, &node, chunks.len() as u64, &running, &digest, &salt);
    http::verify_node(&end.signature, &key, &node, &message).unwrap();
    let attested = chain.request(request).await.unwrap().output_digest.expect("finalized");
    assert_eq!(digest, attested.0, "the stream ends in the output the chain finalized");
}

/// Starts a streamed chat request and returns its first event, once the
/// request is on chain (its id names it).
async fn the_first_event_of_a_stream(gateway: &Gateway, key: &str) -> Value {
    let body = serde_json::json!({ "model": HfModel::tiny_llama().id(), "stream": true, "max_tokens": 12,
                                   "messages": [{ "role": "user", "content": "Count to ten." }] });
    let mut response = reqwest::Client::new()
        .post(format!("{}/chat/completions", gateway.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = response.chunk().await.unwrap().expect("the stream ended before its first event");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event = text.split("\n\n").next().unwrap().trim_start_matches("data: ");
    serde_json::from_str(event).unwrap()
}

/// One streamed chat request through the gateway, read to its end: the
/// events' JSON, `[DONE]` left out.
async fn stream_events(url: &str, body: &Value) -> Vec<Value> {
    let response = reqwest::Client::new().post(format!("{url}/chat/completions")).json(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_from_a_cheater_never_ends_as_verified_text() {
    // CrossValidation checked every time: the primary streams first; when
    // it is the cheater, the verifier disagrees, the dispute finalizes the
    // honest output, and the stream must say so.
    // Seven nodes: a cheating primary, its verifier and the five fresh
    // nodes of their dispute quorum.
    let mut nodes = vec![NodeSpec::default(); 6];
    // Staked deep, so that slashes as a verifier do not drop it from the
    // eligible nodes before it has been the primary twice.
    nodes.push(NodeSpec::adversary("wrong-text", 20));
    let spec =
        ClusterSpec { nodes, hf_models: vec![HfModel::tiny_llama()], seed: Some([21; 32]), ..ClusterSpec::default() };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    let cheater = cluster.nodes[6].id.to_string();
    // Without keys, as on a local network.
    let gateway = start_gateway(&cluster, &["--no-auth", "--mode", "cross-validation", "--p", "1", "--n", "1"]);
    let chain = cluster.chain().await.unwrap();
    let messages = serde_json::json!([{ "role": "user", "content": "Say hello to Sui." }]);
    // The honest answer (greedy, so every honest node gives it).
    let whole = reqwest::Client::new()
        .post(format!("{}/chat/completions", gateway.url))
        .json(&serde_json::json!({ "model": HfModel::tiny_llama().id(), "max_tokens": 12, "messages": messages }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(whole["atoma"]["status"], "verified", "{whole}");
    let honest = whole["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let body = serde_json::json!({ "model": HfModel::tiny_llama().id(), "stream": true, "max_tokens": 12, "messages": messages });
    let (mut cheated, mut replaced, mut tokenwise) = (0, 0, 0);
    for _ in 0..80 {
        let events = stream_events(&gateway.url, &body).await;
        let request: Address = events[0]["id"].as_str().unwrap().trim_start_matches("chatcmpl-").parse().unwrap();
        let slots = chain.request(request).await.unwrap().slots;
        let primary = slots.iter().find(|s| s.role == atoma_protocol::Role::Executor).unwrap();
        let by_cheater = Address::from(primary.node_id).to_string() == cheater;
        let pieces: Vec<&str> = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .filter(|t| !t.is_empty())
            .collect();
        // Token by token when the stream opens while the node runs; a stream
        // opened after the run (a loaded machine) gets the text in one piece.
        tokenwise += usize::from(pieces.len() > 2);
        let streamed = pieces.concat();
        let last = events.last().unwrap();
        if last.get("error").is_some() {
            // The cheater's text went out: the stream ends in an error
            // carrying the verified (honest) text, never a normal finish.
            assert!(by_cheater, "only a cheater's stream is replaced: {last}");
            assert_eq!(last["error"]["code"], "output_replaced", "{last}");
            assert!(streamed.starts_with("Trust me"), "{streamed:?}");
            replaced += 1;
            assert_eq!(
                (last["atoma"]["status"].as_str(), last["atoma"]["output"].as_str()),
                (Some("verified"), Some(honest.as_str()))
            );
        } else {
            // A normal finish: what was streamed is the verified output.
            assert_eq!(
                streamed, honest,
                "a stream finished normally with text that is not the verified output: {last}"
            );
            assert_eq!(last["atoma"]["status"], "verified", "{last}");
        }
        cheated += usize::from(by_cheater);
        if cheated == 2 {
            break;
        }
    }
    assert_eq!(cheated, 2, "the cheater was the primary of fewer than two of 80 requests");
    assert_eq!(replaced, 2, "each stream the cheater served ended as replaced");
    assert!(tokenwise > 0, "no stream came token by token");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_streaming_what_it_does_not_commit_is_never_shown_as_verified_nor_streamed_from_again() {
    // Sampling n=3 over three nodes: every request runs on the liar, which
    // commits the honest output but streams other text, signed.
    let mut nodes = vec![NodeSpec::default(); 2];
    nodes.push(NodeSpec::adversary("stream-lies", 1));
    let spec =
        ClusterSpec { nodes, hf_models: vec![HfModel::tiny_llama()], seed: Some([22; 32]), ..ClusterSpec::default() };
    let cluster = Cluster::start(&spec, None, &|_| {}).await.unwrap();
    let gateway = start_gateway(&cluster, &["--no-auth", "--mode", "sampling", "--n", "3"]);
    let messages = serde_json::json!([{ "role": "user", "content": "Say hello to Sui." }]);
    let body = serde_json::json!({ "model": HfModel::tiny_llama().id(), "stream": true, "max_tokens": 12, "messages": messages });
    let (mut replaced, mut after) = (0, 0);
    let mut honest = None;
    for _ in 0..40 {
        let events = stream_events(&gateway.url, &body).await;
        let streamed: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
        let last = events.last().unwrap();
        if last.get("error").is_some() {
            // The liar's text went out: an error with the verified text, never a finish.
            assert_eq!(last["error"]["code"], "output_replaced", "{last}");
            assert!(streamed.starts_with("Trust me"), "{streamed:?}");
            assert_eq!(last["atoma"]["status"], "verified", "{last}");
            replaced += 1;
        } else {
            assert!(!streamed.starts_with("Trust me"), "a lie finished as verified: {last}");
            assert_eq!(last["atoma"]["status"], "verified", "{last}");
            let text = honest.get_or_insert_with(|| streamed.clone());
            assert_eq!(&streamed, text, "greedy: every verified stream is the same text");
            after += usize::from(replaced > 0);
            if after == 5 {
                break;
            }
        }
    }
    // Caught once, the liar is not streamed from again by the gateway.
    assert_eq!(replaced, 1, "the liar streamed first in none of 40 requests, or more than once");
    assert_eq!(after, 5);
}
