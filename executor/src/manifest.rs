//! Model manifests: one TOML file per model, naming its kind, architecture,
//! weight file, the weight file's Blake2b-256 digest and its hardware class.
//!
//! ```toml
//! id = "tiny-gpt"
//! kind = "gpt"                      # or "torchscript"
//! weights = "tiny-gpt.safetensors"  # relative to this file
//! weights_blake2b256 = "0x…"        # 64 hex digits
//! hardware_class = "cpu-avx2-t1/torch-2.13.0"
//!
//! [gpt]                             # for kind = "gpt"
//! d_model = 64
//! n_layers = 2
//! n_heads = 4
//! context = 256
//! max_new_tokens = 64
//! ```
//!
//! The engine refuses a weight file whose digest differs from the manifest,
//! and from the on-chain model table when the caller gives that digest.
//!
//! Not for: loading the weights themselves (see `engine`).

use std::path::{Path, PathBuf};

use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use serde::{Deserialize, Serialize};

use crate::engine::EngineError;
use crate::engine::gpt::GptConfig;

/// The two kinds of model the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The built-in GPT-style decoder, weights in safetensors.
    Gpt,
    /// A TorchScript module taking one tensor and returning one tensor.
    Torchscript,
}

/// A model manifest, as written in TOML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// The model's id, as in the on-chain model table.
    pub id: String,
    pub kind: ModelKind,
    /// The weight file (safetensors for `gpt`, a TorchScript archive for
    /// `torchscript`), relative to the manifest's directory.
    pub weights: PathBuf,
    /// `0x` and 64 hex digits: Blake2b-256 of the weight file.
    pub weights_blake2b256: String,
    /// The hardware class the model runs on.
    pub hardware_class: String,
    /// Architecture, for `kind = "gpt"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpt: Option<GptConfig>,
}

impl ModelManifest {
    /// Reads and validates a manifest file.
    pub fn read(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::Manifest(format!("reading {}: {e}", path.display())))?;
        let mut manifest: ModelManifest =
            toml::from_str(&text).map_err(|e| EngineError::Manifest(format!("{}: {e}", path.display())))?;
        if manifest.weights.is_relative() {
            let dir = path.parent().unwrap_or(Path::new("."));
            manifest.weights = dir.join(&manifest.weights);
        }
        manifest.validate().map_err(|e| EngineError::Manifest(format!("{}: {e}", path.display())))?;
        Ok(manifest)
    }

    /// Checks every field; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || self.id.len() > 128 {
            return Err("field `id`: must be 1 to 128 bytes".into());
        }
        if self.digest().is_none() {
            return Err("field `weights_blake2b256`: must be 0x and 64 hex digits".into());
        }
        if self.hardware_class.is_empty() {
            return Err("field `hardware_class`: must not be empty".into());
        }
        match (self.kind, &self.gpt) {
            (ModelKind::Gpt, None) => Err("field `gpt`: a gpt model needs its [gpt] table".into()),
            (ModelKind::Gpt, Some(cfg)) => cfg.validate().map_err(|e| format!("field `gpt.{e}")),
            (ModelKind::Torchscript, Some(_)) => Err("field `gpt`: only for kind = \"gpt\"".into()),
            (ModelKind::Torchscript, None) => Ok(()),
        }
    }

    /// The expected weight digest.
    pub fn digest(&self) -> Option<Digest> {
        Digest::from_hex(&self.weights_blake2b256)
    }

    /// Hashes the weight file and compares it with the manifest and, when
    /// given, with the digest in the on-chain model table.
    pub fn verify_weights(&self, on_chain: Option<&Digest>) -> Result<Digest, EngineError> {
        let bytes = std::fs::read(&self.weights)
            .map_err(|e| EngineError::Manifest(format!("reading weights {}: {e}", self.weights.display())))?;
        let actual = blake2b256(&bytes);
        let expected = self.digest().expect("validated manifest");
        if actual != expected {
            return Err(EngineError::WeightDigest { model: self.id.clone(), expected, actual });
        }
        if let Some(chain) = on_chain
            && *chain != actual
        {
            return Err(EngineError::WeightDigest { model: self.id.clone(), expected: *chain, actual });
        }
        Ok(actual)
    }
}
