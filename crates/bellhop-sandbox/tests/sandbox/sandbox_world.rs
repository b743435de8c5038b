//! The sandbox behaves as Telegram does beyond the happy path: creation validation, owner
//! changes, pre-checkout timeouts, subscriptions renewing on the clock, webhook retries and
//! `max_connections`, request encodings, privacy mode, and rate limits.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::{BotToken, UserId};
use bellhop_sandbox::SandboxOptions;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use reqwest::Method as Http;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn drain(bot: &Bot) -> Vec<Update> {
    let updates = bot.get_updates(None, 0).await.unwrap();
    if let Some(last) = updates.last() {
        bot.get_updates(Some(last.update_id + 1), 0).await.unwrap();
    }
    updates
}

#[tokio::test]
async fn creation_is_validated_with_telegrams_error_codes() {
    let sb = TestSandbox::start_with(SandboxOptions { bot_create_limit: 2, ..Default::default() }).await;
    let bob = sb.user("Bob").await;
    let open = |username: &str, name: &str| format!("https://t.me/newbot/bellhop_manager_bot/{username}?name={name}");
    let try_create = |link: String, edit: Value| {
        let sb = &sb;
        async move {
            let req = sb.post(&format!("users/{bob}/creation_links"), json!({ "link": link })).await;
            sb.api_raw(Http::POST, &format!("creation_requests/{}/confirm", req["id"].as_str().unwrap()), edit).await
        }
    };
    let cases = [
        (open("ab", "X"), json!({}), "USERNAME_INVALID"),
        (open("pizza-bot", "X"), json!({}), "USERNAME_INVALID"),
        (open("pizza_shop", "X"), json!({}), "USERNAME_SUFFIX_MISSING"),
        (open("pizza_bot", ""), json!({}), "NAME_INVALID"),
        (open("pizza_bot", "X"), json!({ "name": "x".repeat(65) }), "NAME_INVALID"),
        (open("bellhop_manager_bot", "X"), json!({}), "USERNAME_OCCUPIED"),
    ];
    for (link, edit, code) in cases {
        let answer = try_create(link.clone(), edit).await;
        assert_eq!(answer["error"], code, "{link}: {answer}");
    }
    // The user edits the suggested username on the confirm screen.
    let ok = try_create(open("pizza_shop", "Pizza"), json!({ "username": "pizza_shop_bot" })).await;
    assert_eq!(ok["result"]["username"], "pizza_shop_bot", "{ok}");
    assert_eq!(try_create(open("PIZZA_SHOP_BOT", "Pizza"), json!({})).await["error"], "USERNAME_OCCUPIED");
    assert!(try_create(open("second_bot", "Two"), json!({})).await["ok"] == json!(true));
    assert_eq!(try_create(open("third_bot", "Three"), json!({})).await["error"], "BOT_CREATE_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn a_manager_without_bot_management_cannot_create_bots() {
    let sb = TestSandbox::start_with(SandboxOptions { manager_can_manage_bots: false, ..Default::default() }).await;
    let me = sb.client.bot(sb.manager()).get_me().await.unwrap();
    assert_eq!(me.can_manage_bots, Some(false));
    let bob = sb.user("Bob").await;
    let answer = sb.api_raw(Http::POST, &format!("users/{bob}/creation_links"), json!({ "link": "https://t.me/newbot/bellhop_manager_bot/x_bot?name=X" })).await;
    assert_eq!(answer["error"], "MANAGER_PERMISSION_MISSING");
}

#[tokio::test]
async fn keyboard_button_creation_and_owner_change_reach_the_manager() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());
    let mid = sb.handle.sandbox.manager_id();
    let carol = sb.user("Carol").await;
    let dave = sb.user("Dave").await;
    sb.say(carol, mid, "/start").await;
    let button = KeyboardButton {
        text: "Create my bot".into(),
        request_managed_bot: Some(KeyboardButtonRequestManagedBot { request_id: 1, suggested_name: Some("Carol's Cakes".into()), suggested_username: Some("carols_cakes_bot".into()) }),
        ..Default::default()
    };
    let keyboard = ReplyKeyboardMarkup { keyboard: vec![vec![button]], resize_keyboard: Some(true), ..Default::default() };
    manager.send_message(&SendMessage { reply_markup: Some(ReplyMarkup::Keyboard(keyboard)), ..SendMessage::new(carol, "Tap to create") }).await.unwrap();
    let pressed = sb.post(&format!("users/{carol}/keyboard_buttons"), json!({ "bot_id": mid, "text": "Create my bot" })).await;
    let req = &pressed["creation_request"];
    assert_eq!((req["suggested_username"].as_str(), req["suggested_name"].as_str()), (Some("carols_cakes_bot"), Some("Carol's Cakes")));
    let child = sb.post(&format!("creation_requests/{}/confirm", req["id"].as_str().unwrap()), json!({})).await;
    let child_id = child["id"].as_i64().unwrap();
    drain(&manager).await;
    sb.post(&format!("bots/{child_id}/owner"), json!({ "user_id": dave })).await;
    let updates = drain(&manager).await;
    let UpdateKind::ManagedBot(m) = &updates[0].kind else { panic!("{updates:?}") };
    assert_eq!((m.user.id, m.bot.id), (dave, child_id));
    // Only the manager may read the token.
    let other = sb.post("bots", json!({ "username": "other_mgr_bot", "can_manage_bots": true })).await;
    let other_bot = sb.client.bot(BotToken::parse(other["token"].as_str().unwrap()).unwrap());
    assert!(matches!(other_bot.call(&GetManagedBotToken { user_id: UserId(child_id) }).await, Err(TelegramError::BadRequest(_))));
}

#[tokio::test]
async fn an_unanswered_pre_checkout_query_fails_the_payment() {
    let sb = TestSandbox::start_with(SandboxOptions { precheckout_timeout: Duration::from_millis(300), ..Default::default() }).await;
    let manager = sb.client.bot(sb.manager());
    let eve = sb.user("Eve").await;
    sb.say(eve, sb.handle.sandbox.manager_id(), "hi").await;
    let inv = manager.call(&SendInvoice::stars(eve, "Pack", "A pack", "p1", 10)).await.unwrap();
    let pay = sb.post(&format!("users/{eve}/payments"), json!({ "bot_id": sb.handle.sandbox.manager_id(), "message_id": inv.message_id })).await;
    let outcome = sb.payment_outcome(pay["id"].as_str().unwrap()).await;
    assert_eq!(outcome["status"], "failed");
    let late = drain(&manager).await.into_iter().find_map(|u| match u.kind {
        UpdateKind::PreCheckoutQuery(q) => Some(q.id),
        _ => None,
    });
    let answer = manager.call(&AnswerPreCheckoutQuery { pre_checkout_query_id: late.unwrap(), ok: true, error_message: None }).await;
    assert!(matches!(answer, Err(TelegramError::QueryTooOld)), "a late answer is refused");
    // A refusal with a message fails the payment too.
    let pay = sb.post(&format!("users/{eve}/payments"), json!({ "bot_id": sb.handle.sandbox.manager_id(), "message_id": inv.message_id })).await;
    let q = drain(&manager).await.into_iter().find_map(|u| match u.kind {
        UpdateKind::PreCheckoutQuery(q) => Some(q.id),
        _ => None,
    });
    manager.call(&AnswerPreCheckoutQuery { pre_checkout_query_id: q.unwrap(), ok: false, error_message: Some("Sold out".into()) }).await.unwrap();
    let outcome = sb.payment_outcome(pay["id"].as_str().unwrap()).await;
    assert_eq!((outcome["status"].as_str(), outcome["error"].as_str()), (Some("failed"), Some("Sold out")));
}

#[tokio::test]
async fn star_subscriptions_renew_on_the_sandbox_clock_until_canceled() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());
    let mid = sb.handle.sandbox.manager_id();
    let fay = sb.user("Fay").await;
    sb.say(fay, mid, "hi").await;
    drain(&manager).await;
    let link = manager.call(&CreateInvoiceLink::monthly_stars("Monthly", "Monthly plan", "plan:m", 100)).await.unwrap();
    let bad = manager.call(&CreateInvoiceLink { subscription_period: Some(86400), ..CreateInvoiceLink::monthly_stars("M", "M", "m", 1) }).await;
    assert!(matches!(bad, Err(TelegramError::BadRequest(_))), "only 30-day periods exist");
    let pay = sb.post(&format!("users/{fay}/payments"), json!({ "link": link })).await;
    let q = drain(&manager).await.into_iter().find_map(|u| match u.kind {
        UpdateKind::PreCheckoutQuery(q) => Some(q.id),
        _ => None,
    });
    manager.call(&AnswerPreCheckoutQuery { pre_checkout_query_id: q.unwrap(), ok: true, error_message: None }).await.unwrap();
    let first_charge = sb.payment_outcome(pay["id"].as_str().unwrap()).await["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    let payments = |updates: Vec<Update>| -> Vec<SuccessfulPayment> {
        updates.into_iter().filter_map(|u| match u.kind {
            UpdateKind::Message(m) => m.successful_payment,
            _ => None,
        }).collect()
    };
    let first = payments(drain(&manager).await);
    assert_eq!(first[0].is_first_recurring, Some(true));
    let renewed = sb.post("clock/advance", json!({ "seconds": 2_592_000 * 2 })).await;
    assert_eq!(renewed["renewed"], 2);
    let renewals = payments(drain(&manager).await);
    assert_eq!(renewals.len(), 2);
    assert!(renewals.iter().all(|p| p.is_recurring == Some(true) && p.is_first_recurring == Some(false)));
    assert!(renewals[1].subscription_expiration_date > first[0].subscription_expiration_date);
    manager.call(&EditUserStarSubscription { user_id: UserId(fay), telegram_payment_charge_id: first_charge, is_canceled: true }).await.unwrap();
    assert_eq!(sb.post("clock/advance", json!({ "seconds": 2_592_000 * 3 })).await["renewed"], 0);
    assert_eq!(manager.call(&GetStarTransactions::new()).await.unwrap().transactions.len(), 3);
}

#[tokio::test]
async fn webhooks_are_retried_with_backoff_and_respect_max_connections() {
    let sb = TestSandbox::start_with(SandboxOptions { webhook_retry_base: Duration::from_millis(50), ..Default::default() }).await;
    let manager = sb.client.bot(sb.manager());
    let mid = sb.handle.sandbox.manager_id();
    let calls = Arc::new(AtomicUsize::new(0));
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let app = {
        let (calls, active, peak) = (calls.clone(), active.clone(), peak.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let (calls, active, peak) = (calls.clone(), active.clone(), peak.clone());
                async move {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    active.fetch_sub(1, Ordering::SeqCst);
                    // The first two deliveries fail.
                    if n < 2 { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gus = sb.user("Gus").await;
    for i in 0..6 {
        sb.say(gus, mid, &format!("m{i}")).await;
    }
    assert_eq!(manager.call(&GetWebhookInfo {}).await.unwrap().pending_update_count, 6);
    manager.call(&SetWebhook::new(url).max_connections(2)).await.unwrap();
    for _ in 0..200 {
        if manager.call(&GetWebhookInfo {}).await.unwrap().pending_update_count == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let info = manager.call(&GetWebhookInfo {}).await.unwrap();
    assert_eq!(info.pending_update_count, 0, "all delivered after retries");
    assert!(info.last_error_message.unwrap_or_default().contains("500"));
    assert!(calls.load(Ordering::SeqCst) >= 8, "two failures were retried");
    assert!(peak.load(Ordering::SeqCst) <= 2, "max_connections=2 honoured, peak {}", peak.load(Ordering::SeqCst));
}

#[tokio::test]
async fn get_query_form_and_multipart_requests_are_understood() {
    let sb = TestSandbox::start().await;
    let token = sb.manager();
    let url = |m: &str| format!("{}/bot{}/{m}", sb.base, token.expose());
    let http = reqwest::Client::new();
    let me: Value = http.get(url("getMe")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["result"]["can_manage_bots"], true);
    let set: Value = http.post(url("setMyCommands")).form(&[("commands", r#"[{"command":"start","description":"Begin"}]"#)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(set["ok"], true, "{set}");
    let q: Value = http.get(url("setMyName?name=Desk")).send().await.unwrap().json().await.unwrap();
    assert_eq!(q["ok"], true);
    let form = reqwest::multipart::Form::new()
        .text("photo", r#"{"type":"static","photo":"attach://pic"}"#)
        .part("pic", reqwest::multipart::Part::bytes([&[0xFFu8, 0xD8, 0xFF][..], &[0u8; 1231]].concat()).file_name("p.jpg"));
    let photo: Value = http.post(url("setMyProfilePhoto")).multipart(form).send().await.unwrap().json().await.unwrap();
    assert_eq!(photo["ok"], true, "{photo}");
    let bot = sb.get(&format!("bots/{}", sb.handle.sandbox.manager_id())).await;
    assert_eq!((bot["commands"][0]["command"].as_str(), bot["name"].as_str(), bot["profile_photo"].as_str()), (Some("start"), Some("Desk"), Some("1234 bytes")));
    let unknown = http.post(format!("{}/bot123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/getMe", sb.base)).send().await.unwrap();
    assert_eq!(unknown.status(), 401);
    assert_eq!(unknown.json::<Value>().await.unwrap(), json!({ "ok": false, "error_code": 401, "description": "Unauthorized" }));
    let bad: Value = http.post(url("sendMessage")).json(&json!({ "chat_id": 1, "text": "<b>x" , "parse_mode": "HTML"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(bad["error_code"], 400);
    assert!(bad["description"].as_str().unwrap().starts_with("Bad Request: "), "{bad}");
}

#[tokio::test]
async fn groups_apply_privacy_mode() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());
    let mid = sb.handle.sandbox.manager_id();
    let hal = sb.user("Hal").await;
    let group = sb.post("groups", json!({ "title": "Team", "user_ids": [hal], "bot_ids": [mid] })).await;
    let gid = group["id"].as_i64().unwrap();
    for text in ["just chatting", "/help", "/help@someone_else_bot", "hey @bellhop_manager_bot"] {
        sb.post(&format!("users/{hal}/messages"), json!({ "chat_id": gid, "text": text })).await;
    }
    let seen: Vec<String> = drain(&manager).await.into_iter().filter_map(|u| match u.kind {
        UpdateKind::Message(m) => m.text,
        _ => None,
    }).collect();
    assert_eq!(seen, vec!["/help", "hey @bellhop_manager_bot"]);
    let sent = manager.send_message(&SendMessage::new(gid, "Hello team")).await.unwrap();
    sb.post(&format!("users/{hal}/messages"), json!({ "chat_id": gid, "text": "thanks", "reply_to_message_id": sent.message_id })).await;
    assert_eq!(drain(&manager).await.len(), 1, "replies to the bot are seen");
}

#[tokio::test]
async fn the_sandbox_answers_429_when_a_bot_floods_a_chat() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());
    let ivy = sb.user("Ivy").await;
    sb.say(ivy, sb.handle.sandbox.manager_id(), "hi").await;
    let mut results = Vec::new();
    for i in 0..8 {
        results.push(manager.send_message(&SendMessage::new(ivy, format!("m{i}"))).await);
    }
    let limited = results.iter().filter(|r| matches!(r, Err(TelegramError::RetryAfter(_)))).count();
    assert!(results[0].is_ok() && limited >= 3, "{results:?}");
    let stats = sb.get("stats").await;
    assert!(stats["limit_breaches"].as_u64().unwrap() >= 1);
    let blocked = manager.send_message(&SendMessage::new(ivy, "again")).await;
    assert!(matches!(blocked, Err(TelegramError::RetryAfter(_))));
    assert!(sb.get("stats").await["early_retries"].as_u64().unwrap() >= 1);
    // Users who never wrote to the bot cannot be messaged first.
    let jay = sb.user("Jay").await;
    assert!(matches!(manager.send_message(&SendMessage::new(jay, "hi")).await, Err(TelegramError::CantInitiateConversation)));
}
