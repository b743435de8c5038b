//! The admin pages of a signed-in owner. Every query here is scoped to `owner.tenant_id`.
use super::AppError;
use super::auth::Owner;
use super::pages::render;
use crate::app::AppState;
use crate::storage;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

#[derive(Template)]
#[template(path = "admin_home.html")]
struct Home {
    tab: &'static str,
    tenant_name: String,
    bots: Vec<storage::bots::Bot>,
    csrf: String,
    manager: String,
}

pub async fn home(State(app): State<AppState>, owner: Owner) -> Result<Response, AppError> {
    let tenant = storage::tenants::get(&app.db.pool, owner.tenant_id).await?.ok_or(AppError::NotFound)?;
    let bots = storage::bots::list_for_tenant(&app.db.pool, owner.tenant_id).await?;
    render(&Home {
        tab: "home",
        tenant_name: tenant.name,
        bots,
        csrf: owner.csrf.clone(),
        manager: app.manager.as_ref().map(|m| m.username.clone()).unwrap_or_default(),
    })
}
