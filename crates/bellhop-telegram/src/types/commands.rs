//! Bot profile objects: `BotCommand`, `BotCommandScope`, `InputProfilePhoto`.
use serde::{Deserialize, Serialize};

/// A command shown in the bot's menu: <https://core.telegram.org/bots/api#botcommand>.
/// `command`: 1–32 characters of `a-z`, `0-9`, `_`; `description`: 1–256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BotCommand {
    pub command: String,
    pub description: String,
}

/// Where commands apply: <https://core.telegram.org/bots/api#botcommandscope>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BotCommandScope {
    Default,
    AllPrivateChats,
    AllGroupChats,
    AllChatAdministrators,
    Chat { chat_id: super::ChatTarget },
}

/// A profile photo to set: <https://core.telegram.org/bots/api#inputprofilephoto>.
/// `photo` is an `attach://<name>` reference to a multipart part, or a file id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputProfilePhoto {
    Static { photo: String },
    Animated { animation: String, #[serde(default, skip_serializing_if = "Option::is_none")] main_frame_timestamp: Option<f64> },
}
