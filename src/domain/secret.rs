//! Secrets that never print: `Debug` and `Display` are redacted, the value is reached only
//! through `expose()` at the place it is used.
use std::fmt;

/// Any secret string (API keys, webhook secrets, database passwords).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

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

    pub fn bot_id(&self) -> crate::domain::BotId {
        crate::domain::BotId(self.bot_id)
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

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
