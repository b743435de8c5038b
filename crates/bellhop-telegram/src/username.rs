//! Telegram's rules for bot usernames and display names, mirrored so the landing page can
//! say what Telegram would say before the owner ever leaves our site.
//!
//! Usernames: 5–32 characters of `a-z`, `0-9` and `_`, starting with a letter, ending in `bot`
//! (case-insensitive; Telegram keeps the case the user typed but compares without it).
//! Display names: 1–64 characters after trimming.
use std::fmt;

/// What is wrong with a username or name, with Telegram's error code and a plain sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("A bot username must be 5 to 32 characters long.")]
    Length,
    #[error("A bot username may use only Latin letters, digits and underscores, and must start with a letter.")]
    Characters,
    #[error("A bot username must end in \"bot\", for example tetris_bot or TetrisBot.")]
    SuffixMissing,
    #[error("The bot's name must be 1 to 64 characters long.")]
    NameInvalid,
}

impl UsernameError {
    /// The error code Telegram itself uses for this problem.
    pub fn telegram_code(self) -> &'static str {
        match self {
            UsernameError::Length | UsernameError::Characters => "USERNAME_INVALID",
            UsernameError::SuffixMissing => "USERNAME_SUFFIX_MISSING",
            UsernameError::NameInvalid => "NAME_INVALID",
        }
    }
}

/// A syntactically valid bot username, without the leading `@`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BotUsername(String);

impl BotUsername {
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let s = s.trim().trim_start_matches('@');
        let n = s.chars().count();
        if !(5..=32).contains(&n) {
            return Err(UsernameError::Length);
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UsernameError::Characters);
        }
        if !s.to_ascii_lowercase().ends_with("bot") {
            return Err(UsernameError::SuffixMissing);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form Telegram compares usernames in.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for BotUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BotUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// A bot's display name: 1–64 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotName(String);

impl BotName {
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let s = s.trim();
        let n = s.chars().count();
        if !(1..=64).contains(&n) || s.chars().any(char::is_control) {
            return Err(UsernameError::NameInvalid);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_telegrams_rules() {
        for ok in ["tetris_bot", "TetrisBot", "abcbot", "a_________________________bot", "@pizza_bot"] {
            assert!(BotUsername::parse(ok).is_ok(), "{ok} rejected");
        }
        assert_eq!(BotUsername::parse("abot"), Err(UsernameError::Length));
        assert_eq!(BotUsername::parse(&format!("{}bot", "a".repeat(30))), Err(UsernameError::Length));
        assert_eq!(BotUsername::parse("pizza-bot"), Err(UsernameError::Characters));
        assert_eq!(BotUsername::parse("1pizzabot"), Err(UsernameError::Characters));
        assert_eq!(BotUsername::parse("pizzäbot"), Err(UsernameError::Characters));
        assert_eq!(BotUsername::parse("pizza_shop"), Err(UsernameError::SuffixMissing));
        assert_eq!(UsernameError::SuffixMissing.telegram_code(), "USERNAME_SUFFIX_MISSING");
    }

    #[test]
    fn names_are_one_to_sixty_four_characters() {
        assert!(BotName::parse("Café Olé").is_ok());
        assert!(BotName::parse(&"é".repeat(64)).is_ok());
        assert_eq!(BotName::parse("   "), Err(UsernameError::NameInvalid));
        assert_eq!(BotName::parse(&"x".repeat(65)), Err(UsernameError::NameInvalid));
        assert_eq!(BotName::parse("a\u{0}b"), Err(UsernameError::NameInvalid));
    }
}
