//! What a message can carry besides text: photos, voice notes, videos, documents, stickers,
//! locations and contacts (<https://core.telegram.org/bots/api#message>). Only the fields
//! bellhop reads or the sandbox produces; files are known by `file_id` (valid for this bot only).
use serde::{Deserialize, Serialize};

/// One size of a photo (<https://core.telegram.org/bots/api#photosize>).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_unique_id: String,
    pub width: i64,
    pub height: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}

/// A file with a duration: voice note, audio, video, video note or animation.
/// (<https://core.telegram.org/bots/api#voice>, `#audio`, `#video`, `#videonote`, `#animation`):
/// the fields they share.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaFile {
    pub file_id: String,
    pub file_unique_id: String,
    #[serde(default)]
    pub duration: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}

/// A general file (<https://core.telegram.org/bots/api#document>).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    pub file_id: String,
    pub file_unique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}

/// A sticker (<https://core.telegram.org/bots/api#sticker>).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sticker {
    pub file_id: String,
    pub file_unique_id: String,
    /// `regular`, `mask` or `custom_emoji`.
    #[serde(rename = "type")]
    pub kind: String,
    pub width: i64,
    pub height: i64,
    pub is_animated: bool,
    pub is_video: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// A point on the map (<https://core.telegram.org/bots/api#location>).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

// Messages compare with `Eq`; a location's coordinates are never NaN as Telegram sends them.
impl Eq for Location {}

/// A phone contact (<https://core.telegram.org/bots/api#contact>).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    pub phone_number: String,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}
