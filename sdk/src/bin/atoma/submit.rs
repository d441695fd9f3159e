//! `atoma submit`: builds the input, checks the network's rules before
//! anything is sent, submits, and shows each event of the request as it
//! happens (the first output the moment a node serves it), stopping at the
//! outcome; the exit status says how it ended (`exit`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoma_protocol::ops::Terms;
use atoma_protocol::output::Output;
use atoma_protocol::{Event, Mode, ProtocolError};
use atoma_sdk::client::{Outcome, default_timeout_ms};
use atoma_sdk::http::hex;
use atoma_sdk::{Attestation, Client, FirstOutput, InputSpec, RequestHandle, RequestSpec};
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::env::{KeyArgs, NetworkArgs};
use crate::exit::{self, Exit};
use crate::show;

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Sampling,
    CrossValidation,
    Sealed,
}

#[derive(Args)]
#[command(after_help = "Exit status: 0 when the request finalized and its output was served; \
3 when the request failed (the reason and the refund are printed); 4 when the model refused \
the input (its code and message are printed); 5 when --wait-s ran out before the request \
settled (it goes on: `atoma status REQUEST` shows it); 1 for any other error, nothing sent \
when the request was refused before submission.")]
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
    /// Check probability for cross-validation and sealed, between 0 and 1
    /// (default 0.1); sampling runs every member and takes no --p.
    #[arg(long)]
    p: Option<f64>,
    /// Commit timeout for the nodes, in ms: at least the network's
    /// `min_timeout_ms` plus the model's run-time bound plus the longest of
    /// its class (the command says how much when it is too short). Default:
    /// 60 s, or that shortest timeout when it is longer.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Fee in MIST (default: the network's minimum for the mode).
    #[arg(long)]
    fee: Option<u64>,
    /// Stops waiting after this many seconds (the request goes on; exit
    /// status 5). 0 submits and returns at once.
    #[arg(long, default_value_t = 600)]
    wait_s: u64,
    /// Prints one JSON object instead of progress lines.
    #[arg(long)]
    json: bool,
}

fn bps(p: Option<f64>) -> anyhow::Result<u64> {
    let p = p.unwrap_or(0.1);
    if !(0.0..=1.0).contains(&p) {
        bail!("--p must be between 0 and 1, got {p}");
    }
    Ok((p * 10_000.0).round() as u64)
}

pub async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let (env, key) = (a.network.resolve()?, a.key.resolve()?.key);
    let (input, mode) = (input_of(&a)?, mode_of(&a)?);
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
    progress(format!("submitted request {}", handle.id()));
    let (wait, submitted) = (Duration::from_secs(a.wait_s), started.elapsed());
    let mut timeline = vec![Step::at(submitted, "Submitted", format!("request {}", handle.id()))];
    let (events, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let first = handle.first_output_within(wait);
    let finality = handle.finality_reporting(wait, events);
    tokio::pin!(first, finality);
    let mut first_output: Option<(FirstOutput, Duration)> = None;
    let mut first_pending = true;
    // Each event is shown the moment it is seen; the command stops at the outcome.
    let attestation = loop {
        tokio::select! {
            Some(event) = seen.recv() => timeline.extend(shown(&event, started, &progress)),
            served = &mut first, if first_pending => {
                first_pending = false;
                match served {
                    Ok(f) => {
                        let at = started.elapsed();
                        let line = first_output_line(&f, at - submitted);
                        progress(line.clone());
                        timeline.push(Step::at(at, "FirstOutput", line));
                        first_output = Some((f, at));
                    }
                    Err(e) => progress(format!("no first output: {}", atoma_sdk::error::report(&e))),
                }
            }
            attested = &mut finality => break attested,
        }
    };
    while let Ok(event) = seen.try_recv() {
        timeline.extend(shown(&event, started, &progress));
    }
    let attestation = match attestation {
        Ok(a) => a,
        Err(atoma_sdk::SdkError::Timeout(_)) => {
            let id = handle.id();
            let why = format!(
                "request {id} did not settle within --wait-s {}; it goes on: `atoma status {id}` shows it",
                a.wait_s
            );
            return Err(Exit::new(exit::WAIT_RAN_OUT, why).into());
        }
        Err(e) => return Err(e.into()),
    };
    let finished = started.elapsed();
    // A finalized request's output is still served: take it if the race was lost to finality.
    if first_output.is_none() && first_pending && attestation.output_digest().is_some() {
        let rest = wait.saturating_sub(finished).min(FIRST_OUTPUT_AFTER_FINALITY);
        if let Ok(Ok(f)) = tokio::time::timeout(rest, &mut first).await {
            first_output = Some((f, started.elapsed()));
        }
    }
    // Only a finalized request attests an output: a failed one's first output is nobody's answer.
    let verified = first_output
        .as_ref()
        .filter(|_| attestation.output_digest().is_some())
        .map(|(f, _)| atoma_sdk::verify(&f.output, &attestation).is_ok());
    if a.json {
        let report = Report { handle: &handle, attestation: &attestation, first: first_output.as_ref(), verified };
        let out = report.json(&timeline, finished, started.elapsed());
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if let Some((f, _)) = first_output.as_ref().filter(|_| verified.is_some()) {
        print_output(&f.output);
    }
    if verified == Some(false) {
        bail!("the first output does not match the attested output");
    }
    exit_status(&handle, &attestation, first_output.as_ref().map(|(f, _)| Output::decode(&f.output)))
}

/// How the first output is shown: its node, size, delay and what it says.
fn first_output_line(f: &FirstOutput, after_submission: Duration) -> String {
    format!(
        "first output from node {} ({} bytes, {} after submission), bound to its commitment: {}",
        f.node,
        f.output.len(),
        show::duration(after_submission.as_millis() as u64),
        Output::decode(&f.output).summary()
    )
}

/// The mode the flags ask for.
fn mode_of(a: &SubmitArgs) -> anyhow::Result<Mode> {
    Ok(match a.mode {
        ModeArg::Sampling if a.p.is_some() => {
            bail!(
                "--p is the check probability of cross-validation and sealed; sampling runs every member (give --mode)"
            )
        }
        ModeArg::Sampling => Mode::Sampling { n: a.n },
        ModeArg::CrossValidation => Mode::CrossValidation { p_bps: bps(a.p)?, n: a.n },
        ModeArg::Sealed => Mode::Sealed { p_bps: bps(a.p)?, n: a.n },
    })
}

/// Prints a verified output: its text, its tokens, its bytes in hex or a summary.
fn print_output(output: &[u8]) {
    match Output::decode(output) {
        Output::Text(t) => println!("{}", t.text),
        Output::Bytes(b) => match Output::u32_tokens(&b) {
            Some(tokens) => println!("{}", Output::tokens_line(&tokens)),
            None => println!("{}", hex(&b)),
        },
        other => println!("{}", other.summary()),
    }
}

/// The command's exit: a failed request, or an input the model refused, is an error of its own.
fn exit_status(handle: &RequestHandle, attestation: &Attestation, first: Option<Output>) -> anyhow::Result<()> {
    match (&attestation.outcome, first) {
        (Outcome::Failed { reason, refund }, _) => Err(Exit::new(
            exit::FAILED,
            format!("request {} failed: {}; {} refunded", handle.id(), reason.describe(), show::mist(*refund)),
        )
        .into()),
        (_, Some(Output::Error(e))) => {
            Err(Exit::new(exit::REFUSED, format!("the model refused the input ({}): {}", e.code, e.message)).into())
        }
        _ => Ok(()),
    }
}

/// How long a finalized request's first output is still awaited.
const FIRST_OUTPUT_AFTER_FINALITY: Duration = Duration::from_secs(10);

/// One step of the request as the command saw it.
struct Step {
    seconds: f64,
    event: &'static str,
    text: String,
}

impl Step {
    fn at(elapsed: Duration, event: &'static str, text: String) -> Self {
        Step { seconds: elapsed.as_secs_f64(), event, text }
    }
}

/// Shows an event of the request as a progress line; its step in the timeline.
fn shown(event: &Event, started: Instant, progress: &impl Fn(String)) -> Option<Step> {
    let text = show::event(event, show::now_ms())?;
    progress(text.clone());
    Some(Step::at(started.elapsed(), event.name(), text))
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

/// What `--json` prints about a settled request.
struct Report<'a> {
    handle: &'a RequestHandle,
    attestation: &'a Attestation,
    first: Option<&'a (FirstOutput, Duration)>,
    verified: Option<bool>,
}

impl Report<'_> {
    /// The request, its outcome, the first output, each step with its own
    /// time (seconds since the command started) and the transactions.
    fn json(&self, timeline: &[Step], finished: Duration, elapsed: Duration) -> serde_json::Value {
        let outcome = match &self.attestation.outcome {
            Outcome::Finalized { output_digest, nodes, verified } => json!({
                "status": "finalized",
                "output_digest": hex(output_digest),
                "nodes": nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                "verified": verified,
                "seconds": finished.as_secs_f64(),
            }),
            Outcome::Failed { reason, refund } => json!({
                "status": "failed",
                "reason": reason.name(),
                "description": reason.describe(),
                "refund": refund,
                "seconds": finished.as_secs_f64(),
            }),
        };
        json!({
            "request": self.handle.id().to_string(),
            "mode": self.attestation.mode.name(),
            "fee": self.handle.fee(),
            "outcome": outcome,
            "first_output": self.first.map(|(f, at)| json!({
                "node": f.node.to_string(),
                "output_hex": hex(&f.output),
                "output": output_json(&f.output),
                "matches_attestation": self.verified,
                "seconds": at.as_secs_f64(),
            })),
            "timeline": timeline.iter().map(|s| json!({ "seconds": s.seconds, "event": s.event, "text": s.text })).collect::<Vec<_>>(),
            "transactions": self.attestation.transactions.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "seconds": elapsed.as_secs_f64(),
        })
    }
}

/// The rules a submission must meet that depend on the network, checked
/// before anything is sent by the state machine's own function
/// (`atoma_protocol::ops::Terms::check`), each refusal with the numbers to
/// fix it: the model, the quorum size, the timeout, the fee and the class's
/// eligible nodes. Returns the commit timeout to ask for (`timeout_ms`, or
/// the default).
async fn check_request(
    chain: &atoma_sdk::Chain,
    model: &str,
    mode: Mode,
    timeout_ms: Option<u64>,
    fee: Option<u64>,
) -> anyhow::Result<u64> {
    let params = chain.network().await?.params;
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
    let timeout_ms = timeout_ms.unwrap_or_else(|| default_timeout_ms(shortest));
    let min_fee = params.min_fee_for(mode);
    let terms = Terms {
        mode,
        timeout_ms,
        fee: fee.unwrap_or(min_fee),
        max_run_ms: m.max_run_ms,
        longest_run_ms: class.longest_run_ms,
        eligible: class.active.size,
    };
    match terms.check(&params) {
        Ok(()) => Ok(timeout_ms),
        Err(ProtocolError::InvalidQuorum) => {
            bail!("--n must be between 1 and the network's max_n ({})", params.max_n)
        }
        Err(ProtocolError::InvalidProbability) => bail!("--p must be at most 1 (100 %)"),
        Err(ProtocolError::InvalidTimeout) if timeout_ms > params.max_timeout_ms => {
            bail!("--timeout-ms {timeout_ms} is above the network's max_timeout_ms ({} ms)", params.max_timeout_ms)
        }
        Err(ProtocolError::InvalidTimeout | ProtocolError::ArithmeticError) => bail!(
            "--timeout-ms {timeout_ms} is below the shortest commit timeout of {model}: {shortest} ms \
             (min_timeout_ms {} + the model's run-time bound {} + the longest of class {} {})",
            params.min_timeout_ms,
            m.max_run_ms,
            class.name,
            class.longest_run_ms
        ),
        Err(ProtocolError::FeeTooLow) => {
            bail!(
                "--fee {} is below the network's minimum of {min_fee} MIST for this mode (leave --fee out to pay it)",
                terms.fee
            )
        }
        Err(ProtocolError::NotEnoughNodes) => bail!(
            "class {} has {} eligible node(s); a {} request with n = {} needs {} (nothing was sent)",
            class.name,
            class.active.size,
            mode.name(),
            mode.n(),
            mode.nodes_needed()
        ),
        Err(e) => bail!("the network would refuse this request: {e} (nothing was sent)"),
    }
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
