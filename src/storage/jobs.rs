//! SQL of the job queue. The queue's behaviour (workers, retries, leases) is in `crate::jobs`.
use super::{Engine, now_ms};
use crate::domain::{JobId, TenantId};
use sqlx::{Any, Executor};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: &'static str,
    pub kind: &'static str,
    pub payload: String,
    pub tenant_id: Option<TenantId>,
    pub run_at_ms: i64,
    pub max_attempts: i64,
    pub dedup_key: Option<String>,
    /// Jobs with the same serial key run one at a time, oldest first, on any worker of any
    /// process.
    pub serial_key: Option<String>,
    /// While a job with this key is still queued (not started), enqueueing another adds nothing.
    pub coalesce_key: Option<String>,
}

/// A claimed job. `attempt` doubles as the fencing token: only the worker holding this
/// attempt may complete it, so a worker whose lease expired cannot overwrite its successor.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub tenant_id: Option<TenantId>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub serial_key: Option<String>,
    /// When it became due (Unix ms): the queue wait is measured from here.
    pub due_ms: i64,
    /// When it was queued (Unix ms): an outage is waited out for a time from here.
    pub created_ms: i64,
}

/// Inserts a job; with its dedup key already present, or its coalesce key on a queued job,
/// inserts nothing and returns `None`.
///
/// The job's virtual time (`fair_vt`, the claim order) is one past its tenant's last queued job
/// in the same queue, or the lowest queued virtual time when its tenant has none queued (jobs
/// without a tenant count as a tenant with nothing queued).
pub async fn insert<'c>(e: impl Executor<'c, Database = Any>, job: &NewJob) -> sqlx::Result<Option<JobId>> {
    let now = now_ms();
    let id: Option<i64> = sqlx::query_scalar(
        "insert into jobs (queue, kind, payload, tenant_id, state, attempts, max_attempts, run_at, dedup_key, serial_key, coalesce_key, fair_vt, created_at, updated_at)
         values ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $9, $10,
                 coalesce((select max(fair_vt) + 1 from jobs where queue = $1 and tenant_id = $4 and state = 'queued'),
                          (select min(fair_vt) from jobs where queue = $1 and state = 'queued'),
                          0),
                 $8, $8)
         on conflict do nothing
         returning id",
    )
    .bind(job.queue)
    .bind(job.kind)
    .bind(&job.payload)
    .bind(job.tenant_id.map(|t| t.0))
    .bind(job.max_attempts)
    .bind(job.run_at_ms)
    .bind(job.dedup_key.as_deref())
    .bind(now)
    .bind(job.serial_key.as_deref())
    .bind(job.coalesce_key.as_deref())
    .fetch_optional(e)
    .await?;
    Ok(id.map(JobId))
}

/// What a worker asks of [`claim`].
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub queue: &'a str,
    pub worker: &'a str,
    pub lease_until_ms: i64,
    /// Most jobs to take.
    pub limit: i64,
    /// Most jobs of one tenant running at once in this queue, cluster-wide.
    pub tenant_limit: i64,
}

/// Claims up to `limit` due jobs of `queue` for `worker` in one statement, in virtual-time order
/// (fair between tenants, see [`insert`]), oldest first within a tenant. A job with a serial key
/// is claimed only when no job with that key is running and it is the oldest queued one with it.
/// A job of a tenant that already has `tenant_limit` jobs of this queue running (in any process)
/// waits: a busy tenant cannot occupy every worker. (Within one claim, jobs taken together are
/// not counted against each other: a tenant may exceed the limit by at most that claim's size.)
/// A claimed job gives up its coalesce key: a request made while it runs queues a fresh job
/// (the running one may have read the old state), and a job put back in the queue (a retry, a
/// dead worker's lease) never collides with one queued meanwhile.
/// PostgreSQL skips rows other workers are claiming (`for update skip locked`; a job whose older
/// sibling another worker is claiming still sees that sibling queued, so it waits); SQLite has
/// one writer at a time, so the statement is atomic as it stands.
pub async fn claim<'c>(e: impl Executor<'c, Database = Any>, engine: Engine, c: &Claim<'_>) -> sqlx::Result<Vec<ClaimedJob>> {
    let lock = match engine {
        Engine::Postgres => "for update skip locked",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "update jobs set state = 'running', attempts = attempts + 1, lease_until = $1, locked_by = $2, updated_at = $3, coalesce_key = null
         where id in (select j.id from jobs j
                      where j.state = 'queued' and j.queue = $4 and j.run_at <= $3
                        and (j.tenant_id is null
                             or (select count(*) from jobs t where t.tenant_id = j.tenant_id and t.queue = j.queue and t.state = 'running') < $6)
                        and (j.serial_key is null or (
                             not exists (select 1 from jobs r where r.serial_key = j.serial_key and r.state = 'running')
                             and not exists (select 1 from jobs o where o.serial_key = j.serial_key and o.state = 'queued' and o.id < j.id)))
                      order by j.fair_vt, j.id limit $5 {lock})
         returning id, kind, payload, tenant_id, attempts, max_attempts, serial_key, run_at, created_at"
    );
    let rows: Vec<ClaimedRow> =
        sqlx::query_as(&sql).bind(c.lease_until_ms).bind(c.worker).bind(now_ms()).bind(c.queue).bind(c.limit).bind(c.tenant_limit).fetch_all(e).await?;
    let mut jobs: Vec<ClaimedJob> = rows.into_iter().map(ClaimedJob::from).collect();
    // `returning` gives no order guarantee; start them in claim order (ids rise with it within a
    // tenant; between tenants the order of a batch started at once does not matter).
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// A row [`claim`] returns, before its tenant becomes a [`TenantId`].
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(try_from = "i64")]
    id: JobId,
    kind: String,
    payload: String,
    tenant_id: Option<i64>,
    attempts: i64,
    max_attempts: i64,
    serial_key: Option<String>,
    run_at: i64,
    created_at: i64,
}

impl From<ClaimedRow> for ClaimedJob {
    fn from(r: ClaimedRow) -> Self {
        ClaimedJob {
            id: r.id,
            kind: r.kind,
            payload: r.payload,
            tenant_id: r.tenant_id.map(TenantId),
            attempt: r.attempts,
            max_attempts: r.max_attempts,
            serial_key: r.serial_key,
            due_ms: r.run_at,
            created_ms: r.created_at,
        }
    }
}

/// The payloads of the jobs with serial key `key` enqueued after job `id` and waiting, newest
/// first (at most [`QUEUED_AFTER_MAX`]): for an update job, what the customer sent since.
pub async fn queued_after<'c>(e: impl Executor<'c, Database = Any>, key: &str, id: JobId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select payload from jobs where serial_key = $1 and state = 'queued' and id > $2 order by id desc limit $3")
        .bind(key)
        .bind(id.0)
        .bind(QUEUED_AFTER_MAX)
        .fetch_all(e)
        .await
}

/// Most payloads [`queued_after`] returns.
pub const QUEUED_AFTER_MAX: i64 = 100;

/// Marks a job done, if `worker` still holds this attempt. Its serial key goes: it names the
/// chat of a customer's update (`chat:{bot}:{chat}`), and only queued and running jobs are
/// ordered by it — a finished one need not say whose it was until the purge removes it.
/// (Payloads name no chat: an update's job holds its bot and update ids.)
pub async fn complete<'c>(e: impl Executor<'c, Database = Any>, id: JobId, worker: &str, attempt: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update jobs set state = 'done', lease_until = null, last_error = null, serial_key = null, updated_at = $1
         where id = $2 and locked_by = $3 and attempts = $4 and state = 'running'",
    )
    .bind(now_ms())
    .bind(id.0)
    .bind(worker)
    .bind(attempt)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts a failed attempt back in the queue to run at `retry_at_ms`, or dead-letters it
/// (`retry_at_ms = None`), keeping the error either way. `attempt_kept`: the attempt does not
/// count against the job's limit (it failed for an outage, not for anything of the job's own).
pub async fn fail<'c>(
    e: impl Executor<'c, Database = Any>,
    id: JobId,
    worker: &str,
    attempt: i64,
    retry_at_ms: Option<i64>,
    attempt_kept: bool,
    error: &str,
) -> sqlx::Result<bool> {
    let (state, run_at) = match retry_at_ms {
        Some(t) => ("queued", Some(t)),
        None => ("dead", None),
    };
    let r = sqlx::query(
        "update jobs set state = $1, run_at = coalesce($2, run_at), lease_until = null, locked_by = null, last_error = $3, updated_at = $4,
                max_attempts = max_attempts + $8
         where id = $5 and locked_by = $6 and attempts = $7 and state = 'running'",
    )
    .bind(state)
    .bind(run_at)
    .bind(kept_error(error))
    .bind(now_ms())
    .bind(id.0)
    .bind(worker)
    .bind(attempt)
    .bind(i64::from(attempt_kept))
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts the dead-lettered job of dedup key `key` back in the queue, to run now with `attempts`
/// more attempts (its attempt count goes on, so an attempt of before can never pass for a new
/// one); whether there was one.
pub async fn revive_dead<'c>(e: impl Executor<'c, Database = Any>, key: &str, attempts: i64) -> sqlx::Result<bool> {
    let now = now_ms();
    let r = sqlx::query(
        "update jobs set state = 'queued', run_at = $1, updated_at = $1, max_attempts = attempts + $2, lease_until = null, locked_by = null
         where dedup_key = $3 and state = 'dead'",
    )
    .bind(now)
    .bind(attempts)
    .bind(key)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Most characters of an error a job keeps.
const ERROR_MAX_CHARS: usize = 4000;

/// An error as a job keeps it: a NUL character (which PostgreSQL's text refuses: the whole batch
/// of results would fail, again and again) shown as U+FFFD, and at most [`ERROR_MAX_CHARS`]. An
/// error's text can come from anywhere — a parser's message about a file, a panic's.
fn kept_error(error: &str) -> String {
    error.chars().take(ERROR_MAX_CHARS).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

/// Heartbeat: extends the leases of every job `worker` is running.
pub async fn extend_leases<'c>(e: impl Executor<'c, Database = Any>, worker: &str, lease_until_ms: i64) -> sqlx::Result<u64> {
    let r = sqlx::query("update jobs set lease_until = $1 where locked_by = $2 and state = 'running'")
        .bind(lease_until_ms)
        .bind(worker)
        .execute(e)
        .await?;
    Ok(r.rows_affected())
}

/// Graceful shutdown: hands `worker`'s unfinished jobs back without counting the attempt.
pub async fn release<'c>(e: impl Executor<'c, Database = Any>, worker: &str) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update jobs set state = 'queued', attempts = attempts - 1, lease_until = null, locked_by = null, updated_at = $1
         where locked_by = $2 and state = 'running'",
    )
    .bind(now_ms())
    .bind(worker)
    .execute(e)
    .await?;
    Ok(r.rows_affected())
}

/// The reaper: jobs whose lease ran out (their worker died) run again, or are dead-lettered
/// when they have used all their attempts (a job that kills its worker every time). Returns the
/// jobs it took back, so the caller can queue the follow-ups of the dead ones in the same
/// transaction (`crate::jobs` does: run it through that, not on its own). A job taken back by
/// another process's reaper meanwhile is not returned here too: PostgreSQL's `update` waits for
/// the other's row locks and then finds the job no longer running; SQLite has one writer.
pub async fn requeue_expired<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<ExpiredJob>> {
    let now = now_ms();
    let rows: Vec<ExpiredRow> = sqlx::query_as(
        "update jobs set
            state = case when attempts >= max_attempts then 'dead' else 'queued' end,
            last_error = case when attempts >= max_attempts then 'the worker running it stopped responding on every attempt' else last_error end,
            run_at = $1, lease_until = null, locked_by = null, updated_at = $1
         where state = 'running' and lease_until < $1
         returning id, kind, payload, tenant_id, attempts, max_attempts, serial_key, run_at, created_at, state",
    )
    .bind(now)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(|r| ExpiredJob { dead: r.state == "dead", job: r.job.into() }).collect())
}

/// Whether any running job's lease has run out: the reaper's cheap look before it takes the
/// write lock.
pub async fn any_expired<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from jobs where state = 'running' and lease_until < $1").bind(now_ms()).fetch_one(e).await?;
    Ok(n > 0)
}

/// A job [`requeue_expired`] took back from a worker that stopped responding.
#[derive(Debug, Clone)]
pub struct ExpiredJob {
    /// As it was claimed by the lost worker (`attempt`: the attempt that was lost).
    pub job: ClaimedJob,
    /// Dead-lettered (that was its last attempt), not queued again.
    pub dead: bool,
}

#[derive(sqlx::FromRow)]
struct ExpiredRow {
    #[sqlx(flatten)]
    job: ClaimedRow,
    state: String,
}

/// How many jobs are in one state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

/// Jobs by state, for metrics, `/readyz` and tests.
pub async fn count_by_state<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<StateCount>> {
    sqlx::query_as("select state, count(*) as count from jobs group by state order by state").fetch_all(e).await
}

/// Jobs waiting, running and dead-lettered, cluster-wide: the queue gauges of `/metrics`. (Each
/// count is over its own partial index; the finished jobs, the many, are not counted.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueDepth {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

pub async fn queue_depth<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<QueueDepth> {
    sqlx::query_as(
        "select (select count(*) from jobs where state = 'queued') as queued,
                (select count(*) from jobs where state = 'running') as running,
                (select count(*) from jobs where state = 'dead') as dead",
    )
    .fetch_one(e)
    .await
}

/// A job's state, last error and attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobState {
    pub state: String,
    pub last_error: Option<String>,
    pub attempts: i64,
}

/// A dead-lettered job's last error.
pub async fn last_error<'c>(e: impl Executor<'c, Database = Any>, id: JobId) -> sqlx::Result<Option<JobState>> {
    sqlx::query_as("select state, last_error, attempts from jobs where id = $1").bind(id.0).fetch_optional(e).await
}

/// Removes finished jobs older than `before_ms` (retention).
pub async fn purge_done<'c>(e: impl Executor<'c, Database = Any>, before_ms: i64) -> sqlx::Result<u64> {
    let r = sqlx::query("delete from jobs where state = 'done' and updated_at < $1").bind(before_ms).execute(e).await?;
    Ok(r.rows_affected())
}

/// The effect of a `selftest` job: insert-or-nothing, so running a job twice applies it once.
pub async fn apply_selftest_effect<'c>(e: impl Executor<'c, Database = Any>, job: JobId, value: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("insert into selftest_effects (job_id, value, applied_at) values ($1, $2, $3) on conflict (job_id) do nothing")
        .bind(job.0)
        .bind(value)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The `selftest` effects applied, and of how many distinct jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SelftestEffects {
    pub effects: i64,
    pub jobs: i64,
}

pub async fn count_selftest_effects<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<SelftestEffects> {
    sqlx::query_as("select count(*) as effects, count(distinct job_id) as jobs from selftest_effects").fetch_one(e).await
}
