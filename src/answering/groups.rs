//! Groups and forum topics: in a group the bot answers only when addressed (a mention, a reply
//! to it, or a command for it), and each forum topic is a conversation of its own; in a private
//! chat every message is for the bot and there are no topics.
use super::Ctx;
use crate::storage::conversations::Customer;
use crate::telegram::{Chat, Message};

/// The customer behind a message or a button press: their chat, and in a group their topic.
pub(super) fn customer<'a>(chat: &'a Chat, thread: Option<i64>, user_id: i64, name: &'a str) -> Customer<'a> {
    let thread_id = if chat.kind == "private" { 0 } else { thread.unwrap_or(0) };
    Customer { chat_id: chat.id, thread_id, chat_kind: &chat.kind, user_id, name }
}

/// A person's name as the owner sees it: first and last name.
pub(super) fn display_name(first: &str, last: Option<&str>) -> String {
    [first, last.unwrap_or("")].join(" ").trim().to_owned()
}

impl Ctx<'_> {
    /// In a group: the question if the bot is addressed (mention, reply to it, or a command),
    /// with the mention removed; `None` if the message isn't for the bot.
    pub(super) fn addressed(&self, m: &Message, text: &str) -> Option<String> {
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
}
