//! `User`: a Telegram user or bot (<https://core.telegram.org/bots/api#user>).
use serde::{Deserialize, Serialize};

/// A user or bot. The `can_*` / `supports_*` fields are returned only by `getMe`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub is_bot: bool,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_premium: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_join_groups: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_read_all_group_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_inline_queries: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_connect_to_business: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_main_web_app: Option<bool>,
    /// `true` when the bot's owner enabled Bot Management Mode: the bot may create and control
    /// managed bots (Bot API 9.6+). Returned only by `getMe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_manage_bots: Option<bool>,
}
