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
//! Not for: hashing a checkpoint's files against the manifest or writing one
//! for a checkpoint (the node's engine, `atoma_executor::manifest`, knows which
//! files it reads), nor loading the weights.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use atoma_protocol::Digest;
use atoma_protocol::commitment::files_digest;
use fastcrypto::hash::{Blake2b256, HashFunction};
use serde::{Deserialize, Serialize};

/// Size of the built-in GPT's byte-level vocabulary.
pub const GPT_VOCAB: i64 = 256;

/// Why a manifest could not be read; the cause, where there is one, is the
/// error's source.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file could not be read.
    #[error("model manifest: reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not TOML of the manifest's shape.
    #[error("model manifest: {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A field breaks a rule; the message names the field.
    #[error("model manifest: {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

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
    /// What kind of model it is.
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

/// Architecture of a GPT model (the manifest's `[gpt]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Width of the residual stream.
    pub d_model: i64,
    pub n_layers: i64,
    pub n_heads: i64,
    /// Longest sequence (prompt and new tokens).
    pub context: i64,
    /// Most new tokens one request may ask for.
    pub max_new_tokens: i64,
}

impl GptConfig {
    /// The repository's test model: small enough to generate and run in tests.
    pub fn tiny() -> Self {
        GptConfig { d_model: 64, n_layers: 2, n_heads: 4, context: 256, max_new_tokens: 64 }
    }

    /// Names the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=16_384).contains(&self.d_model) {
            return Err("d_model`: must be 1 to 16384".into());
        }
        if !(1..=256).contains(&self.n_layers) {
            return Err("n_layers`: must be 1 to 256".into());
        }
        if self.n_heads < 1 || self.d_model % self.n_heads != 0 {
            return Err("n_heads`: must divide d_model".into());
        }
        if !(2..=65_536).contains(&self.context) {
            return Err("context`: must be 2 to 65536".into());
        }
        if !(1..self.context).contains(&self.max_new_tokens) {
            return Err("max_new_tokens`: must be 1 to context - 1".into());
        }
        Ok(())
    }

    /// Every parameter's name and shape, in a fixed order.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<i64>)> {
        let d = self.d_model;
        let mut out = vec![("wte.weight".into(), vec![GPT_VOCAB, d]), ("wpe.weight".into(), vec![self.context, d])];
        for l in 0..self.n_layers {
            let p = |s: &str| format!("h.{l}.{s}");
            out.extend([
                (p("ln_1.weight"), vec![d]),
                (p("ln_1.bias"), vec![d]),
                (p("attn.c_attn.weight"), vec![3 * d, d]),
                (p("attn.c_attn.bias"), vec![3 * d]),
                (p("attn.c_proj.weight"), vec![d, d]),
                (p("attn.c_proj.bias"), vec![d]),
                (p("ln_2.weight"), vec![d]),
                (p("ln_2.bias"), vec![d]),
                (p("mlp.c_fc.weight"), vec![4 * d, d]),
                (p("mlp.c_fc.bias"), vec![4 * d]),
                (p("mlp.c_proj.weight"), vec![d, 4 * d]),
                (p("mlp.c_proj.bias"), vec![d]),
            ]);
        }
        out.extend([("ln_f.weight".into(), vec![d]), ("ln_f.bias".into(), vec![d])]);
        out
    }
}

/// Blake2b-256 of a file, read in pieces (checkpoints may be many GB).
pub fn file_digest(path: &Path) -> Result<Digest, ManifestError> {
    let read = |source| ManifestError::Read { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut hasher = Blake2b256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest(hasher.finalize().digest))
}

impl ModelManifest {
    /// Reads and validates a manifest file; relative paths in it become
    /// relative to the file's directory.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
        let mut manifest: ModelManifest =
            toml::from_str(&text).map_err(|source| ManifestError::Parse { path: path.to_path_buf(), source })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(w) = manifest.weights.as_mut().filter(|w| w.is_relative()) {
            *w = dir.join(&*w);
        }
        if let Some(h) = manifest.hf.as_mut().filter(|h| h.dir.is_relative()) {
            h.dir = dir.join(&h.dir);
        }
        manifest.validate().map_err(|message| ManifestError::Invalid { path: path.to_path_buf(), message })?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPT: &str = r#"
id = "tiny-gpt"
kind = "gpt"
weights = "tiny-gpt.safetensors"
weights_blake2b256 = "0x0101010101010101010101010101010101010101010101010101010101010101"
hardware_class = "cpu"

[gpt]
d_model = 64
n_layers = 2
n_heads = 4
context = 256
max_new_tokens = 64
"#;

    fn parse(text: &str) -> ModelManifest {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_single_file_model_digest_is_its_file_digest_and_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, GPT).unwrap();
        let m = ModelManifest::read(&path).unwrap();
        assert_eq!(m.digest(), Digest([1; 32]));
        assert_eq!(m.weights.as_deref(), Some(dir.path().join("tiny-gpt.safetensors").as_path()));
        assert_eq!(parse(&m.to_toml()).gpt, Some(GptConfig::tiny()));
    }

    #[test]
    fn an_hf_model_digest_covers_every_file_name_and_digest() {
        let text = r#"
id = "m"
kind = "hf"
hardware_class = "cpu"
[hf]
dir = "m"
[hf.files]
"a.json" = "0x0101010101010101010101010101010101010101010101010101010101010101"
"b.safetensors" = "0x0202020202020202020202020202020202020202020202020202020202020202"
"#;
        let m = parse(text);
        m.validate().unwrap();
        let files =
            BTreeMap::from([("a.json".to_string(), Digest([1; 32])), ("b.safetensors".into(), Digest([2; 32]))]);
        assert_eq!(m.digest(), files_digest(&files));
        let renamed = parse(&text.replace("b.safetensors", "c.safetensors"));
        assert_ne!(renamed.digest(), m.digest());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let cases = [
            (GPT.replace("id = \"tiny-gpt\"", "id = \"\""), "field `id`"),
            (GPT.replace("hardware_class = \"cpu\"", "hardware_class = \"\""), "field `hardware_class`"),
            (GPT.replace("0x0101", "0xzz01"), "field `weights_blake2b256`"),
            (GPT.replace("n_heads = 4", "n_heads = 5"), "field `gpt.n_heads`"),
            (GPT.replace("max_new_tokens = 64", "max_new_tokens = 256"), "field `gpt.max_new_tokens`"),
            (GPT.replace("kind = \"gpt\"", "kind = \"torchscript\""), "field `gpt`"),
        ];
        for (text, field) in cases {
            let err = parse(&text).validate().unwrap_err();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }

    #[test]
    fn errors_name_the_file_and_keep_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        let err = ModelManifest::read(&missing).unwrap_err();
        assert!(matches!(err, ManifestError::Read { .. }));
        assert!(std::error::Error::source(&err).is_some());
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "id = ").unwrap();
        let err = ModelManifest::read(&bad).unwrap_err();
        assert!(err.to_string().contains("bad.toml") && std::error::Error::source(&err).is_some(), "{err}");
        std::fs::write(&bad, GPT.replace("n_layers = 2", "n_layers = 0")).unwrap();
        let err = ModelManifest::read(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("field `gpt.n_layers`"), "{err}");
    }
}
