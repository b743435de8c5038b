//! `/bot<token>/<method>`: authenticates the token, reads the parameters and dispatches to the
//! method's implementation. Method names are case-insensitive, as in Telegram.
use super::params::{ApiError, Params, ok};
use super::faults::{self, Catch};
use super::{Shared, delivery, local, managed, messaging, payments, session};
use bellhop_telegram::types::{BotCommand, WebhookInfo};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn handle(State(s): State<Arc<Shared>>, Path((segment, method)): Path<(String, String)>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = segment.strip_prefix("bot") else {
        return ApiError::not_found().into_response();
    };
    let known = s.world().tokens.get(token).copied();
    let bot_id = match known {
        Some(id) => id,
        // A self-hosted Bot API server takes any token Telegram knows (local.rs).
        None => match local::learn(&s, token).await {
            Some(id) => id,
            None => return ApiError::unauthorized().into_response(),
        },
    };
    let params = match Params::read(uri.query(), &headers, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let method = method.to_ascii_lowercase();
    // Logged out (400 for 10 minutes), else launched if it was not running (session.rs).
    if let Err(e) = session::admit(&s, bot_id) {
        return e.into_response();
    }
    // A fault a test injected for this bot's method (faults.rs).
    let caught = s.faults().catch(bot_id, &method);
    let mut released = None;
    match caught {
        Catch::None => {}
        Catch::Error(e) => return e.into_response(),
        Catch::LoseResponse => {
            let r = dispatch(&s, bot_id, &method, params).await.unwrap_or_else(|e| e.into_response());
            return faults::lose_body(r);
        }
        Catch::Hold(release) => {
            tokio::select! {
                r = release => released = r.ok(),
                _ = s.shutdown.cancelled() => return ApiError::not_found().into_response(),
            }
        }
    }
    let r = match dispatch(&s, bot_id, &method, params).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    drop(released);
    r
}

async fn dispatch(s: &Arc<Shared>, bot: i64, method: &str, p: Params) -> Result<Response, ApiError> {
    match method {
        "getme" => {
            let w = s.world();
            Ok(ok(w.bots.get(&bot).ok_or_else(ApiError::unauthorized)?.me()))
        }
        "logout" => session::log_out(s, bot),
        "close" => session::close(s, bot),
        "setwebhook" => delivery::set_webhook(s, bot, &p),
        "deletewebhook" => delivery::delete_webhook(s, bot, &p),
        "getwebhookinfo" => Ok(ok(webhook_info(s, bot))),
        "getupdates" => delivery::get_updates(s, bot, &p).await,
        "getmanagedbottoken" => managed::get_token(s, bot, &p),
        "replacemanagedbottoken" => managed::replace_token(s, bot, &p),
        "savepreparedkeyboardbutton" => managed::save_prepared_button(s, bot, &p),
        "setchatmenubutton" => super::webapp::set_menu_button(s, bot, &p),
        "getchatmenubutton" => super::webapp::get_menu_button(s, bot, &p),
        "getmanagedbotaccesssettings" => managed::get_access(s, bot, &p),
        "setmanagedbotaccesssettings" => managed::set_access(s, bot, &p),
        "setmycommands" => set_commands(s, bot, &p),
        "getmycommands" => {
            let lang = p.str("language_code").unwrap_or_default();
            let w = s.world();
            let b = w.bots.get(&bot);
            Ok(ok(if lang.is_empty() { b.map(|b| b.commands.clone()) } else { b.and_then(|b| b.localised.get(&lang)).map(|l| l.commands.clone()) }.unwrap_or_default()))
        }
        "deletemycommands" => {
            let lang = p.str("language_code").unwrap_or_default();
            if let Some(b) = s.world().bots.get_mut(&bot) {
                if lang.is_empty() {
                    b.commands.clear();
                } else if let Some(l) = b.localised.get_mut(&lang) {
                    l.commands.clear();
                }
            }
            Ok(ok(true))
        }
        "setmyname" => set_text(s, bot, &p, "name", 64),
        "setmydescription" => set_text(s, bot, &p, "description", 512),
        "setmyshortdescription" => set_text(s, bot, &p, "short_description", 120),
        "getmyname" => Ok(ok(serde_json::json!({ "name": s.world().bots.get(&bot).map(|b| b.display_name().to_owned()) }))),
        "getmydescription" => Ok(ok(serde_json::json!({ "description": localised_text(s, bot, &p, "description") }))),
        "getmyshortdescription" => Ok(ok(serde_json::json!({ "short_description": localised_text(s, bot, &p, "short_description") }))),
        "setmyprofilephoto" => set_profile_photo(s, bot, &p),
        "sendmessage" => messaging::send_message(s, bot, &p),
        "sendmessagedraft" => messaging::send_draft(s, bot, &p),
        "editmessagetext" => messaging::edit_text(s, bot, &p),
        "sendchataction" => messaging::chat_action(s, bot, &p),
        "answercallbackquery" => messaging::answer_callback(s, bot, &p),
        "sendinvoice" => payments::send_invoice(s, bot, &p),
        "createinvoicelink" => payments::create_link(s, bot, &p),
        "answerprecheckoutquery" => payments::answer_pre_checkout(s, bot, &p),
        "refundstarpayment" => payments::refund(s, bot, &p),
        "edituserstarsubscription" => payments::edit_subscription(s, bot, &p),
        "getstartransactions" => payments::transactions(s, bot, &p),
        _ => Err(ApiError { code: 404, description: "Not Found: method not found".into(), retry_after: None, migrate_to_chat_id: None }),
    }
}

pub fn webhook_info(s: &Shared, bot: i64) -> WebhookInfo {
    let w = s.world();
    let Some(b) = w.bots.get(&bot) else { return WebhookInfo::default() };
    let mut info = WebhookInfo { pending_update_count: b.pending.len() as i64, ..Default::default() };
    if let Some(h) = &b.webhook {
        info.url = h.url.clone();
        info.max_connections = Some(h.max_connections);
        info.ip_address = Some("127.0.0.1".into());
        info.last_error_date = h.last_error_date;
        info.last_error_message = h.last_error_message.clone();
        info.allowed_updates = b.allowed_updates.clone();
    }
    info
}

fn set_commands(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let commands: Vec<BotCommand> = p.typed("commands")?.ok_or_else(|| ApiError::bad_request("parameter \"commands\" is required"))?;
    if commands.len() > 100 {
        return Err(ApiError::bad_request("too many commands"));
    }
    for c in &commands {
        let valid = (1..=32).contains(&c.command.len()) && c.command.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !valid {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&c.description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    // Scoped command lists are accepted and not kept; the default scope's are, per language.
    let default_scope = !p.has("scope") || p.json("scope")?.and_then(|v| v.get("type").cloned()).is_some_and(|t| t == "default");
    let lang = p.str("language_code").unwrap_or_default();
    if default_scope && let Some(b) = s.world().bots.get_mut(&bot) {
        if lang.is_empty() {
            b.commands = commands;
        } else {
            b.localised.entry(lang).or_default().commands = commands;
        }
    }
    Ok(ok(true))
}

fn set_text(s: &Shared, bot: i64, p: &Params, field: &str, max: usize) -> Result<Response, ApiError> {
    let value = p.str(field).unwrap_or_default();
    if value.chars().count() > max {
        return Err(ApiError::bad_request(format!("{} is too long", field.replace('_', " "))));
    }
    let lang = p.str("language_code").unwrap_or_default();
    let mut w = s.world();
    let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
    // An empty value removes it (for a language: the dedicated one, so the default shows).
    let v = (!value.is_empty()).then_some(value);
    let (name, description, short) = if lang.is_empty() {
        (&mut b.name, &mut b.description, &mut b.short_description)
    } else {
        let l = b.localised.entry(lang).or_default();
        (&mut l.name, &mut l.description, &mut l.short_description)
    };
    match field {
        "name" => *name = v,
        "description" => *description = v,
        _ => *short = v,
    }
    Ok(ok(true))
}

/// `getMyDescription` / `getMyShortDescription`: the one for `language_code` when the bot has a
/// dedicated one, else the default (as users of that language see it).
fn localised_text(s: &Shared, bot: i64, p: &Params, field: &str) -> String {
    let lang = p.str("language_code").unwrap_or_default();
    let w = s.world();
    let Some(b) = w.bots.get(&bot) else { return String::new() };
    let (own, default) = match field {
        "description" => (b.localised.get(&lang).and_then(|l| l.description.clone()), b.description.clone()),
        _ => (b.localised.get(&lang).and_then(|l| l.short_description.clone()), b.short_description.clone()),
    };
    own.or(default).unwrap_or_default()
}

fn set_profile_photo(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let photo = p.json("photo")?.ok_or_else(|| ApiError::bad_request("parameter \"photo\" is required"))?;
    let reference = photo.get("photo").or_else(|| photo.get("animation")).and_then(|v| v.as_str()).unwrap_or_default();
    let Some(part) = reference.strip_prefix("attach://") else {
        return Err(ApiError::bad_request("photo must be uploaded as a file (attach://<name>)"));
    };
    let Some((_, bytes)) = p.files.iter().find(|(n, _)| n == part) else {
        return Err(ApiError::bad_request(format!("file \"{part}\" not found in the request")));
    };
    // InputProfilePhotoStatic: "A static profile photo in the .JPG format" — Telegram cannot
    // process anything else as one.
    let is_static = photo.get("type").and_then(|t| t.as_str()) == Some("static");
    if is_static && !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(ApiError::bad_request("IMAGE_PROCESS_FAILED"));
    }
    if let Some(b) = s.world().bots.get_mut(&bot) {
        b.profile_photo = Some(format!("{} bytes", bytes.len()));
        if is_static {
            b.photo = Some(bytes.clone());
            b.photo_version += 1;
        }
    }
    Ok(ok(true))
}
