//! `TelegramError`: what a Bot API call can come back with, as a type callers match on.
//!
//! Built from Telegram's envelope `{"ok":false,"error_code":…,"description":…,"parameters":…}`
//! (<https://core.telegram.org/bots/api#making-requests>). No variant ever holds a URL or a
//! token: reqwest errors are stripped of their URL before they are kept.

/// The failure of one Bot API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// 429 Flood control: wait this many seconds before calling again (this bot, or this chat).
    #[error("Telegram rate limit: retry after {0} s")]
    RetryAfter(u64),
    /// 401: the token is unknown or was revoked (e.g. by `replaceManagedBotToken`).
    #[error("Telegram rejected the bot token (401 Unauthorized)")]
    Unauthorized,
    /// 403: the bot may not do this, typically because the user blocked it.
    #[error("Telegram refused: {0}")]
    Forbidden(String),
    /// 400 with Telegram's description, e.g. `Bad Request: message is not modified`.
    #[error("Telegram said: {0}")]
    BadRequest(String),
    /// 400: the group was upgraded to a supergroup; resend to this chat id.
    #[error("the group moved to chat {0}")]
    ChatMigrated(i64),
    /// 409: another `getUpdates` is running, or a webhook is set.
    #[error("Telegram conflict: {0}")]
    Conflict(String),
    /// 404 or another 4xx code not listed above.
    #[error("Telegram error {code}: {description}")]
    Other { code: u16, description: String },
    /// 5xx, or a response that is not Telegram's envelope.
    #[error("Telegram server error: {0}")]
    Server(String),
    /// The request did not complete: connect, TLS, timeout. Retry later.
    #[error("network error talking to Telegram: {0}")]
    Network(String),
}

impl TelegramError {
    /// The outcome label for metrics: a bounded set of values.
    pub fn outcome(&self) -> &'static str {
        match self {
            TelegramError::RetryAfter(_) => "retry_after",
            TelegramError::Unauthorized => "unauthorized",
            TelegramError::Forbidden(_) => "forbidden",
            TelegramError::BadRequest(_) => "bad_request",
            TelegramError::ChatMigrated(_) => "chat_migrated",
            TelegramError::Conflict(_) => "conflict",
            TelegramError::Other { .. } => "other",
            TelegramError::Server(_) => "server",
            TelegramError::Network(_) => "network",
        }
    }

    /// Whether the same call may succeed later without changes.
    pub fn is_transient(&self) -> bool {
        matches!(self, TelegramError::RetryAfter(_) | TelegramError::Server(_) | TelegramError::Network(_))
    }

    /// Classifies a failed envelope.
    pub fn from_envelope(code: u16, description: String, retry_after: Option<u64>, migrate_to: Option<i64>) -> Self {
        if let Some(id) = migrate_to {
            return TelegramError::ChatMigrated(id);
        }
        match code {
            429 => TelegramError::RetryAfter(retry_after.unwrap_or(1)),
            401 => TelegramError::Unauthorized,
            403 => TelegramError::Forbidden(description),
            400 => TelegramError::BadRequest(description),
            409 => TelegramError::Conflict(description),
            500..=599 => TelegramError::Server(description),
            _ => TelegramError::Other { code, description },
        }
    }

    /// From a transport error, with the URL (which holds the token) removed.
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if err.is_decode() || err.is_body() {
            TelegramError::Server(text)
        } else {
            TelegramError::Network(text)
        }
    }
}
