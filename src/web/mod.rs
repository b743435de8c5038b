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
//!
//! Limits at the edge (issue 16): headers within `http.header_timeout_seconds` and idle
//! connections closed after it (`app::server`); every request within
//! `http.request_timeout_seconds` (uploads: `http.upload_timeout_seconds`), 408 beyond; at most
//! `http.max_concurrent_requests` in progress, 503 at once beyond (health and metrics exempt);
//! per-client limits on link creation, sign-ins and webhooks for unknown bots ([`limits`]).
mod admin;
pub mod auth;
mod billing;
mod announcements;
mod bot_lifecycle;
mod bot_settings;
mod brand;
mod conversations;
mod error;
mod gaps;
mod insight;
mod health;
pub mod landing;
mod limits;
mod miniapp;
pub(crate) mod pages;
pub mod sources;
mod stripe;
mod team;
mod test_chat;
pub mod webhooks;

pub use error::AppError;
pub use pages::render as render_page;

use crate::app::AppState;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Extension, Router};
use std::time::Instant;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const REQUEST_ID: &str = "x-request-id";

pub fn router(state: AppState) -> Router {
    let http = &state.cfg.http;
    let body_limit = http.body_limit_bytes;
    // Several files per upload request; each is checked against knowledge.max_file_bytes.
    let upload_limit = (state.cfg.knowledge.max_file_bytes as usize).saturating_mul(5).saturating_add(1 << 20);
    let limits = limits::EdgeLimits::new(http);
    let per_client = |kind| middleware::from_fn_with_state((limits.clone(), kind), limits::limit_pages);
    let timeout = |d| TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, d);
    // Past `http.max_concurrent_requests` requests in progress, a request gets 503 at once.
    let concurrency = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: BoxError| async { busy() }))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(http.max_concurrent_requests));
    let pages = Router::new()
        .route("/tg/bot/{bot_id}", post(webhooks::child_bot).route_layer(middleware::from_fn_with_state(limits.clone(), webhooks::unknown_bot_limit)))
        .route("/tg/manager", post(webhooks::manager))
        .route("/", get(landing::index))
        .route("/new", get(landing::new_bot).route_layer(per_client(limits::Kind::NewBotLinks)))
        .route("/login/{token}", get(auth::confirm_page).post(auth::sign_in).route_layer(per_client(limits::Kind::SignIns)))
        .route("/logout", post(auth::logout))
        .route("/miniapp", get(miniapp::page))
        .route("/miniapp/api/prepare", post(miniapp::prepare))
        .route("/miniapp/api/status", post(miniapp::status))
        .route("/miniapp/api/sign-in", post(miniapp::sign_in).route_layer(per_client(limits::Kind::SignIns)))
        .route("/app", get(admin::home))
        .route("/app/sources", get(sources::list))
        .route("/app/sources/status", get(sources::status))
        .route("/app/sources/url", post(sources::import_url))
        .route("/app/sources/{id}/reindex", post(sources::reindex))
        .route("/app/sources/{id}/delete", post(sources::delete))
        .route("/app/sources/{id}/bots", post(sources::share))
        .route("/app/qa", post(sources::add_qa))
        .route("/app/qa/{id}", post(sources::edit_qa))
        .route("/app/qa/{id}/delete", post(sources::delete_qa))
        .route("/app/search", get(sources::search))
        .route("/app/billing", get(billing::show))
        .route("/app/billing/checkout", post(billing::checkout))
        .route("/app/billing/portal", post(billing::portal))
        .route("/app/billing/renewal", post(billing::renewal))
        .route("/app/billing/paywall", post(billing::paywall))
        .route("/app/account/close", post(billing::close_account))
        .route("/app/account/reopen", post(billing::reopen_account))
        .route("/stripe/webhook", post(stripe::webhook))
        .route("/app/overview", get(insight::overview))
        .route("/app/conversations.csv", get(insight::conversations_csv))
        .route("/app/sources.csv", get(insight::sources_csv))
        .route("/app/qa.csv", get(insight::qa_csv))
        .route("/app/conversations", get(conversations::list))
        .route("/app/conversations/{id}", get(conversations::show))
        .route("/app/conversations/{id}/reply", post(conversations::reply))
        .route("/app/conversations/{id}/close", post(conversations::close))
        .route("/app/conversations/{id}/delete", post(conversations::delete))
        .route("/app/announcements", get(announcements::show).post(announcements::create))
        .route("/app/announcements/audience", get(announcements::audience))
        .route("/app/announcements/{id}/progress", get(announcements::progress))
        .route("/app/team", get(team::show))
        .route("/app/team/invite", post(team::invite))
        .route("/app/team/invites/cancel", post(team::cancel_invite))
        .route("/app/team/{user_id}/remove", post(team::remove))
        .route("/app/gaps", get(gaps::list))
        .route("/app/gaps/qa", post(gaps::add_qa))
        .route("/app/gaps/dismiss", post(gaps::dismiss))
        .route("/app/bots/{bot_id}/settings", get(bot_settings::show).post(bot_settings::save))
        .route("/app/bots/{bot_id}/brand", post(brand::save))
        .route("/app/bots/{bot_id}/brand/apply", post(brand::apply_again))
        .route("/app/bots/{bot_id}/photo.jpg", get(brand::photo_file))
        .route("/app/bots/{bot_id}/repair", post(admin::repair))
        .route("/app/bots/{bot_id}/pause", post(bot_lifecycle::pause))
        .route("/app/bots/{bot_id}/resume", post(bot_lifecycle::resume))
        .route("/app/bots/{bot_id}/token", post(bot_lifecycle::rotate_token))
        .route("/app/bots/{bot_id}/disconnect", post(bot_lifecycle::disconnect))
        .route("/app/bots/{bot_id}/connect", post(bot_lifecycle::reconnect))
        .route("/app/bots/{bot_id}/delete", post(bot_lifecycle::delete))
        .route("/app/test-chat", get(test_chat::show).post(test_chat::ask))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .route("/static/miniapp.js", get(pages::miniapp_js))
        // Every route above, body included, within http.request_timeout_seconds (408 beyond)…
        .route_layer(timeout(http.request_timeout))
        // …and uploads within their own, longer one.
        .route("/app/sources/upload", post(sources::upload).layer(ServiceBuilder::new().layer(timeout(http.upload_timeout)).layer(DefaultBodyLimit::max(upload_limit))))
        // A profile photo: at most 5 MB is taken; a little more is read, to say so in words.
        .route("/app/bots/{bot_id}/brand/photo", post(brand::photo).layer(ServiceBuilder::new().layer(timeout(http.upload_timeout)).layer(DefaultBodyLimit::max(8 << 20))))
        .layer(Extension(limits))
        .layer(concurrency);
    // Health and metrics are outside the concurrency limit: a busy server is not a dead one.
    // With `http.metrics_listen`, `/metrics` is on the internal port only (served by the app).
    let outside = Router::new().route("/healthz", get(health::healthz)).route("/readyz", get(health::readyz));
    let outside = if http.metrics_listen.is_none() { outside.route("/metrics", get(health::metrics)) } else { outside };
    outside
        .merge(pages)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(pages::error_pages))
        .layer(middleware::from_fn_with_state(state.clone(), auth::closed_account_notice))
        .layer(middleware::from_fn(pages::security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), limits::identify))
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

/// 503 when the server is at `http.max_concurrent_requests`.
fn busy() -> Response {
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, "bellhop is very busy right now; please try again in a moment.").into_response();
    res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    res
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
