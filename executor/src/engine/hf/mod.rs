//! Hugging Face checkpoints: a directory with `config.json`, safetensors
//! weights (one file or shards with `model.safetensors.index.json`),
//! `tokenizer.json` and, as the checkpoint has them, `tokenizer_config.json`
//! (special tokens, chat template), `chat_template.jinja`,
//! `generation_config.json` (end-of-sequence ids) and sentence-transformers'
//! `modules.json`, pooling config and `sentence_bert_config.json`.
//!
//! [`checkpoint_files`] lists exactly the files the engine reads: the model
//! manifest records a digest for each (`atoma-model import`), and the model's
//! on-chain digest covers them all (`manifest`), so a node cannot swap a
//! tokenizer or a template.
//!
//! Not for: the manifest and its digests (`crate::manifest`), deterministic
//! mode (`engine::profile`).

pub mod bert;
pub mod config;
pub mod decoder;
pub mod text;
pub mod weights;

use std::path::Path;

use atoma_protocol::Digest;
use serde_json::Value;
use tch::{Device, Kind, Tensor};

use super::{EngineError, sampling};
use atoma_protocol::output::{Embeddings, FinishReason, TextOutput};
use bert::{Bert, Pooling};
use config::{Arch, token_ids};
use decoder::{Decoder, Gpt2, KvCache, Llama};
use text::{GenerateRequest, Prompt, Text, parse_embed};

pub use super::ModelError;

/// The limits an operator sets for a checkpoint (the manifest's `[hf]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most new tokens one request may ask for.
    pub max_new_tokens: usize,
    /// Longest sequence (prompt and new tokens); at most the model's positions.
    pub context: Option<usize>,
}

fn read_json(dir: &Path, name: &str) -> Result<Value, ModelError> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::file(&path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::caused(format!("{}: not JSON", path.display()), e))
}

/// sentence-transformers' modules: the pooling config's directory and
/// whether a `Normalize` module follows.
fn modules(dir: &Path) -> Result<Option<(String, bool)>, ModelError> {
    if !dir.join("modules.json").exists() {
        return Ok(None);
    }
    let bad = |why: String| ModelError::new(format!("{}: {why}", dir.join("modules.json").display()));
    let list = read_json(dir, "modules.json")?;
    let list = list.as_array().ok_or_else(|| bad("not a list".into()))?;
    let (mut pooling, mut normalize) = (None, false);
    for m in list {
        let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
        let path = m.get("path").and_then(Value::as_str).unwrap_or_default();
        match kind.rsplit('.').next().unwrap_or_default() {
            "Transformer" if path.is_empty() => {}
            "Pooling" if !path.contains("..") && !path.starts_with('/') => pooling = Some(path.to_string()),
            "Normalize" => normalize = true,
            _ => return Err(bad(format!("module {kind:?} at {path:?} is not supported"))),
        }
    }
    let pooling = pooling.ok_or_else(|| bad("no Pooling module".into()))?;
    Ok(Some((format!("{pooling}/config.json"), normalize)))
}

/// The GGUF file of a directory that holds one and no `config.json`: a
/// checkpoint in llama.cpp's format (weights, tokenizer and chat template
/// in one file); `None` for a Hugging Face directory.
pub fn gguf_file(dir: &Path) -> Result<Option<String>, ModelError> {
    if dir.join("config.json").exists() {
        return Ok(None);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| ModelError::caused(dir.display().to_string(), e))?;
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".gguf"))
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(ModelError::new(format!(
            "{}: {n} GGUF files ({}); a checkpoint directory holds one",
            dir.display(),
            found.join(", ")
        ))),
    }
}

/// The files of `dir` the engine reads, as paths relative to `dir`, sorted:
/// its GGUF file alone, or a Hugging Face checkpoint's files.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<String>, ModelError> {
    if let Some(gguf) = gguf_file(dir)? {
        return Ok(vec![gguf]);
    }
    let mut files = vec!["config.json".to_string(), "tokenizer.json".to_string()];
    for optional in
        ["tokenizer_config.json", "chat_template.jinja", "generation_config.json", "sentence_bert_config.json"]
    {
        if dir.join(optional).exists() {
            files.push(optional.into());
        }
    }
    if let Some((pooling, _)) = modules(dir)? {
        files.push("modules.json".into());
        files.push(pooling);
    }
    files.extend(weights::weight_files(dir)?);
    for f in &files {
        if !dir.join(f).is_file() {
            return Err(ModelError::new(format!("{}: missing", dir.join(f).display())));
        }
    }
    files.sort();
    Ok(files)
}

/// A loaded checkpoint.
pub enum HfModel {
    Generate { decoder: Box<dyn Decoder>, text: Box<Text>, context: usize, max_new_tokens: usize },
    Embed { bert: Box<Bert>, text: Box<Text> },
}

impl HfModel {
    /// Loads the checkpoint of `dir` in `kind` on `device`. The caller has
    /// checked the files' digests.
    pub fn load(dir: &Path, limits: Limits, kind: Kind, device: Device) -> Result<Self, ModelError> {
        let config = read_json(dir, "config.json")?;
        let arch = Arch::from_config(&config)?;
        let generation = if dir.join("generation_config.json").exists() {
            read_json(dir, "generation_config.json")?
        } else {
            Value::Null
        };
        let mut eos = token_ids(generation.get("eos_token_id"));
        if eos.is_empty() {
            eos = token_ids(config.get("eos_token_id"));
        }
        let mut text = Text::load(dir, eos)?;
        let vocab = arch.vocab();
        if text.tokenizer.get_vocab_size(true) as i64 > vocab {
            return Err(ModelError::new(format!(
                "{}: {} tokens, more than the model's vocab_size {vocab}",
                dir.join("tokenizer.json").display(),
                text.tokenizer.get_vocab_size(true)
            )));
        }
        let positions = arch.max_positions() as usize;
        match arch {
            Arch::Bert(cfg) => {
                let (pool_file, normalize) = modules(dir)?.unwrap_or(("".into(), false));
                let pooling = if pool_file.is_empty() { Pooling::Mean } else { pooling(dir, &pool_file)? };
                let max_len = if dir.join("sentence_bert_config.json").exists() {
                    read_json(dir, "sentence_bert_config.json")?
                        .get("max_seq_length")
                        .and_then(Value::as_u64)
                        .map(|n| n as usize)
                        .unwrap_or(positions)
                        .min(positions)
                } else {
                    positions
                };
                let truncation = tokenizers::TruncationParams { max_length: max_len, ..Default::default() };
                text.tokenizer
                    .with_truncation(Some(truncation))
                    .map_err(|e| ModelError::caused("tokenizer.json: truncation", e))?;
                text.tokenizer.with_padding(None);
                let w = weights::Weights::load(
                    dir,
                    &Bert::parameter_shapes(&cfg),
                    &Bert::canonical,
                    &Bert::ignored,
                    kind,
                    device,
                )?;
                Ok(HfModel::Embed { bert: Box::new(Bert::new(cfg, w, pooling, normalize)), text: Box::new(text) })
            }
            Arch::Decoder(cfg) => {
                let w = weights::Weights::load(
                    dir,
                    &Llama::parameter_shapes(&cfg),
                    &|n: &str| n.to_string(),
                    &Llama::ignored(&cfg),
                    kind,
                    device,
                )?;
                let decoder = Box::new(Llama::new(cfg, w, kind, device)?);
                Self::generator(decoder, text, positions, limits)
            }
            Arch::Gpt2(cfg) => {
                let w = weights::Weights::load(
                    dir,
                    &Gpt2::parameter_shapes(&cfg),
                    &Gpt2::canonical,
                    &Gpt2::ignored,
                    kind,
                    device,
                )?;
                Self::generator(Box::new(Gpt2::new(cfg, w)), text, positions, limits)
            }
        }
    }

    pub(crate) fn generator(
        decoder: Box<dyn Decoder>,
        text: Text,
        positions: usize,
        limits: Limits,
    ) -> Result<Self, ModelError> {
        let context = limits.context.unwrap_or(positions);
        if context > positions || context < 2 {
            return Err(ModelError::new(format!(
                "manifest field `hf.context`: must be 2 to {positions} (the model's positions)"
            )));
        }
        if limits.max_new_tokens < 1 || limits.max_new_tokens >= context {
            return Err(ModelError::new(format!("manifest field `hf.max_new_tokens`: must be 1 to {}", context - 1)));
        }
        Ok(HfModel::Generate { decoder, text: Box::new(text), context, max_new_tokens: limits.max_new_tokens })
    }

    /// The tokenizer and template.
    pub fn text(&self) -> &Text {
        match self {
            HfModel::Generate { text, .. } | HfModel::Embed { text, .. } => text,
        }
    }

    /// Logits `[t, vocab]` of one forward pass over `tokens` (generation models).
    pub fn logits(&self, tokens: &[i64]) -> Option<Tensor> {
        match self {
            HfModel::Generate { decoder, .. } => {
                Some(decoder.forward(tokens, &mut KvCache::new(decoder.layers()), false))
            }
            HfModel::Embed { .. } => None,
        }
    }

    /// Runs one request: the output bytes and the forward passes;
    /// `on_text` receives a generation's text as it comes.
    pub fn run(
        &self,
        input: &[u8],
        seed: &Digest,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<(Vec<u8>, u32), EngineError> {
        match self {
            HfModel::Generate { decoder, text, context, max_new_tokens } => {
                let request = GenerateRequest::parse(input, *max_new_tokens)?;
                let (out, passes) = generate(decoder.as_ref(), text, *context, &request, seed, on_text)?;
                Ok((out.to_bytes(), passes))
            }
            HfModel::Embed { bert, text } => {
                let texts = parse_embed(input)?;
                let ids = texts
                    .iter()
                    .map(|t| Ok(text.encode(t, true)?.into_iter().map(i64::from).collect()))
                    .collect::<Result<Vec<Vec<i64>>, EngineError>>()?;
                if let Some(i) = ids.iter().position(Vec::is_empty) {
                    return Err(EngineError::bad_input("empty_input", format!("text {i} has no tokens")));
                }
                let rows = bert.embed(&ids).to_device(Device::Cpu).contiguous();
                let (_, dims) = rows.size2().map_err(|e| ModelError::caused("embedding rows", e))?;
                let values =
                    Vec::<f32>::try_from(rows.flatten(0, -1)).map_err(|e| ModelError::caused("embedding values", e))?;
                let out = Embeddings { rows: texts.len(), dims: dims as usize, values }.to_bytes();
                Ok((out, texts.len() as u32))
            }
        }
    }
}

fn pooling(dir: &Path, file: &str) -> Result<Pooling, ModelError> {
    let cfg = read_json(dir, file)?;
    let on = |k: &str| cfg.get(k).and_then(Value::as_bool).unwrap_or(false);
    let modes: Vec<&str> = [
        "pooling_mode_cls_token",
        "pooling_mode_mean_tokens",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
    ]
    .into_iter()
    .filter(|k| on(k))
    .collect();
    match modes.as_slice() {
        ["pooling_mode_mean_tokens"] => Ok(Pooling::Mean),
        ["pooling_mode_cls_token"] => Ok(Pooling::Cls),
        _ => Err(ModelError::new(format!(
            "{}: pooling {modes:?} is not supported (exactly one of mean or CLS)",
            dir.join(file).display()
        ))),
    }
}

/// Generates from a request: tokens until an end-of-sequence id, a stop
/// string or `max_tokens`. `on_text` receives the text as it is generated,
/// in pieces that join into the output's text (`text::Releaser`).
pub fn generate(
    decoder: &dyn Decoder,
    text: &Text,
    context: usize,
    request: &GenerateRequest,
    seed: &Digest,
    on_text: &mut dyn FnMut(&str),
) -> Result<(TextOutput, u32), EngineError> {
    let prompt = match &request.prompt {
        Prompt::Text(p) => text.encode(p, true)?,
        Prompt::Chat(messages) => text.encode(&text.render(messages)?, false)?,
    };
    if prompt.is_empty() {
        return Err(EngineError::bad_input("empty_prompt", "the prompt has no tokens"));
    }
    if prompt.len() + request.max_tokens > context {
        return Err(EngineError::bad_input(
            "context_exceeded",
            format!(
                "the prompt ({} tokens) and max_tokens ({}) exceed the context of {context} tokens",
                prompt.len(),
                request.max_tokens
            ),
        ));
    }
    let mut cache = KvCache::new(decoder.layers());
    let mut next_input: Vec<i64> = prompt.iter().map(|t| i64::from(*t)).collect();
    let mut tokens = Vec::new();
    let mut passes = 0;
    let mut releaser = text::Releaser::new(&request.stop);
    let (finish, text_out) = loop {
        let logits = decoder.forward(&next_input, &mut cache, true).squeeze_dim(0);
        passes += 1;
        let next = if request.temperature == 0.0 {
            logits.argmax(-1, false).int64_value(&[]) as u32
        } else {
            sampling::sample(&logits, request.temperature, request.top_p, seed, tokens.len() as u64)?
        };
        tokens.push(next);
        if text.eos.contains(&next) {
            break (FinishReason::Stop, text.decode(&tokens));
        }
        let decoded = text.decode(&tokens);
        if let Some(cut) = request.stop.iter().filter_map(|s| decoded.find(s.as_str())).min() {
            break (FinishReason::Stop, decoded[..cut].to_string());
        }
        if tokens.len() == request.max_tokens {
            break (FinishReason::Length, decoded);
        }
        if let Some(delta) = releaser.step(&text.settled(&tokens, &decoded)) {
            on_text(&delta);
        }
        next_input = vec![i64::from(next)];
    };
    if let Some(rest) = releaser.finish(&text_out) {
        on_text(&rest);
    }
    Ok((TextOutput { finish_reason: finish, prompt_tokens: prompt.len(), text: text_out, tokens }, passes))
}
