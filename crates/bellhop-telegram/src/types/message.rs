//! `Message` (<https://core.telegram.org/bots/api#message>): the fields bellhop reads or the
//! sandbox produces. Anything else Telegram sends is ignored, never an error.
use super::{
    Audio, Chat, Contact, Document, InlineKeyboardMarkup, Invoice, Location, ManagedBotCreated,
    MessageEntity, PhotoSize, RefundedPayment, Sticker, SuccessfulPayment, User, Video, VideoNote,
    Voice,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A message, including service messages (payments, managed-bot creation, members joining).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    /// Unique inside its chat.
    pub message_id: i64,
    /// The topic of a forum, or in any supergroup the reply thread: Telegram sets it on every
    /// reply there, to the id of the message the thread started with. Only with
    /// [`Message::is_topic_message`] is it a topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    /// The message is in a forum topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_topic_message: Option<bool>,
    /// Empty for messages sent to channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_chat: Option<Chat>,
    /// Unix time. `0` marks an inaccessible message.
    pub date: i64,
    pub chat: Chat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message: Option<Box<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_bot: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<MessageEntity>>,
    /// The caption of a photo, video, document, audio, animation or voice note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A photo, in the sizes Telegram made of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Vec<PhotoSize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Audio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Video>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_note: Option<VideoNote>,
    /// A GIF or soundless video; Telegram sends it as a `document` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation: Option<Video>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<Sticker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_chat_members: Option<Vec<User>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_chat_member: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_chat_created: Option<bool>,
    /// The group became a supergroup with this id; further messages go there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate_to_chat_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate_from_chat_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_payment: Option<SuccessfulPayment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_payment: Option<RefundedPayment>,
    /// Service message: the user created a bot managed by this bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_bot_created: Option<ManagedBotCreated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

/// What a message carries other than text, for a bot that reads text only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Voice,
    Audio,
    Video,
    VideoNote,
    Animation,
    Document,
    Sticker,
    Location,
    Contact,
}

impl Message {
    /// The media the message carries, if any (a Telegram message carries at most one kind;
    /// an animation also comes as a `document`, so it is looked at first).
    pub fn media_kind(&self) -> Option<MediaKind> {
        use MediaKind as M;
        [
            (self.photo.is_some(), M::Photo),
            (self.voice.is_some(), M::Voice),
            (self.audio.is_some(), M::Audio),
            (self.video.is_some(), M::Video),
            (self.video_note.is_some(), M::VideoNote),
            (self.animation.is_some(), M::Animation),
            (self.document.is_some(), M::Document),
            (self.sticker.is_some(), M::Sticker),
            (self.location.is_some(), M::Location),
            (self.contact.is_some(), M::Contact),
        ]
        .into_iter()
        .find_map(|(has, kind)| has.then_some(kind))
    }
}

/// `MaybeInaccessibleMessage`: a message, or one the bot can no longer read (`date` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaybeInaccessibleMessage {
    Message(Box<Message>),
    Inaccessible { chat: Chat, message_id: i64 },
}

impl<'de> Deserialize<'de> for MaybeInaccessibleMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = Message::deserialize(d)?;
        Ok(if m.date == 0 {
            MaybeInaccessibleMessage::Inaccessible { chat: m.chat, message_id: m.message_id }
        } else {
            MaybeInaccessibleMessage::Message(Box::new(m))
        })
    }
}

impl Serialize for MaybeInaccessibleMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaybeInaccessibleMessage::Message(m) => m.serialize(s),
            MaybeInaccessibleMessage::Inaccessible { chat, message_id } => {
                #[derive(Serialize)]
                struct Inaccessible<'a> {
                    chat: &'a Chat,
                    message_id: i64,
                    date: i64,
                }
                Inaccessible { chat, message_id: *message_id, date: 0 }.serialize(s)
            }
        }
    }
}
