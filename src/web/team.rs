//! The Team page (the owner only): who is on the team, a one-time invitation link (with a QR
//! code for a phone), cancelling a link not used yet, and removing a teammate — who then gets no
//! more handoffs and whose admin sessions end at once.
use super::AppError;
use super::auth::AccountOwner;
use super::pages::{ago, render};
use crate::app::AppState;
use crate::domain::UserId;
use crate::storage::{now_ms, team};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The cookie that carries a just-made invitation link from its POST to the Team page, where it
/// is shown once: after the redirect, so that a refresh does not make another link. Never in an
/// address (which logs keep); bound to the business, read once, gone within minutes.
const INVITE_COOKIE: &str = "bellhop_invite";
const INVITE_COOKIE_MAX_AGE_SECS: u64 = 600;

fn invite_cookie(app: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = super::auth::secure_flag(app);
    HeaderValue::from_str(&format!("{INVITE_COOKIE}={value}; Path=/app/team; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")).expect("cookie is ASCII")
}

pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub joined: String,
}

pub struct InviteRow {
    /// What the Cancel button names it by: the SHA-256 of its token (the token is not kept).
    pub id: String,
    pub made: String,
}

#[derive(Template)]
#[template(path = "admin_team.html")]
struct Page {
    tab: &'static str,
    csrf: String,
    members: Vec<MemberRow>,
    /// Links made earlier and still unused, each with a Cancel button.
    invites: Vec<InviteRow>,
    /// A link just made (shown once: only its hash is kept).
    link: Option<String>,
    qr_svg: String,
    notice: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct Shown {
    #[serde(default)]
    removed: Option<String>,
    #[serde(default)]
    cancelled: Option<String>,
}

async fn page(app: &AppState, owner: &super::auth::Owner, link: Option<String>, notice: Option<String>) -> Result<Response, AppError> {
    let now = now_ms();
    let members = team::members(&app.db.pool, owner.tenant_id).await?.into_iter().map(|m| MemberRow { user_id: m.user_id.0, name: m.name, joined: ago(m.joined_at, now) }).collect();
    let invites = team::open_invites(&app.db.pool, owner.tenant_id).await?.into_iter().map(|i| InviteRow { id: i.token_hash, made: ago(i.created_at, now) }).collect();
    let qr_svg = link.as_deref().map(super::landing::qr_svg).unwrap_or_default();
    render(&Page { tab: "team", csrf: owner.csrf.clone(), members, invites, link, qr_svg, notice })
}

/// `GET /app/team`.
pub async fn show(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Query(q): Query<Shown>, headers: HeaderMap) -> Result<Response, AppError> {
    let notice = match (q.removed, q.cancelled.as_deref()) {
        // Fixed words, whatever the address says: a link must not put its own text in the page.
        (Some(_), _) => Some("They are no longer on your team: no more handoffs, and they're signed out of the admin.".to_owned()),
        (None, Some("1")) => Some("The invitation link is cancelled: whoever opens it is told so, and it adds no one to your team.".to_owned()),
        (None, Some(_)) => Some("That invitation link could not be cancelled: it was already used, or has expired. The team above shows who joined.".to_owned()),
        (None, None) => None,
    };
    // A link just made (see [`invite`]): shown this once, if it is this business's.
    let made = super::auth::cookie_value(&headers, INVITE_COOKIE);
    let link = made.as_deref().and_then(|v| v.split_once(':')).filter(|(tenant, _)| *tenant == owner.tenant_id.0.to_string()).and_then(|(_, l)| urlencoding::decode(l).ok()).map(|l| l.into_owned());
    let mut r = page(&app, &owner, link, notice).await?;
    if made.is_some() {
        r.headers_mut().append(header::SET_COOKIE, invite_cookie(&app, "", 0));
    }
    Ok(r)
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /app/team/invite`: a fresh one-time link, shown once.
pub async fn invite(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let Some(manager) = app.manager.as_ref() else {
        return Err(AppError::BadRequest("Invitations go through the manager bot, and this bellhop has none configured.".into()));
    };
    let link = crate::manager::team::invite(&app.db, &app.cfg.telegram.links_url, &manager.username, owner.tenant_id).await?;
    tracing::info!(tenant_id = owner.tenant_id.0, "team invitation made");
    // Back to the Team page, which shows it once: a refresh there makes no other link.
    let mut r = Redirect::to("/app/team").into_response();
    r.headers_mut().append(header::SET_COOKIE, invite_cookie(&app, &format!("{}:{}", owner.tenant_id.0, urlencoding::encode(&link)), INVITE_COOKIE_MAX_AGE_SECS));
    Ok(r)
}

#[derive(serde::Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    /// [`InviteRow::id`].
    #[serde(default)]
    invite: String,
}

/// `POST /app/team/invites/cancel`: cancels one of the business's unused invitation links (one
/// made by mistake, or sent to the wrong person). Only the business's own: another business's
/// link is left as it is.
pub async fn cancel_invite(State(app): State<AppState>, AccountOwner(owner): AccountOwner, axum::Form(f): axum::Form<CancelForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let done = team::revoke_invite(&app.db.pool, owner.tenant_id, f.invite.trim()).await?;
    if done {
        tracing::info!(tenant_id = owner.tenant_id.0, "team invitation cancelled");
    }
    Ok(Redirect::to(if done { "/app/team?cancelled=1" } else { "/app/team?cancelled=0" }).into_response())
}

/// `POST /app/team/{user_id}/remove`.
pub async fn remove(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(user_id): Path<i64>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    team::member_name(&app.db.pool, owner.tenant_id, UserId(user_id)).await?.ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    if !team::remove(&mut tx, owner.tenant_id, UserId(user_id)).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = owner.tenant_id.0, "teammate removed");
    Ok(Redirect::to("/app/team?removed=1").into_response())
}
