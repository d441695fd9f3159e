//! What `scripts/parity.py` compares with transformers.

use anyhow::{Context, Result, bail};
use atoma_executor::engine::hf::HfModel;
use atoma_executor::engine::hf::text::Message;
use atoma_executor::engine::{Engine, InferenceRequest, TchEngine};
use atoma_protocol::Digest;
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::Output;
use serde_json::{Value, json};

fn strings(cases: &Value, key: &str) -> Vec<String> {
    cases
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn run(engine: &mut TchEngine, input: &Value) -> Result<Output> {
    let bytes = serde_json::to_vec(input)?;
    let out =
        engine.run(&InferenceRequest { input: &bytes, input_digest: blake2b256(&bytes), seed: Digest([0; 32]) })?;
    Ok(Output::decode(&out.bytes))
}

pub fn dump(engine: &mut TchEngine, cases: &Value) -> Result<Value> {
    let hf = engine.hf().context("parity needs a Hugging Face model (kind = hf)")?;
    let generates = matches!(hf, HfModel::Generate { .. });
    let text = hf.text();
    let mut out = json!({});
    let mut tokenize = Vec::new();
    for s in strings(cases, "tokenize") {
        let plain = text.encode(&s, false)?;
        tokenize.push(json!({ "text": s, "ids": text.encode(&s, true)?, "ids_no_special": plain, "decoded": text.decode(&plain) }));
    }
    out["tokenize"] = tokenize.into();
    if generates {
        let mut logits = Vec::new();
        for p in strings(cases, "logits") {
            let ids: Vec<i64> = text.encode(&p, true)?.into_iter().map(i64::from).collect();
            let l = tch::no_grad(|| hf.logits(&ids)).context("logits")?;
            let values = Vec::<f32>::try_from(l.flatten(0, -1))?;
            logits.push(json!({ "prompt": p, "ids": ids, "shape": l.size(), "values": values }));
        }
        out["logits"] = logits.into();
        let mut chat = Vec::new();
        for p in strings(cases, "chat").into_iter().filter(|_| text.has_template()) {
            let messages = json!([{ "role": "user", "content": p }]);
            let parsed: Vec<Message> = serde_json::from_value(messages.clone())?;
            let rendered = text.render(&parsed)?;
            chat.push(json!({ "messages": messages, "rendered": rendered, "ids": text.encode(&rendered, false)? }));
        }
        out["chat"] = chat.into();
        let max_tokens = cases.get("max_tokens").and_then(Value::as_i64).unwrap_or(64);
        let mut greedy = Vec::new();
        for p in strings(cases, "greedy") {
            match run(engine, &json!({ "prompt": p, "max_tokens": max_tokens }))? {
                Output::Text(t) => greedy.push(json!({ "prompt": p, "tokens": t.tokens, "text": t.text })),
                other => bail!("greedy {p:?}: {}", other.summary()),
            }
        }
        out["greedy"] = greedy.into();
    } else {
        let texts = strings(cases, "embed");
        match run(engine, &json!({ "input": texts }))? {
            Output::Embeddings(e) => {
                out["embed"] = (0..e.rows).map(|i| e.row(i).to_vec()).collect::<Vec<_>>().into();
            }
            other => bail!("embed: {}", other.summary()),
        }
    }
    Ok(out)
}
