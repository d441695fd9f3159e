//! The measurements behind `scripts/bench-inference`.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use anyhow::{Result, bail};
use atoma_executor::engine::gguf::GgufFile;
use atoma_executor::engine::gpt::{Gpt, GptInput};
use atoma_executor::engine::hf::{self, HfModel};
use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine};
use atoma_executor::manifest::ModelManifest;
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::Output;
use serde_json::{Value, json};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Seconds of one request, and its output.
fn timed(engine: &mut TchEngine, input: &Value) -> Result<(f64, Output)> {
    let bytes = serde_json::to_vec(input)?;
    let t = Instant::now();
    let out =
        engine.run(&InferenceRequest { input: &bytes, input_digest: blake2b256(&bytes), seed: Digest([0; 32]) })?;
    Ok((t.elapsed().as_secs_f64(), Output::decode(&out.bytes)))
}

/// Prefill and decode tokens/s (generation) or embeddings/s, through the engine.
pub fn hf(
    manifest: &Path,
    class: &ClassProfile,
    prompt: &str,
    new_tokens: usize,
    texts: usize,
    runs: usize,
) -> Result<Value> {
    let load = Instant::now();
    let mut engine = TchEngine::load(manifest, class, None)?;
    let load_s = load.elapsed().as_secs_f64();
    let m = ModelManifest::read(manifest)?;
    let dir = &m.hf.as_ref().context("bench-hf needs a Hugging Face model")?.dir;
    let mut report = json!({ "model": m.id, "threads": tch::get_num_threads(), "load_s": load_s, "runs": runs });
    // The weights as the engine holds them: a GGUF file's quantized blocks
    // are dequantized into the class's dtype at load.
    if let Some(file) = hf::gguf_file(dir)? {
        let gguf = GgufFile::open(&dir.join(&file))?;
        let elements: u64 = gguf.header.tensors.iter().map(|t| t.n_elements).sum();
        report["weights_bytes"] = json!(elements * class.dtype.kind().elt_size_in_bytes() as u64);
        report["file_bytes"] = json!(std::fs::metadata(dir.join(&file))?.len());
    } else {
        let safetensors = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".safetensors"))
            .filter_map(|e| e.metadata().ok());
        report["weights_bytes"] = json!(safetensors.map(|m| m.len()).sum::<u64>());
    }
    match engine.hf().context("bench-hf needs a Hugging Face model")? {
        HfModel::Generate { .. } => {
            let one = json!({ "prompt": prompt, "max_tokens": 1 });
            let many = json!({ "prompt": prompt, "max_tokens": new_tokens });
            let (mut t1, mut tn) = (Vec::new(), Vec::new());
            let (mut prompt_tokens, mut generated) = (0, 0);
            for i in 0..runs + 1 {
                let (a, _) = timed(&mut engine, &one)?;
                let (b, out) = timed(&mut engine, &many)?;
                let Output::Text(t) = out else { bail!("not a text output: {}", out.summary()) };
                (prompt_tokens, generated) = (t.prompt_tokens, t.tokens.len());
                if i > 0 {
                    t1.push(a);
                    tn.push(b);
                }
            }
            let (prefill, total) = (median(t1), median(tn));
            report["prompt_tokens"] = json!(prompt_tokens);
            report["new_tokens"] = json!(generated);
            report["prefill_s"] = json!(prefill);
            report["generate_s"] = json!(total);
            report["prefill_tokens_per_s"] = json!(prompt_tokens as f64 / prefill);
            report["decode_tokens_per_s"] = json!((generated.saturating_sub(1)) as f64 / (total - prefill));
        }
        HfModel::Embed { .. } => {
            let input = json!({ "input": (0..texts).map(|i| format!("{prompt} {i}")).collect::<Vec<_>>() });
            let mut t = Vec::new();
            for i in 0..runs + 1 {
                let (s, out) = timed(&mut engine, &input)?;
                let Output::Embeddings(_) = out else { bail!("not embeddings: {}", out.summary()) };
                if i > 0 {
                    t.push(s);
                }
            }
            report["texts"] = json!(texts);
            report["embeddings_per_s"] = json!(texts as f64 / median(t));
        }
    }
    report["peak_rss_bytes"] = json!(peak_rss());
    Ok(report)
}

/// Times `runs` requests through the engine and through a bare loop of
/// the same forward passes, interleaved so that drift hits both alike.
pub fn run(manifest: &Path, class: &ClassProfile, mode: &str, runs: usize, tokens: i64) -> Result<Value> {
    let input = serde_json::to_vec(&json!({ "prompt": "The quick brown fox jumps over", "max_tokens": tokens }))?;
    let request = InferenceRequest { input: &input, input_digest: blake2b256(&input), seed: Digest([0; 32]) };
    let m = ModelManifest::read(manifest)?;
    let (Some(cfg), Some(weights)) = (m.gpt, m.weights.as_ref()) else { bail!("{} is not a gpt model", m.id) };
    let mut engine = match mode {
        "deterministic" => Some(TchEngine::load(manifest, class, None)?),
        "default" => None,
        other => bail!("--mode must be deterministic or default, not {other}"),
    };
    let (model, _vs) = Gpt::load(cfg, weights, tch::Device::Cpu)?;
    let parsed = GptInput::parse(&input, &cfg)?;
    let bare = || {
        let _g = tch::no_grad_guard();
        model.generate(&parsed, &request.seed, tch::Device::Cpu).map(|(tokens, _)| tokens)
    };
    for _ in 0..5 {
        bare()?;
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
        let out = bare()?;
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
