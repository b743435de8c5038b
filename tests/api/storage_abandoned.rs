//! Work stopped in the middle of a transaction. A browser that leaves the page while an upload
//! is in flight makes the server drop the request's handler wherever it is waiting — between a
//! transaction's `begin` and its end, say. sqlx can then give the connection back to the pool
//! with the transaction still open: on SQLite it holds the write lock, so every later write
//! waits and fails ("database is locked"), and a request that gets that connection fails at once
//! ("begin_with at non-zero transaction depth"); on PostgreSQL the writes of whoever gets it next
//! run inside that transaction and are never committed. The pool closes such a connection when
//! it comes back (`storage::pool_options`), which ends the transaction.
//!
//! And a stuck database must not keep bellhop from stopping: once asked to stop, it waits for
//! its work for the grace period and a little more, then leaves the rest (it is kept in the
//! job queue) and exits.
use crate::helpers::*;
use bellhop::jobs::selftest;
use sqlx::Connection;
use std::time::Duration;

/// Opens a transaction on a pooled connection and gives the connection back with the
/// transaction still open, as a request dropped in the middle of its transaction can. On
/// PostgreSQL, returns the connection's server process.
async fn abandon_a_transaction(app: &TestApp) -> Option<i32> {
    let mut pooled = app.db().pool.acquire().await.unwrap();
    let conn: &mut sqlx::AnyConnection = &mut pooled;
    let pid = match engine() {
        "sqlite" => None,
        _ => Some(sqlx::query_scalar::<_, i32>("select pg_backend_pid()").fetch_one(&mut *conn).await.unwrap()),
    };
    let tx = match engine() {
        "sqlite" => conn.begin_with("begin immediate").await.unwrap(),
        _ => conn.begin().await.unwrap(),
    };
    std::mem::forget(tx);
    pid
}

/// Connections of this database, other than `probe`'s, that sit in a transaction nobody is
/// running (PostgreSQL).
async fn idle_in_transaction(probe: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state like 'idle in transaction%'")
        .fetch_one(probe)
        .await
        .unwrap()
}

#[tokio::test]
async fn knowledge_page_and_new_q_and_a_keep_working_after_a_request_stopped_mid_transaction() {
    let app = spawn_app().await;
    let (tenant, cookie, csrf) = app.signed_in_owner(731, "Cara's Guesthouse").await;
    // A connection of the test's own, outside bellhop's pool.
    let url = &app.settings.values["BELLHOP_DATABASE_URL"];
    let probe = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap();
    if let Some(pid) = abandon_a_transaction(&app).await {
        // Its connection is closed, which ends the transaction.
        let alive = || async {
            sqlx::query_scalar::<_, i64>("select count(*) from pg_stat_activity where pid = $1").bind(pid).fetch_one(&probe).await.unwrap() > 0
        };
        wait_until_or(Duration::from_secs(30), || async { !alive().await }, || "\nthe connection stays in the pool, in the abandoned transaction".into()).await;
    }
    // More requests than the pool has connections, so that some get the abandoned one's.
    for i in 0..20 {
        let r = app.http.get(app.url("/app/sources")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200, "the Knowledge page, request {i}");
        let question = format!("Do you have room {i}?");
        let r = app.http.post(app.url("/app/qa")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("question", question.as_str()), ("answer", "Yes.")]).send().await.unwrap();
        assert_eq!(r.status(), 303, "adding a Q&A pair, request {i}");
    }
    // Every pair is stored for everyone, not only inside a transaction nobody ends.
    let stored: i64 = sqlx::query_scalar("select count(*) from qa_pairs where tenant_id = $1").bind(tenant.0).fetch_one(&probe).await.unwrap();
    assert_eq!(stored, 20, "Q&A pairs seen by a new connection");
}

#[tokio::test]
async fn bellhop_stops_when_asked_even_while_the_database_is_stuck() {
    // A long grace period: the job below ends within it, so the workers then wait for its result
    // to be recorded — which the stuck database never allows.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_SHUTDOWN_GRACE_SECONDS", "30");
    })
    .await;
    let queue = &app.state.queue;
    let job = queue.job(bellhop::jobs::DEFAULT, selftest::KIND, &selftest::Payload { value: 1, sleep_ms: 3000 });
    let id = queue.enqueue(&job).await.unwrap().expect("queued");
    wait_until(Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, String>("select state from jobs where id = $1").bind(id.0).fetch_one(&app.db().pool).await.unwrap() == "running"
    })
    .await;
    // Something outside bellhop holds the database while the job runs (its 3 s of work are a
    // window for this, not a timing assertion): its result cannot be recorded.
    let url = &app.settings.values["BELLHOP_DATABASE_URL"];
    let mut jam = sqlx::AnyConnection::connect(url).await.unwrap();
    match engine() {
        "sqlite" => {
            sqlx::raw_sql("begin immediate").execute(&mut jam).await.unwrap();
        }
        _ => {
            sqlx::raw_sql("begin; lock table jobs in access exclusive mode").execute(&mut jam).await.unwrap();
        }
    }
    let stopped = tokio::time::timeout(Duration::from_secs(120), app.stop()).await;
    assert!(stopped.is_ok(), "bellhop did not stop while the database was stuck");
    drop(jam);
}

/// On PostgreSQL sqlx's `begin` learns that the transaction began only when it reads the answer
/// to `BEGIN`; stopped before that, it left the session in the transaction without knowing, and
/// the pool handed the connection on (on SQLite the same stop leaves a count of open
/// transactions behind, which the first test covers). `Db::begin` finishes what it began.
#[tokio::test]
async fn a_transaction_whose_request_stops_while_it_begins_is_rolled_back() {
    if engine() != "postgres" {
        return;
    }
    // A database of its own, without bellhop's background work on it.
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let db = bellhop::storage::Db::connect(&bellhop::config::DatabaseUrl::parse(&url).unwrap()).await.unwrap();
    let probe = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let mut begin = Box::pin(db.begin());
    // Drives the begin one step at a time until the database has begun the transaction, then
    // stops it there, as a dropped request would.
    loop {
        let step = std::future::poll_fn(|cx| std::task::Poll::Ready(std::future::Future::poll(begin.as_mut(), cx))).await;
        if step.is_ready() {
            break;
        }
        if idle_in_transaction(&probe).await > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    drop(begin);
    wait_until_or(
        Duration::from_secs(30),
        || async { idle_in_transaction(&probe).await == 0 },
        || "\na connection stays in the transaction of the stopped begin".into(),
    )
    .await;
}
