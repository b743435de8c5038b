//! The manager bot: the one bot that creates and controls every business's child bot.
//!
//! - `setup`: at start-up, `getMe` must show `can_manage_bots` (Bot Management Mode), then the
//!   manager's webhook and commands are registered.
//! - `updates`: `managed_bot` updates (new bot, new token, new owner) and the owner's commands
//!   in the manager chat (`/start`, `/bots`, `/login`, `/help`).
//! - `provision`: bringing a child bot to `live` — webhook with a fresh secret, commands,
//!   descriptions, then one welcome message to the owner with a login link.
//! - `miniapp`: the onboarding Mini App behind the menu button — launch data checked, a
//!   `request_managed_bot` button prepared, the owner signed in.
//! - `health`: whether Telegram can deliver a bot's updates to us (`getWebhookInfo`), for the
//!   admin page.
//! - [`ChildBots`]: the businesses' bots, opened from their sealed tokens when needed.
//!
//! Must not: know answering or billing (the application routes manager updates to them), the
//! application state or the HTTP edge.
//!
//! Owner changes: the bot follows its new owner — it moves to the new owner's tenant (created
//! if needed), whose knowledge it then answers from; the previous owner's tenant keeps its own
//! data but no longer sees or controls the bot, at once (every admin query is tenant-scoped).
//! What the customers told the bot itself goes with it: their `/stop` to announcements.
pub mod brand;
pub mod health;
pub mod login;
pub mod miniapp;
pub mod provision;
pub mod setup;
pub mod team;
pub mod updates;

use crate::crypto::KeyRing;
use crate::domain::{BotId, BotToken, TenantId};
use crate::storage::{Db, bots};
use crate::telegram;
use std::sync::Arc;

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

/// The businesses' bots, ready to drive: each one's token is opened from the database when
/// needed (sealed at rest, never kept). Cheap to clone.
#[derive(Clone)]
pub struct ChildBots {
    pub db: Db,
    pub keys: Arc<KeyRing>,
    pub telegram: telegram::Client,
}

impl ChildBots {
    /// The business's bot `bot`, if it (still) belongs to `tenant`.
    pub async fn open(&self, tenant: TenantId, bot: BotId) -> anyhow::Result<Option<telegram::Bot>> {
        let Some(sealed) = bots::sealed_token(&self.db.pool, tenant, bot).await? else { return Ok(None) };
        let raw = self.keys.open_string(&sealed, &bots::token_aad(bot))?;
        Ok(Some(self.telegram.bot(BotToken::parse(&raw)?)))
    }
}
