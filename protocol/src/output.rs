//! The canonical output formats of the engine, and how a requester reads
//! them (`Output::decode`):
//!
//! ```text
//! text output      = "atoma-text/v1\n" || {"finish_reason":"stop"|"length","prompt_tokens":N,"text":"…","tokens":[…]}
//! embedding output = "atoma-embedding/v1\n" || tensor (dtype 0 = f32, ndim 2, dims u64 LE, data f32 LE)
//! ```
//!
//! and the *error output*: the bytes an engine returns, and honest
//! nodes commit to, when the verified input bytes are not what the model
//! accepts (docs/protocol.md, "Inputs a node cannot run").
//!
//! ```text
//! error output = "atoma-error/v1\n" || json
//! json         = {"code":"<code>","message":"<message>"}   (exactly these two fields, in this order,
//!                                                           serde_json's compact form)
//! ```
//!
//! The prefix cannot begin another output of the engine: a token output is
//! little-endian `u32` ids below the vocabulary size, and `"atom"` read as one
//! is 0x6d6f7461; a tensor output begins with a dtype code of 0 to 6, and `a`
//! is 0x61. So a requester tells a refusal from an answer by the prefix alone.
//!
//! Not for: deciding which inputs are bad (the engine does), or inputs a node
//! cannot obtain (it abstains; see `ops::execute`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The first bytes of every error output.
pub const ERROR_PREFIX: &[u8] = b"atoma-error/v1\n";
/// The first bytes of a text generation output.
pub const TEXT_PREFIX: &[u8] = b"atoma-text/v1\n";
/// The first bytes of an embedding output.
pub const EMBEDDING_PREFIX: &[u8] = b"atoma-embedding/v1\n";

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-sequence token or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// A text generation output: the new token ids and their text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextOutput {
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Tokens of the prompt (after the chat template).
    pub prompt_tokens: usize,
    /// The new tokens' text (special tokens skipped), cut before a stop string.
    pub text: String,
    /// The new token ids, an end-of-sequence id included.
    pub tokens: Vec<u32>,
}

/// `prefix` and the compact JSON of `value` (struct fields in declaration order).
fn json_output<T: Serialize>(prefix: &[u8], value: &T) -> Vec<u8> {
    let mut out = prefix.to_vec();
    // Strings, numbers and lists of them: serializing cannot fail.
    out.extend(serde_json::to_vec(value).expect("an output serialises"));
    out
}

/// Reads what `json_output` wrote; `None` unless `bytes` are exactly its
/// canonical encoding (so that one output has one encoding).
fn from_json_output<T: Serialize + DeserializeOwned>(prefix: &[u8], bytes: &[u8]) -> Option<T> {
    let parsed: T = serde_json::from_slice(bytes.strip_prefix(prefix)?).ok()?;
    (json_output(prefix, &parsed) == bytes).then_some(parsed)
}

impl TextOutput {
    /// The canonical bytes (fields in this order, compact JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        json_output(TEXT_PREFIX, self)
    }

    /// Reads a text output; `None` when the bytes are not its canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        from_json_output(TEXT_PREFIX, bytes)
    }
}

/// Embeddings: one row of `dims[1]` f32 values per input text.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// Texts embedded.
    pub rows: usize,
    /// Values per text.
    pub dims: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

impl Embeddings {
    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = EMBEDDING_PREFIX.to_vec();
        out.extend([0u8, 2]);
        out.extend((self.rows as u64).to_le_bytes());
        out.extend((self.dims as u64).to_le_bytes());
        for v in &self.values {
            out.extend(v.to_le_bytes());
        }
        out
    }

    /// Reads an embedding output; `None` when malformed.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let t = bytes.strip_prefix(EMBEDDING_PREFIX)?;
        if t.len() < 18 || t[0] != 0 || t[1] != 2 {
            return None;
        }
        let rows = usize::try_from(u64::from_le_bytes(t[2..10].try_into().ok()?)).ok()?;
        let dims = usize::try_from(u64::from_le_bytes(t[10..18].try_into().ok()?)).ok()?;
        let data = &t[18..];
        if rows.checked_mul(dims)?.checked_mul(4)? != data.len() {
            return None;
        }
        let values = data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        Some(Embeddings { rows, dims, values })
    }

    /// One text's vector.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }
}

/// Any output, read by its prefix.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Generated text.
    Text(TextOutput),
    /// Sentence embeddings.
    Embeddings(Embeddings),
    /// The model refused the input.
    Error(ErrorOutput),
    /// Another model's bytes (the test GPT's u32 tokens, a TorchScript tensor).
    Bytes(Vec<u8>),
}

impl Output {
    /// Reads output bytes.
    pub fn decode(bytes: &[u8]) -> Self {
        if let Some(t) = TextOutput::from_bytes(bytes) {
            Output::Text(t)
        } else if let Some(e) = Embeddings::from_bytes(bytes) {
            Output::Embeddings(e)
        } else if let Some(e) = ErrorOutput::from_bytes(bytes) {
            Output::Error(e)
        } else {
            Output::Bytes(bytes.to_vec())
        }
    }

    /// Bytes read as little-endian u32 token ids (the test GPT's output),
    /// when their length is a multiple of four.
    pub fn u32_tokens(bytes: &[u8]) -> Option<Vec<u32>> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
            return None;
        }
        Some(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Token ids separated by spaces.
    pub fn tokens_line(tokens: &[u32]) -> String {
        tokens.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    }

    /// One line for people: the text, the embeddings' shape and first
    /// values, the refusal, or the size of other bytes.
    pub fn summary(&self) -> String {
        match self {
            Output::Text(t) => format!(
                "{:?} ({} tokens, finished by {})",
                t.text,
                t.tokens.len(),
                match t.finish_reason {
                    FinishReason::Stop => "a stop token",
                    FinishReason::Length => "max_tokens",
                }
            ),
            Output::Embeddings(e) => {
                let first: Vec<String> = e.values.iter().take(4).map(|v| format!("{v:.4}")).collect();
                format!("embeddings [{}, {}]: [{}, …]", e.rows, e.dims, first.join(", "))
            }
            Output::Error(e) => format!("refused ({}): {}", e.code, e.message),
            Output::Bytes(b) => match Output::u32_tokens(b) {
                Some(tokens) => format!("{} bytes, as u32 token ids: {}", b.len(), Output::tokens_line(&tokens)),
                None => format!("{} bytes", b.len()),
            },
        }
    }
}

/// Why the model refused an input: a stable machine-readable code and a message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ErrorOutput {
    /// A stable snake_case code, e.g. `invalid_json`, `max_tokens_out_of_range`.
    pub code: String,
    /// A message for people; deterministic for given input bytes and model.
    pub message: String,
}

impl ErrorOutput {
    /// An error output with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorOutput { code: code.into(), message: message.into() }
    }

    /// The canonical bytes (see the module doc).
    pub fn to_bytes(&self) -> Vec<u8> {
        json_output(ERROR_PREFIX, self)
    }

    /// Reads an error output; `None` when `bytes` are not one (an ordinary
    /// output): only the canonical encoding is an error output.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        from_json_output(ERROR_PREFIX, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_outputs_have_one_encoding() {
        let e = ErrorOutput::new("invalid_json", "the input is not JSON: \"x\"");
        let bytes = e.to_bytes();
        assert!(bytes.starts_with(b"atoma-error/v1\n{\"code\":\"invalid_json\",\"message\":"));
        assert_eq!(ErrorOutput::from_bytes(&bytes), Some(e));
        let spaced = b"atoma-error/v1\n{\"code\": \"invalid_json\", \"message\": \"m\"}";
        assert_eq!(ErrorOutput::from_bytes(spaced), None);
        assert_eq!(ErrorOutput::from_bytes(&[0, 1, 0, 0]), None);
    }

    #[test]
    fn outputs_are_read_by_their_prefix() {
        let t =
            TextOutput { finish_reason: FinishReason::Stop, prompt_tokens: 3, text: "hi".into(), tokens: vec![5, 2] };
        let bytes = t.to_bytes();
        assert_eq!(
            bytes,
            b"atoma-text/v1\n{\"finish_reason\":\"stop\",\"prompt_tokens\":3,\"text\":\"hi\",\"tokens\":[5,2]}"
        );
        assert_eq!(Output::decode(&bytes), Output::Text(t));
        let e = Embeddings { rows: 1, dims: 2, values: vec![0.5, -1.0] };
        assert_eq!(Output::decode(&e.to_bytes()), Output::Embeddings(e.clone()));
        assert_eq!(Output::decode(&e.to_bytes()).summary(), "embeddings [1, 2]: [0.5000, -1.0000, …]");
        let mut short = e.to_bytes();
        short.pop();
        assert_eq!(Output::decode(&short), Output::Bytes(short.clone()));
        assert_eq!(Output::decode(&[1, 0, 0, 0]), Output::Bytes(vec![1, 0, 0, 0]));
    }

    #[test]
    fn the_prefix_is_neither_a_token_nor_a_tensor_header() {
        assert!(u32::from_le_bytes(ERROR_PREFIX[..4].try_into().unwrap()) > 1 << 24);
        assert!(ERROR_PREFIX[0] > 6);
    }
}
