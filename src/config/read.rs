//! What every section parser shares: reading a layered value, falling back to the table's
//! default (so a default is written once, in [`super::SETTINGS`]), and recording a problem
//! instead of stopping, so that one run reports every bad setting.
use super::layers::RawSettings;
use super::settings::default_of;
use super::Problem;
use crate::domain::Secret;
use std::path::{Path, PathBuf};
use url::Url;

pub(super) struct Reader<'a> {
    raw: &'a RawSettings,
    data_dir: PathBuf,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(raw: &'a RawSettings) -> Self {
        let mut r = Reader { raw, data_dir: PathBuf::new(), problems: Vec::new() };
        r.data_dir = PathBuf::from(r.get_or_default("data_dir"));
        r
    }

    /// `data_dir`, which other defaults (`{data_dir}/…`) are relative to.
    pub(super) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The value of `key`, unless it is unset or blank.
    pub(super) fn get(&self, key: &str) -> Option<&'a str> {
        self.raw.get(key)
    }

    /// The value of `key`, or its declared default when it is blank.
    pub(super) fn get_or_default(&self, key: &str) -> &'a str {
        self.get(key).or(default_of(key)).unwrap_or_default()
    }

    /// `{data_dir}` in `v` replaced by the data directory.
    pub(super) fn expand(&self, v: &str) -> String {
        v.replace("{data_dir}", &self.data_dir.to_string_lossy())
    }

    /// A path setting (blank: its default), `{data_dir}` expanded.
    pub(super) fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.expand(self.get_or_default(key)))
    }

    pub(super) fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    pub(super) fn bad(&mut self, setting: &str, message: impl Into<String>) {
        self.problems.push(Problem { setting: setting.to_owned(), message: message.into() });
    }

    /// A whole number in `min..=max`; a problem (and `min`) otherwise, blank included.
    pub(super) fn number(&mut self, key: &str, min: u64, max: u64) -> u64 {
        let v = self.get(key).unwrap_or("");
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.bad(key, format!("`{v}` is not a whole number from {min} to {max}"));
                min
            }
        }
    }

    /// An `http://` or `https://` URL with a host, if set.
    pub(super) fn http_url(&mut self, key: &str) -> Option<Url> {
        let v = self.get(key)?;
        match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            _ => {
                self.bad(key, format!("`{v}` is not an http(s) URL"));
                None
            }
        }
    }

    pub(super) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}
