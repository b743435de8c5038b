//! Faults of one method, injected through the control API: an error envelope with Telegram's
//! own text (nothing happens), a lost response (it happened, the client cannot tell), and held
//! calls released in a chosen order.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use serde_json::json;

async fn bot_and_customer(sb: &TestSandbox, username: &str) -> (Bot, i64, i64) {
    let created = sb.post("bots", json!({ "username": username })).await;
    let bot_id = created["id"].as_i64().unwrap();
    let token = BotToken::parse(created["token"].as_str().unwrap()).unwrap();
    let customer = sb.post("users", json!({ "first_name": "Carl", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    (sb.client.bot(token), bot_id, customer)
}

#[tokio::test]
async fn an_injected_error_fails_the_next_calls_with_telegrams_envelope_and_sends_nothing() {
    let sb = TestSandbox::start().await;
    let (bot, bot_id, customer) = bot_and_customer(&sb, "faulty_shop_bot").await;
    sb.fail_method(bot_id, "sendMessage", 2, 403, "Forbidden: bot was blocked by the user").await;
    for _ in 0..2 {
        let e = bot.send_message(&SendMessage::new(customer, "hello")).await.unwrap_err();
        assert_eq!(e, TelegramError::BotBlocked);
    }
    assert!(sb.sent_by(bot_id).await.is_empty(), "a failed call sends nothing");
    bot.send_message(&SendMessage::new(customer, "hello")).await.expect("the third call goes through");
    assert_eq!(sb.sent_by(bot_id).await.len(), 1);
    // Other methods and bots are untouched; a 500 keeps its text.
    sb.fail_method(bot_id, "getMe", 1, 500, "Internal Server Error").await;
    assert_eq!(bot.get_me().await.unwrap_err(), TelegramError::Server("Internal Server Error".into()));
    let bad = sb.api_raw(reqwest::Method::POST, "faults/methods", json!({ "bot_id": bot_id, "method": "getMe", "error_code": 403 })).await;
    assert_eq!(bad["error"], "FAULT_INVALID", "an error without Telegram's description is refused: {bad}");
}

#[tokio::test]
async fn a_lost_response_delivers_the_message_but_the_client_gets_no_answer() {
    let sb = TestSandbox::start().await;
    let (bot, bot_id, customer) = bot_and_customer(&sb, "lossy_shop_bot").await;
    sb.lose_response(bot_id, "sendMessage", 1).await;
    let e = bot.send_message(&SendMessage::new(customer, "did this arrive?")).await.unwrap_err();
    assert!(e.may_have_taken_effect(), "{e:?}");
    let sent = sb.sent_by(bot_id).await;
    assert_eq!(sent.len(), 1, "the message was delivered all the same");
    assert_eq!(sent[0]["message"]["text"], "did this arrive?");
}

#[tokio::test]
async fn held_calls_wait_for_their_release_and_go_newest_first_when_asked() {
    let sb = TestSandbox::start().await;
    let (bot, bot_id, customer) = bot_and_customer(&sb, "slow_shop_bot").await;
    sb.hold(bot_id, "sendMessage", 2).await;
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.send_message(&SendMessage::new(customer, "first")).await }
    });
    while sb.held(bot_id, "sendMessage").await < 1 {
        tokio::task::yield_now().await;
    }
    let second = tokio::spawn({
        let bot = bot.clone();
        async move { bot.send_message(&SendMessage::new(customer, "second")).await }
    });
    while sb.held(bot_id, "sendMessage").await < 2 {
        tokio::task::yield_now().await;
    }
    assert!(sb.sent_by(bot_id).await.is_empty(), "held calls have not happened yet");
    assert_eq!(sb.release(bot_id, "sendMessage", true).await, 2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    let texts: Vec<String> = sb.sent_by(bot_id).await.iter().map(|m| m["message"]["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, ["second", "first"], "released newest first, one after the other");
    // Holding ended with the release.
    bot.send_message(&SendMessage::new(customer, "third")).await.unwrap();
}
