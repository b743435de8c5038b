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

/// One inline button: <https://core.telegram.org/bots/api#inlinekeyboardbutton>. Exactly one
/// of the fields other than `text`, `icon_custom_emoji_id` and `style` must be set (Telegram
/// refuses a text-only inline button); every field is kept so a message read back, or relayed,
/// loses nothing. `callback_data` is 1–64 **bytes**.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InlineKeyboardButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_custom_emoji_id: Option<String>,
    /// `danger`, `success` or `primary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app: Option<WebAppInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<LoginUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query_current_chat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_inline_query_chosen_chat: Option<SwitchInlineQueryChosenChat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_text: Option<CopyTextButton>,
    /// Must be the first button of the first row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_game: Option<CallbackGame>,
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

    /// How many of the action fields are set: Telegram wants exactly one.
    pub fn action_count(&self) -> usize {
        [
            self.url.is_some(),
            self.callback_data.is_some(),
            self.web_app.is_some(),
            self.login_url.is_some(),
            self.switch_inline_query.is_some(),
            self.switch_inline_query_current_chat.is_some(),
            self.switch_inline_query_chosen_chat.is_some(),
            self.copy_text.is_some(),
            self.callback_game.is_some(),
            self.pay.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }
}

/// A Mini App to open: <https://core.telegram.org/bots/api#webappinfo>. An HTTPS URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WebAppInfo {
    pub url: String,
}

/// Log the user in to a website: <https://core.telegram.org/bots/api#loginurl>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoginUrl {
    /// An HTTPS URL; Telegram adds the user's authorisation data to its query string.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_write_access: Option<bool>,
}

/// <https://core.telegram.org/bots/api#switchinlinequerychosenchat>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SwitchInlineQueryChosenChat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_user_chats: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_bot_chats: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_group_chats: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_channel_chats: Option<bool>,
}

/// A button that copies `text` (1–256 characters) to the clipboard:
/// <https://core.telegram.org/bots/api#copytextbutton>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CopyTextButton {
    pub text: String,
}

/// A placeholder that holds no information: <https://core.telegram.org/bots/api#callbackgame>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CallbackGame {}

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

/// A reply-keyboard button: <https://core.telegram.org/bots/api#keyboardbutton>. At most one of
/// the fields other than `text`, `icon_custom_emoji_id` and `style` is set; with none, pressing it
/// sends `text`. With `request_managed_bot`, pressing it opens Telegram's managed-bot creation
/// screen for the bot that sent the keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButton {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_custom_emoji_id: Option<String>,
    /// `danger`, `success` or `primary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_users: Option<KeyboardButtonRequestUsers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_chat: Option<KeyboardButtonRequestChat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_managed_bot: Option<KeyboardButtonRequestManagedBot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_contact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_location: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_poll: Option<KeyboardButtonPollType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app: Option<WebAppInfo>,
}

/// Which users a `request_users` button lets the user pick:
/// <https://core.telegram.org/bots/api#keyboardbuttonrequestusers>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButtonRequestUsers {
    /// Signed 32-bit; comes back in the `users_shared` service message.
    pub request_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_is_bot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_is_premium: Option<bool>,
    /// 1–10; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_name: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_username: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_photo: Option<bool>,
}

/// Which chat a `request_chat` button lets the user pick:
/// <https://core.telegram.org/bots/api#keyboardbuttonrequestchat>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButtonRequestChat {
    /// Signed 32-bit; comes back in the `chat_shared` service message.
    pub request_id: i64,
    pub chat_is_channel: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_is_forum: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_has_username: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_is_created: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_administrator_rights: Option<ChatAdministratorRights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_administrator_rights: Option<ChatAdministratorRights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_is_member: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_title: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_username: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_photo: Option<bool>,
}

/// An administrator's rights: <https://core.telegram.org/bots/api#chatadministratorrights>.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatAdministratorRights {
    pub is_anonymous: bool,
    pub can_manage_chat: bool,
    pub can_delete_messages: bool,
    pub can_manage_video_chats: bool,
    pub can_restrict_members: bool,
    pub can_promote_members: bool,
    pub can_change_info: bool,
    pub can_invite_users: bool,
    pub can_post_stories: bool,
    pub can_edit_stories: bool,
    pub can_delete_stories: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_post_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_edit_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_pin_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_manage_topics: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_manage_direct_messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_manage_tags: Option<bool>,
}

/// <https://core.telegram.org/bots/api#keyboardbuttonpolltype>: `quiz`, `regular` or any.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyboardButtonPollType {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
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

/// The bot's menu button in a private chat: <https://core.telegram.org/bots/api#menubutton>.
/// bellhop's manager sets a `web_app` one that opens its onboarding Mini App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MenuButton {
    /// Opens the list of the bot's commands.
    Commands,
    /// Opens a Mini App: `text` on the button, `web_app.url` an HTTPS URL (Telegram's cloud).
    WebApp { text: String, web_app: WebAppInfo },
    /// No specific button: the client's default (the commands).
    Default,
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
