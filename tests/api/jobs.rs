//! The job queue's guarantees, each proved against the engine under test.
use crate::helpers::*;
use bellhop::jobs::{self, Job, JobError, Queue, Registry, Workers};
use bellhop::storage::{self, Db};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Seen {
    runs: Arc<Mutex<HashMap<i64, Vec<Instant>>>>,
    starts: Arc<Mutex<Vec<(String, Instant)>>>,
    running: Arc<std::sync::atomic::AtomicI64>,
    max_running: Arc<std::sync::atomic::AtomicI64>,
    /// Holds a job until the test lets it go.
    gate: Arc<tokio::sync::Notify>,
}

struct Rig {
    _dir: tempfile::TempDir,
    db: Db,
    queue: Queue,
    seen: Seen,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn rig(concurrency: &str, register: impl FnOnce(&mut Registry<Seen>)) -> Rig {
    rig_with(&[("BELLHOP_JOBS_CONCURRENCY", concurrency)], register).await
}

/// A rig with these settings besides the usual ones.
async fn rig_with(settings: &[(&'static str, &str)], register: impl FnOnce(&mut Registry<Seen>)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(dir.path()).await;
    s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20").set("BELLHOP_JOBS_MAX_ATTEMPTS", "3");
    for (k, v) in settings {
        s.set(k, *v);
    }
    let cfg = s.config(bellhop::config::Needs::Storage);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let queue = Queue::new(db.clone(), &cfg.jobs);
    let mut registry = Registry::default();
    register(&mut registry);
    let seen = Seen::default();
    let stop = CancellationToken::new();
    let workers = Workers { queue: queue.clone(), registry: Arc::new(registry), state: seen.clone(), cfg: cfg.jobs.clone(), grace: Duration::from_secs(5) };
    let task = tokio::spawn(workers.run(stop.clone()));
    Rig { _dir: dir, db, queue, seen, stop, task }
}

impl Rig {
    async fn state_of(&self, id: bellhop::domain::JobId) -> (String, Option<String>, i64) {
        let j = storage::jobs::last_error(&self.db.pool, id).await.unwrap().unwrap();
        (j.state, j.last_error, j.attempts)
    }
    async fn wait_state(&self, id: bellhop::domain::JobId, want: &str) {
        wait_until(Duration::from_secs(20), || async { self.state_of(id).await.0 == want }).await;
    }
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn note_run(s: &Seen, job: &Job) -> usize {
    let mut runs = s.runs.lock().unwrap();
    let v = runs.entry(job.id.0).or_default();
    v.push(Instant::now());
    v.len()
}

#[tokio::test]
async fn a_failing_job_is_retried_with_growing_backoff_then_succeeds() {
    let rig = rig("4", |r| {
        r.register("flaky", jobs::DEFAULT, |s: Seen, job: Job| async move {
            if note_run(&s, &job) < 3 { Err(JobError::Retry(anyhow::anyhow!("try again"))) } else { Ok(()) }
        });
    })
    .await;
    let id = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "flaky", &())).await.unwrap().unwrap();
    rig.wait_state(id, "done").await;
    let runs = rig.seen.runs.lock().unwrap()[&id.0].clone();
    assert_eq!(runs.len(), 3);
    // base 20 ms: the first wait is 10–20 ms, the second 20–40 ms (equal jitter).
    assert!(runs[1] - runs[0] >= Duration::from_millis(10), "{:?}", runs[1] - runs[0]);
    assert!(runs[2] - runs[1] >= Duration::from_millis(20), "{:?}", runs[2] - runs[1]);
    assert_eq!(rig.state_of(id).await, ("done".into(), None, 3));
    rig.stop().await;
}

#[tokio::test]
async fn jobs_that_keep_failing_are_dead_lettered_with_their_last_error() {
    let rig = rig("4", |r| {
        r.register("broken", jobs::DEFAULT, |s: Seen, job: Job| async move {
            let n = note_run(&s, &job);
            Err(JobError::Retry(anyhow::anyhow!("upstream said no (attempt {n})")))
        });
        r.register("hopeless", jobs::DEFAULT, |_: Seen, _: Job| async move { Err(JobError::Permanent(anyhow::anyhow!("the token was revoked"))) });
        r.register("panics", jobs::DEFAULT, |_: Seen, _: Job| async move {
            if true {
                panic!("handler bug");
            }
            Ok(())
        });
    })
    .await;
    let broken = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "broken", &())).await.unwrap().unwrap();
    let hopeless = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "hopeless", &())).await.unwrap().unwrap();
    let panics = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "panics", &())).await.unwrap().unwrap();
    let unknown = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "no-such-kind", &())).await.unwrap().unwrap();
    for id in [broken, hopeless, panics, unknown] {
        rig.wait_state(id, "dead").await;
    }
    assert_eq!(rig.state_of(broken).await, ("dead".into(), Some("upstream said no (attempt 3)".into()), 3));
    assert_eq!(rig.state_of(hopeless).await, ("dead".into(), Some("the token was revoked".into()), 1));
    assert_eq!(rig.state_of(panics).await.1.unwrap(), "the job panicked: handler bug");
    assert!(rig.state_of(unknown).await.1.unwrap().contains("no handler"));
    rig.stop().await;
}

/// The error a customer's answer job fails with while Qdrant is down: the index unreachable,
/// under the answering's search and its context.
fn index_down() -> JobError {
    let e = bellhop::retrieval::SearchError::Index(bellhop::retrieval::IndexError::Unavailable("connection refused".into()));
    JobError::Retry(anyhow::Error::new(e).context("answering the customer"))
}

/// Handlers that fail `outage` times: for an outage of the vector index, or for a reason of
/// their own; then succeed.
fn register_outage_kinds(r: &mut Registry<Seen>, outage: usize) {
    // The application's: the vector index is part of the infrastructure.
    r.outage_causes(bellhop::app::jobs::index_outage);
    r.register("needs-index", jobs::DEFAULT, move |s: Seen, job: Job| async move { if note_run(&s, &job) <= outage { Err(index_down()) } else { Ok(()) } });
    r.register("own-failure", jobs::DEFAULT, move |s: Seen, job: Job| async move {
        if note_run(&s, &job) <= outage { Err(JobError::Retry(anyhow::anyhow!("upstream said no"))) } else { Ok(()) }
    });
}

/// A vector index outage longer than the attempts' backoff (Qdrant restarting for minutes) says
/// nothing about the job: its failures do not use up its attempts, so the customer's question is
/// answered when the index is back, instead of being dead-lettered unanswered. A failure of the
/// job's own still uses them up.
#[tokio::test]
async fn a_job_failing_while_the_vector_index_is_down_keeps_its_attempts_and_runs_when_it_is_back() {
    // 3 attempts (the rig's); the index is down for 5 of them.
    let rig = rig_with(&[], |r| register_outage_kinds(r, 5)).await;
    let outage = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "needs-index", &())).await.unwrap().unwrap();
    let own = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "own-failure", &())).await.unwrap().unwrap();
    rig.wait_state(outage, "done").await;
    rig.wait_state(own, "dead").await;
    assert_eq!(rig.state_of(outage).await, ("done".into(), None, 6));
    let max: i64 = sqlx::query_scalar("select max_attempts from jobs where id = $1").bind(outage.0).fetch_one(&rig.db.pool).await.unwrap();
    assert_eq!(max, 3 + 5, "each outage attempt was given back");
    assert_eq!(rig.state_of(own).await, ("dead".into(), Some("upstream said no".into()), 3));
    rig.stop().await;
}

/// With `jobs.outage_budget_minutes` = 0 (or once a job is older than it), an outage uses up
/// attempts like any other failure: the job is dead-lettered with the outage as its last error.
#[tokio::test]
async fn past_the_outage_budget_an_outage_uses_up_attempts() {
    let rig = rig_with(&[("BELLHOP_JOBS_OUTAGE_BUDGET_MINUTES", "0")], |r| register_outage_kinds(r, 5)).await;
    let outage = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "needs-index", &())).await.unwrap().unwrap();
    rig.wait_state(outage, "dead").await;
    assert_eq!(rig.state_of(outage).await, ("dead".into(), Some("answering the customer: vector index unavailable: connection refused".into()), 3));
    rig.stop().await;
}

/// An error whose text PostgreSQL could not store as it is (a NUL character, from a parser's
/// message or a panic) is kept readable, and the results written with it are not held up.
#[tokio::test]
async fn an_error_with_a_nul_character_is_kept_and_holds_up_no_other_result() {
    let rig = rig("4", |r| {
        r.register("nul", jobs::DEFAULT, |_: Seen, _: Job| async move { Err(JobError::Permanent(anyhow::anyhow!("bad byte \0 in the file"))) });
        r.register("fine", jobs::DEFAULT, |_: Seen, _: Job| async move { Ok(()) });
    })
    .await;
    let nul = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "nul", &())).await.unwrap().unwrap();
    let fine = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "fine", &())).await.unwrap().unwrap();
    rig.wait_state(nul, "dead").await;
    rig.wait_state(fine, "done").await;
    assert_eq!(rig.state_of(nul).await, ("dead".into(), Some("bad byte \u{FFFD} in the file".into()), 1));
    rig.stop().await;
}

#[tokio::test]
async fn enqueue_is_part_of_the_callers_transaction() {
    let rig = rig("4", |r| {
        r.register("t", jobs::DEFAULT, |s: Seen, job: Job| async move {
            note_run(&s, &job);
            Ok(())
        });
    })
    .await;
    let mut tx = rig.db.begin().await.unwrap();
    rig.queue.enqueue_in(&mut tx, &rig.queue.job(jobs::DEFAULT, "t", &1)).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = rig.db.begin().await.unwrap();
    let kept = rig.queue.enqueue_in(&mut tx, &rig.queue.job(jobs::DEFAULT, "t", &2)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    rig.queue.notify(jobs::DEFAULT);
    rig.wait_state(kept, "done").await;
    assert_eq!(count(&rig.db, "select count(*) from jobs").await, 1, "the rolled-back job exists");
    rig.stop().await;
}

#[tokio::test]
async fn a_dedup_key_enqueues_once() {
    let rig = rig("4", |_| {}).await;
    let mut job = rig.queue.job(jobs::DEFAULT, "x", &());
    job.run_at_ms = i64::MAX / 2;
    job.dedup_key = Some("provision:42".into());
    assert!(rig.queue.enqueue(&job).await.unwrap().is_some());
    assert!(rig.queue.enqueue(&job).await.unwrap().is_none());
    assert_eq!(count(&rig.db, "select count(*) from jobs").await, 1);
    rig.stop().await;
}

#[tokio::test]
async fn per_queue_concurrency_holds_and_the_priority_lane_never_waits_behind_it() {
    let rig = rig("2", |r| {
        r.register("slow", jobs::DEFAULT, |s: Seen, _: Job| async move {
            use std::sync::atomic::Ordering::SeqCst;
            let now = s.running.fetch_add(1, SeqCst) + 1;
            s.max_running.fetch_max(now, SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            s.running.fetch_sub(1, SeqCst);
            Ok(())
        });
        r.register("urgent", jobs::PRIORITY, |s: Seen, _: Job| async move {
            s.starts.lock().unwrap().push(("urgent".into(), Instant::now()));
            Ok(())
        });
    })
    .await;
    // 40 slow jobs at concurrency 2 keep the default queue busy for about 2 s.
    let mut tx = rig.db.begin().await.unwrap();
    for _ in 0..40 {
        rig.queue.enqueue_in(&mut tx, &rig.queue.job(jobs::DEFAULT, "slow", &())).await.unwrap();
    }
    tx.commit().await.unwrap();
    rig.queue.notify(jobs::DEFAULT);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let urgent = rig.queue.enqueue(&rig.queue.job(jobs::PRIORITY, "urgent", &())).await.unwrap().unwrap();
    rig.wait_state(urgent, "done").await;
    let slow_left = count(&rig.db, "select count(*) from jobs where kind = 'slow' and state <> 'done'").await;
    assert!(slow_left > 20, "the urgent job waited for the slow queue ({slow_left} slow jobs left)");
    wait_until(Duration::from_secs(30), || async { count(&rig.db, "select count(*) from jobs where state = 'done'").await == 41 }).await;
    assert_eq!(rig.seen.max_running.load(std::sync::atomic::Ordering::SeqCst), 2, "concurrency limit of the default queue");
    rig.stop().await;
}

#[tokio::test]
async fn a_telegram_refusal_that_cannot_change_is_not_retried_however_it_reaches_the_queue() {
    use bellhop::telegram::TelegramError;
    let rig = rig("4", |r| {
        // A handler that lets `?` turn Telegram's answer into an ordinary (retry) error.
        r.register("blocked", jobs::DEFAULT, |s: Seen, job: Job| async move {
            note_run(&s, &job);
            let refused: Result<(), TelegramError> = Err(TelegramError::BotBlocked);
            refused.map_err(anyhow::Error::from).map_err(|e| e.context("sending the answer"))?;
            Ok(())
        });
        r.register("no_chat", jobs::DEFAULT, |s: Seen, job: Job| async move {
            note_run(&s, &job);
            Err(anyhow::Error::from(TelegramError::ChatNotFound))?
        });
        // A transient one is still retried.
        r.register("busy", jobs::DEFAULT, |s: Seen, job: Job| async move {
            if note_run(&s, &job) < 2 { Err(anyhow::Error::from(TelegramError::Server("Internal Server Error".into())))? } else { Ok(()) }
        });
    })
    .await;
    let blocked = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "blocked", &())).await.unwrap().unwrap();
    let no_chat = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "no_chat", &())).await.unwrap().unwrap();
    let busy = rig.queue.enqueue(&rig.queue.job(jobs::DEFAULT, "busy", &())).await.unwrap().unwrap();
    rig.wait_state(busy, "done").await;
    for id in [blocked, no_chat] {
        // Settled after the first attempt: dead at once, not queued for another.
        wait_until(Duration::from_secs(20), || async { rig.state_of(id).await.1.is_some() }).await;
        let (state, error, attempts) = rig.state_of(id).await;
        assert_eq!((state.as_str(), attempts), ("dead", 1), "{error:?}");
    }
    assert!(rig.state_of(blocked).await.1.unwrap().contains("sending the answer"));
    assert_eq!(rig.state_of(busy).await.2, 2, "a server error is retried");
    rig.stop().await;
}

/// With PostgreSQL a job queued by another process — here another pool, whose in-memory wake-up
/// reaches no worker, as the web process's does not — is started on the database's notification
/// (migration 0078, `jobs::listen`), not at the workers' next poll, which is a minute away here.
#[tokio::test]
async fn with_postgres_a_job_queued_by_another_process_wakes_an_idle_worker_without_waiting_for_a_poll() {
    if engine() != "postgres" {
        return; // one process: woken in memory (the other tests)
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(dir.path()).await;
    s.set("BELLHOP_JOBS_POLL_INTERVAL_MS", "60000");
    let cfg = s.config(bellhop::config::Needs::Storage);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let mut registry = Registry::default();
    registry.register("ping", jobs::DEFAULT, |s: Seen, job: Job| async move {
        note_run(&s, &job);
        Ok(())
    });
    let seen = Seen::default();
    let stop = CancellationToken::new();
    let workers = Workers { queue: Queue::new(db.clone(), &cfg.jobs), registry: Arc::new(registry), state: seen.clone(), cfg: cfg.jobs.clone(), grace: Duration::from_secs(5) };
    let task = tokio::spawn(workers.run(stop.clone()));
    // The workers listen, and their claim loops have found nothing and gone to sleep.
    wait_until(Duration::from_secs(20), || async {
        let n: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity where datname = current_database() and query ilike 'listen%bellhop_jobs%'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        n == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let web = Db::connect(&cfg.database_url).await.unwrap();
    let other = Queue::new(web.clone(), &cfg.jobs);
    for _ in 0..3 {
        let id = other.enqueue(&other.job(jobs::DEFAULT, "ping", &())).await.unwrap().unwrap();
        wait_until(Duration::from_secs(20), || async { storage::jobs::last_error(&db.pool, id).await.unwrap().unwrap().state == "done" }).await;
    }
    assert_eq!(seen.runs.lock().unwrap().len(), 3, "each job ran once");
    stop.cancel();
    task.await.unwrap().unwrap();
    web.pool.close().await;
}

/// A worker that is shutting down keeps the leases of its running jobs through the grace period:
/// a job still running then is not taken by another process's reaper and run a second time.
#[tokio::test]
async fn a_job_still_running_in_the_shutdown_grace_period_keeps_its_lease_and_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(dir.path()).await;
    s.set("BELLHOP_JOBS_LEASE_SECONDS", "3");
    let cfg = s.config(bellhop::config::Needs::Storage);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let mut registry = Registry::default();
    registry.register("held", jobs::DEFAULT, |s: Seen, job: Job| async move {
        note_run(&s, &job);
        s.gate.notified().await;
        Ok(())
    });
    let seen = Seen::default();
    let stop = CancellationToken::new();
    let queue = Queue::new(db.clone(), &cfg.jobs);
    let workers = Workers { queue: queue.clone(), registry: Arc::new(registry), state: seen.clone(), cfg: cfg.jobs.clone(), grace: Duration::from_secs(120) };
    let task = tokio::spawn(workers.run(stop.clone()));
    let id = queue.enqueue(&queue.job(jobs::DEFAULT, "held", &())).await.unwrap().unwrap();
    wait_until(Duration::from_secs(20), || async { seen.runs.lock().unwrap().contains_key(&id.0) }).await;

    stop.cancel();
    let lease = || async { sqlx::query_scalar::<_, Option<i64>>("select lease_until from jobs where id = $1").bind(id.0).fetch_one(&db.pool).await.unwrap().unwrap() };
    let at_shutdown = lease().await;
    // The lease the job had when the shutdown began runs out; it is extended before it does.
    wait_until(Duration::from_secs(30), || async { lease().await > at_shutdown + 3_000 }).await;
    let other = Db::connect(&cfg.database_url).await.unwrap();
    assert_eq!(storage::jobs::requeue_expired(&other.pool).await.unwrap().len(), 0, "another process's reaper finds no expired lease");

    seen.gate.notify_one();
    task.await.unwrap().unwrap();
    let j = storage::jobs::last_error(&db.pool, id).await.unwrap().unwrap();
    assert_eq!((j.state.as_str(), j.attempts), ("done", 1));
    assert_eq!(seen.runs.lock().unwrap()[&id.0].len(), 1, "the job ran once");
}
