//! The output as a node generates it (`GET /v1/outputs/{request}/stream`,
//! `atoma_sdk::http`): its text piece by piece, each piece checked against
//! the node's signature and the running hash, then the first output bound
//! to a commitment on chain.
//!
//! What a reader is promised: every text piece it gets joins, with the
//! ones before, into a prefix of the output it gets last; otherwise the
//! last item is an error saying the streamed text was not the output
//! committed to. The stream comes from the first selected node to start
//! (or to have) the run; the output from the first node whose output opens
//! its commitment, as `first_output` takes it, asked from the start: a node
//! that streams and then stalls, or streams one text and commits to
//! another, holds nothing back; one that signs chunks and an end with
//! another text is not streamed from again by the same client.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use atoma_protocol::output::Output;
use base64::Engine as _;
use eventsource_stream::Eventsource;
use futures::future::select_ok;
use futures::{Stream, StreamExt};
use sui_sdk_types::Address;

use super::{FirstOutput, RequestHandle};
use crate::error::{Result, SdkError, report};
use crate::http::{self, StreamChunk, StreamEnd};

/// One item of an output stream.
#[derive(Clone, Debug)]
pub enum Streamed {
    /// The next piece of the generated text.
    Text(String),
    /// The output, bound to its node's commitment: the last item.
    Output(FirstOutput),
}

type Events = Pin<Box<dyn Stream<Item = std::result::Result<eventsource_stream::Event, String>> + Send>>;
type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A node's stream being read.
struct Open {
    request: Address,
    node: Address,
    key: Vec<u8>,
    events: Events,
    index: u64,
    running: [u8; 32],
    /// Its text so far.
    text: String,
}

impl RequestHandle {
    /// The output as the first selected node to run it generates it (see
    /// the module doc), within `timeout`. Ends after its `Output` or an error.
    pub fn stream_output(&self, timeout: Duration) -> impl Stream<Item = Result<Streamed>> + Send + '_ {
        let reader = Reader {
            liars: self.client.liars.clone(),
            opening: Some(Box::pin(self.open_stream(timeout))),
            first: Box::pin(self.first_output_within(timeout)),
            open: None,
            shown: String::new(),
            pending: VecDeque::new(),
            done: false,
        };
        futures::stream::unfold(reader, |mut reader| async move { reader.next().await.map(|item| (item, reader)) })
    }

    /// The stream of the first selected node that serves one.
    async fn open_stream(&self, timeout: Duration) -> Result<Open> {
        let deadline = Instant::now() + timeout;
        let signature = http::sign_output_request(self.client.chain.key(), &self.request)?;
        let infos = futures::future::join_all(self.executors.iter().map(|node| self.client.chain.node(*node))).await;
        let liars = self.client.liars.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut attempts = Vec::new();
        for (node, info) in self.executors.iter().zip(infos) {
            if liars.contains(node) {
                continue;
            }
            if let Ok(Some(info)) = info {
                let url = format!("{}{}", info.endpoint.trim_end_matches('/'), http::stream_path(&self.request));
                attempts.push(Box::pin(self.open_from(*node, info.public_key, url, signature.clone(), deadline)));
            }
        }
        if attempts.is_empty() {
            return Err(SdkError::http(format!("none of the nodes of {} is registered", self.request)));
        }
        select_ok(attempts).await.map(|(open, _)| open)
    }

    /// Asks `node` (long-polling, again after each miss) until its stream opens.
    async fn open_from(
        &self,
        node: Address,
        key: Vec<u8>,
        url: String,
        signature: String,
        deadline: Instant,
    ) -> Result<Open> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SdkError::Timeout(format!("node {node} streamed nothing of {}", self.request)));
            }
            let wait = left.min(Duration::from_millis(http::MAX_WAIT_MS));
            let sent = self
                .client
                .http
                .get(&url)
                .query(&[("wait_ms", wait.as_millis() as u64)])
                .header(http::REQUESTER_SIGNATURE, &signature)
                .send();
            match tokio::time::timeout(wait + Duration::from_secs(5), sent).await {
                Ok(Ok(r)) if r.status().is_success() => {
                    let events = r.bytes_stream().eventsource().map(|e| e.map_err(|e| e.to_string()));
                    let running = http::stream_start(&self.request);
                    let (request, events, text) = (self.request, Box::pin(events), String::new());
                    return Ok(Open { request, node, key, events, index: 0, running, text });
                }
                Ok(Ok(r)) => tracing::debug!(request = %self.request, %node, status = %r.status(), "no stream yet"),
                Ok(Err(e)) => tracing::debug!(request = %self.request, %node, error = %report(&e), "no stream"),
                Err(_) => tracing::debug!(request = %self.request, %node, "no answer from the stream"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The state of `stream_output`.
struct Reader<'a> {
    /// The client's nodes caught lying in a stream.
    liars: Liars,
    /// The first node's stream, until it opens.
    opening: Option<Pending<'a, Open>>,
    /// The first output bound to a commitment, asked of every node from the start.
    first: Pending<'a, FirstOutput>,
    open: Option<Open>,
    /// The text given to the reader.
    shown: String,
    pending: VecDeque<Result<Streamed>>,
    done: bool,
}

impl Reader<'_> {
    async fn next(&mut self) -> Option<Result<Streamed>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            if let Some(open) = &mut self.open {
                tokio::select! {
                    biased;
                    event = open.events.next() => match read(open, event) {
                        Read::Text(text) => {
                            self.shown.push_str(&text);
                            return Some(Ok(Streamed::Text(text)));
                        }
                        Read::Nothing => {}
                        Read::Ended => self.open = None,
                        Read::Broken(why) => {
                            tracing::warn!(why, "stream dropped: the output comes from the first node bound to its commitment");
                            self.open = None;
                        }
                        Read::Lied(why) => {
                            remember_liar(&self.liars, open.node, &why);
                            self.open = None;
                        }
                    },
                    first = &mut self.first => self.settle(first),
                }
            } else if let Some(opening) = &mut self.opening {
                tokio::select! {
                    biased;
                    opened = opening => {
                        self.opening = None;
                        match opened {
                            Ok(open) => self.open = Some(open),
                            Err(e) => tracing::debug!(error = %report(&e), "no stream opened"),
                        }
                    }
                    first = &mut self.first => self.settle(first),
                }
            } else {
                let first = (&mut self.first).await;
                self.settle(first);
            }
        }
    }

    /// Ends with the first output: the text not yet shown, then the output,
    /// or an error if the text shown does not begin it.
    fn settle(&mut self, first: Result<FirstOutput>) {
        self.done = true;
        let first = match first {
            Ok(f) => f,
            Err(e) => return self.pending.push_back(Err(e)),
        };
        let text = match first.decoded() {
            Output::Text(t) => t.text,
            _ => String::new(),
        };
        match text.strip_prefix(self.shown.as_str()) {
            Some(rest) => {
                if !rest.is_empty() {
                    self.pending.push_back(Ok(Streamed::Text(rest.to_string())));
                }
                self.pending.push_back(Ok(Streamed::Output(first)));
            }
            None => self.pending.push_back(Err(SdkError::Verification(format!(
                "the text streamed is not the output node {} committed to first",
                first.node
            )))),
        }
    }
}

type Liars = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<Address>>>;

fn remember_liar(liars: &Liars, node: Address, why: &str) {
    tracing::warn!(%node, why, "a node streamed text it did not end with: not streamed from again");
    liars.lock().unwrap_or_else(|e| e.into_inner()).insert(node);
}

/// How long a stream the reader left is still read for its signed end.
const DRAIN: Duration = Duration::from_secs(30);

impl Drop for Reader<'_> {
    /// A stream left open (the output came first from another node, or the
    /// reader stopped at finality) is read to its signed end in the
    /// background: a node whose end contradicts the chunks it signed is
    /// remembered whenever its lie shows, not only when the reader waits.
    fn drop(&mut self) {
        let (Some(mut open), Ok(runtime)) = (self.open.take(), tokio::runtime::Handle::try_current()) else { return };
        let liars = self.liars.clone();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(DRAIN, async {
                loop {
                    let event = open.events.next().await;
                    match read(&mut open, event) {
                        Read::Text(_) | Read::Nothing => {}
                        Read::Lied(why) => return remember_liar(&liars, open.node, &why),
                        Read::Ended | Read::Broken(_) => return,
                    }
                }
            })
            .await;
        });
    }
}

/// What one event of a stream says.
enum Read {
    /// A chunk's text, checked.
    Text(String),
    /// Nothing to show (a comment, an unknown event).
    Nothing,
    /// Its output, bound to the chunks: nothing follows.
    Ended,
    /// Why the stream cannot be trusted further.
    Broken(String),
    /// The node signed chunks and an end whose output is another text: a lie it cannot deny.
    Lied(String),
}

/// Reads one event of `open`'s stream.
fn read(open: &mut Open, event: Option<std::result::Result<eventsource_stream::Event, String>>) -> Read {
    let event = match event {
        None => return Read::Broken("the stream ended before its output".into()),
        Some(Err(e)) => return Read::Broken(format!("reading the stream: {e}")),
        Some(Ok(e)) => e,
    };
    let checked = match event.event.as_str() {
        "chunk" => serde_json::from_str(&event.data)
            .map_err(|e| format!("sent a bad chunk: {e}"))
            .and_then(|chunk| take_chunk(open, chunk))
            .map(Read::Text),
        "output" => match serde_json::from_str(&event.data) {
            Err(e) => Err(format!("sent a bad end: {e}")),
            Ok(end) => match check_end(open, &end) {
                Ok(true) => Ok(Read::Ended),
                Ok(false) => {
                    return Read::Lied(format!(
                        "node {} streamed text that is not the output it ended with",
                        open.node
                    ));
                }
                Err(why) => Err(why),
            },
        },
        "error" => Err(format!("serves no output: {}", event.data)),
        _ => Ok(Read::Nothing),
    };
    checked.unwrap_or_else(|why| Read::Broken(format!("node {} {why}", open.node)))
}

/// A chunk's text, if it is the next one, chained and signed by the node.
fn take_chunk(open: &mut Open, chunk: StreamChunk) -> std::result::Result<String, String> {
    let running = http::stream_running(&open.running, &chunk.text);
    if chunk.index != open.index || http::parse_hex32(&chunk.running) != Some(running) {
        return Err("sent a chunk out of order or with a wrong running hash".into());
    }
    let message = http::chunk_message(&open.request, &open.node, chunk.index, &running, &chunk.text);
    http::verify_node(&chunk.signature, &open.key, &open.node, &message).map_err(|e| e.to_string())?;
    open.index += 1;
    open.running = running;
    open.text.push_str(&chunk.text);
    Ok(chunk.text)
}

/// Checks a stream's end: signed by the node over the chunks sent and its
/// output hashing to its digest (else why not); then whether a text
/// output's text is the chunks joined (`false`: the node lied, and signed it).
fn check_end(open: &Open, end: &StreamEnd) -> std::result::Result<bool, String> {
    let output = base64::engine::general_purpose::STANDARD
        .decode(&end.output)
        .map_err(|e| format!("sent an output that is not base64: {e}"))?;
    let digest = http::output_digest(&output);
    let salt = http::parse_hex32(&end.salt).ok_or("sent a malformed salt")?;
    if end.node != open.node || end.chunks != open.index || http::parse_hex32(&end.running) != Some(open.running) {
        return Err("ended its stream with another count of chunks or running hash than it sent".into());
    }
    if http::parse_hex32(&end.digest) != Some(digest) {
        return Err("ended its stream with an output that does not match its digest".into());
    }
    let message = http::stream_end_message(&open.request, &open.node, end.chunks, &open.running, &digest, &salt);
    http::verify_node(&end.signature, &open.key, &open.node, &message).map_err(|e| e.to_string())?;
    let text = match Output::decode(&output) {
        Output::Text(t) => t.text,
        _ => String::new(),
    };
    Ok(text == open.text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use atoma_protocol::output::{FinishReason, TextOutput};

    /// What an honest node sends for `pieces`, ending with the output whose text is `text`.
    fn events(
        key: &Key,
        request: Address,
        node: Address,
        pieces: &[&str],
        text: &str,
    ) -> Vec<eventsource_stream::Event> {
        let mut running = http::stream_start(&request);
        let mut out = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            running = http::stream_running(&running, piece);
            let message = http::chunk_message(&request, &node, i as u64, &running, piece);
            let chunk = StreamChunk {
                index: i as u64,
                text: piece.to_string(),
                running: http::hex(&running),
                signature: http::sign_node(key, &message).unwrap(),
            };
            out.push(event("chunk", serde_json::to_string(&chunk).unwrap()));
        }
        let output =
            TextOutput { finish_reason: FinishReason::Stop, prompt_tokens: 3, text: text.into(), tokens: vec![1, 2] };
        let bytes = output.to_bytes();
        let (digest, salt) = (http::output_digest(&bytes), [7; 32]);
        let n = pieces.len() as u64;
        let message = http::stream_end_message(&request, &node, n, &running, &digest, &salt);
        let end = StreamEnd {
            node,
            chunks: n,
            running: http::hex(&running),
            digest: http::hex(&digest),
            salt: http::hex(&salt),
            output: base64::engine::general_purpose::STANDARD.encode(&bytes),
            signature: http::sign_node(key, &message).unwrap(),
        };
        out.push(event("output", serde_json::to_string(&end).unwrap()));
        out
    }

    fn event(name: &str, data: String) -> eventsource_stream::Event {
        eventsource_stream::Event { event: name.into(), data, ..Default::default() }
    }

    /// What a reader makes of `events` from `node` (registered with `key`).
    fn reads(key: &Key, request: Address, node: Address, events: Vec<eventsource_stream::Event>) -> Vec<String> {
        let mut open = Open {
            request,
            node,
            key: key.public_key().to_vec(),
            events: Box::pin(futures::stream::empty()),
            index: 0,
            running: http::stream_start(&request),
            text: String::new(),
        };
        let mut seen = Vec::new();
        for e in events {
            match read(&mut open, Some(Ok(e))) {
                Read::Text(t) => seen.push(format!("text {t}")),
                Read::Nothing => seen.push("nothing".into()),
                Read::Ended => seen.push("ended".into()),
                Read::Broken(why) | Read::Lied(why) => {
                    seen.push(format!("broken: {why}"));
                    break;
                }
            }
        }
        seen
    }

    #[test]
    fn a_stream_is_read_only_as_its_node_signed_it_and_only_if_it_ends_in_its_text() {
        let key = Key::from_ed25519_bytes([3; 32]);
        let (request, node) = (Address::from_static("0x11"), Address::from_static("0x22"));
        let honest = events(&key, request, node, &["The capital", " is Paris."], "The capital is Paris.");
        assert_eq!(reads(&key, request, node, honest.clone()), ["text The capital", "text  is Paris.", "ended"]);

        // Signed by another key than the node registered.
        let other = Key::from_ed25519_bytes([4; 32]);
        assert!(reads(&other, request, node, honest.clone())[0].starts_with("broken"));
        // A chunk's text changed in transit: its running hash no longer matches.
        let mut changed = honest.clone();
        changed[1].data = changed[1].data.replace("Paris", "Rome!");
        let seen = reads(&key, request, node, changed);
        assert!(seen[1].contains("wrong running hash"), "{seen:?}");
        // Chunks out of order.
        let swapped = vec![honest[1].clone(), honest[0].clone()];
        assert!(reads(&key, request, node, swapped)[0].starts_with("broken"));
        // A node that streams one text and ends with another output.
        let lying = events(&key, request, node, &["The capital", " is Paris."], "The capital is Rome.");
        let seen = reads(&key, request, node, lying);
        assert!(seen[2].contains("streamed text that is not the output it ended with"), "{seen:?}");
        // An end that leaves a chunk out.
        let mut short = events(&key, request, node, &["The capital"], "The capital is Paris.");
        short.insert(1, honest[1].clone());
        assert!(reads(&key, request, node, short).iter().any(|s| s.starts_with("broken")));
        // Another request's stream, replayed.
        let replayed = events(&key, Address::from_static("0x99"), node, &["The capital"], "The capital");
        assert!(reads(&key, request, node, replayed)[0].starts_with("broken"));
    }
}
