//! Rendering helpers shared by the HTML pages, static assets, and security headers.
use super::AppError;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Renders an askama template into an HTML response.
pub fn render(t: &impl Template) -> Result<Response, AppError> {
    Ok(Html(t.render().map_err(|e| AppError::Internal(e.into()))?).into_response())
}

/// A simple page with a title, a sentence and an optional button (label, href).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub body: String,
    pub action: Option<(String, String)>,
}

pub fn message(status: StatusCode, title: &str, body: &str, action: Option<(&str, &str)>) -> Response {
    let page = MessagePage { title: title.into(), body: body.into(), action: action.map(|(a, b)| (a.into(), b.into())) };
    match render(&page) {
        Ok(mut r) => {
            *r.status_mut() = status;
            r
        }
        Err(e) => e.into_response(),
    }
}

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], include_str!("../../static/app.css"))
}

pub async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], include_str!("../../static/app.js"))
}

/// Headers for every response: no framing, no MIME sniffing, no referrer (login links carry
/// their token in the path), scripts only from our own origin.
pub async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' https://t.me https://checkout.stripe.com https://billing.stripe.com; frame-ancestors 'none'; base-uri 'none'"),
    );
    res
}
