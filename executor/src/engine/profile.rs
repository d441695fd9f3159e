//! Hardware-class profiles and deterministic mode.
//!
//! A hardware class promises that honest nodes produce bit-identical
//! outputs. That holds only if every node pins what changes the bits: the
//! libtorch build, the intra-op thread count (reductions split by thread),
//! the CPU kernel set ATen dispatches to (`ATEN_CPU_CAPABILITY`, `MKL_CBWR`),
//! and, on CUDA, deterministic algorithms and the cuBLAS workspace. A
//! [`ClassProfile`] states those values; [`enter`] applies them to this
//! process (once, before libtorch does any work) and returns the
//! [`HardwareProfile`] actually in effect, which a node compares with its
//! class before it serves.
//!
//! Not for: choosing kernels inside a model (the model code fixes its own
//! kernel path, e.g. written-out attention).

use std::ffi::c_char;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::EngineError;

/// The libtorch version the executor is built against (checked by build.rs).
pub const LIBTORCH_VERSION: &str = env!("ATOMA_LIBTORCH_VERSION");

unsafe extern "C" {
    fn atoma_set_deterministic_algorithms(on: i32) -> i32;
    fn atoma_deterministic_algorithms() -> i32;
    fn atoma_cpu_capability(buf: *mut c_char, len: i32) -> i32;
}

/// Where a class runs its models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

/// The dtype a class runs every model in (weights and activations;
/// normalisation, softmax and sampling stay in f32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    #[default]
    F32,
    Bf16,
    F16,
}

impl Dtype {
    /// libtorch's kind.
    pub fn kind(self) -> tch::Kind {
        match self {
            Dtype::F32 => tch::Kind::Float,
            Dtype::Bf16 => tch::Kind::BFloat16,
            Dtype::F16 => tch::Kind::Half,
        }
    }
}

/// What a hardware class pins (part of a node's configuration; the on-chain
/// class carries the same `name`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassProfile {
    /// The class's name, e.g. `cpu-avx2-t1/torch-2.13.0`.
    pub name: String,
    pub device: DeviceKind,
    /// Intra-op threads of every node of the class.
    pub threads: usize,
    /// `ATEN_CPU_CAPABILITY`: `default`, `avx2` or `avx512`.
    pub cpu_capability: String,
    /// The libtorch version, e.g. `2.13.0`.
    pub libtorch: String,
    /// The dtype models run in (default f32).
    #[serde(default)]
    pub dtype: Dtype,
}

impl ClassProfile {
    /// The class the repository's tests and demo use: CPU, one thread, AVX2.
    pub fn cpu_test() -> Self {
        ClassProfile {
            name: "cpu-avx2-t1/torch-2.13.0".into(),
            device: DeviceKind::Cpu,
            threads: 1,
            cpu_capability: "avx2".into(),
            libtorch: LIBTORCH_VERSION.into(),
            dtype: Dtype::F32,
        }
    }

    /// Rejects nonsense with a message naming the field.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |field: &str, why: &str| Err(EngineError::Profile(format!("class profile field `{field}`: {why}")));
        if self.name.is_empty() || self.name.len() > 128 {
            return bad("name", "must be 1 to 128 bytes");
        }
        if !(1..=256).contains(&self.threads) {
            return bad("threads", "must be between 1 and 256");
        }
        if !["default", "avx2", "avx512"].contains(&self.cpu_capability.as_str()) {
            return bad("cpu_capability", "must be `default`, `avx2` or `avx512`");
        }
        if self.libtorch != LIBTORCH_VERSION {
            return bad("libtorch", &format!("this executor is built with libtorch {LIBTORCH_VERSION}"));
        }
        Ok(())
    }

    /// The profile as the chain records it with the class:
    /// `device=cpu;dtype=f32;threads=1;cpu_capability=avx2;libtorch=2.13.0`.
    pub fn chain_profile(&self) -> String {
        let device = match self.device {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        };
        let dtype = match self.dtype {
            Dtype::F32 => "f32",
            Dtype::Bf16 => "bf16",
            Dtype::F16 => "f16",
        };
        format!(
            "device={device};dtype={dtype};threads={};cpu_capability={};libtorch={}",
            self.threads, self.cpu_capability, self.libtorch
        )
    }

    /// Checks this profile against the one the chain records for the class:
    /// every field must be pinned there and equal here. The error names each
    /// field that differs (as `class.<field>` of the node's configuration).
    pub fn check_chain_profile(&self, chain: &str) -> Result<(), EngineError> {
        let ours = self.chain_profile();
        let fields = |p: &str| -> Vec<(String, String)> {
            p.split(';')
                .filter(|f| !f.is_empty())
                .map(|f| match f.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                    None => (f.trim().to_string(), String::new()),
                })
                .collect()
        };
        let (ours, theirs) = (fields(&ours), fields(chain));
        let mut wrong = Vec::new();
        for (key, value) in &ours {
            match theirs.iter().find(|(k, _)| k == key) {
                Some((_, v)) if v == value => {}
                Some((_, v)) => wrong.push(format!("class.{key} is {value:?}, the class pins {v:?}")),
                None => wrong.push(format!("the class does not pin {key} (this node has {value:?})")),
            }
        }
        for (key, _) in &theirs {
            if !ours.iter().any(|(k, _)| k == key) {
                wrong.push(format!("the class pins {key}, which this executor does not know (upgrade it)"));
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Profile(format!(
                "class {}: this node's profile differs from the one on chain ({chain}): {}",
                self.name,
                wrong.join("; ")
            )))
        }
    }

    /// `MKL_CBWR` value matching the capability.
    fn mkl_cbwr(&self) -> &'static str {
        match self.cpu_capability.as_str() {
            "avx2" => "AVX2",
            "avx512" => "AVX512",
            _ => "COMPATIBLE",
        }
    }
}

/// What is in effect in this process, as reported by libtorch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareProfile {
    /// The class this process entered.
    pub class: String,
    /// `cpu`, or `cuda:0` with the device count.
    pub device: String,
    pub threads: usize,
    pub libtorch: String,
    /// ATen's CPU capability (`AVX2`, `AVX512`, `DEFAULT`).
    pub cpu_capability: String,
    pub mkl_cbwr: String,
    pub deterministic_algorithms: bool,
    /// The CPU model, from /proc/cpuinfo (informational).
    pub cpu_model: String,
}

impl HardwareProfile {
    /// Whether this process meets `class`; the mismatches otherwise.
    pub fn check(&self, class: &ClassProfile) -> Result<(), Vec<String>> {
        let mut wrong = Vec::new();
        if self.class != class.name {
            wrong.push(format!("class {} (expected {})", self.class, class.name));
        }
        if self.threads != class.threads {
            wrong.push(format!("{} threads (expected {})", self.threads, class.threads));
        }
        if !self.cpu_capability.eq_ignore_ascii_case(&class.cpu_capability) {
            wrong.push(format!("CPU capability {} (expected {})", self.cpu_capability, class.cpu_capability));
        }
        if self.libtorch != class.libtorch {
            wrong.push(format!("libtorch {} (expected {})", self.libtorch, class.libtorch));
        }
        if class.device == DeviceKind::Cuda && !self.device.starts_with("cuda") {
            wrong.push("no CUDA device".to_string());
        }
        if wrong.is_empty() { Ok(()) } else { Err(wrong) }
    }
}

static ENTERED: OnceLock<Result<HardwareProfile, String>> = OnceLock::new();

/// Applies `class` to this process and returns what is in effect. The
/// first call decides: later calls with the same class return the same
/// profile, with another class an error (a process serves one class).
///
/// Call it before any other libtorch use: ATen reads its CPU capability,
/// MKL its reproducibility mode and OpenMP its wait policy once, when first
/// used. The environment variables are set only where unset or different.
pub fn enter(class: &ClassProfile) -> Result<HardwareProfile, EngineError> {
    class.validate()?;
    let entered = ENTERED.get_or_init(|| apply(class).map_err(|e| e.to_string()));
    match entered {
        Ok(p) if p.class == class.name => Ok(p.clone()),
        Ok(p) => Err(EngineError::Profile(format!("this process runs class {}, not {}", p.class, class.name))),
        Err(e) => Err(EngineError::Profile(e.clone())),
    }
}

/// The profile entered by this process, if any.
pub fn current() -> Option<HardwareProfile> {
    ENTERED.get().and_then(|r| r.as_ref().ok().cloned())
}

fn set_env(key: &str, value: &str) {
    if std::env::var(key).ok().as_deref() != Some(value) {
        // SAFETY: `enter` runs once, guarded by the OnceLock, before libtorch
        // starts its own threads; the variables are read by libtorch, MKL and
        // OpenMP at their first use, after this.
        unsafe { std::env::set_var(key, value) };
    }
}

fn apply(class: &ClassProfile) -> Result<HardwareProfile, EngineError> {
    set_env("ATEN_CPU_CAPABILITY", &class.cpu_capability);
    set_env("MKL_CBWR", class.mkl_cbwr());
    // Spin-waiting OpenMP threads collapse throughput when cores are shared.
    set_env("OMP_WAIT_POLICY", "PASSIVE");
    set_env("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    tch::set_num_threads(class.threads as i32);
    tch::set_num_interop_threads(1);
    let mut device = "cpu".to_string();
    if class.device == DeviceKind::Cuda {
        if !tch::Cuda::is_available() {
            return Err(EngineError::Profile(format!(
                "class {} needs CUDA, and no CUDA device is available",
                class.name
            )));
        }
        tch::Cuda::cudnn_set_benchmark(false);
        device = format!("cuda:0 (of {})", tch::Cuda::device_count());
    }
    // SAFETY: plain C calls into libtorch's global context.
    if unsafe { atoma_set_deterministic_algorithms(1) } != 0 {
        return Err(EngineError::Profile("libtorch refused deterministic algorithms".into()));
    }
    let profile = HardwareProfile {
        class: class.name.clone(),
        device,
        threads: tch::get_num_threads().max(0) as usize,
        libtorch: LIBTORCH_VERSION.to_string(),
        cpu_capability: cpu_capability(),
        mkl_cbwr: std::env::var("MKL_CBWR").unwrap_or_default(),
        // SAFETY: a plain C call.
        deterministic_algorithms: unsafe { atoma_deterministic_algorithms() } == 1,
        cpu_model: cpu_model(),
    };
    profile.check(class).map_err(|wrong| {
        EngineError::Profile(format!(
            "this machine does not meet class {}: {} (was libtorch used before deterministic mode?)",
            class.name,
            wrong.join(", ")
        ))
    })?;
    Ok(profile)
}

/// ATen's CPU capability in effect.
fn cpu_capability() -> String {
    let mut buf = [0 as c_char; 64];
    // SAFETY: the shim writes at most `buf.len()` bytes, NUL-terminated.
    let n = unsafe { atoma_cpu_capability(buf.as_mut_ptr(), buf.len() as i32) };
    if n < 0 {
        return "unknown".into();
    }
    buf[..n as usize].iter().map(|&c| c as u8 as char).collect()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown".into())
}
