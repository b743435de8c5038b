//! Issue 17, items 3 and 7, through the sandbox and the admin pages: any message gets a sensible
//! reply (photos, voice notes, videos, documents, stickers, locations, contacts: a short reply
//! and a handoff to the owner; a caption answered as text), and a bot's lifecycle — pause and
//! resume, a new token, disconnect and connect again, delete its data.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

pub async fn bot_said_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(chat)).map(text_of).collect()
}

pub async fn wait_reply(app: &TestApp, bot: i64, chat: i64, n: usize) -> Vec<String> {
    wait_until(WAIT, || async { bot_said_to(app, bot, chat).await.len() >= n }).await;
    bot_said_to(app, bot, chat).await
}

/// A business with a live bot made through the sandbox, its owner signed in to the admin pages.
pub struct Business {
    pub owner: i64,
    pub bot: i64,
    pub tenant: bellhop::domain::TenantId,
    pub cookie: String,
    pub csrf: String,
}

pub async fn business(app: &TestApp, owner_name: &str, username: &str, name: &str) -> Business {
    let owner = app.tg.user(owner_name).await;
    let bot = app.tg.create_managed_bot(owner, username, name).await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_live(app, bot).await;
    let (tenant, cookie, csrf) = app.signed_in_owner(owner, name).await;
    Business { owner, bot, tenant, cookie, csrf }
}

pub async fn wait_live(app: &TestApp, bot: i64) {
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
}

pub async fn customer(app: &TestApp, name: &str, bot: i64) -> i64 {
    app.tg.post("users", json!({ "first_name": name, "started_bots": [bot] })).await["id"].as_i64().unwrap()
}

/// POSTs an admin form: (status, Location header, body).
pub async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    (r.status().as_u16(), location, r.text().await.unwrap())
}

pub async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let r = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// What the manager bot said to `owner`.
pub async fn manager_said(app: &TestApp, owner: i64) -> Vec<String> {
    let manager = app.tg.handle.sandbox.manager_id();
    bot_said_to(app, manager, owner).await
}

/// The business's plan use this period (answers that took a credit).
async fn credits_used(app: &TestApp, tenant: bellhop::domain::TenantId) -> i64 {
    bellhop::storage::billing::get_account(&app.db().pool, tenant).await.unwrap().map_or(0, |a| a.used_in_period)
}

/// How many times answering asked the ledger for a credit (an AI answer on the way; the built-in
/// model's quoted answers release it again).
async fn credit_reservations(app: &TestApp, tenant: bellhop::domain::TenantId) -> i64 {
    count(app.db(), &format!("select count(*) from billing_ledger where tenant_id = {} and kind = 'reserve'", tenant.0)).await
}

#[tokio::test]
async fn every_kind_of_media_gets_the_short_reply_and_reaches_the_owner_and_a_caption_is_answered_as_text() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_media_bot", "Rosa's Cakes").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "What are your opening hours?", "Monday to Friday, 9 to 5.").await.unwrap();

    // (kind, extra fields, what the owner reads of it)
    let kinds: [(&str, Value, &str); 9] = [
        ("photo", json!({}), "[a photo]"),
        ("voice", json!({}), "[a voice message] (4 s)"),
        ("video", json!({}), "[a video]"),
        ("video_note", json!({}), "[a video message]"),
        ("audio", json!({ "file_name": "song.mp3" }), "[an audio file]: song.mp3"),
        ("animation", json!({}), "[a GIF]"),
        ("document", json!({ "file_name": "order-list.pdf" }), "[a file]: order-list.pdf"),
        ("location", json!({ "latitude": 52.3676, "longitude": 4.9041 }), "[a location] 52.36760, 4.90410"),
        ("contact", json!({ "phone_number": "+31 20 555 0199", "first_name": "Ann" }), "[a contact] Ann, +31 20 555 0199"),
    ];
    for (i, (kind, extra, described)) in kinds.iter().enumerate() {
        let c = customer(&app, &format!("Media{i}"), b.bot).await;
        let mut say = json!({ "bot_id": b.bot, "media": kind });
        say.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let sent = app.tg.post(&format!("users/{c}/messages"), say).await;
        assert!(!sent[*kind].is_null(), "the sandbox sent a {kind}: {sent}");
        let said = wait_reply(&app, b.bot, c, 1).await;
        assert!(said[0].contains("I can only read text messages") && said[0].contains("Rosa's Cakes"), "{kind}: {said:?}");
        // The owner hears of it in the manager chat, as a handoff, with what was sent in words.
        wait_until(WAIT, || async { manager_said(&app, b.owner).await.iter().any(|t| t.contains(&format!("Media{i}")) && t.contains(described)) }).await;
        let mode = count(app.db(), &format!("select count(*) from conversations where chat_id = {c} and mode = 'human'")).await;
        assert_eq!(mode, 1, "{kind}: the conversation is with a person now");
    }

    // A sticker is small talk, not a request for a person: a short reply, and no handoff.
    let c = customer(&app, "Sticker", b.bot).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "sticker" })).await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert_eq!(said, ["👍 If you have another question, just ask."]);
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {c} and mode = 'bot'")).await, 1);
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("Sticker")), "the owner is not asked");

    // A second photo in a conversation already with a person: passed on, not answered again.
    let c = customer(&app, "Twice", b.bot).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "photo" })).await;
    wait_reply(&app, b.bot, c, 1).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "sticker" })).await;
    wait_until(WAIT, || async { manager_said(&app, b.owner).await.iter().any(|t| t.contains("Twice") && t.contains("[a sticker")) }).await;
    app.drain_jobs(WAIT).await;
    assert_eq!(bot_said_to(&app, b.bot, c).await.len(), 1, "one reply; the second went to the owner only");

    // A photo with a caption: the caption is the question, answered from the owner's Q&A.
    let c = customer(&app, "Caption", b.bot).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "photo", "text": "What are your opening hours?" })).await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].contains("9 to 5"), "{said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {c} and mode = 'bot'")).await, 1);
    // A caption in Russian, from a Telegram app that names no language: the bot's own words
    // are in Russian, as for a text message.
    let c = customer(&app, "Подпись", b.bot).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "photo", "text": "Сколько стоит доставка торта в соседний город?" })).await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].chars().any(|ch| ('а'..='я').contains(&ch.to_lowercase().next().unwrap())), "the reply in the caption's language: {said:?}");

    // The owner's own reply text from the settings page replaces the default.
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/settings", b.bot), &[("csrf", &b.csrf), ("media_text", "Lovely! Rosa will look at it and write back.")]).await;
    assert_eq!(status, 303);
    let c = customer(&app, "Custom", b.bot).await;
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "voice" })).await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert_eq!(said[0], "Lovely! Rosa will look at it and write back.");

    // None of it used the model or a credit; media descriptions are kept out of the model's view.
    app.drain_jobs(WAIT).await;
    assert_eq!(credits_used(&app, b.tenant).await, 0);
    assert_eq!(credit_reservations(&app, b.tenant).await, 0);
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where model_tokens > 0").await, 0);
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'bot' and kind = 'media'").await, 11);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_paused_bot_answers_with_a_notice_without_the_model_or_a_credit_and_answers_again_when_resumed() {
    let app = spawn_app().await;
    let b = business(&app, "Paula", "paula_pause_bot", "Paula's Bikes").await;
    let doc = "# Repairs\n\nWe repair flat tyres while you wait, for 15 euros.\n";
    let new = bellhop::storage::sources::NewSource { bot: Some(bellhop::domain::BotId(b.bot)), kind: "file", name: "repairs.md", size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
    let source = bellhop::app::sources::add_source(&app.state, b.tenant, &new).await.unwrap();
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from sources where id = {source} and status = 'ready'")).await == 1 }).await;

    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/pause", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=paused", b.bot).as_str()));
    let (_, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings?done=paused", b.bot)).await;
    assert!(page.contains("Resume answering") && page.contains("none of your plan's AI answers are used"), "the settings page shows the bot paused");
    let (_, home) = get(&app, &b.cookie, "/app").await;
    assert!(home.contains("pill wait\">paused"), "the home page shows the bot paused");

    let c = customer(&app, "Carl", b.bot).await;
    app.tg.say(c, b.bot, "How much is a flat tyre repair?").await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].contains("taking a short break") && said[0].contains("Paula's Bikes"), "{said:?}");
    // Photos and commands too: the paused notice, no handoff.
    app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "photo" })).await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert!(said[1].contains("taking a short break"), "{said:?}");
    app.drain_jobs(WAIT).await;
    assert_eq!(credits_used(&app, b.tenant).await, 0, "a paused bot uses no credits");
    assert_eq!(credit_reservations(&app, b.tenant).await, 0, "nor asks for one: no answer is attempted");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'bot' and kind <> 'paused'").await, 0);
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {c} and mode = 'human'")).await, 0);
    // The bot stayed connected all along.
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"]["url"].is_string());

    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/resume", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=resumed", b.bot).as_str()));
    app.tg.say(c, b.bot, "How much is a flat tyre repair?").await;
    let said = wait_reply(&app, b.bot, c, 3).await;
    assert!(said[2].contains("15 euros"), "answered from the owner's document again: {said:?}");
    app.drain_jobs(WAIT).await;
    // The default quotes the owner's sentences, which costs nothing: no credit is asked for
    // (one is only for an answer a model writes: answering_llm.rs).
    assert_eq!(credit_reservations(&app, b.tenant).await, 0, "a quote asks for no credit");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where author = 'bot' and kind = 'extractive' and conversation_id in (select id from conversations where chat_id = {c})")).await, 1, "the answer after resuming went through the pipeline");
    // Another business cannot pause this bot.
    let (_, cookie_b, csrf_b) = app.signed_in_owner(880_002, "Other Business").await;
    let (status, _, _) = post(&app, &cookie_b, &format!("/app/bots/{}/pause", b.bot), &[("csrf", &csrf_b)]).await;
    assert_eq!(status, 404);
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and paused_at is not null", b.bot)).await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_new_token_replaces_the_old_one_the_old_secret_works_until_the_new_is_set_and_no_message_is_lost() {
    let app = spawn_app().await;
    let b = business(&app, "Tom", "tom_token_bot", "Tom's Tools").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you rent drills?", "Yes, 10 euros a day.").await.unwrap();
    let before = app.tg.get(&format!("bots/{}", b.bot)).await;
    let (old_token, old_secret) = (before["token"].as_str().unwrap().to_owned(), before["webhook"]["secret_token"].as_str().unwrap().to_owned());

    // Without the confirmation box nothing changes.
    let (status, _, body) = post(&app, &b.cookie, &format!("/app/bots/{}/token", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Nothing was changed"));
    assert_eq!(app.tg.get(&format!("bots/{}", b.bot)).await["token"].as_str(), Some(old_token.as_str()));

    // The new webhook is held at Telegram for a moment: a customer writes in between.
    app.tg.hold(b.bot, "setWebhook", 1).await;
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/token", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=token", b.bot).as_str()));
    let after = app.tg.get(&format!("bots/{}", b.bot)).await;
    let new_token = after["token"].as_str().unwrap().to_owned();
    token_used(&new_token);
    assert_ne!(new_token, old_token);
    // The old token no longer works at Telegram.
    let old = app.tg.client.bot(bellhop::domain::BotToken::parse(&old_token).unwrap());
    assert!(matches!(old.call(&bellhop::telegram::methods::GetMe {}).await, Err(bellhop::telegram::TelegramError::Unauthorized)));
    wait_until(WAIT, || async { app.tg.held(b.bot, "setWebhook").await == 1 }).await;
    // Meanwhile the old webhook secret still works (an update Telegram signed with it before the
    // switch is not refused); a wrong one does not.
    assert_eq!(app.post_update(b.bot, Some(&old_secret), &json!({ "update_id": 9_999_000 })).await, 200);
    assert_eq!(app.post_update(b.bot, Some("not-the-secret"), &json!({ "update_id": 9_999_003 })).await, 401);
    let c = customer(&app, "Dana", b.bot).await;
    app.tg.say(c, b.bot, "Do you rent drills?").await;
    app.tg.release(b.bot, "setWebhook", false).await;

    wait_live(&app, b.bot).await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].contains("10 euros"), "the message sent during the switch is answered: {said:?}");
    let state = app.tg.get(&format!("bots/{}", b.bot)).await;
    assert_ne!(state["webhook"]["secret_token"].as_str().unwrap(), old_secret, "a fresh webhook secret");
    // bellhop holds the new token (sealed) and opens it.
    let stored = bellhop::storage::bots::sealed_token(&app.db().pool, b.tenant, bellhop::domain::BotId(b.bot)).await.unwrap().unwrap();
    let opened = app.state.keys.open_string(&stored, &bellhop::storage::bots::token_aad(bellhop::domain::BotId(b.bot))).unwrap();
    assert_eq!(opened, new_token);
    // Once Telegram took the new secret, the old one is refused.
    assert_eq!(app.post_update(b.bot, Some(&old_secret), &json!({ "update_id": 9_999_001 })).await, 401);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_disconnected_bot_is_left_alone_and_its_token_forgotten_until_it_is_connected_again() {
    let app = spawn_app().await;
    let b = business(&app, "Dora", "dora_disconnect_bot", "Dora's Deli").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you cater parties?", "Yes, for up to 50 people.").await.unwrap();
    let secret = app.tg.get(&format!("bots/{}", b.bot)).await["webhook"]["secret_token"].as_str().unwrap().to_owned();
    let c = customer(&app, "Eve", b.bot).await;
    app.tg.say(c, b.bot, "Do you cater parties?").await;
    wait_reply(&app, b.bot, c, 1).await;

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 422, "not without the confirmation box");
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'live'", b.bot)).await, 1);

    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=disconnected", b.bot).as_str()));
    // Telegram no longer delivers to bellhop; the bot is still its owner's there.
    let state = app.tg.get(&format!("bots/{}", b.bot)).await;
    assert!(state["webhook"].is_null(), "{state}");
    assert_eq!(state["owner_id"], json!(b.owner), "{state}");
    // It promises nothing any more: no menu, and whoever opens it reads that it isn't answering
    // (the walkthrough's customers wrote into silence under "I answer from their information").
    assert_eq!(state["commands"], json!([]), "{state}");
    assert_eq!(state["description"], json!(bellhop::manager::brand::OUT_OF_SERVICE), "{state}");
    assert_eq!(state["short_description"], json!(bellhop::manager::brand::OUT_OF_SERVICE), "{state}");
    assert!(state["localised"].as_object().unwrap().values().all(|l| l["description"].is_null() && l["commands"] == json!([])), "{state}");
    // bellhop forgot the token and the webhook secret, and refuses the bot's updates.
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = '' and webhook_secret_ct is null", b.bot)).await, 1);
    assert!(app.state.bots.open(b.tenant, bellhop::domain::BotId(b.bot)).await.unwrap().is_none());
    assert_eq!(app.post_update(b.bot, Some(&secret), &json!({ "update_id": 9_999_002 })).await, 401);
    let (_, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings?done=disconnected", b.bot)).await;
    assert!(page.contains("The bot is still yours in Telegram") && page.contains("Connect it again"), "plain words on the page");
    // The page's forms still work, and says so at the top: changes are kept for when it is back.
    let top = page.split("<h1 class=\"page-title\">").next().unwrap();
    assert!(top.contains("This bot is disconnected. Changes you make here are saved and reach Telegram when you <a href=\"#lifecycle\">connect it again</a>."), "{page}");
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/brand", b.bot), &[("csrf", &b.csrf), ("name", "Dora's Deli & Bakery")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?brand=stored#brand", b.bot).as_str()));
    // The conversations stay.
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where bot_id = {}", b.bot)).await, 1);

    // A new token made in Telegram meanwhile does not connect it again behind the owner's back.
    let manager = app.state.manager.as_ref().unwrap();
    let fresh = manager.bot.call(&bellhop::telegram::methods::ReplaceManagedBotToken { user_id: bellhop::domain::UserId(b.bot) }).await.unwrap();
    token_used(&fresh);
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = ''", b.bot)).await, 1);
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null());

    // Connect again: the current token fetched, the bot provisioned, answering again.
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=connected", b.bot).as_str()));
    wait_live(&app, b.bot).await;
    let state = app.tg.get(&format!("bots/{}", b.bot)).await;
    assert_ne!(state["description"], json!(bellhop::manager::brand::OUT_OF_SERVICE), "the brand is back: {state}");
    assert_eq!(state["name"], "Dora's Deli & Bakery", "the name changed while disconnected reached Telegram: {state}");
    let (_, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings", b.bot)).await;
    assert!(!page.contains("This bot is disconnected"), "no notice once connected");
    assert!(!state["commands"].as_array().unwrap().is_empty(), "the menu is back: {state}");
    app.tg.say(c, b.bot, "Do you cater parties?").await;
    let said = wait_reply(&app, b.bot, c, 2).await;
    assert!(said.last().unwrap().contains("50 people"), "{said:?}");
    app.stop().await.unwrap();
}

/// Disconnected and connected again with the same token (none made in Telegram meanwhile): the
/// bot is provisioned again, though its first provisioning job — the same bot, token and owner
/// — is still kept in the queue's history.
#[tokio::test]
async fn a_bot_connected_again_with_the_same_token_is_provisioned_again() {
    let app = spawn_app().await;
    let b = business(&app, "Sam", "sam_same_token_bot", "Sam's Shoes").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you repair boots?", "Yes, within three days.").await.unwrap();
    app.drain_jobs(WAIT).await;
    assert!(count(app.db(), "select count(*) from jobs where kind = 'bot.provision' and state = 'done'").await >= 1, "the first provisioning is kept");
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null());

    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=connected", b.bot).as_str()));
    wait_live(&app, b.bot).await;
    assert!(!app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null(), "the webhook is set again");
    let c = customer(&app, "Tia", b.bot).await;
    app.tg.say(c, b.bot, "Do you repair boots?").await;
    let said = wait_reply(&app, b.bot, c, 1).await;
    assert!(said[0].contains("three days"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn deleting_a_bots_data_disconnects_it_and_erases_only_its_customers_data() {
    let app = spawn_app().await;
    let a = business(&app, "Ada", "ada_delete_bot", "Ada's Attic").await;
    let other = business(&app, "Otto", "otto_keep_bot", "Otto's Oven").await;
    for (b, q) in [(&a, "Do you buy old lamps?"), (&other, "Do you bake rye bread?")] {
        bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), q, "Yes.").await.unwrap();
        let c = customer(&app, "Fay", b.bot).await;
        app.tg.say(c, b.bot, q).await;
        wait_reply(&app, b.bot, c, 1).await;
    }
    app.drain_jobs(WAIT).await;
    let (status, _, _) = post(&app, &a.cookie, &format!("/app/bots/{}/delete", a.bot), &[("csrf", &a.csrf)]).await;
    assert_eq!(status, 422, "not without the confirmation box");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where bot_id = {}", a.bot)).await, 1);

    let (status, location, _) = post(&app, &a.cookie, &format!("/app/bots/{}/delete", a.bot), &[("csrf", &a.csrf), ("confirm", "yes")]).await;
    assert_eq!((status, location.as_str()), (303, "/app?deleted=1"));
    for table in ["conversations", "telegram_updates", "bot_settings"] {
        assert_eq!(count(app.db(), &format!("select count(*) from {table} where bot_id = {}", a.bot)).await, 0, "{table}");
    }
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where tenant_id = {}", a.tenant.0)).await, 0);
    assert!(app.tg.get(&format!("bots/{}", a.bot)).await["webhook"].is_null(), "disconnected first");
    let (_, home) = get(&app, &a.cookie, "/app?deleted=1").await;
    assert!(!home.contains("ada_delete_bot") && home.contains("Deleted."), "no longer listed");
    assert_eq!(get(&app, &a.cookie, &format!("/app/bots/{}/settings", a.bot)).await.0, 404);
    // The other business's bot and data are untouched.
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where bot_id = {}", other.bot)).await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where tenant_id = {}", other.tenant.0)).await, 2);
    assert!(count(app.db(), &format!("select count(*) from telegram_updates where bot_id = {}", other.bot)).await >= 1);
    // The other owner cannot delete a bot that isn't theirs.
    let (status, _, _) = post(&app, &other.cookie, &format!("/app/bots/{}/delete", a.bot), &[("csrf", &other.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn disconnecting_a_bot_frees_its_place_on_the_plan_and_connecting_it_again_needs_one() {
    // The Free plan has one bot: a second is parked.
    let app = spawn_app().await;
    let b = business(&app, "Pia", "pia_first_bot", "Pia's Pies").await;
    let second = app.tg.create_managed_bot(b.owner, "pia_second_bot", "Pia's Pastry").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{second}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {second} and status = 'parked'")).await == 1 }).await;

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    wait_live(&app, second).await;
    assert!(app.tg.get(&format!("bots/{second}")).await["webhook"]["url"].is_string(), "the parked bot took the free place");

    // Connecting the first again: the plan is full now, so it comes back parked, not live.
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?done=parked", b.bot).as_str()));
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'parked'", b.bot)).await, 1);
    assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_album_of_photos_gets_one_reply_and_every_photo_reaches_the_owner() {
    let app = spawn_app().await;
    let b = business(&app, "Lia", "lia_album_bot", "Lia's Lamps").await;
    let c = customer(&app, "Mo", b.bot).await;
    // Three photos at once, as Telegram delivers an album: one update each, back to back.
    for _ in 0..3 {
        app.tg.post(&format!("users/{c}/messages"), json!({ "bot_id": b.bot, "media": "photo" })).await;
    }
    app.drain_jobs(WAIT).await;
    wait_until(WAIT, || async {
        let said = manager_said(&app, b.owner).await;
        // The handoff's transcript carries the first; the other two are passed on one by one.
        said.iter().filter(|t| t.contains("Mo") && t.contains("[a photo]")).count() >= 3
    })
    .await;
    // A photo is marked passed on right after the manager's message is sent: the sandbox may
    // show the message a moment before that commit.
    let passed_on = "select count(*) from conversation_messages where author = 'customer' and kind = 'media' and delivery = 'sent'";
    wait_until(WAIT, || async { count(app.db(), passed_on).await == 3 }).await;
    assert_eq!(count(app.db(), passed_on).await, 3);
    assert_eq!(bot_said_to(&app, b.bot, c).await.len(), 1, "one reply to the album");
    app.stop().await.unwrap();
}

/// The owner disconnects a bot while a setup of it is under way (Repair, here; an account closing
/// does the same): the setup does not bring it back. Held at `setWebhook`, it removes the webhook
/// it set after the disconnect removed the one before; held later (`setMyCommands`), it leaves
/// the bot disconnected and sends no "is live" welcome.
#[tokio::test]
async fn a_bot_disconnected_while_it_is_being_set_up_stays_disconnected_with_no_webhook_and_no_welcome() {
    let app = spawn_app().await;
    let b = business(&app, "Kai", "kai_setup_race_bot", "Kai's Kites").await;
    app.drain_jobs(WAIT).await;
    let welcomes = || async { manager_said(&app, b.owner).await.iter().filter(|t| t.contains("is live")).count() };
    for method in ["setWebhook", "setMyCommands"] {
        let welcomed = welcomes().await;
        // As for a bot's first setup: its welcome not sent yet.
        sqlx::query(&format!("update bots set welcome_sent_at = null where id = {}", b.bot)).execute(&app.db().pool).await.unwrap();
        app.tg.hold(b.bot, method, 1).await;
        let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/repair", b.bot), &[("csrf", &b.csrf)]).await;
        assert_eq!(status, 303);
        wait_until(WAIT, || async { app.tg.held(b.bot, method).await == 1 }).await;
        let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/disconnect", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
        assert_eq!(status, 303);
        app.tg.release(b.bot, method, false).await;
        app.drain_jobs(WAIT).await;
        assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = ''", b.bot)).await, 1, "held at {method}: still disconnected");
        assert!(app.tg.get(&format!("bots/{}", b.bot)).await["webhook"].is_null(), "held at {method}: no webhook left");
        assert_eq!(welcomes().await, welcomed, "held at {method}: no welcome");
        // Connected again for the next round.
        let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/connect", b.bot), &[("csrf", &b.csrf)]).await;
        assert_eq!(status, 303);
        wait_live(&app, b.bot).await;
        app.drain_jobs(WAIT).await;
    }
    app.stop().await.unwrap();
}

/// Updates may arrive out of order: a delayed `managed_bot` update naming the bot's previous
/// owner, delivered after the new owner disconnected it, does not connect it again.
#[tokio::test]
async fn a_delayed_update_naming_the_previous_owner_does_not_connect_a_disconnected_bot() {
    let app = spawn_app().await;
    let first = business(&app, "Lou", "lou_moved_bot", "Lou's Lutes").await;
    let manager = app.tg.handle.sandbox.manager_id();
    // The update that told bellhop of the bot's creation (by its first owner).
    let (row, body): (i64, String) = sqlx::query_as(&format!("select id, body from telegram_updates where bot_id = {manager} and body like '%managed_bot\"%' and body like '%{}%' order by update_id limit 1", first.bot))
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
    let second = app.tg.post("users", json!({ "first_name": "Mia", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), json!({ "user_id": second })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and owner_user_id = {second} and status = 'live'", first.bot)).await == 1 }).await;
    app.drain_jobs(WAIT).await;
    let (tenant, cookie, csrf) = app.signed_in_owner(second, "Mia's Music").await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and tenant_id = {}", first.bot, tenant.0)).await, 1);
    let (status, _, _) = post(&app, &cookie, &format!("/app/bots/{}/disconnect", first.bot), &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);

    // The creation's update again, as if delivered late (Telegram's order is not guaranteed).
    sqlx::query(&format!("delete from telegram_updates where id = {row}")).execute(&app.db().pool).await.unwrap();
    let secret = app.settings.values["BELLHOP_MANAGER_WEBHOOK_SECRET"].clone();
    let update: Value = serde_json::from_str(&body).unwrap();
    let r = app.http.post(app.url("/tg/manager")).header("X-Telegram-Bot-Api-Secret-Token", &secret).json(&update).send().await.unwrap();
    assert_eq!(r.status(), 200);
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from telegram_updates where id <> {row} and bot_id = {manager} and update_id = {}", update["update_id"])).await == 1 }).await;
    app.drain_jobs(WAIT).await;

    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = '' and tenant_id = {}", first.bot, tenant.0)).await, 1, "still disconnected, still the new owner's");
    assert!(app.tg.get(&format!("bots/{}", first.bot)).await["webhook"].is_null());
    app.stop().await.unwrap();
}

/// A live bot whose token changes after the plan lapsed (two live bots, the Free plan's one now)
/// stays live: a lapsed plan never parks a bot customers are using, and a new token is not a new
/// bot.
#[tokio::test]
async fn a_new_token_for_a_live_bot_after_the_plan_lapsed_keeps_it_answering() {
    let app = spawn_app().await;
    let b = business(&app, "Ines", "ines_inks_bot", "Ines' Inks").await;
    get(&app, &b.cookie, "/app/billing").await;
    let plan = |expires: i64| format!("update billing_accounts set plan_id = 'starter', plan_source = 'stars', plan_expires_at = {expires} where tenant_id = {}", b.tenant.0);
    sqlx::query(&plan(bellhop::storage::now_ms() + 10 * 86_400_000)).execute(&app.db().pool).await.unwrap();
    let second = app.tg.create_managed_bot(b.owner, "ines_paper_bot", "Ines' Paper").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{second}")).await["token"].as_str().unwrap());
    wait_live(&app, second).await;
    // The plan lapses: two live bots on a plan of one.
    sqlx::query(&plan(1)).execute(&app.db().pool).await.unwrap();

    // Telegram gives the bot a new token (as when its owner makes one in BotFather); the
    // manager bot hears of it in a `managed_bot` update.
    let h = &app.tg.handle;
    let r: Value = app
        .http
        .post(format!("{}/bot{}/replaceManagedBotToken", h.base_url, h.manager_token.expose()))
        .json(&json!({ "user_id": second }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["result"].as_str().unwrap();
    token_used(token);
    let fp = bellhop::manager::updates::fingerprint(&bellhop::domain::BotToken::parse(token).unwrap());
    let settled = format!("select count(*) from bots where id = {second} and token_fingerprint = '{fp}' and status in ('live', 'parked', 'failed')");
    wait_until(WAIT, || async { count(app.db(), &settled).await == 1 }).await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {second} and status = 'live'")).await, 1, "still live, on its new token");
    assert!(!app.tg.get(&format!("bots/{second}")).await["webhook"].is_null(), "its webhook set again with the new token");
    let c = customer(&app, "Jon", second).await;
    app.tg.say(c, second, "Hello?").await;
    wait_reply(&app, second, c, 1).await;
    app.stop().await.unwrap();
}

/// A setup Telegram refuses for good is told to the owner in the manager chat, with what to do:
/// not only shown on an admin page they may not have open (a new bot's owner was promised a
/// message "as soon as it's ready").
#[tokio::test]
async fn a_setup_telegram_refuses_is_told_to_the_owner_with_what_to_do() {
    let app = spawn_app().await;
    let b = business(&app, "Jana", "jana_jams_bot", "Jana's Jams").await;
    let fault = json!({ "bot_id": b.bot, "method": "setWebhook", "times": 50, "error_code": 400, "description": "Bad Request: bad webhook: Failed to resolve host" });
    app.tg.post("faults/methods", fault).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/repair", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and status = 'failed'", b.bot)).await == 1 }).await;
    wait_until(WAIT, || async { manager_said(&app, b.owner).await.iter().any(|t| t.contains("@jana_jams_bot couldn't be set up") && t.contains("Failed to resolve host") && t.contains("Repair the connection")) }).await;
    app.stop().await.unwrap();
}

/// A bot given to another owner frees its place on the earlier business's plan: a bot parked
/// there for want of one goes live, as after a disconnect (not only at the next payment).
#[tokio::test]
async fn a_bot_given_to_another_owner_frees_its_place_for_a_parked_one() {
    let app = spawn_app().await;
    let first = business(&app, "Ada", "ada_given_bot", "Ada's Antiques").await;
    let second = app.tg.create_managed_bot(first.owner, "ada_waiting_bot", "Ada's Attic").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{second}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {second} and status = 'parked'")).await == 1 }).await;

    let manager = app.tg.handle.sandbox.manager_id();
    let ben = app.tg.post("users", json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), json!({ "user_id": ben })).await;
    wait_live(&app, second).await;
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and owner_user_id = {ben}", first.bot)).await, 1);
    app.stop().await.unwrap();
}

/// A customer's message stored for the bot's first owner, whose job a worker takes only after
/// the bot was given to another owner (the change committed in between): answered, for the new
/// owner — not dropped because the bot is no longer the first owner's.
#[tokio::test]
async fn a_message_stored_before_the_bot_changed_owner_is_answered_for_its_new_owner() {
    let app = spawn_app().await;
    let first = business(&app, "Ada", "ada_handed_bot", "Ada's Attic").await;
    let carl = customer(&app, "Carl", first.bot).await;
    // Carl's question, stored for the first owner as the webhook stores it.
    let update_id = 990_001;
    let update = json!({
        "update_id": update_id,
        "message": { "message_id": 71, "date": 1_780_000_000, "chat": { "id": carl, "type": "private", "first_name": "Carl" },
                     "from": { "id": carl, "is_bot": false, "first_name": "Carl" }, "text": "Do you ship abroad?" }
    });
    let bot = bellhop::domain::BotId(first.bot);
    bellhop::storage::updates::record(&app.db().pool, bot, Some(first.tenant), update_id, &update.to_string(), "stored").await.unwrap();

    // The bot is given to Ben; the change commits before a worker takes Carl's question.
    let manager = app.tg.handle.sandbox.manager_id();
    let ben = app.tg.post("users", json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), json!({ "user_id": ben })).await;
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and owner_user_id = {ben} and status = 'live'", first.bot)).await == 1 }).await;
    let ben_tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, ben.into()).await.unwrap().unwrap().id;
    assert_ne!(ben_tenant, first.tenant);
    app.drain_jobs(WAIT).await;

    // Its job, as queued when it was stored: for the first owner's business.
    let before = bot_said_to(&app, first.bot, carl).await.len();
    let job = bellhop::app::jobs::bot_update(&app.state.queue, bellhop::jobs::DEFAULT, first.tenant, bot, update_id, Some(&carl.to_string()));
    let id = app.state.queue.enqueue(&job).await.unwrap().expect("queued");
    app.drain_jobs(WAIT).await;
    assert_eq!(count(app.db(), &format!("select count(*) from jobs where id = {} and state = 'done'", id.0)).await, 1, "the job ran");
    let said = bot_said_to(&app, first.bot, carl).await;
    assert_eq!(said.len(), before + 1, "Carl's question got its reply: {said:?}");
    let conversations = |tenant: bellhop::domain::TenantId| format!("select count(*) from conversations where tenant_id = {} and chat_id = {carl}", tenant.0);
    assert_eq!(count(app.db(), &conversations(ben_tenant)).await, 1, "in the new owner's business");
    assert_eq!(count(app.db(), &conversations(first.tenant)).await, 0, "not in the first owner's");
    app.stop().await.unwrap();
}
