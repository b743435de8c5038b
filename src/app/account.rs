//! Closing an account (issue 17, item 6). The owner closes it on the Billing page: every bot is
//! disconnected at once (webhook removed, token forgotten — the bots stay theirs in Telegram),
//! every admin session ends, and after a grace period of [`GRACE_DAYS`] days its data is erased
//! (`storage::privacy::erase_account`): knowledge (index entries and files too), conversations,
//! updates, settings, the team. Accounting records are kept (`privacy::KEPT_ON_ERASURE`). Within
//! the grace period the owner can sign in again (`/login`) and reopen it; creating a bot reopens
//! it too. A renewing subscription must be stopped first, so nobody pays for a closed account.
use super::AppState;
use super::lifecycle::{self, LifecycleError};
use crate::domain::TenantId;
use crate::storage::{self, bots, now_ms, privacy};
use crate::telegram::html::escape;
use crate::telegram::methods::SendMessage;
use anyhow::Context;

/// Days between closing an account and erasing its data.
pub const GRACE_DAYS: i64 = 14;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Why an account whose subscription still renews is not closed.
pub const STILL_RENEWS: &str = "Your subscription still renews. Turn renewal off on this page first (you keep the plan until the period ends), then close your account.";

/// Closes the tenant's account: the date its data will be erased (Unix ms).
pub async fn close(app: &AppState, tenant: TenantId) -> Result<i64, LifecycleError> {
    if let Some(acc) = storage::billing::get_account(&app.db.pool, tenant).await? {
        let now = now_ms();
        let stars = acc.plan_source == "stars" && !acc.stars_canceled && acc.plan_expires_at.is_some_and(|t| t > now);
        let stripe = acc.plan_source == "stripe" && matches!(acc.stripe_status.as_deref(), Some("active" | "trialing" | "past_due"));
        if stars || stripe {
            return Err(LifecycleError::Refused(STILL_RENEWS.into()));
        }
    }
    let now = now_ms();
    let erase_after = now + GRACE_DAYS * DAY_MS;
    // Closed first, so no parked bot is connected while the others are disconnected.
    let mut tx = app.db.begin().await?;
    privacy::close_account(&mut tx, tenant, now, erase_after).await?;
    tx.commit().await.context("closing an account")?;
    for bot in bots::list_for_tenant(&app.db.pool, tenant).await? {
        if bot.status != bots::DISCONNECTED {
            lifecycle::disconnect(app, tenant, bot.id).await?;
        }
    }
    let when = privacy::erase_date(&app.db.pool, tenant).await?.unwrap_or(erase_after);
    tracing::info!(tenant_id = tenant.0, "account closed");
    if let (Some(m), Some(t)) = (app.manager.as_ref(), storage::tenants::get(&app.db.pool, tenant).await?) {
        let text = format!(
            "🔒 <b>Your account is closed.</b> Your bots are disconnected (they stay yours in Telegram) and your admin page is signed out.\n\nEverything {} kept here — knowledge, conversations, settings — will be erased on <b>{}</b>. Changed your mind? Send /login before then and press <b>Keep my account</b>.",
            escape(&t.name),
            date(when)
        );
        if let Err(e) = m.bot.send_message(&SendMessage::html(t.owner_user_id.0, text)).await {
            tracing::warn!(error = %e, "could not tell the owner that the account was closed");
        }
    }
    Ok(when)
}

/// "3 Dec 2026" (UTC).
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| d.format("%-d %b %Y").to_string()).unwrap_or_default()
}

/// Reopens a closed account within the grace period (bots stay disconnected: the owner connects
/// them again one by one). Whether it was closed. Refused once the grace period is over and until
/// the erasure is done ([`privacy::reopen_account`]).
pub async fn reopen(app: &AppState, tenant: TenantId) -> Result<bool, LifecycleError> {
    let now = now_ms();
    if privacy::reopen_account(&app.db.pool, tenant, now).await? {
        tracing::info!(tenant_id = tenant.0, "account reopened");
        return Ok(true);
    }
    if privacy::erasure_due(&app.db.pool, tenant, now).await? {
        return Err(LifecycleError::Refused(
            "Too late to keep this account: its grace period is over and its data is being erased now. In a few minutes you can start again with a new bot.".into(),
        ));
    }
    Ok(false)
}

/// Erases one closed account whose grace period is over: its knowledge's index entries and files
/// first (each source as the owner's Delete does it, then anything else of the business's in the
/// index), then every row.
pub async fn erase(app: &AppState, tenant: TenantId) -> anyhow::Result<bool> {
    if !privacy::erasure_due(&app.db.pool, tenant, now_ms()).await? {
        return Ok(false);
    }
    for bot in bots::list_for_tenant(&app.db.pool, tenant).await? {
        if bot.status != bots::DISCONNECTED {
            lifecycle::disconnect(app, tenant, bot.id).await.map_err(|e| anyhow::anyhow!("disconnecting a bot before erasing: {e}"))?;
        }
    }
    for source in storage::sources::list(&app.db.pool, tenant).await? {
        crate::knowledge::ingest::delete_source(&app.db, &app.retriever, tenant, source.id).await?;
    }
    // And whatever else of the business's is in the index: chunks a read cut short wrote after
    // its source's row was deleted (a worker killed before it could clean up) have no row to
    // find them by.
    app.retriever.get().await?.delete_tenant(tenant).await?;
    let mut tx = app.db.begin().await?;
    let rows = privacy::erase_account(&mut tx, tenant, now_ms()).await?;
    tx.commit().await.context("erasing an account")?;
    if let Some(rows) = rows {
        tracing::info!(tenant_id = tenant.0, rows, "closed account erased after its grace period");
    }
    Ok(rows.is_some())
}

/// Every `every`, erases the closed accounts whose grace period is over. Any number of processes
/// may run it: the erasure's claim (a conditional update in its transaction) lets one do each.
pub async fn erasure(app: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.shutdown.cancelled() => return,
        }
        let due = match privacy::due_for_erasure(&app.db.pool, now_ms(), 10).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "looking for accounts to erase failed");
                continue;
            }
        };
        for tenant in due {
            if let Err(e) = erase(&app, tenant).await {
                tracing::warn!(tenant_id = tenant.0, error = %format!("{e:#}"), "could not erase a closed account; trying again later");
            }
        }
    }
}
