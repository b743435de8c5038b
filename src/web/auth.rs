//! Admin sign-in and sessions.
//!
//! - `GET /login/{token}` shows a confirm page and changes nothing (link previews, scanners)
//!   but a cookie `bellhop_login` holding a random form token, which the page's form repeats.
//! - `POST /login/{token}` is accepted only from that page: the form token must match the cookie
//!   (a page elsewhere cannot read or set it) and the browser must say the form was bellhop's
//!   own (`Sec-Fetch-Site`, else Origin, else Referer).
//!   Without this, a page elsewhere could post the attacker's own link and sign a visitor in to
//!   the attacker's tenant ("login CSRF"). A refused POST leaves the link valid.
//! - The accepted POST uses the one-time token and issues a fresh session: cookie
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
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "bellhop_session";
/// The confirm page's form token, for the POST that follows (a quarter of an hour is plenty).
const LOGIN_COOKIE: &str = "bellhop_login";
const LOGIN_COOKIE_MAX_AGE_SECS: u64 = 15 * 60;

#[derive(Template)]
#[template(path = "login_confirm.html")]
struct Confirm {
    token: String,
    manager: String,
    csrf: String,
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

fn used(app: &AppState) -> Response {
    message(
        StatusCode::GONE,
        "This sign-in link was already used",
        &format!("Each sign-in link works once. Send /login to @{} in Telegram for a new one.", manager_name(app)),
        None,
    )
}

/// The page for a link that cannot sign in: already used, or expired (or never one of ours).
async fn spent(app: &AppState, token: &str) -> Result<Response, AppError> {
    if plausible(token) && storage::auth::login_token_used(&app.db.pool, &login::hash(token)).await? {
        return Ok(used(app));
    }
    Ok(expired(app))
}

/// Tokens are 43 URL-safe characters; anything else is not worth a database lookup.
fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn confirm_page(State(app): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    if !plausible(&token) || !storage::auth::login_token_valid(&app.db.pool, &login::hash(&token)).await? {
        return spent(&app, &token).await;
    }
    let csrf = login::random_token();
    // Scoped to this link: two links opened at once (a teammate of two businesses) each keep
    // their own form token, instead of the second page's replacing the first's.
    let path = format!("/login/{token}");
    let mut res = render(&Confirm { token, manager: manager_name(&app), csrf: csrf.clone() })?;
    let cookie = format!("{LOGIN_COOKIE}={csrf}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={LOGIN_COOKIE_MAX_AGE_SECS}{}", secure_flag(&app));
    res.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie is ASCII"));
    Ok(res)
}

pub async fn sign_in(State(app): State<AppState>, Path(token): Path<String>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    if !plausible(&token) || !storage::auth::login_token_valid(&app.db.pool, &login::hash(&token)).await? {
        return spent(&app, &token).await;
    }
    if !from_own_page(&app, &headers, &body) {
        tracing::warn!("sign-in refused: not posted from bellhop's own confirm page");
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Please sign in from your link",
            "For your safety, signing in works only from the page your sign-in link opens. Open the link from Telegram again and tap “Continue to my admin page”.",
            None,
        ));
    }
    let Some(storage::auth::LoginToken { tenant_id: tenant, user_id: user }) = storage::auth::consume_login_token(&app.db.pool, &login::hash(&token)).await? else {
        return spent(&app, &token).await;
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

/// Whether a sign-in POST came from the confirm page: its form token matches the page's cookie,
/// and the browser says the form was on bellhop's own origin.
fn from_own_page(app: &AppState, headers: &HeaderMap, body: &[u8]) -> bool {
    let given = url::form_urlencoded::parse(body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned()).unwrap_or_default();
    let expected = cookie_value(headers, LOGIN_COOKIE).unwrap_or_default();
    let token_matches = !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
    token_matches && same_origin(&app.cfg.public_url, headers)
}

/// Whether the browser says the request came from a page of bellhop's own.
///
/// - `Sec-Fetch-Site` (every current browser): it must be `same-origin`.
/// - Else a real `Origin`, else `Referer`: bellhop's public URL's origin, or the host the request
///   was sent to.
/// - With none of them (not a browser, or an old one; also `Origin: null`, which browsers send
///   from bellhop's own pages too, as they carry `Referrer-Policy: no-referrer`), the form token
///   alone decides.
fn same_origin(public_url: &url::Url, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let origin = headers.get(header::ORIGIN).filter(|o| o.as_bytes() != b"null");
    let Some(source) = origin.or_else(|| headers.get(header::REFERER)) else { return true };
    let Some(from) = source.to_str().ok().and_then(|s| url::Url::parse(s).ok()) else { return false };
    if from.origin() == public_url.origin() {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(|h| url::Url::parse(&format!("{}://{h}", from.scheme())).ok());
    host.is_some_and(|h| from.origin().is_tuple() && h.origin() == from.origin())
}

fn secure_cookies(app: &AppState) -> bool {
    let u = &app.cfg.public_url;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    u.scheme() == "https" || !local
}

pub(super) fn secure_flag(app: &AppState) -> &'static str {
    if secure_cookies(app) { "; Secure" } else { "" }
}

fn cookie(app: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}", secure_flag(app))).expect("cookie is ASCII")
}

/// The signed-in owner. Extracting it checks the session (and refreshes its idle timer).
#[derive(Debug, Clone)]
pub struct Owner {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub csrf: String,
    /// The business's owner; false for a teammate (see [`AccountOwner`]).
    pub is_owner: bool,
    id_hash: String,
}

impl Owner {
    /// Checks a form's CSRF token against the session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), AppError> {
        if bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes())) { Ok(()) } else { Err(AppError::Forbidden) }
    }
}

pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
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
        let Some(value) = cookie_value(&parts.headers, COOKIE) else { return Err(signed_out()) };
        let id_hash = login::hash(&value);
        let idle = app.cfg.auth.session_idle.as_millis() as i64;
        let session = storage::auth::live_session(&app.db.pool, &id_hash, idle).await.map_err(|e| AppError::from(e).into_response())?;
        let Some(s) = session else { return Err(signed_out()) };
        // Refresh the idle timer at most once a minute.
        if now_ms() - s.last_seen_at > 60_000 {
            storage::auth::touch_session(&app.db.pool, &id_hash).await.map_err(|e| AppError::from(e).into_response())?;
        }
        tracing::Span::current().record("tenant_id", s.tenant_id.0);
        Ok(Owner { tenant_id: s.tenant_id, user_id: s.user_id, csrf: s.csrf_token, is_owner: s.is_owner, id_hash })
    }
}

/// The signed-in owner of the business, not a teammate: billing, the team, the account, and
/// connecting, disconnecting and deleting bots are theirs alone. A teammate gets a page saying so.
#[derive(Debug, Clone)]
pub struct AccountOwner(pub Owner);

impl FromRequestParts<AppState> for AccountOwner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let owner = Owner::from_request_parts(parts, app).await?;
        if !owner.is_owner {
            return Err(message(
                StatusCode::FORBIDDEN,
                "Only the owner can do this",
                "Billing, the team, the account and connecting or deleting bots are managed by the business's owner. Ask them if something needs changing here.",
                Some(("Back to the admin", "/app")),
            ));
        }
        Ok(AccountOwner(owner))
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

/// Where the admin pages' layout (`admin_nav.html`) has room for a notice about the account.
const ACCOUNT_NOTICE: &str = "<!--account-notice-->";

/// While the account is closed, every admin page says so at the top, with what its owner can
/// still do there until the erasure — keep the account, download the conversations — not only
/// the Billing page. The other pages are left as they are; a closed account's session is its
/// owner's (a teammate's ends with the closing).
pub async fn closed_account_notice(State(app): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let session = req.uri().path().starts_with("/app").then(|| cookie_value(req.headers(), COOKIE)).flatten();
    let res = next.run(req).await;
    let Some(value) = session else { return res };
    let html = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return res;
    }
    let idle = app.cfg.auth.session_idle.as_millis() as i64;
    let erased_on = match storage::auth::live_session(&app.db.pool, &login::hash(&value), idle).await {
        Ok(Some(s)) => match storage::privacy::is_closed(&app.db.pool, s.tenant_id).await {
            Ok(true) => storage::privacy::erase_date(&app.db.pool, s.tenant_id).await.ok().flatten(),
            _ => return res,
        },
        _ => return res,
    };
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 8 << 20).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response();
    };
    let page = String::from_utf8_lossy(&bytes);
    if !page.contains(ACCOUNT_NOTICE) {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let when = match erased_on {
        Some(ms) => format!(", and everything kept here will be erased on <b>{}</b>", crate::app::account::date(ms)),
        None => String::new(),
    };
    let notice = format!(
        "<p class=\"problem\" role=\"alert\" id=\"account-closed\">Your account is closed: your bots are disconnected{when}. Until then you can still look at everything here and <a href=\"/app/conversations.csv\" download>download your conversations</a>. Changed your mind? Press <a href=\"/app/billing#close\">“Keep my account” on the Billing page</a>, then connect your bots again.</p>"
    );
    let page = page.replacen(ACCOUNT_NOTICE, &notice, 1);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
}
