//! Groups and forum topics: in a group the bot answers only when addressed (a mention, a reply
//! to it, or a command for it), and each forum topic is a conversation of its own; in a private
//! chat every message is for the bot and there are no topics.
use super::Ctx;
use crate::domain::conversation::ChatKind;
use crate::domain::{BotId, ChatId, UserId};
use crate::storage::conversations::Customer;
use crate::telegram::Message;

/// The customer behind a message, or a button press on message `m`: their chat, and in a forum
/// its topic.
pub(super) fn customer<'a>(m: &Message, user_id: UserId, name: &'a str, language: Option<&'a str>) -> Customer<'a> {
    // A chat type Telegram may add later is treated as a group (no drafts, no private-only
    // replies), the safer side.
    let chat_kind = m.chat.kind.parse().unwrap_or(ChatKind::Group);
    Customer { chat_id: ChatId(m.chat.id), thread_id: topic(m), chat_kind, user_id, name, language }
}

/// The forum topic message `m` is in; 0 for none. In any supergroup Telegram sets
/// `message_thread_id` on every reply too (to the id of the message its reply chain started
/// with), and that is not a topic: taken as one, each reply to the bot would start a
/// conversation of its own (a handoff in one, the assistant still answering in the other), and
/// a reply sent into it is refused ("message thread not found"). Only `is_topic_message` says
/// a topic. A private chat has none (bellhop's bots do not turn on topics there).
pub(super) fn topic(m: &Message) -> i64 {
    if !m.chat.is_private() && m.is_topic_message == Some(true) { m.message_thread_id.unwrap_or(0) } else { 0 }
}

/// A person's name as the owner sees it: first and last name.
pub(super) fn display_name(first: &str, last: Option<&str>) -> String {
    [first, last.unwrap_or("")].join(" ").trim().to_owned()
}

impl Ctx<'_> {
    /// In a group: the question if the bot is addressed (mention, reply to it, or a command),
    /// with the mention removed; `None` if the message isn't for the bot.
    pub(super) fn addressed(&self, m: &Message, text: &str) -> Option<String> {
        addressed_to(m, text, self.username, self.bot_id)
    }
}

/// [`Ctx::addressed`] for the bot `bot_id` of username `username`.
pub(super) fn addressed_to(m: &Message, text: &str, username: &str, bot_id: BotId) -> Option<String> {
    if text.starts_with('/') {
        let first = text.split_whitespace().next().unwrap_or_default();
        return match first.split_once('@') {
            Some((_, to)) if !to.eq_ignore_ascii_case(username) => None,
            _ => Some(text.to_owned()),
        };
    }
    if let Some(stripped) = strip_mention(text, username) {
        return Some(stripped);
    }
    let replied_to_bot = m.reply_to_message.as_ref().and_then(|r| r.from.as_ref()).is_some_and(|u| u.id == bot_id.0);
    replied_to_bot.then(|| text.to_owned())
}

/// The text without the first `@username` mention (matched without regard to ASCII case, and
/// not as the start of a longer username); `None` if there is no such mention.
///
/// Usernames are ASCII (Telegram: letters, digits, underscores), so the search is over bytes of
/// the original text: every offset it yields is a character boundary. (Lowercasing the text
/// first changes byte lengths — "K" (Kelvin sign) becomes "k", "İ" becomes "i̇" — and its offsets
/// do not fit the original.)
fn strip_mention(text: &str, username: &str) -> Option<String> {
    if username.is_empty() || !username.is_ascii() {
        return None;
    }
    let mention = format!("@{username}");
    let (bytes, m) = (text.as_bytes(), mention.as_bytes());
    let username_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let at = (0..bytes.len().saturating_sub(m.len() - 1))
        .find(|&i| bytes[i..i + m.len()].eq_ignore_ascii_case(m) && !bytes.get(i + m.len()).copied().is_some_and(username_byte))?;
    let (before, after) = (text[..at].trim_end(), text[at + m.len()..].trim_start().trim_start_matches([',', ':']).trim_start());
    Some(if before.is_empty() || after.is_empty() { format!("{before}{after}") } else { format!("{before} {after}") }.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::{strip_mention, topic};

    #[test]
    fn only_a_forum_topic_is_a_conversation_of_its_own_not_a_reply_thread() {
        let m = |chat: serde_json::Value, extra: serde_json::Value| -> crate::telegram::Message {
            let mut v = serde_json::json!({ "message_id": 9, "date": 1_700_000_000, "chat": chat, "text": "hi" });
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::from_value(v).unwrap()
        };
        let group = serde_json::json!({ "id": -100, "type": "supergroup" });
        let forum = serde_json::json!({ "id": -100, "type": "supergroup", "is_forum": true });
        assert_eq!(topic(&m(group.clone(), serde_json::json!({ "message_thread_id": 5 }))), 0, "a reply thread");
        assert_eq!(topic(&m(forum.clone(), serde_json::json!({ "message_thread_id": 5 }))), 0, "a reply in the forum's General topic");
        assert_eq!(topic(&m(forum, serde_json::json!({ "message_thread_id": 5, "is_topic_message": true }))), 5, "a topic");
        assert_eq!(topic(&m(serde_json::json!({ "id": 42, "type": "private" }), serde_json::json!({ "message_thread_id": 5, "is_topic_message": true }))), 0);
        assert_eq!(topic(&m(group, serde_json::json!({}))), 0);
    }

    #[test]
    fn the_mention_is_removed_wherever_it_stands_and_in_any_case() {
        assert_eq!(strip_mention("@gus_bot Do you fix brakes?", "gus_bot").as_deref(), Some("Do you fix brakes?"));
        assert_eq!(strip_mention("@Gus_Bot, do you fix brakes?", "gus_bot").as_deref(), Some("do you fix brakes?"));
        assert_eq!(strip_mention("Do you fix brakes @GUS_BOT?", "gus_bot").as_deref(), Some("Do you fix brakes ?"));
        assert_eq!(strip_mention("Hi @gus_bot: brakes?", "gus_bot").as_deref(), Some("Hi brakes?"));
        assert_eq!(strip_mention("@gus_bot", "gus_bot").as_deref(), Some(""));
    }

    #[test]
    fn letters_whose_lowercase_changes_length_do_not_panic() {
        assert_eq!(strip_mention("\u{212A}@gus_bot hi", "gus_bot").as_deref(), Some("\u{212A} hi"));
        assert_eq!(strip_mention("İ @gus_bot", "gus_bot").as_deref(), Some("İ"));
        assert_eq!(strip_mention("İİİ @gus_bot İ", "gus_bot").as_deref(), Some("İİİ İ"));
        assert_eq!(strip_mention("ẞ ß Σ ς @gus_bot ﬃ", "gus_bot").as_deref(), Some("ẞ ß Σ ς ﬃ"));
        // The Kelvin sign lowercases to "k", but it is not the letter K of a username.
        assert_eq!(strip_mention("@\u{212A}elvin_bot hi", "kelvin_bot"), None);
    }

    #[test]
    fn other_usernames_and_plain_text_are_not_mentions() {
        assert_eq!(strip_mention("ask @gus_bot_two", "gus_bot"), None);
        assert_eq!(strip_mention("gus_bot hi", "gus_bot"), None);
        assert_eq!(strip_mention("@gus_bo", "gus_bot"), None);
        assert_eq!(strip_mention("", "gus_bot"), None);
        assert_eq!(strip_mention("@gus_bot_two and @gus_bot hi", "gus_bot").as_deref(), Some("@gus_bot_two and hi"));
    }
}
