//! The canonical *error output*: the bytes an engine returns, and honest
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

use serde::{Deserialize, Serialize};

/// The first bytes of every error output.
pub const ERROR_PREFIX: &[u8] = b"atoma-error/v1\n";

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
        let mut out = ERROR_PREFIX.to_vec();
        // Serializing a struct of two strings cannot fail.
        out.extend_from_slice(&serde_json::to_vec(self).expect("JSON of two strings"));
        out
    }

    /// Reads an error output; `None` when `bytes` are not one (an ordinary output).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let json = bytes.strip_prefix(ERROR_PREFIX)?;
        let parsed: ErrorOutput = serde_json::from_slice(json).ok()?;
        // Only the canonical encoding is an error output.
        (parsed.to_bytes() == bytes).then_some(parsed)
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
    fn the_prefix_is_neither_a_token_nor_a_tensor_header() {
        assert!(u32::from_le_bytes(ERROR_PREFIX[..4].try_into().unwrap()) > 1 << 24);
        assert!(ERROR_PREFIX[0] > 6);
    }
}
