//! Whole requests through the client API, with simulated nodes that serve
//! their outputs over HTTP: submit, first output, finality, verify, in every
//! mode; and a cheating node caught by the quorum.

mod common;
#[path = "common/sim.rs"]
mod sim;

use std::time::Duration;

use atoma_protocol::Mode;
use atoma_sdk::client::Outcome;
use atoma_sdk::{Client, InputSpec, RequestSpec, SdkError};
use common::*;

const WAIT: Duration = Duration::from_secs(60);

fn cheat(input: &[u8]) -> Vec<u8> {
    [b"lie:".as_slice(), input].concat()
}

/// Registers one simulated node per key, with `models[i]` as its behaviour.
async fn start_nodes(net: &Net, keys: &[atoma_sdk::Key], models: &[sim::Model]) {
    for (key, model) in keys.iter().zip(models) {
        let chain = net.chain(key).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (node, _) = chain.register_node(0, CLASS_MIN, &endpoint, &key.public_key()).await.unwrap();
        sim::start(chain, node, *model, listener).await;
    }
}

async fn run(client: &Client, mode: Mode, input: &[u8]) -> (atoma_sdk::FirstOutput, atoma_sdk::Attestation) {
    let spec = RequestSpec { timeout_ms: 20_000, ..RequestSpec::new("tiny", InputSpec::Bytes(input.to_vec()), mode) };
    let handle = client.submit(spec).await.expect("submitted");
    let (first, attestation) = tokio::join!(handle.first_output_within(WAIT), handle.finality_within(WAIT));
    (first.expect("a first output"), attestation.expect("settled"))
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_in_every_mode_settle_and_verify() {
    let keys = keys(6);
    let net = Net::start(&keys, false).await;
    start_nodes(&net, &keys[1..], &[sim::honest as sim::Model; 5]).await;
    let client = Client::from_chain(net.chain(&keys[0]).await);

    for mode in [
        Mode::Sampling { n: 3 },
        Mode::CrossValidation { p_bps: 10_000, n: 1 },
        Mode::CrossValidation { p_bps: 0, n: 1 },
        Mode::Sealed { p_bps: 10_000, n: 1 },
        Mode::Sealed { p_bps: 0, n: 1 },
    ] {
        let (first, attestation) = run(&client, mode, b"hello").await;
        assert_eq!(first.output, sim::honest(b"hello"), "{mode:?}");
        atoma_sdk::verify(&first.output, &attestation).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let checked = !matches!(mode, Mode::CrossValidation { p_bps: 0, .. } | Mode::Sealed { p_bps: 0, .. });
        assert_eq!(attestation.verified(), checked, "{mode:?}: {:?}", attestation.outcome);
        assert!(attestation.transactions.len() >= 2);
        assert!(atoma_sdk::verify(b"something else", &attestation).is_err());
    }
    // An input as large as the network carries: its storage on chain is
    // paid for with the submission, so it does not run out of gas.
    let limit = client.chain().network().await.unwrap().params.max_inline_input as usize;
    let largest = vec![b'x'; limit];
    let (first, attestation) = run(&client, Mode::Sampling { n: 1 }, &largest).await;
    atoma_sdk::verify(&first.output, &attestation).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_node_loses_the_dispute() {
    // One cheater among seven: any quorum of two that includes it disagrees,
    // and five fresh nodes are left for the dispute quorum.
    let keys = keys(8);
    let net = Net::start(&keys, false).await;
    let models = [cheat as sim::Model, sim::honest, sim::honest, sim::honest, sim::honest, sim::honest, sim::honest];
    start_nodes(&net, &keys[1..], &models).await;
    let client = Client::from_chain(net.chain(&keys[0]).await);
    let cheater = net
        .chain(&keys[1])
        .await
        .nodes()
        .await
        .unwrap()
        .into_iter()
        .find(|(_, n)| n.owner == keys[1].address().into())
        .unwrap()
        .0;
    let mut caught = false;
    for i in 0..40 {
        let input = format!("input {i}");
        let spec = RequestSpec {
            timeout_ms: 20_000,
            ..RequestSpec::new("tiny", InputSpec::Bytes(input.clone().into_bytes()), Mode::Sampling { n: 2 })
        };
        let handle = client.submit(spec).await.unwrap();
        let attestation = handle.finality_within(WAIT).await.unwrap();
        let Outcome::Finalized { output_digest, nodes, .. } = &attestation.outcome else {
            panic!("{:?}", attestation.outcome)
        };
        assert_eq!(
            *output_digest,
            atoma_sdk::http::output_digest(&sim::honest(input.as_bytes())),
            "the honest output wins"
        );
        if handle.executors().contains(&cheater) {
            assert!(!nodes.contains(&cheater));
            caught = true;
            break;
        }
    }
    assert!(caught, "the cheater was sampled in 40 requests");
    let info = client.chain().node(cheater).await.unwrap().unwrap();
    assert_eq!(info.slashed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_before_anything_is_paid() {
    let keys = keys(2);
    let net = Net::start(&keys, false).await;
    let client = Client::from_chain(net.chain(&keys[0]).await);
    let too_big = vec![b'x'; 100_000];
    let err = client
        .submit(RequestSpec::new("tiny", InputSpec::Bytes(too_big), Mode::Sampling { n: 1 }))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("inline limit"), "{err}");
    let err = client
        .submit(RequestSpec::new("tiny", InputSpec::Bytes(Vec::new()), Mode::Sampling { n: 1 }))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SdkError::InvalidArgument(_)), "{err}");
    let err = client
        .submit(RequestSpec::new("no-such-model", InputSpec::Bytes(b"x".to_vec()), Mode::Sampling { n: 1 }))
        .await
        .err()
        .unwrap();
    assert_eq!(err.protocol_error(), Some(atoma_protocol::ProtocolError::UnknownModel), "{err}");
}
