//! Model manifests: one TOML file per model, naming its kind, its files with
//! their Blake2b-256 digests, and its hardware class.
//!
//! A Hugging Face checkpoint (`kind = "hf"`), written by
//! `atoma-model import DIR --id ID --class CLASS`:
//!
//! ```toml
//! id = "qwen2.5-0.5b-instruct"
//! kind = "hf"
//! hardware_class = "cpu-avx2-t1/torch-2.13.0"
//!
//! [hf]
//! dir = "qwen2.5-0.5b-instruct"     # the checkpoint directory, relative to this file
//! max_new_tokens = 256              # most new tokens per request
//! context = 4096                    # optional: longest prompt + new tokens
//!
//! [hf.files]                        # every file the engine reads, and its digest
//! "config.json" = "0x…"
//! "model.safetensors" = "0x…"
//! "tokenizer.json" = "0x…"
//! "tokenizer_config.json" = "0x…"
//! ```
//!
//! The model digest (the on-chain model table's `weight_digest`) of an `hf`
//! model covers every file: `blake2b256` over, for each file in name order,
//! the name's bytes, a zero byte and the file's 32-byte digest. A node
//! refuses a model when a file the engine reads is missing from the manifest,
//! a listed file is missing, any digest differs, or the model digest differs
//! from the chain's.
//!
//! The built-in test decoder (`kind = "gpt"`) and TorchScript modules
//! (`kind = "torchscript"`) have one weight file:
//!
//! ```toml
//! id = "tiny-gpt"
//! kind = "gpt"                      # or "torchscript"
//! weights = "tiny-gpt.safetensors"  # relative to this file
//! weights_blake2b256 = "0x…"        # 64 hex digits; the model digest
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
//! Not for: loading the weights themselves (see `engine`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use atoma_protocol::Digest;
use fastcrypto::hash::{Blake2b256, HashFunction};
use serde::{Deserialize, Serialize};

use super::EngineError;
use super::gpt::GptConfig;
use super::hf;

/// The kinds of model the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The built-in GPT-style decoder, weights in safetensors.
    Gpt,
    /// A TorchScript module taking one tensor and returning one tensor.
    Torchscript,
    /// A Hugging Face checkpoint directory.
    Hf,
}

/// A Hugging Face checkpoint in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfSection {
    /// The checkpoint directory, relative to the manifest's directory.
    pub dir: PathBuf,
    /// Most new tokens one request may ask for (generation models).
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Longest prompt and new tokens; default the model's positions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
    /// Every file the engine reads (relative to `dir`) and its digest.
    pub files: BTreeMap<String, String>,
}

fn default_max_new_tokens() -> usize {
    256
}

/// A model manifest, as written in TOML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// The model's id, as in the on-chain model table.
    pub id: String,
    pub kind: ModelKind,
    /// The weight file (`gpt`: safetensors, `torchscript`: a TorchScript
    /// archive), relative to the manifest's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PathBuf>,
    /// `0x` and 64 hex digits: Blake2b-256 of the weight file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_blake2b256: Option<String>,
    /// The hardware class the model runs on.
    pub hardware_class: String,
    /// Architecture, for `kind = "gpt"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpt: Option<GptConfig>,
    /// The checkpoint, for `kind = "hf"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<HfSection>,
}

/// Blake2b-256 of a file, read in pieces (checkpoints may be many GB).
pub fn file_digest(path: &Path) -> Result<Digest, EngineError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| EngineError::Manifest(format!("reading {}: {e}", path.display())))?;
    let mut hasher = Blake2b256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| EngineError::Manifest(format!("reading {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest(hasher.finalize().digest))
}

/// The model digest of a checkpoint's files (see the module doc).
pub use atoma_protocol::commitment::files_digest;

impl ModelManifest {
    /// Reads and validates a manifest file.
    pub fn read(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::Manifest(format!("reading {}: {e}", path.display())))?;
        let mut manifest: ModelManifest =
            toml::from_str(&text).map_err(|e| EngineError::Manifest(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(w) = manifest.weights.as_mut().filter(|w| w.is_relative()) {
            *w = dir.join(&*w);
        }
        if let Some(h) = manifest.hf.as_mut().filter(|h| h.dir.is_relative()) {
            h.dir = dir.join(&h.dir);
        }
        manifest.validate().map_err(|e| EngineError::Manifest(format!("{}: {e}", path.display())))?;
        Ok(manifest)
    }

    /// Writes the manifest as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a manifest serialises")
    }

    /// Checks every field; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || self.id.len() > 128 {
            return Err("field `id`: must be 1 to 128 bytes".into());
        }
        if self.hardware_class.is_empty() {
            return Err("field `hardware_class`: must not be empty".into());
        }
        let single_file = |kind: &str| -> Result<(), String> {
            if self.weights.is_none() {
                return Err(format!("field `weights`: a {kind} model needs its weight file"));
            }
            if self.weights_blake2b256.as_deref().and_then(Digest::from_hex).is_none() {
                return Err("field `weights_blake2b256`: must be 0x and 64 hex digits".into());
            }
            if self.hf.is_some() {
                return Err("field `hf`: only for kind = \"hf\"".into());
            }
            Ok(())
        };
        match self.kind {
            ModelKind::Gpt => {
                single_file("gpt")?;
                let cfg = self.gpt.as_ref().ok_or("field `gpt`: a gpt model needs its [gpt] table")?;
                cfg.validate().map_err(|e| format!("field `gpt.{e}"))
            }
            ModelKind::Torchscript => {
                single_file("torchscript")?;
                if self.gpt.is_some() { Err("field `gpt`: only for kind = \"gpt\"".into()) } else { Ok(()) }
            }
            ModelKind::Hf => {
                let h = self.hf.as_ref().ok_or("field `hf`: an hf model needs its [hf] table")?;
                if self.weights.is_some() || self.weights_blake2b256.is_some() || self.gpt.is_some() {
                    return Err(
                        "fields `weights`, `weights_blake2b256`, `gpt`: not for kind = \"hf\" (see [hf.files])".into(),
                    );
                }
                if h.files.is_empty() {
                    return Err("field `hf.files`: lists no file".into());
                }
                for (name, digest) in &h.files {
                    if Digest::from_hex(digest).is_none() {
                        return Err(format!("field `hf.files.\"{name}\"`: must be 0x and 64 hex digits"));
                    }
                    if name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) {
                        return Err(format!("field `hf.files.\"{name}\"`: must be a path inside the directory"));
                    }
                }
                if h.max_new_tokens < 1 {
                    return Err("field `hf.max_new_tokens`: must be at least 1".into());
                }
                Ok(())
            }
        }
    }

    /// The model digest the manifest states (for the on-chain model table).
    pub fn digest(&self) -> Digest {
        match &self.hf {
            Some(h) => files_digest(
                &h.files.iter().map(|(n, d)| (n.clone(), Digest::from_hex(d).expect("validated"))).collect(),
            ),
            None => self.weights_blake2b256.as_deref().and_then(Digest::from_hex).expect("validated manifest"),
        }
    }

    /// Hashes the model's files and compares them with the manifest and,
    /// when given, the model digest in the on-chain model table. Returns the
    /// model digest.
    pub fn verify(&self, on_chain: Option<&Digest>) -> Result<Digest, EngineError> {
        let actual = match (&self.hf, &self.weights) {
            (Some(h), _) => {
                let read = hf::checkpoint_files(&h.dir).map_err(|e| EngineError::Manifest(e.0))?;
                if let Some(f) = read.iter().find(|f| !h.files.contains_key(*f)) {
                    return Err(EngineError::Manifest(format!(
                        "model {}: the checkpoint has {f}, which the manifest does not cover (run atoma-model import again)",
                        self.id
                    )));
                }
                if let Some(f) = h.files.keys().find(|f| !read.contains(f)) {
                    return Err(EngineError::Manifest(format!(
                        "model {}: the manifest lists {f}, which the checkpoint directory {} lacks",
                        self.id,
                        h.dir.display()
                    )));
                }
                let mut digests = BTreeMap::new();
                for (name, expected) in &h.files {
                    let actual = file_digest(&h.dir.join(name))?;
                    let expected = Digest::from_hex(expected).expect("validated");
                    if actual != expected {
                        return Err(EngineError::WeightDigest {
                            model: format!("{} (file {name})", self.id),
                            expected,
                            actual,
                        });
                    }
                    digests.insert(name.clone(), actual);
                }
                files_digest(&digests)
            }
            (None, Some(weights)) => {
                let actual = file_digest(weights)?;
                let expected = self.digest();
                if actual != expected {
                    return Err(EngineError::WeightDigest { model: self.id.clone(), expected, actual });
                }
                actual
            }
            (None, None) => unreachable!("validated manifest"),
        };
        if let Some(chain) = on_chain
            && *chain != actual
        {
            return Err(EngineError::WeightDigest { model: self.id.clone(), expected: *chain, actual });
        }
        Ok(actual)
    }

    /// The manifest of the checkpoint in `dir`, every file hashed.
    /// `dir_in_manifest` is how the manifest names the directory.
    pub fn import(
        dir: &Path,
        dir_in_manifest: PathBuf,
        id: &str,
        hardware_class: &str,
        max_new_tokens: usize,
        context: Option<usize>,
    ) -> Result<Self, EngineError> {
        let names = hf::checkpoint_files(dir).map_err(|e| EngineError::Manifest(e.0))?;
        let mut files = BTreeMap::new();
        for name in names {
            let digest = file_digest(&dir.join(&name))?;
            files.insert(name, digest.to_string());
        }
        let manifest = ModelManifest {
            id: id.to_string(),
            kind: ModelKind::Hf,
            weights: None,
            weights_blake2b256: None,
            hardware_class: hardware_class.to_string(),
            gpt: None,
            hf: Some(HfSection { dir: dir_in_manifest, max_new_tokens, context, files }),
        };
        manifest.validate().map_err(EngineError::Manifest)?;
        Ok(manifest)
    }
}
