//! Moving a bot between Bot API servers (issue 18, item 4), over raw HTTP as Telegram answers:
//! after `logOut` every call is refused with 400 `Logged out` for 10 minutes (`logOut` again
//! too), and the webhook and waiting updates are gone; then any call logs the bot in again.
//! `close` is 429 in the first 10 minutes after the bot was launched, and a call after it
//! launches the bot again. A sandbox started as a local server accepts the tokens the cloud
//! sandbox knows — and only those — and its users' messages reach the bot there. The 10 minutes
//! pass on the sandbox clock (`clock/advance`), not in real time.
use crate::sandbox_support::TestSandbox;
use bellhop_sandbox::SandboxOptions;
use serde_json::{Value, json};

async fn call(sb: &TestSandbox, token: &str, method: &str, body: Value) -> Value {
    sb.http.post(format!("{}/bot{token}/{method}", sb.base)).json(&body).send().await.unwrap().json().await.unwrap()
}

async fn advance(sb: &TestSandbox, seconds: i64) {
    sb.post("clock/advance", json!({ "seconds": seconds })).await;
}

fn refused(answer: &Value, code: i64, description: &str) {
    assert_eq!(answer["ok"], json!(false), "{answer}");
    assert_eq!(answer["error_code"], json!(code), "{answer}");
    assert_eq!(answer["description"], json!(description), "{answer}");
}

/// A 429 from `close` with `retry_after` the lock-out's seconds left: `seconds`, or one fewer
/// when a second of real time ticked over between the launch and this call (the sandbox's clock,
/// like Telegram's answer, counts whole seconds).
fn closed_too_early(answer: &Value, seconds: u64) {
    let left = answer["parameters"]["retry_after"].as_u64().unwrap_or_else(|| panic!("no retry_after: {answer}"));
    assert!(left == seconds || left + 1 == seconds, "retry_after {left}, expected {seconds}: {answer}");
    refused(answer, 429, &format!("Too Many Requests: retry after {left}"));
}

async fn cloud() -> TestSandbox {
    TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await
}

#[tokio::test]
async fn after_log_out_every_call_is_refused_with_logged_out_for_ten_minutes_then_any_call_logs_the_bot_in_again() {
    let sb = cloud().await;
    let token = sb.manager().expose().to_owned();
    let bot = sb.handle.sandbox.manager_id();
    let user = sb.user("Alex").await;
    assert_eq!(call(&sb, &token, "setWebhook", json!({ "url": "http://127.0.0.1:9/hook" })).await["ok"], json!(true));
    sb.say(user, bot, "waiting at Telegram").await;

    assert_eq!(call(&sb, &token, "logOut", json!({})).await, json!({ "ok": true, "result": true }));
    refused(&call(&sb, &token, "getMe", json!({})).await, 400, "Logged out");
    refused(&call(&sb, &token, "logOut", json!({})).await, 400, "Logged out");
    refused(&call(&sb, &token, "setWebhook", json!({ "url": "http://127.0.0.1:9/hook" })).await, 400, "Logged out");
    let state = sb.get(&format!("bots/{bot}")).await;
    assert!(state["webhook"].is_null(), "logOut drops the webhook: {state}");
    assert_eq!(state["webhook_info"]["pending_update_count"], json!(0), "logOut drops the waiting updates");

    advance(&sb, 599).await;
    refused(&call(&sb, &token, "getMe", json!({})).await, 400, "Logged out");
    advance(&sb, 1).await;
    let me = call(&sb, &token, "getMe", json!({})).await;
    assert_eq!(me["result"]["id"], json!(bot), "after 10 minutes a call logs the bot in again: {me}");
    assert_eq!(sb.get(&format!("bots/{bot}")).await["logged_out"], json!(false));
    assert_eq!(call(&sb, &token, "getWebhookInfo", json!({})).await["result"]["url"], json!(""), "logged in again without a webhook");
}

#[tokio::test]
async fn close_is_refused_with_429_in_the_first_ten_minutes_after_the_bot_is_launched_and_a_call_launches_it_again() {
    let sb = cloud().await;
    let token = sb.manager().expose().to_owned();
    let bot = sb.handle.sandbox.manager_id();
    // The first call launches the bot.
    assert_eq!(call(&sb, &token, "deleteWebhook", json!({})).await["ok"], json!(true));
    advance(&sb, 60).await;
    let early = call(&sb, &token, "close", json!({})).await;
    closed_too_early(&early, 540);

    advance(&sb, 540).await;
    assert_eq!(call(&sb, &token, "close", json!({})).await, json!({ "ok": true, "result": true }));
    assert!(sb.get(&format!("bots/{bot}")).await["launched_at"].is_null(), "closed: not running");
    // Any call launches it again, and the 10 minutes start over.
    assert_eq!(call(&sb, &token, "getMe", json!({})).await["ok"], json!(true));
    assert!(!sb.get(&format!("bots/{bot}")).await["launched_at"].is_null(), "launched again by the call");
    closed_too_early(&call(&sb, &token, "close", json!({})).await, 600);
}

#[tokio::test]
async fn a_local_server_accepts_the_tokens_the_cloud_knows_and_refuses_others_and_its_users_reach_the_bot() {
    let cloud = cloud().await;
    let owner = cloud.user("Sam").await;
    let child = cloud.create_managed_bot(owner, "sunrise_move_bot", "Sunrise").await;
    let (child_id, child_token) = (child["id"].as_i64().unwrap(), cloud.get(&format!("bots/{}", child["id"])).await["token"].as_str().unwrap().to_owned());
    let local = TestSandbox::start_with(SandboxOptions { enforce_limits: false, local_for: Some(cloud.base.clone()), ..Default::default() }).await;
    assert_eq!(local.handle.sandbox.manager_id(), cloud.handle.sandbox.manager_id(), "the local server serves the cloud's manager bot");

    let me = call(&local, &child_token, "getMe", json!({})).await;
    assert_eq!(me["result"]["id"], json!(child_id), "{me}");
    assert_eq!(me["result"]["username"], json!("sunrise_move_bot"));
    let forged = format!("{child_id}:AAforgedforgedforgedforgedforgedforg");
    refused(&call(&local, &forged, "getMe", json!({})).await, 401, "Unauthorized");
    refused(&call(&local, "424242:AAunknownunknownunknownunknownunknow", "getMe", json!({})).await, 401, "Unauthorized");
    // Learning a bot is not a Bot API call on the cloud: the bot was not launched there.
    assert!(cloud.get(&format!("bots/{child_id}")).await["launched_at"].is_null(), "the cloud launched the bot");

    // The owner is known on the local server with the same id; its own users write to the bot.
    assert!(local.get("users").await.as_array().unwrap().iter().any(|u| u["id"] == json!(owner)), "the owner is copied");
    let customer = local.user("Alex").await;
    assert_ne!(customer, owner, "a user made on the local server gets a new id");
    local.say(customer, child_id, "Are you open today?").await;
    let updates = call(&local, &child_token, "getUpdates", json!({ "timeout": 0 })).await;
    assert_eq!(updates["result"][0]["message"]["text"], json!("Are you open today?"), "{updates}");
    assert_eq!(updates["result"][0]["message"]["from"]["id"], json!(customer));
}
