//! The OpenAI API's request and response shapes the gateway speaks, and
//! their translation into the engine's input (executor's `GenerateRequest`
//! and embedding input). Every parameter either maps onto the request or
//! is refused by name: none is silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;

/// The engine's limits on a request's input (executor `engine::hf::text`),
/// checked here so that a request the nodes would refuse is refused before
/// it is paid for.
const MAX_STOPS: usize = 4;
const MAX_STOP_BYTES: usize = 256;
const MAX_TEXTS: usize = 64;

/// The `atoma` extension field of a request: how it is verified and how
/// long the response waits.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtomaOptions {
    /// `sampling`, `cross-validation` or `sealed` (default: the gateway's).
    pub mode: Option<String>,
    /// Nodes that verify (sampling: the quorum).
    pub n: Option<u64>,
    /// Probability of a check, 0 to 1 (cross-validation and sealed).
    pub p: Option<f64>,
    /// `finality` (default for a non-streamed response) or `first_output`.
    pub wait: Option<String>,
    /// Commit timeout in ms (default: the larger of 60 s and the shortest the class allows).
    pub timeout_ms: Option<u64>,
    /// Fee in MIST (default: the minimum for the mode).
    pub max_fee: Option<u64>,
}

/// A string or a list of strings (`stop`, `input`, `prompt`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// A chat message's content: a string, or text parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: Option<Content>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Parameters common to chat and text completions.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Sampling {
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Option<OneOrMany>,
    pub seed: Option<i64>,
    pub user: Option<String>,
    pub n: Option<u64>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub atoma: Option<AtomaOptions>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: OneOrMany,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: Value,
    pub encoding_format: Option<String>,
    pub user: Option<String>,
    pub atoma: Option<AtomaOptions>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Parameters an OpenAI client may send whose default the engine already
/// follows: accepted when they ask for that default, refused otherwise.
fn check_other(other: &BTreeMap<String, Value>) -> Result<(), ApiError> {
    for (name, value) in other {
        let default = match name.as_str() {
            "logprobs" | "echo" | "parallel_tool_calls" | "store" => value.is_null() || value == &json!(false),
            "presence_penalty" | "frequency_penalty" => value.is_null() || value.as_f64() == Some(0.0),
            "best_of" => value.is_null() || value == &json!(1),
            "tools" | "functions" | "logit_bias" | "top_logprobs" | "suffix" | "tool_choice" | "function_call" => {
                value.is_null()
            }
            "response_format" => value.is_null() || value == &json!({"type": "text"}),
            // Metadata of the caller's own, not a generation parameter.
            "metadata" | "service_tier" => true,
            _ => false,
        };
        if !default {
            return Err(ApiError::unsupported(name, &format!("`{name}` is not supported by this gateway")));
        }
    }
    Ok(())
}

/// The engine's generation input (executor `GenerateRequest`), from the
/// sampling parameters and either a prompt or messages.
fn generate_input(s: &Sampling, prompt: Value) -> Result<Vec<u8>, ApiError> {
    if s.n.unwrap_or(1) != 1 {
        return Err(ApiError::unsupported("n", "only n = 1 is supported (one choice per request)"));
    }
    if s.seed.is_some() && s.temperature.unwrap_or(0.0) > 0.0 {
        return Err(ApiError::unsupported(
            "seed",
            "a sampled request's seed is drawn on chain (all nodes must agree on it); omit `seed` or use temperature 0",
        ));
    }
    let mut input = prompt;
    if let Some(max) = s.max_completion_tokens.or(s.max_tokens) {
        if max == 0 {
            return Err(ApiError::invalid("max_tokens", "max_tokens must be at least 1"));
        }
        input["max_tokens"] = json!(max);
    }
    if let Some(t) = s.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::invalid("temperature", "temperature must be between 0 and 2"));
        }
        input["temperature"] = json!(t);
    }
    if let Some(p) = s.top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err(ApiError::invalid("top_p", "top_p must be greater than 0 and at most 1"));
        }
        input["top_p"] = json!(p);
    }
    if let Some(stop) = &s.stop {
        let stop = stop.clone().into_vec();
        if stop.len() > MAX_STOPS || stop.iter().any(|s| s.is_empty() || s.len() > MAX_STOP_BYTES) {
            return Err(ApiError::invalid(
                "stop",
                &format!("stop is at most {MAX_STOPS} strings of 1 to {MAX_STOP_BYTES} bytes"),
            ));
        }
        input["stop"] = json!(stop);
    }
    Ok(serde_json::to_vec(&input).expect("JSON values serialize"))
}

impl ChatRequest {
    /// The engine's input for this request.
    pub fn input(&self) -> Result<Vec<u8>, ApiError> {
        check_other(&self.other)?;
        if self.messages.is_empty() {
            return Err(ApiError::invalid("messages", "messages must not be empty"));
        }
        let mut messages = Vec::new();
        for (i, m) in self.messages.iter().enumerate() {
            if let Some((name, _)) = m.other.iter().find(|(_, v)| !v.is_null()) {
                return Err(ApiError::unsupported(
                    &format!("messages[{i}].{name}"),
                    "a message is a role and its content (no names, tool calls or audio)",
                ));
            }
            let text = match &m.content {
                Some(Content::Text(t)) => t.clone(),
                Some(Content::Parts(parts)) => text_parts(parts, i)?,
                None => return Err(ApiError::invalid(&format!("messages[{i}].content"), "a message needs content")),
            };
            messages.push(json!({ "role": m.role, "content": text }));
        }
        generate_input(&self.sampling, json!({ "messages": messages }))
    }
}

/// The text of a message given as content parts; only text parts are supported.
fn text_parts(parts: &[Value], i: usize) -> Result<String, ApiError> {
    let mut text = String::new();
    for part in parts {
        match (part["type"].as_str(), part["text"].as_str()) {
            (Some("text"), Some(t)) => text.push_str(t),
            _ => {
                return Err(ApiError::unsupported(
                    &format!("messages[{i}].content"),
                    "only text content parts are supported",
                ));
            }
        }
    }
    Ok(text)
}

impl CompletionRequest {
    /// The engine's input for this request.
    pub fn input(&self) -> Result<Vec<u8>, ApiError> {
        check_other(&self.other)?;
        let prompts = self.prompt.clone().into_vec();
        let [prompt] = prompts.as_slice() else {
            return Err(ApiError::unsupported("prompt", "one prompt per request"));
        };
        if prompt.is_empty() {
            return Err(ApiError::invalid("prompt", "the prompt must not be empty"));
        }
        generate_input(&self.sampling, json!({ "prompt": prompt }))
    }
}

impl EmbeddingRequest {
    /// The engine's input and the number of texts.
    pub fn input(&self) -> Result<(Vec<u8>, usize), ApiError> {
        check_other(&self.other)?;
        if let Some(f) = self.encoding_format.as_deref()
            && f != "float"
            && f != "base64"
        {
            return Err(ApiError::invalid("encoding_format", "encoding_format is `float` or `base64`"));
        }
        let texts: Vec<String> = match &self.input {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
            }
            _ => return Err(ApiError::unsupported("input", "input is a string or a list of strings (not token ids)")),
        };
        if texts.is_empty() || texts.len() > MAX_TEXTS {
            return Err(ApiError::invalid("input", &format!("input holds 1 to {MAX_TEXTS} texts")));
        }
        let n = texts.len();
        Ok((serde_json::to_vec(&json!({ "input": texts })).expect("JSON values serialize"), n))
    }
}

/// Token counts of a response.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl Usage {
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Self {
        Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
    }
}
