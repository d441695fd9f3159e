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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atoma_e2e::scaling::{self, Layout, Object};
use atoma_e2e::{ClassSpec, Cluster, ClusterSpec, HfModel, NodeSpec, Timed, first_output_and_finality};
use atoma_localnet::congestion::CongestionConfig;
use atoma_localnet::genesis::ParamsConfig;
use atoma_protocol::security::{collusion_probability, collusion_probability_finite, proportion_margin};
use atoma_protocol::sim::{SimConfig, run as simulate};
use atoma_protocol::{Address as PAddress, Ctx, Digest, Mode, ObjectId, Params, State, SubmitArgs};
use atoma_sdk::{EventStream, InputSpec, RequestSpec, SdkError, Start};
use clap::Parser;
use serde_json::{Value, json};

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

/// 1 and 2: latency per mode, and the node's own time per request.
async fn latency(args: &Args) -> anyhow::Result<Value> {
    let llama = HfModel::Llama { hidden: args.latency_hidden, layers: args.latency_layers };
    let tokens = args.latency_tokens;
    eprintln!(
        "== latency per mode (4 nodes, a generated Llama of width {} and {} layers, {tokens} new tokens per request)",
        args.latency_hidden, args.latency_layers
    );
    let cluster = Cluster::start(&ClusterSpec { hf_models: vec![llama.clone()], ..spec(4) }, None, &quiet).await?;
    let client = cluster.client().await?;
    let (native_ms, _) = cluster.native(llama.id(), &input("The quick brown fox", tokens), &[0; 32], 5)?;
    // The chain's own latency: one transaction (the admin withdraws nothing), executed and answered.
    // A chain round: from sending a transaction until a subscriber sees its event
    // (execution plus the wait for its checkpoint), the unit a protocol step costs.
    let (mut chain_ms, mut round_ms) = (Vec::new(), Vec::new());
    let mut stream = EventStream::new(client.chain().rpc(), client.chain().identity().type_origin, Start::Tip);
    for _ in 0..10 {
        let t = Instant::now();
        let sent = client.chain().withdraw_treasury(cluster.admin_cap, 0).await?;
        chain_ms.push(t.elapsed().as_secs_f64() * 1e3);
        while stream.next().await?.transaction != sent.digest {}
        round_ms.push(t.elapsed().as_secs_f64() * 1e3);
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
                ..RequestSpec::new(
                    llama.id(),
                    InputSpec::Bytes(input(&format!("The quick brown fox {i}"), tokens)),
                    mode,
                )
            };
            let started = Instant::now();
            let handle = client.submit(spec).await?;
            let Timed { first: (fr, ft), finality: (gr, gt) } =
                first_output_and_finality(&handle, started, Duration::from_secs(60), Duration::from_secs(60)).await;
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
        "model": { "hidden": args.latency_hidden, "layers": args.latency_layers, "new_tokens": tokens },
        "native_ms": native_ms,
        "chain_transaction_ms": median(chain_ms),
        "chain_round_ms": median(round_ms),
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
        let reasons = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
        let end = Instant::now() + Duration::from_secs(args.throughput_seconds);
        let mut tasks = Vec::new();
        for worker in 0..12 {
            let (client, done, failed, reasons) = (client.clone(), done.clone(), failed.clone(), reasons.clone());
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
                    let reason = match client.submit(spec).await {
                        Ok(h) => match h.finality_within(Duration::from_secs(60)).await {
                            Ok(a) if a.verified() => None,
                            Ok(a) => Some(format!("settled unverified: {:?}", a.outcome)),
                            Err(e) => Some(format!("finality: {e}")),
                        },
                        Err(SdkError::Protocol { error, .. }) => Some(format!("submission refused: {error:?}")),
                        Err(e) => Some(format!("submission: {e}")),
                    };
                    match reason {
                        None => done.fetch_add(1, Ordering::Relaxed),
                        Some(r) => {
                            *reasons.lock().unwrap().entry(r).or_default() += 1;
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
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
        let reasons = reasons.lock().unwrap().clone();
        eprintln!(
            "  {per_minute:.0} requests finalized per minute ({} failed: {reasons:?})",
            failed.load(Ordering::Relaxed)
        );
        rows.push(json!({
            "nodes": nodes, "finalized_per_minute": per_minute, "finalized": done.load(Ordering::Relaxed),
            "failed": failed.load(Ordering::Relaxed), "failures": reasons,
        }));
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
        let class = ObjectId::from_u64(3);
        state.add_hardware_class(&admin, class, "c", "device=cpu", 1_000, 1).unwrap();
        state.add_model(&admin, &class, "m", &[1; 32], 1_000).unwrap();
        for i in 0..size {
            let ctx = Ctx::new(PAddress::from_u64(i + 10), 0);
            state
                .register_node(&ctx, &class, ObjectId::from_u64(1_000_000 + i), 1_000_000, "http://n", &[1; 32])
                .unwrap();
        }
        let reads_before = state.classes[&class].active.reads();
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
                .submit_sampling(&ctx, &class, ObjectId::from_u64(10_000_000 + i), args, 3, 3_000_000, Digest(seed.0))
                .unwrap();
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / submissions as f64;
        let reads = (state.classes[&class].active.reads() - reads_before) as f64 / submissions as f64;
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
            let finite = collusion_probability_finite(malicious, total, n);
            detection.push(json!({
                "r": r, "n": n, "all_colluding_rate": rate,
                // The interval around the exact value: where the measurement must fall.
                "ci95": proportion_margin(finite, report.requests, 1.96),
                "r_pow_n": collusion_probability(r, n as u32),
                "finite_class": finite,
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
            let p = p_bps as f64 / 10_000.0;
            let report = simulate(&cfg);
            // The ratio's margin: n times the margin of the checked share around p.
            let margin = n as f64 * proportion_margin(p, report.requests, 1.96);
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
            .caption(
                "All n sampled nodes malicious: measured (dots), r^n (thick), finite class (thin)",
                ("sans-serif", 18),
            )
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
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            // The exact value for the finite class (sampling without replacement), thin.
            let finite: Vec<(f64, f64)> = of_r
                .iter()
                .map(|p| (p["n"].as_f64().unwrap_or(0.0), p["finite_class"].as_f64().unwrap_or(0.0).max(1e-4)))
                .collect();
            chart.draw_series(LineSeries::new(finite, color.stroke_width(1)))?;
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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
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
    let mut md = String::from(
        "# Benchmarks\n\nWritten by `scripts/bench` (`atoma-bench`, a release build) from one run on one machine \
(2 cores, no GPU); ratios compare figures of that run. The raw figures are in `target/bench/e2e.json`.\n\n",
    );
    md.push_str(&latency_section(latency));
    md.push_str(&throughput_section(throughput));
    md.push_str(&selection_section(selection));
    md.push_str(&security_section(security));
    md.push_str(&goals(latency, throughput, selection, security));
    for p in plots {
        let name = Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or_default();
        md.push_str(&format!("\n![{name}]({name})\n"));
    }
    md
}

/// Latency per mode, against native, and the node's own overhead.
fn latency_section(latency: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::new();
    md.push_str(&format!(
        "## Latency per mode\n\nFour `atoma-node` processes on the local network (checkpoints every 50 ms) serving a Llama checkpoint \
in the Hugging Face layout generated from a fixed seed (width {}, {} layers, about 190 M parameters at the defaults; f32, one \
thread per node), {} new tokens per request; medians of the requests of each mode. Native: the same request in one `atoma-model` process, model time only \
({:.1} ms). One transaction (built, signed, executed, answered) takes {:.2} ms; a chain round, from sending a transaction \
until a subscriber sees its event, takes {:.1} ms. A Sampling request needs three rounds in sequence (nodes learn of it; \
the commitments open the reveal phase; the reveals finalize it), a checked CrossValidation request four (its verifiers \
learn of their selection from the primary's commitment, and run after it).\n\n",
        latency["model"]["hidden"],
        latency["model"]["layers"],
        latency["model"]["new_tokens"],
        f(&latency["native_ms"]),
        f(&latency["chain_transaction_ms"]),
        f(&latency["chain_round_ms"])
    ));
    md.push_str(
        "| mode | first output (ms) | finality (ms) | finality beyond native (ms) | first output / native | finality / native |\n\
|---|---:|---:|---:|---:|---:|\n",
    );
    for r in latency["modes"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |\n",
            r["mode"].as_str().unwrap_or(""),
            f(&r["first_output_ms"]),
            f(&r["finality_ms"]),
            f(&r["finality_ms"]) - f(&latency["native_ms"]),
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
    md
}

/// Requests finalized per minute by the number of nodes.
fn throughput_section(throughput: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::new();
    md.push_str("## Throughput\n\nSampling requests (n = 3, 4 new tokens) from 12 concurrent submitters; requests verified and finalized per minute. \
Every node locks collateral for each open task (ten tasks' worth here), so a submission that finds too few free nodes is refused \
(`NotEnoughNodes`) and counts as failed. On one machine every node process shares the same two cores, so more nodes bring no more compute, only more processes following the chain: the figure \
cannot grow with nodes here, and falls.\n\n| nodes | finalized per minute | failed | why |\n|---:|---:|---:|---|\n");
    for r in throughput.as_array().into_iter().flatten() {
        let why: Vec<String> = r["failures"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        md.push_str(&format!(
            "| {} | {:.0} | {} | {} |\n",
            r["nodes"],
            f(&r["finalized_per_minute"]),
            r["failed"],
            why.join("; ")
        ));
    }
    md
}

/// The state machine's cost of a submission against the class size.
fn selection_section(selection: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::new();
    md.push_str("\n## Selection cost against class size\n\nThe protocol state machine alone: submitting a Sampling request of n = 3 (sampling, locking, events), mean over 2,000 submissions.\n\n| class size | µs per submission | class entries read |\n|---:|---:|---:|\n");
    for r in selection.as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} |\n",
            r["class_size"],
            f(&r["us_per_submission"]),
            f(&r["entries_read_per_submission"])
        ));
    }
    md
}

/// The simulator's detection and compute figures against the formulas.
fn security_section(security: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::new();
    md.push_str(&format!(
        "\n## Security figures (simulator)\n\nThe Monte Carlo simulator drives the real state machine: a class of {} nodes, {} requests per point; \
± is the half-width of the 95 % interval around the exact value, where the measurement should fall.\n\n**Detection**: share of Sampling requests whose n sampled nodes were all malicious (a wrong output could only then \
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
    md
}

/// Each goal of the design against this run's figures, met or not.
fn goals(latency: &Value, throughput: &Value, selection: &Value, security: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let verdict = |met: bool| if met { "met" } else { "**not met**" };
    let modes = latency["modes"].as_array().cloned().unwrap_or_default();
    let mode = |prefix: &str| modes.iter().find(|m| m["mode"].as_str().unwrap_or("").starts_with(prefix)).cloned();
    let mut md = String::from("\n## Against the goals\n\n| goal | this run | verdict |\n|---|---|---|\n");
    let best_first = modes.iter().map(|m| f(&m["first_output_ratio"])).fold(f64::INFINITY, f64::min);
    md.push_str(&format!(
        "| first output / native <= 1.05 | {best_first:.2} at best | {} |\n",
        verdict(best_first <= 1.05)
    ));
    let (native, round) = (f(&latency["native_ms"]), f(&latency["chain_round_ms"]));
    if let Some(m) = mode("Sampling") {
        let beyond_chain = (f(&m["finality_ms"]) - 3.0 * round) / native;
        md.push_str(&format!(
            "| Sampling finality <= 1.05 native plus the chain's latency (three rounds) | {beyond_chain:.2} native beyond three rounds | {} |\n",
            verdict(beyond_chain <= 1.05)
        ));
    }
    for (prefix, label, goal) in [
        ("CrossValidation p=1", "CrossValidation (checked) finality / native <= 2.1", 2.1),
        ("Sealed p=1", "Sealed (checked) finality / native <= 1.1", 1.1),
    ] {
        if let Some(m) = mode(prefix) {
            let ratio = f(&m["finality_ratio"]);
            md.push_str(&format!("| {label} | {ratio:.2} | {} |\n", verdict(ratio <= goal)));
        }
    }
    let overhead = f(&latency["node_overhead_ratio_median"]);
    md.push_str(&format!(
        "| node service overhead <= 2 % of the model's time | {:.1} % | {} |\n",
        100.0 * overhead,
        verdict(overhead <= 0.02)
    ));
    let rows = throughput.as_array().cloned().unwrap_or_default();
    if let Some(last) = rows.last() {
        let per_minute = f(&last["finalized_per_minute"]);
        md.push_str(&format!(
            "| >= 1,000 requests finalized per minute with {} nodes | {per_minute:.0} | {} |\n",
            last["nodes"],
            verdict(per_minute >= 1_000.0)
        ));
    }
    let reads: Vec<f64> =
        selection.as_array().into_iter().flatten().map(|r| f(&r["entries_read_per_submission"])).collect();
    let (lo, hi) = reads.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    md.push_str(&format!(
        "| selection cost flat from 10 to 100,000 nodes | {lo:.1} to {hi:.1} class entries read | {} |\n",
        verdict(hi <= lo * 1.5 + 1.0)
    ));
    let within = |key: &str, measured: &str, expected: &str| {
        let points = security[key].as_array().cloned().unwrap_or_default();
        let inside = points.iter().filter(|p| (f(&p[measured]) - f(&p[expected])).abs() <= f(&p["ci95"]) + 1e-9);
        (inside.count(), points.len())
    };
    let (d_in, d_all) = within("detection", "all_colluding_rate", "finite_class");
    md.push_str(&format!(
        "| detection follows r^n (exact finite-class value inside the 95 % interval) | {d_in} of {d_all} points | {} |\n",
        verdict(d_in as f64 >= 0.9 * d_all as f64)
    ));
    let (c_in, c_all) = within("compute", "compute_ratio", "expected");
    md.push_str(&format!(
        "| compute follows 1 + p n (inside the 95 % interval) | {c_in} of {c_all} points | {} |\n",
        verdict(c_in as f64 >= 0.9 * c_all as f64)
    ));
    md.push_str(
        "\nAt 95 % about one point in twenty falls outside its interval by chance, so the security rows ask for nine in ten. \
The latency ratios divide by the model's native time: every sequential step the chain adds (a checkpoint to learn of the \
request, the commit and reveal transactions) weighs against it, and on two cores the n replicas of a request share the \
cores that a native run has to itself.\n",
    );
    md
}

/// 6: throughput against the number of classes under congestion control.
async fn scaling_section(args: &Args) -> anyhow::Result<Value> {
    eprintln!("== scaling: requests finalized per minute against classes, under per-object congestion control");
    let classes = [1usize, 2, 4, 8];
    let sui = CongestionConfig::sui(100);
    let mut model_rows = Vec::new();
    for layout in [Layout::OneNetwork, Layout::PerClass] {
        for &c in &classes {
            let run = scaling::model(layout, c, sui, 200, 600);
            eprintln!("  model, {}, {c} classes: {:.0} per minute", layout.name(), run.finalized_per_minute);
            model_rows.push(json!({
                "layout": layout.name(), "classes": c, "finalized_per_minute": run.finalized_per_minute,
                "deferrals_per_request": run.deferrals_per_request, "cancelled": run.cancelled,
            }));
        }
    }
    let writes: Vec<Value> = [Layout::OneNetwork, Layout::PerClass]
        .iter()
        .map(|&layout| {
            let w = scaling::writes_per_request(&scaling::sampling_trace(layout));
            json!({"layout": layout.name(), "network": w[&Object::Network], "class": w[&Object::Class], "request": w[&Object::Request]})
        })
        .collect();
    let slow = CongestionConfig { tx_cost_us: args.scaling_tx_cost_us, ..sui };
    let mut localnet_rows = Vec::new();
    for &c in &classes {
        let predicted = scaling::model(Layout::PerClass, c, slow, 200, 600).finalized_per_minute;
        let before = scaling::model(Layout::OneNetwork, c, slow, 200, 600).finalized_per_minute;
        let run = scaling::localnet(c, slow, 6, args.scaling_seconds).await?;
        eprintln!(
            "  local network, {c} classes: {:.0} per minute (model: {predicted:.0}; one Network: {before:.0}), {} Network writes",
            run.finalized_per_minute, run.network_writes
        );
        localnet_rows.push(json!({
            "classes": c, "finalized_per_minute": run.finalized_per_minute, "model_per_class": predicted,
            "model_one_network": before, "deferrals_per_request": run.deferrals_per_request,
            "cancelled": run.cancelled, "network_writes": run.network_writes,
            "class_writes_per_request": run.class_writes_per_request,
        }));
    }
    Ok(json!({
        "tx_cost_us": sui.tx_cost_us, "localnet_tx_cost_us": slow.tx_cost_us, "seconds": args.scaling_seconds,
        "model": model_rows, "writes_per_request": writes, "localnet": localnet_rows,
    }))
}

/// The scaling section of docs/benchmarks.md and docs/scaling.md, between its markers.
fn scaling_markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut md = String::from("<!-- scaling:begin -->\n## Scaling with the number of classes\n\n");
    md.push_str(&format!(
        "Sampling requests (n = 3) finalized per minute under Sui's per-object congestion control (docs/scaling.md), \
measured in one run. **Model**: the local network's congestion model with Sui's parameters (100 ms commits, {} µs per \
transaction), driven by each layout's transactions under saturating load (200 requests in flight per class), 60 s of \
commits after 10 s of warm-up.\n\n| classes | one Network (before) | one object per class (after) | after / before |\n|---:|---:|---:|---:|\n",
        s["tx_cost_us"]
    ));
    let rows = s["model"].as_array().cloned().unwrap_or_default();
    let find = |layout: &str, c: &Value| {
        rows.iter().find(|r| r["layout"].as_str() == Some(layout) && &r["classes"] == c).cloned()
    };
    for r in rows.iter().filter(|r| r["layout"].as_str() == Some(Layout::PerClass.name())) {
        let before =
            find(Layout::OneNetwork.name(), &r["classes"]).map(|b| f(&b["finalized_per_minute"])).unwrap_or(0.0);
        let after = f(&r["finalized_per_minute"]);
        md.push_str(&format!("| {} | {before:.0} | {after:.0} | {:.2} |\n", r["classes"], after / before.max(1.0)));
    }
    md.push_str("\nWrites of each shared object per request (from the entry functions' signatures):\n\n| layout | Network | class object | request |\n|---|---:|---:|---:|\n");
    for w in s["writes_per_request"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            w["layout"].as_str().unwrap_or(""),
            w["network"],
            w["class"],
            w["request"]
        ));
    }
    md.push_str(&format!(
        "\n**Local network**: the local network itself with the model on, at {} µs per transaction so that two cores can \
load a class up to its budget; three nodes per class (no inference: they reveal a fixed output) and six requesters per \
class, each submitting again as soon as its request finalized, for {} s per point. The model's figures for the same \
parameters are beside it.\n\n| classes | finalized per minute | model, one object per class | model, one Network | deferrals per request | cancelled | Network writes | class writes per request |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        s["localnet_tx_cost_us"], s["seconds"]
    ));
    for r in s["localnet"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {} | {:.2} |\n",
            r["classes"],
            f(&r["finalized_per_minute"]),
            f(&r["model_per_class"]),
            f(&r["model_one_network"]),
            f(&r["deferrals_per_request"]),
            r["cancelled"],
            r["network_writes"],
            f(&r["class_writes_per_request"])
        ));
    }
    md.push_str("<!-- scaling:end -->\n");
    md
}

/// Replaces the scaling section of the file at `path` (or appends it).
fn write_scaling_section(path: &Path, section: &str) -> anyhow::Result<()> {
    const END: &str = "<!-- scaling:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find("<!-- scaling:begin"), old.find(END)) {
        (Some(a), Some(b)) => {
            let rest = &old[b + END.len()..];
            format!("{}{section}{}", &old[..a], rest.strip_prefix('\n').unwrap_or(rest))
        }
        _ => format!("{}\n\n{section}", old.trim_end()),
    };
    std::fs::write(path, new)?;
    Ok(())
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
