//! A bot's lifecycle, as its owner drives it from the admin: pause and resume, a new token,
//! disconnect and connect again, and deleting its data.
//!
//! - **Pause**: the bot stays connected; every customer message gets a short notice (the
//!   owner's own, or the default) — no model, no credit (see `answering`).
//! - **New token** (`replaceManagedBotToken`): the old token stops working at once, and Telegram
//!   drops the webhook that was set with it. The new token is stored (sealed) and the bot
//!   provisioned again — a fresh webhook secret, the webhook, commands — in the same commit that
//!   stored it. Updates customers send meanwhile wait at Telegram (it keeps undelivered updates
//!   for 24 hours) and arrive once the new webhook is set, seconds later: none is lost.
//! - **Disconnect**: the bot's command menu goes and its description says it isn't answering
//!   (`manager::brand::withdraw`), the webhook is removed (`deleteWebhook`) and the token and
//!   webhook secret are erased from the database: bellhop can no longer act as the bot. The bot stays its owner's in
//!   Telegram — name, username, chats — and answers nobody until it is connected again (the
//!   manager bot can fetch its token again: `getManagedBotToken`).
//! - **Delete data**: disconnects first, then erases its conversations, messages, feedback,
//!   stored updates and settings (`storage::privacy::erase_bot`); the bot is no longer listed.
use super::AppState;
use crate::domain::{BotId, BotToken, TenantId, UserId};
use crate::storage::{self, bots, privacy};
use crate::telegram::TelegramError;
use crate::telegram::methods::{DeleteWebhook, GetManagedBotToken, ReplaceManagedBotToken};
use anyhow::Context;

/// Why a lifecycle action could not be done, in words for the owner.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Not the tenant's bot (or no longer listed).
    #[error("not found")]
    NotFound,
    /// The action does not fit the bot's state, or Telegram refused it: the owner reads this.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for LifecycleError {
    fn from(e: sqlx::Error) -> Self {
        LifecycleError::Internal(e.into())
    }
}

/// The bot's status, if it is the tenant's and listed (not deleted).
async fn status(app: &AppState, tenant: TenantId, bot: BotId) -> Result<String, LifecycleError> {
    match bots::status_of(&app.db.pool, tenant, bot).await? {
        Some(s) if s != bots::DELETED => Ok(s),
        _ => Err(LifecycleError::NotFound),
    }
}

fn telegram_refused(e: TelegramError, doing: &str) -> LifecycleError {
    if e.is_transient() {
        LifecycleError::Refused(format!("Telegram didn't answer while {doing}. Nothing was changed — please try again in a minute."))
    } else {
        LifecycleError::Refused(format!("Telegram refused {doing}: {e}. Nothing was changed."))
    }
}

/// Pauses (`true`) or resumes the bot.
pub async fn set_paused(app: &AppState, tenant: TenantId, bot: BotId, paused: bool) -> Result<(), LifecycleError> {
    let s = status(app, tenant, bot).await?;
    if s == bots::DISCONNECTED {
        return Err(LifecycleError::Refused("This bot is disconnected. Connect it again first.".into()));
    }
    if !bots::set_paused(&app.db.pool, tenant, bot, paused).await? {
        return Err(LifecycleError::NotFound);
    }
    tracing::info!(tenant_id = tenant.0, bot_id = bot.0, paused, "the owner paused or resumed a bot");
    Ok(())
}

/// Stores `token` as the bot's (sealed) and queues its provisioning in one commit; `connect`:
/// also checks the plan's number of bots (a disconnected bot coming back may not fit).
async fn store_token_and_provision(app: &AppState, tenant: TenantId, bot: BotId, token: &BotToken, connect: bool) -> Result<bool, LifecycleError> {
    let fp = crate::manager::updates::fingerprint(token);
    let mut tx = app.db.begin().await?;
    // Checked again in the commit that connects: the account may have been closed meanwhile.
    if connect && privacy::is_closed(&mut *tx, tenant).await? {
        return Err(closed(app, tenant).await?);
    }
    let sealed = storage::keys::seal(&mut tx, &app.keys, token.expose().as_bytes(), &bots::token_aad(bot)).await?;
    // Tenant-scoped check inside the transaction: the bot may have changed owner meanwhile.
    if bots::sealed_token(&mut *tx, tenant, bot).await?.is_none() && !connect {
        return Err(LifecycleError::NotFound);
    }
    bots::set_token(&mut *tx, bot, &sealed, &fp).await?;
    if connect && super::parking::park_if_over_plan(&mut tx, &app.cfg.billing, tenant, bot).await?.is_some() {
        tx.commit().await.context("storing the token of a parked bot")?;
        return Ok(false);
    }
    app.queue.enqueue_in(&mut tx, &super::jobs::provision(&app.queue, tenant, bot)).await?;
    tx.commit().await.context("storing the new token")?;
    app.queue.notify(crate::jobs::DEFAULT);
    Ok(true)
}

/// Replaces the bot's token (`replaceManagedBotToken`) and provisions it again with the new one.
pub async fn rotate_token(app: &AppState, tenant: TenantId, bot: BotId) -> Result<(), LifecycleError> {
    let s = status(app, tenant, bot).await?;
    if s == bots::DISCONNECTED || s == "parked" {
        return Err(LifecycleError::Refused("Only a connected bot's token can be replaced.".into()));
    }
    let manager = app.manager.as_ref().ok_or_else(|| LifecycleError::Refused("The manager bot isn't running here, so the token can't be replaced.".into()))?;
    let raw = manager.bot.call(&ReplaceManagedBotToken { user_id: UserId(bot.0) }).await.map_err(|e| telegram_refused(e, "to replace the token"))?;
    let token = BotToken::parse(&raw).map_err(|e| LifecycleError::Internal(anyhow::anyhow!("replaceManagedBotToken returned {e}")))?;
    store_token_and_provision(app, tenant, bot, &token, false).await?;
    tracing::info!(tenant_id = tenant.0, bot_id = bot.0, "bot token replaced; provisioning again");
    Ok(())
}

/// Disconnects the bot: its webhook removed, its token and webhook secret erased.
pub async fn disconnect(app: &AppState, tenant: TenantId, bot: BotId) -> Result<(), LifecycleError> {
    let s = status(app, tenant, bot).await?;
    if s == bots::DISCONNECTED {
        return Ok(());
    }
    if let Some(child) = app.bots.open(tenant, bot).await? {
        // Customers who open it learn that it isn't answering; a refusal here does not keep the
        // owner from disconnecting it.
        if let Err(e) = crate::manager::brand::withdraw(&child).await {
            tracing::warn!(tenant_id = tenant.0, bot_id = bot.0, error = %e, "could not take the disconnected bot's menu and description back");
        }
        match child.call(&DeleteWebhook::new()).await {
            Ok(_) => {}
            // The token no longer works (replaced in Telegram): there is no webhook of ours left
            // to remove with it.
            Err(TelegramError::Unauthorized) => {}
            Err(e) => return Err(telegram_refused(e, "to remove the bot's webhook")),
        }
    }
    if !bots::disconnect(&app.db.pool, tenant, bot).await? {
        return Err(LifecycleError::NotFound);
    }
    tracing::info!(tenant_id = tenant.0, bot_id = bot.0, "the owner disconnected a bot");
    // A place on the plan is free: a parked bot may take it.
    super::parking::provision_parked(app, tenant).await?;
    Ok(())
}

/// Connects a disconnected bot again: its current token fetched (`getManagedBotToken`), stored,
/// and the bot provisioned (or parked, past the plan's number of bots). Returns false if parked.
pub async fn reconnect(app: &AppState, tenant: TenantId, bot: BotId) -> Result<bool, LifecycleError> {
    if status(app, tenant, bot).await? != bots::DISCONNECTED {
        return Ok(true);
    }
    // A closed account's bots stay disconnected: connected, one would answer customers until the
    // erasure took it (and everything it answers from) without a word. Keeping the account comes first.
    if privacy::is_closed(&app.db.pool, tenant).await? {
        return Err(closed(app, tenant).await?);
    }
    let manager = app.manager.as_ref().ok_or_else(|| LifecycleError::Refused("The manager bot isn't running here, so the bot can't be connected.".into()))?;
    let raw = manager.bot.call(&GetManagedBotToken { user_id: UserId(bot.0) }).await.map_err(|e| telegram_refused(e, "to give bellhop the bot's token"))?;
    let token = BotToken::parse(&raw).map_err(|e| LifecycleError::Internal(anyhow::anyhow!("getManagedBotToken returned {e}")))?;
    let live = store_token_and_provision(app, tenant, bot, &token, true).await?;
    tracing::info!(tenant_id = tenant.0, bot_id = bot.0, parked = !live, "the owner connected a bot again");
    Ok(live)
}

/// Why a closed account's bot can't be connected, and what to do.
async fn closed(app: &AppState, tenant: TenantId) -> Result<LifecycleError, LifecycleError> {
    let when = privacy::erase_date(&app.db.pool, tenant).await?.map(super::account::date);
    Ok(LifecycleError::Refused(match when {
        Some(when) => format!(
            "Your account is closed, so its bots stay disconnected: everything kept here will be erased on {when}. To keep your account, press “Keep my account” on the Billing page, then connect the bot again."
        ),
        None => "Your account is closed, so its bots stay disconnected. Create a new bot in Telegram to start again.".into(),
    }))
}

/// Disconnects the bot (if it is not already) and erases what its customers left.
pub async fn delete_data(app: &AppState, tenant: TenantId, bot: BotId) -> Result<privacy::Erased, LifecycleError> {
    disconnect(app, tenant, bot).await?;
    let mut tx = app.db.begin().await?;
    let erased = privacy::erase_bot(&mut tx, app.manager.as_ref().map(|m| m.id), tenant, bot).await?;
    if !bots::mark_deleted(&mut *tx, tenant, bot).await? {
        return Err(LifecycleError::NotFound);
    }
    tx.commit().await.context("erasing a bot's data")?;
    tracing::info!(tenant_id = tenant.0, bot_id = bot.0, conversations = erased.conversations, messages = erased.messages, updates = erased.updates, "the owner deleted a bot's data");
    Ok(erased)
}

/// Every `every`, hands the conversations whose handoff nobody answered in time back to the
/// assistant (`answering::handoff::time_out`), and those the team answered and then went quiet
/// in (`answering::handoff::end_idle`). Any number of processes may run it: each conversation is
/// ended once, by whichever gets there first.
pub async fn handoff_timeouts(app: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.shutdown.cancelled() => return,
        }
        let due = match crate::storage::conversations::timed_out_handoffs(&app.db.pool, crate::storage::now_ms(), 100).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "looking for unanswered handoffs failed");
                continue;
            }
        };
        for h in due {
            if let Err(e) = crate::answering::handoff::time_out(&app.db, &app.bots, h.tenant_id, h.conversation_id, h.handed_off_at).await {
                tracing::warn!(tenant_id = h.tenant_id.0, conversation = h.conversation_id.0, error = ?e, "could not end an unanswered handoff");
            }
        }
        // Conversations the team answered, then went quiet in for `answering.handoff_idle_hours`.
        if let Some(idle) = app.cfg.answering.handoff_idle {
            let quiet_since = crate::storage::now_ms() - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
            match crate::storage::conversations::idle_handoffs(&app.db.pool, quiet_since, 100).await {
                Ok(idle_ones) => {
                    for h in idle_ones {
                        if let Err(e) = crate::answering::handoff::end_idle(&app.db, &app.bots, app.manager.as_ref(), &h, quiet_since, idle).await {
                            tracing::warn!(tenant_id = h.tenant_id.0, conversation = h.conversation_id.0, error = ?e, "could not end a handoff the team went quiet in");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "looking for handoffs the team went quiet in failed"),
            }
        }
        // Notices whose sending was cut short (a worker killed, a passing Telegram failure after
        // a close or a timeout committed): no job retries them, so the sweep sends them.
        match crate::storage::conversations::stranded_closed_notices(&app.db.pool, crate::storage::now_ms(), 100).await {
            Ok(stranded) => {
                for n in stranded {
                    if let Err(e) = crate::answering::handoff::send_stranded_notice(&app.db, &app.bots, &n).await {
                        tracing::warn!(tenant_id = n.tenant_id.0, conversation = n.conversation_id.0, error = ?e, "could not send a notice that a conversation went back to the assistant");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for unsent handoff notices failed"),
        }
    }
}
