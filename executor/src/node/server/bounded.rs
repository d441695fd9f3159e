//! [`serve_bounded`]: an HTTP server that bounds what one client can hold,
//! so that strangers cannot keep a requester from its output nor use up the
//! file descriptors the node needs to fetch inputs and reach the chain:
//!
//! - Size: a request head is at most [`MAX_HEAD_BYTES`] (else 431), a body
//!   at most [`MAX_BODY_BYTES`] (else 413). The app sees a request only once
//!   its whole body has arrived.
//! - Time: a connection waits on its client in stretches, from its opening
//!   or its previous response to its next complete request. The complete
//!   request, head and body, must arrive within `header_timeout` of the
//!   stretch's start, however slowly it drips: a late head closes the
//!   connection, a late body is answered 408 and closes it. A stretch past
//!   twice `header_timeout` (a client that does not take its response)
//!   closes it, as does a request in the app past `max_handling`. A
//!   streamed response (server-sent events: `/v1/outputs/{request}/stream`)
//!   stays in the app until its body ends, `max_handling` counted from its
//!   last event (a keep-alive comment every 15 s, so a stream whose client
//!   reads lasts as long as its run; one whose client stops reading is
//!   closed `max_handling` after its last event went out).
//! - Connections: at most `max_connections` are open. When a new one
//!   arrives and all are taken, the one that has waited on its client the
//!   longest is closed (a stranger stalling in a head or body, an idle
//!   keep-alive connection); only when none waits on its client, the one
//!   longest in the app (a long-poll: its client asks again). A newcomer is
//!   never left in the backlog, and a request in the app is cut only after
//!   every connection that waits on its client.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::oneshot;
use tokio::time::Instant;

use atoma_sdk::http;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::error;

/// Largest request head (request line and headers) a server reads.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Largest request body the node's servers read (a Sealed notice is under 100 bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What one server accepts (see the module doc).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Longest wait for a complete request, head and body, from the
    /// connection's opening or its previous response.
    pub header_timeout: Duration,
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Longest a request may stay in the app (a long-poll waits up to
    /// `http::MAX_WAIT_MS`) before its connection is closed.
    pub max_handling: Duration,
}

impl Limits {
    /// The limits of the node's configuration.
    pub fn of(config: &crate::node::config::Config) -> Self {
        let header_timeout = Duration::from_millis(config.header_timeout_ms);
        Limits {
            max_connections: config.max_connections,
            header_timeout,
            max_body_bytes: MAX_BODY_BYTES,
            // Far past the longest long-poll and the chain lookups before it.
            max_handling: 2 * (Duration::from_millis(http::MAX_WAIT_MS) + header_timeout),
        }
    }
}

/// Serves `app` over HTTP/1.1 on `listener` within `limits` (see the module
/// doc), until the task is dropped. A failed accept (out of file
/// descriptors, say) is retried after a pause, never fatal.
pub async fn serve_bounded(listener: tokio::net::TcpListener, app: axum::Router, limits: Limits) -> anyhow::Result<()> {
    let connections = Connections::default();
    // The watchdog looks a few times per bound it keeps.
    let period = limits.header_timeout.min(limits.max_handling) / 4;
    let mut watchdog = tokio::time::interval(period.max(Duration::from_millis(10)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = watchdog.tick() => {
                connections.close_stalled(&limits);
                continue;
            }
        };
        connections.make_room(limits.max_connections);
        let (connection, closed) = connections.open();
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, app.clone(), limits, connection, closed));
        // A turn for the newcomer to read its head (and leave the waiting
        // connections, which arrivals close) before the next accept.
        tokio::task::yield_now().await;
    }
}

/// Serves one connection until it ends or `closed` fires (the accept loop
/// dropped its slot); dropping hyper's connection closes the socket.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: axum::Router,
    limits: Limits,
    connection: Connection,
    closed: oneshot::Receiver<()>,
) {
    let connection = Arc::new(connection);
    let app = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request| {
        let (app, connection) = (app.clone(), connection.clone());
        async move { Ok::<_, Infallible>(complete_then_call(app, connection, &limits, request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // From the first poll for a head, never reset while it drips in.
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    tokio::select! {
        served = builder.serve_connection(TokioIo::new(stream), service) => {
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection closed");
            }
        }
        _ = closed => tracing::debug!("connection closed to make room, or stalled"),
    }
}

/// Reads the whole body of `request` within the limits, then calls the app
/// with the complete request; a body too large or too late is answered
/// (413, 408) and its connection closed. A streamed response (server-sent
/// events) keeps its connection in the app until its body ends.
async fn complete_then_call(
    app: TowerToHyperService<axum::Router>,
    connection: Arc<Connection>,
    limits: &Limits,
    request: axum::http::Request<Incoming>,
) -> Response {
    let (parts, body) = request.into_parts();
    let too_large =
        || refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("a request body is at most {} bytes", limits.max_body_bytes));
    if body.size_hint().lower() > limits.max_body_bytes as u64 {
        return too_large();
    }
    let deadline = connection.waiting_since() + limits.header_timeout;
    let body = match tokio::time::timeout_at(deadline, read_body(body, limits.max_body_bytes)).await {
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "the request did not arrive in time".into()),
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, format!("reading the request body: {e}")),
        Ok(Ok(None)) => return too_large(),
        Ok(Ok(Some(body))) => body,
    };
    connection.enter(Phase::Handling);
    let request = axum::http::Request::from_parts(parts, Body::from(body));
    let response = match hyper::service::Service::call(&app, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let streamed = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !streamed {
        connection.enter(Phase::Waiting);
        return response;
    }
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Streaming { body, connection: InApp(connection) }))
}

/// A streamed response's body: its connection is in the app until it is
/// dropped, its time there counted from the last frame sent.
struct Streaming {
    body: Body,
    connection: InApp,
}

/// Moves its connection back to waiting on its client when dropped.
struct InApp(Arc<Connection>);

impl Drop for InApp {
    fn drop(&mut self) {
        self.0.enter(Phase::Waiting);
    }
}

impl HttpBody for Streaming {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(_))) = &polled {
            this.connection.0.enter(Phase::Handling);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The whole body, or `None` once it passes `max` bytes.
async fn read_body(mut body: Incoming, max: usize) -> Result<Option<Vec<u8>>, hyper::Error> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Some(data) = frame?.data_ref() {
            if bytes.len() + data.len() > max {
                return Ok(None);
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(Some(bytes))
}

/// An answer after which the connection is closed (its body may be unread).
pub(super) fn refuse(status: StatusCode, message: String) -> Response {
    let mut response = error(status, message);
    response.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// What a connection is doing, for choosing which one to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting on its client: for a request's head or body, or for the
    /// client to take a response (and idle keep-alive in between).
    Waiting,
    /// Its complete request is in the app.
    Handling,
}

/// An open connection's phase, since when, and the sender whose drop closes it.
struct Slot {
    phase: Phase,
    since: Instant,
    _close: oneshot::Sender<()>,
}

/// The open connections of one server, shared by its accept loop (which
/// closes them) and their tasks (which report their phase).
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<Table>>);

#[derive(Default)]
struct Table {
    next_id: u64,
    slots: HashMap<u64, Slot>,
}

impl Connections {
    /// Every critical section is one map operation, so a panic elsewhere
    /// cannot leave the table half-updated: poisoning is ignored.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection just accepted, and what fires when the slot is dropped.
    fn open(&self) -> (Connection, oneshot::Receiver<()>) {
        let (close, closed) = oneshot::channel();
        let mut table = self.table();
        let id = table.next_id;
        table.next_id += 1;
        table.slots.insert(id, Slot { phase: Phase::Waiting, since: Instant::now(), _close: close });
        (Connection { id, connections: self.clone() }, closed)
    }

    /// With `max` connections open, closes the one waiting on its client
    /// the longest, else the one longest in the app.
    fn make_room(&self, max: usize) {
        let mut table = self.table();
        if table.slots.len() < max {
            return;
        }
        let victim = table.slots.iter().min_by_key(|(_, s)| (s.phase != Phase::Waiting, s.since)).map(|(id, _)| *id);
        if let Some(id) = victim {
            table.slots.remove(&id);
        }
    }

    /// Closes the connections that have waited on their client twice
    /// `header_timeout` in one stretch, or been in the app past `max_handling`.
    fn close_stalled(&self, limits: &Limits) {
        let now = Instant::now();
        self.table().slots.retain(|_, s| {
            let bound = match s.phase {
                Phase::Waiting => 2 * limits.header_timeout,
                Phase::Handling => limits.max_handling,
            };
            now.duration_since(s.since) <= bound
        });
    }
}

/// One connection's slot, as its task sees it; dropping it frees the slot.
struct Connection {
    id: u64,
    connections: Connections,
}

impl Connection {
    /// Records that the connection enters `phase` now.
    fn enter(&self, phase: Phase) {
        if let Some(slot) = self.connections.table().slots.get_mut(&self.id) {
            slot.phase = phase;
            slot.since = Instant::now();
        }
    }

    /// When the connection began waiting on its client (now, if its slot is gone).
    fn waiting_since(&self) -> Instant {
        self.connections.table().slots.get(&self.id).map_or_else(Instant::now, |s| s.since)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.connections.table().slots.remove(&self.id);
    }
}
