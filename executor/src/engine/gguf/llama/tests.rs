//! Unit tests of `llama.rs`.

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
