//! `atoma`: submit verifiable inference requests and inspect the network.

use atoma_protocol::output::Output;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoma_protocol::security::{Payoffs, collusion_probability, min_class_size};
use atoma_protocol::{Mode, Status};
use atoma_sdk::client::Outcome;
use atoma_sdk::http::hex;
use atoma_sdk::keys::Keystore;
use atoma_sdk::{Client, InputSpec, Key, RequestSpec};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod admin;
mod env;

use env::{EnvCommand, KeyArgs, KeyCommand, NetworkArgs};
use serde_json::json;
use sui_sdk_types::Address;

/// Verifiable AI inference on Sui: submit requests to sampled quorums of
/// nodes, follow them to finality, inspect nodes and hardware classes, and
/// compute the protocol's security figures.
#[derive(Parser)]
#[command(name = "atoma", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Submits a request, prints the first output and waits for finality.
    Submit(Box<SubmitArgs>),
    /// Shows a request's state.
    Status(StatusArgs),
    /// Lists the registered nodes.
    Nodes(ReadArgs),
    /// Lists the hardware classes and models.
    Classes(ReadArgs),
    /// Security figures: collusion probability r^n, and the smallest check
    /// probability p that makes honesty a node's best response.
    Security(SecurityArgs),
    /// Creates a new Ed25519 key.
    Keygen(KeygenArgs),
    /// Environments: the networks commands act on (URL, package, Network, AdminCap).
    #[command(subcommand)]
    Env(EnvCommand),
    /// The key commands sign with.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The admin's commands: classes, models, parameters, treasury, migration.
    Admin(admin::AdminArgs),
    /// Shows the SUI balance of an address (default: the key's).
    Balance(BalanceArgs),
    /// Pays SUI from the key's address to another.
    Transfer(TransferArgs),
}

#[derive(Args)]
struct BalanceArgs {
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The address (default: the key's).
    address: Option<Address>,
}

#[derive(Args)]
struct TransferArgs {
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The recipient.
    #[arg(long)]
    to: Address,
    /// MIST to pay (1 SUI = 1,000,000,000 MIST).
    #[arg(long)]
    amount: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Sampling,
    CrossValidation,
    Sealed,
}

#[derive(Args)]
struct SubmitArgs {
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
    /// Commit timeout for the nodes, in ms.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
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

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// The request's id.
    request: Address,
    /// Prints JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReadArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// Prints JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SecurityArgs {
    /// The adversary's share of a class's nodes, between 0 and 1.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    r: f64,
    /// Largest n of the r^n table.
    #[arg(long, default_value_t = 10)]
    max_n: u32,
    /// Reward of a task (R), for p_min.
    #[arg(long, default_value_t = 1.0)]
    reward: f64,
    /// Native cost of a task (C), for p_min.
    #[arg(long, default_value_t = 0.5)]
    cost: f64,
    /// Collateral slashed from a caught cheater (S), for p_min.
    #[arg(long, default_value_t = 100.0)]
    slash: f64,
    /// Verifiers when checked (n), for p_min; also the n of the smallest classes.
    #[arg(long, default_value_t = 1)]
    n: u32,
    /// The network's sealed_pool_factor, for the smallest Sealed class.
    #[arg(long, default_value_t = 3)]
    pool_factor: u64,
    /// Prints JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct KeygenArgs {
    /// Adds the key to this Sui keystore file (created if missing) instead of printing it.
    #[arg(long)]
    keystore: Option<PathBuf>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli.command)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Submit(a) => submit(*a).await,
        Command::Status(a) => status(a).await,
        Command::Nodes(a) => nodes(a).await,
        Command::Classes(a) => classes(a).await,
        Command::Security(a) => security(a),
        Command::Keygen(a) => keygen(a),
        Command::Env(c) => env::env_command(c).await,
        Command::Key(c) => env::key_command(c),
        Command::Admin(a) => admin::admin(a).await,
        Command::Balance(a) => balance(a).await,
        Command::Transfer(a) => transfer(a).await,
    }
}

fn bps(p: f64) -> anyhow::Result<u64> {
    if !(0.0..=1.0).contains(&p) {
        bail!("--p must be between 0 and 1, got {p}");
    }
    Ok((p * 10_000.0).round() as u64)
}

async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let env = a.network.resolve()?;
    let key = a.key.resolve()?.key;
    let built = if let Some(p) = &a.prompt {
        Some(json!({ "prompt": p, "max_tokens": a.max_tokens }))
    } else if let Some(c) = &a.chat {
        Some(json!({ "messages": [{ "role": "user", "content": c }], "max_tokens": a.max_tokens }))
    } else {
        a.embed.as_ref().map(|e| json!({ "input": [e] }))
    };
    let input = match (&a.input, &a.input_file, &a.input_uri) {
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
    };
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
    check_request(client.chain(), &a.model, mode, a.timeout_ms, a.fee).await?;
    let spec = RequestSpec { model: a.model.clone(), input, mode, timeout_ms: a.timeout_ms, max_fee: a.fee };
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
            progress(format!("no first output: {e}"));
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
        let out = json!({
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
            "seconds": started.elapsed().as_secs_f64(),
        });
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

/// The rules a submission must meet that depend on the network, checked
/// before anything is sent, with the numbers to fix them: the quorum size,
/// the timeout, the fee and the class's eligible nodes.
async fn check_request(
    chain: &atoma_sdk::Chain,
    model: &str,
    mode: Mode,
    timeout_ms: u64,
    fee: Option<u64>,
) -> anyhow::Result<()> {
    let params = chain.network().await?.params;
    if mode.n() == 0 || mode.n() > params.max_n {
        bail!("--n must be between 1 and the network's max_n ({})", params.max_n);
    }
    if !(params.min_timeout_ms..=params.max_timeout_ms).contains(&timeout_ms) {
        bail!(
            "--timeout-ms {timeout_ms} is outside the network's range {}..={} ms",
            params.min_timeout_ms,
            params.max_timeout_ms
        );
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
    Ok(())
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

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Committing => "committing",
        Status::Verifying => "verifying",
        Status::Selecting => "selecting",
        Status::Disputed => "disputed",
        Status::Revealing => "revealing",
        Status::Finalized => "finalized",
        Status::Failed => "failed",
    }
}

async fn status(a: StatusArgs) -> anyhow::Result<()> {
    let chain = a.network.connect_read_only().await?;
    let r = chain.request(a.request).await?;
    if a.json {
        let slots: Vec<_> = r
            .slots
            .iter()
            .map(|s| {
                json!({
                    "node": Address::new(s.node_id.0).to_string(),
                    "role": s.role.name(),
                    "stake": s.stake,
                    "committed": s.commitment.is_some(),
                    "revealed": s.reveal.map(|d| hex(&d.0)),
                    "active": s.active,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "request": a.request.to_string(),
                "status": status_name(r.status),
                "mode": r.mode.name(),
                "model": r.model_id,
                "requester": r.requester.to_string(),
                "fee": r.fee,
                "deadline_ms": r.deadline_ms,
                "retries": r.retries,
                "checked": r.checked,
                "output_digest": r.output_digest.map(|d| hex(&d.0)),
                "slots": slots,
            }))?
        );
        return Ok(());
    }
    println!("request {}: {} ({}, model {})", a.request, status_name(r.status), r.mode.name(), r.model_id);
    println!("  requester {}  fee {} MIST  deadline {} ms  retries {}", r.requester, r.fee, r.deadline_ms, r.retries);
    if let Some(d) = r.output_digest {
        println!("  output digest {}", hex(&d.0));
    }
    for s in &r.slots {
        println!(
            "  {:<10} {}  committed {:<5} revealed {:<5} {}",
            s.role.name(),
            Address::new(s.node_id.0),
            s.commitment.is_some(),
            s.reveal.is_some(),
            if s.active { "active" } else { "released" }
        );
    }
    Ok(())
}

async fn nodes(a: ReadArgs) -> anyhow::Result<()> {
    let chain = a.network.connect_read_only().await?;
    let nodes = chain.nodes().await?;
    if a.json {
        let list: Vec<_> = nodes
            .iter()
            .map(|(id, n)| {
                json!({
                    "node": id.to_string(), "owner": n.owner.to_string(), "class": n.class_id,
                    "collateral": n.collateral, "locked": n.locked, "open_tasks": n.open_tasks,
                    "leaving_since_ms": n.leaving_since_ms, "endpoint": n.endpoint,
                    "completed": n.completed, "slashed": n.slashed,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{} node(s)", nodes.len());
    for (id, n) in nodes {
        println!(
            "  {id}  class {}  collateral {} (locked {})  tasks {}  completed {}  slashed {}  {}{}",
            n.class_id,
            n.collateral,
            n.locked,
            n.open_tasks,
            n.completed,
            n.slashed,
            n.endpoint,
            if n.leaving_since_ms.is_some() { "  leaving" } else { "" }
        );
    }
    Ok(())
}

async fn classes(a: ReadArgs) -> anyhow::Result<()> {
    let chain = a.network.connect_read_only().await?;
    let classes = chain.classes().await?;
    let models = chain.models().await?;
    if a.json {
        let c: Vec<_> = classes
            .iter()
            .map(|(id, c)| json!({"class": id, "object": Address::new(c.id.0).to_string(), "name": c.name, "profile": c.profile, "min_collateral": c.min_collateral, "task_lock": c.task_lock, "nodes": c.nodes.size, "active_nodes": c.active.size, "revenue": c.revenue}))
            .collect();
        let m: Vec<_> = models
            .iter()
            .map(|(id, m)| json!({"model": id, "weight_digest": hex(&m.weight_digest.0), "class": m.class_id}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"classes": c, "models": m}))?);
        return Ok(());
    }
    for (id, c) in &classes {
        println!(
            "class {id}: {}  min collateral {}  task lock {}  nodes {} ({} active)  revenue {}\n  object {}\n  profile {}",
            c.name,
            c.min_collateral,
            c.task_lock,
            c.nodes.size,
            c.active.size,
            c.revenue,
            Address::new(c.id.0),
            c.profile
        );
        for (m, model) in models.iter().filter(|(_, m)| m.class_id == *id) {
            println!("  model {m}  weights {}", hex(&model.weight_digest.0));
        }
    }
    Ok(())
}

fn security(a: SecurityArgs) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&a.r) {
        bail!("--r must be at least 0 and below 1");
    }
    let table: Vec<(u32, f64)> = (1..=a.max_n).map(|n| (n, collusion_probability(a.r, n))).collect();
    let payoffs = Payoffs::new(a.reward, a.cost, a.slash);
    let p_min = payoffs.min_check_probability(a.r, a.n);
    let n = a.n as u64;
    let min_class = [
        ("sampling", min_class_size(Mode::Sampling { n }, a.pool_factor)),
        ("cross_validation", min_class_size(Mode::CrossValidation { p_bps: 0, n }, a.pool_factor)),
        ("sealed", min_class_size(Mode::Sealed { p_bps: 0, n }, a.pool_factor)),
    ];
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "r": a.r,
                "collusion_probability": table.iter().map(|(n, p)| json!({"n": n, "p": p})).collect::<Vec<_>>(),
                "p_min": p_min,
                "p_min_bps": payoffs.min_check_bps(a.r, a.n),
                "reward": a.reward, "cost": a.cost, "slash": a.slash, "n": a.n,
                "min_class": min_class.iter().map(|(m, s)| (m.to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
                "pool_factor": a.pool_factor,
            }))?
        );
        return Ok(());
    }
    println!("Sampling: probability that all n sampled nodes collude, adversary share r = {:.4}", a.r);
    for (n, p) in &table {
        println!("  n = {n:>2}   r^n = {p:.4e}");
    }
    println!("CrossValidation / Sealed with R = {}, C = {}, S = {}, n = {}:", a.reward, a.cost, a.slash, a.n);
    match p_min {
        Some(p) => println!(
            "  honesty is the strict best response for p > {p:.6} ({} bps or more)",
            payoffs.min_check_bps(a.r, a.n).map_or("no".into(), |b| b.to_string())
        ),
        None => println!("  no check probability makes honesty the best response with these values"),
    }
    println!(
        "Smallest class (eligible nodes) that seats a full dispute quorum, n = {}, pool factor {}:",
        a.n, a.pool_factor
    );
    for (mode, size) in min_class {
        println!("  {mode:<16} {size}");
    }
    println!("  (a smaller class fails a disputed request without slashing anyone: NoDisputeQuorum)");
    Ok(())
}

fn keygen(a: KeygenArgs) -> anyhow::Result<()> {
    let key = Key::generate();
    match a.keystore {
        Some(path) => {
            let mut store = if path.exists() { Keystore::load(&path)? } else { Keystore::default() };
            store.push(key.clone());
            store.save(&path)?;
            println!("{}", key.address());
            eprintln!("added the key of {} to {}", key.address(), path.display());
        }
        None => {
            eprintln!("address {}; the line below is the private key: keep it secret", key.address());
            println!("{}", key.to_suiprivkey()?);
        }
    }
    Ok(())
}

async fn balance(a: BalanceArgs) -> anyhow::Result<()> {
    let address = match a.address {
        Some(address) => address,
        None => a.key.resolve()?.key.address(),
    };
    let chain = a.network.connect_read_only().await?;
    let mist = chain.balance_of(address).await?;
    println!("{mist}");
    eprintln!("{address} holds {mist} MIST ({} SUI)", sui(mist));
    Ok(())
}

async fn transfer(a: TransferArgs) -> anyhow::Result<()> {
    let key = a.key.resolve()?.key;
    let (chain, _) = a.network.connect(key).await?;
    let executed = chain.transfer_sui(a.to, a.amount).await?;
    println!("{}", executed.digest);
    eprintln!("paid {} MIST ({} SUI) to {} in transaction {}", a.amount, sui(a.amount), a.to, executed.digest);
    Ok(())
}

/// MIST as SUI, for messages.
fn sui(mist: u64) -> String {
    format!("{}.{:09}", mist / 1_000_000_000, mist % 1_000_000_000)
}
