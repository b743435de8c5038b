//! The top-level settings: where data lives, the database, the listen address and public URL,
//! and logging.
use super::database::DatabaseUrl;
use super::read::Reader;
use std::net::SocketAddr;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The top-level settings; `None` where a problem was recorded.
pub(super) struct Server {
    pub database_url: Option<DatabaseUrl>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<Url>,
    pub log_format: LogFormat,
    pub log_level: String,
}

pub(super) fn parse(r: &mut Reader) -> Server {
    // A blank `database_url` is an error rather than the default: it is most likely a
    // deployment variable that failed to fill in.
    let database_url = match r.get("database_url").map(|v| r.expand(v)) {
        Some(v) => DatabaseUrl::parse(&v).map_err(|m| r.bad("database_url", m)).ok(),
        None => {
            r.bad("database_url", "is empty");
            None
        }
    };
    let listen = r.get("listen").and_then(|v| {
        v.parse::<SocketAddr>().map_err(|_| r.bad("listen", format!("`{v}` is not HOST:PORT, e.g. 127.0.0.1:8080"))).ok()
    });
    let public_url = match (r.get("public_url"), listen) {
        (Some(_), _) => r.http_url("public_url"),
        (None, Some(addr)) => Url::parse(&format!("http://{addr}")).ok(),
        (None, None) => None,
    };
    let log_format = match r.get_or_default("log_format") {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        "auto" => {
            use std::io::IsTerminal;
            if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
        }
        other => {
            r.bad("log_format", format!("`{other}` is not one of pretty, json, auto"));
            LogFormat::Pretty
        }
    };
    let log_level = r.get_or_default("log_level").to_owned();
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        r.bad("log_level", format!("`{log_level}` is not a valid log filter"));
    }
    Server { database_url, listen, public_url, log_format, log_level }
}
