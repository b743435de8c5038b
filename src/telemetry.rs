//! Logs and spans: readable on a terminal, one JSON object per line in production.
//!
//! Tokens never reach a log line: [`crate::domain::BotToken`] and [`crate::domain::Secret`]
//! print redacted, the Telegram client strips URLs (which carry the token) from its errors, and
//! the test suite scans everything it printed for every token it used.
use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// When this process started (first asked for at [`init`]).
static STARTED: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);

/// How long this process has been running (since its logging was set up).
pub fn uptime() -> std::time::Duration {
    STARTED.elapsed()
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
///
/// llama.cpp's own log (target `llama-cpp-2`) prints dozens of lines at `info` while it loads a
/// model: only its warnings and errors show, unless the filter names it. html5ever reports what
/// it makes of strangers' markup (e.g. "foster parenting not implemented") as warnings: page
/// content, not a problem of ours, so only its errors show, unless the filter names it.
pub fn init(format: LogFormat, filter: &str) {
    std::sync::LazyLock::force(&STARTED);
    let filter = with_quiet_sqlx_notices(&with_quiet_html5ever(&with_quiet_llama(filter)));
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact().with_target(false).with_writer(std::io::stderr)).try_init(),
    };
}

fn with_quiet_llama(filter: &str) -> String {
    if filter.contains("llama-cpp-2") { filter.to_owned() } else { format!("{filter},llama-cpp-2=warn") }
}

/// PostgreSQL's notices ("relation … already exists, skipping", from migrations and `create …
/// if not exists`) are sqlx's `info` lines: only their warnings show, unless the filter names sqlx.
fn with_quiet_sqlx_notices(filter: &str) -> String {
    if filter.contains("sqlx") { filter.to_owned() } else { format!("{filter},sqlx::postgres::notice=warn") }
}

fn with_quiet_html5ever(filter: &str) -> String {
    if filter.contains("html5ever") { filter.to_owned() } else { format!("{filter},html5ever=error") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn llama_cpp_logs_are_quiet_unless_named() {
        assert_eq!(super::with_quiet_llama("info"), "info,llama-cpp-2=warn");
        assert_eq!(super::with_quiet_llama("llama-cpp-2=debug"), "llama-cpp-2=debug");
        assert!(tracing_subscriber::EnvFilter::try_new(super::with_quiet_llama("bellhop=debug,sqlx=warn")).is_ok());
    }

    #[test]
    fn postgres_notices_are_quiet_unless_sqlx_is_named() {
        assert_eq!(super::with_quiet_sqlx_notices("info"), "info,sqlx::postgres::notice=warn");
        assert_eq!(super::with_quiet_sqlx_notices("info,sqlx=debug"), "info,sqlx=debug");
        assert!(tracing_subscriber::EnvFilter::try_new(super::with_quiet_sqlx_notices("warn")).is_ok());
    }

    #[test]
    fn html5ever_warnings_are_quiet_unless_named() {
        assert_eq!(super::with_quiet_html5ever("info"), "info,html5ever=error");
        assert_eq!(super::with_quiet_html5ever("html5ever=warn"), "html5ever=warn");
        assert!(tracing_subscriber::EnvFilter::try_new(super::with_quiet_html5ever(&super::with_quiet_llama("warn"))).is_ok());
    }
}
