//! Text in and out: the request formats, tokenization with the `tokenizers`
//! crate from `tokenizer.json`, chat templates rendered with `minijinja` as
//! transformers and text-generation-inference render them, stop conditions,
//! sampling from the request's seed, and the canonical output bytes.
//!
//! Generation input (UTF-8 JSON):
//! `{"prompt": "…"}` or `{"messages": [{"role": "user", "content": "…"}]}`,
//! with optional `max_tokens` (default: the manifest's `max_new_tokens`),
//! `temperature` (default 0, greedy), `top_p` (default 1) and `stop` (a
//! string or up to 4 strings). Embedding input: `{"input": "…"}` or
//! `{"input": ["…", …]}`.
//!
//! Output bytes (what the digest commits to) are `atoma_protocol::output`'s
//! text output (the new token ids, and their text as
//! `decode(skip_special_tokens)` gives it, cut before a stop string) and
//! embedding output (f32, `[texts, hidden]`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokenizers::Tokenizer;

use super::ModelError;
use crate::engine::EngineError;

/// Most stop strings a request may give, and their longest length in bytes.
pub const MAX_STOPS: usize = 4;
const MAX_STOP_BYTES: usize = 256;
/// Most texts in one embedding request.
pub const MAX_TEXTS: usize = 64;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerate {
    prompt: Option<String>,
    messages: Option<Vec<Message>>,
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    stop: Option<OneOrMany>,
}

/// What to generate from.
#[derive(Clone, Debug, PartialEq)]
pub enum Prompt {
    Text(String),
    Chat(Vec<Message>),
}

/// A checked generation request.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub max_tokens: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub stop: Vec<String>,
}

fn utf8(bytes: &[u8]) -> Result<&str, EngineError> {
    std::str::from_utf8(bytes)
        .map_err(|e| EngineError::bad_input("invalid_utf8", format!("the input is not UTF-8: {e}")))
}

impl GenerateRequest {
    /// Parses and checks a generation input; `max_new_tokens` is the
    /// manifest's limit.
    pub fn parse(bytes: &[u8], max_new_tokens: usize) -> Result<Self, EngineError> {
        let raw: RawGenerate = serde_json::from_str(utf8(bytes)?).map_err(|e| {
            EngineError::bad_input(
                "invalid_json",
                format!(
                    "expected {{\"prompt\" or \"messages\"[, \"max_tokens\", \"temperature\", \"top_p\", \"stop\"]}}: {e}"
                ),
            )
        })?;
        let prompt = match (raw.prompt, raw.messages) {
            (Some(p), None) if !p.is_empty() => Prompt::Text(p),
            (Some(_), None) => return Err(EngineError::bad_input("empty_prompt", "the prompt is empty")),
            (None, Some(m)) if !m.is_empty() => Prompt::Chat(m),
            (None, Some(_)) => return Err(EngineError::bad_input("empty_prompt", "messages is empty")),
            (Some(_), Some(_)) => {
                return Err(EngineError::bad_input("invalid_request", "give either prompt or messages, not both"));
            }
            (None, None) => return Err(EngineError::bad_input("invalid_request", "give prompt or messages")),
        };
        let max_tokens = raw.max_tokens.unwrap_or(max_new_tokens as i64);
        if max_tokens < 1 || max_tokens > max_new_tokens as i64 {
            return Err(EngineError::bad_input(
                "max_tokens_out_of_range",
                format!("max_tokens must be 1 to {max_new_tokens}"),
            ));
        }
        let temperature = raw.temperature.unwrap_or(0.0);
        if !(0.0..=10.0).contains(&temperature) {
            return Err(EngineError::bad_input("temperature_out_of_range", "temperature must be between 0 and 10"));
        }
        let top_p = raw.top_p.unwrap_or(1.0);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(EngineError::bad_input("top_p_out_of_range", "top_p must be above 0 and at most 1"));
        }
        let stop = raw.stop.map(OneOrMany::into_vec).unwrap_or_default();
        if stop.len() > MAX_STOPS || stop.iter().any(|s| s.is_empty() || s.len() > MAX_STOP_BYTES) {
            return Err(EngineError::bad_input(
                "invalid_stop",
                format!("stop must be at most {MAX_STOPS} strings of 1 to {MAX_STOP_BYTES} bytes"),
            ));
        }
        Ok(GenerateRequest { prompt, max_tokens: max_tokens as usize, temperature, top_p, stop })
    }
}

/// Parses an embedding input: one text or up to [`MAX_TEXTS`].
pub fn parse_embed(bytes: &[u8]) -> Result<Vec<String>, EngineError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        input: OneOrMany,
    }
    let raw: Raw = serde_json::from_str(utf8(bytes)?).map_err(|e| {
        EngineError::bad_input("invalid_json", format!("expected {{\"input\": \"…\" or [\"…\", …]}}: {e}"))
    })?;
    let texts = raw.input.into_vec();
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(EngineError::bad_input("invalid_input", format!("input must hold 1 to {MAX_TEXTS} texts")));
    }
    Ok(texts)
}

/// The tokenizer, the chat template and the special tokens of a checkpoint.
pub struct Text {
    pub tokenizer: Tokenizer,
    /// The chat template, compiled once at load (as the template `chat`).
    chat: Option<minijinja::Environment<'static>>,
    /// Special tokens the template may use (`bos_token`, `eos_token`, …).
    specials: Vec<(String, String)>,
    /// End-of-sequence ids: generation stops at any of them.
    pub eos: Vec<u32>,
    /// Byte tokens (`<0xNN>`, SentencePiece's byte fallback), whose run a
    /// later byte may turn into U+FFFD when decoded.
    byte_tokens: std::collections::HashSet<u32>,
}

/// A special token in `tokenizer_config.json`: a string or `{"content": …}`.
fn token_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl Text {
    /// Loads `tokenizer.json`, the chat template (`chat_template.jinja`, or
    /// `chat_template` in `tokenizer_config.json`) and the special tokens.
    pub fn load(dir: &Path, eos: Vec<u32>) -> Result<Self, ModelError> {
        let path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&path)
            .map_err(|e| ModelError::caused(format!("{}: does not load", path.display()), e))?;
        let config_path = dir.join("tokenizer_config.json");
        let config: Value = if config_path.exists() {
            let text = std::fs::read_to_string(&config_path).map_err(|e| ModelError::file(&config_path, e))?;
            serde_json::from_str(&text).map_err(|e| ModelError::caused(config_path.display().to_string(), e))?
        } else {
            Value::Null
        };
        let jinja = dir.join("chat_template.jinja");
        let template = if jinja.exists() {
            Some(std::fs::read_to_string(&jinja).map_err(|e| ModelError::file(&jinja, e))?)
        } else {
            match config.get("chat_template") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(named)) => named
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                    .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
                Some(_) => {
                    return Err(ModelError::new(format!(
                        "{}: field `chat_template` is neither a string nor a list of named templates",
                        config_path.display()
                    )));
                }
            }
        };
        let specials = ["bos_token", "eos_token", "pad_token", "unk_token"]
            .iter()
            .filter_map(|k| Some((k.to_string(), token_string(config.get(*k)?)?)))
            .collect();
        Self::from_parts(tokenizer, template, specials, eos, &dir.display().to_string())
    }

    /// A checkpoint's text side from its parts, wherever they were read
    /// (`tokenizer.json` and its config, or a GGUF file's metadata):
    /// `specials` are the template's `bos_token`, `eos_token`, … values;
    /// `origin` names the checkpoint in errors.
    pub(crate) fn from_parts(
        tokenizer: Tokenizer,
        template: Option<String>,
        specials: Vec<(String, String)>,
        eos: Vec<u32>,
        origin: &str,
    ) -> Result<Self, ModelError> {
        let chat = match template {
            None => None,
            Some(t) => {
                let mut env = environment();
                // A template that does not even compile is a bad checkpoint, refused at start.
                env.add_template_owned("chat", t)
                    .map_err(|e| ModelError::caused(format!("{origin}: chat_template does not compile"), e))?;
                Some(env)
            }
        };
        let byte_tokens =
            tokenizer.get_vocab(true).into_iter().filter(|(token, _)| is_byte_token(token)).map(|(_, id)| id).collect();
        let mut text = Text { tokenizer, chat, specials, eos, byte_tokens };
        // transformers tokenizes a prompt without the truncation or padding a
        // tokenizer.json may carry; so does the engine (embedding models set
        // their own truncation after this).
        text.tokenizer.with_truncation(None).map_err(|e| ModelError::caused(format!("{origin}: truncation"), e))?;
        text.tokenizer.with_padding(None);
        Ok(text)
    }

    /// Whether the checkpoint has a chat template.
    pub fn has_template(&self) -> bool {
        self.chat.is_some()
    }

    /// Renders chat messages with the template (generation prompt added).
    pub fn render(&self, messages: &[Message]) -> Result<String, EngineError> {
        let env = self.chat.as_ref().ok_or_else(|| {
            EngineError::bad_input("no_chat_template", "this model has no chat template: send a prompt")
        })?;
        let tmpl = env.get_template("chat").map_err(|e| EngineError::bad_input("template_error", e.to_string()))?;
        let mut ctx = std::collections::BTreeMap::new();
        ctx.insert("messages".to_string(), minijinja::Value::from_serialize(messages));
        ctx.insert("add_generation_prompt".to_string(), minijinja::Value::from(true));
        for (k, v) in &self.specials {
            ctx.insert(k.clone(), minijinja::Value::from(v.as_str()));
        }
        tmpl.render(ctx).map_err(|e| EngineError::bad_input("template_error", format!("the chat template failed: {e}")))
    }

    /// Token ids of `text`; `special` adds the tokenizer's special tokens
    /// (BOS) as `tokenizer(text)` does in transformers.
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>, EngineError> {
        self.tokenizer
            .encode(text, special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| EngineError::bad_input("tokenizer_error", e.to_string()))
    }

    /// The text of `tokens` that more tokens cannot rewrite: `decoded` (all
    /// of it, as `decode` gives it) but for a trailing run of byte tokens,
    /// which a later byte may turn into U+FFFD (the run decodes whole).
    pub fn settled<'a>(&self, tokens: &[u32], decoded: &'a str) -> std::borrow::Cow<'a, str> {
        let k = tokens.iter().rposition(|t| !self.byte_tokens.contains(t)).map_or(0, |i| i + 1);
        if k == tokens.len() { decoded.into() } else { self.decode(&tokens[..k]).into() }
    }

    /// Text of `ids`, special tokens skipped.
    ///
    /// `clean_up_tokenization_spaces` of `tokenizer_config.json` is not
    /// applied: transformers ignores it for the BPE tokenizers of every
    /// generation model served (it would strip spaces before punctuation),
    /// and a WordPiece tokenizer's own decoder cleans up as its
    /// `tokenizer.json` says.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }
}

/// The text a generation releases while it runs (docs/sdk.md, "Streams"):
/// only what the final text surely begins with. Held back: a trailing run
/// of byte tokens (`Text::settled`), a trailing incomplete UTF-8 sequence
/// (decoded as U+FFFD until its last byte comes) and a trailing part that
/// may begin a stop string (the final text is cut before one). So the deltas joined are a prefix of the final text, and
/// [`Releaser::finish`] releases the rest.
pub struct Releaser<'a> {
    stops: &'a [String],
    released: String,
}

impl<'a> Releaser<'a> {
    pub fn new(stops: &'a [String]) -> Self {
        Releaser { stops, released: String::new() }
    }

    /// The new text that `decoded` (all the tokens so far) lets out, if any.
    pub fn step(&mut self, decoded: &str) -> Option<String> {
        let safe = decoded.trim_end_matches('\u{FFFD}');
        let held = self.stops.iter().map(|s| begins(safe, s)).max().unwrap_or(0);
        let safe = &safe[..safe.len() - held];
        self.release(safe)
    }

    /// The rest of the final text, once generation ended. `None` when the
    /// text released so far does not begin it (a tokenizer whose decoding
    /// of more tokens rewrites earlier text: nothing was released since).
    pub fn finish(&mut self, text: &str) -> Option<String> {
        self.release(text)
    }

    fn release(&mut self, upto: &str) -> Option<String> {
        if upto.len() <= self.released.len() || !upto.starts_with(self.released.as_str()) {
            return None;
        }
        let delta = upto[self.released.len()..].to_string();
        self.released.push_str(&delta);
        Some(delta)
    }
}

/// `<0xNN>`: a byte token of SentencePiece's byte fallback.
fn is_byte_token(token: &str) -> bool {
    token.len() == 6
        && token.starts_with("<0x")
        && token.ends_with('>')
        && token[3..5].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Length in bytes of the longest suffix of `text` that is a proper prefix of `stop`.
fn begins(text: &str, stop: &str) -> usize {
    let from = text.len().saturating_sub(stop.len().saturating_sub(1));
    text.char_indices()
        .map(|(i, _)| i)
        .filter(|i| *i >= from)
        .find(|i| stop.starts_with(&text[*i..]))
        .map_or(0, |i| text.len() - i)
}

/// A jinja environment like transformers' (`trim_blocks`, `lstrip_blocks`,
/// Python string methods, `raise_exception`). No `strftime_now`: templates
/// then use their own fixed date, so that rendering is deterministic.
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Feeds the successive decodings to a releaser, then the final text;
    /// returns the pieces released.
    fn released(stops: &[&str], decodings: &[&str], text: &str) -> Vec<String> {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut r = Releaser::new(&stops);
        let mut pieces: Vec<String> = decodings.iter().filter_map(|d| r.step(d)).collect();
        pieces.extend(r.finish(text));
        pieces
    }

    /// A Llama-2-style tokenizer: SentencePiece pieces and byte fallback.
    fn byte_fallback() -> Text {
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": null, "post_processor": null,
            "decoder": { "type": "Sequence", "decoders": [
                { "type": "Replace", "pattern": { "String": "\u{2581}" }, "content": " " },
                { "type": "ByteFallback" }, { "type": "Fuse" },
                { "type": "Strip", "content": " ", "start": 1, "stop": 0 } ] },
            "model": { "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                       "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
                       "vocab": { "<unk>": 0, "\u{2581}Hi": 1, "<0x0A>": 2, "<0xF0>": 3, "<0x9F>": 4,
                                  "\u{2581}there": 5, "<0x98>": 6, "<0x80>": 7 },
                       "merges": [] } });
        let tokenizer = Tokenizer::from_str(&json.to_string()).unwrap();
        Text::from_parts(tokenizer, None, Vec::new(), Vec::new(), "test").unwrap()
    }

    #[test]
    fn a_run_of_byte_tokens_is_released_only_once_a_piece_ends_it() {
        let text = byte_fallback();
        // "Hi", a newline byte, then two bytes of an emoji cut short before
        // another piece: decoded whole, the run becomes three U+FFFD, the
        // newline included; and a run of a whole emoji, released at its end.
        for tokens in [vec![1u32, 2, 3, 4, 5], vec![1, 2, 3, 4], vec![1, 3, 4, 6, 7, 5, 2]] {
            let mut r = Releaser::new(&[]);
            let mut pieces = Vec::new();
            for n in 1..=tokens.len() {
                let decoded = text.decode(&tokens[..n]);
                pieces.extend(r.step(&text.settled(&tokens[..n], &decoded)));
            }
            let last = text.decode(&tokens);
            pieces.extend(r.finish(&last));
            assert_eq!(pieces.concat(), last, "{tokens:?}: {pieces:?}");
        }
    }

    #[test]
    fn released_text_is_always_a_prefix_of_the_final_text() {
        // A stop string arriving over three tokens: nothing of it is released.
        let pieces = released(&["END"], &["Hello", "Hello E", "Hello EN"], "Hello ");
        assert_eq!(pieces, ["Hello", " "]);
        // A false start of a stop string is released once it cannot be one.
        assert_eq!(released(&["END"], &["a E", "a Ex"], "a Ex!"), ["a ", "Ex", "!"]);
        // An incomplete UTF-8 sequence decodes as U+FFFD until its last byte.
        assert_eq!(released(&[], &["caf", "caf\u{FFFD}", "café"], "café"), ["caf", "é"]);
        // Multi-byte characters in a stop string and in the text.
        assert_eq!(released(&["éé"], &["xé", "xéy"], "xéy"), ["x", "éy"]);
        // A decoding that rewrites earlier text releases nothing more; the
        // final text is released only if it begins with what was released.
        assert_eq!(released(&[], &["ab", "Ab"], "Abc"), vec!["ab".to_string()]);
        assert_eq!(released(&[], &["ab"], "abc").concat(), "abc");
    }
}
