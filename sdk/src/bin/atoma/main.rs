//! `atoma`: submit verifiable inference requests and inspect the network.

use std::path::PathBuf;

use anyhow::bail;
use atoma_protocol::params::{PARAMS, Unit};
use atoma_protocol::security::{Payoffs, collusion_probability, min_class_size};
use atoma_protocol::{Event, Mode, Status};
use atoma_sdk::Key;
use atoma_sdk::http::hex;
use atoma_sdk::keys::Keystore;
use clap::{Args, Parser, Subcommand};

mod admin;
mod env;
mod exit;
mod show;
mod submit;
mod verify;

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
    Submit(Box<submit::SubmitArgs>),
    /// Shows a request's state.
    Status(StatusArgs),
    /// Checks a receipt from atoma-gateway (its `atoma` field) against the
    /// chain: model and digest, fee, status, output digest and nodes.
    Verify(verify::VerifyArgs),
    /// Lists the registered nodes.
    Nodes(ReadArgs),
    /// Lists the hardware classes and models.
    Classes(ReadArgs),
    /// Shows the network's parameters, with their units and the ranges
    /// `atoma admin set-params` accepts.
    Params(ReadArgs),
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
    atoma_sdk::init_tracing("warn");
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli.command)) {
        if let Some(exit) = e.downcast_ref::<exit::Exit>() {
            eprintln!("{exit}");
            std::process::exit(exit.code);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Submit(a) => submit::submit(*a).await,
        Command::Status(a) => status(a).await,
        Command::Verify(a) => verify::verify(a).await,
        Command::Nodes(a) => nodes(a).await,
        Command::Classes(a) => classes(a).await,
        Command::Params(a) => params(a).await,
        Command::Security(a) => security(a),
        Command::Keygen(a) => keygen(a),
        Command::Env(c) => env::env_command(c).await,
        Command::Key(c) => env::key_command(c),
        Command::Admin(a) => admin::admin(a).await,
        Command::Balance(a) => balance(a).await,
        Command::Transfer(a) => transfer(a).await,
    }
}

async fn status(a: StatusArgs) -> anyhow::Result<()> {
    let chain = a.network.connect_read_only().await?;
    let r = chain.request(a.request).await?;
    // The request object holds what is still owed; the events say what was paid and why.
    let events = chain.request_events(a.request).await?;
    let paid = events.iter().find_map(|e| match e {
        Event::RequestSubmitted(s) => Some(s.fee),
        _ => None,
    });
    let now = show::now_ms();
    if a.json {
        let slots: Vec<_> = r
            .slots
            .iter()
            .map(|s| {
                json!({
                    "node": Address::from(s.node_id).to_string(),
                    "role": s.role.name(),
                    "stake": s.stake,
                    "committed": s.commitment.is_some(),
                    "revealed": s.reveal.map(|d| hex(&d.0)),
                    "active": s.active,
                })
            })
            .collect();
        let history: Vec<_> =
            events.iter().filter_map(|e| Some(json!({ "event": e.name(), "text": show::event(e, now)? }))).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "request": a.request.to_string(),
                "status": r.status.name(),
                "mode": r.mode.name(),
                "model": r.model_id,
                "requester": r.requester.to_string(),
                "fee_paid": paid,
                "fee_held": r.fee,
                "created_ms": r.created_ms,
                "deadline_ms": r.deadline_ms,
                "retries": r.retries,
                "checked": r.checked,
                "output_digest": r.output_digest.map(|d| hex(&d.0)),
                "slots": slots,
                "events": history,
            }))?
        );
        return Ok(());
    }
    println!("request {}: {} ({}, model {})", a.request, r.status.name(), r.mode.name(), r.model_id);
    println!("  requester {}", r.requester);
    println!("  fee paid  {}", paid.map_or("unknown".to_string(), show::mist));
    println!("  submitted {}", show::when(r.created_ms, now));
    if !matches!(r.status, Status::Finalized | Status::Failed) {
        println!("  deadline  {} (refills used: {})", show::when(r.deadline_ms, now), r.retries);
    }
    if let Some(d) = r.output_digest {
        println!("  output digest {}", hex(&d.0));
    }
    for s in &r.slots {
        println!(
            "  {:<10} {}  committed {:<3} revealed {:<3} {}",
            s.role.name(),
            Address::from(s.node_id),
            if s.commitment.is_some() { "yes" } else { "no" },
            if s.reveal.is_some() { "yes" } else { "no" },
            if s.active { "active" } else { "released" }
        );
    }
    println!("  what happened:");
    for line in events.iter().filter_map(|e| show::event(e, now)) {
        println!("    {line}");
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
                    "withdraw_after_ms": n.withdraw_after_ms, "endpoint": n.endpoint,
                    "completed": n.completed, "slashed": n.slashed,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{} node(s)", nodes.len());
    let now = show::now_ms();
    for (id, n) in nodes {
        println!(
            "  {id}  class {}  collateral {} (locked {})  tasks {}  completed {}  slashed {}  {}{}",
            n.class_id,
            show::mist(n.collateral),
            show::mist(n.locked),
            n.open_tasks,
            n.completed,
            n.slashed,
            n.endpoint,
            match n.withdraw_after_ms {
                Some(at) => format!("  leaving, may withdraw {}", show::when(at, now)),
                None => String::new(),
            }
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
            .map(|(id, c)| json!({"class": id, "object": Address::from(c.id).to_string(), "name": c.name, "profile": c.profile, "min_collateral": c.min_collateral, "task_lock": c.task_lock, "nodes": c.nodes.size, "active_nodes": c.active.size, "revenue": c.revenue}))
            .collect();
        let m: Vec<_> = models
            .iter()
            .map(|(id, m)| json!({"model": id, "weight_digest": hex(&m.weight_digest.0), "class": m.class_id, "max_run_ms": m.max_run_ms}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"classes": c, "models": m}))?);
        return Ok(());
    }
    for (id, c) in &classes {
        println!(
            "class {id}: {}  min collateral {}  task lock {}  nodes {} ({} active)  revenue {}\n  object {}\n  profile {}",
            c.name,
            show::mist(c.min_collateral),
            show::mist(c.task_lock),
            c.nodes.size,
            c.active.size,
            show::mist(c.revenue),
            Address::from(c.id),
            c.profile
        );
        for (m, model) in models.iter().filter(|(_, m)| m.class_id == *id) {
            println!(
                "  model {m}  weights {}  run-time bound {}",
                hex(&model.weight_digest.0),
                show::duration(model.max_run_ms)
            );
        }
    }
    Ok(())
}

async fn params(a: ReadArgs) -> anyhow::Result<()> {
    let chain = a.network.connect_read_only().await?;
    let values = chain.network().await?.params.values();
    if a.json {
        let list: Vec<_> = PARAMS
            .iter()
            .zip(values)
            .map(|(p, v)| {
                json!({ "name": p.name, "value": v, "unit": p.unit.name(), "min": p.min, "max": p.max, "about": p.about })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for (p, v) in PARAMS.iter().zip(values) {
        let readable = match p.unit {
            Unit::Mist => show::mist(v),
            Unit::Ms => format!("{v} ms ({})", show::duration(v)),
            Unit::Bps => format!("{v} bps ({}%)", v as f64 / 100.0),
            Unit::Count | Unit::Bytes => format!("{v} {}", p.unit.name()),
        };
        println!("{:<22} {readable}", p.name);
        println!("{:<22} {}; {}", "", p.about, p.range());
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
    eprintln!("{address} holds {}", show::mist(mist));
    Ok(())
}

async fn transfer(a: TransferArgs) -> anyhow::Result<()> {
    let key = a.key.resolve()?.key;
    let (chain, _) = a.network.connect(key).await?;
    let executed = chain.transfer_sui(a.to, a.amount).await?;
    println!("{}", executed.digest);
    eprintln!("paid {} to {} in transaction {}", show::mist(a.amount), a.to, executed.digest);
    Ok(())
}
