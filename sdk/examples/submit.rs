//! Submits one Sampling request and verifies its output against the chain's
//! attestation: the example of docs/sdk.md.
//!
//! `cargo run -p atoma-sdk --example submit -- <info.json> <key> <model> <input>`
//! where info.json is what `atoma-localnet start --info-file` writes and key is
//! a suiprivkey string or `KEYSTORE_PATH[#ADDRESS]`.

use atoma_protocol::Mode;
use atoma_sdk::{Client, InputSpec, RequestSpec, keys::load_key};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, info, key, model, input] = &args[..] else {
        anyhow::bail!("usage: submit <info.json> <key> <model> <input>");
    };
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(info)?)?;
    let field = |k: &str| info[k].as_str().unwrap_or_default().to_string();

    let client =
        Client::connect(&field("url"), field("package").parse()?, field("network").parse()?, load_key(key)?).await?;
    let spec = RequestSpec::new(model, InputSpec::Bytes(input.as_bytes().to_vec()), Mode::Sampling { n: 3 });
    let handle = client.submit(spec).await?;
    println!("request {} on nodes {:?}", handle.id(), handle.executors());

    let first = handle.first_output().await?; // from the fastest node, bound to its commitment
    println!("first output from {}: {}", first.node, first.decoded().summary());
    let attestation = handle.finality().await?; // the quorum agreed (or a dispute decided)
    atoma_sdk::verify(&first.output, &attestation)?;
    println!("verified: {:?} in transactions {:?}", attestation.outcome, attestation.transactions);
    Ok(())
}
