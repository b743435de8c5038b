//! The routing of stored Telegram updates to domain code: a business's bot's update goes to
//! billing (its payments) or answering; a manager-bot update goes to billing (`/plan`, payments,
//! its buttons), answering's handoff (the owner's replies and buttons) or the manager itself
//! (`managed_bot`, the owner's commands). Routing lives here so that those modules need not know
//! each other.
use super::AppState;
use super::jobs::{self, BotUpdateJob, ManagerUpdateJob};
use crate::jobs::{DEFAULT, Job, JobError};
use crate::manager::Manager;
use crate::storage;
use crate::telegram::{Update, UpdateKind};
use crate::{answering, billing};
use anyhow::Context;

/// The stored update `update_id` of `bot`.
async fn stored_update(app: &AppState, bot: crate::domain::BotId, update_id: i64) -> Result<Update, JobError> {
    let body = storage::updates::body(&app.db.pool, bot, update_id).await?.context("the stored update is missing")?;
    parse_update(&body)
}

fn parse_update(body: &str) -> Result<Update, JobError> {
    serde_json::from_str(body).map_err(|e| JobError::Permanent(anyhow::anyhow!("update does not parse: {e}")))
}

/// The `bot.update` job: one update of a business's bot.
#[tracing::instrument(name = "bot.update", skip_all, fields(tenant_id, bot_id, update_id))]
pub async fn child_update(app: AppState, job: Job) -> Result<(), JobError> {
    let started = std::time::Instant::now();
    let p: BotUpdateJob = job.payload()?;
    // The tenant the bot belonged to when the update was stored. Given to another owner since (a
    // `managed_bot` update committed in between), the update is handled for its owner now, as the
    // customer's next message will be — never dropped unanswered.
    let mut tenant = jobs::tenant_of(&job, "bot update")?;
    tracing::Span::current().record("tenant_id", tenant.0).record("bot_id", p.bot_id.0).record("update_id", p.update_id);
    for _ in 0..3 {
        match handle_child_update(&app, &job, &p, tenant, started).await? {
            Handled::Done => return Ok(()),
            Handled::Moved(now) => {
                tracing::info!(from_tenant = tenant.0, to_tenant = now.0, "the bot changed owner after this update was stored; handled for its owner now");
                tenant = now;
                tracing::Span::current().record("tenant_id", tenant.0);
            }
        }
    }
    Err(JobError::Retry(anyhow::anyhow!("the bot kept changing owner while its update was handled")))
}

/// The `bot.update.dead` job: a `bot.update` job was dead-lettered (its attempts used up, an
/// outage longer than `jobs.outage_budget_minutes`...). A customer's question it left
/// unanswered gets the bot's "can't answer right now" text, once, through the usual delivery
/// (answering decides whether the update was a question still waiting for a reply).
#[tracing::instrument(name = "bot.update.dead", skip_all, fields(tenant_id, bot_id, update_id))]
pub async fn child_update_dead(app: AppState, job: Job) -> Result<(), JobError> {
    let p: BotUpdateJob = job.payload()?;
    let tenant = jobs::tenant_of(&job, "bot update")?;
    tracing::Span::current().record("tenant_id", tenant.0).record("bot_id", p.bot_id.0).record("update_id", p.update_id);
    let Some(body) = storage::updates::body(&app.db.pool, p.bot_id, p.update_id).await? else { return Ok(()) };
    let update = parse_update(&body)?;
    // Not the tenant's bot any more (given away, disconnected): nobody to answer as.
    let Some(bot) = app.bots.open(tenant, p.bot_id).await.map_err(jobs::opening_failed)? else { return Ok(()) };
    let view = answering::bot_view(&app.answering, tenant, p.bot_id).await?;
    answering::could_not_answer(&app.answering, tenant, p.bot_id, &bot, view, update).await
}

/// What [`handle_child_update`] did: handled the update, or found the bot no longer the
/// tenant's but another's (to handle it for).
enum Handled {
    Done,
    Moved(crate::domain::TenantId),
}

async fn handle_child_update(app: &AppState, job: &Job, p: &BotUpdateJob, tenant: crate::domain::TenantId, started: std::time::Instant) -> Result<Handled, JobError> {
    // Every read the update needs, at once: one round trip's wait instead of four (on a busy
    // machine each one is a wait for a core, twice). Whether the customer wrote again since
    // (see `Arrival::more_waiting`), and the bot as answering sees it, are read even for an
    // update that turns out to need neither.
    let body = async { storage::updates::body(&app.db.pool, p.bot_id, p.update_id).await.map_err(JobError::from) };
    let bot = async { app.bots.open(tenant, p.bot_id).await.map_err(jobs::opening_failed) };
    let later = async {
        match &job.serial_key {
            Some(key) => storage::jobs::queued_after(&app.db.pool, key, job.id).await.map_err(JobError::from),
            None => Ok(Vec::new()),
        }
    };
    let view = answering::bot_view(&app.answering, tenant, p.bot_id);
    let (body, bot, later, view) = tokio::try_join!(body, bot, later, view)?;
    // Updates of the conversation waiting behind this one (usually none): whether one of them is
    // a question, which answers this one too (a burst).
    let later: Vec<i64> = later.iter().filter_map(|p| serde_json::from_str::<BotUpdateJob>(p).ok()).map(|j| j.update_id).collect();
    let more_waiting = !later.is_empty() && answering::asked_again(&app.answering, p.bot_id, &view, &later).await?;
    // Erased before it was handled — its customer asked (`/forget`, or the owner for them), or
    // the bot's data was deleted: nothing is left to answer.
    let Some(body) = body else {
        tracing::info!("the update was erased before it was handled; nothing to do");
        return Ok(Handled::Done);
    };
    let update = parse_update(&body)?;
    let Some(bot) = bot else {
        // Not the tenant's to drive any more: given to another owner (handled for them), or
        // disconnected or deleted (it answers nobody).
        return Ok(match storage::bots::managed_row(&app.db.pool, p.bot_id).await? {
            Some(row) if row.tenant_id != tenant => Handled::Moved(row.tenant_id),
            _ => Handled::Done,
        });
    };
    // A customer the bot's announcements had found blocked, back (a button press, a payment...).
    answering::customer_back(&app.db, tenant, p.bot_id, &update.kind).await?;
    // Payments to the business's bot (the optional customer paywall's packs).
    if billing::on_child_update(&app.billing, tenant, p.bot_id, &bot, &update).await? {
        return Ok(Handled::Done);
    }
    answering::on_update(&app.answering, tenant, p.bot_id, &bot, view, update, answering::Arrival { started, more_waiting, rerun: job.attempt > 1 }).await?;
    Ok(Handled::Done)
}

fn manager(app: &AppState) -> Result<&Manager, JobError> {
    app.manager.as_ref().ok_or_else(|| JobError::Permanent(anyhow::anyhow!("no manager bot is configured in this process")))
}

/// The `manager.update` job: one update the manager bot received.
#[tracing::instrument(name = "manager.update", skip_all, fields(update_id))]
pub async fn manager_update(app: AppState, job: Job) -> Result<(), JobError> {
    let p: ManagerUpdateJob = job.payload()?;
    tracing::Span::current().record("update_id", p.update_id);
    let m = manager(&app)?;
    let update = stored_update(&app, m.id, p.update_id).await?;
    let b = &app.billing;
    match update.kind {
        UpdateKind::PreCheckoutQuery(q) => billing::stars::pre_checkout(b, m, q).await,
        UpdateKind::CallbackQuery(q) if q.data.as_deref().is_some_and(|d| d.starts_with("bill:")) => billing::stars::callback(b, m, q).await,
        UpdateKind::Message(msg) if billing::stars::handles(&msg) => {
            billing::stars::message(b, m, msg).await?;
            // A payment may have upgraded a plan: parked bots that fit now are provisioned.
            super::parking::provision_parked_everywhere(&app).await?;
            Ok(())
        }
        UpdateKind::ManagedBot(mbu) => {
            let token = crate::manager::updates::fetch_token(m, &mbu).await?;
            // An owner whose closed account is past its grace period and not erased yet: the
            // erasure first (it cannot be reopened in between), then the new bot starts afresh.
            let owner = crate::domain::UserId(mbu.user.id);
            if let Some(t) = crate::storage::tenants::find_by_owner(&app.db.pool, owner).await?
                && crate::storage::privacy::erasure_due(&app.db.pool, t.id, crate::storage::now_ms()).await?
            {
                super::account::erase(&app, t.id).await?;
            }
            let mut tx = app.db.begin().await?;
            let mut parked = None;
            // Read before recording: a new token sets the bot's status to provisioning.
            let before = crate::storage::bots::managed_row(&mut *tx, crate::domain::BotId(mbu.bot.id)).await?;
            if let Some(p) = crate::manager::updates::record_managed_bot(&mut tx, &app.keys, update.update_id, &mbu, &token).await? {
                let same_business = before.as_ref().filter(|r| r.tenant_id == p.tenant);
                let was_parked = same_business.is_some_and(|r| r.status == "parked");
                // A bot that already had its place in this business (a new token for a live bot)
                // keeps it, as a plan that lapsed keeps live bots live: parked, it would go silent
                // for customers who are using it. A bot new to the business, or parked, gets a
                // place only within the plan's number of bots.
                let has_place = same_business.is_some() && !was_parked;
                match if has_place { None } else { super::parking::park_if_over_plan(&mut tx, &app.cfg.billing, p.tenant, p.bot).await? } {
                    Some(full) => parked = (!was_parked).then_some((p.tenant, full)),
                    None => {
                        app.queue.enqueue_in(&mut tx, &jobs::provision(&app.queue, p.tenant, p.bot)).await?;
                    }
                }
            }
            tx.commit().await?;
            app.queue.notify(DEFAULT);
            // A bot given to another owner leaves a place on its earlier business's plan: a bot
            // of theirs parked for want of one takes it, as after a disconnect.
            if let Some(earlier) = before.as_ref().map(|r| r.tenant_id)
                && crate::storage::bots::managed_row(&app.db.pool, crate::domain::BotId(mbu.bot.id)).await?.is_some_and(|r| r.tenant_id != earlier)
            {
                super::parking::provision_parked(&app, earlier).await?;
            }
            if let Some((tenant, full)) = parked {
                let username = mbu.bot.username.clone().unwrap_or_default();
                super::parking::tell_owner(&app, m, tenant, &username, &full).await;
            }
            Ok(())
        }
        UpdateKind::Message(msg) => {
            if answering::handoff::on_owner_message(&app.db, &app.bots, m, update.update_id, &msg, job.attempt >= job.max_attempts).await? {
                return Ok(());
            }
            crate::manager::updates::message(&app.db, &app.cfg.public_url, m, msg).await
        }
        UpdateKind::CallbackQuery(q) => {
            answering::handoff::on_owner_callback(&app.db, &app.bots, m, update.update_id, &q).await?;
            Ok(())
        }
        _ => {
            tracing::debug!("manager update of a kind it does not handle; recorded only");
            Ok(())
        }
    }
}
