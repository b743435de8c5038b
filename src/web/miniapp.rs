//! The onboarding Mini App (`manager::miniapp`): `GET /miniapp` is the page the manager bot's
//! menu button opens inside Telegram; its script (`static/miniapp.js`) speaks the Mini App
//! protocol itself and calls the JSON routes below with the raw launch data (`initData`), which
//! each one checks before anything else:
//! - `POST /miniapp/api/prepare {init_data, name, username}` → `{id, since}`: the id of a
//!   prepared `request_managed_bot` button for `WebApp.requestChat`, and when it was prepared;
//! - `POST /miniapp/api/status {init_data, since}` → `{status, username}` of the owner's newest
//!   bot made ours since then (`waiting`, no username, until the `managed_bot` update came) —
//!   under the username the owner confirmed, which may not be the one they typed;
//! - `POST /miniapp/api/sign-in {init_data}` → `{url}` a one-time sign-in link (the login
//!   link's, confirmed on its own page) that the Mini App opens with `WebApp.openLink`.
//!
//! Refusals are `{"error": "…"}` in plain words: 401 for launch data that is missing, forged or
//! stale (nothing prepared, no link issued), 422 for a name or username Telegram would refuse.
use super::AppError;
use super::pages::render;
use crate::app::AppState;
use crate::domain::{BotName, BotUsername, UserId};
use crate::manager::{Manager, miniapp};
use crate::storage;
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Template)]
#[template(path = "miniapp.html")]
struct Page {
    manager: String,
}

pub async fn page(State(app): State<AppState>) -> Result<Response, AppError> {
    render(&Page { manager: app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default() })
}

fn refuse(status: StatusCode, error: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

/// The manager and the checked owner (launch data no older than `max_age_secs`), or the refusal
/// to send (status and words).
fn authenticate<'a>(app: &'a AppState, init_data: &str, max_age_secs: i64) -> Result<(&'a Manager, UserId), (StatusCode, String)> {
    let Some(m) = app.manager.as_ref() else {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "bellhop has no manager bot configured.".into()));
    };
    match miniapp::owner(m, init_data, max_age_secs) {
        Ok(user) => Ok((m, UserId(user.id))),
        Err(e) => {
            tracing::warn!(reason = ?e, "Mini App launch data refused");
            Err((StatusCode::UNAUTHORIZED, e.to_string()))
        }
    }
}

#[derive(Deserialize)]
pub struct Prepare {
    #[serde(default)]
    init_data: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
}

pub async fn prepare(State(app): State<AppState>, Json(p): Json<Prepare>) -> Result<Response, AppError> {
    let (m, user) = match authenticate(&app, &p.init_data, miniapp::LAUNCH_DATA_MAX_AGE_SECS) {
        Ok(x) => x,
        Err((status, words)) => return Ok(refuse(status, words)),
    };
    let name = BotName::parse(&p.name);
    let username = BotUsername::parse(&p.username);
    let (name, username) = match (name, username) {
        (Ok(n), Ok(u)) => (n, u),
        (n, u) => {
            let problems: Vec<String> = [n.err().map(|e| format!("Name: {e}")), u.err().map(|e| format!("Username: {e}"))].into_iter().flatten().collect();
            return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, problems.join(" ")));
        }
    };
    let since = storage::now_ms();
    let id = miniapp::prepare_creation(m, user, &name, &username).await.map_err(|e| AppError::Internal(anyhow::Error::new(e).context("savePreparedKeyboardButton")))?;
    tracing::info!(user_id = user.0, "Mini App: managed-bot button prepared");
    Ok(Json(json!({ "id": id, "since": since })).into_response())
}

#[derive(Deserialize)]
pub struct Status {
    #[serde(default)]
    init_data: String,
    #[serde(default)]
    username: String,
    /// When the button was prepared (`prepare`'s `since`).
    #[serde(default)]
    since: Option<i64>,
}

pub async fn status(State(app): State<AppState>, Json(s): Json<Status>) -> Result<Response, AppError> {
    let user = match authenticate(&app, &s.init_data, miniapp::LAUNCH_DATA_MAX_AGE_SECS) {
        Ok((_, u)) => u,
        Err((status, words)) => return Ok(refuse(status, words)),
    };
    let found = match s.since {
        Some(since) => miniapp::newest_bot_since(&app.db, user, since).await?,
        None => miniapp::bot_status(&app.db, user, &s.username).await?.map(|status| (s.username.trim_start_matches('@').to_owned(), status)),
    };
    Ok(Json(match found {
        Some((username, status)) => json!({ "status": status, "username": username }),
        None => json!({ "status": "waiting" }),
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    init_data: String,
}

pub async fn sign_in(State(app): State<AppState>, Json(s): Json<SignIn>) -> Result<Response, AppError> {
    let (manager, user) = match authenticate(&app, &s.init_data, miniapp::SIGN_IN_MAX_AGE_SECS) {
        Ok(found) => found,
        Err((status, words)) => return Ok(refuse(status, words)),
    };
    match miniapp::sign_in_link(&app.db, &app.cfg.public_url, user).await? {
        miniapp::SignIn::Link(tenant, url) => {
            tracing::info!(tenant_id = tenant.0, "Mini App: sign-in link issued");
            Ok(Json(json!({ "url": url })).into_response())
        }
        miniapp::SignIn::NoBusiness => Ok(refuse(StatusCode::CONFLICT, "You don't have a bot yet. Create one first, then sign in.")),
        miniapp::SignIn::SeveralTeams => Ok(refuse(
            StatusCode::CONFLICT,
            format!("You're on several teams. Send /login to @{} in Telegram: it sends a sign-in link for each.", manager.username),
        )),
    }
}
