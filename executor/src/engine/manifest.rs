//! What the engine adds to a model manifest (the format, its checks and the
//! model digest are `atoma_manifest`'s): hashing a checkpoint's files
//! against it, and writing one for a checkpoint, since only the engine knows
//! which files it reads.
//!
//! Not for: loading the weights themselves (see `engine`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use atoma_protocol::Digest;
use atoma_protocol::commitment::files_digest;

pub use atoma_manifest::{GptConfig, HfSection, ManifestError, ModelKind, ModelManifest, file_digest};

use super::EngineError;
use super::hf;

/// A manifest checked against, or made from, the files on disk.
pub trait Checkpoint: Sized {
    /// Hashes the model's files and compares them with the manifest and,
    /// when given, the model digest in the on-chain model table. Returns the
    /// model digest.
    fn verify(&self, on_chain: Option<&Digest>) -> Result<Digest, EngineError>;

    /// The manifest of the checkpoint in `dir`, every file hashed.
    /// `dir_in_manifest` is how the manifest names the directory.
    fn import(
        dir: &Path,
        dir_in_manifest: PathBuf,
        id: &str,
        hardware_class: &str,
        max_new_tokens: usize,
        context: Option<usize>,
    ) -> Result<Self, EngineError>;
}

impl Checkpoint for ModelManifest {
    fn verify(&self, on_chain: Option<&Digest>) -> Result<Digest, EngineError> {
        let actual = match (&self.hf, &self.weights) {
            (Some(h), _) => {
                let read =
                    hf::checkpoint_files(&h.dir).map_err(|e| EngineError::Manifest(atoma_sdk::error::report(&e)))?;
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

    fn import(
        dir: &Path,
        dir_in_manifest: PathBuf,
        id: &str,
        hardware_class: &str,
        max_new_tokens: usize,
        context: Option<usize>,
    ) -> Result<Self, EngineError> {
        let names = hf::checkpoint_files(dir).map_err(|e| EngineError::Manifest(atoma_sdk::error::report(&e)))?;
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
