//! `Chat` (<https://core.telegram.org/bots/api#chat>) and the `chat_id` parameter shape.
use crate::ids::ChatId;
use serde::{Deserialize, Serialize};

/// A chat. `type` is `private`, `group`, `supergroup` or `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_forum: Option<bool>,
}

impl Chat {
    pub fn chat_id(&self) -> ChatId {
        ChatId(self.id)
    }
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}

/// The `chat_id` parameter: "Integer or String" — a numeric id or `@channelusername`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatTarget {
    Id(ChatId),
    Username(String),
}

impl From<ChatId> for ChatTarget {
    fn from(c: ChatId) -> Self {
        ChatTarget::Id(c)
    }
}

impl From<i64> for ChatTarget {
    fn from(c: i64) -> Self {
        ChatTarget::Id(ChatId(c))
    }
}

impl ChatTarget {
    /// The numeric id, if this target is one.
    pub fn id(&self) -> Option<ChatId> {
        match self {
            ChatTarget::Id(c) => Some(*c),
            ChatTarget::Username(_) => None,
        }
    }
}
