//! Unit tests of `tokenizer.rs`.

use super::*;
use crate::engine::gguf::writer::write;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
}

/// A byte-level vocabulary: the 256 byte characters, two merges, two
/// control tokens; `<|im_start|>` is BOS, `<|im_end|>` EOS.
fn file(extra: &[(&str, Value)]) -> Gguf {
    let mut tokens: Vec<String> = vec!["<|im_start|>".into(), "<|im_end|>".into()];
    let mut bytes: Vec<char> = byte_spelling().to_vec();
    bytes.sort_unstable();
    tokens.extend(bytes.iter().map(|c| c.to_string()));
    tokens.extend(["he".into(), "llo".into(), "hello".into(), "ll".into()]);
    let mut types = vec![Value::I32(3), Value::I32(3)];
    types.extend((2..tokens.len()).map(|_| Value::I32(1)));
    let token_refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("smollm".into())),
        ("tokenizer.ggml.tokens".into(), strings(&token_refs)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), strings(&["h e", "l l", "ll o", "he llo"])),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(1)),
        (
            "tokenizer.chat_template".into(),
            Value::String(
                "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + eos_token }}{% endfor %}"
                    .into(),
            ),
        ),
    ];
    for (k, v) in extra {
        meta.retain(|(key, _)| key != k);
        meta.push((k.to_string(), v.clone()));
    }
    Gguf::parse(&write(&meta, &[])).unwrap()
}

fn ids(text: &Text, s: &str, special: bool) -> Vec<u32> {
    text.encode(s, special).unwrap()
}

#[test]
fn byte_level_bpe_merges_and_keeps_control_tokens_whole() {
    let g = file(&[]);
    let text = text(&g, "t.gguf").unwrap();
    let vocab = text.tokenizer.get_vocab(false);
    let id = |t: &str| vocab[t];
    // "hello" merges whole; " hello" keeps the space byte (Ġ) apart.
    assert_eq!(ids(&text, "hello", true), vec![id("hello")]);
    assert_eq!(ids(&text, "<|im_start|>hello<|im_end|>", false), vec![0, id("hello"), 1]);
    assert_eq!(ids(&text, " hello", false), vec![id("Ġ"), id("hello")]);
    assert_eq!(text.decode(&[0, id("hello"), 1]), "hello");
    assert_eq!(text.eos, vec![1]);
    let rendered =
        text.render(&[crate::engine::hf::text::Message { role: "user".into(), content: "hi".into() }]).unwrap();
    assert_eq!(rendered, "<|im_start|>user\nhi<|im_end|>");
}

#[test]
fn bos_is_added_only_when_the_file_says_so() {
    let g = file(&[("tokenizer.ggml.add_bos_token", Value::Bool(true))]);
    let text = text(&g, "t.gguf").unwrap();
    let hello = text.tokenizer.token_to_id("hello").unwrap();
    assert_eq!(ids(&text, "hello", true), vec![0, hello]);
    assert_eq!(ids(&text, "hello", false), vec![hello]);
    let g = file(&[("tokenizer.ggml.add_bos_token", Value::Bool(false))]);
    assert_eq!(ids(&super::text(&g, "t.gguf").unwrap(), "hello", true), vec![hello]);
}

#[test]
fn pre_tokenizer_names_pick_their_split() {
    // Llama 3 splits digits in threes, Qwen2 one by one, GPT-2 keeps a run.
    for (pre, want) in [("llama-bpe", 2), ("qwen2", 4), ("smollm", 1), ("gpt-2", 1)] {
        let g = file(&[("tokenizer.ggml.pre", Value::String(pre.into()))]);
        let text = text(&g, "t.gguf").unwrap();
        let mut s = PreTokenizedString::from("1234");
        text.tokenizer.get_pre_tokenizer().unwrap().pre_tokenize(&mut s).unwrap();
        let words = s.get_splits(OffsetReferential::Original, OffsetType::Byte).len();
        assert_eq!(words, want, "{pre}");
    }
}

#[test]
fn unsupported_or_malformed_tokenizers_are_refused_by_key() {
    let g = file(&[("tokenizer.ggml.model", Value::String("t5".into()))]);
    let e = text(&g, "t.gguf").err().unwrap().to_string();
    assert!(e.contains("t.gguf: metadata `tokenizer.ggml.model`") && e.contains("\"t5\""), "{e}");
    let g = file(&[("tokenizer.ggml.eos_token_id", Value::U32(1_000_000))]);
    let e = text(&g, "t.gguf").err().unwrap().to_string();
    assert!(e.contains("tokenizer.ggml.eos_token_id") && e.contains("not a token id"), "{e}");
    let g = file(&[("tokenizer.ggml.merges", strings(&["nospace"]))]);
    let e = text(&g, "t.gguf").err().unwrap().to_string();
    assert!(e.contains("tokenizer.ggml.merges"), "{e}");
}

/// A SentencePiece vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte
/// tokens, then pieces scored -0, -1, … (scripts: the same vocabulary
/// written with the `gguf` package and read by transformers 5.24.0).
fn sentencepiece_file() -> Gguf {
    let pieces = [
        "▁t",
        "he",
        "▁the",
        "▁c",
        "ap",
        "▁cap",
        "it",
        "al",
        "ital",
        "▁capital",
        "▁o",
        "f",
        "▁of",
        "▁F",
        "ra",
        "nce",
        "▁Fra",
        "▁France",
        "▁i",
        "s",
        "▁is",
        "▁P",
        "ar",
        "is",
        "▁Par",
        "▁Paris",
        "?",
        ".",
        "▁",
        "t",
        "h",
        "e",
        "c",
        "a",
        "p",
        "i",
        "l",
        "o",
        "F",
        "r",
        "n",
        "P",
    ];
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    tokens.extend((0..=255).map(|b| format!("<0x{b:02X}>")));
    tokens.extend(pieces.iter().map(|p| p.to_string()));
    let mut scores = vec![Value::F32(0.0); 259];
    scores.extend((0..pieces.len()).map(|i| Value::F32(-(i as f32))));
    let mut types = vec![Value::I32(2), Value::I32(3), Value::I32(3)];
    types.extend((0..256).map(|_| Value::I32(6)));
    types.extend(pieces.iter().map(|_| Value::I32(1)));
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        ("tokenizer.ggml.pre".into(), Value::String("default".into())),
        ("tokenizer.ggml.tokens".into(), strings(&refs)),
        ("tokenizer.ggml.scores".into(), Value::Array(scores)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
        ("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.ggml.add_eos_token".into(), Value::Bool(false)),
    ];
    Gguf::parse(&write(&meta, &[])).unwrap()
}

#[test]
fn sentencepiece_vocabulary_encodes_as_transformers_does() {
    let text = text(&sentencepiece_file(), "t.gguf").unwrap();
    // transformers 5.24.0: `tokenizer(t)["input_ids"]` and
    // `decode(ids, skip_special_tokens=True)` on the same vocabulary.
    let cases: [(&str, &[u32], &str); 5] = [
        (
            "What is the capital of France?",
            &[1, 287, 90, 289, 292, 288, 279, 261, 268, 271, 275, 299, 291, 290, 285],
            "What is the capital of France?",
        ),
        (
            "the capital of France is Paris.",
            &[1, 261, 268, 271, 275, 299, 291, 290, 279, 284, 286],
            "the capital of France is Paris.",
        ),
        (
            " leading  space",
            &[1, 287, 295, 290, 292, 103, 294, 299, 106, 287, 287, 278, 293, 292, 291, 290],
            "leading  space",
        ),
        (
            "Hello\nworld 42",
            &[1, 287, 75, 290, 295, 295, 296, 13, 122, 296, 298, 295, 103, 287, 55, 53],
            "Hello\nworld 42",
        ),
        ("<s>the</s> <unk>", &[1, 1, 288, 260, 2, 287, 0], "the "),
    ];
    for (t, want, decoded) in cases {
        assert_eq!(ids(&text, t, true), want, "{t:?}");
        assert_eq!(text.decode(want), decoded, "{t:?}");
    }
}

#[test]
fn merges_follow_the_scores_as_transformers_derives_them() {
    let g = sentencepiece_file();
    let tokens: Vec<&str> =
        g.get("tokenizer.ggml.tokens").unwrap().as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let scores: Vec<f64> =
        g.get("tokenizer.ggml.scores").unwrap().as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
    let merges = merges_from_scores(&tokens, &scores, &vocab);
    // transformers' first twelve, of 24.
    let want = [
        ("▁", "t"),
        ("h", "e"),
        ("▁t", "he"),
        ("▁", "c"),
        ("a", "p"),
        ("▁c", "ap"),
        ("i", "t"),
        ("a", "l"),
        ("it", "al"),
        ("▁cap", "ital"),
        ("▁", "o"),
        ("▁o", "f"),
    ];
    assert_eq!(merges.len(), 24);
    for (got, want) in merges.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1.as_str()), want);
    }
}
