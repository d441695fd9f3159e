//! The figures as docs/benchmarks.md shows them: tables, plots and the
//! goals, and the scaling section written into the page on its own.

use atoma_protocol::security::collusion_probability;
use atoma_tools::scaling::Layout;
use serde_json::Value;
use std::path::Path;

pub(crate) fn font() -> Option<&'static [u8]> {
    let candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];
    candidates.iter().find_map(|p| std::fs::read(p).ok()).map(|b| &*Box::leak(b.into_boxed_slice()))
}

pub(crate) fn plot(security: &Value, dir: &Path) -> anyhow::Result<Vec<String>> {
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
    plot_compute(security, &dir.join("compute.png"))?;
    Ok(vec!["docs/detection.png".into(), "docs/compute.png".into()])
}

/// The CrossValidation plot: executions per request, measured against `1 + p n`.
fn plot_compute(security: &Value, compute_png: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
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
    Ok(())
}

pub(crate) fn markdown(
    latency: &Value,
    throughput: &Value,
    selection: &Value,
    security: &Value,
    plots: &[String],
) -> String {
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
pub(crate) fn latency_section(latency: &Value) -> String {
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
pub(crate) fn throughput_section(throughput: &Value) -> String {
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
pub(crate) fn selection_section(selection: &Value) -> String {
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
pub(crate) fn security_section(security: &Value) -> String {
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
pub(crate) fn goals(latency: &Value, throughput: &Value, selection: &Value, security: &Value) -> String {
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

/// The scaling section of docs/benchmarks.md and docs/scaling.md, between its markers.
pub(crate) fn scaling_markdown(s: &Value) -> String {
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
pub(crate) fn write_scaling_section(path: &Path, section: &str) -> anyhow::Result<()> {
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
