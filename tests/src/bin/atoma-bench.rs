//! `atoma-bench`: the measurements behind docs/benchmarks.md, from one run on
//! one machine. A benchmark, not a test: it prints tables, writes
//! `target/bench/e2e.json`, `docs/benchmarks.md` and two PNG plots.
//!
//! 1. Latency per mode on the local network with real nodes: first output
//!    and finality against the model's native time.
//! 2. The node service's own time per request beyond the model.
//! 3. Throughput: requests finalized per minute with 4, 8 and 16 nodes.
//! 4. Selection cost against class size (10 to 100,000 nodes).
//! 5. Detection rate against r^n, and compute against 1 + p n (simulator).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use atoma_e2e::{ClassSpec, Cluster, ClusterSpec, NodeSpec};
use atoma_localnet::genesis::ParamsConfig;
use atoma_protocol::security::{collusion_probability, collusion_probability_finite, proportion_margin};
use atoma_protocol::sim::{SimConfig, run as simulate};
use atoma_protocol::{Address as PAddress, Ctx, Digest, Mode, ObjectId, Params, State, SubmitArgs};
use atoma_sdk::{InputSpec, RequestSpec};
use clap::Parser;
use serde_json::{Value, json};

/// Measures the system end to end (see docs/benchmarks.md).
#[derive(Parser)]
struct Args {
    /// Requests per mode for the latency figures.
    #[arg(long, default_value_t = 8)]
    latency_requests: usize,
    /// Seconds of load per node count for throughput.
    #[arg(long, default_value_t = 30)]
    throughput_seconds: u64,
    /// Simulated requests per configuration.
    #[arg(long, default_value_t = 4_000)]
    sim_requests: u64,
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
    }
}

/// 1 and 2: latency per mode, and the node's own time per request.
async fn latency(args: &Args) -> anyhow::Result<Value> {
    eprintln!("== latency per mode (4 nodes, 64 new tokens per request)");
    let cluster = Cluster::start(&spec(4), None, &quiet).await?;
    let client = cluster.client().await?;
    let (native_ms, _) = cluster.native(0, &input("The quick brown fox", 64), &[0; 32], 9)?;
    // The chain's own latency: one transaction (the admin withdraws nothing), executed and answered.
    let mut chain_ms = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        client.chain().withdraw_treasury(cluster.admin_cap, 0).await?;
        chain_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut rows = Vec::new();
    for (label, mode) in [
        ("Sampling n=3", Mode::Sampling { n: 3 }),
        ("CrossValidation p=1 n=1 (checked)", Mode::CrossValidation { p_bps: 10_000, n: 1 }),
        ("CrossValidation p=0 (unchecked)", Mode::CrossValidation { p_bps: 0, n: 1 }),
        ("Sealed p=1 n=1 (checked)", Mode::Sealed { p_bps: 10_000, n: 1 }),
        ("Sealed p=0 (unchecked)", Mode::Sealed { p_bps: 0, n: 1 }),
    ] {
        let (mut first, mut fin) = (Vec::new(), Vec::new());
        for i in 0..args.latency_requests {
            let spec = RequestSpec {
                timeout_ms: 20_000,
                ..RequestSpec::new("tiny-gpt", InputSpec::Bytes(input(&format!("The quick brown fox {i}"), 64)), mode)
            };
            let started = Instant::now();
            let handle = client.submit(spec).await?;
            let f = async {
                let r = handle.first_output_within(Duration::from_secs(60)).await;
                (r, started.elapsed())
            };
            let g = async {
                let r = handle.finality_within(Duration::from_secs(60)).await;
                (r, started.elapsed())
            };
            let ((fr, ft), (gr, gt)) = tokio::join!(f, g);
            fr?;
            gr?;
            first.push(ft.as_secs_f64() * 1e3);
            fin.push(gt.as_secs_f64() * 1e3);
        }
        let (f, g) = (median(first), median(fin));
        eprintln!("  {label}: first output {f:.0} ms, finality {g:.0} ms, native {native_ms:.1} ms");
        rows.push(json!({
            "mode": label, "first_output_ms": f, "finality_ms": g, "native_ms": native_ms,
            "first_output_ratio": f / native_ms, "finality_ratio": g / native_ms,
        }));
    }
    // The node's own time: from reading an assignment to its output stored, beyond the model.
    let mut overheads = Vec::new();
    let mut ready = Vec::new();
    for i in 0..cluster.nodes.len() {
        for line in cluster.log(i).lines().filter(|l| l.contains(" committed") || l.contains("committed ")) {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse::<f64>().ok())
            };
            if let (Some(r), Some(m)) = (field("ready_ms"), field("model_ms"))
                && m > 0.0
            {
                overheads.push((r - m) / m);
                ready.push(r - m);
            }
        }
    }
    Ok(json!({
        "native_ms": native_ms,
        "chain_transaction_ms": median(chain_ms),
        "modes": rows,
        "node_overhead_ratio_median": median(overheads.clone()),
        "node_overhead_ms_median": median(ready),
        "node_overhead_samples": overheads.len(),
    }))
}

/// 3: requests finalized per minute.
async fn throughput(args: &Args) -> anyhow::Result<Value> {
    let mut rows = Vec::new();
    for nodes in [4usize, 8, 16] {
        eprintln!("== throughput with {nodes} nodes ({} s of load)", args.throughput_seconds);
        let cluster = Cluster::start(&spec(nodes), None, &quiet).await?;
        let client = cluster.client().await?;
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let end = Instant::now() + Duration::from_secs(args.throughput_seconds);
        let mut tasks = Vec::new();
        for worker in 0..12 {
            let (client, done, failed) = (client.clone(), done.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < end {
                    i += 1;
                    let spec = RequestSpec {
                        timeout_ms: 20_000,
                        ..RequestSpec::new(
                            "tiny-gpt",
                            InputSpec::Bytes(input(&format!("w{worker} r{i}"), 4)),
                            Mode::Sampling { n: 3 },
                        )
                    };
                    let ok = match client.submit(spec).await {
                        Ok(h) => h.finality_within(Duration::from_secs(60)).await.is_ok_and(|a| a.verified()),
                        Err(_) => false,
                    };
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed)
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed)
                    };
                }
            }));
        }
        let started = Instant::now();
        for t in tasks {
            t.await?;
        }
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        let per_minute = done.load(Ordering::Relaxed) as f64 / minutes;
        eprintln!("  {per_minute:.0} requests finalized per minute ({} failed)", failed.load(Ordering::Relaxed));
        rows.push(json!({"nodes": nodes, "finalized_per_minute": per_minute, "finalized": done.load(Ordering::Relaxed), "failed": failed.load(Ordering::Relaxed)}));
    }
    Ok(json!(rows))
}

/// 4: the cost of sampling a quorum as the class grows.
fn selection() -> Value {
    eprintln!("== selection cost against class size");
    let mut rows = Vec::new();
    for size in [10u64, 100, 1_000, 10_000, 100_000] {
        let (mut state, admin, _) =
            State::create_network(ObjectId::from_u64(1), ObjectId::from_u64(2), Params::default()).unwrap();
        let (class, _) = state.add_hardware_class(&admin, "c", 1_000, 1).unwrap();
        state.add_model(&admin, "m", &[1; 32], class).unwrap();
        for i in 0..size {
            let ctx = Ctx::new(PAddress::from_u64(i + 10), 0);
            state
                .register_node(&ctx, ObjectId::from_u64(1_000_000 + i), class, 1_000_000, "http://n", &[1; 32])
                .unwrap();
        }
        let reads_before = state.network.classes[&class].active.reads();
        let submissions = 2_000u64;
        let started = Instant::now();
        for i in 0..submissions {
            let args = SubmitArgs {
                model_id: "m".into(),
                input_digest: atoma_protocol::commitment::blake2b256(b"x").0.to_vec(),
                input_inline: b"x".to_vec(),
                input_uri: None,
                timeout_ms: 60_000,
            };
            let ctx = Ctx::new(PAddress::from_u64(7), 1_000);
            let seed = atoma_protocol::commitment::blake2b256(&i.to_le_bytes());
            state
                .submit_sampling(&ctx, ObjectId::from_u64(10_000_000 + i), args, 3, 3_000_000, Digest(seed.0))
                .unwrap();
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / submissions as f64;
        let reads = (state.network.classes[&class].active.reads() - reads_before) as f64 / submissions as f64;
        eprintln!("  {size:>6} nodes: {us:.1} µs per submission, {reads:.1} entries read");
        rows.push(json!({"class_size": size, "us_per_submission": us, "entries_read_per_submission": reads}));
    }
    json!(rows)
}

/// 5: detection against r^n, compute against 1 + p n.
fn security(args: &Args) -> Value {
    eprintln!("== simulator: detection against r^n, compute against 1 + p n");
    let total = 30u64;
    let mut detection = Vec::new();
    for malicious in [3u64, 6, 10, 15] {
        for n in 1..=5u64 {
            let cfg = SimConfig {
                nodes: total,
                malicious,
                lazy: 0,
                mode: Mode::Sampling { n },
                requests: args.sim_requests,
                seed: 11 + n + malicious * 10,
                fee: 10_000_000,
                stake: 1_000_000_000,
                cost: 1_000_000,
            };
            let report = simulate(&cfg);
            let rate = report.rate(report.all_colluding);
            let r = malicious as f64 / total as f64;
            detection.push(json!({
                "r": r, "n": n, "all_colluding_rate": rate,
                "ci95": proportion_margin(rate, report.requests, 1.96),
                "r_pow_n": collusion_probability(r, n as u32),
                "finite_class": collusion_probability_finite(malicious, total, n),
                "detected_of_cheating": report.detected as f64 / report.with_cheater.max(1) as f64,
            }));
        }
    }
    let mut compute = Vec::new();
    for p_bps in [1_000u64, 2_500, 5_000] {
        for n in 1..=3u64 {
            let cfg = SimConfig {
                nodes: total,
                malicious: 0,
                lazy: 0,
                mode: Mode::CrossValidation { p_bps, n },
                requests: args.sim_requests,
                seed: 99 + p_bps + n,
                fee: 10_000_000,
                stake: 1_000_000_000,
                cost: 1_000_000,
            };
            let report = simulate(&cfg);
            let p = p_bps as f64 / 10_000.0;
            // The ratio's margin: n times the margin of the checked share.
            let margin = n as f64 * proportion_margin(report.rate(report.checked), report.requests, 1.96);
            compute.push(json!({"p": p, "n": n, "compute_ratio": report.compute_ratio(), "ci95": margin, "expected": 1.0 + p * n as f64}));
        }
    }
    json!({"class_size": total, "requests_per_point": args.sim_requests, "detection": detection, "compute": compute})
}

fn font() -> Option<&'static [u8]> {
    let candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];
    candidates.iter().find_map(|p| std::fs::read(p).ok()).map(|b| &*Box::leak(b.into_boxed_slice()))
}

fn plot(security: &Value, dir: &Path) -> anyhow::Result<Vec<String>> {
    use plotters::prelude::*;
    let Some(bytes) = font() else {
        eprintln!("  no DejaVu font found: the PNG plots are not drawn");
        return Ok(Vec::new());
    };
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| anyhow::anyhow!("bad font"))?;
    std::fs::create_dir_all(dir)?;
    let detection_png = dir.join("detection.png");
    {
        let root = BitMapBackend::new(&detection_png, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Wrong output accepted: all n sampled nodes malicious", ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.8f64..5.2f64, (1e-4f64..1.0f64).log_scale())?;
        chart.configure_mesh().x_desc("n (nodes sampled)").y_desc("probability").draw()?;
        let points = security["detection"].as_array().cloned().unwrap_or_default();
        for (k, r) in [0.1, 0.2, 1.0 / 3.0, 0.5].iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let of_r: Vec<&Value> =
                points.iter().filter(|p| (p["r"].as_f64().unwrap_or(0.0) - r).abs() < 1e-9).collect();
            let theory: Vec<(f64, f64)> = (1..=5).map(|n| (n as f64, collusion_probability(*r, n).max(1e-4))).collect();
            chart
                .draw_series(LineSeries::new(theory, color.stroke_width(2)))?
                .label(format!("r = {r:.2}: r^n"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(of_r.iter().filter(|p| p["all_colluding_rate"].as_f64().unwrap_or(0.0) > 0.0).map(
                |p| {
                    Circle::new(
                        (p["n"].as_f64().unwrap_or(0.0), p["all_colluding_rate"].as_f64().unwrap_or(0.0)),
                        4,
                        color.filled(),
                    )
                },
            ))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
    }
    let compute_png = dir.join("compute.png");
    {
        let root = BitMapBackend::new(&compute_png, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("CrossValidation: executions per request", ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0f64..2.6f64, 1.0f64..2.6f64)?;
        chart.configure_mesh().x_desc("1 + p n (expected)").y_desc("measured").draw()?;
        chart
            .draw_series(LineSeries::new(vec![(1.0, 1.0), (2.6, 2.6)], BLACK.stroke_width(1)))?
            .label("measured = 1 + p n")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        let points = security["compute"].as_array().cloned().unwrap_or_default();
        chart.draw_series(points.iter().map(|p| {
            Circle::new(
                (p["expected"].as_f64().unwrap_or(0.0), p["compute_ratio"].as_f64().unwrap_or(0.0)),
                5,
                BLUE.filled(),
            )
        }))?;
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
    }
    Ok(vec!["docs/detection.png".into(), "docs/compute.png".into()])
}

fn markdown(latency: &Value, throughput: &Value, selection: &Value, security: &Value, plots: &[String]) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::from(
        "# Benchmarks\n\nWritten by `scripts/bench` (`atoma-bench`, a release build) from one run on one machine \
(2 cores, no GPU); ratios compare figures of that run. The raw figures are in `target/bench/e2e.json`.\n\n",
    );
    md.push_str(&format!(
        "## Latency per mode\n\nFour `atoma-node` processes on the local network (checkpoints every 50 ms), the test model, 64 new tokens \
per request; medians of the requests of each mode. Native: the same request in one `atoma-model` process, model time only \
({:.1} ms). One transaction (built, signed, executed, answered) takes {:.2} ms.\n\n",
        f(&latency["native_ms"]),
        f(&latency["chain_transaction_ms"])
    ));
    md.push_str("| mode | first output (ms) | finality (ms) | first output / native | finality / native |\n|---|---:|---:|---:|---:|\n");
    for r in latency["modes"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} |\n",
            r["mode"].as_str().unwrap_or(""),
            f(&r["first_output_ms"]),
            f(&r["finality_ms"]),
            f(&r["first_output_ratio"]),
            f(&r["finality_ratio"])
        ));
    }
    md.push_str(&format!(
        "\nThe node's own time per request, from reading the assignment to the output stored, beyond the model's time: median {:.2} ms, \
{:.1} % of the model's time ({} requests).\n\n",
        f(&latency["node_overhead_ms_median"]),
        100.0 * f(&latency["node_overhead_ratio_median"]),
        latency["node_overhead_samples"]
    ));
    md.push_str("## Throughput\n\nSampling requests (n = 3, 4 new tokens) from 12 concurrent submitters; requests verified and finalized per minute.\n\n| nodes | finalized per minute | failed |\n|---:|---:|---:|\n");
    for r in throughput.as_array().into_iter().flatten() {
        md.push_str(&format!("| {} | {:.0} | {} |\n", r["nodes"], f(&r["finalized_per_minute"]), r["failed"]));
    }
    md.push_str("\n## Selection cost against class size\n\nThe protocol state machine alone: submitting a Sampling request of n = 3 (sampling, locking, events), mean over 2,000 submissions.\n\n| class size | µs per submission | class entries read |\n|---:|---:|---:|\n");
    for r in selection.as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} |\n",
            r["class_size"],
            f(&r["us_per_submission"]),
            f(&r["entries_read_per_submission"])
        ));
    }
    md.push_str(&format!(
        "\n## Security figures (simulator)\n\nThe Monte Carlo simulator drives the real state machine: a class of {} nodes, {} requests per point; \
95 % intervals.\n\n**Detection**: share of Sampling requests whose n sampled nodes were all malicious (a wrong output could only then \
be accepted), against r^n and against the exact value for a finite class (sampling without replacement).\n\n| r | n | measured | ± | r^n | finite class |\n|---:|---:|---:|---:|---:|---:|\n",
        security["class_size"], security["requests_per_point"]
    ));
    for r in security["detection"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {:.2} | {} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
            f(&r["r"]),
            r["n"],
            f(&r["all_colluding_rate"]),
            f(&r["ci95"]),
            f(&r["r_pow_n"]),
            f(&r["finite_class"])
        ));
    }
    md.push_str("\n**Compute**: executions per CrossValidation request against 1 + p n.\n\n| p | n | measured | ± | 1 + p n |\n|---:|---:|---:|---:|---:|\n");
    for r in security["compute"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {:.2} | {} | {:.3} | {:.3} | {:.2} |\n",
            f(&r["p"]),
            r["n"],
            f(&r["compute_ratio"]),
            f(&r["ci95"]),
            f(&r["expected"])
        ));
    }
    for p in plots {
        let name = Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or_default();
        md.push_str(&format!("\n![{name}]({name})\n"));
    }
    md
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let selection = selection();
    let security = security(&args);
    let latency = latency(&args).await?;
    let throughput = throughput(&args).await?;
    let plots = plot(&security, &args.root.join("docs"))?;
    let all = json!({"latency": latency, "throughput": throughput, "selection": selection, "security": security});
    let bench = args.root.join("target/bench");
    std::fs::create_dir_all(&bench)?;
    std::fs::write(bench.join("e2e.json"), serde_json::to_string_pretty(&all)?)?;
    let md = markdown(&latency, &throughput, &selection, &security, &plots);
    std::fs::write(args.root.join("docs/benchmarks.md"), &md)?;
    println!("{md}");
    Ok(())
}
