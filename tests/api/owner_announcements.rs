//! Issue 17, item 8: announcements. The owner writes one message to everyone who talked to the bot
//! in the last N days; it goes out within Telegram's limits (the sandbox counts breaches), once
//! per customer, with progress on the page; customers opt out with `/stop` (and back in with
//! `/start`).
use crate::helpers::*;
use crate::owner_lifecycle::{Business, bot_said_to, business, customer, get, post, wait_reply};
use bellhop::domain::BotId;
use bellhop::domain::conversation::ChatKind;
use bellhop::storage::conversations::{self, Customer};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

/// Customer `c`'s conversation with the bot, as their first message makes it (`language`: their
/// Telegram app's), last active `days_ago` days ago.
async fn talked(app: &TestApp, b: &Business, c: i64, name: &str, language: Option<&str>, days_ago: i64) {
    let who = Customer { chat_id: bellhop::domain::ChatId(c), thread_id: 0, chat_kind: ChatKind::Private, user_id: bellhop::domain::UserId(c), name, language };
    conversations::open(&app.db().pool, b.tenant, BotId(b.bot), &who).await.unwrap();
    let at = bellhop::storage::now_ms() - days_ago * 86_400_000;
    sqlx::query(&format!("update conversations set last_message_at = {at} where bot_id = {} and chat_id = {c}", b.bot)).execute(&app.db().pool).await.unwrap();
}

async fn progress(app: &TestApp, b: &Business, id: impl std::fmt::Display) -> Value {
    let r = app.http.get(app.url(&format!("/app/announcements/{id}/progress"))).header("cookie", &b.cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn latest_announcement(app: &TestApp, bot: i64) -> i64 {
    sqlx::query_scalar(&format!("select max(id) from announcements where bot_id = {bot}")).fetch_one(&app.db().pool).await.unwrap()
}

fn announcement_texts(app_sent: &[Value], chat: i64, words: &str) -> usize {
    app_sent.iter().filter(|m| m["chat_id"].as_i64() == Some(chat) && m["message"]["text"].as_str().or(m["raw_text"].as_str()).unwrap_or_default().contains(words)).count()
}

#[tokio::test]
async fn an_announcement_reaches_500_customers_once_each_within_telegrams_limits_with_progress() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_CONCURRENCY", "8");
    })
    .await;
    let b = business(&app, "Nadia", "nadia_news_bot", "Nadia's Bakery").await;
    let mut recent = Vec::new();
    for i in 0..500 {
        let c = customer(&app, &format!("Customer {i}"), b.bot).await;
        let lang = match i % 4 {
            0 => Some("es"),
            1 => Some("ru"),
            _ => None,
        };
        talked(&app, &b, c, &format!("Customer {i}"), lang, i % 20).await;
        recent.push(c);
    }
    // Talked 40 days ago: outside a 30-day announcement.
    let old = customer(&app, "Old Customer", b.bot).await;
    talked(&app, &b, old, "Old Customer", None, 40).await;
    // Opted out with /stop (in the chat: the bot confirms).
    let stopped = customer(&app, "Quiet Customer", b.bot).await;
    app.tg.say(stopped, b.bot, "/stop").await;
    let said = wait_reply(&app, b.bot, stopped, 1).await;
    assert!(said[0].contains("you won't get announcements from this bot any more"), "{said:?}");
    app.drain_jobs(WAIT).await;

    // The page says how many it would reach.
    let (status, page) = get(&app, &b.cookie, "/app/announcements?days=30").await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong id=\"audience\">500</strong>"), "500 customers wrote in 30 days, less the one who sent /stop: {}", &page[page.find("audience").unwrap_or(0)..][..200.min(page.len())]);

    let before = app.tg.handle.sandbox.limit_stats();
    let words = "We're closed on Monday for the holiday";
    let bot = b.bot.to_string();
    // Without the confirmation box nothing is sent.
    let (status, _, body) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", words), ("days", "30")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Tick the box"), "{body}");
    assert_eq!(count(app.db(), "select count(*) from announcements").await, 0);

    let (status, location, _) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", words), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/announcements?bot={}&sent=500", b.bot).as_str()));
    let id = latest_announcement(&app, b.bot).await;
    // Progress, while it goes and at the end.
    let first = progress(&app, &b, id).await;
    assert_eq!(first["total"], 500);
    wait_until(WAIT, || async { progress(&app, &b, id).await["status"] == "done" }).await;
    let p = progress(&app, &b, id).await;
    assert_eq!((p["sent"].as_i64(), p["done"].as_i64(), p["failed"].as_i64(), p["unknown"].as_i64()), (Some(500), Some(500), Some(0), Some(0)), "{p}");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("Done: 500 of 500 delivered"), "the page shows it done");

    let sent = app.tg.sent_by(b.bot).await;
    for (i, c) in recent.iter().enumerate() {
        assert_eq!(announcement_texts(&sent, *c, words), 1, "customer {i} got it exactly once");
    }
    assert_eq!(announcement_texts(&sent, old, words), 0, "a customer of 40 days ago is outside the 30 days");
    assert_eq!(announcement_texts(&sent, stopped, words), 0, "a customer who sent /stop gets none");
    // The footer is in each customer's language.
    let text_to = |c: i64| bot_said_to_sync(&sent, c);
    assert!(text_to(recent[0]).contains("Envía /stop"), "{}", text_to(recent[0]));
    assert!(text_to(recent[1]).contains("Отправьте /stop"), "{}", text_to(recent[1]));
    assert!(text_to(recent[2]).contains("Send /stop to get no more announcements."), "{}", text_to(recent[2]));
    let after = app.tg.handle.sandbox.limit_stats();
    assert_eq!(after.bot_breaches - before.bot_breaches, 0, "over the bot's 30 messages a second: {after:?}");
    assert_eq!(after.limit_breaches - before.limit_breaches, 0, "{after:?}");
    assert_eq!(after.private_breaches - before.private_breaches, 0, "{after:?}");

    // Running the job again sends nothing more.
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, bellhop::storage::announcements::AnnouncementId(id)).await.unwrap();
    assert_eq!(app.tg.sent_by(b.bot).await.len(), sent.len(), "a second run sent nothing");
    app.stop().await.unwrap();
}

fn bot_said_to_sync(sent: &[Value], chat: i64) -> String {
    sent.iter()
        .filter(|m| m["chat_id"].as_i64() == Some(chat))
        .map(|m| m["message"]["text"].as_str().or(m["raw_text"].as_str()).unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A process that died during a recipient's Bot API call left the row claimed: the message may
/// have arrived, so the next run marks it unknown and does not send it again; the others go.
#[tokio::test]
async fn a_recipient_whose_sending_was_interrupted_is_not_sent_again() {
    let app = spawn_app().await;
    let b = business(&app, "Omar", "omar_news_bot", "Omar's Flowers").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Buyer {i}"), b.bot).await;
        talked(&app, &b, c, "Buyer", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Tulips are back", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.total, 3);
    // Not sent yet: the page it was written from says it is being sent…
    let written = format!("/app/announcements?bot={}&sent=3", b.bot);
    let (_, page) = get(&app, &b.cookie, &written).await;
    assert!(page.contains(&format!("data-sending=\"{}\">Sending to 3 customers", a.id)), "{page}");
    // As a dead process leaves it: claimed, the call's outcome unknown.
    sqlx::query(&format!("update announcement_recipients set state = 'sending' where announcement_id = {} and chat_id = {}", a.id, people[0])).execute(&app.db().pool).await.unwrap();
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, a.id).await.unwrap();
    let sent = app.tg.sent_by(b.bot).await;
    assert_eq!(announcement_texts(&sent, people[0], "Tulips are back"), 0, "not sent again");
    assert_eq!(announcement_texts(&sent, people[1], "Tulips are back"), 1);
    assert_eq!(announcement_texts(&sent, people[2], "Tulips are back"), 1);
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["sent"].as_i64(), p["unknown"].as_i64()), (Some("done"), Some(2), Some(1)), "{p}");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("1 not known (interrupted; not sent again)"), "the owner sees it");
    // …and once done, only how it went.
    let (_, page) = get(&app, &b.cookie, &written).await;
    assert!(page.contains("Done: 2 of 3 delivered") && !page.contains("Sending to"), "{page}");
    app.stop().await.unwrap();
}

/// A customer who sends /stop after the announcement was written, while it is being sent, does
/// not get it: the claim of their row sees the opt-out (recipients are chosen when it is written),
/// and the owner reads that they sent /stop before it reached them.
#[tokio::test]
async fn a_customer_who_sends_stop_while_an_announcement_is_going_out_does_not_get_it() {
    let app = spawn_app().await;
    let b = business(&app, "Iris", "iris_news_bot", "Iris's Yarn").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Knitter {i}"), b.bot).await;
        talked(&app, &b, c, "Knitter", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Merino is back", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.total, 3);
    // Not sent yet: the page it was written from says it is being sent…
    let written = format!("/app/announcements?bot={}&sent=3", b.bot);
    let (_, page) = get(&app, &b.cookie, &written).await;
    assert!(page.contains(&format!("data-sending=\"{}\">Sending to 3 customers", a.id)), "{page}");
    // The announcement is written (three recipients); then one of them sends /stop.
    app.tg.say(people[1], b.bot, "/stop").await;
    let said = wait_reply(&app, b.bot, people[1], 1).await;
    assert!(said[0].contains("you won't get announcements from this bot any more"), "{said:?}");
    app.drain_jobs(WAIT).await;
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, a.id).await.unwrap();
    let sent = app.tg.sent_by(b.bot).await;
    assert_eq!(announcement_texts(&sent, people[1], "Merino is back"), 0, "they sent /stop");
    assert_eq!(announcement_texts(&sent, people[0], "Merino is back"), 1);
    assert_eq!(announcement_texts(&sent, people[2], "Merino is back"), 1);
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["done"].as_i64(), p["sent"].as_i64(), p["stopped"].as_i64()), (Some("done"), Some(3), Some(2), Some(1)), "{p}");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("1 sent /stop before it reached them"), "the owner sees it");
    app.stop().await.unwrap();
}

/// Recipients are claimed one by one at their turn in the bot's throttle. When the sending stops
/// while messages still wait for the bot's turn (here: the bot's 30 a second are taken by other
/// messages), nothing is left claimed: every recipient is still to be sent, and the next run sends
/// each exactly once, with none "not known". (Claimed in batches before queueing, as before, the
/// whole batch was left `sending` and became "not known", never sent.)
#[tokio::test]
async fn recipients_still_waiting_for_their_turn_when_sending_stops_are_sent_by_the_next_run_once() {
    use bellhop::telegram::methods::SendMessage;
    let app = spawn_app().await;
    let b = business(&app, "Nina", "nina_news_bot", "Nina's Tea").await;
    let mut people = Vec::new();
    for i in 0..40 {
        let c = customer(&app, &format!("Sipper {i}"), b.bot).await;
        talked(&app, &b, c, "Sipper", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Oolong is back", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.total, 40);
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    // 90 other messages first: at 30 a second per bot they hold the bot's turn for about 3 s.
    let fillers: Vec<_> = (0..90)
        .map(|i| {
            let (h, chat) = (bot_client.clone(), people[i % people.len()]);
            tokio::spawn(async move { h.send_message(&SendMessage::new(chat, format!("Order update {i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = tokio::spawn({
        let (db, h) = (app.state.db.clone(), bot_client.clone());
        async move { bellhop::answering::announce::send(&db, &h, b.tenant, a.id).await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!first.is_finished(), "the announcement did not wait for the bot's turn; the test proves nothing");
    first.abort();
    let db = app.db();
    let states = |state: &'static str| {
        let sql = format!("select count(*) from announcement_recipients where announcement_id = {} and state = '{state}'", a.id);
        async move { count(db, &sql).await }
    };
    assert_eq!(states("sending").await, 0, "recipients still waiting for their turn were claimed");
    for f in fillers {
        f.await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(announcement_texts(&app.tg.sent_by(b.bot).await, people[0], "Oolong is back") + states("sent").await as usize, 0, "nothing of the stopped run went out");

    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, a.id).await.unwrap();
    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, a.id).await.unwrap();
    let sent = app.tg.sent_by(b.bot).await;
    for &c in &people {
        assert_eq!(announcement_texts(&sent, c, "Oolong is back"), 1, "customer {c}");
    }
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["sent"].as_i64(), p["unknown"].as_i64()), (Some("done"), Some(40), Some(0)), "{p}");
    app.stop().await.unwrap();
}

/// Telegram refuses through every attempt of the job (here: a server error on each send, and
/// four attempts: twice `jobs.max_attempts`): the announcement does not stay "Sending" for ever. After the last attempt the
/// customers it had not reached are marked so, and the owner's page says it is done and how many
/// could not be reached.
#[tokio::test]
async fn an_announcement_telegram_refuses_through_every_attempt_ends_with_the_customers_not_reached_counted() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20");
        s.set("BELLHOP_JOBS_MAX_ATTEMPTS", "2");
    })
    .await;
    let b = business(&app, "Lena", "lena_news_bot", "Lena's Bikes").await;
    for i in 0..3 {
        let c = customer(&app, &format!("Rider {i}"), b.bot).await;
        talked(&app, &b, c, "Rider", None, 1).await;
    }
    app.tg.fail_method(b.bot, "sendMessage", 1_000, 502, "Bad Gateway").await;
    let bot = b.bot.to_string();
    let (status, _, _) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", "Spring service week"), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let id = latest_announcement(&app, b.bot).await;
    wait_until(WAIT, || async { progress(&app, &b, id).await["status"] == "done" }).await;
    let p = progress(&app, &b, id).await;
    assert_eq!((p["sent"].as_i64(), p["failed"].as_i64(), p["done"].as_i64()), (Some(0), Some(3), Some(3)), "{p}");
    // The job is marked dead after its handler returns, so a moment after the page says "done".
    let dead = "select count(*) from jobs where kind = 'bot.announce' and state = 'dead' and attempts = 4";
    wait_until(WAIT, || async { count(app.db(), dead).await == 1 }).await;
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.announce'").await, 1, "all four attempts were made by the one job");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("Done: 0 of 3 delivered, 3 could not be reached"), "the owner sees it");
    app.stop().await.unwrap();
}

/// `/stop` and `/start` in the chat; an owner's bad input refused in words, changing nothing; and
/// another business cannot read an announcement's progress.
#[tokio::test]
async fn stop_and_start_opt_out_and_back_in_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let b = business(&app, "Pia", "pia_news_bot", "Pia's Books").await;
    let c = customer(&app, "Reader", b.bot).await;
    app.tg.say(c, b.bot, "/stop").await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].starts_with("Done: you won't get announcements"), "{said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_optouts where chat_id = {c}")).await, 1);
    app.tg.say(c, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert!(said[1].contains("You'll get this bot's announcements again"), "{said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_optouts where chat_id = {c}")).await, 0);
    // A second /start is just the welcome.
    app.tg.say(c, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, c, 3).await;
    assert!(!said[2].contains("announcements again"), "{said:?}");

    let bot = b.bot.to_string();
    for (text, days, expect) in [("", "30", "empty"), ("Hello", "0", "1 to 365 days"), ("Hello", "many", "1 to 365 days"), (&*"x".repeat(4000), "30", "Shorten it by 100 characters")] {
        let (status, _, body) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", text), ("days", days), ("confirm", "yes")]).await;
        assert_eq!(status, 422, "{text:.20} {days}");
        assert!(body.contains(expect), "{expect}: {body}");
    }
    assert_eq!(count(app.db(), "select count(*) from announcements").await, 0, "nothing was written");
    // The customer talked today: an announcement reaches them.
    let (status, _, _) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", "Poetry night on Friday"), ("days", "1"), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let id = latest_announcement(&app, b.bot).await;
    wait_until(WAIT, || async { bot_said_to(&app, b.bot, c).await.iter().any(|t| t.contains("Poetry night on Friday")) }).await;
    // Another business's owner: neither the page of this bot nor its progress.
    let (_, cookie_x, csrf_x) = app.signed_in_owner(880_107, "Other Shop").await;
    let r = app.http.get(app.url(&format!("/app/announcements/{id}/progress"))).header("cookie", &cookie_x).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(get(&app, &cookie_x, &format!("/app/announcements?bot={}", b.bot)).await.0, 404);
    let (status, _, _) = post(&app, &cookie_x, "/app/announcements", &[("csrf", &csrf_x), ("bot", &bot), ("text", "Spam"), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!(status, 404);
    assert_eq!(count(app.db(), "select count(*) from announcements").await, 1);
    app.stop().await.unwrap();
}

/// The value of the page's hidden form field `name`.
fn hidden(page: &str, name: &str) -> String {
    let at = format!("name=\"{name}\" value=\"");
    let start = page.find(&at).unwrap_or_else(|| panic!("no {name} field")) + at.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// A double-click on Send posts the form twice (here: twice at once, then once more) with the
/// same one-time token: one announcement and one job are written, each customer gets it once, and
/// every post lands on its progress.
#[tokio::test]
async fn the_same_announcement_form_posted_twice_sends_it_once() {
    let app = spawn_app().await;
    let b = business(&app, "Rita", "rita_news_bot", "Rita's Cakes").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Baker {i}"), b.bot).await;
        talked(&app, &b, c, "Baker", None, 1).await;
        people.push(c);
    }
    let (status, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert_eq!(status, 200);
    let once = hidden(&page, "once");
    assert!(once.len() >= 40, "a random one-time token: {once}");
    let bot = b.bot.to_string();
    let form = [("csrf", b.csrf.as_str()), ("bot", &bot), ("once", &once), ("text", "Lemon cake on Friday"), ("days", "30"), ("confirm", "yes")];
    let (first, second) = tokio::join!(post(&app, &b.cookie, "/app/announcements", &form), post(&app, &b.cookie, "/app/announcements", &form));
    let third = post(&app, &b.cookie, "/app/announcements", &form).await;
    let want = format!("/app/announcements?bot={}&sent=3", b.bot);
    for (status, location, _) in [first, second, third] {
        assert_eq!((status, location.as_str()), (303, want.as_str()));
    }
    assert_eq!(count(app.db(), "select count(*) from announcements").await, 1, "one announcement");
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.announce'").await, 1, "one job");
    let id = latest_announcement(&app, b.bot).await;
    wait_until(WAIT, || async { progress(&app, &b, id).await["status"] == "done" }).await;
    app.drain_jobs(WAIT).await;
    let sent = app.tg.sent_by(b.bot).await;
    for &c in &people {
        assert_eq!(announcement_texts(&sent, c, "Lemon cake on Friday"), 1, "customer {c} got it once");
    }
    // Done: the page it went to (reloaded, or opened later) says so, not that it is being sent.
    let (_, page) = get(&app, &b.cookie, &want).await;
    assert!(page.contains("Done: 3 of 3 delivered") && !page.contains("Sending to") && !page.contains("data-sending"), "{page}");
    // A fresh page's form is a new announcement.
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    let again = hidden(&page, "once");
    assert_ne!(again, once);
    let form = [("csrf", b.csrf.as_str()), ("bot", &bot), ("once", &again), ("text", "Lemon cake again on Saturday"), ("days", "30"), ("confirm", "yes")];
    assert_eq!(post(&app, &b.cookie, "/app/announcements", &form).await.0, 303);
    assert_eq!(count(app.db(), "select count(*) from announcements").await, 2);
    app.stop().await.unwrap();
}

/// The owner makes a new token for the bot while an announcement is going out: the attempt that
/// opened the bot with the old token is refused by Telegram (401). That is no customer's fault:
/// nobody is marked not reached; the attempt stops with an error worth retrying, and the next one,
/// with the current token, sends it to each customer once.
#[tokio::test]
async fn a_new_token_made_while_an_announcement_goes_out_fails_nobody_and_the_next_attempt_sends_it() {
    let app = spawn_app().await;
    let b = business(&app, "Ugo", "ugo_news_bot", "Ugo's Pasta").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Diner {i}"), b.bot).await;
        talked(&app, &b, c, "Diner", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Truffle week", 7).await.unwrap();
    tx.commit().await.unwrap();
    // The attempt's bot, opened with the token of the time.
    let old_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/token", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    token_used(app.tg.get(&format!("bots/{}", b.bot)).await["token"].as_str().unwrap());
    crate::owner_lifecycle::wait_live(&app, b.bot).await;
    app.drain_jobs(WAIT).await;

    let e = bellhop::answering::announce::send(app.db(), &old_client, b.tenant, a.id).await.expect_err("the old token is refused");
    assert!(e.worth_retrying(), "the job is tried again: {e}");
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["done"].as_i64(), p["failed"].as_i64()), (Some("sending"), Some(0), Some(0)), "nobody marked not reached: {p}");
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_recipients where announcement_id = {} and state = 'pending'", a.id)).await, 3);

    let new_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    bellhop::answering::announce::send(app.db(), &new_client, b.tenant, a.id).await.unwrap();
    let sent = app.tg.sent_by(b.bot).await;
    for &c in &people {
        assert_eq!(announcement_texts(&sent, c, "Truffle week"), 1, "customer {c}");
    }
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["sent"].as_i64(), p["failed"].as_i64()), (Some("done"), Some(3), Some(0)), "{p}");
    app.stop().await.unwrap();
}

/// The owner disconnects the bot while an announcement is going out: the sending stops after the
/// messages already under way, the customers not reached yet are counted as such, and the
/// announcement is done instead of "Sending" for ever. An announcement whose job starts only after
/// the disconnect (the bot cannot be opened any more) ends the same way.
#[tokio::test]
async fn disconnecting_the_bot_stops_an_announcement_and_ends_it_with_the_rest_not_reached() {
    let app = spawn_app().await;
    let b = business(&app, "Vera", "vera_news_bot", "Vera's Vinyl").await;
    let mut people = Vec::new();
    for i in 0..60 {
        let c = customer(&app, &format!("Listener {i}"), b.bot).await;
        talked(&app, &b, c, "Listener", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Record fair on Sunday", 7).await.unwrap();
    let later = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Jazz night on Friday", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a.total, later.total), (60, 60));
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    // The first message is held at Telegram: the first batch (50) is under way when the owner
    // disconnects.
    app.tg.hold(b.bot, "sendMessage", 1).await;
    let sending = tokio::spawn({
        let (db, h) = (app.state.db.clone(), bot_client.clone());
        async move { bellhop::answering::announce::send(&db, &h, b.tenant, a.id).await }
    });
    wait_until(WAIT, || async { app.tg.held(b.bot, "sendMessage").await == 1 }).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    app.tg.release(b.bot, "sendMessage", false).await;
    sending.await.unwrap().unwrap();
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["total"].as_i64(), p["done"].as_i64(), p["sent"].as_i64(), p["failed"].as_i64()), (Some("done"), Some(60), Some(60), Some(50), Some(10)), "{p}");
    let reason = format!("select count(*) from announcement_recipients where announcement_id = {} and state = 'failed' and error like '%disconnected%'", a.id);
    assert_eq!(count(app.db(), &reason).await, 10, "the reason is kept");
    let sent = app.tg.sent_by(b.bot).await;
    assert_eq!(people.iter().map(|&c| announcement_texts(&sent, c, "Record fair on Sunday")).sum::<usize>(), 50, "nothing sent after the batch under way");

    // A job that starts after the disconnect: the bot cannot be opened; the announcement ends.
    let mut tx = app.db().begin().await.unwrap();
    app.state.queue.enqueue_in(&mut tx, &bellhop::app::jobs::announce(&app.state.queue, b.tenant, BotId(b.bot), later.id)).await.unwrap();
    tx.commit().await.unwrap();
    app.state.queue.notify(bellhop::app::jobs::ANNOUNCE_QUEUE);
    wait_until(WAIT, || async { progress(&app, &b, later.id).await["status"] == "done" }).await;
    let p = progress(&app, &b, later.id).await;
    assert_eq!((p["done"].as_i64(), p["sent"].as_i64(), p["failed"].as_i64()), (Some(60), Some(0), Some(60)), "{p}");
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.announce' and state = 'dead'").await, 0, "ended, not failed");
    app.stop().await.unwrap();
}

/// The owner pauses the bot while an announcement is going out: no message is claimed after the
/// pause (the claim checks it in the same statement), the sending ends with the customers not
/// reached counted and the reason kept, and an announcement whose job starts while the bot is
/// paused sends nothing. The page says the bot is paused and refuses a new announcement.
#[tokio::test]
async fn pausing_the_bot_stops_an_announcement_and_ends_it_with_the_rest_not_reached() {
    use bellhop::storage::announcements::{Claim, claim_one};
    let app = spawn_app().await;
    let b = business(&app, "Pia", "pia_news_bot", "Pia's Pianos").await;
    let mut people = Vec::new();
    for i in 0..60 {
        let c = customer(&app, &format!("Pianist {i}"), b.bot).await;
        talked(&app, &b, c, "Pianist", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Tuning day on Monday", 7).await.unwrap();
    let later = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Concert on Friday", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a.total, later.total), (60, 60));
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    // The first message is held at Telegram: the first batch is under way when the owner pauses.
    app.tg.hold(b.bot, "sendMessage", 1).await;
    let sending = tokio::spawn({
        let (db, h) = (app.state.db.clone(), bot_client.clone());
        async move { bellhop::answering::announce::send(&db, &h, b.tenant, a.id).await }
    });
    wait_until(WAIT, || async { app.tg.held(b.bot, "sendMessage").await == 1 }).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/pause", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    // From now on no recipient is claimed: one still waiting stays so.
    let waiting: i64 = sqlx::query_scalar(&format!("select min(chat_id) from announcement_recipients where announcement_id = {} and state = 'pending'", later.id)).fetch_one(&app.db().pool).await.unwrap();
    assert_eq!(claim_one(&app.db().pool, b.tenant, later.id, bellhop::domain::ChatId(waiting)).await.unwrap(), Claim::Paused);
    app.tg.release(b.bot, "sendMessage", false).await;
    sending.await.unwrap().unwrap();
    let p = progress(&app, &b, a.id).await;
    let (sent, failed) = (p["sent"].as_i64().unwrap(), p["failed"].as_i64().unwrap());
    assert_eq!((p["status"].as_str(), p["done"].as_i64(), sent + failed, p["unknown"].as_i64()), (Some("done"), Some(60), 60, Some(0)), "{p}");
    assert!(failed >= 10, "the second batch was never sent: {p}");
    let reason = format!("select count(*) from announcement_recipients where announcement_id = {} and state = 'failed' and error like '%paused%'", a.id);
    assert_eq!(count(app.db(), &reason).await, failed, "the reason is kept");
    let out = app.tg.sent_by(b.bot).await;
    assert_eq!(people.iter().map(|&c| announcement_texts(&out, c, "Tuning day on Monday")).sum::<usize>() as i64, sent);

    // A job that starts while the bot is paused sends nothing; the announcement ends.
    let mut tx = app.db().begin().await.unwrap();
    app.state.queue.enqueue_in(&mut tx, &bellhop::app::jobs::announce(&app.state.queue, b.tenant, BotId(b.bot), later.id)).await.unwrap();
    tx.commit().await.unwrap();
    app.state.queue.notify(bellhop::app::jobs::ANNOUNCE_QUEUE);
    wait_until(WAIT, || async { progress(&app, &b, later.id).await["status"] == "done" }).await;
    let p = progress(&app, &b, later.id).await;
    assert_eq!((p["done"].as_i64(), p["sent"].as_i64(), p["failed"].as_i64()), (Some(60), Some(0), Some(60)), "{p}");
    let out = app.tg.sent_by(b.bot).await;
    assert_eq!(people.iter().map(|&c| announcement_texts(&out, c, "Concert on Friday")).sum::<usize>(), 0);

    // The page says so, and sends no new one while paused.
    let (_, page) = get(&app, &b.cookie, &format!("/app/announcements?bot={}", b.bot)).await;
    assert!(page.contains("This bot is paused, so it sends no announcements"), "{page}");
    let bot = b.bot.to_string();
    let (status, _, page) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", "Open house"), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("This bot is paused, so it sends no announcements"), "{page}");
    assert_eq!(count(app.db(), &format!("select count(*) from announcements where bot_id = {}", b.bot)).await, 2);
    app.drain_jobs(WAIT).await;
    app.stop().await.unwrap();
}

/// A customer who erases their data with `/forget` while an announcement is going out takes
/// their recipient row with them: the announcement's total goes down with it, so its progress
/// still reaches its total.
#[tokio::test]
async fn a_customer_who_forgets_their_data_leaves_an_announcement_able_to_reach_its_total() {
    let app = spawn_app().await;
    let b = business(&app, "Wim", "wim_news_bot", "Wim's Wheels").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Cyclist {i}"), b.bot).await;
        talked(&app, &b, c, "Cyclist", None, 1).await;
        people.push(c);
    }
    let mut tx = app.db().begin().await.unwrap();
    let a = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Tyre sale", 7).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.total, 3);
    // Not sent yet: the page it was written from says it is being sent…
    let written = format!("/app/announcements?bot={}&sent=3", b.bot);
    let (_, page) = get(&app, &b.cookie, &written).await;
    assert!(page.contains(&format!("data-sending=\"{}\">Sending to 3 customers", a.id)), "{page}");
    let conv: i64 = sqlx::query_scalar(&format!("select id from conversations where bot_id = {} and chat_id = {}", b.bot, people[0])).fetch_one(&app.db().pool).await.unwrap();
    let mut tx = app.db().begin().await.unwrap();
    bellhop::storage::privacy::erase_conversation(&mut tx, None, b.tenant, BotId(b.bot), bellhop::domain::conversation::ConversationId(conv), bellhop::domain::UserId(people[0])).await.unwrap();
    tx.commit().await.unwrap();
    let bot_client = app.state.bots.open(b.tenant, BotId(b.bot)).await.unwrap().unwrap();
    bellhop::answering::announce::send(app.db(), &bot_client, b.tenant, a.id).await.unwrap();
    let p = progress(&app, &b, a.id).await;
    assert_eq!((p["status"].as_str(), p["total"].as_i64(), p["done"].as_i64(), p["sent"].as_i64()), (Some("done"), Some(2), Some(2), Some(2)), "{p}");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("Done: 2 of 2 delivered"), "the page adds up");
    app.stop().await.unwrap();
}

/// A customer sends /stop to a bot that then changes owner: the new owner's announcements do
/// not reach them (they told the bot, not its owner of the time), and their /start to the bot
/// under its new owner brings announcements back.
#[tokio::test]
async fn a_stop_holds_after_the_bot_changes_owner_and_start_undoes_it_there() {
    let app = spawn_app().await;
    let first = business(&app, "Ada", "ada_moving_bot", "Ada's Antiques").await;
    let quiet = customer(&app, "Quiet Collector", first.bot).await;
    let keen = customer(&app, "Keen Collector", first.bot).await;
    app.tg.say(quiet, first.bot, "/stop").await;
    let said = wait_reply(&app, first.bot, quiet, 1).await;
    assert!(said[0].contains("you won't get announcements from this bot any more"), "{said:?}");
    app.drain_jobs(WAIT).await;

    // The bot goes to another owner (Telegram's `managed_bot` update naming them).
    let manager = app.tg.handle.sandbox.manager_id();
    let second = app.tg.post("users", serde_json::json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), serde_json::json!({ "user_id": second })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and owner_user_id = {second} and status = 'live'", first.bot)).await == 1 }).await;
    app.drain_jobs(WAIT).await;
    let (tenant, cookie, csrf) = app.signed_in_owner(second, "Ben's Books").await;
    assert_ne!(tenant, first.tenant);
    let b = Business { owner: second, bot: first.bot, tenant, cookie, csrf };
    // Both customers write to the bot under its new owner.
    talked(&app, &b, quiet, "Quiet Collector", None, 0).await;
    talked(&app, &b, keen, "Keen Collector", None, 0).await;

    let (_, page) = get(&app, &b.cookie, "/app/announcements?days=30").await;
    assert!(page.contains("<strong id=\"audience\">1</strong>"), "the customer who sent /stop is left out: {}", &page[page.find("audience").unwrap_or(0)..][..200.min(page.len())]);
    let bot = b.bot.to_string();
    let (status, location, _) = post(&app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", "Book fair on Saturday"), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/announcements?bot={}&sent=1", b.bot).as_str()));
    let id = latest_announcement(&app, b.bot).await;
    wait_until(WAIT, || async { progress(&app, &b, id).await["status"] == "done" }).await;
    let sent = app.tg.sent_by(b.bot).await;
    assert_eq!(announcement_texts(&sent, quiet, "Book fair on Saturday"), 0, "they sent /stop to this bot");
    assert_eq!(announcement_texts(&sent, keen, "Book fair on Saturday"), 1);

    // Their /start, under the new owner, brings announcements back; nothing is left behind with
    // the earlier owner.
    let before = bot_said_to(&app, b.bot, quiet).await.len();
    app.tg.say(quiet, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, quiet, before + 1).await;
    assert!(said[before].contains("You'll get this bot's announcements again"), "{said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_optouts where chat_id = {quiet}")).await, 0);
    app.stop().await.unwrap();
}

/// A customer who sent /stop sends /start while the owner has paused the bot: they are opted back
/// in (announcements reach them again), and the reply says both — the bot is paused, and
/// announcements come again — in their language.
#[tokio::test]
async fn start_to_a_paused_bot_opts_back_in_and_says_so_with_the_paused_notice() {
    let app = spawn_app().await;
    let b = business(&app, "Sol", "sol_paused_bot", "Sol's Surf").await;
    let c = app.tg.post("users", serde_json::json!({ "first_name": "Marta", "language_code": "es", "started_bots": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.say(c, b.bot, "/stop").await;
    wait_reply(&app, b.bot, c, 1).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_optouts where chat_id = {c}")).await, 1);
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/pause", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);

    app.tg.say(c, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert!(said[1].contains("está en una breve pausa"), "the paused notice, in Spanish: {said:?}");
    assert!(said[1].contains("Volverás a recibir los anuncios de este bot"), "and that announcements come again, in Spanish: {said:?}");
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_optouts where chat_id = {c}")).await, 0, "opted back in");
    // A second /start while paused: just the paused notice.
    app.tg.say(c, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, c, 3).await;
    assert!(said[2].contains("está en una breve pausa") && !said[2].contains("Volverás"), "{said:?}");
    app.stop().await.unwrap();
}

/// Whether `user` blocks (or unblocks) `bot` in the sandbox.
async fn block(app: &TestApp, user: i64, bot: i64, blocked: bool) {
    app.tg.post(&format!("users/{user}/block"), serde_json::json!({ "bot_id": bot, "blocked": blocked })).await;
}

/// Writes an announcement through the owner's form and waits until it is done; its progress.
async fn announce_and_wait(app: &TestApp, b: &Business, text: &str) -> Value {
    let bot = b.bot.to_string();
    let (status, _, _) = post(app, &b.cookie, "/app/announcements", &[("csrf", &b.csrf), ("bot", &bot), ("text", text), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let id = latest_announcement(app, b.bot).await;
    wait_until(WAIT, || async { progress(app, b, id).await["status"] == "done" }).await;
    progress(app, b, id).await
}

/// A customer who blocked the bot is found so by one announcement, and left out of the next ones
/// (not tried again, not counted as failed), with the owner told how many were left out and why;
/// once they write to the bot again (they unblocked it), announcements reach them again.
#[tokio::test]
async fn a_customer_who_blocked_the_bot_is_left_out_of_later_announcements_until_they_write_again() {
    let app = spawn_app().await;
    let b = business(&app, "Eva", "eva_blocked_bot", "Eva's Eggs").await;
    let gone = customer(&app, "Gone Customer", b.bot).await;
    let here = customer(&app, "Loyal Customer", b.bot).await;
    talked(&app, &b, gone, "Gone Customer", None, 2).await;
    talked(&app, &b, here, "Loyal Customer", None, 2).await;
    block(&app, gone, b.bot, true).await;

    let p = announce_and_wait(&app, &b, "Fresh eggs on Monday").await;
    assert_eq!((p["total"].as_i64(), p["sent"].as_i64(), p["blocked"].as_i64()), (Some(2), Some(1), Some(1)), "{p}");

    // The next announcement leaves them out, and the owner reads why.
    let (_, page) = get(&app, &b.cookie, "/app/announcements?days=30").await;
    assert!(page.contains("<strong id=\"audience\">1</strong>"), "{}", &page[page.find("audience").unwrap_or(0)..][..300.min(page.len())]);
    assert!(page.contains("1 more is left out: they blocked the bot"), "the form says who is left out and why");
    let attempts_before = app.tg.sent_by(b.bot).await.len();
    let p = announce_and_wait(&app, &b, "Duck eggs on Tuesday").await;
    assert_eq!((p["total"].as_i64(), p["sent"].as_i64(), p["blocked"].as_i64(), p["failed"].as_i64(), p["unreachable"].as_i64()), (Some(1), Some(1), Some(0), Some(0), Some(1)), "{p}");
    let id = latest_announcement(&app, b.bot).await;
    assert_eq!(count(app.db(), &format!("select count(*) from announcement_recipients where announcement_id = {id} and chat_id = {gone}")).await, 0, "not tried again");
    assert_eq!(app.tg.sent_by(b.bot).await.len(), attempts_before + 1, "one message: to the customer still here");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("1 more was left out: they had blocked the bot"), "the announcement says who it left out");

    // They unblock the bot and write to it (here /forget, whose question has buttons to press
    // later — left unanswered): announcements reach them again.
    block(&app, gone, b.bot, false).await;
    app.tg.say(gone, b.bot, "/forget").await;
    wait_reply(&app, b.bot, gone, 1).await;
    app.drain_jobs(WAIT).await;
    let p = announce_and_wait(&app, &b, "Quail eggs on Wednesday").await;
    assert_eq!((p["total"].as_i64(), p["sent"].as_i64(), p["unreachable"].as_i64()), (Some(2), Some(2), Some(0)), "{p}");
    assert_eq!(announcement_texts(&app.tg.sent_by(b.bot).await, gone, "Quail eggs on Wednesday"), 1);

    // Blocked again, then back with a press of a button (not a message): reachable again too.
    block(&app, gone, b.bot, true).await;
    let p = announce_and_wait(&app, &b, "Goose eggs on Thursday").await;
    assert_eq!(p["blocked"].as_i64(), Some(1), "{p}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {gone} and unreachable_at is not null")).await, 1);
    block(&app, gone, b.bot, false).await;
    let ask: Value = app.tg.sent_by(b.bot).await.into_iter().find(|m| m["chat_id"] == serde_json::json!(gone) && m["reply_markup"]["inline_keyboard"].is_array()).unwrap();
    let keep = ask["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{gone}/callbacks"), serde_json::json!({ "bot_id": b.bot, "message_id": ask["message_id"], "data": keep })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from conversations where chat_id = {gone} and unreachable_at is null")).await == 1 }).await;
    app.stop().await.unwrap();
}

/// A customer the announcements found blocked is back when they pay the bot: the pre-checkout of
/// an invoice they pay, and the payment's `successful_payment` message, are from them in their
/// chat with the bot, so later announcements reach them again (before, only a message or a button
/// press did, and a customer who came back to buy questions stayed left out).
#[tokio::test]
async fn a_customer_who_blocked_the_bot_and_pays_it_is_reached_by_announcements_again() {
    let app = spawn_app().await;
    let b = business(&app, "Pia", "pia_paid_bot", "Pia's Pies").await;
    let gone = customer(&app, "Gone Customer", b.bot).await;
    talked(&app, &b, gone, "Gone Customer", None, 2).await;
    block(&app, gone, b.bot, true).await;
    let p = announce_and_wait(&app, &b, "Apple pies on Monday").await;
    assert_eq!(p["blocked"].as_i64(), Some(1), "{p}");
    let marked = format!("select count(*) from conversations where chat_id = {gone} and unreachable_at is not null");
    assert_eq!(count(app.db(), &marked).await, 1);

    // They unblock the bot and go to pay an invoice it sent: its pre-checkout (refused here: the
    // invoice is not a valid one) is enough.
    block(&app, gone, b.bot, false).await;
    let token = app.tg.get(&format!("bots/{}", b.bot)).await["token"].as_str().unwrap().to_owned();
    let token = bellhop::domain::BotToken::parse(&token).unwrap();
    let invoice = serde_json::json!({ "chat_id": gone, "title": "Questions", "description": "More questions", "payload": "pw:0:0:20", "currency": "XTR", "prices": [{ "label": "Questions", "amount": 50 }] });
    let sent: Value = app.tg.client.call_raw(&token, "sendInvoice", &invoice).await.unwrap();
    let payment = app.tg.post(&format!("users/{gone}/payments"), serde_json::json!({ "bot_id": b.bot, "message_id": sent["message_id"] })).await;
    let payment = payment["id"].as_str().unwrap().to_owned();
    wait_until(WAIT, || async { app.tg.get(&format!("payments/{payment}")).await["status"] != "pending" }).await;
    assert_eq!(app.tg.get(&format!("payments/{payment}")).await["status"], "failed", "the invoice was refused at the pre-checkout");
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &marked).await, 0, "the pre-checkout showed they are back");

    // Marked again; then a payment's `successful_payment` message alone, as Telegram delivers it.
    let tried = bellhop::storage::now_ms();
    assert!(bellhop::storage::announcements::mark_unreachable(&app.db().pool, b.tenant, BotId(b.bot), bellhop::domain::ChatId(gone), tried).await.unwrap());
    let sealed = bellhop::storage::bots::webhook_auth(&app.db().pool, BotId(b.bot)).await.unwrap().unwrap().secret;
    let secret = String::from_utf8(app.state.keys.open(&sealed.unwrap(), &bellhop::storage::bots::webhook_secret_aad(BotId(b.bot))).unwrap()).unwrap();
    token_used(&secret);
    let who = serde_json::json!({ "id": gone, "is_bot": false, "first_name": "Gone" });
    let paid = serde_json::json!({
        "update_id": 880_001,
        "message": { "message_id": 88_001, "date": 1_780_000_000, "chat": { "id": gone, "type": "private", "first_name": "Gone" }, "from": who,
                     "successful_payment": { "currency": "XTR", "total_amount": 50, "invoice_payload": "not ours", "telegram_payment_charge_id": "stxleftover1", "provider_payment_charge_id": "" } }
    });
    assert_eq!(app.post_update(b.bot, Some(&secret), &paid).await, 200);
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &marked).await, 0, "the payment showed they are back");
    app.stop().await.unwrap();
}

/// The worker sending an announcement is killed during its last attempt (its job dead-lettered by
/// the reaper, with no handler left to give up): the periodic repair ends the announcement — the
/// message under way "not known", the customers not reached yet marked so — instead of it saying
/// "Sending" for ever. An announcement whose job still waits is left alone.
#[tokio::test]
async fn an_announcement_whose_job_died_on_its_last_attempt_is_ended_by_the_repair() {
    use bellhop::storage::announcements::end_abandoned;
    let app = spawn_app().await;
    let b = business(&app, "Zoe", "zoe_killed_bot", "Zoe's Zines").await;
    let mut people = Vec::new();
    for i in 0..3 {
        let c = customer(&app, &format!("Reader {i}"), b.bot).await;
        talked(&app, &b, c, "Reader", None, 1).await;
        people.push(c);
    }
    let queue = &app.state.queue;
    // Two announcements with their jobs, as the owner's form writes them; due tomorrow, so no
    // worker here takes them.
    let mut tx = app.db().begin().await.unwrap();
    let killed = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Issue 7 is out", 7).await.unwrap();
    let waiting = bellhop::answering::announce::write(&mut tx, b.tenant, BotId(b.bot), "Issue 8 is out", 7).await.unwrap();
    for a in [&killed, &waiting] {
        let mut job = bellhop::app::jobs::announce(queue, b.tenant, BotId(b.bot), a.id);
        job.run_at_ms = bellhop::storage::now_ms() + 86_400_000;
        queue.enqueue_in(&mut tx, &job).await.unwrap();
    }
    tx.commit().await.unwrap();
    // The first one's last attempt had claimed a recipient when its worker was killed: its lease
    // runs out, and the reaper dead-letters the job.
    let pool = &app.db().pool;
    sqlx::query(&format!("update announcement_recipients set state = 'sending' where announcement_id = {} and chat_id = {}", killed.id, people[0])).execute(pool).await.unwrap();
    sqlx::query(&format!("update jobs set state = 'running', attempts = max_attempts, locked_by = 'killed-worker', lease_until = 1 where dedup_key = 'announce:{}'", killed.id)).execute(pool).await.unwrap();
    bellhop::storage::jobs::requeue_expired(pool).await.unwrap();
    assert_eq!(count(app.db(), &format!("select count(*) from jobs where dedup_key = 'announce:{}' and state = 'dead'", killed.id)).await, 1);

    let names = bellhop::app::jobs::names();
    assert_eq!(end_abandoned(app.db(), names.announce_kind, names.announce_key_prefix).await.unwrap(), 1);
    let p = progress(&app, &b, killed.id).await;
    assert_eq!((p["status"].as_str(), p["done"].as_i64(), p["unknown"].as_i64(), p["failed"].as_i64()), (Some("done"), Some(3), Some(1), Some(2)), "{p}");
    let reason = format!("select count(*) from announcement_recipients where announcement_id = {} and state = 'failed' and error like 'not sent: the sending stopped%'", killed.id);
    assert_eq!(count(app.db(), &reason).await, 2, "the reason is kept");
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("Done: 0 of 3 delivered, 2 could not be reached, 1 not known (interrupted; not sent again)"), "the owner sees it ended");
    // The one whose job waits goes on; the repair again finds nothing.
    assert_eq!(progress(&app, &b, waiting.id).await["status"], "sending");
    assert_eq!(end_abandoned(app.db(), names.announce_kind, names.announce_key_prefix).await.unwrap(), 0);
    app.stop().await.unwrap();
}

/// The number of customers beside the days on the form follows the days the owner types: the
/// page's script asks `…/audience` for the days now in the box (the number used to stay the one
/// of the days the page was loaded with). Another business's owner cannot ask about this bot.
#[tokio::test]
async fn the_audience_beside_the_days_is_asked_again_for_the_days_typed() {
    let app = spawn_app().await;
    let b = business(&app, "Tom", "tom_audience_bot", "Tom's Teas").await;
    let recent = customer(&app, "Recent Customer", b.bot).await;
    let older = customer(&app, "Older Customer", b.bot).await;
    talked(&app, &b, recent, "Recent Customer", None, 2).await;
    talked(&app, &b, older, "Older Customer", None, 20).await;
    let (_, page) = get(&app, &b.cookie, "/app/announcements").await;
    assert!(page.contains("<strong id=\"audience\">2</strong>"), "30 days by default");
    let url = format!("/app/announcements/audience?bot={}", b.bot);
    assert!(page.contains(&format!("data-audience-url=\"{url}\"")), "the days box says where to ask");
    for (days, want) in [(5, 1), (30, 2), (0, 0)] {
        let r = app.http.get(app.url(&format!("{url}&days={days}"))).header("cookie", &b.cookie).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let a: Value = r.json().await.unwrap();
        // 0 days is taken as 1 (the box's minimum): nobody wrote today.
        assert_eq!((a["audience"].as_i64(), a["left_out"].as_str()), (Some(want), Some("")), "{days} days: {a}");
    }
    let (_, cookie_x, _) = app.signed_in_owner(880_301, "Other Teas").await;
    let r = app.http.get(app.url(&format!("{url}&days=30"))).header("cookie", &cookie_x).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await.unwrap();
}

/// A database migrated up to (not including) `version`, with two businesses.
async fn migrated_before(dir: &std::path::Path, version: i64) -> bellhop::storage::Db {
    let url = bellhop::config::DatabaseUrl::parse(&fresh_database_url(dir).await).unwrap();
    let db = bellhop::storage::Db::connect(&url).await.unwrap();
    db.migrate_before(version).await.unwrap();
    exec_all(&db, &["insert into tenants (id, name, owner_user_id, created_at, updated_at) values (1, 'First Owner', 9001, 100, 100), (2, 'Second Owner', 9002, 100, 100)"]).await;
    db
}

async fn exec_all(db: &bellhop::storage::Db, sqls: &[&str]) {
    for sql in sqls {
        sqlx::query(sql).execute(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Migration 0082 on data of before it: the `/stop`s a bot's earlier owner kept go to its owner
/// now (one already there stays as it is); those of a bot that never moved stay.
#[tokio::test]
async fn migration_0082_moves_the_stops_an_earlier_owner_kept_to_the_bots_owner() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated_before(dir.path(), 82).await;
    // 501 moved from the first owner to the second; 502 stayed with the first.
    exec_all(&db, &["insert into announcement_optouts (tenant_id, bot_id, chat_id, created_at) values (1, 501, 77, 100), (1, 501, 78, 100), (2, 501, 78, 200), (1, 502, 79, 100)"]).await;
    for (id, tenant) in [(501, 2), (502, 1)] {
        sqlx::query("insert into bots (id, tenant_id, username, name, status, token_key_id, token_ct, created_at, updated_at) values ($1, $2, $3, 'Bot', 'live', 'k1', $4, 100, 100)")
            .bind(id)
            .bind(tenant)
            .bind(format!("b{id}_bot"))
            .bind(vec![0u8, 1, 2])
            .execute(&db.pool)
            .await
            .unwrap();
    }
    db.migrate().await.unwrap();
    let stops: Vec<(i64, i64, i64, i64)> = sqlx::query_as("select tenant_id, bot_id, chat_id, created_at from announcement_optouts order by bot_id, chat_id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(stops, vec![(2, 501, 77, 100), (2, 501, 78, 200), (1, 502, 79, 100)]);
}

/// Migration 0083 on data of before it: a customer an earlier announcement found blocked, who has
/// not written since, is marked unreachable; one who wrote since is not.
#[tokio::test]
async fn migration_0083_marks_customers_an_announcement_found_blocked_who_have_not_written_since() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated_before(dir.path(), 83).await;
    exec_all(
        &db,
        &[
            "insert into conversations (id, tenant_id, bot_id, chat_id, chat_kind, created_at, last_message_at) values (1, 2, 501, 81, 'private', 100, 100), (2, 2, 501, 82, 'private', 100, 500), (3, 2, 501, 83, 'private', 100, 100)",
            "insert into announcements (id, tenant_id, bot_id, text, since_days, status, total, created_at) values (1, 2, 501, 'Hi', 30, 'done', 3, 300)",
            "insert into announcement_recipients (announcement_id, tenant_id, chat_id, state) values (1, 2, 81, 'blocked'), (1, 2, 82, 'blocked'), (1, 2, 83, 'sent')",
        ],
    )
    .await;
    db.migrate().await.unwrap();
    let marks: Vec<(i64, Option<i64>)> = sqlx::query_as("select chat_id, unreachable_at from conversations order by chat_id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(marks, vec![(81, Some(300)), (82, None), (83, None)], "82 wrote after the announcement found them blocked");
    let unreachable: i64 = sqlx::query_scalar("select unreachable from announcements where id = 1").fetch_one(&db.pool).await.unwrap();
    assert_eq!(unreachable, 0);
}

/// An announcement going out holds its worker for as long as Telegram's per-bot pace takes — here
/// until Telegram lets its first message through. It runs on its own queue: another business's
/// customer is answered meanwhile, with one worker per queue.
#[tokio::test]
async fn another_business_s_customer_is_answered_while_an_announcement_goes_out() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_CONCURRENCY", "1");
    })
    .await;
    let a = business(&app, "Nadia", "nadia_lane_bot", "Nadia's Bakery").await;
    let b = business(&app, "Omar", "omar_lane_bot", "Omar's Shop").await;
    for i in 0..3 {
        let c = customer(&app, &format!("Customer {i}"), a.bot).await;
        talked(&app, &a, c, "Customer", None, 1).await;
    }
    app.tg.hold(a.bot, "sendMessage", 1).await;
    let bot = a.bot.to_string();
    let (status, _, _) = post(&app, &a.cookie, "/app/announcements", &[("csrf", &a.csrf), ("bot", &bot), ("text", "Fresh bread at 7"), ("days", "30"), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    wait_until(WAIT, || async { app.tg.held(a.bot, "sendMessage").await == 1 }).await;

    let shopper = customer(&app, "Shopper", b.bot).await;
    app.tg.say(shopper, b.bot, "Hello, are you open today?").await;
    let said = wait_reply(&app, b.bot, shopper, 1).await;
    assert!(!said.is_empty());
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.announce' and state = 'running'").await, 1, "the announcement is still going out");

    app.tg.release(a.bot, "sendMessage", false).await;
    let id = latest_announcement(&app, a.bot).await;
    wait_until(WAIT, || async { progress(&app, &a, id).await["status"] == "done" }).await;
    assert_eq!(progress(&app, &a, id).await["sent"].as_i64(), Some(3));
    app.stop().await.unwrap();
}
