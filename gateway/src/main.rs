//! `atoma-gateway`: serves the OpenAI API (chat completions, completions,
//! embeddings, models) from verified inference on chain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use atoma_gateway::keys::Keys;
use atoma_gateway::limits::Limits;
use atoma_gateway::run::{self, Defaults};
use atoma_gateway::server::{Gateway, router};
use atoma_gateway::web::{self, Page};
use atoma_gateway::{metrics::Metrics, openai::AtomaOptions};
use atoma_protocol::Mode;
use atoma_sdk::Client;
use atoma_sdk::cli::{KeyArgs, NetworkArgs};
use atoma_sdk::config::ClientConfig;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "atoma-gateway", version)]
/// An OpenAI-compatible API over verified inference: each request is
/// submitted on chain from this gateway's Sui key, answered with the
/// first output bound to its node's commitment, and carries a receipt
/// (request, transactions, model digest, nodes, output digest, status).
/// See docs/gateway.md.
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the API until interrupted.
    Serve(Box<ServeArgs>),
    /// The API keys clients send as `Authorization: Bearer …`, each with a budget.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Creates a key with a budget and prints it (shown once; only its hash is kept).
    Add {
        /// A name for the key (letters, digits, `-`, `_`, `.`).
        name: String,
        /// What requests with this key may spend in fees, in MIST (1 SUI = 1e9 MIST).
        #[arg(long)]
        budget: u64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Lists the keys with their budgets, fees spent (less refunds) and requests.
    List {
        /// Prints JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revokes a key: its requests are refused from now on; its record stays.
    Revoke {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Args)]
struct DbArgs {
    /// The key database (SQLite; created if missing). Default: gateway.sqlite beside the atoma configuration (~/.atoma).
    #[arg(long, env = "ATOMA_GATEWAY_DB")]
    db: Option<PathBuf>,
}

impl DbArgs {
    fn open(&self) -> anyhow::Result<Keys> {
        let path = self.db.clone().unwrap_or_else(|| ClientConfig::default_path().with_file_name("gateway.sqlite"));
        Keys::open(&path)
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "ATOMA_GATEWAY_LISTEN")]
    listen: SocketAddr,
    /// Verification mode of a request that names none: sampling, cross-validation or sealed.
    #[arg(long, default_value = "sampling")]
    mode: String,
    /// Nodes that verify a request that says nothing (sampling: the quorum).
    #[arg(long, default_value_t = 2)]
    n: u64,
    /// Probability of a check (cross-validation and sealed), 0 to 1.
    #[arg(long)]
    p: Option<f64>,
    /// What a non-streamed response waits for unless the request says:
    /// `finality` (verified or said so) or `first_output` (sooner, not yet final).
    #[arg(long, default_value = "finality", value_parser = ["finality", "first_output"])]
    wait: String,
    /// Requests in flight at most; more are answered 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Requests in flight at most for one API key.
    #[arg(long, default_value_t = 16)]
    max_in_flight_per_key: usize,
    /// Does not tell the selected nodes of a request (they learn of it from
    /// a checkpoint a chain round later): for measuring what the push saves.
    #[arg(long)]
    no_push: bool,
    /// Serves without API keys: anyone who reaches the gateway spends its
    /// key's SUI. For a local network only.
    #[arg(long)]
    no_auth: bool,
    /// The explorer and playground's built files (`web/dist`, built by
    /// `scripts/setup-web`), served at `/`.
    #[arg(long, value_name = "DIR")]
    web: Option<PathBuf>,
    /// A local network's faucet (Sui's faucet API, as `atoma-localnet start
    /// --faucet-listen` serves it), told to the web page, whose development
    /// key it funds.
    #[arg(long, value_name = "URL", requires = "web")]
    faucet: Option<String>,
    /// The chain's gRPC URL as the page's visitors reach it (default: the
    /// URL this gateway uses, which every visitor is told: give a public
    /// one if that URL is private or carries a credential).
    #[arg(long, value_name = "URL", requires = "web")]
    web_chain_url: Option<String>,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    key: KeyArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    atoma_sdk::init_tracing("info");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Keys(command) => keys(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atoma-gateway: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let base = Mode::Sampling { n: args.n };
    let opts = AtomaOptions { mode: Some(args.mode.clone()), n: Some(args.n), p: args.p, ..AtomaOptions::default() };
    let mode = run::mode(&opts, base).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let key = args.key.resolve()?;
    let (chain, env) = args.network.connect(key.key).await?;
    let sender = chain.sender();
    let client = Client::from_chain(chain);
    let defaults = Defaults { mode, wait_finality: args.wait == "finality", push: !args.no_push };
    let keys = if args.no_auth { None } else { Some(Arc::new(args.db.open()?)) };
    if args.max_in_flight == 0 || args.max_in_flight_per_key == 0 {
        anyhow::bail!("--max-in-flight and --max-in-flight-per-key are at least 1");
    }
    if let Some(keys) = keys.clone() {
        // Charges of requests whose follower ended before finality (a
        // previous run stopped, a chain read failed) are settled from the chain.
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let settled = run::reconcile(&client, &keys).await;
                if settled > 0 {
                    tracing::info!(settled, "settled the charges of requests found final on chain");
                }
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            }
        });
    }
    if let Some(dir) = &args.web
        && !dir.join("index.html").is_file()
    {
        anyhow::bail!("--web {}: no index.html there (scripts/setup-web builds web/dist)", dir.display());
    }
    let limits = Limits::new(args.max_in_flight, args.max_in_flight_per_key);
    let gateway = Arc::new(Gateway { client, defaults, metrics: Metrics::default(), keys, limits });
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // One line: whoever reads where it listens may stop reading after it.
    let page =
        if args.web.is_some() { format!("; the explorer and playground at http://{addr}/") } else { String::new() };
    println!(
        "atoma-gateway: listening on http://{addr}/v1 (network {} at {}, requests paid by {sender}, key from {}){page}",
        env.network, env.url, key.from
    );
    let mut app = router(gateway.clone()).merge(web::outputs(gateway.clone()));
    if let Some(dir) = args.web {
        let chain_url = args.web_chain_url.unwrap_or_else(|| env.url.clone());
        let page = Page { chain_url, package: env.package, network: env.network, faucet: args.faucet, dir };
        app = app.merge(web::page(&gateway, page));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add { name, budget, db } => {
            let token = db.open()?.add(&name, budget)?;
            println!("{token}");
            eprintln!("key `{name}` created with a budget of {budget} MIST; it is shown only now");
        }
        KeysCommand::List { json, db } => {
            let keys = db.open()?.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<24} {:>20} {:>20} {:>9} {:>8} revoked",
                    "name", "budget (MIST)", "spent (MIST)", "requests", "pending"
                );
                for k in keys {
                    let revoked = if k.revoked { "yes" } else { "no" };
                    println!(
                        "{:<24} {:>20} {:>20} {:>9} {:>8} {revoked}",
                        k.name, k.budget, k.spent, k.requests, k.pending
                    );
                }
            }
        }
        KeysCommand::Revoke { name, db } => {
            db.open()?.revoke(&name)?;
            println!("key `{name}` revoked");
        }
    }
    Ok(())
}
