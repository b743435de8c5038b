//! Bots talking: `sendMessage`, `sendMessageDraft`, `editMessageText`, `sendChatAction`,
//! `answerCallbackQuery`. Validation and error texts follow Telegram's.
use super::Shared;
use super::params::{ApiError, Params, ok};
use super::world::{Draft, Entry, World};
use bellhop_telegram::html;
use bellhop_telegram::types::*;
use axum::response::Response;
use serde_json::Value;

/// Checks that `bot` may post into `chat_id` and that the rate limits allow it.
pub fn admit(s: &Shared, w: &World, bot: i64, chat_id: i64) -> Result<Chat, ApiError> {
    let chat = w.chat_for(chat_id).ok_or_else(|| ApiError::bad_request("chat not found"))?;
    if chat_id > 0 {
        let user = &w.users[&chat_id];
        if user.blocked.contains(&bot) {
            return Err(ApiError::forbidden("bot was blocked by the user"));
        }
        if !user.started.contains(&bot) {
            return Err(ApiError::forbidden("bot can't initiate conversation with a user"));
        }
    } else if !w.groups[&chat_id].bot_ids.contains(&bot) {
        return Err(ApiError::forbidden("bot is not a member of the supergroup chat"));
    }
    s.limiter().admit(bot, chat_id).map_err(ApiError::too_many)?;
    Ok(chat)
}

/// Text and entities as Telegram stores them, from `text` + `parse_mode` / `entities`: parsed,
/// cleaned, trimmed, with automatic entities (links, mentions, …) added (`text.rs`).
pub fn parse_text(text: &str, parse_mode: Option<&str>, entities: Option<Vec<MessageEntity>>) -> Result<(String, Option<Vec<MessageEntity>>), ApiError> {
    let (plain, ents) = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => {
            let p = html::parse(text).map_err(ApiError::bad_request)?;
            (p.text, p.entities)
        }
        // Markdown modes are accepted and kept verbatim; the sandbox does not render them.
        _ => (text.to_owned(), entities.unwrap_or_default()),
    };
    let (plain, ents) = super::text::finish(&plain, ents).ok_or_else(|| ApiError::bad_request("message text is empty"))?;
    if html::utf16_len(&plain) > 4096 {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok((plain, (!ents.is_empty()).then_some(ents)))
}

/// Inline keyboards go into the message; reply keyboards stay in the transcript.
pub fn read_markup(p: &Params) -> Result<(Option<Value>, Option<InlineKeyboardMarkup>), ApiError> {
    let Some(raw) = p.json("reply_markup")? else { return Ok((None, None)) };
    let markup: ReplyMarkup = serde_json::from_value(raw.clone()).map_err(|_| ApiError::bad_request("can't parse reply keyboard markup JSON object"))?;
    let inline = match markup {
        ReplyMarkup::Inline(k) => {
            for b in k.inline_keyboard.iter().flatten() {
                if b.action_count() == 0 {
                    return Err(ApiError::bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
                }
                if b.callback_data.as_ref().is_some_and(|d| d.is_empty() || d.len() > 64) {
                    return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
                }
                if b.copy_text.as_ref().is_some_and(|c| !(1..=256).contains(&c.text.chars().count())) {
                    return Err(ApiError::bad_request("BUTTON_COPY_TEXT_INVALID"));
                }
            }
            Some(k)
        }
        _ => None,
    };
    Ok((Some(raw), inline))
}

pub fn send_message(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat_id = p.chat_id()?;
    let text = p.req_str("text").map_err(|_| ApiError::bad_request("message text is empty"))?;
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let (plain, entities) = parse_text(&text, parse_mode.as_deref(), p.typed("entities")?)?;
    let (raw_markup, inline) = read_markup(p)?;
    let reply_to: Option<ReplyParameters> = p.typed("reply_parameters")?;
    let mut w = s.world();
    let chat = admit(s, &w, bot, chat_id)?;
    // The sandbox's supergroups have no topics, and its private chats none either: a thread id
    // names no topic there, and Telegram refuses it.
    if p.i64("message_thread_id")?.is_some_and(|t| t != 0) {
        return Err(ApiError::bad_request("message thread not found"));
    }
    let from = w.bots[&bot].user();
    let reply_to_message = match reply_to {
        Some(r) => match w.find_message(bot, chat_id, r.message_id) {
            Some(e) => Some(Box::new(e.message.clone())),
            None if r.allow_sending_without_reply == Some(true) => None,
            None => return Err(ApiError::bad_request("message to be replied not found")),
        },
        None => None,
    };
    let message = Message {
        message_id: w.next_message_id(bot, chat_id),
        message_thread_id: crate::world::reply_thread(&chat, reply_to_message.as_deref()),
        from: Some(from),
        date: w.now(),
        chat,
        text: Some(plain),
        entities,
        reply_markup: inline,
        reply_to_message,
        ..Default::default()
    };
    // A final message replaces the chat's streamed draft.
    w.drafts.retain(|d| !(d.bot_id == bot && d.chat_id == chat_id));
    w.record(Entry { seq: 0, bot_id: bot, chat_id, message_id: message.message_id, from_bot: true, message: message.clone(), raw_text: Some(text), parse_mode, reply_markup: raw_markup, edits: vec![], invoice: None });
    Ok(ok(message))
}

pub fn send_draft(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat_id = p.req_i64("chat_id")?;
    let draft_id = p.req_i64("draft_id")?;
    if draft_id == 0 {
        return Err(ApiError::bad_request("draft_id must be non-zero"));
    }
    if chat_id <= 0 {
        return Err(ApiError::bad_request("drafts can be sent only to private chats"));
    }
    let text = p.str("text").unwrap_or_default();
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let plain = if text.is_empty() { String::new() } else { parse_text(&text, parse_mode.as_deref(), None)?.0 };
    let mut w = s.world();
    if w.chat_for(chat_id).is_none() {
        return Err(ApiError::bad_request("chat not found"));
    }
    if !w.users[&chat_id].started.contains(&bot) {
        return Err(ApiError::forbidden("bot can't initiate conversation with a user"));
    }
    let date = w.now();
    w.drafts.retain(|d| !(d.bot_id == bot && d.chat_id == chat_id && d.draft_id == draft_id));
    let draft = Draft { bot_id: bot, chat_id, draft_id, text: plain, date };
    if w.draft_history.len() >= 10_000 {
        w.draft_history.drain(..1_000);
    }
    w.draft_history.push(draft.clone());
    w.drafts.push(draft);
    Ok(ok(true))
}

pub fn edit_text(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    if p.has("inline_message_id") {
        return Err(ApiError::bad_request("inline messages are not simulated"));
    }
    let chat_id = p.chat_id()?;
    let message_id = p.i64("message_id")?.ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let text = p.req_str("text").map_err(|_| ApiError::bad_request("message text is empty"))?;
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let (plain, entities) = parse_text(&text, parse_mode.as_deref(), p.typed("entities")?)?;
    let (raw_markup, inline) = read_markup(p)?;
    let mut w = s.world();
    let now = w.now();
    let entry = w.find_message_mut(bot, chat_id, message_id).filter(|e| e.from_bot && e.bot_id == bot).ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if entry.message.text.as_deref() == Some(plain.as_str()) && entry.message.entities == entities && entry.message.reply_markup == inline {
        return Err(ApiError::bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    // Telegram's flood control covers edits as it covers sends (429 with `retry_after`): an
    // edit that changes the message counts against the chat's and the bot's limits.
    s.limiter().admit(bot, chat_id).map_err(ApiError::too_many)?;
    if let Some(old) = entry.raw_text.replace(text) {
        entry.edits.push(old);
    }
    entry.parse_mode = parse_mode;
    entry.message.text = Some(plain);
    entry.message.entities = entities;
    entry.message.reply_markup = inline;
    entry.message.edit_date = Some(now);
    if raw_markup.is_some() {
        entry.reply_markup = raw_markup;
    }
    Ok(ok(entry.message.clone()))
}

pub fn chat_action(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat_id = p.chat_id()?;
    let action = p.req_str("action")?;
    const ACTIONS: &[&str] = &["typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"];
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    let mut w = s.world();
    if w.chat_for(chat_id).is_none() {
        return Err(ApiError::bad_request("chat not found"));
    }
    let now = w.now();
    w.chat_actions.push((bot, chat_id, action, now));
    Ok(ok(true))
}

pub fn answer_callback(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let id = p.req_str("callback_query_id")?;
    let mut w = s.world();
    let q = w.callbacks.get_mut(&id).filter(|q| q.bot_id == bot).ok_or_else(|| ApiError::bad_request("query is too old and response timeout expired or query ID is invalid"))?;
    if q.answered {
        return Err(ApiError::bad_request("query is too old and response timeout expired or query ID is invalid"));
    }
    q.answered = true;
    q.answer_text = p.str("text");
    Ok(ok(true))
}
