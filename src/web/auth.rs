//! Admin sign-in and sessions.
//!
//! - `GET /login/{token}` shows a confirm page and changes nothing (link previews, scanners).
//! - `POST /login/{token}` uses the one-time token and issues a fresh session: cookie
//!   `bellhop_session` — HttpOnly, SameSite=Lax, Secure unless the public URL is plain-HTTP
//!   localhost — whose SHA-256 is stored server-side with an idle and an absolute timeout.
//! - Every state-changing form carries the session's CSRF token, checked in constant time.
//! - `POST /logout` revokes the session on the server.
use super::AppError;
use super::pages::{message, render};
use crate::domain::{TenantId, UserId};
use crate::manager::login;
use crate::app::AppState;
use crate::storage::{self, now_ms};
use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "bellhop_session";

#[derive(Template)]
#[template(path = "login_confirm.html")]
struct Confirm {
    token: String,
    manager: String,
}

fn manager_name(app: &AppState) -> String {
    app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default()
}

fn expired(app: &AppState) -> Response {
    message(
        StatusCode::GONE,
        "This sign-in link has expired",
        &format!("Sign-in links work once, within 10 minutes. Send /login to @{} in Telegram for a new one.", manager_name(app)),
        None,
    )
}

/// Tokens are 43 URL-safe characters; anything else is not worth a database lookup.
fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn confirm_page(State(app): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    if !plausible(&token) || !storage::auth::login_token_valid(&app.db.pool, &login::hash(&token)).await? {
        return Ok(expired(&app));
    }
    render(&Confirm { token, manager: manager_name(&app) })
}

pub async fn sign_in(State(app): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    if !plausible(&token) {
        return Ok(expired(&app));
    }
    let Some((tenant, user)) = storage::auth::consume_login_token(&app.db.pool, &login::hash(&token)).await? else {
        return Ok(expired(&app));
    };
    let session = login::random_token();
    let csrf = login::random_token();
    let max = app.cfg.auth.session_max;
    storage::auth::insert_session(&app.db.pool, &login::hash(&session), tenant, user, &csrf, now_ms() + max.as_millis() as i64).await?;
    tracing::info!(tenant_id = tenant.0, "owner signed in");
    let mut res = Redirect::to("/app").into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie(&app, &session, max.as_secs()));
    Ok(res)
}

fn secure_cookies(app: &AppState) -> bool {
    let u = &app.cfg.public_url;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    u.scheme() == "https" || !local
}

fn cookie(app: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if secure_cookies(app) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")).expect("cookie is ASCII")
}

/// The signed-in owner. Extracting it checks the session (and refreshes its idle timer).
#[derive(Debug, Clone)]
pub struct Owner {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub csrf: String,
    id_hash: String,
}

impl Owner {
    /// Checks a form's CSRF token against the session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), AppError> {
        if bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes())) { Ok(()) } else { Err(AppError::Forbidden) }
    }
}

fn session_cookie(parts: &Parts) -> Option<String> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.to_owned())
    })
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let signed_out = || {
            message(
                StatusCode::UNAUTHORIZED,
                "Please sign in",
                &format!("Your admin page opens from a sign-in link. Send /login to @{} in Telegram to get one.", manager_name(app)),
                None,
            )
        };
        let Some(value) = session_cookie(parts) else { return Err(signed_out()) };
        let id_hash = login::hash(&value);
        let idle = app.cfg.auth.session_idle.as_millis() as i64;
        let session = storage::auth::live_session(&app.db.pool, &id_hash, idle).await.map_err(|e| AppError::from(e).into_response())?;
        let Some(s) = session else { return Err(signed_out()) };
        // Refresh the idle timer at most once a minute.
        if now_ms() - s.last_seen_at > 60_000 {
            storage::auth::touch_session(&app.db.pool, &id_hash).await.map_err(|e| AppError::from(e).into_response())?;
        }
        tracing::Span::current().record("tenant_id", s.tenant_id.0);
        Ok(Owner { tenant_id: s.tenant_id, user_id: s.user_id, csrf: s.csrf_token, id_hash })
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(State(app): State<AppState>, owner: Owner, axum::Form(form): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&form.csrf)?;
    storage::auth::revoke_session(&app.db.pool, &owner.id_hash).await?;
    let mut res = message(StatusCode::OK, "Signed out", "You are signed out on this device.", Some(("Back to bellhop", "/")));
    res.headers_mut().insert(header::SET_COOKIE, cookie(&app, "", 0));
    Ok(res)
}
