//! The buttons at the foot of a bot's settings page: pause and resume, a new token, disconnect,
//! connect again, delete its data (`app::lifecycle` does the work). The ones that cannot be
//! undone need the form's confirmation box ticked; without it nothing changes.
use super::AppError;
use super::auth::{AccountOwner, CsrfForm, Owner};
use super::pages::message;
use crate::app::AppState;
use crate::app::lifecycle::{self, LifecycleError};
use crate::domain::BotId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    /// The "I understand" box.
    #[serde(default)]
    confirm: Option<String>,
}

fn settings(bot_id: BotId, done: &str) -> Response {
    Redirect::to(&format!("/app/bots/{bot_id}/settings?done={done}")).into_response()
}

/// What the owner sees when an action could not be done (nothing changed).
fn refused(bot_id: BotId, e: LifecycleError) -> Result<Response, AppError> {
    match e {
        LifecycleError::NotFound => Err(AppError::NotFound),
        LifecycleError::Refused(why) => {
            let back = format!("/app/bots/{bot_id}/settings");
            Ok(message(StatusCode::UNPROCESSABLE_ENTITY, "That didn't work", &why, Some(("Back to the settings", back.as_str()))))
        }
        LifecycleError::Internal(e) => Err(AppError::Internal(e)),
    }
}

fn unconfirmed(bot_id: BotId) -> Response {
    let back = format!("/app/bots/{bot_id}/settings#lifecycle");
    message(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Nothing was changed",
        "Tick the box to confirm that you understand what happens, then press the button again.",
        Some(("Back to the settings", back.as_str())),
    )
}

/// `POST /app/bots/{bot_id}/pause`.
pub async fn pause(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    match lifecycle::set_paused(&app, owner.tenant_id, bot_id, true).await {
        Ok(()) => Ok(settings(bot_id, "paused")),
        Err(e) => refused(bot_id, e),
    }
}

/// `POST /app/bots/{bot_id}/resume`.
pub async fn resume(State(app): State<AppState>, owner: Owner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    match lifecycle::set_paused(&app, owner.tenant_id, bot_id, false).await {
        Ok(()) => Ok(settings(bot_id, "resumed")),
        Err(e) => refused(bot_id, e),
    }
}

/// `POST /app/bots/{bot_id}/token`: a new token from Telegram, the old one stops working.
pub async fn rotate_token(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<ConfirmForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some("yes") {
        return Ok(unconfirmed(bot_id));
    }
    match lifecycle::rotate_token(&app, owner.tenant_id, bot_id).await {
        Ok(()) => Ok(settings(bot_id, "token")),
        Err(e) => refused(bot_id, e),
    }
}

/// `POST /app/bots/{bot_id}/disconnect`.
pub async fn disconnect(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<ConfirmForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some("yes") {
        return Ok(unconfirmed(bot_id));
    }
    match lifecycle::disconnect(&app, owner.tenant_id, bot_id).await {
        Ok(()) => Ok(settings(bot_id, "disconnected")),
        Err(e) => refused(bot_id, e),
    }
}

/// `POST /app/bots/{bot_id}/connect`: a disconnected bot, connected again.
pub async fn reconnect(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    match lifecycle::reconnect(&app, owner.tenant_id, bot_id).await {
        Ok(true) => Ok(settings(bot_id, "connected")),
        Ok(false) => Ok(settings(bot_id, "parked")),
        Err(e) => refused(bot_id, e),
    }
}

/// `POST /app/bots/{bot_id}/delete`: disconnected, and its customers' data erased.
pub async fn delete(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(bot_id): Path<BotId>, axum::Form(f): axum::Form<ConfirmForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some("yes") {
        return Ok(unconfirmed(bot_id));
    }
    match lifecycle::delete_data(&app, owner.tenant_id, bot_id).await {
        Ok(_) => Ok(Redirect::to("/app?deleted=1").into_response()),
        Err(e) => refused(bot_id, e),
    }
}
