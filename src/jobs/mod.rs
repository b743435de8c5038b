//! The durable job queue and its workers — a small queue of our own on the application's
//! database (see docs/architecture.md for why not apalis): jobs are enqueued in the caller's
//! transaction, so "record the update and enqueue its job" is one atomic step.
//!
//! - **Leases**: a claimed job belongs to one worker until `lease_until`; a heartbeat extends
//!   it while the job runs; the reaper re-queues jobs of workers that died (kill -9, crash).
//! - **Fencing**: completion is accepted only from the worker holding the current attempt.
//! - **Retries**: exponential backoff with equal jitter, up to `max_attempts`, then the job is
//!   dead-lettered with its last error. Handlers say whether an error is worth retrying. A
//!   failure of the infrastructure (the database, or a part the application names such as the
//!   vector index, unreachable: nothing about the job itself) does not use up an attempt while the job is younger than
//!   `jobs.outage_budget_minutes`: it is retried every [`OUTAGE_RETRY_MAX`] at most, so a
//!   customer's question asked during a Qdrant restart is answered when Qdrant is back.
//! - **Lanes**: each queue has its own claim loop and concurrency limit; the `priority` queue
//!   (pre-checkout answers: Telegram waits 10 s at most) never waits behind the others.
//! - **Group commit**: completions are written in batches, one transaction (one fsync) each.
//! - **After the last attempt**: a kind may name a follow-up kind ([`Registry::when_dead`]),
//!   queued with the same payload in the transaction that dead-letters the job, once per job —
//!   so the application can tell whoever waited for it (a customer's question gets the bot's
//!   "can't answer right now") without the queue knowing what the job was.
//!
//! Delivery is at least once: a job whose worker died after its effect but before its
//! completion was recorded runs again, so handlers make their effects idempotent (insert-or-
//! nothing on a natural key, or Telegram's own idempotency).
pub mod selftest;

use crate::config::JobsConfig;
use crate::domain::JobId;
use crate::storage::jobs::{ClaimedJob, NewJob};
use crate::storage::{self, Db, now_ms};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Deadline work: answered before anything else, with its own workers.
pub const PRIORITY: &str = "priority";
/// Everything else unless a module declares its own queue.
pub const DEFAULT: &str = "default";

/// How a job failed.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt later (network, rate limit, a busy database).
    Retry(anyhow::Error),
    /// Retrying cannot help (bad payload, revoked token): dead-letter now.
    Permanent(anyhow::Error),
}

/// The error's whole chain, on one line.
impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (JobError::Retry(e) | JobError::Permanent(e)) = self;
        write!(f, "{e:#}")
    }
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::Retry(e.into())
    }
}

impl JobError {
    /// Whether another attempt may succeed. A `Retry` caused by a Telegram refusal that will not
    /// change (the user blocked the bot, chat not found, a bad request — see
    /// [`crate::telegram::TelegramError::is_transient`]) is not: a handler that let such an error
    /// through `?` does not get it repeated up to the attempt limit.
    pub fn worth_retrying(&self) -> bool {
        match self {
            JobError::Permanent(_) => false,
            JobError::Retry(e) => crate::telegram::TelegramError::in_chain(e.as_ref()).is_none_or(|t| t.is_transient()),
        }
    }
}

/// Tells whether an error in a failure's chain says that a part of the infrastructure is
/// unreachable, rather than anything about the job. The database's are known here
/// ([`database_outage`]); the application adds its own parts' ([`Registry::outage_causes`]: the
/// vector index).
pub type OutageCause = fn(&(dyn std::error::Error + 'static)) -> bool;

/// The database's connection is gone, or no connection could be had in time.
pub fn database_outage(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<sqlx::Error>()
        .is_some_and(|s| matches!(s, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed))
}

impl JobError {
    /// Whether the failure is an outage of the infrastructure — the database's
    /// ([`database_outage`]) or one `also` knows of: another attempt will do exactly what this
    /// one did once the outage ends.
    pub fn is_outage(&self, also: OutageCause) -> bool {
        match self {
            JobError::Permanent(_) => false,
            JobError::Retry(e) => e.chain().any(|c| database_outage(c) || also(c)),
        }
    }
}

/// Longest wait between two attempts of a job failing for an outage: the job runs again soon
/// after the outage ends.
pub const OUTAGE_RETRY_MAX: Duration = Duration::from_secs(30);

/// What becomes of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterFailure {
    /// Run again at this time (Unix ms); `attempt_kept`: the attempt does not count.
    Retry { at_ms: i64, attempt_kept: bool },
    Dead,
}

/// The retry policy: `retry_base`, and how long outages are waited out (`jobs.*`).
fn after_failure(cfg: &RetryPolicy, job: &ClaimedJob, err: &JobError, now: i64) -> AfterFailure {
    if !err.worth_retrying() {
        return AfterFailure::Dead;
    }
    if err.is_outage(cfg.outage) && now - job.created_ms < cfg.outage_budget.as_millis() as i64 {
        let wait = backoff(cfg.retry_base, job.attempt).min(OUTAGE_RETRY_MAX);
        return AfterFailure::Retry { at_ms: now + wait.as_millis() as i64, attempt_kept: true };
    }
    if job.attempt < job.max_attempts {
        return AfterFailure::Retry { at_ms: now + backoff(cfg.retry_base, job.attempt).as_millis() as i64, attempt_kept: false };
    }
    AfterFailure::Dead
}

/// What [`after_failure`] decides by, and what a dead-lettered job leaves behind.
#[derive(Clone)]
struct RetryPolicy {
    retry_base: Duration,
    outage_budget: Duration,
    outage: OutageCause,
    when_dead: Arc<FollowUps>,
}

/// Kind → (follow-up kind, its queue): see [`Registry::when_dead`].
type FollowUps = HashMap<&'static str, (&'static str, &'static str)>;

/// A Bot API failure as a job outcome: worth retrying (network, rate limit, Telegram's server),
/// or not. The Telegram error stays in the chain, under `doing`.
pub fn job_error(e: crate::telegram::TelegramError, doing: &str) -> JobError {
    let transient = e.is_transient();
    let err = anyhow::Error::new(e).context(doing.to_owned());
    if transient { JobError::Retry(err) } else { JobError::Permanent(err) }
}

/// A job as its handler sees it: the claimed row (`attempt` is 1 on the first run).
pub use crate::storage::jobs::ClaimedJob as Job;

impl Job {
    /// The payload as `T`; a payload that does not parse is a permanent failure.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.payload).map_err(|e| JobError::Permanent(anyhow::anyhow!("job payload does not parse: {e}")))
    }
}

type HandlerFn<S> = Arc<dyn Fn(S, Job) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// Which handler runs each job kind, and on which queue.
pub struct Registry<S> {
    handlers: HashMap<&'static str, (&'static str, HandlerFn<S>)>,
    /// Outages besides the database's (see [`OutageCause`]).
    outage: OutageCause,
    /// Kind → the kind queued when one of its jobs is dead-lettered ([`Registry::when_dead`]).
    when_dead: HashMap<&'static str, &'static str>,
}

impl<S: Clone + Send + Sync + 'static> Default for Registry<S> {
    fn default() -> Self {
        Self { handlers: HashMap::new(), outage: |_| false, when_dead: HashMap::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> Registry<S> {
    /// Errors that say a part of the infrastructure other than the database is unreachable: a
    /// job failing with one does not use up its attempts within `jobs.outage_budget_minutes`.
    pub fn outage_causes(&mut self, f: OutageCause) -> &mut Self {
        self.outage = f;
        self
    }

    /// When a job of `kind` is dead-lettered — its attempts used up, its outage budget spent,
    /// a failure retrying cannot help, its worker gone on the last attempt — a job of
    /// `follow_up` (a registered kind) is queued with the same payload, tenant and serial key,
    /// in the same transaction, once per dead job. A follow-up's own death queues nothing.
    pub fn when_dead(&mut self, kind: &'static str, follow_up: &'static str) -> &mut Self {
        self.when_dead.insert(kind, follow_up);
        self
    }

    /// Kind → (follow-up kind, its queue), for the kinds whose follow-up is registered.
    fn follow_ups(&self) -> FollowUps {
        self.when_dead.iter().filter_map(|(k, f)| Some((*k, (*f, self.queue_of(f)?)))).collect()
    }

    /// The reaper the workers run (every third of a lease): jobs whose lease ran out go back to the
    /// queue, or are dead-lettered on their last attempt with their follow-up queued. How many.
    pub async fn reap(&self, db: &Db) -> anyhow::Result<u64> {
        reap(db, &self.follow_ups()).await
    }

    pub fn register<F, Fut>(&mut self, kind: &'static str, queue: &'static str, f: F) -> &mut Self
    where
        F: Fn(S, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(kind, (queue, Arc::new(move |s, j| f(s, j).boxed())));
        self
    }

    pub fn queue_of(&self, kind: &str) -> Option<&'static str> {
        self.handlers.get(kind).map(|h| h.0)
    }

    fn queues(&self) -> Vec<&'static str> {
        let mut q: Vec<_> = self.handlers.values().map(|h| h.0).collect();
        q.extend([DEFAULT, PRIORITY]);
        q.sort();
        q.dedup();
        q
    }
}

/// Wakes this process's idle claim loops when work is enqueued here.
#[derive(Default)]
struct Wakers(std::sync::Mutex<HashMap<String, Arc<Notify>>>);

impl Wakers {
    fn get(&self, queue: &str) -> Arc<Notify> {
        self.0.lock().expect("wakers lock").entry(queue.to_owned()).or_default().clone()
    }

    fn wake_all(&self) {
        for n in self.0.lock().expect("wakers lock").values() {
            n.notify_one();
        }
    }
}

/// The handle to enqueue work. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    wakers: Arc<Wakers>,
    max_attempts: i64,
}

impl Queue {
    pub fn new(db: Db, cfg: &JobsConfig) -> Self {
        Self { db, wakers: Arc::default(), max_attempts: cfg.max_attempts as i64 }
    }

    /// A job description with this deployment's defaults, due now.
    /// Attempts a job gets (`jobs.max_attempts`).
    pub fn max_attempts(&self) -> i64 {
        self.max_attempts
    }

    pub fn job(&self, queue: &'static str, kind: &'static str, payload: &impl serde::Serialize) -> NewJob {
        NewJob {
            queue,
            kind,
            payload: serde_json::to_string(payload).expect("job payloads are plain data"),
            tenant_id: None,
            run_at_ms: now_ms(),
            max_attempts: self.max_attempts,
            dedup_key: None,
            serial_key: None,
            coalesce_key: None,
        }
    }

    /// Enqueues inside the caller's transaction; call [`Queue::notify`] after commit.
    pub async fn enqueue_in(&self, conn: &mut storage::Conn, job: &NewJob) -> anyhow::Result<Option<JobId>> {
        Ok(storage::jobs::insert(conn, job).await?)
    }

    /// Enqueues on its own (autocommit) and wakes a worker.
    pub async fn enqueue(&self, job: &NewJob) -> anyhow::Result<Option<JobId>> {
        let id = storage::jobs::insert(&self.db.pool, job).await?;
        self.notify(job.queue);
        Ok(id)
    }

    /// Wakes an idle worker of `queue` in this process (with PostgreSQL, the other processes' are
    /// woken by the database: [`listen`]; with SQLite there are no others).
    pub fn notify(&self, queue: &str) {
        self.wakers.get(queue).notify_one();
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// Backoff before attempt `attempt + 1`: `base` doubling up to an hour, with equal jitter (half
/// the delay fixed, half random) so a burst of failures does not retry in lockstep.
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 24) - 1;
    let full = base.saturating_mul(1u32 << exp).min(Duration::from_secs(3600));
    let half = full / 2;
    half + Duration::from_millis(rand::random::<u64>() % (half.as_millis() as u64 + 1))
}

struct Completion {
    job: ClaimedJob,
    queue: &'static str,
    result: Result<(), JobError>,
    elapsed: Duration,
}

/// What the completer is sent: a finished job, or a request to be told once everything sent
/// before it is recorded.
enum ToCompleter {
    Done(Completion),
    Flush(oneshot::Sender<()>),
}

/// The workers of one process.
pub struct Workers<S> {
    pub queue: Queue,
    pub registry: Arc<Registry<S>>,
    pub state: S,
    pub cfg: JobsConfig,
    pub grace: Duration,
}

impl<S: Clone + Send + Sync + 'static> Workers<S> {
    /// Runs every queue until `shutdown`; then lets running jobs finish for the grace period
    /// and hands back the leases of those that did not.
    ///
    /// The claim loops, the completer and the lease upkeep are tracked: one that ends before
    /// `shutdown` (a panic) stops the workers the same graceful way, and `run` returns the
    /// failure — so the application reports it and shuts down rather than silently stop working
    /// a queue.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let worker_id = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
        tracing::info!(worker = %worker_id, queues = ?self.registry.queues(), "job workers started");
        let (done_tx, done_rx) = mpsc::unbounded_channel::<ToCompleter>();
        let tracker = TaskTracker::new();
        let stop_claiming = shutdown.child_token();
        let mut loops = tokio::task::JoinSet::new();
        for q in self.registry.queues() {
            let limit = if q == PRIORITY { self.cfg.priority_concurrency } else { self.cfg.concurrency };
            let run = claim_loop(ClaimLoop {
                queue_name: q,
                limit,
                worker: worker_id.clone(),
                queue: self.queue.clone(),
                registry: self.registry.clone(),
                state: self.state.clone(),
                cfg: self.cfg.clone(),
                done: done_tx.clone(),
                tracker: tracker.clone(),
                stop: stop_claiming.clone(),
            });
            loops.spawn(async move {
                run.await;
                q
            });
        }
        // Kept to ask the completer for a flush at the end (dropped first when every job ended).
        let flush = done_tx;
        let follow_ups = Arc::new(self.registry.follow_ups());
        let policy = RetryPolicy { retry_base: self.cfg.retry_base, outage_budget: self.cfg.outage_budget, outage: self.registry.outage, when_dead: follow_ups.clone() };
        let mut completer = tokio::spawn(completer(self.queue.db.clone(), worker_id.clone(), policy, done_rx));
        // The upkeep keeps this worker's leases for as long as its jobs may run: through the
        // grace period too, or another process's reaper would take a job still running here
        // and run it again.
        let upkeep_stop = CancellationToken::new();
        let mut upkeep = tokio::spawn(upkeep(self.queue.clone(), worker_id.clone(), self.cfg.clone(), self.registry.queues(), follow_ups, upkeep_stop.clone()));
        // Best effort on top of polling: if it stops, jobs are still found at the next poll.
        let listener = self.queue.db.pg_url.clone().map(|url| tokio::spawn(listen(url, self.queue.wakers.clone(), stop_claiming.clone())));

        let mut completer_done = false;
        let failed = tokio::select! {
            biased;
            _ = shutdown.cancelled() => None,
            Some(ended) = loops.join_next() => Some(match ended {
                Ok(q) => format!("the claim loop of the {q} queue stopped"),
                Err(e) => format!("the claim loop of a queue failed: {e}"),
            }),
            ended = &mut completer => {
                completer_done = true;
                Some(format!("the completer stopped ({})", ended.err().map_or_else(|| "ended".to_owned(), |e| e.to_string())))
            }
            ended = &mut upkeep => Some(format!("the lease upkeep stopped ({})", ended.err().map_or_else(|| "ended".to_owned(), |e| e.to_string()))),
        };
        // A part that ended because the shutdown began (the claim loops watch the same token)
        // did not fail.
        let failed = failed.filter(|_| !shutdown.is_cancelled());
        if let Some(why) = &failed {
            tracing::error!(why, "job workers: a part stopped unexpectedly; stopping the workers");
        }
        stop_claiming.cancel();
        if let Some(l) = listener {
            l.abort();
        }
        while loops.join_next().await.is_some() {}
        tracker.close();
        let finished = tokio::time::timeout(self.grace, tracker.wait()).await.is_ok();
        upkeep_stop.cancel();
        upkeep.abort();
        if finished {
            // Every sender is gone: the completer flushes what is left and ends.
            drop(flush);
            if !completer_done {
                let _ = completer.await;
            }
        } else {
            tracing::warn!("jobs still running after the grace period; handing their leases back");
            // The results of jobs that ended are recorded first, so only the jobs still running
            // are handed back (a finished job handed back would run again). Bounded: with the
            // database gone the completer retries for ever.
            let (tx, rx) = oneshot::channel();
            if !completer_done && flush.send(ToCompleter::Flush(tx)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
            }
        }
        let released = storage::jobs::release(&self.queue.db.pool, &worker_id).await?;
        tracing::info!(released, "job workers stopped");
        match failed {
            Some(why) => Err(anyhow::anyhow!("job workers: {why}")),
            None => Ok(()),
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "worker".into())
}

/// What one queue's claim loop works with.
struct ClaimLoop<S> {
    queue_name: &'static str,
    /// Jobs of this queue running at once in this worker.
    limit: usize,
    worker: String,
    queue: Queue,
    registry: Arc<Registry<S>>,
    state: S,
    cfg: JobsConfig,
    /// Finished jobs go to the completer.
    done: mpsc::UnboundedSender<ToCompleter>,
    /// Running jobs, awaited at shutdown.
    tracker: TaskTracker,
    /// Stops claiming.
    stop: CancellationToken,
}

async fn claim_loop<S: Clone + Send + Sync + 'static>(l: ClaimLoop<S>) {
    let ClaimLoop { queue_name, limit, worker, queue, registry, state, cfg, done, tracker, stop } = l;
    let sem = Arc::new(Semaphore::new(limit));
    let wake = queue.wakers.get(queue_name);
    loop {
        let first = tokio::select! {
            p = sem.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = stop.cancelled() => return,
        };
        let want = 1 + sem.available_permits();
        let lease_until = now_ms() + cfg.lease.as_millis() as i64;
        let claimed = storage::jobs::claim(
            &queue.db.pool,
            queue.db.engine,
            &storage::jobs::Claim { queue: queue_name, worker: &worker, lease_until_ms: lease_until, limit: want as i64, tenant_limit: cfg.tenant_concurrency as i64 },
        )
        .await;
        let jobs = match claimed {
            Ok(jobs) if !jobs.is_empty() => jobs,
            other => {
                if let Err(e) = other {
                    tracing::warn!(queue = queue_name, error = %e, "claiming jobs failed; will retry");
                }
                drop(first);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(cfg.poll_interval) => {}
                    _ = stop.cancelled() => return,
                }
                continue;
            }
        };
        let mut permits = vec![first];
        for _ in 1..jobs.len() {
            permits.push(sem.clone().try_acquire_owned().expect("claimed no more jobs than free permits"));
        }
        let claimed_at = now_ms();
        for (job, permit) in jobs.into_iter().zip(permits) {
            crate::metrics::record_job_wait(queue_name, Duration::from_millis((claimed_at - job.due_ms).max(0) as u64));
            let (registry, state, done) = (registry.clone(), state.clone(), done.clone());
            let span = tracing::info_span!("job", job_id = job.id.0, kind = %job.kind, attempt = job.attempt, tenant_id = job.tenant_id.map(|t| t.0));
            tracker.spawn(
                async move {
                    let started = Instant::now();
                    let result = run_handler(&registry, state, &job).await;
                    let _ = done.send(ToCompleter::Done(Completion { job, queue: queue_name, result, elapsed: started.elapsed() }));
                    drop(permit);
                }
                .instrument(span),
            );
        }
    }
}

async fn run_handler<S: Clone + Send + Sync + 'static>(registry: &Registry<S>, state: S, job: &ClaimedJob) -> Result<(), JobError> {
    let Some((_, handler)) = registry.handlers.get(job.kind.as_str()) else {
        return Err(JobError::Permanent(anyhow::anyhow!("no handler is registered for job kind `{}`", job.kind)));
    };
    match std::panic::AssertUnwindSafe(handler(state, job.clone())).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(JobError::Retry(anyhow::anyhow!("the job panicked: {msg}")))
        }
    }
}

/// Writes completions in batches: one transaction, one fsync, for up to 512 jobs. A flush is
/// answered once everything sent before it is written.
async fn completer(db: Db, worker: String, policy: RetryPolicy, mut rx: mpsc::UnboundedReceiver<ToCompleter>) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                ToCompleter::Done(c) => batch.push(c),
                ToCompleter::Flush(tx) => flushes.push(tx),
            }
            if batch.len() < 512 {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            for tx in flushes.drain(..) {
                let _ = tx.send(());
            }
            continue;
        }
        let mut delay = Duration::from_millis(50);
        let outcomes = loop {
            match write_completions(&db, &worker, &policy, &batch).await {
                Ok(outcomes) => break outcomes,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), jobs = batch.len(), "recording job results failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        for (c, outcome) in batch.drain(..).zip(outcomes) {
            crate::metrics::record_job(c.queue, outcome, c.elapsed);
        }
        for tx in flushes.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// Records a batch of results; the outcome of each, for the metrics.
async fn write_completions(db: &Db, worker: &str, policy: &RetryPolicy, batch: &[Completion]) -> anyhow::Result<Vec<&'static str>> {
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for c in batch {
        let j = &c.job;
        match &c.result {
            Ok(()) => {
                storage::jobs::complete(&mut *tx, j.id, worker, j.attempt).await?;
                outcomes.push("done");
            }
            Err(err) => {
                let after = after_failure(policy, j, err, now_ms());
                let (JobError::Retry(e) | JobError::Permanent(e)) = err;
                let text = format!("{e:#}");
                let (retry_at, kept) = match after {
                    AfterFailure::Retry { at_ms, attempt_kept } => {
                        if attempt_kept {
                            tracing::warn!(job_id = j.id.0, kind = %j.kind, attempt = j.attempt, error = %text, "job failed for an outage; will retry without using up an attempt");
                        } else {
                            tracing::warn!(job_id = j.id.0, kind = %j.kind, attempt = j.attempt, error = %text, "job failed; will retry");
                        }
                        outcomes.push("retry");
                        (Some(at_ms), attempt_kept)
                    }
                    AfterFailure::Dead => {
                        tracing::error!(job_id = j.id.0, kind = %j.kind, attempt = j.attempt, error = %text, "job dead-lettered");
                        outcomes.push("dead");
                        (None, false)
                    }
                };
                let recorded = storage::jobs::fail(&mut *tx, j.id, worker, j.attempt, retry_at, kept, &text).await?;
                if recorded && retry_at.is_none() {
                    queue_follow_up(&mut tx, &policy.when_dead, j).await?;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// The follow-up of dead job `j`, if its kind has one ([`Registry::when_dead`]): in the
/// transaction that records it dead; its dedup key makes it one per dead job.
async fn queue_follow_up(tx: &mut storage::Tx, when_dead: &FollowUps, j: &ClaimedJob) -> anyhow::Result<()> {
    let Some(&(kind, queue)) = when_dead.get(j.kind.as_str()) else { return Ok(()) };
    let job = NewJob {
        queue,
        kind,
        payload: j.payload.clone(),
        tenant_id: j.tenant_id,
        run_at_ms: now_ms(),
        max_attempts: j.max_attempts.max(1),
        dedup_key: Some(format!("dead:{}", j.id.0)),
        serial_key: j.serial_key.clone(),
        coalesce_key: None,
    };
    storage::jobs::insert(&mut **tx, &job).await?;
    tracing::info!(job_id = j.id.0, kind = %j.kind, follow_up = kind, "queued the follow-up of a dead-lettered job");
    Ok(())
}

/// The channel on which PostgreSQL announces a job ready to run, with its queue's name as the
/// payload (the trigger of migrations/postgres/0078_job_notifications.sql).
pub const NOTIFY_CHANNEL: &str = "bellhop_jobs";

/// With PostgreSQL: wakes this process's idle claim loop of a queue as soon as any process
/// queues a job there (a webhook stored by the web process, a job handed back or re-queued), so
/// a customer's message waits for the next free worker, not for the next poll. Every worker
/// process is told; one wins the claim, the others find nothing and wait again — one cheap
/// statement each, as a poll costs.
///
/// LISTEN needs a connection of its own, outside the pool. On a lost connection (a PostgreSQL
/// restart) it reconnects, once a second at most; notifications sent meanwhile are lost, so
/// every queue is woken after a reconnection, and polling finds whatever else was missed.
async fn listen(url: crate::domain::Secret, wakers: Arc<Wakers>, stop: CancellationToken) {
    let mut warned = false;
    loop {
        let connect = async {
            let mut l = sqlx::postgres::PgListener::connect(url.expose()).await?;
            l.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let connected = tokio::select! {
            l = connect => l,
            _ = stop.cancelled() => return,
        };
        let error = match connected {
            Ok(mut l) => {
                if warned {
                    tracing::info!("listening for new jobs again");
                    warned = false;
                }
                wakers.wake_all();
                loop {
                    let next = tokio::select! {
                        n = l.try_recv() => n,
                        _ = stop.cancelled() => return,
                    };
                    match next {
                        Ok(Some(n)) => wakers.get(n.payload()).notify_one(),
                        // The connection was lost, and sqlx has connected and listened again:
                        // what was sent meanwhile is unknown.
                        Ok(None) => wakers.wake_all(),
                        Err(e) => break e,
                    }
                }
            }
            Err(e) => e,
        };
        if !warned {
            // sqlx's error text does not include the URL.
            tracing::warn!(error = %error, "not listening for new jobs; finding them by polling until PostgreSQL answers again");
            warned = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// The reaper: re-queues the jobs of dead workers, or dead-letters those that were on their last
/// attempt and queues their follow-ups ([`Registry::when_dead`]) in the same transaction — as a
/// completion does, so a job whose worker was lost on its last attempt is followed up too. A
/// job two processes' reapers find at once is taken back by one (see
/// [`storage::jobs::requeue_expired`]), and the follow-up's dedup key makes it one per dead job
/// anyway. How many jobs it took back.
async fn reap(db: &Db, when_dead: &FollowUps) -> anyhow::Result<u64> {
    // The transaction takes SQLite's write lock: only when there is something to take back.
    if !storage::jobs::any_expired(&db.pool).await? {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let expired = storage::jobs::requeue_expired(&mut *tx).await?;
    for e in expired.iter().filter(|e| e.dead) {
        let j = &e.job;
        tracing::error!(job_id = j.id.0, kind = %j.kind, attempt = j.attempt, "job dead-lettered: the worker running it stopped responding on every attempt");
        queue_follow_up(&mut tx, when_dead, j).await?;
    }
    tx.commit().await?;
    Ok(expired.len() as u64)
}

/// Heartbeat (extend our leases) and reaper ([`reap`]).
async fn upkeep(queue: Queue, worker: String, cfg: JobsConfig, queues: Vec<&'static str>, when_dead: Arc<FollowUps>, stop: CancellationToken) {
    let every = (cfg.lease / 3).max(Duration::from_millis(200));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let until = now_ms() + cfg.lease.as_millis() as i64;
        if let Err(e) = storage::jobs::extend_leases(&queue.db.pool, &worker, until).await {
            tracing::warn!(error = %e, "extending job leases failed");
        }
        match reap(&queue.db, &when_dead).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(jobs = n, "re-queued jobs whose worker stopped responding");
                for q in &queues {
                    queue.notify(q);
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "re-queueing expired jobs failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_an_outage_and_nothing_else_is() {
        let none: OutageCause = |_| false;
        assert!(JobError::Retry(anyhow::Error::new(sqlx::Error::PoolTimedOut).context("reading the update")).is_outage(none));
        assert!(JobError::from(sqlx::Error::PoolClosed).is_outage(none));
        // A failure of the job's own, or one retrying cannot help.
        assert!(!JobError::Retry(anyhow::Error::new(sqlx::Error::RowNotFound)).is_outage(none));
        assert!(!JobError::Retry(anyhow::anyhow!("upstream said no")).is_outage(none));
        assert!(!JobError::Permanent(anyhow::Error::new(sqlx::Error::PoolTimedOut)).is_outage(none));
        // What the application adds.
        let upstream: OutageCause = |e| e.to_string() == "upstream unreachable";
        assert!(JobError::Retry(anyhow::anyhow!("upstream unreachable")).is_outage(upstream));
    }
}
