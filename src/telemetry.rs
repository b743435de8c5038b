//! Logs and spans: readable on a terminal, one JSON object per line in production.
//!
//! Tokens never reach a log line: [`crate::domain::BotToken`] and [`crate::domain::Secret`]
//! print redacted, the Telegram client strips URLs (which carry the token) from its errors, and
//! the test suite scans everything it printed for every token it used.
use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat, filter: &str) {
    // html5ever reports what it makes of strangers' markup (e.g. "foster parenting not
    // implemented") as warnings: page content, not our problem, kept out of the logs.
    let filter = EnvFilter::try_new(format!("{filter},html5ever=error")).unwrap_or_else(|_| EnvFilter::new("info,html5ever=error"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact().with_target(false).with_writer(std::io::stderr)).try_init(),
    };
}
