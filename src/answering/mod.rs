//! Answering: a customer's message to a business's bot becomes a reply grounded in that
//! business's own knowledge.
//!
//! This first slice answers without a language model: an owner's Q&A pair when the question
//! matches one, otherwise the best passages retrieved for the tenant, quoted with numbered
//! sources (the extractive answer the design keeps as the fallback when a model fails). Below
//! the confidence threshold the bot says it doesn't know and offers a person. Commands
//! `/start`, `/help`, `/privacy`, `/paysupport` and `/human` get the business's texts; `/human`
//! tells the owner in the manager chat.
//!
//! Not yet here (issue 6): the LLM answer with streamed drafts, conversation history, groups,
//! feedback buttons, the owner's reply relayed back, per-tenant settings for the texts.
use crate::domain::{BotId, BotToken, TenantId};
use crate::jobs::{Job, JobError, Registry};
use crate::knowledge::ingest::{CONFIDENT_SIMILARITY, match_qa};
use crate::manager::job_error;
use crate::retrieval::SearchOptions;
use crate::startup::AppState;
use crate::storage::{self, bots};
use crate::telegram::html::escape;
use crate::telegram::methods::{AnswerCallbackQuery, SendChatAction, SendMessage};
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyMarkup, Update, UpdateKind};
use crate::web::webhooks::{BOT_UPDATE_JOB, BotUpdateJob};
use anyhow::Context;

/// Passages quoted in an extractive answer.
const PASSAGES: usize = 3;
/// Callback data of the "talk to a person" button.
const HUMAN: &str = "human";

pub fn register(r: &mut Registry<AppState>) {
    r.register(BOT_UPDATE_JOB, crate::jobs::DEFAULT, run);
}

#[tracing::instrument(name = "answering.update", skip_all, fields(tenant_id, bot_id, update_id))]
pub async fn run(app: AppState, job: Job) -> Result<(), JobError> {
    let p: BotUpdateJob = job.payload()?;
    let tenant = job.tenant_id.ok_or_else(|| JobError::Permanent(anyhow::anyhow!("bot update without a tenant")))?;
    tracing::Span::current().record("tenant_id", tenant.0).record("bot_id", p.bot_id.0).record("update_id", p.update_id);
    let body = storage::updates::body(&app.db.pool, p.bot_id, p.update_id).await?.context("the stored update is missing")?;
    let update: Update = serde_json::from_str(&body).map_err(|e| JobError::Permanent(anyhow::anyhow!("update does not parse: {e}")))?;
    let Some(sealed) = bots::sealed_token(&app.db.pool, tenant, p.bot_id).await? else {
        return Ok(()); // the bot moved to another tenant meanwhile
    };
    let raw = app.keys.open_string(&sealed, &bots::token_aad(p.bot_id)).map_err(|e| JobError::Permanent(e.into()))?;
    let bot = app.telegram.bot(BotToken::parse(&raw).map_err(|e| JobError::Permanent(e.into()))?);
    let name = bots::profile(&app.db.pool, tenant, p.bot_id).await?.map(|p| p.0).unwrap_or_default();
    let ctx = Ctx { app: &app, tenant, bot_id: p.bot_id, bot: &bot, business: &name };
    match update.kind {
        UpdateKind::Message(m) => ctx.message(m).await,
        UpdateKind::CallbackQuery(q) => {
            let _ = bot.call(&AnswerCallbackQuery { callback_query_id: q.id.clone(), ..Default::default() }).await;
            if q.data.as_deref() == Some(HUMAN) {
                let chat = q.message().map(|m| m.chat.id).unwrap_or(q.from.id);
                let who = q.from.first_name.clone();
                ctx.handoff(chat, &who, None).await
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

struct Ctx<'a> {
    app: &'a AppState,
    tenant: TenantId,
    bot_id: BotId,
    bot: &'a crate::telegram::Bot,
    business: &'a str,
}

impl Ctx<'_> {
    async fn send(&self, msg: SendMessage) -> Result<(), JobError> {
        self.bot.send_message(&msg).await.map_err(|e| job_error(e, "sending the answer"))?;
        Ok(())
    }

    async fn message(&self, m: Message) -> Result<(), JobError> {
        // Groups come with the answering work's "only when addressed" rule; private chats now.
        if m.chat.kind != "private" {
            return Ok(());
        }
        let Some(text) = m.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { return Ok(()) };
        let chat = m.chat.id;
        let b = escape(self.business);
        let command = text.split_whitespace().next().unwrap_or_default().split('@').next().unwrap_or_default();
        let reply = match command {
            "/start" => format!("👋 Hi! I'm the assistant of <b>{b}</b>. Ask me anything about {b} — I answer from their own information, and I can put you through to a person."),
            "/help" => format!("Ask me a question in your own words. I answer from {b}'s information and show where the answer comes from. Send /human to talk to a person."),
            "/privacy" => format!("Your messages are used only to answer you and to help {b} improve its answers. They are not shared with other businesses."),
            "/paysupport" => format!("For help with a payment, send /human and a person from {b} will reply here."),
            "/human" => {
                let who = m.from.as_ref().map(|u| u.first_name.clone()).unwrap_or_default();
                return self.handoff(chat, &who, None).await;
            }
            _ => return self.answer(chat, text).await,
        };
        self.send(SendMessage::html(chat, reply)).await
    }

    /// A question: the owner's Q&A pair, else quoted passages with sources, else "I don't know".
    async fn answer(&self, chat: i64, question: &str) -> Result<(), JobError> {
        let _ = self.bot.call(&SendChatAction { chat_id: chat.into(), action: "typing".into(), ..Default::default() }).await;
        let retriever = self.app.retriever().await?;
        if let Some(pair) = match_qa(self.app, &retriever, self.tenant, question).await? {
            return self.send(SendMessage::html(chat, escape(&pair.answer))).await;
        }
        let hits = retriever.search(self.tenant, question, &SearchOptions { limit: PASSAGES, ..Default::default() }).await.map_err(anyhow::Error::from)?;
        let confident: Vec<_> = hits.into_iter().filter(|h| h.similarity.unwrap_or(0.0) >= CONFIDENT_SIMILARITY).collect();
        if confident.is_empty() {
            let mut msg = SendMessage::html(
                chat,
                format!("I'm sorry — I couldn't find that in {}'s information. Would you like to talk to a person?", escape(self.business)),
            );
            msg.reply_markup = Some(human_button());
            return self.send(msg).await;
        }
        let mut text = String::from("Here is what I found:\n");
        let mut sources = String::from("\n<b>Sources</b>");
        for (i, h) in confident.iter().enumerate() {
            let n = i + 1;
            let quote: String = h.payload.text.chars().take(600).collect();
            text.push_str(&format!("\n<blockquote>{}</blockquote> [{n}]\n", escape(quote.trim())));
            let title = if h.payload.title.is_empty() { "Untitled" } else { h.payload.title.as_str() };
            match &h.payload.url {
                Some(u) => sources.push_str(&format!("\n[{n}] <a href=\"{}\">{}</a>", escape(u), escape(title))),
                None => sources.push_str(&format!("\n[{n}] {}", escape(title))),
            }
        }
        text.push_str(&sources);
        let mut msg = SendMessage::html(chat, text);
        msg.reply_markup = Some(human_button());
        self.send(msg).await
    }

    /// Tells the owner in the manager chat that a customer wants a person.
    async fn handoff(&self, chat: i64, customer: &str, question: Option<&str>) -> Result<(), JobError> {
        let owner = storage::tenants::get(&self.app.db.pool, self.tenant).await?.context("tenant vanished")?.owner_user_id;
        if let Some(manager) = &self.app.manager {
            let username = bots::profile(&self.app.db.pool, self.tenant, self.bot_id).await?.map(|p| p.1).unwrap_or_default();
            let note = format!(
                "🙋 <b>{}</b> wants to talk to a person in @{} (chat {chat}).{}",
                escape(customer),
                escape(&username),
                question.map(|q| format!("\n\n“{}”", escape(q))).unwrap_or_default()
            );
            if let Err(e) = manager.bot.send_message(&SendMessage::html(owner.0, note)).await {
                tracing::warn!(error = %e, "could not tell the owner about a handoff");
            }
        }
        self.send(SendMessage::html(chat, format!("I've asked a person from {} to help you. They'll reply here.", escape(self.business)))).await
    }
}

fn human_button() -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton { text: "🙋 Talk to a person".into(), callback_data: Some(HUMAN.into()), ..Default::default() }]],
    })
}
