//! kill -9 of a worker process with 1,000 jobs in flight, then a restart: nothing is lost and
//! every job's effect is applied exactly once.
use crate::helpers::*;
use bellhop::jobs::selftest;
use bellhop::storage::{self, Db};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `bellhop ARGS…` as a child process with exactly `settings`' environment, its log
/// (JSON) appended to `log`.
pub fn start_bellhop(args: &[&str], settings: &TestSettings, log: &std::path::Path) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BELLHOP_") {
            c.env_remove(k);
        }
    }
    for (k, v) in &settings.values {
        c.env(k, v);
    }
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    c.args(args).env("BELLHOP_LOG_FORMAT", "json").stdout(Stdio::null()).stderr(out).spawn().expect("start bellhop")
}

/// Starts `bellhop serve --role ROLE` (see [`start_bellhop`]).
pub fn start_serve(role: &str, settings: &TestSettings, log: &std::path::Path) -> Child {
    start_bellhop(&["serve", "--role", role], settings, log)
}

/// [`wait_until`], showing the end of `log` (the children's log) if it times out: a failure
/// explains itself after the temporary directory is gone.
pub async fn wait_showing_log<F, Fut>(log: &std::path::Path, timeout: Duration, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until_or(timeout, cond, || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let mut tail: Vec<&str> = text.lines().rev().take(60).collect();
        tail.reverse();
        format!("; the end of bellhop's log:\n{}", tail.join("\n"))
    })
    .await
}

/// Waits until the process serving at `url` says it is ready.
pub async fn ready(url: &str) {
    let http = reqwest::Client::new();
    wait_until(Duration::from_secs(60), || async { http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) }).await;
}

#[tokio::test]
async fn kill_9_with_1000_jobs_in_flight_loses_nothing_and_applies_each_effect_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    // Workers check the manager bot with getMe at start: the sandbox is their Telegram.
    let tg = crate::sandbox_support::TestSandbox::start().await;
    settings.telegram(&tg);
    settings
        .set("BELLHOP_MASTER_KEY", base64_key())
        .set("BELLHOP_JOBS_CONCURRENCY", "32")
        .set("BELLHOP_JOBS_LEASE_SECONDS", "2")
        .set("BELLHOP_JOBS_POLL_INTERVAL_MS", "50");
    let cfg = settings.config(bellhop::config::Needs::Serve);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    db.migrate().await.unwrap();
    let queue = bellhop::jobs::Queue::new(db.clone(), &cfg.jobs);
    let mut tx = db.begin().await.unwrap();
    for i in 0..1000 {
        let job = queue.job(bellhop::jobs::DEFAULT, selftest::KIND, &selftest::Payload { value: i, sleep_ms: 40 });
        queue.enqueue_in(&mut tx, &job).await.unwrap();
    }
    tx.commit().await.unwrap();

    let log = dir.path().join("worker.log");
    let mut first = start_serve("all", &settings, &log);
    // Let it get well into the work, then kill it without warning.
    wait_until(Duration::from_secs(60), || async { storage::jobs::count_selftest_effects(&db.pool).await.unwrap().effects >= 200 }).await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let running = count(&db, "select count(*) from jobs where state = 'running'").await;
    let applied_before = storage::jobs::count_selftest_effects(&db.pool).await.unwrap().effects;
    assert!(running > 0, "nothing was in flight at the kill; the test proves nothing");
    assert!(applied_before < 1000, "all done before the kill; the test proves nothing");

    let mut second = start_serve("all", &settings, &log);
    wait_until(Duration::from_secs(120), || async { count(&db, "select count(*) from jobs where state = 'done'").await == 1000 }).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let storage::jobs::SelftestEffects { effects, jobs: distinct } = storage::jobs::count_selftest_effects(&db.pool).await.unwrap();
    assert_eq!((effects, distinct), (1000, 1000), "lost or duplicated effects");
    assert_eq!(count(&db, "select count(*) from jobs where state <> 'done'").await, 0);
    assert_eq!(
        count(&db, "select count(*) from selftest_effects e join jobs j on j.id = e.job_id").await,
        1000,
        "every effect belongs to its own job"
    );
    // Jobs interrupted by the kill ran again: their attempt counter shows it.
    assert!(count(&db, "select count(*) from jobs where attempts > 1").await >= 1);
}

pub fn base64_key() -> String {
    use base64::Engine;
    let key: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(key)
}
