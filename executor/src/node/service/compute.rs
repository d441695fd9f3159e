//! A task's computation: fetch the input, run the model on a worker
//! thread, and write the output and its salt to the database before
//! anything is sent; or record why the input cannot be obtained (the node
//! abstains) or why the task failed.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use atoma_protocol::commitment::{blake2b256, dispute_key};
use atoma_protocol::{Digest as ProtoDigest, Input, ObjectId, Request, Role};
use sui_sdk_types::Address;

use crate::engine::{Engine, InferenceRequest};
use crate::node::config::Adversary;
use crate::node::db::Task;

use super::{Service, now_ms};

impl Service {
    /// Fetches the input, runs the model, and writes output and salt to the
    /// database (a disputer's salt is the dispute key of its output); or
    /// records why the input cannot be obtained, or why the task failed.
    pub(super) async fn compute(
        &self,
        request: Address,
        req: &Request,
        slot: &atoma_protocol::Slot,
    ) -> anyhow::Result<Task> {
        self.metrics.queue_depth.inc();
        let result = self.compute_inner(request, req, slot).await;
        self.metrics.queue_depth.dec();
        let uri = matches!(req.input, Input::Uri(_));
        let (output, failure, unavailable) = match result {
            Ok(output) => (Some(output), None, None),
            Err(Failure::Unavailable(why)) if uri => (None, None, Some(why)),
            Err(Failure::Unavailable(why) | Failure::Permanent(why)) => {
                self.metrics.failed.inc();
                tracing::error!(request = %request, node = %self.node, error = %why, "cannot run this request; giving up on it");
                (None, Some(why), None)
            }
            Err(Failure::Transient(e)) if uri && now_ms() + self.config.abstain_margin_ms >= req.deadline_ms => {
                (None, None, Some(format!("still failing close to the deadline: {e:#}")))
            }
            Err(Failure::Transient(e)) => return Err(e),
        };
        if let Some(why) = &unavailable {
            tracing::warn!(request = %request, node = %self.node, reason = %why, "the input cannot be obtained");
        }
        let salt: [u8; 32] = match &output {
            Some(bytes) if slot.role == Role::Disputer => dispute_key(&ObjectId::from(request), bytes).0,
            _ => rand::random(),
        };
        let task = self.db.update_task(&request, |t| {
            if t.output.is_none() {
                t.output = output;
                t.salt = Some(salt);
            }
            t.failure = failure;
            t.unavailable = unavailable;
        })?;
        if let Some(t) = self.timings.lock().expect("timings").get_mut(&request) {
            t.ready = t.assigned.elapsed();
        }
        self.outputs.notify_waiters();
        self.crash_point("after-output");
        Ok(task)
    }

    async fn compute_inner(
        &self,
        request: Address,
        req: &Request,
        slot: &atoma_protocol::Slot,
    ) -> Result<Vec<u8>, Failure> {
        let lazy = match self.adversary() {
            Some(Adversary::LazyCopy) => true,
            Some(Adversary::LazyDisputer) => slot.role == Role::Disputer,
            _ => false,
        };
        if lazy {
            return Ok(Vec::new()); // it does not run the model
        }
        let engine = self
            .engines
            .get(&req.model_id)
            .cloned()
            .ok_or_else(|| Failure::Permanent(format!("model {} is not served by this node", req.model_id)))?;
        let input = self.fetch_input(&req.input, &req.input_digest, req.deadline_ms).await?;
        let permit = self.workers.acquire().await.map_err(|e| Failure::Transient(anyhow!(e)))?;
        let (input_digest, seed) = (req.input_digest, req.seed);
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || {
            let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
            engine.run(&InferenceRequest { input: &input, input_digest, seed })
        })
        .await
        .map_err(|e| Failure::Transient(anyhow!("the inference worker stopped: {e}")))?
        .map_err(|e| Failure::Permanent(e.to_string()))?;
        drop(permit);
        self.metrics.inference_seconds.observe(started.elapsed().as_secs_f64());
        if let Some(t) = self.timings.lock().expect("timings").get_mut(&request) {
            t.model = output.model_time;
        }
        tracing::info!(request = %request, node = %self.node, ms = started.elapsed().as_millis() as u64, digest = %output.digest, "computed");
        let mut bytes = output.bytes;
        if self.adversary() == Some(Adversary::WrongOutput) {
            bytes.push(0xff);
        }
        Ok(bytes)
    }

    /// The input's bytes, checked against the digest. A URI that cannot give
    /// them is `Unavailable` (the node abstains) when retrying cannot help:
    /// a scheme other than http(s), a 4xx answer, a body over
    /// `max_input_bytes`, bytes that do not hash to the digest. A refused
    /// connection, a timeout or a 5xx answer is `Transient`: retried until
    /// `abstain_margin_ms` before the deadline. One attempt lasts at most
    /// `input_timeout_ms`, and never past that point.
    async fn fetch_input(&self, input: &Input, digest: &ProtoDigest, deadline_ms: u64) -> Result<Vec<u8>, Failure> {
        let bytes = match input {
            Input::Inline(b) => b.clone(),
            Input::Uri(uri) => {
                let limit = self.config.max_input_bytes;
                let unavailable = |why: String| Failure::Unavailable(format!("{uri}: {why}"));
                if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                    return Err(unavailable("only http and https inputs can be fetched".into()));
                }
                let left = deadline_ms.saturating_sub(now_ms() + self.config.abstain_margin_ms);
                let attempt = Duration::from_millis(left.clamp(500, self.config.input_timeout_ms));
                let response = self
                    .http
                    .get(uri)
                    .timeout(attempt)
                    .send()
                    .await
                    .map_err(|e| Failure::Transient(anyhow!("fetching {uri}: {e}")))?;
                let status = response.status();
                if status.is_client_error() {
                    return Err(unavailable(format!("the server answered {status}")));
                }
                if !status.is_success() {
                    return Err(Failure::Transient(anyhow!("fetching {uri}: the server answered {status}")));
                }
                if response.content_length().is_some_and(|l| l > limit) {
                    return Err(unavailable(format!("larger than max_input_bytes ({limit})")));
                }
                let mut body = Vec::new();
                let mut response = response;
                while let Some(chunk) =
                    response.chunk().await.map_err(|e| Failure::Transient(anyhow!("reading {uri}: {e}")))?
                {
                    body.extend_from_slice(&chunk);
                    if body.len() as u64 > limit {
                        return Err(unavailable(format!("larger than max_input_bytes ({limit})")));
                    }
                }
                body
            }
        };
        // Unavailable either way: `compute` gives up on an inline input (the
        // chain checked its digest, so this cannot happen) and abstains on a URI.
        let actual = blake2b256(&bytes);
        if actual != *digest {
            return Err(Failure::Unavailable(format!("the input hashes to {actual}, the request says {digest}")));
        }
        Ok(bytes)
    }
}

/// Why computing a request failed.
enum Failure {
    /// The input cannot be obtained (a URI): the node abstains.
    Unavailable(String),
    /// Will not work however often it is tried (the model is not served, or fails).
    Permanent(String),
    /// May work later (network, worker).
    Transient(anyhow::Error),
}
