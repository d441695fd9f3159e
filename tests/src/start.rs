//! Starting a cluster: the models its nodes serve (generated and imported),
//! its genesis, and the local network's process.

use super::*;

/// A model the cluster serves: its id, its class (index in the spec), its
/// manifest and its model digest.
pub(super) struct Served {
    pub(super) id: String,
    pub(super) class: usize,
    pub(super) manifest: PathBuf,
    digest: String,
    max_run_ms: u64,
}

/// Writes the models into `models`: the test model's weights generated from
/// the fixed seed with one manifest per class, and the spec's Hugging Face
/// checkpoints.
pub(super) fn prepare_models(
    spec: &ClusterSpec,
    models: &Path,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Vec<Served>> {
    let weights = models.join("tiny-gpt.safetensors");
    let out = Command::new(bin("atoma-model")?)
        .args(["generate-test-model", "--out"])
        .arg(&weights)
        .output()
        .context("running atoma-model")?;
    if !out.status.success() {
        bail!("generating the test model: {}", String::from_utf8_lossy(&out.stderr));
    }
    let digest = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string();
    let template = include_str!("../../models/tiny-gpt.toml");
    let mut served = Vec::new();
    for (i, class) in spec.classes.iter().enumerate() {
        let text = template.replace("id = \"tiny-gpt\"", &format!("id = \"{}\"", class.model())).replace(
            "hardware_class = \"cpu-avx2-t1/torch-2.13.0\"",
            &format!("hardware_class = \"{}\"", class.name()),
        );
        let path = models.join(format!("{}.toml", class.model()));
        std::fs::write(&path, text)?;
        std::fs::write(models.join(format!("{}.class.toml", class.model())), class.profile_toml())?;
        let (id, digest) = (class.model(), digest.clone());
        served.push(Served { id, class: i, manifest: path, digest, max_run_ms: TINY_GPT_RUN_MS });
    }
    progress(&format!("test model generated (weights {digest})"));
    for hf in &spec.hf_models {
        let class = spec.classes.first().context("a Hugging Face model needs a class")?;
        let (manifest, digest) = hf.prepare(models, &class.name())?;
        progress(&format!("{} imported (model digest {digest})", hf.id()));
        served.push(Served { id: hf.id().to_string(), class: 0, manifest, digest, max_run_ms: hf.max_run_ms() });
    }
    Ok(served)
}

/// The cluster's genesis: the requester governs it; it and every node are funded.
pub(super) fn cluster_genesis(
    spec: &ClusterSpec,
    requester: &Key,
    node_keys: &[Key],
    served: &[Served],
) -> GenesisConfig {
    let accounts = std::iter::once(requester).chain(node_keys).map(|k| k.address());
    let mut genesis = GenesisConfig::new(requester.address()).with_params(spec.params.clone()).with_accounts(
        accounts,
        1_000_000_000_000_000,
        4,
    );
    if let Some(seed) = spec.seed {
        genesis = genesis.with_seed(seed);
    }
    for c in &spec.classes {
        genesis = genesis.with_class(&c.name(), &c.chain_profile(), COLLATERAL, TASK_LOCK);
    }
    for m in served {
        genesis = genesis.with_model(&m.id, &m.digest, &spec.classes[m.class].name(), m.max_run_ms);
    }
    genesis
}

/// Starts `atoma-localnet` on `genesis` with its data in `dir`; returns the
/// process and the path of the info file it writes once it serves.
pub(super) fn spawn_localnet(
    spec: &ClusterSpec,
    dir: &Path,
    genesis: &GenesisConfig,
) -> anyhow::Result<(Child, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("genesis.toml"), toml::to_string(genesis)?)?;
    let info_path = dir.join("info.json");
    let log = std::fs::File::create(dir.join("localnet.log"))?;
    let localnet = Command::new(bin("atoma-localnet")?)
        .arg("start")
        .arg("--genesis")
        .arg(dir.join("genesis.toml"))
        .args(["--listen", "127.0.0.1:0", "--checkpoint-interval-ms", &spec.checkpoint_interval_ms.to_string()])
        .args(["--faucet-listen", "127.0.0.1:0"])
        .arg("--info-file")
        .arg(&info_path)
        .arg("--data-dir")
        .arg(dir.join("ledger"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting atoma-localnet")?;
    Ok((localnet, info_path))
}
