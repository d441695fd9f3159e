//! The bounds of the node's HTTP servers (`serve_bounded`), in process on
//! port 0 with a tiny app and eight connection slots: strangers that stall
//! in request heads or bodies, or hold long-polls, fill every slot, yet
//! `/health` answers and a long-poll in progress completes; a body over the
//! limit is refused unread; a stalled body is answered 408 and closed; a
//! head that drips in is closed after the header timeout, however steadily
//! it drips; a client that does not take its response, and a request stuck
//! in its handler, are closed.
//!
//! Waits are bounded generously (seconds where the server needs
//! milliseconds); nothing here measures speed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use atoma_executor::node::server::{Limits, MAX_BODY_BYTES, serve_bounded};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for an answer that the server gives at once.
const PROMPT: Duration = Duration::from_secs(5);
/// What `/big` answers: far more than the sockets' buffers hold.
const BIG: usize = 32 << 20;

fn limits() -> Limits {
    Limits {
        max_connections: 8,
        // Far longer than each test: only closing to make room frees a slot.
        header_timeout: Duration::from_secs(60),
        max_body_bytes: MAX_BODY_BYTES,
        max_handling: Duration::from_secs(600),
    }
}

/// Serves the tiny app within `limits`; its address.
async fn start(limits: Limits) -> SocketAddr {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/poll",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "done"
            }),
        )
        .route(
            "/hang",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .route("/echo", axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }))
        .route("/big", axum::routing::get(|| async { vec![b'x'; BIG] }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_bounded(listener, app, limits));
    addr
}

/// Sends `request` and reads until the server closes the connection.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    // A reset after the answer ends it as well as a close.
    let _ = stream.read_to_end(&mut answer).await;
    answer
}

/// The answer to `GET path`, which the server must give within `within`.
async fn get(addr: SocketAddr, path: &str, within: Duration) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nhost: node\r\nconnection: close\r\n\r\n");
    let answer = tokio::time::timeout(within, exchange(addr, request.as_bytes()))
        .await
        .unwrap_or_else(|_| panic!("no answer to GET {path} within {within:?}"));
    String::from_utf8_lossy(&answer).into_owned()
}

/// How a stranger stalls.
#[derive(Clone, Copy)]
enum Stall {
    /// Sends a whole head announcing 100000 bytes of body, then three bytes.
    Body,
    /// Sends a head a byte at a time, never finishing it.
    Head,
    /// Asks for `/hang` (a handler that does not end) and waits.
    LongPoll,
}

/// Strangers stalling on the server, each opening a new connection once the
/// server closes its last; they stop when this is dropped.
struct Siege {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    opened: Arc<AtomicUsize>,
}

impl Siege {
    fn start(addr: SocketAddr, stall: Stall, strangers: usize) -> Siege {
        let opened = Arc::new(AtomicUsize::new(0));
        let tasks = (0..strangers)
            .map(|_| {
                let opened = opened.clone();
                tokio::spawn(async move {
                    loop {
                        stall_once(addr, stall, &opened).await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
            })
            .collect();
        Siege { tasks, opened }
    }

    /// Connections opened so far.
    fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` connections were opened.
    async fn opened_at_least(&self, n: usize) {
        tokio::time::timeout(PROMPT, async {
            while self.opened() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the strangers connect");
    }
}

impl Drop for Siege {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One connection of a stranger, until the server closes it.
async fn stall_once(addr: SocketAddr, stall: Stall, opened: &AtomicUsize) {
    let Ok(mut stream) = TcpStream::connect(addr).await else { return };
    opened.fetch_add(1, Ordering::SeqCst);
    let head: &[u8] = match stall {
        Stall::Body => b"POST /echo HTTP/1.1\r\nhost: node\r\ncontent-length: 100000\r\n\r\nabc",
        Stall::Head => b"GET /health HTTP/1.1\r\nhost: node\r\nx-drip: ",
        Stall::LongPoll => b"GET /hang HTTP/1.1\r\nhost: node\r\n\r\n",
    };
    if stream.write_all(head).await.is_err() {
        return;
    }
    let mut drip = tokio::time::interval(Duration::from_millis(100));
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { return },
            _ = drip.tick(), if matches!(stall, Stall::Head) => if stream.write_all(b"a").await.is_err() { return },
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_bodies_and_dripping_heads_in_every_slot_keep_out_neither_health_nor_a_long_poll() {
    let addr = start(limits()).await;
    // Twice as many strangers as slots, half stalling in a body, half in a head.
    let bodies = Siege::start(addr, Stall::Body, 8);
    bodies.opened_at_least(8).await;
    let heads = Siege::start(addr, Stall::Head, 8);
    heads.opened_at_least(8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A long-poll that takes 2 s, while the strangers keep coming back.
    let poll = tokio::spawn(get(addr, "/poll", Duration::from_secs(30)));
    for i in 0..10 {
        let answer = get(addr, "/health", PROMPT).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "health check {i}: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = poll.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"), "the long-poll: {answer}");
    // The strangers held every slot throughout: the server kept closing them.
    assert!(bodies.opened() + heads.opened() > 16 + 10, "{} and {}", bodies.opened(), heads.opened());
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polls_in_every_slot_do_not_keep_out_a_newcomer() {
    let addr = start(limits()).await;
    let polls = Siege::start(addr, Stall::LongPoll, 8);
    polls.opened_at_least(8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = get(addr, "/health", PROMPT).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The long-poll handled the longest was closed to make room; its client came back.
    polls.opened_at_least(9).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_is_refused_unread_and_one_at_the_limit_is_served() {
    let addr = start(limits()).await;
    // Announced by its length: refused before a byte of it arrives.
    let head = format!("POST /echo HTTP/1.1\r\nhost: node\r\ncontent-length: {}\r\n\r\n", MAX_BODY_BYTES + 1);
    let answer = tokio::time::timeout(PROMPT, exchange(addr, head.as_bytes())).await.expect("an answer, then a close");
    assert!(answer.starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer));
    // Chunked: refused once it passes the limit, the rest never read.
    let mut chunked = b"POST /echo HTTP/1.1\r\nhost: node\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    chunked.extend(format!("{:x}\r\n", MAX_BODY_BYTES + 1).as_bytes());
    chunked.extend(vec![b'x'; MAX_BODY_BYTES + 1]);
    let answer = tokio::time::timeout(PROMPT, exchange(addr, &chunked)).await.expect("an answer, then a close");
    assert!(answer.starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer));
    // At the limit: served.
    let mut whole =
        format!("POST /echo HTTP/1.1\r\nhost: node\r\nconnection: close\r\ncontent-length: {MAX_BODY_BYTES}\r\n\r\n")
            .into_bytes();
    whole.extend(vec![b'x'; MAX_BODY_BYTES]);
    let answer = tokio::time::timeout(PROMPT, exchange(addr, &whole)).await.expect("an answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with(&MAX_BODY_BYTES.to_string()), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_is_answered_408_and_closed_after_the_header_timeout() {
    let addr = start(Limits { header_timeout: Duration::from_millis(500), ..limits() }).await;
    let answer = tokio::time::timeout(
        PROMPT,
        exchange(addr, b"POST /echo HTTP/1.1\r\nhost: node\r\ncontent-length: 100\r\n\r\nonly ten b"),
    )
    .await
    .expect("an answer, then a close");
    assert!(answer.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_dripping_in_is_closed_after_the_header_timeout_not_after_a_silence() {
    let addr = start(Limits { header_timeout: Duration::from_millis(500), ..limits() }).await;
    let opened = AtomicUsize::new(0);
    // A byte every 100 ms, for ever: closed all the same.
    tokio::time::timeout(PROMPT, stall_once(addr, Stall::Head, &opened)).await.expect("closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_take_its_response_is_closed() {
    let addr = start(Limits { header_timeout: Duration::from_millis(300), ..limits() }).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /big HTTP/1.1\r\nhost: node\r\n\r\n").await.unwrap();
    // Takes nothing for a while, then all there is.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answer)).await.expect("closed");
    assert!(answer.len() < BIG, "the whole response came ({} bytes)", answer.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_still_in_its_handler_after_max_handling_is_closed() {
    let addr = start(Limits { max_handling: Duration::from_millis(500), ..limits() }).await;
    let answer = tokio::time::timeout(PROMPT, exchange(addr, b"GET /hang HTTP/1.1\r\nhost: node\r\n\r\n"))
        .await
        .expect("closed");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}
