//! The engine's promises: the test model regenerates to its recorded
//! digest; outputs are bit-identical across runs, processes and the thread
//! counts a profile may pin; different inputs give different outputs;
//! tampered weights are refused; the TorchScript path agrees bit for bit
//! with the built-in one; bad requests are errors, never panics.
//!
//! Every test in this process runs in the test class (CPU, 1 thread, AVX2);
//! other settings run in separate processes of `atoma-model`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use atoma_executor::engine::gpt::GptConfig;
use atoma_executor::engine::gpt::{Gpt, token_tensor};
use atoma_executor::engine::{ClassProfile, Engine, EngineError, InferenceRequest, TchEngine, codec};
use atoma_executor::manifest::ModelManifest;
use atoma_executor::testmodel::{trace_gpt, write_test_model};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::ErrorOutput;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory with the test model's weights and manifest, made once.
/// A static is never dropped: the directory stays, under cargo's target/tmp
/// rather than the system's, so that `cargo clean` takes it.
fn model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        write_test_model(dir.path()).unwrap();
        dir
    })
    .path()
}

fn manifest() -> PathBuf {
    model_dir().join("tiny-gpt.toml")
}

fn engine() -> TchEngine {
    TchEngine::load(&manifest(), &ClassProfile::cpu_test(), None).unwrap()
}

fn gpt_input(prompt: &str, max_tokens: i64, temperature: f32) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature }))
        .unwrap()
}

fn run(
    engine: &mut TchEngine,
    input: &[u8],
    seed: Digest,
) -> Result<atoma_executor::engine::InferenceOutput, EngineError> {
    engine.run(&InferenceRequest { input, input_digest: blake2b256(input), seed })
}

/// Runs `atoma-model run --json` in a new process and returns its output digest.
fn digest_in_process(class: Option<&Path>, prompt: &str, temperature: f32) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atoma-model"));
    if let Some(class) = class {
        cmd.arg("--profile").arg(class);
    }
    let out = cmd
        .args(["run", manifest().to_str().unwrap(), "--prompt", prompt, "--max-tokens", "24", "--json"])
        .args(["--temperature", &temperature.to_string(), "--seed", &Digest([3; 32]).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "atoma-model failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["output_digest"].as_str().unwrap().to_string()
}

#[test]
fn generating_the_test_model_reproduces_the_recorded_digest() {
    let m = ModelManifest::read(&repo().join("models/tiny-gpt.toml")).unwrap();
    let bytes = std::fs::read(model_dir().join("tiny-gpt.safetensors")).unwrap();
    assert_eq!(blake2b256(&bytes), m.digest(), "the generator's output changed; update models/tiny-gpt.toml");
}

/// Outputs recorded from the test model: any change to how it generates or
/// samples (greedy, and sampled at three temperatures from two seeds) shows
/// here as a changed digest.
#[test]
fn the_test_model_gives_its_recorded_outputs() {
    let mut e = engine();
    let recorded = [
        (0.0, 3, "0xd21dcab190bfdbb690adaf014e8280c1f07dfb70c6c2f14d43c042ee34cc806f"),
        (0.8, 3, "0xb75c9134a4468e7ed41cdd0a9c693ef16199b79f10b8ec14775635d802faf89b"),
        (0.8, 9, "0x75e13e8909d785565d9aa8eaa727113633daf2ef0dc3b900de63e9e35e45dc65"),
        (1.5, 3, "0xdcf687799dde85dbcdcb611f43c0d3706cce32b458b6dbf58746e09daf2247ca"),
        (1.5, 9, "0xc60b38c0ad9f36714270a7a19a4c94835a6beffdccac5bc20e2b5111b7c5f46d"),
        (5.0, 9, "0xbe69d27f46b584fece843707f8e98fa1633d1c2a2bb3411edff801952f26ae8a"),
    ];
    let mut got = Vec::new();
    for (temperature, seed, _) in recorded {
        let input = gpt_input("The quick brown fox", 24, temperature);
        got.push(run(&mut e, &input, Digest([seed; 32])).unwrap().digest.to_string());
    }
    let expected: Vec<_> = recorded.iter().map(|r| r.2.to_string()).collect();
    assert_eq!(got, expected);
}

#[test]
fn repeated_runs_give_identical_outputs() {
    let mut e = engine();
    for temperature in [0.0, 0.8] {
        let input = gpt_input("The quick brown fox", 24, temperature);
        let first = run(&mut e, &input, Digest([3; 32])).unwrap();
        assert_eq!(first.bytes.len(), 24 * 4);
        assert_eq!(first.forward_passes, 24);
        for _ in 0..4 {
            let again = run(&mut e, &input, Digest([3; 32])).unwrap();
            assert_eq!(again.bytes, first.bytes);
            assert_eq!(again.digest, first.digest);
        }
    }
}

#[test]
fn separate_processes_and_thread_counts_agree() {
    let mut e = engine();
    let here = run(&mut e, &gpt_input("Sampling Consensus", 24, 0.7), Digest([3; 32])).unwrap().digest.to_string();
    let dir = tempfile::tempdir().unwrap();
    for threads in [1, 2, 4] {
        let class = dir.path().join(format!("class-{threads}.toml"));
        std::fs::write(
            &class,
            format!(
                "name = \"cpu-avx2-t1/torch-2.13.0\"\ndevice = \"cpu\"\nthreads = {threads}\ncpu_capability = \"avx2\"\nlibtorch = \"2.13.0\"\n"
            ),
        )
        .unwrap();
        assert_eq!(digest_in_process(Some(&class), "Sampling Consensus", 0.7), here, "{threads} threads");
    }
    assert_eq!(digest_in_process(None, "Sampling Consensus", 0.7), here);
}

#[test]
fn different_prompts_and_seeds_give_different_outputs() {
    let mut e = engine();
    let a = run(&mut e, &gpt_input("alpha", 16, 0.0), Digest([0; 32])).unwrap();
    let b = run(&mut e, &gpt_input("omega", 16, 0.0), Digest([0; 32])).unwrap();
    assert_ne!(a.digest, b.digest);
    let s1 = run(&mut e, &gpt_input("alpha", 16, 1.0), Digest([1; 32])).unwrap();
    let s2 = run(&mut e, &gpt_input("alpha", 16, 1.0), Digest([2; 32])).unwrap();
    assert_ne!(s1.digest, s2.digest);
    // Greedy decoding ignores the seed.
    assert_eq!(run(&mut e, &gpt_input("alpha", 16, 0.0), Digest([9; 32])).unwrap().digest, a.digest);
}

#[test]
fn tampered_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("tiny-gpt.safetensors");
    std::fs::copy(model_dir().join("tiny-gpt.safetensors"), &weights).unwrap();
    std::fs::copy(manifest(), dir.path().join("tiny-gpt.toml")).unwrap();
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let err = TchEngine::load(&dir.path().join("tiny-gpt.toml"), &ClassProfile::cpu_test(), None).err().unwrap();
    assert!(matches!(err, EngineError::WeightDigest { .. }), "{err}");
    // The manifest's file with the right bytes, but another digest on chain.
    let err = TchEngine::load(&manifest(), &ClassProfile::cpu_test(), Some(&Digest([5; 32]))).err().unwrap();
    assert!(matches!(err, EngineError::WeightDigest { expected, .. } if expected == Digest([5; 32])), "{err}");
}

#[test]
fn a_model_of_another_class_is_refused() {
    let mut class = ClassProfile::cpu_test();
    class.name = "cuda-h100/torch-2.13.0".into();
    let err = TchEngine::load(&manifest(), &class, None).err().unwrap();
    assert!(matches!(err, EngineError::Manifest(_)), "{err}");
}

#[test]
fn torchscript_path_agrees_bit_for_bit_with_the_built_in_path() {
    let _ = engine(); // enters the class's deterministic mode first
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tiny-gpt.pt");
    let weights = model_dir().join("tiny-gpt.safetensors");
    trace_gpt(GptConfig::tiny(), &weights, 8, &archive).unwrap();
    assert!(std::fs::metadata(&archive).unwrap().len() < 1 << 20);

    let tokens = token_tensor(&[72, 101, 108, 108, 111, 44, 32, 83]);
    let (model, _vs) = Gpt::load(GptConfig::tiny(), &weights, tch::Device::Cpu).unwrap();
    let built_in = tch::no_grad(|| model.forward(&tokens));

    let manifest_path = dir.path().join("tiny-gpt-ts.toml");
    let digest = blake2b256(&std::fs::read(&archive).unwrap());
    std::fs::write(
        &manifest_path,
        format!(
            "id = \"tiny-gpt-ts\"\nkind = \"torchscript\"\nweights = \"tiny-gpt.pt\"\nweights_blake2b256 = \"{digest}\"\nhardware_class = \"cpu-avx2-t1/torch-2.13.0\"\n"
        ),
    )
    .unwrap();
    let mut ts = TchEngine::load(&manifest_path, &ClassProfile::cpu_test(), None).unwrap();
    let input = codec::encode(&tokens).unwrap();
    let out = run(&mut ts, &input, Digest([0; 32])).unwrap();
    assert_eq!(out.bytes, codec::encode(&built_in).unwrap(), "logits differ between TorchScript and built-in");
    let decoded = codec::decode(&out.bytes).unwrap();
    assert_eq!(decoded.size(), vec![1, 8, 256]);
    // A tensor the module cannot take (floats for token ids) is refused, the same way every time.
    let wrong = codec::encode(&tch::Tensor::from_slice(&[0.5f32, 1.5]).view([1, 2])).unwrap();
    let refused = run(&mut ts, &wrong, Digest([0; 32])).unwrap();
    assert_eq!(ErrorOutput::from_bytes(&refused.bytes).unwrap().code, "model_refused_input");
    assert_eq!(run(&mut ts, &wrong, Digest([0; 32])).unwrap().bytes, refused.bytes);
}

#[test]
fn refused_inputs_give_one_deterministic_error_output() {
    let mut e = engine();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty input", vec![], "invalid_json"),
        ("not JSON", b"hello world".to_vec(), "invalid_json"),
        ("wrong JSON shape", br#"{"text":"x"}"#.to_vec(), "invalid_json"),
        ("empty prompt", gpt_input("", 4, 0.0), "empty_prompt"),
        ("zero tokens", gpt_input("x", 0, 0.0), "max_tokens_out_of_range"),
        ("negative tokens", gpt_input("x", -1, 0.0), "max_tokens_out_of_range"),
        ("a million tokens", gpt_input("x", 1_000_000, 0.0), "max_tokens_out_of_range"),
        ("beyond the context", gpt_input(&"x".repeat(250), 10, 0.0), "context_exceeded"),
        ("negative temperature", gpt_input("x", 4, -1.0), "temperature_out_of_range"),
        ("unknown field", br#"{"prompt":"x","max_tokens":1,"top_k":3}"#.to_vec(), "invalid_json"),
    ];
    for (what, input, code) in cases {
        let out = run(&mut e, &input, Digest([0; 32])).unwrap_or_else(|err| panic!("{what}: {err}"));
        let refusal = ErrorOutput::from_bytes(&out.bytes).unwrap_or_else(|| panic!("{what} was accepted"));
        assert_eq!(refusal.code, code, "{what}: {}", refusal.message);
        assert_eq!(out.forward_passes, 0);
        // The same bytes again, with another seed: what honest nodes commit to.
        assert_eq!(run(&mut e, &input, Digest([9; 32])).unwrap().bytes, out.bytes, "{what}");
    }
    let input = gpt_input("x", 4, 0.0);
    let err =
        e.run(&InferenceRequest { input: &input, input_digest: Digest([0; 32]), seed: Digest([0; 32]) }).err().unwrap();
    assert!(matches!(err, EngineError::InputDigest { .. }), "{err}");
}

#[test]
fn malformed_tensor_encodings_are_rejected() {
    for bytes in [
        vec![],
        vec![9, 0],
        vec![0, 9],
        vec![0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3],
        vec![0, 1, 255, 255, 255, 255, 255, 255, 255, 255],
    ] {
        assert!(
            matches!(codec::decode(&bytes), Err(EngineError::BadInput { code: "invalid_tensor", .. })),
            "{bytes:?}"
        );
    }
    let t = tch::Tensor::from_slice(&[1.5f32, -2.0]).view([1, 2]);
    assert_eq!(codec::decode(&codec::encode(&t).unwrap()).unwrap().size(), vec![1, 2]);
}

#[test]
fn a_process_serves_one_class() {
    let _ = engine();
    let mut other = ClassProfile::cpu_test();
    other.name = "another/torch-2.13.0".into();
    assert!(matches!(atoma_executor::engine::profile::enter(&other), Err(EngineError::Profile(_))));
    let p = atoma_executor::engine::profile::current().unwrap();
    assert_eq!(p.check(&ClassProfile::cpu_test()), Ok(()));
    assert!(p.deterministic_algorithms);
    assert_eq!(p.cpu_capability, "AVX2");
}
