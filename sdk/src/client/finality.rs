//! Waiting for a request to settle: the handle follows the package's events
//! for its request and, as any keeper may, moves it on. What is due is the
//! protocol's decision (`ops::due`): a checked coin flip's verifiers and a
//! dispute's quorum are selected at once; a phase past its deadline (by a
//! margin, for clocks that differ a little) is expired, twice, since the
//! first call only grants the grace. In Sealed mode the handle reveals its
//! secret once the primary and every chosen verifier have committed, or a
//! margin before the verification window closes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use atoma_protocol::ops::{KeeperCall, due};
use atoma_protocol::{Event, ObjectId};
use sui_sdk_types::{Address, Digest};

use super::{Attestation, Outcome, RequestHandle};
use crate::error::{Result, SdkError, report};
use crate::events::{EventStream, Start};
use crate::now_ms;

/// Margin after a deadline before the handle calls `expire` (clocks differ a little).
const DEADLINE_MARGIN_MS: u64 = 500;

/// What the handle has learnt of its request from the events.
#[derive(Default)]
struct Seen {
    /// The end of the current phase; `None` once the handle acted on it.
    deadline_ms: Option<u64>,
    /// Nodes that committed.
    committed: BTreeSet<Address>,
    primary_committed: bool,
    secret_revealed: bool,
    /// The request's transactions seen or sent so far.
    transactions: Vec<Digest>,
}

impl RequestHandle {
    /// Waits (at most 10 minutes) for the request to finalize or fail, moving it on as a keeper would.
    pub async fn finality(&self) -> Result<Attestation> {
        self.finality_within(Duration::from_secs(600)).await
    }

    /// As `finality`, waiting at most `timeout`.
    pub async fn finality_within(&self, timeout: Duration) -> Result<Attestation> {
        self.follow(timeout, None).await
    }

    /// As `finality_within`, sending each event of the request on
    /// `progress` the moment the handle sees it (selections, commitments,
    /// abstentions, slashes, extensions, disputes, the outcome), so that a
    /// caller can show them while it waits.
    pub async fn finality_reporting(
        &self,
        timeout: Duration,
        progress: tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> Result<Attestation> {
        self.follow(timeout, Some(&progress)).await
    }

    async fn follow(
        &self,
        timeout: Duration,
        progress: Option<&tokio::sync::mpsc::UnboundedSender<Event>>,
    ) -> Result<Attestation> {
        let give_up = Instant::now() + timeout;
        let chain = &self.client.chain;
        let mut events =
            EventStream::new(chain.rpc(), chain.identity().type_origin, Start::Checkpoint(self.start_checkpoint));
        let mut seen = Seen { transactions: self.transactions.clone(), ..Seen::default() };
        let chosen: BTreeSet<Address> = self.sealed_draw().map(|(_, c)| c.into_iter().collect()).unwrap_or_default();
        let request_id = ObjectId::from(self.request);
        loop {
            if Instant::now() >= give_up {
                return Err(SdkError::Timeout(format!("request {} did not settle", self.request)));
            }
            let event = tokio::select! {
                e = events.next() => e?,
                _ = tokio::time::sleep(self.until_due(&seen)) => {
                    self.on_deadline(&mut seen).await?;
                    continue;
                }
            };
            if event.event.request_id() != Some(request_id) {
                continue;
            }
            if !seen.transactions.contains(&event.transaction) {
                seen.transactions.push(event.transaction);
            }
            if let Some(progress) = progress {
                // A caller that stopped listening does not stop the wait.
                let _ = progress.send(event.event.clone());
            }
            if let Some(outcome) = self.on_event(&mut seen, &event.event).await? {
                return Ok(self.attestation(outcome, seen.transactions));
            }
            // Sealed: reveal the secret once the primary committed and every chosen verifier too.
            if let (Some(secret), false) = (self.secret, seen.secret_revealed)
                && seen.primary_committed
                && chosen.iter().all(|v| seen.committed.contains(v))
            {
                seen.secret_revealed = true;
                let result = chain.reveal_secret(self.request, &secret).await;
                self.record("reveal_secret", result, &mut seen.transactions);
            }
        }
    }

    /// Whether a Sealed secret still held must be revealed before the
    /// verification window closes.
    fn reveal_due(&self, seen: &Seen) -> bool {
        self.secret.is_some() && !seen.secret_revealed && seen.primary_committed
    }

    /// How long until the handle must act without an event: a margin
    /// before the verification window closes (a secret to reveal), or a
    /// margin after the phase's deadline.
    fn until_due(&self, seen: &Seen) -> Duration {
        let wake_at = seen
            .deadline_ms
            .map(|d| if self.reveal_due(seen) { d.saturating_sub(DEADLINE_MARGIN_MS) } else { d + DEADLINE_MARGIN_MS });
        match wake_at {
            Some(at) => Duration::from_millis(at.saturating_sub(now_ms())),
            None => Duration::from_secs(1),
        }
    }

    /// No event came before the time `until_due` gave: reveal the secret,
    /// or make the keeper calls due on the request as it is now.
    async fn on_deadline(&self, seen: &mut Seen) -> Result<()> {
        let chain = &self.client.chain;
        if let (true, Some(secret), Some(d)) = (self.reveal_due(seen), self.secret, seen.deadline_ms)
            && now_ms() + DEADLINE_MARGIN_MS >= d
        {
            seen.secret_revealed = true;
            let result = chain.reveal_secret(self.request, &secret).await;
            self.record("reveal_secret", result, &mut seen.transactions);
        } else if seen.deadline_ms.is_some_and(|d| now_ms() >= d + DEADLINE_MARGIN_MS) {
            // Expiry first; silent nodes' seats are then refilled by a selection anyone may perform.
            self.keep_due(seen).await?;
            seen.deadline_ms = None;
        }
        Ok(())
    }

    /// Makes the keeper calls due on the request as the chain has it now.
    async fn keep_due(&self, seen: &mut Seen) -> Result<()> {
        let req = self.client.chain.request(self.request).await?;
        self.keep_all(due(&req, now_ms(), DEADLINE_MARGIN_MS), &mut seen.transactions).await;
        Ok(())
    }

    /// Takes in one event of the request: the outcome when it settled.
    async fn on_event(&self, seen: &mut Seen, event: &Event) -> Result<Option<Outcome>> {
        match event {
            Event::NodesSelected(s) => seen.deadline_ms = Some(s.deadline_ms),
            Event::RevealPhaseStarted(s) => seen.deadline_ms = Some(s.deadline_ms),
            // A first `expire` granted the grace: the phase ends with a second one after it.
            Event::DeadlineExtended(d) => seen.deadline_ms = Some(d.deadline_ms),
            // A selection to make: verifiers, a dispute quorum, a refill of
            // the seat a member left.
            Event::VerificationDrawn(v) if v.checked => self.keep_due(seen).await?,
            Event::DisputeRaised(_) | Event::Abstained(_) | Event::Declined(_) => self.keep_due(seen).await?,
            Event::Committed(c) => {
                let node = Address::from(c.node_id);
                if self.executors.contains(&node) && !seen.primary_committed {
                    seen.primary_committed = true;
                    if self.secret.is_some() {
                        // The verification window: no event carries its end; the request does.
                        seen.deadline_ms = Some(self.client.chain.request(self.request).await?.deadline_ms);
                    }
                }
                seen.committed.insert(node);
            }
            Event::RequestFinalized(f) => {
                return Ok(Some(Outcome::Finalized {
                    output_digest: f.output_digest.0,
                    nodes: f.nodes.iter().map(Address::from).collect(),
                    verified: f.verified,
                }));
            }
            Event::RequestFailed(f) => return Ok(Some(Outcome::Failed { reason: f.reason, refund: f.refund })),
            _ => {}
        }
        Ok(None)
    }

    /// Makes keeper calls in order and records them.
    async fn keep_all(&self, calls: Vec<KeeperCall>, transactions: &mut Vec<Digest>) {
        for call in calls {
            let result = self.client.chain.keeper(call, self.request).await;
            self.record(call.name(), result, transactions);
        }
    }

    /// Records a call that moves the request on; another caller having made
    /// it first is not an error.
    fn record(&self, what: &str, result: Result<crate::chain::Executed>, transactions: &mut Vec<Digest>) {
        match result {
            Ok(executed) => transactions.push(executed.digest),
            Err(SdkError::Protocol { error, .. }) if error.is_lost_race() => {}
            Err(e) => tracing::warn!(request = %self.request, error = %report(&e), "{what} failed"),
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
