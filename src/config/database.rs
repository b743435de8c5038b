//! `database_url`: which engine, and where. The PostgreSQL URL may hold a password, so it is a
//! [`Secret`] and its `Debug` shows only the host.
use crate::domain::Secret;
use std::fmt;
use std::path::PathBuf;
use url::Url;

/// The database to use, parsed from `database_url`.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("expected `sqlite://PATH`, the path is missing".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let u = Url::parse(s).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            if u.host_str().is_none_or(str::is_empty) {
                return Err("the PostgreSQL URL names no host".into());
            }
            return Ok(DatabaseUrl::Postgres(Secret::new(s)));
        }
        Err("must start with `sqlite://` or `postgres://`".into())
    }

    pub fn engine_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // The URL may carry a password: show only the host.
            DatabaseUrl::Postgres(s) => {
                let host = Url::parse(s.expose()).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
                write!(f, "postgres://***@{host}/***")
            }
        }
    }
}
