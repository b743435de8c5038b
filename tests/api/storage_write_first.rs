//! Storage's SQLite rule (`src/storage/mod.rs`): a transaction that writes must hold the write
//! lock before it reads. A deferred transaction that reads and then writes, while another
//! connection commits a write in between, fails at once with "database is locked" on SQLite (its
//! snapshot is stale); one that holds the lock from its start waits its turn through the busy
//! timeout. `Db::begin` starts every SQLite transaction with `begin immediate`. The three storage
//! functions that once read first in their caller's transaction (each of which failed so), and a
//! bare read-then-write, run here while another connection holds the write lock and commits after
//! them: each must wait and succeed. (On PostgreSQL the same calls simply succeed.)
use crate::answering_llm::live_bot;
use crate::helpers::*;
use bellhop::domain::{BotId, TenantId, UserId};
use bellhop::storage::{self, Tx};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

type Call = Box<dyn for<'a> FnOnce(&'a mut Tx) -> Pin<Box<dyn Future<Output = sqlx::Result<()>> + Send + 'a>> + Send>;

/// Runs `call` in a transaction of its own while another connection holds the write lock and
/// commits a write once `call` has had time to start; `call`'s transaction must commit.
async fn while_another_writes(app: &TestApp, tenant: TenantId, what: &str, call: Call) {
    let mut other = app.db().begin().await.unwrap();
    assert!(storage::tenants::lock(&mut other, tenant).await.unwrap(), "the other writer holds the lock");
    let db = app.db().clone();
    let task = tokio::spawn(async move {
        let mut tx = db.begin().await?;
        call(&mut tx).await?;
        tx.commit().await?;
        anyhow::Ok(())
    });
    // Time for the call to run its first statement (a read would take its snapshot now); not a
    // timing assertion: were the call slower, the commit below would just come first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.commit().await.unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), task).await.expect("the call waits no longer than the busy timeout").unwrap();
    if let Err(e) = done {
        panic!("{what} failed while another connection wrote: {e:#}");
    }
}

#[tokio::test]
async fn storage_functions_that_read_then_write_wait_for_another_writer() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Owner", "write_first_bot", "Rassvet").await;
    app.drain_jobs(Duration::from_secs(60)).await;

    let settings = storage::bot_settings::BotSettings { fallback_text: "Ask Sam.".into(), ..Default::default() };
    let call: Call = Box::new(move |tx| {
        Box::pin(async move {
            assert!(storage::bot_settings::put(tx, tenant, BotId(bot), &settings).await?);
            Ok(())
        })
    });
    while_another_writes(&app, tenant, "bot_settings::put", call).await;
    assert_eq!(storage::bot_settings::get(&app.db().pool, tenant, BotId(bot)).await.unwrap().fallback_text, "Ask Sam.");

    storage::team::insert_invite(&app.db().pool, "write-first-invite", tenant, storage::now_ms() + 3_600_000).await.unwrap();
    let call: Call = Box::new(move |tx| {
        Box::pin(async move {
            let joined = storage::team::join(tx, "write-first-invite", UserId(777_000_001), "Sam").await?;
            assert!(matches!(joined, storage::team::Joined::Now { .. }), "{joined:?}");
            Ok(())
        })
    });
    while_another_writes(&app, tenant, "team::join", call).await;
    assert!(storage::team::belongs(&app.db().pool, tenant, UserId(777_000_001)).await.unwrap());

    storage::polling::mark(&app.db().pool, BotId(bot)).await.unwrap();
    let call: Call = Box::new(move |tx| {
        Box::pin(async move {
            let taken = storage::polling::take_polled_bots(tx).await?;
            assert_eq!(taken.iter().map(|b| b.bot).collect::<Vec<_>>(), vec![BotId(bot)]);
            Ok(())
        })
    });
    while_another_writes(&app, tenant, "polling::take_polled_bots", call).await;
    assert_eq!(count(app.db(), "select count(*) from telegram_poll_offsets").await, 0);
    app.stop().await.unwrap();
}

/// The structural form of the rule: a transaction from `Db::begin` that reads first and writes
/// after, while another connection commits in between, waits and commits. (With SQLite's
/// deferred `begin` it failed with "database is locked".)
#[tokio::test]
async fn a_transaction_that_reads_before_it_writes_waits_for_another_writer() {
    let app = spawn_app().await;
    let (_, tenant, _) = live_bot(&app, "Owner", "read_then_write_bot", "Zaria").await;
    app.drain_jobs(Duration::from_secs(60)).await;
    let call: Call = Box::new(move |tx| {
        Box::pin(async move {
            let bots: i64 = sqlx::query_scalar("select count(*) from bots where tenant_id = $1").bind(tenant.0).fetch_one(&mut **tx).await?;
            assert_eq!(bots, 1);
            assert!(storage::tenants::lock(tx, tenant).await?, "the write after the read");
            Ok(())
        })
    });
    while_another_writes(&app, tenant, "a read, then a write", call).await;
    app.stop().await.unwrap();
}
