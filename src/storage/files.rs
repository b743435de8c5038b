//! Private files on disk. The data directory holds customers' conversations (the SQLite
//! database), bot tokens (the sandbox's state file) and the master keys: it is created 0700 and
//! those files 0600, whatever the process's umask. An existing directory or file is left as the
//! operator set it up (with a warning when others can read it).
use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) readable only by this user. Existing ones are kept.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Creates an empty `file` readable only by this user, unless it exists.
pub fn create_private_file(file: &Path) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Logs a warning if other users of this machine can read or enter `path`.
pub fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "other users of this machine can read this; it holds customers' conversations or secrets (chmod go= to fix)");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_private_and_existing_ones_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!((mode(&tmp.path().join("a")), mode(&dir)), (0o700, 0o700));
        let file = dir.join("bellhop.db");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, b"kept").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!((mode(&file), std::fs::read(&file).unwrap()), (0o640, b"kept".to_vec()), "an existing file is not touched");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o750, "an existing directory is not touched");
    }
}
