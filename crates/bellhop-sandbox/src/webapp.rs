//! Mini Apps, Telegram's side (Bot API 9.6): the bot's menu button (`setChatMenuButton`,
//! `getChatMenuButton`), opening the Mini App it names with signed launch data, and the WebApp
//! call `requestChat` for a prepared `request_managed_bot` button.
//!
//! Opening: the URL with Telegram's fragment `#tgWebAppData=<initData>&tgWebAppVersion=9.6&
//! tgWebAppPlatform=web`, where `initData` (`query_id`, `user`, `auth_date`, `hash`) is signed
//! with the bot's token exactly as Telegram does (`bellhop_telegram::webapp::sign`). The UI shows
//! the page in an iframe and speaks the web clients' postMessage protocol with it
//! (`templates/sandbox/webapp.html`); tests use the control API:
//! - `POST users/{id}/web_apps {bot_id}` → `{url, init_data}`: the user presses the menu button;
//! - `POST users/{id}/web_app_requests {bot_id, req_id}` → `{creation_request}`: the Mini App
//!   called `requestChat(req_id)`; for a `request_managed_bot` button this is the creation link's
//!   confirm screen, and confirming it sends `managed_bot` as the link does (`managed.rs`);
//! - `GET prepared_buttons?user_id=&bot_id=`: the buttons bots prepared (for tests).
use super::Shared;
use super::control::{R, S, done, not_found};
use super::managed::{self, CreationError};
use super::params::{ApiError, Params, ok};
use super::world::{World, random_id};
use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use bellhop_telegram::types::MenuButton;
use bellhop_telegram::webapp::{self, WebAppUser};
use bellhop_telegram::BotToken;
use serde::Deserialize;
use serde_json::json;

/// The Mini App version the sandbox's "client" reports (`tgWebAppVersion`).
pub const WEB_APP_VERSION: &str = "9.6";

/// `setChatMenuButton`: a private chat's menu button (`chat_id`), or the bot's default one.
pub fn set_menu_button(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat = p.i64("chat_id")?;
    let button: MenuButton = p.typed("menu_button").map_err(|_| ApiError::bad_request("can't parse menu button"))?.unwrap_or(MenuButton::Default);
    if let MenuButton::WebApp { text, web_app } = &button {
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("BUTTON_TEXT_INVALID"));
        }
        // Telegram's cloud wants HTTPS; like its self-hosted server, the sandbox takes http too.
        if !matches!(url::Url::parse(&web_app.url).map(|u| u.scheme().to_owned()).as_deref(), Ok("https" | "http")) {
            return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
        }
    }
    let mut w = s.world();
    if let Some(chat) = chat
        && !w.users.contains_key(&chat)
    {
        return Err(ApiError::bad_request("chat not found"));
    }
    let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
    match (chat, button) {
        (Some(c), MenuButton::Default) => {
            b.chat_menu_buttons.remove(&c);
        }
        (Some(c), button) => {
            b.chat_menu_buttons.insert(c, button);
        }
        (None, MenuButton::Default) => b.menu_button = None,
        (None, button) => b.menu_button = Some(button),
    }
    Ok(ok(true))
}

/// `getChatMenuButton`: the chat's own button, else the default one, else `default`.
pub fn get_menu_button(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat = p.i64("chat_id")?;
    let w = s.world();
    let b = w.bots.get(&bot).ok_or_else(ApiError::unauthorized)?;
    let button = chat.and_then(|c| b.chat_menu_buttons.get(&c)).or(b.menu_button.as_ref()).cloned().unwrap_or(MenuButton::Default);
    Ok(ok(button))
}

/// What `user` sees as `bot`'s menu button.
pub fn menu_button(w: &World, bot: i64, user: i64) -> Option<MenuButton> {
    let b = w.bots.get(&bot)?;
    b.chat_menu_buttons.get(&user).or(b.menu_button.as_ref()).cloned()
}

fn refuse(code: &'static str, message: &str) -> CreationError {
    CreationError { code, message: message.into() }
}

/// The user presses `bot`'s menu button: its Mini App's URL with freshly signed launch data.
pub fn open(w: &World, bot: i64, user: i64) -> Result<(String, String), CreationError> {
    let Some(MenuButton::WebApp { web_app, .. }) = menu_button(w, bot, user) else {
        return Err(refuse("WEB_APP_NOT_SET", "this bot's menu button opens no Mini App"));
    };
    let u = w.users.get(&user).ok_or_else(|| refuse("USER_INVALID", "no such user"))?;
    let token = BotToken::parse(&w.bots[&bot].token).map_err(|_| refuse("BOT_INVALID", "the bot's token is not valid"))?;
    let who = WebAppUser { id: u.id, first_name: u.first_name.clone(), last_name: u.last_name.clone(), username: u.username.clone(), language_code: u.language_code.clone() };
    let init_data = webapp::sign_for_user(&token, &who, w.now(), &random_id("AAH"));
    let url = format!("{}#tgWebAppData={}&tgWebAppVersion={WEB_APP_VERSION}&tgWebAppPlatform=web", web_app.url.split('#').next().unwrap_or_default(), urlencoding::encode(&init_data));
    Ok((url, init_data))
}

/// The Mini App calls `requestChat(req_id)`: the prepared button must be `bot`'s, for `user`.
/// A `request_managed_bot` button opens the creation screen with its suggestions.
pub fn request(w: &mut World, bot: i64, user: i64, req_id: &str) -> Result<super::world::CreationRequest, CreationError> {
    let Some((owner_bot, for_user, button)) = w.prepared_buttons.get(req_id).cloned() else {
        return Err(refuse("REQUEST_INVALID", "no prepared button with this id"));
    };
    if owner_bot != bot || for_user != user {
        return Err(refuse("REQUEST_INVALID", "this prepared button belongs to another bot or user"));
    }
    let Some(req) = button.request_managed_bot else {
        return Err(refuse("UNSUPPORTED", "the sandbox simulates only request_managed_bot buttons from a Mini App"));
    };
    let manager = w.bots[&bot].username.clone();
    managed::open(w, user, &manager, req.suggested_username.as_deref().unwrap_or(""), req.suggested_name.as_deref().unwrap_or(""))
}

#[derive(Deserialize)]
pub(super) struct OpenWebApp {
    pub(super) bot_id: i64,
}

pub(super) async fn open_web_app(axum::extract::State(s): S, Path(user): Path<i64>, Json(o): Json<OpenWebApp>) -> R {
    let w = s.world();
    if !w.bots.contains_key(&o.bot_id) {
        return Err(not_found("bot"));
    }
    let (url, init_data) = open(&w, o.bot_id, user)?;
    done(json!({ "url": url, "init_data": init_data }))
}

#[derive(Deserialize)]
pub(super) struct RequestChat {
    pub(super) bot_id: i64,
    pub(super) req_id: String,
}

pub(super) async fn request_chat(axum::extract::State(s): S, Path(user): Path<i64>, Json(r): Json<RequestChat>) -> R {
    let mut w = s.world();
    if !w.bots.contains_key(&r.bot_id) {
        return Err(not_found("bot"));
    }
    let req = request(&mut w, r.bot_id, user, &r.req_id)?;
    done(json!({ "creation_request": req }))
}

#[derive(Deserialize)]
pub(super) struct PreparedQuery {
    user_id: Option<i64>,
    bot_id: Option<i64>,
}

pub(super) async fn prepared_buttons(axum::extract::State(s): S, Query(q): Query<PreparedQuery>) -> R {
    let w = s.world();
    let list: Vec<_> = w
        .prepared_buttons
        .iter()
        .filter(|(_, (b, u, _))| q.bot_id.is_none_or(|x| x == *b) && q.user_id.is_none_or(|x| x == *u))
        .map(|(id, (b, u, button))| json!({ "id": id, "bot_id": b, "user_id": u, "button": button }))
        .collect();
    done(list)
}
