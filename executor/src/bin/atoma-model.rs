//! `atoma-model`: work with model files and the inference engine from the
//! command line: generate the test model, hash and verify weights, run a
//! prompt, trace a TorchScript archive, print the hardware profile.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use atoma_executor::engine::gpt::GptConfig;
use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine, profile};
use atoma_executor::manifest::ModelManifest;
use atoma_executor::testmodel::{TEST_MODEL_SEED, trace_gpt, write_gpt_weights};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use clap::{Parser, Subcommand};

/// Model files and deterministic inference for Atoma nodes.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Hardware-class profile (TOML: name, device, threads, cpu_capability,
    /// libtorch). Default: the built-in test class (CPU, 1 thread, AVX2).
    #[arg(long, global = true, env = "ATOMA_CLASS_PROFILE")]
    class: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the test model's weights (tiny GPT, fixed seed) and print their digest.
    /// The size flags make larger models of the same family, for benchmarks.
    GenerateTestModel {
        /// Where to write the safetensors file.
        #[arg(long, default_value = "models/tiny-gpt.safetensors")]
        out: PathBuf,
        /// Width of the residual stream.
        #[arg(long, default_value_t = GptConfig::tiny().d_model)]
        d_model: i64,
        /// Number of blocks.
        #[arg(long, default_value_t = GptConfig::tiny().n_layers)]
        layers: i64,
        /// Attention heads (must divide the width).
        #[arg(long, default_value_t = GptConfig::tiny().n_heads)]
        heads: i64,
    },
    /// Print the Blake2b-256 digest of a file.
    Digest { file: PathBuf },
    /// Check that a manifest's weight file has the digest the manifest states.
    Verify { manifest: PathBuf },
    /// Run one request and print the output digest and tokens.
    Run {
        manifest: PathBuf,
        /// The prompt (GPT models).
        #[arg(long, required_unless_present = "input_file", default_value = "")]
        prompt: String,
        /// New tokens to generate.
        #[arg(long, default_value_t = 16)]
        max_tokens: i64,
        /// Sampling temperature; 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// The request seed (64 hex digits) that sampling draws from.
        #[arg(long, default_value = "0x0000000000000000000000000000000000000000000000000000000000000000")]
        seed: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Reads the whole input (the request's bytes) from this file instead
        /// of building it from --prompt, --max-tokens and --temperature.
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Runs the request this many times and reports the median model time.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
    /// Print the digest of the logits of one full forward pass over the prompt
    /// (a finer determinism probe than the output tokens).
    LogitsDigest {
        manifest: PathBuf,
        #[arg(long)]
        prompt: String,
    },
    /// Trace a GPT model into a TorchScript archive taking `--tokens` tokens.
    Trace {
        manifest: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 8)]
        tokens: i64,
    },
    /// Enter the class's deterministic mode and print the profile in effect.
    Profile,
    /// Measure the engine (a benchmark; prints one JSON object). `scripts/bench-inference`
    /// runs it in both modes, each in its own process.
    Bench {
        manifest: PathBuf,
        /// `deterministic` (the class's pinned mode) or `default` (libtorch's defaults).
        #[arg(long, default_value = "deterministic")]
        mode: String,
        /// Timed requests per measurement.
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// New tokens per request.
        #[arg(long, default_value_t = 64)]
        tokens: i64,
    },
}

mod bench {
    //! The measurements behind `scripts/bench-inference`.
    use std::path::Path;
    use std::time::Instant;

    use anyhow::{Result, bail};
    use atoma_executor::engine::gpt::GptInput;
    use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine};
    use atoma_executor::manifest::ModelManifest;
    use atoma_executor::testmodel::load_gpt;
    use atoma_protocol::Digest;
    use atoma_protocol::commitment::blake2b256;
    use serde_json::{Value, json};

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Times `runs` requests through the engine and through a bare loop of
    /// the same forward passes, interleaved so that drift hits both alike.
    pub fn run(manifest: &Path, class: &ClassProfile, mode: &str, runs: usize, tokens: i64) -> Result<Value> {
        let input = serde_json::to_vec(&json!({ "prompt": "The quick brown fox jumps over", "max_tokens": tokens }))?;
        let request = InferenceRequest { input: &input, input_digest: blake2b256(&input), seed: Digest([0; 32]) };
        let m = ModelManifest::read(manifest)?;
        let Some(cfg) = m.gpt else { bail!("{} is not a gpt model", m.id) };
        let mut engine = match mode {
            "deterministic" => Some(TchEngine::load(manifest, class, None)?),
            "default" => None,
            other => bail!("--mode must be deterministic or default, not {other}"),
        };
        let (model, _vs) = load_gpt(cfg, &m.weights)?;
        let parsed = GptInput::parse(&input, &cfg)?;
        let bare = || {
            let _g = tch::no_grad_guard();
            model.generate(&parsed, &request.seed, tch::Device::Cpu).0
        };
        for _ in 0..5 {
            bare();
            if let Some(e) = engine.as_mut() {
                e.run(&request)?;
            }
        }
        let (mut engine_ms, mut bare_ms, mut hash_us) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..runs {
            // Alternate which goes first, so that neither always runs on a warm cache.
            let engine_first = i % 2 == 1;
            if engine_first && let Some(e) = engine.as_mut() {
                let t = Instant::now();
                std::hint::black_box(e.run(&request)?);
                engine_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let t = Instant::now();
            let out = bare();
            bare_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let bytes: Vec<u8> = out.iter().flat_map(|t| t.to_le_bytes()).collect();
            let t = Instant::now();
            std::hint::black_box(blake2b256(&bytes));
            hash_us.push(t.elapsed().as_secs_f64() * 1e6);
            if !engine_first && let Some(e) = engine.as_mut() {
                let t = Instant::now();
                std::hint::black_box(e.run(&request)?);
                engine_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let bare = median(bare_ms);
        let mut report = json!({
            "mode": mode,
            "threads": tch::get_num_threads(),
            "runs": runs,
            "new_tokens": tokens,
            "bare_ms": bare,
            "bare_tokens_per_s": tokens as f64 / bare * 1e3,
            "hash_us": median(hash_us),
        });
        if !engine_ms.is_empty() {
            let engine = median(engine_ms);
            report["engine_ms"] = json!(engine);
            report["engine_tokens_per_s"] = json!(tokens as f64 / engine * 1e3);
            report["engine_overhead"] = json!(engine / bare - 1.0);
        }
        Ok(report)
    }
}

fn class(path: Option<&Path>) -> Result<ClassProfile> {
    let Some(path) = path else { return Ok(ClassProfile::cpu_test()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading class profile {}", path.display()))?;
    let class: ClassProfile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    class.validate()?;
    Ok(class)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::GenerateTestModel { out, d_model, layers, heads } => {
            let cfg = GptConfig { d_model, n_layers: layers, n_heads: heads, ..GptConfig::tiny() };
            cfg.validate().map_err(|e| anyhow::anyhow!("invalid size: `{e}"))?;
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            write_gpt_weights(&cfg, TEST_MODEL_SEED, &out)?;
            let bytes = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
            println!("{}  {}", blake2b256(&bytes), out.display());
        }
        Command::Digest { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            println!("{}  {}", blake2b256(&bytes), file.display());
        }
        Command::Verify { manifest } => {
            let m = ModelManifest::read(&manifest)?;
            let digest = m.verify_weights(None)?;
            println!("ok: {} weights {} match {}", m.id, m.weights.display(), digest);
        }
        Command::Run { manifest, prompt, max_tokens, temperature, seed, json, input_file, repeat } => {
            let seed = Digest::from_hex(&seed).context("--seed must be 64 hex digits")?;
            let mut engine = TchEngine::load(&manifest, &class(cli.class.as_deref())?, None)?;
            let input = match input_file {
                Some(path) => std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                None => {
                    let input =
                        serde_json::json!({ "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature });
                    serde_json::to_vec(&input)?
                }
            };
            let mut times = Vec::new();
            let mut out = engine.run(&InferenceRequest { input: &input, input_digest: blake2b256(&input), seed })?;
            for _ in 1..repeat.max(1) {
                times.push(out.model_time);
                out = engine.run(&InferenceRequest { input: &input, input_digest: blake2b256(&input), seed })?;
            }
            times.push(out.model_time);
            times.sort();
            out.model_time = times[times.len() / 2];
            let tokens: Vec<u32> =
                out.bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
            let text: String = tokens.iter().map(|&t| char::from(t as u8)).collect();
            if json {
                let report = serde_json::json!({
                    "output_digest": out.digest.to_string(),
                    "tokens": tokens,
                    "forward_passes": out.forward_passes,
                    "model_time_ms": out.model_time.as_secs_f64() * 1e3,
                    "profile": engine.profile(),
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("output digest  {}", out.digest);
                println!("tokens         {tokens:?}");
                println!("as bytes       {text:?}");
                println!(
                    "model time     {:.2} ms ({} forward passes)",
                    out.model_time.as_secs_f64() * 1e3,
                    out.forward_passes
                );
            }
        }
        Command::LogitsDigest { manifest, prompt } => {
            let m = ModelManifest::read(&manifest)?;
            m.verify_weights(None)?;
            let Some(cfg) = m.gpt else { bail!("{} is not a gpt model", m.id) };
            profile::enter(&class(cli.class.as_deref())?)?;
            let (model, _vs) = atoma_executor::testmodel::load_gpt(cfg, &m.weights)?;
            let tokens: Vec<i64> = prompt.bytes().map(i64::from).collect();
            let logits = tch::no_grad(|| model.forward(&atoma_executor::testmodel::token_tensor(&tokens)));
            println!("{}", blake2b256(&atoma_executor::engine::codec::encode(&logits)?));
        }
        Command::Trace { manifest, out, tokens } => {
            let m = ModelManifest::read(&manifest)?;
            m.verify_weights(None)?;
            let Some(cfg) = m.gpt else { bail!("{} is not a gpt model", m.id) };
            profile::enter(&class(cli.class.as_deref())?)?;
            trace_gpt(cfg, &m.weights, tokens, &out)?;
            let bytes = std::fs::read(&out)?;
            println!("{}  {}", blake2b256(&bytes), out.display());
        }
        Command::Bench { manifest, mode, runs, tokens } => {
            let report = bench::run(&manifest, &class(cli.class.as_deref())?, &mode, runs, tokens)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Profile => {
            let p = profile::enter(&class(cli.class.as_deref())?)?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
    }
    Ok(())
}
