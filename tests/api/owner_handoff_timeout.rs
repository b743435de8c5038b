//! Issue 17, item 4 (part): a customer who asks for a person and gets no reply within the bot's
//! handoff timeout goes back to the assistant and is told so, in their language — once; a
//! conversation the owner has replied in stays with the owner; a timeout of 0 waits for the owner.
//! A conversation the owner answered and then left for `answering.handoff_idle_hours` goes back
//! to the assistant too, and the team is told.
use bellhop::domain::conversation::{Author, ConversationId, Delivery, MessageKind};
use crate::helpers::*;
use crate::owner_lifecycle::{Business, bot_said_to, business, customer, manager_said, post, wait_reply};
use crate::owner_team::{manager_message, text_of};
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
    // Waited 61 minutes too, but the owner replied (from the admin page, a minute after the
    // handoff): stays with the owner. (The reply used to move the handoff's time to after itself,
    // so it never counted as an answer, and the customer was told nobody was free.)
    let answered = customer(&app, "Greta", b.bot).await;
    app.tg.say(answered, b.bot, "/human").await;
    let conv = handed_off(&app, b.bot, answered, 0).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "On my way!")]).await;
    assert_eq!(status, 303);
    assert_eq!(wait_reply(&app, b.bot, answered, 2).await.len(), 2);
    for sql in [format!("update conversations set handed_off_at = handed_off_at - 3660000 where id = {conv}"), format!("update conversation_messages set created_at = created_at - 3660000 where conversation_id = {conv}")] {
        sqlx::query(&sql).execute(&app.db().pool).await.unwrap();
    }
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
    assert_eq!(wait_reply(&app, b.bot, answered, 2).await.len(), 2, "and the customer was not told nobody was free");
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

/// The owner's Close pressed twice at once (the manager chat's button and the admin page): the
/// conversation goes back to the assistant once and the customer is told once.
#[tokio::test]
async fn closing_a_handoff_twice_at_once_tells_the_customer_once() {
    let app = spawn_app().await;
    let b = business(&app, "Mira", "mira_close_bot", "Mira's Maps").await;
    let c = customer(&app, "Otto", b.bot).await;
    app.tg.say(c, b.bot, "/human").await;
    let conv = ConversationId(handed_off(&app, b.bot, c, 0).await);
    let close = || bellhop::answering::handoff::close(&app.state.db, &app.state.bots, b.tenant, conv);
    let (one, two) = tokio::join!(close(), close());
    assert!(one.unwrap() && two.unwrap());
    assert_eq!(mode(&app, c).await, "bot");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert_eq!(said.len(), 2, "the handoff note and one notice: {said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and kind = 'closed'")).await, 1);
    app.stop().await.unwrap();
}

/// A notice that the conversation went back to the assistant, stored but not sent (its worker
/// was killed right after the commit, or Telegram failed for a moment; no job retries it), is
/// sent by the handoff sweep — once.
#[tokio::test]
async fn a_notice_whose_sending_was_cut_short_is_sent_by_the_sweep_once() {
    let app = spawn_app().await;
    let b = business(&app, "Nils", "nils_sweep_bot", "Nils's Nuts").await;
    let c = customer(&app, "Pia", b.bot).await;
    app.tg.say(c, b.bot, "/human").await;
    let conv = handed_off(&app, b.bot, c, 0).await;
    // As a close cut short leaves it: back with the assistant, the notice stored, unsent.
    let mut tx = app.db().begin().await.unwrap();
    assert!(conversations::end_handoff(&mut *tx, b.tenant, ConversationId(conv)).await.unwrap());
    conversations::add(&mut tx, b.tenant, ConversationId(conv), &NewMsg { author: Author::Bot, text: "You're back with the assistant.", update_id: None, kind: MessageKind::Closed, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query(&format!("update conversation_messages set created_at = created_at - 120000 where conversation_id = {conv} and kind = 'closed'")).execute(&app.db().pool).await.unwrap();
    // Another customer's notice, no longer true: they asked for a person again since.
    let again = customer(&app, "Quinn", b.bot).await;
    app.tg.say(again, b.bot, "/human").await;
    let again_conv = handed_off(&app, b.bot, again, 0).await;
    let mut tx = app.db().begin().await.unwrap();
    conversations::add(&mut tx, b.tenant, ConversationId(again_conv), &NewMsg { author: Author::Bot, text: "You're back with the assistant.", update_id: None, kind: MessageKind::Closed, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query(&format!("update conversation_messages set created_at = created_at - 120000 where conversation_id in ({conv}, {again_conv}) and kind = 'closed'")).execute(&app.db().pool).await.unwrap();
    // The sweep runs every 20 s.
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert_eq!(said[1], "You're back with the assistant.");
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(wait_reply(&app, b.bot, c, 2).await.len(), 2, "sent once");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and kind = 'closed' and delivery = 'sent'")).await, 1);
    assert_eq!(bot_said_to(&app, b.bot, again).await.len(), 1, "a notice no longer true is not sent");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {again_conv} and kind = 'closed' and delivery = 'failed'")).await, 1, "and not tried again");
    app.stop().await.unwrap();
}

/// `/human` whose job fails right after the conversation was handed over (here: storing the
/// customer's note fails once) is retried, and the retry still tells the customer and the team:
/// the mode change and the note are one commit. (Before, the mode change was committed first; the
/// retry took the conversation as already with a person and said nothing.)
#[tokio::test]
async fn a_handoff_whose_job_failed_half_way_still_tells_the_customer_when_retried() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "200");
    })
    .await;
    let b = business(&app, "Vera", "vera_retry_bot", "Vera's Vases").await;
    let c = customer(&app, "Walt", b.bot).await;
    let db = app.db();
    let (fail, unfail): (&[&str], &[&str]) = if engine() == "postgres" {
        (
            &[
                "create function bellhop_test_fail_note() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$",
                "create trigger bellhop_test_fail_note before insert on conversation_messages for each row when (new.kind = 'handoff') execute function bellhop_test_fail_note()",
            ],
            &["drop trigger bellhop_test_fail_note on conversation_messages", "drop function bellhop_test_fail_note()"],
        )
    } else {
        (
            &["create trigger bellhop_test_fail_note before insert on conversation_messages when new.kind = 'handoff' begin select raise(abort, 'injected failure'); end"],
            &["drop trigger bellhop_test_fail_note"],
        )
    };
    for sql in fail {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
    app.tg.say(c, b.bot, "/human").await;
    wait_until(WAIT, || async { count(db, "select count(*) from jobs where kind = 'bot.update' and attempts >= 1 and last_error like '%injected failure%'").await >= 1 }).await;
    for sql in unfail {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].contains("person"), "the customer is told: {said:?}");
    assert_eq!(mode(&app, c).await, "human");
    wait_until(WAIT, || async { crate::owner_lifecycle::manager_said(&app, b.owner).await.iter().any(|t| t.contains("wants to talk to a person")) }).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(bot_said_to(&app, b.bot, c).await.len(), 1, "told once");
    app.stop().await.unwrap();
}

/// Moves the conversation's handoff and every message of it `minutes` into the past.
async fn backdate(app: &TestApp, conv: i64, minutes: i64) {
    let ms = minutes * 60_000;
    for sql in [format!("update conversations set handed_off_at = handed_off_at - {ms} where id = {conv}"), format!("update conversation_messages set created_at = created_at - {ms} where conversation_id = {conv}")] {
        sqlx::query(&sql).execute(&app.db().pool).await.unwrap();
    }
}

/// The owner's reply to the conversation, from its admin page.
async fn reply_from_page(app: &TestApp, b: &Business, conv: i64, text: &str) {
    let (status, _, _) = post(app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", text)]).await;
    assert_eq!(status, 303);
}

/// A handoff the owner answered and then left without a word for more than a day (the default
/// `answering.handoff_idle_hours`, 24) goes back to the assistant: the customer is told in their
/// language, once, the owner in the manager chat, and the assistant answers the customer's next
/// question instead of passing it on to nobody. One the owner answered an hour ago stays with
/// them. (Before, a conversation someone had replied in stayed with them for good.)
#[tokio::test]
async fn a_handoff_the_owner_answered_then_left_for_a_day_goes_back_to_the_assistant() {
    let app = spawn_app().await;
    let b = business(&app, "Olga", "olga_idle_bot", "Olga's Oils").await;
    // Arrange: Greta, answered an hour ago; Pablo (Spanish), answered 25 hours ago.
    let recent = customer(&app, "Greta", b.bot).await;
    app.tg.say(recent, b.bot, "/human").await;
    let recent_conv = handed_off(&app, b.bot, recent, 0).await;
    reply_from_page(&app, &b, recent_conv, "Hi Greta, Olga here.").await;
    assert_eq!(wait_reply(&app, b.bot, recent, 2).await.len(), 2);
    let left = app.tg.post("users", serde_json::json!({ "first_name": "Pablo", "language_code": "es", "started_bots": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.say(left, b.bot, "/human").await;
    let conv = handed_off(&app, b.bot, left, 0).await;
    reply_from_page(&app, &b, conv, "Hola Pablo, soy Olga.").await;
    assert_eq!(wait_reply(&app, b.bot, left, 2).await.len(), 2);
    // Greta's first, so any sweep that finds Pablo's has seen hers too.
    backdate(&app, recent_conv, 60).await;
    backdate(&app, conv, 25 * 60).await;

    // Act: the sweep (every 20 s) finds Pablo's.
    let said = wait_reply(&app, b.bot, left, 3).await;

    // Assert
    assert!(said[2].starts_with("¡Gracias por tu paciencia! Vuelves a hablar con el asistente"), "{said:?}");
    assert_eq!(mode(&app, left).await, "bot");
    let told = text_of(&manager_message(&app, b.owner, "went back to the assistant").await);
    assert!(told.contains("Pablo") && told.contains("24 hours"), "{told}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and kind = 'closed'")).await, 1, "told once");
    assert_eq!(mode(&app, recent).await, "human", "answered an hour ago: still with the owner");
    assert_eq!(wait_reply(&app, b.bot, recent, 2).await.len(), 2, "and Greta was told nothing");
    // Pablo's next question is the assistant's again, not passed on to the owner.
    app.tg.say(left, b.bot, "¿Tienen aceite de oliva de Grecia?").await;
    let said = wait_reply(&app, b.bot, left, 4).await;
    assert!(!said[3].contains("Olga's Oils:"), "{said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and author = 'bot' and update_id is not null and kind in ('fallback', 'answer', 'extractive', 'qa')")).await, 1, "{said:?}");
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("aceite de oliva")), "not passed on to the owner");
    app.stop().await.unwrap();
}
