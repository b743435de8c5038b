//! The Telegram Bot API as bellhop uses it: serde types named as in the reference
//! (<https://core.telegram.org/bots/api>, Bot API 10.1), one request type per method, a
//! [`Client`] that talks to Telegram, a self-hosted Bot API server or the sandbox, the matchable
//! [`TelegramError`], a per-bot outbound [`Throttle`], and message [`split`]ting.
//!
//! Invariant: a bot token never appears in an error, log line, panic message or `Debug` output.
//! Tokens travel as [`BotToken`] and are exposed only when the request URL is built.
//!
//! This crate knows nothing of bellhop: no database, no HTTP server, no application metrics. The
//! application observes calls through a [`CallObserver`] it installs on the [`Client`].

/// `Client` and `Bot`: posting a method to `{base}/bot{token}/{method}` and decoding the envelope.
pub mod client;
/// `TelegramError`: the catalogue of failures callers match on.
pub mod error;
/// Telegram's HTML subset: parsing to text + entities, escaping, UTF-16 lengths.
pub mod html;
/// Telegram's ids (`UserId`, `ChatId`, `BotId`) as distinct types.
pub mod ids;
/// One request struct per Bot API method, tied to its name and result by `Method`.
pub mod methods;
/// Splitting long texts into messages of at most 4,096 UTF-16 units.
pub mod split;
/// The outbound throttle: Telegram's per-chat and per-bot limits, 429s waited out.
pub mod throttle;
/// `BotToken`, with a redacting `Debug`/`Display`.
pub mod token;
/// Bot API objects, one file per concept.
pub mod types;
/// Telegram's rules for bot usernames and display names.
pub mod username;
/// Mini App launch data (`initData`): signing (the sandbox) and checking (bellhop).
pub mod webapp;

pub use client::{Bot, CallObserver, Client, InputFile};
pub use error::TelegramError;
pub use ids::{BotId, ChatId, UserId};
pub use methods::Method;
pub use throttle::{PaceRule, Pacer, Preflight, Throttle, ThrottleLimits};
pub use token::{BotToken, BotTokenError};
pub use types::*;
pub use username::{BotName, BotUsername, UsernameError};
