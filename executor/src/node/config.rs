//! The node service's configuration: a TOML file, validated with messages
//! that name the field, with environment overrides for what differs per
//! deployment (URL, key, data directory, listen addresses).
//!
//! ```toml
//! url = "http://127.0.0.1:9000"          # Sui gRPC (ATOMA_NODE_URL)
//! package = "0x…"                        # the atoma package
//! network = "0x…"                        # the shared Network object
//! key = "keys/sui.keystore#0x…"          # suiprivkey, or KEYSTORE[#ADDRESS] (ATOMA_NODE_KEY)
//! node_cap = "0x…"                       # optional: else the one `register` stored
//! data_dir = "node-data"                 # database (ATOMA_NODE_DATA_DIR)
//! listen = "127.0.0.1:8080"              # output server (ATOMA_NODE_LISTEN)
//! public_url = "http://127.0.0.1:8080"   # endpoint registered on chain (default http://<listen>)
//! metrics_listen = "127.0.0.1:9100"      # Prometheus /metrics (optional; ATOMA_NODE_METRICS_LISTEN)
//! concurrency = 1                        # inference workers
//! deadline_margin_ms = 500               # margin after a deadline before calling expire
//! max_input_bytes = 1048576              # inputs by URI larger than this are unobtainable: abstain
//! input_timeout_ms = 10000               # fetching an input by URI (one attempt)
//! abstain_margin_ms = 2000               # an input still unobtainable this close to the deadline: abstain
//! max_connections = 256                  # open connections per server; a newcomer closes the longest-stalled one
//! header_timeout_ms = 10000              # a complete request (head and body) must arrive in this time
//! models = ["models/tiny-gpt.toml"]      # model manifests served
//!
//! [class]                                # hardware-class profile (default: the test class)
//! name = "cpu-avx2-t1/torch-2.13.0"
//! device = "cpu"
//! threads = 1
//! cpu_capability = "avx2"
//! libtorch = "2.13.0"
//! ```
//!
//! Not for: what the service does with it (see `service`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use crate::engine::ClassProfile;

/// A misbehaviour for tests and the demo (only with the `adversary` feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adversary {
    /// Commits and reveals an output that is not the model's.
    WrongOutput,
    /// Commits and reveals a well-formed text output that is not the
    /// model's: the answer a client would believe if nobody checked.
    WrongText,
    /// Does not run the model: copies another node's commitment, and cannot open it.
    LazyCopy,
    /// Never commits.
    Silent,
    /// Commits, and reveals only after the reveal deadline and its grace.
    LateReveal,
    /// Commits and never reveals.
    Withhold,
    /// Commits, then reveals with a salt that does not open its commitment.
    WrongSalt,
    /// Honest in the main round; as a disputer, does not run the model and
    /// votes the digest most main-round nodes revealed, guessing the dispute key.
    LazyDisputer,
    /// Computes and commits honestly, but streams text that is not its
    /// output (a signed stream that ends in another text).
    StreamLies,
}

/// The configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Sui gRPC URL.
    pub url: String,
    /// The atoma package's address.
    pub package: Address,
    /// The shared Network object's id.
    pub network: Address,
    /// The operator's key.
    pub key: String,
    /// The node's id (its NodeCap's id); default: what `register` stored.
    pub node_cap: Option<Address>,
    /// The database directory.
    pub data_dir: PathBuf,
    /// Address of the output server.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The endpoint registered on chain.
    pub public_url: Option<String>,
    /// Address of the Prometheus endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// Inference workers.
    #[serde(default = "one")]
    pub concurrency: usize,
    /// Margin after a deadline before `expire` is called (ms).
    #[serde(default = "default_margin")]
    pub deadline_margin_ms: u64,
    /// Largest input fetched by URI (bytes).
    #[serde(default = "default_max_input")]
    pub max_input_bytes: u64,
    /// Timeout of one attempt to fetch an input (ms).
    #[serde(default = "default_input_timeout")]
    pub input_timeout_ms: u64,
    /// How long before the commit deadline a node that still cannot obtain a
    /// URI input abstains (ms).
    #[serde(default = "default_abstain_margin")]
    pub abstain_margin_ms: u64,
    /// Connections the output and metrics servers each keep open at once,
    /// so that clients cannot use up the process's file descriptors; when
    /// all are taken, a new one closes the one that has waited on its
    /// client the longest (see `server`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Longest wait for a complete request, head and body, from the
    /// connection's opening or its previous response (ms): a late head
    /// closes the connection, a late body is answered 408 and closes it. A
    /// connection that waits on its client twice this long in one stretch
    /// (one that does not take its response, say) is closed too.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_ms: u64,
    /// Model manifests (relative paths are taken from the config file's directory).
    pub models: Vec<PathBuf>,
    /// The hardware class this node serves.
    #[serde(default = "ClassProfile::cpu_test")]
    pub class: ClassProfile,
    /// A misbehaviour (honoured only by builds with the `adversary` feature).
    pub adversary: Option<Adversary>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn one() -> usize {
    1
}

fn default_margin() -> u64 {
    500
}

fn default_max_input() -> u64 {
    1 << 20
}

fn default_input_timeout() -> u64 {
    10_000
}

fn default_abstain_margin() -> u64 {
    2_000
}

fn default_max_connections() -> usize {
    256
}

fn default_header_timeout() -> u64 {
    10_000
}

impl Config {
    /// A node of `network` (package `package`, reached at `url`) acting
    /// with `key` (a `suiprivkey` string), its database in `data_dir`, and
    /// every other field at its default; `write` makes it a file.
    pub fn new(url: &str, package: Address, network: Address, key: &str, data_dir: PathBuf) -> Config {
        Config {
            url: url.to_string(),
            package,
            network,
            key: key.to_string(),
            node_cap: None,
            data_dir,
            listen: default_listen(),
            public_url: None,
            metrics_listen: None,
            concurrency: one(),
            deadline_margin_ms: default_margin(),
            max_input_bytes: default_max_input(),
            input_timeout_ms: default_input_timeout(),
            abstain_margin_ms: default_abstain_margin(),
            max_connections: default_max_connections(),
            header_timeout_ms: default_header_timeout(),
            models: Vec::new(),
            class: ClassProfile::cpu_test(),
            adversary: None,
        }
    }

    /// Writes the file `atoma-node --config` reads (relative paths are read
    /// from the file's directory).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string(self).context("encoding the node configuration")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads and validates a config file, with environment overrides.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let mut config: Config = toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for m in &mut config.models {
            if m.is_relative() {
                *m = dir.join(&*m);
            }
        }
        if config.data_dir.is_relative() {
            config.data_dir = dir.join(&config.data_dir);
        }
        config.apply_env()?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self) -> anyhow::Result<()> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("ATOMA_NODE_URL") {
            self.url = v;
        }
        if let Some(v) = var("ATOMA_NODE_KEY") {
            self.key = v;
        }
        if let Some(v) = var("ATOMA_NODE_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("ATOMA_NODE_LISTEN") {
            self.listen = v.parse().context("ATOMA_NODE_LISTEN is not an address")?;
        }
        if let Some(v) = var("ATOMA_NODE_METRICS_LISTEN") {
            self.metrics_listen = Some(v.parse().context("ATOMA_NODE_METRICS_LISTEN is not an address")?);
        }
        Ok(())
    }

    /// Rejects nonsense with a message naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.url.starts_with("http://") || self.url.starts_with("https://"),
            "url must be an http(s) URL, got {:?}",
            self.url
        );
        ensure!(!self.key.trim().is_empty(), "key is empty");
        ensure!((1..=64).contains(&self.concurrency), "concurrency must be between 1 and 64");
        ensure!(self.deadline_margin_ms <= 60_000, "deadline_margin_ms must be at most 60000");
        ensure!((1..=1 << 30).contains(&self.max_input_bytes), "max_input_bytes must be between 1 and 2^30");
        ensure!((100..=600_000).contains(&self.input_timeout_ms), "input_timeout_ms must be between 100 and 600000");
        ensure!(self.abstain_margin_ms <= 600_000, "abstain_margin_ms must be at most 600000");
        ensure!((1..=65_536).contains(&self.max_connections), "max_connections must be between 1 and 65536");
        ensure!((100..=600_000).contains(&self.header_timeout_ms), "header_timeout_ms must be between 100 and 600000");
        ensure!(!self.models.is_empty(), "models: list at least one model manifest");
        if let Some(u) = &self.public_url {
            ensure!(u.starts_with("http://") || u.starts_with("https://"), "public_url must be an http(s) URL");
            ensure!(u.len() <= 256, "public_url is longer than 256 bytes");
        }
        self.class.validate().context("class")?;
        if self.adversary.is_some() && !cfg!(feature = "adversary") {
            bail!("adversary: this build has no adversarial behaviours (they exist only for tests and the demo)");
        }
        Ok(())
    }

    /// The endpoint to register on chain.
    pub fn endpoint(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_configuration_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let key = "suiprivkey1qzdlfxn2qa2lj5uprl8pyhexs02sg2wrhdy7qaq50cqgnffw4c2477kg9h3";
        let mut config = Config::new("http://127.0.0.1:9000", Address::ZERO, Address::ZERO, key, "data".into());
        config.models = vec!["models/m.toml".into()];
        let path = dir.path().join("atoma-node.toml");
        config.write(&path).unwrap();
        let read = Config::load(&path).unwrap();
        // Relative paths are read from the file's directory.
        assert_eq!(read.data_dir, dir.path().join("data"));
        assert_eq!(read.models, vec![dir.path().join("models/m.toml")]);
        assert_eq!(
            toml::to_string(&Config { data_dir: "data".into(), models: config.models.clone(), ..read }).unwrap(),
            toml::to_string(&config).unwrap()
        );
    }
}
