//! Typed ids and parse-don't-validate values. No I/O lives here.
//!
//! Once you hold one of these types it is valid: constructors check Telegram's and our own rules
//! at the edge, and the rest of the crate trusts the type. The values Telegram defines (its ids,
//! the bot token, bot usernames and names) live in `bellhop_telegram` and are re-exported here,
//! so `crate::domain::BotId` is the same type the Telegram client takes.
pub mod conversation;
mod dates;
mod ids;
pub mod plans;
pub mod vocabulary;
mod secret;

pub use bellhop_telegram::{BotId, BotName, BotToken, BotTokenError, BotUsername, ChatId, UserId, UsernameError};
pub use ids::{JobId, QaId, SourceId, TenantId};
pub use secret::Secret;
pub use plans::{Pack, Plan};
pub use dates::civil;
