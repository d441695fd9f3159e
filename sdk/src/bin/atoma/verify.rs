//! `atoma verify RECEIPT`: checks a receipt (the `atoma` field of an
//! atoma-gateway response, docs/gateway.md) against the chain, claim by
//! claim, so that nobody needs to trust the gateway that issued it; given
//! a whole response, also that its answer is the output the digest names.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use atoma_protocol::commitment::blake2b256;
use atoma_protocol::output::{Embeddings, TextOutput};
use atoma_protocol::{Event, Status};
use atoma_sdk::http::hex;
use base64::Engine as _;
use clap::Args;
use serde_json::Value;
use sui_sdk_types::Address;

use crate::env::NetworkArgs;

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// The receipt: a JSON file holding it, or a whole gateway response
    /// (its `atoma` field is read, and its answer checked against the
    /// output digest); `-` reads standard input.
    receipt: PathBuf,
}

/// The file's JSON: a receipt, or a response with its receipt in `atoma`.
fn read(path: &PathBuf) -> anyhow::Result<Value> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The output bytes a whole response carries, if it is one: a chat or text
/// completion's text with its finish reason, prompt tokens and the
/// receipt's token ids; or the embeddings, in float or base64.
fn answer_bytes(response: &Value) -> Option<anyhow::Result<Vec<u8>>> {
    if let Some(choice) = response["choices"].get(0) {
        let text = choice["message"]["content"].as_str().or(choice["text"].as_str())?;
        return Some((|| {
            let finish_reason = serde_json::from_value(choice["finish_reason"].clone())
                .context("the response's finish_reason is neither stop nor length")?;
            let prompt_tokens = response["usage"]["prompt_tokens"].as_u64().context("the response has no usage")?;
            let tokens = serde_json::from_value(response["atoma"]["tokens"].clone())
                .context("the receipt has no token ids (`atoma.tokens`)")?;
            let output = TextOutput { finish_reason, prompt_tokens: prompt_tokens as usize, text: text.into(), tokens };
            Ok(output.to_bytes())
        })());
    }
    let data = response["data"].as_array()?;
    Some((|| {
        let mut rows = Vec::new();
        for item in data {
            let row: Vec<f32> = match &item["embedding"] {
                Value::String(b64) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .context("an embedding is not base64")?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect(),
                v => serde_json::from_value(v.clone()).context("an embedding is not a list of numbers")?,
            };
            rows.push(row);
        }
        let dims = rows.first().map_or(0, Vec::len);
        anyhow::ensure!(rows.iter().all(|r| r.len() == dims), "the embeddings differ in length");
        Ok(Embeddings { rows: rows.len(), dims, values: rows.concat() }.to_bytes())
    })())
}

/// Prints each claim of the receipt with what the chain says; fails on the first that differs.
pub async fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let file = read(&a.receipt)?;
    let receipt = if file.get("atoma").is_some() { file["atoma"].clone() } else { file.clone() };
    let field = |k: &str| receipt[k].as_str().with_context(|| format!("the receipt has no `{k}`"));
    let request: Address = field("request")?.parse().context("the receipt's `request` is not an id")?;
    let chain = a.network.connect_read_only().await?;
    let r = chain.request(request).await.with_context(|| format!("request {request} on chain"))?;
    let events = chain.request_events(request).await?;
    let check = |claim: &str, ok: bool, chain_says: String| -> anyhow::Result<()> {
        println!("{} {claim}: {chain_says}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            bail!("the receipt's {claim} is not what the chain says");
        }
        Ok(())
    };
    let model = chain.model(&r.model_id).await?;
    check("model", field("model")? == r.model_id, r.model_id.clone())?;
    check("model digest", field("model_digest")? == hex(&model.weight_digest.0), hex(&model.weight_digest.0))?;
    let fee = events.iter().find_map(|e| if let Event::RequestSubmitted(s) = e { Some(s.fee) } else { None });
    let paid = fee.map_or_else(|| "no submission event".to_string(), |f| format!("{f} MIST"));
    check("fee", receipt["fee"].as_u64() == fee, paid)?;
    let finalized = events.iter().find_map(|e| if let Event::RequestFinalized(f) = e { Some(f) } else { None });
    let failed = events.iter().find_map(|e| if let Event::RequestFailed(f) = e { Some(f) } else { None });
    match (field("status")?, finalized, failed) {
        (status @ ("verified" | "unverified"), Some(f), _) => {
            check(
                "status",
                (status == "verified") == f.verified,
                if f.verified { "verified" } else { "unverified" }.into(),
            )?;
            check("output digest", field("output_digest")? == hex(&f.output_digest.0), hex(&f.output_digest.0))?;
            let mut nodes: Vec<String> = f.nodes.iter().map(|n| Address::from(*n).to_string()).collect();
            let mut claimed: Vec<String> = receipt["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(String::from))
                .collect();
            nodes.sort();
            claimed.sort();
            check("nodes", nodes == claimed, nodes.join(", "))?;
        }
        ("first_output", Some(f), _) => {
            // Since final: the output shown first must be the one finalized.
            let same = field("output_digest")? == hex(&f.output_digest.0);
            check("first output, now final", same, format!("finalized {}", hex(&f.output_digest.0)))?;
        }
        ("first_output", None, None) => {
            let committed = r.slots.iter().any(|s| s.commitment.is_some());
            check("first output", committed, format!("{}; not final yet", r.status.name()))?;
        }
        ("failed", _, Some(f)) => {
            check("status", r.status == Status::Failed, r.status.name().into())?;
            check(
                "refund",
                receipt["refund"].as_u64() == Some(f.refund),
                format!("{} MIST ({})", f.refund, f.reason.name()),
            )?;
        }
        (status, _, _) => check("status", false, format!("{} (the receipt says {status})", r.status.name()))?,
    }
    // A whole response: its answer is the output the digest names.
    match answer_bytes(&file) {
        Some(bytes) => {
            let digest = hex(&blake2b256(&bytes?).0);
            check("answer", field("output_digest")? == digest, format!("the response's answer hashes to {digest}"))?;
        }
        None => println!("     answer: not checked (the file holds a receipt, not a whole response)"),
    }
    println!("the receipt of {request} matches the chain");
    Ok(())
}
