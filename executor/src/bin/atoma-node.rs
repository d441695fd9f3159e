//! `atoma-node`: the node operator's service.

use std::path::PathBuf;

use anyhow::{Context, bail};
use atoma_executor::manifest::ModelManifest;
use atoma_executor::node::config::Config;
use atoma_executor::node::db::{Db, Summary};
use atoma_protocol::state::Standing;
use atoma_sdk::Chain;
use atoma_sdk::config::{ClientConfig, resolve_key};
use atoma_sdk::http::hex;
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

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Run => atoma_executor::node::run(config).await,
        Command::Register { collateral, allow_unroutable } => register(&config, collateral, allow_unroutable).await,
        Command::Status { json } => status(&config, json).await,
        Command::AddCollateral { amount } => add_collateral(&config, amount).await,
        Command::SetEndpoint { url, allow_unroutable } => set_endpoint(&config, url, allow_unroutable).await,
        Command::Leave => leave(&config).await,
        Command::Withdraw => withdraw(&config).await,
        Command::Models { command: ModelsCommand::Verify } => verify_models(&config).await,
    }
}

/// Adds `amount` MIST to the node's collateral.
async fn add_collateral(config: &Config, amount: u64) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn?)"))?;
    if amount == 0 {
        bail!("the amount must be positive");
    }
    let executed = chain.add_collateral(id, amount).await?;
    let class = chain.class(node.class_id).await?;
    let total = node.collateral + amount;
    println!("{total}");
    eprintln!(
        "added {amount} MIST: collateral {total} MIST, class minimum {} (transaction {})",
        class.min_collateral, executed.digest
    );
    Ok(())
}

/// Changes the URL the node serves outputs at (default: the configured one).
async fn set_endpoint(config: &Config, url: Option<String>, allow_unroutable: bool) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let url = url.unwrap_or_else(|| config.endpoint());
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 256 {
        bail!("the endpoint must be an http(s) URL of at most 256 bytes, got {url}");
    }
    check_endpoint(&url, config, allow_unroutable)?;
    let chain = connect(config).await?;
    let executed = chain.set_endpoint(id, &url).await?;
    println!("{url}");
    eprintln!("node {id} now serves outputs at {url} (transaction {})", executed.digest);
    Ok(())
}

/// Asks to leave: no new tasks; the collateral comes back after the unbonding delay.
async fn leave(config: &Config) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn?)"))?;
    if node.leaving_since_ms.is_some() {
        bail!("node {id} is leaving already; `atoma-node withdraw` once the unbonding delay has passed");
    }
    let delay = chain.network().await?.params.unbonding_delay_ms;
    let executed = chain.request_leave(id).await?;
    println!("leaving (transaction {})", executed.digest);
    eprintln!(
        "no new tasks from now; `atoma-node withdraw` takes the collateral back in {} (the unbonding delay), \
         once open tasks ({}) have settled; keep the node running until then",
        duration_words(delay),
        node.open_tasks
    );
    Ok(())
}

/// Takes the collateral back once the unbonding delay has passed and no task is open.
async fn withdraw(config: &Config) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn already?)"))?;
    let Some(since) = node.leaving_since_ms else {
        bail!("node {id} has not asked to leave: run `atoma-node leave` first, then wait the unbonding delay");
    };
    let delay = chain.network().await?.params.unbonding_delay_ms;
    let at = since.saturating_add(delay);
    let now = now_ms();
    if now < at {
        bail!(
            "the unbonding delay has not passed: withdrawal is possible in {} (at {} ms since the epoch, by the chain's clock)",
            duration_words(at - now),
            at
        );
    }
    if node.open_tasks > 0 {
        bail!("node {id} has {} open task(s): keep `atoma-node run` going until they settle", node.open_tasks);
    }
    let executed = chain.withdraw(id).await?;
    println!("withdrawn {} MIST (transaction {})", node.collateral, executed.digest);
    eprintln!("this data directory can register a new node with `atoma-node register`");
    Ok(())
}

/// Checks every served model's files against its manifest and the chain.
async fn verify_models(config: &Config) -> anyhow::Result<()> {
    let chain = connect(config).await?;
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

async fn register(config: &Config, collateral: Option<u64>, allow_unroutable: bool) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let chain = connect(config).await?;
    if let Some(id) = db.node_cap()? {
        if chain.node(id).await?.is_some() {
            bail!("this data directory belongs to node {id}, which is registered: `atoma-node status` shows it");
        }
        eprintln!("node {id} of this data directory withdrew; registering a new node");
    }
    let classes = chain.classes().await?;
    let Some((class_id, class)) = classes.iter().find(|(_, c)| c.name == config.class.name) else {
        let names: Vec<&str> = classes.iter().map(|(_, c)| c.name.as_str()).collect();
        bail!(
            "class {} (class.name) is not registered on this network; registered: {}",
            config.class.name,
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    };
    // Refuse before staking: a node that runs another profile than its
    // class's would disagree with honest nodes and be slashed.
    config.class.check_chain_profile(&class.profile)?;
    let on_chain = chain.models().await?;
    for path in &config.models {
        let manifest = ModelManifest::read(path)?;
        let Some((_, model)) = on_chain.iter().find(|(id, _)| *id == manifest.id) else {
            let known: Vec<&str> =
                on_chain.iter().filter(|(_, m)| m.class_id == *class_id).map(|(id, _)| id.as_str()).collect();
            bail!(
                "model {} ({}) is not registered on this network; models of class {}: {}",
                manifest.id,
                path.display(),
                class.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            );
        };
        if model.class_id != *class_id {
            bail!("model {} belongs to class {}, not to this node's class {}", manifest.id, model.class_id, class_id);
        }
        if model.weight_digest != manifest.digest() {
            bail!(
                "model {}: the manifest's digest {} differs from the chain's {}",
                manifest.id,
                hex(&manifest.digest().0),
                hex(&model.weight_digest.0)
            );
        }
    }
    let endpoint = config.endpoint();
    check_endpoint(&endpoint, config, allow_unroutable)?;
    let public_key = chain.key().public_key();
    if public_key.len() != 32 {
        bail!("the node's key must be Ed25519 (it signs served outputs)");
    }
    let amount = collateral.unwrap_or(class.min_collateral);
    if amount < class.min_collateral {
        bail!("--collateral {amount} is below class {}'s minimum of {} MIST", class.name, class.min_collateral);
    }
    let balance = chain.balance().await?;
    if balance < amount {
        bail!("{} holds {balance} MIST, less than the collateral of {amount} MIST (and gas)", chain.sender());
    }
    if amount < class.min_collateral.saturating_add(class.task_lock) {
        eprintln!(
            "note: staking {amount} MIST, the class minimum is {}: a slash would take the node out of sampling \
             until `atoma-node add-collateral` (--collateral sets more)",
            class.min_collateral
        );
    }
    let start = chain.checkpoint_height().await?;
    let (id, executed) = chain.register_node(*class_id, amount, &endpoint, &public_key).await?;
    db.forget_node()?;
    db.set_node_cap(&id)?;
    db.set_start_checkpoint(start)?;
    println!("{id}");
    eprintln!(
        "registered node {id} in class {} with {amount} MIST at {endpoint} (transaction {})",
        class.name, executed.digest
    );
    Ok(())
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

async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let (summary, process) = db_summary(config).await?;
    let id: Address = match (config.node_cap, &summary.node) {
        (Some(id), _) => id,
        (None, Some(s)) => s.parse().context("the node id in the database")?,
        (None, None) => bail!("this node is not registered: run `atoma-node register` first"),
    };
    let chain = connect(config).await?;
    let node = chain.node(id).await?;
    let class = match &node {
        Some(n) => Some(chain.class(n.class_id).await?),
        None => None,
    };
    let standing = node.as_ref().zip(class.as_ref()).map(|(n, c)| {
        Standing::of(n.leaving_since_ms.is_some(), n.collateral, n.locked, c.min_collateral, c.task_lock)
    });
    let delay = chain.network().await?.params.unbonding_delay_ms;
    let withdraw_at = node.as_ref().and_then(|n| n.leaving_since_ms).map(|s| s.saturating_add(delay));
    let standing_name = |s: Standing| match s {
        Standing::Eligible => "eligible",
        Standing::Leaving => "leaving",
        Standing::BelowMinimum { .. } => "below_minimum",
        Standing::FullyLocked => "fully_locked",
    };
    if json {
        let out = serde_json::json!({
            "node": id.to_string(),
            "process": process,
            "registered": node.is_some(),
            "class": class.as_ref().map(|c| c.name.clone()),
            "min_collateral": class.as_ref().map(|c| c.min_collateral),
            "collateral": node.as_ref().map(|n| n.collateral),
            "locked": node.as_ref().map(|n| n.locked),
            "standing": standing.map(standing_name),
            "shortfall": match standing { Some(Standing::BelowMinimum { short }) => short, _ => 0 },
            "open_tasks_on_chain": node.as_ref().map(|n| n.open_tasks),
            "completed": node.as_ref().map(|n| n.completed),
            "slashed": node.as_ref().map(|n| n.slashed),
            "leaving_since_ms": node.as_ref().and_then(|n| n.leaving_since_ms),
            "withdraw_at_ms": withdraw_at,
            "endpoint": node.as_ref().map(|n| n.endpoint.clone()),
            "tasks": summary.tasks, "tasks_done": summary.tasks_done, "outbox": summary.outbox,
            "cursor": summary.cursor,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match (&node, &class, standing) {
        (Some(n), Some(c), Some(standing)) => {
            println!(
                "node {id} ({process}): class {}, collateral {} MIST (locked {}, class minimum {}), open tasks {}, completed {}, slashed {}",
                c.name, n.collateral, n.locked, c.min_collateral, n.open_tasks, n.completed, n.slashed
            );
            println!("  endpoint {}", n.endpoint);
            match standing {
                Standing::Eligible => println!("  eligible for new tasks"),
                Standing::BelowMinimum { short } => println!(
                    "  NOT eligible: collateral is {short} MIST below the class minimum; `atoma-node add-collateral {short}`"
                ),
                Standing::FullyLocked => println!("  not eligible until open tasks settle (collateral fully locked)"),
                Standing::Leaving => match withdraw_at {
                    Some(at) if at > now_ms() => {
                        println!("  leaving: `atoma-node withdraw` possible in {}", duration_words(at - now_ms()))
                    }
                    _ => println!(
                        "  leaving: the unbonding delay has passed; `atoma-node withdraw` once no task is open"
                    ),
                },
            }
        }
        _ => println!(
            "node {id} ({process}): not registered on chain (withdrawn?); `atoma-node register` registers a new one"
        ),
    }
    let cursor = summary
        .cursor
        .map_or("none yet".to_string(), |[c, t, e]| format!("checkpoint {c}, transaction {t}, event {e}"));
    println!(
        "  database: {} task(s), {} done, {} unconfirmed transaction(s), last event read at {cursor}",
        summary.tasks, summary.tasks_done, summary.outbox
    );
    Ok(())
}
