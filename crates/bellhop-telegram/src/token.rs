//! `BotToken`: a Telegram bot token that never prints. `Debug` and `Display` show only the bot
//! id; the whole token is reached only through [`BotToken::expose`], where the request URL is
//! built (teloxide hides tokens from error URLs the same way).
use crate::ids::BotId;
use std::fmt;

/// A Telegram bot token, `<bot id>:<35 or more url-safe characters>`.
///
/// The id part is public (it is the bot's user id); the rest is a password. `Debug` shows only
/// the id so logs stay useful without leaking anything.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken {
    raw: String,
    bot_id: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a Telegram bot token (expected `<digits>:<secret>`)")]
pub struct BotTokenError;

impl BotToken {
    pub fn parse(s: &str) -> Result<Self, BotTokenError> {
        let s = s.trim();
        let (id, secret) = s.split_once(':').ok_or(BotTokenError)?;
        let bot_id: i64 = id.parse().map_err(|_| BotTokenError)?;
        let ok_secret = secret.len() >= 20
            && secret.len() <= 128
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if bot_id <= 0 || !ok_secret || id.starts_with('0') {
            return Err(BotTokenError);
        }
        Ok(Self { raw: s.to_owned(), bot_id })
    }

    pub fn bot_id(&self) -> BotId {
        BotId(self.bot_id)
    }

    /// The full token. Call it only where the token goes on the wire or into encryption.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BotToken({}:***)", self.bot_id)
    }
}

impl fmt::Display for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***", self.bot_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_and_display_hide_the_secret() {
        let t = BotToken::parse("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap();
        assert_eq!(t.bot_id().0, 123456);
        for shown in [format!("{t:?}"), format!("{t}")] {
            assert!(!shown.contains("AAHdqTcv"), "{shown}");
            assert!(shown.contains("123456"));
        }
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in ["", "abc", "123:", ":abcdefghijklmnopqrstuvwxyz", "0123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "12:short", "-5:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "5:AAHdqTcvCH1vGWJxf eofSAs0K5PALDsaw"] {
            assert!(BotToken::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
