//! A child bot's brand on Telegram: its name (`setMyName`), profile photo (`setMyProfilePhoto`,
//! a static JPEG uploaded as multipart) and descriptions, the default ones and one per language
//! (`setMyDescription` / `setMyShortDescription` with `language_code`).
//!
//! bellhop's copy (`storage::brand`) is the source of truth. [`apply`] sends it — from the admin
//! at once when the owner saves, and from every provisioning (repair, a new token, connecting
//! again) — each part on its own, so a part Telegram refuses (a photo it cannot use) does not
//! keep the others from it — and records what Telegram confirmed or, in the owner's words, which
//! part it did not take and why; the settings page shows that until a later apply succeeds, so
//! the two never differ silently.
use super::provision::{OTHERS, default_descriptions, descriptions};
use crate::domain::{BotId, TenantId};
use crate::storage::{self, Db};
use crate::telegram::methods::{SetMyCommands, SetMyDescription, SetMyName, SetMyProfilePhoto, SetMyShortDescription};
use crate::telegram::{Bot, InputFile, InputProfilePhoto, TelegramError};

/// The languages an owner can add descriptions in: (`language_code`, name shown). Telegram shows
/// a bot's description for a language to users whose app is in that language, else the default.
pub const LANGUAGES: [(&str, &str); 10] = [
    ("en", "English"),
    ("ru", "Русский (Russian)"),
    ("es", "Español (Spanish)"),
    ("fa", "فارسی (Persian)"),
    ("de", "Deutsch (German)"),
    ("fr", "Français (French)"),
    ("it", "Italiano (Italian)"),
    ("pt", "Português (Portuguese)"),
    ("tr", "Türkçe (Turkish)"),
    ("ar", "العربية (Arabic)"),
];

/// Telegram's limits (<https://core.telegram.org/bots/api#setmyname>): a name of 1–64 characters.
pub const MAX_NAME: usize = 64;
/// The largest profile photo bellhop takes: 5 MB (Telegram's own limit for photos is 10 MB; a
/// profile photo is shown at most 640×640, so 5 MB is plenty and keeps the database small).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// The name shown for a language code of [`LANGUAGES`].
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Whether `bytes` are a JPEG file (its first bytes: `FF D8 FF`), which is what Telegram takes as a
/// static profile photo (<https://core.telegram.org/bots/api#inputprofilephotostatic>).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Whether `bytes` are a PNG file (its 8-byte signature).
pub fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

/// SHA-256 of a photo, hex.
pub fn photo_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A part of the brand, sent to Telegram on its own: one Telegram refuses does not keep the
/// others from being applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Name,
    Descriptions,
    Photo,
}

impl Part {
    /// The part as the owner knows it.
    pub fn label(self) -> &'static str {
        match self {
            Part::Name => "The name",
            Part::Descriptions => "The descriptions",
            Part::Photo => "The profile photo",
        }
    }
}

/// Sends the stored brand of `bot` to Telegram, each part on its own — the name, then the
/// descriptions, then the photo: the descriptions always; the name and the photo only when
/// Telegram has not confirmed them for this token (so pressing “Apply again” does not spend
/// Telegram's rename allowance on a name it already shows). Records the outcome: what Telegram
/// took, and for the parts it did not take, which ones and why in the owner's words (cleared
/// once every part is applied). Returns the last failure: one that stops the others is always
/// the last.
///
/// A passing failure (Telegram unreachable) or a token Telegram no longer accepts stops at
/// once: the other parts would fail the same way.
#[tracing::instrument(name = "manager.brand", skip_all, fields(bot_id = bot.0, tenant_id = tenant.0))]
pub async fn apply(db: &Db, child: &Bot, tenant: TenantId, bot: BotId) -> anyhow::Result<Result<(), TelegramError>> {
    let Some(brand) = storage::brand::get(&db.pool, tenant, bot).await? else { return Ok(Ok(())) };
    let failed = send(db, child, tenant, bot, &brand).await?;
    for (part, e) in &failed {
        tracing::warn!(error = %e, part = ?part, "Telegram did not take a part of the bot's brand");
    }
    let words: Vec<String> = failed.iter().map(|(part, e)| format!("{}: {}", part.label(), plain_reason(*part, e))).collect();
    storage::brand::set_error(&db.pool, tenant, bot, (!words.is_empty()).then(|| words.join(" ")).as_deref()).await?;
    Ok(match failed.into_iter().last() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    })
}

/// What a bot says of itself in Telegram while bellhop no longer answers for it (disconnected,
/// its data deleted, its account closed).
pub const OUT_OF_SERVICE: &str = "This bot isn't answering messages at the moment.";

/// Takes back what the bot promises in Telegram once bellhop no longer answers for it: its
/// command menu (every language) goes, and its description says it isn't answering — in every
/// language, as the languages' own descriptions are emptied so that this one shows. Whoever
/// opens it then knows, rather than writing into silence. Connected again, provisioning puts the
/// owner's brand and commands back ([`apply`], `provision`).
pub async fn withdraw(child: &Bot) -> Result<(), TelegramError> {
    child.call(&SetMyCommands::new(Vec::new())).await?;
    for l in &OTHERS {
        child.call(&SetMyCommands::new(Vec::new()).language_code(l.code.to_owned())).await?;
    }
    child.call(&SetMyDescription::new().description(OUT_OF_SERVICE.to_owned())).await?;
    child.call(&SetMyShortDescription::new().short_description(OUT_OF_SERVICE.to_owned())).await?;
    for (code, _) in LANGUAGES {
        child.call(&SetMyDescription::new().description(String::new()).language_code(code.to_owned())).await?;
        child.call(&SetMyShortDescription::new().short_description(String::new()).language_code(code.to_owned())).await?;
    }
    Ok(())
}

/// Whether a failure would strike every other call too: stop instead of trying them.
fn stops_all(e: &TelegramError) -> bool {
    matches!(e, TelegramError::Unauthorized) || (e.is_transient() && !matches!(e, TelegramError::RetryAfter(_)))
}

/// Sends each part; returns the parts Telegram did not take, with why.
async fn send(db: &Db, child: &Bot, tenant: TenantId, bot: BotId, brand: &storage::brand::Brand) -> anyhow::Result<Vec<(Part, TelegramError)>> {
    let mut failed = Vec::new();
    let fp = super::updates::fingerprint(child.token());
    let name_marker = format!("{fp}:{}", brand.name);
    if brand.name_applied != name_marker {
        match child.call(&SetMyName::new().name(brand.name.clone())).await {
            Ok(_) => storage::brand::mark_applied(&db.pool, tenant, bot, Some(&name_marker), None).await?,
            Err(e) => {
                let stop = stops_all(&e);
                failed.push((Part::Name, e));
                if stop {
                    return Ok(failed);
                }
            }
        }
    }
    if let Err(e) = send_descriptions(child, brand).await {
        let stop = stops_all(&e);
        failed.push((Part::Descriptions, e));
        if stop {
            return Ok(failed);
        }
    }
    if !brand.photo_sha256.is_empty() {
        let marker = format!("{fp}:{}", brand.photo_sha256);
        if brand.photo_applied != marker
            && let Some(jpeg) = storage::brand::photo(&db.pool, tenant, bot).await?
        {
            // The part's name must differ from the method's own field, `photo`.
            let file = InputFile { part: "profile_photo".into(), file_name: "photo.jpg".into(), mime: "image/jpeg".into(), bytes: jpeg };
            match child.call_with_files(&SetMyProfilePhoto::new(InputProfilePhoto::Static { photo: "attach://profile_photo".into() }), &[file]).await {
                Ok(_) => storage::brand::mark_applied(&db.pool, tenant, bot, None, Some(&marker)).await?,
                Err(e) => failed.push((Part::Photo, e)),
            }
        }
    }
    Ok(failed)
}

/// The default descriptions, then each language's.
async fn send_descriptions(child: &Bot, brand: &storage::brand::Brand) -> Result<(), TelegramError> {
    child.call(&SetMyDescription::new().description(brand.description.clone())).await?;
    child.call(&SetMyShortDescription::new().short_description(brand.short_description.clone())).await?;
    // Every language of the list, so one the owner removed is removed at Telegram too: the
    // owner's texts; else, while the default description is still bellhop's own, bellhop's
    // translation of it; else none (an empty text removes it, and the default shows).
    let (default_description, default_short) = default_descriptions(&brand.name);
    for (code, _) in LANGUAGES {
        let own = brand.languages.iter().find(|l| l.code == code);
        let translated = OTHERS.iter().find(|l| l.code == code).map(|l| descriptions(l, &brand.name));
        let (d, s) = match (own, translated) {
            (Some(l), _) => (l.description.clone(), l.short_description.clone()),
            (None, Some((d, s))) => (
                if brand.description == default_description { d } else { String::new() },
                if brand.short_description == default_short { s } else { String::new() },
            ),
            (None, None) => (String::new(), String::new()),
        };
        child.call(&SetMyDescription::new().description(d).language_code(code.to_owned())).await?;
        child.call(&SetMyShortDescription::new().short_description(s).language_code(code.to_owned())).await?;
    }
    Ok(())
}

/// Why Telegram did not take `part` of the brand, for the owner.
pub fn plain_reason(part: Part, e: &TelegramError) -> String {
    match e {
        TelegramError::RetryAfter(s) => format!(
            "Telegram asks to wait {} before this bot's profile changes again (it limits how often a bot is renamed). Press “Apply again” after that.",
            if *s >= 120 { format!("{} minutes", s.div_ceil(60)) } else { format!("{s} seconds") }
        ),
        TelegramError::Unauthorized => "Telegram no longer accepts this bot's token (it was probably replaced); the new one is picked up automatically and your brand applied with it.".into(),
        e if e.is_transient() => "Telegram could not be reached just now. Press “Apply again” in a minute.".into(),
        e if part == Part::Photo => format!("Telegram refused it ({e}). Upload a different photo (a plain JPEG, square works best), or press “Apply again”."),
        e => format!("Telegram refused it ({e}). Change it and save again, or press “Apply again”."),
    }
}
