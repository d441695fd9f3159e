//! Generated Hugging Face checkpoints for tests, the demo and benchmarks:
//! random weights from a fixed seed in the exact layout transformers writes
//! (`config.json`, `model.safetensors` or shards with their index,
//! `generation_config.json`), a byte-level BPE `tokenizer.json` trained with
//! the `tokenizers` crate on a fixed corpus, and `tokenizer_config.json` with
//! the family's special tokens and chat template (Llama 3's header format,
//! Qwen2's ChatML, Mistral's `[INST]`; GPT-2 has none).
//!
//! No package ships a causal language model's weights; transformers loads
//! these directories as it loads a downloaded checkpoint, which is what the
//! parity check (`scripts/parity.py`) compares against.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use safetensors::tensor::TensorView;
use serde_json::{Value, json};
use tch::{Kind, Tensor};
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, TokenizerBuilder};
use tokenizers::{NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::engine::hf::config::Arch;
use crate::engine::hf::decoder::{Gpt2, Llama};

/// The architectures the generator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    Llama,
    Qwen2,
    Mistral,
    Gpt2,
}

/// The size of a generated checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub hidden: i64,
    pub layers: i64,
    pub heads: i64,
    pub kv_heads: i64,
    pub intermediate: i64,
    /// Target vocabulary of the trained tokenizer (the corpus may give fewer).
    pub vocab: usize,
    pub positions: i64,
}

impl Size {
    /// The tests' size: small enough to generate and run in a moment.
    pub fn tiny() -> Self {
        Size { hidden: 64, layers: 2, heads: 4, kv_heads: 2, intermediate: 160, vocab: 600, positions: 512 }
    }
}

/// The seed of every generated checkpoint.
pub const SEED: i64 = 20_251_128;

/// Text the tokenizers are trained on: English prose, code, numbers and
/// some non-ASCII text, so that merges cover what tests send.
const CORPUS: &str = "\
The quick brown fox jumps over the lazy dog. A node runs the model and commits a hash of its output.
Honest nodes agree bit for bit, so any disagreement exposes a cheater, whose collateral is slashed.
Sampling consensus asks a quorum of nodes of one hardware class to run the same request.
Hello! How are you today? I am fine, thank you. What is the capital of France? Paris is the capital.
Tell me a story about a robot who learns to paint. Once upon a time, there was a small robot.
The weather is nice and the sun is shining. Let us go for a walk in the park by the river.
def main():\n    print(\"hello, world\")\n    return 0\n
for i in range(10):\n    total += i * i\n
fn add(a: u64, b: u64) -> u64 { a + b }
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14159 1e-4.
Unicode: café, naïve, Zürich, 東京, 日本語のテキスト, Ελληνικά, русский язык, emoji 🙂🚀.
Whitespace   runs\tand\ttabs\n\nand new lines.
You are a helpful assistant. Answer the question briefly and truthfully.
The system verifies inference on chain: requests, commitments, reveals, disputes and settlement.
";

struct Specials {
    bos: Option<&'static str>,
    eos: &'static str,
    /// End-of-turn tokens that also end generation.
    stop: &'static [&'static str],
    others: &'static [&'static str],
    template: Option<&'static str>,
}

const LLAMA_TEMPLATE: &str = "{{- bos_token }}\n{%- for message in messages %}\n    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n";
const CHATML_TEMPLATE: &str = "{%- for message in messages %}\n    {%- if message.role not in ['system', 'user', 'assistant'] %}\n        {{- raise_exception('unknown role ' + message.role) }}\n    {%- endif %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content.strip() + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";
const MISTRAL_TEMPLATE: &str = "{{- bos_token }}\n{%- for message in messages %}\n    {%- if message['role'] == 'user' %}\n        {{- '[INST] ' + message['content'] + ' [/INST]' }}\n    {%- elif message['role'] == 'assistant' %}\n        {{- message['content'] + eos_token }}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported') }}\n    {%- endif %}\n{%- endfor %}\n";

fn specials(family: Family) -> Specials {
    match family {
        Family::Llama => Specials {
            bos: Some("<|begin_of_text|>"),
            eos: "<|end_of_text|>",
            stop: &["<|eot_id|>"],
            others: &["<|start_header_id|>", "<|end_header_id|>"],
            template: Some(LLAMA_TEMPLATE),
        },
        Family::Qwen2 => Specials {
            bos: None,
            eos: "<|endoftext|>",
            stop: &["<|im_end|>"],
            others: &["<|im_start|>"],
            template: Some(CHATML_TEMPLATE),
        },
        Family::Mistral => {
            Specials { bos: Some("<s>"), eos: "</s>", stop: &[], others: &["<unk>"], template: Some(MISTRAL_TEMPLATE) }
        }
        Family::Gpt2 => Specials { bos: None, eos: "<|endoftext|>", stop: &[], others: &[], template: None },
    }
}

/// Trains the byte-level BPE tokenizer and writes `tokenizer.json`; returns
/// the vocabulary size and the ids of `bos`, `eos` and the stop tokens.
fn write_tokenizer(dir: &Path, family: Family, vocab: usize) -> Result<(usize, Option<u32>, u32, Vec<u32>)> {
    let s = specials(family);
    let mut names: Vec<&str> = s.bos.into_iter().collect();
    names.push(s.eos);
    names.extend(s.stop);
    names.extend(s.others);
    let special: Vec<AddedToken> = names.iter().map(|n| AddedToken::from(n.to_string(), true)).collect();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(1)
        .show_progress(false)
        .special_tokens(special)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    // The pre-tokenizers of the real checkpoints: Llama 3's and Qwen2's
    // regex split then bytes (Qwen2 splits digits one by one, Llama 3 in
    // threes, and Qwen2 normalises to NFC); GPT-2's byte-level regex.
    let split = |digits: &str| -> Result<PreTokenizerWrapper> {
        let pattern = format!(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{{L}}\p{{N}}]?\p{{L}}+|\p{{N}}{digits}| ?[^\s\p{{L}}\p{{N}}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        );
        let split = Split::new(SplitPattern::Regex(pattern), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| anyhow::anyhow!("split pattern: {e}"))?;
        Ok(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Split(split),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, false)),
        ])))
    };
    let (pre, normalizer): (PreTokenizerWrapper, Option<NormalizerWrapper>) = match family {
        Family::Llama => (split("{1,3}")?, None),
        Family::Qwen2 => (split("")?, Some(NormalizerWrapper::NFC(NFC))),
        Family::Mistral | Family::Gpt2 => (PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)), None),
    };
    let mut tokenizer =
        TokenizerBuilder::<BPE, NormalizerWrapper, PreTokenizerWrapper, TemplateProcessing, ByteLevel>::new()
            .with_model(BPE::default())
            .with_normalizer(normalizer)
            .with_pre_tokenizer(Some(pre))
            .with_decoder(Some(ByteLevel::default()))
            .build()
            .map_err(|e| anyhow::anyhow!("building the tokenizer: {e}"))?;
    tokenizer
        .train(&mut trainer, CORPUS.lines().map(str::to_string).collect::<Vec<_>>().into_iter())
        .map_err(|e| anyhow::anyhow!("training the tokenizer: {e}"))?;
    let id = |t: &str| tokenizer.token_to_id(t).with_context(|| format!("special token {t} missing"));
    let bos = s.bos.map(id).transpose()?;
    let eos = id(s.eos)?;
    let stop = s.stop.iter().map(|t| id(t)).collect::<Result<Vec<_>>>()?;
    if let (Some(b), Some(name)) = (bos, s.bos) {
        let post = TemplateProcessing::builder()
            .try_single(format!("{name} $A"))
            .and_then(|p| p.try_pair(format!("{name} $A {name} $B")))
            .map_err(|e| anyhow::anyhow!("template: {e}"))?
            .special_tokens(vec![(name.to_string(), b)])
            .build()
            .map_err(|e| anyhow::anyhow!("template: {e}"))?;
        tokenizer.with_post_processor(Some(post));
    }
    let size = tokenizer.get_vocab_size(true);
    tokenizer.save(dir.join("tokenizer.json"), true).map_err(|e| anyhow::anyhow!("writing tokenizer.json: {e}"))?;
    Ok((size, bos, eos, stop))
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes a checkpoint of `family` and `size` into `dir` (created), with
/// the weights in `shards` files (1: `model.safetensors`).
pub fn generate(family: Family, size: Size, shards: usize, dir: &Path) -> Result<()> {
    if size.hidden % size.heads != 0 || size.heads % size.kv_heads != 0 {
        bail!("heads must divide the width, and kv-heads the heads");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (vocab, bos, eos, stop) = write_tokenizer(dir, family, size.vocab)?;
    let vocab = vocab as i64;
    let mut eos_ids = vec![eos];
    eos_ids.extend(&stop);
    let config = model_config(family, &size, vocab, bos, eos);
    write_json(&dir.join("config.json"), &config)?;
    let mut generation = json!({ "eos_token_id": if eos_ids.len() == 1 { json!(eos) } else { json!(eos_ids) } });
    if let Some(b) = bos {
        generation["bos_token_id"] = json!(b);
    }
    write_json(&dir.join("generation_config.json"), &generation)?;
    let tok_config = tokenizer_config(family, &size);
    write_json(&dir.join("tokenizer_config.json"), &tok_config)?;

    let arch = Arch::from_config(&config)?;
    let (shapes, prefix) = match &arch {
        Arch::Decoder(c) => (Llama::parameter_shapes(c), ""),
        Arch::Gpt2(c) => (Gpt2::parameter_shapes(c), "transformer."),
        Arch::Bert(_) => unreachable!("the generator writes decoders"),
    };
    write_weights(dir, &shapes, prefix, shards)
}

/// `config.json` of a checkpoint of `family` at `size`, as transformers writes it.
fn model_config(family: Family, size: &Size, vocab: i64, bos: Option<u32>, eos: u32) -> Value {
    let (architecture, model_type) = match family {
        Family::Llama => ("LlamaForCausalLM", "llama"),
        Family::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
        Family::Mistral => ("MistralForCausalLM", "mistral"),
        Family::Gpt2 => ("GPT2LMHeadModel", "gpt2"),
    };
    match family {
        Family::Gpt2 => json!({
            "architectures": [architecture], "model_type": model_type, "activation_function": "gelu_new",
            "n_embd": size.hidden, "n_layer": size.layers, "n_head": size.heads, "n_inner": size.intermediate,
            "n_positions": size.positions, "vocab_size": vocab, "layer_norm_epsilon": 1e-5,
            "bos_token_id": eos, "eos_token_id": eos, "tie_word_embeddings": true, "dtype": "float32",
        }),
        _ => {
            let mut c = json!({
                "architectures": [architecture], "model_type": model_type, "hidden_act": "silu",
                "hidden_size": size.hidden, "intermediate_size": size.intermediate,
                "num_hidden_layers": size.layers, "num_attention_heads": size.heads,
                "num_key_value_heads": size.kv_heads, "head_dim": size.hidden / size.heads,
                "max_position_embeddings": size.positions, "vocab_size": vocab, "rms_norm_eps": 1e-5,
                "bos_token_id": bos, "eos_token_id": eos, "dtype": "float32",
                // Qwen2 and Llama 3.2 tie their head; Llama (here) and Mistral do not.
                "tie_word_embeddings": family == Family::Qwen2,
            });
            match family {
                Family::Llama => {
                    c["rope_parameters"] = json!({
                        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                        "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64,
                    });
                    c["attention_bias"] = json!(false);
                    c["mlp_bias"] = json!(false);
                }
                Family::Qwen2 => {
                    c["rope_parameters"] = json!({ "rope_type": "default", "rope_theta": 1000000.0 });
                    c["use_sliding_window"] = json!(false);
                    c["sliding_window"] = Value::Null;
                }
                _ => {
                    c["rope_theta"] = json!(10000.0);
                    c["sliding_window"] = Value::Null;
                }
            }
            c
        }
    }
}

/// `tokenizer_config.json` of a checkpoint of `family`.
fn tokenizer_config(family: Family, size: &Size) -> Value {
    let s = specials(family);
    let class = match family {
        Family::Qwen2 => "Qwen2Tokenizer",
        Family::Gpt2 => "GPT2Tokenizer",
        Family::Llama | Family::Mistral => "PreTrainedTokenizerFast",
    };
    let mut tok_config = json!({
        "tokenizer_class": class,
        "eos_token": s.eos,
        "model_max_length": size.positions,
        // As older GPT-2 checkpoints say; transformers ignores it for BPE, and so does the engine.
        "clean_up_tokenization_spaces": family == Family::Gpt2,
    });
    if let Some(b) = s.bos {
        tok_config["bos_token"] = json!(b);
    }
    if let Some(t) = s.template {
        tok_config["chat_template"] = json!(t);
    }
    tok_config
}

/// Random weights: norms near 1, biases small, matrices scaled by their
/// fan-in so that logits are peaked (greedy decoding far from ties).
fn write_weights(dir: &Path, shapes: &[(String, Vec<i64>)], prefix: &str, shards: usize) -> Result<()> {
    tch::manual_seed(SEED);
    let mut tensors: Vec<(String, Vec<i64>, Vec<u8>)> = Vec::new();
    for (name, shape) in shapes {
        let t = Tensor::randn(shape.as_slice(), (Kind::Float, tch::Device::Cpu));
        let is_norm = name.contains("norm") || name.contains("ln_");
        let t = if is_norm && name.ends_with("weight") {
            t * 0.1 + 1.0
        } else if shape.len() == 1 {
            t * 0.05
        } else if name.contains("embed") || name.contains("wte") || name.contains("wpe") {
            t
        } else {
            // GPT-2's Conv1D weights are [in, out]; the others [out, in].
            let fan_in = if prefix.is_empty() { shape[1] } else { shape[0] };
            t * (1.0 / (fan_in as f64).sqrt())
        };
        let mut bytes = vec![0u8; t.numel() * 4];
        t.contiguous().copy_data_u8(&mut bytes, t.numel());
        tensors.push((format!("{prefix}{name}"), shape.clone(), bytes));
    }
    let metadata: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let shards = shards.clamp(1, tensors.len());
    if shards == 1 {
        return write_shard(&dir.join("model.safetensors"), &tensors, &metadata);
    }
    let per = tensors.len().div_ceil(shards);
    let mut weight_map = serde_json::Map::new();
    let total: usize = tensors.iter().map(|t| t.2.len()).sum();
    for (i, chunk) in tensors.chunks(per).enumerate() {
        let file = format!("model-{:05}-of-{:05}.safetensors", i + 1, shards);
        for t in chunk {
            weight_map.insert(t.0.clone(), json!(file));
        }
        write_shard(&dir.join(&file), chunk, &metadata)?;
    }
    write_json(
        &dir.join("model.safetensors.index.json"),
        &json!({ "metadata": { "total_size": total }, "weight_map": weight_map }),
    )
}

fn write_shard(path: &Path, tensors: &[(String, Vec<i64>, Vec<u8>)], metadata: &HashMap<String, String>) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(n, s, b)| {
            let shape: Vec<usize> = s.iter().map(|d| *d as usize).collect();
            TensorView::new(safetensors::Dtype::F32, shape, b).map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize_to_file(views, Some(metadata.clone()), path)
        .with_context(|| format!("writing {}", path.display()))
}
