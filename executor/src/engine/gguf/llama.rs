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
            |out: &mut [f32]| file.dequantize_into(info, out).map_err(|e| ModelError::new(format!("{origin}: {e}")));
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
    let file = GgufFile::open(path).map_err(|e| ModelError::new(e.to_string()))?;
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
mod tests {
    use super::*;
    use crate::engine::gguf::Value;
    use crate::engine::gguf::writer::{TensorData, write};

    #[test]
    fn llama_cpp_names_map_to_transformers_names() {
        for (cpp, hf) in [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            ("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"),
            ("blk.12.ffn_norm.weight", "model.layers.12.post_attention_layernorm.weight"),
            ("blk.3.attn_q.weight", "model.layers.3.self_attn.q_proj.weight"),
            ("blk.3.attn_q.bias", "model.layers.3.self_attn.q_proj.bias"),
            ("blk.3.attn_k.weight", "model.layers.3.self_attn.k_proj.weight"),
            ("blk.3.attn_v.bias", "model.layers.3.self_attn.v_proj.bias"),
            ("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"),
            ("blk.29.ffn_gate.weight", "model.layers.29.mlp.gate_proj.weight"),
            ("blk.29.ffn_up.weight", "model.layers.29.mlp.up_proj.weight"),
            ("blk.29.ffn_down.weight", "model.layers.29.mlp.down_proj.weight"),
        ] {
            assert_eq!(hf_name(cpp).as_deref(), Some(hf), "{cpp}");
        }
        for other in [
            "rope_freqs.weight",
            "blk.x.attn_q.weight",
            "blk.01.attn_q.weight",
            "blk.0.attn_q.scale",
            "blk.0.ffn_gate_exps.weight",
            "output",
        ] {
            assert_eq!(hf_name(other), None, "{other}");
        }
    }

    #[test]
    fn permutation_interleaves_halves_and_is_undone() {
        // Two heads of four rows, one column: transformers' [x0 x1 y0 y1]
        // per head becomes llama.cpp's [x0 y0 x1 y1].
        let hf: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let cpp = permute_rows(&hf, 8, 2, 1);
        assert_eq!(cpp, vec![0., 2., 1., 3., 4., 6., 5., 7.]);
        assert_eq!(unpermute_rows(&cpp, 8, 2, 1), hf);
        // A wider matrix: rows move whole, and the round trip is the identity.
        let (rows, heads, cols) = (24, 3, 5);
        let w: Vec<f32> = (0..rows * cols).map(|i| (i as f32).sin()).collect();
        let p = permute_rows(&w, rows, heads, cols);
        assert_ne!(p, w);
        assert_eq!(&p[cols..2 * cols], &w[4 * cols..5 * cols]); // head 0: row 1 holds y0 (row d/2 = 4)
        assert_eq!(unpermute_rows(&p, rows, heads, cols), w);
    }

    /// A tiny `llama` or `qwen2` file with every tensor F32 and `extra` metadata.
    fn tiny(arch: &str, tied: bool, extra: &[(&str, Value)]) -> Vec<u8> {
        let (hidden, heads, kv, ff, layers, vocab) = (8i64, 2i64, 1i64, 12i64, 2, 6i64);
        let hd = hidden / heads;
        let k = |s: &str| format!("{arch}.{s}");
        let mut meta: Vec<(String, Value)> = vec![
            ("general.architecture".into(), Value::String(arch.into())),
            (k("block_count"), Value::U32(layers as u32)),
            (k("embedding_length"), Value::U32(hidden as u32)),
            (k("feed_forward_length"), Value::U32(ff as u32)),
            (k("attention.head_count"), Value::U32(heads as u32)),
            (k("attention.head_count_kv"), Value::U32(kv as u32)),
            (k("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
            (k("rope.freq_base"), Value::F32(100000.0)),
            (k("context_length"), Value::U32(64)),
        ];
        for (key, v) in extra {
            meta.retain(|(kk, _)| kk != key);
            meta.push((key.to_string(), v.clone()));
        }
        let mut tensors = Vec::new();
        let mut add = |name: String, shape: &[i64]| {
            let n: i64 = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|i| ((i + name.len() as i64) as f32 * 0.37).sin()).collect();
            tensors.push(TensorData::f32(&name, shape, &values));
        };
        add("token_embd.weight".into(), &[vocab, hidden]);
        for l in 0..layers {
            add(format!("blk.{l}.attn_norm.weight"), &[hidden]);
            add(format!("blk.{l}.attn_q.weight"), &[heads * hd, hidden]);
            add(format!("blk.{l}.attn_k.weight"), &[kv * hd, hidden]);
            add(format!("blk.{l}.attn_v.weight"), &[kv * hd, hidden]);
            if arch == "qwen2" {
                add(format!("blk.{l}.attn_q.bias"), &[heads * hd]);
                add(format!("blk.{l}.attn_k.bias"), &[kv * hd]);
                add(format!("blk.{l}.attn_v.bias"), &[kv * hd]);
            }
            add(format!("blk.{l}.attn_output.weight"), &[hidden, heads * hd]);
            add(format!("blk.{l}.ffn_norm.weight"), &[hidden]);
            add(format!("blk.{l}.ffn_gate.weight"), &[ff, hidden]);
            add(format!("blk.{l}.ffn_up.weight"), &[ff, hidden]);
            add(format!("blk.{l}.ffn_down.weight"), &[hidden, ff]);
        }
        add("output_norm.weight".into(), &[hidden]);
        if !tied {
            add("output.weight".into(), &[vocab, hidden]);
        }
        write(&meta, &tensors)
    }

    fn open(bytes: &[u8]) -> (tempfile::TempDir, GgufFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, bytes).unwrap();
        let file = GgufFile::open(&path).unwrap();
        (dir, file)
    }

    fn config_err(bytes: &[u8]) -> String {
        let (_dir, file) = open(bytes);
        config(&file).expect_err("the file must be refused").to_string()
    }

    #[test]
    fn config_comes_from_the_architecture_keys() {
        let (_dir, file) = open(&tiny("llama", false, &[]));
        let (family, c) = config(&file).unwrap();
        assert_eq!(family, Family::Llama);
        assert_eq!(c.architecture, "LlamaForCausalLM");
        assert_eq!((c.hidden, c.intermediate, c.layers, c.heads, c.kv_heads, c.head_dim), (8, 12, 2, 2, 1, 4));
        assert_eq!((c.vocab, c.max_positions, c.tie_embeddings), (6, 64, false));
        // f32 metadata widened exactly, as transformers' float() does.
        assert_eq!(c.eps, f64::from(1e-5f32));
        assert_eq!(c.rope, Rope { theta: 100000.0, llama3: None });
        assert!(!c.qkv_bias && !c.o_bias && !c.mlp_bias);

        let (_dir, file) = open(&tiny("qwen2", true, &[]));
        let (family, c) = config(&file).unwrap();
        assert_eq!(
            (family, c.architecture.as_str(), c.tie_embeddings, c.qkv_bias),
            (Family::Qwen2, "Qwen2ForCausalLM", true, true)
        );
    }

    #[test]
    fn unsupported_files_are_refused_by_key() {
        let e = config_err(&tiny("llama", false, &[("general.architecture", Value::String("gemma2".into()))]));
        assert!(e.contains("`general.architecture`") && e.contains("\"gemma2\" is not supported"), "{e}");
        let e = config_err(&tiny("llama", false, &[("llama.rope.scaling.type", Value::String("yarn".into()))]));
        assert!(e.contains("`llama.rope.scaling.type`"), "{e}");
        let e = config_err(&tiny("llama", false, &[("llama.rope.dimension_count", Value::U32(2))]));
        assert!(e.contains("`llama.rope.dimension_count`"), "{e}");
        let e = config_err(&tiny("llama", false, &[("llama.attention.head_count_kv", Value::U32(3))]));
        assert!(e.contains("`llama.attention.head_count_kv`: must divide"), "{e}");
        let e = config_err(&tiny("llama", false, &[("llama.block_count", Value::String("2".into()))]));
        assert!(e.contains("`llama.block_count`: is not a non-negative integer"), "{e}");
        let mut bytes = tiny("llama", false, &[]);
        // Drop a required key by renaming it (same length).
        let at = bytes.windows(19).position(|w| w == b"llama.context_lengt").unwrap();
        bytes[at] = b'X';
        let e = config_err(&bytes);
        assert!(e.contains("`llama.context_length`: missing"), "{e}");
    }

    #[test]
    fn weights_are_renamed_and_q_k_rows_restored() {
        let bytes = tiny("llama", false, &[]);
        let (_dir, file) = open(&bytes);
        let (family, cfg) = config(&file).unwrap();
        let w = weights(&file, family, &cfg, Kind::Float, Device::Cpu).unwrap();
        let raw = file.dequantize("blk.1.attn_q.weight").unwrap();
        let q = Vec::<f32>::try_from(w.get("model.layers.1.self_attn.q_proj.weight").flatten(0, -1)).unwrap();
        assert_eq!(q, unpermute_rows(&raw, 8, 2, 8));
        assert_eq!(permute_rows(&q, 8, 2, 8), raw);
        let raw = file.dequantize("blk.0.attn_k.weight").unwrap();
        let k = Vec::<f32>::try_from(w.get("model.layers.0.self_attn.k_proj.weight").flatten(0, -1)).unwrap();
        assert_eq!(k, unpermute_rows(&raw, 4, 1, 8));
        // V and the other tensors are taken as they are.
        let raw = file.dequantize("blk.0.attn_v.weight").unwrap();
        let v = Vec::<f32>::try_from(w.get("model.layers.0.self_attn.v_proj.weight").flatten(0, -1)).unwrap();
        assert_eq!(v, raw);
        assert!(w.maybe("lm_head.weight").is_some());

        // Qwen2: Q is not reordered.
        let (_dir, file) = open(&tiny("qwen2", true, &[]));
        let (family, cfg) = config(&file).unwrap();
        let w = weights(&file, family, &cfg, Kind::Float, Device::Cpu).unwrap();
        let raw = file.dequantize("blk.0.attn_q.weight").unwrap();
        let q = Vec::<f32>::try_from(w.get("model.layers.0.self_attn.q_proj.weight").flatten(0, -1)).unwrap();
        assert_eq!(q, raw);
        assert!(w.maybe("model.layers.0.self_attn.q_proj.bias").is_some() && w.maybe("lm_head.weight").is_none());
    }

    #[test]
    fn extra_missing_and_misshapen_tensors_are_refused_by_name() {
        let mut bytes = tiny("llama", false, &[]);
        let at = bytes.windows(20).position(|w| w == b"blk.1.ffn_gate.weigh").unwrap();
        bytes[at + 6] = b'x'; // blk.1.xfn_gate.weight: unknown
        let (_dir, file) = open(&bytes);
        let (family, cfg) = config(&file).unwrap();
        let e = weights(&file, family, &cfg, Kind::Float, Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("`blk.1.xfn_gate.weight` is not part of this architecture"), "{e}");

        let bytes = tiny("llama", false, &[("llama.feed_forward_length", Value::U32(16))]);
        let (_dir, file) = open(&bytes);
        let (family, cfg) = config(&file).unwrap();
        let e = weights(&file, family, &cfg, Kind::Float, Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("has shape [8, 12], the metadata implies [8, 16]"), "{e}");
    }
}
