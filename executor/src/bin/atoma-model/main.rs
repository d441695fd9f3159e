//! `atoma-model`: work with model files and the inference engine from the
//! command line: import a Hugging Face checkpoint (write its manifest with
//! every file's digest), verify a model's files, run a prompt, chat or
//! embedding request, generate test checkpoints, trace a TorchScript
//! archive, print the hardware profile, dump what the parity check compares,
//! measure the run-time bound the admin registers with a model.

mod bench;
mod bound;
mod import;
mod parity;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
#[cfg(feature = "fixtures")]
use atoma_executor::checkpoint::{Family, Size};
use atoma_executor::engine::gpt::{self, Gpt, GptConfig};
use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine, profile};
use atoma_executor::manifest::{Checkpoint, ModelManifest};
#[cfg(feature = "fixtures")]
use atoma_executor::testmodel::{TEST_MODEL_SEED, trace_gpt, write_gpt_weights};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::Output;
use clap::{Parser, Subcommand};

/// Model files and deterministic inference: import Hugging Face checkpoints,
/// verify them, run requests exactly as a node runs them.
#[derive(Parser)]
#[command(name = "atoma-model", version, long_about = None)]
struct Cli {
    /// Hardware-class profile to run in (TOML: name, device, threads,
    /// cpu_capability, libtorch, dtype). Default: the built-in test class
    /// (CPU, 1 thread, AVX2, f32).
    #[arg(long, global = true, env = "ATOMA_CLASS_PROFILE")]
    profile: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[cfg(feature = "fixtures")]
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
    #[cfg(feature = "fixtures")]
    /// Write a Hugging Face checkpoint directory with random weights from a
    /// fixed seed (the layout transformers writes, a trained BPE tokenizer and
    /// the family's chat template), for tests, the demo and benchmarks.
    GenerateCheckpoint {
        /// The architecture.
        #[arg(long, value_enum)]
        family: Family,
        /// The directory to write (created).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = Size::tiny().hidden)]
        hidden: i64,
        #[arg(long, default_value_t = Size::tiny().layers)]
        layers: i64,
        #[arg(long, default_value_t = Size::tiny().heads)]
        heads: i64,
        /// Key-value heads (grouped-query attention; must divide --heads).
        #[arg(long, default_value_t = Size::tiny().kv_heads)]
        kv_heads: i64,
        /// Width of the MLP.
        #[arg(long, default_value_t = Size::tiny().intermediate)]
        intermediate: i64,
        /// Target vocabulary of the trained tokenizer.
        #[arg(long, default_value_t = Size::tiny().vocab)]
        vocab: usize,
        #[arg(long, default_value_t = Size::tiny().positions)]
        positions: i64,
        /// Weight shards (1: model.safetensors; more: an index and shards).
        #[arg(long, default_value_t = 1)]
        shards: usize,
    },
    /// Write the manifest of a Hugging Face checkpoint directory: every file
    /// the engine reads (config, tokenizer, chat template, weight shards)
    /// with its Blake2b-256 digest, and print the model digest that the
    /// network's admin registers on chain (the SDK's `Chain::add_model`).
    /// A directory holding one `.gguf` file and no config.json is a GGUF
    /// checkpoint (Llama family, Qwen2): the file alone is its identity.
    Import {
        /// The checkpoint directory (as downloaded from Hugging Face), or a
        /// directory holding one GGUF file, or that file.
        dir: PathBuf,
        /// The model's id in the on-chain model table.
        #[arg(long)]
        id: String,
        /// The hardware class the model runs on, e.g. cpu-avx2-t1/torch-2.13.0.
        #[arg(long = "class", value_name = "CLASS")]
        hardware_class: String,
        /// Where to write the manifest. Default: DIR.toml beside DIR.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Most new tokens one request may ask for.
        #[arg(long, default_value_t = 256)]
        max_new_tokens: usize,
        /// Longest prompt plus new tokens. Default: the model's positions.
        #[arg(long)]
        context: Option<usize>,
    },
    /// Print the Blake2b-256 digest of a file.
    Digest { file: PathBuf },
    /// Check that a model's files have the digests its manifest states; print
    /// the model digest.
    Verify { manifest: PathBuf },
    /// Run one request as a node runs it and print the output.
    Run(RunArgs),
    /// Run every input of a file (one JSON request per line) and print one
    /// output digest per line (`scripts/check-determinism` compares them
    /// across processes and thread counts).
    Digests {
        manifest: PathBuf,
        /// A file of requests, one JSON object per line.
        inputs: PathBuf,
        /// The request seed (64 hex digits).
        #[arg(long, default_value = "0x0303030303030303030303030303030303030303030303030303030303030303")]
        seed: String,
    },
    /// Print the token ids of a text as the model's tokenizer gives them.
    Tokenize {
        manifest: PathBuf,
        text: String,
        /// Without the tokenizer's special tokens (BOS).
        #[arg(long)]
        no_special: bool,
    },
    /// Run the parity cases of a JSON file (`{"tokenize": [..], "logits": [..],
    /// "greedy": [..], "chat": [..], "embed": [..]}`) and print the results as
    /// JSON, for `scripts/parity.py` to compare with transformers.
    ParityDump { manifest: PathBuf, cases: PathBuf },
    /// Print the digest of the logits of one full forward pass over the prompt
    /// (a finer determinism probe than the output tokens).
    LogitsDigest {
        manifest: PathBuf,
        #[arg(long)]
        prompt: String,
    },
    #[cfg(feature = "fixtures")]
    /// Trace a GPT model into a TorchScript archive taking `--tokens` tokens.
    Trace {
        manifest: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 8)]
        tokens: i64,
    },
    /// Measure a Hugging Face model through the engine (a benchmark; prints
    /// one JSON object): prefill and decode tokens/s, or embeddings/s, and
    /// peak resident memory. `scripts/bench-inference` compares it with
    /// transformers on the same checkpoint.
    BenchHf {
        manifest: PathBuf,
        /// The prompt (generation models).
        #[arg(long)]
        prompt: String,
        /// New tokens per request (generation models).
        #[arg(long, default_value_t = 32)]
        new_tokens: usize,
        /// Texts per request (embedding models; the prompt repeated with a number).
        #[arg(long, default_value_t = 32)]
        texts: usize,
        /// Timed requests per measurement.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Measure the model's run-time bound on this machine: the slowest of
    /// `--runs` runs of the heaviest input the model accepts, times
    /// `--margin`. Register it with `atoma admin add-model --max-run-ms`
    /// (docs/protocol.md, "Time"): every commit timeout of the model's
    /// requests must cover it, or honest nodes of a slow machine miss them.
    Bound {
        manifest: PathBuf,
        /// Timed runs after one warm-up.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Multiple of the slowest run to register (a loaded machine, a
        /// slower node of the class).
        #[arg(long, default_value_t = 3.0)]
        margin: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Enter the class's deterministic mode and print the profile in effect,
    /// with the class's chain profile (what `atoma admin add-class --profile` registers).
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

/// What `atoma-model run` runs.
#[derive(clap::Args)]
struct RunArgs {
    pub manifest: PathBuf,
    /// The prompt (generation models), or the text to embed.
    #[arg(long, required_unless_present = "input_file", default_value = "")]
    pub prompt: String,
    /// Send the prompt as one user message through the chat template.
    #[arg(long)]
    pub chat: bool,
    /// New tokens to generate.
    #[arg(long, default_value_t = 16)]
    pub max_tokens: i64,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling mass (Hugging Face models).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Stop strings (Hugging Face models; repeat the flag for several).
    #[arg(long)]
    pub stop: Vec<String>,
    /// The request seed (64 hex digits) that sampling draws from.
    #[arg(long, default_value = "0x0000000000000000000000000000000000000000000000000000000000000000")]
    pub seed: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Reads the whole input (the request's bytes) from this file instead
    /// of building it from --prompt, --max-tokens and --temperature.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// Runs the request this many times and reports the median model time.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
}

/// The input JSON `run` sends for the model's kind.
fn request_json(
    engine: &TchEngine,
    prompt: String,
    chat: bool,
    max_tokens: i64,
    temperature: f32,
    top_p: Option<f64>,
    stop: Vec<String>,
) -> Result<serde_json::Value> {
    use atoma_executor::engine::hf::HfModel;
    use serde_json::json;
    Ok(match engine.hf() {
        Some(HfModel::Embed { .. }) => json!({ "input": [prompt] }),
        Some(HfModel::Generate { .. }) => {
            let mut input = if chat {
                json!({ "messages": [{ "role": "user", "content": prompt }] })
            } else {
                json!({ "prompt": prompt })
            };
            input["max_tokens"] = json!(max_tokens);
            input["temperature"] = json!(temperature);
            if let Some(p) = top_p {
                input["top_p"] = json!(p);
            }
            if !stop.is_empty() {
                input["stop"] = json!(stop);
            }
            input
        }
        None if engine.manifest().gpt.is_some() => {
            json!({ "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature })
        }
        None => bail!("a TorchScript model takes --input-file (a tensor in the canonical encoding)"),
    })
}

/// The class profile at `path`, or the test class.
fn class(path: Option<&Path>) -> Result<ClassProfile> {
    let Some(path) = path else { return Ok(ClassProfile::cpu_test()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading class profile {}", path.display()))?;
    let class: ClassProfile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    class.validate()?;
    Ok(class)
}

/// Runs one request as a node would, and prints its output.
fn run(args: RunArgs, profile: Option<&Path>) -> Result<()> {
    let RunArgs { manifest, prompt, chat, max_tokens, temperature, top_p, stop, seed, json, input_file, repeat } = args;
    let seed = Digest::from_hex(&seed).context("--seed must be 64 hex digits")?;
    let mut engine = TchEngine::load(&manifest, &class(profile)?, None)?;
    let input = match input_file {
        Some(path) => std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        None => serde_json::to_vec(&request_json(&engine, prompt, chat, max_tokens, temperature, top_p, stop)?)?,
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
    let decoded = Output::decode(&out.bytes);
    let tokens: Vec<u32> = match &decoded {
        Output::Text(t) => t.tokens.clone(),
        Output::Bytes(b) if engine.manifest().gpt.is_some() => {
            b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()
        }
        _ => Vec::new(),
    };
    if json {
        let mut report = serde_json::json!({
            "output_digest": out.digest.to_string(),
            "tokens": tokens,
            "summary": decoded.summary(),
            "forward_passes": out.forward_passes,
            "model_time_ms": out.model_time.as_secs_f64() * 1e3,
            "profile": engine.profile(),
        });
        if let Output::Text(t) = &decoded {
            report["text"] = serde_json::json!(t.text);
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("output digest  {}", out.digest);
        match &decoded {
            Output::Text(t) => {
                println!("text           {:?}", t.text);
                println!("tokens         {:?} ({:?}, prompt {} tokens)", t.tokens, t.finish_reason, t.prompt_tokens);
            }
            Output::Bytes(_) if !tokens.is_empty() => {
                let text: String = tokens.iter().map(|&t| char::from(t as u8)).collect();
                println!("tokens         {tokens:?}");
                println!("as bytes       {text:?}");
            }
            other => println!("output         {}", other.summary()),
        }
        println!("model time     {:.2} ms ({} forward passes)", out.model_time.as_secs_f64() * 1e3, out.forward_passes);
    }
    Ok(())
}

/// Writes the test decoder's weights from the fixed seed and prints their digest.
#[cfg(feature = "fixtures")]
fn generate_test_model(cfg: &GptConfig, out: &Path) -> Result<()> {
    cfg.validate().map_err(|e| anyhow::anyhow!("invalid size: `{e}"))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_gpt_weights(cfg, TEST_MODEL_SEED, out)?;
    let bytes = std::fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    println!("{}  {}", blake2b256(&bytes), out.display());
    Ok(())
}

/// Runs every request of `inputs` (one per line) and prints one output digest per line.
fn digests(manifest: &Path, inputs: &Path, seed: &str, profile: Option<&Path>) -> Result<()> {
    let seed = Digest::from_hex(seed).context("--seed must be 64 hex digits")?;
    let mut engine = TchEngine::load(manifest, &class(profile)?, None)?;
    let text = std::fs::read_to_string(inputs).with_context(|| format!("reading {}", inputs.display()))?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let input = line.as_bytes();
        let out = engine.run(&InferenceRequest { input, input_digest: blake2b256(input), seed })?;
        println!("{}", out.digest);
    }
    Ok(())
}

/// The test decoder of a verified `gpt` manifest, in the class's deterministic mode.
fn test_gpt(manifest: &Path, profile: Option<&Path>) -> Result<(GptConfig, PathBuf)> {
    let m = ModelManifest::read(manifest)?;
    m.verify(None)?;
    let (Some(cfg), Some(weights)) = (m.gpt, m.weights) else { bail!("{} is not a gpt model", m.id) };
    profile::enter(&class(profile)?)?;
    Ok((cfg, weights))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "fixtures")]
        Command::GenerateTestModel { out, d_model, layers, heads } => {
            let cfg = GptConfig { d_model, n_layers: layers, n_heads: heads, ..GptConfig::tiny() };
            generate_test_model(&cfg, &out)?;
        }
        #[cfg(feature = "fixtures")]
        Command::GenerateCheckpoint {
            family,
            out,
            hidden,
            layers,
            heads,
            kv_heads,
            intermediate,
            vocab,
            positions,
            shards,
        } => {
            let size = Size { hidden, layers, heads, kv_heads, intermediate, vocab, positions };
            atoma_executor::checkpoint::generate(family, size, shards, &out)?;
            println!("wrote {family:?} checkpoint to {}", out.display());
        }
        Command::Import { dir, id, hardware_class, out, max_new_tokens, context } => {
            import::import(&dir, &id, &hardware_class, out, max_new_tokens, context, cli.profile.as_deref())?;
        }
        Command::Digest { file } => println!("{}  {}", atoma_executor::manifest::file_digest(&file)?, file.display()),
        Command::Verify { manifest } => {
            let m = ModelManifest::read(&manifest)?;
            let digest = m.verify(None)?;
            println!("ok: every file of {} matches its manifest; model digest {digest}", m.id);
        }
        Command::Run(args) => run(args, cli.profile.as_deref())?,
        Command::Digests { manifest, inputs, seed } => digests(&manifest, &inputs, &seed, cli.profile.as_deref())?,
        Command::Tokenize { manifest, text, no_special } => {
            let engine = TchEngine::load(&manifest, &class(cli.profile.as_deref())?, None)?;
            let hf = engine.hf().context("tokenize needs a Hugging Face model (kind = \"hf\")")?;
            println!("{:?}", hf.text().encode(&text, !no_special)?);
        }
        Command::ParityDump { manifest, cases } => {
            let mut engine = TchEngine::load(&manifest, &class(cli.profile.as_deref())?, None)?;
            let text = std::fs::read_to_string(&cases).with_context(|| format!("reading {}", cases.display()))?;
            let cases: serde_json::Value = serde_json::from_str(&text).context("parsing the cases")?;
            println!("{}", serde_json::to_string(&parity::dump(&mut engine, &cases)?)?);
        }
        Command::LogitsDigest { manifest, prompt } => {
            let (cfg, weights) = test_gpt(&manifest, cli.profile.as_deref())?;
            let (model, _vs) = Gpt::load(cfg, &weights, tch::Device::Cpu)?;
            let tokens: Vec<i64> = prompt.bytes().map(i64::from).collect();
            let logits = tch::no_grad(|| model.forward(&gpt::token_tensor(&tokens)));
            println!("{}", blake2b256(&atoma_executor::engine::codec::encode(&logits)?));
        }
        #[cfg(feature = "fixtures")]
        Command::Trace { manifest, out, tokens } => {
            let (cfg, weights) = test_gpt(&manifest, cli.profile.as_deref())?;
            trace_gpt(cfg, &weights, tokens, &out)?;
            let bytes = std::fs::read(&out)?;
            println!("{}  {}", blake2b256(&bytes), out.display());
        }
        Command::Bench { manifest, mode, runs, tokens } => {
            let report = bench::run(&manifest, &class(cli.profile.as_deref())?, &mode, runs, tokens)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::BenchHf { manifest, prompt, new_tokens, texts, runs } => {
            let report = bench::hf(&manifest, &class(cli.profile.as_deref())?, &prompt, new_tokens, texts, runs)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Bound { manifest, runs, margin, json } => {
            bound(&manifest, runs, margin, json, cli.profile.as_deref())?
        }
        Command::Profile => {
            let class = class(cli.profile.as_deref())?;
            let mut out = serde_json::to_value(profile::enter(&class)?)?;
            // What `atoma admin add-class --profile` registers for the class.
            out["chain_profile"] = class.chain_profile().into();
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

/// `atoma-model bound`: measures the model's run-time bound on this
/// machine's class and says how to register it.
fn bound(manifest: &Path, runs: usize, margin: f64, json: bool, profile: Option<&Path>) -> Result<()> {
    let id = ModelManifest::read(manifest)?.id;
    let b = bound::measure(manifest, &class(profile)?, runs, margin)?;
    if json {
        let report = serde_json::json!({
            "model": id, "input": b.input, "worst_ms": b.worst_ms, "margin": margin, "max_run_ms": b.max_run_ms,
        });
        println!("{report}");
    } else {
        println!("heaviest input: {}", b.input);
        println!("slowest of {runs} runs: {:.0} ms; with a margin of {margin}: {} ms", b.worst_ms, b.max_run_ms);
        println!(
            "register it with: atoma admin add-model --manifest {} --max-run-ms {}   (model {id})",
            manifest.display(),
            b.max_run_ms
        );
    }
    Ok(())
}
