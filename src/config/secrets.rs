//! `secrets.*`: the master key (or key ring file) sealing bot tokens and webhook secrets.
use super::read::Reader;
use crate::domain::Secret;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct SecretsConfig {
    pub master_key: Option<Secret>,
    pub old_master_keys: Vec<Secret>,
    pub key_file: PathBuf,
}

pub(super) fn parse(r: &mut Reader) -> SecretsConfig {
    let master_key = r.get("secrets.master_key").and_then(|v| {
        crate::crypto::parse_key(v).map(|_| Secret::new(v)).map_err(|m| r.bad("secrets.master_key", m)).ok()
    });
    let old_master_keys = r
        .get("secrets.old_master_keys")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .filter_map(|k| crate::crypto::parse_key(k).map(|_| Secret::new(k)).map_err(|m| r.bad("secrets.old_master_keys", m)).ok())
                .collect()
        })
        .unwrap_or_default();
    SecretsConfig { master_key, old_master_keys, key_file: r.path("secrets.key_file") }
}
