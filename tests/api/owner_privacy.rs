//! Issue 17, item 6 (part): one customer's data — their conversation, the bot's replies, their
//! ratings and the updates they sent — deleted on the owner's request from the conversation
//! page, or by the customer themself with `/forget` after a confirmation in the chat. Other
//! customers' data stays.
use crate::helpers::*;
use crate::owner_lifecycle::{Business, bot_said_to, business, customer, get, post, wait_reply};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// A customer who asked the Q&A question, got the answer and rated it 👍.
async fn customer_with_history(app: &TestApp, b: &Business, name: &str) -> i64 {
    let c = customer(app, name, b.bot).await;
    app.tg.say(c, b.bot, "Do you deliver on Sundays?").await;
    wait_reply(app, b.bot, c, 1).await;
    let answer = app.tg.sent_by(b.bot).await.into_iter().find(|m| m["chat_id"] == json!(c)).unwrap();
    let up = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{c}/callbacks"), json!({ "bot_id": b.bot, "message_id": answer["message_id"], "data": up })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from conversation_messages m join conversations c on c.id = m.conversation_id where c.chat_id = {c} and m.feedback = 1")).await == 1 }).await;
    c
}

/// (conversations, messages, stored updates) of customer `c` with `bot`.
async fn data_of(app: &TestApp, bot: i64, c: i64) -> (i64, i64, i64) {
    (
        count(app.db(), &format!("select count(*) from conversations where bot_id = {bot} and chat_id = {c}")).await,
        count(app.db(), &format!("select count(*) from conversation_messages m join conversations c on c.id = m.conversation_id where c.bot_id = {bot} and c.chat_id = {c}")).await,
        count(app.db(), &format!("select count(*) from telegram_updates where bot_id = {bot} and (user_id = {c} or body like '%\"id\":{c},%')")).await,
    )
}

async fn setup(app: &TestApp, owner: &str, username: &str, name: &str) -> Business {
    let b = business(app, owner, username, name).await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you deliver on Sundays?", "No, Monday to Saturday only.").await.unwrap();
    b
}

#[tokio::test]
async fn the_owner_deletes_one_customers_data_from_the_conversation_page() {
    let app = spawn_app().await;
    let b = setup(&app, "Rosa", "rosa_privacy_bot", "Rosa's Cakes").await;
    let gone = customer_with_history(&app, &b, "Greta").await;
    let stays = customer_with_history(&app, &b, "Hank").await;
    app.drain_jobs(WAIT).await;
    let (convs, msgs, updates) = data_of(&app, b.bot, gone).await;
    assert_eq!((convs, msgs), (1, 2));
    assert!(updates >= 2, "the message and the button press were stored: {updates}");
    let before_other = data_of(&app, b.bot, stays).await;
    let conv: i64 = sqlx::query_scalar(&format!("select id from conversations where chat_id = {gone}")).fetch_one(&app.db().pool).await.unwrap();

    let (_, page) = get(&app, &b.cookie, &format!("/app/conversations/{conv}")).await;
    assert!(page.contains("Delete this customer&#39;s data") || page.contains("Delete this customer's data"), "the page offers it");
    // Without the confirmation box nothing is deleted.
    let (status, _, body) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/delete"), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Nothing was deleted"));
    assert_eq!(data_of(&app, b.bot, gone).await.0, 1);
    // Another business cannot delete it.
    let (_, cookie_x, csrf_x) = app.signed_in_owner(880_003, "Other Business").await;
    let (status, _, _) = post(&app, &cookie_x, &format!("/app/conversations/{conv}/delete"), &[("csrf", &csrf_x), ("confirm", "yes")]).await;
    assert_eq!(status, 404);
    assert_eq!(data_of(&app, b.bot, gone).await.0, 1);

    let (status, location, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, "/app/conversations?deleted=1"));
    assert_eq!(data_of(&app, b.bot, gone).await, (0, 0, 0), "conversation, messages, feedback and stored updates erased");
    assert_eq!(count(app.db(), &format!("select count(*) from relay_messages where conversation_id = {conv}")).await, 0);
    assert_eq!(get(&app, &b.cookie, &format!("/app/conversations/{conv}")).await.0, 404);
    let (_, list) = get(&app, &b.cookie, "/app/conversations?deleted=1").await;
    assert!(list.contains("Deleted.") && !list.contains("Greta") && list.contains("Hank"));
    // The other customer's data is untouched, their 👍 included.
    assert_eq!(data_of(&app, b.bot, stays).await, before_other);
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where feedback = 1").await, 1);
    app.stop().await.unwrap();
}

/// A group's conversation is many people's: deleted from its page, it takes the group's messages
/// and the updates they came in, not the private chat with the bot of whoever spoke last in the
/// group.
#[tokio::test]
async fn deleting_a_groups_conversation_leaves_its_members_private_chats_alone() {
    let app = spawn_app().await;
    let b = setup(&app, "Rosa", "rosa_group_bot", "Rosa's Cakes").await;
    let ann = customer_with_history(&app, &b, "Ann").await;
    let group = app.tg.post("groups", json!({ "title": "Cake lovers", "user_ids": [ann], "bot_ids": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("users/{ann}/messages"), json!({ "bot_id": b.bot, "chat_id": group, "text": "@rosa_group_bot Do you deliver on Sundays?" })).await;
    wait_until(WAIT, || async { app.tg.sent_by(b.bot).await.iter().any(|m| m["chat_id"] == json!(group)) }).await;
    app.drain_jobs(WAIT).await;
    // (The group's id is a long negative number no other update holds.)
    let in_group = format!("select count(*) from telegram_updates where bot_id = {} and body like '%{group}%'", b.bot);
    let private = format!("select count(*) from telegram_updates where bot_id = {} and user_id = {ann} and body not like '%{group}%'", b.bot);
    let private_updates = count(app.db(), &private).await;
    assert!(private_updates >= 2, "Ann's question and her 👍 in her private chat: {private_updates}");
    assert_eq!(count(app.db(), &in_group).await, 1, "her question in the group");
    let conv: i64 = sqlx::query_scalar(&format!("select id from conversations where chat_id = {group}")).fetch_one(&app.db().pool).await.unwrap();
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {group}")).await, 0);
    assert_eq!(count(app.db(), &in_group).await, 0, "the group's update went with its conversation");
    assert_eq!(count(app.db(), &private).await, private_updates, "Ann's private chat with the bot is not the group's");
    let (convs, msgs, _) = data_of(&app, b.bot, ann).await;
    assert_eq!((convs, msgs), (1, 2), "her private conversation stays");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_customer_erases_their_own_conversation_with_forget_after_confirming() {
    let app = spawn_app().await;
    let b = setup(&app, "Ivo", "ivo_forget_bot", "Ivo's Ice Cream").await;
    let c = customer_with_history(&app, &b, "Jana").await;
    let stays = customer_with_history(&app, &b, "Karl").await;
    app.drain_jobs(WAIT).await;
    let before_other = data_of(&app, b.bot, stays).await;

    // /forget asks first, with two buttons; "Keep it" deletes nothing.
    app.tg.say(c, b.bot, "/forget").await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert!(said[1].contains("Delete our conversation?") && said[1].contains("Ivo's Ice Cream"), "{said:?}");
    let ask: Value = app.tg.sent_by(b.bot).await.into_iter().filter(|m| m["chat_id"] == json!(c)).last().unwrap();
    let buttons = ask["reply_markup"]["inline_keyboard"][0].as_array().unwrap().clone();
    assert_eq!(buttons.len(), 2);
    let (yes, no) = (buttons[0]["callback_data"].as_str().unwrap().to_owned(), buttons[1]["callback_data"].as_str().unwrap().to_owned());
    app.tg.post(&format!("users/{c}/callbacks"), json!({ "bot_id": b.bot, "message_id": ask["message_id"], "data": no })).await;
    app.drain_jobs(WAIT).await;
    let (convs, msgs, _) = data_of(&app, b.bot, c).await;
    assert_eq!((convs, msgs), (1, 4), "kept: the question, the answer, /forget and the bot's question");

    // Asked again and confirmed: everything of theirs is gone, the press itself included.
    app.tg.say(c, b.bot, "/forget").await;
    wait_reply(&app, b.bot, c, 3).await;
    let ask: Value = app.tg.sent_by(b.bot).await.into_iter().filter(|m| m["chat_id"] == json!(c)).last().unwrap();
    app.tg.post(&format!("users/{c}/callbacks"), json!({ "bot_id": b.bot, "message_id": ask["message_id"], "data": yes })).await;
    let said = wait_reply(&app, b.bot, c, 4).await;
    assert!(said[3].contains("our conversation has been deleted"), "{said:?}");
    app.drain_jobs(WAIT).await;
    assert_eq!(data_of(&app, b.bot, c).await, (0, 0, 0));
    assert_eq!(data_of(&app, b.bot, stays).await, before_other, "another customer's data stays");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where feedback = 1").await, 1, "only the other customer's 👍 is left");
    // No job failed on the erased updates.
    assert_eq!(count(app.db(), "select count(*) from jobs where state = 'dead'").await, 0);

    // Writing again starts afresh.
    app.tg.say(c, b.bot, "Do you deliver on Sundays?").await;
    wait_reply(&app, b.bot, c, 5).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(data_of(&app, b.bot, c).await.0, 1);
    assert_eq!(data_of(&app, b.bot, c).await.1, 2);
    // /forget is in the bot's menu and its privacy text.
    let commands = app.tg.get(&format!("bots/{}", b.bot)).await["commands"].clone();
    assert!(commands.as_array().unwrap().iter().any(|c| c["command"] == "forget"), "{commands}");
    app.tg.say(c, b.bot, "/privacy").await;
    let said = wait_reply(&app, b.bot, c, 6).await;
    assert!(said[5].contains("/forget"), "{said:?}");
    let _ = bot_said_to(&app, b.bot, c).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn migration_0040_records_who_sent_each_update_already_stored() {
    // A database as it was before 0040, with updates of every kind stored, then migrated.
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let url = if engine() == "sqlite" { format!("{url}?mode=rwc") } else { url };
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(&format!("migrations/{}", engine()))).await.unwrap();
    before.migrations = before.migrations.iter().filter(|m| m.version < 40).cloned().collect::<Vec<_>>().into();
    before.run(&pool).await.unwrap();
    let rows: [(i64, &str, &str); 7] = [
        (1, r#"{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":501,"type":"private"},"from":{"id":501,"is_bot":false,"first_name":"A"},"text":"hi"}}"#, "stored"),
        (2, r#"{"update_id":2,"edited_message":{"message_id":1,"date":1,"chat":{"id":502,"type":"private"},"from":{"id":502,"is_bot":false,"first_name":"B"},"text":"hi"}}"#, "stored"),
        (3, r#"{"update_id":3,"callback_query":{"id":"q","from":{"id":503,"is_bot":false,"first_name":"C"},"chat_instance":"1","data":"x"}}"#, "stored"),
        (4, r#"{"update_id":4,"pre_checkout_query":{"id":"p","from":{"id":504,"is_bot":false,"first_name":"D"},"currency":"XTR","total_amount":1,"invoice_payload":"x"}}"#, "stored"),
        (5, r#"{"update_id":5,"my_chat_member":{}}"#, "stored"),
        (-6, "not json at all", "dead"),
        (7, r#"{"update_id":7,"message":{"message_id":2,"date":1,"chat":{"id":-100,"type":"group"},"from":{"id":501,"is_bot":false,"first_name":"A"},"text":"\u0000 and ünïcode"}}"#, "stored"),
    ];
    for (id, body, state) in rows {
        sqlx::query("insert into telegram_updates (bot_id, tenant_id, update_id, body, state, received_at) values (77, null, $1, $2, $3, 0)")
            .bind(id)
            .bind(body)
            .bind(state)
            .execute(&pool)
            .await
            .unwrap();
    }
    let engine_kind = if engine() == "sqlite" { bellhop::storage::Engine::Sqlite } else { bellhop::storage::Engine::Postgres };
    let db = bellhop::storage::Db { pool: pool.clone(), engine: engine_kind, pg_url: None };
    db.migrate().await.unwrap();
    let got: Vec<(i64, Option<i64>)> = sqlx::query_as("select update_id, user_id from telegram_updates order by id").fetch_all(&pool).await.unwrap();
    assert_eq!(got, vec![(1, Some(501)), (2, Some(502)), (3, Some(503)), (4, Some(504)), (5, None), (-6, None), (7, Some(501))]);
    pool.close().await;
}

/// Customer `c` sends `/forget` to `bot` and confirms; returns once the bot said it is done.
async fn forget(app: &TestApp, bot: i64, c: i64) {
    let before = bot_said_to(app, bot, c).await.len();
    app.tg.say(c, bot, "/forget").await;
    wait_reply(app, bot, c, before + 1).await;
    let ask: Value = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(c)).last().unwrap();
    let yes = ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{c}/callbacks"), json!({ "bot_id": bot, "message_id": ask["message_id"], "data": yes })).await;
    let said = wait_reply(app, bot, c, before + 2).await;
    assert!(said[before + 1].contains("our conversation has been deleted"), "{said:?}");
    app.drain_jobs(WAIT).await;
}

/// (conversations, messages, stored updates) of customer `c` with `bot` that `tenant` holds.
async fn held_by(app: &TestApp, tenant: bellhop::domain::TenantId, bot: i64, c: i64) -> (i64, i64, i64) {
    let t = tenant.0;
    (
        count(app.db(), &format!("select count(*) from conversations where tenant_id = {t} and bot_id = {bot} and chat_id = {c}")).await,
        count(app.db(), &format!("select count(*) from conversation_messages m join conversations c on c.id = m.conversation_id where m.tenant_id = {t} and c.bot_id = {bot} and c.chat_id = {c}")).await,
        count(app.db(), &format!("select count(*) from telegram_updates where tenant_id = {t} and bot_id = {bot} and (user_id = {c} or body like '%\"id\":{c},%')")).await,
    )
}

/// A bot that changed owner is one bot to its customer: their `/forget` erases what the bot's
/// earlier business holds of them too (its records, which it still sees in its admin pages but
/// which no longer receive anything from the bot), not only what its business now holds. Other
/// customers' data, with either business, stays.
#[tokio::test]
async fn forget_after_the_bot_changed_owner_erases_what_its_earlier_owner_holds_too() {
    let app = spawn_app().await;
    let first = setup(&app, "Olga", "olga_moving_bot", "Olga's Oils").await;
    let c = customer_with_history(&app, &first, "Pia").await;
    let stays = customer_with_history(&app, &first, "Quin").await;
    app.drain_jobs(WAIT).await;

    // The bot goes to another owner, a business of its own; the customer writes to it again.
    let manager = app.tg.handle.sandbox.manager_id();
    let second = app.tg.post("users", json!({ "first_name": "Ria", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), json!({ "user_id": second })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and owner_user_id = {second} and status = 'live'", first.bot)).await == 1 }).await;
    app.drain_jobs(WAIT).await;
    let (now, _, _) = app.signed_in_owner(second, "Ria's Rugs").await;
    assert_ne!(now, first.tenant);
    let said = bot_said_to(&app, first.bot, c).await.len();
    app.tg.say(c, first.bot, "Hello again").await;
    wait_reply(&app, first.bot, c, said + 1).await;
    app.drain_jobs(WAIT).await;
    let (convs, msgs, updates) = held_by(&app, first.tenant, first.bot, c).await;
    assert!(convs == 1 && msgs == 2 && updates >= 2, "the earlier business's records of the customer: {:?}", (convs, msgs, updates));
    let (convs, msgs, updates) = held_by(&app, now, first.bot, c).await;
    assert!(convs == 1 && msgs == 2 && updates >= 1, "the new business's: {:?}", (convs, msgs, updates));
    let other_before = (held_by(&app, first.tenant, first.bot, stays).await, held_by(&app, now, first.bot, stays).await);

    forget(&app, first.bot, c).await;
    assert_eq!(held_by(&app, now, first.bot, c).await, (0, 0, 0), "nothing left with the business that has the bot now");
    assert_eq!(held_by(&app, first.tenant, first.bot, c).await, (0, 0, 0), "nothing left with the business that had it before");
    assert_eq!(data_of(&app, first.bot, c).await, (0, 0, 0));
    assert_eq!((held_by(&app, first.tenant, first.bot, stays).await, held_by(&app, now, first.bot, stays).await), other_before, "another customer's data stays");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where feedback = 1").await, 1, "only the other customer's 👍 is left");
    // The earlier owner's conversations page no longer lists them.
    let (_, list) = get(&app, &first.cookie, "/app/conversations").await;
    assert!(!list.contains("Pia") && list.contains("Quin"), "{list}");
    assert_eq!(count(app.db(), "select count(*) from jobs where state = 'dead'").await, 0);
    app.stop().await.unwrap();
}

/// The manager bot's latest message to `owner` containing each of `needles`, waited for.
async fn manager_message(app: &TestApp, owner: i64, needles: &[&str]) -> Value {
    let manager = app.tg.handle.sandbox.manager_id();
    let has = |m: &Value| needles.iter().all(|n| m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().contains(n));
    let find = || async { app.tg.sent_by(manager).await.into_iter().filter(|m| m["chat_id"] == json!(owner)).rfind(|m| has(m)) };
    wait_until(WAIT, || async { find().await.is_some() }).await;
    find().await.unwrap()
}

/// Stored manager-bot updates (they have no tenant) whose body contains `needle`.
async fn manager_copies(app: &TestApp, needle: &str) -> i64 {
    count(app.db(), &format!("select count(*) from telegram_updates where tenant_id is null and body like '%{needle}%'")).await
}

/// A handoff puts the customer's words in the owner's chat with the manager bot, and the
/// owner's presses and replies there come back as manager updates quoting them (stored without
/// a tenant). The customer's `/forget` erases those too, not only their conversation; another
/// customer's, and the owner's other messages to the manager bot, stay.
#[tokio::test]
async fn forget_erases_the_manager_bots_stored_copies_of_a_handoff() {
    let app = spawn_app().await;
    let b = setup(&app, "Sven", "sven_handoff_bot", "Sven's Skis").await;
    let manager = app.tg.handle.sandbox.manager_id();
    let c = customer_with_history(&app, &b, "Sabine").await;
    app.tg.say(c, b.bot, "/human").await;
    let notice = manager_message(&app, b.owner, &["Sabine", "wants to talk"]).await;
    app.tg.say(c, b.bot, "My order number is 4711").await;
    let relayed = manager_message(&app, b.owner, &["4711"]).await;
    // The owner presses Reply on the transcript, then answers the relayed message.
    let reply = notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{}/callbacks", b.owner), json!({ "bot_id": manager, "message_id": notice["message_id"], "data": reply })).await;
    manager_message(&app, b.owner, &["Write your reply"]).await;
    // The owner's own words hold nothing of the customer's. Under load the sandbox, as Telegram
    // does, may deliver this update again after a slow answer (a read timeout); arriving after the
    // erasure, it is stored again, its quote of the customer's message dropped by its job, its own
    // words kept as they are.
    app.tg.post(&format!("users/{}/messages", b.owner), json!({ "bot_id": manager, "text": "It ships Monday", "reply_to_message_id": relayed["message_id"] })).await;
    wait_until(WAIT, || async { bot_said_to(&app, b.bot, c).await.iter().any(|t| t.contains("ships Monday")) }).await;
    // Another customer's handoff, and a command of the owner's own.
    let other = customer(&app, "Ulrike", b.bot).await;
    app.tg.say(other, b.bot, "/human").await;
    let other_notice = manager_message(&app, b.owner, &["Ulrike", "wants to talk"]).await;
    app.tg.post(&format!("users/{}/messages", b.owner), json!({ "bot_id": manager, "text": "Hello Ulrike", "reply_to_message_id": other_notice["message_id"] })).await;
    wait_until(WAIT, || async { bot_said_to(&app, b.bot, other).await.iter().any(|t| t.contains("Hello Ulrike")) }).await;
    app.tg.post(&format!("users/{}/messages", b.owner), json!({ "bot_id": manager, "text": "/help" })).await;
    manager_message(&app, b.owner, &["I'm the bellhop manager bot"]).await;
    app.drain_jobs(WAIT).await;
    assert!(manager_copies(&app, "4711").await >= 1, "the owner's reply quotes the customer's message");
    assert!(manager_copies(&app, "Sundays").await >= 1, "the press of Reply came on the transcript");
    let others = manager_copies(&app, "Ulrike").await;
    assert!(others >= 1);

    forget(&app, b.bot, c).await;
    assert_eq!(data_of(&app, b.bot, c).await, (0, 0, 0));
    // The handoff's messages stay in the owner's Telegram chat: a reply to one, or a press of its
    // Close button, after the erasure brings nothing of the customer's back into storage.
    let stored = count(app.db(), "select count(*) from telegram_updates where tenant_id is null").await;
    app.tg.post(&format!("users/{}/messages", b.owner), json!({ "bot_id": manager, "text": "Are you still there?", "reply_to_message_id": relayed["message_id"] })).await;
    let close = notice["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{}/callbacks", b.owner), json!({ "bot_id": manager, "message_id": notice["message_id"], "data": close })).await;
    wait_until(WAIT, || async { count(app.db(), "select count(*) from telegram_updates where tenant_id is null").await == stored + 2 }).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(manager_copies(&app, "Are you still there?").await, 1, "the owner's own words are kept as they are");
    assert_eq!(data_of(&app, b.bot, c).await, (0, 0, 0), "no conversation is brought back");
    for needle in ["4711", "Sundays", "Sabine"] {
        assert_eq!(manager_copies(&app, needle).await, 0, "a manager update holding {needle:?} is left");
    }
    assert_eq!(manager_copies(&app, "Ulrike").await, others, "another customer's handoff stays");
    assert_eq!(manager_copies(&app, "/help").await, 1, "the owner's own command stays");
    assert_eq!(count(app.db(), "select count(*) from jobs where state = 'dead'").await, 0);
    app.stop().await.unwrap();
}

/// A customer's finished update jobs do not keep their chat: a job's serial key (which orders a
/// chat's updates while they wait or run) is `chat:{bot}:{chat}`, and it went only with the
/// retention purge, days later. Now it goes when the job is done; a job's payload names no chat.
#[tokio::test]
async fn a_customers_finished_update_jobs_do_not_keep_their_chat() {
    let app = spawn_app().await;
    let b = business(&app, "Lou", "lou_jobs_bot", "Lou's Lamps").await;
    let c = customer(&app, "Carl", b.bot).await;
    app.tg.say(c, b.bot, "/start").await;
    wait_reply(&app, b.bot, c, 1).await;
    app.drain_jobs(WAIT).await;
    let done = format!("select count(*) from jobs where kind = 'bot.update' and state = 'done' and payload like '%\"bot_id\":{}%'", b.bot);
    assert!(count(app.db(), &done).await >= 1, "the customer's update was handled by a job");
    let naming = format!(
        "select count(*) from jobs where state = 'done' and (coalesce(serial_key, '') like '%{c}%' or payload like '%{c}%' or coalesce(dedup_key, '') like '%{c}%' or coalesce(coalesce_key, '') like '%{c}%')"
    );
    assert_eq!(count(app.db(), &naming).await, 0, "no finished job names the customer's chat");
    app.stop().await.unwrap();
}
