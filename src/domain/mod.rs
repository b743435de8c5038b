//! Typed ids and parse-don't-validate values. No I/O lives here.
//!
//! Once you hold one of these types it is valid: constructors check Telegram's and our own rules
//! at the edge, and the rest of the crate trusts the type.
mod ids;
pub mod plans;
mod secret;
mod username;

pub use ids::{BotId, ChatId, JobId, TenantId, UserId};
pub use plans::{Pack, Plan};
pub use secret::{BotToken, Secret};
pub use username::{BotName, BotUsername, UsernameError};
