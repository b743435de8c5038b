//! `/forget`: a customer erases their own conversation with the bot. The bot asks first, with
//! two buttons; "Yes, delete" erases their private conversation with this bot — messages, the
//! bot's replies, feedback, handoff routes, the manager bot's stored updates quoting a handoff
//! of it — and every update they sent it
//! (`storage::privacy`), then says so. Nothing about the erasure is stored afterwards. A bot
//! that changed owner is one bot to the customer: what its earlier owners hold of them (their
//! business's records, which no longer receive anything from the bot) is erased as well.
//!
//! In a group, the bot asks them to write to it privately: a group's conversation holds other
//! people's messages too.
use crate::domain::ChatId;
use crate::domain::UserId;
use crate::domain::conversation::{ChatKind, MessageKind};
use super::Ctx;
use super::delivery::Reply;
use super::language::{Lang, fill};
use crate::jobs::JobError;
use crate::storage::conversations::Conversation;
use crate::storage::privacy;
use crate::telegram::methods::{AnswerCallbackQuery, EditMessageText, SendMessage};
use crate::telegram::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

/// Callback data of the two buttons.
pub(super) const YES: &str = "forget:yes";
pub(super) const NO: &str = "forget:no";

pub(super) fn buttons(lang: Lang) -> ReplyMarkup {
    let w = lang.words();
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![
            InlineKeyboardButton { text: w.forget_yes.into(), callback_data: Some(YES.into()), ..Default::default() },
            InlineKeyboardButton { text: w.forget_no.into(), callback_data: Some(NO.into()), ..Default::default() },
        ]],
    })
}

impl Ctx<'_> {
    /// `/forget`: the question with its buttons (in a private chat), or where to ask.
    pub(super) async fn forget_ask(&self, conv: &Conversation, update_id: i64, reply_to: i64) -> Result<(), JobError> {
        let w = self.lang.words();
        let (kind, text) = if conv.chat_kind == ChatKind::Private { (MessageKind::Forget, fill(w.forget_ask, self.business)) } else { (MessageKind::Command, w.forget_private.to_owned()) };
        self.reply(conv, update_id, reply_to, &Reply { kind, text: &text, sources: &[], tokens: 0, question: None }).await
    }

    /// A press of "Yes, delete" or "Keep it". Returns false when it was neither.
    pub(super) async fn forget_pressed(&self, q: &CallbackQuery, chat_id: ChatId, message_id: i64) -> Result<bool, JobError> {
        let data = q.data.as_deref().unwrap_or_default();
        if data != YES && data != NO {
            return Ok(false);
        }
        let w = self.lang.words();
        // The question's buttons go: it has been answered.
        let question = if data == YES { fill(w.forget_ask, self.business) } else { w.forget_kept.to_owned() };
        let _ = self.bot.call(&EditMessageText::new(chat_id, message_id, question)).await;
        if data == NO || chat_id != ChatId(q.from.id) {
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text(w.forget_kept)).await;
            return Ok(true);
        }
        let user = UserId(q.from.id);
        let mut tx = self.db().begin().await?;
        let mut erased = privacy::Erased::default();
        // What the bot's earlier owners hold of them goes too: they asked the bot, and cannot
        // reach its earlier owners through it any more.
        let mut tenants = privacy::customer_tenants(&mut tx, self.bot_id, user).await?;
        if !tenants.contains(&self.tenant) {
            tenants.push(self.tenant);
        }
        // The team's copies of their handoffs, kept with the manager bot's updates.
        let manager = self.a.manager.as_ref().map(|m| m.id);
        for tenant in tenants {
            // The customer's raw updates, then the conversations to erase.
            erased.updates += privacy::erase_updates_from(&mut tx, tenant, self.bot_id, user).await?;
            for conv in privacy::customer_conversations(&mut tx, tenant, self.bot_id, user).await? {
                let e = privacy::erase_conversation(&mut tx, manager, tenant, self.bot_id, conv, user).await?;
                erased.conversations += e.conversations;
                erased.messages += e.messages;
                erased.updates += e.updates;
            }
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        tracing::info!(conversations = erased.conversations, messages = erased.messages, updates = erased.updates, "a customer's data erased at their request (/forget)");
        let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
        // Best effort, and not stored: the erasure is done whether or not this arrives.
        let _ = self.bot.send_message(&SendMessage::new(chat_id, fill(w.forget_done, self.business))).await;
        Ok(true)
    }
}
