//! The layering: built-in defaults (from [`SETTINGS`]) → optional `bellhop.toml` → `BELLHOP_*`
//! environment variables → command-line flags. Values stay strings here, each with where it came
//! from; the section parsers type them.
use super::settings::SETTINGS;
use super::{ConfigError, Problem};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env(v) => write!(f, "environment {v}"),
            Origin::Flag => f.write_str("command line"),
        }
    }
}

/// Raw string values before typing, each with its origin.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl RawSettings {
    /// Defaults, then the file (if any), then the environment.
    ///
    /// `file`: an explicit path must exist; without one, `./bellhop.toml` is read if present.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut raw = RawSettings::default();
        let mut problems = Vec::new();
        for def in SETTINGS {
            if let Some(d) = def.default {
                raw.values.insert(def.key, (d.to_owned(), Origin::Default));
            }
        }
        let (path, must_exist) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("bellhop.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => raw.merge_toml(&text, &path, &mut problems),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {}
            Err(e) => problems.push(Problem { setting: "--config".into(), message: format!("cannot read {}: {e}", path.display()) }),
        }
        for def in SETTINGS {
            if let Some(v) = env(def.env) {
                raw.values.insert(def.key, (v, Origin::Env(def.env)));
            }
        }
        if problems.is_empty() { Ok(raw) } else { Err(ConfigError(problems)) }
    }

    fn merge_toml(&mut self, text: &str, path: &Path, problems: &mut Vec<Problem>) {
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem { setting: path.display().to_string(), message: format!("not valid TOML: {e}") });
                return;
            }
        };
        let mut flat = Vec::new();
        flatten("", &toml::Value::Table(table), &mut flat);
        for (key, value) in flat {
            match SETTINGS.iter().find(|d| d.key == key) {
                Some(def) => {
                    self.values.insert(def.key, (value, Origin::File(path.to_path_buf())));
                }
                None => problems.push(Problem { setting: key, message: format!("unknown setting in {}", path.display()) }),
            }
        }
    }

    /// Sets a value from a command-line flag.
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) {
        assert!(SETTINGS.iter().any(|d| d.key == key), "undeclared setting {key}");
        self.values.insert(key, (value.into(), Origin::Flag));
    }

    /// Whether a value came from anywhere but the defaults.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.get(key).is_some_and(|(_, o)| *o != Origin::Default)
    }

    /// Every setting as `key = value`, one a line, in the settings table's order, with where
    /// its value came from (`bellhop config`). Secrets are never shown: a database URL keeps its
    /// engine, host and port (or its SQLite path), any other secret says only that it is set.
    pub fn describe(&self) -> String {
        let data_dir = self.get("data_dir").unwrap_or_default().to_owned();
        let mut out = String::new();
        for def in SETTINGS {
            let line = match self.values.get(def.key).filter(|(v, _)| !v.trim().is_empty()) {
                None => format!("{} = (not set)", def.key),
                Some((v, origin)) => {
                    let v = v.replace("{data_dir}", &data_dir);
                    let shown = match (def.secret, def.key) {
                        (true, "database_url") => super::DatabaseUrl::parse(&v).map(|u| format!("{u:?}")).unwrap_or_else(|_| "(set, hidden)".into()),
                        (true, _) => "(set, hidden)".into(),
                        (false, _) => v,
                    };
                    format!("{} = {shown}  ({origin})", def.key)
                }
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The value of `key`, unless it is unset or blank.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str()).filter(|v| !v.trim().is_empty())
    }
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        toml::Value::Array(a) => out.push((
            prefix.to_owned(),
            a.iter().map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(","),
        )),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}


#[cfg(test)]
mod describe_tests {
    use super::RawSettings;

    #[test]
    fn the_configuration_is_shown_as_key_value_lines_with_secrets_hidden() {
        let env = |k: &str| match k {
            "BELLHOP_DATABASE_URL" => Some("postgres://bellhop:pw-s3cret@127.0.0.1:55432/walkd".to_owned()),
            "BELLHOP_MANAGER_TOKEN" => Some("123:token-s3cret".to_owned()),
            "BELLHOP_DATA_DIR" => Some("/srv/bellhop".to_owned()),
            _ => None,
        };
        let text = RawSettings::load(Some(std::path::Path::new("/dev/null")), &env).unwrap().describe();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"database_url = postgres://***@127.0.0.1:55432/***  (environment BELLHOP_DATABASE_URL)"), "{text}");
        assert!(lines.contains(&"telegram.manager_token = (set, hidden)  (environment BELLHOP_MANAGER_TOKEN)"), "{text}");
        assert!(lines.contains(&"secrets.master_key = (not set)"), "{text}");
        assert!(lines.contains(&"listen = 127.0.0.1:8080  (default)"), "{text}");
        assert!(lines.contains(&"secrets.key_file = /srv/bellhop/master.keys  (default)") || text.contains("secrets.key_file = /srv/bellhop/"), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("Url {") && !text.contains("Config {"), "{text}");
        assert_eq!(lines.len(), crate::config::settings::SETTINGS.len());
    }
}
