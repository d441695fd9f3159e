//! The first output: asked of every selected node at once, taken from the
//! first that serves it with a valid signature and a matching on-chain
//! commitment; and, in Sealed mode, telling the chosen verifiers.

use std::time::{Duration, Instant};

use atoma_protocol::commitment::commitment;
use atoma_protocol::{Digest as ProtoDigest, ObjectId};
use futures::future::select_ok;
use sui_sdk_types::Address;

use super::{Client, FirstOutput, RequestHandle};
use crate::error::{Result, SdkError, report};
use crate::http;

/// How often the handle looks for a commitment.
const POLL: Duration = Duration::from_millis(50);

impl RequestHandle {
    /// Tells each chosen verifier (if the draw checks the primary) its task,
    /// so that it computes in parallel with the primary. A verifier that
    /// cannot be reached will be slashed for absence.
    pub(super) async fn notify_chosen_verifiers(&self) {
        let Some((true, chosen)) = self.sealed_draw() else { return };
        let secret = http::hex(&self.secret.unwrap_or_default());
        for node in chosen {
            let result = async {
                let info = self
                    .client
                    .chain
                    .node(node)
                    .await?
                    .ok_or_else(|| SdkError::http(format!("node {node} is not registered")))?;
                let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::sealed_path(&self.request));
                let response = self
                    .client
                    .http
                    .post(&url)
                    .timeout(Duration::from_secs(5))
                    .json(&http::SealedNotice { secret: secret.clone() })
                    .send()
                    .await
                    .map_err(|e| SdkError::http(url.clone()).because(e))?;
                if !response.status().is_success() {
                    return Err(SdkError::http(format!("{url} answered {}", response.status())));
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(request = %self.request, node = %node, error = %report(&e), "could not tell a chosen verifier");
            }
        }
    }

    /// Tells the selected nodes of the request at once (`POST /v1/push`),
    /// so that they start without waiting for a checkpoint to bring the
    /// selection; a node that cannot be reached learns of it from its event
    /// stream as before. Returns how many nodes accepted.
    pub async fn push(&self) -> usize {
        let Ok(signature) = http::sign_push(self.client.chain.key(), &self.request) else { return 0 };
        let pushes = self.executors.iter().map(|node| {
            let signature = signature.clone();
            async move {
                let info = self.client.chain.node(*node).await.ok().flatten()?;
                let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::push_path(&self.request));
                let sent = self.client.http.post(&url).header(http::REQUESTER_SIGNATURE, signature);
                let response = sent.timeout(Duration::from_secs(5)).send().await;
                match response {
                    Ok(r) if r.status().is_success() => Some(()),
                    Ok(r) => {
                        tracing::debug!(request = %self.request, %node, status = %r.status(), "push refused");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(request = %self.request, %node, error = %report(&e), "push not delivered");
                        None
                    }
                }
            }
        });
        futures::future::join_all(pushes).await.into_iter().flatten().count()
    }

    /// The output from the first selected node that serves it, checked
    /// against the node's signature and its on-chain commitment. Waits at most 10 minutes.
    pub async fn first_output(&self) -> Result<FirstOutput> {
        self.first_output_within(Duration::from_secs(600)).await
    }

    /// As `first_output`, waiting at most `timeout`.
    pub async fn first_output_within(&self, timeout: Duration) -> Result<FirstOutput> {
        self.output_from(&self.executors, timeout).await
    }

    /// The output from the first of `nodes` that serves one bound to its
    /// commitment, waiting at most `timeout`: after finality, the
    /// finalized output from the nodes that agreed on it.
    pub async fn output_from(&self, ids: &[Address], timeout: Duration) -> Result<FirstOutput> {
        let deadline = Instant::now() + timeout;
        let mut nodes = Vec::new();
        for id in ids {
            if let Some(info) = self.client.chain.node(*id).await? {
                nodes.push((*id, info));
            }
        }
        if nodes.is_empty() {
            return Err(SdkError::http(format!("none of the nodes asked for {} is registered", self.request)));
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
                    tracing::debug!(request = %self.request, %node, error = %report(&e), "no output yet");
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
        let (output, digest, salt) = self.client.fetch_output(self.request, node, info, signature, wait).await?;
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
}

impl Client {
    /// Request `request`'s output as `node` serves it to this client's key
    /// (the requester's): the bytes, checked against the node's signed
    /// digest, not against any commitment. A reader that holds the digest
    /// the chain finalized checks the bytes against it.
    pub async fn served_output(&self, request: Address, node: Address, wait: Duration) -> Result<Vec<u8>> {
        let info = self
            .chain
            .node(node)
            .await?
            .ok_or_else(|| SdkError::InvalidArgument(format!("node {node} is not registered")))?;
        let signature = http::sign_output_request(self.chain.key(), &request)?;
        let wait = wait.min(Duration::from_millis(http::MAX_WAIT_MS));
        Ok(self.fetch_output(request, node, &info, &signature, wait).await?.0)
    }

    /// One ask of `node` for `request`'s output (long-polling up to `wait`):
    /// the bytes, their digest and salt, the node's signature checked.
    async fn fetch_output(
        &self,
        request: Address,
        node: Address,
        info: &atoma_protocol::state::Node,
        signature: &str,
        wait: Duration,
    ) -> Result<(Vec<u8>, [u8; 32], [u8; 32])> {
        let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::output_path(&request));
        let response = self
            .http
            .get(&url)
            .query(&[("wait_ms", wait.as_millis() as u64)])
            .header(http::REQUESTER_SIGNATURE, signature)
            .timeout(wait + Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| SdkError::http(url.clone()).because(e))?;
        if !response.status().is_success() {
            return Err(SdkError::http(format!("{url} answered {}", response.status())));
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
        let output = response.bytes().await.map_err(|e| SdkError::http(url.clone()).because(e))?.to_vec();
        let digest = http::output_digest(&output);
        if http::parse_hex32(&digest_hex) != Some(digest) {
            return Err(SdkError::Verification(format!("{url} served bytes that do not match its digest header")));
        }
        let salt = http::parse_hex32(&salt_hex)
            .ok_or_else(|| SdkError::Verification(format!("{url} sent a malformed salt")))?;
        http::verify_served_output(&node_signature, &info.public_key, &request, &node, &digest, &salt)?;
        Ok((output, digest, salt))
    }
}
