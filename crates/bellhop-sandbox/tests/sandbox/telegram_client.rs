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
