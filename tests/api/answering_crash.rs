//! kill -9 of the whole bellhop process (web + workers) five times while 1,000 customer messages
//! are in flight, restarting it each time on the same address: Telegram (the sandbox) redelivers
//! what the dead process didn't acknowledge. Afterwards every update is stored once and answered
//! once, and no customer got any reply twice.
use crate::crash::{base64_key, ready, start_serve};
use crate::helpers::*;
use bellhop::sandbox::SandboxOptions;
use std::time::Duration;

// One message per customer: messages a customer sends while earlier ones still wait are a
// burst, answered once (docs/scaling.md); this test is about crashes, so every message is its
// own customer's.
const CUSTOMERS: usize = 1000;
const MESSAGES: usize = 1;
const KILLS: usize = 5;

#[tokio::test]
async fn kill_9_five_times_during_1000_customer_messages_loses_none_and_never_replies_twice() {
    let dir = tempfile::tempdir().unwrap();
    let tg = crate::sandbox_support::TestSandbox::start_with(SandboxOptions { enforce_limits: false, webhook_retry_base: Duration::from_millis(100), ..Default::default() }).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&tg);
    settings
        .set("BELLHOP_LISTEN", format!("127.0.0.1:{port}"))
        .set("BELLHOP_PUBLIC_URL", url.clone())
        .set("BELLHOP_MASTER_KEY", base64_key())
        .set("BELLHOP_JOBS_CONCURRENCY", "16")
        .set("BELLHOP_JOBS_LEASE_SECONDS", "2")
        .set("BELLHOP_JOBS_POLL_INTERVAL_MS", "50");
    let cfg = settings.config(bellhop::config::Needs::Serve);
    let log = dir.path().join("bellhop.log");
    let mut process = start_serve("all", &settings, &log);
    ready(&url).await;
    let db = bellhop::storage::Db::connect(&cfg.database_url).await.unwrap();

    let owner = tg.user("Olga").await;
    let bot = tg.create_managed_bot(owner, "olga_shop_bot", "Olga's Shop").await["id"].as_i64().unwrap();
    token_used(tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(Duration::from_secs(60), || async { count(&db, &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    let tenant = bellhop::storage::tenants::find_by_owner(&db.pool, owner.into()).await.unwrap().unwrap().id;
    bellhop::storage::sources::insert_qa(&db.pool, tenant, Some(bellhop::domain::BotId(bot)), "Do you ship abroad?", "Yes, to all EU countries.").await.unwrap();

    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        customers.push(tg.post("users", serde_json::json!({ "first_name": format!("C{i}"), "started_bots": [bot] })).await["id"].as_i64().unwrap());
    }
    for m in 0..MESSAGES {
        for (i, &c) in customers.iter().enumerate() {
            let text = if (m + i) % 2 == 0 { "Do you ship abroad?".to_owned() } else { format!("Question {m} about something you may not know") };
            tg.say(c, bot, &text).await;
        }
    }
    let total = (CUSTOMERS * MESSAGES) as i64;
    let answered = || async { count(&db, "select count(*) from conversation_messages where author = 'bot' and delivery in ('sent', 'unknown')").await };

    let mut in_flight_at_kill = 0;
    for k in 0..KILLS {
        let target = total * (k as i64 + 1) / (KILLS as i64 + 2);
        wait_until(Duration::from_secs(180), || async { answered().await >= target }).await;
        process.kill().unwrap(); // SIGKILL
        process.wait().unwrap();
        if count(&db, "select count(*) from jobs where kind = 'bot.update' and state = 'running'").await > 0 {
            in_flight_at_kill += 1;
        }
        process = start_serve("all", &settings, &log);
        ready(&url).await;
    }
    wait_until(Duration::from_secs(300), || async { answered().await >= total }).await;
    wait_until(Duration::from_secs(60), || async { count(&db, "select count(*) from jobs where kind = 'bot.update' and state <> 'done'").await == 0 }).await;
    process.kill().unwrap();
    process.wait().unwrap();

    assert!(in_flight_at_kill >= 3, "answer jobs were running at only {in_flight_at_kill} of {KILLS} kills; the test proves little");
    assert_eq!(count(&db, &format!("select count(*) from telegram_updates where bot_id = {bot}")).await, total, "every update stored, once");
    assert_eq!(count(&db, "select count(*) from conversation_messages where author = 'customer'").await, total, "every message recorded, once");
    assert_eq!(count(&db, "select count(*) from conversation_messages where author = 'bot'").await, total, "one reply per message");
    let unknown = count(&db, "select count(*) from conversation_messages where author = 'bot' and delivery = 'unknown'").await;
    let mut delivered = 0;
    for &c in &customers {
        let got = tg.get(&format!("messages?bot_id={bot}&chat_id={c}&from_bot=true")).await.as_array().unwrap().len() as i64;
        let sent = count(&db, &format!("select count(*) from conversation_messages m join conversations v on v.id = m.conversation_id where v.chat_id = {c} and m.author = 'bot' and m.delivery = 'sent'")).await;
        let maybe = count(&db, &format!("select count(*) from conversation_messages m join conversations v on v.id = m.conversation_id where v.chat_id = {c} and m.author = 'bot' and m.delivery = 'unknown'")).await;
        assert!(got >= sent && got <= sent + maybe, "customer {c}: {got} replies received, {sent} recorded as sent, {maybe} unknown — a reply was duplicated or lost");
        assert!(got <= MESSAGES as i64, "customer {c} got {got} replies to {MESSAGES} messages");
        delivered += got;
    }
    eprintln!("kill -9 ×{KILLS}: {total} updates, {delivered} replies delivered, {unknown} interrupted mid-send (not re-sent), 0 duplicates");
    assert!(unknown <= (KILLS * 16) as i64, "{unknown} replies interrupted mid-send");
}
