//! `getUpdates` as Telegram answers it (issue 18, item 3: long polling for operators): one poller
//! per bot — a newer request ends the one waiting with 409, word for word; no polling while a
//! webhook is set, and a webhook set during a long poll ends it; a long poll returns the update
//! that arrives while it waits; `offset` confirms what came before it, and nothing else.
use crate::sandbox_support::TestSandbox;
use bellhop_sandbox::SandboxOptions;
use bellhop_telegram::BotToken;
use serde_json::{Value, json};
use std::time::Duration;

async fn setup() -> (TestSandbox, BotToken, i64) {
    let sb = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let manager_id = sb.handle.sandbox.manager_id();
    let token = sb.manager();
    (sb, token, manager_id)
}

/// `getUpdates` over plain HTTP; the whole envelope.
async fn get_updates(sb: &TestSandbox, token: &BotToken, body: Value) -> Value {
    sb.http.post(format!("{}/bot{}/getUpdates", sb.base, token.expose())).json(&body).send().await.unwrap().json().await.unwrap()
}

/// A long poll in the background, started once the sandbox has counted it (it then waits).
async fn background_poll(sb: &TestSandbox, token: &BotToken, bot: i64, body: Value) -> tokio::task::JoinHandle<Value> {
    let before = polls(sb, bot);
    let (http, url) = (sb.http.clone(), format!("{}/bot{}/getUpdates", sb.base, token.expose()));
    let task = tokio::spawn(async move { http.post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while polls(sb, bot) == before {
        assert!(tokio::time::Instant::now() < deadline, "the long poll never reached the sandbox");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task
}

/// How many `getUpdates` requests the sandbox has seen for `bot`.
fn polls(sb: &TestSandbox, bot: i64) -> u64 {
    sb.handle.sandbox.with_world(|w| w.polls.get(&bot).copied().unwrap_or(0))
}

fn ids(answer: &Value) -> Vec<i64> {
    assert_eq!(answer["ok"], json!(true), "{answer}");
    answer["result"].as_array().unwrap().iter().map(|u| u["update_id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_second_poller_of_one_bot_ends_the_waiting_one_with_telegrams_409() {
    let (sb, token, bot) = setup().await;
    let waiting = background_poll(&sb, &token, bot, json!({ "timeout": 50 })).await;
    let newer = get_updates(&sb, &token, json!({ "timeout": 0 })).await;
    assert_eq!(ids(&newer), Vec::<i64>::new(), "the newer request goes on as usual");
    assert_eq!(
        waiting.await.unwrap(),
        json!({ "ok": false, "error_code": 409, "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" })
    );
}

#[tokio::test]
async fn no_polling_while_a_webhook_is_set_and_a_webhook_set_during_a_long_poll_ends_it() {
    let (sb, token, bot) = setup().await;
    let waiting = background_poll(&sb, &token, bot, json!({ "timeout": 50 })).await;
    let set = sb.http.post(format!("{}/bot{}/setWebhook", sb.base, token.expose())).json(&json!({ "url": "http://127.0.0.1:9/hook" })).send().await.unwrap();
    assert!(set.status().is_success());
    assert_eq!(waiting.await.unwrap(), json!({ "ok": false, "error_code": 409, "description": "Conflict: terminated by setWebhook request" }));
    assert_eq!(
        get_updates(&sb, &token, json!({})).await,
        json!({ "ok": false, "error_code": 409, "description": "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" })
    );
    // deleteWebhook: polling works again, and nothing queued meanwhile was dropped.
    let ann = sb.post("users", json!({ "first_name": "Ann", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    sb.http.post(format!("{}/bot{}/deleteWebhook", sb.base, token.expose())).json(&json!({})).send().await.unwrap();
    sb.say(ann, bot, "hello").await;
    assert_eq!(ids(&get_updates(&sb, &token, json!({})).await).len(), 1);
}

#[tokio::test]
async fn a_long_poll_returns_the_update_that_arrives_while_it_waits_and_offset_confirms_only_what_is_below_it() {
    let (sb, token, bot) = setup().await;
    let ann = sb.post("users", json!({ "first_name": "Ann", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    let waiting = background_poll(&sb, &token, bot, json!({ "timeout": 50 })).await;
    sb.say(ann, bot, "one").await;
    let first = ids(&waiting.await.unwrap());
    assert_eq!(first.len(), 1, "the waiting poll gets the message");
    sb.say(ann, bot, "two").await;
    sb.say(ann, bot, "three").await;
    // Not confirmed yet: asked again without an offset, the same updates come back.
    let again = ids(&get_updates(&sb, &token, json!({})).await);
    assert_eq!(again, vec![first[0], first[0] + 1, first[0] + 2]);
    // `limit` takes the oldest; `offset` confirms what is below it and only that.
    assert_eq!(ids(&get_updates(&sb, &token, json!({ "offset": first[0] + 1, "limit": 1 })).await), vec![first[0] + 1]);
    assert_eq!(ids(&get_updates(&sb, &token, json!({})).await), vec![first[0] + 1, first[0] + 2]);
    assert_eq!(ids(&get_updates(&sb, &token, json!({ "offset": first[0] + 3 })).await), Vec::<i64>::new());
    // A short timeout with nothing to deliver answers an empty list.
    assert_eq!(ids(&get_updates(&sb, &token, json!({ "offset": first[0] + 3, "timeout": 1 })).await), Vec::<i64>::new());
}
