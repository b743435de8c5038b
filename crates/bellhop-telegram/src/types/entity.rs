//! `MessageEntity` (<https://core.telegram.org/bots/api#messageentity>).
use super::User;
use serde::{Deserialize, Serialize};

/// A special entity in a text. `offset` and `length` count **UTF-16 code units**.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageEntity {
    /// `mention`, `bot_command`, `url`, `bold`, `italic`, `underline`, `strikethrough`,
    /// `spoiler`, `blockquote`, `code`, `pre`, `text_link`, `custom_emoji`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: i64,
    pub length: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_emoji_id: Option<String>,
    /// For `date_time` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_time: Option<i64>,
    /// For `date_time` only: how clients format `unix_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time_format: Option<String>,
}
