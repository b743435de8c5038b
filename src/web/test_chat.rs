//! The test chat: the owner asks a question in the browser and gets what a customer would get —
//! the same pipeline as in Telegram (`answering::pipeline`: Q&A pair, retrieval, the model
//! answering from confident passages with checked citations, or the "couldn't answer" text), in
//! the voice of the chosen bot's settings. Nothing is sent to Telegram and no conversation is
//! stored: the recent exchange travels in the page itself (a hidden field), so the page works
//! without JavaScript and without state on the server.
//!
//! Metered like any answer: an AI answer here spends one of the plan's answers (reserved before
//! the model runs, settled or released after, as for a customer) and its model tokens count
//! toward the day's budget — otherwise a script on the Free plan would get unlimited model calls
//! at the operator's cost. The page says how many answers are left.
use super::AppError;
use super::auth::Owner;
use super::conversations::{SourceLink, source_links};
use super::pages::render;
use crate::answering::compose;
use crate::answering::pipeline;
use crate::answering::prompt::{Turn, Voice};
use crate::answering::settings;
use crate::app::AppState;
use crate::domain::{BotId, TenantId};
use crate::storage::{bot_settings, bots};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

/// Exchanges kept in the page (the newest), and the longest question.
const KEEP: usize = 6;
const MAX_QUESTION: usize = 1000;

/// One question and the answer it got, as carried from page to page.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    pub q: String,
    pub a: String,
    pub kind: String,
    #[serde(default)]
    pub sources: Vec<compose::Cited>,
}

pub struct ShownExchange {
    pub question: String,
    pub answer: String,
    pub badge: (&'static str, &'static str),
    pub sources: Vec<SourceLink>,
}

pub struct BotChoice {
    pub id: i64,
    pub username: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin_test_chat.html")]
struct TestChatPage {
    tab: &'static str,
    csrf: String,
    bots: Vec<BotChoice>,
    bot_id: i64,
    exchanges: Vec<ShownExchange>,
    history: String,
    problem: Option<String>,
    /// "Each AI answer here counts toward your plan …: 12 of 100 answers left this month."
    allowance: String,
}

fn badge(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "answer" => ("AI answer from your sources", "ok"),
        "extractive" => ("quoted from your sources", "ok"),
        "qa" => ("your Q&A answer", "ok"),
        "unavailable" => ("your plan's AI answers for this month are used up — customers get this text too", "bad"),
        _ => ("couldn't answer — a customer would be offered a person", "bad"),
    }
}

/// The carried exchanges: whatever parses, capped, and nothing larger than a page would hold.
fn carried(history: &str) -> Vec<Exchange> {
    if history.len() > 64 * 1024 {
        return vec![];
    }
    let mut v: Vec<Exchange> = serde_json::from_str(history).unwrap_or_default();
    let drop = v.len().saturating_sub(KEEP);
    v.drain(..drop);
    v
}

async fn page(app: &AppState, owner: &Owner, bot: Option<i64>, exchanges: Vec<Exchange>, problem: Option<String>) -> Result<Response, AppError> {
    let list = bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?;
    let bot_id = bot.filter(|b| list.iter().any(|x| x.id.0 == *b)).or(list.first().map(|b| b.id.0)).unwrap_or(0);
    let history = serde_json::to_string(&exchanges).unwrap_or_else(|_| "[]".into());
    let shown = exchanges
        .into_iter()
        .map(|e| ShownExchange { badge: badge(&e.kind), sources: source_links(&serde_json::to_string(&e.sources).unwrap_or_default()), question: e.q, answer: e.a })
        .collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (acc, plan, usage) = crate::billing::account::current(&app.db, &app.cfg.billing, owner.tenant_id, crate::storage::now_ms()).await?;
    let packs = if acc.pack_credits > 0 { format!(", plus {} from answer packs", acc.pack_credits) } else { String::new() };
    let allowance = format!(
        "Each AI answer here counts toward your plan, like a customer's question: {} of {} answers of the {} plan left this month{packs}.",
        acc.plan_credits.max(0),
        usage.allowance,
        plan.name
    );
    let mut r = render(&TestChatPage {
        tab: "test",
        csrf: owner.csrf.clone(),
        bots: list.into_iter().map(|b| BotChoice { selected: b.id.0 == bot_id, id: b.id.0, username: b.username }).collect(),
        bot_id,
        exchanges: shown,
        history,
        problem,
        allowance,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

#[derive(serde::Deserialize)]
pub struct Which {
    #[serde(default)]
    bot: Option<i64>,
}

/// `GET /app/test-chat`.
pub async fn show(State(app): State<AppState>, owner: Owner, Query(w): Query<Which>) -> Result<Response, AppError> {
    page(&app, &owner, w.bot, vec![], None).await
}

#[derive(serde::Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bot: Option<i64>,
    #[serde(default)]
    question: String,
    #[serde(default)]
    history: String,
    /// "Start over" empties the exchange.
    #[serde(default)]
    reset: Option<String>,
}

/// `POST /app/test-chat`: asks, and shows the page with the new exchange at the end.
pub async fn ask(State(app): State<AppState>, owner: Owner, axum::Form(f): axum::Form<AskForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if f.reset.is_some() {
        return page(&app, &owner, f.bot, vec![], None).await;
    }
    let mut exchanges = carried(&f.history);
    let question = f.question.trim();
    if question.is_empty() || question.chars().count() > MAX_QUESTION {
        return page(&app, &owner, f.bot, exchanges, Some("Write a question of up to 1,000 characters.".into())).await;
    }
    let list = bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?;
    let Some(bot) = f.bot.filter(|b| list.iter().any(|x| x.id.0 == *b)).or(list.first().map(|b| b.id.0)).map(BotId) else {
        return page(&app, &owner, None, exchanges, Some("You have no bot yet. Create one first, then try it here.".into())).await;
    };
    // A bot that is not one of the owner's (another business's, a deleted one) is not asked, and
    // nothing is counted: never the first bot instead, whose answer would pass for the other's.
    if f.bot.is_some_and(|b| b != bot.0) {
        let problem = "Not asked: the bot you were trying is not one of your bots (was it deleted?). Nothing was counted toward your plan.";
        return page(&app, &owner, None, exchanges, Some(problem.into())).await;
    }
    let e = answer(&app, owner.tenant_id, bot, &exchanges, question).await?;
    exchanges.push(e);
    let drop = exchanges.len().saturating_sub(KEEP);
    exchanges.drain(..drop);
    page(&app, &owner, Some(bot.0), exchanges, None).await
}

/// A customer's question through the one answer pipeline, without Telegram: no conversation
/// stored, nothing drafted — but metered like a customer's question (a credit reserved under a
/// key of its own, the model tokens counted for the day).
#[tracing::instrument(name = "answering.test_chat", skip_all, fields(tenant_id = tenant.0, bot_id = bot.0))]
async fn answer(app: &AppState, tenant: TenantId, bot: BotId, earlier: &[Exchange], question: &str) -> Result<Exchange, AppError> {
    let business = bots::profile(&app.db.pool, tenant, bot).await?.ok_or(AppError::NotFound)?.name;
    let s = bot_settings::get(&app.db.pool, tenant, bot).await?;
    // The owner trying the bot in a language sees what a customer writing it would.
    let language = crate::answering::language::customer_language(None, question);
    let texts = settings::texts_in(&s, &business, crate::answering::language::Lang::of(language.as_deref()));
    let history: Vec<Turn> = earlier
        .iter()
        .flat_map(|e| [Turn { customer: true, text: e.q.clone() }, Turn { customer: false, text: e.a.clone() }])
        .filter(|t| !t.text.is_empty())
        .collect();
    let voice = Voice { business: &business, persona: &s.persona, tone: &s.tone, extra: &s.extra_instructions, language: language.as_deref() };
    let key = format!("test:{}:{}", bot.0, uuid::Uuid::new_v4().simple());
    let request = pipeline::Request { tenant, bot, voice, texts: &texts, history: &history, question, credit_key: Some(&key), early: None };
    let mut answer = pipeline::answer(&app.answering.pipeline, &request, None).await?;
    // The owner sees it at once: its credit is spent.
    answer.settle(&app.db).await?;
    let r = answer.reply;
    if r.tokens > 0 {
        let today = crate::storage::now_ms() / 86_400_000;
        crate::storage::conversations::add_usage(&app.db.pool, tenant, today, r.tokens as i64).await?;
    }
    Ok(Exchange { q: question.into(), a: r.text, kind: r.kind.as_str().into(), sources: r.sources })
}
