//! The measurements: latency per mode, throughput, selection cost, security
//! against the simulator, and scaling on the local network.

use atoma_e2e::{Cluster, ClusterSpec, HfModel, Timed, first_output_and_finality};
use atoma_localnet::congestion::CongestionConfig;
use atoma_protocol::security::{collusion_probability, collusion_probability_finite, proportion_margin};
use atoma_protocol::sim::{SimConfig, run as simulate};
use atoma_protocol::{Address as PAddress, Ctx, Digest, Mode, ObjectId, Params, State, SubmitArgs};
use atoma_sdk::{EventStream, InputSpec, RequestSpec, SdkError, Start};
use atoma_tools::scaling::{self, Layout, Object};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Args, input, median, quiet, spec};
/// 1 and 2: latency per mode, and the node's own time per request.
pub(crate) async fn latency(args: &Args) -> anyhow::Result<Value> {
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
    let (overheads, ready) = node_overheads(&cluster);
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

/// The node's own time, read from its log: from reading an assignment to
/// its output stored, beyond the model's run, as a ratio and in ms.
fn node_overheads(cluster: &Cluster) -> (Vec<f64>, Vec<f64>) {
    let (mut overheads, mut ready) = (Vec::new(), Vec::new());
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
    (overheads, ready)
}

/// 3: requests finalized per minute.
pub(crate) async fn throughput(args: &Args) -> anyhow::Result<Value> {
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
pub(crate) fn selection() -> Value {
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
                .submit_mode(
                    &ctx,
                    &class,
                    ObjectId::from_u64(10_000_000 + i),
                    args,
                    Mode::Sampling { n: 3 },
                    &[],
                    3_000_000,
                    Digest(seed.0),
                )
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
pub(crate) fn security(args: &Args) -> Value {
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

/// 6: throughput against the number of classes under congestion control.
pub(crate) async fn scaling_section(args: &Args) -> anyhow::Result<Value> {
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
