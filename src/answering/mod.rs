//! Answering: a customer's message to a business's bot becomes a reply grounded in that
//! business's own knowledge — streamed, with sources, feedback buttons and a way to a person.
//!
//! The `bot.update` job (one per stored update): the conversation is loaded (per customer chat,
//! per forum topic in groups), a follow-up is made standalone for retrieval, the owner's Q&A pairs
//! are checked, the tenant's index searched, and with confident passages the chat model answers
//! from them ([`compose`], prompts in `prompts/`), its text streamed with `sendMessageDraft` in
//! private chats. Below the threshold — or when the model says the sources don't hold the answer —
//! the owner's fallback text and a "talk to a person" button. A handed-off conversation ([`handoff`])
//! gets no AI replies until the owner closes it.
//!
//! Exactly one reply per customer update: the reply is stored before it is sent and marked sent
//! after, so a retried or redelivered job re-sends a stored reply instead of calling the model
//! again, and sends nothing once it was sent.
pub mod bench;
pub mod compose;
pub mod handoff;
pub mod prompt;
pub mod settings;

use crate::domain::{BotId, TenantId};
use crate::jobs::{Job, JobError, Registry};
use crate::manager::job_error;
use crate::startup::AppState;
use crate::storage::conversations::{self, Conversation, Customer, Msg, NewMsg};
use crate::storage::{self, bot_settings::BotSettings, bots};
use crate::telegram::methods::{AnswerCallbackQuery, SendChatAction, SendMessage, SendMessageDraft};
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyMarkup, ReplyParameters, Update, UpdateKind};
use crate::web::webhooks::{BOT_UPDATE_JOB, BotUpdateJob};
use anyhow::Context;
use compose::{Cited, Composed, ModelCall, Prepared};
use prompt::{Turn, Voice};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Callback data of the "talk to a person" button.
const HUMAN: &str = "human";
/// Callback data prefix of the 👍/👎 buttons: `fb:1:<reply id>` / `fb:-1:<reply id>`.
const FEEDBACK: &str = "fb:";
/// Telegram's limit on a message's text, in UTF-16 units.
const MESSAGE_LIMIT: usize = 4096;

pub fn register(r: &mut Registry<AppState>) {
    r.register(BOT_UPDATE_JOB, crate::jobs::DEFAULT, run);
}

#[tracing::instrument(name = "answering.update", skip_all, fields(tenant_id, bot_id, update_id))]
pub async fn run(app: AppState, job: Job) -> Result<(), JobError> {
    let started = std::time::Instant::now();
    let p: BotUpdateJob = job.payload()?;
    let tenant = job.tenant_id.ok_or_else(|| JobError::Permanent(anyhow::anyhow!("bot update without a tenant")))?;
    tracing::Span::current().record("tenant_id", tenant.0).record("bot_id", p.bot_id.0).record("update_id", p.update_id);
    let body = storage::updates::body(&app.db.pool, p.bot_id, p.update_id).await?.context("the stored update is missing")?;
    let update: Update = serde_json::from_str(&body).map_err(|e| JobError::Permanent(anyhow::anyhow!("update does not parse: {e}")))?;
    let Some(bot) = handoff::child_bot(&app, tenant, p.bot_id).await.map_err(JobError::Permanent)? else {
        return Ok(()); // the bot moved to another tenant meanwhile
    };
    let (business, username, _, _) = bots::profile(&app.db.pool, tenant, p.bot_id).await?.unwrap_or_default();
    let settings = storage::bot_settings::get(&app.db.pool, tenant, p.bot_id).await?;
    let texts = settings::texts(&settings, &business);
    // Payments to the business's bot (the optional customer paywall's packs).
    if crate::billing::on_child_update(&app, tenant, p.bot_id, &bot, &update).await? {
        return Ok(());
    }
    let ctx = Ctx { app: &app, tenant, bot_id: p.bot_id, bot: &bot, business: &business, username: &username, settings: &settings, texts: &texts, started, model_time: Mutex::new(None) };
    match update.kind {
        UpdateKind::Message(m) => ctx.message(update.update_id, m).await,
        UpdateKind::CallbackQuery(q) => ctx.callback(q).await,
        _ => Ok(()),
    }
}

/// Whether an earlier message belongs in the model's view of the conversation: the customer's
/// questions and the answers they got (from the sources, a Q&A pair, or the owner) — not
/// commands, greetings, handoff notices or "couldn't find" replies, which only give a small
/// model text to copy.
fn in_history(m: &conversations::Msg) -> bool {
    if m.text.trim().is_empty() {
        return false;
    }
    match m.author.as_str() {
        "customer" => !m.text.starts_with('/'),
        "owner" => true,
        _ => matches!(m.kind.as_str(), "answer" | "extractive" | "qa"),
    }
}

/// Per-tenant limit on model calls running at once in this process.
pub(crate) fn tenant_permits(tenant: TenantId, limit: usize) -> Arc<tokio::sync::Semaphore> {
    static MAP: OnceLock<Mutex<HashMap<i64, Arc<tokio::sync::Semaphore>>>> = OnceLock::new();
    let mut map = MAP.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    map.entry(tenant.0).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(limit.max(1)))).clone()
}

fn today() -> i64 {
    storage::now_ms() / 86_400_000
}

/// Turns a follow-up into a standalone retrieval query. A short message or one that refers back
/// ("and on Sundays?", "how much is it?") is searched together with the customer's previous
/// question; the model still sees the whole history. (Deliberately not a model call: with the
/// local 135M model a rewrite is slower and worse than this rule.)
pub fn standalone_query(history: &[Turn], question: &str) -> String {
    let Some(prev) = history.iter().rev().find(|t| t.customer) else { return question.to_owned() };
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    const REFERS: &[&str] = &["it", "its", "that", "this", "those", "these", "they", "them", "there", "he", "she", "else", "one"];
    let follow_up = words.len() <= 4 || words.first().is_some_and(|w| ["and", "also", "what", "how", "but", "or", "then"].contains(w)) && words.iter().any(|w| REFERS.contains(w));
    if follow_up { format!("{} {}", prev.text, question) } else { question.to_owned() }
}

struct Ctx<'a> {
    app: &'a AppState,
    tenant: TenantId,
    bot_id: BotId,
    bot: &'a crate::telegram::Bot,
    business: &'a str,
    username: &'a str,
    settings: &'a BotSettings,
    texts: &'a settings::Texts,
    /// When the job started, and the model's share of it once known: the overhead measurement.
    started: std::time::Instant,
    model_time: Mutex<Option<Duration>>,
}

/// A reply about to be stored and sent.
struct Reply<'a> {
    kind: &'a str,
    text: &'a str,
    sources: &'a [Cited],
    tokens: u64,
    question: Option<&'a str>,
}

impl Ctx<'_> {
    /// In a group: the question if the bot is addressed (mention, reply to it, or a command),
    /// with the mention removed; `None` if the message isn't for the bot.
    fn addressed(&self, m: &Message, text: &str) -> Option<String> {
        let mention = format!("@{}", self.username);
        if text.starts_with('/') {
            let first = text.split_whitespace().next().unwrap_or_default();
            return match first.split_once('@') {
                Some((_, to)) if !to.eq_ignore_ascii_case(self.username) => None,
                _ => Some(text.to_owned()),
            };
        }
        let lower = text.to_lowercase();
        if !self.username.is_empty() && lower.contains(&mention.to_lowercase()) {
            let at = lower.find(&mention.to_lowercase()).unwrap_or(0);
            let stripped = format!("{}{}", &text[..at], &text[at + mention.len()..]);
            return Some(stripped.trim().trim_start_matches([',', ':']).trim().to_owned());
        }
        let replied_to_bot = m.reply_to_message.as_ref().and_then(|r| r.from.as_ref()).is_some_and(|u| u.id == self.bot_id.0);
        replied_to_bot.then(|| text.to_owned())
    }

    async fn message(&self, update_id: i64, m: Message) -> Result<(), JobError> {
        if m.from.as_ref().is_some_and(|u| u.is_bot) {
            return Ok(());
        }
        let Some(raw) = m.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { return Ok(()) };
        let private = m.chat.kind == "private";
        let text = if private { raw.to_owned() } else {
            match self.addressed(&m, raw) {
                Some(t) if !t.is_empty() => t,
                _ => return Ok(()),
            }
        };
        let from = m.from.clone().unwrap_or_default();
        let name = [from.first_name.as_str(), from.last_name.as_deref().unwrap_or("")].join(" ").trim().to_owned();
        let customer = Customer { chat_id: m.chat.id, thread_id: if private { 0 } else { m.message_thread_id.unwrap_or(0) }, chat_kind: &m.chat.kind, user_id: from.id, name: &name };
        let mut tx = self.app.db.begin().await?;
        let conv = conversations::open(&mut *tx, self.tenant, self.bot_id, &customer).await?;
        let (cmsg, fresh) = conversations::add(&mut tx, self.tenant, conv.id, &NewMsg { author: "customer", text: &text, update_id: Some(update_id), kind: "", sources: "[]", delivery: "sent", model_tokens: 0, question: None }).await?;
        tx.commit().await.map_err(anyhow::Error::from)?;

        // A retried job: the reply was stored already — send it if it wasn't, never twice.
        if let Some(r) = conversations::reply_to(&self.app.db.pool, self.tenant, conv.id, update_id).await? {
            return self.resume(&conv, &r, m.message_id).await;
        }
        let command = text.split_whitespace().next().unwrap_or_default().split('@').next().unwrap_or_default().to_owned();
        if conv.mode == "human" && command != "/start" {
            // With a person: the assistant stays silent; the owner sees the message.
            if fresh {
                handoff::forward_to_owner(self.app, self.tenant, &conv, &text).await?;
            }
            return Ok(());
        }
        let t = self.texts;
        let fixed = match command.as_str() {
            "/start" => Some(&t.welcome),
            "/help" => Some(&t.help),
            "/privacy" => Some(&t.privacy),
            "/paysupport" => Some(&t.paysupport),
            "/human" => return self.handoff(&conv, update_id, m.message_id).await,
            _ => None,
        };
        match fixed {
            Some(text) => self.reply(&conv, update_id, m.message_id, &Reply { kind: "command", text, sources: &[], tokens: 0, question: None }).await,
            None => {
                // The owner's optional paywall: past the free questions of the day, an invoice.
                if private && fresh && crate::billing::paywall(self.app, self.tenant, self.bot_id, self.bot, conv.chat_id).await? {
                    return Ok(());
                }
                self.answer(&conv, &cmsg, update_id, m.message_id, &text, from.language_code.as_deref()).await
            }
        }
    }

    async fn handoff(&self, conv: &Conversation, update_id: i64, reply_to: i64) -> Result<(), JobError> {
        handoff::request(self.app, self.tenant, conv).await?;
        let text = format!("I've asked a person from {} to help you. They'll reply here.", self.business);
        self.reply(conv, update_id, reply_to, &Reply { kind: "handoff", text: &text, sources: &[], tokens: 0, question: None }).await
    }

    async fn callback(&self, q: crate::telegram::CallbackQuery) -> Result<(), JobError> {
        let data = q.data.clone().unwrap_or_default();
        let Some(msg) = q.message().cloned() else {
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
            return Ok(());
        };
        if data == HUMAN {
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
            let name = [q.from.first_name.as_str(), q.from.last_name.as_deref().unwrap_or("")].join(" ").trim().to_owned();
            let customer = Customer { chat_id: msg.chat.id, thread_id: if msg.chat.kind == "private" { 0 } else { msg.message_thread_id.unwrap_or(0) }, chat_kind: &msg.chat.kind, user_id: q.from.id, name: &name };
            let conv = conversations::open(&self.app.db.pool, self.tenant, self.bot_id, &customer).await?;
            if conv.mode == "human" {
                return Ok(());
            }
            handoff::request(self.app, self.tenant, &conv).await?;
            let mut send = SendMessage::new(msg.chat.id, format!("I've asked a person from {} to help you. They'll reply here.", self.business));
            if customer.thread_id != 0 {
                send.message_thread_id = Some(customer.thread_id);
            }
            self.bot.send_message(&send).await.map_err(|e| job_error(e, "confirming the handoff"))?;
            return Ok(());
        }
        if let Some(rest) = data.strip_prefix(FEEDBACK) {
            let (value, id) = rest.split_once(':').unwrap_or(("", ""));
            let value: i64 = if value == "1" { 1 } else { -1 };
            let ok = conversations::set_feedback(&self.app.db.pool, self.tenant, self.bot_id, msg.chat.id, id.parse().unwrap_or(0), value).await?;
            let text = match (ok, value) {
                (false, _) => "Sorry, I couldn't record that.",
                (true, 1) => "Thanks! Glad it helped.",
                _ => "Thanks — we'll use this to improve. Send /human to talk to a person.",
            };
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text(text)).await;
            return Ok(());
        }
        let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
        Ok(())
    }

    /// A question: Q&A pair, retrieval, the model (streamed), or the fallback.
    async fn answer(&self, conv: &Conversation, cmsg: &Msg, update_id: i64, reply_to: i64, question: &str, language: Option<&str>) -> Result<(), JobError> {
        let app = self.app;
        let private = conv.chat_kind == "private";
        let mut typing = SendChatAction::typing(conv.chat_id);
        if conv.thread_id != 0 {
            typing.message_thread_id = Some(conv.thread_id);
        }
        let _ = self.bot.call(&typing).await;

        let earlier = conversations::recent(&app.db.pool, self.tenant, conv.id, cmsg.id, app.cfg.answering.history_messages as i64).await?;
        let history: Vec<Turn> = earlier.iter().filter(|m| in_history(m)).map(|m| Turn { customer: m.author == "customer", text: m.text.clone() }).collect();
        let query = standalone_query(&history, question);
        let retriever = app.retriever().await?;
        let prepared = compose::prepare(app, &retriever, self.tenant, &query).await?;
        let hits = match prepared {
            Prepared::Qa(answer) => return self.reply(conv, update_id, reply_to, &Reply { kind: "qa", text: &answer, sources: &[], tokens: 0, question: Some(question) }).await,
            Prepared::NotFound => return self.reply(conv, update_id, reply_to, &Reply { kind: "fallback", text: &self.texts.fallback, sources: &[], tokens: 0, question: Some(question) }).await,
            Prepared::Passages(h) => h,
        };

        // The business's plan: one credit per AI answer, reserved before the model runs (the
        // key makes a retried job find its own reservation), settled or released after.
        let key = format!("answer:{}:{update_id}", self.bot_id.0);
        let reservation = match crate::billing::reserve(app, self.tenant, &key).await? {
            crate::billing::Reserve::Granted(r) => r,
            crate::billing::Reserve::Exhausted => {
                return self.reply(conv, update_id, reply_to, &Reply { kind: "unavailable", text: &self.texts.unavailable, sources: &[], tokens: 0, question: Some(question) }).await;
            }
        };
        let voice = Voice { business: self.business, persona: &self.settings.persona, tone: &self.settings.tone, extra: &self.settings.extra_instructions, language };
        let model = app.chat_model().await;
        let used_today = conversations::usage(&app.db.pool, self.tenant, today()).await?;
        let within_budget = (used_today as u64) < app.cfg.answering.tenant_daily_tokens;
        if !within_budget {
            tracing::warn!(used_today, "the business used its daily model tokens; quoting passages");
        }
        let permits = tenant_permits(self.tenant, app.cfg.answering.tenant_concurrency);
        let _permit = permits.acquire_owned().await.map_err(anyhow::Error::from)?;

        // Drafts in private chats: a task sends the latest text at most every draft_interval.
        let (tx, mut rx) = tokio::sync::watch::channel(String::new());
        let done = tokio_util::sync::CancellationToken::new();
        let drafts = private.then(|| {
            let bot = self.bot.clone();
            let chat = conv.chat_id;
            let interval = app.cfg.answering.draft_interval;
            let draft_id = cmsg.id.max(1);
            let done = done.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let text: String = rx.borrow_and_update().chars().take(4000).collect();
                    let _ = bot.call(&SendMessageDraft::new(chat, draft_id).text(text)).await;
                    // Pace the drafts, but never hold up the final message.
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = done.cancelled() => break,
                    }
                }
            })
        });
        let call = match (&model, within_budget) {
            (Some(m), true) => Some(ModelCall { model: m.as_ref(), max_tokens: app.cfg.llm.max_answer_tokens, temperature: app.cfg.llm.temperature, timeout: app.cfg.llm.timeout, min_support: app.cfg.answering.min_support }),
            _ => None,
        };
        let composed: Composed = compose::generate(call, &voice, &history, question, &hits, Some(&tx)).await;
        *self.model_time.lock().unwrap_or_else(|p| p.into_inner()) = Some(composed.model_time);
        drop(tx);
        done.cancel();
        if let Some(d) = drafts {
            let _ = d.await;
        }
        if composed.kind == "answer" {
            reservation.settle(app, composed.tokens).await?;
        } else {
            reservation.release(app).await?;
        }
        if let Some(note) = &composed.note {
            tracing::info!(kind = composed.kind, note, "answer not from the model");
        }
        if composed.tokens > 0 {
            crate::metrics::record_model_tokens(model.as_ref().map(|m| m.name()).unwrap_or("none"), "answer", composed.tokens);
        }
        let (kind, text) = if composed.kind == "fallback" { ("fallback", self.texts.fallback.as_str()) } else { (composed.kind, composed.text.as_str()) };
        self.reply(conv, update_id, reply_to, &Reply { kind, text, sources: &composed.sources, tokens: composed.tokens, question: Some(question) }).await
    }

    /// Stores the reply (as `sending`), then sends it.
    async fn reply(&self, conv: &Conversation, update_id: i64, reply_to: i64, r: &Reply<'_>) -> Result<(), JobError> {
        let sources = serde_json::to_string(r.sources).unwrap_or_else(|_| "[]".into());
        let mut tx = self.app.db.begin().await?;
        let (msg, fresh) = conversations::add(
            &mut tx,
            self.tenant,
            conv.id,
            &NewMsg { author: "bot", text: r.text, update_id: Some(update_id), kind: r.kind, sources: &sources, delivery: "sending", model_tokens: r.tokens as i64, question: r.question },
        )
        .await?;
        if fresh && r.tokens > 0 {
            conversations::add_usage(&mut *tx, self.tenant, today(), r.tokens as i64).await?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        if fresh {
            // Stored as `sending` in the same commit: the Bot API call follows at once.
            return self.deliver(conv, &msg, reply_to).await;
        }
        self.resume(conv, &msg, reply_to).await
    }

    /// Carries a stored reply on from its delivery state: pending → send; sending (a crash
    /// during the Bot API call: it may have arrived) → unknown, not re-sent; sent → nothing.
    async fn resume(&self, conv: &Conversation, msg: &Msg, reply_to: i64) -> Result<(), JobError> {
        match msg.delivery.as_str() {
            "pending" => {
                conversations::set_delivery(&self.app.db.pool, self.tenant, msg.id, "sending").await?;
                self.deliver(conv, msg, reply_to).await
            }
            "sending" => {
                tracing::warn!(reply_id = msg.id, "a reply was being sent when its worker stopped; not sending it again");
                conversations::set_delivery(&self.app.db.pool, self.tenant, msg.id, "unknown").await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Sends a stored reply, already marked `sending` (split if long, buttons under the last
    /// part), and marks it sent.
    async fn deliver(&self, conv: &Conversation, msg: &Msg, reply_to: i64) -> Result<(), JobError> {
        let sources: Vec<Cited> = serde_json::from_str(&msg.sources).unwrap_or_default();
        let html = match msg.kind.as_str() {
            "answer" | "extractive" => compose::render_html(&msg.text, &sources),
            _ => crate::telegram::html::escape(&msg.text),
        };
        let buttons = match msg.kind.as_str() {
            "answer" | "extractive" | "qa" => Some(feedback_buttons(msg.id, msg.kind != "qa")),
            "fallback" | "unavailable" => Some(human_button()),
            _ => None,
        };
        let parts = crate::telegram::split::split_html(&html, MESSAGE_LIMIT).unwrap_or_else(|_| crate::telegram::split::split_plain(&html, MESSAGE_LIMIT));
        let last = parts.len().saturating_sub(1);
        let mut last_id = None;
        for (i, part) in parts.into_iter().enumerate() {
            let mut send = SendMessage::html(conv.chat_id, part);
            if conv.thread_id != 0 {
                send.message_thread_id = Some(conv.thread_id);
            }
            if conv.chat_kind != "private" && i == 0 {
                send.reply_parameters = Some(ReplyParameters { message_id: reply_to, allow_sending_without_reply: Some(true), ..Default::default() });
            }
            if i == last {
                send.reply_markup = buttons.clone();
            }
            let sent = match self.bot.send_message(&send).await {
                Ok(sent) => sent,
                Err(e) => {
                    // Telegram answered with an error: nothing was delivered, so a retry may send.
                    // A network error leaves it `sending`: it may have arrived.
                    if !matches!(e, crate::telegram::TelegramError::Network(_)) && i == 0 {
                        conversations::set_delivery(&self.app.db.pool, self.tenant, msg.id, "pending").await?;
                    }
                    return Err(job_error(e, "sending the answer"));
                }
            };
            last_id = Some(sent.message_id);
        }
        conversations::mark_sent(&self.app.db.pool, self.tenant, msg.id, last_id).await?;
        if let Some(model) = *self.model_time.lock().unwrap_or_else(|p| p.into_inner()) {
            record_overhead(self.started.elapsed().saturating_sub(model));
        }
        Ok(())
    }
}

/// The pipeline's own time per model answer (job start → reply sent, minus the model's time):
/// the newest 100,000, for `bellhop bench answering`.
static OVERHEAD: Mutex<std::collections::VecDeque<Duration>> = Mutex::new(std::collections::VecDeque::new());

fn record_overhead(d: Duration) {
    let mut v = OVERHEAD.lock().unwrap_or_else(|p| p.into_inner());
    if v.len() >= 100_000 {
        v.pop_front();
    }
    v.push_back(d);
}

/// Takes the overhead samples recorded so far.
pub fn take_overhead_samples() -> Vec<Duration> {
    OVERHEAD.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
}

fn human_button() -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton { text: "🙋 Talk to a person".into(), callback_data: Some(HUMAN.into()), ..Default::default() }]],
    })
}

fn feedback_buttons(reply: i64, person: bool) -> ReplyMarkup {
    let mut row = vec![
        InlineKeyboardButton { text: "👍".into(), callback_data: Some(format!("{FEEDBACK}1:{reply}")), ..Default::default() },
        InlineKeyboardButton { text: "👎".into(), callback_data: Some(format!("{FEEDBACK}-1:{reply}")), ..Default::default() },
    ];
    if person {
        row.push(InlineKeyboardButton { text: "🙋 Person".into(), callback_data: Some(HUMAN.into()), ..Default::default() });
    }
    ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: vec![row] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_searched_with_the_previous_question() {
        let h = vec![Turn { customer: true, text: "Do you deliver to Altona?".into() }, Turn { customer: false, text: "Yes [1].".into() }];
        assert_eq!(standalone_query(&h, "How much is it?"), "Do you deliver to Altona? How much is it?");
        assert_eq!(standalone_query(&h, "What are your opening hours on public holidays in December?"), "What are your opening hours on public holidays in December?");
        assert_eq!(standalone_query(&[], "price?"), "price?");
    }
}
