//! One OpenAI request's life on chain: submitted from the gateway's key,
//! its first output taken from the first node that serves one bound to its
//! commitment, and, at finality, checked against what the chain finalized.
//! A first output that the chain did not finalize (its node was the
//! cheater) is replaced by the finalized one, fetched from a node that
//! committed to it: a wrong output is never presented as verified.

use std::sync::Arc;
use std::time::Duration;

use atoma_protocol::ops::Terms;
use atoma_protocol::output::Output;
use atoma_protocol::{Mode, ProtocolError};
use atoma_sdk::client::Outcome;
use atoma_sdk::http::hex;
use atoma_sdk::{Attestation, Client, FirstOutput, InputSpec, RequestHandle, RequestSpec, SdkError};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::keys::Keys;
use crate::openai::AtomaOptions;

/// How long a request may take from submission to finality: a commit
/// timeout of at most `MAX_TIMEOUT_MS`, its refills, reveal and dispute
/// rounds fit well inside it (docs/protocol.md, "Time").
pub const WAIT: Duration = Duration::from_secs(1_200);
/// The longest commit timeout a request through the gateway may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;
/// The largest fee a request may offer, in minimum fees of its mode: a
/// key's budget is for inference, not for paying nodes at will.
const MAX_FEE_FACTOR: u64 = 10;
/// What a byte of inline input costs the gateway: its storage on chain in
/// the request object, which stays (Sui's price, `atoma_sdk::chain`).
pub use atoma_sdk::chain::STORAGE_COST_PER_BYTE;

/// How a request is verified and answered when it does not say.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub mode: Mode,
    /// A non-streamed response waits for finality (else for the first output).
    pub wait_finality: bool,
    /// The selected nodes are told of each request at once (else they learn
    /// of it from a checkpoint, as without a gateway).
    pub push: bool,
}

/// The verification mode a request asks for, or the default.
pub fn mode(opts: &AtomaOptions, default: Mode) -> Result<Mode, ApiError> {
    let name = opts.mode.as_deref().unwrap_or(default.name());
    let n = opts.n.unwrap_or(default.n());
    let p_bps = match opts.p {
        None => default.p_bps().min(10_000),
        Some(p) if (0.0..=1.0).contains(&p) => (p * 10_000.0).round() as u64,
        Some(_) => return Err(ApiError::invalid("atoma.p", "p is a probability, 0 to 1")),
    };
    if n == 0 {
        return Err(ApiError::invalid("atoma.n", "n is at least 1"));
    }
    match name.replace('-', "_").as_str() {
        "sampling" if opts.p.is_some() => {
            Err(ApiError::invalid("atoma.p", "sampling checks every request: p applies to cross-validation and sealed"))
        }
        "sampling" => Ok(Mode::Sampling { n }),
        "cross_validation" | "crossvalidation" => Ok(Mode::CrossValidation { p_bps, n }),
        "sealed" => Ok(Mode::Sealed { p_bps, n }),
        _ => {
            Err(ApiError::invalid("atoma.mode", &format!("unknown mode `{name}` (sampling, cross-validation, sealed)")))
        }
    }
}

/// The receipt of a request: what the chain says of it, for the client to keep.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub request: String,
    /// The submission's transaction (known at finality).
    pub transaction: Option<String>,
    pub model: String,
    pub model_digest: String,
    pub class: String,
    pub mode: Value,
    pub fee: u64,
    /// What the API key was charged: the fee and the input's storage on chain.
    pub charge: u64,
    /// The nodes the output came from (at finality: those that agreed on it).
    pub nodes: Vec<String>,
    pub output_digest: Option<String>,
    /// `first_output`, `verified`, `unverified` (an unchecked CrossValidation
    /// or Sealed request) or `failed`.
    pub status: &'static str,
    /// The first output shown was not the one finalized; this is the finalized one.
    pub replaced: bool,
    pub failure: Option<String>,
    pub refund: Option<u64>,
    /// Every transaction of the request, at finality.
    pub transactions: Vec<String>,
    /// A text answer's token ids: with the response's text, finish reason
    /// and prompt tokens they rebuild the output bytes, so that `atoma
    /// verify` checks the answer itself against the output digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<u32>>,
}

/// A submitted request, followed to finality from the moment it was
/// submitted (the handle acts as the request's keeper meanwhile), whether
/// or not the client stays to hear the end.
pub struct Submitted {
    pub handle: Arc<RequestHandle>,
    pub receipt: Receipt,
    finality: JoinHandle<Result<Attestation, SdkError>>,
    /// Finality, if it came before any first output.
    finished: Option<Result<Result<Attestation, SdkError>, tokio::task::JoinError>>,
}

/// The API key a request is charged to.
#[derive(Clone)]
pub struct Account {
    pub keys: Arc<Keys>,
    pub name: String,
}

/// Reads what the request needs from the chain and checks it: the spec to
/// submit, its fee, and the receipt so far.
async fn prepare(
    client: &Client,
    defaults: &Defaults,
    model: &str,
    input: Vec<u8>,
    opts: &AtomaOptions,
) -> Result<(RequestSpec, u64, Receipt), ApiError> {
    let mode = mode(opts, defaults.mode)?;
    let chain = client.chain();
    // The model and the network at once: everything here delays the first token.
    let (on_chain, network) = tokio::join!(chain.model(model), chain.network());
    let on_chain = match on_chain {
        Ok(m) => m,
        Err(SdkError::Refused { .. }) => return Err(ApiError::unknown_model(model)),
        Err(e) => return Err(ApiError::from_sdk(&e, "reading the model")),
    };
    let params = network.map_err(|e| ApiError::from_sdk(&e, "reading the network"))?.params;
    let class = chain.class(on_chain.class_id).await.map_err(|e| ApiError::from_sdk(&e, "reading the class"))?;
    // docs/protocol.md, "Time": the chain's latency, this model's run and one
    // run of any model of the class.
    let shortest = params.shortest_timeout_ms(on_chain.max_run_ms, class.longest_run_ms).unwrap_or(u64::MAX);
    if input.len() as u64 > params.max_inline_input {
        return Err(ApiError::too_large(input.len(), params.max_inline_input));
    }
    let min_fee = params.min_fee_for(mode);
    let fee = opts.max_fee.unwrap_or(min_fee);
    let fee_range = || {
        ApiError::invalid(
            "atoma.max_fee",
            &format!("the fee is {min_fee} to {} MIST for this mode", min_fee.saturating_mul(MAX_FEE_FACTOR)),
        )
    };
    let timeout_ms = opts.timeout_ms.unwrap_or_else(|| atoma_sdk::client::default_timeout_ms(shortest));
    let longest = MAX_TIMEOUT_MS.min(params.max_timeout_ms).max(shortest);
    let timeout_range = || {
        let message = if shortest > params.max_timeout_ms {
            format!(
                "this model's shortest commit timeout, {shortest} ms, is above the network's max_timeout_ms ({} ms): no request for it can be accepted",
                params.max_timeout_ms
            )
        } else {
            format!("timeout_ms is {shortest} to {longest} for this model")
        };
        ApiError::invalid("atoma.timeout_ms", &message)
    };
    // The gateway's own limits on what a key may spend and wait.
    if fee > min_fee.saturating_mul(MAX_FEE_FACTOR) {
        return Err(fee_range());
    }
    if timeout_ms > longest {
        return Err(timeout_range());
    }
    // Everything the chain would abort on is refused here, by the state
    // machine's own rule, before the gateway pays gas for a transaction
    // that cannot succeed.
    let terms = Terms {
        mode,
        timeout_ms,
        fee,
        max_run_ms: on_chain.max_run_ms,
        longest_run_ms: class.longest_run_ms,
        eligible: class.active.size,
    };
    match terms.check(&params) {
        Ok(()) => {}
        Err(ProtocolError::InvalidQuorum) => {
            return Err(ApiError::invalid("atoma.n", &format!("n is at most {}", params.max_n)));
        }
        Err(ProtocolError::InvalidTimeout | ProtocolError::ArithmeticError) => return Err(timeout_range()),
        Err(ProtocolError::FeeTooLow) => return Err(fee_range()),
        Err(ProtocolError::NotEnoughNodes) => {
            return Err(ApiError::unavailable(
                format!("the class has {} eligible nodes; this mode needs {}", class.active.size, mode.nodes_needed()),
                "no_eligible_nodes",
            ));
        }
        Err(e) => return Err(ApiError::invalid("atoma", &format!("the network would refuse this request: {e}"))),
    }
    let spec = RequestSpec { timeout_ms, max_fee: Some(fee), ..RequestSpec::new(model, InputSpec::Bytes(input), mode) };
    Ok((spec, fee, submitted_receipt(model, &hex(&on_chain.weight_digest.0), &class.name, mode, fee)))
}

/// The receipt of a request about to be submitted: what was asked, nothing yet done.
fn submitted_receipt(model: &str, model_digest: &str, class: &str, mode: Mode, fee: u64) -> Receipt {
    Receipt {
        request: String::new(),
        transaction: None,
        model: model.to_string(),
        model_digest: model_digest.to_string(),
        class: class.to_string(),
        mode: json!({ "mode": mode.name(), "n": mode.n(), "p": mode.p_bps() as f64 / 10_000.0 }),
        fee,
        charge: 0,
        nodes: Vec::new(),
        output_digest: None,
        status: "submitted",
        replaced: false,
        failure: None,
        refund: None,
        transactions: Vec::new(),
        tokens: None,
    }
}

/// What a request costs its key: the fee, and the storage of its input on
/// chain, which the gateway pays and never gets back.
fn charge_of(spec: &RequestSpec, fee: u64) -> u64 {
    let stored = match &spec.input {
        InputSpec::Bytes(b) => b.len() as u64,
        InputSpec::Uri { .. } => 0,
    };
    fee.saturating_add(STORAGE_COST_PER_BYTE.saturating_mul(stored))
}

/// Submits `input` for `model`, verified as `opts` or the defaults say, its
/// fee charged to `account` (reserved first; released if the chain refuses).
pub async fn submit(
    client: &Client,
    defaults: &Defaults,
    account: Option<&Account>,
    model: &str,
    input: Vec<u8>,
    opts: &AtomaOptions,
) -> Result<Submitted, ApiError> {
    let (spec, fee, mut receipt) = prepare(client, defaults, model, input, opts).await?;
    receipt.charge = charge_of(&spec, fee);
    let reservation = match account {
        Some(a) => {
            let (name, charge) = (a.name.clone(), receipt.charge);
            Some(a.keys.blocking(move |k| k.reserve(&name, charge)).await?)
        }
        None => None,
    };
    let handle = match client.submit(spec).await {
        Ok(h) => h,
        Err(e) => {
            // Refused before it executed, nothing was paid: release the
            // charge. Any other error keeps it: the submission may have executed.
            let refused = matches!(
                e,
                SdkError::Refused { .. }
                    | SdkError::Protocol { .. }
                    | SdkError::Rejected(_)
                    | SdkError::InvalidArgument(_)
                    | SdkError::InsufficientBalance(_)
                    | SdkError::Congested { .. }
            );
            if let (Some(a), Some(r), true) = (account, reservation, refused) {
                a.keys.blocking(move |k| k.release(r)).await;
            }
            return Err(ApiError::from_sdk(&e, "submitting the request"));
        }
    };
    receipt.request = handle.id().to_string();
    let handle = Arc::new(handle);
    // The selected nodes hear of the request now, not a checkpoint later
    // (before the charge is written: the first token waits on the push).
    if defaults.push {
        let pusher = handle.clone();
        tokio::spawn(async move { pusher.push().await });
    }
    if let (Some(a), Some(r)) = (account, reservation) {
        let request = receipt.request.clone();
        a.keys.blocking(move |k| k.charge(r, &request)).await;
    }
    let (keeper, account, request) = (handle.clone(), account.cloned(), receipt.request.clone());
    let finality = tokio::spawn(async move {
        let attestation = keeper.finality_within(WAIT).await;
        // Final: the charge stands, less any refund. A follower that ended
        // without finality leaves it to `reconcile`.
        if let (Ok(a), Some(account)) = (&attestation, &account) {
            let refund = match a.outcome {
                Outcome::Failed { refund, .. } => Some(refund),
                Outcome::Finalized { .. } => None,
            };
            account.keys.blocking(move |k| k.settle(&request, refund)).await;
        }
        attestation
    });
    Ok(Submitted { handle, receipt, finality, finished: None })
}

/// An output and the receipt that goes with it.
pub struct Answer {
    pub output: Output,
    pub receipt: Receipt,
}

impl Submitted {
    /// The first output, checked against its node's commitment; `None` if
    /// the request reached finality first (it failed, or the nodes first
    /// selected were replaced): `settle` then has the answer.
    pub async fn first_output(&mut self) -> Result<Option<FirstOutput>, ApiError> {
        let handle = self.handle.clone();
        match self.before_finality(handle.first_output_within(WAIT)).await {
            Some(first) => first.map(Some).map_err(|e| ApiError::from_sdk(&e, "waiting for the first output")),
            None => Ok(None),
        }
    }

    /// What `step` gives, or `None` if the request reached finality first
    /// (kept for `settle`).
    pub async fn before_finality<T>(&mut self, step: impl std::future::Future<Output = T>) -> Option<T> {
        if self.finished.is_some() {
            return None;
        }
        tokio::select! {
            biased;
            value = step => Some(value),
            done = &mut self.finality => {
                self.finished = Some(done);
                None
            }
        }
    }

    /// The receipt of a first output not yet final.
    pub fn first_receipt(&self, first: &FirstOutput) -> Receipt {
        Receipt {
            nodes: vec![first.node.to_string()],
            output_digest: Some(hex(&first.output_digest)),
            status: "first_output",
            ..self.receipt.clone()
        }
    }

    /// Waits for finality; the answer is `first` if the chain finalized it,
    /// else the finalized output fetched from a node that committed to it,
    /// `replaced` in the receipt when an output was `shown` (all or part of
    /// it streamed, or `first` given) that is not the finalized one.
    pub async fn settle(self, first: Option<FirstOutput>, shown: bool) -> Result<Answer, ApiError> {
        let done = match self.finished {
            Some(done) => done,
            None => self.finality.await,
        };
        let attestation = done
            .map_err(|e| ApiError::internal(format!("following the request: {e}")))?
            .map_err(|e| ApiError::from_sdk(&e, "waiting for finality"))?;
        let mut receipt = final_receipt(&self.receipt, &attestation);
        let (nodes, digest) = match &attestation.outcome {
            Outcome::Finalized { nodes, output_digest, .. } => (nodes.clone(), *output_digest),
            Outcome::Failed { reason, refund } => {
                return Err(ApiError::failed(format!(
                    "request {} failed on chain: {} ({}); {refund} MIST refunded",
                    receipt.request,
                    reason.name(),
                    reason.describe()
                )));
            }
        };
        let output = match first {
            Some(f) if f.output_digest == digest => f.output,
            _ => {
                receipt.replaced = shown;
                let finalized = self
                    .handle
                    .output_from(&nodes, WAIT)
                    .await
                    .map_err(|e| ApiError::from_sdk(&e, "fetching the finalized output"))?;
                finalized.output
            }
        };
        atoma_sdk::verify(&output, &attestation).map_err(|e| ApiError::from_sdk(&e, "checking the output"))?;
        Ok(Answer { output: Output::decode(&output), receipt })
    }
}

/// Settles the charges of requests whose follower ended before finality
/// (a gateway stopped, a chain read failing): each is read on chain and,
/// once final, settled with its refund. Returns how many it settled.
pub async fn reconcile(client: &Client, keys: &Arc<Keys>) -> usize {
    let Ok(pending) = keys.blocking(|k| k.unsettled()).await else { return 0 };
    let mut settled = 0;
    for request in pending {
        let Ok(id) = request.parse() else { continue };
        let refund = match client.chain().request_events(id).await {
            Ok(events) => events.iter().find_map(|e| match e {
                atoma_protocol::Event::RequestFailed(f) => Some(Some(f.refund)),
                atoma_protocol::Event::RequestFinalized(_) => Some(None),
                _ => None,
            }),
            Err(e) => {
                tracing::debug!(request, error = %atoma_sdk::error::report(&e), "reading a charged request");
                None
            }
        };
        if let Some(refund) = refund {
            keys.blocking(move |k| k.settle(&request, refund)).await;
            settled += 1;
        }
    }
    settled
}

/// The receipt at finality, from the one made at submission.
fn final_receipt(submitted: &Receipt, a: &Attestation) -> Receipt {
    let mut r = submitted.clone();
    r.transactions = a.transactions.iter().map(|d| d.to_string()).collect();
    r.transaction = r.transactions.first().cloned();
    match &a.outcome {
        Outcome::Finalized { output_digest, nodes, verified } => {
            r.nodes = nodes.iter().map(|n| n.to_string()).collect();
            r.output_digest = Some(hex(output_digest));
            r.status = if *verified { "verified" } else { "unverified" };
        }
        Outcome::Failed { reason, refund } => {
            r.status = "failed";
            r.failure = Some(reason.name().to_string());
            r.refund = Some(*refund);
        }
    }
    r
}
