//! Issue 17, item 4 (part): a customer who asks for a person and gets no reply within the bot's
//! handoff timeout goes back to the assistant and is told so, in their language — once; a
//! conversation the owner has replied in stays with the owner; a timeout of 0 waits for the owner.
use bellhop::domain::conversation::{Author, ConversationId, Delivery, MessageKind};
use crate::helpers::*;
use crate::owner_lifecycle::{business, customer, post, wait_reply};
use bellhop::storage::conversations::{self, NewMsg};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// The customer's conversation, handed off `minutes_ago` minutes ago (as if it were).
async fn handed_off(app: &TestApp, bot: i64, c: i64, minutes_ago: i64) -> i64 {
    let said = wait_reply(app, bot, c, 1).await;
    assert!(!said.is_empty());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from conversations where chat_id = {c} and mode = 'human'")).await == 1 }).await;
    let at = bellhop::storage::now_ms() - minutes_ago * 60_000;
    sqlx::query(&format!("update conversations set handed_off_at = {at} where chat_id = {c}")).execute(&app.db().pool).await.unwrap();
    sqlx::query_scalar(&format!("select id from conversations where chat_id = {c}")).fetch_one(&app.db().pool).await.unwrap()
}

async fn mode(app: &TestApp, c: i64) -> String {
    sqlx::query_scalar(&format!("select mode from conversations where chat_id = {c}")).fetch_one(&app.db().pool).await.unwrap()
}

#[tokio::test]
async fn an_unanswered_handoff_goes_back_to_the_assistant_and_the_customer_is_told_once() {
    let app = spawn_app().await;
    let b = business(&app, "Lena", "lena_timeout_bot", "Lena's Lamps").await;
    // Waited 61 minutes (the default is 60): back to the assistant, told in Spanish.
    let waited = app.tg.post("users", serde_json::json!({ "first_name": "Pablo", "language_code": "es", "started_bots": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.say(waited, b.bot, "/human").await;
    handed_off(&app, b.bot, waited, 61).await;
    // Waited 61 minutes too, but the owner replied: stays with the owner.
    let answered = customer(&app, "Greta", b.bot).await;
    app.tg.say(answered, b.bot, "/human").await;
    let conv = handed_off(&app, b.bot, answered, 61).await;
    let mut tx = app.db().begin().await.unwrap();
    conversations::add(&mut tx, b.tenant, ConversationId(conv), &NewMsg { author: Author::Owner, text: "On my way!", update_id: None, kind: MessageKind::Owner, sources: "[]", delivery: Delivery::Sent, model_tokens: 0, question: None }).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query(&format!("update conversation_messages set created_at = (select handed_off_at from conversations where id = {conv}) + 1000 where author = 'owner' and conversation_id = {conv}")).execute(&app.db().pool).await.unwrap();
    // Waited 30 minutes: not yet.
    let recent = customer(&app, "Hugo", b.bot).await;
    app.tg.say(recent, b.bot, "/human").await;
    handed_off(&app, b.bot, recent, 30).await;

    let said = wait_reply(&app, b.bot, waited, 2).await;
    assert!(said[1].starts_with("Lo sentimos: nadie pudo responder a tiempo."), "{said:?}");
    assert_eq!(mode(&app, waited).await, "bot");
    // The sweep runs every 20 s: two more rounds change nothing.
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(wait_reply(&app, b.bot, waited, 2).await.len(), 2, "told once");
    assert_eq!(mode(&app, answered).await, "human", "the owner replied: the conversation stays with them");
    assert_eq!(mode(&app, recent).await, "human", "30 minutes is within the hour");
    assert_eq!(wait_reply(&app, b.bot, recent, 1).await.len(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_handoff_timeout_of_zero_waits_for_the_owner_and_a_bad_value_is_refused() {
    let app = spawn_app().await;
    let b = business(&app, "Mona", "mona_timeout_bot", "Mona's Maps").await;
    let path = format!("/app/bots/{}/settings", b.bot);
    let (status, _, body) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("handoff_timeout", "ten")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Waiting for a person: write a number of minutes"), "{body}");
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("handoff_timeout", "0")]).await;
    assert_eq!(status, 303);
    let c = customer(&app, "Ivo", b.bot).await;
    app.tg.say(c, b.bot, "/human").await;
    handed_off(&app, b.bot, c, 60 * 24 * 30).await;
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(mode(&app, c).await, "human", "0: the customer waits for the owner");
    assert_eq!(wait_reply(&app, b.bot, c, 1).await.len(), 1);
    app.stop().await.unwrap();
}
