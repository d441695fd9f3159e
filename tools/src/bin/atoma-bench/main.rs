//! `atoma-bench`: the measurements behind docs/benchmarks.md, from one run on
//! one machine. A benchmark, not a test: it prints tables, writes
//! `target/bench/e2e.json`, `docs/benchmarks.md` and two PNG plots.
//!
//! 1. Latency per mode on the local network with real nodes: first output
//!    and finality against the model's native time, with a generated Llama
//!    of about 190 M parameters (Hugging Face layout), whose forward pass
//!    is longer than a chain round.
//! 2. The node service's own time per request beyond the model.
//! 3. Throughput: requests finalized per minute with 4, 8 and 16 nodes.
//! 4. Selection cost against class size (10 to 100,000 nodes).
//! 5. Detection rate against r^n, and compute against 1 + p n (simulator).
//! 6. Scaling: requests finalized per minute against the number of hardware
//!    classes under Sui's per-object congestion control, for the layout with
//!    one `Network` written by every request and the one with an object per
//!    class (the congestion model), and on the local network itself
//!    (`--only scaling` runs this section alone).

mod measure;
mod report;

use std::path::PathBuf;

use atoma_e2e::{ClassSpec, ClusterSpec, NodeSpec};
use atoma_localnet::genesis::ParamsConfig;
use clap::Parser;
use measure::{latency, scaling_section, security, selection, throughput};
use report::{markdown, plot, scaling_markdown, write_scaling_section};
use serde_json::json;

/// Measures the system end to end (see docs/benchmarks.md).
#[derive(Parser)]
struct Args {
    /// Requests per mode for the latency figures.
    #[arg(long, default_value_t = 4)]
    latency_requests: usize,
    /// Width of the generated Llama of the latency figures.
    #[arg(long, default_value_t = 1024)]
    latency_hidden: u32,
    /// Layers of the generated Llama of the latency figures.
    #[arg(long, default_value_t = 16)]
    latency_layers: u32,
    /// New tokens per latency request.
    #[arg(long, default_value_t = 16)]
    latency_tokens: u32,
    /// Seconds of load per node count for throughput.
    #[arg(long, default_value_t = 30)]
    throughput_seconds: u64,
    /// Simulated requests per configuration.
    #[arg(long, default_value_t = 4_000)]
    sim_requests: u64,
    /// Seconds of load per class count on the local network, for scaling.
    #[arg(long, default_value_t = 20)]
    scaling_seconds: u64,
    /// The congestion model's cost per transaction (µs) in the local
    /// network's scaling runs: high enough that two cores can load a class
    /// up to its budget.
    #[arg(long, default_value_t = 20_000)]
    scaling_tx_cost_us: u64,
    /// Runs one section only and updates its part of the docs: `scaling`.
    #[arg(long)]
    only: Option<String>,
    /// Where to write docs/benchmarks.md and the plots (the repository root).
    #[arg(long, default_value = ".")]
    root: PathBuf,
}
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn input(prompt: &str, tokens: u32) -> Vec<u8> {
    format!("{{\"prompt\":\"{prompt}\",\"max_tokens\":{tokens}}}").into_bytes()
}

fn quiet(_: &str) {}

fn spec(nodes: usize) -> ClusterSpec {
    ClusterSpec {
        classes: vec![ClassSpec { threads: 1 }],
        nodes: (0..nodes).map(|_| NodeSpec::default()).collect(),
        params: ParamsConfig { reveal_window_ms: Some(5_000), ..Default::default() },
        seed: Some([5; 32]),
        checkpoint_interval_ms: 50,
        hf_models: Vec::new(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(only) = args.only.as_deref() {
        anyhow::ensure!(only == "scaling", "--only takes `scaling`");
        let s = scaling_section(&args).await?;
        let section = scaling_markdown(&s);
        write_scaling_section(&args.root.join("docs/benchmarks.md"), &section)?;
        write_scaling_section(&args.root.join("docs/scaling.md"), &section)?;
        let bench = args.root.join("target/bench");
        std::fs::create_dir_all(&bench)?;
        std::fs::write(bench.join("scaling.json"), serde_json::to_string_pretty(&s)?)?;
        println!("{section}");
        return Ok(());
    }
    let scaling = scaling_section(&args).await?;
    let selection = selection();
    let security = security(&args);
    let latency = latency(&args).await?;
    let throughput = throughput(&args).await?;
    let plots = plot(&security, &args.root.join("docs"))?;
    let all = json!({"latency": latency, "throughput": throughput, "selection": selection, "security": security, "scaling": scaling});
    let bench = args.root.join("target/bench");
    std::fs::create_dir_all(&bench)?;
    std::fs::write(bench.join("e2e.json"), serde_json::to_string_pretty(&all)?)?;
    let mut md = markdown(&latency, &throughput, &selection, &security, &plots);
    // scripts/bench-inference owns the section on inference against transformers: keep it.
    let path = args.root.join("docs/benchmarks.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if let (Some(a), Some(b)) = (old.find("<!-- inference:begin"), old.find("<!-- inference:end -->")) {
        md = format!("{}\n\n{}\n", md.trim_end(), &old[a..b + "<!-- inference:end -->".len()]);
    }
    std::fs::write(&path, &md)?;
    let section = scaling_markdown(&scaling);
    write_scaling_section(&path, &section)?;
    write_scaling_section(&args.root.join("docs/scaling.md"), &section)?;
    println!("{md}");
    Ok(())
}
