//! `atoma-bench-gateway` (scripts/bench-gateway): a benchmark, not a test.
//! Through `atoma-gateway` against the engine's native time, on the real
//! SmolLM2-135M-Instruct (three nodes): the time to the first token of a
//! streamed chat completion against native prefill plus one transaction,
//! from the first to the last token against native decode, the whole
//! response against native generation, per mode; and the same
//! with the push to the selected nodes turned off (`--no-push`), so that
//! the chain round the push saves shows. Writes target/bench/gateway.json
//! and the section between the gateway markers of docs/benchmarks.md.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use atoma_e2e::{Cluster, ClusterSpec, HfModel, NodeSpec};
use atoma_sdk::{EventStream, Start};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "atoma-bench-gateway")]
/// Time to first token and whole responses through atoma-gateway against native inference.
struct Args {
    /// The repository root (docs/benchmarks.md is updated there).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Streamed requests per mode and push setting.
    #[arg(long, default_value_t = 5)]
    requests: usize,
    /// New tokens per request.
    #[arg(long, default_value_t = 32)]
    tokens: u64,
    /// The local network's checkpoint interval (Sui's is about 250 ms).
    #[arg(long, default_value_t = 250)]
    checkpoint_interval_ms: u64,
}

const PROMPT: &str = "What is the capital of France? Answer in one sentence.";

struct Gateway(Child, String);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(cluster: &Cluster, push: bool) -> anyhow::Result<Gateway> {
    let mut cmd = Command::new(atoma_e2e::bin("atoma-gateway")?);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--no-auth", "--info"]).arg(cluster.dir.join("localnet/info.json"));
    if !push {
        cmd.arg("--no-push");
    }
    let mut child = cmd
        .env("ATOMA_KEY", cluster.requester.to_suiprivkey()?)
        .env("ATOMA_CONFIG", cluster.dir.join("no-atoma-config.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).context("no URL")?.to_string();
    Ok(Gateway(child, url))
}

/// One streamed request: ms to the first content, to the last content
/// and to the end.
async fn streamed(url: &str, atoma: &Value, tokens: u64) -> anyhow::Result<(f64, f64, f64)> {
    let body = json!({ "model": HfModel::SmolLm2.id(), "stream": true, "max_tokens": tokens, "atoma": atoma,
                       "messages": [{ "role": "user", "content": PROMPT }] });
    let started = Instant::now();
    let mut response = reqwest::Client::new().post(format!("{url}/chat/completions")).json(&body).send().await?;
    anyhow::ensure!(response.status().is_success(), "{}", response.status());
    let (mut text, mut seen, mut first, mut last) = (String::new(), 0, None, None);
    while let Some(chunk) = response.chunk().await? {
        text.push_str(&String::from_utf8_lossy(&chunk));
        let events: Vec<&str> = text.split("\n\n").filter_map(|e| e.trim().strip_prefix("data: ")).collect();
        let content = events[seen..].iter().any(|d| {
            serde_json::from_str::<Value>(d)
                .ok()
                .and_then(|v| v["choices"][0]["delta"]["content"].as_str().map(|c| !c.is_empty()))
                .unwrap_or(false)
        });
        // The last event may be incomplete: read again with the next bytes.
        seen = events.len().saturating_sub(1);
        if content {
            first.get_or_insert(started.elapsed());
            last = Some(started.elapsed());
        }
    }
    anyhow::ensure!(!text.contains("\"error\""), "the request failed: {text}");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok((ms(first.context("no content")?), ms(last.context("no content")?), ms(started.elapsed())))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn engine_input(tokens: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({ "messages": [{ "role": "user", "content": PROMPT }], "max_tokens": tokens }))
        .expect("JSON")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    eprintln!(
        "== gateway: 3 nodes serving SmolLM2-135M-Instruct, checkpoints every {} ms",
        args.checkpoint_interval_ms
    );
    let spec = ClusterSpec {
        nodes: vec![NodeSpec::default(), NodeSpec::default(), NodeSpec::default()],
        hf_models: vec![HfModel::SmolLm2],
        checkpoint_interval_ms: args.checkpoint_interval_ms,
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start(&spec, None, &|s| eprintln!("{s}")).await?;
    let model = HfModel::SmolLm2.id();
    let (prefill_ms, _) = cluster.native(model, &engine_input(1), &[0; 32], 5)?;
    let (native_ms, _) = cluster.native(model, &engine_input(args.tokens), &[0; 32], 5)?;
    // One transaction, sent and answered: what submitting costs.
    let client = cluster.client().await?;
    let mut tx = Vec::new();
    let mut events = EventStream::new(client.chain().rpc(), client.chain().identity().type_origin, Start::Tip);
    let mut round = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let sent = client.chain().withdraw_treasury(cluster.admin_cap, 0).await?;
        tx.push(t.elapsed().as_secs_f64() * 1e3);
        while events.next().await?.transaction != sent.digest {}
        round.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (tx_ms, round_ms) = (median(tx), median(round));
    let goal_ms = prefill_ms + tx_ms + 20.0;
    let mut rows = Vec::new();
    for push in [true, false] {
        let gw = gateway(&cluster, push)?;
        for (label, atoma) in [
            ("Sampling n=2", json!({ "mode": "sampling", "n": 2 })),
            ("CrossValidation p=0 (unchecked)", json!({ "mode": "cross-validation", "p": 0.0, "n": 1 })),
            ("CrossValidation p=1 n=1 (checked)", json!({ "mode": "cross-validation", "p": 1.0, "n": 1 })),
        ] {
            let (mut first, mut decode, mut whole) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..args.requests {
                let (f, l, w) = streamed(&gw.1, &atoma, args.tokens).await?;
                first.push(f);
                decode.push(l - f);
                whole.push(w);
            }
            let (f, d, w) = (median(first), median(decode), median(whole));
            eprintln!("{label}, push {push}: first token {f:.0} ms, first to last token {d:.0} ms, whole {w:.0} ms");
            rows.push(json!({ "mode": label, "push": push, "first_token_ms": f, "decode_ms": d, "whole_ms": w,
                              "first_token_over_goal": f / goal_ms, "first_token_over_native": f / native_ms,
                              "decode_rate_over_native": (native_ms - prefill_ms) / d,
                              "whole_over_native": w / native_ms }));
        }
    }
    let report = json!({ "model": model, "tokens": args.tokens, "requests": args.requests,
                         "checkpoint_interval_ms": args.checkpoint_interval_ms, "native_prefill_ms": prefill_ms,
                         "native_generation_ms": native_ms, "transaction_ms": tx_ms, "chain_round_ms": round_ms,
                         "goal_first_token_ms": goal_ms, "rows": rows });
    let out = args.root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("gateway.json"), serde_json::to_string_pretty(&report)?)?;
    write_doc(&args.root.join("docs/benchmarks.md"), &report)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The gateway section of docs/benchmarks.md.
fn write_doc(doc: &std::path::Path, r: &Value) -> anyhow::Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let pushed: Vec<&Value> =
        r["rows"].as_array().into_iter().flatten().filter(|row| row["push"].as_bool() == Some(true)).collect();
    let mut table = String::from(
        "| mode | push | first token (ms) | / goal | / native generation | first to last token (ms) | decode rate / native | whole response (ms) | / native generation |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in r["rows"].as_array().into_iter().flatten() {
        table.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} |\n",
            row["mode"].as_str().unwrap_or_default(),
            if row["push"].as_bool() == Some(true) { "yes" } else { "no (events only)" },
            f(&row["first_token_ms"]),
            f(&row["first_token_over_goal"]),
            f(&row["first_token_over_native"]),
            f(&row["decode_ms"]),
            f(&row["decode_rate_over_native"]),
            f(&row["whole_ms"]),
            f(&row["whole_over_native"]),
        ));
    }
    let section = format!(
        "<!-- gateway:begin (written by scripts/bench-gateway) -->\n## Through the OpenAI gateway\n\n\
         `scripts/bench-gateway`: streamed chat completions of {tokens} new tokens from SmolLM2-135M-Instruct \
         through `atoma-gateway` to 3 nodes on the local network (checkpoints every {cp} ms), medians of {n} \
         requests per row; release build, this machine. Native: the engine alone, {prefill:.0} ms to the first \
         token (prefill) and {native:.0} ms for the whole generation. One transaction, sent and answered: \
         {tx:.0} ms; a chain round (until a subscriber sees its event): {round:.0} ms. Goal for the first \
         token: native prefill + one transaction + 20 ms = {goal:.0} ms; with the push, {met} of {pushed} \
         modes meet it. Tokens come from the first node's stream as it generates them; the decode rate \
         through the gateway (tokens from the first to the last) is against the engine's own (native \
         generation less prefill, {decode:.0} ms): goal at least 0.95.\n\n{table}\n\
         <!-- gateway:end -->\n",
        met = pushed.iter().filter(|r| f(&r["first_token_over_goal"]) <= 1.0).count(),
        pushed = pushed.len(),
        decode = f(&r["native_generation_ms"]) - f(&r["native_prefill_ms"]),
        tokens = r["tokens"],
        cp = r["checkpoint_interval_ms"],
        n = r["requests"],
        prefill = f(&r["native_prefill_ms"]),
        native = f(&r["native_generation_ms"]),
        tx = f(&r["transaction_ms"]),
        round = f(&r["chain_round_ms"]),
        goal = f(&r["goal_first_token_ms"]),
    );
    let text = std::fs::read_to_string(doc)?;
    let text = match (text.find("<!-- gateway:begin"), text.find("<!-- gateway:end -->")) {
        (Some(a), Some(b)) => format!("{}{section}{}", &text[..a], &text[b + "<!-- gateway:end -->\n".len()..]),
        _ => format!("{}\n\n{section}", text.trim_end()),
    };
    std::fs::write(doc, text)?;
    Ok(())
}
