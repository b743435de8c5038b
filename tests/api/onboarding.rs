//! Onboarding, end to end through the sandbox: landing form → creation link → the owner
//! confirms in "Telegram" → the child bot is provisioned → welcome message → admin login.
use crate::helpers::*;
use bellhop::domain::BotId;
use bellhop::storage;
use serde_json::{Value, json};
use std::time::Duration;

/// The creation link on the landing page's result.
async fn landing_link(app: &TestApp, name: &str, username: &str) -> String {
    let r = app.http.get(app.url("/new")).query(&[("name", name), ("username", username)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<svg"), "no QR code");
    let start = html.find("href=\"https://t.me/newbot/").expect("creation link") + 6;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

fn login_link_in(text: &str) -> Option<String> {
    let i = text.find("http://127.0.0.1:")?;
    let rest = &text[i..];
    let end = rest.find(|c: char| c.is_whitespace() || c == '<' || c == '"').unwrap_or(rest.len());
    let link = &rest[..end];
    link.contains("/login/").then(|| link.to_owned())
}

/// Messages the manager bot sent to `user`.
async fn manager_messages_to(app: &TestApp, user: i64) -> Vec<Value> {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.sent_by(manager).await.into_iter().filter(|m| m["chat_id"] == json!(user)).collect()
}

fn text_of(m: &Value) -> String {
    m["text"].as_str().or_else(|| m["message"]["text"].as_str()).unwrap_or_default().to_owned()
}

async fn wait_live(app: &TestApp, bot: i64) {
    wait_until(Duration::from_secs(30), || async {
        count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1
    })
    .await;
}

/// Waits for the welcome message to `owner`; returns the login link in it.
async fn welcome_link(app: &TestApp, owner: i64) -> String {
    wait_until(Duration::from_secs(30), || async { manager_messages_to(app, owner).await.iter().any(|m| text_of(m).contains("is live")) }).await;
    manager_messages_to(app, owner).await.iter().filter(|m| text_of(m).contains("is live")).find_map(|m| login_link_in(&text_of(m))).expect("login link in the welcome")
}

/// Signs in with a login link; returns the session cookie.
async fn sign_in(app: &TestApp, link: &str) -> String {
    let r = app.sign_in(link).await;
    assert_eq!(r.status(), 303, "sign-in did not redirect");
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn create_through_landing(app: &TestApp, owner_name: &str, name: &str, username: &str) -> (i64, i64) {
    let link = landing_link(app, name, username).await;
    let user = app.tg.user(owner_name).await;
    let req = app.tg.post(&format!("users/{user}/creation_links"), json!({ "link": link })).await;
    let bot = app.tg.post(&format!("creation_requests/{}/confirm", req["id"].as_str().unwrap()), json!({})).await;
    let bot_id = bot["id"].as_i64().expect("child bot id");
    let state = app.tg.get(&format!("bots/{bot_id}")).await;
    token_used(state["token"].as_str().unwrap());
    (user, bot_id)
}

#[tokio::test]
async fn from_the_landing_page_to_a_live_bot_and_a_signed_in_owner() {
    let app = spawn_app().await;
    let (owner, bot) = create_through_landing(&app, "Rosa", "Rosa's Bakery & Café", "rosas_bakery_bot").await;
    wait_live(&app, bot).await;

    // Read back from the sandbox: webhook with its secret, commands, both descriptions.
    let state = app.tg.get(&format!("bots/{bot}")).await;
    assert_eq!(state["webhook"]["url"], json!(app.url(&format!("/tg/bot/{bot}"))));
    let secret = state["webhook"]["secret_token"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "a 256-bit secret, base64url");
    let commands: Vec<&str> = state["commands"].as_array().unwrap().iter().map(|c| c["command"].as_str().unwrap()).collect();
    assert_eq!(commands, ["start", "help", "human", "paysupport", "privacy", "forget", "stop"]);
    assert!(state["description"].as_str().unwrap().contains("Rosa's Bakery & Café"), "{state}");
    assert!(state["short_description"].as_str().unwrap().contains("Rosa's Bakery & Café"), "{state}");
    assert_eq!(state["allowed_updates"], json!(["message", "edited_message", "callback_query", "pre_checkout_query"]));
    // The webhook secret works against bellhop, a wrong one does not.
    assert_eq!(app.post_update(bot, Some(&secret), &json!({"update_id": 1})).await, 200);
    assert_eq!(app.post_update(bot, Some("nope"), &json!({"update_id": 2})).await, 401);

    // The owner got one welcome with a login link.
    welcome_link(&app, owner).await;
    let welcome: Vec<_> = manager_messages_to(&app, owner).await.into_iter().map(|m| text_of(&m)).filter(|t| t.contains("is live")).collect();
    assert_eq!(welcome.len(), 1, "{welcome:?}");
    let link = login_link_in(&welcome[0]).expect("login link in the welcome");

    // A GET (link preview, scanner) does not use the link.
    for _ in 0..2 {
        let r = app.http.get(&link).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // The page's form token is kept for this link only: a second link opened meanwhile
        // (a teammate of two businesses) does not replace it.
        let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        assert!(set.contains(&format!("Path=/login/{};", link.rsplit('/').next().unwrap())), "{set}");
        assert!(r.text().await.unwrap().contains("Continue to my admin page"));
    }
    let cookie = sign_in(&app, &link).await;
    let page = app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("@rosas_bakery_bot") && page.contains("live"), "{page}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn login_links_work_once_and_sessions_end_on_logout() {
    let app = spawn_app().await;
    let (owner, bot) = create_through_landing(&app, "Ana", "Ana Flowers", "ana_flowers_bot").await;
    wait_live(&app, bot).await;
    let link = welcome_link(&app, owner).await;
    let r = app.sign_in(&link).await;
    let set_cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain-HTTP localhost cannot use Secure cookies");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    // Used once: a second POST and a later GET find it spent.
    assert_eq!(app.http.post(&link).send().await.unwrap().status(), 410);
    let again = app.http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 410);
    // Said as it is: used, not expired.
    let again = again.text().await.unwrap();
    assert!(again.contains("This sign-in link was already used") && again.contains("Send /login to @") && !again.contains("expired"), "{again}");
    // Nothing but the hash is stored.
    let token = link.rsplit('/').next().unwrap();
    assert_eq!(count(app.db(), &format!("select count(*) from login_tokens where token_hash = '{token}'")).await, 0);

    // /login from the manager chat sends a new link.
    app.tg.say(owner, app.tg.handle.sandbox.manager_id(), "/login").await;
    wait_until(Duration::from_secs(20), || async { manager_messages_to(&app, owner).await.iter().filter(|m| login_link_in(&text_of(m)).is_some()).count() == 2 }).await;

    let page = app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf_at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[csrf_at..csrf_at + 43];
    // A form without the CSRF token changes nothing.
    let r = app.http.post(app.url("/logout")).header("cookie", &cookie).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().status(), 200);
    let r = app.http.post(app.url("/logout")).header("cookie", &cookie).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Ended on the server: the old cookie no longer works.
    assert_eq!(app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().status(), 401);
    assert_eq!(app.http.get(app.url("/app")).send().await.unwrap().status(), 401);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_expired_login_link_is_refused() {
    let app = spawn_app().await;
    let (owner, bot) = create_through_landing(&app, "Ben", "Ben Bikes", "ben_bikes_bot").await;
    wait_live(&app, bot).await;
    let link = welcome_link(&app, owner).await;
    sqlx::query("update login_tokens set expires_at = 0").execute(&app.db().pool).await.unwrap();
    let r = app.http.post(&link).send().await.unwrap();
    assert_eq!(r.status(), 410);
    let page = r.text().await.unwrap();
    assert!(page.contains("This sign-in link has expired") && !page.contains("already used"), "{page}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_hundred_shuffled_and_duplicated_managed_bot_updates_make_twenty_bots() {
    use rand::seq::SliceRandom;
    let app = spawn_app().await;
    let manager = app.tg.manager();
    // Take delivery into our own hands: no webhook, so the updates wait in the sandbox.
    app.tg.client.call(&manager, &bellhop::telegram::methods::DeleteWebhook::new()).await.unwrap();
    let mut owners = Vec::new();
    for i in 0..20 {
        let user = app.tg.user(&format!("Owner {i}")).await;
        let bot = app.tg.create_managed_bot(user, &format!("shop_{i}_bot"), &format!("Shop {i}")).await;
        token_used(app.tg.get(&format!("bots/{}", bot["id"])).await["token"].as_str().unwrap());
        owners.push(user);
    }
    let updates: Vec<bellhop::telegram::Update> = app.tg.client.call(&manager, &bellhop::telegram::methods::GetUpdates::new().limit(100)).await.unwrap();
    let raw: Vec<Value> = app.tg.client.call_raw(&manager, "getUpdates", &json!({"limit": 100})).await.unwrap().as_array().unwrap().clone();
    let managed: Vec<Value> = raw.into_iter().filter(|u| u.get("managed_bot").is_some()).collect();
    assert_eq!(managed.len(), 20, "{} updates", updates.len());
    // Each delivered 5 times, all shuffled, 10 at a time concurrently.
    let mut deliveries: Vec<Value> = managed.iter().flat_map(|u| std::iter::repeat_n(u.clone(), 5)).collect();
    deliveries.shuffle(&mut rand::thread_rng());
    assert_eq!(deliveries.len(), 100);
    let secret = app.settings.values["BELLHOP_MANAGER_WEBHOOK_SECRET"].clone();
    for batch in deliveries.chunks(10) {
        let sends = batch.iter().map(|u| {
            app.http.post(app.url("/tg/manager")).header("X-Telegram-Bot-Api-Secret-Token", &secret).json(u).send()
        });
        for r in futures::future::join_all(sends).await {
            assert_eq!(r.unwrap().status(), 200);
        }
    }
    wait_until(Duration::from_secs(60), || async { count(app.db(), "select count(*) from bots where status = 'live'").await == 20 }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    assert_eq!(count(app.db(), "select count(*) from jobs where state = 'dead'").await, 0);
    assert_eq!(count(app.db(), "select count(*) from bots").await, 20);
    let mut welcomes = 0;
    for owner in &owners {
        let n = manager_messages_to(&app, *owner).await.iter().filter(|m| text_of(m).contains("is live")).count();
        assert_eq!(n, 1, "owner {owner} got {n} welcome messages");
        welcomes += n;
    }
    assert_eq!(welcomes, 20);
    let state = app.tg.get("state").await;
    let provisioned = state["bots"].as_array().unwrap().iter().filter(|b| b["webhook"]["url"].as_str().is_some_and(|u| u.contains("/tg/bot/"))).count();
    assert_eq!(provisioned, 20);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_replaced_token_is_stored_and_the_webhook_reregistered_with_a_new_secret() {
    let app = spawn_app().await;
    let (owner, bot) = create_through_landing(&app, "Cleo", "Cleo Cakes", "cleo_cakes_bot").await;
    wait_live(&app, bot).await;
    welcome_link(&app, owner).await;
    let before = app.tg.get(&format!("bots/{bot}")).await;
    let old_secret = before["webhook"]["secret_token"].as_str().unwrap().to_owned();
    let new_token: String = app
        .tg
        .client
        .call(&app.tg.manager(), &bellhop::telegram::methods::ReplaceManagedBotToken { user_id: bellhop::domain::UserId(bot) })
        .await
        .unwrap();
    token_used(&new_token);
    // The sandbox sends managed_bot again; bellhop fetches the new token and provisions again.
    wait_until(Duration::from_secs(30), || async {
        let s = app.tg.get(&format!("bots/{bot}")).await;
        s["webhook"]["secret_token"].as_str().is_some_and(|s| s != old_secret)
    })
    .await;
    wait_live(&app, bot).await;
    let tenant = storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let sealed = storage::bots::sealed_token(&app.db().pool, tenant, BotId(bot)).await.unwrap().unwrap();
    assert_eq!(app.state.keys.open_string(&sealed, &storage::bots::token_aad(BotId(bot))).unwrap(), new_token);
    let new_secret = app.tg.get(&format!("bots/{bot}")).await["webhook"]["secret_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post_update(bot, Some(&old_secret), &json!({"update_id": 10})).await, 401);
    assert_eq!(app.post_update(bot, Some(&new_secret), &json!({"update_id": 11})).await, 200);
    let welcomes = manager_messages_to(&app, owner).await.iter().filter(|m| text_of(m).contains("is live")).count();
    assert_eq!(welcomes, 1, "a token change is not a new bot");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_owner_change_moves_the_bot_and_the_previous_owner_loses_it_at_once() {
    let app = spawn_app().await;
    let (first, bot) = create_through_landing(&app, "Dora", "Dora Deli", "dora_deli_bot").await;
    wait_live(&app, bot).await;
    let link = welcome_link(&app, first).await;
    let first_cookie = sign_in(&app, &link).await;
    assert!(app.http.get(app.url("/app")).header("cookie", &first_cookie).send().await.unwrap().text().await.unwrap().contains("@dora_deli_bot"));

    let second = app.tg.user("Eve").await;
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": second })).await;
    wait_until(Duration::from_secs(30), || async {
        match storage::tenants::find_by_owner(&app.db().pool, second.into()).await.unwrap() {
            Some(t) => count(app.db(), &format!("select count(*) from bots where id = {bot} and tenant_id = {} and status = 'live'", t.id.0)).await == 1,
            None => false,
        }
    })
    .await;
    // The previous owner's admin page no longer shows it.
    let page = app.http.get(app.url("/app")).header("cookie", &first_cookie).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("@dora_deli_bot"), "{page}");
    // The new owner never opened the manager chat, so Telegram lets no bot write first; once
    // they do, /login gives them their link.
    app.tg.say(second, app.tg.handle.sandbox.manager_id(), "/login").await;
    wait_until(Duration::from_secs(20), || async { manager_messages_to(&app, second).await.iter().any(|m| login_link_in(&text_of(m)).is_some()) }).await;
    let link = manager_messages_to(&app, second).await.iter().find_map(|m| login_link_in(&text_of(m))).unwrap();
    let cookie = sign_in(&app, &link).await;
    assert!(app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap().contains("@dora_deli_bot"));
    app.stop().await.unwrap();
}

/// A bot given to someone who never opened the manager chat: Telegram lets no bot write to them
/// first, so their welcome waits for their /start — which says the bot is theirs now, what it is
/// and what to do next (with their admin link), not how to create a first bot. Their next /start
/// shows the bot they have. Given to someone who did open the chat, the welcome comes at once.
#[tokio::test]
async fn a_bot_given_to_a_user_is_welcomed_as_theirs_and_their_start_shows_it() {
    let app = spawn_app().await;
    let manager = app.tg.handle.sandbox.manager_id();
    let (_, bot) = create_through_landing(&app, "Dora", "Dora Deli", "dora_given_bot").await;
    wait_live(&app, bot).await;

    let eve = app.tg.user("Eve").await;
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": eve })).await;
    let live_for = |owner: i64| {
        let app = &app;
        async move {
            match storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap() {
                Some(t) => count(app.db(), &format!("select count(*) from bots where id = {bot} and tenant_id = {} and status = 'live'", t.id.0)).await == 1,
                None => false,
            }
        }
    };
    wait_until(Duration::from_secs(30), || live_for(eve)).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    assert!(manager_messages_to(&app, eve).await.is_empty(), "Telegram lets no bot write first");

    app.tg.say(eve, manager, "/start").await;
    wait_until(Duration::from_secs(20), || async { !manager_messages_to(&app, eve).await.is_empty() }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    let said: Vec<String> = manager_messages_to(&app, eve).await.iter().map(text_of).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("@dora_given_bot is now yours") && said[0].contains("Dora Deli") && said[0].contains("Next step"), "{said:?}");
    assert!(!said[0].contains("Welcome to bellhop") && !said[0].contains("Create my support bot"), "{said:?}");
    let link = login_link_in(&said[0]).expect("an admin link");
    let cookie = sign_in(&app, &link).await;
    assert!(app.http.get(app.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap().contains("@dora_given_bot"));

    // Her next /start: the bot she has, not its welcome again.
    app.tg.say(eve, manager, "/start").await;
    wait_until(Duration::from_secs(20), || async { manager_messages_to(&app, eve).await.len() == 2 }).await;
    let again = text_of(&manager_messages_to(&app, eve).await[1]);
    assert!(again.contains("Welcome back") && again.contains("@dora_given_bot — ✅ live"), "{again}");

    // Given to someone who opened the manager chat before: welcomed as theirs at once.
    let fay = app.tg.post("users", json!({ "first_name": "Fay", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": fay })).await;
    wait_until(Duration::from_secs(30), || async { manager_messages_to(&app, fay).await.iter().any(|m| text_of(m).contains("@dora_given_bot is now yours")) }).await;
    assert!(manager_messages_to(&app, fay).await.iter().all(|m| !text_of(m).contains("is live")), "not welcomed as if she had created it");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_names_get_telegrams_message_on_the_page() {
    let app = spawn_app().await;
    for (name, username, expect) in [
        ("Shop", "abc", "5 to 32 characters"),
        ("Shop", "my-shop-bot", "Latin letters, digits and underscores"),
        ("Shop", "1shop_bot", "must start with a letter"),
        ("Shop", "my_shop", "must end in"),
        ("", "my_shop_bot", "1 to 64 characters"),
        (&"x".repeat(65), "my_shop_bot", "1 to 64 characters"),
    ] {
        let r = app.http.get(app.url("/new")).query(&[("name", name), ("username", username)]).send().await.unwrap();
        assert_eq!(r.status(), 422, "{name:?} {username:?}");
        let html = r.text().await.unwrap();
        assert!(html.replace("&quot;", "\"").contains(expect), "{username:?}: expected {expect:?}");
        assert!(!html.contains("t.me/newbot"), "no link for invalid input");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn forged_manager_webhook_calls_get_401_and_leave_no_row() {
    let app = spawn_app().await;
    let update = json!({"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "x"}, "text": "/login"}});
    let r = app.http.post(app.url("/tg/manager")).json(&update).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.http.post(app.url("/tg/manager")).header("X-Telegram-Bot-Api-Secret-Token", "wrong-secret-wrong-secret").json(&update).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(count(app.db(), "select count(*) from telegram_updates where update_id = 999").await, 0);
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'manager.update'").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn start_offers_the_managed_bot_button_and_bots_lists_status() {
    let app = spawn_app().await;
    let manager = app.tg.handle.sandbox.manager_id();
    let (owner, bot) = create_through_landing(&app, "Finn", "Finn Fish", "finn_fish_bot").await;
    wait_live(&app, bot).await;
    // The bot is live a moment before its welcome is sent: a /start in between is answered with
    // that welcome (never sent twice), not "Welcome back" — so wait for it first.
    welcome_link(&app, owner).await;
    app.tg.say(owner, manager, "/start").await;
    app.tg.say(owner, manager, "/bots").await;
    wait_until(Duration::from_secs(20), || async {
        let msgs = manager_messages_to(&app, owner).await;
        msgs.iter().any(|m| text_of(m).contains("Your bots")) && msgs.iter().any(|m| text_of(m).contains("Welcome back"))
    })
    .await;
    let msgs = manager_messages_to(&app, owner).await;
    assert_eq!(msgs.iter().filter(|m| text_of(m).contains("is live")).count(), 1, "one welcome");
    // An owner's /start shows the bot they have, and still offers to create another.
    let start = msgs.iter().find(|m| text_of(m).contains("Welcome back")).expect("/start answer");
    assert!(text_of(start).contains("@finn_fish_bot — ✅ live") && text_of(start).contains("/login"), "{}", text_of(start));
    let markup = start.to_string();
    assert!(markup.contains("request_managed_bot") && markup.contains("Create another bot"), "{markup}");
    // Someone without a bot is offered to create their first.
    let newcomer = app.tg.user("Gus").await;
    app.tg.say(newcomer, manager, "/start").await;
    wait_until(Duration::from_secs(20), || async { manager_messages_to(&app, newcomer).await.iter().any(|m| text_of(m).contains("Welcome to bellhop")) }).await;
    assert!(manager_messages_to(&app, newcomer).await[0].to_string().contains("Create my support bot"));
    let bots = msgs.iter().find(|m| text_of(m).contains("Your bots")).unwrap();
    assert!(text_of(bots).contains("@finn_fish_bot — ✅ live"), "{}", text_of(bots));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bellhop_refuses_to_start_when_the_manager_cannot_manage_bots() {
    let tg = crate::sandbox_support::TestSandbox::start_with(bellhop::sandbox::SandboxOptions { manager_can_manage_bots: false, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&tg);
    let cfg = settings.config(bellhop::config::Needs::Serve);
    let err = match bellhop::app::Application::build(cfg, bellhop::app::Role::All, true).await {
        Ok(_) => panic!("started without Bot Management Mode"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("Bot Management Mode") && err.contains("BotFather"), "{err}");
    // It told Telegram nothing: no webhook was registered.
    let manager = tg.get(&format!("bots/{}", tg.handle.sandbox.manager_id())).await;
    assert!(manager["webhook"].is_null(), "{manager}");
}

/// Issue 16, item 10: `POST /login/{token}` had no CSRF or Origin check, so a page elsewhere
/// could sign a visitor into the attacker's tenant with the attacker's own link ("login CSRF").
#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut conn = app.db().pool.acquire().await.unwrap();
    let tenant = bellhop::storage::tenants::find_or_create_for_owner(&mut conn, bellhop::domain::UserId(7001), "Mallory Ltd").await.unwrap().id;
    drop(conn);
    let link = bellhop::manager::login::issue(app.db(), &app.state.cfg.public_url, tenant, bellhop::domain::UserId(7001)).await.unwrap();
    // The attacker opens their own link: they learn the form's token, and get a cookie in
    // their own browser (never in the visitor's).
    let page = app.http.get(&link).send().await.unwrap();
    let page_cookie = page.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned()).unwrap_or_default();
    let html = page.text().await.unwrap();
    let form_token = html.find("name=\"csrf\" value=\"").map(|at| html[at + 19..at + 19 + 43].to_owned()).unwrap_or_default();

    let forged = [
        // An auto-submitting form on another site, in the visitor's browser.
        app.http.post(&link).header("origin", "https://evil.example").form(&[("csrf", form_token.as_str())]),
        // The same with the origin hidden ("null"), or no origin at all (a script, an old browser).
        app.http.post(&link).header("origin", "null").form(&[("csrf", form_token.as_str())]),
        app.http.post(&link).form(&[("csrf", form_token.as_str())]),
        app.http.post(&link).header("referer", "https://evil.example/page").form(&[("csrf", form_token.as_str())]),
        // The cookie of the attacker's own browser cannot be used from another site either.
        app.http.post(&link).header("origin", "https://evil.example").header("cookie", &page_cookie).form(&[("csrf", form_token.as_str())]),
        app.http.post(&link).header("sec-fetch-site", "cross-site").header("cookie", &page_cookie).form(&[("csrf", form_token.as_str())]),
    ];
    for (i, req) in forged.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "forged sign-in {i}");
        assert!(r.headers().get("set-cookie").is_none(), "forged sign-in {i} got a cookie");
        assert!(r.text().await.unwrap().contains("Continue"), "forged sign-in {i}: the page says what to do");
    }
    assert_eq!(count(app.db(), "select count(*) from sessions").await, 0, "no session was created");
    let token = link.rsplit('/').next().unwrap();
    assert!(bellhop::storage::auth::login_token_valid(&app.db().pool, &bellhop::manager::login::hash(token)).await.unwrap(), "the link was used up");

    // A tap on the page's button in the browser that opened it still signs in — as Chromium
    // sends it: bellhop's pages say `Referrer-Policy: no-referrer`, so its Origin is "null".
    let r = app.http.post(&link).header("origin", "null").header("sec-fetch-site", "same-origin").header("cookie", &page_cookie).form(&[("csrf", form_token.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(count(app.db(), "select count(*) from sessions").await, 1);
    app.stop().await.unwrap();
}

/// The menu and the descriptions a customer sees are in their Telegram's language (Russian,
/// Spanish, Persian besides English) while they are bellhop's defaults; what the owner writes is
/// shown as written to everyone.
#[tokio::test]
async fn the_default_menu_and_descriptions_are_set_in_every_language_the_bot_speaks() {
    let app = spawn_app().await;
    let (owner, bot) = create_through_landing(&app, "Rosa", "Rosa's Cakes", "rosa_langs_bot").await;
    wait_live(&app, bot).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    let state = app.tg.get(&format!("bots/{bot}")).await;
    let menu = |lang: &str, state: &Value| state["localised"][lang]["commands"].as_array().cloned().unwrap_or_default();
    let ru = menu("ru", &state);
    assert_eq!(ru.iter().map(|c| c["command"].as_str().unwrap()).collect::<Vec<_>>(), ["start", "help", "human", "paysupport", "privacy", "forget", "stop"]);
    assert_eq!(ru[2]["description"], json!("Поговорить с человеком"), "{ru:?}");
    assert_eq!(menu("es", &state)[2]["description"], json!("Hablar con una persona"));
    assert_eq!(menu("fa", &state)[2]["description"], json!("گفتگو با یک نفر"));
    assert_eq!(menu("de", &state)[2]["description"], json!("Mit einem Menschen sprechen"));
    assert_eq!(menu("fr", &state)[2]["description"], json!("Parler à une personne"));
    assert_eq!(menu("it", &state)[2]["description"], json!("Parla con una persona"));
    assert_eq!(menu("pt", &state)[2]["description"], json!("Falar com uma pessoa"));
    for (lang, word) in [("ru", "Здравствуйте"), ("es", "¡Hola!"), ("fa", "سلام"), ("de", "Hallo!"), ("fr", "Bonjour !"), ("it", "Ciao!"), ("pt", "Olá!")] {
        let d = state["localised"][lang]["description"].as_str().unwrap_or_default();
        assert!(d.contains(word) && d.contains("Rosa's Cakes"), "{lang}: {d}");
        assert!(state["localised"][lang]["short_description"].as_str().unwrap_or_default().contains("Rosa's Cakes"), "{lang}");
    }
    // Through the Bot API, as a client reads it: a Spanish user's description.
    let token = state["token"].as_str().unwrap();
    let r: Value = app.http.post(format!("{}/bot{token}/getMyDescription", app.tg.base)).json(&json!({ "language_code": "es" })).send().await.unwrap().json().await.unwrap();
    assert!(r["result"]["description"].as_str().unwrap().starts_with("¡Hola!"), "{r}");

    // The owner writes their own description: every language shows it.
    let (_, cookie, csrf) = app.signed_in_owner(owner, "Rosa's Cakes").await;
    let form = [("csrf", csrf.as_str()), ("welcome_text", ""), ("description", "Rosa bakes cakes to order."), ("short_description", "Cakes by Rosa")];
    let r = app.http.post(app.url(&format!("/app/bots/{bot}/settings"))).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // Provisioning sets the languages one after another: wait for the last.
    wait_until(Duration::from_secs(30), || async {
        let state = app.tg.get(&format!("bots/{bot}")).await;
        ["ru", "es", "fa", "de", "fr", "it", "pt"].iter().all(|l| state["localised"][l]["description"].is_null() && state["localised"][l]["short_description"].is_null())
    })
    .await;
    let state = app.tg.get(&format!("bots/{bot}")).await;
    assert_eq!(state["description"], json!("Rosa bakes cakes to order."));
    for lang in ["ru", "es", "fa", "de", "fr", "it", "pt"] {
        assert!(state["localised"][lang]["description"].is_null() && state["localised"][lang]["short_description"].is_null(), "{lang}: {state}");
    }
    let r: Value = app.http.post(format!("{}/bot{token}/getMyDescription", app.tg.base)).json(&json!({ "language_code": "ru" })).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["result"]["description"], json!("Rosa bakes cakes to order."));
    app.stop().await.unwrap();
}

/// The landing page of a bellhop served without a manager bot (`state.manager` unset): (status,
/// body) of `GET path`.
async fn without_manager(app: &TestApp, path: &str) -> (u16, String) {
    use tower::ServiceExt;
    let mut state = app.state.clone();
    state.manager = None;
    let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
    let r = bellhop::web::router(state).oneshot(request).await.unwrap();
    let status = r.status().as_u16();
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Without a manager bot there is no creation link to make: the landing page says the operator
/// has not connected one, instead of a form whose link would open someone else's bot.
#[tokio::test]
async fn without_a_manager_bot_the_landing_page_offers_no_creation_link() {
    let app = spawn_app().await;
    for (path, expected) in [("/", 200), ("/new?name=Rosa&username=rosas_bakery_bot", 503)] {
        let (status, html) = without_manager(&app, path).await;
        assert_eq!(status, expected, "{path}: {html}");
        assert!(html.contains("id=\"no-manager\"") && html.contains("connected its manager bot"), "{path}: {html}");
        assert!(!html.contains("id=\"create-form\"") && !html.contains("newbot") && !html.contains("bellhop_manager_bot"), "{path}: {html}");
    }
    // With one, the form is there.
    let html = app.http.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"create-form\"") && !html.contains("id=\"no-manager\""), "{html}");
}

/// An owner who leaves the username empty gets one made from the business's name (they can
/// still change it in Telegram before confirming); a name without Latin letters asks for one.
#[tokio::test]
async fn a_username_is_made_from_the_business_name_when_none_is_typed() {
    let app = spawn_app().await;
    let link = landing_link(&app, "Rosa's Bakery", "").await;
    assert!(link.contains("/rosas_bakery_bot?name="), "{link}");
    let link = landing_link(&app, "Café Müller", " ").await;
    assert!(link.contains("/cafe_muller_bot?name="), "{link}");
    // A typed one is used as typed.
    assert!(landing_link(&app, "Rosa's Bakery", "RosaCakesBot").await.contains("/RosaCakesBot?"));
    let r = app.http.get(app.url("/new")).query(&[("name", "Пекарня Маша"), ("username", "")]).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Choose a username for your bot"), "{html}");
    assert!(!html.contains("t.me/newbot"));
    app.stop().await.unwrap();
}

/// The admin's links into Telegram — a bot's @username on the home page, "Pay with Stars" to the
/// manager bot — go where the creation links go (`telegram.links_url`): in the demo, the sandbox.
#[tokio::test]
async fn the_admins_telegram_links_follow_the_links_setting() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_TELEGRAM_LINKS_URL", "http://links.example/");
    })
    .await;
    let b = crate::owner_lifecycle::business(&app, "Lina", "lina_links_bot", "Lina's Lamps").await;
    let manager = app.state.manager.as_ref().unwrap().username.clone();
    let (_, home) = crate::owner_lifecycle::get(&app, &b.cookie, "/app").await;
    assert!(home.contains("href=\"http://links.example/lina_links_bot\"") && !home.contains("https://t.me/"), "{home}");
    let (_, billing) = crate::owner_lifecycle::get(&app, &b.cookie, "/app/billing").await;
    assert!(billing.contains(&format!("href=\"http://links.example/{manager}\">Pay with Stars")) && !billing.contains("https://t.me/"), "{billing}");
    app.stop().await.unwrap();
}

/// With `telegram.links_url` at the sandbox (as `demo` sets it), the landing page prints the
/// creation link at the sandbox's address; the sandbox's control API refused it (LINK_INVALID,
/// it expected t.me). It now opens the same creation screen, and the bot is made.
#[tokio::test]
async fn the_sandbox_takes_the_creation_link_the_landing_page_prints_at_its_address() {
    let app = spawn_app_with(|s| {
        let api = s.values.get("BELLHOP_TELEGRAM_API_URL").cloned().expect("the sandbox's address");
        s.set("BELLHOP_TELEGRAM_LINKS_URL", api);
    })
    .await;
    let base = app.tg.base.trim_end_matches('/').to_owned();
    let r = app.http.get(app.url("/new")).query(&[("name", "Walk Deli"), ("username", "walkd_deli_bot")]).send().await.unwrap();
    let html = r.text().await.unwrap();
    let start = html.find(&format!("href=\"{base}/newbot/")).unwrap_or_else(|| panic!("no link at {base}: {html}")) + 6;
    let end = start + html[start..].find('"').unwrap();
    let link = html[start..end].replace("&amp;", "&");
    let owner = app.tg.user("Walt").await;
    let req = app.tg.api(reqwest::Method::POST, &format!("users/{owner}/creation_links"), json!({ "link": link })).await;
    let id = req["id"].as_str().unwrap_or_else(|| panic!("the sandbox refused {link}: {req}")).to_owned();
    assert_eq!(req["suggested_username"], json!("walkd_deli_bot"), "{req}");
    let bot = app.tg.post(&format!("creation_requests/{id}/confirm"), json!({})).await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_live(&app, bot).await;
    app.stop().await.unwrap();
}
