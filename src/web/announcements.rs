//! Announcements page: the owner writes one message to everyone who talked to a bot in the last
//! N days; it is sent in the background within Telegram's limits, with its progress shown here
//! (the page's script refreshes it from `…/progress`; without the script, reloading does).
use super::AppError;
use super::auth::Owner;
use super::pages::{ago, render};
use crate::answering::announce::{self, MAX_CHARS, MAX_DAYS, WriteError};
use crate::app::{AppState, jobs};
use crate::storage::announcements::{self, Announcement, AnnouncementId, Status};
use crate::domain::BotId;
use crate::storage::{bots, now_ms};
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// Announcements shown on the page.
const SHOWN: i64 = 20;
/// The look-back the form suggests, in days.
const DEFAULT_DAYS: i64 = 30;
/// What the page says of a paused bot (an announcement under way when it was paused stopped).
const PAUSED: &str = "This bot is paused, so it sends no announcements. One that was still going out when you paused the bot stopped there: the customers it hadn't reached yet don't get it. Resume the bot on its settings page to send one.";

pub struct BotChoice {
    pub id: i64,
    pub label: String,
    pub chosen: bool,
}

pub struct Row {
    pub a: Announcement,
    pub at: String,
    pub done: i64,
}

#[derive(Template)]
#[template(path = "admin_announcements.html")]
struct Page {
    tab: &'static str,
    csrf: String,
    /// The form's one-time token: a second post of the same form sends nothing more.
    once: String,
    bots: Vec<BotChoice>,
    bot_id: i64,
    bot_name: String,
    /// Customers an announcement with `days` would reach now.
    audience: i64,
    /// Customers of those days it would leave out, in words ([`left_out`]); empty for none.
    left_out: String,
    days: i64,
    text: String,
    max_chars: usize,
    max_days: i64,
    rows: Vec<Row>,
    notice: Option<String>,
    /// The announcement the notice says is being sent (the page's script takes the notice away
    /// once it is done).
    sending: Option<i64>,
    problem: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct Shown {
    #[serde(default)]
    bot: Option<i64>,
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    sent: Option<i64>,
}

/// The tenant's bots that can send (not disconnected or deleted), and the chosen one (`want`,
/// else the first).
async fn choose(app: &AppState, owner: &Owner, want: Option<i64>) -> Result<(Vec<bots::Bot>, Option<bots::Bot>), AppError> {
    let all: Vec<bots::Bot> = bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?.into_iter().filter(|b| b.status != bots::DISCONNECTED && b.status != bots::DELETED).collect();
    let chosen = match want {
        Some(id) => Some(all.iter().find(|b| b.id.0 == id).cloned().ok_or(AppError::NotFound)?),
        None => all.first().cloned(),
    };
    Ok((all, chosen))
}

/// `sent`: the number of customers the announcement just written goes to, to say so above it
/// while it is being sent (once it is done, its row says so, and the notice goes).
async fn page(app: &AppState, owner: &Owner, want: Option<i64>, days: i64, text: String, sent: Option<i64>, problem: Option<String>) -> Result<Response, AppError> {
    let (all, chosen) = choose(app, owner, want).await?;
    let Some(bot) = chosen else {
        return Ok(Redirect::to("/app").into_response()); // no bot yet: the home page says how to make one
    };
    let now = now_ms();
    let rows = announcements::list(&app.db.pool, owner.tenant_id, bot.id, SHOWN)
        .await?
        .into_iter()
        .map(|a| Row { at: ago(a.created_at, now), done: a.total - a.pending(), a })
        .collect::<Vec<_>>();
    // The newest row is the one just written: still going out, the notice says so (the page's
    // script takes it away once it is done); done, the row alone says how it went.
    let sending = sent.filter(|n| *n > 0).and(rows.first()).filter(|r| r.a.status != Status::Done).map(|r| r.a.id.0);
    let notice = match sent {
        Some(0) => Some("Nobody to send it to: no customer of this bot wrote in that many days (or they all sent /stop).".to_owned()),
        Some(1) if sending.is_some() => Some("Sending to 1 customer. You can leave this page: it goes on in the background.".to_owned()),
        Some(n) if sending.is_some() => Some(format!("Sending to {n} customers, within Telegram's limits (about 20 a second). You can leave this page: it goes on in the background.")),
        _ => None,
    };
    let audience = announcements::audience(&app.db.pool, owner.tenant_id, bot.id, days.clamp(1, MAX_DAYS)).await?;
    let bots = all.iter().map(|b| BotChoice { id: b.id.0, label: format!("{} (@{})", b.name, b.username), chosen: b.id == bot.id }).collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let notice = if bot.paused && problem.is_none() { Some(PAUSED.to_owned()) } else { notice };
    let mut r = render(&Page {
        tab: "announcements",
        csrf: owner.csrf.clone(),
        once: crate::manager::login::random_token(),
        bots,
        bot_id: bot.id.0,
        bot_name: bot.name.clone(),
        audience: audience.reached,
        left_out: left_out(audience.unreachable),
        days,
        text,
        max_chars: MAX_CHARS,
        max_days: MAX_DAYS,
        rows,
        notice,
        sending,
        problem,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// The form's words for `n` customers an announcement would leave out because they blocked the
/// bot; empty for none.
fn left_out(n: i64) -> String {
    match n {
        0 => String::new(),
        1 => "1 more is left out: they blocked the bot (or left Telegram), so messages can't reach them. Once they write to the bot again, they get announcements again.".into(),
        n => format!("{n} more are left out: they blocked the bot (or left Telegram), so messages can't reach them. Once they write to the bot again, they get announcements again."),
    }
}

/// What the form says an announcement would reach (`…/audience`).
#[derive(serde::Serialize)]
pub struct AudienceNow {
    days: i64,
    audience: i64,
    /// [`left_out`]'s words.
    left_out: String,
}

#[derive(serde::Deserialize)]
pub struct AudienceQuery {
    bot: i64,
    days: i64,
}

/// `GET /app/announcements/audience?bot=ID&days=N`: whom an announcement to the customers of the
/// last N days would reach now — the page's script asks as the owner changes the days, so the
/// number beside them is never the one of other days.
pub async fn audience(State(app): State<AppState>, owner: Owner, Query(q): Query<AudienceQuery>) -> Result<Response, AppError> {
    let (_, chosen) = choose(&app, &owner, Some(q.bot)).await?;
    let bot = chosen.ok_or(AppError::NotFound)?;
    let days = q.days.clamp(1, MAX_DAYS);
    let a = announcements::audience(&app.db.pool, owner.tenant_id, bot.id, days).await?;
    Ok(Json(AudienceNow { days, audience: a.reached, left_out: left_out(a.unreachable) }).into_response())
}

/// `GET /app/announcements[?bot=ID&days=N]`.
pub async fn show(State(app): State<AppState>, owner: Owner, Query(q): Query<Shown>) -> Result<Response, AppError> {
    page(&app, &owner, q.bot, q.days.unwrap_or(DEFAULT_DAYS), String::new(), q.sent, None).await
}

#[derive(serde::Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: i64,
    /// The form's one-time token (see [`Page::once`]).
    #[serde(default)]
    once: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    days: String,
    /// The "send to N customers" confirmation box.
    #[serde(default)]
    confirm: Option<String>,
}

/// The longest one-time form token kept (ours are 43 characters); a longer one is ignored.
const MAX_ONCE: usize = 100;

/// Where the owner goes once announcement `a` of `bot` is written (or found written already).
fn written(bot: BotId, a: &Announcement) -> Response {
    Redirect::to(&format!("/app/announcements?bot={}&sent={}", bot.0, a.total)).into_response()
}

/// `POST /app/announcements`: writes it, chooses its recipients and queues the sending, at once.
/// Once per form: the same form posted again (a double-click on Send, a resubmitted page) shows
/// the announcement it wrote the first time, and sends nothing more.
pub async fn create(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<NewForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let (_, chosen) = choose(&app, &owner, Some(f.bot)).await?;
    let bot = chosen.ok_or(AppError::NotFound)?;
    let once = Some(f.once.trim()).filter(|t| !t.is_empty() && t.len() <= MAX_ONCE);
    if let Some(token) = once
        && let Some(a) = announcements::by_form_token(&app.db.pool, owner.tenant_id, token).await?
    {
        return Ok(written(a.bot_id, &a));
    }
    let days = f.days.trim().parse::<i64>().unwrap_or(0);
    let refuse = |why: String| page(&app, &owner, Some(f.bot), if (1..=MAX_DAYS).contains(&days) { days } else { DEFAULT_DAYS }, f.text.clone(), None, Some(why));
    if let Err(why) = announce::check(&f.text, days) {
        return refuse(why).await;
    }
    if bot.status != "live" {
        return refuse("This bot is not connected to Telegram right now, so it cannot send. Check its settings page.".into()).await;
    }
    if bot.paused {
        return refuse(PAUSED.into()).await;
    }
    if f.confirm.as_deref() != Some("yes") {
        return refuse("Tick the box to confirm that this message goes to all these customers, then press Send again.".into()).await;
    }
    let mut tx = app.db.begin().await?;
    let a = match announce::write_once(&mut tx, owner.tenant_id, bot.id, &f.text, days, once).await {
        Ok(Some(a)) => a,
        // Posted twice at once: the other post wrote it (and queued its sending) meanwhile.
        Ok(None) => {
            drop(tx);
            let token = once.unwrap_or_default();
            let a = announcements::by_form_token(&app.db.pool, owner.tenant_id, token).await?.ok_or(AppError::NotFound)?;
            return Ok(written(a.bot_id, &a));
        }
        Err(WriteError::Invalid(why)) => return refuse(why).await,
        Err(WriteError::Db(e)) => return Err(e.into()),
    };
    if a.total > 0 {
        app.queue.enqueue_in(&mut tx, &jobs::announce(&app.queue, owner.tenant_id, bot.id, a.id)).await?;
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    app.queue.notify(jobs::ANNOUNCE_QUEUE);
    tracing::info!(tenant_id = owner.tenant_id.0, bot_id = bot.id.0, announcement = a.id.0, recipients = a.total, "announcement written");
    Ok(written(bot.id, &a))
}

#[derive(serde::Serialize)]
pub struct Progress {
    status: String,
    total: i64,
    done: i64,
    sent: i64,
    blocked: i64,
    failed: i64,
    unknown: i64,
    stopped: i64,
    /// Left out when it was written: they had blocked the bot.
    unreachable: i64,
}

/// `GET /app/announcements/{id}/progress`: how far sending has got (the page's script reads it).
pub async fn progress(State(app): State<AppState>, owner: Owner, Path(id): Path<AnnouncementId>) -> Result<Response, AppError> {
    let a = announcements::get(&app.db.pool, owner.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    let done = a.total - a.pending();
    Ok(Json(Progress { status: a.status.to_string(), total: a.total, done, sent: a.sent, blocked: a.blocked, failed: a.failed, unknown: a.unknown, stopped: a.stopped, unreachable: a.unreachable }).into_response())
}
