//! The flags every command-line tool built on the SDK shares (`atoma`,
//! `atoma-gateway`): where the network is (flags, then `--info`, then the
//! atoma configuration's environment) and which key signs (`--key`, the
//! configuration, or the Sui CLI's active address).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sui_sdk_types::Address;

use crate::config::{ClientConfig, Env, KeySource, resolve_key};
use crate::{Chain, Key};

/// Where the network is.
#[derive(Args)]
pub struct NetworkArgs {
    /// The environment of the atoma configuration to use (default: the active one; see `atoma env`).
    #[arg(long = "env", global = true, env = "ATOMA_ENV")]
    env_name: Option<String>,
    /// The Sui gRPC URL (overrides the environment's).
    #[arg(long, global = true, env = "ATOMA_URL")]
    url: Option<String>,
    /// The atoma package's address (overrides the environment's).
    #[arg(long, global = true, env = "ATOMA_PACKAGE")]
    package: Option<Address>,
    /// The shared Network object's id (overrides the environment's).
    #[arg(long, global = true, env = "ATOMA_NETWORK")]
    network: Option<Address>,
    /// A JSON file with `url`, `package`, `network` and `admin_cap` (as
    /// atoma-localnet's --info-file writes it); flags override it.
    #[arg(long, global = true, env = "ATOMA_INFO")]
    info: Option<PathBuf>,
}

/// The signing key.
#[derive(Args)]
pub struct KeyArgs {
    /// The key: a suiprivkey string, KEYSTORE_PATH[#ADDRESS], or an address
    /// or alias of the Sui CLI's keystore (default: `atoma key use`'s, else
    /// the Sui CLI's active address).
    #[arg(long, global = true, env = "ATOMA_KEY", hide_env_values = true)]
    key: Option<String>,
}

impl KeyArgs {
    /// The key and where it came from.
    pub fn resolve(&self) -> anyhow::Result<KeySource> {
        let config = ClientConfig::load(&ClientConfig::default_path())?;
        Ok(resolve_key(self.key.as_deref(), &config)?)
    }
}

/// Reads an `--info` file (atoma-localnet's `--info-file`) as an environment.
pub fn read_info(path: &PathBuf) -> anyhow::Result<Env> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let info: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let field = |k: &str| info.get(k).and_then(|v| v.as_str());
    let address = |k: &str| -> anyhow::Result<Option<Address>> {
        field(k).map(|s| s.parse().with_context(|| format!("{k} in {}", path.display()))).transpose()
    };
    Ok(Env {
        url: field("url").with_context(|| format!("{} has no url", path.display()))?.to_string(),
        package: address("package")?.with_context(|| format!("{} has no package", path.display()))?,
        network: address("network")?.with_context(|| format!("{} has no network", path.display()))?,
        admin_cap: address("admin_cap")?,
    })
}

impl NetworkArgs {
    /// The network, from the flags, `--info` and the configuration.
    pub fn resolve(&self) -> anyhow::Result<Env> {
        let base = match &self.info {
            Some(path) => Some(read_info(path)?),
            None => {
                let config = ClientConfig::load(&ClientConfig::default_path())?;
                config.env(self.env_name.as_deref())?.map(|(_, e)| e.clone())
            }
        };
        let missing = |what: &str| {
            anyhow::anyhow!(
                "no {what}: configure an environment (`atoma env add NAME --url URL --package ID --network ID`, \
                 or `--info FILE` from atoma-localnet) or give --{what}"
            )
        };
        Ok(Env {
            url: self.url.clone().or(base.as_ref().map(|b| b.url.clone())).ok_or_else(|| missing("url"))?,
            package: self.package.or(base.as_ref().map(|b| b.package)).ok_or_else(|| missing("package"))?,
            network: self.network.or(base.as_ref().map(|b| b.network)).ok_or_else(|| missing("network"))?,
            admin_cap: base.and_then(|b| b.admin_cap),
        })
    }

    /// A connection signing with `key`.
    pub async fn connect(&self, key: Key) -> anyhow::Result<(Chain, Env)> {
        let env = self.resolve()?;
        let chain = Chain::connect(&env.url, env.package, env.network, key).await?;
        Ok((chain, env))
    }

    /// A read-only connection (signs nothing).
    pub async fn connect_read_only(&self) -> anyhow::Result<Chain> {
        Ok(self.connect(Key::generate()).await?.0)
    }
}
