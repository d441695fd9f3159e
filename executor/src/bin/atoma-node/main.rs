//! `atoma-node`: the node operator's service.

mod operate;
mod status;

use std::path::PathBuf;

use anyhow::{Context, bail};
use atoma_executor::node::config::Config;
use atoma_executor::node::db::{Db, Summary};
use atoma_sdk::config::{ClientConfig, resolve_key};
use atoma_sdk::{Chain, now_ms};
use clap::{Parser, Subcommand};
use sui_sdk_types::Address;

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
    /// the configured endpoint and the key's public key; stores the node's
    /// id. Checks the class, the models, the endpoint and the balance first.
    /// A data directory whose node withdrew registers a new node.
    Register {
        /// Collateral in MIST (default: the class's minimum). More than the
        /// minimum keeps the node eligible after a slash.
        #[arg(long)]
        collateral: Option<u64>,
        /// Registers an endpoint requesters cannot reach (0.0.0.0, or
        /// loopback on a network that is not on this machine).
        #[arg(long)]
        allow_unroutable: bool,
    },
    /// Runs the service until it is stopped.
    Run,
    /// Shows the node's state on chain (collateral, eligibility) and in its
    /// database (asking the running node when it holds the database).
    Status {
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Adds collateral (MIST) to the node, from the key's coins.
    AddCollateral {
        /// MIST to add.
        amount: u64,
    },
    /// Changes the endpoint registered on chain (default: the configuration's
    /// `public_url`, else `http://` + `listen`).
    SetEndpoint {
        /// The new endpoint URL.
        url: Option<String>,
        /// Registers an endpoint requesters cannot reach.
        #[arg(long)]
        allow_unroutable: bool,
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
    atoma_sdk::init_tracing("info");
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(run(cli)));
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn connect(config: &Config) -> anyhow::Result<Chain> {
    let key = resolve_key(Some(&config.key), &ClientConfig::default()).context("key")?.key;
    Ok(Chain::connect(&config.url, config.package, config.network, key).await?)
}

/// The node's id: the configuration's, or the one `register` stored (read
/// beside a running node too).
async fn node_id(config: &Config) -> anyhow::Result<Address> {
    if let Some(id) = config.node_cap {
        return Ok(id);
    }
    let (summary, _) = db_summary(config).await?;
    summary
        .node
        .context("this node is not registered: run `atoma-node register` first")?
        .parse()
        .context("the node id in the database")
}

/// Opens the database; the running node holds it, so a command that needs
/// it says to stop the node first.
fn open_db(config: &Config) -> anyhow::Result<Db> {
    Db::open(&config.data_dir).map_err(|e| {
        if is_locked(&e) {
            anyhow::anyhow!(
                "the node's database in {} is in use: a running `atoma-node run` holds it; stop it first",
                config.data_dir.display()
            )
        } else {
            e
        }
    })
}

fn is_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<redb::DatabaseError>(), Some(redb::DatabaseError::DatabaseAlreadyOpen)))
}

/// Whether `url` cannot be reached by requesters: an unspecified host
/// (0.0.0.0, ::), or a loopback host while the chain is not on this machine.
fn unroutable(url: &str, chain_url: &str) -> Option<String> {
    let host = |u: &str| -> Option<String> {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?.to_string(),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string(),
        };
        Some(host)
    };
    let is_loopback = |h: &str| h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let h = host(url)?;
    if h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
        return Some(format!(
            "{url} is a listening address, not one requesters can connect to: set public_url to the URL they reach"
        ));
    }
    if is_loopback(&h) && !host(chain_url).is_some_and(|c| is_loopback(&c)) {
        return Some(format!(
            "{url} is this machine's loopback address, unreachable from the network at {chain_url}: set public_url"
        ));
    }
    None
}

fn check_endpoint(url: &str, config: &Config, allow: bool) -> anyhow::Result<()> {
    if let Some(why) = unroutable(url, &config.url) {
        if !allow {
            bail!("{why} (or pass --allow-unroutable)");
        }
        eprintln!("warning: {why}");
    }
    Ok(())
}

/// "in 3 min 20 s" from a number of milliseconds.
fn duration_words(ms: u64) -> String {
    let s = ms.div_ceil(1_000);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Run => atoma_executor::node::run(config).await,
        Command::Register { collateral, allow_unroutable } => {
            operate::register(&config, collateral, allow_unroutable).await
        }
        Command::Status { json } => status::status(&config, json).await,
        Command::AddCollateral { amount } => operate::add_collateral(&config, amount).await,
        Command::SetEndpoint { url, allow_unroutable } => operate::set_endpoint(&config, url, allow_unroutable).await,
        Command::Leave => operate::leave(&config).await,
        Command::Withdraw => operate::withdraw(&config).await,
        Command::Models { command: ModelsCommand::Verify } => operate::verify_models(&config).await,
    }
}

/// The database's summary: read directly, or asked of the running node.
async fn db_summary(config: &Config) -> anyhow::Result<(Summary, &'static str)> {
    match Db::open(&config.data_dir) {
        Ok(db) => Ok((db.summary()?, "stopped")),
        Err(e) if is_locked(&e) => {
            let mut addr = config.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
            }
            let url = format!("http://{addr}/v1/node");
            let summary = reqwest::get(&url)
                .await
                .and_then(|r| r.error_for_status())
                .with_context(|| format!("the database is in use, and the running node did not answer at {url}"))?
                .json()
                .await
                .with_context(|| format!("reading the running node's answer at {url}"))?;
            Ok((summary, "running"))
        }
        Err(e) => Err(e),
    }
}
