//! The manager bot: the one bot that creates and controls every business's child bot.
//!
//! - `setup`: at start-up, `getMe` must show `can_manage_bots` (Bot Management Mode), then the
//!   manager's webhook and commands are registered.
//! - `updates`: the `manager.update` job — `managed_bot` updates (new bot, new token, new
//!   owner) and the owner's commands in the manager chat (`/start`, `/bots`, `/login`, `/help`).
//! - `provision`: the `bot.provision` job — webhook with a fresh secret, commands, descriptions,
//!   then one welcome message to the owner with a login link.
//!
//! Owner changes: the bot follows its new owner — it moves to the new owner's tenant (created
//! if needed), whose knowledge it then answers from; the previous owner's tenant keeps its own
//! data but no longer sees or controls the bot, at once (every admin query is tenant-scoped).
pub mod login;
pub mod provision;
pub mod setup;
pub mod updates;

use crate::domain::BotId;
use crate::jobs::JobError;
use crate::telegram::{self, TelegramError};

/// Job kind: one update received by the manager bot's webhook.
pub const UPDATE_JOB: &str = "manager.update";
/// Job kind: bring a child bot to `live`.
pub const PROVISION_JOB: &str = "bot.provision";

/// Update kinds the manager bot asks Telegram for.
pub const MANAGER_UPDATES: &[&str] = &["message", "callback_query", "managed_bot", "pre_checkout_query"];
/// Update kinds a child bot asks Telegram for.
pub const CHILD_UPDATES: &[&str] = &["message", "edited_message", "callback_query", "pre_checkout_query"];

/// The manager bot of this deployment.
#[derive(Clone, Debug)]
pub struct Manager {
    pub bot: telegram::Bot,
    pub id: BotId,
    pub username: String,
}

/// A Bot API failure as a job outcome: worth retrying, or not.
pub fn job_error(e: TelegramError, doing: &str) -> JobError {
    let err = anyhow::anyhow!("{doing}: {e}");
    if e.is_transient() { JobError::Retry(err) } else { JobError::Permanent(err) }
}

/// Registers the manager's job handlers.
pub fn register(r: &mut crate::jobs::Registry<crate::startup::AppState>) {
    r.register(UPDATE_JOB, crate::jobs::DEFAULT, updates::run);
    r.register(PROVISION_JOB, crate::jobs::DEFAULT, provision::run);
}
