//! Causal language models: the Llama family (Llama 2 and 3.x, TinyLlama,
//! SmolLM, Mistral without sliding window, Qwen2) and GPT-2, with a KV cache.
//!
//! The kernel path follows docs/determinism.md and transformers' eager
//! implementation: attention written out as matmul, scale, causal mask,
//! softmax in f32, matmul (never a fused attention kernel); RMSNorm in f32;
//! RoPE tables computed in f32 as transformers computes them.

use tch::{Device, Kind, Tensor};

use super::ModelError;
use super::config::{DecoderConfig, Gpt2Config};
use super::weights::Weights;

/// Keys and values seen so far, per layer: `[1, kv_heads, t, head_dim]`.
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    /// Positions already in the cache.
    pub len: i64,
}

impl KvCache {
    pub fn new(layers: i64) -> Self {
        KvCache { layers: (0..layers).map(|_| None).collect(), len: 0 }
    }
}

/// A decoder that turns tokens into next-token logits.
pub trait Decoder: Send {
    /// Logits `[t, vocab]` (f32) for `tokens`, continuing from `cache`;
    /// only the last position's when `last_only`.
    fn forward(&self, tokens: &[i64], cache: &mut KvCache, last_only: bool) -> Tensor;
    fn layers(&self) -> i64;
}

/// Attention of `q` (`[1, h, t, d]`) over `k`, `v` (`[1, kvh, T, d]`, the
/// cache included), queries at positions `T - t ..`; returns `[1, t, h * d]`.
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, scale: Scale) -> Tensor {
    let (b, h, t, d) = q.size4().expect("q is [1, h, t, d]");
    let (_, kvh, total, _) = k.size4().expect("k is [1, kvh, T, d]");
    let (k, v) = if kvh == h {
        (k.shallow_clone(), v.shallow_clone())
    } else {
        let rep = |x: &Tensor| x.unsqueeze(2).expand([b, kvh, h / kvh, total, d], false).reshape([b, h, total, d]);
        (rep(k), rep(v))
    };
    let scores = q.matmul(&k.transpose(2, 3));
    let mut scores = match scale {
        Scale::Mul(s) => scores * s,
        Scale::Div(s) => scores / s,
    };
    if t > 1 {
        // Query i (position total - t + i) sees keys 0..=total - t + i.
        let mask = Tensor::ones([t, total], (Kind::Bool, q.device())).triu(total - t + 1);
        scores = scores.masked_fill(&mask, f64::NEG_INFINITY);
    }
    let probs = scores.softmax(-1, Kind::Float).to_kind(q.kind());
    probs.matmul(&v).transpose(1, 2).contiguous().view([b, t, h * d])
}

/// How transformers scales attention scores (the two round differently).
#[derive(Clone, Copy)]
enum Scale {
    Mul(f64),
    Div(f64),
}

fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    x.linear(w, b)
}

struct LlamaLayer {
    input_norm: Tensor,
    q: (Tensor, Option<Tensor>),
    k: (Tensor, Option<Tensor>),
    v: (Tensor, Option<Tensor>),
    o: (Tensor, Option<Tensor>),
    post_norm: Tensor,
    gate: (Tensor, Option<Tensor>),
    up: (Tensor, Option<Tensor>),
    down: (Tensor, Option<Tensor>),
}

/// The Llama family.
pub struct Llama {
    cfg: DecoderConfig,
    embed: Tensor,
    layers: Vec<LlamaLayer>,
    norm: Tensor,
    head: Tensor,
    inv_freq: Tensor,
    kind: Kind,
    _weights: Weights,
}

// SAFETY: tensors are only read, by one thread at a time.
unsafe impl Send for Llama {}

impl Llama {
    /// Every tensor's name and shape.
    pub fn parameter_shapes(c: &DecoderConfig) -> Vec<(String, Vec<i64>)> {
        let (d, hd) = (c.hidden, c.head_dim);
        let mut out = vec![("model.embed_tokens.weight".to_string(), vec![c.vocab, d])];
        for l in 0..c.layers {
            let p = |s: &str| format!("model.layers.{l}.{s}");
            let mut add = |name: &str, shape: Vec<i64>, bias: bool| {
                out.push((p(&format!("{name}.weight")), shape.clone()));
                if bias {
                    out.push((p(&format!("{name}.bias")), vec![shape[0]]));
                }
            };
            add("self_attn.q_proj", vec![c.heads * hd, d], c.qkv_bias);
            add("self_attn.k_proj", vec![c.kv_heads * hd, d], c.qkv_bias);
            add("self_attn.v_proj", vec![c.kv_heads * hd, d], c.qkv_bias);
            add("self_attn.o_proj", vec![d, c.heads * hd], c.o_bias);
            add("mlp.gate_proj", vec![c.intermediate, d], c.mlp_bias);
            add("mlp.up_proj", vec![c.intermediate, d], c.mlp_bias);
            add("mlp.down_proj", vec![d, c.intermediate], c.mlp_bias);
            out.push((p("input_layernorm.weight"), vec![d]));
            out.push((p("post_attention_layernorm.weight"), vec![d]));
        }
        out.push(("model.norm.weight".into(), vec![d]));
        if !c.tie_embeddings {
            out.push(("lm_head.weight".into(), vec![c.vocab, d]));
        }
        out
    }

    /// Tensors a checkpoint may carry that the model does not read.
    pub fn ignored(c: &DecoderConfig) -> impl Fn(&str) -> bool + use<> {
        let tied = c.tie_embeddings;
        move |name: &str| name.ends_with("rotary_emb.inv_freq") || (tied && name == "lm_head.weight")
    }

    pub fn new(cfg: DecoderConfig, w: Weights, kind: Kind, device: Device) -> Result<Self, ModelError> {
        let lin = |name: String| (w.get(&format!("{name}.weight")), w.maybe(&format!("{name}.bias")));
        let layers = (0..cfg.layers)
            .map(|l| {
                let p = |s: &str| format!("model.layers.{l}.{s}");
                LlamaLayer {
                    input_norm: w.get(&p("input_layernorm.weight")),
                    q: lin(p("self_attn.q_proj")),
                    k: lin(p("self_attn.k_proj")),
                    v: lin(p("self_attn.v_proj")),
                    o: lin(p("self_attn.o_proj")),
                    post_norm: w.get(&p("post_attention_layernorm.weight")),
                    gate: lin(p("mlp.gate_proj")),
                    up: lin(p("mlp.up_proj")),
                    down: lin(p("mlp.down_proj")),
                }
            })
            .collect();
        let embed = w.get("model.embed_tokens.weight");
        let head = if cfg.tie_embeddings { embed.shallow_clone() } else { w.get("lm_head.weight") };
        let inv_freq = inv_freq(&cfg, device);
        Ok(Llama { embed, layers, norm: w.get("model.norm.weight"), head, inv_freq, kind, cfg, _weights: w })
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor) -> Tensor {
        let xf = x.to_kind(Kind::Float);
        let var = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let y = xf * (var + self.cfg.eps).rsqrt();
        w * y.to_kind(self.kind)
    }
}

/// transformers' `inv_freq`: `1 / theta ^ (arange(0, d, 2) / d)` in f32,
/// with Llama 3's frequency scaling when configured.
fn inv_freq(cfg: &DecoderConfig, device: Device) -> Tensor {
    let d = cfg.head_dim;
    let exps = Tensor::arange_start_step(0, d, 2, (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) / (d as f64);
    let base = Tensor::from(cfg.rope.theta as f32);
    let inv = base.pow(&exps).reciprocal();
    let inv = match cfg.rope.llama3 {
        None => inv,
        Some((factor, low, high, old_context)) => {
            let low_wavelen = old_context / low;
            let high_wavelen = old_context / high;
            let wavelen = inv.reciprocal() * (2.0 * std::f64::consts::PI);
            let scaled = inv.where_self(&wavelen.le(low_wavelen), &(&inv / factor));
            let smooth = (wavelen.reciprocal() * old_context - low) / (high - low);
            let smoothed = (smooth.ones_like() - &smooth) * &scaled / factor + &smooth * &scaled;
            let medium = wavelen.ge(high_wavelen).logical_and(&wavelen.le(low_wavelen));
            smoothed.where_self(&medium, &scaled)
        }
    };
    inv.to_device(device)
}

/// cos and sin tables `[t, head_dim]` for positions `start..start + t`.
fn rope_tables(inv_freq: &Tensor, start: i64, t: i64, kind: Kind) -> (Tensor, Tensor) {
    let pos = Tensor::arange_start(start, start + t, (Kind::Int64, inv_freq.device())).to_kind(Kind::Float);
    let freqs = pos.unsqueeze(1).matmul(&inv_freq.unsqueeze(0));
    let emb = Tensor::cat(&[&freqs, &freqs], -1);
    (emb.cos().to_kind(kind), emb.sin().to_kind(kind))
}

fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size()[3] / 2;
    let x1 = x.narrow(3, 0, half);
    let x2 = x.narrow(3, half, half);
    let rotated = Tensor::cat(&[&x2.neg(), &x1], -1);
    x * cos + rotated * sin
}

impl Decoder for Llama {
    fn layers(&self) -> i64 {
        self.cfg.layers
    }

    fn forward(&self, tokens: &[i64], cache: &mut KvCache, last_only: bool) -> Tensor {
        let c = &self.cfg;
        let device = self.embed.device();
        let t = tokens.len() as i64;
        let ids = Tensor::from_slice(tokens).to_device(device);
        let mut x = Tensor::embedding(&self.embed, &ids, -1, false, false).unsqueeze(0);
        let (cos, sin) = rope_tables(&self.inv_freq, cache.len, t, self.kind);
        let scale = Scale::Mul((c.head_dim as f64).powf(-0.5));
        for (l, layer) in self.layers.iter().enumerate() {
            let h = self.rms_norm(&x, &layer.input_norm);
            let heads = |y: Tensor, n: i64| y.view([1, t, n, c.head_dim]).transpose(1, 2);
            let q = heads(linear(&h, &layer.q.0, layer.q.1.as_ref()), c.heads);
            let k = heads(linear(&h, &layer.k.0, layer.k.1.as_ref()), c.kv_heads);
            let v = heads(linear(&h, &layer.v.0, layer.v.1.as_ref()), c.kv_heads);
            let (q, mut k, mut v) = (rotate(&q, &cos, &sin), rotate(&k, &cos, &sin), v);
            if let Some((pk, pv)) = cache.layers[l].take() {
                k = Tensor::cat(&[pk, k], 2);
                v = Tensor::cat(&[pv, v], 2);
            }
            let a = attend(&q, &k, &v, scale);
            cache.layers[l] = Some((k, v));
            x += linear(&a, &layer.o.0, layer.o.1.as_ref());
            let h = self.rms_norm(&x, &layer.post_norm);
            let gate = linear(&h, &layer.gate.0, layer.gate.1.as_ref()).silu();
            let up = linear(&h, &layer.up.0, layer.up.1.as_ref());
            x += linear(&(gate * up), &layer.down.0, layer.down.1.as_ref());
        }
        cache.len += t;
        let x = if last_only { x.narrow(1, t - 1, 1) } else { x };
        let x = self.rms_norm(&x, &self.norm);
        linear(&x, &self.head, None).squeeze_dim(0).to_kind(Kind::Float)
    }
}

struct Gpt2Layer {
    ln_1: (Tensor, Tensor),
    c_attn: (Tensor, Tensor),
    c_proj: (Tensor, Tensor),
    ln_2: (Tensor, Tensor),
    c_fc: (Tensor, Tensor),
    mlp_proj: (Tensor, Tensor),
}

/// GPT-2 (its projections are `Conv1D`: weights `[in, out]`).
pub struct Gpt2 {
    cfg: Gpt2Config,
    wte: Tensor,
    wpe: Tensor,
    layers: Vec<Gpt2Layer>,
    ln_f: (Tensor, Tensor),
    _weights: Weights,
}

// SAFETY: tensors are only read, by one thread at a time.
unsafe impl Send for Gpt2 {}

impl Gpt2 {
    /// Every tensor's name and shape (without the `transformer.` prefix).
    pub fn parameter_shapes(c: &Gpt2Config) -> Vec<(String, Vec<i64>)> {
        let d = c.hidden;
        let mut out = vec![("wte.weight".to_string(), vec![c.vocab, d]), ("wpe.weight".into(), vec![c.positions, d])];
        for l in 0..c.layers {
            let p = |s: &str| format!("h.{l}.{s}");
            out.extend([
                (p("ln_1.weight"), vec![d]),
                (p("ln_1.bias"), vec![d]),
                (p("attn.c_attn.weight"), vec![d, 3 * d]),
                (p("attn.c_attn.bias"), vec![3 * d]),
                (p("attn.c_proj.weight"), vec![d, d]),
                (p("attn.c_proj.bias"), vec![d]),
                (p("ln_2.weight"), vec![d]),
                (p("ln_2.bias"), vec![d]),
                (p("mlp.c_fc.weight"), vec![d, c.inner]),
                (p("mlp.c_fc.bias"), vec![c.inner]),
                (p("mlp.c_proj.weight"), vec![c.inner, d]),
                (p("mlp.c_proj.bias"), vec![d]),
            ]);
        }
        out.extend([("ln_f.weight".into(), vec![d]), ("ln_f.bias".into(), vec![d])]);
        out
    }

    /// Checkpoint names without `transformer.`.
    pub fn canonical(name: &str) -> String {
        name.strip_prefix("transformer.").unwrap_or(name).to_string()
    }

    /// Buffers and the tied head, which the model does not read.
    pub fn ignored(name: &str) -> bool {
        name == "lm_head.weight" || name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")
    }

    pub fn new(cfg: Gpt2Config, w: Weights) -> Self {
        let pair = |name: String| (w.get(&format!("{name}.weight")), w.get(&format!("{name}.bias")));
        let layers = (0..cfg.layers)
            .map(|l| Gpt2Layer {
                ln_1: pair(format!("h.{l}.ln_1")),
                c_attn: pair(format!("h.{l}.attn.c_attn")),
                c_proj: pair(format!("h.{l}.attn.c_proj")),
                ln_2: pair(format!("h.{l}.ln_2")),
                c_fc: pair(format!("h.{l}.mlp.c_fc")),
                mlp_proj: pair(format!("h.{l}.mlp.c_proj")),
            })
            .collect();
        Gpt2 { wte: w.get("wte.weight"), wpe: w.get("wpe.weight"), ln_f: pair("ln_f".into()), layers, cfg, _weights: w }
    }

    fn ln(&self, x: &Tensor, p: &(Tensor, Tensor)) -> Tensor {
        x.layer_norm([self.cfg.hidden], Some(&p.0), Some(&p.1), self.cfg.eps, false)
    }
}

/// `Conv1D`: `x @ w + b`.
fn conv1d(x: &Tensor, p: &(Tensor, Tensor)) -> Tensor {
    x.matmul(&p.0) + &p.1
}

impl Decoder for Gpt2 {
    fn layers(&self) -> i64 {
        self.cfg.layers
    }

    fn forward(&self, tokens: &[i64], cache: &mut KvCache, last_only: bool) -> Tensor {
        let c = &self.cfg;
        let device = self.wte.device();
        let t = tokens.len() as i64;
        let (d, h) = (c.hidden, c.heads);
        let hd = d / h;
        let ids = Tensor::from_slice(tokens).to_device(device);
        let pos = Tensor::arange_start(cache.len, cache.len + t, (Kind::Int64, device));
        let mut x = (Tensor::embedding(&self.wte, &ids, -1, false, false)
            + Tensor::embedding(&self.wpe, &pos, -1, false, false))
        .unsqueeze(0);
        let scale = Scale::Div((hd as f64).sqrt());
        for (l, layer) in self.layers.iter().enumerate() {
            let qkv = conv1d(&self.ln(&x, &layer.ln_1), &layer.c_attn).split(d, 2);
            let heads = |y: &Tensor| y.view([1, t, h, hd]).transpose(1, 2);
            let (q, mut k, mut v) = (heads(&qkv[0]), heads(&qkv[1]), heads(&qkv[2]));
            if let Some((pk, pv)) = cache.layers[l].take() {
                k = Tensor::cat(&[pk, k], 2);
                v = Tensor::cat(&[pv, v], 2);
            }
            let a = attend(&q, &k, &v, scale);
            cache.layers[l] = Some((k, v));
            x += conv1d(&a, &layer.c_proj);
            let m = conv1d(&conv1d(&self.ln(&x, &layer.ln_2), &layer.c_fc).gelu("tanh"), &layer.mlp_proj);
            x += m;
        }
        cache.len += t;
        let x = if last_only { x.narrow(1, t - 1, 1) } else { x };
        self.ln(&x, &self.ln_f).matmul(&self.wte.tr()).squeeze_dim(0).to_kind(Kind::Float)
    }
}
