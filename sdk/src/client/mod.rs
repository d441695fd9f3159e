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

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use atoma_protocol::commitment::{blake2b256, commitment, secret_hash};
use atoma_protocol::ops::KeeperCall;
use atoma_protocol::{Digest as ProtoDigest, Event, FailReason, Mode, ObjectId, Role, SubmitArgs};
use futures::future::select_ok;
use sui_sdk_types::{Address, Digest};

use crate::chain::Chain;
use crate::error::{Result, SdkError};
use crate::events::{EventStream, Start};
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

impl RequestSpec {
    /// A request with a 60 s timeout at the minimum fee.
    pub fn new(model: &str, input: InputSpec, mode: Mode) -> Self {
        RequestSpec { model: model.to_string(), input, mode, timeout_ms: 60_000, max_fee: None }
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
        Client { chain, http }
    }

    /// The connection to the chain (typed calls, reads).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Submits a request; returns its handle once the submission executed.
    pub async fn submit(&self, spec: RequestSpec) -> Result<RequestHandle> {
        let network = self.chain.network().await?;
        let params = network.params;
        let (input_digest, input_inline, input_uri) = match &spec.input {
            InputSpec::Bytes(bytes) => {
                if bytes.is_empty() {
                    return Err(SdkError::InvalidArgument("the input is empty".into()));
                }
                if bytes.len() as u64 > params.max_inline_input {
                    return Err(SdkError::InvalidArgument(format!(
                        "the input is {} bytes, over the network's inline limit of {}: host it and give its URI and digest (`--input-uri` and `--input-digest`; a URI input in the SDK)",
                        bytes.len(),
                        params.max_inline_input
                    )));
                }
                (blake2b256(bytes).0, bytes.clone(), None)
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
        let start = self.chain.checkpoint_height().await?;
        let mut secret = None;
        let (request, executed) = match spec.mode {
            Mode::Sampling { n } => self.chain.submit_sampling(&args, n, fee).await?,
            Mode::CrossValidation { p_bps, n } => self.chain.submit_cross_validation(&args, p_bps, n, fee).await?,
            Mode::Sealed { p_bps, n } => {
                let s: [u8; 32] = rand::random();
                secret = Some(s);
                let hash = secret_hash(&ProtoDigest(s)).0;
                self.chain.submit_sealed(&args, p_bps, n, &hash, fee).await?
            }
        };
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

/// How often the handle looks for a commitment or a deadline.
const POLL: Duration = Duration::from_millis(50);
/// Margin after a deadline before the handle calls `expire` (clocks differ a little).
const DEADLINE_MARGIN_MS: u64 = 500;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
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

    /// Tells each chosen verifier (if the draw checks the primary) its task,
    /// so that it computes in parallel with the primary. A verifier that
    /// cannot be reached will be slashed for absence.
    async fn notify_chosen_verifiers(&self) {
        let Some((true, chosen)) = self.sealed_draw() else { return };
        let secret = http::hex(&self.secret.unwrap_or_default());
        for node in chosen {
            let result = async {
                let info = self
                    .client
                    .chain
                    .node(node)
                    .await?
                    .ok_or_else(|| SdkError::Http(format!("node {node} is not registered")))?;
                let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::sealed_path(&self.request));
                let response = self
                    .client
                    .http
                    .post(&url)
                    .timeout(Duration::from_secs(5))
                    .json(&http::SealedNotice { secret: secret.clone() })
                    .send()
                    .await
                    .map_err(|e| SdkError::Http(format!("{url}: {e}")))?;
                if !response.status().is_success() {
                    return Err(SdkError::Http(format!("{url} answered {}", response.status())));
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(request = %self.request, node = %node, error = %e, "could not tell a chosen verifier");
            }
        }
    }

    /// The output from the first selected node that serves it, checked
    /// against the node's signature and its on-chain commitment. Waits at most 10 minutes.
    pub async fn first_output(&self) -> Result<FirstOutput> {
        self.first_output_within(Duration::from_secs(600)).await
    }

    /// As `first_output`, waiting at most `timeout`.
    pub async fn first_output_within(&self, timeout: Duration) -> Result<FirstOutput> {
        let deadline = Instant::now() + timeout;
        let mut nodes = Vec::new();
        for id in &self.executors {
            if let Some(info) = self.client.chain.node(*id).await? {
                nodes.push((*id, info));
            }
        }
        if nodes.is_empty() {
            return Err(SdkError::Http(format!("none of the nodes selected for {} is registered", self.request)));
        }
        let signature = http::sign_output_request(self.client.chain.key(), &self.request)?;
        // Every node is asked at once, each until it serves an output that opens
        // its commitment: a node that serves but never commits (or serves
        // something else) does not hold back the others.
        let attempts = nodes.iter().map(|(id, info)| Box::pin(self.first_from(*id, info, &signature, deadline)));
        select_ok(attempts).await.map(|(first, _)| first)
    }

    /// Asks `node` (long-polling, again after each miss) until it serves an
    /// output bound to its commitment, or the deadline passes.
    async fn first_from(
        &self,
        node: Address,
        info: &atoma_protocol::state::Node,
        signature: &str,
        deadline: Instant,
    ) -> Result<FirstOutput> {
        loop {
            if Instant::now() >= deadline {
                return Err(SdkError::Timeout(format!("node {node} served no output of {}", self.request)));
            }
            let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(http::MAX_WAIT_MS));
            match self.fetch(node, info, signature, wait).await {
                Ok(served) => return self.bind_to_commitment(served, deadline).await,
                Err(e) => {
                    tracing::debug!(request = %self.request, %node, error = %e, "no output yet");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    async fn fetch(
        &self,
        node: Address,
        info: &atoma_protocol::state::Node,
        signature: &str,
        wait: Duration,
    ) -> Result<(Address, Vec<u8>, [u8; 32], [u8; 32])> {
        let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::output_path(&self.request));
        let response = self
            .client
            .http
            .get(&url)
            .query(&[("wait_ms", wait.as_millis() as u64)])
            .header(http::REQUESTER_SIGNATURE, signature)
            .timeout(wait + Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| SdkError::Http(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(SdkError::Http(format!("{url} answered {}", response.status())));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| SdkError::Verification(format!("{url} sent no {name} header")))
        };
        let (digest_hex, salt_hex, node_signature) =
            (header(http::OUTPUT_DIGEST)?, header(http::SALT)?, header(http::NODE_SIGNATURE)?);
        let output = response.bytes().await.map_err(|e| SdkError::Http(format!("{url}: {e}")))?.to_vec();
        let digest = http::output_digest(&output);
        if http::parse_hex32(&digest_hex) != Some(digest) {
            return Err(SdkError::Verification(format!("{url} served bytes that do not match its digest header")));
        }
        let salt = http::parse_hex32(&salt_hex)
            .ok_or_else(|| SdkError::Verification(format!("{url} sent a malformed salt")))?;
        http::verify_served_output(&node_signature, &info.public_key, &self.request, &node, &digest, &salt)?;
        Ok((node, output, digest, salt))
    }

    /// Waits until the serving node's commitment is on chain and checks that the output opens it.
    async fn bind_to_commitment(
        &self,
        served: (Address, Vec<u8>, [u8; 32], [u8; 32]),
        deadline: Instant,
    ) -> Result<FirstOutput> {
        let (node, output, digest, salt) = served;
        let expected =
            commitment(&ObjectId::from(self.request), &ObjectId::from(node), &ProtoDigest(digest), &ProtoDigest(salt));
        loop {
            let request = self.client.chain.request(self.request).await?;
            let slot = request.slots.iter().find(|s| Address::from(s.node_id) == node && s.commitment.is_some());
            if let Some(c) = slot.and_then(|s| s.commitment) {
                if c != expected {
                    return Err(SdkError::Verification(format!(
                        "node {node} served an output that does not open its commitment"
                    )));
                }
                return Ok(FirstOutput { output, node, output_digest: digest, commitment: c.0 });
            }
            if Instant::now() >= deadline {
                return Err(SdkError::Timeout(format!("node {node} served an output but has not committed")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (at most 10 minutes) for the request to finalize or fail, moving it on as a keeper would.
    pub async fn finality(&self) -> Result<Attestation> {
        self.finality_within(Duration::from_secs(600)).await
    }

    /// As `finality`, waiting at most `timeout`.
    pub async fn finality_within(&self, timeout: Duration) -> Result<Attestation> {
        let give_up = Instant::now() + timeout;
        let chain = &self.client.chain;
        let mut events =
            EventStream::new(chain.rpc(), chain.identity().type_origin, Start::Checkpoint(self.start_checkpoint));
        let mut transactions: Vec<Digest> = self.transactions.clone();
        let mut deadline_ms: Option<u64> = None;
        let mut committed: BTreeSet<Address> = BTreeSet::new();
        let mut primary_committed = false;
        let mut secret_revealed = false;
        let chosen: BTreeMap<Address, ()> =
            self.sealed_draw().map(|(_, c)| c.into_iter().map(|a| (a, ())).collect()).unwrap_or_default();
        let request_id = ObjectId::from(self.request);
        loop {
            if Instant::now() >= give_up {
                return Err(SdkError::Timeout(format!("request {} did not settle", self.request)));
            }
            // A Sealed secret still held once the primary committed is revealed a
            // margin before the verification window closes; a phase past its
            // deadline is ended by `expire` (anyone may), twice: the first call
            // extends the deadline by the grace.
            let reveal_due = self.secret.is_some() && !secret_revealed && primary_committed;
            let wake_at = deadline_ms
                .map(|d| if reveal_due { d.saturating_sub(DEADLINE_MARGIN_MS) } else { d + DEADLINE_MARGIN_MS });
            let wait = match wake_at {
                Some(at) => Duration::from_millis(at.saturating_sub(now_ms())),
                None => Duration::from_secs(1),
            };
            let event = tokio::select! {
                e = events.next() => e?,
                _ = tokio::time::sleep(wait) => {
                    if let (true, Some(secret), Some(d)) = (reveal_due, self.secret, deadline_ms)
                        && now_ms() + DEADLINE_MARGIN_MS >= d
                    {
                        secret_revealed = true;
                        self.record("reveal_secret", chain.reveal_secret(self.request, &secret).await, &mut transactions);
                    } else if deadline_ms.is_some_and(|d| now_ms() >= d + DEADLINE_MARGIN_MS) {
                        self.keep(KeeperCall::Expire, &mut transactions).await;
                        // Silent nodes are replaced by a selection anyone may perform.
                        self.keep(KeeperCall::SelectNodes, &mut transactions).await;
                        deadline_ms = None;
                    }
                    continue;
                }
            };
            if event.event.request_id() != Some(request_id) {
                continue;
            }
            if !transactions.contains(&event.transaction) {
                transactions.push(event.transaction);
            }
            match &event.event {
                Event::NodesSelected(s) => deadline_ms = Some(s.deadline_ms),
                Event::RevealPhaseStarted(s) => deadline_ms = Some(s.deadline_ms),
                // A first `expire` granted the grace: the phase ends with a second one after it.
                Event::DeadlineExtended(d) => deadline_ms = Some(d.deadline_ms),
                Event::VerificationDrawn(v) if v.checked => {
                    self.keep(KeeperCall::SelectNodes, &mut transactions).await;
                }
                Event::DisputeRaised(_) => {
                    self.keep(KeeperCall::OpenDispute, &mut transactions).await;
                    self.keep(KeeperCall::SelectNodes, &mut transactions).await;
                }
                Event::Committed(c) => {
                    let node = Address::from(c.node_id);
                    if self.executors.contains(&node) && !primary_committed {
                        primary_committed = true;
                        if self.secret.is_some() {
                            // The verification window: no event carries its end; the request does.
                            deadline_ms = Some(chain.request(self.request).await?.deadline_ms);
                        }
                    }
                    committed.insert(node);
                }
                Event::RequestFinalized(f) => {
                    return Ok(self.attestation(
                        Outcome::Finalized {
                            output_digest: f.output_digest.0,
                            nodes: f.nodes.iter().map(Address::from).collect(),
                            verified: f.verified,
                        },
                        transactions,
                    ));
                }
                Event::RequestFailed(f) => {
                    return Ok(self.attestation(Outcome::Failed { reason: f.reason, refund: f.refund }, transactions));
                }
                _ => {}
            }
            // Sealed: reveal the secret once the primary committed and every chosen verifier too.
            if let (Some(secret), false) = (self.secret, secret_revealed)
                && primary_committed
                && chosen.keys().all(|v| committed.contains(v))
            {
                secret_revealed = true;
                self.record("reveal_secret", chain.reveal_secret(self.request, &secret).await, &mut transactions);
            }
        }
    }

    /// Makes a keeper call and records it.
    async fn keep(&self, call: KeeperCall, transactions: &mut Vec<Digest>) {
        let result = self.client.chain.keeper(call, self.request).await;
        self.record(call.name(), result, transactions);
    }

    /// Records a call that moves the request on; another caller having made
    /// it first is not an error.
    fn record(&self, what: &str, result: Result<crate::chain::Executed>, transactions: &mut Vec<Digest>) {
        match result {
            Ok(executed) => transactions.push(executed.digest),
            Err(SdkError::Protocol { error, .. }) if error.is_lost_race() => {}
            Err(e) => tracing::warn!(request = %self.request, error = %e, "{what} failed"),
        }
    }

    fn attestation(&self, outcome: Outcome, transactions: Vec<Digest>) -> Attestation {
        Attestation {
            request: self.request,
            model: self.model.clone(),
            input_digest: self.input_digest,
            mode: self.mode,
            outcome,
            transactions,
        }
    }
}
