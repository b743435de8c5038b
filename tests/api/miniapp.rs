//! The onboarding Mini App (issue 18, item 1), end to end through the sandbox: the manager's
//! menu button opens `/miniapp` with launch data Telegram signed; bellhop prepares a
//! `request_managed_bot` button; the Mini App's `requestChat` shows Telegram's confirm screen;
//! the bot is provisioned as with the creation link and the owner signs in without /login.
//! And every launch data that is not Telegram's, or not fresh, is refused with nothing done.
use crate::helpers::*;
use bellhop::telegram::webapp::{self, WebAppUser};
use bellhop::telegram::BotToken;
use serde_json::{Value, json};
use std::time::Duration;

/// The user presses the manager's menu button in the sandbox: the Mini App's URL and launch data.
async fn open_mini_app(app: &TestApp, user: i64) -> (String, String) {
    let manager = app.tg.handle.sandbox.manager_id();
    let opened = app.tg.post(&format!("users/{user}/web_apps"), json!({ "bot_id": manager })).await;
    (opened["url"].as_str().unwrap().to_owned(), opened["init_data"].as_str().unwrap().to_owned())
}

async fn mini_api(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.http.post(app.url(&format!("/miniapp/api/{path}"))).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn prepared_for(app: &TestApp, user: i64) -> usize {
    app.tg.get(&format!("prepared_buttons?user_id={user}")).await.as_array().map(Vec::len).unwrap_or(0)
}

async fn login_tokens(app: &TestApp, user: i64) -> i64 {
    count(app.db(), &format!("select count(*) from login_tokens where user_id = {user}")).await
}

async fn sessions(app: &TestApp, user: i64) -> i64 {
    count(app.db(), &format!("select count(*) from sessions where user_id = {user}")).await
}

#[tokio::test]
async fn the_menu_button_opens_the_mini_app_which_creates_a_bot_through_telegrams_confirm_screen_and_signs_the_owner_in() {
    let app = spawn_app().await;
    let manager = app.tg.handle.sandbox.manager_id();
    // The manager's menu button is the Mini App (set at start-up).
    let button = app.tg.client.call_raw(&app.tg.manager(), "getChatMenuButton", &json!({})).await.unwrap();
    assert_eq!(button, json!({ "type": "web_app", "text": "Create a bot", "web_app": { "url": app.url("/miniapp") } }));

    let rosa = app.tg.user("Rosa").await;
    let (url, init_data) = open_mini_app(&app, rosa).await;
    assert!(url.starts_with(&format!("{}#tgWebAppData=", app.url("/miniapp"))), "{url}");
    let page = app.http.get(url.split('#').next().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("x-frame-options").is_none(), "Telegram's web clients show Mini Apps in an iframe");
    assert!(page.text().await.unwrap().contains("/static/miniapp.js"));

    // A name Telegram would refuse is refused in words, and nothing is prepared.
    let (status, body) = mini_api(&app, "prepare", json!({ "init_data": init_data, "name": "Rosa's Bakery", "username": "rosa-bakery" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("Username:"), "{body}");
    assert_eq!(prepared_for(&app, rosa).await, 0);

    let (status, body) = mini_api(&app, "prepare", json!({ "init_data": init_data, "name": "Rosa's Bakery", "username": "rosas_bakery_bot" })).await;
    assert_eq!(status, 200, "{body}");
    let req_id = body["id"].as_str().unwrap();
    let prepared = app.tg.get(&format!("prepared_buttons?user_id={rosa}")).await;
    assert_eq!(prepared[0]["bot_id"], json!(manager));
    assert_eq!(prepared[0]["button"]["request_managed_bot"]["suggested_username"], json!("rosas_bakery_bot"));

    // Before the bot exists: waiting, and no business to sign in to.
    let (_, body) = mini_api(&app, "status", json!({ "init_data": init_data, "username": "rosas_bakery_bot" })).await;
    assert_eq!(body["status"], json!("waiting"));
    let (status, _) = mini_api(&app, "sign-in", json!({ "init_data": init_data })).await;
    assert_eq!(status, 409);

    // The Mini App calls requestChat(req_id): Telegram's confirm screen, pre-filled.
    let req = app.tg.post(&format!("users/{rosa}/web_app_requests"), json!({ "bot_id": manager, "req_id": req_id })).await;
    let screen = &req["creation_request"];
    assert_eq!((screen["suggested_name"].as_str(), screen["suggested_username"].as_str()), (Some("Rosa's Bakery"), Some("rosas_bakery_bot")));
    let bot = app.tg.post(&format!("creation_requests/{}/confirm", screen["id"].as_str().unwrap()), json!({})).await;
    let bot_id = bot["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot_id}")).await["token"].as_str().unwrap());

    wait_until(Duration::from_secs(30), || async {
        mini_api(&app, "status", json!({ "init_data": init_data, "username": "rosas_bakery_bot" })).await.1["status"] == json!("live")
    })
    .await;
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": init_data })).await;
    assert_eq!(status, 200, "{body}");
    let r = app.sign_in(body["url"].as_str().unwrap()).await;
    assert_eq!(r.status(), 303);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let admin = app.http.get(app.url("/app")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    assert!(admin.contains("@rosas_bakery_bot"), "the admin shows the new bot");

    // A customer is answered by the new bot.
    let customer = app.tg.user("Ana").await;
    app.tg.say(customer, bot_id, "/start").await;
    wait_until(Duration::from_secs(30), || async { app.tg.sent_by(bot_id).await.iter().any(|m| m["chat_id"] == json!(customer)) }).await;
}

/// A teammate (owner of no business) signs in from the Mini App to the one team they are on; on
/// several teams they are sent to `/login`, which gives a link for each — not told to create a
/// bot, which would make them a business of their own by mistake.
#[tokio::test]
async fn a_teammate_signs_in_from_the_mini_app_to_their_team_and_on_several_teams_is_sent_to_login() {
    let app = spawn_app().await;
    let rosa = app.tg.user("Rosa").await;
    let (rosas, _, _) = app.create_bot(rosa, 7_300_001).await;
    let otto = app.tg.user("Otto").await;
    let (ottos, _, _) = app.create_bot(otto, 7_300_002).await;
    let tom = app.tg.user("Tom").await;
    let join = |tenant: bellhop::domain::TenantId| format!("insert into team_members (tenant_id, user_id, name, joined_at) values ({}, {tom}, 'Tom', 1)", tenant.0);
    sqlx::query(&join(rosas)).execute(&app.db().pool).await.unwrap();

    let (_, init_data) = open_mini_app(&app, tom).await;
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": init_data })).await;
    assert_eq!(status, 200, "{body}");
    let r = app.sign_in(body["url"].as_str().unwrap()).await;
    assert_eq!(r.status(), 303);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(app.http.get(app.url("/app/conversations")).header("cookie", &cookie).send().await.unwrap().status(), 200, "signed in to Rosa's team");
    assert_eq!(count(app.db(), &format!("select count(*) from sessions where user_id = {tom} and tenant_id = {}", rosas.0)).await, 1);
    assert_eq!(app.http.get(app.url("/app/billing")).header("cookie", &cookie).send().await.unwrap().status(), 403, "as a teammate, not the owner");

    sqlx::query(&join(ottos)).execute(&app.db().pool).await.unwrap();
    let before = login_tokens(&app, tom).await;
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": init_data })).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("You're on several teams. Send /login to @"), "{body}");
    assert_eq!(login_tokens(&app, tom).await, before, "no sign-in link");
    assert_eq!(count(app.db(), &format!("select count(*) from tenants where owner_user_id = {tom}")).await, 0, "no business of his own");
}

#[tokio::test]
async fn forged_stale_or_unsigned_launch_data_is_refused_in_words_and_prepares_nothing_and_signs_no_one_in() {
    let app = spawn_app().await;
    // Mallory owns a live bot already, so a sign-in would succeed if the data were believed.
    let mallory = app.tg.user("Mallory").await;
    let bot = app.tg.create_managed_bot(mallory, "mallory_shop_bot", "Mallory's Shop").await;
    token_used(app.tg.get(&format!("bots/{}", bot["id"])).await["token"].as_str().unwrap());
    wait_until(Duration::from_secs(30), || async { count(app.db(), &format!("select count(*) from bots where id = {} and status = 'live'", bot["id"])).await == 1 }).await;
    // The welcome (and the login link in it) is sent after the bot is live.
    app.drain_jobs(Duration::from_secs(30)).await;
    let (_, genuine) = open_mini_app(&app, mallory).await;

    let manager = app.tg.manager();
    let other_bot = BotToken::parse("999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let who = WebAppUser { id: mallory, first_name: "Mallory".into(), last_name: None, username: None, language_code: None };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let hash_at = genuine.find("&hash=").unwrap();
    let forgeries: Vec<(&str, String, &str)> = vec![
        ("a wrong hash", flip_last(&genuine), "not signed by Telegram"),
        ("a changed field", genuine.replace(&format!("%22id%22%3A{mallory}"), &format!("%22id%22%3A{}", mallory + 1)), "not signed by Telegram"),
        ("a hash from another bot's token", webapp::sign_for_user(&other_bot, &who, now, "AAH1"), "not signed by Telegram"),
        ("no hash", genuine[..hash_at].to_owned(), "no signature"),
        ("no launch data at all", String::new(), "menu button"),
        ("a stale auth_date (61 minutes)", webapp::sign_for_user(&manager, &who, now - 61 * 60, "AAH2"), "61 minutes old"),
        ("a replay a day later", webapp::sign_for_user(&manager, &who, now - 86_400, "AAH3"), "1440 minutes old"),
        ("an auth_date in the future", webapp::sign_for_user(&manager, &who, now + 600, "AAH4"), "in the future"),
    ];
    let tokens_before = login_tokens(&app, mallory).await;
    for (what, init_data, words) in &forgeries {
        assert_ne!(init_data, &genuine, "{what}");
        for (path, extra) in [("prepare", json!({ "name": "Evil", "username": "evil_twin_bot" })), ("status", json!({ "username": "mallory_shop_bot" })), ("sign-in", json!({}))] {
            let mut body = extra;
            body["init_data"] = json!(init_data);
            let (status, answer) = mini_api(&app, path, body).await;
            assert_eq!(status, 401, "{what} on {path}: {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(error.contains(words), "{what} on {path}: {error}");
        }
    }
    assert_eq!(prepared_for(&app, mallory).await, 0, "no prepared button");
    assert_eq!(login_tokens(&app, mallory).await, tokens_before, "no sign-in link");
    assert_eq!(sessions(&app, mallory).await, 0, "no session");

    // The genuine launch data works: the refusals above were about the data.
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": genuine })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(login_tokens(&app, mallory).await, tokens_before + 1);

    // Launch data 11 minutes old still names and follows a bot, but signs no one in: the admin
    // takes data no older than the sign-in link it is traded for.
    let older = webapp::sign_for_user(&manager, &who, now - 11 * 60, "AAH5");
    let (status, body) = mini_api(&app, "status", json!({ "init_data": older, "username": "mallory_shop_bot" })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("live")), "{body}");
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": older })).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("11 minutes old. Please close this page and open it again"), "{body}");
    assert_eq!(login_tokens(&app, mallory).await, tokens_before + 1, "no second sign-in link");
    let (status, body) = mini_api(&app, "sign-in", json!({ "init_data": webapp::sign_for_user(&manager, &who, now - 9 * 60, "AAH6") })).await;
    assert_eq!(status, 200, "9 minutes is fresh enough: {body}");
}

/// The same string with its last character (a hex digit of the hash) changed.
fn flip_last(s: &str) -> String {
    let mut s = s.to_owned();
    let c = s.pop().unwrap();
    s.push(if c == '0' { '1' } else { '0' });
    s
}

/// Through the Mini App as `user`: prepares the button with `typed` as the suggested username,
/// then confirms Telegram's screen with `confirmed` instead. Returns `prepare`'s `since`.
async fn create_renamed(app: &TestApp, user: i64, init_data: &str, typed: &str, confirmed: &str) -> i64 {
    let manager = app.tg.handle.sandbox.manager_id();
    let (status, body) = mini_api(app, "prepare", json!({ "init_data": init_data, "name": "Rosa's Bakery", "username": typed })).await;
    assert_eq!(status, 200, "{body}");
    let since = body["since"].as_i64().expect("prepare says when");
    let req = app.tg.post(&format!("users/{user}/web_app_requests"), json!({ "bot_id": manager, "req_id": body["id"].as_str().unwrap() })).await;
    let screen = &req["creation_request"];
    assert_eq!(screen["suggested_username"], json!(typed));
    let bot = app.tg.post(&format!("creation_requests/{}/confirm", screen["id"].as_str().unwrap()), json!({ "username": confirmed })).await;
    assert_eq!(bot["username"], json!(confirmed), "{bot}");
    token_used(app.tg.get(&format!("bots/{}", bot["id"])).await["token"].as_str().unwrap());
    since
}

/// Telegram's confirm screen lets the owner change the username (they must when it is taken):
/// the Mini App's status is that of the owner's bot created since the button was prepared,
/// under its real username — not "waiting" forever for the one typed. A bot past the plan's
/// number of bots comes back `parked`, which the page stops on.
#[tokio::test]
async fn the_status_follows_the_bot_created_under_another_username_and_says_when_it_is_parked() {
    let app = spawn_app().await;
    let rosa = app.tg.user("Rosa").await;
    let (_, init_data) = open_mini_app(&app, rosa).await;
    let status = |since: i64, typed: &'static str| {
        let (app, init_data) = (&app, init_data.clone());
        async move { mini_api(app, "status", json!({ "init_data": init_data, "since": since, "username": typed })).await.1 }
    };

    let since = create_renamed(&app, rosa, &init_data, "a_bot", "b_bot").await;
    wait_until(Duration::from_secs(30), || async { status(since, "a_bot").await["status"] == json!("live") }).await;
    assert_eq!(status(since, "a_bot").await, json!({ "status": "live", "username": "b_bot" }));

    // Free plan: one bot. The second is created, and parked.
    let since = create_renamed(&app, rosa, &init_data, "c_bot", "d_bot").await;
    wait_until(Duration::from_secs(30), || async { status(since, "c_bot").await["status"] == json!("parked") }).await;
    assert_eq!(status(since, "c_bot").await, json!({ "status": "parked", "username": "d_bot" }));
    // A later prepare, with nothing created since: waiting.
    assert_eq!(status(bellhop::storage::now_ms() + 1, "e_bot").await, json!({ "status": "waiting" }));
    let js = app.http.get(app.url("/static/miniapp.js")).send().await.unwrap().text().await.unwrap();
    assert!(js.contains("'parked'") && js.contains("since"), "the page stops on parked and asks by time");
}
