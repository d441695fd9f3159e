//! The built-in GPT-style decoder: byte-level vocabulary (256 tokens),
//! learned position embeddings, pre-norm blocks of written-out causal
//! self-attention and a GELU MLP, final layer norm, output projection tied
//! to the token embedding. Weights use GPT-2's names (`wte.weight`,
//! `h.0.attn.c_attn.weight`, ...).
//!
//! Generation is greedy, or sampled at a temperature from a seed (the
//! request's on-chain seed), with a KV cache: one forward pass over the
//! prompt, then one per new token. The kernel path is fixed: attention is
//! written out as matmul, mask, softmax, matmul (never a fused attention
//! kernel, whose choice varies), and sampling draws its uniform numbers from
//! Blake2b of the seed (`engine::sampling`, as every model), not from
//! libtorch's generator.
//!
//! It is not served by the Hugging Face GPT-2 path (`hf::decoder::Gpt2`),
//! though its weights use GPT-2's names: its MLP uses the exact GELU where
//! GPT-2 uses the tanh approximation, its weights are stored `[out, in]`
//! where GPT-2's Conv1D stores `[in, out]`, it has no tokenizer (bytes are
//! tokens) and its output is the raw token ids, not the text output. Served
//! by the GPT-2 path, every recorded output digest would change.
//!
//! Input (UTF-8 JSON): `{"prompt": "…", "max_tokens": 32, "temperature": 0.7}`
//! (`temperature` optional, 0 = greedy). Output: the new tokens, each a
//! little-endian u32.

use serde::Deserialize;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::{EngineError, ModelError, sampling};
use atoma_protocol::Digest;

/// Size of the byte-level vocabulary.
pub const VOCAB: i64 = atoma_manifest::GPT_VOCAB;

/// Architecture of a GPT model (the manifest's `[gpt]` table).
pub use atoma_manifest::GptConfig;

/// A GPT request, parsed from its input bytes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptInput {
    pub prompt: String,
    pub max_tokens: i64,
    #[serde(default)]
    pub temperature: f32,
}

impl GptInput {
    /// Parses and checks an input against the model's limits.
    pub fn parse(bytes: &[u8], cfg: &GptConfig) -> Result<Self, EngineError> {
        let input: GptInput = serde_json::from_slice(bytes).map_err(|e| {
            EngineError::bad_input(
                "invalid_json",
                format!("expected {{\"prompt\", \"max_tokens\"[, \"temperature\"]}}: {e}"),
            )
        })?;
        if input.prompt.is_empty() {
            return Err(EngineError::bad_input("empty_prompt", "the prompt is empty"));
        }
        if input.max_tokens < 1 || input.max_tokens > cfg.max_new_tokens {
            return Err(EngineError::bad_input(
                "max_tokens_out_of_range",
                format!("max_tokens must be 1 to {}", cfg.max_new_tokens),
            ));
        }
        if input.prompt.len() as i64 + input.max_tokens > cfg.context {
            return Err(EngineError::bad_input(
                "context_exceeded",
                format!(
                    "prompt ({} bytes) and max_tokens ({}) exceed the context of {} tokens",
                    input.prompt.len(),
                    input.max_tokens,
                    cfg.context
                ),
            ));
        }
        if !input.temperature.is_finite() || input.temperature < 0.0 || input.temperature > 10.0 {
            return Err(EngineError::bad_input("temperature_out_of_range", "temperature must be between 0 and 10"));
        }
        Ok(input)
    }

    /// The prompt's tokens (its bytes).
    pub fn tokens(&self) -> Vec<i64> {
        self.prompt.bytes().map(i64::from).collect()
    }
}

struct Block {
    ln_1: nn::LayerNorm,
    c_attn: nn::Linear,
    c_proj: nn::Linear,
    ln_2: nn::LayerNorm,
    c_fc: nn::Linear,
    mlp_proj: nn::Linear,
}

/// Keys and values of the positions seen so far, per layer: `[1, heads, t, head_dim]`.
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: i64,
}

/// The model, its weights in a `VarStore`.
pub struct Gpt {
    cfg: GptConfig,
    wte: nn::Embedding,
    wpe: nn::Embedding,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
}

impl Gpt {
    /// Declares the model's variables in `vs` (load the weights afterwards).
    /// Loads a model from a safetensors file onto `device`; the variables
    /// are frozen (inference only).
    pub fn load(cfg: GptConfig, weights: &std::path::Path, device: Device) -> Result<(Gpt, nn::VarStore), EngineError> {
        let mut vs = nn::VarStore::new(device);
        let model = Gpt::new(&vs.root(), cfg);
        vs.load(weights).map_err(|e| ModelError::caused(format!("loading {}", weights.display()), e))?;
        vs.freeze();
        Ok((model, vs))
    }

    pub fn new(vs: &nn::Path, cfg: GptConfig) -> Self {
        let d = cfg.d_model;
        let ln = |p: nn::Path| nn::layer_norm(p, vec![d], Default::default());
        let lin = |p: nn::Path, i, o| nn::linear(p, i, o, Default::default());
        let blocks = (0..cfg.n_layers)
            .map(|l| {
                let h = vs / "h" / l;
                Block {
                    ln_1: ln(&h / "ln_1"),
                    c_attn: lin(&h / "attn" / "c_attn", d, 3 * d),
                    c_proj: lin(&h / "attn" / "c_proj", d, d),
                    ln_2: ln(&h / "ln_2"),
                    c_fc: lin(&h / "mlp" / "c_fc", d, 4 * d),
                    mlp_proj: lin(&h / "mlp" / "c_proj", 4 * d, d),
                }
            })
            .collect();
        Gpt {
            cfg,
            wte: nn::embedding(vs / "wte", VOCAB, d, Default::default()),
            wpe: nn::embedding(vs / "wpe", cfg.context, d, Default::default()),
            blocks,
            ln_f: ln(vs / "ln_f"),
        }
    }

    pub fn config(&self) -> &GptConfig {
        &self.cfg
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: (0..self.cfg.n_layers).map(|_| None).collect(), len: 0 }
    }

    /// Logits `[1, t, 256]` for `tokens` (`[1, t]`), continuing from `cache`.
    // Out-of-place adds: the traced graph (TorchScript path) keeps no in-place ops.
    #[allow(clippy::assign_op_pattern)]
    pub fn forward_cached(&self, tokens: &Tensor, cache: &mut KvCache) -> Tensor {
        let (_, t) = tokens.size2().expect("tokens are [1, t]");
        let start = cache.len;
        let device = tokens.device();
        let positions = Tensor::arange_start(start, start + t, (Kind::Int64, device));
        let mut x = self.wte.forward(tokens) + self.wpe.forward(&positions).unsqueeze(0);
        for (l, block) in self.blocks.iter().enumerate() {
            let a = self.attention(block, &block.ln_1.forward(&x), &mut cache.layers[l], start);
            x = x + a;
            let m = block.mlp_proj.forward(&block.c_fc.forward(&block.ln_2.forward(&x)).gelu("none"));
            x = x + m;
        }
        cache.len = start + t;
        self.ln_f.forward(&x).matmul(&self.wte.ws.tr())
    }

    /// Logits for a whole sequence without a cache (the function traced for
    /// the TorchScript path).
    pub fn forward(&self, tokens: &Tensor) -> Tensor {
        self.forward_cached(tokens, &mut self.new_cache())
    }

    fn attention(&self, block: &Block, x: &Tensor, cache: &mut Option<(Tensor, Tensor)>, start: i64) -> Tensor {
        let (b, t, d) = x.size3().expect("activations are [1, t, d]");
        let h = self.cfg.n_heads;
        let hd = d / h;
        let heads = |y: Tensor| y.view([b, t, h, hd]).transpose(1, 2);
        let qkv = block.c_attn.forward(x).split(d, 2);
        let q = heads(qkv[0].shallow_clone());
        let (mut k, mut v) = (heads(qkv[1].shallow_clone()), heads(qkv[2].shallow_clone()));
        if let Some((pk, pv)) = cache.take() {
            k = Tensor::cat(&[pk, k], 2);
            v = Tensor::cat(&[pv, v], 2);
        }
        let total = start + t;
        let mut att = q.matmul(&k.transpose(-2, -1)) * (1.0 / (hd as f64).sqrt());
        if t > 1 {
            // Query i (position start + i) sees keys 0..=start + i.
            let mask = Tensor::ones([t, total], (Kind::Bool, x.device())).triu(start + 1);
            att = att.masked_fill(&mask, f64::NEG_INFINITY);
        }
        let y = att.softmax(-1, Kind::Float).matmul(&v);
        *cache = Some((k, v));
        block.c_proj.forward(&y.transpose(1, 2).contiguous().view([b, t, d]))
    }

    /// Generates `input.max_tokens` tokens; returns them and the number of
    /// forward passes.
    pub fn generate(&self, input: &GptInput, seed: &Digest, device: Device) -> Result<(Vec<u32>, u32), EngineError> {
        let mut cache = self.new_cache();
        let prompt = Tensor::from_slice(&input.tokens()).view([1, -1]).to_device(device);
        let mut logits = self.forward_cached(&prompt, &mut cache);
        let mut passes = 1;
        let mut out = Vec::with_capacity(input.max_tokens as usize);
        for step in 0..input.max_tokens {
            let last = logits.get(0).get(-1);
            let next = if input.temperature == 0.0 {
                last.argmax(0, false).int64_value(&[]) as u32
            } else {
                sampling::sample(&last, f64::from(input.temperature), 1.0, seed, step as u64)?
            };
            out.push(next);
            if step + 1 < input.max_tokens {
                let tok = Tensor::from_slice(&[next as i64]).view([1, 1]).to_device(device);
                logits = self.forward_cached(&tok, &mut cache);
                passes += 1;
            }
        }
        Ok((out, passes))
    }
}

/// A tensor of token ids `[1, t]` (a full forward pass's input).
pub fn token_tensor(tokens: &[i64]) -> Tensor {
    Tensor::from_slice(tokens).view([1, -1]).to_kind(Kind::Int64)
}

/// The canonical output bytes: each token as a little-endian u32.
pub fn encode_tokens(tokens: &[u32]) -> Vec<u8> {
    tokens.iter().flat_map(|t| t.to_le_bytes()).collect()
}
