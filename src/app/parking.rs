//! The plan's number of bots. A business's bot past it is **parked**: it exists in Telegram, but
//! bellhop does not connect it (no webhook, so it answers nobody) and its owner is told why, in
//! the manager chat. When the business upgrades, parked bots are provisioned, oldest first, up to
//! the new plan's number. Checks and changes happen under the tenant's lock, so two bots created
//! at once cannot both take the last place.
use super::AppState;
use crate::billing::account;
use crate::domain::{BotId, TenantId};
use crate::manager::Manager;
use crate::storage::{self, Conn, bots};
use crate::telegram::html::escape;
use crate::telegram::methods::SendMessage;

/// The plan a bot did not fit: its name and number of bots.
#[derive(Debug, Clone)]
pub struct Full {
    pub plan: String,
    pub bots: i64,
}

/// In the caller's transaction (the one that recorded the bot): whether `bot` fits `tenant`'s
/// plan beside its other unparked bots. `Some` when it does not — then it is parked here.
/// A parked bot that fits now (after an upgrade) is unparked: the caller provisions it.
pub async fn park_if_over_plan(tx: &mut Conn, cfg: &crate::config::BillingConfig, tenant: TenantId, bot: BotId) -> anyhow::Result<Option<Full>> {
    storage::tenants::lock(tx, tenant).await?;
    let now = storage::now_ms();
    let acc = account::open(tx, cfg, tenant, now).await?;
    let plan = account::effective_plan(cfg, &acc, now);
    let others = bots::count_unparked(&mut *tx, tenant, bot).await?;
    if others >= plan.bots {
        let reason = format!("The {} plan includes {} — upgrade to use this one.", plan.name, bots_word(plan.bots));
        bots::set_status(&mut *tx, tenant, bot, "parked", Some(&reason)).await?;
        return Ok(Some(Full { plan: plan.name.clone(), bots: plan.bots }));
    }
    if bots::status_of(&mut *tx, tenant, bot).await?.as_deref() == Some("parked") {
        bots::set_status(&mut *tx, tenant, bot, "provisioning", None).await?;
    }
    Ok(None)
}

fn bots_word(n: i64) -> String {
    if n == 1 { "1 bot".into() } else { format!("{n} bots") }
}

/// Tells the owner why `username` is parked and how to bring it to life. Best effort: the bot's
/// status (shown on the admin page) says the same.
pub async fn tell_owner(app: &AppState, manager: &Manager, tenant: TenantId, username: &str, full: &Full) {
    let Ok(Some(t)) = storage::tenants::get(&app.db.pool, tenant).await else { return };
    let text = format!(
        "🅿️ <b>@{u} is parked.</b> Your {plan} plan includes {n}, so I haven't connected it: it doesn't answer anyone yet.\n\n\
         To use it, upgrade — send /plan here, or open Billing on your admin page — and it starts working as soon as you do. \
         (Or delete a bot you no longer need in @BotFather.)",
        u = escape(username),
        plan = escape(&full.plan),
        n = bots_word(full.bots)
    );
    if let Err(e) = manager.bot.send_message(&SendMessage::html(t.owner_user_id.0, text)).await {
        tracing::warn!(tenant_id = tenant.0, error = %e, "could not tell the owner their bot is parked");
    }
}

/// After a plan change or a disconnect: provisions the tenant's parked bots, oldest first, as far
/// as its plan now allows. Returns how many. None of a closed account: closing it disconnects
/// every bot, and each disconnect frees a place no parked bot may take.
pub async fn provision_parked(app: &AppState, tenant: TenantId) -> anyhow::Result<usize> {
    let mut tx = app.db.begin().await?;
    storage::tenants::lock(&mut tx, tenant).await?;
    if storage::privacy::is_closed(&mut *tx, tenant).await? {
        return Ok(0);
    }
    let now = storage::now_ms();
    let acc = account::open(&mut tx, &app.cfg.billing, tenant, now).await?;
    let plan = account::effective_plan(&app.cfg.billing, &acc, now);
    let parked = bots::parked(&mut *tx, tenant).await?;
    let used = bots::count_unparked(&mut *tx, tenant, BotId(0)).await?;
    let room = (plan.bots - used).max(0) as usize;
    let unparked: Vec<BotId> = parked.into_iter().take(room).collect();
    for bot in &unparked {
        bots::set_status(&mut *tx, tenant, *bot, "provisioning", None).await?;
        app.queue.enqueue_in(&mut tx, &super::jobs::provision(&app.queue, tenant, *bot)).await?;
    }
    tx.commit().await?;
    if !unparked.is_empty() {
        app.queue.notify(crate::jobs::DEFAULT);
        tracing::info!(tenant_id = tenant.0, bots = unparked.len(), "parked bots provisioned after a plan change");
    }
    Ok(unparked.len())
}

/// [`provision_parked`] for every business with a parked bot (after any payment or plan event:
/// cheap, as parked bots are few).
pub async fn provision_parked_everywhere(app: &AppState) -> anyhow::Result<()> {
    for tenant in bots::tenants_with_parked_bots(&app.db.pool).await? {
        provision_parked(app, tenant).await?;
    }
    Ok(())
}
