//! The optional state file: the whole world as JSON, written atomically (temp file + rename)
//! every few seconds when something changed, and on shutdown.
use super::{Shared, World};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn load(path: &Path) -> anyhow::Result<World> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the sandbox state file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing the sandbox state file {}", path.display()))
}

pub fn save_now(s: &Shared) -> anyhow::Result<()> {
    let Some(path) = &s.opts.state_file else { return Ok(()) };
    let json = {
        let w = s.world.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_vec_pretty(&*w).context("serializing the sandbox state")?
    };
    s.dirty.store(false, Ordering::Relaxed);
    let tmp = path.with_extension("tmp");
    // Bot tokens and owners' login links: readable by this user only (the rename keeps the
    // mode). A temporary file left behind would keep its own mode: start afresh.
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    std::io::Write::write_all(&mut file, &json).with_context(|| format!("writing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

pub async fn autosave(s: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = s.shutdown.cancelled() => return,
        }
        if s.dirty.load(Ordering::Relaxed)
            && let Err(e) = save_now(&s) {
                tracing::warn!(error = %format!("{e:#}"), "could not save the sandbox state");
            }
    }
}
