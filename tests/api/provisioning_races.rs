//! Two provisionings of one bot at once (issue 16): saving the settings twice quickly must not
//! leave Telegram holding a different webhook secret from the one stored — which would refuse
//! every update with 401 while the admin page says "live". And a bot whose webhook stopped
//! working is shown as such on the admin page. Telegram's slowness is the sandbox holding
//! `setWebhook` calls and letting them go in the worst order; nothing is timed.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

/// A live bot made through the manager; its owner signed in. Returns (owner, bot, cookie, csrf).
async fn live_bot_and_owner(app: &TestApp, username: &str) -> (i64, i64, String, String) {
    let owner = app.tg.user("Rosa").await;
    let bot = app.tg.create_managed_bot(owner, username, "Rosa's Cakes").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(T, || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    app.drain_jobs(T).await;
    let (_, cookie, csrf) = app.signed_in_owner(owner, "Rosa's Cakes").await;
    (owner, bot, cookie, csrf)
}

/// The webhook secret bellhop stored for `bot`.
async fn stored_secret(app: &TestApp, bot: i64) -> String {
    let id = bellhop::domain::BotId(bot);
    let sealed = bellhop::storage::bots::webhook_auth(&app.db().pool, id).await.unwrap().unwrap().secret;
    String::from_utf8(app.state.keys.open(&sealed.unwrap(), &bellhop::storage::bots::webhook_secret_aad(id)).unwrap()).unwrap()
}

#[tokio::test]
async fn settings_saved_twice_at_once_leave_the_webhook_secret_telegram_holds_the_one_stored() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20");
    })
    .await;
    let (_, bot, cookie, csrf) = live_bot_and_owner(&app, "rosa_racing_bot").await;
    let path = format!("/app/bots/{bot}/settings");
    let save = |welcome: &'static str| {
        let (app, cookie, csrf, path) = (&app, cookie.clone(), csrf.clone(), path.clone());
        async move {
            let form = [("csrf", csrf.as_str()), ("welcome_text", welcome), ("description", "Rosa bakes cakes."), ("short_description", "Cakes")];
            app.http.post(app.url(&path)).header("cookie", &cookie).form(&form).send().await.unwrap().status()
        }
    };

    // Telegram is slow to take setWebhook: the first save's call is under way when the second
    // save comes.
    app.tg.hold(bot, "setWebhook", 2).await;
    assert_eq!(save("Welcome!").await, 303);
    wait_until(T, || async { app.tg.held(bot, "setWebhook").await == 1 }).await;
    assert_eq!(save("Welcome, again!").await, 303);
    // The second provisioning either reaches Telegram too (no serialization: its call is held
    // beside the first), or waits its turn behind the first (queued with the same serial key
    // while the first runs).
    wait_until(T, || async {
        app.tg.held(bot, "setWebhook").await == 2
            || count(
                app.db(),
                "select count(*) from jobs q where q.kind = 'bot.provision' and q.state = 'queued'
                 and exists (select 1 from jobs r where r.serial_key = q.serial_key and r.state = 'running')",
            )
            .await
                >= 1
    })
    .await;
    // The worst order: the later call lands first.
    app.tg.release(bot, "setWebhook", true).await;
    app.drain_jobs(T).await;

    let telegram_holds = app.tg.get(&format!("bots/{bot}")).await["webhook"]["secret_token"].as_str().unwrap().to_owned();
    assert_eq!(telegram_holds, stored_secret(&app, bot).await, "Telegram and bellhop hold different webhook secrets: every update will be refused");
    // And a customer's message gets through.
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot, "/start").await;
    wait_until(T, || async { app.tg.sent_by(bot).await.iter().any(|m| m["chat_id"] == json!(customer) && text_of(m).contains("Welcome")) }).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_bot_whose_webhook_telegram_cannot_deliver_to_is_shown_as_not_receiving_messages() {
    let app = spawn_app().await;
    let (_, bot, cookie, _) = live_bot_and_owner(&app, "rosa_broken_bot").await;
    let (_, home) = (200, app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap());
    assert!(!home.contains("not receiving messages"), "a healthy bot is not flagged: {home}");

    // Telegram now holds another secret (as after a lost provisioning race): its deliveries are
    // refused with 401, and getWebhookInfo says so.
    let token = bellhop::domain::BotToken::parse(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap()).unwrap();
    let url = app.tg.get(&format!("bots/{bot}")).await["webhook"]["url"].as_str().unwrap().to_owned();
    app.tg.client.call_raw(&token, "setWebhook", &json!({ "url": url, "secret_token": "not-the-stored-secret" })).await.unwrap();
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot, "hello?").await;
    wait_until(T, || async { !app.tg.get(&format!("bots/{bot}")).await["webhook_info"]["last_error_message"].is_null() }).await;

    let home = app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("not receiving messages"), "the owner is shown the broken webhook: {home}");
    assert!(home.contains("Repair"), "with a way to fix it: {home}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_provisioning_that_overlapped_another_outside_the_queue_runs_again_and_the_secrets_agree() {
    // Two runs at once despite the queue's one-at-a-time rule — as when a worker stalled past its
    // lease and the job was handed to another while the first was still in its setWebhook call.
    let app = spawn_app().await;
    let (owner, bot, _, _) = live_bot_and_owner(&app, "rosa_stalled_bot").await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let run = || {
        let state = app.state.clone();
        async move { bellhop::manager::provision::run(&state.bots, state.manager.as_ref(), &state.cfg.public_url, state.cfg.telegram.updates, tenant, bellhop::domain::BotId(bot), false).await }
    };
    app.tg.hold(bot, "setWebhook", 2).await;
    let first = tokio::spawn(run());
    wait_until(T, || async { app.tg.held(bot, "setWebhook").await == 1 }).await;
    let second = tokio::spawn(run());
    wait_until(T, || async { app.tg.held(bot, "setWebhook").await == 2 }).await;
    // The stalled first call lands last: Telegram holds the first run's secret, the database
    // the second's.
    app.tg.release(bot, "setWebhook", true).await;
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert!(second.is_ok(), "{second:?}");
    assert!(matches!(first, Err(bellhop::jobs::JobError::Retry(_))), "the overlapped run must ask to run again: {first:?}");
    // Its retry (the job queue's) sets one secret in both places.
    run().await.unwrap();
    let telegram_holds = app.tg.get(&format!("bots/{bot}")).await["webhook"]["secret_token"].as_str().unwrap().to_owned();
    assert_eq!(telegram_holds, stored_secret(&app, bot).await);
    app.stop().await.unwrap();
}

/// A bot changes owner while a setup of it for its first owner is queued (behind another that
/// runs): the new owner's setup is queued beside it, not taken for it — the first owner's ends
/// at once (the bot is no longer theirs), and the new owner's brings the bot live for them, with
/// their welcome.
#[tokio::test]
async fn a_bot_that_changes_owner_while_its_setup_is_queued_is_set_up_for_the_new_owner() {
    let app = spawn_app().await;
    let (_, bot, cookie, csrf) = live_bot_and_owner(&app, "rosa_moving_bot").await;
    let manager = app.tg.handle.sandbox.manager_id();
    // One setup runs, held at Telegram; another waits behind it in the queue.
    app.tg.hold(bot, "setWebhook", 1).await;
    let repair = |cookie: String, csrf: String| {
        let (http, url) = (app.http.clone(), app.url(&format!("/app/bots/{bot}/repair")));
        async move { http.post(url).header("cookie", cookie).form(&[("csrf", csrf)]).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(repair(cookie.clone(), csrf.clone()).await, 303);
    wait_until(T, || async { app.tg.held(bot, "setWebhook").await == 1 }).await;
    assert_eq!(repair(cookie, csrf).await, 303);
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.provision' and state = 'queued'").await, 1);

    let second = app.tg.post("users", json!({ "first_name": "Sol", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": second })).await;
    wait_until(T, || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and owner_user_id = {second}")).await == 1 }).await;
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.provision' and state = 'queued'").await, 2, "the new owner's setup is queued too");
    app.tg.release(bot, "setWebhook", false).await;
    app.drain_jobs(T).await;

    let said: Vec<String> = app.tg.sent_by(manager).await.iter().filter(|m| m["chat_id"] == json!(second)).map(text_of).collect();
    assert!(said.iter().any(|t| t.contains("is now yours")), "the new owner's welcome: {said:?}");
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, bellhop::domain::UserId(second)).await.unwrap().unwrap().id;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {bot} and tenant_id = {} and status = 'live'", tenant.0)).await, 1);
    let webhook = app.tg.get(&format!("bots/{bot}")).await["webhook"].clone();
    assert!(webhook["url"].is_string(), "{webhook}");
    assert_eq!(webhook["secret_token"].as_str().unwrap(), stored_secret(&app, bot).await, "Telegram holds the secret stored");
    app.stop().await.unwrap();
}
