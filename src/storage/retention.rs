//! The retention purge: data that only serves operations is deleted once it is old enough —
//! raw Telegram updates (customers' messages as received; the conversations keep what the owner
//! sees), finished and dead jobs, processed Stripe events, expired or revoked sessions, expired
//! login links, and Telegram pacing rows long past. Every worker process runs [`run`]; the
//! deletes go in small batches (one short transaction each, by index), so the purge never holds
//! locks the hot path waits on, and two processes purging at once only share the work.
use super::{Db, now_ms};
use crate::config::RetentionConfig;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows deleted per statement.
pub const BATCH: i64 = 500;

/// What one purge deleted, per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub updates: u64,
    pub jobs: u64,
    pub dead_jobs: u64,
    pub stripe_events: u64,
    pub sessions: u64,
    pub login_tokens: u64,
    pub pacing: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.updates + self.jobs + self.dead_jobs + self.stripe_events + self.sessions + self.login_tokens + self.pacing
    }
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// The pause between two batches. SQLite has one writer: a batch run right after another would
/// take the lock again before a webhook's insert or a job's claim, waiting on it, got its turn.
const BETWEEN_BATCHES: Duration = Duration::from_millis(10);

/// Deletes, batch after batch, the rows `sql` selects (its `$1` is the cutoff, `$2` the batch
/// size) until a batch comes back short; pauses between batches.
async fn drain(db: &Db, sql: &str, cutoff: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql).bind(cutoff).bind(BATCH).execute(&db.pool).await?.rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        tokio::time::sleep(BETWEEN_BATCHES).await;
    }
}

/// The purge's statements over the jobs table, the largest one. Each selects by the partial
/// index `jobs_finished` (`where state in ('done', 'dead')`); SQLite uses a partial index only
/// when the query repeats its condition, so both say it before narrowing to one state. Without
/// it, every short last batch scanned the whole table while holding SQLite's write lock.
pub const PURGE_DONE_JOBS: &str =
    "delete from jobs where id in (select id from jobs where state in ('done', 'dead') and state = 'done' and updated_at < $1 limit $2)";
pub const PURGE_DEAD_JOBS: &str =
    "delete from jobs where id in (select id from jobs where state in ('done', 'dead') and state = 'dead' and updated_at < $1 limit $2)";

/// The jobs the purge and the repairs look at, as the application names and keys them
/// (`app::jobs::names`): storage knows no job kinds of its own.
#[derive(Debug, Clone, Copy)]
pub struct JobNames {
    /// The kinds of the jobs that handle a stored update.
    pub update_kinds: [&'static str; 2],
    /// The kind of a source's read.
    pub ingest_kind: &'static str,
    /// A read's serial key is `{ingest_key_prefix}:{tenant}:{source}`.
    pub ingest_key_prefix: &'static str,
    /// The kind of an announcement's sending.
    pub announce_kind: &'static str,
    /// Its dedup key is `{announce_key_prefix}:{announcement}`.
    pub announce_key_prefix: &'static str,
}

/// Updates are purged only if received before this: `cutoff`, or, while an update's job has not
/// finished (workers down for days, a conversation held up behind a stuck job, many retries), a
/// minute before the oldest such job was made — its update was stored in the same commit. A job
/// that finds its update gone takes it as erased and answers nothing, so an unhandled update is
/// never purged; the updates after it wait for the next purge too.
async fn updates_cutoff(db: &Db, names: &JobNames, cutoff: i64) -> sqlx::Result<i64> {
    let oldest: Option<i64> = sqlx::query_scalar("select min(created_at) from jobs where state in ('queued', 'running') and kind in ($1, $2)")
        .bind(names.update_kinds[0])
        .bind(names.update_kinds[1])
        .fetch_one(&db.pool)
        .await?;
    Ok(oldest.map_or(cutoff, |at| cutoff.min(at - 60_000)))
}

/// One purge at `now` (Unix ms).
pub async fn purge(db: &Db, cfg: &RetentionConfig, names: &JobNames, now: i64) -> sqlx::Result<Purged> {
    let updates_cutoff = updates_cutoff(db, names, now - ms(cfg.updates)).await?;
    Ok(Purged {
        updates: drain(db, "delete from telegram_updates where id in (select id from telegram_updates where received_at < $1 limit $2)", updates_cutoff).await?,
        jobs: drain(db, PURGE_DONE_JOBS, now - ms(cfg.jobs)).await?,
        dead_jobs: drain(db, PURGE_DEAD_JOBS, now - ms(cfg.dead_jobs)).await?,
        stripe_events: drain(
            db,
            "delete from stripe_events where id in (select id from stripe_events where processed_at is not null and processed_at < $1 limit $2)",
            now - ms(cfg.stripe_events),
        )
        .await?,
        sessions: drain(
            db,
            "delete from sessions where id_hash in (select id_hash from sessions where expires_at < $1 or revoked_at is not null limit $2)",
            now,
        )
        .await?,
        login_tokens: drain(db, "delete from login_tokens where token_hash in (select token_hash from login_tokens where expires_at < $1 limit $2)", now).await?,
        // A bot's or chat's booking an hour past holds nothing back any more.
        pacing: drain(db, "delete from telegram_pacing where key in (select key from telegram_pacing where next_at < $1 limit $2)", now - 3_600_000).await?,
    })
}

/// Purges every `cfg.interval` (the first time shortly after start) until `stop`.
pub async fn run(db: Db, cfg: RetentionConfig, names: JobNames, stop: CancellationToken) {
    let mut next = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.cancelled() => return,
        }
        match purge(&db, &cfg, &names, now_ms()).await {
            Ok(p) if p.total() > 0 => tracing::info!(
                updates = p.updates,
                jobs = p.jobs,
                dead_jobs = p.dead_jobs,
                stripe_events = p.stripe_events,
                sessions = p.sessions,
                login_tokens = p.login_tokens,
                pacing = p.pacing,
                "retention purge"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention purge failed; trying again next time"),
        }
        // Not retention, but the same kind of periodic repair, in every worker.
        match super::sources::fail_abandoned_reads(&db.pool, names.ingest_kind, names.ingest_key_prefix).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(sources = n, "sources whose read was abandoned are marked failed"),
            Err(e) => tracing::warn!(error = %e, "looking for abandoned source reads failed; trying again next time"),
        }
        match super::announcements::end_abandoned(&db, names.announce_kind, names.announce_key_prefix).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(announcements = n, "announcements whose sending was abandoned are ended, the customers not reached marked so"),
            Err(e) => tracing::warn!(error = %e, "looking for abandoned announcements failed; trying again next time"),
        }
        next = tokio::time::Instant::now() + cfg.interval;
    }
}
