//! The client's routing and hooks against the sandbox (which enforces Telegram's limits): every
//! method that posts into a chat goes through the client's throttle, not only `sendMessage`, and
//! the application's observer sees every call, throttled or not.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Six invoices at once to one private chat: more than the burst Telegram allows there.
async fn six_invoices(bot: &Bot, chat: i64) -> Vec<Result<Message, TelegramError>> {
    let sends: Vec<_> = (0..6)
        .map(|i| {
            let bot = bot.clone();
            tokio::spawn(async move { bot.call(&SendInvoice::stars(chat, &format!("Pack {i}"), "A pack", &format!("p{i}"), 5)).await })
        })
        .collect();
    let mut out = Vec::new();
    for s in sends {
        out.push(s.await.unwrap());
    }
    out
}

#[tokio::test]
async fn invoices_go_through_the_clients_throttle_like_messages() {
    let sb = TestSandbox::start().await;
    let manager_id = sb.handle.sandbox.manager_id();
    let pat = sb.post("users", json!({ "first_name": "Pat", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    let quinn = sb.post("users", json!({ "first_name": "Quinn", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();

    // Without a throttle the sandbox answers part of the burst with 429, as Telegram would.
    let direct = sb.client.bot(sb.manager());
    let results = six_invoices(&direct, pat).await;
    assert!(results.iter().any(|r| matches!(r, Err(TelegramError::RetryAfter(_)))), "the control run must hit the limit: {results:?}");
    let breaches_before = sb.get("stats").await["limit_breaches"].as_u64().unwrap();

    // With one, every invoice is sent and the sandbox sees no breach.
    let throttled = Client::new(&sb.base).unwrap().with_throttle(ThrottleLimits::default()).bot(sb.manager());
    let results = six_invoices(&throttled, quinn).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(sb.get("stats").await["limit_breaches"].as_u64().unwrap(), breaches_before, "no limit exceeded");
    let mut titles: Vec<String> = sb
        .sent_by(manager_id)
        .await
        .into_iter()
        .filter(|m| m["message"]["chat"]["id"] == json!(quinn))
        .map(|m| m["message"]["invoice"]["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    titles.sort();
    assert_eq!(titles, (0..6).map(|i| format!("Pack {i}")).collect::<Vec<_>>(), "all six invoices are in Quinn's chat");
}

#[tokio::test]
async fn the_observer_sees_every_call_whether_throttled_or_not() {
    let sb = TestSandbox::start().await;
    let manager_id = sb.handle.sandbox.manager_id();
    let ray = sb.post("users", json!({ "first_name": "Ray", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    let seen: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let hook = {
        let seen = seen.clone();
        move |method: &str, outcome: &'static str, _elapsed: std::time::Duration| seen.lock().unwrap().push((method.to_owned(), outcome))
    };
    // The observer installed after the throttle reaches the throttle's sends too.
    let client = Client::new(&sb.base).unwrap().with_throttle(ThrottleLimits::default()).with_observer(hook);
    let bot = client.bot(sb.manager());
    bot.get_me().await.unwrap();
    bot.send_message(&SendMessage::new(ray, "hello")).await.unwrap();
    let stranger = BotToken::parse("999999:AAsomeoneelsesTOKENsomeoneelses123").unwrap();
    assert_eq!(client.bot(stranger).get_me().await, Err(TelegramError::Unauthorized));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![("getMe".to_owned(), "ok"), ("sendMessage".to_owned(), "ok"), ("getMe".to_owned(), "unauthorized")]);
}

/// Six edits at once of one message in `chat`, each to a different text.
async fn six_edits(bot: &Bot, chat: i64, message_id: i64) -> Vec<Result<serde_json::Value, TelegramError>> {
    let edits: Vec<_> = (0..6)
        .map(|i| {
            let bot = bot.clone();
            tokio::spawn(async move { bot.call(&EditMessageText::new(chat, message_id, format!("version {i}"))).await })
        })
        .collect();
    let mut out = Vec::new();
    for e in edits {
        out.push(e.await.unwrap());
    }
    out
}

#[tokio::test]
async fn edits_go_through_the_clients_throttle_like_messages() {
    let sb = TestSandbox::start().await;
    let manager_id = sb.handle.sandbox.manager_id();
    let sam = sb.post("users", json!({ "first_name": "Sam", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    let tess = sb.post("users", json!({ "first_name": "Tess", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();

    // Without a throttle, a burst of edits meets Telegram's flood control like a burst of sends.
    let direct = sb.client.bot(sb.manager());
    let first = direct.send_message(&SendMessage::new(sam, "version -")).await.unwrap();
    let results = six_edits(&direct, sam, first.message_id).await;
    assert!(results.iter().any(|r| matches!(r, Err(TelegramError::RetryAfter(_)))), "the control run must hit the limit: {results:?}");
    let breaches_before = sb.get("stats").await["limit_breaches"].as_u64().unwrap();

    // Through the throttle, every edit is applied and no limit is exceeded.
    let throttled = Client::new(&sb.base).unwrap().with_throttle(ThrottleLimits::default()).bot(sb.manager());
    let first = throttled.send_message(&SendMessage::new(tess, "version -")).await.unwrap();
    let results = six_edits(&throttled, tess, first.message_id).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(sb.get("stats").await["limit_breaches"].as_u64().unwrap(), breaches_before, "no limit exceeded");
    let message = sb.sent_by(manager_id).await.into_iter().find(|m| m["message"]["chat"]["id"] == json!(tess)).unwrap();
    let mut texts: Vec<String> = message["edits"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
    texts.push(message["message"]["text"].as_str().unwrap().to_owned());
    texts.sort();
    let mut want: Vec<String> = (0..6).map(|i| format!("version {i}")).collect();
    want.push("version -".into());
    want.sort();
    assert_eq!(texts, want, "the original and all six edits, each applied once");
}

#[tokio::test]
async fn a_chat_that_answers_429_every_time_gets_a_bounded_number_of_retries() {
    let sb = TestSandbox::start().await;
    let manager_id = sb.handle.sandbox.manager_id();
    let uma = sb.post("users", json!({ "first_name": "Uma", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    sb.post("faults", json!({ "bot_ids": [manager_id], "ratio": 1.0, "retry_after": 1 })).await;
    let limits = ThrottleLimits { max_retries: 2, ..ThrottleLimits::default() };
    let bot = Client::new(&sb.base).unwrap().with_throttle(limits).bot(sb.manager());
    let invoice = bot.call(&SendInvoice::stars(uma, "Pack", "A pack", "p", 5)).await;
    assert_eq!(invoice, Err(TelegramError::RetryAfter(1)), "the last 429 reaches the caller");
    let stats = sb.get("stats").await;
    assert_eq!(stats["injected"], 3, "one call and two retries, then the caller is told: {stats}");
    assert_eq!(stats["early_retries"], 0, "each retry waited its retry_after: {stats}");
}

#[tokio::test]
async fn a_full_chat_queue_refuses_the_next_post_at_once() {
    let sb = TestSandbox::start().await;
    let manager_id = sb.handle.sandbox.manager_id();
    let vic = sb.post("users", json!({ "first_name": "Vic", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    let limits = ThrottleLimits { max_queued_per_chat: 2, ..ThrottleLimits::default() };
    let bot = Client::new(&sb.base).unwrap().with_throttle(limits).bot(sb.manager());
    // Polled once, a call takes its place in the chat's queue and waits for its answer.
    let first = SendMessage::new(vic, "one");
    let second = SendInvoice::stars(vic, "Pack", "A pack", "p", 5);
    let mut a = Box::pin(bot.send_message(&first));
    let mut b = Box::pin(bot.call(&second));
    assert!(futures::poll!(&mut a).is_pending());
    assert!(futures::poll!(&mut b).is_pending());
    // The queue holds two: an edit to the same chat is refused without being sent.
    let third = EditMessageText::new(vic, 1, "three");
    assert_eq!(bot.call(&third).await, Err(TelegramError::QueueFull));
    assert_eq!(a.await.unwrap().text.as_deref(), Some("one"));
    assert!(b.await.unwrap().invoice.is_some());
    assert_eq!(sb.sent_by(manager_id).await.len(), 2, "nothing else reached the chat");
    // Once they are done, the chat takes posts again.
    assert!(bot.send_message(&SendMessage::new(vic, "four")).await.is_ok());
}
