//! `atoma-model bound`: a model's run-time bound on this machine's class,
//! the figure the network's admin registers with the model (`atoma admin
//! add-model --max-run-ms`; docs/protocol.md, "Time"): every commit timeout
//! of the model's requests covers it, so it must hold for any input the
//! engine accepts, on any node of the class.
//!
//! It runs the heaviest input the model accepts (the longest prompt with
//! every new token it allows; the most texts, each as long as the model
//! reads), takes the slowest of a few runs, and multiplies it by a margin
//! for a loaded machine. A generation that ends early (an end-of-sequence
//! token) is extrapolated to every token it could have made.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use atoma_executor::engine::hf::HfModel;
use atoma_executor::engine::hf::text::MAX_TEXTS;
use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::Output;
use serde_json::{Value, json};

/// What `bound` measured.
pub struct Bound {
    /// The heaviest input, in words.
    pub input: String,
    /// The slowest run of it (ms), extrapolated to a full generation.
    pub worst_ms: f64,
    /// The bound to register: `worst_ms` times the margin, rounded up to 100 ms.
    pub max_run_ms: u64,
}

/// Measures `manifest` in `class`: `runs` timed runs after one warm-up,
/// `margin` times the slowest.
pub fn measure(manifest: &Path, class: &ClassProfile, runs: usize, margin: f64) -> Result<Bound> {
    if runs == 0 || margin < 1.0 {
        bail!("--runs must be at least 1 and --margin at least 1");
    }
    let mut engine = TchEngine::load(manifest, class, None)?;
    let (input, description, max_tokens) = heaviest(&engine)?;
    let mut worst: f64 = 0.0;
    for i in 0..=runs {
        let ms = match max_tokens {
            Some(max) => generation_ms(&mut engine, &input, max)?,
            None => timed(&mut engine, &input)?.0,
        };
        if i > 0 {
            worst = worst.max(ms);
        }
    }
    let max_run_ms = ((worst * margin / 100.0).ceil() as u64).max(1) * 100;
    Ok(Bound { input: description, worst_ms: worst, max_run_ms })
}

/// The heaviest input the model accepts, what it is in words, and the new
/// tokens it asks for (generation models).
fn heaviest(engine: &TchEngine) -> Result<(Value, String, Option<usize>)> {
    if let Some(hf) = engine.hf() {
        return Ok(match hf {
            HfModel::Generate { text, context, max_new_tokens, .. } => {
                let budget = context - max_new_tokens;
                let count = |words: usize| text.encode(&"hello ".repeat(words), true).map(|t| t.len());
                // The most words whose tokens fit the prompt's share of the context.
                let (mut lo, mut hi) = (1usize, budget.max(1) * 2);
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if count(mid)? <= budget { lo = mid } else { hi = mid - 1 }
                }
                let prompt = "hello ".repeat(lo);
                let tokens = count(lo)?;
                let input = json!({ "prompt": prompt, "max_tokens": max_new_tokens, "temperature": 0.0 });
                (input, format!("a prompt of {tokens} tokens and {max_new_tokens} new tokens"), Some(*max_new_tokens))
            }
            HfModel::Embed { .. } => {
                let long = "hello ".repeat(4_096);
                let input = json!({ "input": vec![long; MAX_TEXTS] });
                (input, format!("{MAX_TEXTS} texts, each cut at the model's longest sequence"), None)
            }
        });
    }
    match &engine.manifest().gpt {
        Some(gpt) => {
            let prompt = "a".repeat((gpt.context - gpt.max_new_tokens) as usize);
            let input = json!({ "prompt": prompt, "max_tokens": gpt.max_new_tokens, "temperature": 0.0 });
            let words = format!("a prompt of {} tokens and {} new tokens", prompt.len(), gpt.max_new_tokens);
            Ok((input, words, None))
        }
        None => bail!(
            "a TorchScript model's heaviest input depends on its tensors: time your largest one with \
             `atoma-model run --input-file FILE --repeat 5` and register a multiple of it"
        ),
    }
}

/// Milliseconds of one run of `input`, and its output.
fn timed(engine: &mut TchEngine, input: &Value) -> Result<(f64, Output)> {
    let bytes = serde_json::to_vec(input)?;
    let started = Instant::now();
    let out = engine
        .run(&InferenceRequest { input: &bytes, input_digest: blake2b256(&bytes), seed: Digest([0; 32]) })
        .context("running the heaviest input")?;
    let output = Output::decode(&out.bytes);
    if let Output::Error(e) = &output {
        bail!("the model refused the heaviest input ({}: {})", e.code, e.message);
    }
    Ok((started.elapsed().as_secs_f64() * 1e3, output))
}

/// A generation of `max_tokens` new tokens from `input`, in ms: measured
/// when it makes them all, extrapolated from its pace when an
/// end-of-sequence token stops it early.
fn generation_ms(engine: &mut TchEngine, input: &Value, max_tokens: usize) -> Result<f64> {
    let (full_ms, output) = timed(engine, input)?;
    let Output::Text(text) = output else { bail!("a generation model gave no text") };
    let made = text.tokens.len();
    if made >= max_tokens {
        return Ok(full_ms);
    }
    let mut one = input.clone();
    one["max_tokens"] = json!(1);
    let (prefill_ms, _) = timed(engine, &one)?;
    let per_token = if made > 1 { (full_ms - prefill_ms).max(0.0) / (made - 1) as f64 } else { prefill_ms };
    Ok(prefill_ms + per_token * (max_tokens - 1) as f64)
}
