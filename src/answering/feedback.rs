//! The buttons under a reply and their presses: 👍/👎 on answers (recorded on the reply, for the
//! owner's knowledge-gap page) and "talk to a person" (a handoff).
use crate::domain::{ChatId, UserId};
use crate::domain::conversation::{Mode, MsgId};
use super::language::{Lang, fill};
use super::{Ctx, groups};
use crate::jobs::JobError;
use crate::storage::conversations;
use crate::telegram::methods::AnswerCallbackQuery;
use crate::telegram::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

/// Callback data of the "talk to a person" button.
const HUMAN: &str = "human";
/// Callback data prefix of the 👍/👎 buttons: `fb:1:<reply id>` / `fb:-1:<reply id>`.
const FEEDBACK: &str = "fb:";

/// What the customer is told when a person has been asked to help.
pub(super) fn handoff_note(business: &str, lang: Lang) -> String {
    fill(lang.words().handoff, business)
}

pub(super) fn human_button(lang: Lang) -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton { text: lang.words().talk_to_person.into(), callback_data: Some(HUMAN.into()), ..Default::default() }]],
    })
}

pub(super) fn feedback_buttons(reply: MsgId, lang: Lang) -> ReplyMarkup {
    let row = vec![
        InlineKeyboardButton { text: "👍".into(), callback_data: Some(format!("{FEEDBACK}1:{reply}")), ..Default::default() },
        InlineKeyboardButton { text: "👎".into(), callback_data: Some(format!("{FEEDBACK}-1:{reply}")), ..Default::default() },
        InlineKeyboardButton { text: lang.words().person.into(), callback_data: Some(HUMAN.into()), ..Default::default() },
    ];
    ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: vec![row] })
}

impl Ctx<'_> {
    /// A press of one of the buttons under a reply.
    pub(super) async fn callback(&self, update_id: i64, q: CallbackQuery) -> Result<(), JobError> {
        let data = q.data.clone().unwrap_or_default();
        let Some(msg) = q.message().cloned() else {
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
            return Ok(());
        };
        if self.forget_pressed(&q, ChatId(msg.chat.id), msg.message_id).await? {
            return Ok(());
        }
        if data == HUMAN {
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
            let name = groups::display_name(&q.from.first_name, q.from.last_name.as_deref());
            let customer = groups::customer(&msg, UserId(q.from.id), &name, self.language);
            let conv = conversations::open(&self.db().pool, self.tenant, self.bot_id, &customer).await?;
            // A retried press: the earlier attempt's note, finished (see `Ctx::hand_off`).
            if let Some(note) = conversations::reply_to(&self.db().pool, self.tenant, conv.id, update_id).await? {
                return self.finish_hand_off(&conv, &note, msg.message_id, conv.mode != Mode::Human).await;
            }
            if conv.mode == Mode::Human {
                return Ok(());
            }
            return self.handoff(&conv, update_id, msg.message_id).await;
        }
        if let Some(rest) = data.strip_prefix(FEEDBACK) {
            let (value, id) = rest.split_once(':').unwrap_or(("", ""));
            let value: i64 = if value == "1" { 1 } else { -1 };
            let ok = conversations::set_feedback(&self.db().pool, self.tenant, self.bot_id, ChatId(msg.chat.id), MsgId(id.parse().unwrap_or(0)), value).await?;
            let w = self.lang.words();
            let text = match (ok, value) {
                (false, _) => w.feedback_failed,
                (true, 1) => w.feedback_up,
                _ => w.feedback_down,
            };
            let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text(text)).await;
            return Ok(());
        }
        let _ = self.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
        Ok(())
    }
}
