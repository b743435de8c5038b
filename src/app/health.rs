//! Health, readiness and metrics, served on the web port (`web::router`) and on the internal port
//! (`http.metrics_listen`), which every role has — a worker has no other HTTP port.
//!
//! - `/healthz`: the process is up.
//! - `/readyz`: it can serve — not shutting down, the database reachable, and the Qdrant server
//!   reachable when one is configured; otherwise 503 saying which part is not ready.
//! - `/metrics`: Prometheus text format, with the queue's depth read at each scrape.
use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

/// How long `/readyz` waits for the Qdrant server: well within a probe's usual timeout.
const QDRANT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn healthz() -> &'static str {
    "ok"
}

/// Why the process cannot serve, if it cannot.
pub async fn not_ready(app: &AppState) -> Option<String> {
    if app.shutdown.is_cancelled() {
        return Some("shutting down".to_owned());
    }
    if !app.db.ping().await {
        return Some("database unreachable".to_owned());
    }
    if let Some(url) = &app.cfg.qdrant.url {
        let key = app.cfg.qdrant.api_key.as_ref().map(|k| k.expose());
        if let Err(why) = crate::retrieval::qdrant_health(url, key, QDRANT_TIMEOUT).await {
            // The server's origin only: nothing of a URL's user part.
            return Some(format!("vector index (Qdrant at {}) unreachable: {why}", url.origin().ascii_serialization()));
        }
    }
    None
}

pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match not_ready(&app).await {
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
        None => (StatusCode::OK, "ready".to_owned()),
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    match crate::storage::jobs::queue_depth(&app.db.pool).await {
        Ok(d) => crate::metrics::set_jobs_in_state(&d),
        // The gauges keep their last values; the rest is served.
        Err(e) => tracing::warn!(error = %e, "reading the queue's depth for /metrics failed"),
    }
    crate::metrics::response()
}

/// The internal port's routes (`http.metrics_listen`).
pub fn internal_router(state: AppState) -> axum::Router {
    axum::Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}
