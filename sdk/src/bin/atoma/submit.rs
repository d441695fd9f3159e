//! `atoma submit`: builds the input, checks the network's rules before
//! anything is sent, submits, and shows the first output and finality.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoma_protocol::Mode;
use atoma_protocol::output::Output;
use atoma_sdk::client::Outcome;
use atoma_sdk::http::hex;
use atoma_sdk::{Attestation, Client, FirstOutput, InputSpec, RequestHandle, RequestSpec};
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::env::{KeyArgs, NetworkArgs};

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Sampling,
    CrossValidation,
    Sealed,
}

#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The model's id.
    #[arg(long)]
    model: String,
    /// A prompt for a text generation model: sends {"prompt": TEXT, "max_tokens": N}.
    #[arg(long, conflicts_with_all = ["input", "input_file", "input_uri", "chat", "embed"])]
    prompt: Option<String>,
    /// One user message for a chat model (rendered with its chat template):
    /// sends {"messages": [{"role": "user", "content": TEXT}], "max_tokens": N}.
    #[arg(long, conflicts_with_all = ["input", "input_file", "input_uri", "embed"])]
    chat: Option<String>,
    /// A text for an embedding model: sends {"input": [TEXT]}.
    #[arg(long, conflicts_with_all = ["input", "input_file", "input_uri"])]
    embed: Option<String>,
    /// New tokens for --prompt and --chat.
    #[arg(long, default_value_t = 64)]
    max_tokens: u32,
    /// The input bytes, as text: for generation models {"prompt": "..."} or
    /// {"messages": [{"role": ..., "content": ...}]}, with "max_tokens",
    /// "temperature", "top_p", "stop"; for embedding models {"input": ["...", ...]}.
    #[arg(long, conflicts_with_all = ["input_file", "input_uri"])]
    input: Option<String>,
    /// The input, read from a file.
    #[arg(long, conflicts_with = "input_uri")]
    input_file: Option<PathBuf>,
    /// The input's URI (for inputs over the inline limit); needs --input-digest.
    #[arg(long, requires = "input_digest")]
    input_uri: Option<String>,
    /// Blake2b-256 of the content at --input-uri (64 hex digits).
    #[arg(long)]
    input_digest: Option<String>,
    /// How the output is verified.
    #[arg(long, value_enum, default_value = "sampling")]
    mode: ModeArg,
    /// Nodes in the quorum (sampling) or verifiers (cross-validation, sealed).
    #[arg(long, default_value_t = 3)]
    n: u64,
    /// Check probability for cross-validation and sealed, between 0 and 1.
    #[arg(long, default_value_t = 0.1)]
    p: f64,
    /// Commit timeout for the nodes, in ms: at least the network's
    /// `min_timeout_ms` plus the model's run-time bound plus the longest of
    /// its class (the command says how much when it is too short). Default:
    /// 60 s, or that shortest timeout when it is longer.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Fee in MIST (default: the network's minimum for the mode).
    #[arg(long)]
    fee: Option<u64>,
    /// Gives up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait_s: u64,
    /// Prints one JSON object instead of progress lines.
    #[arg(long)]
    json: bool,
}

fn bps(p: f64) -> anyhow::Result<u64> {
    if !(0.0..=1.0).contains(&p) {
        bail!("--p must be between 0 and 1, got {p}");
    }
    Ok((p * 10_000.0).round() as u64)
}

pub async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let env = a.network.resolve()?;
    let key = a.key.resolve()?.key;
    let input = input_of(&a)?;
    let mode = match a.mode {
        ModeArg::Sampling => Mode::Sampling { n: a.n },
        ModeArg::CrossValidation => Mode::CrossValidation { p_bps: bps(a.p)?, n: a.n },
        ModeArg::Sealed => Mode::Sealed { p_bps: bps(a.p)?, n: a.n },
    };
    let client = Client::connect(&env.url, env.package, env.network, key).await?;
    let started = Instant::now();
    let progress = |line: String| {
        if !a.json {
            eprintln!("[{:>7.3}s] {line}", started.elapsed().as_secs_f64());
        }
    };
    let timeout_ms = check_request(client.chain(), &a.model, mode, a.timeout_ms, a.fee).await?;
    let spec = RequestSpec { model: a.model.clone(), input, mode, timeout_ms, max_fee: a.fee };
    let handle = client.submit(spec).await?;
    progress(format!(
        "submitted request {} (fee {} MIST), nodes {}",
        handle.id(),
        handle.fee(),
        handle.executors().iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
    ));
    let wait = Duration::from_secs(a.wait_s);
    let (first, attestation) = tokio::join!(handle.first_output_within(wait), handle.finality_within(wait));
    let first_elapsed = started.elapsed();
    let first = match first {
        Ok(f) => {
            progress(format!("first output from node {} ({} bytes), bound to its commitment", f.node, f.output.len()));
            progress(format!("output: {}", Output::decode(&f.output).summary()));
            Some(f)
        }
        Err(e) => {
            progress(format!("no first output: {}", atoma_sdk::error::report(&e)));
            None
        }
    };
    let attestation = attestation?;
    let verified = first.as_ref().map(|f| atoma_sdk::verify(&f.output, &attestation).is_ok());
    match &attestation.outcome {
        Outcome::Finalized { output_digest, nodes, verified: checked } => progress(format!(
            "finalized: output {} by {} node(s){}",
            hex(output_digest),
            nodes.len(),
            if *checked { ", verified" } else { ", unverified" }
        )),
        Outcome::Failed { reason, refund } => {
            progress(format!("failed: {}, {refund} MIST refunded", reason.describe()))
        }
    }
    if a.json {
        let out = report_json(&handle, &attestation, first.as_ref(), verified, first_elapsed, started.elapsed());
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if let Some(f) = first {
        match Output::decode(&f.output) {
            Output::Text(t) => println!("{}", t.text),
            Output::Bytes(b) => println!("{}", hex(&b)),
            other => println!("{}", other.summary()),
        }
    }
    if verified == Some(false) {
        bail!("the first output does not match the attested output");
    }
    Ok(())
}

/// The request's input, from whichever of the input flags was given.
fn input_of(a: &SubmitArgs) -> anyhow::Result<InputSpec> {
    let built = if let Some(p) = &a.prompt {
        Some(json!({ "prompt": p, "max_tokens": a.max_tokens }))
    } else if let Some(c) = &a.chat {
        Some(json!({ "messages": [{ "role": "user", "content": c }], "max_tokens": a.max_tokens }))
    } else {
        a.embed.as_ref().map(|e| json!({ "input": [e] }))
    };
    Ok(match (&a.input, &a.input_file, &a.input_uri) {
        _ if built.is_some() => InputSpec::Bytes(serde_json::to_vec(&built)?),
        (Some(text), _, _) => InputSpec::Bytes(text.as_bytes().to_vec()),
        (_, Some(path), _) => {
            InputSpec::Bytes(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        (_, _, Some(uri)) => {
            let digest = a
                .input_digest
                .as_deref()
                .and_then(atoma_sdk::http::parse_hex32)
                .context("--input-digest must be 64 hex digits")?;
            InputSpec::Uri { uri: uri.clone(), digest }
        }
        _ => bail!("give --prompt, --chat, --embed, --input, --input-file or --input-uri"),
    })
}

/// What `--json` prints: the request, its outcome, the first output and the transactions.
fn report_json(
    handle: &RequestHandle,
    attestation: &Attestation,
    first: Option<&FirstOutput>,
    verified: Option<bool>,
    first_elapsed: Duration,
    elapsed: Duration,
) -> serde_json::Value {
    let outcome = match &attestation.outcome {
        Outcome::Finalized { output_digest, nodes, verified } => json!({
            "status": "finalized",
            "output_digest": hex(output_digest),
            "nodes": nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "verified": verified,
        }),
        Outcome::Failed { reason, refund } => {
            json!({ "status": "failed", "reason": reason.name(), "refund": refund })
        }
    };
    json!({
        "request": handle.id().to_string(),
        "mode": attestation.mode.name(),
        "fee": handle.fee(),
        "outcome": outcome,
        "first_output": first.as_ref().map(|f| json!({
            "node": f.node.to_string(),
            "output_hex": hex(&f.output),
            "output": output_json(&f.output),
            "matches_attestation": verified,
            "seconds": first_elapsed.as_secs_f64(),
        })),
        "transactions": attestation.transactions.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "seconds": elapsed.as_secs_f64(),
    })
}

/// The rules a submission must meet that depend on the network, checked
/// before anything is sent, with the numbers to fix them: the quorum size,
/// the timeout, the fee and the class's eligible nodes. Returns the commit
/// timeout to ask for (`timeout_ms`, or the default).
async fn check_request(
    chain: &atoma_sdk::Chain,
    model: &str,
    mode: Mode,
    timeout_ms: Option<u64>,
    fee: Option<u64>,
) -> anyhow::Result<u64> {
    let params = chain.network().await?.params;
    if mode.n() == 0 || mode.n() > params.max_n {
        bail!("--n must be between 1 and the network's max_n ({})", params.max_n);
    }
    let min_fee = params.min_fee_for(mode);
    if let Some(fee) = fee.filter(|f| *f < min_fee) {
        bail!("--fee {fee} is below the network's minimum of {min_fee} MIST for this mode (leave --fee out to pay it)");
    }
    let models = chain.models().await?;
    let Some((_, m)) = models.iter().find(|(id, _)| id == model) else {
        let known: Vec<&str> = models.iter().map(|(id, _)| id.as_str()).collect();
        bail!(
            "model {model} is not registered on this network; registered: {} (nothing was sent)",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    };
    let class = chain.class(m.class_id).await?;
    // docs/protocol.md, "Time": a timeout covers the chain's latency, this
    // model's run and one run of any model of the class before it.
    let shortest = params.shortest_timeout_ms(m.max_run_ms, class.longest_run_ms).unwrap_or(u64::MAX);
    let timeout_ms = timeout_ms.unwrap_or(shortest.max(60_000));
    if timeout_ms > params.max_timeout_ms {
        bail!("--timeout-ms {timeout_ms} is above the network's max_timeout_ms ({} ms)", params.max_timeout_ms);
    }
    if timeout_ms < shortest {
        bail!(
            "--timeout-ms {timeout_ms} is below the shortest commit timeout of {model}: {shortest} ms \
             (min_timeout_ms {} + the model's run-time bound {} + the longest of class {} {})",
            params.min_timeout_ms,
            m.max_run_ms,
            class.name,
            class.longest_run_ms
        );
    }
    if class.active.size < mode.nodes_needed() {
        bail!(
            "class {} has {} eligible node(s); a {} request with n = {} needs {} (nothing was sent)",
            class.name,
            class.active.size,
            mode.name(),
            mode.n(),
            mode.nodes_needed()
        );
    }
    Ok(timeout_ms)
}

/// An output as JSON: the text and token ids, the embeddings, the refusal,
/// or other bytes as UTF-8 when they are.
fn output_json(bytes: &[u8]) -> serde_json::Value {
    match Output::decode(bytes) {
        Output::Text(t) => {
            json!({ "kind": "text", "text": t.text, "tokens": t.tokens, "finish_reason": t.finish_reason, "prompt_tokens": t.prompt_tokens })
        }
        Output::Embeddings(e) => {
            json!({ "kind": "embeddings", "shape": [e.rows, e.dims], "embeddings": (0..e.rows).map(|i| e.row(i).to_vec()).collect::<Vec<_>>() })
        }
        Output::Error(e) => json!({ "kind": "refused", "code": e.code, "message": e.message }),
        Output::Bytes(b) => json!({ "kind": "bytes", "utf8": String::from_utf8(b).ok() }),
    }
}
