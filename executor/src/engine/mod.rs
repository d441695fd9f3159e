//! The inference engine: load a model, run one request, return the canonical
//! output bytes and their digest.
//!
//! An input the model refuses (not what its kind accepts, or outside its
//! limits) is still an output: `run` returns the canonical error output of
//! `atoma_protocol::output` (`atoma-error/v1\n{"code":…,"message":…}`), whose
//! code and message depend on the input bytes and the model only, so every
//! honest node of the class commits to the same bytes (docs/protocol.md,
//! "Inputs a node cannot run"). The prefix cannot begin a token output
//! (`"atom"` as a little-endian u32 is far above any vocabulary) nor a tensor
//! output (its first byte is a dtype code of 0 to 6).
//!
//! The executor reaches models only through the [`Engine`] trait;
//! [`TchEngine`] implements it with libtorch for the three model kinds:
//! Hugging Face checkpoints (`hf`: Llama-family, Qwen2 and GPT-2 text
//! generation, BERT sentence embeddings), the built-in test GPT decoder and
//! TorchScript modules. Each request runs
//! alone (batch size 1, no cross-request batching), without gradients, in
//! the deterministic mode of the process's hardware class (`profile`).
//!
//! Not for: fetching inputs, talking to the chain, or scheduling requests
//! (the node service does that, calling `run` on a worker thread).

pub mod codec;
pub mod gguf;
pub mod gpt;
pub mod hf;
pub mod manifest;
pub mod profile;
pub mod sampling;
pub mod torchscript;

use std::path::Path;
use std::time::{Duration, Instant};

use atoma_protocol::Digest;
use atoma_protocol::commitment::{blake2b256, output_digest};
use atoma_protocol::output::ErrorOutput;
use tch::{Device, nn};

use gpt::{Gpt, GptInput};
use manifest::{Checkpoint, ModelKind, ModelManifest};
pub use profile::{ClassProfile, DeviceKind, Dtype, HardwareProfile};
use torchscript::TorchScript;

/// Why the engine refused a model or a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The manifest file is missing, unreadable or invalid.
    #[error(transparent)]
    ManifestFile(#[from] manifest::ManifestError),
    /// The manifest and the checkpoint's files disagree.
    #[error("model manifest: {0}")]
    Manifest(String),
    /// A model file's digest differs from the manifest or the chain.
    #[error("model {model} hashes to {actual}, expected {expected}: refusing to serve it")]
    WeightDigest { model: String, expected: Digest, actual: Digest },
    /// This process cannot meet the hardware class.
    #[error("hardware profile: {0}")]
    Profile(String),
    /// The input does not hash to the request's input digest.
    #[error("input hashes to {actual}, the request says {expected}")]
    InputDigest { expected: Digest, actual: Digest },
    /// The input is malformed or outside the model's limits. `run` turns it
    /// into the error output; the other functions return it.
    #[error("bad input ({code}): {message}")]
    BadInput {
        /// A stable snake_case code, e.g. `invalid_json`.
        code: &'static str,
        /// What is wrong, deterministic for given input bytes and model.
        message: String,
    },
    /// A checkpoint that cannot be served, or libtorch failing while it
    /// loads or runs the model.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What went wrong with a model: a message naming the file, tensor or field
/// (or the step libtorch failed in), and the error that caused it, kept as
/// the source so that reports show the whole chain.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ModelError {
    /// An error with no cause beyond its message.
    pub fn new(message: impl Into<String>) -> Self {
        ModelError { message: message.into(), source: None }
    }

    /// `message`, caused by `source`.
    pub fn caused(message: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ModelError { message: message.into(), source: Some(source.into()) }
    }

    /// A file that could not be read.
    pub fn file(path: &Path, source: std::io::Error) -> Self {
        ModelError::caused(path.display().to_string(), source)
    }

    /// The message, without its cause.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// One request as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct InferenceRequest<'a> {
    /// The input bytes (fetched and checked by the caller, checked again here).
    pub input: &'a [u8],
    /// The input digest recorded on chain.
    pub input_digest: Digest,
    /// The request's on-chain seed: the only randomness sampling may use.
    pub seed: Digest,
}

impl EngineError {
    /// A `BadInput` error.
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Self {
        EngineError::BadInput { code, message: message.into() }
    }
}

/// What a request produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferenceOutput {
    /// The canonical output bytes.
    pub bytes: Vec<u8>,
    /// `blake2b256(bytes)`: what the node commits to.
    pub digest: Digest,
    /// Forward passes the model ran.
    pub forward_passes: u32,
    /// Time inside the model (the forward passes and sampling).
    pub model_time: Duration,
}

/// A loaded model that runs requests deterministically.
pub trait Engine: Send {
    /// The model's manifest.
    fn manifest(&self) -> &ModelManifest;
    /// The hardware profile in effect in this process.
    fn profile(&self) -> &HardwareProfile;
    /// Runs one request. An input the model refuses gives the error output
    /// (`Ok`); `Err` is kept for what is not the input's doing (the input
    /// digest, libtorch failing).
    fn run(&mut self, request: &InferenceRequest<'_>) -> Result<InferenceOutput, EngineError> {
        self.run_streaming(request, &mut |_| {})
    }
    /// As `run`, giving a text generation's text to `on_text` as it is
    /// generated, in pieces that join into the output's text (a model that
    /// does not generate text gives none).
    fn run_streaming(
        &mut self,
        request: &InferenceRequest<'_>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<InferenceOutput, EngineError>;
}

enum Loaded {
    Hf(Box<hf::HfModel>),
    Gpt { model: Box<Gpt>, _vs: nn::VarStore },
    TorchScript(TorchScript),
}

/// The libtorch engine.
pub struct TchEngine {
    manifest: ModelManifest,
    profile: HardwareProfile,
    device: Device,
    model: Loaded,
}

// SAFETY: libtorch tensors and modules may move between threads; the engine
// is used by one thread at a time (`run` takes `&mut self`).
unsafe impl Send for TchEngine {}

impl TchEngine {
    /// Loads the model of `manifest_path` for `class`: enters the class's
    /// deterministic mode, checks that the model belongs to the class, and
    /// checks every model file's digest against the manifest and, when given,
    /// the model digest in the on-chain model table.
    pub fn load(
        manifest_path: &Path,
        class: &ClassProfile,
        on_chain_digest: Option<&Digest>,
    ) -> Result<Self, EngineError> {
        let manifest = ModelManifest::read(manifest_path)?;
        if manifest.hardware_class != class.name {
            return Err(EngineError::Manifest(format!(
                "model {} runs on class {}, this node serves {}",
                manifest.id, manifest.hardware_class, class.name
            )));
        }
        manifest.verify(on_chain_digest)?;
        let profile = profile::enter(class)?;
        let device = match class.device {
            DeviceKind::Cpu => Device::Cpu,
            DeviceKind::Cuda => Device::Cuda(0),
        };
        let model = match (manifest.kind, &manifest.weights, &manifest.hf) {
            (ModelKind::Hf, _, Some(h)) => {
                let limits = hf::Limits { max_new_tokens: h.max_new_tokens, context: h.context };
                let model = load_checkpoint(&h.dir, limits, class.dtype.kind(), device)
                    .map_err(|e| ModelError::caused(format!("model {}", manifest.id), e))?;
                Loaded::Hf(Box::new(model))
            }
            (ModelKind::Gpt, Some(weights), _) => {
                let (model, vs) = Gpt::load(manifest.gpt.expect("validated manifest"), weights, device)?;
                Loaded::Gpt { model: Box::new(model), _vs: vs }
            }
            (ModelKind::Torchscript, Some(weights), _) => Loaded::TorchScript(TorchScript::load(weights, device)?),
            _ => unreachable!("validated manifest"),
        };
        Ok(TchEngine { manifest, profile, device, model })
    }

    /// The loaded Hugging Face checkpoint, for tools that need more than `run`
    /// (tokenization, logits).
    pub fn hf(&self) -> Option<&hf::HfModel> {
        match &self.model {
            Loaded::Hf(m) => Some(m),
            _ => None,
        }
    }
}

impl Engine for TchEngine {
    fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    fn profile(&self) -> &HardwareProfile {
        &self.profile
    }

    fn run_streaming(
        &mut self,
        request: &InferenceRequest<'_>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<InferenceOutput, EngineError> {
        let actual = blake2b256(request.input);
        if actual != request.input_digest {
            return Err(EngineError::InputDigest { expected: request.input_digest, actual });
        }
        let _guard = tch::no_grad_guard();
        let start = Instant::now();
        let result = match &self.model {
            Loaded::Hf(model) => model.run(request.input, &request.seed, on_text),
            Loaded::Gpt { model, .. } => GptInput::parse(request.input, model.config())
                .and_then(|input| model.generate(&input, &request.seed, self.device))
                .map(|(tokens, passes)| (gpt::encode_tokens(&tokens), passes)),
            Loaded::TorchScript(ts) => ts.run(request.input).map(|bytes| (bytes, 1)),
        };
        let (bytes, forward_passes) = match result {
            Ok(done) => done,
            Err(EngineError::BadInput { code, message }) => (ErrorOutput::new(code, message).to_bytes(), 0),
            Err(e) => return Err(e),
        };
        let model_time = start.elapsed();
        Ok(InferenceOutput { digest: output_digest(&bytes), bytes, forward_passes, model_time })
    }
}

/// Loads the checkpoint of `dir`: its GGUF file when it holds one (and no
/// config.json), else the Hugging Face checkpoint. The caller has checked
/// the files' digests.
pub fn load_checkpoint(
    dir: &Path,
    limits: hf::Limits,
    kind: tch::Kind,
    device: Device,
) -> Result<hf::HfModel, ModelError> {
    match hf::gguf_file(dir)? {
        Some(file) => gguf::llama::load(&dir.join(file), limits, kind, device),
        None => hf::HfModel::load(dir, limits, kind, device),
    }
}
