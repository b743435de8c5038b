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
            // The URL's text is never part of the message: it holds the password.
            let u = Url::parse(s).map_err(|e| {
                format!(
                    "not a valid PostgreSQL URL ({e}). If the password has any of / # ? @ : % in it, write those percent-encoded \
                     (%2F %23 %3F %40 %3A %25), or use a password of letters and digits only (e.g. `openssl rand -hex 24`)"
                )
            })?;
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
                let u = Url::parse(s.expose()).ok();
                let host = u.as_ref().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
                let port = u.as_ref().and_then(Url::port).map(|p| format!(":{p}")).unwrap_or_default();
                write!(f, "postgres://***@{host}{port}/***")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_url_keeps_the_host_and_port_and_hides_the_rest() {
        let u = DatabaseUrl::parse("postgres://bellhop:sEcr3t@127.0.0.1:55432/walkd").unwrap();
        assert_eq!(format!("{u:?}"), "postgres://***@127.0.0.1:55432/***");
        let u = DatabaseUrl::parse("postgres://bellhop:sEcr3t@db/walkd").unwrap();
        assert_eq!(format!("{u:?}"), "postgres://***@db/***");
    }

    #[test]
    fn a_password_that_breaks_the_url_is_explained_without_showing_it() {
        // A base64 password (`openssl rand -base64`) often has a "/": the rest reads as a port.
        let e = DatabaseUrl::parse("postgres://bellhop:sEcr3t/xyz+abc=@postgres/bellhop").unwrap_err();
        assert!(e.contains("percent-encoded") && e.contains("letters and digits"), "{e}");
        assert!(!e.contains("sEcr3t"), "the password is never shown: {e}");
        assert!(matches!(DatabaseUrl::parse("postgres://bellhop:sEcr3t%2Fxyz@postgres/bellhop"), Ok(DatabaseUrl::Postgres(_))));
    }
}
