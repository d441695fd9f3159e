//! The repository's test model, generated instead of downloaded (no model
//! hub is reachable from CI).
//!
//! The weights come from ChaCha8 seeded with a fixed number, turned into
//! floats with exact arithmetic only (`(u >> 8) * 2^-24`, a scale), so the
//! file is the same on any machine, unlike libtorch's seeded initialisers,
//! whose output depends on the CPU's kernel path. `models/tiny-gpt.toml`
//! records the file's digest; a test regenerates the file and checks it.
//!
//! Also traces a GPT model into a TorchScript archive, for the TorchScript
//! path and its agreement with the built-in one.
//!
//! Behind the `fixtures` feature (on by default): a node serves models
//! without it.

use std::path::Path;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{CModule, Device, Kind, Tensor};

use crate::engine::gpt::{Gpt, GptConfig};
use crate::engine::{EngineError, ModelError};

/// The seed of the test model's weights.
pub const TEST_MODEL_SEED: u64 = 20_261_125;

/// Uniform weights in `[-scale, scale)`, bit-identical on every machine.
fn uniform(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0); // exact: 24 bits
            (2.0 * u - 1.0) * scale
        })
        .collect()
}

/// The weights of a GPT model with `cfg`, from `seed`, as named tensors.
/// Layer norms start at weight 1 and bias 0; embeddings and matrices are
/// uniform with standard deviation `1 / sqrt(width)` (`1 / sqrt(fan_in)`);
/// other biases uniform in [-0.1, 0.1). Untrained, but with the blocks'
/// outputs larger than the embeddings, so that outputs depend on the whole
/// prompt rather than copying its last byte (the output projection is tied
/// to the token embedding).
pub fn gpt_weights(cfg: &GptConfig, seed: u64) -> Vec<(String, Tensor)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cfg.parameter_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let n: i64 = shape.iter().product();
            let values = if name.contains(".ln_") || name.starts_with("ln_f") {
                vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n as usize]
            } else if name.starts_with("wte") || name.starts_with("wpe") {
                uniform(&mut rng, n as usize, (3.0 / cfg.d_model as f32).sqrt())
            } else if name.ends_with("bias") {
                uniform(&mut rng, n as usize, 0.1)
            } else {
                // Uniform in [-a, a) has standard deviation a / sqrt(3).
                let fan_in = shape[1] as f32;
                uniform(&mut rng, n as usize, (3.0 / fan_in).sqrt())
            };
            (name, Tensor::from_slice(&values).view(shape.as_slice()))
        })
        .collect()
}

/// Writes the weights of a GPT model as safetensors (deterministic bytes:
/// tensors sorted by name, no metadata).
pub fn write_gpt_weights(cfg: &GptConfig, seed: u64, path: &Path) -> Result<(), EngineError> {
    Tensor::write_safetensors(&gpt_weights(cfg, seed), path)
        .map_err(|e| ModelError::caused(format!("writing {}", path.display()), e).into())
}

/// Traces the full forward pass of a GPT model (tokens `[1, t]` as int64 to
/// logits `[1, t, 256]`) into a TorchScript archive at `out`. Tracing
/// records shapes as constants: the archive takes sequences of exactly
/// `seq_len` tokens.
pub fn trace_gpt(cfg: GptConfig, weights: &Path, seq_len: i64, out: &Path) -> Result<(), EngineError> {
    let (model, _vs) = Gpt::load(cfg, weights, Device::Cpu)?;
    let _guard = tch::no_grad_guard();
    let example = Tensor::zeros([1, seq_len], (Kind::Int64, Device::Cpu));
    let mut closure = |inputs: &[Tensor]| vec![model.forward(&inputs[0])];
    let module = CModule::create_by_tracing("AtomaGpt", "forward", &[example], &mut closure)
        .map_err(|e| ModelError::caused("tracing", e))?;
    module.save(out).map_err(|e| ModelError::caused(format!("saving {}", out.display()), e))?;
    Ok(())
}

/// Writes the test model (weights generated from the fixed seed, and the
/// repository's manifest `models/tiny-gpt.toml`) into `dir`; returns the
/// manifest's path. Tests, the demo and benchmarks use it.
pub fn write_test_model(dir: &Path) -> Result<std::path::PathBuf, EngineError> {
    let manifest = include_str!("../../models/tiny-gpt.toml");
    std::fs::create_dir_all(dir).map_err(|e| EngineError::Manifest(format!("creating {}: {e}", dir.display())))?;
    write_gpt_weights(&GptConfig::tiny(), TEST_MODEL_SEED, &dir.join("tiny-gpt.safetensors"))?;
    let path = dir.join("tiny-gpt.toml");
    std::fs::write(&path, manifest).map_err(|e| EngineError::Manifest(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}
