//! The one seeded sampler every generating model uses: a token drawn from
//! `softmax(logits / temperature)` (optionally cut to the top-p mass) with a
//! uniform number derived from the request's on-chain seed, never from
//! libtorch's generator, so that every honest node draws the same token.
//!
//! Not for: greedy decoding (an argmax, in each model).

use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use tch::{Device, Kind, Tensor};

use super::{EngineError, ModelError};

/// Draws the token of step `step` from the 1-D `logits`: softmax (in f32)
/// of `logits / temperature`, then [`pick`] with `top_p` and
/// [`uniform`]`(seed, step)`.
pub fn sample(logits: &Tensor, temperature: f64, top_p: f64, seed: &Digest, step: u64) -> Result<u32, EngineError> {
    let probs = (logits / temperature).softmax(-1, Kind::Float).to_device(Device::Cpu);
    let probs = Vec::<f32>::try_from(&probs).map_err(|e| ModelError::caused("sampling", e))?;
    Ok(pick(&probs, top_p, uniform(seed, step)))
}

/// The uniform number of step `step`: `u64_le(blake2b256(seed || u64_le(step))[0..8]) / 2^64`.
pub fn uniform(seed: &Digest, step: u64) -> f64 {
    let mut data = seed.0.to_vec();
    data.extend_from_slice(&step.to_le_bytes());
    let h = blake2b256(&data);
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes")) as f64 / 2f64.powi(64)
}

/// Picks the next token from `probs` (softmax of logits / temperature):
/// with `top_p < 1`, only the most likely tokens whose mass reaches `top_p`
/// (ties broken by the lower id), renormalised; then the first token whose
/// cumulative mass exceeds `u`.
pub fn pick(probs: &[f32], top_p: f64, u: f64) -> u32 {
    let mut order: Vec<u32> = (0..probs.len() as u32).collect();
    if top_p < 1.0 {
        order.sort_by(|a, b| probs[*b as usize].total_cmp(&probs[*a as usize]).then(a.cmp(b)));
        let mut acc = 0f64;
        let mut keep = order.len();
        for (i, t) in order.iter().enumerate() {
            acc += f64::from(probs[*t as usize]);
            if acc >= top_p {
                keep = i + 1;
                break;
            }
        }
        order.truncate(keep);
    }
    let total: f64 = order.iter().map(|t| f64::from(probs[*t as usize])).sum();
    let target = u * total;
    let mut acc = 0f64;
    for t in &order {
        acc += f64::from(probs[*t as usize]);
        if target < acc {
            return *t;
        }
    }
    // Rounding left the total just under the target: the last token with mass.
    *order.iter().rev().find(|t| probs[**t as usize] > 0.0).unwrap_or(&order[0])
}
