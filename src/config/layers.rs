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

