//! A Llama-family GGUF file (`general.architecture` = `llama` or `qwen2`)
//! as the engine's Hugging Face decoder takes it: the config from the
//! metadata, the tensors dequantized to f32 under transformers' names (Q
//! and K rows put back in transformers' order), the tokenizer and template
//! from `super::tokenizer`. The model that runs is `hf::decoder::Llama`,
//! the same code as for a safetensors checkpoint.
//!
//! Metadata → config (transformers' `GGUF_CONFIG_MAPPING`, llama.cpp's
//! `convert_hf_to_gguf.py` names; `{a}` is the architecture):
//!
//! ```text
//! {a}.block_count                      num_hidden_layers
//! {a}.embedding_length                 hidden_size
//! {a}.feed_forward_length              intermediate_size
//! {a}.attention.head_count             num_attention_heads
//! {a}.attention.head_count_kv          num_key_value_heads (default: heads)
//! {a}.attention.key_length             head_dim (default: hidden / heads)
//! {a}.attention.layer_norm_rms_epsilon rms_norm_eps
//! {a}.rope.freq_base                   rope_theta (default 10000)
//! {a}.context_length                   max_position_embeddings
//! token_embd.weight rows               vocab_size (>= the token count)
//! no output.weight                     tie_word_embeddings
//! ```
//!
//! Refused by name: RoPE scaling (`{a}.rope.scaling.type` other than
//! `none`, a `rope_freqs.weight` tensor: Llama 3.1's frequency factors),
//! partial rotary (`{a}.rope.dimension_count` below the head size), a value
//! length other than the key length, any other architecture or tensor.
//!
//! Tensors (llama.cpp → transformers), `N` a layer:
//!
//! ```text
//! token_embd  model.embed_tokens     blk.N.attn_norm    model.layers.N.input_layernorm
//! output_norm model.norm             blk.N.ffn_norm     model.layers.N.post_attention_layernorm
//! output      lm_head                blk.N.attn_{q,k,v} model.layers.N.self_attn.{q,k,v}_proj
//! blk.N.attn_output  model.layers.N.self_attn.o_proj
//! blk.N.ffn_{gate,up,down}  model.layers.N.mlp.{gate,up,down}_proj
//! ```
//!
//! llama.cpp's converter reorders the rows of Llama's Q and K projections
//! (weights and biases) within each head, from transformers' halves
//! (`[x0 .. x(d/2-1), y0 .. y(d/2-1)]`) to interleaved pairs
//! (`[x0, y0, x1, y1, …]`), its RoPE rotating adjacent pairs;
//! [`unpermute_rows`] undoes it as transformers' `reverse_permute_weights`
//! does. Qwen2 files are not reordered.
//!
//! Not for: manifests and digests (the caller), dtype policy (the class's
//! kind, given), dequantization itself (`super::quant`).

use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::tokenizer::{self, Meta};
use super::{GgufFile, TensorInfo};
use crate::engine::hf::config::{DecoderConfig, Rope};
use crate::engine::hf::decoder::Llama;
use crate::engine::hf::weights::Weights;
use crate::engine::hf::{HfModel, Limits, ModelError};

/// The architectures this loader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `llama`: Llama 2 and 3, TinyLlama, SmolLM2, Mistral (Q and K reordered).
    Llama,
    /// `qwen2`: biases on Q, K and V; not reordered.
    Qwen2,
}

impl Family {
    fn of(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Family::Llama),
            "qwen2" => Some(Family::Qwen2),
            _ => None,
        }
    }
}

/// The config of a GGUF file's decoder, and its family.
pub fn config(file: &GgufFile) -> Result<(Family, DecoderConfig), ModelError> {
    let origin = file.path.display().to_string();
    let m = Meta { g: &file.header, origin: &origin };
    let arch = m.str("general.architecture")?.ok_or_else(|| m.err("general.architecture", "missing"))?;
    let family = Family::of(arch)
        .ok_or_else(|| m.err("general.architecture", format!("{arch:?} is not supported (llama, qwen2)")))?;
    let key = |k: &str| format!("{arch}.{k}");
    let positive = |k: &str, default: Option<u64>| -> Result<i64, ModelError> {
        let k = key(k);
        match m.uint(&k)?.or(default) {
            None => Err(m.err(&k, "missing")),
            Some(v) if (1..=1 << 24).contains(&v) => Ok(v as i64),
            Some(v) => Err(m.err(&k, format!("{v} is not a positive integer up to 2^24"))),
        }
    };
    let hidden = positive("embedding_length", None)?;
    let heads = positive("attention.head_count", None)?;
    let kv_heads = positive("attention.head_count_kv", Some(heads as u64))?;
    if heads % kv_heads != 0 {
        return Err(m.err(&key("attention.head_count_kv"), "must divide attention.head_count"));
    }
    let head_dim = positive("attention.key_length", Some((hidden / heads) as u64))?;
    if head_dim % 2 != 0 {
        return Err(m.err(&key("attention.key_length"), "the head size must be even (RoPE)"));
    }
    if positive("attention.value_length", Some(head_dim as u64))? != head_dim {
        return Err(m.err(&key("attention.value_length"), "must equal the key length"));
    }
    if positive("rope.dimension_count", Some(head_dim as u64))? != head_dim {
        return Err(m.err(&key("rope.dimension_count"), "partial rotary embeddings are not supported"));
    }
    match m.str(&key("rope.scaling.type"))? {
        None | Some("none") => {}
        Some(other) => {
            return Err(m.err(&key("rope.scaling.type"), format!("{other:?} is not supported (none)")));
        }
    }
    if file.header.tensor("rope_freqs.weight").is_some() {
        return Err(ModelError::new(format!(
            "{origin}: tensor `rope_freqs.weight` (RoPE frequency factors, as in Llama 3.1) is not supported"
        )));
    }
    let eps = m
        .float(&key("attention.layer_norm_rms_epsilon"))?
        .ok_or_else(|| m.err(&key("attention.layer_norm_rms_epsilon"), "missing"))?;
    let theta = m.float(&key("rope.freq_base"))?.unwrap_or(10_000.0);
    for (k, v) in [("attention.layer_norm_rms_epsilon", eps), ("rope.freq_base", theta)] {
        if v <= 0.0 {
            return Err(m.err(&key(k), format!("{v} is not positive")));
        }
    }
    let vocab = vocab_size(file, &m)?;
    let qwen2 = family == Family::Qwen2;
    Ok((
        family,
        DecoderConfig {
            architecture: if qwen2 { "Qwen2ForCausalLM" } else { "LlamaForCausalLM" }.to_string(),
            hidden,
            intermediate: positive("feed_forward_length", None)?,
            layers: positive("block_count", None)?,
            heads,
            kv_heads,
            head_dim,
            vocab,
            eps,
            rope: Rope { theta, llama3: None },
            max_positions: positive("context_length", None)?,
            tie_embeddings: file.header.tensor("output.weight").is_none(),
            qkv_bias: qwen2,
            o_bias: false,
            mlp_bias: false,
        },
    ))
}

/// The vocabulary's size: the embedding's rows, at least as many as the tokenizer's tokens.
fn vocab_size(file: &GgufFile, m: &Meta<'_>) -> Result<i64, ModelError> {
    let origin = m.origin;
    let embed = file
        .header
        .tensor("token_embd.weight")
        .ok_or_else(|| ModelError::new(format!("{origin}: tensor `token_embd.weight` is missing")))?;
    let vocab = embed.dims.get(1).copied().unwrap_or(0) as i64;
    let tokens = m.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()).map_or(0, <[_]>::len) as i64;
    if vocab < tokens {
        return Err(ModelError::new(format!(
            "{origin}: tensor `token_embd.weight` has {vocab} rows, fewer than the {tokens} tokens"
        )));
    }
    Ok(vocab)
}

/// transformers' name of a llama.cpp tensor name, if it has one.
pub fn hf_name(gguf: &str) -> Option<String> {
    match gguf {
        "token_embd.weight" => return Some("model.embed_tokens.weight".into()),
        "output_norm.weight" => return Some("model.norm.weight".into()),
        "output.weight" => return Some("lm_head.weight".into()),
        _ => {}
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    if layer.is_empty() || !layer.bytes().all(|b| b.is_ascii_digit()) || (layer.len() > 1 && layer.starts_with('0')) {
        return None;
    }
    let (part, suffix) = rest.split_once('.')?;
    if suffix != "weight" && suffix != "bias" {
        return None;
    }
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{suffix}"))
}

/// llama.cpp's reordering of a Q or K projection (`convert_hf_to_gguf.py`,
/// `LlamaModel.permute`): `data` is row-major with `rows = heads * d` rows
/// of `cols` values; in each head, row `half * d/2 + i` moves to `2i + half`.
/// Panics unless `heads` divides `rows` into even head sizes and
/// `data.len() == rows * cols` (the loader checks shapes first).
pub fn permute_rows(data: &[f32], rows: usize, heads: usize, cols: usize) -> Vec<f32> {
    reorder(data, rows, heads, cols, false)
}

/// The inverse of [`permute_rows`] (transformers' `reverse_permute_weights`):
/// in each head, row `2i + half` moves back to `half * d/2 + i`.
pub fn unpermute_rows(data: &[f32], rows: usize, heads: usize, cols: usize) -> Vec<f32> {
    reorder(data, rows, heads, cols, true)
}

fn reorder(data: &[f32], rows: usize, heads: usize, cols: usize, undo: bool) -> Vec<f32> {
    assert!(heads > 0 && rows.is_multiple_of(2 * heads) && data.len() == rows * cols, "Q/K shape checked at load");
    let d = rows / heads;
    let mut out = vec![0f32; data.len()];
    for h in 0..heads {
        for half in 0..2 {
            for i in 0..d / 2 {
                let hf = h * d + half * (d / 2) + i;
                let cpp = h * d + 2 * i + half;
                let (from, to) = if undo { (cpp, hf) } else { (hf, cpp) };
                out[to * cols..(to + 1) * cols].copy_from_slice(&data[from * cols..(from + 1) * cols]);
            }
        }
    }
    out
}

/// The tensors of `file` under transformers' names, dequantized to f32,
/// Q and K rows restored, then converted to `kind` on `device`; every
/// tensor checked against the decoder's names and shapes.
fn weights(
    file: &GgufFile,
    family: Family,
    cfg: &DecoderConfig,
    kind: Kind,
    device: Device,
) -> Result<Weights, ModelError> {
    let origin = file.path.display();
    let expected: HashMap<String, Vec<i64>> = Llama::parameter_shapes(cfg).into_iter().collect();
    let mut infos: Vec<&TensorInfo> = file.header.tensors.iter().collect();
    // In name order, so that the first error reported is always the same.
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let mut tensors = HashMap::new();
    for info in infos {
        let name = hf_name(&info.name).ok_or_else(|| {
            ModelError::new(format!("{origin}: tensor `{}` is not part of this architecture (extra tensor)", info.name))
        })?;
        let shape = expected.get(&name).ok_or_else(|| {
            ModelError::new(format!(
                "{origin}: tensor `{}` ({name}) is not part of this architecture (extra tensor)",
                info.name
            ))
        })?;
        if &info.shape() != shape {
            return Err(ModelError::new(format!(
                "{origin}: tensor `{}` has shape {:?}, the metadata implies {shape:?}",
                info.name,
                info.shape()
            )));
        }
        let n = info.n_elements as usize;
        let dequantize =
            |out: &mut [f32]| file.dequantize_into(info, out).map_err(|e| ModelError::caused(origin.to_string(), e));
        let q = name.contains(".self_attn.q_proj.");
        let t = if family == Family::Llama && (q || name.contains(".self_attn.k_proj.")) {
            let heads = if q { cfg.heads } else { cfg.kv_heads } as usize;
            let rows = shape[0] as usize;
            let cols = shape.get(1).copied().unwrap_or(1) as usize;
            let mut data = vec![0f32; n];
            dequantize(&mut data)?;
            Tensor::from_slice(&unpermute_rows(&data, rows, heads, cols)).view(shape.as_slice())
        } else {
            // Straight into the tensor's memory: no second copy of the
            // largest matrices (the embeddings) while they load.
            let t = Tensor::empty(shape.as_slice(), (Kind::Float, Device::Cpu));
            // SAFETY: `t` is a fresh contiguous f32 CPU tensor of `n`
            // elements (its shape's product, checked against the file's),
            // nothing else refers to it yet, and the slice ends here.
            dequantize(unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) })?;
            t
        };
        let t = if kind == Kind::Float && device == Device::Cpu { t } else { t.to_device(device).to_kind(kind) };
        tensors.insert(name, t);
    }
    let mut missing: Vec<&String> = expected.keys().filter(|n| !tensors.contains_key(*n)).collect();
    missing.sort();
    if let Some(name) = missing.first() {
        return Err(ModelError::new(format!("{origin}: tensor `{name}` is missing")));
    }
    Ok(Weights::from_tensors(tensors))
}

/// Loads a Llama-family GGUF file as a generation model: its weights in
/// `kind` on `device`, its tokenizer and chat template, the manifest's
/// `limits`. The caller has checked the file's digest.
pub fn load(path: &Path, limits: Limits, kind: Kind, device: Device) -> Result<HfModel, ModelError> {
    let file = GgufFile::open(path).map_err(|e| ModelError::caused("reading the GGUF file", e))?;
    let (family, cfg) = config(&file)?;
    let text = tokenizer::text(&file.header, &path.display().to_string())?;
    let vocab = text.tokenizer.get_vocab_size(true) as i64;
    if vocab > cfg.vocab {
        return Err(ModelError::new(format!(
            "{}: {vocab} tokens, more than the model's {} embeddings",
            path.display(),
            cfg.vocab
        )));
    }
    let w = weights(&file, family, &cfg, kind, device)?;
    let positions = cfg.max_positions as usize;
    let decoder = Box::new(Llama::new(cfg, w, kind, device)?);
    HfModel::generator(decoder, text, positions, limits)
}

#[cfg(test)]
mod tests;
