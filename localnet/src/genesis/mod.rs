//! Genesis: the configuration a local network starts from, and the chain it
//! builds: the system objects (Clock `0x6`, Random `0x8`), the package's
//! shared `Network` with its parameters, hardware classes and models, the
//! `AdminCap`, and funded accounts. All of it is one genesis transaction in
//! checkpoint 0.
//!
//! ```toml
//! admin = "0x…"                      # owner of the AdminCap (must be a funded account)
//! reference_gas_price = 1000         # MIST per computation unit (default 1000)
//! random_seed = "0x…"                # 32 bytes; a fixed seed repeats every draw (default: random)
//! package = "0x…"                    # the atoma package's address (default: derived)
//! faucet_balance = 1_000_000_000_000_000_000   # MIST of the faucet's account (default 10^18; 0: none)
//!
//! [params]                           # protocol parameters; omitted fields keep their defaults
//! reveal_window_ms = 10000
//!
//! [[accounts]]                       # either an address ...
//! address = "0x…"
//! balance = 1_000_000_000_000        # MIST, split into `coins` coins (default 1)
//! coins = 4
//! [[accounts]]                       # ... or every key of a Sui keystore file
//! keystore = "keys/sui.keystore"
//! balance = 1_000_000_000_000
//!
//! [[classes]]
//! name = "cpu-x86_64-avx2/torch-2.13.0"
//! min_collateral = 10_000_000_000
//! task_lock = 1_000_000_000
//!
//! [[models]]
//! id = "tiny-gpt"
//! weight_digest = "0x…"              # blake2b256 of the weight file
//! class = "cpu-x86_64-avx2/torch-2.13.0"
//! max_run_ms = 2000                  # its run-time bound on the class (`atoma-model bound`)
//! ```
//!
//! The configuration and its checks are here; `build` (module `build`)
//! makes the chain.
//!
//! Not for: executing transactions after genesis (see `execute`).

mod build;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use atoma_protocol::Params;
use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

pub use build::{build, faucet_key};

/// Protocol parameters in the genesis file: each omitted field keeps the default.
pub use atoma_protocol::params::ParamsPatch as ParamsConfig;

/// A funded account: an address, or every key of a keystore file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The account's address.
    pub address: Option<Address>,
    /// A Sui keystore file (JSON array of base64 `flag || private key`); each key is funded.
    pub keystore: Option<PathBuf>,
    /// MIST per account.
    pub balance: u64,
    /// Number of coins the balance is split into (default 1).
    #[serde(default = "one")]
    pub coins: u64,
}

fn one() -> u64 {
    1
}

/// A hardware class created at genesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassConfig {
    /// The class's name.
    pub name: String,
    /// The determinism profile its nodes must run with
    /// (`device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0`).
    pub profile: String,
    /// Minimum collateral (MIST).
    pub min_collateral: u64,
    /// Collateral locked per task (MIST).
    pub task_lock: u64,
}

/// A model registered at genesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model id.
    pub id: String,
    /// Blake2b-256 of the weight file, hex.
    pub weight_digest: String,
    /// The name of its hardware class (one of `classes`).
    pub class: String,
    /// The longest an honest node of the class takes to run it (ms): every
    /// commit timeout of its requests covers it (`atoma-model bound` measures it).
    pub max_run_ms: u64,
}

/// The genesis file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// Owner of the `AdminCap`.
    pub admin: Address,
    /// Reference gas price (MIST per computation unit).
    #[serde(default = "default_gas_price")]
    pub reference_gas_price: u64,
    /// Seed of the randomness source (hex, 32 bytes).
    pub random_seed: Option<String>,
    /// The package's address.
    pub package: Option<Address>,
    /// Protocol parameters.
    #[serde(default)]
    pub params: ParamsConfig,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// Hardware classes, with ids 0, 1, … in this order.
    #[serde(default)]
    pub classes: Vec<ClassConfig>,
    /// Models.
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    /// MIST held by the faucet's account (`faucet` module); 0: no faucet coin.
    #[serde(default = "default_faucet_balance")]
    pub faucet_balance: u64,
}

/// The faucet's balance unless the file says otherwise: 1,000,000,000 SUI.
pub const DEFAULT_FAUCET_BALANCE: u64 = 1_000_000_000_000_000_000;

fn default_faucet_balance() -> u64 {
    DEFAULT_FAUCET_BALANCE
}

fn default_gas_price() -> u64 {
    1_000
}

/// The default package address: fixed, so that clients can be configured once.
pub const DEFAULT_PACKAGE: Address =
    Address::from_static("0xa70a000000000000000000000000000000000000000000000000000000000001");

impl GenesisConfig {
    /// A network governed by `admin`, with the default parameters, gas
    /// price and faucet, and a random seed drawn at its first start; the
    /// `with_*` methods add accounts, classes and models.
    ///
    /// ```
    /// # use atoma_localnet::genesis::GenesisConfig;
    /// # let admin = sui_sdk_types::Address::ZERO;
    /// let genesis = GenesisConfig::new(admin)
    ///     .with_accounts([admin], 1_000_000_000_000, 2)
    ///     .with_class("cpu", "device=cpu", 1_000_000_000, 100_000_000)
    ///     .with_model("tiny", &format!("0x{}", "ab".repeat(32)), "cpu", 1_000);
    /// genesis.validate().unwrap();
    /// ```
    pub fn new(admin: Address) -> Self {
        GenesisConfig {
            admin,
            reference_gas_price: default_gas_price(),
            random_seed: None,
            package: None,
            params: ParamsConfig::default(),
            accounts: Vec::new(),
            classes: Vec::new(),
            models: Vec::new(),
            faucet_balance: DEFAULT_FAUCET_BALANCE,
        }
    }

    /// Funds each address with `balance` MIST split into `coins` coins.
    pub fn with_accounts(mut self, addresses: impl IntoIterator<Item = Address>, balance: u64, coins: u64) -> Self {
        self.accounts.extend(addresses.into_iter().map(|a| AccountConfig {
            address: Some(a),
            keystore: None,
            balance,
            coins,
        }));
        self
    }

    /// Adds a hardware class; classes get ids 0, 1, … in the order they are added.
    pub fn with_class(mut self, name: &str, profile: &str, min_collateral: u64, task_lock: u64) -> Self {
        self.classes.push(ClassConfig { name: name.into(), profile: profile.into(), min_collateral, task_lock });
        self
    }

    /// Registers model `id` (weight digest in hex) in the class named
    /// `class`, with its run-time bound on the class.
    pub fn with_model(mut self, id: &str, weight_digest: &str, class: &str, max_run_ms: u64) -> Self {
        let (id, weight_digest, class) = (id.into(), weight_digest.into(), class.into());
        self.models.push(ModelConfig { id, weight_digest, class, max_run_ms });
        self
    }

    /// Sets the parameters the genesis overrides.
    pub fn with_params(mut self, params: ParamsConfig) -> Self {
        self.params = params;
        self
    }

    /// Fixes the randomness source's seed.
    pub fn with_seed(mut self, seed: [u8; 32]) -> Self {
        self.random_seed = Some(atoma_protocol::Digest(seed).to_string());
        self
    }

    /// Reads a genesis file; relative keystore paths are taken from its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading genesis file {}", path.display()))?;
        let mut config: GenesisConfig =
            toml::from_str(&text).with_context(|| format!("parsing genesis file {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for account in &mut config.accounts {
            if let Some(k) = &account.keystore
                && k.is_relative()
            {
                account.keystore = Some(dir.join(k));
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Rejects nonsense with a message naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.reference_gas_price > 0, "reference_gas_price must be positive");
        if let Some(seed) = &self.random_seed {
            parse_seed(seed).context("random_seed")?;
        }
        self.params.apply(Params::default()).validate().context("params")?;
        for (i, a) in self.accounts.iter().enumerate() {
            ensure!(
                a.address.is_some() != a.keystore.is_some(),
                "accounts[{i}]: give exactly one of `address` and `keystore`"
            );
            ensure!((1..=1_000).contains(&a.coins), "accounts[{i}].coins must be between 1 and 1000");
            ensure!(a.balance >= a.coins, "accounts[{i}].balance must be at least `coins` MIST");
        }
        for (i, m) in self.models.iter().enumerate() {
            ensure!(self.classes.iter().any(|c| c.name == m.class), "models[{i}].class: no class named {:?}", m.class);
            atoma_protocol::Digest::from_hex(&m.weight_digest)
                .with_context(|| format!("models[{i}].weight_digest must be 64 hex digits"))?;
        }
        Ok(())
    }

    /// The random seed, if the file fixes one.
    pub fn seed(&self) -> Option<[u8; 32]> {
        self.random_seed.as_deref().and_then(|s| parse_seed(s).ok())
    }

    /// Every funded account with its balance and coin count.
    pub fn funded(&self) -> anyhow::Result<Vec<(Address, u64, u64)>> {
        let mut out = Vec::new();
        for (i, a) in self.accounts.iter().enumerate() {
            match (&a.address, &a.keystore) {
                (Some(address), _) => out.push((*address, a.balance, a.coins)),
                (None, Some(path)) => {
                    for address in keystore_addresses(path).with_context(|| format!("accounts[{i}].keystore"))? {
                        out.push((address, a.balance, a.coins));
                    }
                }
                (None, None) => bail!("accounts[{i}]: no address"),
            }
        }
        Ok(out)
    }
}

fn parse_seed(s: &str) -> anyhow::Result<[u8; 32]> {
    atoma_protocol::Digest::from_hex(s).map(|d| d.0).context("must be 32 bytes as 64 hex digits")
}

/// The addresses of the keys in a Sui keystore file (the Sui CLI's
/// `sui.keystore`: a JSON array of base64 `flag || private key`).
pub fn keystore_addresses(path: &Path) -> anyhow::Result<Vec<Address>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let entries: Vec<String> = serde_json::from_str(&text).context("a keystore is a JSON array of base64 strings")?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = sui_crypto::simple::SimpleKeypair::from_base64(e.trim())
                .map_err(|err| anyhow::anyhow!("key {i} of the keystore: {err}"))?;
            Ok(key.verifying_key().derive_address())
        })
        .collect()
}
