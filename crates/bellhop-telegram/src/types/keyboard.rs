//! Keyboards and buttons, reply options, and `CallbackQuery` (a press of an inline button).
//! <https://core.telegram.org/bots/api#inlinekeyboardmarkup>,
//! <https://core.telegram.org/bots/api#replykeyboardmarkup>.
use super::{ChatTarget, Message, MaybeInaccessibleMessage, User};
use serde::{Deserialize, Serialize};

/// Buttons under a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InlineKeyboardMarkup {
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

/// One inline button; exactly one of the optional actions must be set.
/// `callback_data` is 1–64 **bytes**.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InlineKeyboardButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Only in the first button of the first row of an invoice message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay: Option<bool>,
}

impl InlineKeyboardButton {
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Self {
        Self { text: text.into(), callback_data: Some(data.into()), ..Default::default() }
    }
    pub fn url(text: impl Into<String>, url: impl Into<String>) -> Self {
        Self { text: text.into(), url: Some(url.into()), ..Default::default() }
    }
}

/// A custom keyboard replacing the user's keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplyKeyboardMarkup {
    pub keyboard: Vec<Vec<KeyboardButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_persistent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_keyboard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_time_keyboard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
}

/// A reply-keyboard button. With `request_managed_bot`, pressing it opens Telegram's
/// managed-bot creation screen for the bot that sent the keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_managed_bot: Option<KeyboardButtonRequestManagedBot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_contact: Option<bool>,
}

/// <https://core.telegram.org/bots/api#keyboardbuttonrequestmanagedbot>: the creation screen's
/// pre-filled (and user-editable) name and username.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButtonRequestManagedBot {
    /// Identifies the request in the resulting service message; unique within the message.
    pub request_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_username: Option<String>,
}

/// The result of `savePreparedKeyboardButton`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PreparedKeyboardButton {
    pub id: String,
}

/// Removes a custom keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplyKeyboardRemove {
    pub remove_keyboard: bool,
}

/// Asks the client to reply to the message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ForceReply {
    pub force_reply: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_field_placeholder: Option<String>,
}

/// The `reply_markup` parameter of `sendMessage`: one of four shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReplyMarkup {
    Inline(InlineKeyboardMarkup),
    Keyboard(ReplyKeyboardMarkup),
    Remove(ReplyKeyboardRemove),
    ForceReply(ForceReply),
}

/// What a message replies to: <https://core.telegram.org/bots/api#replyparameters>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplyParameters {
    pub message_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_sending_without_reply: Option<bool>,
}

/// Link preview settings: <https://core.telegram.org/bots/api#linkpreviewoptions>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkPreviewOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_disabled: Option<bool>,
}

/// A press of an inline button: <https://core.telegram.org/bots/api#callbackquery>.
/// Must be answered with `answerCallbackQuery`, or the client shows a progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MaybeInaccessibleMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_message_id: Option<String>,
    pub chat_instance: String,
    /// Up to 64 bytes, as set on the button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl CallbackQuery {
    /// The message the button was under, when it is still accessible.
    pub fn message(&self) -> Option<&Message> {
        match &self.message {
            Some(MaybeInaccessibleMessage::Message(m)) => Some(m),
            _ => None,
        }
    }
}
