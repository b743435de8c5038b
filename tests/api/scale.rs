//! Scale-out (issue 15) on one database: per-tenant fair claims, one conversation's updates one
//! at a time with a burst answered once, coalesced re-index and provision jobs, the retention
//! purge — and, in the suite's Qdrant-server pass (PostgreSQL + a Qdrant server, what several
//! processes need), two worker processes keeping one bot's per-second limit together.
use crate::answering_llm::live_bot;
use crate::helpers::*;
use bellhop::app::jobs;
use bellhop::domain::{BotId, TenantId};
use bellhop::storage;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn message(update_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": { "message_id": update_id, "date": 1_790_000_000, "chat": { "id": chat, "type": "private" },
                     "from": { "id": chat, "is_bot": false, "first_name": "Customer" }, "text": text }
    })
}

/// Stores `updates` of `bot` and enqueues their jobs in one transaction, as the webhook ingress
/// does for a batch: the workers see them all at once, so the claim order alone decides.
async fn arrive_together(app: &TestApp, updates: &[(TenantId, i64, Value)]) {
    let mut tx = app.db().begin().await.unwrap();
    for (tenant, bot, body) in updates {
        let update_id = body["update_id"].as_i64().unwrap();
        let chat = body["message"]["chat"]["id"].as_i64().unwrap().to_string();
        assert!(storage::updates::record(&mut *tx, BotId(*bot), Some(*tenant), update_id, &body.to_string(), "stored").await.unwrap());
        let job = jobs::bot_update(&app.state.queue, bellhop::jobs::DEFAULT, *tenant, BotId(*bot), update_id, Some(&chat));
        app.state.queue.enqueue_in(&mut tx, &job).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn customers(app: &TestApp, bot: i64, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(app.tg.post("users", json!({ "first_name": format!("Customer {i}"), "started_bots": [bot] })).await["id"].as_i64().unwrap());
    }
    out
}

/// The tenants of the bot replies stored so far, in the order they were written.
async fn reply_order(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>("select tenant_id from conversation_messages where author <> 'customer' order by id").fetch_all(&app.db().pool).await.unwrap()
}

/// The bound stated in docs/scaling.md: a quiet tenant's job waits behind at most one job of each
/// other tenant with work queued, plus the jobs already running. One worker slot here, so the
/// claim order is the reply order.
#[tokio::test]
async fn a_busy_tenants_flood_delays_a_quiet_tenants_answers_by_at_most_one_job_each() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_CONCURRENCY", "1");
    })
    .await;
    let (busy_bot, busy, _) = live_bot(&app, "Busy Owner", "busy_shop_bot", "Busy Shop").await;
    let (quiet_bot, quiet, _) = live_bot(&app, "Quiet Owner", "quiet_shop_bot", "Quiet Shop").await;
    let flooders = customers(&app, busy_bot, 40).await;
    let patient = customers(&app, quiet_bot, 3).await;
    app.drain_jobs(WAIT).await;

    // Forty questions to the busy business, then three to the quiet one, all at once.
    let mut updates: Vec<(TenantId, i64, Value)> = flooders.iter().enumerate().map(|(i, c)| (busy, busy_bot, message(1000 + i as i64, *c, "Do you deliver?"))).collect();
    updates.extend(patient.iter().enumerate().map(|(i, c)| (quiet, quiet_bot, message(2000 + i as i64, *c, "Are you open on Sunday?"))));
    arrive_together(&app, &updates).await;
    app.drain_jobs(WAIT).await;

    let order = reply_order(&app).await;
    assert_eq!(order.len(), 43, "every question got one reply: {order:?}");
    let positions: Vec<usize> = order.iter().enumerate().filter(|(_, t)| **t == quiet.0).map(|(i, _)| i + 1).collect();
    // The k-th quiet question waits behind at most k busy jobs (one per quiet job before it and
    // itself) plus the one running: reply k lands at position 2k + 1 at the latest. First in,
    // first out would put them at 41–43.
    for (k, at) in positions.iter().enumerate() {
        assert!(*at <= 2 * (k + 1) + 1, "quiet reply {} came at position {at} of 43: {positions:?}", k + 1);
    }
}

#[tokio::test]
async fn a_customer_who_sends_twenty_messages_at_once_gets_one_answer_to_the_last() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Flooded Owner", "flooded_shop_bot", "Flooded Shop").await;
    let who = customers(&app, bot, 1).await[0];
    let updates: Vec<_> = (0..20).map(|i| (tenant, bot, message(3000 + i, who, &format!("question number {i}?")))).collect();
    arrive_together(&app, &updates).await;
    app.drain_jobs(WAIT).await;

    let stored = |author: &'static str| {
        let sql = format!("select count(*) from conversation_messages where tenant_id = {} and author {author}", tenant.0);
        let db = app.db().clone();
        async move { count(&db, &sql).await }
    };
    assert_eq!(stored("= 'customer'").await, 20, "every message is kept in the conversation");
    assert_eq!(stored("<> 'customer'").await, 1, "one reply for the burst");
    let answered: i64 = sqlx::query_scalar(
        "select q.update_id from conversation_messages r join conversation_messages q on q.conversation_id = r.conversation_id and q.update_id = r.update_id and q.author = 'customer'
         where r.tenant_id = $1 and r.author <> 'customer'",
    )
    .bind(tenant.0)
    .fetch_one(&app.db().pool)
    .await
    .unwrap();
    assert_eq!(answered, 3019, "the reply answers the last message");
    let sent: Vec<Value> = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(who)).collect();
    assert_eq!(sent.len(), 1, "one message reached the customer: {sent:?}");
}

/// Only a later question answers an earlier one: a question followed, before it was handled, by
/// a command is answered, and so is the command.
#[tokio::test]
async fn a_question_followed_by_a_command_before_it_was_handled_is_still_answered() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Busy Owner", "command_after_bot", "Command Shop").await;
    let who = customers(&app, bot, 1).await[0];
    arrive_together(&app, &[(tenant, bot, message(4000, who, "Do you deliver on Sundays?")), (tenant, bot, message(4001, who, "/help"))]).await;
    app.drain_jobs(WAIT).await;

    let replied_to: Vec<i64> = sqlx::query_scalar(
        "select q.update_id from conversation_messages r join conversation_messages q on q.conversation_id = r.conversation_id and q.update_id = r.update_id and q.author = 'customer'
         where r.tenant_id = $1 and r.author <> 'customer' order by q.update_id",
    )
    .bind(tenant.0)
    .fetch_all(&app.db().pool)
    .await
    .unwrap();
    assert_eq!(replied_to, vec![4000, 4001], "the question and the command each got their reply");
    let sent = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(who)).count();
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn a_reindex_asked_for_twice_while_queued_is_one_job_and_one_sources_jobs_never_overlap() {
    // No workers: this test looks at the queue itself.
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let q = &app.state.queue;
    let db = app.db();
    let t = TenantId(77);
    assert!(storage::jobs::insert(&db.pool, &jobs::ingest(q, t, bellhop::domain::SourceId(5))).await.unwrap().is_some());
    assert!(storage::jobs::insert(&db.pool, &jobs::ingest(q, t, bellhop::domain::SourceId(5))).await.unwrap().is_none(), "the second request is the queued job");
    assert!(storage::jobs::insert(&db.pool, &jobs::ingest(q, t, bellhop::domain::SourceId(6))).await.unwrap().is_some(), "another source is another job");
    assert!(storage::jobs::insert(&db.pool, &jobs::provision(q, t, BotId(9))).await.unwrap().is_some());
    assert!(storage::jobs::insert(&db.pool, &jobs::provision(q, t, BotId(9))).await.unwrap().is_none(), "one provisioning queued per bot");

    let claim = |limit| async move {
        let c = storage::jobs::Claim { queue: jobs::INGEST_QUEUE, worker: "w1", lease_until_ms: i64::MAX, limit, tenant_limit: 100 };
        storage::jobs::claim(&db.pool, db.engine, &c).await
    };
    let first = claim(10).await.unwrap();
    assert_eq!(first.len(), 2, "one job of each source: {first:?}");
    // Asked again while source 5 is being read: queued (the reading may have seen the old
    // content), but not started before the running one ends.
    assert!(storage::jobs::insert(&db.pool, &jobs::ingest(q, t, bellhop::domain::SourceId(5))).await.unwrap().is_some());
    assert!(claim(10).await.unwrap().is_empty(), "source 5's next reading waits for the running one");
    let five = first.iter().find(|j| j.payload.contains("\"source_id\":5")).unwrap();
    assert!(storage::jobs::complete(&db.pool, five.id, "w1", five.attempt).await.unwrap());
    let next = claim(10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].payload.contains("\"source_id\":5"));
}

#[tokio::test]
async fn the_retention_purge_deletes_what_is_old_and_keeps_the_rest() {
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let db = app.db();
    let now = storage::now_ms();
    let day = 86_400_000i64;
    let old = now - 8 * day;
    // 1,203 old raw updates (more than two batches) and 5 recent ones.
    let mut tx = db.begin().await.unwrap();
    for i in 0..1208 {
        storage::updates::record(&mut *tx, BotId(1), None, i, "{}", "stored").await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("update telegram_updates set received_at = $1 where update_id < 1203").bind(old).execute(&db.pool).await.unwrap();
    // Jobs: done long ago, done today, dead long ago (kept 30 days), queued long ago (never purged).
    for (state, at) in [("done", old), ("done", now), ("dead", old), ("queued", old)] {
        let id = storage::jobs::insert(&db.pool, &app.state.queue.job(bellhop::jobs::DEFAULT, "selftest", &json!({}))).await.unwrap().unwrap();
        sqlx::query("update jobs set state = $1, updated_at = $2 where id = $3").bind(state).bind(at).bind(id.0).execute(&db.pool).await.unwrap();
    }
    let cfg = app.state.cfg.retention.clone();
    let purged = storage::retention::purge(db, &cfg, &jobs::names(), now).await.unwrap();
    assert_eq!(purged.updates, 1203);
    assert_eq!(purged.jobs, 1);
    assert_eq!(purged.dead_jobs, 0);
    assert_eq!(count(db, "select count(*) from telegram_updates").await, 5);
    assert_eq!(count(db, "select count(*) from jobs where state = 'queued'").await, 1, "work still to do is never purged");
    assert_eq!(count(db, "select count(*) from jobs where state = 'dead'").await, 1);
    // A month on, the dead job goes too; a second purge finds nothing more.
    assert_eq!(storage::retention::purge(db, &cfg, &jobs::names(), now + 31 * day).await.unwrap().dead_jobs, 1);
    assert_eq!(storage::retention::purge(db, &cfg, &jobs::names(), now + 31 * day).await.unwrap().total(), 0);
}

/// SQLite has one writer, and a delete holds the write lock while it looks for its rows: the
/// purge's statements over the jobs table (every short last batch of a purge) must find them by
/// the index of finished jobs, never by reading the whole table. (PostgreSQL plans by its
/// statistics, so an empty table says nothing there.)
#[tokio::test]
async fn on_sqlite_the_purge_finds_finished_jobs_by_their_index() {
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let db = app.db();
    if db.engine != storage::Engine::Sqlite {
        return;
    }
    for sql in [storage::retention::PURGE_DONE_JOBS, storage::retention::PURGE_DEAD_JOBS] {
        let rows = sqlx::query(&format!("explain query plan {sql}")).bind(0i64).bind(500i64).fetch_all(&db.pool).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|r| sqlx::Row::get::<String, _>(r, "detail")).collect();
        assert!(plan.iter().any(|d| d.contains("USING INDEX jobs_finished")), "{sql}: {plan:?}");
        assert!(!plan.iter().any(|d| d.starts_with("SCAN")), "{sql}: {plan:?}");
    }
}

/// An update whose job has not run yet (workers down for longer than the updates are kept) is
/// not purged: its job would find it gone and answer nothing.
#[tokio::test]
async fn the_purge_keeps_an_old_update_whose_job_has_not_run() {
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let db = app.db();
    let now = storage::now_ms();
    let (day, hour) = (86_400_000i64, 3_600_000i64);
    let old = now - 8 * day;
    let mut tx = db.begin().await.unwrap();
    for (update_id, at) in [(1, old - hour), (2, old), (3, old + hour)] {
        storage::updates::record(&mut *tx, BotId(1), Some(TenantId(1)), update_id, "{}", "stored").await.unwrap();
        sqlx::query("update telegram_updates set received_at = $1 where update_id = $2").bind(at).bind(update_id).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Update 2's job, made when it arrived, still waits.
    let job = storage::jobs::insert(&db.pool, &jobs::bot_update(&app.state.queue, bellhop::jobs::DEFAULT, TenantId(1), BotId(1), 2, Some("7"))).await.unwrap().unwrap();
    sqlx::query("update jobs set created_at = $1 where id = $2").bind(old).bind(job.0).execute(&db.pool).await.unwrap();

    let cfg = app.state.cfg.retention.clone();
    assert_eq!(storage::retention::purge(db, &cfg, &jobs::names(), now).await.unwrap().updates, 1, "only the update before it");
    let left: Vec<i64> = sqlx::query_scalar("select update_id from telegram_updates order by update_id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(left, vec![2, 3]);
    // Handled: the next purge takes them.
    sqlx::query("update jobs set state = 'done', updated_at = $1 where id = $2").bind(now).bind(job.0).execute(&db.pool).await.unwrap();
    assert_eq!(storage::retention::purge(db, &cfg, &jobs::names(), now).await.unwrap().updates, 2);
}

/// A source whose read was abandoned (its job dead-lettered without recording the failure: the
/// worker killed on the last attempt) is marked failed by the periodic repair, so its owner can
/// read it again and scheduled re-crawls take it up; a source being read is left alone.
#[tokio::test]
async fn a_source_whose_read_was_abandoned_is_marked_failed() {
    use bellhop::storage::sources::{self, NewSource};
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let db = app.db();
    let mut tx = db.begin().await.unwrap();
    let tenant = storage::tenants::find_or_create_for_owner(&mut tx, bellhop::domain::UserId(4242), "Abandoned Books").await.unwrap().id;
    tx.commit().await.unwrap();
    let new = |name| NewSource { bot: None, kind: "file", name, size_bytes: 5, content: Some(b"hello"), max_pages: None, recrawl_hours: None };
    let (abandoned, reading) = (sources::insert(&db.pool, tenant, &new("a.md")).await.unwrap(), sources::insert(&db.pool, tenant, &new("b.md")).await.unwrap());
    let q = &app.state.queue;
    for (id, state) in [(abandoned, "dead"), (reading, "running")] {
        let job = storage::jobs::insert(&db.pool, &jobs::ingest(q, tenant, id)).await.unwrap().unwrap();
        sqlx::query("update jobs set state = $1 where id = $2").bind(state).bind(job.0).execute(&db.pool).await.unwrap();
        assert!(sources::set_status(&db.pool, tenant, id, "processing", None, None, None).await.unwrap());
    }
    assert_eq!(sources::fail_abandoned_reads(&db.pool, jobs::INGEST, jobs::INGEST_KEY_PREFIX).await.unwrap(), 1);
    let status = |id| async move { sources::get(&db.pool, tenant, id).await.unwrap().unwrap().status };
    assert_eq!(status(abandoned).await, "failed");
    assert_eq!(status(reading).await, "processing", "its job is still running");
    assert_eq!(sources::fail_abandoned_reads(&db.pool, jobs::INGEST, jobs::INGEST_KEY_PREFIX).await.unwrap(), 0);
}

/// The shared pacing holds a message back for its chat's turn without holding back the bot's
/// other chats: a group's second message within 3.2 s, or a chat paused by a 429, books nothing
/// until its chat's moment, and the bot's next message to another chat goes at once.
#[tokio::test]
async fn a_chat_waiting_its_turn_does_not_hold_back_the_bots_other_chats() {
    use bellhop::storage::pacing::{Booking, DbPacer};
    use bellhop::telegram::ChatId;
    let app = spawn_app_as(bellhop::app::Role::Web, |_| {}).await;
    let pacer = DbPacer::new(app.db().clone());
    let (bot, group, private, paused) = (BotId(5), ChatId(-100), ChatId(7), ChatId(8));
    let now = storage::now_ms();
    assert_eq!(pacer.book(bot, group, now).await.unwrap(), Booking::At(now));
    // The group's next message may go 3.2 s later: nothing booked for it now.
    assert_eq!(pacer.book(bot, group, now).await.unwrap(), Booking::ChatBusyUntil(now + 3200));
    // The bot's next message, to a private chat, keeps the bot's own spacing (40 ms), not 3.2 s.
    assert_eq!(pacer.book(bot, private, now).await.unwrap(), Booking::At(now + 40));
    // A chat Telegram paused for 90 s waits 90 s; the others do not.
    pacer.pause_until(bot, paused, now + 90_000).await.unwrap();
    assert!(matches!(pacer.book(bot, paused, now).await.unwrap(), Booking::ChatBusyUntil(t) if t >= now + 90_000));
    assert_eq!(pacer.book(bot, private, now).await.unwrap(), Booking::At(now + 80), "a private chat takes 3 at once");
    // At its moment the group's message is booked, after the bot's last one.
    assert_eq!(pacer.book(bot, group, now + 3200).await.unwrap(), Booking::At(now + 3200));
}

/// Child processes killed when the test ends, however it ends.
struct Processes(Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Several processes need PostgreSQL and a Qdrant server (`serve --role worker` refuses
/// anything else), so this runs in the suite's Qdrant-server pass. Three processes send for one
/// bot at once — this test's own (web and workers) and two `serve --role worker` — each of which
/// alone keeps to Telegram's 30 messages a second; together they would send up to three times
/// that without the limits shared through the database (`telegram.shared_limits`).
#[tokio::test]
async fn two_worker_processes_together_keep_one_bots_per_second_limit() {
    if engine() != "postgres" || qdrant_server().is_none() {
        eprintln!("needs PostgreSQL and a Qdrant server: runs in the suite's Qdrant-server pass");
        return;
    }
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_CONCURRENCY", "16");
    })
    .await;
    let (bot, tenant, _) = live_bot(&app, "Popular Owner", "popular_shop_bot", "Popular Shop").await;
    let people = customers(&app, bot, 150).await;
    app.drain_jobs(WAIT).await;
    let before = app.tg.handle.sandbox.limit_stats();

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("workers.log");
    let mut settings = TestSettings { values: app.settings.values.clone() };
    settings.set("BELLHOP_JOBS_CONCURRENCY", "16");
    let _workers = Processes(vec![crate::crash::start_serve("worker", &settings, &log), crate::crash::start_serve("worker", &settings, &log)]);
    wait_until(WAIT, || async { std::fs::read_to_string(&log).unwrap_or_default().matches("job workers started").count() == 2 }).await;
    let updates: Vec<_> = people.iter().enumerate().map(|(i, c)| (tenant, bot, message(5000 + i as i64, *c, "/start"))).collect();
    arrive_together(&app, &updates).await;
    app.drain_jobs(WAIT).await;

    let after = app.tg.handle.sandbox.limit_stats();
    let sent = app.tg.sent_by(bot).await.into_iter().filter(|m| people.contains(&m["chat_id"].as_i64().unwrap_or(0))).count();
    assert_eq!(sent, 150, "every customer got the welcome");
    let workers = count(app.db(), &format!("select count(distinct locked_by) from jobs where kind = 'bot.update' and tenant_id = {}", tenant.0)).await;
    assert!(workers >= 2, "the sends came from one process only ({workers}); the test proves nothing");
    assert_eq!(after.bot_breaches - before.bot_breaches, 0, "the processes together went over the bot's 30 messages a second: {after:?}");
    assert_eq!(after.limit_breaches - before.limit_breaches, 0, "{after:?}");
    assert_eq!(after.early_retries - before.early_retries, 0, "{after:?}");
}
