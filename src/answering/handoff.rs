//! Human handoff. A customer asks for a person (`/human` or the button): the conversation goes
//! to `human` mode — the AI stays silent in it — and the owner gets the transcript in the manager
//! bot's chat with Reply and Close buttons. Whatever the owner writes as a Telegram reply to one
//! of those messages (or from the admin page) reaches the customer through the business's bot;
//! Close hands the conversation back to the AI.
use crate::domain::TenantId;
use super::delivery::{Sent, send_once};
use crate::jobs::{JobError, job_error};
use crate::manager::{ChildBots, Manager};
use crate::storage::conversations::{self, Conversation, Msg, NewMsg};
use crate::storage::{self, Db, bots};
use crate::telegram::html::escape;
use crate::telegram::methods::{AnswerCallbackQuery, SendMessage};
use crate::telegram::{CallbackQuery, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyMarkup};
use anyhow::Context;

/// Callback data prefixes of the owner's buttons in the manager chat.
const REPLY: &str = "ho:r:";
const CLOSE: &str = "ho:c:";
/// Messages of the transcript sent to the owner.
const TRANSCRIPT: i64 = 12;

fn owner_buttons(conv: i64) -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![
            InlineKeyboardButton { text: "✍️ Reply".into(), callback_data: Some(format!("{REPLY}{conv}")), ..Default::default() },
            InlineKeyboardButton { text: "✅ Close".into(), callback_data: Some(format!("{CLOSE}{conv}")), ..Default::default() },
        ]],
    })
}

async fn owner_chat(db: &Db, tenant: TenantId) -> anyhow::Result<i64> {
    Ok(storage::tenants::get(&db.pool, tenant).await?.context("tenant vanished")?.owner_user_id.0)
}

/// Hands `conv` to a person: mode `human`, the transcript to the owner. Returns whether the
/// owner could be told.
pub async fn request(db: &Db, manager: Option<&Manager>, tenant: TenantId, conv: &Conversation) -> anyhow::Result<bool> {
    conversations::set_mode(&db.pool, tenant, conv.id, "human").await?;
    let Some(manager) = manager else { return Ok(false) };
    let owner = owner_chat(db, tenant).await?;
    let username = bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.1).unwrap_or_default();
    let mut lines = Vec::new();
    let all = conversations::transcript(&db.pool, tenant, conv.id).await?;
    for m in all.iter().rev().take(TRANSCRIPT as usize).rev() {
        let who = match m.author.as_str() {
            "customer" => escape(&conv.customer_name),
            "owner" => "You".into(),
            _ => "Bot".into(),
        };
        let text: String = m.text.chars().take(400).collect();
        lines.push(format!("<b>{who}:</b> {}", escape(&text)));
    }
    let note = format!(
        "🙋 <b>{}</b> wants to talk to a person in @{}.\n\n{}\n\n<i>Reply to this message (or tap Reply) and your answer goes to them through your bot. The assistant stays quiet in this chat until you tap Close.</i>",
        escape(&conv.customer_name),
        escape(&username),
        lines.join("\n")
    );
    let mut msg = SendMessage::html(owner, crate::telegram::split::split_html(&note, 4000).ok().and_then(|v| v.into_iter().last()).unwrap_or(note));
    msg.reply_markup = Some(owner_buttons(conv.id));
    match manager.bot.send_message(&msg).await {
        Ok(sent) => {
            conversations::add_relay(&db.pool, owner, sent.message_id, tenant, conv.id).await?;
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not tell the owner about a handoff");
            Ok(false)
        }
    }
}

/// While a conversation is with a person, a customer's new message `m` (stored `pending`) goes
/// to the owner too, and is marked `sent` once it has. When Telegram refuses it (the owner
/// blocked the manager bot, …) it is marked `failed` — the conversation page says it didn't
/// reach the owner — and the job ends; a passing failure (Telegram's server, the network, a
/// rate limit) marks it `failed` too and asks for a retry, which tries again.
pub async fn forward_to_owner(db: &Db, manager: Option<&Manager>, tenant: TenantId, conv: &Conversation, m: &Msg) -> Result<(), JobError> {
    let Some(manager) = manager else {
        tracing::warn!("no manager bot in this process: a customer's message could not be passed on to the owner");
        conversations::set_delivery(&db.pool, tenant, m.id, "failed").await?;
        return Ok(());
    };
    let owner = owner_chat(db, tenant).await?;
    let quoted: String = m.text.chars().take(3500).collect();
    let mut msg = SendMessage::html(owner, format!("💬 <b>{}:</b> {}", escape(&conv.customer_name), escape(&quoted)));
    msg.reply_markup = Some(owner_buttons(conv.id));
    match manager.bot.send_message(&msg).await {
        Ok(sent) => {
            conversations::add_relay(&db.pool, owner, sent.message_id, tenant, conv.id).await?;
            conversations::set_delivery(&db.pool, tenant, m.id, "sent").await?;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, "a customer's message could not be passed on to the owner");
            conversations::set_delivery(&db.pool, tenant, m.id, "failed").await?;
            if e.is_transient() { Err(job_error(e, "passing a customer's message on to the owner")) } else { Ok(()) }
        }
    }
}

/// What became of an owner's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// The conversation is not the tenant's (or no longer exists).
    NotFound,
    /// It reached the customer (now, or by an earlier attempt).
    Sent,
    /// Telegram's answer was lost: it may have reached the customer, and is not sent again.
    Unconfirmed,
}

/// Sends the owner's words to the customer through the business's bot, once per `dedupe`
/// (the manager update id) when given — at most once, through the stored message's delivery
/// states ([`super::delivery::send_once`]).
pub async fn owner_reply(db: &Db, bots: &ChildBots, tenant: TenantId, conv_id: i64, text: &str, dedupe: Option<i64>) -> Result<Relayed, JobError> {
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(Relayed::NotFound) };
    let mut tx = db.begin().await?;
    let (msg, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: "owner", text, update_id: dedupe, kind: "owner", sources: "[]", delivery: "pending", model_tokens: 0, question: None }).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    if msg.delivery == "sent" {
        return Ok(Relayed::Sent); // a redelivered manager update: already relayed
    }
    // An owner who replies has taken the conversation over.
    conversations::set_mode(&db.pool, tenant, conv.id, "human").await?;
    let bot = bots.open(tenant, conv.bot_id).await?.ok_or_else(|| JobError::Permanent(anyhow::anyhow!("the bot is no longer this business's")))?;
    let name = bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.0).unwrap_or_default();
    let mut send = SendMessage::html(conv.chat_id, format!("<b>{}:</b> {}", escape(&name), escape(text)));
    if conv.thread_id != 0 {
        send.message_thread_id = Some(conv.thread_id);
    }
    Ok(match send_once(db, tenant, &msg, "relaying the owner's reply", bot.send_message(&send)).await? {
        Sent::Now | Sent::Before => Relayed::Sent,
        Sent::Unconfirmed => Relayed::Unconfirmed,
    })
}

/// Hands the conversation back to the assistant and tells the customer. The mode change and
/// the message to the customer are stored in one commit, then the message is sent at most once
/// ([`super::delivery::send_once`]): a retry after a failed send (a Telegram refusal, a crash
/// before the call) sends the stored message rather than nothing, and never a second copy.
pub async fn close(db: &Db, bots: &ChildBots, tenant: TenantId, conv_id: i64) -> Result<bool, JobError> {
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(false) };
    let unsent = if conv.mode == "human" {
        // In the customer's language, as the conversation last knew it.
        let text = super::language::Lang::of(conv.language.as_deref()).words().back_with_assistant;
        let mut tx = db.begin().await?;
        conversations::set_mode(&mut *tx, tenant, conv.id, "bot").await?;
        let (m, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: "bot", text, update_id: None, kind: "closed", sources: "[]", delivery: "pending", model_tokens: 0, question: None }).await?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Some(m)
    } else {
        conversations::unsent_of_kind(&db.pool, tenant, conv.id, "closed").await?
    };
    let (Some(m), Some(bot)) = (unsent, bots.open(tenant, conv.bot_id).await?) else { return Ok(true) };
    let mut send = SendMessage::new(conv.chat_id, m.text.clone());
    if conv.thread_id != 0 {
        send.message_thread_id = Some(conv.thread_id);
    }
    send_once(db, tenant, &m, "telling the customer the chat is closed", bot.send_message(&send)).await?;
    Ok(true)
}

/// A handoff nobody answered within the bot's handoff timeout: the conversation goes back to the
/// assistant and the customer is told, in their language — once: the mode change and the message
/// are committed together, only if the conversation is still in that handoff, and the message is
/// sent at most once (as [`close`]).
pub async fn time_out(db: &Db, bots: &ChildBots, tenant: TenantId, conv_id: i64, handed_off_at: i64) -> Result<bool, JobError> {
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(false) };
    let text = super::language::Lang::of(conv.language.as_deref()).words().handoff_timed_out;
    let mut tx = db.begin().await?;
    if !conversations::end_handoff_if(&mut *tx, tenant, conv.id, handed_off_at).await? {
        return Ok(false); // answered, closed or handed off again meanwhile
    }
    let (m, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: "bot", text, update_id: None, kind: "closed", sources: "[]", delivery: "pending", model_tokens: 0, question: None }).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = tenant.0, conversation = conv.id, "a handoff nobody answered went back to the assistant");
    let Some(bot) = bots.open(tenant, conv.bot_id).await? else { return Ok(true) };
    let mut send = SendMessage::new(conv.chat_id, m.text.clone());
    if conv.thread_id != 0 {
        send.message_thread_id = Some(conv.thread_id);
    }
    send_once(db, tenant, &m, "telling the customer nobody was free", bot.send_message(&send)).await?;
    Ok(true)
}

/// The owner's Reply / Close buttons in the manager chat. Returns true when it was one of them.
pub async fn on_owner_callback(db: &Db, bots: &ChildBots, manager: &Manager, q: &CallbackQuery) -> Result<bool, JobError> {
    let data = q.data.as_deref().unwrap_or_default();
    let (is_reply, rest) = match (data.strip_prefix(REPLY), data.strip_prefix(CLOSE)) {
        (Some(r), _) => (true, r),
        (_, Some(c)) => (false, c),
        _ => return Ok(false),
    };
    let conv_id: i64 = rest.parse().unwrap_or(0);
    let owner = q.from.id;
    // The owner is identified by who pressed the button; the conversation must be their tenant's.
    let tenant = storage::tenants::find_by_owner(&db.pool, crate::domain::UserId(owner)).await?.map(|t| t.id);
    let conv = match tenant {
        Some(t) => conversations::get(&db.pool, t, conv_id).await?.map(|c| (t, c)),
        None => None,
    };
    let Some((tenant, conv)) = conv else {
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text("That conversation is not yours.")).await;
        return Ok(true);
    };
    if is_reply {
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
        let mut prompt = SendMessage::html(owner, format!("✍️ Write your reply to <b>{}</b>:", escape(&conv.customer_name)));
        prompt.reply_markup = Some(ReplyMarkup::ForceReply(ForceReply { force_reply: true, input_field_placeholder: Some(format!("Your reply to {}", conv.customer_name.chars().take(40).collect::<String>())) }));
        let sent = manager.bot.send_message(&prompt).await.map_err(|e| job_error(e, "asking the owner for a reply"))?;
        conversations::add_relay(&db.pool, owner, sent.message_id, tenant, conv.id).await?;
    } else {
        close(db, bots, tenant, conv.id).await?;
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text("Closed: the assistant answers again.")).await;
        let _ = manager.bot.send_message(&SendMessage::html(owner, format!("✅ Closed. The assistant answers <b>{}</b> again.", escape(&conv.customer_name)))).await;
    }
    Ok(true)
}

/// An owner's message in the manager chat that replies to a handoff message: relay it.
/// Returns true when it was such a reply.
pub async fn on_owner_message(db: &Db, bots: &ChildBots, manager: &Manager, update_id: i64, m: &Message) -> Result<bool, JobError> {
    let (Some(reply_to), Some(text)) = (&m.reply_to_message, m.text.as_deref()) else { return Ok(false) };
    let owner = m.chat.id;
    let Some((tenant, conv)) = conversations::relay_target(&db.pool, owner, reply_to.message_id).await? else { return Ok(false) };
    let note = match owner_reply(db, bots, tenant, conv, text, Some(update_id)).await? {
        Relayed::Sent => "✓ Sent. Tap Close on the conversation when you're done.",
        Relayed::Unconfirmed => "Telegram didn't confirm that your reply arrived — it may have. It won't be sent twice; check with the customer before writing it again.",
        Relayed::NotFound => "That conversation no longer exists.",
    };
    let _ = manager.bot.send_message(&SendMessage::new(owner, note)).await;
    Ok(true)
}
