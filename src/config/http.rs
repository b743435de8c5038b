//! `http.*` (request bodies, shutdown) and `auth.*` (admin sessions).
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
}

pub(super) fn parse_auth(r: &mut Reader) -> AuthConfig {
    AuthConfig {
        session_idle: Duration::from_secs(60 * r.number("auth.session_idle_minutes", 1, 525_600)),
        session_max: Duration::from_secs(3600 * r.number("auth.session_max_hours", 1, 8760)),
    }
}

pub(super) fn parse_http(r: &mut Reader) -> HttpConfig {
    HttpConfig {
        body_limit_bytes: r.number("http.body_limit_bytes", 1024, 1 << 30) as usize,
        shutdown_grace: Duration::from_secs(r.number("http.shutdown_grace_seconds", 0, 3600)),
        metrics_listen: r.get("http.metrics_listen").map(str::to_owned).and_then(|v| {
            v.parse().map_err(|_| r.bad("http.metrics_listen", format!("`{v}` is not HOST:PORT, e.g. 0.0.0.0:9090"))).ok()
        }),
    }
}
