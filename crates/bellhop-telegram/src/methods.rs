//! One request type per Bot API method bellhop calls, each tied to its method name and result
//! type by [`Method`]. Field names are the reference's; optional parameters are `Option`s left
//! out of the JSON when `None`; required parameters are plain fields, so they cannot be
//! forgotten. `tests/telegram/telegram_reference.rs` checks all of this against `bot-api.json`.
//!
//! As in teloxide, a request is built with a constructor taking exactly its required
//! parameters (`SendMessage::new(chat_id, text)`) — no request type implements `Default`, so a
//! required parameter can never be filled in with a made-up value — and optional parameters are
//! set with one method per field, named as the field (`.reply_markup(markup)`), or directly
//! (the fields are public).
// Request types with no required parameter have `new()` and deliberately no `Default`.
#![allow(clippy::new_without_default)]
use super::types::*;
use crate::ids::{ChatId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A Bot API method: its name in the URL and the type of `result` in a successful response.
pub trait Method: Serialize {
    const NAME: &'static str;
    type Response: DeserializeOwned + Send + 'static;

    /// For a method that posts into a chat and so counts against Telegram's message limits,
    /// the chat it posts into (`ChatId(0)` when only a username or an inline message is known);
    /// `None` for every other method. A [`crate::Client`] with a throttle sends the calls that
    /// return `Some` through it (see [`crate::throttle`] for which methods and why).
    fn posts_to(&self) -> Option<ChatId> {
        None
    }
}

/// Setters for optional parameters, one per field and named as it: `request.field(value)`.
macro_rules! optional {
    ($ty:ident { $($field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets the optional `", stringify!($field), "`.")]
                pub fn $field(mut self, value: impl Into<$t>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

/// How Telegram reads a message's text for formatting (`parse_mode`).
/// <https://core.telegram.org/bots/api#formatting-options>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseMode {
    /// Telegram's HTML subset ([`crate::html`]).
    #[serde(rename = "HTML")]
    Html,
    MarkdownV2,
    /// The legacy Markdown, kept by Telegram for backward compatibility.
    Markdown,
}

/// The chat a chat-addressed request posts into, for the throttle.
fn target_chat(chat: &ChatTarget) -> ChatId {
    chat.id().unwrap_or(ChatId(0))
}

/// Every method the client has a request type for, for the reference test and the sandbox.
/// bellhop calls all of them but the managed-bot access settings pair (docs/telegram.md says why).
pub const ALL_METHODS: &[&str] = &["getMe", "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates", "logOut", "close", "getManagedBotToken", "replaceManagedBotToken", "savePreparedKeyboardButton", "setChatMenuButton", "getManagedBotAccessSettings", "setManagedBotAccessSettings", "setMyCommands", "setMyName", "setMyDescription", "setMyShortDescription", "setMyProfilePhoto", "sendMessage", "sendMessageDraft", "editMessageText", "sendChatAction", "answerCallbackQuery", "sendInvoice", "createInvoiceLink", "answerPreCheckoutQuery", "refundStarPayment", "editUserStarSubscription", "getStarTransactions"];

/// `getMe`: Returns the bot itself; a manager bot shows `can_manage_bots: true`.
/// <https://core.telegram.org/bots/api#getme>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetMe {}

impl Method for GetMe {
    const NAME: &'static str = "getMe";
    type Response = User;
}

/// `setWebhook`: Sets the webhook. Telegram POSTs updates to `url` with the header `X-Telegram-Bot-Api-Secret-Token: secret_token`. `max_connections` is 1–100 (default 40); `secret_token` is 1–256 characters of `A-Z a-z 0-9 _ -`. While a webhook is set, `getUpdates` answers 409.
/// <https://core.telegram.org/bots/api#setwebhook>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetWebhook {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_pending_updates: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

impl Method for SetWebhook {
    const NAME: &'static str = "setWebhook";
    type Response = bool;
}

/// `deleteWebhook`: Removes the webhook so the bot can use `getUpdates` again.
/// <https://core.telegram.org/bots/api#deletewebhook>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_pending_updates: Option<bool>,
}

impl Method for DeleteWebhook {
    const NAME: &'static str = "deleteWebhook";
    type Response = bool;
}

/// `getWebhookInfo`: The current webhook and the number of pending updates.
/// <https://core.telegram.org/bots/api#getwebhookinfo>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetWebhookInfo {}

impl Method for GetWebhookInfo {
    const NAME: &'static str = "getWebhookInfo";
    type Response = WebhookInfo;
}

/// `getUpdates`: Long polling. Updates with an id below `offset` are confirmed and forgotten; `limit` is 1–100; `timeout` is the long-poll wait in seconds (the HTTP timeout must exceed it).
/// <https://core.telegram.org/bots/api#getupdates>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetUpdates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
}

impl Method for GetUpdates {
    const NAME: &'static str = "getUpdates";
    type Response = Vec<Update>;
}

/// `logOut`: Logs the bot out of the cloud Bot API server. Call it once before moving a bot to a self-hosted server: afterwards the bot can log in on a local server at once, but not back on the cloud server for 10 minutes.
/// <https://core.telegram.org/bots/api#logout>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogOut {}

impl Method for LogOut {
    const NAME: &'static str = "logOut";
    type Response = bool;
}

/// `close`: Closes the bot's instance on a (self-hosted) Bot API server before moving it to another server. Delete the webhook first, or the bot is launched there again after the server restarts; refused with 429 in the first 10 minutes after the bot was launched.
/// <https://core.telegram.org/bots/api#close>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Close {}

impl Method for Close {
    const NAME: &'static str = "close";
    type Response = bool;
}

/// `getManagedBotToken`: The token of a bot this manager bot manages. `user_id` is the **child bot's** id (from `ManagedBotUpdated.bot.id`).
/// <https://core.telegram.org/bots/api#getmanagedbottoken>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetManagedBotToken {
    pub user_id: UserId,
}

impl Method for GetManagedBotToken {
    const NAME: &'static str = "getManagedBotToken";
    type Response = String;
}

/// `replaceManagedBotToken`: Revokes a managed bot's token and returns a new one; the old token answers 401 from then on, and the manager receives `managed_bot` again.
/// <https://core.telegram.org/bots/api#replacemanagedbottoken>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaceManagedBotToken {
    pub user_id: UserId,
}

impl Method for ReplaceManagedBotToken {
    const NAME: &'static str = "replaceManagedBotToken";
    type Response = String;
}

/// `savePreparedKeyboardButton`: Stores a keyboard button (e.g. one with `request_managed_bot`) that a Mini App of this bot can show to `user_id`.
/// <https://core.telegram.org/bots/api#savepreparedkeyboardbutton>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavePreparedKeyboardButton {
    pub user_id: UserId,
    pub button: KeyboardButton,
}

impl Method for SavePreparedKeyboardButton {
    const NAME: &'static str = "savePreparedKeyboardButton";
    type Response = PreparedKeyboardButton;
}

/// `setChatMenuButton`: the bot's menu button in one private chat (`chat_id`), or its default
/// one (no `chat_id`); `MenuButton::Default` when `menu_button` is left out.
/// <https://core.telegram.org/bots/api#setchatmenubutton>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetChatMenuButton {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu_button: Option<MenuButton>,
}

impl Method for SetChatMenuButton {
    const NAME: &'static str = "setChatMenuButton";
    type Response = bool;
}

/// `getManagedBotAccessSettings` (Bot API 10.1): who may use a managed bot.
/// <https://core.telegram.org/bots/api#getmanagedbotaccesssettings>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetManagedBotAccessSettings {
    pub user_id: UserId,
}

impl Method for GetManagedBotAccessSettings {
    const NAME: &'static str = "getManagedBotAccessSettings";
    type Response = BotAccessSettings;
}

/// `setManagedBotAccessSettings` (Bot API 10.1): restricts a managed bot to its owner and up to
/// 10 other users, or opens it to everyone. `added_user_ids` is ignored when access is not
/// restricted. <https://core.telegram.org/bots/api#setmanagedbotaccesssettings>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetManagedBotAccessSettings {
    pub user_id: UserId,
    pub is_access_restricted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_user_ids: Option<Vec<UserId>>,
}

impl Method for SetManagedBotAccessSettings {
    const NAME: &'static str = "setManagedBotAccessSettings";
    type Response = bool;
}

/// `setMyCommands`: Sets the command menu: at most 100 commands.
/// <https://core.telegram.org/bots/api#setmycommands>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMyCommands {
    pub commands: Vec<BotCommand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<BotCommandScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

impl Method for SetMyCommands {
    const NAME: &'static str = "setMyCommands";
    type Response = bool;
}

/// `setMyName`: Sets the bot's display name: 0–64 characters (empty removes a localised name).
/// <https://core.telegram.org/bots/api#setmyname>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMyName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

impl Method for SetMyName {
    const NAME: &'static str = "setMyName";
    type Response = bool;
}

/// `setMyDescription`: Sets the text shown in an empty chat: 0–512 characters.
/// <https://core.telegram.org/bots/api#setmydescription>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMyDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

impl Method for SetMyDescription {
    const NAME: &'static str = "setMyDescription";
    type Response = bool;
}

/// `setMyShortDescription`: Sets the text on the bot's profile page: 0–120 characters.
/// <https://core.telegram.org/bots/api#setmyshortdescription>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMyShortDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

impl Method for SetMyShortDescription {
    const NAME: &'static str = "setMyShortDescription";
    type Response = bool;
}

/// `setMyProfilePhoto`: Sets the bot's profile photo. The file goes as a multipart part named in `photo` (`attach://<name>`).
/// <https://core.telegram.org/bots/api#setmyprofilephoto>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMyProfilePhoto {
    pub photo: InputProfilePhoto,
}

impl Method for SetMyProfilePhoto {
    const NAME: &'static str = "setMyProfilePhoto";
    type Response = bool;
}

/// `sendMessage`: Sends text: 1–4096 characters after entities parsing (see [`crate::split`]).
/// <https://core.telegram.org/bots/api#sendmessage>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    pub chat_id: ChatTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_preview_options: Option<LinkPreviewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_notification: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_content: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_parameters: Option<ReplyParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<ReplyMarkup>,
}

impl Method for SendMessage {
    const NAME: &'static str = "sendMessage";
    type Response = Message;
    fn posts_to(&self) -> Option<ChatId> {
        Some(target_chat(&self.chat_id))
    }
}

/// `sendMessageDraft`: Streams a partial message into a private chat: an ephemeral 30-second preview that a final `sendMessage` must replace. Calls with the same non-zero `draft_id` update the same draft.
/// <https://core.telegram.org/bots/api#sendmessagedraft>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessageDraft {
    pub chat_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub draft_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
}

impl Method for SendMessageDraft {
    const NAME: &'static str = "sendMessageDraft";
    type Response = bool;
}

/// `editMessageText`: Edits a message's text. Returns the edited `Message` (or `true` for inline messages), kept as JSON; see [`EditMessageText::message`]. Editing to identical content answers 400 `message is not modified`.
/// <https://core.telegram.org/bots/api#editmessagetext>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessageText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_message_id: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_preview_options: Option<LinkPreviewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

impl Method for EditMessageText {
    const NAME: &'static str = "editMessageText";
    type Response = serde_json::Value;
    fn posts_to(&self) -> Option<ChatId> {
        Some(self.chat_id.as_ref().map_or(ChatId(0), target_chat))
    }
}

/// `sendChatAction`: Shows `typing…` (or another action) for 5 seconds or until the next message.
/// <https://core.telegram.org/bots/api#sendchataction>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendChatAction {
    pub chat_id: ChatTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub action: String,
}

impl Method for SendChatAction {
    const NAME: &'static str = "sendChatAction";
    type Response = bool;
}

/// `answerCallbackQuery`: Acknowledges a button press; `text` (0–200 characters) shows as a notification or alert.
/// <https://core.telegram.org/bots/api#answercallbackquery>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerCallbackQuery {
    pub callback_query_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_alert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_time: Option<i64>,
}

impl Method for AnswerCallbackQuery {
    const NAME: &'static str = "answerCallbackQuery";
    type Response = bool;
}

/// `sendInvoice`: Sends an invoice. For Telegram Stars: `currency` is `XTR`, `provider_token` empty or absent, exactly one price.
/// <https://core.telegram.org/bots/api#sendinvoice>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendInvoice {
    pub chat_id: ChatTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub title: String,
    pub description: String,
    pub payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_token: Option<String>,
    pub currency: String,
    pub prices: Vec<LabeledPrice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_parameter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_notification: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_content: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_parameters: Option<ReplyParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

impl Method for SendInvoice {
    const NAME: &'static str = "sendInvoice";
    type Response = Message;
    fn posts_to(&self) -> Option<ChatId> {
        Some(target_chat(&self.chat_id))
    }
}

/// `createInvoiceLink`: Creates a payment link. With `subscription_period` (must be 2592000, 30 days; XTR only; at most 10000 Stars) the link starts a Star subscription.
/// <https://core.telegram.org/bots/api#createinvoicelink>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateInvoiceLink {
    pub title: String,
    pub description: String,
    pub payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_token: Option<String>,
    pub currency: String,
    pub prices: Vec<LabeledPrice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

impl Method for CreateInvoiceLink {
    const NAME: &'static str = "createInvoiceLink";
    type Response = String;
}

/// `answerPreCheckoutQuery`: Confirms or refuses a checkout; must arrive within 10 seconds of the `pre_checkout_query`. `error_message` is required when `ok` is false.
/// <https://core.telegram.org/bots/api#answerprecheckoutquery>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerPreCheckoutQuery {
    pub pre_checkout_query_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl Method for AnswerPreCheckoutQuery {
    const NAME: &'static str = "answerPreCheckoutQuery";
    type Response = bool;
}

/// `refundStarPayment`: Refunds a successful Stars payment.
/// <https://core.telegram.org/bots/api#refundstarpayment>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundStarPayment {
    pub user_id: UserId,
    pub telegram_payment_charge_id: String,
}

impl Method for RefundStarPayment {
    const NAME: &'static str = "refundStarPayment";
    type Response = bool;
}

/// `editUserStarSubscription`: Cancels (or re-enables) the renewal of a user's Star subscription.
/// <https://core.telegram.org/bots/api#edituserstarsubscription>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditUserStarSubscription {
    pub user_id: UserId,
    pub telegram_payment_charge_id: String,
    pub is_canceled: bool,
}

impl Method for EditUserStarSubscription {
    const NAME: &'static str = "editUserStarSubscription";
    type Response = bool;
}

/// `getStarTransactions`: The bot's Star transactions, newest first; `limit` is 1–100.
/// <https://core.telegram.org/bots/api#getstartransactions>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetStarTransactions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl Method for GetStarTransactions {
    const NAME: &'static str = "getStarTransactions";
    type Response = StarTransactions;
}

// --- Constructors (required parameters) and setters (optional ones) ---------------------------

impl GetMe {
    pub fn new() -> Self {
        Self {}
    }
}

impl SetWebhook {
    /// Updates go to `url` (HTTPS on Telegram; the sandbox accepts http).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: None, allowed_updates: None, drop_pending_updates: None, secret_token: None, ip_address: None }
    }
}
optional!(SetWebhook { max_connections: i64, allowed_updates: Vec<String>, drop_pending_updates: bool, secret_token: String, ip_address: String });

impl DeleteWebhook {
    pub fn new() -> Self {
        Self { drop_pending_updates: None }
    }
}
optional!(DeleteWebhook { drop_pending_updates: bool });

impl GetWebhookInfo {
    pub fn new() -> Self {
        Self {}
    }
}

impl GetUpdates {
    pub fn new() -> Self {
        Self { offset: None, limit: None, timeout: None, allowed_updates: None }
    }
}
optional!(GetUpdates { offset: i64, limit: i64, timeout: i64, allowed_updates: Vec<String> });

impl LogOut {
    pub fn new() -> Self {
        Self {}
    }
}

impl Close {
    pub fn new() -> Self {
        Self {}
    }
}

impl GetManagedBotToken {
    /// `user_id` is the managed (child) bot's id.
    pub fn new(user_id: impl Into<UserId>) -> Self {
        Self { user_id: user_id.into() }
    }
}

impl ReplaceManagedBotToken {
    /// `user_id` is the managed (child) bot's id.
    pub fn new(user_id: impl Into<UserId>) -> Self {
        Self { user_id: user_id.into() }
    }
}

impl SavePreparedKeyboardButton {
    pub fn new(user_id: impl Into<UserId>, button: KeyboardButton) -> Self {
        Self { user_id: user_id.into(), button }
    }
}

impl SetChatMenuButton {
    /// Sets the bot's default menu button (every private chat without one of its own).
    pub fn default_for_all(menu_button: MenuButton) -> Self {
        Self { chat_id: None, menu_button: Some(menu_button) }
    }
}
optional!(SetChatMenuButton { chat_id: i64 });

impl GetManagedBotAccessSettings {
    /// `user_id` is the managed (child) bot's id.
    pub fn new(user_id: impl Into<UserId>) -> Self {
        Self { user_id: user_id.into() }
    }
}

impl SetManagedBotAccessSettings {
    /// Everyone may use the bot.
    pub fn open(user_id: impl Into<UserId>) -> Self {
        Self { user_id: user_id.into(), is_access_restricted: false, added_user_ids: None }
    }
    /// Only the owner and `added` (at most 10 users) may use the bot.
    pub fn restricted(user_id: impl Into<UserId>, added: Vec<UserId>) -> Self {
        Self { user_id: user_id.into(), is_access_restricted: true, added_user_ids: Some(added) }
    }
}

impl SetMyCommands {
    pub fn new(commands: Vec<BotCommand>) -> Self {
        Self { commands, scope: None, language_code: None }
    }
}
optional!(SetMyCommands { scope: BotCommandScope, language_code: String });

impl SetMyName {
    /// Without a name, the localised name of `language_code` is removed.
    pub fn new() -> Self {
        Self { name: None, language_code: None }
    }
}
optional!(SetMyName { name: String, language_code: String });

impl SetMyDescription {
    /// Without a description, the (localised) description is removed.
    pub fn new() -> Self {
        Self { description: None, language_code: None }
    }
}
optional!(SetMyDescription { description: String, language_code: String });

impl SetMyShortDescription {
    /// Without a short description, the (localised) one is removed.
    pub fn new() -> Self {
        Self { short_description: None, language_code: None }
    }
}
optional!(SetMyShortDescription { short_description: String, language_code: String });

impl SetMyProfilePhoto {
    pub fn new(photo: InputProfilePhoto) -> Self {
        Self { photo }
    }
}

impl SendMessage {
    /// A plain-text message.
    pub fn new(chat_id: impl Into<ChatTarget>, text: impl Into<String>) -> Self {
        Self {
            chat_id: chat_id.into(),
            message_thread_id: None,
            text: text.into(),
            parse_mode: None,
            entities: None,
            link_preview_options: None,
            disable_notification: None,
            protect_content: None,
            reply_parameters: None,
            reply_markup: None,
        }
    }
    /// A message in Telegram's HTML subset (see [`crate::html`]).
    pub fn html(chat_id: impl Into<ChatTarget>, text: impl Into<String>) -> Self {
        Self::new(chat_id, text).parse_mode(ParseMode::Html)
    }
}
optional!(SendMessage {
    message_thread_id: i64,
    parse_mode: ParseMode,
    entities: Vec<MessageEntity>,
    link_preview_options: LinkPreviewOptions,
    disable_notification: bool,
    protect_content: bool,
    reply_parameters: ReplyParameters,
    reply_markup: ReplyMarkup,
});

impl SendMessageDraft {
    /// An empty draft `draft_id` (non-zero) in the private chat `chat_id`; set its `text`.
    pub fn new(chat_id: i64, draft_id: i64) -> Self {
        Self { chat_id, message_thread_id: None, draft_id, text: None, parse_mode: None, entities: None }
    }
}
optional!(SendMessageDraft { message_thread_id: i64, text: String, parse_mode: ParseMode, entities: Vec<MessageEntity> });

impl EditMessageText {
    /// New text for message `message_id` in `chat_id`.
    pub fn new(chat_id: impl Into<ChatTarget>, message_id: i64, text: impl Into<String>) -> Self {
        Self {
            chat_id: Some(chat_id.into()),
            message_id: Some(message_id),
            inline_message_id: None,
            text: text.into(),
            parse_mode: None,
            entities: None,
            link_preview_options: None,
            reply_markup: None,
        }
    }
    /// New text for an inline message.
    pub fn inline(inline_message_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self { chat_id: None, message_id: None, inline_message_id: Some(inline_message_id.into()), ..Self::new(0, 0, text) }
    }

    /// The edited message, when the result is one (not `true` for inline messages).
    pub fn message(result: &serde_json::Value) -> Option<Message> {
        serde_json::from_value(result.clone()).ok()
    }
}
optional!(EditMessageText { parse_mode: ParseMode, entities: Vec<MessageEntity>, link_preview_options: LinkPreviewOptions, reply_markup: InlineKeyboardMarkup });

impl SendChatAction {
    /// `action` is one of Telegram's: `typing`, `upload_photo`, `upload_document`, …
    pub fn new(chat_id: impl Into<ChatTarget>, action: impl Into<String>) -> Self {
        Self { chat_id: chat_id.into(), message_thread_id: None, action: action.into() }
    }
    /// `typing…`
    pub fn typing(chat_id: impl Into<ChatTarget>) -> Self {
        Self::new(chat_id, "typing")
    }
}
optional!(SendChatAction { message_thread_id: i64 });

impl AnswerCallbackQuery {
    pub fn new(callback_query_id: impl Into<String>) -> Self {
        Self { callback_query_id: callback_query_id.into(), text: None, show_alert: None, url: None, cache_time: None }
    }
}
optional!(AnswerCallbackQuery { text: String, show_alert: bool, url: String, cache_time: i64 });

impl SendInvoice {
    pub fn new(chat_id: impl Into<ChatTarget>, title: impl Into<String>, description: impl Into<String>, payload: impl Into<String>, currency: impl Into<String>, prices: Vec<LabeledPrice>) -> Self {
        Self {
            chat_id: chat_id.into(),
            message_thread_id: None,
            title: title.into(),
            description: description.into(),
            payload: payload.into(),
            provider_token: None,
            currency: currency.into(),
            prices,
            start_parameter: None,
            photo_url: None,
            disable_notification: None,
            protect_content: None,
            reply_parameters: None,
            reply_markup: None,
        }
    }
    /// An invoice in Telegram Stars for `stars` Stars.
    pub fn stars(chat_id: impl Into<ChatTarget>, title: &str, description: &str, payload: &str, stars: i64) -> Self {
        Self::new(chat_id, title, description, payload, "XTR", vec![LabeledPrice { label: title.into(), amount: stars }])
    }
}
optional!(SendInvoice {
    message_thread_id: i64,
    provider_token: String,
    start_parameter: String,
    photo_url: String,
    disable_notification: bool,
    protect_content: bool,
    reply_parameters: ReplyParameters,
    reply_markup: InlineKeyboardMarkup,
});

impl CreateInvoiceLink {
    /// The only subscription period Telegram accepts: 30 days.
    pub const MONTH: i64 = 2_592_000;

    pub fn new(title: impl Into<String>, description: impl Into<String>, payload: impl Into<String>, currency: impl Into<String>, prices: Vec<LabeledPrice>) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            payload: payload.into(),
            provider_token: None,
            currency: currency.into(),
            prices,
            subscription_period: None,
            photo_url: None,
        }
    }
    /// A link to pay `stars` Stars once.
    pub fn stars(title: &str, description: &str, payload: &str, stars: i64) -> Self {
        Self::new(title, description, payload, "XTR", vec![LabeledPrice { label: title.into(), amount: stars }])
    }
    /// A link to a monthly Star subscription of `stars` Stars.
    pub fn monthly_stars(title: &str, description: &str, payload: &str, stars: i64) -> Self {
        Self::stars(title, description, payload, stars).subscription_period(Self::MONTH)
    }
}
optional!(CreateInvoiceLink { provider_token: String, subscription_period: i64, photo_url: String });

impl AnswerPreCheckoutQuery {
    /// Accepts the checkout.
    pub fn ok(pre_checkout_query_id: impl Into<String>) -> Self {
        Self { pre_checkout_query_id: pre_checkout_query_id.into(), ok: true, error_message: None }
    }
    /// Refuses the checkout; Telegram shows `error_message` to the user (it is required then).
    pub fn refuse(pre_checkout_query_id: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self { pre_checkout_query_id: pre_checkout_query_id.into(), ok: false, error_message: Some(error_message.into()) }
    }
}

impl RefundStarPayment {
    pub fn new(user_id: impl Into<UserId>, telegram_payment_charge_id: impl Into<String>) -> Self {
        Self { user_id: user_id.into(), telegram_payment_charge_id: telegram_payment_charge_id.into() }
    }
}

impl EditUserStarSubscription {
    pub fn new(user_id: impl Into<UserId>, telegram_payment_charge_id: impl Into<String>, is_canceled: bool) -> Self {
        Self { user_id: user_id.into(), telegram_payment_charge_id: telegram_payment_charge_id.into(), is_canceled }
    }
}

impl GetStarTransactions {
    pub fn new() -> Self {
        Self { offset: None, limit: None }
    }
}
optional!(GetStarTransactions { offset: i64, limit: i64 });

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn constructors_fill_the_required_fields_and_setters_the_optional_ones() {
        let m = SendMessage::html(42, "<b>hi</b>").reply_markup(ReplyMarkup::Inline(InlineKeyboardMarkup::default())).message_thread_id(7);
        assert_eq!(serde_json::to_value(&m).unwrap(), json!({ "chat_id": 42, "text": "<b>hi</b>", "parse_mode": "HTML", "message_thread_id": 7, "reply_markup": { "inline_keyboard": [] } }));
        assert_eq!(serde_json::to_value(GetUpdates::new()).unwrap(), json!({}));
        let link = CreateInvoiceLink::monthly_stars("Plan", "Monthly", "plan:1", 100);
        assert_eq!(link.subscription_period, Some(CreateInvoiceLink::MONTH));
        assert_eq!((link.currency.as_str(), link.prices[0].amount), ("XTR", 100));
        let refuse = AnswerPreCheckoutQuery::refuse("q1", "Sold out");
        assert_eq!(serde_json::to_value(&refuse).unwrap(), json!({ "pre_checkout_query_id": "q1", "ok": false, "error_message": "Sold out" }));
        let edit = EditMessageText::inline("abc", "new");
        assert_eq!(serde_json::to_value(&edit).unwrap(), json!({ "inline_message_id": "abc", "text": "new" }));
    }

    #[test]
    fn only_methods_that_post_into_a_chat_are_throttled() {
        assert_eq!(SendMessage::new(5, "x").posts_to(), Some(ChatId(5)));
        assert_eq!(SendInvoice::stars(-100, "t", "d", "p", 1).posts_to(), Some(ChatId(-100)));
        assert_eq!(EditMessageText::new(6, 1, "x").posts_to(), Some(ChatId(6)));
        assert_eq!(EditMessageText::inline("i", "x").posts_to(), Some(ChatId(0)));
        assert_eq!(SendMessageDraft::new(5, 1).text("partial").posts_to(), None);
        assert_eq!(SendChatAction::typing(5).posts_to(), None);
        assert_eq!(AnswerCallbackQuery::new("q").posts_to(), None);
        assert_eq!(AnswerPreCheckoutQuery::ok("q").posts_to(), None);
        assert_eq!(SetWebhook::new("https://x").posts_to(), None);
    }
}
