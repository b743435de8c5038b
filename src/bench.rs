//! `bellhop bench …`: the measurements recorded in BENCHMARKS.md, reproducible with one
//! command each. They run against the configured database, in a fresh data set of their own.
use crate::config::Config;
use crate::jobs::{self, Job, JobError, Queue, Registry, Workers};
use crate::storage::{self, Db};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct BenchState {
    db: Db,
    latencies: Arc<Mutex<Vec<Duration>>>,
    done: Arc<tokio::sync::Notify>,
    remaining: Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    enqueued_at_us: i64,
    effect: bool,
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

async fn handle(s: BenchState, job: Job) -> Result<(), JobError> {
    let p: Payload = job.payload()?;
    s.latencies.lock().expect("lock").push(Duration::from_micros((now_us() - p.enqueued_at_us).max(0) as u64));
    if p.effect {
        storage::jobs::apply_selftest_effect(&s.db.pool, job.id, 1).await?;
    }
    if s.remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
        s.done.notify_one();
    }
    Ok(())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Throughput of enqueue (batches of 500 per transaction) and of claim → run → complete with
/// no-op jobs and with jobs that write an effect row; then enqueue-to-start latency on an idle
/// queue, one job at a time.
pub async fn jobs(mut cfg: Config, n: usize, samples: usize) -> anyhow::Result<()> {
    cfg.jobs.concurrency = 64;
    let db = Db::connect(&cfg.database_url).await?;
    db.migrate().await?;
    let queue = Queue::new(db.clone(), &cfg.jobs);
    match db.engine {
        storage::Engine::Sqlite => println!("engine: sqlite (WAL, synchronous=FULL: every commit fsynced)"),
        storage::Engine::Postgres => println!("engine: postgres"),
    }
    for effect in [false, true] {
        let state = BenchState {
            db: db.clone(),
            latencies: Arc::default(),
            done: Arc::default(),
            remaining: Arc::new(n.into()),
        };
        let started = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let mut tx = db.begin().await?;
            for _ in chunk {
                let job = queue.job(jobs::DEFAULT, "bench", &Payload { enqueued_at_us: now_us(), effect });
                queue.enqueue_in(&mut tx, &job).await?;
            }
            tx.commit().await?;
        }
        let enq = started.elapsed();
        let shutdown = CancellationToken::new();
        let run_started = Instant::now();
        let handle = spawn_workers(&queue, &cfg, state.clone(), shutdown.clone());
        state.done.notified().await;
        let ran = run_started.elapsed();
        shutdown.cancel();
        handle.await??;
        println!(
            "throughput ({}): enqueued {n} jobs in {:.2}s = {:.0} jobs/s; completed in {:.2}s = {:.0} jobs/s",
            if effect { "jobs writing an effect row" } else { "no-op jobs" },
            enq.as_secs_f64(),
            n as f64 / enq.as_secs_f64(),
            ran.as_secs_f64(),
            n as f64 / ran.as_secs_f64()
        );
    }

    let state = BenchState { db: db.clone(), latencies: Arc::default(), done: Arc::default(), remaining: Arc::new(samples.into()) };
    let shutdown = CancellationToken::new();
    let handle = spawn_workers(&queue, &cfg, state.clone(), shutdown.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..samples {
        let job = queue.job(jobs::DEFAULT, "bench", &Payload { enqueued_at_us: now_us(), effect: false });
        queue.enqueue(&job).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.done.notified().await;
    shutdown.cancel();
    handle.await??;
    let mut l = state.latencies.lock().expect("lock").clone();
    l.sort();
    println!("latency (idle queue, enqueue → handler start, {samples} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", pct(&l, 0.5), pct(&l, 0.99), pct(&l, 1.0));
    let counts = storage::jobs::purge_done(&db.pool, i64::MAX).await?;
    println!("cleaned up {counts} finished bench jobs");
    Ok(())
}

fn spawn_workers(queue: &Queue, cfg: &Config, state: BenchState, shutdown: CancellationToken) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let mut registry = Registry::default();
    registry.register("bench", jobs::DEFAULT, handle);
    let workers = Workers { queue: queue.clone(), registry: Arc::new(registry), state, cfg: cfg.jobs.clone(), grace: Duration::from_secs(5) };
    tokio::spawn(workers.run(shutdown))
}

/// Onboarding: `bots` creation links confirmed in an in-process sandbox (rate limits off, so
/// only bellhop's own pace shows), each `managed_bot` update's arrival at the manager webhook
/// → the bot `live` (token fetched, sealed and stored; webhook with a fresh secret, commands and
/// both descriptions set). Timestamps come from the database rows themselves.
pub async fn onboarding(mut cfg: Config, bots: usize) -> anyhow::Result<()> {
    use crate::sandbox::{Sandbox, SandboxOptions};
    let sandbox = Sandbox::new(SandboxOptions { enforce_limits: false, bot_create_limit: bots + 1, ..Default::default() })?;
    let tg = sandbox.spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await?;
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.public_url = url::Url::parse("http://127.0.0.1:0")?;
    cfg.telegram.api_url = url::Url::parse(&tg.base_url)?;
    cfg.telegram.manager_token = Some(tg.manager_token.clone());
    cfg.telegram.manager_webhook_secret = Some(crate::domain::Secret::new(crate::manager::login::random_token()));
    let app = crate::startup::Application::build(cfg, crate::startup::Role::All, true).await?;
    let db = app.state.db.clone();
    let shutdown = app.state.shutdown.clone();
    let running = tokio::spawn(app.run());
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/sandbox/api/{path}", tg.base_url);
    let started = Instant::now();
    for i in 0..bots {
        let user: serde_json::Value = http.post(api("users")).json(&serde_json::json!({"first_name": format!("Owner {i}")})).send().await?.json().await?;
        let user = user["result"]["id"].as_i64().context_msg("user id")?;
        let link = format!("https://t.me/newbot/bellhop_manager_bot/bench_{i}_bot?name=Shop%20{i}");
        let req: serde_json::Value = http.post(api(&format!("users/{user}/creation_links"))).json(&serde_json::json!({"link": link})).send().await?.json().await?;
        let id = req["result"]["id"].as_str().context_msg("creation request id")?.to_owned();
        http.post(api(&format!("creation_requests/{id}/confirm"))).json(&serde_json::json!({})).send().await?;
        // About 20 new bots a second: a busy launch day, not a flood.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let live: i64 = sqlx::query_scalar("select count(*) from bots where status = 'live'").fetch_one(&db.pool).await?;
        if live as usize >= bots {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {live} of {bots} bots went live within 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first `managed_bot` update naming each bot, and when that bot went live.
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select min(u.received_at), b.updated_at from bots b join telegram_updates u
           on u.body like '%\"managed_bot\"%' and u.body like '%\"id\":' || cast(b.id as text) || '%'
         where b.status = 'live' group by b.id, b.updated_at",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut lat: Vec<Duration> = rows.iter().map(|(a, b)| Duration::from_millis((b - a).max(0) as u64)).collect();
    lat.sort();
    println!(
        "onboarding ({bots} bots over {:.1}s, SQLite={}): managed_bot arrival → live p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        started.elapsed().as_secs_f64(),
        db.engine == storage::Engine::Sqlite,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    shutdown.cancel();
    running.await??;
    tg.shutdown().await?;
    Ok(())
}

trait ContextMsg<T> {
    fn context_msg(self, what: &str) -> anyhow::Result<T>;
}

impl<T> ContextMsg<T> for Option<T> {
    fn context_msg(self, what: &str) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("the sandbox answer has no {what}"))
    }
}
