//! The requester's API: submit a request, take the output from the first
//! node that has it, wait for the quorum to settle, and verify.
//!
//! ```no_run
//! # async fn run() -> atoma_sdk::Result<()> {
//! use atoma_sdk::{Client, InputSpec, Key, RequestSpec};
//! use atoma_protocol::Mode;
//! # let (url, package, network) = ("http://127.0.0.1:9000", "0x1".parse().unwrap(), "0x2".parse().unwrap());
//! let client = Client::connect(url, package, network, Key::generate()).await?;
//! let handle = client
//!     .submit(RequestSpec::new("tiny-gpt", InputSpec::Bytes(b"{\"prompt\":\"hi\",\"max_tokens\":8}".to_vec()), Mode::Sampling { n: 3 }))
//!     .await?;
//! let first = handle.first_output().await?;          // as soon as the fastest node has it
//! let attestation = handle.finality().await?;        // when the quorum has settled
//! atoma_sdk::verify(&first.output, &attestation)?;   // the output is the one the chain attests
//! # Ok(()) }
//! ```
//!
//! While it waits for finality, a handle moves its own request on as any
//! keeper may: it samples CrossValidation verifiers after a checked coin
//! flip, opens a dispute, calls `expire` after a deadline, and in Sealed
//! mode tells its chosen verifiers and reveals its secret.
//!
//! Not for: nodes' duties (the node service), or transactions (see `chain`).
//!
//! ## Layout
//! - this module: what is submitted and attested, the client, the handle;
//! - `output`: the first output, from the fastest node, checked against
//!   its commitment; telling a Sealed request's chosen verifiers;
//! - `finality`: following the request's events to its end, moving it on;
//! - `stream`: the output as a node generates it, then bound to a commitment.

mod finality;
mod output;
mod stream;

pub use stream::Streamed;

use std::time::Duration;

use atoma_protocol::commitment::{blake2b256, secret_hash};
use atoma_protocol::ops::check_input_parts;
use atoma_protocol::{Digest as ProtoDigest, Event, FailReason, Mode, Role, SubmitArgs};
use sui_sdk_types::{Address, Digest};

use crate::chain::Chain;
use crate::error::{Result, SdkError};
use crate::http;
use crate::keys::Key;

/// A request's input.
#[derive(Clone, Debug)]
pub enum InputSpec {
    /// The bytes, stored on chain (at most the network's inline limit).
    Bytes(Vec<u8>),
    /// A URI the nodes fetch, with the Blake2b-256 digest of its content.
    Uri {
        /// Where the input is.
        uri: String,
        /// `blake2b256` of the content.
        digest: [u8; 32],
    },
}

/// What to run and how to verify it.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// The model's id.
    pub model: String,
    /// The input.
    pub input: InputSpec,
    /// The verification mode.
    pub mode: Mode,
    /// Commit timeout for the nodes (ms).
    pub timeout_ms: u64,
    /// The fee to pay (MIST); `None` pays the network's minimum for the mode.
    pub max_fee: Option<u64>,
}

/// The commit timeout the tools ask for when none is given (ms).
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// The default commit timeout of a request whose shortest allowed timeout
/// is `shortest` (`Params::shortest_timeout_ms`): the default, or the
/// shortest when a slow model needs more.
pub fn default_timeout_ms(shortest: u64) -> u64 {
    shortest.max(DEFAULT_TIMEOUT_MS)
}

impl RequestSpec {
    /// A request with the default timeout (60 s) at the minimum fee.
    pub fn new(model: &str, input: InputSpec, mode: Mode) -> Self {
        RequestSpec { model: model.to_string(), input, mode, timeout_ms: DEFAULT_TIMEOUT_MS, max_fee: None }
    }
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Settled with an output.
    Finalized {
        /// The output's digest.
        output_digest: [u8; 32],
        /// The nodes that produced it.
        nodes: Vec<Address>,
        /// Whether it was checked by more than one node (false: a Sealed
        /// primary's answer whose secret was never revealed, or an unchecked draw).
        verified: bool,
    },
    /// Ended without an output; the fee was refunded.
    Failed {
        /// Why.
        reason: FailReason,
        /// MIST refunded to the requester.
        refund: u64,
    },
}

/// What the chain attests about a settled request.
#[derive(Clone, Debug)]
pub struct Attestation {
    /// The request's id.
    pub request: Address,
    /// The model.
    pub model: String,
    /// The input's digest.
    pub input_digest: [u8; 32],
    /// The mode.
    pub mode: Mode,
    /// How it ended.
    pub outcome: Outcome,
    /// Every transaction that changed the request, in order.
    pub transactions: Vec<Digest>,
}

impl Attestation {
    /// The attested output digest, if the request finalized.
    pub fn output_digest(&self) -> Option<[u8; 32]> {
        match &self.outcome {
            Outcome::Finalized { output_digest, .. } => Some(*output_digest),
            Outcome::Failed { .. } => None,
        }
    }

    /// Whether the output was checked by other nodes.
    pub fn verified(&self) -> bool {
        matches!(self.outcome, Outcome::Finalized { verified: true, .. })
    }
}

/// Checks that `output` is the output the chain attests.
pub fn verify(output: &[u8], attestation: &Attestation) -> Result<()> {
    match attestation.output_digest() {
        None => Err(SdkError::Verification(format!("request {} did not finalize", attestation.request))),
        Some(d) if d == http::output_digest(output) => Ok(()),
        Some(d) => Err(SdkError::Verification(format!(
            "the output's digest {} is not the attested {}",
            http::hex(&http::output_digest(output)),
            http::hex(&d)
        ))),
    }
}

/// An output as the first node served it, bound to that node's commitment.
#[derive(Clone, Debug)]
pub struct FirstOutput {
    /// The output bytes.
    pub output: Vec<u8>,
    /// The node that served it.
    pub node: Address,
    /// `blake2b256(output)`.
    pub output_digest: [u8; 32],
    /// The node's commitment on chain, which this output and salt open.
    pub commitment: [u8; 32],
}

impl FirstOutput {
    /// The output read by its format: a generation model's text and token
    /// ids, an embedding model's vectors, a refusal, or other bytes.
    pub fn decoded(&self) -> atoma_protocol::output::Output {
        atoma_protocol::output::Output::decode(&self.output)
    }
}

/// A requester's connection.
#[derive(Clone)]
pub struct Client {
    chain: Chain,
    http: reqwest::Client,
    /// Nodes caught streaming text they did not end their stream with
    /// (signed both): not streamed from again by this client.
    liars: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<Address>>>,
}

impl Client {
    /// Connects to a node at `url` for `network` of `package`, signing with `key`.
    pub async fn connect(url: &str, package: Address, network: Address, key: Key) -> Result<Client> {
        let chain = Chain::connect(url, package, network, key).await?;
        Ok(Client::from_chain(chain))
    }

    /// A client over an existing connection.
    pub fn from_chain(chain: Chain) -> Client {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Client { chain, http, liars: Default::default() }
    }

    /// The connection to the chain (typed calls, reads).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Submits a request; returns its handle once the submission executed.
    pub async fn submit(&self, spec: RequestSpec) -> Result<RequestHandle> {
        // Both reads at once: the first output waits on everything before the submission.
        let (network, start) = tokio::try_join!(self.chain.network(), self.chain.checkpoint_height())?;
        let params = network.params;
        let (input_digest, input_inline, input_uri) = match &spec.input {
            InputSpec::Bytes(bytes) => {
                let digest = blake2b256(bytes);
                // The chain's own input rule, before the transaction is paid for.
                if check_input_parts(bytes, None, &digest, params.max_inline_input).is_err() {
                    return Err(SdkError::InvalidArgument(if bytes.is_empty() {
                        "the input is empty".into()
                    } else {
                        format!(
                            "the input is {} bytes, over the network's inline limit of {}: host it and give its URI and digest (`--input-uri` and `--input-digest`; a URI input in the SDK)",
                            bytes.len(),
                            params.max_inline_input
                        )
                    }));
                }
                (digest.0, bytes.clone(), None)
            }
            InputSpec::Uri { uri, digest } => (*digest, Vec::new(), Some(uri.clone())),
        };
        let fee = spec.max_fee.unwrap_or_else(|| params.min_fee_for(spec.mode));
        let args = SubmitArgs {
            model_id: spec.model.clone(),
            input_digest: input_digest.to_vec(),
            input_inline,
            input_uri,
            timeout_ms: spec.timeout_ms,
        };
        let mut secret = None;
        let hash = match spec.mode {
            Mode::Sealed { .. } => {
                let s: [u8; 32] = rand::random();
                secret = Some(s);
                Some(secret_hash(&ProtoDigest(s)).0)
            }
            Mode::Sampling { .. } | Mode::CrossValidation { .. } => None,
        };
        let (request, executed) = self.chain.submit(&args, spec.mode, hash.as_ref(), fee).await?;
        let mut handle = RequestHandle {
            client: self.clone(),
            request,
            model: spec.model,
            input_digest,
            mode: spec.mode,
            fee,
            start_checkpoint: start,
            secret,
            seed: [0; 32],
            executors: Vec::new(),
            pool: Vec::new(),
            transactions: vec![executed.digest],
        };
        for e in &executed.events {
            match e {
                Event::RequestSubmitted(s) => handle.seed = s.seed.0,
                Event::NodesSelected(s) if s.role == Role::Executor => {
                    handle.executors = s.nodes.iter().map(Address::from).collect()
                }
                Event::NodesSelected(s) if s.role == Role::Candidate => {
                    handle.pool = s.nodes.iter().map(Address::from).collect()
                }
                _ => {}
            }
        }
        if handle.secret.is_some() {
            handle.notify_chosen_verifiers().await;
        }
        Ok(handle)
    }
}

/// A submitted request.
pub struct RequestHandle {
    client: Client,
    request: Address,
    model: String,
    input_digest: [u8; 32],
    mode: Mode,
    fee: u64,
    start_checkpoint: u64,
    secret: Option<[u8; 32]>,
    seed: [u8; 32],
    executors: Vec<Address>,
    pool: Vec<Address>,
    transactions: Vec<Digest>,
}

impl RequestHandle {
    /// The request's id.
    pub fn id(&self) -> Address {
        self.request
    }

    /// The fee paid (MIST).
    pub fn fee(&self) -> u64 {
        self.fee
    }

    /// The nodes selected to execute at submission (the quorum, or the primary).
    pub fn executors(&self) -> &[Address] {
        &self.executors
    }

    /// The Sealed draw, computed from the secret: whether the primary is
    /// checked, and which pool members verify. `None` outside Sealed mode.
    pub fn sealed_draw(&self) -> Option<(bool, Vec<Address>)> {
        let (Mode::Sealed { p_bps, n }, Some(secret)) = (self.mode, self.secret) else { return None };
        let (checked, positions) = atoma_protocol::ops::sealed_draw(
            &ProtoDigest(self.seed),
            &ProtoDigest(secret),
            p_bps,
            n,
            self.pool.len() as u64,
        );
        Some((checked, positions.iter().map(|p| self.pool[*p as usize]).collect()))
    }
}
