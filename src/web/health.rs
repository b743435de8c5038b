//! `/healthz` (the process is up), `/readyz` (it can serve: database reachable, not shutting
//! down) and `/metrics` (Prometheus text format).
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    if app.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !app.db.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable");
    }
    (StatusCode::OK, "ready")
}

pub async fn metrics() -> impl IntoResponse {
    crate::metrics::response()
}
