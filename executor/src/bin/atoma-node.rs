//! `atoma-node`: the node operator's service.

use std::path::PathBuf;

use anyhow::{Context, bail};
use atoma_executor::manifest::ModelManifest;
use atoma_executor::node::config::Config;
use atoma_executor::node::db::Db;
use atoma_sdk::Chain;
use atoma_sdk::http::hex;
use clap::{Parser, Subcommand};

/// The Atoma node service: stakes collateral for a hardware class, follows
/// the chain's requests, runs the model deterministically, commits and
/// reveals, serves outputs to requesters, and keeps its requests moving.
/// Everything it must not lose is in its data directory; after a crash it
/// continues where it stopped. See docs/operator.md.
#[derive(Parser)]
#[command(name = "atoma-node", version, about, long_about)]
struct Cli {
    /// The configuration file (TOML; see docs/operator.md).
    #[arg(long, short, global = true, env = "ATOMA_NODE_CONFIG", default_value = "atoma-node.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Registers the node: stakes collateral in the configured class, with
    /// the configured endpoint and the key's public key; stores the node's id.
    Register {
        /// Collateral in MIST (default: the class's minimum).
        #[arg(long)]
        collateral: Option<u64>,
    },
    /// Runs the service until it is stopped.
    Run,
    /// Shows the node's state on chain and in its database.
    Status {
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stops new assignments and starts the unbonding delay.
    Leave,
    /// After the unbonding delay, with no open task: takes the collateral back.
    Withdraw,
    /// Model files.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Checks every configured model's weights against its manifest and the chain.
    Verify,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(run(cli)));
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn connect(config: &Config) -> anyhow::Result<Chain> {
    let key = atoma_sdk::keys::load_key(&config.key).context("key")?;
    Ok(Chain::connect(&config.url, config.package, config.network, key).await?)
}

fn node_id(config: &Config, db: &Db) -> anyhow::Result<sui_sdk_types::Address> {
    config.node_cap.or(db.node_cap()?).context("this node is not registered: run `atoma-node register` first")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Run => atoma_executor::node::run(config).await,
        Command::Register { collateral } => {
            let db = Db::open(&config.data_dir)?;
            if let Some(id) = db.node_cap()? {
                bail!("this data directory already belongs to node {id}");
            }
            let chain = connect(&config).await?;
            let classes = chain.classes().await?;
            let Some((class_id, class)) = classes.iter().find(|(_, c)| c.name == config.class.name) else {
                let names: Vec<&str> = classes.iter().map(|(_, c)| c.name.as_str()).collect();
                bail!(
                    "class {:?} (class.name) is not registered on this network; registered: {}",
                    config.class.name,
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                );
            };
            // Refuse before staking: a node that runs another profile than its
            // class's would disagree with honest nodes and be slashed.
            config.class.check_chain_profile(&class.profile)?;
            let public_key = chain.key().public_key();
            if public_key.len() != 32 {
                bail!("the node's key must be Ed25519 (it signs served outputs)");
            }
            let start = chain.checkpoint_height().await?;
            let amount = collateral.unwrap_or(class.min_collateral);
            let (id, executed) = chain.register_node(*class_id, amount, &config.endpoint(), &public_key).await?;
            db.set_node_cap(&id)?;
            db.set_start_checkpoint(start)?;
            println!("{id}");
            eprintln!(
                "registered node {id} in class {} with {amount} MIST at {} (transaction {})",
                class.name,
                config.endpoint(),
                executed.digest
            );
            Ok(())
        }
        Command::Status { json } => {
            let db = Db::open(&config.data_dir)?;
            let id = node_id(&config, &db)?;
            let chain = connect(&config).await?;
            let node = chain.node(id).await?;
            let (tasks, done) = db.task_counts()?;
            let cursor = db.cursor()?;
            let outbox = db.outbox()?.len();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "node": id.to_string(),
                        "registered": node.is_some(),
                        "collateral": node.as_ref().map(|n| n.collateral),
                        "locked": node.as_ref().map(|n| n.locked),
                        "open_tasks_on_chain": node.as_ref().map(|n| n.open_tasks),
                        "completed": node.as_ref().map(|n| n.completed),
                        "slashed": node.as_ref().map(|n| n.slashed),
                        "leaving_since_ms": node.as_ref().and_then(|n| n.leaving_since_ms),
                        "endpoint": node.as_ref().map(|n| n.endpoint.clone()),
                        "tasks": tasks, "tasks_done": done, "outbox": outbox,
                        "cursor": cursor.map(|c| serde_json::json!([c.checkpoint, c.transaction, c.event])),
                    }))?
                );
                return Ok(());
            }
            match node {
                None => println!("node {id}: not registered (withdrawn?)"),
                Some(n) => println!(
                    "node {id}: collateral {} MIST (locked {}), open tasks {}, completed {}, slashed {}{}\n  endpoint {}",
                    n.collateral,
                    n.locked,
                    n.open_tasks,
                    n.completed,
                    n.slashed,
                    if n.leaving_since_ms.is_some() { ", leaving" } else { "" },
                    n.endpoint
                ),
            }
            println!(
                "  database: {tasks} task(s), {done} done, {outbox} unconfirmed transaction(s), cursor {cursor:?}"
            );
            Ok(())
        }
        Command::Leave => {
            let db = Db::open(&config.data_dir)?;
            let chain = connect(&config).await?;
            let executed = chain.request_leave(node_id(&config, &db)?).await?;
            println!("leaving (transaction {}); withdraw after the unbonding delay", executed.digest);
            Ok(())
        }
        Command::Withdraw => {
            let db = Db::open(&config.data_dir)?;
            let chain = connect(&config).await?;
            let executed = chain.withdraw(node_id(&config, &db)?).await?;
            println!("withdrawn (transaction {})", executed.digest);
            Ok(())
        }
        Command::Models { command: ModelsCommand::Verify } => {
            let chain = connect(&config).await?;
            let on_chain = chain.models().await?;
            let mut bad = 0;
            for path in &config.models {
                let manifest = ModelManifest::read(path)?;
                let chain_digest = on_chain.iter().find(|(id, _)| *id == manifest.id).map(|(_, m)| m.weight_digest);
                match (chain_digest, manifest.verify(chain_digest.as_ref())) {
                    (None, _) => {
                        bad += 1;
                        println!("{}: not registered on this network", manifest.id);
                    }
                    (Some(_), Ok(d)) => {
                        println!(
                            "{}: every file matches the manifest, model digest {} matches the chain",
                            manifest.id,
                            hex(&d.0)
                        )
                    }
                    (Some(_), Err(e)) => {
                        bad += 1;
                        println!("{}: {e}", manifest.id);
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} model(s) cannot be served");
            }
            Ok(())
        }
    }
}
