//! Long polling (issue 18, item 3): a poll's updates are stored with the offset that confirms
//! them, and an update Telegram gives again is stored and answered once; in polling mode new
//! bots get no webhook and are polled without a restart, a disconnected bot stops being polled;
//! switching back to webhooks is one setting. The kill -9 run is in `polling_crash`.
use crate::crash::base64_key;
use crate::helpers::*;
use crate::sandbox_support::TestSandbox;
use bellhop::app::{AppState, Application, Role, polling};
use bellhop::domain::BotId;
use bellhop::sandbox::SandboxOptions;
use bellhop::storage;
use serde_json::json;
use std::time::Duration;

/// How many updates the sandbox still holds for `bot` (not yet confirmed by an offset).
fn waiting_at_telegram(tg: &TestSandbox, bot: i64) -> usize {
    tg.handle.sandbox.with_world(|w| w.bots.get(&bot).map_or(0, |b| b.pending.len()))
}

#[tokio::test]
async fn a_poll_stores_updates_with_the_offset_that_confirms_them_and_an_update_given_again_is_stored_and_answered_once() {
    let app = spawn_app().await;
    let db = app.db().clone();
    let bot_id = 7_000_001;
    let (tenant, token, _) = app.create_bot(5501, bot_id).await;
    // The same bot in the sandbox, with the token bellhop holds.
    app.tg.post("bots", json!({ "username": format!("test{bot_id}_bot"), "token": token.expose() })).await;
    let customer = app.tg.post("users", json!({ "first_name": "Cleo", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot_id, "first").await;
    app.tg.say(customer, bot_id, "second").await;
    let bot = app.state.telegram.bot(token);
    let (id, updates, jobs) = (BotId(bot_id), format!("select count(*) from telegram_updates where bot_id = {bot_id}"), format!("select count(*) from jobs where kind = 'bot.update' and tenant_id = {}", tenant.0));

    let next = polling::poll_once(&app.state, &bot, id, Some(tenant), None).await.unwrap().expect("an offset");
    assert_eq!((count(&db, &updates).await, count(&db, &jobs).await), (2, 2), "both updates stored, each with its job");
    assert_eq!(storage::polling::offset(&db.pool, id).await.unwrap(), Some(next), "the offset is stored with them");
    assert_eq!(waiting_at_telegram(&app.tg, bot_id), 2, "not confirmed yet: only the next poll, carrying the offset, confirms them");

    // A crash before the next poll, or a lost answer: Telegram gives the same updates again.
    let again = polling::poll_once(&app.state, &bot, id, Some(tenant), None).await.unwrap();
    assert_eq!(again, Some(next));
    assert_eq!((count(&db, &updates).await, count(&db, &jobs).await), (2, 2), "the store deduplicates: no second row, no second job");

    // The next poll carries the offset: Telegram forgets them, and a new message follows.
    assert_eq!(polling::poll_once(&app.state, &bot, id, Some(tenant), Some(next)).await.unwrap(), Some(next));
    assert_eq!(waiting_at_telegram(&app.tg, bot_id), 0);
    app.tg.say(customer, bot_id, "third").await;
    let later = polling::poll_once(&app.state, &bot, id, Some(tenant), Some(next)).await.unwrap().unwrap();
    assert_eq!(later, next + 1);
    assert_eq!((count(&db, &updates).await, count(&db, &jobs).await), (3, 3));

    // Answered once each: three messages (a burst may be answered together, never twice).
    app.drain_jobs(Duration::from_secs(60)).await;
    let replies = app.tg.get(&format!("messages?bot_id={bot_id}&chat_id={customer}&from_bot=true")).await.as_array().unwrap().len();
    assert!((1..=3).contains(&replies), "{replies} replies to 3 messages");
    assert_eq!(count(&db, "select count(*) from conversation_messages where author = 'customer'").await, 3, "each message recorded once");
}

/// Starts bellhop (web + workers) with `settings` against the sandbox they name; the caller
/// keeps the sandbox and the data directory across starts.
async fn start(settings: &TestSettings) -> (AppState, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let app = Application::build(settings.config(bellhop::config::Needs::Serve), Role::All, false).await.expect("bellhop starts");
    let state = app.state.clone();
    (state, tokio::spawn(app.run(bellhop::web::router)))
}

async fn stop(state: AppState, task: tokio::task::JoinHandle<anyhow::Result<()>>) {
    state.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn polling_gives_new_bots_no_webhook_polls_them_at_once_stops_at_disconnect_and_one_setting_brings_webhooks_back() {
    let tg = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&tg);
    settings.set("BELLHOP_MASTER_KEY", base64_key()).set("BELLHOP_TELEGRAM_UPDATES", "polling");
    let manager = tg.handle.sandbox.manager_id();
    let webhook_of = |bot: i64| {
        let tg = &tg;
        async move { tg.get(&format!("bots/{bot}")).await["webhook"]["url"].as_str().map(str::to_owned) }
    };
    let (state, task) = start(&settings).await;
    let db = state.db.clone();
    assert_eq!(webhook_of(manager).await, None, "the manager is polled: no webhook");

    // The managed-bot flow while polling: the manager's update is polled, the bot provisioned
    // without a webhook and polled without a restart.
    let owner = tg.user("Olga").await;
    let bot = tg.create_managed_bot(owner, "olga_poll_bot", "Olga's Shop").await["id"].as_i64().unwrap();
    token_used(tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(Duration::from_secs(60), || async { count(&db, &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    wait_until(Duration::from_secs(30), || async { state.polling.bots().contains(&BotId(bot)) }).await;
    assert_eq!(webhook_of(bot).await, None, "a bot provisioned while polling gets no webhook");
    let secrets = format!("select count(*) from bots where id = {bot} and webhook_secret_ct is not null");
    assert_eq!(count(&db, &secrets).await, 0, "nor a webhook secret: provisioning never set a webhook");
    let tenant = storage::tenants::find_by_owner(&db.pool, owner.into()).await.unwrap().unwrap().id;
    storage::sources::insert_qa(&db.pool, tenant, Some(BotId(bot)), "Do you ship abroad?", "Yes, to all EU countries.").await.unwrap();
    let customer = tg.post("users", json!({ "first_name": "Cleo", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    let replies = || async { tg.get(&format!("messages?bot_id={bot}&chat_id={customer}&from_bot=true")).await.as_array().unwrap().len() };
    tg.say(customer, bot, "Do you ship abroad?").await;
    wait_until(Duration::from_secs(60), || async { replies().await == 1 }).await;

    // Disconnected: no longer polled. Connected again: polled again.
    bellhop::app::lifecycle::disconnect(&state, tenant, BotId(bot)).await.unwrap();
    wait_until(Duration::from_secs(30), || async { !state.polling.bots().contains(&BotId(bot)) }).await;
    assert!(bellhop::app::lifecycle::reconnect(&state, tenant, BotId(bot)).await.unwrap());
    wait_until(Duration::from_secs(30), || async { state.polling.bots().contains(&BotId(bot)) }).await;
    stop(state, task).await;
    assert_eq!(count(&db, "select count(*) from telegram_poll_offsets").await, 2, "the manager and the bot are noted as polled");

    // One setting back: the manager's webhook and the bot's are set again, and it answers.
    settings.set("BELLHOP_TELEGRAM_UPDATES", "webhook");
    let (state, task) = start(&settings).await;
    assert_eq!(webhook_of(manager).await, Some(state.cfg.public_url.join("tg/manager").unwrap().to_string()));
    let expected = state.cfg.public_url.join(&format!("tg/bot/{bot}")).unwrap().to_string();
    wait_until(Duration::from_secs(60), || async { webhook_of(bot).await.as_deref() == Some(expected.as_str()) }).await;
    assert_eq!(count(&db, "select count(*) from telegram_poll_offsets").await, 0);
    assert_eq!(count(&db, &secrets).await, 1, "the webhook has its secret again");
    assert!(state.polling.bots().is_empty());
    tg.say(customer, bot, "Do you ship abroad?").await;
    wait_until(Duration::from_secs(60), || async { replies().await == 2 }).await;
    stop(state, task).await;
}
