//! The Telegram Bot API as bellhop uses it: serde types named as in the reference
//! (<https://core.telegram.org/bots/api>, Bot API 10.1), one request type per method, a
//! [`Client`] that talks to Telegram, a self-hosted Bot API server or the sandbox, the matchable
//! [`TelegramError`], a per-bot outbound [`Throttle`], and message [`split`]ting.
//!
//! Invariant: a bot token never appears in an error, log line, panic message or `Debug` output.
//! Tokens travel as [`crate::domain::BotToken`] and are exposed only when the request URL is built.
pub mod client;
pub mod error;
pub mod html;
pub mod methods;
pub mod split;
pub mod throttle;
pub mod types;

pub use client::{Bot, Client};
pub use error::TelegramError;
pub use methods::Method;
pub use throttle::{Throttle, ThrottleLimits};
pub use types::*;
