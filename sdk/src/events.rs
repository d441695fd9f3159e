//! The package's events, in ledger order, from a checkpoint or a cursor
//! onward, resumable after a disconnect or a node restart without loss or
//! duplication.
//!
//! It follows the path every Sui full node serves: `SubscribeCheckpoints`
//! (with the transactions' events in the read mask) for new checkpoints,
//! and `GetCheckpoint` for every checkpoint between the last one processed
//! and the node's latest (`GetServiceInfo`), read as soon as a
//! (re)subscription is open. Events of other packages
//! are skipped. Each event comes with its `EventCursor`; a consumer that
//! persists the cursor of the last event it handled and starts again with
//! `Start::After(cursor)` sees every later event exactly once.
//!
//! ```text
//! cursor = (checkpoint sequence number, transaction index in it, event index in it)
//! ```
//!
//! Not for: deciding what to do with events (the client and the node service do).

use std::collections::VecDeque;
use std::time::Duration;

use atoma_protocol::Event;
use futures::StreamExt;
use prost_types::FieldMask;
use serde::{Deserialize, Serialize};
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest};
use tonic::Streaming;

use crate::chain::{checkpoint_height, decode_event};
use crate::error::{Result, SdkError};

/// The position of an event in the ledger.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash, Serialize, Deserialize)]
pub struct EventCursor {
    /// The checkpoint's sequence number.
    pub checkpoint: u64,
    /// The transaction's index in the checkpoint.
    pub transaction: u64,
    /// The event's index in the transaction.
    pub event: u64,
}

/// Where a stream starts.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// With the next checkpoint.
    Tip,
    /// With this checkpoint (inclusive).
    Checkpoint(u64),
    /// After this event.
    After(EventCursor),
}

impl std::fmt::Display for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Start::Tip => write!(f, "the next checkpoint"),
            Start::Checkpoint(c) => write!(f, "checkpoint {c}"),
            Start::After(c) => {
                write!(f, "after event {} of transaction {} of checkpoint {}", c.event, c.transaction, c.checkpoint)
            }
        }
    }
}

/// One of the package's events with where and when it happened.
#[derive(Clone, Debug)]
pub struct PackageEvent {
    /// Its position; persist it to resume after it.
    pub cursor: EventCursor,
    /// The transaction that emitted it.
    pub transaction: Digest,
    /// The transaction's sender.
    pub sender: Address,
    /// The checkpoint's time (ms).
    pub timestamp_ms: u64,
    /// The event.
    pub event: Event,
}

const MASK: &[&str] = &["sequence_number", "summary.timestamp", "transactions.digest", "transactions.events"];

/// The package's events, in order.
pub struct EventStream {
    rpc: sui_rpc::Client,
    package: Address,
    /// The next checkpoint to process (unknown until the first frame when starting at the tip).
    next: Option<u64>,
    /// Events at or before this cursor are skipped (a resume point).
    after: Option<EventCursor>,
    buffer: VecDeque<PackageEvent>,
    subscription: Option<Streaming<proto::SubscribeCheckpointsResponse>>,
    /// Consecutive failed reconnections (for back-off).
    failures: u32,
    /// The highest checkpoint processed.
    processed: Option<u64>,
}

impl EventStream {
    /// A stream of `package`'s events read from the node behind `rpc`.
    pub fn new(rpc: sui_rpc::Client, package: Address, start: Start) -> EventStream {
        let (next, after) = match start {
            Start::Tip => (None, None),
            Start::Checkpoint(c) => (Some(c), None),
            Start::After(cursor) => (Some(cursor.checkpoint), Some(cursor)),
        };
        EventStream {
            rpc,
            package,
            next,
            after,
            buffer: VecDeque::new(),
            subscription: None,
            failures: 0,
            processed: None,
        }
    }

    /// The highest checkpoint whose events have all been read into the stream.
    pub fn checkpoint(&self) -> Option<u64> {
        self.processed
    }

    /// The next event. Reconnects (with back-off) when the node goes away,
    /// and fills any gap with `GetCheckpoint`, so it never skips an event.
    pub async fn next(&mut self) -> Result<PackageEvent> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                return Ok(e);
            }
            match self.advance().await {
                Ok(()) if self.failures > 0 => {
                    tracing::info!(attempts = self.failures, "event stream reconnected");
                    self.failures = 0;
                }
                Ok(()) => {}
                Err(e) => {
                    self.subscription = None;
                    self.failures += 1;
                    // Bounded back-off: 0.2 s, 0.4 s, … up to 6.4 s between attempts.
                    let delay = Duration::from_millis(100u64 << self.failures.min(6));
                    tracing::warn!(error = %crate::error::report(&e), retry_in_ms = delay.as_millis() as u64, "event stream interrupted");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Reads one frame of the subscription (subscribing first if needed).
    async fn advance(&mut self) -> Result<()> {
        if self.subscription.is_none() {
            let req = proto::SubscribeCheckpointsRequest::default()
                .with_read_mask(FieldMask::from_paths(MASK.iter().copied()));
            let stream = self
                .rpc
                .subscription_client()
                .subscribe_checkpoints(req)
                .await
                .map_err(|e| SdkError::rpc("subscribing to checkpoints", e))?
                .into_inner();
            self.subscription = Some(stream);
            // Catch up now on what is already sealed, rather than at the next
            // frame: an idle chain may not seal one for a while. Anything
            // sealed after this height comes through the subscription.
            if let Some(next) = self.next {
                for sequence in next..=checkpoint_height(&mut self.rpc).await? {
                    let c = self.get_checkpoint(sequence).await?;
                    self.process(sequence, &c)?;
                }
                return Ok(());
            }
        }
        let stream = self.subscription.as_mut().expect("subscribed above");
        let frame = match stream.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(SdkError::rpc("reading the checkpoint stream", e)),
            None => {
                return Err(SdkError::rpc("reading the checkpoint stream", tonic::Status::unavailable("stream ended")));
            }
        };
        let checkpoint = frame.checkpoint.ok_or_else(|| SdkError::decode("a checkpoint frame without a checkpoint"))?;
        let sequence = checkpoint
            .sequence_number
            .or(frame.cursor)
            .ok_or_else(|| SdkError::decode("a checkpoint without a sequence number"))?;
        let next = *self.next.get_or_insert(sequence);
        if sequence < next {
            return Ok(()); // seen already (a resubscription repeats nothing, but be safe)
        }
        for missing in next..sequence {
            let c = self.get_checkpoint(missing).await?;
            self.process(missing, &c)?;
        }
        self.process(sequence, &checkpoint)
    }

    async fn get_checkpoint(&mut self, sequence: u64) -> Result<proto::Checkpoint> {
        let mut req = proto::GetCheckpointRequest::default();
        req.checkpoint_id = Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(sequence));
        req.read_mask = Some(FieldMask::from_paths(MASK.iter().copied()));
        self.rpc
            .ledger_client()
            .get_checkpoint(req)
            .await
            .map_err(|e| SdkError::rpc(format!("reading checkpoint {sequence}"), e))?
            .into_inner()
            .checkpoint
            .ok_or_else(|| SdkError::decode(format!("checkpoint {sequence} came back empty")))
    }

    fn process(&mut self, sequence: u64, checkpoint: &proto::Checkpoint) -> Result<()> {
        let timestamp_ms = checkpoint
            .summary
            .as_ref()
            .and_then(|s| s.timestamp.as_ref())
            .map(|t| t.seconds as u64 * 1_000 + t.nanos as u64 / 1_000_000)
            .unwrap_or(0);
        for (ti, tx) in checkpoint.transactions.iter().enumerate() {
            let digest = Digest::from_base58(tx.digest.as_deref().unwrap_or_default()).map_err(|e| {
                SdkError::decode(format!("a transaction of checkpoint {sequence} has no digest")).because(e)
            })?;
            for (ei, e) in tx.events.as_ref().map(|e| e.events.as_slice()).unwrap_or_default().iter().enumerate() {
                let cursor = EventCursor { checkpoint: sequence, transaction: ti as u64, event: ei as u64 };
                if self.after.is_some_and(|a| cursor <= a) {
                    continue;
                }
                let event =
                    sui_sdk_types::Event::try_from(e).map_err(|err| SdkError::decode("an event").because(err))?;
                if let Some(decoded) = decode_event(&self.package, &event)? {
                    self.buffer.push_back(PackageEvent {
                        cursor,
                        transaction: digest,
                        sender: event.sender,
                        timestamp_ms,
                        event: decoded,
                    });
                }
            }
        }
        self.next = Some(sequence + 1);
        self.processed = Some(sequence);
        Ok(())
    }
}
