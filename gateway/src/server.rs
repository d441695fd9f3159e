//! The HTTP routes: OpenAI's chat completions, completions, embeddings and
//! model list, each answered from an on-chain request; `/health` and
//! `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use atoma_protocol::output::{Output, TextOutput};
use atoma_sdk::http::hex;
use atoma_sdk::{Client, Streamed};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::keys::Keys;
use crate::limits::{Admission, Limits};
use crate::metrics::Metrics;
use crate::openai::{AtomaOptions, ChatRequest, CompletionRequest, EmbeddingRequest, Sampling, Usage};
use crate::run::{self, Account, Answer, Defaults, Submitted};

/// What every route shares.
pub struct Gateway {
    pub client: Client,
    pub defaults: Defaults,
    pub metrics: Metrics,
    /// The API keys; `None`: anyone may spend the gateway's key (`--no-auth`).
    pub keys: Option<Arc<Keys>>,
    /// Requests in flight at most, and per API key; more are answered 429.
    pub limits: Limits,
}

/// The gateway's routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .layer(middleware::from_fn_with_state(gateway.clone(), authorize));
    api.route("/health", get(health)).route("/metrics", get(metrics)).with_state(gateway)
}

/// The API key of a request (`Authorization: Bearer …`), checked before
/// anything else; the account it names rides along to the handler.
pub(crate) async fn authorize(State(g): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    let account = match &g.keys {
        None => None,
        Some(keys) => {
            let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            let token = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
            let token = token.map(str::to_string);
            match keys.blocking(move |k| k.authorize(token.as_deref())).await {
                Ok(name) => Some(Account { keys: keys.clone(), name }),
                Err(e) => return g.metrics.refused("auth", e).into_response(),
            }
        }
    };
    req.extensions_mut().insert(account);
    next.run(req).await
}

/// Whether a non-streamed response returns at the first output (`wait:
/// first_output`) rather than at finality; checked before anything is paid.
fn wait(opts: &AtomaOptions, finality_by_default: bool) -> Result<bool, ApiError> {
    match opts.wait.as_deref() {
        None => Ok(!finality_by_default),
        Some("first_output") => Ok(true),
        Some("finality") => Ok(false),
        Some(other) => {
            Err(ApiError::invalid("atoma.wait", &format!("wait is `finality` or `first_output`, not `{other}`")))
        }
    }
}

/// A place among the requests in flight, the gateway's and the key's, or 429.
fn admit(g: &Gateway, account: Option<&Account>) -> Result<Admission, ApiError> {
    g.limits.admit(account.map(|a| a.name.as_str()))
}

/// A JSON body, refused in OpenAI's error shape when it does not parse.
pub struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::bad_json(format!("the body does not fit: {}", e.body_text())))
            }
            Err(e) => Err(ApiError::bad_json(e.body_text())),
        }
    }
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Which of the two text routes a request came by.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    Chat,
    Completion,
}

impl Route {
    /// The route's name in metrics and logs.
    fn name(self) -> &'static str {
        match self {
            Route::Chat => "chat",
            Route::Completion => "completions",
        }
    }

    fn object(self, chunk: bool) -> &'static str {
        match (self, chunk) {
            (Route::Chat, false) => "chat.completion",
            (Route::Chat, true) => "chat.completion.chunk",
            (Route::Completion, _) => "text_completion",
        }
    }

    fn id(self, request: &str) -> String {
        match self {
            Route::Chat => format!("chatcmpl-{request}"),
            Route::Completion => format!("cmpl-{request}"),
        }
    }

    /// One choice: the whole message, or a delta of a stream.
    fn choice(self, text: Option<&str>, finish: Option<&str>, chunk: bool) -> Value {
        match (self, chunk) {
            (Route::Chat, false) => {
                json!({ "index": 0, "message": { "role": "assistant", "content": text.unwrap_or("") },
                                             "logprobs": null, "finish_reason": finish })
            }
            (Route::Chat, true) => {
                let delta = match text {
                    Some(t) => json!({ "role": "assistant", "content": t }),
                    None => json!({}),
                };
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish })
            }
            (Route::Completion, _) => {
                json!({ "index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish })
            }
        }
    }
}

async fn chat(
    State(g): State<Arc<Gateway>>,
    Extension(account): Extension<Option<Account>>,
    Body(req): Body<ChatRequest>,
) -> Response {
    let input = match req.input() {
        Ok(i) => i,
        Err(e) => return g.metrics.refused("chat", e).into_response(),
    };
    text(g, account, Route::Chat, req.model, input, req.sampling).await
}

async fn completions(
    State(g): State<Arc<Gateway>>,
    Extension(account): Extension<Option<Account>>,
    Body(req): Body<CompletionRequest>,
) -> Response {
    let input = match req.input() {
        Ok(i) => i,
        Err(e) => return g.metrics.refused("completions", e).into_response(),
    };
    text(g, account, Route::Completion, req.model, input, req.sampling).await
}

/// OpenAI's `finish_reason` of a text output: `stop` or `length`.
fn finish(t: &TextOutput) -> String {
    serde_json::to_value(t.finish_reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A text output, or the engine's refusal as an error.
fn text_of(output: Output) -> Result<TextOutput, ApiError> {
    match output {
        Output::Text(t) => Ok(t),
        Output::Error(e) => Err(ApiError::refused_by_engine(&e.code, &e.message)),
        other => Err(ApiError::internal(format!("the model answered {}, not text", other.summary()))),
    }
}

async fn text(
    g: Arc<Gateway>,
    account: Option<Account>,
    route: Route,
    model: String,
    input: Vec<u8>,
    s: Sampling,
) -> Response {
    let name = route.name();
    let opts = s.atoma.clone().unwrap_or_default();
    let first_only = match wait(&opts, g.defaults.wait_finality) {
        Ok(w) => w,
        Err(e) => return g.metrics.refused(name, e).into_response(),
    };
    let permit = match admit(&g, account.as_ref()) {
        Ok(p) => p,
        Err(e) => return g.metrics.refused(name, e).into_response(),
    };
    let mut submitted = match run::submit(&g.client, &g.defaults, account.as_ref(), &model, input, &opts).await {
        Ok(sub) => sub,
        Err(e) => return g.metrics.refused(name, e).into_response(),
    };
    g.metrics.submitted(name, submitted.receipt.fee);
    if s.stream {
        let usage = s.stream_options.as_ref().is_some_and(|o| o.include_usage);
        return stream(g, route, model, submitted, usage, permit).into_response();
    }
    let answered = async {
        let Some(first) = submitted.first_output().await? else { return submitted.settle(None, false).await };
        if first_only {
            let receipt = submitted.first_receipt(&first);
            return Ok(Answer { output: first.decoded(), receipt });
        }
        submitted.settle(Some(first), true).await
    }
    .await;
    let answer = match answered {
        Ok(a) => a,
        Err(e) => return g.metrics.refused(name, e).into_response(),
    };
    let (t, receipt) = match text_of(answer.output) {
        Ok(t) => {
            let tokens = Some(t.tokens.clone());
            (t, run::Receipt { tokens, ..answer.receipt })
        }
        Err(e) => return g.metrics.refused(name, e.with_receipt(&answer.receipt)).into_response(),
    };
    g.metrics.answered(name, receipt.status);
    let finish = finish(&t);
    Json(json!({
        "id": route.id(&receipt.request), "object": route.object(false), "created": now_s(), "model": model,
        "choices": [route.choice(Some(&t.text), Some(&finish), false)],
        "usage": Usage::new(t.prompt_tokens, t.tokens.len()),
        "atoma": receipt,
    }))
    .into_response()
}

/// The events of a streamed response: the role at once, the text as a node
/// generates it, the `first_output` receipt when that node's output is
/// bound to its commitment, then at finality the finish reason with the
/// receipt (and the finalized text's rest if the stream did not give it
/// all), the usage if asked, and `[DONE]`; or, if the text shown does not
/// begin the finalized one, an `output_replaced` error with it.
fn stream(
    g: Arc<Gateway>,
    route: Route,
    model: String,
    submitted: Submitted,
    usage: bool,
    permit: Admission,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Unbounded, so that a client that stops reading never holds the relay
    // (and its admission permit): a stream has one event per piece of text
    // and a few more, so what waits here is bounded by the output's size.
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let id = route.id(&submitted.receipt.request);
    let created = now_s();
    let chunk = move |choices: Value, extra: Option<(&str, Value)>| {
        let mut c =
            json!({ "id": id, "object": route.object(true), "created": created, "model": model, "choices": choices });
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        c
    };
    tokio::spawn(async move {
        let _permit = permit;
        let name = route.name();
        if route == Route::Chat {
            let _ = tx.send(chunk(json!([route.choice(Some(""), None, true)]), None));
        }
        let result =
            relay(submitted, &tx, &|text: &str| chunk(json!([route.choice(Some(text), None, true)]), None)).await;
        match result {
            // The text streamed does not begin the output the chain finalized
            // (its node was caught cheating): the stream ends in an error,
            // never in a normal finish, with the verified output in its receipt.
            Ok((t, mut receipt, shown)) if !t.text.starts_with(&shown) => {
                g.metrics.answered(name, "replaced");
                receipt.replaced = true;
                receipt.tokens = Some(t.tokens.clone());
                let mut body = ApiError::replaced().body();
                body["atoma"] = json!(receipt);
                body["atoma"]["output"] = json!(t.text);
                let _ = tx.send(body);
            }
            Ok((t, mut receipt, shown)) => {
                g.metrics.answered(name, receipt.status);
                // What was shown begins the verified text: its rest, if any.
                receipt.replaced = false;
                receipt.tokens = Some(t.tokens.clone());
                let rest = &t.text[shown.len()..];
                if !rest.is_empty() {
                    let _ = tx.send(chunk(json!([route.choice(Some(rest), None, true)]), None));
                }
                let atoma = json!(receipt);
                let finish = finish(&t);
                let _ = tx.send(chunk(json!([route.choice(None, Some(&finish), true)]), Some(("atoma", atoma))));
                if usage {
                    let u = json!(Usage::new(t.prompt_tokens, t.tokens.len()));
                    let _ = tx.send(chunk(json!([]), Some(("usage", u))));
                }
            }
            Err(e) => {
                let e = g.metrics.refused(name, e);
                let _ = tx.send(e.body());
            }
        }
    });
    let events = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
        if done {
            return None;
        }
        match rx.recv().await {
            Some(v) => Some((Ok(Event::default().data(v.to_string())), (rx, false))),
            None => Some((Ok(Event::default().data("[DONE]")), (rx, true))),
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Relays the text as the first node to run generates it (each piece made
/// a chunk by `delta`) until its output is bound to its commitment, the
/// `first_output` receipt then; or stops when finality comes first. Returns
/// the finalized text, its receipt and the text shown.
async fn relay(
    mut submitted: Submitted,
    tx: &mpsc::UnboundedSender<Value>,
    delta: &(dyn Fn(&str) -> Value + Sync),
) -> Result<(TextOutput, run::Receipt, String), ApiError> {
    let handle = submitted.handle.clone();
    let mut streamed = Box::pin(handle.stream_output(run::WAIT));
    let (mut first, mut shown) = (None, String::new());
    while let Some(Some(item)) = submitted.before_finality(streamed.next()).await {
        match item {
            Ok(Streamed::Text(text)) => {
                shown.push_str(&text);
                let _ = tx.send(delta(&text));
            }
            Ok(Streamed::Output(f)) => {
                // A first output that is not text (an engine refusal, or a
                // cheater's bytes) is not shown: finality says what to answer.
                if text_of(f.decoded()).is_ok() {
                    let mut c = delta("");
                    c["atoma"] = json!(submitted.first_receipt(&f));
                    let _ = tx.send(c);
                    first = Some(f);
                }
                break;
            }
            // The text streamed was not the output first committed to: finality decides.
            Err(_) if !shown.is_empty() => break,
            Err(e) => return Err(ApiError::from_sdk(&e, "waiting for the first output")),
        }
    }
    // The node's stream is let go now: read to its end in the background,
    // a lie it signed is remembered before the next request (sdk stream.rs).
    drop(streamed);
    let answer = submitted.settle(first, !shown.is_empty()).await?;
    let receipt = answer.receipt;
    let t = text_of(answer.output).map_err(|e| e.with_receipt(&receipt))?;
    Ok((t, receipt, shown))
}

async fn embeddings(
    State(g): State<Arc<Gateway>>,
    Extension(account): Extension<Option<Account>>,
    Body(req): Body<EmbeddingRequest>,
) -> Response {
    let result = async {
        let (input, texts) = req.input()?;
        let opts = req.atoma.clone().unwrap_or_default();
        let first_only = wait(&opts, g.defaults.wait_finality)?;
        let _permit = admit(&g, account.as_ref())?;
        let mut submitted = run::submit(&g.client, &g.defaults, account.as_ref(), &req.model, input, &opts).await?;
        g.metrics.submitted("embeddings", submitted.receipt.fee);
        let answer = match submitted.first_output().await? {
            Some(first) if first_only => Answer { output: first.decoded(), receipt: submitted.first_receipt(&first) },
            first => {
                let shown = first.is_some();
                submitted.settle(first, shown).await?
            }
        };
        let e = match answer.output {
            Output::Embeddings(e) if e.rows == texts => e,
            Output::Error(e) => {
                return Err(ApiError::refused_by_engine(&e.code, &e.message).with_receipt(&answer.receipt));
            }
            other => {
                let message = format!("answered {}, not embeddings", other.summary());
                return Err(ApiError::wrong_kind(&req.model, &message).with_receipt(&answer.receipt));
            }
        };
        Ok((e, answer.receipt))
    }
    .await;
    let (e, receipt) = match result {
        Ok(r) => r,
        Err(err) => return g.metrics.refused("embeddings", err).into_response(),
    };
    g.metrics.answered("embeddings", receipt.status);
    let base64 = req.encoding_format.as_deref() == Some("base64");
    let data: Vec<Value> = (0..e.rows)
        .map(|i| {
            let row = e.row(i);
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(row)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    Json(json!({ "object": "list", "data": data, "model": req.model,
                 "usage": { "prompt_tokens": 0, "total_tokens": 0 }, "atoma": receipt }))
    .into_response()
}

/// The registered models, each with its class, the class's profile and the model's digest.
async fn models(State(g): State<Arc<Gateway>>) -> Response {
    let chain = g.client.chain();
    let listed = async {
        let classes = chain.classes().await?;
        let models = chain.models().await?;
        Ok::<_, atoma_sdk::SdkError>((classes, models))
    }
    .await;
    let (classes, models) = match listed {
        Ok(l) => l,
        Err(e) => return ApiError::from_sdk(&e, "listing the models").into_response(),
    };
    let data: Vec<Value> = models
        .iter()
        .map(|(id, m)| {
            let class = classes.iter().find(|(c, _)| *c == m.class_id).map(|(_, c)| c);
            json!({ "id": id, "object": "model", "created": 0, "owned_by": "atoma",
                    "atoma": { "class": class.map(|c| c.name.clone()), "class_id": m.class_id,
                               "profile": class.map(|c| c.profile.clone()), "digest": hex(&m.weight_digest.0),
                               "max_run_ms": m.max_run_ms,
                               "eligible_nodes": class.map(|c| c.active.size) } })
        })
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

async fn health(State(g): State<Arc<Gateway>>) -> Response {
    match g.client.chain().checkpoint_height().await {
        Ok(h) => Json(json!({ "status": "ok", "checkpoint": h })).into_response(),
        Err(e) => ApiError::from_sdk(&e, "reaching the chain").into_response(),
    }
}

async fn metrics(State(g): State<Arc<Gateway>>) -> Response {
    g.metrics.render().into_response()
}
