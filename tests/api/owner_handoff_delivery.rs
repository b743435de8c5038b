//! What reaches whom during a handoff when something stands in the way: a reply the customer
//! cannot get (they blocked the bot, it is too long) is reported to whoever wrote it in the
//! manager chat; a long transcript keeps the alert's headline; a conversation that went back to
//! the assistant cannot be taken; a taker who blocked the manager bot does not swallow the
//! customer's messages; a photo sent as a reply is not silently dropped; words written without
//! Reply reach nobody, and the owner is told how to answer; a reply that takes a conversation
//! from the assistant tells the customer a person joined, and one that reaches nobody takes
//! nothing.
use crate::helpers::*;
use crate::owner_lifecycle::{bot_said_to, business, customer, get, manager_said, post, wait_reply};
use crate::owner_team::{invite_token, manager_message, say_to_manager, text_of};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// Whether `user` blocks (or unblocks) `bot`.
async fn block(app: &TestApp, user: i64, bot: i64, blocked: bool) {
    app.tg.post(&format!("users/{user}/block"), json!({ "bot_id": bot, "blocked": blocked })).await;
}

/// Waits until no manager update is queued or running: (done, dead).
async fn manager_jobs_settled(app: &TestApp) -> (i64, i64) {
    wait_until(WAIT, || async { count(app.db(), "select count(*) from jobs where kind = 'manager.update' and state not in ('done', 'dead')").await == 0 }).await;
    (count(app.db(), "select count(*) from jobs where kind = 'manager.update' and state = 'done'").await, count(app.db(), "select count(*) from jobs where kind = 'manager.update' and state = 'dead'").await)
}

#[tokio::test]
async fn an_owners_reply_the_customer_cannot_get_is_reported_in_the_manager_chat() {
    let app = spawn_app().await;
    let b = business(&app, "Nina", "nina_undelivered_bot", "Nina's Nails").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    let alert = manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);

    // Longer than one Telegram message takes: not sent, and the owner is told the limit.
    let long = "Our opening hours are nine to five. ".repeat(120);
    say_to_manager(&app, b.owner, &long, Some(&alert["message_id"])).await;
    manager_message(&app, b.owner, "4,000 characters").await;
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 1, "nothing reached Carl");

    // Carl blocked the bot: the owner is told in plain words, once, and the job ends well.
    block(&app, carl, b.bot, true).await;
    say_to_manager(&app, b.owner, "Hi Carl, Nina here!", Some(&alert["message_id"])).await;
    let note = text_of(&manager_message(&app, b.owner, "could not be delivered").await);
    assert!(note.contains("blocked the bot"), "{note}");
    let (_, dead) = manager_jobs_settled(&app).await;
    assert_eq!(dead, 0, "no manager update gave up");
    let said = manager_said(&app, b.owner).await;
    assert_eq!(said.iter().filter(|t| t.contains("could not be delivered")).count(), 1, "{said:?}");
    assert!(!said.iter().any(|t| t.contains("Sent.")), "{said:?}");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'owner' and delivery = 'failed'").await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {carl} and taken_by is not null")).await, 0, "nobody took a conversation nothing reached");

    // Unblocked, the next reply goes through.
    block(&app, carl, b.bot, false).await;
    say_to_manager(&app, b.owner, "Hi again, Carl!", Some(&alert["message_id"])).await;
    manager_message(&app, b.owner, "Sent.").await;
    let said = wait_reply(&app, b.bot, carl, 2).await;
    assert!(said[1].contains("Hi again, Carl!"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_handoff_alert_keeps_its_headline() {
    use bellhop::domain::conversation::{Author, ConversationId, Delivery, MessageKind};
    use bellhop::storage::conversations::{self, NewMsg};
    let app = spawn_app().await;
    let b = business(&app, "Lotte", "lotte_long_bot", "Lotte's Lutes").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "hello").await;
    wait_reply(&app, b.bot, carl, 1).await;
    let conv = ConversationId(count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await);
    // Twelve long messages (as if Carl had written them): the transcript alone is over 4,000.
    let mut tx = app.db().begin().await.unwrap();
    for i in 0..12 {
        let text = format!("Message {i}: {}", "my lute lost a string and the bridge is cracked, ".repeat(8));
        let m = NewMsg { author: Author::Customer, text: &text, update_id: None, kind: MessageKind::Text, sources: "[]", delivery: Delivery::Sent, model_tokens: 0, question: None };
        conversations::add(&mut tx, b.tenant, conv, &m).await.unwrap();
    }
    tx.commit().await.unwrap();
    app.tg.say(carl, b.bot, "/human").await;
    let alert = text_of(&manager_message(&app, b.owner, "Message 11").await);
    assert!(alert.starts_with("🙋 Carl wants to talk to a person in @lotte_long_bot."), "{alert}");
    assert!(alert.contains("Reply to this message"), "the footer is kept too: {alert}");
    assert!(alert.encode_utf16().count() <= 4096, "{} units", alert.encode_utf16().count());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_conversation_that_went_back_to_the_assistant_cannot_be_taken() {
    use bellhop::domain::UserId;
    use bellhop::domain::conversation::ConversationId;
    use bellhop::storage::team::{self, Took};
    let app = spawn_app().await;
    let b = business(&app, "Tara", "tara_race_bot", "Tara's Tiles").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    let conv = ConversationId(count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await);
    // The timeout sweep (or a Close) committed between the reply's read and its take.
    sqlx::query(&format!("update conversations set mode = 'bot', handed_off_at = null, taken_by = null where id = {conv}")).execute(&app.db().pool).await.unwrap();
    let took = team::take(app.db(), b.tenant, conv, UserId(b.owner), false).await.unwrap();
    assert_ne!(took, Took::Now, "a conversation with the assistant is nobody's to take");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and taken_by is null and mode = 'bot'")).await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn when_the_teammate_who_took_a_conversation_blocks_the_manager_bot_the_rest_of_the_team_hears_the_customer() {
    let app = spawn_app().await;
    let b = business(&app, "Rita", "rita_fallback_bot", "Rita's Rugs").await;
    let manager = app.tg.handle.sandbox.manager_id();
    let page = crate::owner_team::made_invite(&app, &b.cookie, &b.csrf).await;
    let tom = app.tg.user("Tom").await;
    say_to_manager(&app, tom, &format!("/start {}", invite_token(&page)), None).await;
    manager_message(&app, tom, "You're on the team of Rita's Rugs").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    let for_tom = manager_message(&app, tom, "Carl wants to talk to a person").await;
    say_to_manager(&app, tom, "Hi Carl, Tom here.", Some(&for_tom["message_id"])).await;
    manager_message(&app, b.owner, "Tom took the conversation with Carl").await;
    // Tom blocks the manager bot: Carl's next message reaches the owner instead of nobody.
    block(&app, tom, manager, true).await;
    app.tg.say(carl, b.bot, "Do you have a red rug?").await;
    manager_message(&app, b.owner, "red rug").await;
    // Marked sent once Telegram's answer is back, which may be just after the owner has it.
    let sent = "select count(*) from conversation_messages where author = 'customer' and text = 'Do you have a red rug?' and delivery = 'sent'";
    wait_until(WAIT, || async { count(app.db(), sent).await == 1 }).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_photo_the_owner_sends_as_a_reply_is_not_dropped_silently() {
    let app = spawn_app().await;
    let b = business(&app, "Pia", "pia_photo_bot", "Pia's Prints").await;
    let manager = app.tg.handle.sandbox.manager_id();
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    let alert = manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    app.tg.post(&format!("users/{}/messages", b.owner), json!({ "bot_id": manager, "media": "photo", "text": "This one?", "reply_to_message_id": alert["message_id"] })).await;
    let note = text_of(&manager_message(&app, b.owner, "Only text").await);
    assert!(note.contains("not sent"), "{note}");
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("I'm the bellhop manager bot")), "not the generic help");
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 1, "nothing half-sent to Carl");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn words_the_owner_writes_without_reply_reach_nobody_and_the_owner_is_told_how_to_answer() {
    let app = spawn_app().await;
    let b = business(&app, "Sam", "harbor_hint_bot", "Harbor Bikes").await;
    let manager = app.tg.handle.sandbox.manager_id();
    let alex = customer(&app, "Alex", b.bot).await;
    app.tg.say(alex, b.bot, "/human").await;
    let alert = manager_message(&app, b.owner, "Alex wants to talk to a person").await;
    assert_eq!(wait_reply(&app, b.bot, alex, 1).await.len(), 1);
    // ✍️ Reply: the prompt names the customer and the bot (a customer may talk to two of them).
    let reply = alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{}/callbacks", b.owner), json!({ "bot_id": manager, "message_id": alert["message_id"], "data": reply })).await;
    let prompt = manager_message(&app, b.owner, "Write your reply").await;
    assert!(text_of(&prompt).contains("Write your reply to Alex (@harbor_hint_bot)"), "{}", text_of(&prompt));
    say_to_manager(&app, b.owner, "Yes, we rent tandems.", Some(&prompt["message_id"])).await;
    manager_message(&app, b.owner, "Sent.").await;
    wait_reply(&app, b.bot, alex, 2).await;
    // Then words without Reply: they reach nobody, and the owner is told so, and how to answer.
    say_to_manager(&app, b.owner, "Also we can do a lemon flavour", None).await;
    let hint = text_of(&manager_message(&app, b.owner, "wasn't sent to anyone").await);
    assert!(hint.contains("To answer Alex (@harbor_hint_bot), tap ✍️ Reply under their message"), "{hint}");
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("I'm the bellhop manager bot")), "not the generic help");
    // Two customers waiting: how many, each named, and that each has its own Reply button.
    let mia = customer(&app, "Mia", b.bot).await;
    app.tg.say(mia, b.bot, "/human").await;
    manager_message(&app, b.owner, "Mia wants to talk to a person").await;
    say_to_manager(&app, b.owner, "hello?", None).await;
    let hint = text_of(&manager_message(&app, b.owner, "2 customers are waiting").await);
    assert!(hint.contains("Mia (@harbor_hint_bot)") && hint.contains("Alex (@harbor_hint_bot)") && hint.contains("Each has its own ✍️ Reply button"), "{hint}");
    app.drain_jobs(WAIT).await;
    assert_eq!(bot_said_to(&app, b.bot, alex).await.len(), 2, "nothing more reached Alex");
    assert_eq!(bot_said_to(&app, b.bot, mia).await.len(), 1, "nor Mia");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_reply_after_close_tells_the_customer_a_person_joined_and_their_next_question_reaches_the_team() {
    let app = spawn_app().await;
    let b = business(&app, "Sam", "sam_reopen_bot", "Sam's Bakery").await;
    let manager = app.tg.handle.sandbox.manager_id();
    let alex = customer(&app, "Alex", b.bot).await;
    app.tg.say(alex, b.bot, "/human").await;
    let alert = manager_message(&app, b.owner, "Alex wants to talk to a person").await;
    wait_reply(&app, b.bot, alex, 1).await;
    say_to_manager(&app, b.owner, "Hi Alex, Sam here.", Some(&alert["message_id"])).await;
    let said = wait_reply(&app, b.bot, alex, 2).await;
    assert!(said[1].contains("Sam here") && !said[1].contains("joined"), "already with a person: no note {said:?}");
    // ✅ Close: back with the assistant, and Alex is told so.
    let close = alert["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{}/callbacks", b.owner), json!({ "bot_id": manager, "message_id": alert["message_id"], "data": close })).await;
    wait_reply(&app, b.bot, alex, 3).await;
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {alex} and mode = 'bot'")).await, 1);
    // A reply to the older message still reaches Alex, who is told a person answers from now on.
    say_to_manager(&app, b.owner, "One more thing: we bake on Sundays too.", Some(&alert["message_id"])).await;
    let said = wait_reply(&app, b.bot, alex, 4).await;
    assert!(said[3].starts_with("A person from the team has joined the chat") && said[3].contains("we bake on Sundays too"), "{said:?}");
    // And Alex's next question reaches the team instead of vanishing.
    app.tg.say(alex, b.bot, "Do you have vegan bread?").await;
    manager_message(&app, b.owner, "vegan bread").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_reply_that_reaches_nobody_leaves_the_conversation_with_the_assistant() {
    let app = spawn_app().await;
    let b = business(&app, "Nina", "nina_blocked_bot", "Nina's Nails").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "hello").await;
    wait_reply(&app, b.bot, carl, 1).await;
    let conv = count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await;
    // Carl blocked the bot; the owner answers him from the admin page: not delivered, and the
    // conversation stays with the assistant.
    block(&app, carl, b.bot, true).await;
    let (status, location, page) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "Hi Carl, Nina here.")]).await;
    // Redirected to the page, which says so: reloading it sends nothing again.
    assert_eq!((status, location.as_str()), (303, format!("/app/conversations/{conv}?done=not_delivered&why=0").as_str()), "{page}");
    for _ in 0..2 {
        let (status, page) = get(&app, &b.cookie, &location).await;
        assert_eq!(status, 200);
        assert!(page.contains("could not be delivered: the customer has blocked the bot"), "{page}");
    }
    let copies = format!("select count(*) from conversation_messages where conversation_id = {conv} and author = 'owner'");
    assert_eq!(count(app.db(), &copies).await, 1, "one copy, marked not delivered");
    let with_assistant = format!("select count(*) from conversations where id = {conv} and mode = 'bot' and taken_by is null and handed_off_at is null");
    assert_eq!(count(app.db(), &with_assistant).await, 1, "a reply that reached nobody took nothing");
    // The same from the manager chat, after a handoff the owner closed.
    block(&app, carl, b.bot, false).await;
    app.tg.say(carl, b.bot, "/human").await;
    let alert = manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    wait_reply(&app, b.bot, carl, 2).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/close"), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    wait_reply(&app, b.bot, carl, 3).await;
    block(&app, carl, b.bot, true).await;
    say_to_manager(&app, b.owner, "Hi again, Carl!", Some(&alert["message_id"])).await;
    manager_message(&app, b.owner, "could not be delivered").await;
    manager_jobs_settled(&app).await;
    assert_eq!(count(app.db(), &with_assistant).await, 1, "a reply that reached nobody took nothing");
    app.stop().await.unwrap();
}
