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

/// An error on a page of the admin, shown in its layout with a way back.
#[derive(Template)]
#[template(path = "admin_error.html")]
struct ErrorPage {
    tab: &'static str,
    title: String,
    body: String,
    back: (&'static str, &'static str),
}

/// Where an admin page's error leads back to: its section's list, else the owner's bots.
fn way_back(path: &str) -> (&'static str, &'static str) {
    let section = path.strip_prefix("/app/").and_then(|p| p.split('/').next()).unwrap_or_default();
    match section {
        "conversations" => ("Back to your conversations", "/app/conversations"),
        "sources" | "qa" => ("Back to your knowledge", "/app/sources"),
        "announcements" => ("Back to announcements", "/app/announcements"),
        "team" => ("Back to your team", "/app/team"),
        "gaps" => ("Back to knowledge gaps", "/app/gaps"),
        "billing" | "account" => ("Back to billing", "/app/billing"),
        _ => ("Back to your bots", "/app"),
    }
}

/// A signed-in owner's browser (it asks for HTML) that meets an error on an admin page gets a
/// page in the admin's layout, in plain words, with a way back — not the bare text ("not
/// found") that scripts and other clients still get, with the same status code.
pub async fn error_pages(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let browser = path.starts_with("/app") && req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let back = way_back(path);
    let res = next.run(req).await;
    if !browser {
        return res;
    }
    let Some(super::error::Said(said)) = res.extensions().get::<super::error::Said>().cloned() else {
        return res;
    };
    let status = res.status();
    let (title, body) = match status {
        StatusCode::NOT_FOUND => ("Not found", "This page doesn't exist, or isn't one of yours. It may have been deleted.".to_owned()),
        StatusCode::FORBIDDEN => ("This form has expired", "Go back, reload the page and try again.".to_owned()),
        StatusCode::BAD_REQUEST => ("That didn't work", said),
        StatusCode::INTERNAL_SERVER_ERROR => ("Something went wrong on our side", "Please try again in a moment.".to_owned()),
        _ => return res, // not signed in (401): its own answer
    };
    match render(&ErrorPage { tab: "", title: title.to_owned(), body, back }) {
        Ok(mut page) => {
            *page.status_mut() = status;
            page
        }
        Err(_) => res,
    }
}

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], include_str!("../../static/app.css"))
}

pub async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], include_str!("../../static/app.js"))
}

pub async fn miniapp_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], include_str!("../../static/miniapp.js"))
}

/// Headers for every response: no framing (but the Mini App's page, which Telegram's web
/// clients show in an iframe of their own origin: docs/telegram.md), no MIME sniffing, no referrer (login links carry
/// their token in the path), scripts only from our own origin.
pub async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mini_app = req.uri().path() == "/miniapp";
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if mini_app {
        h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors *; base-uri 'none'"),
        );
        return res;
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' https://t.me https://checkout.stripe.com https://billing.stripe.com; frame-ancestors 'none'; base-uri 'none'"),
    );
    res
}

/// A moment as owners read it: "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago",
/// then the date ("2025-03-14", UTC).
pub fn ago(at_ms: i64, now_ms: i64) -> String {
    let s = (now_ms - at_ms).max(0) / 1000;
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        86_400..172_800 => "yesterday".into(),
        172_800..604_800 => format!("{} days ago", s / 86_400),
        _ => date(at_ms),
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time in milliseconds.
pub fn date(ms: i64) -> String {
    let (y, m, d) = crate::domain::civil(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_plainly() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_710_374_400_000), "2024-03-14");
        let now = 1_710_374_400_000;
        assert_eq!(super::ago(now - 5_000, now), "just now");
        assert_eq!(super::ago(now - 300_000, now), "5 min ago");
        assert_eq!(super::ago(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(super::ago(now - 30 * 86_400_000, now), "2024-02-13");
    }
}
