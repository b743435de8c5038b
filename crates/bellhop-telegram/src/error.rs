//! `TelegramError`: what a Bot API call can come back with, as a catalogue callers match on
//! (teloxide `errors.rs`): `Err(TelegramError::QueryTooOld)`, never a substring test on a
//! description.
//!
//! Built in one place, [`TelegramError::from_envelope`], from Telegram's envelope
//! `{"ok":false,"error_code":…,"description":…,"parameters":…}`
//! (<https://core.telegram.org/bots/api#making-requests>). The descriptions Telegram uses for the
//! named variants are not in the reference; they are the texts the Bot API server sends
//! (<https://github.com/tdlib/telegram-bot-api>), which the sandbox reproduces. A description we
//! do not know stays in `BadRequest` / `Forbidden` with its text.
//!
//! No variant ever holds a URL or a token: reqwest errors are stripped of their URL before they
//! are kept.

/// The failure of one Bot API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// 429 Flood control: wait this many seconds before calling again (this bot, or this chat).
    #[error("Telegram rate limit: retry after {0} s")]
    RetryAfter(u64),
    /// 401: the token is unknown or was revoked (e.g. by `replaceManagedBotToken`).
    #[error("Telegram rejected the bot token (401 Unauthorized)")]
    Unauthorized,

    /// 403 `bot was blocked by the user`.
    #[error("Telegram refused: the user blocked the bot")]
    BotBlocked,
    /// 403 `bot can't initiate conversation with a user`: the user never pressed Start.
    #[error("Telegram refused: the user has not started the bot")]
    CantInitiateConversation,
    /// 403 `user is deactivated`: the account was deleted.
    #[error("Telegram refused: the user's account is deactivated")]
    UserDeactivated,
    /// 403 `bot was kicked from the … chat` / `bot is not a member of the … chat`.
    #[error("Telegram refused: the bot is not a member of the chat")]
    NotAMember,
    /// Any other 403, with Telegram's description.
    #[error("Telegram refused: {0}")]
    Forbidden(String),

    /// 400 `chat not found`.
    #[error("Telegram said: chat not found")]
    ChatNotFound,
    /// 400 `message is not modified`: an edit to exactly the current content and buttons.
    #[error("Telegram said: message is not modified")]
    MessageNotModified,
    /// 400 `message to edit not found`.
    #[error("Telegram said: message to edit not found")]
    MessageToEditNotFound,
    /// 400 `message text is empty` (also after entity parsing).
    #[error("Telegram said: message text is empty")]
    MessageTextEmpty,
    /// 400 `message is too long`: over 4,096 UTF-16 units after entity parsing.
    #[error("Telegram said: message is too long")]
    MessageTooLong,
    /// 400 `can't parse entities: …` (bad HTML or Markdown), with the rest of the description.
    #[error("Telegram said: can't parse entities: {0}")]
    CantParseEntities(String),
    /// 400 `query is too old and response timeout expired or query ID is invalid`: a callback or
    /// pre-checkout query answered too late (or with a wrong id).
    #[error("Telegram said: the query is too old or its id is invalid")]
    QueryTooOld,
    /// 400 `CHARGE_ALREADY_REFUNDED`: `refundStarPayment` for a payment refunded before.
    #[error("Telegram said: the payment was already refunded")]
    ChargeAlreadyRefunded,
    /// 400 `Logged out`: the bot called `logOut` on this Bot API server less than 10 minutes ago
    /// (tdlib/telegram-bot-api#566); after that, any call logs it in there again.
    #[error("Telegram said: the bot is logged out of this Bot API server (for 10 minutes after logOut)")]
    LoggedOut,
    /// Any other 400, with Telegram's description, e.g. `Bad Request: user not found`.
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
    /// The request never reached Telegram (connect, DNS, TLS): nothing happened. Retry later.
    #[error("network error talking to Telegram: {0}")]
    Network(String),
    /// The request was sent, but Telegram's answer was lost or unreadable: a timeout or a broken
    /// connection while waiting for it or reading its body. The call **may have taken effect**
    /// (a message may have been delivered): safe to repeat only for idempotent calls — see
    /// [`TelegramError::may_have_taken_effect`].
    #[error("no answer from Telegram (the call may have taken effect): {0}")]
    Unconfirmed(String),
    /// Not sent: the throttle already holds as many calls for this chat or bot as it may queue
    /// ([`crate::ThrottleLimits::max_queued_per_chat`]). Retry later.
    #[error("too many messages waiting for this chat or bot; not sent")]
    QueueFull,
    /// Not sent: the call was withdrawn at its turn, before the request went out — its caller
    /// stopped waiting for it, or the caller's pre-flight check ([`crate::Preflight`]) said another
    /// attempt has it. Nothing reached Telegram.
    #[error("not sent: withdrawn before its turn came ({0})")]
    Withdrawn(String),
}

impl TelegramError {
    /// The outcome label for metrics: a bounded set of values, by Telegram's error class (the
    /// named 400s count as `bad_request`, the named 403s as `forbidden`).
    pub fn outcome(&self) -> &'static str {
        use TelegramError::*;
        match self {
            RetryAfter(_) => "retry_after",
            Unauthorized => "unauthorized",
            BotBlocked | CantInitiateConversation | UserDeactivated | NotAMember | Forbidden(_) => "forbidden",
            ChatNotFound | MessageNotModified | MessageToEditNotFound | MessageTextEmpty | MessageTooLong | CantParseEntities(_) | QueryTooOld | ChargeAlreadyRefunded | LoggedOut | BadRequest(_) => "bad_request",
            ChatMigrated(_) => "chat_migrated",
            Conflict(_) => "conflict",
            Other { .. } => "other",
            Server(_) => "server",
            Network(_) => "network",
            Unconfirmed(_) => "unconfirmed",
            QueueFull => "queue_full",
            Withdrawn(_) => "withdrawn",
        }
    }

    /// Whether the same call may succeed later without changes: a rate limit, Telegram's server
    /// error, the network, a full queue. Everything else is permanent — the user blocked the bot,
    /// the chat does not exist, the request is wrong, the token is revoked — and retrying only
    /// repeats the refusal (and counts against the bot's limits).
    pub fn is_transient(&self) -> bool {
        matches!(self, TelegramError::RetryAfter(_) | TelegramError::Server(_) | TelegramError::Network(_) | TelegramError::Unconfirmed(_) | TelegramError::QueueFull)
    }

    /// Whether the call may have happened although it failed: Telegram's answer was lost
    /// ([`TelegramError::Unconfirmed`]). Every other error means it did not — Telegram answered
    /// with a refusal, or the request never reached it — so sending again cannot duplicate.
    pub fn may_have_taken_effect(&self) -> bool {
        matches!(self, TelegramError::Unconfirmed(_))
    }

    /// The Telegram error behind `err`, if one is in its chain of causes (an `anyhow` context, a
    /// `source()`): how a caller that got an error through `?` decides whether to retry.
    pub fn in_chain<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a TelegramError> {
        let mut next = Some(err);
        while let Some(e) = next {
            if let Some(t) = e.downcast_ref::<TelegramError>() {
                return Some(t);
            }
            next = e.source();
        }
        None
    }

    /// Whether Telegram answered 403: the bot may not write to this user or chat (blocked, never
    /// started, deactivated, not a member, …).
    pub fn is_forbidden(&self) -> bool {
        self.outcome() == "forbidden"
    }

    /// Classifies a failed envelope: the one place that reads Telegram's error codes and
    /// descriptions.
    pub fn from_envelope(code: u16, description: String, retry_after: Option<u64>, migrate_to: Option<i64>) -> Self {
        if let Some(id) = migrate_to {
            return TelegramError::ChatMigrated(id);
        }
        match code {
            429 => TelegramError::RetryAfter(retry_after.unwrap_or(1)),
            401 => TelegramError::Unauthorized,
            403 => forbidden(description),
            400 => bad_request(description),
            409 => TelegramError::Conflict(description),
            500..=599 => TelegramError::Server(description),
            _ => TelegramError::Other { code, description },
        }
    }

    /// From a transport error, with the URL (which holds the token) removed. Only a failure to
    /// connect is certain to have sent nothing ([`TelegramError::Network`]); a timeout, a reset or
    /// an unreadable body after the request went out leaves it [`TelegramError::Unconfirmed`].
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if err.is_connect() || err.is_builder() {
            TelegramError::Network(text)
        } else {
            TelegramError::Unconfirmed(text)
        }
    }
}

/// Telegram's description without its `Bad Request: ` / `Forbidden: ` prefix.
fn detail<'a>(description: &'a str, prefix: &str) -> &'a str {
    description.strip_prefix(prefix).unwrap_or(description).trim()
}

fn forbidden(description: String) -> TelegramError {
    let d = detail(&description, "Forbidden:");
    if d.eq_ignore_ascii_case("bot was blocked by the user") {
        TelegramError::BotBlocked
    } else if d.starts_with("bot can't initiate conversation with a user") || d.starts_with("bot can't send messages to bots") {
        TelegramError::CantInitiateConversation
    } else if d.eq_ignore_ascii_case("user is deactivated") {
        TelegramError::UserDeactivated
    } else if d.starts_with("bot was kicked from the") || d.starts_with("bot is not a member of the") {
        TelegramError::NotAMember
    } else {
        TelegramError::Forbidden(description)
    }
}

fn bad_request(description: String) -> TelegramError {
    let d = detail(&description, "Bad Request:");
    if d.eq_ignore_ascii_case("chat not found") {
        TelegramError::ChatNotFound
    } else if d.starts_with("message is not modified") {
        TelegramError::MessageNotModified
    } else if d == "message to edit not found" {
        TelegramError::MessageToEditNotFound
    } else if d == "message text is empty" {
        TelegramError::MessageTextEmpty
    } else if d == "message is too long" {
        TelegramError::MessageTooLong
    } else if let Some(rest) = d.strip_prefix("can't parse entities:") {
        TelegramError::CantParseEntities(rest.trim().to_owned())
    } else if d.starts_with("query is too old") || d.starts_with("QUERY_ID_INVALID") {
        TelegramError::QueryTooOld
    } else if d.starts_with("CHARGE_ALREADY_REFUNDED") {
        TelegramError::ChargeAlreadyRefunded
    } else if d == "Logged out" {
        TelegramError::LoggedOut
    } else {
        TelegramError::BadRequest(description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TelegramError::*;

    fn parse(code: u16, description: &str) -> TelegramError {
        TelegramError::from_envelope(code, description.to_owned(), None, None)
    }

    #[test]
    fn telegrams_descriptions_become_named_variants() {
        let cases = [
            (403, "Forbidden: bot was blocked by the user", BotBlocked),
            (403, "Forbidden: bot can't initiate conversation with a user", CantInitiateConversation),
            (403, "Forbidden: user is deactivated", UserDeactivated),
            (403, "Forbidden: bot was kicked from the supergroup chat", NotAMember),
            (403, "Forbidden: bot is not a member of the supergroup chat", NotAMember),
            (400, "Bad Request: chat not found", ChatNotFound),
            (400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", MessageNotModified),
            (400, "Bad Request: message to edit not found", MessageToEditNotFound),
            (400, "Bad Request: message text is empty", MessageTextEmpty),
            (400, "Bad Request: message is too long", MessageTooLong),
            (400, "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0", CantParseEntities("Unsupported start tag \"x\" at byte offset 0".into())),
            (400, "Bad Request: query is too old and response timeout expired or query ID is invalid", QueryTooOld),
            (400, "Bad Request: CHARGE_ALREADY_REFUNDED", ChargeAlreadyRefunded),
            (400, "Logged out", LoggedOut),
            (401, "Unauthorized", Unauthorized),
        ];
        for (code, description, want) in cases {
            assert_eq!(parse(code, description), want, "{code} {description}");
        }
    }

    #[test]
    fn unknown_descriptions_keep_their_text_and_class() {
        assert_eq!(parse(400, "Bad Request: user not found"), BadRequest("Bad Request: user not found".into()));
        assert_eq!(parse(403, "Forbidden: not enough rights"), Forbidden("Forbidden: not enough rights".into()));
        assert_eq!(parse(404, "Not Found"), Other { code: 404, description: "Not Found".into() });
        assert_eq!(parse(409, "Conflict: terminated by other getUpdates request"), Conflict("Conflict: terminated by other getUpdates request".into()));
        assert_eq!(parse(502, "Bad Gateway"), Server("Bad Gateway".into()));
        // The same words under another code are not the named variant.
        assert_eq!(parse(403, "Bad Request: chat not found"), Forbidden("Bad Request: chat not found".into()));
    }

    #[test]
    fn flood_control_and_migration_come_from_the_parameters() {
        assert_eq!(TelegramError::from_envelope(429, "Too Many Requests: retry after 7".into(), Some(7), None), RetryAfter(7));
        assert_eq!(TelegramError::from_envelope(429, "Too Many Requests".into(), None, None), RetryAfter(1));
        assert_eq!(TelegramError::from_envelope(400, "Bad Request: group chat was upgraded to a supergroup chat".into(), None, Some(-100123)), ChatMigrated(-100123));
    }

    #[test]
    fn classification_is_by_class_not_by_text() {
        for e in [RetryAfter(1), Server("x".into()), Network("x".into()), Unconfirmed("x".into()), QueueFull] {
            assert!(e.is_transient(), "{e:?}");
        }
        // Only a lost answer leaves a call's effect in doubt.
        assert!(Unconfirmed("x".into()).may_have_taken_effect());
        for e in [RetryAfter(1), Server("x".into()), Network("x".into()), QueueFull, Withdrawn("x".into()), BotBlocked, ChatNotFound] {
            assert!(!e.may_have_taken_effect(), "{e:?}");
        }
        for e in [Unauthorized, BotBlocked, ChatNotFound, QueryTooOld, ChargeAlreadyRefunded, BadRequest("x".into()), Conflict("x".into())] {
            assert!(!e.is_transient(), "{e:?}");
        }
        for e in [BotBlocked, CantInitiateConversation, UserDeactivated, NotAMember, Forbidden("x".into())] {
            assert!(e.is_forbidden() && e.outcome() == "forbidden", "{e:?}");
        }
        assert!(!ChatNotFound.is_forbidden());
        assert_eq!(MessageNotModified.outcome(), "bad_request");
    }

    #[test]
    fn a_telegram_error_is_found_behind_the_context_added_to_it() {
        #[derive(Debug, thiserror::Error)]
        #[error("sending the answer")]
        struct Doing(#[source] TelegramError);
        let wrapped = Doing(BotBlocked);
        assert_eq!(TelegramError::in_chain(&wrapped), Some(&BotBlocked));
        assert_eq!(TelegramError::in_chain(&BotBlocked), Some(&BotBlocked));
        assert_eq!(TelegramError::in_chain(&std::io::Error::other("disk full")), None);
    }
}
