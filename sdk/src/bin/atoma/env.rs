//! Where commands act and with which key: flags, then `--info`, then the
//! atoma configuration's environment (`atoma env`), and the key from
//! `--key`, the configuration, or the Sui CLI's active address (`atoma key`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use atoma_sdk::cli::read_info;
use atoma_sdk::config::{ClientConfig, Env, SuiClientConfig, resolve_key};
use clap::Subcommand;
use serde_json::json;
use sui_sdk_types::Address;

pub use atoma_sdk::cli::{KeyArgs, NetworkArgs};

/// `atoma env`.
#[derive(Subcommand)]
pub enum EnvCommand {
    /// Adds (or replaces) an environment and makes it the active one.
    Add {
        /// Its name (`local`, `testnet`, …).
        name: String,
        /// atoma-localnet's --info-file (gives the URL, package, network and admin cap).
        #[arg(long, conflicts_with_all = ["url", "package", "network", "publish_tx"])]
        info: Option<PathBuf>,
        /// The Sui gRPC URL (e.g. https://fullnode.testnet.sui.io:443).
        #[arg(long, required_unless_present = "info")]
        url: Option<String>,
        /// The digest of the `sui client publish` transaction: the package,
        /// Network and AdminCap ids are read from it.
        #[arg(long, conflicts_with_all = ["package", "network"])]
        publish_tx: Option<String>,
        /// The package id of the first publication.
        #[arg(long, required_unless_present_any = ["info", "publish_tx"])]
        package: Option<Address>,
        /// The shared Network object's id.
        #[arg(long, required_unless_present_any = ["info", "publish_tx"])]
        network: Option<Address>,
        /// The AdminCap's id (for `atoma admin`).
        #[arg(long)]
        admin_cap: Option<Address>,
    },
    /// Makes an environment the active one.
    Use {
        /// The environment's name.
        name: String,
    },
    /// Lists the environments (the active one is marked `*`), and the Sui CLI's.
    List {
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `atoma key`.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Makes a key the one commands sign with: a suiprivkey string,
    /// KEYSTORE_PATH[#ADDRESS], or an address or alias of the Sui CLI's keystore.
    Use {
        /// The key.
        key: String,
    },
    /// Shows the address commands sign with and where its key comes from.
    Show {
        #[command(flatten)]
        key: KeyArgs,
    },
}

pub async fn env_command(command: EnvCommand) -> anyhow::Result<()> {
    let path = ClientConfig::default_path();
    let mut config = ClientConfig::load(&path)?;
    match command {
        EnvCommand::Add { name, info, url, publish_tx, package, network, admin_cap } => {
            let mut env = match (info, publish_tx) {
                (Some(p), _) => read_info(&p)?,
                (None, Some(digest)) => {
                    let url = url.context("--url")?;
                    let digest: sui_sdk_types::Digest =
                        digest.parse().map_err(|_| anyhow::anyhow!("--publish-tx {digest:?} is not a digest"))?;
                    let (package, network, admin_cap) = atoma_sdk::chain::read_publication(&url, &digest).await?;
                    eprintln!("publication {digest}: package {package}, Network {network}, AdminCap {admin_cap}");
                    Env { url, package, network, admin_cap: Some(admin_cap) }
                }
                (None, None) => Env {
                    url: url.context("--url")?,
                    package: package.context("--package")?,
                    network: network.context("--network")?,
                    admin_cap: None,
                },
            };
            env.admin_cap = admin_cap.or(env.admin_cap);
            config.envs.insert(name.clone(), env);
            config.active_env = Some(name.clone());
            config.save(&path)?;
            eprintln!("environment {name} saved in {} and active", path.display());
        }
        EnvCommand::Use { name } => {
            config.env(Some(&name))?;
            config.active_env = Some(name.clone());
            config.save(&path)?;
            eprintln!("environment {name} is active");
        }
        EnvCommand::List { json } => {
            let sui = SuiClientConfig::load(&SuiClientConfig::dir())?.unwrap_or_default();
            if json {
                let envs: Vec<_> = config
                    .envs
                    .iter()
                    .map(|(n, e)| json!({
                        "name": n, "url": e.url, "package": e.package.to_string(), "network": e.network.to_string(),
                        "admin_cap": e.admin_cap.map(|a| a.to_string()), "active": config.active_env.as_deref() == Some(n),
                    }))
                    .collect();
                let sui_envs: Vec<_> = sui.envs.iter().map(|e| json!({"alias": e.alias, "rpc": e.rpc})).collect();
                let out = json!({ "config": path.display().to_string(), "envs": envs, "sui_envs": sui_envs });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            if config.envs.is_empty() {
                println!("no environment in {} (add one with `atoma env add`)", path.display());
            }
            for (n, e) in &config.envs {
                let mark = if config.active_env.as_deref() == Some(n) { "*" } else { " " };
                println!("{mark} {n}  {}\n    package {}  network {}", e.url, e.package, e.network);
                if let Some(a) = e.admin_cap {
                    println!("    admin cap {a}");
                }
            }
            if !sui.envs.is_empty() {
                println!("Sui CLI environments (URLs for `atoma env add --url`):");
                for e in &sui.envs {
                    let mark = if sui.active_env.as_deref() == Some(e.alias.as_str()) { "*" } else { " " };
                    println!("{mark} {}  {}", e.alias, e.rpc);
                }
            }
        }
    }
    Ok(())
}

/// A `KEYSTORE_PATH[#ADDRESS]` with its path made absolute, so that the
/// stored key works from any directory; other key forms as given.
fn absolute_keystore(key: &str) -> anyhow::Result<String> {
    let (path, address) = match key.rsplit_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (key, None),
    };
    let path = std::path::Path::new(path);
    if !path.exists() {
        return Ok(key.to_string());
    }
    let absolute = std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
    Ok(match address {
        Some(a) => format!("{}#{a}", absolute.display()),
        None => absolute.display().to_string(),
    })
}

pub fn key_command(command: KeyCommand) -> anyhow::Result<()> {
    let path = ClientConfig::default_path();
    match command {
        KeyCommand::Use { key } => {
            let mut config = ClientConfig::load(&path)?;
            let found = resolve_key(Some(&key), &ClientConfig::default())?;
            if key.trim().starts_with("suiprivkey") {
                bail!(
                    "refusing to write a private key into {}: add it to a keystore (`atoma keygen --keystore`) and name that",
                    path.display()
                );
            }
            config.key = Some(absolute_keystore(&key)?);
            config.save(&path)?;
            println!("{}", found.key.address());
            eprintln!("commands now sign as {}", found.key.address());
        }
        KeyCommand::Show { key } => {
            let found = key.resolve()?;
            println!("{}", found.key.address());
            eprintln!("from {}", found.from);
        }
    }
    Ok(())
}
