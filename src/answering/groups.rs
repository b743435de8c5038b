//! Groups and forum topics: in a group the bot answers only when addressed (a mention, a reply
//! to it, or a command for it), and each forum topic is a conversation of its own; in a private
//! chat every message is for the bot and there are no topics.
use super::Ctx;
use crate::domain::conversation::ChatKind;
use crate::domain::{BotId, ChatId, UserId};
use crate::storage::conversations::Customer;
use crate::telegram::{Chat, Message};

/// The customer behind a message or a button press: their chat, and in a group their topic.
pub(super) fn customer<'a>(chat: &'a Chat, thread: Option<i64>, user_id: UserId, name: &'a str, language: Option<&'a str>) -> Customer<'a> {
    let thread_id = if chat.is_private() { 0 } else { thread.unwrap_or(0) };
    // A chat type Telegram may add later is treated as a group (no drafts, no private-only
    // replies), the safer side.
    let chat_kind = chat.kind.parse().unwrap_or(ChatKind::Group);
    Customer { chat_id: ChatId(chat.id), thread_id, chat_kind, user_id, name, language }
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
    use super::strip_mention;

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
