//! The admin pages of a signed-in owner. Every query here is scoped to `owner.tenant_id`.
use super::AppError;
use super::auth::{CsrfForm, Owner};
use super::pages::render;
use crate::app::AppState;
use crate::domain::BotId;
use crate::storage;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "admin_home.html")]
struct Home {
    tab: &'static str,
    tenant_name: String,
    bots: Vec<BotRow>,
    csrf: String,
    manager: String,
    /// Where a bot's @username links to: `telegram.links_url` (Telegram, or the demo's sandbox).
    links: String,
    notice: Option<String>,
    /// Any source or Q&A pair, for any bot.
    has_knowledge: bool,
    /// Connected bots with nothing to answer from yet (no source or Q&A pair of their own or
    /// shared with them): (id, username).
    untaught: Vec<(i64, String)>,
}

/// A bot on the home page, with what Telegram says is wrong with its webhook, if anything.
pub struct BotRow {
    pub bot: storage::bots::Bot,
    pub webhook_problem: Option<String>,
}

/// Longest wait for Telegram's answer about one bot's webhook: the page never hangs on it.
const HEALTH_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(serde::Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    repair: Option<String>,
    #[serde(default)]
    deleted: Option<String>,
}

pub async fn home(State(app): State<AppState>, owner: Owner, Query(q): Query<HomeQuery>) -> Result<Response, AppError> {
    let tenant = storage::tenants::get(&app.db.pool, owner.tenant_id).await?.ok_or(AppError::NotFound)?;
    let bots = storage::bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?;
    // A live bot may still be silently dead (its webhook refused or pointing elsewhere): ask
    // Telegram, all bots at once, each with a time limit.
    let checks = bots.iter().map(|b| async {
        if b.status != "live" {
            return None;
        }
        let bot = app.bots.open(owner.tenant_id, b.id).await.ok().flatten()?;
        // With long polling the bot must have no webhook at all.
        let expected = match app.cfg.telegram.updates {
            crate::config::Updates::Webhook => app.cfg.public_url.join(&format!("tg/bot/{}", b.id)).ok()?.to_string(),
            crate::config::Updates::Polling => String::new(),
        };
        let last = storage::updates::last_received(&app.db.pool, b.id).await.ok().flatten();
        tokio::time::timeout(HEALTH_CHECK, crate::manager::health::webhook_problem(&bot, &expected, last)).await.ok().flatten()
    });
    let problems = futures::future::join_all(checks).await;
    let deleted = q.deleted.map(|_| "Deleted. The bot is disconnected and what its customers left here is erased. The bot itself is still yours in Telegram.".to_owned());
    let notice = deleted.or(q.repair.map(|u| format!("Reconnecting @{} to Telegram — this takes a few seconds. Reload the page to see it.", u.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(32).collect::<String>())));
    // The next step is teaching the bots until each knows something; then trying them.
    let mut has_knowledge = storage::sources::count(&app.db.pool, owner.tenant_id).await? > 0;
    let mut untaught = Vec::new();
    for b in bots.iter().filter(|b| b.status != storage::bots::DISCONNECTED) {
        let sources = storage::sources::list_for(&app.db.pool, owner.tenant_id, Some(b.id)).await?;
        let taught = sources.iter().any(|s| s.status != "deleting" && !(s.status == "failed" && s.chunk_count == 0))
            || storage::sources::count_qa(&app.db.pool, owner.tenant_id, Some(b.id)).await? > 0;
        has_knowledge |= taught;
        if !taught {
            untaught.push((b.id.0, b.username.clone()));
        }
    }
    render(&Home {
        has_knowledge,
        untaught,
        tab: "home",
        tenant_name: tenant.name,
        bots: bots.into_iter().zip(problems).map(|(bot, webhook_problem)| BotRow { bot, webhook_problem }).collect(),
        csrf: owner.csrf.clone(),
        manager: app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default(),
        links: app.cfg.telegram.links_url.as_str().trim_end_matches('/').to_owned(),
        notice,
    })
}

/// `POST /app/bots/{bot_id}/repair`: connects the bot to Telegram again (the provisioning job:
/// a fresh webhook secret, the webhook, commands and descriptions).
pub async fn repair(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let bot = BotId(bot_id);
    let Some(b) = storage::bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?.into_iter().find(|b| b.id == bot) else {
        return Err(AppError::NotFound);
    };
    app.queue.enqueue(&crate::app::jobs::provision(&app.queue, owner.tenant_id, bot)).await?;
    tracing::info!(tenant_id = owner.tenant_id.0, bot_id, "the owner asked to reconnect a bot");
    Ok(Redirect::to(&format!("/app?repair={}", b.username)).into_response())
}
