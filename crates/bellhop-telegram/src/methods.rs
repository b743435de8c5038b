//! One request type per Bot API method bellhop calls, each tied to its method name and result
//! type by [`Method`]. Field names are the reference's; optional parameters are `Option`s left
//! out of the JSON when `None`; required parameters are plain fields, so they cannot be
//! forgotten. `tests/api/telegram_reference.rs` checks all of this against `bot-api.json`.
use super::types::*;
use crate::ids::UserId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A Bot API method: its name in the URL and the type of `result` in a successful response.
pub trait Method: Serialize {
    const NAME: &'static str;
    type Response: DeserializeOwned;
}

/// Every method bellhop calls, for the reference test and the sandbox.
pub const ALL_METHODS: &[&str] = &["getMe", "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates", "logOut", "getManagedBotToken", "replaceManagedBotToken", "savePreparedKeyboardButton", "setMyCommands", "setMyName", "setMyDescription", "setMyShortDescription", "setMyProfilePhoto", "sendMessage", "sendMessageDraft", "editMessageText", "sendChatAction", "answerCallbackQuery", "sendInvoice", "createInvoiceLink", "answerPreCheckoutQuery", "refundStarPayment", "editUserStarSubscription", "getStarTransactions"];

/// `getMe`: Returns the bot itself; a manager bot shows `can_manage_bots: true`.
/// <https://core.telegram.org/bots/api#getme>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GetMe {}

impl Method for GetMe {
    const NAME: &'static str = "getMe";
    type Response = User;
}

/// `setWebhook`: Sets the webhook. Telegram POSTs updates to `url` with the header `X-Telegram-Bot-Api-Secret-Token: secret_token`. `max_connections` is 1–100 (default 40); `secret_token` is 1–256 characters of `A-Z a-z 0-9 _ -`. While a webhook is set, `getUpdates` answers 409.
/// <https://core.telegram.org/bots/api#setwebhook>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GetWebhookInfo {}

impl Method for GetWebhookInfo {
    const NAME: &'static str = "getWebhookInfo";
    type Response = WebhookInfo;
}

/// `getUpdates`: Long polling. Updates with an id below `offset` are confirmed and forgotten; `limit` is 1–100; `timeout` is the long-poll wait in seconds (the HTTP timeout must exceed it).
/// <https://core.telegram.org/bots/api#getupdates>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogOut {}

impl Method for LogOut {
    const NAME: &'static str = "logOut";
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

/// `setMyCommands`: Sets the command menu: at most 100 commands.
/// <https://core.telegram.org/bots/api#setmycommands>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SetMyProfilePhoto {
    pub photo: InputProfilePhoto,
}

impl Method for SetMyProfilePhoto {
    const NAME: &'static str = "setMyProfilePhoto";
    type Response = bool;
}

/// `sendMessage`: Sends text: 1–4096 characters after entities parsing (see [`crate::split`]).
/// <https://core.telegram.org/bots/api#sendmessage>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SendMessage {
    pub chat_id: ChatTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<String>,
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
}

/// `sendMessageDraft`: Streams a partial message into a private chat: an ephemeral 30-second preview that a final `sendMessage` must replace. Calls with the same non-zero `draft_id` update the same draft.
/// <https://core.telegram.org/bots/api#sendmessagedraft>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SendMessageDraft {
    pub chat_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub draft_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
}

impl Method for SendMessageDraft {
    const NAME: &'static str = "sendMessageDraft";
    type Response = bool;
}

/// `editMessageText`: Edits a message's text. Returns the edited `Message` (or `true` for inline messages), kept as JSON; see [`EditMessageText::message`]. Editing to identical content answers 400 `message is not modified`.
/// <https://core.telegram.org/bots/api#editmessagetext>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EditMessageText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_message_id: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<String>,
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
}

/// `sendChatAction`: Shows `typing…` (or another action) for 5 seconds or until the next message.
/// <https://core.telegram.org/bots/api#sendchataction>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
}

/// `createInvoiceLink`: Creates a payment link. With `subscription_period` (must be 2592000, 30 days; XTR only; at most 10000 Stars) the link starts a Star subscription.
/// <https://core.telegram.org/bots/api#createinvoicelink>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
impl SendMessage {
    /// A plain-text message.
    pub fn new(chat_id: impl Into<ChatTarget>, text: impl Into<String>) -> Self {
        Self { chat_id: chat_id.into(), text: text.into(), ..Default::default() }
    }
    /// A message in Telegram's HTML subset (see [`crate::html`]).
    pub fn html(chat_id: impl Into<ChatTarget>, text: impl Into<String>) -> Self {
        Self { parse_mode: Some("HTML".into()), ..Self::new(chat_id, text) }
    }
}

impl EditMessageText {
    /// The edited message, when the result is one (not `true` for inline messages).
    pub fn message(result: &serde_json::Value) -> Option<Message> {
        serde_json::from_value(result.clone()).ok()
    }
}

impl SendInvoice {
    /// An invoice in Telegram Stars for `stars` Stars.
    pub fn stars(chat_id: impl Into<ChatTarget>, title: &str, description: &str, payload: &str, stars: i64) -> Self {
        Self {
            chat_id: chat_id.into(),
            title: title.into(),
            description: description.into(),
            payload: payload.into(),
            currency: "XTR".into(),
            prices: vec![LabeledPrice { label: title.into(), amount: stars }],
            ..Default::default()
        }
    }
}

impl CreateInvoiceLink {
    /// The only subscription period Telegram accepts: 30 days.
    pub const MONTH: i64 = 2_592_000;

    /// A link to a monthly Star subscription of `stars` Stars.
    pub fn monthly_stars(title: &str, description: &str, payload: &str, stars: i64) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            payload: payload.into(),
            currency: "XTR".into(),
            prices: vec![LabeledPrice { label: title.into(), amount: stars }],
            subscription_period: Some(Self::MONTH),
            ..Default::default()
        }
    }
}
