//! `Client`: posts JSON to `{base}/bot{token}/{method}` and decodes Telegram's envelope.
//!
//! The base URL is `https://api.telegram.org`, a self-hosted Bot API server
//! (<https://github.com/tdlib/telegram-bot-api>), or the bellhop sandbox. To move a bot from
//! Telegram's cloud server to a self-hosted one, call [`methods::LogOut`] once against the
//! **cloud** base URL, then point the client at the new server; the bot cannot log back in to
//! the cloud server for 10 minutes. Moving back needs `close` on the local server first.
//!
//! The token is placed in the URL only inside [`Client::call_raw`], and no URL is ever kept in
//! an error or logged.
use super::error::TelegramError;
use super::methods::{self, Method};
use super::types::{Message, Update, User};
use crate::token::BotToken;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file sent with a call as a `multipart/form-data` part (Telegram's "Sending Files":
/// <https://core.telegram.org/bots/api#sending-files>); the call refers to it as
/// `attach://<part>`. `Debug` shows its size, not its bytes.
#[derive(Clone)]
pub struct InputFile {
    /// The part's name, as in `attach://<part>`.
    pub part: String,
    pub file_name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for InputFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputFile").field("part", &self.part).field("file_name", &self.file_name).field("mime", &self.mime).field("bytes", &self.bytes.len()).finish()
    }
}

/// Telegram's cloud Bot API server.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// A Bot API client for any number of bots; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    timeout: Duration,
    /// When set, `Bot::send_message` goes through it and keeps Telegram's limits.
    throttle: Option<Arc<super::Throttle>>,
    /// Told about every call (method, outcome, duration); the application's metrics.
    observer: Option<Arc<dyn CallObserver>>,
}

/// Watches every Bot API call a [`Client`] makes, e.g. to count calls and time them. The crate
/// records nothing itself; the application installs one with [`Client::with_observer`].
///
/// Any `Fn(&str, &'static str, Duration) + Send + Sync` is an observer.
pub trait CallObserver: Send + Sync + 'static {
    /// One call finished: the Bot API `method` name, `outcome` (`"ok"` or
    /// [`TelegramError::outcome`], a bounded set of labels) and how long it took.
    fn call_finished(&self, method: &str, outcome: &'static str, elapsed: Duration);
}

impl<F: Fn(&str, &'static str, Duration) + Send + Sync + 'static> CallObserver for F {
    fn call_finished(&self, method: &str, outcome: &'static str, elapsed: Duration) {
        self(method, outcome, elapsed)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

/// <https://core.telegram.org/bots/api#responseparameters>
#[derive(Deserialize, Default)]
struct ResponseParameters {
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
    #[serde(default)]
    retry_after: Option<u64>,
}

impl Client {
    /// A client for the Bot API server at `base_url` (no trailing `/bot…`).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(base_url).map_err(|e| anyhow::anyhow!("invalid Bot API base URL: {e}"))?;
        anyhow::ensure!(matches!(parsed.scheme(), "http" | "https"), "the Bot API base URL must be http or https");
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {}", e.without_url()))?;
        Ok(Self { http, base: base_url.trim_end_matches('/').into(), timeout: Duration::from_secs(30), throttle: None, observer: None })
    }

    /// A client for Telegram's cloud server.
    pub fn telegram() -> Self {
        Self::new(TELEGRAM_API).expect("the built-in Telegram URL is valid")
    }

    /// The timeout of ordinary calls (long polls add their own `timeout` on top). Default 30 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends every call of this client (and of its clones) that posts into a chat
    /// ([`Method::posts_to`]: messages, invoices, edits) through one [`super::Throttle`]: per-chat
    /// order, Telegram's per-chat and per-bot limits, bounded queues, and a 429 waited out and
    /// retried (up to a cap) instead of failing the caller.
    pub fn with_throttle(mut self, limits: super::ThrottleLimits) -> Self {
        let direct = Self { throttle: None, ..self.clone() };
        self.throttle = Some(Arc::new(super::Throttle::new(direct, limits)));
        self
    }

    /// Books every throttled message with `pacer` as well ([`super::throttle::Pacer`]: the limits
    /// held across processes). Needs a throttle ([`Client::with_throttle`]) first.
    pub fn with_pacer(mut self, pacer: Arc<dyn super::throttle::Pacer>) -> Self {
        if let Some(t) = self.throttle.take() {
            let direct = Self { throttle: None, ..self.clone() };
            self.throttle = Some(Arc::new(super::Throttle::new(direct, t.limits().clone()).with_pacer(pacer)));
        }
        self
    }

    /// Reports every call of this client (and of its clones, and of its throttle) to `observer`.
    pub fn with_observer(mut self, observer: impl CallObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        if let Some(t) = self.throttle.take() {
            // The throttle sends through its own copy of the client: give it the observer too.
            self = self.with_throttle(t.limits().clone());
            if let Some(p) = t.pacer() {
                self = self.with_pacer(p);
            }
        }
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A handle for one bot.
    pub fn bot(&self, token: BotToken) -> Bot {
        Bot { client: self.clone(), token }
    }

    /// Calls `M` for the bot with `token`. A method that posts into a chat goes through the
    /// client's throttle when it has one ([`Method::posts_to`]).
    pub async fn call<M: Method>(&self, token: &BotToken, request: &M) -> Result<M::Response, TelegramError> {
        if let (Some(throttle), Some(chat)) = (&self.throttle, request.posts_to()) {
            return throttle.call(token, chat, request).await;
        }
        let body = serde_json::to_value(request).map_err(|e| TelegramError::BadRequest(format!("request not serializable: {e}")))?;
        let extra = if M::NAME == "getUpdates" {
            Duration::from_secs(body.get("timeout").and_then(|t| t.as_u64()).unwrap_or(0))
        } else {
            Duration::ZERO
        };
        let result = self.call_raw_with_timeout(token, M::NAME, &body, self.timeout + extra).await?;
        decode_result::<M>(result)
    }

    /// [`Client::call`] with `preflight` run right before the request goes out — after the
    /// throttle's wait for a method that posts into a chat ([`super::Preflight`]); its error
    /// cancels the call.
    pub async fn call_with_preflight<M: Method>(&self, token: &BotToken, request: &M, preflight: super::Preflight) -> Result<M::Response, TelegramError> {
        if let (Some(throttle), Some(chat)) = (&self.throttle, request.posts_to()) {
            return throttle.call_with(token, chat, request, Some(preflight)).await;
        }
        let mut preflight = preflight;
        preflight.check().await?;
        let result = self.call(token, request).await;
        if let Err(TelegramError::RetryAfter(_)) = result {
            preflight.undo().await;
        }
        result
    }

    /// Calls any method with a JSON body and returns the raw `result`.
    pub async fn call_raw(&self, token: &BotToken, method: &str, body: &serde_json::Value) -> Result<serde_json::Value, TelegramError> {
        self.call_raw_with_timeout(token, method, body, self.timeout).await
    }

    /// Calls `M` with `files` uploaded beside it as `multipart/form-data`: each of the request's
    /// fields is a text part (strings as they are, other values as JSON), each file a part named
    /// [`InputFile::part`]. For methods that take a new file, such as `setMyProfilePhoto`.
    pub async fn call_with_files<M: Method>(&self, token: &BotToken, request: &M, files: &[InputFile]) -> Result<M::Response, TelegramError> {
        let body = serde_json::to_value(request).map_err(|e| TelegramError::BadRequest(format!("request not serializable: {e}")))?;
        let started = Instant::now();
        let outcome = self.send_multipart(token, M::NAME, &body, files).await;
        let result = self.observed(token, M::NAME, started, outcome)?;
        decode_result::<M>(result)
    }

    async fn send_multipart(&self, token: &BotToken, method: &str, body: &serde_json::Value, files: &[InputFile]) -> Result<serde_json::Value, TelegramError> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in body.as_object().into_iter().flatten() {
            form = form.text(k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        }
        for f in files {
            let part = reqwest::multipart::Part::bytes(f.bytes.clone())
                .file_name(f.file_name.clone())
                .mime_str(&f.mime)
                .map_err(|_| TelegramError::BadRequest(format!("invalid content type {}", f.mime)))?;
            form = form.part(f.part.clone(), part);
        }
        let url = format!("{}/bot{}/{}", self.base, token.expose(), method);
        let response = self.http.post(url).multipart(form).timeout(self.timeout).send().await.map_err(TelegramError::from_reqwest)?;
        read_envelope(response).await
    }

    /// Reports a finished call to the observer and the debug log.
    fn observed(&self, token: &BotToken, method: &str, started: Instant, outcome: Result<serde_json::Value, TelegramError>) -> Result<serde_json::Value, TelegramError> {
        let label = match &outcome {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        if let Some(observer) = &self.observer {
            observer.call_finished(method, label, started.elapsed());
        }
        if let Err(e) = &outcome {
            tracing::debug!(method, bot_id = %token.bot_id(), error = %e, "Bot API call failed");
        }
        outcome
    }

    async fn call_raw_with_timeout(&self, token: &BotToken, method: &str, body: &serde_json::Value, timeout: Duration) -> Result<serde_json::Value, TelegramError> {
        let started = Instant::now();
        let outcome = self.send(token, method, body, timeout).await;
        self.observed(token, method, started, outcome)
    }

    async fn send(&self, token: &BotToken, method: &str, body: &serde_json::Value, timeout: Duration) -> Result<serde_json::Value, TelegramError> {
        let url = format!("{}/bot{}/{}", self.base, token.expose(), method);
        let response = self.http.post(url).json(body).timeout(timeout).send().await.map_err(TelegramError::from_reqwest)?;
        read_envelope(response).await
    }
}

/// Telegram's envelope of one response: the `result`, or the error it describes.
async fn read_envelope(response: reqwest::Response) -> Result<serde_json::Value, TelegramError> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(TelegramError::from_reqwest)?;
    let envelope: Envelope = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(_) if status.is_server_error() => return Err(TelegramError::Server(format!("HTTP {status}"))),
        Err(_) => return Err(TelegramError::from_envelope(status.as_u16(), format!("HTTP {status} without a Bot API envelope"), None, None)),
    };
    if envelope.ok {
        return Ok(envelope.result.unwrap_or(serde_json::Value::Bool(true)));
    }
    let params = envelope.parameters.unwrap_or_default();
    Err(TelegramError::from_envelope(
        envelope.error_code.unwrap_or(status.as_u16()),
        envelope.description.unwrap_or_else(|| status.to_string()),
        params.retry_after,
        params.migrate_to_chat_id,
    ))
}

/// A client bound to one bot's token. `Debug` shows only the bot id.
#[derive(Clone, Debug)]
pub struct Bot {
    client: Client,
    token: BotToken,
}

impl Bot {
    pub fn token(&self) -> &BotToken {
        &self.token
    }
    pub fn client(&self) -> &Client {
        &self.client
    }
    pub async fn call<M: Method>(&self, request: &M) -> Result<M::Response, TelegramError> {
        self.client.call(&self.token, request).await
    }
    /// Calls `M` with `files` uploaded beside it ([`Client::call_with_files`]).
    pub async fn call_with_files<M: Method>(&self, request: &M, files: &[InputFile]) -> Result<M::Response, TelegramError> {
        self.client.call_with_files(&self.token, request, files).await
    }
    pub async fn get_me(&self) -> Result<User, TelegramError> {
        self.call(&methods::GetMe {}).await
    }
    /// Sends a message; through the client's throttle when it has one (as every `call` of a
    /// method that posts into a chat).
    pub async fn send_message(&self, request: &methods::SendMessage) -> Result<Message, TelegramError> {
        self.call(request).await
    }
    /// Sends a message as [`Bot::send_message`] does, with `preflight` run right before the
    /// request goes out (after the throttle's wait): a caller that records "being sent" there
    /// has recorded nothing while the message still waited for its turn.
    pub async fn send_message_with(&self, request: &methods::SendMessage, preflight: super::Preflight) -> Result<Message, TelegramError> {
        self.client.call_with_preflight(&self.token, request, preflight).await
    }
    /// One long poll: waits up to `timeout` seconds for updates from `offset` on.
    pub async fn get_updates(&self, offset: Option<i64>, timeout: u32) -> Result<Vec<Update>, TelegramError> {
        let request = methods::GetUpdates { offset, ..methods::GetUpdates::new().timeout(timeout) };
        self.call(&request).await
    }
}

/// `M`'s result from Telegram's `result`. Telegram said ok, so the call happened whatever its
/// result looks like: one we cannot read is [`TelegramError::Unconfirmed`], never an error that
/// invites a resend.
pub(crate) fn decode_result<M: Method>(result: serde_json::Value) -> Result<M::Response, TelegramError> {
    serde_json::from_value(result).map_err(|e| TelegramError::Unconfirmed(format!("unexpected {} result: {e}", M::NAME)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_that_cannot_be_read_after_ok_true_is_unconfirmed_never_a_resendable_error() {
        let err = decode_result::<methods::SendMessage>(serde_json::json!({ "unexpected": true })).unwrap_err();
        assert!(matches!(err, TelegramError::Unconfirmed(_)), "{err:?}");
        assert!(err.may_have_taken_effect(), "the message may have been sent: it must not be sent again");
    }
}
