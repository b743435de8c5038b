//! The Team page (the owner only): who is on the team, a one-time invitation link (with a QR
//! code for a phone), and removing a teammate — who then gets no more handoffs and whose admin
//! sessions end at once.
use super::AppError;
use super::auth::AccountOwner;
use super::pages::{ago, render};
use crate::app::AppState;
use crate::domain::UserId;
use crate::storage::{now_ms, team};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub joined: String,
}

#[derive(Template)]
#[template(path = "admin_team.html")]
struct Page {
    tab: &'static str,
    csrf: String,
    members: Vec<MemberRow>,
    open_invites: i64,
    /// A link just made (shown once: only its hash is kept).
    link: Option<String>,
    qr_svg: String,
    notice: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct Shown {
    #[serde(default)]
    removed: Option<String>,
}

async fn page(app: &AppState, owner: &super::auth::Owner, link: Option<String>, notice: Option<String>) -> Result<Response, AppError> {
    let now = now_ms();
    let members = team::members(&app.db.pool, owner.tenant_id).await?.into_iter().map(|m| MemberRow { user_id: m.user_id.0, name: m.name, joined: ago(m.joined_at, now) }).collect();
    let open_invites = team::open_invites(&app.db.pool, owner.tenant_id).await?;
    let qr_svg = link.as_deref().map(super::landing::qr_svg).unwrap_or_default();
    render(&Page { tab: "team", csrf: owner.csrf.clone(), members, open_invites, link, qr_svg, notice })
}

/// `GET /app/team`.
pub async fn show(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Query(q): Query<Shown>) -> Result<Response, AppError> {
    let notice = q.removed.map(|name| format!("{name} is no longer on your team: no more handoffs, and they're signed out of the admin."));
    page(&app, &owner, None, notice).await
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
    page(&app, &owner, Some(link), None).await
}

/// `POST /app/team/{user_id}/remove`.
pub async fn remove(State(app): State<AppState>, AccountOwner(owner): AccountOwner, Path(user_id): Path<i64>, axum::Form(f): axum::Form<CsrfForm>) -> Result<Response, AppError> {
    owner.check_csrf(&f.csrf)?;
    let name = team::member_name(&app.db.pool, owner.tenant_id, UserId(user_id)).await?.ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    if !team::remove(&mut tx, owner.tenant_id, UserId(user_id)).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = owner.tenant_id.0, "teammate removed");
    Ok(Redirect::to(&format!("/app/team?removed={}", urlencoding::encode(&name))).into_response())
}
