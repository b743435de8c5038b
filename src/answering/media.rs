//! Messages the bot cannot read — photos, voice notes, videos, documents, stickers, locations,
//! contacts. A sticker is small talk (the caller answers it as "ok", no handoff, unless the
//! conversation is with a person already). A caption is a question like any text (the caller
//! reads it first); without one, the
//! customer gets the bot's short "I read text; a person can help" reply (the owner's own words
//! from the settings page, or the default) and the conversation goes to the owner as a handoff,
//! with what was sent described in words. No model, no credit.
//!
//! The owner sees a description, not the file: Telegram's file ids belong to the business's
//! bot, and the owner's chat is with the manager bot.
use crate::telegram::{MediaKind, Message};

/// The message as the owner reads it in the transcript (and as it is stored): what was sent,
/// with the details that are words already — a location's coordinates and map link, a
/// contact's name and phone number, a file's name.
pub fn describe(kind: MediaKind, m: &Message) -> String {
    let named = |what: &str, name: Option<&String>| match name.filter(|n| !n.trim().is_empty()) {
        Some(n) => format!("{what}: {}", n.trim()),
        None => what.to_owned(),
    };
    let seconds = |what: &str, d: i64| if d > 0 { format!("{what} ({d} s)") } else { what.to_owned() };
    match kind {
        MediaKind::Photo => "📷 [a photo]".into(),
        MediaKind::Voice => seconds("🎤 [a voice message]", m.voice.as_ref().map_or(0, |v| v.duration)),
        MediaKind::Audio => named("🎵 [an audio file]", m.audio.as_ref().and_then(|a| a.file_name.as_ref())),
        MediaKind::Video => seconds("🎬 [a video]", m.video.as_ref().map_or(0, |v| v.duration)),
        MediaKind::VideoNote => seconds("🎬 [a video message]", m.video_note.as_ref().map_or(0, |v| v.duration)),
        MediaKind::Animation => "🎞 [a GIF]".into(),
        MediaKind::Document => named("📄 [a file]", m.document.as_ref().and_then(|d| d.file_name.as_ref())),
        MediaKind::Sticker => match m.sticker.as_ref().and_then(|s| s.emoji.as_deref()) {
            Some(e) => format!("[a sticker {e}]"),
            None => "[a sticker]".into(),
        },
        MediaKind::Location => match &m.location {
            Some(l) => format!("📍 [a location] {:.5}, {:.5} — https://maps.google.com/?q={:.5},{:.5}", l.latitude, l.longitude, l.latitude, l.longitude),
            None => "📍 [a location]".into(),
        },
        MediaKind::Contact => match &m.contact {
            Some(c) => {
                let name = [c.first_name.as_str(), c.last_name.as_deref().unwrap_or("")].join(" ").trim().to_owned();
                format!("👤 [a contact] {name}, {}", c.phone_number)
            }
            None => "👤 [a contact]".into(),
        },
    }
}

/// What was sent, in words ("a photo", "a file"), from a message [`describe`] wrote; None for
/// any other text.
pub fn what(described: &str) -> Option<&str> {
    let (_, rest) = described.split_once('[')?;
    let (what, _) = rest.split_once(']')?;
    Some(what.trim()).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::{Contact, Document, Location, PhotoSize, Video, Voice};

    #[test]
    fn each_kind_is_described_in_words_with_what_can_be_read() {
        let photo = Message { photo: Some(vec![PhotoSize::default()]), ..Default::default() };
        assert_eq!(describe(photo.media_kind().unwrap(), &photo), "📷 [a photo]");
        assert_eq!(what("📷 [a photo]"), Some("a photo"));
        assert_eq!(what("📄 [a file]: order-list.pdf"), Some("a file"));
        assert_eq!(what("Where are you?"), None);
        let voice = Message { voice: Some(Voice { duration: 7, ..Default::default() }), ..Default::default() };
        assert_eq!(describe(voice.media_kind().unwrap(), &voice), "🎤 [a voice message] (7 s)");
        let doc = Message { document: Some(Document { file_name: Some("order.pdf".into()), ..Default::default() }), ..Default::default() };
        assert_eq!(describe(doc.media_kind().unwrap(), &doc), "📄 [a file]: order.pdf");
        let here = Message { location: Some(Location { latitude: 52.37, longitude: 4.89 }), ..Default::default() };
        assert!(describe(here.media_kind().unwrap(), &here).contains("52.37000, 4.89000"));
        let who = Message { contact: Some(Contact { phone_number: "+31 6 1234".into(), first_name: "Ann".into(), ..Default::default() }), ..Default::default() };
        assert_eq!(describe(who.media_kind().unwrap(), &who), "👤 [a contact] Ann, +31 6 1234");
        // An animation also carries a document: it is a GIF to the owner.
        let gif = Message { animation: Some(Video::default()), document: Some(Document::default()), ..Default::default() };
        assert_eq!(gif.media_kind(), Some(MediaKind::Animation));
        assert_eq!(Message { text: Some("hi".into()), ..Default::default() }.media_kind(), None);
    }
}
