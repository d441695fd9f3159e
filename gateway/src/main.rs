//! `atoma-gateway`: serves the OpenAI API (chat completions, completions,
//! embeddings, models) from verified inference on chain.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use atoma_gateway::run::{self, Defaults};
use atoma_gateway::server::{Gateway, router};
use atoma_gateway::{metrics::Metrics, openai::AtomaOptions};
use atoma_protocol::Mode;
use atoma_sdk::Client;
use atoma_sdk::cli::{KeyArgs, NetworkArgs};
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
    Serve(ServeArgs),
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
        Command::Serve(args) => serve(args).await,
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
    let defaults = Defaults { mode, wait_finality: args.wait == "finality" };
    let gateway = Arc::new(Gateway { client, defaults, metrics: Metrics::default() });
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "atoma-gateway: listening on http://{addr}/v1 (network {} at {}, requests paid by {sender}, key from {})",
        env.network, env.url, key.from
    );
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
