//! `atoma-localnet`: runs a local Sui-compatible network for the atoma package.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use atoma_localnet::congestion::CongestionConfig;
use atoma_localnet::genesis::{AccountConfig, ClassConfig, GenesisConfig, ModelConfig};
use atoma_localnet::node::{NodeConfig, TimeSource};
use atoma_localnet::{Localnet, Options};
use clap::{Parser, Subcommand};

/// A local Sui-compatible network for the atoma package.
///
/// It serves the Sui gRPC services that the atoma SDK and node service use
/// (ledger, state, transaction execution, checkpoint subscription) on a
/// loopback address, executes signed transactions with real Sui encodings,
/// and applies the package's Move calls with the protocol's reference state
/// machine. It is a development and test network; see docs/localnet.md.
#[derive(Parser)]
#[command(name = "atoma-localnet", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts the network from a genesis file and serves it until Ctrl-C.
    Start(StartArgs),
    /// Writes a genesis file and a Sui keystore with new funded accounts.
    Init(InitArgs),
    /// Funds an address from a running network's faucet (see `start --faucet-listen`).
    Faucet(FaucetArgs),
}

#[derive(Parser)]
struct FaucetArgs {
    /// The address to fund.
    address: sui_sdk_types::Address,
    /// MIST to send (default: 100 SUI).
    amount: Option<u64>,
    /// The faucet's URL.
    #[arg(long, env = "ATOMA_FAUCET_URL", default_value = "http://127.0.0.1:9123")]
    url: String,
}

#[derive(Parser)]
struct StartArgs {
    /// The genesis file (TOML; see docs/localnet.md). Ignored when --data-dir
    /// holds a network started before, which continues where it stopped.
    #[arg(long, env = "ATOMA_LOCALNET_GENESIS")]
    genesis: PathBuf,
    /// Address to serve gRPC on; port 0 picks a free port (with --data-dir,
    /// the one used before when it is free).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Also serves a faucet on this address (Sui's faucet API, `POST /v2/gas`;
    /// `atoma-localnet faucet` uses it). Sui's local faucet listens on 127.0.0.1:9123.
    #[arg(long)]
    faucet_listen: Option<SocketAddr>,
    /// Writes the URL clients connect to (http://host:port) to this file once serving.
    #[arg(long)]
    address_file: Option<PathBuf>,
    /// Writes the network's identity (URL, chain id, package, network and
    /// admin-cap ids, initial shared versions) as JSON to this file once serving.
    #[arg(long)]
    info_file: Option<PathBuf>,
    /// Keeps the ledger in this directory, so a restart continues where it
    /// stopped. One network at a time: the directory is locked while it runs,
    /// and a second start on it is refused with the holder's PID.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of on-chain randomness (64 hex digits); a fixed seed makes draws
    /// repeat. Overrides the genesis file's `random_seed` on a first start.
    #[arg(long)]
    seed: Option<String>,
    /// Executed transactions are sealed into a checkpoint at most this many ms later.
    #[arg(long, default_value_t = 100)]
    checkpoint_interval_ms: u64,
    /// An empty checkpoint is sealed after this many ms without transactions.
    #[arg(long, default_value_t = 2_000)]
    idle_checkpoint_ms: u64,
    /// The per-object congestion model (docs/scaling.md): `sui` gives each
    /// shared object Sui's execution budget per commit (one checkpoint
    /// round) and defers, then cancels, what is over it; `off` runs
    /// everything at once.
    #[arg(long, value_enum, default_value_t = Congestion::Sui)]
    congestion: Congestion,
    /// The congestion model's estimated execution time of one transaction (µs).
    #[arg(long, default_value_t = 1_000)]
    tx_cost_us: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Congestion {
    /// Sui's per-object budgets, deferral and cancellation.
    Sui,
    /// No limit: every transaction runs at once.
    Off,
}

#[derive(Parser)]
struct InitArgs {
    /// Directory to write genesis.toml and sui.keystore into.
    #[arg(long)]
    dir: PathBuf,
    /// Number of accounts to create; the first one holds the AdminCap.
    #[arg(long, default_value_t = 4)]
    accounts: usize,
    /// MIST given to each account.
    #[arg(long, default_value_t = 1_000_000_000_000_000)]
    balance: u64,
    /// Coins each account's balance is split into.
    #[arg(long, default_value_t = 4)]
    coins: u64,
    /// A hardware class, as NAME:MIN_COLLATERAL:TASK_LOCK:PROFILE (repeatable);
    /// PROFILE is what its nodes must run with, e.g.
    /// device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0.
    #[arg(long = "class")]
    classes: Vec<String>,
    /// A model, as ID:WEIGHT_DIGEST_HEX:CLASS_NAME:MAX_RUN_MS (repeatable),
    /// MAX_RUN_MS being its run-time bound on the class (`atoma-model bound`).
    #[arg(long = "model")]
    models: Vec<String>,
    /// The random seed to write into genesis.toml (64 hex digits).
    #[arg(long)]
    seed: Option<String>,
    /// Overwrites existing files.
    #[arg(long)]
    force: bool,
}

fn main() {
    // As `atoma_sdk::init_tracing`, which the local network cannot use: it
    // does not depend on the SDK.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let runtime = || tokio::runtime::Runtime::new().context("starting the runtime");
    let result = match Cli::parse().command {
        Command::Start(args) => runtime().and_then(|rt| rt.block_on(start(args))),
        Command::Init(args) => init(args),
        Command::Faucet(args) => runtime().and_then(|rt| rt.block_on(faucet(args))),
    };
    // One line with every cause, as the other commands print errors.
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn parse_seed(s: &str) -> anyhow::Result<[u8; 32]> {
    atoma_protocol::Digest::from_hex(s).map(|d| d.0).context("--seed must be 64 hex digits")
}

/// Writes `contents` to `path` atomically (a reader never sees half a file).
fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    let genesis = GenesisConfig::load(&args.genesis)?;
    let seed = args.seed.as_deref().map(parse_seed).transpose()?;
    let options = Options {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        seed,
        time: TimeSource::System,
        node: NodeConfig {
            checkpoint_interval: Duration::from_millis(args.checkpoint_interval_ms.max(1)),
            idle_checkpoint_interval: Duration::from_millis(args.idle_checkpoint_ms.max(1)),
            congestion: (args.congestion == Congestion::Sui).then(|| CongestionConfig {
                tx_cost_us: args.tx_cost_us.max(1),
                ..CongestionConfig::sui(args.checkpoint_interval_ms.max(1))
            }),
        },
        faucet_listen: args.faucet_listen,
    };
    let net = Localnet::start(&genesis, options).await?;
    let url = net.url();
    let info = net.node().with_ledger(|chain| {
        let id = &chain.identity;
        serde_json::json!({
            "url": url,
            "chain_id": chain.chain_id().to_string(),
            // The publication's role here: `atoma env add --publish-tx` reads the ids from it.
            "genesis_transaction": chain
                .txs
                .iter()
                .find(|(_, tx)| tx.checkpoint == Some((0, 0)))
                .map(|(digest, _)| digest.to_string()),
            "package": id.package.to_string(),
            "network": id.network_id.to_string(),
            "network_initial_version": id.network_initial_version,
            "admin_cap": id.admin_cap_id.to_string(),
            "random_initial_version": id.random_initial_version,
            "checkpoint_height": chain.checkpoint_height(),
            "faucet_url": net.faucet_url(),
        })
    });
    if let Some(path) = &args.address_file {
        write_atomic(path, &format!("{url}\n"))?;
    }
    if let Some(path) = &args.info_file {
        write_atomic(path, &serde_json::to_string_pretty(&info)?)?;
    }
    println!("atoma-localnet serving {url}");
    let field = |k: &str| info[k].as_str().unwrap_or_default().to_string();
    println!("  chain id {}  package {}  network {}", field("chain_id"), field("package"), field("network"));
    if let Some(faucet) = net.faucet_url() {
        println!("  faucet {faucet}  (atoma-localnet faucet ADDRESS --url {faucet})");
    }
    if let Some(dir) = &args.data_dir {
        println!("  ledger kept in {}", dir.display());
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    tracing::info!("stopping");
    net.shutdown().await;
    Ok(())
}

/// Writes a file only its owner may read (a keystore), replacing it.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    // An existing file keeps its mode when opened: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    if args.accounts == 0 {
        bail!("--accounts must be at least 1");
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let keystore = args.dir.join("sui.keystore");
    let genesis_path = args.dir.join("genesis.toml");
    for path in [&keystore, &genesis_path] {
        if path.exists() && !args.force {
            bail!("{} exists; pass --force to overwrite it", path.display());
        }
    }
    let mut keys = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..args.accounts {
        let key = sui_crypto::ed25519::Ed25519PrivateKey::new(rand::random());
        addresses.push(key.public_key().derive_address());
        keys.push(key.to_base64());
    }
    let mut classes = Vec::new();
    for c in &args.classes {
        let parts: Vec<&str> = c.rsplitn(4, ':').collect();
        let [profile, lock, min, name] = parts[..] else {
            bail!("--class {c:?}: expected NAME:MIN_COLLATERAL:TASK_LOCK:PROFILE")
        };
        classes.push(ClassConfig {
            name: name.to_string(),
            profile: profile.to_string(),
            min_collateral: min.parse().with_context(|| format!("--class {c:?}: MIN_COLLATERAL"))?,
            task_lock: lock.parse().with_context(|| format!("--class {c:?}: TASK_LOCK"))?,
        });
    }
    let mut models = Vec::new();
    for m in &args.models {
        // The class name may hold ':', the id and digest may not: the bound is last.
        let Some((rest, bound)) = m.rsplit_once(':') else {
            bail!("--model {m:?}: expected ID:WEIGHT_DIGEST_HEX:CLASS_NAME:MAX_RUN_MS")
        };
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        let [id, digest, class] = parts[..] else {
            bail!("--model {m:?}: expected ID:WEIGHT_DIGEST_HEX:CLASS_NAME:MAX_RUN_MS")
        };
        let max_run_ms = bound.parse().with_context(|| format!("--model {m:?}: MAX_RUN_MS"))?;
        let (id, weight_digest, class) = (id.to_string(), digest.to_string(), class.to_string());
        models.push(ModelConfig { id, weight_digest, class, max_run_ms });
    }
    let config = GenesisConfig {
        random_seed: args.seed.clone(),
        accounts: vec![AccountConfig {
            address: None,
            keystore: Some(PathBuf::from("sui.keystore")),
            balance: args.balance,
            coins: args.coins,
        }],
        classes,
        models,
        ..GenesisConfig::new(addresses[0])
    };
    // Validate before writing anything (the keystore is read back relative to the file).
    write_private(&keystore, &serde_json::to_string_pretty(&keys)?)
        .with_context(|| format!("writing {}", keystore.display()))?;
    write_atomic(&genesis_path, &toml::to_string(&config)?)?;
    GenesisConfig::load(&genesis_path)?;
    println!("wrote {} and {}", genesis_path.display(), keystore.display());
    for (i, a) in addresses.iter().enumerate() {
        println!("  account {i}: {a}{}", if i == 0 { " (admin)" } else { "" });
    }
    Ok(())
}

async fn faucet(args: FaucetArgs) -> anyhow::Result<()> {
    let mut body = serde_json::json!({ "FixedAmountRequest": { "recipient": args.address.to_string() } });
    if let Some(amount) = args.amount {
        body["FixedAmountRequest"]["amount"] = amount.into();
    }
    let url = format!("{}/v2/gas", args.url.trim_end_matches('/'));
    let response = reqwest::Client::new().post(&url).json(&body).send().await.map_err(|e| {
        anyhow::anyhow!("no faucet answered at {url}: {e} (start the network with --faucet-listen, or give --url)")
    })?;
    let status = response.status();
    let answer: serde_json::Value =
        response.json().await.with_context(|| format!("the faucet at {url} answered {status} without JSON"))?;
    let Some(coin) = answer["coins_sent"].get(0) else {
        let why = answer["status"]["Failure"].as_str().map(str::to_string).unwrap_or_else(|| answer.to_string());
        bail!("the faucet refused: {why}");
    };
    println!("{}", coin["transferTxDigest"].as_str().unwrap_or_default());
    eprintln!("sent {} MIST to {} (coin {})", coin["amount"], args.address, coin["id"].as_str().unwrap_or_default());
    Ok(())
}
