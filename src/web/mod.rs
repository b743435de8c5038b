//! The HTTP edge: health, metrics, webhooks, the landing page and the owner's admin pages
//! (bots and their settings, knowledge, conversations, knowledge gaps, test chat, billing), and
//! the Stripe webhook.
//!
//! The top layer: handlers parse and check the request, then call the application layer
//! (`crate::app`) or domain functions with narrow handles. Nothing outside `web` imports it.
//!
//! Every request gets an `x-request-id` (kept if the caller sent one) that is echoed back and
//! carried by the request's span; every response is counted by route template and status in
//! `/metrics`; request bodies are capped by `http.body_limit_bytes` (413 beyond).
mod admin;
pub mod auth;
mod billing;
mod bot_settings;
mod conversations;
mod error;
mod gaps;
mod health;
pub mod landing;
pub(crate) mod pages;
pub mod sources;
mod stripe;
mod test_chat;
pub mod webhooks;

pub use error::AppError;
pub use pages::render as render_page;

use crate::app::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use std::time::Instant;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: &str = "x-request-id";

pub fn router(state: AppState) -> Router {
    let body_limit = state.cfg.http.body_limit_bytes;
    // Several files per upload request; each is checked against knowledge.max_file_bytes.
    let upload_limit = (state.cfg.knowledge.max_file_bytes as usize).saturating_mul(5).saturating_add(1 << 20);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/tg/bot/{bot_id}", post(webhooks::child_bot))
        .route("/tg/manager", post(webhooks::manager))
        .route("/", get(landing::index))
        .route("/new", get(landing::new_bot))
        .route("/login/{token}", get(auth::confirm_page).post(auth::sign_in))
        .route("/logout", post(auth::logout))
        .route("/app", get(admin::home))
        .route("/app/sources", get(sources::list))
        .route("/app/sources/status", get(sources::status))
        .route("/app/sources/upload", post(sources::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/app/sources/url", post(sources::import_url))
        .route("/app/sources/{id}/reindex", post(sources::reindex))
        .route("/app/sources/{id}/delete", post(sources::delete))
        .route("/app/qa", post(sources::add_qa))
        .route("/app/qa/{id}/delete", post(sources::delete_qa))
        .route("/app/search", get(sources::search))
        .route("/app/billing", get(billing::show))
        .route("/app/billing/checkout", post(billing::checkout))
        .route("/app/billing/portal", post(billing::portal))
        .route("/app/billing/renewal", post(billing::renewal))
        .route("/app/billing/paywall", post(billing::paywall))
        .route("/stripe/webhook", post(stripe::webhook))
        .route("/app/conversations", get(conversations::list))
        .route("/app/conversations/{id}", get(conversations::show))
        .route("/app/conversations/{id}/reply", post(conversations::reply))
        .route("/app/conversations/{id}/close", post(conversations::close))
        .route("/app/gaps", get(gaps::list))
        .route("/app/gaps/qa", post(gaps::add_qa))
        .route("/app/bots/{bot_id}/settings", get(bot_settings::show).post(bot_settings::save))
        .route("/app/test-chat", get(test_chat::show).post(test_chat::ask))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(pages::security_headers))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or_default();
                let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str()).unwrap_or("unmatched");
                // The raw path is not logged: child-bot paths are harmless, but a path is user
                // input and the route template says all that is needed.
                tracing::info_span!("http", method = %req.method(), route, request_id = %id, tenant_id = tracing::field::Empty, bot_id = tracing::field::Empty)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.parse().expect("valid header name")))
        .layer(SetRequestIdLayer::new(REQUEST_ID.parse().expect("valid header name"), MakeRequestUuid))
        .with_state(state)
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    // A route template of our router, or "unmatched": never the raw path.
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    crate::metrics::record_http(method, &route, res.status().as_u16(), started.elapsed());
    res
}

/// The method as a metrics label: one of HTTP's nine, or `_OTHER`. Anyone can send any token as
/// a method, and each distinct label would be a new series kept for the life of the process.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}
