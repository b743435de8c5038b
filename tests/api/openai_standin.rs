//! A stand-in for an OpenAI-compatible chat-completions server, on 127.0.0.1 port 0, speaking
//! the real wire format (<https://platform.openai.com/docs/api-reference/chat>):
//! `POST /v1/chat/completions` answers `stream: false` with a `chat.completion` object and
//! `stream: true` with server-sent `chat.completion.chunk`s (`choices[0].delta.content`), a
//! last chunk carrying `finish_reason`, then `data: [DONE]`. Errors use OpenAI's error shapes.
//!
//! It records every request and is scripted per request:
//!
//! ```ignore
//! let llm = OpenAiStandIn::spawn(|req: &StandInRequest| {
//!     if req.call == 1 { Reply::server_error() } else { Reply::cite_sources() }
//! }).await;
//! // point bellhop at llm.url() (ends in /v1) …
//! assert_eq!(llm.calls(), 2);
//! assert!(llm.requests()[1]["messages"][0]["content"].as_str().unwrap().contains("[1]"));
//! ```
#![allow(dead_code)] // Shared by several test files; each uses part of it.
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct StandInRequest {
    /// 1 for the first request this stand-in received, 2 for the next, …
    pub call: usize,
    /// The JSON body.
    pub body: Value,
    /// The bearer token sent, if any.
    pub api_key: Option<String>,
}

impl StandInRequest {
    /// Every message's content, joined by newlines (what the model was shown).
    pub fn prompt(&self) -> String {
        self.body["messages"].as_array().into_iter().flatten().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n")
    }

    /// The last user message.
    pub fn last_user(&self) -> Option<String> {
        self.body["messages"].as_array()?.iter().rev().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str()).map(str::to_owned)
    }

    pub fn streaming(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }
}

/// What the stand-in answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This answer (streamed a word at a time when asked to stream).
    Text(String),
    /// Answers with the first sentence of the numbered sources found in the prompt (`[1] …`,
    /// `[2] …`), cited: "… [1]. … [2]."; with no numbered sources, says it doesn't know.
    CiteSources,
    /// Waits this long before sending the first byte (headers included), then replies.
    Stall(Duration, Box<Reply>),
    /// Waits until the test opens the gate before sending the first byte, then replies: what
    /// happens meanwhile does not depend on how long anything takes.
    Gated(Gate, Box<Reply>),
    /// An HTTP error with this JSON body.
    Error { status: u16, body: Value },
    /// This text, then `finish_reason: "length"`, as OpenAI ends an answer that reached
    /// `max_tokens`.
    CutOff(String),
}

impl Reply {
    pub fn text(s: impl Into<String>) -> Self {
        Reply::Text(s.into())
    }
    pub fn cite_sources() -> Self {
        Reply::CiteSources
    }
    pub fn stall(d: Duration, then: Reply) -> Self {
        Reply::Stall(d, Box::new(then))
    }
    pub fn gated(gate: &Gate, then: Reply) -> Self {
        Reply::Gated(gate.clone(), Box::new(then))
    }
    /// OpenAI's rate limit: 429 `rate_limit_exceeded` (worth retrying).
    pub fn rate_limited() -> Self {
        Self::openai_error(429, "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded")
    }
    /// OpenAI's exhausted quota: 429 `insufficient_quota` (not worth retrying).
    pub fn quota_exhausted() -> Self {
        Self::openai_error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
    }
    /// OpenAI's bad key: 401 `invalid_api_key`. The message quotes the key masked, as OpenAI does.
    pub fn unauthorized() -> Self {
        Self::openai_error(401, "Incorrect API key provided: sk-abc***wxyz. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
    }
    /// 404 `model_not_found`.
    pub fn unknown_model() -> Self {
        Self::openai_error(404, "The model `nope` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found")
    }
    /// 500 `server_error`.
    pub fn server_error() -> Self {
        Self::openai_error(500, "The server had an error while processing your request. Sorry about that!", "server_error", "")
    }
    pub fn openai_error(status: u16, message: &str, kind: &str, code: &str) -> Self {
        let code = if code.is_empty() { Value::Null } else { Value::from(code) };
        Reply::Error { status, body: json!({"error": {"message": message, "type": kind, "param": null, "code": code}}) }
    }
}

/// What [`Reply::Gated`] waits for: closed until [`Gate::open`], then open for good.
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Gate {
    pub fn new() -> Self {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }

    /// Lets every reply waiting at the gate (and every later one) through.
    pub fn open(&self) {
        self.0.close();
    }

    async fn wait(&self) {
        // A closed semaphore refuses every acquire at once: that is the gate open.
        let _ = self.0.acquire().await;
    }
}

type Behaviour = Arc<dyn Fn(&StandInRequest) -> Reply + Send + Sync>;

struct Shared {
    behaviour: Behaviour,
    requests: Mutex<Vec<StandInRequest>>,
}

/// A running stand-in; stops when dropped.
pub struct OpenAiStandIn {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpenAiStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpenAiStandIn {
    /// Starts a stand-in whose replies `behaviour` decides, request by request.
    pub async fn spawn(behaviour: impl Fn(&StandInRequest) -> Reply + Send + Sync + 'static) -> Self {
        let shared = Arc::new(Shared { behaviour: Arc::new(behaviour), requests: Mutex::default() });
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "unknown path", "type": "invalid_request_error", "param": null, "code": null}}))) })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the stand-in");
        let base = format!("http://{}/v1", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, shared, task }
    }

    /// Always the same reply.
    pub async fn always(reply: Reply) -> Self {
        Self::spawn(move |_| reply.clone()).await
    }

    /// Base URL, ending in `/v1` (what `llm.url` takes).
    pub fn url(&self) -> String {
        self.base.clone()
    }

    /// Bodies of every request received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().iter().map(|r| r.body.clone()).collect()
    }

    /// Every request received, with call numbers and keys.
    pub fn received(&self) -> Vec<StandInRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(400, json!({"error": {"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": null, "code": null}}));
    };
    let api_key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::to_owned);
    let req = {
        let mut all = shared.requests.lock().unwrap();
        let req = StandInRequest { call: all.len() + 1, body, api_key };
        all.push(req.clone());
        req
    };
    let mut reply = (shared.behaviour)(&req);
    let reply = loop {
        reply = match reply {
            Reply::Stall(d, then) => {
                tokio::time::sleep(d).await;
                *then
            }
            Reply::Gated(gate, then) => {
                gate.wait().await;
                *then
            }
            other => break other,
        };
    };
    let mut finish = "stop";
    let text = match reply {
        Reply::Text(t) => t,
        Reply::CutOff(t) => {
            finish = "length";
            t
        }
        Reply::CiteSources => cite(&req.prompt()),
        Reply::Error { status, body } => return error(status, body),
        Reply::Stall(..) | Reply::Gated(..) => unreachable!("unwrapped above"),
    };
    let model = req.body["model"].as_str().unwrap_or("stand-in").to_owned();
    let id = format!("chatcmpl-standin{}", req.call);
    let created = 1_700_000_000 + req.call as u64;
    if !req.streaming() {
        return axum::Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null}, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": req.prompt().split_whitespace().count(), "completion_tokens": text.split_whitespace().count(), "total_tokens": 0}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    // As OpenAI does: a first chunk with the role and empty content, one per piece, a last
    // one with only `finish_reason`, then [DONE].
    let mut sse = chunk(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null);
    for piece in pieces(&text) {
        sse.push_str(&chunk(json!({"content": piece}), Value::Null));
    }
    sse.push_str(&chunk(json!({}), Value::from(finish)));
    sse.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream"), ("cache-control", "no-cache")], sse).into_response()
}

fn error(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).expect("status"), axum::Json(body)).into_response()
}

/// Splits text into word pieces that concatenate back to it ("Hello", " world", "!").
pub fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        out.push(if i == 0 { word.to_owned() } else { format!(" {word}") });
    }
    out.retain(|p| !p.is_empty());
    out
}

/// An answer made of the numbered sources in the prompt: the first sentence of the first (and
/// of the last) source, each cited — "Flowers are delivered the same day [1]." — as a model
/// that answers from its sources would; with no numbered sources, "I don't know.".
fn cite(prompt: &str) -> String {
    let numbers: Vec<u32> = (1..=20).filter(|n| source_sentence(prompt, *n).is_some()).collect();
    let say = |n: u32| format!("{} [{n}].", source_sentence(prompt, n).unwrap_or_default());
    match numbers.as_slice() {
        [] => "I don't know.".into(),
        [one] => say(*one),
        [first, .., last] => format!("{} {}", say(*first), say(*last)),
    }
}

/// The sentence of source `[n]` that says most the customer's question doesn't (the words after
/// "Customer's question:" in the prompt), without its final full stop: what a model answering
/// from its sources adds.
pub fn informative_sentence(prompt: &str, n: u32) -> Option<String> {
    let marker = format!("[{n}] ");
    let at = if prompt.starts_with(&marker) { 0 } else { prompt.find(&format!("\n{marker}"))? + 1 };
    let mut lines = prompt[at + marker.len()..].lines();
    let head = lines.next()?;
    let text = lines.next().filter(|l| !l.trim().is_empty() && !l.starts_with('[')).unwrap_or(head);
    let question: std::collections::HashSet<String> = prompt.rsplit("Customer's question:").next().unwrap_or("").split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).collect();
    let new_words = |s: &str| s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3 && !question.contains(&w.to_lowercase())).count();
    let best = text.split(". ").map(|s| s.trim().trim_start_matches('…').trim_end_matches(['.', '…']).trim()).filter(|s| !s.is_empty() && !s.contains('…')).max_by_key(|s| new_words(s))?;
    Some(best.to_owned())
}

/// The first sentence of source `[n]` in a prompt (a line starting with `[n] `: its title, and
/// its text on the next line when there is one), without its final full stop.
pub fn source_sentence(prompt: &str, n: u32) -> Option<String> {
    let marker = format!("[{n}] ");
    let at = if prompt.starts_with(&marker) { 0 } else { prompt.find(&format!("\n{marker}"))? + 1 };
    let mut lines = prompt[at + marker.len()..].lines();
    let head = lines.next()?;
    let text = lines.next().filter(|l| !l.trim().is_empty() && !l.starts_with('[')).unwrap_or(head);
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    let s = text[..end].trim().trim_end_matches('.').trim();
    (!s.is_empty()).then(|| s.to_owned())
}
