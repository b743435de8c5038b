//! Faults of one Bot API method of one bot, injected by tests through the control API
//! (`POST /sandbox/api/faults/methods`): what a bad day with Telegram looks like, one call at a
//! time.
//!
//! - **An error**: the next `times` calls are answered with Telegram's envelope for the given
//!   code and description — use Telegram's own texts, e.g. 403 `Forbidden: bot was blocked by
//!   the user`, 400 `Bad Request: chat not found`, 500 `Internal Server Error`. Nothing happens.
//! - **A lost response**: the next `times` calls take effect (the message is delivered), then
//!   the connection breaks while the response body is on its way, as when a timeout or a network
//!   failure strikes after Telegram did the work. The client cannot know whether it happened.
//! - **A hold**: the next `times` calls wait until the test releases them
//!   (`POST /sandbox/api/faults/methods/release`), newest first if asked — so a test can order
//!   two concurrent calls the way a slow network would, without timing anything.
use super::params::ApiError;
use axum::body::Body;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::oneshot;

/// What happens to the calls a [`MethodFault`] catches.
#[derive(Debug, Clone)]
pub enum Effect {
    Error(ApiError),
    LoseResponse,
    Hold,
}

/// A fault on `method` (case-insensitive, as Telegram reads method names) of bot `bot_id`.
#[derive(Debug, Clone)]
pub struct MethodFault {
    pub bot_id: i64,
    pub method: String,
    /// Calls still to catch.
    pub times: u32,
    pub effect: Effect,
}

/// A held call, waiting for its release.
struct Held {
    bot_id: i64,
    method: String,
    /// Sent the release; the call drops what it receives once it has been dispatched.
    release: oneshot::Sender<oneshot::Sender<()>>,
}

#[derive(Default)]
pub struct Faults {
    faults: Vec<MethodFault>,
    held: Vec<Held>,
}

/// What the Bot API handler does with one call.
pub enum Catch {
    /// Not caught: dispatch as usual.
    None,
    Error(ApiError),
    /// Dispatch, then break the response body.
    LoseResponse,
    /// Wait for the release, then dispatch, then drop what the release sent.
    Hold(oneshot::Receiver<oneshot::Sender<()>>),
}

impl Faults {
    pub fn add(&mut self, f: MethodFault) {
        self.faults.retain(|x| !(x.bot_id == f.bot_id && x.method == f.method));
        if f.times > 0 {
            self.faults.push(f);
        }
    }

    /// Whether a fault catches this call (and uses up one of its `times`).
    pub fn catch(&mut self, bot_id: i64, method: &str) -> Catch {
        let Some(i) = self.faults.iter().position(|f| f.bot_id == bot_id && f.method == method) else { return Catch::None };
        let f = &mut self.faults[i];
        f.times -= 1;
        let effect = f.effect.clone();
        if f.times == 0 {
            self.faults.remove(i);
        }
        match effect {
            Effect::Error(e) => Catch::Error(e),
            Effect::LoseResponse => Catch::LoseResponse,
            Effect::Hold => {
                let (tx, rx) = oneshot::channel();
                self.held.push(Held { bot_id, method: method.to_owned(), release: tx });
                Catch::Hold(rx)
            }
        }
    }

    /// Calls of `method` of `bot_id` the faults will still catch.
    pub fn to_catch(&self, bot_id: i64, method: &str) -> u32 {
        self.faults.iter().filter(|f| f.bot_id == bot_id && f.method == method).map(|f| f.times).sum()
    }

    /// Calls of `method` of `bot_id` waiting for their release.
    pub fn held(&self, bot_id: i64, method: &str) -> usize {
        self.held.iter().filter(|h| h.bot_id == bot_id && h.method == method).count()
    }

    /// Releases the held calls of `method` of `bot_id` (in the order they came, or newest first)
    /// and stops holding further ones. Returns how many were released.
    pub fn release(&mut self, bot_id: i64, method: &str, newest_first: bool) -> usize {
        self.faults.retain(|f| !(f.bot_id == bot_id && f.method == method && matches!(f.effect, Effect::Hold)));
        let (mine, rest): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held).into_iter().partition(|h| h.bot_id == bot_id && h.method == method);
        self.held = rest;
        let n = mine.len();
        let ordered: Vec<Held> = if newest_first { mine.into_iter().rev().collect() } else { mine };
        // One at a time: each released call is let go only once the one before it was dispatched
        // (the call drops the sender it was given), so they take effect in this order.
        tokio::spawn(async move {
            for h in ordered {
                let (done_tx, done_rx) = oneshot::channel::<()>();
                if h.release.send(done_tx).is_ok() {
                    let _ = done_rx.await;
                }
            }
        });
        n
    }
}

/// The control API's request: `{bot_id, method, times?, error_code?, description?,
/// lose_response?, hold?}` — one of an error (`error_code` + `description`), `lose_response` or
/// `hold`. `times` 0 removes the fault.
#[derive(Debug, Deserialize)]
pub struct FaultRequest {
    pub bot_id: i64,
    pub method: String,
    #[serde(default = "one")]
    pub times: u32,
    pub error_code: Option<u16>,
    pub description: Option<String>,
    #[serde(default)]
    pub lose_response: bool,
    #[serde(default)]
    pub hold: bool,
    /// For a 429: the `retry_after` parameter.
    pub retry_after: Option<u64>,
}

fn one() -> u32 {
    1
}

impl FaultRequest {
    pub fn into_fault(self) -> Result<MethodFault, String> {
        let effect = match (self.error_code, self.lose_response, self.hold) {
            (Some(code), false, false) => {
                let description = self.description.ok_or("an error fault needs Telegram's description, e.g. \"Forbidden: bot was blocked by the user\"")?;
                if !(400..=599).contains(&code) {
                    return Err("error_code must be a 4xx or 5xx code".into());
                }
                let retry_after = if code == 429 { Some(self.retry_after.unwrap_or(1)) } else { None };
                Effect::Error(ApiError { code, description, retry_after, migrate_to_chat_id: None })
            }
            (None, true, false) => Effect::LoseResponse,
            (None, false, true) => Effect::Hold,
            _ => return Err("give exactly one of error_code (with description), lose_response or hold".into()),
        };
        Ok(MethodFault { bot_id: self.bot_id, method: self.method.to_ascii_lowercase(), times: self.times, effect })
    }
}

/// The response with its body cut: the status and headers arrive, then part of the body, then
/// the connection breaks.
pub fn lose_body(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let stream = futures::stream::once(async move {
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        Ok::<_, std::io::Error>(bytes.slice(..bytes.len() / 2))
    })
    .chain(futures::stream::once(async { Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the sandbox broke the connection (an injected fault)")) }));
    let mut r = Response::from_parts(parts, Body::from_stream(stream));
    r.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    r
}

use futures::StreamExt;
