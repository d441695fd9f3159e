//! # atoma-localnet
//!
//! A local Sui-compatible node for the `atoma` package: it serves the subset
//! of Sui's gRPC API that the SDK and the executor use, on loopback, with
//! real transaction encoding, signatures, object versions, gas coins,
//! checkpoints and events, and applies the Move calls of the package with
//! `atoma-protocol`, the executable reference of the Move code. It is a
//! development and test network, like a Sui localnet; production runs on Sui
//! with the same client code.
//!
//! ## Layout
//! - [`genesis`]: the genesis file and the chain it builds.
//! - [`ledger`]: the ledger (`Ledger`): objects, protocol state, transactions, checkpoints.
//! - [`execute`]: the checks before execution, the programmable-transaction
//!   interpreter, the package's entry functions, gas, versions and effects.
//! - [`objects`]: the objects' types and Move layouts.
//! - [`fields`]: the network's tables as dynamic fields.
//! - [`gas`]: the published gas schedule.
//! - [`persist`]: the data directory (genesis and an input log replayed on
//!   restart), locked by the one process that writes it.
//! - [`ports`]: ports for test services that must be known before they bind.
//! - [`congestion`]: the model of Sui's per-object congestion control.
//! - [`node`]: the running network: lock, time source, scheduling, checkpoint timer.
//! - [`rpc`]: the gRPC services (gRPC and gRPC-web), simulation and the package's interface.
//! - [`faucet`]: Sui's faucet API, paying from an account funded at genesis.
//!
//! ## Example
//! ```no_run
//! # async fn example(genesis: atoma_localnet::genesis::GenesisConfig) -> anyhow::Result<()> {
//! let net = atoma_localnet::Localnet::start(&genesis, Default::default()).await?;
//! let mut client = sui_rpc::Client::new(net.url())?;
//! # Ok(()) }
//! ```

pub mod congestion;
pub mod execute;
pub(crate) mod faucet;
pub(crate) mod fields;
pub(crate) mod gas;
pub mod genesis;
pub mod ledger;
pub mod node;
pub mod objects;
pub(crate) mod persist;
pub mod ports;
pub(crate) mod rpc;
pub(crate) mod sources;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::genesis::GenesisConfig;
use crate::node::{Node, NodeConfig, TimeSource};

/// How to start a local network.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Data directory; without one, the network lives in memory only.
    pub data_dir: Option<PathBuf>,
    /// Random seed overriding the genesis file's (first start only).
    pub seed: Option<[u8; 32]>,
    /// Time source (the wall clock, or a manual clock for tests).
    pub time: TimeSource,
    /// Checkpoint intervals.
    pub node: NodeConfig,
    /// Where to serve the faucet (`faucet`); `None`: no faucet.
    pub faucet_listen: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            seed: None,
            time: TimeSource::System,
            node: NodeConfig::default(),
            faucet_listen: None,
        }
    }
}

/// A local network running in this process; dropping it stops it and
/// unlocks its data directory.
pub struct Localnet {
    node: Arc<Node>,
    addr: SocketAddr,
    faucet_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Localnet {
    /// Starts a network and serves it on `options.listen`.
    pub async fn start(genesis: &GenesisConfig, options: Options) -> anyhow::Result<Localnet> {
        let node = Node::open(genesis, options.data_dir.as_deref(), options.seed, options.time, options.node)?;
        let listener = bind(options.listen, options.data_dir.as_deref(), "listen").await?;
        let addr = listener.local_addr()?;
        let faucet_listener = match options.faucet_listen {
            Some(a) => Some(bind(a, options.data_dir.as_deref(), "faucet-listen").await?),
            None => None,
        };
        let faucet_addr = faucet_listener.as_ref().map(|l| l.local_addr()).transpose()?;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        if let Some(listener) = faucet_listener {
            let (faucet, faucet_cancel) = (Arc::new(faucet::Faucet::new(node.clone())), cancel.clone());
            tasks.spawn(async move {
                if let Err(e) = faucet::serve(faucet, listener, faucet_cancel).await {
                    tracing::error!(error = %e, "faucet stopped");
                }
            });
        }
        tasks.spawn(node.clone().run_checkpoints(cancel.clone()));
        let (serve_node, serve_cancel) = (node.clone(), cancel.clone());
        tasks.spawn(async move {
            if let Err(e) = rpc::serve(serve_node, listener, serve_cancel).await {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        });
        tasks.close();
        Ok(Localnet { node, addr, faucet_addr, cancel, tasks })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to, `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The faucet's URL, `http://<addr>`, when it serves one.
    pub fn faucet_url(&self) -> Option<String> {
        self.faucet_addr.map(|a| format!("http://{a}"))
    }

    /// The running node (for in-process tests and tools).
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stops serving, waits for the tasks to end and unlocks the data
    /// directory (`Node::close`, when `self` drops).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.wait().await;
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        self.cancel.cancel();
        // Transactions still in flight finish first (they hold the node's lock).
        self.node.close();
    }
}

/// Binds `addr`. With port 0 and a data directory, the port the network
/// used before is taken again when it is free, so that clients and nodes
/// configured with its URL find it after a restart; the port used is kept
/// in the data directory (file `name`).
async fn bind(addr: SocketAddr, data_dir: Option<&std::path::Path>, name: &str) -> anyhow::Result<TcpListener> {
    use anyhow::Context;
    let kept = data_dir.map(|d| d.join(format!("{name}.port")));
    if addr.port() == 0
        && let Some(port) =
            kept.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).and_then(|s| s.trim().parse().ok())
    {
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(l) => return Ok(l),
            Err(e) => tracing::warn!(port, error = %e, "the port used before is taken; picking another"),
        }
    }
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            ": another process (another atoma-localnet, or `sui start`?) uses it; stop it or pass another address"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {addr} (--{name}): {e}{hint}")
    })?;
    if let Some(path) = kept {
        let port = listener.local_addr()?.port();
        std::fs::write(&path, format!("{port}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(listener)
}
