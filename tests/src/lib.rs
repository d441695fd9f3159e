//! # atoma-e2e
//!
//! The whole system as separate processes: an `atoma-localnet` process, one
//! `atoma-node` process per node (real libtorch inference of the test
//! model), and the SDK in this process as the requester. The end-to-end
//! tests, and the demo and benchmarks of `atoma-tools`, build on [`Cluster`].
//!
//! The binaries are taken from the directory of the running executable (or
//! its parent, for test executables in `deps/`), or from `ATOMA_BIN_DIR`;
//! build them with `cargo build --bins --features atoma-executor/adversary`
//! (`scripts/test` and `scripts/demo` do).

pub mod audit;
pub mod gateway;
mod spec;
mod start;

pub use spec::{ClassSpec, ClusterSpec, HfModel, NodeSpec};
use start::{cluster_genesis, prepare_models, spawn_localnet};

use atoma_protocol::params::LATENCY_FLOOR_MS;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoma_localnet::genesis::{GenesisConfig, ParamsConfig};
use atoma_protocol::Event;
use atoma_sdk::{Attestation, Chain, Client, EventStream, FirstOutput, Key, PackageEvent, RequestHandle, Start};
use sui_sdk_types::Address;

/// The libtorch version the node binaries are built against.
pub const LIBTORCH: &str = "2.13.0";
/// Collateral of every node (MIST).
pub const COLLATERAL: u64 = 10_000_000_000;
/// Collateral locked per task (MIST).
pub const TASK_LOCK: u64 = 1_000_000_000;
/// The test GPT's run-time bound on its class (ms), registered with it on
/// chain; it runs in milliseconds.
pub const TINY_GPT_RUN_MS: u64 = 1_000;
/// The shortest commit timeout for the test GPT in a class that serves
/// nothing slower: the floor, its run and the class's longest.
pub const TINY_GPT_TIMEOUT_MS: u64 = LATENCY_FLOOR_MS + 2 * TINY_GPT_RUN_MS;

/// Finds one of the project's binaries.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = std::env::var("ATOMA_BIN_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_path_buf());
        if let Some(up) = dir.parent() {
            dirs.push(up.to_path_buf());
        }
    }
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()).with_context(|| {
        format!("{name} not found in {dirs:?}: build it with `cargo build --bins --features atoma-executor/adversary`")
    })
}

/// A running node process.
pub struct NodeProc {
    /// The node's id.
    pub id: Address,
    /// Its spec.
    pub spec: NodeSpec,
    /// Its process (None while stopped).
    pub child: Option<Child>,
    /// Its directory (config, database, log).
    pub dir: PathBuf,
    /// Its output server's port.
    pub port: u16,
    /// Its metrics port.
    pub metrics_port: u16,
}

/// The local network, the nodes and the requester's key.
pub struct Cluster {
    /// The working directory (logs, databases, model files).
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    localnet: Child,
    /// The gRPC URL.
    pub url: String,
    /// The package's address.
    pub package: Address,
    /// The Network object's id.
    pub network: Address,
    /// The AdminCap's id (owned by the requester, who is the admin).
    pub admin_cap: Address,
    /// The faucet's URL (Sui's faucet API), for keys the tests make.
    pub faucet_url: String,
    /// The classes.
    pub classes: Vec<ClassSpec>,
    /// The nodes, in spec order.
    pub nodes: Vec<NodeProc>,
    /// The requester's key (funded).
    pub requester: Key,
    /// The nodes' operator keys, in spec order (funded).
    pub node_keys: Vec<Key>,
    /// Every model served: its id, its class's index and its manifest.
    models: Vec<(String, usize, PathBuf)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(c) = n.child.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = self.localnet.kill();
        let _ = self.localnet.wait();
    }
}

/// Clusters starting at once in this process. Starting one loads libtorch
/// and the models in every node process; on a small machine many starting
/// together (the tests of one binary run in parallel) starve each other
/// past the health timeout, so starts take turns while running clusters
/// go on.
static STARTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// How long a node process may take to answer its health check after it
/// was started.
const NODE_START: Duration = Duration::from_secs(180);

fn free_port() -> anyhow::Result<u16> {
    Ok(atoma_localnet::ports::unused_port()?)
}

/// Waits (blocking the thread) until `ready` says so, at most `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Cluster {
    /// Starts a cluster in `dir` (a temporary directory when `None`);
    /// `progress` is told what happens.
    pub async fn start(spec: &ClusterSpec, dir: Option<&Path>, progress: &dyn Fn(&str)) -> anyhow::Result<Cluster> {
        let _turn = STARTING.acquire().await.context("the start queue is closed")?;
        let (temp, dir) = match dir {
            Some(d) => {
                if d.exists() {
                    std::fs::remove_dir_all(d).with_context(|| format!("clearing {}", d.display()))?;
                }
                std::fs::create_dir_all(d)?;
                // Absolute: the node configs written below name paths in it.
                (None, std::path::absolute(d)?)
            }
            None => {
                let t = tempfile::tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let served = prepare_models(spec, &dir.join("models"), progress)?;
        // Keys: the requester, then one per node.
        let requester = Key::from_ed25519_bytes([200; 32]);
        let node_keys: Vec<Key> = (0..spec.nodes.len()).map(|i| Key::from_ed25519_bytes([i as u8 + 1; 32])).collect();
        let genesis = cluster_genesis(spec, &requester, &node_keys, &served);
        let (localnet, info_path) = spawn_localnet(spec, &dir.join("localnet"), &genesis)?;
        let mut cluster = Cluster {
            dir: dir.clone(),
            _temp: temp,
            localnet,
            url: String::new(),
            package: Address::ZERO,
            network: Address::ZERO,
            admin_cap: Address::ZERO,
            faucet_url: String::new(),
            classes: spec.classes.clone(),
            nodes: Vec::new(),
            requester,
            node_keys: node_keys.clone(),
            models: served.into_iter().map(|m| (m.id, m.class, m.manifest)).collect(),
        };
        wait_for("the local network", Duration::from_secs(30), || Ok(info_path.exists()))?;
        let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&info_path)?)?;
        let field = |k: &str| info[k].as_str().unwrap_or_default().to_string();
        cluster.url = field("url");
        cluster.package = field("package").parse()?;
        cluster.network = field("network").parse()?;
        cluster.admin_cap = field("admin_cap").parse()?;
        cluster.faucet_url = field("faucet_url");
        progress(&format!("local network at {}", cluster.url));
        cluster.start_nodes(spec, &node_keys, progress)?;
        Ok(cluster)
    }

    /// Registers every node of the spec, starts them, and waits until each answers.
    fn start_nodes(&mut self, spec: &ClusterSpec, node_keys: &[Key], progress: &dyn Fn(&str)) -> anyhow::Result<()> {
        for (i, (node, key)) in spec.nodes.iter().zip(node_keys).enumerate() {
            let proc = self.register(i, node, key)?;
            self.nodes.push(proc);
        }
        for i in 0..self.nodes.len() {
            self.start_node(i, None)?;
        }
        for i in 0..self.nodes.len() {
            let port = self.nodes[i].port;
            wait_for(&format!("node {i}"), NODE_START, || Ok(health(port)))?;
            let n = &self.nodes[i];
            progress(&format!(
                "node {i} {} in {}{}",
                short(&n.id),
                self.classes[n.spec.class].name(),
                n.spec.adversary.as_deref().map(|a| format!(" (misbehaves: {a})")).unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn register(&self, i: usize, spec: &NodeSpec, key: &Key) -> anyhow::Result<NodeProc> {
        let dir = self.dir.join(format!("node{i}"));
        std::fs::create_dir_all(&dir)?;
        let (port, metrics_port) = (free_port()?, free_port()?);
        let class = &self.classes[spec.class];
        let manifests: Vec<String> = self
            .models
            .iter()
            .filter(|(_, c, _)| *c == spec.class)
            .map(|(_, _, m)| format!("{:?}", m.display().to_string()))
            .collect();
        let mut text = format!(
            "url = \"{}\"\npackage = \"{}\"\nnetwork = \"{}\"\nkey = \"{}\"\ndata_dir = \"data\"\nlisten = \"127.0.0.1:{port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\nmodels = [{}]\n",
            self.url,
            self.package,
            self.network,
            key.to_suiprivkey()?,
            manifests.join(", "),
        );
        if let Some(a) = &spec.adversary {
            text.push_str(&format!("adversary = \"{a}\"\n"));
        }
        text.push_str("\n[class]\n");
        text.push_str(&class.profile_toml());
        std::fs::write(dir.join("atoma-node.toml"), text)?;
        let out = Command::new(bin("atoma-node")?)
            .arg("--config")
            .arg(dir.join("atoma-node.toml"))
            .arg("register")
            .args(spec.collateral.map(|c| vec!["--collateral".to_string(), c.to_string()]).unwrap_or_default())
            .output()
            .context("running atoma-node register")?;
        if !out.status.success() {
            bail!("registering node {i}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let id = String::from_utf8_lossy(&out.stdout).trim().parse().context("the node id register printed")?;
        Ok(NodeProc { id, spec: spec.clone(), child: None, dir, port, metrics_port })
    }

    /// Starts node `i` (optionally crashing at a step, for recovery tests).
    pub fn start_node(&mut self, i: usize, crash_at: Option<&str>) -> anyhow::Result<()> {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(n.dir.join("node.log"))?;
        let node = bin("atoma-node")?;
        let mut cmd = match n.spec.max_open_files {
            // The shell's `ulimit` sets the limit for the node it then becomes.
            Some(limit) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(&node);
                c
            }
            None => Command::new(&node),
        };
        cmd.arg("--config").arg(n.dir.join("atoma-node.toml")).arg("run");
        cmd.env("OMP_WAIT_POLICY", "PASSIVE").stdout(Stdio::null()).stderr(log);
        if let Some(step) = crash_at {
            cmd.env("ATOMA_NODE_CRASH_AT", step);
        }
        n.child = Some(cmd.spawn().context("starting atoma-node")?);
        Ok(())
    }

    /// Halts the local network (SIGSTOP) for `duration`, then lets it go on
    /// (SIGCONT): a chain that makes no checkpoint while its clock runs on.
    pub async fn halt_chain(&self, duration: Duration) -> anyhow::Result<()> {
        let pid = self.localnet.id().to_string();
        let signal = |s: &str| -> anyhow::Result<()> {
            let status = Command::new("kill").args([s, &pid]).status().context("running kill")?;
            if !status.success() {
                bail!("kill {s} {pid} failed");
            }
            Ok(())
        };
        signal("-STOP")?;
        tokio::time::sleep(duration).await;
        signal("-CONT")
    }

    /// Audits the run so far to the MIST (see `audit`).
    pub async fn audit(&self) -> anyhow::Result<audit::Audit> {
        audit::audit(&self.chain().await?).await
    }

    /// A connection acting with node `i`'s operator key.
    pub async fn operator(&self, i: usize) -> anyhow::Result<Chain> {
        Ok(Chain::connect(&self.url, self.package, self.network, self.node_keys[i].clone()).await?)
    }

    /// A connection acting with the requester's key (the admin).
    pub async fn requester_chain(&self) -> anyhow::Result<Chain> {
        Ok(Chain::connect(&self.url, self.package, self.network, self.requester.clone()).await?)
    }

    /// Kills node `i` (as `kill -9`).
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Node `i`'s log.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].dir.join("node.log")).unwrap_or_default()
    }

    /// The index of the node with this id.
    pub fn index_of(&self, id: &Address) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == *id)
    }

    /// A requester client.
    pub async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(&self.url, self.package, self.network, self.requester.clone()).await?)
    }

    /// A read connection.
    pub async fn chain(&self) -> anyhow::Result<Chain> {
        Ok(Chain::connect(&self.url, self.package, self.network, Key::generate()).await?)
    }

    /// The time model `model` takes natively on `input` in its class (median
    /// of `runs` runs in a fresh `atoma-model` process), and the output digest.
    pub fn native(&self, model: &str, input: &[u8], seed: &[u8; 32], runs: usize) -> anyhow::Result<(f64, String)> {
        let file = self.dir.join("native-input.json");
        std::fs::write(&file, input)?;
        let (_, class, manifest) =
            self.models.iter().find(|(id, _, _)| id == model).with_context(|| format!("no model {model}"))?;
        let out = Command::new(bin("atoma-model")?)
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .arg("--profile")
            .arg(self.dir.join("models").join(format!("{}.class.toml", self.classes[*class].model())))
            .arg("run")
            .arg(manifest)
            .arg("--input-file")
            .arg(&file)
            .args(["--seed", &atoma_protocol::Digest(*seed).to_string(), "--repeat", &runs.to_string(), "--json"])
            .output()?;
        if !out.status.success() {
            bail!("atoma-model run: {}", String::from_utf8_lossy(&out.stderr));
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        Ok((
            report["model_time_ms"].as_f64().unwrap_or(0.0),
            report["output_digest"].as_str().unwrap_or_default().to_string(),
        ))
    }
}

/// Whether a node's output server on `port` answers `GET /health` (one try, blocking).
pub fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
}

/// The first eight hex digits of an id, for tables.
pub fn short(id: &Address) -> String {
    id.to_string()[..10].to_string()
}

/// A request's first output and its finality, awaited together, each with
/// the time it came measured from `started` (its submission).
pub struct Timed {
    /// The first output, and when it came.
    pub first: (atoma_sdk::Result<FirstOutput>, Duration),
    /// The attestation, and when it came.
    pub finality: (atoma_sdk::Result<Attestation>, Duration),
}

/// Waits for `handle`'s first output (at most `first_within`) and its
/// finality (at most `final_within`) at once.
pub async fn first_output_and_finality(
    handle: &RequestHandle,
    started: Instant,
    first_within: Duration,
    final_within: Duration,
) -> Timed {
    let first = async { (handle.first_output_within(first_within).await, started.elapsed()) };
    let finality = async { (handle.finality_within(final_within).await, started.elapsed()) };
    let (first, finality) = tokio::join!(first, finality);
    Timed { first, finality }
}

/// Every event of one request, from checkpoint `from` until it settled.
pub async fn request_events(
    chain: &Chain,
    request: Address,
    from: u64,
    timeout: Duration,
) -> anyhow::Result<Vec<PackageEvent>> {
    let mut stream = EventStream::new(chain.rpc(), chain.identity().type_origin, Start::Checkpoint(from));
    let id = atoma_protocol::ObjectId::from(request);
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let e =
            tokio::time::timeout_at(deadline, stream.next()).await.context("waiting for the request's events")??;
        if e.event.request_id() != Some(id) {
            continue;
        }
        let last = matches!(e.event, Event::RequestFinalized(_) | Event::RequestFailed(_));
        out.push(e);
        if last {
            return Ok(out);
        }
    }
}
