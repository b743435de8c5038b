//! `http.*` (request bodies, timeouts, concurrency and per-client limits, shutdown) and
//! `auth.*` (admin sessions).
use super::read::Reader;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_idle: Duration,
    pub session_max: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub body_limit_bytes: usize,
    pub shutdown_grace: Duration,
    /// `http.metrics_listen`: `/metrics` on its own (internal) address instead of the public one.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Headers must arrive within it; an idle kept-alive connection is closed after it.
    pub header_timeout: Duration,
    /// A whole request, body included (408 beyond).
    pub request_timeout: Duration,
    /// The same for file uploads.
    pub upload_timeout: Duration,
    /// Requests in progress at once in this process (503 beyond).
    pub max_concurrent_requests: usize,
    /// The header a reverse proxy puts the client's address in (a valid header name, lowercase);
    /// `None`: the connection's address.
    pub client_ip_header: Option<String>,
    pub new_bot_links_per_minute: u32,
    pub sign_ins_per_minute: u32,
    pub unknown_bot_webhooks_per_minute: u32,
}

pub(super) fn parse_auth(r: &mut Reader) -> AuthConfig {
    AuthConfig {
        session_idle: Duration::from_secs(60 * r.number("auth.session_idle_minutes", 1, 525_600)),
        session_max: Duration::from_secs(3600 * r.number("auth.session_max_hours", 1, 8760)),
    }
}

pub(super) fn parse_http(r: &mut Reader) -> HttpConfig {
    let client_ip_header = r.get("http.client_ip_header").and_then(|v| match axum::http::HeaderName::try_from(v.trim()) {
        Ok(h) => Some(h.as_str().to_owned()),
        Err(_) => {
            r.bad("http.client_ip_header", format!("`{v}` is not an HTTP header name"));
            None
        }
    });
    HttpConfig {
        body_limit_bytes: r.number("http.body_limit_bytes", 1024, 1 << 30) as usize,
        shutdown_grace: Duration::from_secs(r.number("http.shutdown_grace_seconds", 0, 3600)),
        metrics_listen: r.get("http.metrics_listen").map(str::to_owned).and_then(|v| {
            v.parse().map_err(|_| r.bad("http.metrics_listen", format!("`{v}` is not HOST:PORT, e.g. 0.0.0.0:9090"))).ok()
        }),
        header_timeout: Duration::from_secs(r.number("http.header_timeout_seconds", 1, 3600)),
        request_timeout: Duration::from_secs(r.number("http.request_timeout_seconds", 1, 3600)),
        upload_timeout: Duration::from_secs(r.number("http.upload_timeout_seconds", 1, 24 * 3600)),
        max_concurrent_requests: r.number("http.max_concurrent_requests", 1, 1_000_000) as usize,
        client_ip_header,
        new_bot_links_per_minute: r.number("http.new_bot_links_per_minute", 1, 1_000_000) as u32,
        sign_ins_per_minute: r.number("http.sign_ins_per_minute", 1, 1_000_000) as u32,
        unknown_bot_webhooks_per_minute: r.number("http.unknown_bot_webhooks_per_minute", 1, 1_000_000) as u32,
    }
}
