//! A task's computation: fetch the input, run the model on a worker
//! thread, and write the output and its salt to the database before
//! anything is sent; or record why the input cannot be obtained (the node
//! abstains) or why the node cannot run it in time (it declines).
//!
//! When to give up, so that an honest node is never late: the input must be
//! in hand `input_timeout_ms` after the first attempt, and a run must start
//! by the commit deadline less the model's run-time bound on the class and
//! `abstain_margin_ms` (the time to land the commit, or the abstain or
//! decline). A run that could not start in time waits, before the phase's
//! grace, for the grace (after a chain halt every deadline has passed, and
//! the first `expire` gives every member `grace_ms` more); once the grace is
//! granted, it declines. A drafted seat (a verifier's, a disputer's) runs on
//! a worker of its own, beside the others, rather than wait behind admitted
//! tasks: the commit timeout covers one run of any model of the class before it.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use atoma_protocol::commitment::{blake2b256, dispute_key};
use atoma_protocol::output::Output;
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
        task: &Task,
    ) -> anyhow::Result<Task> {
        let first_try = task.fetching_since_ms.unwrap_or_else(now_ms);
        if task.fetching_since_ms.is_none() {
            self.db.update_task(&request, |t| t.fetching_since_ms = Some(first_try))?;
        }
        self.metrics.queue_depth.inc();
        let result = self.compute_inner(request, req, slot, first_try).await;
        self.metrics.queue_depth.dec();
        let uri = matches!(req.input, Input::Uri(_));
        let timing = Timing {
            now: now_ms(),
            extended: req.extended,
            tried_until: first_try.saturating_add(self.config.input_timeout_ms),
            latest_start: self.latest_start_ms(req),
        };
        let (output, unavailable, declined) = match result {
            Ok(output) => (Some(output), None, None),
            Err(failure) => match next_step(failure, uri, timing) {
                Next::Abstain(why) => (None, Some(why), None),
                Next::Decline(why) => (None, None, Some(why)),
                Next::Wait(why) => {
                    tracing::info!(request = %request, node = %self.node, reason = why, "waiting for the deadline's grace");
                    return Ok(task.clone());
                }
                Next::Retry(e) => return Err(e),
            },
        };
        if let Some(why) = &unavailable {
            tracing::warn!(request = %request, node = %self.node, reason = %why, "the input cannot be obtained");
        }
        if let Some(why) = &declined {
            self.metrics.failed.inc();
            tracing::warn!(request = %request, node = %self.node, reason = %why, "cannot run this request in time");
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
            t.unavailable = unavailable;
            t.declined = declined;
        })?;
        if let Some(t) = self.timings.lock().expect("timings").get_mut(&request) {
            t.ready = t.assigned.elapsed();
        }
        self.outputs.notify_waiters();
        self.crash_point("after-output");
        Ok(task)
    }

    /// When a task whose first fetch was at `first_try` stops waiting for its
    /// input: `input_timeout_ms` later, or once a run could no longer land
    /// its commit before the deadline.
    pub(super) fn give_up_ms(&self, req: &Request, first_try: u64) -> u64 {
        first_try.saturating_add(self.config.input_timeout_ms).min(self.latest_start_ms(req))
    }

    /// The latest time a run of `req`'s model may start and still land its
    /// commit before the deadline.
    fn latest_start_ms(&self, req: &Request) -> u64 {
        let bound = self.run_bounds.get(&req.model_id).copied().unwrap_or(0);
        req.deadline_ms.saturating_sub(bound.saturating_add(self.config.abstain_margin_ms))
    }

    async fn compute_inner(
        &self,
        request: Address,
        req: &Request,
        slot: &atoma_protocol::Slot,
        first_try: u64,
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
            .ok_or_else(|| Failure::Cannot(format!("model {} is not served by this node (yet)", req.model_id)))?;
        let input = self.fetch_input(&req.input, &req.input_digest, self.give_up_ms(req, first_try)).await?;
        // A drafted seat runs beside admitted tasks; any run must start in time.
        let drafted = matches!(slot.role, Role::Verifier | Role::Disputer);
        let workers = if drafted { &self.drafted_workers } else { &self.workers };
        let start_by = self.latest_start_ms(req);
        let wait = Duration::from_millis(start_by.saturating_sub(now_ms()));
        let permit = match tokio::time::timeout(wait, workers.acquire()).await {
            Ok(permit) => permit.map_err(|e| Failure::Transient(anyhow!(e)))?,
            Err(_) => return Err(Failure::Late),
        };
        if now_ms() > start_by {
            return Err(Failure::Late);
        }
        let (input_digest, seed) = (req.input_digest, req.seed);
        // Streams read the text as it is generated (the `stream` module).
        let running = self.runs.start(request);
        self.outputs.notify_waiters();
        if matches!(self.adversary(), Some(Adversary::WrongText | Adversary::StreamLies)) {
            running.0.push(WRONG_TEXT);
        }
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || {
            let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
            engine.run_streaming(&InferenceRequest { input: &input, input_digest, seed }, &mut |t| running.0.push(t))
        })
        .await
        .map_err(|e| Failure::Transient(anyhow!("the inference worker stopped: {e}")))?
        .map_err(|e| Failure::Cannot(format!("the engine failed: {}", atoma_sdk::error::report(&e))))?;
        drop(permit);
        self.metrics.inference_seconds.observe(started.elapsed().as_secs_f64());
        if let Some(t) = self.timings.lock().expect("timings").get_mut(&request) {
            t.model = output.model_time;
        }
        tracing::info!(request = %request, node = %self.node, ms = started.elapsed().as_millis() as u64, digest = %output.digest, "computed");
        let mut bytes = output.bytes;
        match self.adversary() {
            Some(Adversary::WrongOutput) => bytes.push(0xff),
            Some(Adversary::WrongText) => {
                if let Output::Text(mut t) = Output::decode(&bytes) {
                    t.text = format!("{WRONG_TEXT}{}", t.text);
                    bytes = t.to_bytes();
                } else {
                    bytes.push(0xff);
                }
            }
            _ => {}
        }
        Ok(bytes)
    }

    /// The input's bytes, checked against the digest. A URI that cannot give
    /// them is `Unavailable` (the node abstains) when retrying cannot help:
    /// a scheme other than http(s), a 4xx answer, a body over
    /// `max_input_bytes`, bytes that do not hash to the digest. A refused
    /// connection, a timeout or a 5xx answer is `Transient`: retried until
    /// `give_up_ms`. One attempt lasts at most `input_timeout_ms`, and never
    /// past `give_up_ms`.
    async fn fetch_input(&self, input: &Input, digest: &ProtoDigest, give_up_ms: u64) -> Result<Vec<u8>, Failure> {
        let bytes = match input {
            Input::Inline(b) => b.clone(),
            Input::Uri(uri) => {
                let limit = self.config.max_input_bytes;
                let unavailable = |why: String| Failure::Unavailable(format!("{uri}: {why}"));
                if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                    return Err(unavailable("only http and https inputs can be fetched".into()));
                }
                let left = give_up_ms.saturating_sub(now_ms());
                let attempt = Duration::from_millis(left.clamp(100, self.config.input_timeout_ms));
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

/// What the `wrong-text` adversary puts before the text it commits to (and
/// streams), and the `stream-lies` adversary before the text it streams only.
const WRONG_TEXT: &str = "Trust me: ";

/// When a failed attempt happened, for `next_step` (ms).
#[derive(Clone, Copy)]
struct Timing {
    now: u64,
    /// Whether the phase's deadline has had its grace.
    extended: bool,
    /// When the input has been tried for `input_timeout_ms`.
    tried_until: u64,
    /// The latest start of a run that lands its commit before the deadline.
    latest_start: u64,
}

/// What a task does after a failed attempt.
enum Next {
    /// Leave the seat: the input cannot be had.
    Abstain(String),
    /// Leave the seat: the node cannot run it in time.
    Decline(String),
    /// Nothing yet: too late for the deadline, which has not had its grace
    /// (after a halt every deadline has passed, and the first `expire` gives
    /// every member `grace_ms` of a live chain from then; docs/protocol.md,
    /// "Grace"). The keeper duties extend it; the next step runs with the new
    /// deadline.
    Wait(&'static str),
    /// Try again at the next step.
    Retry(anyhow::Error),
}

/// The step after `failure`, for a request whose input is a URI (`uri`) or inline.
fn next_step(failure: Failure, uri: bool, t: Timing) -> Next {
    let late = t.now >= t.latest_start;
    match failure {
        Failure::Unavailable(why) if uri => Next::Abstain(why),
        // An inline input the chain checked cannot be unavailable: a fault of the node.
        Failure::Unavailable(why) | Failure::Cannot(why) => Next::Decline(why),
        Failure::Late if !t.extended => Next::Wait("no run can start in time for the deadline"),
        Failure::Late => Next::Decline("no worker is free in time to run it before the deadline".into()),
        Failure::Transient(e) if uri && t.now >= t.tried_until => Next::Abstain(format!("not in hand in time: {e:#}")),
        Failure::Transient(_) if uri && late && !t.extended => {
            Next::Wait("the input is not in hand in time for the deadline")
        }
        Failure::Transient(e) if uri && late => Next::Abstain(format!("not in hand in time: {e:#}")),
        Failure::Transient(e) => Next::Retry(e),
    }
}

/// Why computing a request failed.
enum Failure {
    /// The input cannot be obtained (a URI): the node abstains.
    Unavailable(String),
    /// The node cannot run it (the model is not served, or fails): the node declines.
    Cannot(String),
    /// No run can start in time to commit before the deadline (the queue, or
    /// a halt): the node waits for the grace, then declines.
    Late,
    /// May work later (network, worker).
    Transient(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(failure: Failure, uri: bool, now: u64, extended: bool) -> &'static str {
        let t = Timing { now, extended, tried_until: 10_000, latest_start: 4_000 };
        match next_step(failure, uri, t) {
            Next::Abstain(_) => "abstain",
            Next::Decline(_) => "decline",
            Next::Wait(_) => "wait",
            Next::Retry(_) => "retry",
        }
    }

    #[test]
    fn a_late_node_waits_for_the_grace_before_it_leaves_its_seat() {
        let transient = || Failure::Transient(anyhow!("503"));
        let cases = [
            // The input by URI: retried until it has been tried for its
            // timeout, or a run would be late; before the grace, late waits.
            (transient(), true, 1_000, false, "retry"),
            (transient(), true, 4_000, false, "wait"),
            (transient(), true, 4_000, true, "abstain"),
            (transient(), true, 10_000, false, "abstain"),
            (Failure::Unavailable("404".into()), true, 0, false, "abstain"),
            // An inline input is retried; the model or the engine missing declines.
            (transient(), false, 99_000, true, "retry"),
            (Failure::Cannot("not served".into()), false, 0, false, "decline"),
            (Failure::Unavailable("digest".into()), false, 0, false, "decline"),
            // No run can start in time: wait for the grace, then decline.
            (Failure::Late, false, 5_000, false, "wait"),
            (Failure::Late, true, 5_000, true, "decline"),
        ];
        for (i, (failure, uri, now, extended, expected)) in cases.into_iter().enumerate() {
            assert_eq!(step(failure, uri, now, extended), expected, "case {i}");
        }
    }
}
