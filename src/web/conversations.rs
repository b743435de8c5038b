//! The owner's conversations: the list, one transcript with the sources and feedback of each bot
//! answer, and the same handoff actions as the manager chat — reply to the customer through the
//! bot, or hand the conversation back to the assistant. Every query is scoped to the signed-in
//! owner's tenant, so another tenant's conversation id is simply not found.
use crate::domain::conversation::{Author, ChatKind, ConversationId, Delivery, MessageKind, Mode};
use super::AppError;
use super::auth::{CsrfForm, Owner};
use super::pages::{ago, render};
use crate::answering::compose::Cited;
use crate::answering::handoff;
use crate::jobs::JobError;
use crate::app::AppState;
use crate::storage::{self, conversations, insight, now_ms};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

/// How many conversations one page of the list shows.
const PAGE: i64 = 50;
/// Longest reply an owner may send (Telegram allows 4,096 characters in a message).
const MAX_REPLY: usize = 4000;

pub struct ConversationRow {
    pub id: ConversationId,
    pub customer: String,
    pub bot: String,
    pub group: bool,
    pub at: String,
    pub with_person: bool,
    pub thumbs_down: i64,
}

#[derive(Template)]
#[template(path = "admin_conversations.html")]
struct ListPage {
    tab: &'static str,
    csrf: String,
    rows: Vec<ConversationRow>,
    notice: Option<String>,
    /// The search, as typed.
    q: String,
    /// How many conversations match, and which of them this page shows (1-based).
    total: i64,
    first: i64,
    last: i64,
    newer: Option<String>,
    older: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    deleted: Option<String>,
    /// Words to find in the customer's name or any message.
    #[serde(default)]
    q: Option<String>,
    /// The page, from 1.
    #[serde(default)]
    page: Option<i64>,
}

/// The list's address for page `page` of search `q`.
fn list_url(q: &str, page: i64) -> String {
    let mut url = String::from("/app/conversations");
    let mut sep = '?';
    if !q.is_empty() {
        url.push_str(&format!("{sep}q={}", urlencoding::encode(q)));
        sep = '&';
    }
    if page > 1 {
        url.push_str(&format!("{sep}page={page}"));
    }
    url
}

/// A name to show for a customer (Telegram names can be empty after trimming).
fn display_name(name: &str) -> String {
    if name.trim().is_empty() { "A customer".into() } else { name.trim().to_owned() }
}

async fn bot_names(app: &AppState, owner: &Owner) -> Result<HashMap<i64, String>, AppError> {
    Ok(storage::bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?.into_iter().map(|b| (b.id.0, format!("@{}", b.username))).collect())
}

/// `GET /app/conversations[?q=words&page=N]`: newest first, a page at a time; with `q`, those
/// whose customer's name or any message contains the words.
pub async fn list(State(app): State<AppState>, owner: Owner, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let search = q.q.as_deref().map(str::trim).unwrap_or_default().chars().take(200).collect::<String>();
    let total = insight::count(&app.db.pool, owner.tenant_id, Some(&search)).await?;
    let pages = (total + PAGE - 1) / PAGE;
    let page = q.page.unwrap_or(1).clamp(1, pages.max(1));
    let convs = insight::search(&app.db.pool, owner.tenant_id, Some(&search), PAGE, (page - 1) * PAGE).await?;
    let first = if total == 0 { 0 } else { (page - 1) * PAGE + 1 };
    let last = first + convs.len() as i64 - i64::from(total > 0);
    let down: HashMap<ConversationId, i64> = conversations::thumbs_down_counts(&app.db.pool, owner.tenant_id).await?.into_iter().map(|t| (t.conversation_id, t.count)).collect();
    let bots = bot_names(&app, &owner).await?;
    let now = now_ms();
    let rows = convs
        .into_iter()
        .map(|c| ConversationRow {
            id: c.id,
            customer: display_name(&c.customer_name),
            bot: bots.get(&c.bot_id.0).cloned().unwrap_or_else(|| "a bot you no longer have".into()),
            group: c.chat_kind != ChatKind::Private,
            at: ago(c.last_message_at, now),
            with_person: c.mode == Mode::Human,
            thumbs_down: down.get(&c.id).copied().unwrap_or(0),
        })
        .collect();
    let notice = q.deleted.map(|_| "Deleted. That customer's messages, your bot's replies, their ratings and what Telegram delivered from them are gone for good.".to_owned());
    let newer = (page > 1).then(|| list_url(&search, page - 1));
    let older = (page < pages).then(|| list_url(&search, page + 1));
    render(&ListPage { tab: "conversations", csrf: owner.csrf.clone(), rows, notice, q: search, total, first, last, newer, older })
}

pub struct Bubble {
    /// `customer`, `bot` or `owner`.
    pub author: String,
    pub text: String,
    pub at: String,
    /// A plain-words label for how the bot replied ("couldn't answer", …), if worth showing.
    pub badge: Option<(&'static str, &'static str)>,
    pub sources: Vec<SourceLink>,
    /// 1 (👍), -1 (👎), 0 (none).
    pub feedback: i64,
    /// A reply of the bot or the owner not (yet) delivered to the customer.
    pub pending: bool,
    /// A reply Telegram didn't confirm: it may have arrived, and is not sent again.
    pub unconfirmed: bool,
    /// A customer's message during a handoff that could not be passed on to the owner in
    /// Telegram.
    pub not_passed_on: bool,
}

pub struct SourceLink {
    pub n: usize,
    pub title: String,
    /// Only web addresses become links.
    pub url: Option<String>,
}

/// (label, pill class) for a bot reply's kind.
fn badge(kind: MessageKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        MessageKind::Answer => ("AI answer", "ok"),
        MessageKind::Extractive => ("quoted from your sources", "ok"),
        MessageKind::Qa => ("your Q&A answer", "ok"),
        MessageKind::Fallback => ("couldn't answer", "bad"),
        MessageKind::Unavailable => ("assistant unavailable", "bad"),
        MessageKind::Handoff => ("asked for a person", "wait"),
        MessageKind::Closed => ("handed back to the assistant", ""),
        MessageKind::Command => ("menu command", ""),
        MessageKind::Media => ("can't read this — passed on to you", "wait"),
        MessageKind::Paused => ("bot paused", ""),
        MessageKind::Forget => ("asked about deleting their data", ""),
        MessageKind::Text | MessageKind::Owner => return None,
    })
}

pub fn source_links(json: &str) -> Vec<SourceLink> {
    let cited: Vec<Cited> = serde_json::from_str(json).unwrap_or_default();
    cited
        .into_iter()
        .map(|c| SourceLink { n: c.n, title: c.title, url: c.url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_transcript.html")]
struct TranscriptPage {
    tab: &'static str,
    csrf: String,
    id: ConversationId,
    customer: String,
    bot: String,
    with_person: bool,
    bubbles: Vec<Bubble>,
    notice: Option<String>,
    problem: Option<String>,
    draft: String,
}

#[derive(serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
    /// Why a reply was not delivered: its place in [`handoff::WHY_NOT_DELIVERED`].
    #[serde(default)]
    why: Option<usize>,
}

async fn transcript(app: &AppState, owner: &Owner, id: ConversationId, notice: Option<String>, problem: Option<String>, draft: String) -> Result<Response, AppError> {
    let conv = conversations::get(&app.db.pool, owner.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    let msgs = conversations::transcript(&app.db.pool, owner.tenant_id, id).await?;
    let bots = bot_names(app, owner).await?;
    let now = now_ms();
    let bubbles = msgs
        .into_iter()
        .map(|m| Bubble {
            badge: if m.author == Author::Bot { badge(m.kind) } else { None },
            sources: source_links(&m.sources),
            feedback: m.feedback.unwrap_or(0),
            pending: m.author != Author::Customer && m.delivery != Delivery::Sent && m.delivery != Delivery::Unknown,
            unconfirmed: m.author != Author::Customer && m.delivery == Delivery::Unknown,
            not_passed_on: m.author == Author::Customer && m.delivery == Delivery::Failed,
            at: ago(m.created_at, now),
            author: m.author.to_string(),
            text: m.text,
        })
        .collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut r = render(&TranscriptPage {
        tab: "conversations",
        csrf: owner.csrf.clone(),
        id,
        customer: display_name(&conv.customer_name),
        bot: bots.get(&conv.bot_id.0).cloned().unwrap_or_default(),
        with_person: conv.mode == Mode::Human,
        bubbles,
        notice,
        problem,
        draft,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// `GET /app/conversations/{id}`.
pub async fn show(State(app): State<AppState>, owner: Owner, Path(id): Path<ConversationId>, Query(q): Query<Done>) -> Result<Response, AppError> {
    let notice = match q.done.as_deref() {
        Some("sent") => Some("Sent. Your reply reached the customer through your bot; the assistant stays quiet in this chat until you hand it back.".to_owned()),
        Some("closed") => Some("Handed back: the assistant answers this customer again.".to_owned()),
        Some("unconfirmed") => Some(
            "Telegram didn't confirm that your reply arrived — it may well have. It won't be sent twice: check with the customer before writing it again.".to_owned(),
        ),
        _ => None,
    };
    let problem = match q.done.as_deref() {
        Some("not_delivered") => {
            let why = q.why.and_then(|i| handoff::WHY_NOT_DELIVERED.get(i)).unwrap_or(&handoff::WHY_NOT_DELIVERED[7]);
            Some(format!("Your reply could not be delivered: {why}. The customer did not get it."))
        }
        Some("failed") => Some(NOT_DELIVERED.to_owned()),
        _ => None,
    };
    let mut page = transcript(&app, &owner, id, notice, problem, String::new()).await?;
    *page.status_mut() = StatusCode::OK;
    Ok(page)
}

#[derive(serde::Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// What an owner reads when Telegram didn't take a message.
const NOT_DELIVERED: &str = "Your reply could not be delivered — the customer may have blocked your bot, or Telegram is busy. Please try again in a moment.";

/// [`NOT_DELIVERED`]; the cause goes to the log.
fn not_delivered(e: JobError) -> String {
    let (JobError::Retry(e) | JobError::Permanent(e)) = e;
    tracing::warn!(error = %format!("{e:#}"), "an owner's reply from the admin page was not delivered");
    NOT_DELIVERED.into()
}

/// `POST /app/conversations/{id}/reply`: the owner's words go to the customer through the bot,
/// and the conversation is with a person from then on.
pub async fn reply(State(app): State<AppState>, owner: Owner, Path(id): Path<ConversationId>, axum::Form(f): axum::Form<ReplyForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    conversations::get(&app.db.pool, owner.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    let text = f.text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY {
        let problem = format!("Write a reply of up to {} characters.", "4,000");
        return transcript(&app, &owner, id, None, Some(problem), f.text.chars().take(MAX_REPLY * 2).collect()).await;
    }
    match handoff::owner_reply(&app.db, &app.bots, app.manager.as_ref(), owner.tenant_id, &handoff::OwnerWords { conv: id, by: owner.user_id, text, dedupe: None, last_try: true }).await {
        Ok(handoff::Relayed::TakenBy(name)) => {
            let problem = format!("{name} is already answering this customer, so your reply was not sent.");
            transcript(&app, &owner, id, None, Some(problem), text.to_owned()).await
        }
        Ok(handoff::Relayed::Paused) => transcript(&app, &owner, id, None, Some(handoff::PAUSED.to_owned()), text.to_owned()).await,
        Ok(handoff::Relayed::NotOnTeam(business)) => {
            let problem = format!("You're no longer on the team of {business}, so your reply was not sent to the customer.");
            transcript(&app, &owner, id, None, Some(problem), text.to_owned()).await
        }
        Ok(handoff::Relayed::Sent | handoff::Relayed::Reopened) => Ok(Redirect::to(&format!("/app/conversations/{id}?done=sent")).into_response()),
        Ok(handoff::Relayed::Unconfirmed) => Ok(Redirect::to(&format!("/app/conversations/{id}?done=unconfirmed")).into_response()),
        Ok(handoff::Relayed::NotFound) => Err(AppError::NotFound),
        Ok(handoff::Relayed::Closed) => {
            let problem = "The conversation went back to the assistant just as you replied, so your reply was not sent. Send it again to take the conversation over.".to_owned();
            transcript(&app, &owner, id, None, Some(problem), text.to_owned()).await
        }
        Ok(handoff::Relayed::TooLong) => {
            let problem = format!("Your reply is longer than one Telegram message can be: write a reply of up to {} characters.", "4,000");
            transcript(&app, &owner, id, None, Some(problem), text.to_owned()).await
        }
        // Redirected, as a reply that went out is: reloading the page then sends nothing again.
        Ok(handoff::Relayed::NotDelivered(why)) => {
            let why = handoff::WHY_NOT_DELIVERED.iter().position(|w| *w == why).unwrap_or(7);
            Ok(Redirect::to(&format!("/app/conversations/{id}?done=not_delivered&why={why}")).into_response())
        }
        Err(e) => {
            not_delivered(e);
            Ok(Redirect::to(&format!("/app/conversations/{id}?done=failed")).into_response())
        }
    }
}

/// `POST /app/conversations/{id}/close`: back to the assistant; the customer is told. A
/// conversation a teammate has taken is theirs to close, or the owner's (as with the Close button
/// in the manager chat): another teammate is told who is answering, and nothing changes.
pub async fn close(State(app): State<AppState>, owner: Owner, Path(id): Path<ConversationId>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if !owner.is_owner
        && let Some(other) = storage::team::taken_by(&app.db.pool, owner.tenant_id, id).await?.filter(|u| *u != owner.user_id)
    {
        let name = storage::team::display_name(&app.db.pool, owner.tenant_id, other).await?;
        let problem = format!("{name} is answering this customer, so only {name} or the business's owner can hand the conversation back.");
        return transcript(&app, &owner, id, None, Some(problem), String::new()).await;
    }
    match handoff::close(&app.db, &app.bots, owner.tenant_id, id).await {
        Ok(true) => Ok(Redirect::to(&format!("/app/conversations/{id}?done=closed")).into_response()),
        Ok(false) => Err(AppError::NotFound),
        Err(e) => transcript(&app, &owner, id, None, Some(not_delivered(e)), String::new()).await,
    }
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    /// The "I understand this can't be undone" box.
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /app/conversations/{id}/delete`: on the customer's request, the owner erases this
/// conversation (every message both ways, ratings, handoff routes) and every update the
/// customer sent the bot (`storage::privacy`). Nothing happens without the confirmation box.
pub async fn delete(State(app): State<AppState>, owner: Owner, Path(id): Path<ConversationId>, axum::Form(f): axum::Form<DeleteForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let conv = conversations::get(&app.db.pool, owner.tenant_id, id).await?.ok_or(AppError::NotFound)?;
    if f.confirm.as_deref() != Some("yes") {
        let problem = "Nothing was deleted: tick the box to confirm that this can't be undone, then press Delete again.".to_owned();
        return transcript(&app, &owner, id, None, Some(problem), String::new()).await;
    }
    let mut tx = app.db.begin().await?;
    let erased = storage::privacy::erase_conversation(&mut tx, app.manager.as_ref().map(|m| m.id), owner.tenant_id, conv.bot_id, conv.id, conv.customer_user_id).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = owner.tenant_id.0, messages = erased.messages, updates = erased.updates, "a customer's data erased at the owner's request");
    Ok(Redirect::to("/app/conversations?deleted=1").into_response())
}
