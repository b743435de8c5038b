//! bellhop's own client runs the Must-show scenario against the sandbox: getMe; set, read and
//! delete a webhook; an update through getUpdates; send and edit messages; a managed bot's
//! token after a simulated creation; a Stars invoice → pre_checkout_query → successful_payment.
use crate::sandbox_support::TestSandbox;
use axum::http::HeaderMap;
use bellhop_telegram::{BotToken, UserId};
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

async fn next_update(bot: &Bot, offset: &mut i64) -> Update {
    for _ in 0..10 {
        let updates = bot.get_updates(Some(*offset), 5).await.expect("getUpdates");
        if let Some(u) = updates.into_iter().next() {
            *offset = u.update_id + 1;
            return u;
        }
    }
    panic!("no update arrived");
}

#[tokio::test]
async fn bellhop_client_passes_the_scenario_against_the_sandbox() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());

    // getMe: the manager bot may manage bots.
    let me = manager.get_me().await.expect("getMe");
    assert!(me.is_bot);
    assert_eq!(me.can_manage_bots, Some(true));

    // Webhook: set, read, receive, delete.
    type Received = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;
    let received: Received = Arc::default();
    let hook = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
                let received = received.clone();
                async move {
                    let secret = headers.get("x-telegram-bot-api-secret-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    received.lock().unwrap().push((secret, body));
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    let set = SetWebhook::new(hook_url.clone()).secret_token("s3cret_value").max_connections(5);
    assert!(manager.call(&set).await.expect("setWebhook"));
    let info = manager.call(&GetWebhookInfo {}).await.expect("getWebhookInfo");
    assert_eq!(info.url, hook_url);
    assert_eq!(info.max_connections, Some(5));
    assert!(matches!(manager.get_updates(None, 0).await, Err(TelegramError::Conflict(_))), "getUpdates must answer 409 while a webhook is set");

    let alice = sb.user("Alice").await;
    sb.say(alice, sb.handle.sandbox.manager_id(), "/start").await;
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 1, "one update by webhook");
        assert_eq!(got[0].0.as_deref(), Some("s3cret_value"));
        let u: Update = serde_json::from_value(got[0].1.clone()).unwrap();
        let UpdateKind::Message(m) = u.kind else { panic!("expected a message") };
        assert_eq!(m.text.as_deref(), Some("/start"));
        assert_eq!(m.entities.unwrap()[0].kind, "bot_command");
    }
    assert!(manager.call(&DeleteWebhook::new()).await.expect("deleteWebhook"));
    assert_eq!(manager.call(&GetWebhookInfo {}).await.unwrap().url, "");

    // getUpdates: long poll picks up a message sent while it waits.
    let mut offset = 0;
    let poll = {
        let manager = manager.clone();
        tokio::spawn(async move { manager.get_updates(None, 5).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    sb.say(alice, sb.handle.sandbox.manager_id(), "hello there").await;
    let updates = poll.await.unwrap().expect("long poll");
    assert_eq!(updates.len(), 1);
    offset = offset.max(updates[0].update_id + 1);
    let UpdateKind::Message(m) = &updates[0].kind else { panic!("expected a message") };
    assert_eq!(m.text.as_deref(), Some("hello there"));
    assert!(manager.get_updates(Some(offset), 0).await.unwrap().is_empty(), "offset confirms updates");

    // Send and edit.
    let keyboard = InlineKeyboardMarkup { inline_keyboard: vec![vec![InlineKeyboardButton::callback("👍", "fb:up")]] };
    let sent = manager
        .send_message(&SendMessage { reply_markup: Some(ReplyMarkup::Inline(keyboard.clone())), ..SendMessage::html(alice, "<b>Hi</b> Alice") })
        .await
        .expect("sendMessage");
    assert_eq!(sent.text.as_deref(), Some("Hi Alice"));
    assert_eq!(sent.entities.as_ref().unwrap()[0].kind, "bold");
    // Telegram drops an inline keyboard that an edit does not repeat.
    let edit = EditMessageText::new(alice, sent.message_id, "Hi again").reply_markup(keyboard);
    let edited = EditMessageText::message(&manager.call(&edit).await.expect("editMessageText")).unwrap();
    assert_eq!(edited.text.as_deref(), Some("Hi again"));
    assert!(edited.edit_date.is_some());
    assert!(matches!(manager.call(&edit).await, Err(TelegramError::MessageNotModified)));
    let transcript = sb.sent_by(sb.handle.sandbox.manager_id()).await;
    assert_eq!(transcript.last().unwrap()["edits"], json!(["<b>Hi</b> Alice"]));
    // A button press arrives as a callback query and is answered.
    let cq = sb.post(&format!("users/{alice}/callbacks"), json!({ "bot_id": sb.handle.sandbox.manager_id(), "message_id": sent.message_id, "data": "fb:up" })).await;
    let u = next_update(&manager, &mut offset).await;
    let UpdateKind::CallbackQuery(q) = u.kind else { panic!("expected a callback query") };
    assert_eq!(q.data.as_deref(), Some("fb:up"));
    assert_eq!(q.message().unwrap().message_id, sent.message_id);
    assert!(manager.call(&AnswerCallbackQuery::new(q.id.clone()).text("Thanks")).await.unwrap());
    assert_eq!(sb.get(&format!("callbacks/{}", cq["callback_query_id"].as_str().unwrap())).await["answered"], json!(true));

    // Managed bot: created by the user, announced to the manager, token fetched.
    let child = sb.create_managed_bot(alice, "alices_pizza_bot", "Alice's Pizza").await;
    let child_id = child["id"].as_i64().unwrap();
    let u = next_update(&manager, &mut offset).await;
    let UpdateKind::ManagedBot(mb) = u.kind else { panic!("expected managed_bot, got {:?}", u.kind) };
    assert_eq!((mb.user.id, mb.bot.id), (alice, child_id));
    assert_eq!(mb.bot.username.as_deref(), Some("alices_pizza_bot"));
    let u = next_update(&manager, &mut offset).await;
    let UpdateKind::Message(service) = u.kind else { panic!("expected the service message") };
    assert_eq!(service.managed_bot_created.unwrap().bot.id, child_id);
    assert_eq!(service.chat.id, alice);
    let token = manager.call(&GetManagedBotToken { user_id: UserId(child_id) }).await.expect("getManagedBotToken");
    let child_bot = sb.client.bot(BotToken::parse(&token).expect("a real token"));
    assert_eq!(child_bot.get_me().await.unwrap().id, child_id);
    assert!(child_bot.call(&SetMyCommands::new(vec![BotCommand { command: "help".into(), description: "How I work".into() }])).await.unwrap());
    assert!(child_bot.call(&SetMyDescription::new().description("Answers about pizza")).await.unwrap());
    let state = sb.get(&format!("bots/{child_id}")).await;
    assert_eq!(state["commands"][0]["command"], "help");
    assert_eq!(state["description"], "Answers about pizza");

    // Token rotation: the old token is dead, the manager hears about it.
    let fresh = manager.call(&ReplaceManagedBotToken { user_id: UserId(child_id) }).await.unwrap();
    assert_ne!(fresh, token);
    assert_eq!(child_bot.get_me().await, Err(TelegramError::Unauthorized));
    let child_bot = sb.client.bot(BotToken::parse(&fresh).unwrap());
    assert!(child_bot.get_me().await.is_ok());
    assert!(matches!(next_update(&manager, &mut offset).await.kind, UpdateKind::ManagedBot(_)));

    // Stars: invoice → pre_checkout_query → answer → successful_payment.
    sb.say(alice, child_id, "I want to buy").await;
    let mut child_offset = 0;
    next_update(&child_bot, &mut child_offset).await;
    let invoice = child_bot.call(&SendInvoice::stars(alice, "100 answers", "A pack of answers", "pack:100", 50)).await.expect("sendInvoice");
    assert_eq!(invoice.invoice.as_ref().unwrap().currency, "XTR");
    let payment = sb.post(&format!("users/{alice}/payments"), json!({ "bot_id": child_id, "message_id": invoice.message_id })).await;
    let u = next_update(&child_bot, &mut child_offset).await;
    let UpdateKind::PreCheckoutQuery(q) = u.kind else { panic!("expected pre_checkout_query") };
    assert_eq!((q.total_amount, q.invoice_payload.as_str(), q.from.id), (50, "pack:100", alice));
    assert!(child_bot.call(&AnswerPreCheckoutQuery { pre_checkout_query_id: q.id, ok: true, error_message: None }).await.unwrap());
    let outcome = sb.payment_outcome(payment["id"].as_str().unwrap()).await;
    assert_eq!(outcome["status"], "paid");
    let u = next_update(&child_bot, &mut child_offset).await;
    let UpdateKind::Message(m) = u.kind else { panic!("expected successful_payment") };
    let paid = m.successful_payment.expect("successful_payment");
    assert_eq!(paid.total_amount, 50);
    assert_eq!(Some(paid.telegram_payment_charge_id.clone()), outcome["telegram_payment_charge_id"].as_str().map(str::to_owned));
    let tx = child_bot.call(&GetStarTransactions::new()).await.unwrap();
    assert_eq!(tx.transactions.len(), 1);
    assert_eq!(tx.transactions[0].id, paid.telegram_payment_charge_id);
    let refund = RefundStarPayment { user_id: UserId(alice), telegram_payment_charge_id: paid.telegram_payment_charge_id.clone() };
    assert!(child_bot.call(&refund).await.unwrap());
    assert!(matches!(child_bot.call(&refund).await, Err(TelegramError::ChargeAlreadyRefunded)));

    sb.handle.shutdown().await.unwrap();
}
