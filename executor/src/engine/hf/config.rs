//! `config.json` of a Hugging Face checkpoint, read into one of the
//! architectures the engine runs. Fields the engine does not implement are
//! refused by name (an activation other than the architecture's, sliding
//! window attention, a RoPE type other than `default` and `llama3`,
//! quantisation); fields that do not change outputs (dropout, `use_cache`)
//! are ignored.

use serde_json::{Map, Value};

use super::ModelError;

/// The supported architectures.
#[derive(Clone, Debug, PartialEq)]
pub enum Arch {
    /// `LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`.
    Decoder(DecoderConfig),
    /// `GPT2LMHeadModel`.
    Gpt2(Gpt2Config),
    /// `BertModel` (sentence embeddings).
    Bert(BertConfig),
}

/// RoPE frequencies.
#[derive(Clone, Debug, PartialEq)]
pub struct Rope {
    pub theta: f64,
    /// Llama 3.x frequency scaling: factor, low and high frequency factors,
    /// original context.
    pub llama3: Option<(f64, f64, f64, f64)>,
}

/// A Llama-family decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU).
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    pub architecture: String,
    pub hidden: i64,
    pub intermediate: i64,
    pub layers: i64,
    pub heads: i64,
    pub kv_heads: i64,
    pub head_dim: i64,
    pub vocab: i64,
    pub eps: f64,
    pub rope: Rope,
    pub max_positions: i64,
    pub tie_embeddings: bool,
    /// Bias on the q, k and v projections (Qwen2; Llama's `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the output projection (Llama's `attention_bias`).
    pub o_bias: bool,
    pub mlp_bias: bool,
}

/// GPT-2.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpt2Config {
    pub hidden: i64,
    pub layers: i64,
    pub heads: i64,
    pub inner: i64,
    pub vocab: i64,
    pub positions: i64,
    pub eps: f64,
}

/// BERT's encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    pub hidden: i64,
    pub layers: i64,
    pub heads: i64,
    pub intermediate: i64,
    pub vocab: i64,
    pub positions: i64,
    pub type_vocab: i64,
    pub eps: f64,
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn err(field: &str, why: impl std::fmt::Display) -> ModelError {
        ModelError::new(format!("config.json: field `{field}`: {why}"))
    }
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }
    fn int(&self, field: &str) -> Result<i64, ModelError> {
        self.int_or(field, None)
    }
    fn int_or(&self, field: &str, default: Option<i64>) -> Result<i64, ModelError> {
        match self.get(field) {
            None => default.ok_or_else(|| Self::err(field, "missing")),
            Some(v) => v
                .as_i64()
                .filter(|n| (1..=1 << 24).contains(n))
                .ok_or_else(|| Self::err(field, format!("{v} is not a positive integer"))),
        }
    }
    fn float_or(&self, field: &str, default: f64) -> Result<f64, ModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| Self::err(field, format!("{v} is not a positive number"))),
        }
    }
    fn bool_or(&self, field: &str, default: bool) -> Result<bool, ModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| Self::err(field, format!("{v} is not true or false"))),
        }
    }
    fn str_or<'b>(&'b self, field: &str, default: &'b str) -> Result<&'b str, ModelError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| Self::err(field, format!("{v} is not a string"))),
        }
    }
    fn require(&self, field: &str, ok: bool, why: &str) -> Result<(), ModelError> {
        if ok { Ok(()) } else { Err(Self::err(field, why)) }
    }
}

/// Token ids that may be one integer or a list (`eos_token_id`).
pub fn token_ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().filter_map(|n| n.as_u64()).map(|n| n as u32).collect(),
        _ => Vec::new(),
    }
}

impl Arch {
    /// Reads a parsed `config.json`.
    pub fn from_config(config: &Value) -> Result<Self, ModelError> {
        let map = config.as_object().ok_or_else(|| ModelError::new("config.json: not a JSON object"))?;
        let f = Fields(map);
        let architecture = match f.get("architectures") {
            Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => a[0].as_str().unwrap_or_default().to_string(),
            Some(v) => return Err(Fields::err("architectures", format!("{v} is not a list of one name"))),
            None => return Err(Fields::err("architectures", "missing")),
        };
        if f.get("quantization_config").is_some() {
            return Err(Fields::err("quantization_config", "quantised checkpoints are not served"));
        }
        match architecture.as_str() {
            "LlamaForCausalLM" | "MistralForCausalLM" | "Qwen2ForCausalLM" => {
                decoder(&f, architecture).map(Arch::Decoder)
            }
            "GPT2LMHeadModel" => gpt2(&f).map(Arch::Gpt2),
            "BertModel" => bert(&f).map(Arch::Bert),
            other => Err(Fields::err(
                "architectures",
                format!(
                    "{other} is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, \
                     GPT2LMHeadModel, BertModel)"
                ),
            )),
        }
    }

    /// The longest sequence the model's positions allow.
    pub fn max_positions(&self) -> i64 {
        match self {
            Arch::Decoder(c) => c.max_positions,
            Arch::Gpt2(c) => c.positions,
            Arch::Bert(c) => c.positions,
        }
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> i64 {
        match self {
            Arch::Decoder(c) => c.vocab,
            Arch::Gpt2(c) => c.vocab,
            Arch::Bert(c) => c.vocab,
        }
    }
}

fn decoder(f: &Fields<'_>, architecture: String) -> Result<DecoderConfig, ModelError> {
    let qwen2 = architecture == "Qwen2ForCausalLM";
    let hidden = f.int("hidden_size")?;
    let heads = f.int("num_attention_heads")?;
    let kv_heads = f.int_or("num_key_value_heads", Some(heads))?;
    f.require("num_key_value_heads", heads % kv_heads == 0, "must divide num_attention_heads")?;
    let head_dim = f.int_or("head_dim", Some(hidden / heads))?;
    f.require("head_dim", head_dim % 2 == 0, "must be even (RoPE)")?;
    f.require("hidden_act", f.str_or("hidden_act", "silu")? == "silu", "only silu (SwiGLU) is supported")?;
    f.require("pretraining_tp", f.int_or("pretraining_tp", Some(1))? == 1, "only 1 is supported")?;
    // Sliding-window attention is not implemented: refuse a checkpoint that uses it.
    let window = f.get("sliding_window").and_then(Value::as_i64);
    let uses_window = if qwen2 { f.bool_or("use_sliding_window", false)? } else { window.is_some() };
    f.require("sliding_window", !uses_window, "sliding-window attention is not supported")?;
    if let Some(Value::Array(types)) = f.get("layer_types") {
        let full = types.iter().all(|t| t.as_str() == Some("full_attention"));
        f.require("layer_types", full, "only full_attention layers are supported")?;
    }
    let rope = rope(f)?;
    let attention_bias = f.bool_or("attention_bias", false)?;
    Ok(DecoderConfig {
        hidden,
        intermediate: f.int("intermediate_size")?,
        layers: f.int("num_hidden_layers")?,
        heads,
        kv_heads,
        head_dim,
        vocab: f.int("vocab_size")?,
        eps: f.float_or("rms_norm_eps", 1e-6)?,
        rope,
        max_positions: f.int("max_position_embeddings")?,
        tie_embeddings: f.bool_or("tie_word_embeddings", false)?,
        qkv_bias: qwen2 || attention_bias,
        o_bias: !qwen2 && attention_bias,
        mlp_bias: !qwen2 && f.bool_or("mlp_bias", false)?,
        architecture,
    })
}

/// RoPE from `rope_parameters` (transformers 5) or `rope_theta` and
/// `rope_scaling` (older checkpoints).
fn rope(f: &Fields<'_>) -> Result<Rope, ModelError> {
    let (field, params) = match (f.get("rope_parameters"), f.get("rope_scaling")) {
        (Some(p), _) => ("rope_parameters", Some(p)),
        (None, Some(p)) => ("rope_scaling", Some(p)),
        (None, None) => ("rope_scaling", None),
    };
    let mut theta = f.float_or("rope_theta", 10_000.0)?;
    let Some(params) = params else { return Ok(Rope { theta, llama3: None }) };
    let p = Fields(params.as_object().ok_or_else(|| Fields::err(field, "not an object"))?);
    if p.get("rope_theta").is_some() {
        theta = p.float_or("rope_theta", theta).map_err(|e| Fields::err(&format!("{field}.rope_theta"), e))?;
    }
    let kind = p.get("rope_type").or(p.get("type")).and_then(Value::as_str).unwrap_or("default");
    match kind {
        "default" => Ok(Rope { theta, llama3: None }),
        "llama3" => {
            let num = |name: &str| {
                p.get(name)
                    .and_then(Value::as_f64)
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| Fields::err(&format!("{field}.{name}"), "missing or not a positive number"))
            };
            let scaling = (
                num("factor")?,
                num("low_freq_factor")?,
                num("high_freq_factor")?,
                num("original_max_position_embeddings")?,
            );
            if scaling.2 <= scaling.1 {
                return Err(Fields::err(&format!("{field}.high_freq_factor"), "must exceed low_freq_factor"));
            }
            Ok(Rope { theta, llama3: Some(scaling) })
        }
        other => {
            Err(Fields::err(&format!("{field}.rope_type"), format!("{other:?} is not supported (default, llama3)")))
        }
    }
}

fn gpt2(f: &Fields<'_>) -> Result<Gpt2Config, ModelError> {
    let act = f.str_or("activation_function", "gelu_new")?;
    f.require("activation_function", act == "gelu_new", "only gelu_new is supported")?;
    f.require("scale_attn_weights", f.bool_or("scale_attn_weights", true)?, "only true is supported")?;
    for field in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"] {
        f.require(field, !f.bool_or(field, false)?, "only false is supported")?;
    }
    f.require("tie_word_embeddings", f.bool_or("tie_word_embeddings", true)?, "GPT-2's head is tied")?;
    let hidden = f.int("n_embd")?;
    let heads = f.int("n_head")?;
    f.require("n_head", hidden % heads == 0, "must divide n_embd")?;
    Ok(Gpt2Config {
        hidden,
        layers: f.int("n_layer")?,
        heads,
        inner: f.int_or("n_inner", Some(4 * hidden))?,
        vocab: f.int("vocab_size")?,
        positions: f.int("n_positions")?,
        eps: f.float_or("layer_norm_epsilon", 1e-5)?,
    })
}

fn bert(f: &Fields<'_>) -> Result<BertConfig, ModelError> {
    f.require("hidden_act", f.str_or("hidden_act", "gelu")? == "gelu", "only gelu is supported")?;
    let pos = f.str_or("position_embedding_type", "absolute")?;
    f.require("position_embedding_type", pos == "absolute", "only absolute is supported")?;
    f.require("is_decoder", !f.bool_or("is_decoder", false)?, "only encoders are supported")?;
    let hidden = f.int("hidden_size")?;
    let heads = f.int("num_attention_heads")?;
    f.require("num_attention_heads", hidden % heads == 0, "must divide hidden_size")?;
    Ok(BertConfig {
        hidden,
        layers: f.int("num_hidden_layers")?,
        heads,
        intermediate: f.int("intermediate_size")?,
        vocab: f.int("vocab_size")?,
        positions: f.int("max_position_embeddings")?,
        type_vocab: f.int_or("type_vocab_size", Some(2))?,
        eps: f.float_or("layer_norm_eps", 1e-12)?,
    })
}
