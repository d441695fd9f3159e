//! The tokenizer and chat template of a GGUF file, from its metadata, built
//! with the `tokenizers` crate as transformers (5.24) builds them from the
//! same file (`integrations/gguf/gguf_tokenizer_mapping.py`), so that a
//! prompt has the same ids in both.
//!
//! Keys read: `tokenizer.ggml.model` (`gpt2` or `llama`), `.tokens`,
//! `.merges`, `.scores`, `.token_type`, `.pre`, `.bos_token_id`,
//! `.eos_token_id`, `.unknown_token_id`, `.padding_token_id`,
//! `.add_bos_token`, `.add_eos_token`, and `tokenizer.chat_template`.
//!
//! `gpt2` (SmolLM2, Llama 3, Qwen2): a byte-level BPE over the tokens (one
//! not spelled in GPT-2's byte alphabet is respelled byte by byte), the
//! file's merges; a pre-tokenizer that is GPT-2's byte-level regex, or, for
//! a `tokenizer.ggml.pre` transformers knows (Llama 3's `llama-bpe`,
//! `qwen2`, …), that split's regex then bytes.
//!
//! `llama` (SentencePiece: Llama 2, TinyLlama, Mistral v0.1): a BPE with
//! byte fallback over the tokens, the file's merges or, as files have none,
//! those the scores imply (transformers' `generate_merges`); `▁` prepended
//! to the first word only (not legacy), decoded back to spaces.
//!
//! Both: control tokens (type 3) and the named BOS, EOS, unknown and padding
//! tokens as special added tokens, user-defined ones (type 4) as plain
//! added tokens; BOS (and EOS) added to a prompt as the file's flags say
//! (BOS by default for `llama`).
//!
//! Known differences from llama.cpp, kept to match transformers: llama.cpp
//! splits digits one by one for `smollm` (as SmolLM2's own `tokenizer.json`
//! does) and ignores merges for `llama-bpe`; transformers applies GPT-2's
//! regex and every merge. For SmolLM2 this changes nothing seen (its
//! vocabulary has no merges of digits); for Llama 3 only rare words.
//!
//! Not for: other tokenizer models (`t5`, `bert`, …), refused by name; the
//! model's weights (`super::llama`).

use std::cmp::Ordering;
use std::collections::HashSet;

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, DecoderWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::{Gguf, Value};
use crate::engine::hf::ModelError;
use crate::engine::hf::text::Text;

/// `llama_token_type`: a control token (`<|im_start|>`), matched whole and special.
const CONTROL: i64 = 3;
/// A user-defined token (`<think>`), matched whole but not special.
const USER_DEFINED: i64 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The split regex of a `tokenizer.ggml.pre`, as transformers'
/// `GGUF_PRE_TOKENIZER_SPLITS` lists it for the families served; `None`:
/// GPT-2's regex (the byte-level pre-tokenizer's own).
fn pre_split(pre: &str) -> Option<&'static str> {
    match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "smaug-bpe" | "dbrx" => Some(LLAMA3_SPLIT),
        "qwen2" | "deepseek-r1-qwen" | "megrez" => Some(QWEN2_SPLIT),
        _ => None,
    }
}

/// GPT-2's `bytes_to_unicode`: the printable character standing for each byte.
fn byte_spelling() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = (b'!'..=b'~').contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        out[b as usize] = if printable {
            char::from(b)
        } else {
            extra += 1;
            // 256 + n is a valid scalar value for n < 256.
            char::from_u32(255 + extra).unwrap_or('\0')
        };
    }
    out
}

/// Metadata access with errors that name the file and the key.
pub(crate) struct Meta<'a> {
    pub g: &'a Gguf,
    pub origin: &'a str,
}

impl Meta<'_> {
    pub fn err(&self, key: &str, why: impl std::fmt::Display) -> ModelError {
        ModelError::new(format!("{}: metadata `{key}`: {why}", self.origin))
    }

    /// An error about metadata `key` that `source` caused.
    pub fn caused(
        &self,
        key: &str,
        why: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ModelError {
        ModelError::caused(format!("{}: metadata `{key}`: {why}", self.origin), source)
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.g.get(key)
    }
    pub fn str(&self, key: &str) -> Result<Option<&str>, ModelError> {
        self.get(key).map(|v| v.as_str().ok_or_else(|| self.err(key, "is not a string"))).transpose()
    }
    pub fn uint(&self, key: &str) -> Result<Option<u64>, ModelError> {
        self.get(key).map(|v| v.as_u64().ok_or_else(|| self.err(key, "is not a non-negative integer"))).transpose()
    }
    pub fn float(&self, key: &str) -> Result<Option<f64>, ModelError> {
        self.get(key)
            .map(|v| v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.err(key, "is not a finite float")))
            .transpose()
    }
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "is not a bool")),
        }
    }
    fn strings(&self, key: &str) -> Result<Option<Vec<&str>>, ModelError> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let items = v.as_array().ok_or_else(|| self.err(key, "is not an array"))?;
        items
            .iter()
            .map(|i| i.as_str().ok_or_else(|| self.err(key, "is not an array of strings")))
            .collect::<Result<_, _>>()
            .map(Some)
    }
    fn ints(&self, key: &str) -> Result<Option<Vec<i64>>, ModelError> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let items = v.as_array().ok_or_else(|| self.err(key, "is not an array"))?;
        let int = |i: &Value| match *i {
            Value::I32(x) => Some(i64::from(x)),
            Value::U32(x) => Some(i64::from(x)),
            Value::I64(x) => Some(x),
            Value::I8(x) => Some(i64::from(x)),
            Value::U8(x) => Some(i64::from(x)),
            _ => None,
        };
        items
            .iter()
            .map(|i| int(i).ok_or_else(|| self.err(key, "is not an array of integers")))
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// transformers' `byte_level_tokenizer` (GPT2Tokenizer): the BPE over the
/// tokens respelled in the byte alphabet, GPT-2's regex or the named split,
/// the byte-level decoder; also the vocabulary as spelled.
fn byte_level_bpe(
    m: &Meta<'_>,
    tokens: &[&str],
    in_alphabet: &dyn Fn(&str) -> bool,
) -> Result<(Tokenizer, Vec<String>), ModelError> {
    let spelling = byte_spelling();
    let spelled: Vec<String> = tokens
        .iter()
        .map(|t| if in_alphabet(t) { t.to_string() } else { t.bytes().map(|b| spelling[b as usize]).collect() })
        .collect();
    // A later duplicate wins, as in transformers' dict comprehension.
    let vocab: Vocab = spelled.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let merges = file_merges(m)?.ok_or_else(|| m.err("tokenizer.ggml.merges", "missing"))?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .continuing_subword_prefix(String::new())
        .end_of_word_suffix(String::new())
        .fuse_unk(false)
        .build()
        .map_err(|e| m.caused("tokenizer.ggml.merges", "the BPE does not build", e))?;
    let mut tokenizer = Tokenizer::new(bpe);
    // transformers' GPT2Tokenizer: no prefix space, whatever
    // `tokenizer.ggml.add_space_prefix` says (byte-level files say false).
    let pre = m.str("tokenizer.ggml.pre")?.unwrap_or("default");
    let pre_tokenizer = match pre_split(pre) {
        None => PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
        Some(regex) => {
            let split = Split::new(SplitPattern::Regex(regex.into()), SplitDelimiterBehavior::Isolated, false)
                .map_err(|e| m.caused("tokenizer.ggml.pre", "split regex", e))?;
            PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Split(split),
                PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, false)),
            ]))
        }
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok((tokenizer, spelled))
}

/// transformers' `sentencepiece_tokenizer` (LlamaTokenizer, not legacy): a
/// BPE with byte fallback over the tokens as spelled (`▁` for a space),
/// the file's merges or those its scores imply; `▁` prepended to the first
/// word, and the decoder that undoes it.
fn sentencepiece_bpe(m: &Meta<'_>, tokens: &[&str]) -> Result<(Tokenizer, Vec<String>), ModelError> {
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
    let merges = match file_merges(m)? {
        Some(merges) => merges,
        None => {
            let key = "tokenizer.ggml.scores";
            let scores = m.get(key).ok_or_else(|| m.err(key, "missing, and there are no merges"))?;
            let scores = scores
                .as_array()
                .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                .ok_or_else(|| m.err(key, "is not an array of floats"))?;
            if scores.len() != tokens.len() {
                return Err(m.err(key, format!("{} scores for {} tokens", scores.len(), tokens.len())));
            }
            merges_from_scores(tokens, &scores, &vocab)
        }
    };
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| m.caused("tokenizer.ggml.tokens", "the BPE does not build", e))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::First, false)));
    let replace = Replace::new("▁", " ").map_err(|e| m.err("tokenizer.ggml.model", e))?;
    tokenizer.with_decoder(Some(DecoderSequence::new(vec![
        DecoderWrapper::Replace(replace),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
        DecoderWrapper::Strip(Strip::new(' ', 1, 0)),
    ])));
    Ok((tokenizer, tokens.iter().map(|t| t.to_string()).collect()))
}

/// `tokenizer.ggml.merges` as pairs, if the file has them.
fn file_merges(m: &Meta<'_>) -> Result<Option<Vec<(String, String)>>, ModelError> {
    let Some(lines) = m.strings("tokenizer.ggml.merges")? else { return Ok(None) };
    lines
        .iter()
        .map(|line| {
            let (a, b) = line.split_once(' ').ok_or_else(|| {
                m.err("tokenizer.ggml.merges", format!("{line:?} is not two tokens separated by a space"))
            })?;
            Ok((a.to_string(), b.to_string()))
        })
        .collect::<Result<Vec<_>, ModelError>>()
        .map(Some)
}

/// transformers' `generate_merges(vocab, vocab_scores)`: every split of
/// every token into two tokens of the vocabulary, ordered by the token's
/// score, then by the lengths of the halves (in characters), highest first;
/// ties keep the order of the tokens (first occurrence) and, within a
/// token, of the halves' ids.
fn merges_from_scores(tokens: &[&str], scores: &[f64], vocab: &Vocab) -> Vec<(String, String)> {
    // `dict(zip(tokens, scores))`: first-occurrence order, last score.
    let mut order: Vec<&str> = Vec::new();
    let mut score: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    for (t, s) in tokens.iter().zip(scores) {
        if score.insert(t, *s).is_none() {
            order.push(t);
        }
    }
    let mut merges: Vec<(&str, &str, f64)> = Vec::new();
    for t in order {
        let mut local: Vec<(&str, &str, f64)> = t
            .char_indices()
            .skip(1)
            .map(|(at, _)| t.split_at(at))
            .filter(|(l, r)| vocab.contains_key(*l) && vocab.contains_key(*r))
            .map(|(l, r)| (l, r, score[t]))
            .collect();
        local.sort_by_key(|(l, r, _)| (vocab[*l], vocab[*r]));
        merges.extend(local);
    }
    let key = |m: &(&str, &str, f64)| (m.2, m.0.chars().count(), m.1.chars().count());
    // Stable, highest first: Python's `sorted(..., reverse=True)` (where -0.0 == 0.0).
    merges.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.partial_cmp(&ka.0).unwrap_or(Ordering::Equal).then(kb.1.cmp(&ka.1)).then(kb.2.cmp(&ka.2))
    });
    merges.into_iter().map(|(l, r, _)| (l.to_string(), r.to_string())).collect()
}

/// The post-processor that adds BOS and EOS around every encoding, as the
/// file asks (`add_bos_token` defaults to true for SentencePiece), if any.
fn added_tokens(
    m: &Meta<'_>,
    tokens: &[&str],
    bos: Option<u32>,
    eos: Option<u32>,
    byte_level: bool,
) -> Result<Option<TemplateProcessing>, ModelError> {
    let add_bos = m.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(!byte_level);
    let add_eos = m.bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false);
    if !add_bos && !add_eos {
        return Ok(None);
    }
    let mut single = Vec::new();
    let mut specials = Vec::new();
    for (on, key, token) in
        [(add_bos, "tokenizer.ggml.bos_token_id", bos), (add_eos, "tokenizer.ggml.eos_token_id", eos)]
    {
        if on {
            let i = token.ok_or_else(|| m.err(key, "missing, and the file asks for the token to be added"))?;
            specials.push((tokens[i as usize].to_string(), i));
        }
    }
    if add_bos {
        single.push(format!("{}:0", specials[0].0));
    }
    single.push("$A:0".to_string());
    if add_eos {
        single.push(format!("{}:0", specials[specials.len() - 1].0));
    }
    let post = TemplateProcessing::builder()
        .try_single(single.join(" "))
        .map_err(|e| m.err("tokenizer.ggml.add_bos_token", e))?
        .special_tokens(specials)
        .build()
        .map_err(|e| m.err("tokenizer.ggml.add_bos_token", e))?;
    Ok(Some(post))
}

/// The tokenizer, chat template and special tokens of a GGUF file; `origin`
/// names the file in errors.
pub fn text(g: &Gguf, origin: &str) -> Result<Text, ModelError> {
    let m = Meta { g, origin };
    let model = m.str("tokenizer.ggml.model")?.ok_or_else(|| m.err("tokenizer.ggml.model", "missing"))?;
    let byte_level = match model {
        "gpt2" => true,
        "llama" => false,
        other => {
            return Err(m.err(
                "tokenizer.ggml.model",
                format!("{other:?} is not supported (gpt2: byte-level BPE; llama: SentencePiece BPE)"),
            ));
        }
    };
    let tokens = m.strings("tokenizer.ggml.tokens")?.ok_or_else(|| m.err("tokenizer.ggml.tokens", "missing"))?;
    let types = m.ints("tokenizer.ggml.token_type")?.unwrap_or_default();
    if !types.is_empty() && types.len() != tokens.len() {
        return Err(m.err("tokenizer.ggml.token_type", format!("{} types for {} tokens", types.len(), tokens.len())));
    }
    let id = |key: &str| -> Result<Option<u32>, ModelError> {
        match m.uint(key)? {
            None => Ok(None),
            Some(i) if (i as usize) < tokens.len() => Ok(Some(i as u32)),
            Some(i) => Err(m.err(key, format!("{i} is not a token id (there are {})", tokens.len()))),
        }
    };
    let bos = id("tokenizer.ggml.bos_token_id")?;
    let eos = id("tokenizer.ggml.eos_token_id")?;
    let unk = id("tokenizer.ggml.unknown_token_id")?;
    let pad = id("tokenizer.ggml.padding_token_id")?;

    let alphabet = ByteLevel::alphabet();
    // Which tokens may be added whole: for a byte-level vocabulary, only
    // those spelled in its alphabet (another is a byte sequence llama.cpp
    // mislabelled).
    let addable = |t: &str| !byte_level || t.chars().all(|c| alphabet.contains(&c));
    let (mut tokenizer, spelled) =
        if byte_level { byte_level_bpe(&m, &tokens, &addable)? } else { sentencepiece_bpe(&m, &tokens)? };

    // Control tokens, then the named special tokens.
    let kind = |i: usize| types.get(i).copied().unwrap_or(1);
    let mut special: Vec<AddedToken> = (0..tokens.len())
        .filter(|&i| kind(i) == CONTROL && addable(tokens[i]))
        .map(|i| AddedToken::from(tokens[i].to_string(), true).normalized(false))
        .collect();
    for i in [unk, bos, eos, pad].into_iter().flatten() {
        let t = tokens[i as usize];
        if addable(t) && kind(i as usize) != CONTROL {
            special.push(AddedToken::from(t.to_string(), true).normalized(false));
        }
    }
    tokenizer.add_special_tokens(special).map_err(|e| m.err("tokenizer.ggml.token_type", e))?;
    let vocab_has: HashSet<&str> = spelled.iter().map(String::as_str).collect();
    let user: Vec<AddedToken> = (0..tokens.len())
        .filter(|&i| kind(i) == USER_DEFINED && vocab_has.contains(tokens[i]))
        .map(|i| AddedToken::from(tokens[i].to_string(), false).normalized(false))
        .collect();
    tokenizer.add_tokens(user).map_err(|e| m.err("tokenizer.ggml.token_type", e))?;

    // transformers (as llama.cpp) adds BOS to a SentencePiece vocabulary
    // whose file does not say otherwise.
    if let Some(post) = added_tokens(&m, &tokens, bos, eos, byte_level)? {
        tokenizer.with_post_processor(Some(post));
    }

    let template = m.str("tokenizer.chat_template")?.map(str::to_string);
    let specials = [("bos_token", bos), ("eos_token", eos), ("pad_token", pad), ("unk_token", unk)]
        .into_iter()
        .filter_map(|(k, i)| Some((k.to_string(), tokens[i? as usize].to_string())))
        .collect();
    Text::from_parts(tokenizer, template, specials, eos.into_iter().collect(), origin)
}

#[cfg(test)]
mod tests;
