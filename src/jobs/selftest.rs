//! `selftest` jobs: a real job with a real, idempotent database effect, used by
//! `bellhop bench jobs` and by the crash tests to prove "0 lost, applied exactly once".
use super::{DEFAULT, Job, JobError, Registry};
use crate::storage::Db;
use serde::{Deserialize, Serialize};

pub const KIND: &str = "selftest";

#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    pub value: i64,
    /// Work to simulate before the effect, in milliseconds.
    #[serde(default)]
    pub sleep_ms: u64,
}

pub async fn run(db: &Db, job: &Job) -> Result<(), JobError> {
    let p: Payload = job.payload()?;
    if p.sleep_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(p.sleep_ms)).await;
    }
    crate::storage::jobs::apply_selftest_effect(&db.pool, job.id, p.value).await?;
    Ok(())
}

/// Registers the selftest handler for any state that can give a database.
pub fn register<S: Clone + Send + Sync + 'static>(r: &mut Registry<S>, db: fn(&S) -> &Db) {
    r.register(KIND, DEFAULT, move |s: S, job: Job| async move { run(db(&s), &job).await });
}
