//! Bot API objects, named and shaped as in the reference. Every optional field is an `Option`
//! that is omitted when `None`; unknown fields are ignored on input, so a newer Bot API never
//! breaks parsing.
mod chat;
mod commands;
mod entity;
mod keyboard;
mod managed;
mod media;
mod message;
mod payments;
mod update;
mod user;
mod webhook;

pub use chat::{Chat, ChatTarget};
pub use commands::{BotCommand, BotCommandScope, InputProfilePhoto};
pub use entity::MessageEntity;
pub use keyboard::{
    CallbackGame, CallbackQuery, ChatAdministratorRights, CopyTextButton, ForceReply, InlineKeyboardButton,
    InlineKeyboardMarkup, KeyboardButton, KeyboardButtonPollType, KeyboardButtonRequestChat,
    KeyboardButtonRequestManagedBot, KeyboardButtonRequestUsers, LinkPreviewOptions, LoginUrl, MenuButton,
    PreparedKeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, ReplyMarkup, ReplyParameters,
    SwitchInlineQueryChosenChat, WebAppInfo,
};
pub use managed::{BotAccessSettings, ManagedBotCreated, ManagedBotUpdated};
pub use media::{Audio, Contact, Document, Location, PhotoSize, Sticker, Video, VideoNote, Voice};
pub use message::{MaybeInaccessibleMessage, MediaKind, Message};
pub use payments::{
    Invoice, LabeledPrice, PreCheckoutQuery, RefundedPayment, StarTransaction, StarTransactions,
    SuccessfulPayment, TransactionPartner, TransactionPartnerUser, TransactionPartnerUserTag,
};
pub use update::{Update, UpdateKind};
pub use user::User;
pub use webhook::WebhookInfo;
