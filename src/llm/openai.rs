//! Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, a llama.cpp server,
//! Ollama): `POST {base}/chat/completions` with `stream: true`, answered with server-sent
//! events (<https://platform.openai.com/docs/api-reference/chat/streaming>).
//!
//! Requests and responses are async-openai's types, but the HTTP exchange is ours: async-openai
//! 0.29's `create_stream` turns an HTTP error into a bare "Invalid status code: 429" (the body,
//! which says whether a 429 is a rate limit or exhausted quota, is dropped) and its event source
//! reconnects after errors without limit — re-sending the request. Here an error's body is read
//! and classified, and retries are bounded and happen only before the first piece of text.
//!
//! Time limits: each attempt must connect and deliver its first piece within
//! `first_token_timeout`; the whole answer, retries included, within `timeout`.
use super::{ChatMessage, ChatModel, ChatRequest, ModelError, Piece, Role, TextStream};
use async_openai::error::WrappedError;
use async_openai::types::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, CreateChatCompletionRequest, CreateChatCompletionStreamResponse, FinishReason,
};
use eventsource_stream::Eventsource;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// Limits of an [`OpenAiChat`].
#[derive(Debug, Clone)]
pub struct OpenAiChatOptions {
    /// What [`ChatModel::context_tokens`] reports (the endpoint cannot be asked).
    pub context_tokens: usize,
    /// Per attempt: connecting and receiving the first piece of text.
    pub first_token_timeout: Duration,
    /// The whole answer, retries included.
    pub timeout: Duration,
    /// Attempts at most (1 = no retry). Only failures before the first piece are retried.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each (a `Retry-After` header wins when it
    /// fits in the time left).
    pub retry_base: Duration,
}

impl Default for OpenAiChatOptions {
    fn default() -> Self {
        Self { context_tokens: 2048, first_token_timeout: Duration::from_secs(20), timeout: Duration::from_secs(60), max_attempts: 3, retry_base: Duration::from_millis(250) }
    }
}

/// An OpenAI-compatible chat-completions endpoint with a fixed model.
pub struct OpenAiChat {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<Arc<str>>,
    opts: OpenAiChatOptions,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("opts", &self.opts)
            .finish()
    }
}

/// Why one attempt failed, and whether the server said when to come back.
struct Failure {
    error: ModelError,
    retry_after: Option<Duration>,
}

impl From<ModelError> for Failure {
    fn from(error: ModelError) -> Self {
        Failure { error, retry_after: None }
    }
}

type Events = BoxStream<'static, Result<eventsource_stream::Event, String>>;

impl OpenAiChat {
    /// An endpoint at `base_url` (e.g. `https://api.openai.com/v1`); nothing is sent yet.
    pub fn new(base_url: &str, model: &str, api_key: Option<&str>, opts: OpenAiChatOptions) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(opts.first_token_timeout)
            .build()
            .map_err(|e| ModelError::Permanent(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key: api_key.filter(|k| !k.is_empty()).map(Arc::from),
            opts,
        })
    }

    /// The request body: async-openai's type, so the wire format is theirs.
    #[allow(deprecated)] // `max_tokens`: what OpenAI-compatible servers other than OpenAI read.
    fn body(&self, req: &ChatRequest) -> CreateChatCompletionRequest {
        let messages = req.messages.iter().map(to_openai).collect();
        CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            max_tokens: Some(req.max_tokens),
            temperature: Some(req.temperature),
            stream: Some(true),
            ..Default::default()
        }
    }

    /// One attempt: the request, then events until the first piece of text (or the end).
    async fn attempt(&self, body: &CreateChatCompletionRequest) -> Result<(Option<String>, Events, bool), Failure> {
        let mut rb = self.http.post(&self.url).json(body).header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(k) = &self.api_key {
            let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| ModelError::Permanent("llm.api_key is not a valid header value".into()))?;
            v.set_sensitive(true);
            rb = rb.header(reqwest::header::AUTHORIZATION, v);
        }
        let resp = rb.send().await.map_err(|e| ModelError::from(classify_reqwest(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok()).map(Duration::from_secs);
            let text = resp.text().await.unwrap_or_default();
            return Err(Failure { error: classify_status(status.as_u16(), &text), retry_after });
        }
        let mut events: Events = resp.bytes_stream().eventsource().map(|e| e.map_err(|e| e.to_string())).boxed();
        let mut cut = false;
        let first = next_piece(&mut events, &mut cut).await?;
        Ok((first, events, cut))
    }

    async fn open(&self, req: &ChatRequest, deadline: Instant) -> Result<TextStream, ModelError> {
        let body = self.body(req);
        let mut delay = self.opts.retry_base;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let attempt_deadline = deadline.min(Instant::now() + self.opts.first_token_timeout);
            let allowed = attempt_deadline.saturating_duration_since(Instant::now());
            let failure = match timeout_at(attempt_deadline, self.attempt(&body)).await {
                Ok(Ok((first, events, cut))) => return Ok(self.rest(first, events, cut, deadline)),
                Ok(Err(f)) => f,
                Err(_) => Failure::from(ModelError::Transient(format!("no answer from {} within {:.1}s", self.url, allowed.as_secs_f64()))),
            };
            let ModelError::Transient(message) = &failure.error else { return Err(failure.error) };
            let wait = failure.retry_after.unwrap_or(delay);
            if attempt >= self.opts.max_attempts || Instant::now() + wait >= deadline {
                return Err(ModelError::Transient(format!("{message} (gave up after {attempt} attempt{})", if attempt == 1 { "" } else { "s" })));
            }
            tracing::debug!(attempt, error = %message, "llm.retry");
            tokio::time::sleep(wait).await;
            delay *= 2;
        }
    }

    /// The stream handed to the caller: the first piece, then the rest, each within the
    /// deadline; a [`Piece::Cut`] last when the endpoint said the answer hit `max_tokens`.
    fn rest(&self, first: Option<String>, events: Events, cut: bool, deadline: Instant) -> TextStream {
        struct Rest {
            first: Option<String>,
            events: Option<Events>,
            cut: bool,
        }
        let timeout = self.opts.timeout;
        let key = self.api_key.clone();
        let state = Rest { first, events: Some(events), cut };
        futures::stream::unfold(state, move |mut st| {
            let key = key.clone();
            async move {
                if let Some(p) = st.first.take() {
                    return Some((Ok(Piece::Text(p)), st));
                }
                let Some(mut events) = st.events.take() else {
                    // Ended: the cut, once, if there was one.
                    return std::mem::take(&mut st.cut).then_some((Ok(Piece::Cut), st));
                };
                match timeout_at(deadline, next_piece(&mut events, &mut st.cut)).await {
                    Ok(Ok(Some(p))) => Some((Ok(Piece::Text(p)), Rest { events: Some(events), ..st })),
                    Ok(Ok(None)) => std::mem::take(&mut st.cut).then_some((Ok(Piece::Cut), st)),
                    Ok(Err(f)) => Some((Err(redact_with(key.as_deref(), f.error)), Rest { first: None, events: None, cut: false })),
                    Err(_) => Some((Err(ModelError::Transient(format!("the answer took longer than {}s", timeout.as_secs_f64()))), Rest { first: None, events: None, cut: false })),
                }
            }
        })
        .boxed()
    }
}

/// Removes the key from messages that may echo it (some servers quote it in a 401).
fn redact_with(key: Option<&str>, e: ModelError) -> ModelError {
    let r = |m: String| match key {
        Some(k) if k.len() >= 4 => m.replace(k, "[redacted]"),
        _ => m,
    };
    match e {
        ModelError::Transient(m) => ModelError::Transient(r(m)),
        ModelError::Permanent(m) => ModelError::Permanent(r(m)),
    }
}

/// The next non-empty piece of text; `None` at `[DONE]` (or a clean end after a
/// `finish_reason`). A `finish_reason` of `length` (the answer hit `max_tokens`) sets `cut`.
async fn next_piece(events: &mut Events, cut: &mut bool) -> Result<Option<String>, Failure> {
    let mut finished = false;
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| ModelError::Transient(format!("the answer stream broke off: {e}")))?;
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(None);
        }
        if data.is_empty() {
            continue;
        }
        let chunk: CreateChatCompletionStreamResponse = match serde_json::from_str(data) {
            Ok(c) => c,
            // Some servers report a failure mid-stream as `data: {"error": {…}}`.
            Err(e) => match serde_json::from_str::<WrappedError>(data) {
                Ok(w) => return Err(classify_api(None, &w.error.r#type, &w.error.code, &w.error.message).into()),
                Err(_) => return Err(ModelError::Permanent(format!("malformed chunk from the chat endpoint ({e})")).into()),
            },
        };
        let Some(choice) = chunk.choices.into_iter().next() else { continue };
        finished |= choice.finish_reason.is_some();
        *cut |= choice.finish_reason == Some(FinishReason::Length);
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            return Ok(Some(text));
        }
    }
    if finished { Ok(None) } else { Err(ModelError::Transient("the answer stream ended before the answer did".into()).into()) }
}

fn to_openai(m: &ChatMessage) -> ChatCompletionRequestMessage {
    let c = m.content.clone();
    match m.role {
        Role::System => ChatCompletionRequestSystemMessage::from(ChatCompletionRequestSystemMessageContent::from(c)).into(),
        Role::User => ChatCompletionRequestUserMessage::from(ChatCompletionRequestUserMessageContent::from(c)).into(),
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(ChatCompletionRequestAssistantMessageContent::Text(c)).into(),
    }
}

fn classify_reqwest(e: &reqwest::Error) -> ModelError {
    // reqwest's own message is terse ("error sending request"); the causes say what happened.
    let mut shown = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        shown.push_str(&format!(": {cause}"));
        src = cause.source();
    }
    if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
        ModelError::Transient(format!("chat endpoint unreachable: {shown}"))
    } else {
        ModelError::Permanent(format!("chat endpoint: {shown}"))
    }
}

/// An HTTP error status with OpenAI's error body (`{"error": {"message", "type", "code"}}`).
pub(crate) fn classify_status(status: u16, body: &str) -> ModelError {
    match serde_json::from_str::<WrappedError>(body) {
        Ok(w) => classify_api(Some(status), &w.error.r#type, &w.error.code, &w.error.message),
        Err(_) => {
            let snippet: String = body.chars().take(200).collect();
            classify_api(Some(status), &None, &None, &format!("HTTP {status} {snippet}"))
        }
    }
}

/// Transient or permanent, by what waiting could change: quota exhaustion comes as a 429 too,
/// but waiting does not refill it.
fn classify_api(status: Option<u16>, kind: &Option<String>, code: &Option<String>, message: &str) -> ModelError {
    let what = format!("{} {}", kind.as_deref().unwrap_or(""), code.as_deref().unwrap_or("")).to_ascii_lowercase();
    let shown = match status {
        Some(s) => format!("chat endpoint answered {s}: {message} ({})", what.trim()),
        None => format!("chat endpoint failed mid-answer: {message} ({})", what.trim()),
    };
    let transient = if what.contains("quota") || what.contains("billing") {
        false
    } else {
        match status {
            Some(429 | 408 | 409) => true,
            Some(s) if s >= 500 => true,
            Some(_) => false,
            None => ["rate_limit", "server_error", "overloaded", "timeout", "unavailable"].iter().any(|k| what.contains(k)),
        }
    };
    if transient { ModelError::Transient(shown) } else { ModelError::Permanent(shown) }
}

impl ChatModel for OpenAiChat {
    fn name(&self) -> &str {
        &self.model
    }

    fn context_tokens(&self) -> usize {
        self.opts.context_tokens
    }

    fn stream<'a>(&'a self, req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.opts.timeout;
            self.open(&req, deadline).await.map_err(|e| redact_with(self.api_key.as_deref(), e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, code: &str) -> String {
        serde_json::json!({"error": {"message": "m", "type": kind, "param": null, "code": code}}).to_string()
    }

    #[test]
    fn quota_exhaustion_is_permanent_even_though_it_comes_as_429() {
        assert!(matches!(classify_status(429, &body("insufficient_quota", "insufficient_quota")), ModelError::Permanent(_)));
        assert!(matches!(classify_status(429, &body("requests", "insufficient_quota")), ModelError::Permanent(_)));
    }

    #[test]
    fn rate_limits_server_errors_and_non_json_5xx_are_transient() {
        assert!(matches!(classify_status(429, &body("requests", "rate_limit_exceeded")), ModelError::Transient(_)));
        assert!(matches!(classify_status(500, &body("server_error", "")), ModelError::Transient(_)));
        assert!(matches!(classify_status(502, "<html>bad gateway</html>"), ModelError::Transient(_)));
    }

    #[test]
    fn bad_keys_unknown_models_and_bad_requests_are_permanent() {
        for s in [400, 401, 403, 404] {
            assert!(matches!(classify_status(s, &body("invalid_request_error", "invalid_api_key")), ModelError::Permanent(_)), "{s}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let c = OpenAiChat::new("http://127.0.0.1:9/v1", "m", Some("sk-very-secret"), OpenAiChatOptions::default()).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("sk-very-secret") && d.contains("***"), "{d}");
    }
}
