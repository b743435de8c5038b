//! The brand card of a bot's settings page: its name, profile photo and descriptions per
//! language. Saving checks everything first — on any problem nothing changes — then stores the
//! brand (bellhop's copy is the source of truth, `storage::brand`) and applies it to Telegram at
//! once (`manager::brand::apply`); the page says whether Telegram took it or why not, and keeps
//! saying so until a later apply (“Apply again”, or any provisioning) succeeds.
use super::AppError;
use super::auth::Owner;
use super::bot_settings::settings_page;
use crate::app::AppState;
use crate::domain::BotId;
use crate::manager::brand::{self, LANGUAGES, MAX_NAME, MAX_PHOTO_BYTES};
use crate::manager::provision::default_descriptions;
use crate::storage::brand::Language;
use crate::storage::{self, bots};
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

/// Telegram's limits: <https://core.telegram.org/bots/api#setmydescription>,
/// <https://core.telegram.org/bots/api#setmyshortdescription>.
const MAX_DESCRIPTION: usize = 512;
const MAX_SHORT_DESCRIPTION: usize = 120;

/// What the settings page shows of the brand.
pub struct View {
    pub name: String,
    /// The address of the stored photo (changes with it), if there is one.
    pub photo: Option<String>,
    /// The owner's languages: (code, name shown, description, short description).
    pub languages: Vec<(String, String, String, String)>,
    /// Languages that can still be added: (code, name shown).
    pub addable: Vec<(&'static str, &'static str)>,
    /// Why Telegram does not show the stored brand yet.
    pub error: Option<String>,
}

pub async fn view(app: &AppState, owner: &Owner, bot: BotId) -> Result<View, AppError> {
    let b = storage::brand::get(&app.db.pool, owner.tenant_id, bot).await?.ok_or(AppError::NotFound)?;
    let languages: Vec<_> =
        b.languages.iter().map(|l| (l.code.clone(), brand::language_name(&l.code).unwrap_or_default().to_owned(), l.description.clone(), l.short_description.clone())).collect();
    let addable = LANGUAGES.iter().copied().filter(|(c, _)| !b.languages.iter().any(|l| l.code == *c)).collect();
    let photo = (!b.photo_sha256.is_empty()).then(|| format!("/app/bots/{}/photo.jpg?v={}", bot.0, &b.photo_sha256[..12]));
    Ok(View { name: b.name, photo, languages, addable, error: b.error })
}

/// The brand form as sent: the name, the default descriptions, and `description_<code>` /
/// `short_<code>` for each language (`language` lists them); `remove` names a language to drop,
/// `add` (with `new_language`) one to add.
/// The default descriptions are optional: without them, `stored` ones are kept.
fn check(fields: &[(String, String)], stored: (String, String)) -> Result<(String, String, String, Vec<Language>), Vec<String>> {
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned());
    let get = |k: &str| field(k).unwrap_or_default();
    let mut problems = Vec::new();
    let name = get("name");
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME {
        problems.push(format!("Name: Telegram needs 1 to {MAX_NAME} characters (it has {n})."));
    }
    let length = |label: &str, text: &str, max: usize, problems: &mut Vec<String>| {
        let n = text.chars().count();
        if n > max {
            problems.push(format!("{label}: Telegram allows at most {max} characters (it has {n})."));
        }
    };
    let (description, short) = (field("description").unwrap_or(stored.0), field("short_description").unwrap_or(stored.1));
    length("Description", &description, MAX_DESCRIPTION, &mut problems);
    length("Short description", &short, MAX_SHORT_DESCRIPTION, &mut problems);
    let remove = get("remove");
    let mut languages: Vec<Language> = Vec::new();
    let mut codes: Vec<String> = fields.iter().filter(|(n, _)| n == "language").map(|(_, v)| v.trim().to_owned()).collect();
    if !get("add").is_empty() {
        codes.push(get("new_language"));
    }
    for code in codes {
        let Some(shown) = brand::language_name(&code) else {
            problems.push(format!("“{code}” is not one of the languages you can add."));
            continue;
        };
        if code == remove || languages.iter().any(|l| l.code == code) {
            continue;
        }
        let (d, s) = (get(&format!("description_{code}")), get(&format!("short_{code}")));
        length(&format!("Description in {shown}"), &d, MAX_DESCRIPTION, &mut problems);
        length(&format!("Short description in {shown}"), &s, MAX_SHORT_DESCRIPTION, &mut problems);
        languages.push(Language { code, description: d, short_description: s });
    }
    if problems.is_empty() { Ok((name, description, short, languages)) } else { Err(problems) }
}

/// The brand card as the owner filled it in (shown again with the problems found).
fn as_typed(fields: &[(String, String)]) -> View {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut languages: Vec<(String, String, String, String)> = Vec::new();
    for (_, code) in fields.iter().filter(|(n, _)| n == "language") {
        if let Some(shown) = brand::language_name(code)
            && !languages.iter().any(|l| &l.0 == code)
        {
            languages.push((code.clone(), shown.to_owned(), get(&format!("description_{code}")), get(&format!("short_{code}"))));
        }
    }
    let addable = LANGUAGES.iter().copied().filter(|(c, _)| !languages.iter().any(|l| l.0 == *c)).collect();
    View { name: get("name"), photo: None, languages, addable, error: None }
}

/// `POST /app/bots/{bot_id}/brand`: the name and descriptions (also adding or removing a
/// language), checked, stored, then applied to Telegram at once.
pub async fn save(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, axum::Form(fields): axum::Form<Vec<(String, String)>>) -> Result<Response, AppError> {
    let csrf = fields.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    owner.check_csrf(csrf)?;
    let bot = BotId(bot_id);
    live_or_stored(&app, &owner, bot).await?;
    let bots::Profile { name: old_name, description, short_description: short, .. } = bots::profile(&app.db.pool, owner.tenant_id, bot).await?.ok_or(AppError::NotFound)?;
    let (name, mut description, mut short, languages) = match check(&fields, (description, short)) {
        Ok(v) => v,
        Err(problems) => return settings_page(&app, &owner, bot, None, problems, Some(as_typed(&fields))).await,
    };
    // A new name: bellhop's own descriptions (not written by the owner) follow it, so they do
    // not keep the old name, and their translations keep showing (`manager::brand`).
    if name != old_name {
        let (old_description, old_short) = default_descriptions(&old_name);
        let (new_description, new_short) = default_descriptions(&name);
        if description == old_description {
            description = new_description;
        }
        if short == old_short {
            short = new_short;
        }
    }
    let mut tx = app.db.begin().await?;
    if !storage::brand::put_texts(&mut tx, owner.tenant_id, bot, &name, &description, &short, &languages).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = owner.tenant_id.0, bot_id, "bot brand saved; applying it");
    apply_now(&app, &owner, bot).await
}

/// `POST /app/bots/{bot_id}/brand/photo` (multipart: `csrf`, `photo`): a new profile photo — a
/// JPEG of at most 5 MB, recognised by its content, not its name — stored, then applied.
pub async fn photo(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, mut form: Multipart) -> Result<Response, AppError> {
    let bot = BotId(bot_id);
    let (mut csrf, mut photo, mut problem) = (String::new(), None::<Vec<u8>>, None);
    let too_big = || format!("That photo is larger than {} MB, the most bellhop takes. Save it smaller (a profile photo is shown at most 640×640 pixels) and upload it again.", MAX_PHOTO_BYTES / (1024 * 1024));
    loop {
        match form.next_field().await {
            Ok(Some(f)) if f.name() == Some("csrf") => csrf = f.text().await.unwrap_or_default(),
            Ok(Some(f)) if f.name() == Some("photo") => match f.bytes().await {
                Ok(b) => photo = Some(b.to_vec()),
                Err(_) => problem = Some(too_big()),
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                problem = Some(too_big());
                break;
            }
            Err(_) => {
                problem = Some("The upload was interrupted; please try again.".into());
                break;
            }
        }
    }
    owner.check_csrf(&csrf)?;
    live_or_stored(&app, &owner, bot).await?;
    let bytes = photo.unwrap_or_default();
    let problem = problem.or_else(|| match () {
        _ if bytes.is_empty() => Some("Choose a photo to upload first.".to_owned()),
        _ if bytes.len() > MAX_PHOTO_BYTES => Some(too_big()),
        _ if brand::is_png(&bytes) => Some("That photo is a PNG file. Telegram takes profile photos as JPEG: save it as .jpg (any photo editor can) and upload it again.".to_owned()),
        _ if !brand::is_jpeg(&bytes) => Some("That file isn't a JPEG photo. Please upload a photo saved as .jpg.".to_owned()),
        _ => None,
    });
    if let Some(p) = problem {
        return settings_page(&app, &owner, bot, None, vec![format!("Profile photo: {p}")], None).await;
    }
    if !storage::brand::put_photo(&app.db.pool, owner.tenant_id, bot, &bytes, &brand::photo_digest(&bytes)).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(tenant_id = owner.tenant_id.0, bot_id, bytes = bytes.len(), "bot profile photo saved; applying it");
    apply_now(&app, &owner, bot).await
}

/// `POST /app/bots/{bot_id}/brand/apply`: sends the stored brand to Telegram again — the parts
/// it has not confirmed, and the descriptions; not a name it already shows, which would use up
/// Telegram's rename allowance for nothing.
pub async fn apply_again(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>, axum::Form(f): axum::Form<Csrf>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let bot = BotId(bot_id);
    live_or_stored(&app, &owner, bot).await?;
    apply_now(&app, &owner, bot).await
}

#[derive(serde::Deserialize)]
pub struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// `GET /app/bots/{bot_id}/photo.jpg`: the stored profile photo, for the settings page.
pub async fn photo_file(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<i64>) -> Result<Response, AppError> {
    let jpeg = storage::brand::photo(&app.db.pool, owner.tenant_id, BotId(bot_id)).await?.ok_or(AppError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=3600")], jpeg).into_response())
}

/// 404 unless the bot is the tenant's (and not deleted).
async fn live_or_stored(app: &AppState, owner: &Owner, bot: BotId) -> Result<String, AppError> {
    let status = bots::status_of(&app.db.pool, owner.tenant_id, bot).await?.ok_or(AppError::NotFound)?;
    if status == bots::DELETED {
        return Err(AppError::NotFound);
    }
    Ok(status)
}

/// Applies the stored brand now and goes back to the page, which says how it went.
async fn apply_now(app: &AppState, owner: &Owner, bot: BotId) -> Result<Response, AppError> {
    let status = live_or_stored(app, owner, bot).await?;
    // A disconnected or parked bot: stored, and applied when it is connected again.
    let child = if matches!(status.as_str(), "disconnected" | "parked") { None } else { app.bots.open(owner.tenant_id, bot).await? };
    let outcome = match child {
        Some(child) => match brand::apply(&app.db, &child, owner.tenant_id, bot).await? {
            Ok(()) => "applied",
            Err(_) => "failed",
        },
        None => "stored",
    };
    Ok(Redirect::to(&format!("/app/bots/{}/settings?brand={outcome}#brand", bot.0)).into_response())
}
