//! Secrets at rest: child-bot tokens and webhook secrets sealed with AES-256-GCM.
//!
//! - A fresh random 96-bit nonce per encryption, stored in front of the ciphertext.
//! - Associated data names the record and the column (`bots.token:123456`), so a ciphertext
//!   copied onto another row — or into another column of the same row — fails to open.
//! - Each ciphertext is stored beside the id of the key that sealed it. The key ring holds one
//!   active key and any number of older ones; `bellhop rotate-key` adds a key and re-seals every
//!   row while the service keeps running: a process that meets a key id it does not know reloads
//!   the ring file, and sealing checks the file (its modification time, inode and size) every
//!   time, so a new active key is used at once.
//! - Nothing is sealed with a retired key, however old a process's ring: every sealed write claims
//!   its key in the database first (`storage::keys`), and `rotate-key --retire-old` marks keys
//!   retired there before its last re-seal. `rotate-key` runs one at a time ([`lock_rotation`]).
//!
//! Keys come from `secrets.master_key` (+ `secrets.old_master_keys`) or, when that is unset, from
//! the ring file `secrets.key_file` (`<key id> <base64 key>` per line, active first), which the
//! zero-config run creates with mode 0600.
use crate::config::SecretsConfig;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

const NONCE_LEN: usize = 12;
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Parses a base64 master key of exactly 32 bytes.
pub fn parse_key(b64: &str) -> Result<[u8; 32], String> {
    let bytes = B64.decode(b64.trim()).map_err(|_| "is not base64 (generate one with `openssl rand -base64 32`)".to_string())?;
    bytes.try_into().map_err(|_| "must be exactly 32 bytes, base64-encoded (`openssl rand -base64 32`)".to_string())
}

/// A key's public name: `k` + the first 12 hex digits of SHA-256 of the key.
fn key_id(key: &[u8; 32]) -> String {
    format!("k{}", &hex::encode(Sha256::digest(key))[..12])
}

/// A sealed value and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// nonce ‖ ciphertext ‖ tag
    pub blob: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}, {} bytes)", self.key_id, self.blob.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// After `rotate-key` with keys from the configuration, the processes still running have only
    /// the old key: they must be restarted with the new one.
    #[error(
        "no key with id {0} in the key ring: this secret was sealed with a master key this process does not have. \
         If `bellhop rotate-key` ran with a new master key, restart every bellhop process with the new BELLHOP_MASTER_KEY, \
         keeping the old one in BELLHOP_OLD_MASTER_KEYS"
    )]
    UnknownKey(String),
    #[error("ciphertext does not open with its key and record (tampered, or copied from another row)")]
    Tampered,
}

struct Keys {
    /// Active key first.
    keys: Vec<(String, aes_gcm::Key<Aes256Gcm>)>,
    file_version: Option<FileVersion>,
    checked: Instant,
}

/// What tells one ring file from the next: it is replaced by a rename (a new inode), and the
/// modification time alone can repeat within its granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileVersion {
    modified: Option<SystemTime>,
    inode: u64,
    len: u64,
}

fn file_version(path: &Path) -> Option<FileVersion> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileVersion { modified: m.modified().ok(), inode, len: m.len() })
}

enum Source {
    Config,
    File(PathBuf),
}

/// The master keys of this process.
pub struct KeyRing {
    keys: RwLock<Keys>,
    source: Source,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().expect("key ring lock");
        f.debug_struct("KeyRing").field("key_ids", &keys.keys.iter().map(|k| &k.0).collect::<Vec<_>>()).finish()
    }
}

impl KeyRing {
    /// Loads the ring from configuration. With no key configured and no ring file, `create`
    /// decides between generating one (zero-config run) and refusing to start.
    /// Returns the ring and whether a new ring file was created.
    pub fn load(cfg: &SecretsConfig, create: bool) -> anyhow::Result<(KeyRing, bool)> {
        if let Some(active) = &cfg.master_key {
            let mut keys = Vec::new();
            for k in std::iter::once(active).chain(&cfg.old_master_keys) {
                let k = parse_key(k.expose()).map_err(|m| anyhow::anyhow!("secrets.master_key {m}"))?;
                keys.push((key_id(&k), k.into()));
            }
            let ring = KeyRing { keys: RwLock::new(Keys { keys, file_version: None, checked: Instant::now() }), source: Source::Config };
            return Ok((ring, false));
        }
        let path = cfg.key_file.clone();
        let mut created = false;
        if !path.exists() {
            if !create {
                anyhow::bail!(
                    "no master key: set secrets.master_key (BELLHOP_MASTER_KEY) or create the key ring with `bellhop rotate-key` ({} is missing)",
                    path.display()
                );
            }
            write_ring_file(&path, &[generate_key()])?;
            created = true;
        }
        let ring = KeyRing { keys: RwLock::new(read_ring_file(&path)?), source: Source::File(path) };
        Ok((ring, created))
    }

    /// A ring from raw keys, active first (tests and tools).
    pub fn from_keys(keys: &[[u8; 32]]) -> KeyRing {
        let keys = keys.iter().map(|k| (key_id(k), (*k).into())).collect();
        KeyRing { keys: RwLock::new(Keys { keys, file_version: None, checked: Instant::now() }), source: Source::Config }
    }

    pub fn active_key_id(&self) -> String {
        self.maybe_reload();
        self.keys.read().expect("key ring lock").keys[0].0.clone()
    }

    /// Seals `plaintext` for the record named by `aad` (e.g. `bots.token:123`), with the active
    /// key of the ring file as it is now. To store the result, use `storage::keys::seal`, which
    /// also makes sure the key is not being retired.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Sealed {
        self.reload_if_changed();
        let keys = self.keys.read().expect("key ring lock");
        let (id, key) = &keys.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = Aes256Gcm::new(key)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Sealed { key_id: id.clone(), blob }
    }

    /// Opens a sealed value; the `aad` must name the same record it was sealed for.
    pub fn open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, CryptoError> {
        match self.try_open(sealed, aad) {
            Err(CryptoError::UnknownKey(_)) => {
                // Another process may have rotated the ring since we read it.
                self.reload_now();
                self.try_open(sealed, aad)
            }
            other => other,
        }
    }

    fn try_open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, CryptoError> {
        let keys = self.keys.read().expect("key ring lock");
        let key = keys.keys.iter().find(|k| k.0 == sealed.key_id).map(|k| &k.1).ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Tampered);
        }
        let (nonce, ct) = sealed.blob.split_at(NONCE_LEN);
        Aes256Gcm::new(key).decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }).map_err(|_| CryptoError::Tampered)
    }

    /// Opens a sealed UTF-8 string.
    pub fn open_string(&self, sealed: &Sealed, aad: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| CryptoError::Tampered)
    }

    fn maybe_reload(&self) {
        if self.keys.read().expect("key ring lock").checked.elapsed() >= RELOAD_CHECK {
            self.reload_if_changed();
        }
    }

    /// Reads the ring file again if it changed since it was read.
    fn reload_if_changed(&self) {
        let Source::File(path) = &self.source else { return };
        {
            let version = file_version(path);
            let keys = self.keys.read().expect("key ring lock");
            if version == keys.file_version {
                drop(keys);
                self.keys.write().expect("key ring lock").checked = Instant::now();
                return;
            }
        }
        self.reload_now();
    }

    /// Reads the ring file again (keys from configuration: nothing to read).
    pub fn reload(&self) {
        self.reload_now();
    }

    /// The ids of the ring file's keys other than the active one, which `rotate-key
    /// --retire-old` may retire; none with keys from configuration.
    pub fn retirable_key_ids(&self) -> anyhow::Result<Vec<String>> {
        let Source::File(path) = &self.source else { return Ok(Vec::new()) };
        let existing = parse_ring_text(&std::fs::read_to_string(path).context("reading the key ring")?)?;
        Ok(existing.iter().skip(1).map(key_id).collect())
    }

    fn reload_now(&self) {
        let Source::File(path) = &self.source else { return };
        match read_ring_file(path) {
            Ok(k) => *self.keys.write().expect("key ring lock") = k,
            Err(e) => tracing::error!(error = %format!("{e:#}"), "could not reload the key ring; keeping the keys already loaded"),
        }
    }

    /// Rotation, step one: a new active key in front of the ring file. Returns the new key id.
    /// With keys from configuration there is no file to change: the operator sets the new key as
    /// `secrets.master_key`, moves the old one to `secrets.old_master_keys`, and runs
    /// `rotate-key` to re-seal.
    pub fn add_active_key(&self) -> anyhow::Result<Option<String>> {
        let Source::File(path) = &self.source else { return Ok(None) };
        let existing = parse_ring_text(&std::fs::read_to_string(path).context("reading the key ring")?)?;
        let new = generate_key();
        let mut all = vec![new];
        all.extend(existing);
        write_ring_file(path, &all)?;
        self.reload_now();
        Ok(Some(key_id(&new)))
    }

    /// Rotation, last step: drop keys that no row uses any more.
    pub fn retire_keys_except(&self, in_use: &[String]) -> anyhow::Result<usize> {
        let Source::File(path) = &self.source else { return Ok(0) };
        let existing = parse_ring_text(&std::fs::read_to_string(path).context("reading the key ring")?)?;
        let (keep, drop): (Vec<_>, Vec<_>) =
            existing.iter().enumerate().partition(|(i, k)| *i == 0 || in_use.contains(&key_id(k)));
        if !drop.is_empty() {
            write_ring_file(path, &keep.into_iter().map(|(_, k)| *k).collect::<Vec<_>>())?;
            self.reload_now();
        }
        Ok(drop.len())
    }
}

fn generate_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

fn parse_ring_text(text: &str) -> anyhow::Result<Vec<[u8; 32]>> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let b64 = line.split_whitespace().last().unwrap_or_default();
        keys.push(parse_key(b64).map_err(|m| anyhow::anyhow!("key ring line {}: the key {m}", n + 1))?);
    }
    anyhow::ensure!(!keys.is_empty(), "the key ring file holds no key");
    Ok(keys)
}

fn read_ring_file(path: &Path) -> anyhow::Result<Keys> {
    // The version is taken before the read: a change during the read shows at the next check.
    let version = file_version(path);
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the key ring {}", path.display()))?;
    let keys = parse_ring_text(&text).with_context(|| format!("in {}", path.display()))?;
    Ok(Keys { keys: keys.iter().map(|k| (key_id(k), (*k).into())).collect(), file_version: version, checked: Instant::now() })
}

/// Writes the ring atomically (temporary file, fsync, rename) with mode 0600.
fn write_ring_file(path: &Path, keys: &[[u8; 32]]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::storage::files::create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut text = String::from("# bellhop master keys: the first is active, the rest only decrypt. Keep this file secret.\n");
    for k in keys {
        text.push_str(&format!("{} {}\n", key_id(k), B64.encode(k)));
    }
    // A name of its own: two writers must not share a temporary file.
    let tmp = path.with_extension(format!("tmp-{}-{:x}", std::process::id(), rand::random::<u64>()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Held while `rotate-key` changes the ring: runs one at a time. (Two at once would each read
/// the ring, add a key and write it back: one key would be lost, with every row the losing run
/// had re-sealed under it.) An advisory lock (`flock`) on `<key file>.lock`, released when this
/// is dropped or the process ends; with keys from configuration there is no file and no lock.
#[derive(Debug)]
pub struct RotationLock {
    _file: Option<std::fs::File>,
}

/// Waits until no other `rotate-key` holds the ring, then holds it. Blocks the calling thread.
pub fn lock_rotation(cfg: &SecretsConfig) -> anyhow::Result<RotationLock> {
    if cfg.master_key.is_some() {
        return Ok(RotationLock { _file: None });
    }
    let path = cfg.key_file.with_extension("lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(&path).with_context(|| format!("opening {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock(2) on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            tracing::info!(lock = %path.display(), "another rotate-key is running; waiting for it to finish");
            // SAFETY: as above.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error()).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
    Ok(RotationLock { _file: Some(file) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_uses_a_fresh_nonce_and_opens_only_for_its_record() {
        let ring = KeyRing::from_keys(&[[7u8; 32]]);
        let a = ring.seal(b"123:secret", "bots.token:1");
        let b = ring.seal(b"123:secret", "bots.token:1");
        assert_ne!(a.blob, b.blob, "same plaintext, same ciphertext: nonce reused");
        assert_eq!(ring.open(&a, "bots.token:1").unwrap(), b"123:secret");
        assert!(matches!(ring.open(&a, "bots.token:2"), Err(CryptoError::Tampered)));
        assert!(matches!(ring.open(&a, "bots.webhook_secret:1"), Err(CryptoError::Tampered)));
        let mut flipped = a.clone();
        flipped.blob[20] ^= 1;
        assert!(matches!(ring.open(&flipped, "bots.token:1"), Err(CryptoError::Tampered)));
    }

    #[test]
    fn old_keys_still_open_after_a_new_one_becomes_active() {
        let old = KeyRing::from_keys(&[[1u8; 32]]);
        let sealed = old.seal(b"x", "t:1");
        let new = KeyRing::from_keys(&[[2u8; 32], [1u8; 32]]);
        assert_ne!(new.active_key_id(), sealed.key_id);
        assert_eq!(new.open(&sealed, "t:1").unwrap(), b"x");
        let only_new = KeyRing::from_keys(&[[2u8; 32]]);
        assert!(matches!(only_new.open(&sealed, "t:1"), Err(CryptoError::UnknownKey(_))));
    }

    /// A process started before `rotate-key` ran with a new configured key cannot open what was
    /// re-sealed: its error (every webhook's HTTP 500, in the log) says what to do.
    #[test]
    fn a_secret_sealed_with_a_key_this_process_lacks_says_to_restart_with_the_new_key() {
        let sealed = KeyRing::from_keys(&[[2u8; 32], [1u8; 32]]).seal(b"x", "t:1");
        let running = KeyRing::from_keys(&[[1u8; 32]]);
        let e = running.open(&sealed, "t:1").unwrap_err().to_string();
        assert!(e.starts_with(&format!("no key with id {} in the key ring", sealed.key_id)), "{e}");
        assert!(e.contains("restart every bellhop process with the new BELLHOP_MASTER_KEY, keeping the old one in BELLHOP_OLD_MASTER_KEYS"), "{e}");
    }

    #[test]
    fn ring_file_is_private_and_rotation_is_seen_by_another_process() {
        let dir = std::env::temp_dir().join(format!("bellhop-ring-{}-{:?}", std::process::id(), std::thread::current().id()));
        let cfg = SecretsConfig { master_key: None, old_master_keys: vec![], key_file: dir.join("master.keys") };
        assert!(KeyRing::load(&cfg, false).is_err(), "must not invent keys unless asked");
        let (a, created) = KeyRing::load(&cfg, true).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&cfg.key_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (b, created) = KeyRing::load(&cfg, true).unwrap();
        assert!(!created);
        let new_id = b.add_active_key().unwrap().unwrap();
        let sealed = b.seal(b"tok", "bots.token:9");
        assert_eq!(sealed.key_id, new_id);
        // `a` has never seen the new key; it reloads on meeting it.
        assert_eq!(a.open(&sealed, "bots.token:9").unwrap(), b"tok");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 16, item 11: sealing used a ring up to two seconds old.
    #[test]
    fn sealing_uses_the_ring_file_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SecretsConfig { master_key: None, old_master_keys: vec![], key_file: dir.path().join("master.keys") };
        let (server, _) = KeyRing::load(&cfg, true).unwrap();
        let first = server.seal(b"x", "t:1").key_id;
        let (rotation, _) = KeyRing::load(&cfg, false).unwrap();
        // Several rotations at once, within the file's timestamp granularity.
        for _ in 0..3 {
            let new = rotation.add_active_key().unwrap().unwrap();
            assert_eq!(server.seal(b"x", "t:1").key_id, new, "a seal right after the ring changed used an older key");
        }
        assert_ne!(server.active_key_id(), first);
        assert_eq!(rotation.retirable_key_ids().unwrap().len(), 3, "every key but the active one");
    }
}
