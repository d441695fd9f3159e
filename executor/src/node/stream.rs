//! The stream endpoint of `atoma_sdk::http` (`GET
//! /v1/outputs/{request}/stream`): a run's text as it is generated (kept in
//! `live`), relayed in signed chunks, ending with the output the node wrote
//! to its database, the one it commits to.
//!
//! Streaming changes nothing on chain nor in what is committed: the chunks
//! are the engine's released text (`engine::hf::text::Releaser`), which
//! joins into the output's text. A run's pieces are kept until its task is
//! done, so a stream opened after the run gives the same chunks; after a
//! restart, the stored output's text comes as one chunk.
//!
//! Not for: who may read (the requester only, checked by `server` as for
//! the output itself).

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use atoma_protocol::output::Output;
use atoma_sdk::http::{self, StreamChunk, StreamEnd};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use base64::Engine as _;
use sui_sdk_types::Address;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::node::live::Live;
use crate::node::service::Service;

/// Where a stream starts: a run in progress, or an output already stored.
pub enum Start {
    Live(Arc<Live>),
    Stored,
}

/// What a node does after the output's run: how long a stream waits for the
/// output to reach the database (or the task's failure to be recorded).
const OUTPUT_WAIT: Duration = Duration::from_millis(http::MAX_WAIT_MS);

/// The event stream of `request` from `start`: its chunks, signed, then its
/// output (or why there is none).
pub fn respond(service: Arc<Service>, request: Address, start: Start) -> axum::response::Response {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut chunks = Chunks::new(&service, request);
        if let Err(Closed) = relay(&service, request, start, &mut chunks, &tx).await {
            tracing::debug!(request = %request, "the stream's reader left");
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()).into_response()
}

/// The reader has gone.
struct Closed;

async fn relay(
    service: &Service,
    request: Address,
    start: Start,
    chunks: &mut Chunks<'_>,
    tx: &mpsc::Sender<Result<Event, Infallible>>,
) -> Result<(), Closed> {
    let live = match start {
        Start::Live(live) => Some(live),
        Start::Stored => None,
    };
    if let Some(live) = &live {
        let mut sent = 0;
        loop {
            let mut changed = pin!(live.changed.notified());
            changed.as_mut().enable();
            let (pieces, finished) = live.since(sent);
            sent += pieces.len();
            for piece in pieces {
                send(tx, chunks.next(&piece)).await?;
            }
            if finished {
                break;
            }
            // A reader that left ends the relay now, not at the run's end.
            tokio::select! {
                _ = changed => {}
                _ = tx.closed() => return Err(Closed),
            }
        }
    }
    let deadline = tokio::time::Instant::now() + OUTPUT_WAIT;
    loop {
        let mut stored = pin!(service.outputs.notified());
        stored.as_mut().enable();
        match service.db.task(&request) {
            Ok(Some(task)) => {
                if let (Some(output), Some(salt)) = (task.output, task.salt) {
                    if let (None, Output::Text(t)) = (&live, Output::decode(&output))
                        && !t.text.is_empty()
                    {
                        send(tx, chunks.next(&t.text)).await?;
                    }
                    return send(tx, chunks.end(&output, &salt)).await;
                }
                if let Some(why) = task.declined.or(task.unavailable) {
                    return send(tx, failure(&format!("this node serves no output for the request: {why}"))).await;
                }
            }
            Ok(None) => {}
            Err(e) => return send(tx, failure(&e.to_string())).await,
        }
        tokio::select! {
            waited = tokio::time::timeout_at(deadline, stored) => {
                if waited.is_err() {
                    return send(tx, failure("the run ended without an output")).await;
                }
            }
            _ = tx.closed() => return Err(Closed),
        }
    }
}

async fn send(tx: &mpsc::Sender<Result<Event, Infallible>>, event: Event) -> Result<(), Closed> {
    tx.send(Ok(event)).await.map_err(|_| Closed)
}

fn failure(message: &str) -> Event {
    Event::default().event("error").data(serde_json::json!({ "message": message }).to_string())
}

/// The signed chunks of one stream, and its end.
struct Chunks<'a> {
    service: &'a Service,
    request: Address,
    node: Address,
    index: u64,
    running: [u8; 32],
}

impl<'a> Chunks<'a> {
    fn new(service: &'a Service, request: Address) -> Self {
        Chunks { service, request, node: service.node_id(), index: 0, running: http::stream_start(&request) }
    }

    fn next(&mut self, text: &str) -> Event {
        self.running = http::stream_running(&self.running, text);
        let message = http::chunk_message(&self.request, &self.node, self.index, &self.running, text);
        let chunk = StreamChunk {
            index: self.index,
            text: text.to_string(),
            running: http::hex(&self.running),
            signature: self.sign(&message),
        };
        self.index += 1;
        Event::default().event("chunk").data(serde_json::to_string(&chunk).expect("a chunk serialises"))
    }

    fn end(&self, output: &[u8], salt: &[u8; 32]) -> Event {
        let digest = http::output_digest(output);
        let message = http::stream_end_message(&self.request, &self.node, self.index, &self.running, &digest, salt);
        let end = StreamEnd {
            node: self.node,
            chunks: self.index,
            running: http::hex(&self.running),
            digest: http::hex(&digest),
            salt: http::hex(salt),
            output: base64::engine::general_purpose::STANDARD.encode(output),
            signature: self.sign(&message),
        };
        Event::default().event("output").data(serde_json::to_string(&end).expect("an end serialises"))
    }

    /// The node's signature; an empty one (which no reader accepts) if its key cannot sign.
    fn sign(&self, message: &[u8]) -> String {
        http::sign_node(self.service.chain.key(), message).unwrap_or_default()
    }
}
