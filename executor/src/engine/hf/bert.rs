//! BERT's encoder as sentence-transformers runs it for embeddings: token,
//! position and token-type (0) embeddings, post-norm encoder layers with
//! written-out attention and exact GELU, then the pooling of
//! `1_Pooling/config.json` (mean over the tokens, or the CLS token) and, when
//! `modules.json` lists a `Normalize` module, L2 normalisation.
//!
//! The texts of one request run in one forward pass, packed without padding:
//! the projections and the MLP see all their tokens at once (one large
//! matrix product, as a batch would), attention runs text by text, and
//! positions restart at each text. Requests are never batched together
//! (docs/determinism.md), so a request's bits depend on its own texts only.

use tch::{Kind, Tensor};

use super::config::BertConfig;
use super::weights::Weights;

/// How token vectors become one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

struct Layer {
    q: (Tensor, Tensor),
    k: (Tensor, Tensor),
    v: (Tensor, Tensor),
    attn_out: (Tensor, Tensor),
    attn_norm: (Tensor, Tensor),
    inter: (Tensor, Tensor),
    out: (Tensor, Tensor),
    out_norm: (Tensor, Tensor),
}

/// The encoder and its pooling.
pub struct Bert {
    cfg: BertConfig,
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    norm: (Tensor, Tensor),
    layers: Vec<Layer>,
    pub pooling: Pooling,
    pub normalize: bool,
    _weights: Weights,
}

// SAFETY: tensors are only read, by one thread at a time.
unsafe impl Send for Bert {}

impl Bert {
    /// Every tensor's name and shape (without a `bert.` prefix).
    pub fn parameter_shapes(c: &BertConfig) -> Vec<(String, Vec<i64>)> {
        let d = c.hidden;
        let mut out = vec![
            ("embeddings.word_embeddings.weight".to_string(), vec![c.vocab, d]),
            ("embeddings.position_embeddings.weight".into(), vec![c.positions, d]),
            ("embeddings.token_type_embeddings.weight".into(), vec![c.type_vocab, d]),
            ("embeddings.LayerNorm.weight".into(), vec![d]),
            ("embeddings.LayerNorm.bias".into(), vec![d]),
        ];
        for l in 0..c.layers {
            let p = |s: &str| format!("encoder.layer.{l}.{s}");
            for (name, shape) in [
                ("attention.self.query", vec![d, d]),
                ("attention.self.key", vec![d, d]),
                ("attention.self.value", vec![d, d]),
                ("attention.output.dense", vec![d, d]),
                ("attention.output.LayerNorm", vec![d]),
                ("intermediate.dense", vec![c.intermediate, d]),
                ("output.dense", vec![d, c.intermediate]),
                ("output.LayerNorm", vec![d]),
            ] {
                out.push((p(&format!("{name}.bias")), vec![shape[0]]));
                out.push((p(&format!("{name}.weight")), shape));
            }
        }
        out
    }

    /// Checkpoint names without `bert.`.
    pub fn canonical(name: &str) -> String {
        name.strip_prefix("bert.").unwrap_or(name).to_string()
    }

    /// The pooler (unused by sentence-transformers) and buffers.
    pub fn ignored(name: &str) -> bool {
        name.starts_with("pooler.") || name == "embeddings.position_ids" || name == "embeddings.token_type_ids"
    }

    pub fn new(cfg: BertConfig, w: Weights, pooling: Pooling, normalize: bool) -> Self {
        let pair = |name: String| (w.get(&format!("{name}.weight")), w.get(&format!("{name}.bias")));
        let layers = (0..cfg.layers)
            .map(|l| {
                let p = |s: &str| pair(format!("encoder.layer.{l}.{s}"));
                Layer {
                    q: p("attention.self.query"),
                    k: p("attention.self.key"),
                    v: p("attention.self.value"),
                    attn_out: p("attention.output.dense"),
                    attn_norm: p("attention.output.LayerNorm"),
                    inter: p("intermediate.dense"),
                    out: p("output.dense"),
                    out_norm: p("output.LayerNorm"),
                }
            })
            .collect();
        Bert {
            word: w.get("embeddings.word_embeddings.weight"),
            position: w.get("embeddings.position_embeddings.weight"),
            token_type: w.get("embeddings.token_type_embeddings.weight"),
            norm: pair("embeddings.LayerNorm".into()),
            layers,
            pooling,
            normalize,
            cfg,
            _weights: w,
        }
    }

    fn ln(&self, x: &Tensor, p: &(Tensor, Tensor)) -> Tensor {
        x.layer_norm([self.cfg.hidden], Some(&p.0), Some(&p.1), self.cfg.eps, false)
    }

    /// The token vectors `[total tokens, hidden]` of the texts, packed.
    pub fn encode(&self, texts: &[Vec<i64>]) -> Tensor {
        let c = &self.cfg;
        let device = self.word.device();
        let (d, h) = (c.hidden, c.heads);
        let hd = d / h;
        let lens: Vec<i64> = texts.iter().map(|t| t.len() as i64).collect();
        let total: i64 = lens.iter().sum();
        let ids = Tensor::from_slice(&texts.concat()).to_device(device);
        let positions: Vec<i64> = lens.iter().flat_map(|n| 0..*n).collect();
        let pos = Tensor::from_slice(&positions).to_device(device);
        let types = Tensor::zeros([total], (Kind::Int64, device));
        let emb = Tensor::embedding(&self.word, &ids, -1, false, false)
            + Tensor::embedding(&self.token_type, &types, -1, false, false)
            + Tensor::embedding(&self.position, &pos, -1, false, false);
        let mut x = self.ln(&emb, &self.norm);
        let scale = (hd as f64).powf(-0.5);
        for layer in &self.layers {
            let (q, k, v) = (
                x.linear(&layer.q.0, Some(&layer.q.1)),
                x.linear(&layer.k.0, Some(&layer.k.1)),
                x.linear(&layer.v.0, Some(&layer.v.1)),
            );
            let mut contexts = Vec::with_capacity(texts.len());
            let mut start = 0;
            for &t in &lens {
                let heads = |y: &Tensor| y.narrow(0, start, t).view([t, h, hd]).transpose(0, 1);
                let (q, k, v) = (heads(&q), heads(&k), heads(&v));
                let probs = (q.matmul(&k.transpose(1, 2)) * scale).softmax(-1, Kind::Float).to_kind(q.kind());
                contexts.push(probs.matmul(&v).transpose(0, 1).contiguous().view([t, d]));
                start += t;
            }
            let a = Tensor::cat(&contexts, 0);
            x = self.ln(&(a.linear(&layer.attn_out.0, Some(&layer.attn_out.1)) + &x), &layer.attn_norm);
            let inter = x.linear(&layer.inter.0, Some(&layer.inter.1)).gelu("none");
            x = self.ln(&(inter.linear(&layer.out.0, Some(&layer.out.1)) + &x), &layer.out_norm);
        }
        x
    }

    /// The texts' embeddings `[texts, hidden]` (f32).
    pub fn embed(&self, texts: &[Vec<i64>]) -> Tensor {
        let x = self.encode(texts).to_kind(Kind::Float);
        let mut rows = Vec::with_capacity(texts.len());
        let mut start = 0;
        for t in texts {
            let n = t.len() as i64;
            let tokens = x.narrow(0, start, n);
            start += n;
            let pooled = match self.pooling {
                Pooling::Mean => tokens.mean_dim(0, false, Kind::Float),
                Pooling::Cls => tokens.get(0),
            };
            rows.push(if self.normalize { &pooled / pooled.norm().clamp_min(1e-12) } else { pooled });
        }
        Tensor::stack(&rows, 0)
    }
}
