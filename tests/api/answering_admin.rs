//! The owner's answering pages through HTTP, with a customer talking to the bot in the sandbox:
//! conversations and transcripts with feedback, replying and handing back from the admin page,
//! knowledge gaps turned into Q&A pairs, bot settings that reach Telegram, the test chat — all
//! tenant-scoped and CSRF-checked.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

async fn bot_said_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(chat)).map(text_of).collect()
}

async fn wait_reply(app: &TestApp, bot: i64, chat: i64, n: usize) -> Vec<String> {
    wait_until(WAIT, || async { bot_said_to(app, bot, chat).await.len() >= n }).await;
    bot_said_to(app, bot, chat).await
}

/// A business with a live bot made through the sandbox, its owner signed in to the admin pages.
struct Business {
    bot: i64,
    tenant: bellhop::domain::TenantId,
    cookie: String,
    csrf: String,
}

async fn business(app: &TestApp, owner_name: &str, username: &str, name: &str) -> Business {
    let owner = app.tg.user(owner_name).await;
    let bot = app.tg.create_managed_bot(owner, username, name).await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    let (tenant, cookie, csrf) = app.signed_in_owner(owner, name).await;
    Business { bot, tenant, cookie, csrf }
}

async fn customer(app: &TestApp, name: &str, bot: i64) -> i64 {
    app.tg.post("users", json!({ "first_name": name, "started_bots": [bot] })).await["id"].as_i64().unwrap()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let r = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    (r.status().as_u16(), location, r.text().await.unwrap())
}

/// A page's text as a reader sees it (askama escapes `&'<>"` as numeric entities).
fn d(html: &str) -> String {
    html.replace("&#60;", "<").replace("&#62;", ">").replace("&#34;", "\"").replace("&#39;", "'").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#38;", "&").replace("&amp;", "&")
}

async fn conversation_id(app: &TestApp, b: &Business, chat: i64) -> i64 {
    sqlx::query_scalar::<_, i64>("select id from conversations where tenant_id = $1 and chat_id = $2")
        .bind(b.tenant.0)
        .bind(chat)
        .fetch_one(&app.db().pool)
        .await
        .unwrap()
}

async fn mode(app: &TestApp, conv: i64) -> String {
    sqlx::query_scalar::<_, String>("select mode from conversations where id = $1").bind(conv).fetch_one(&app.db().pool).await.unwrap()
}

#[tokio::test]
async fn the_transcript_shows_messages_and_feedback_and_the_owner_replies_and_hands_back_from_it() {
    let app = spawn_app().await;
    let b = business(&app, "Ada", "ada_tools_bot", "Ada's Tools").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "What are your opening hours?", "Monday to Friday, 9 to 5.").await.unwrap();
    let bo = customer(&app, "Bo", b.bot).await;

    // A 👎 on a Q&A answer, a question the bot can't answer, and markup that must stay text.
    app.tg.say(bo, b.bot, "What are your opening hours?").await;
    wait_reply(&app, b.bot, bo, 1).await;
    let answer = app.tg.sent_by(b.bot).await.into_iter().find(|m| m["chat_id"] == json!(bo)).unwrap();
    let down = answer["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{bo}/callbacks"), json!({ "bot_id": b.bot, "message_id": answer["message_id"], "data": down })).await;
    wait_until(WAIT, || async { count(app.db(), "select count(*) from conversation_messages where feedback = -1").await == 1 }).await;
    app.tg.say(bo, b.bot, "Do you sell <b>left-handed</b> periscopes? <script>alert(1)</script>").await;
    wait_reply(&app, b.bot, bo, 2).await;
    let conv = conversation_id(&app, &b, bo).await;
    let (_, gaps) = get(&app, &b.cookie, "/app/gaps").await;
    assert!(d(&gaps).contains("What are your opening hours?") && d(&gaps).contains("👎 not helpful"), "a 👎 on an older pair's answer stays a gap: {gaps}");
    assert!(d(&gaps).contains("left-handed"), "{gaps}");

    let (status, list) = get(&app, &b.cookie, "/app/conversations").await;
    assert_eq!(status, 200);
    assert!(d(&list).contains(">Bo<") && d(&list).contains("@ada_tools_bot"), "{list}");
    assert!(d(&list).contains("👎 1") && d(&list).contains(">assistant<"), "{list}");
    assert!(d(&list).contains(&format!("/app/conversations/{conv}")));

    let (status, page) = get(&app, &b.cookie, &format!("/app/conversations/{conv}")).await;
    assert_eq!(status, 200);
    assert!(d(&page).contains("What are your opening hours?") && d(&page).contains("Monday to Friday, 9 to 5."), "{page}");
    assert!(d(&page).contains("👎 not helpful") && d(&page).contains("your Q&A answer"), "{page}");
    assert!(d(&page).contains("couldn't answer"), "{page}");
    assert!(d(&page).contains("<script>alert(1)</script>") && !page.contains("<script>alert"), "customer text is escaped");
    assert!(!page.contains("Hand back to the assistant"), "nothing to hand back while the assistant answers");

    // Replying needs the form's token; with it, the customer gets the words through the bot.
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("text", "Hi")]).await;
    assert_eq!(status, 403);
    let (status, _, page) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "   ")]).await;
    assert_eq!(status, 422);
    assert!(d(&page).contains("Write a reply"), "{page}");
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "Hi Bo, Ada here: periscopes come next week!")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/conversations/{conv}?done=sent").as_str()));
    let said = wait_reply(&app, b.bot, bo, 3).await;
    assert!(said[2].contains("Ada here") && said[2].contains("Ada's Tools"), "{said:?}");
    assert_eq!(mode(&app, conv).await, "human");
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(d(&page).contains("Sent.") && d(&page).contains("with a person") && d(&page).contains("Hand back to the assistant"), "{page}");
    assert!(d(&page).contains("periscopes come next week"), "the owner's reply is in the transcript");

    // Handing back: the customer is told, and the assistant answers again.
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/close"), &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    assert_eq!(mode(&app, conv).await, "human");
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/close"), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/conversations/{conv}?done=closed").as_str()));
    let said = wait_reply(&app, b.bot, bo, 4).await;
    assert!(said[3].contains("back with the assistant"), "{said:?}");
    assert_eq!(mode(&app, conv).await, "bot");
    app.tg.say(bo, b.bot, "What are your opening hours?").await;
    let said = wait_reply(&app, b.bot, bo, 5).await;
    assert!(said[4].contains("9 to 5"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_knowledge_gap_becomes_a_q_and_a_pair_in_one_click_and_the_bot_then_answers_it() {
    let app = spawn_app().await;
    let b = business(&app, "Gus", "gus_garage_bot", "Gus Garage").await;
    let cy = customer(&app, "Cy", b.bot).await;
    app.tg.say(cy, b.bot, "Do you fix vintage tractors?").await;
    let said = wait_reply(&app, b.bot, cy, 1).await;
    assert!(said[0].contains("couldn't find that"), "{said:?}");

    let (status, page) = get(&app, &b.cookie, "/app/gaps").await;
    assert_eq!(status, 200);
    assert!(d(&page).contains("Do you fix vintage tractors?") && d(&page).contains("couldn't answer"), "{page}");

    // Bad input: nothing added, the gap stays.
    let (status, _, page) = post(&app, &b.cookie, "/app/gaps/qa", &[("csrf", &b.csrf), ("question", "Do you fix vintage tractors?"), ("answer", "")]).await;
    assert_eq!(status, 422);
    assert!(d(&page).contains("Write both a question"), "{page}");
    let (status, _, _) = post(&app, &b.cookie, "/app/gaps/qa", &[("question", "Do you fix vintage tractors?"), ("answer", "Yes")]).await;
    assert_eq!(status, 403);
    assert_eq!(count(app.db(), "select count(*) from qa_pairs").await, 0);

    let bot = b.bot.to_string();
    let (status, location, _) =
        post(&app, &b.cookie, "/app/gaps/qa", &[("csrf", &b.csrf), ("bot", &bot), ("question", "Do you fix vintage tractors?"), ("answer", "Yes — tractors from before 1970 are our speciality.")]).await;
    // Back to the gaps of the bot the answer was added for (the owner's only bot here).
    assert_eq!((status, location.as_str()), (303, format!("/app/gaps?added=1&bot={}", b.bot).as_str()));
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(d(&page).contains("Added to your questions"), "{page}");
    assert!(!page.contains("Do you fix vintage tractors?"), "an answered gap is hidden: {page}");
    assert!(d(&page).contains("No gaps right now"));

    app.tg.say(cy, b.bot, "do you fix vintage tractors").await;
    let said = wait_reply(&app, b.bot, cy, 2).await;
    assert!(said[1].contains("before 1970"), "{said:?}");
    app.stop().await.unwrap();
}

/// Walkthrough B: with no AI model set up (the tests' default, like the demo's), every answer is a
/// quote, so who the bot is and its tone change nothing; the settings page says so next to them,
/// and says nothing of it once the operator has set up a model.
#[tokio::test]
async fn the_settings_page_says_when_the_voice_settings_do_not_change_quoted_answers() {
    let quoting = "Right now your bot answers by quoting your information word for word, so these settings don't change its answers yet: they take effect once an AI model is set up by whoever runs bellhop.";
    for model in [None, Some("http://127.0.0.1:9/v1")] {
        let app = spawn_app_with(|s| {
            if let Some(url) = model {
                s.set("BELLHOP_LLM_URL", url);
            }
        })
        .await;
        assert_eq!(app.state.cfg.answering.model_answers, model.is_some(), "the tests' configuration");
        let b = business(&app, "Rosa", "rosa_voice_bot", "Rosa's Cakes").await;
        let (status, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings", b.bot)).await;
        assert_eq!(status, 200);
        let page = d(&page);
        assert_eq!(page.contains(quoting), model.is_none(), "model {model:?}: {page}");
        if model.is_none() {
            let talks = page.find("How your bot talks").unwrap();
            let said = page.find(quoting).unwrap();
            assert!(talks < said && said < page.find("Who your bot is").unwrap(), "said next to the fields: {page}");
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn saved_settings_change_the_welcome_and_reach_telegram_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_cakes_bot", "Rosa's Cakes").await;
    let path = format!("/app/bots/{}/settings", b.bot);
    let (status, page) = get(&app, &b.cookie, &path).await;
    assert_eq!(status, 200);
    assert!(d(&page).contains("human - Talk to a person"), "the standard menu is shown: {page}");
    let (_, home) = get(&app, &b.cookie, "/app").await;
    assert!(home.contains(&format!("href=\"{path}\"")), "the home page links each bot's settings");
    let before = app.tg.get(&format!("bots/{}", b.bot)).await;

    // Bad input: every problem named, nothing saved, nothing queued.
    let long = "x".repeat(513);
    let bad = [("csrf", b.csrf.as_str()), ("welcome_text", "Not saved"), ("description", long.as_str()), ("commands", "Opening-Hours - when we open\nhours - \nhelp - Help")];
    let jobs_before = count(app.db(), "select count(*) from jobs where kind = 'bot.provision'").await;
    let (status, _, page) = post(&app, &b.cookie, &path, &bad).await;
    assert_eq!(status, 422);
    assert!(d(&page).contains("Nothing was saved"), "{page}");
    assert!(d(&page).contains("“Opening” can't be a command"), "{page}");
    assert!(d(&page).contains("description of /hours must be 1 to 256"), "{page}");
    assert!(d(&page).contains("at most 512 characters"), "{page}");
    assert!(d(&page).contains("Not saved"), "what the owner typed is kept in the form");
    assert_eq!(count(app.db(), "select count(*) from bot_settings").await, 0);
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.provision'").await, jobs_before);
    let (status, _, _) = post(&app, &b.cookie, &path, &[("welcome_text", "forged")]).await;
    assert_eq!(status, 403);
    assert_eq!(count(app.db(), "select count(*) from bot_settings").await, 0);

    let good = [
        ("csrf", b.csrf.as_str()),
        ("persona", "You are Rosa, the baker."),
        ("welcome_text", "Welcome to Rosa's test kitchen! Ask me about cakes."),
        ("description", "Rosa bakes cakes to order in Hamburg."),
        ("short_description", "Cakes to order"),
        ("commands", "/start - Start\nhours - Our opening hours\nhuman - Talk to Rosa"),
    ];
    let (status, location, body) = post(&app, &b.cookie, &path, &good).await;
    assert_eq!((status, location.as_str()), (303, format!("{path}?saved=1").as_str()), "{body}");
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(d(&page).contains("Saved.") && d(&page).contains("Welcome to Rosa's test kitchen!") && d(&page).contains("hours - Our opening hours"), "{page}");

    // The provisioning job runs again: Telegram gets the new menu and descriptions.
    wait_until(WAIT, || async {
        let bot = app.tg.get(&format!("bots/{}", b.bot)).await;
        bot["commands"].as_array().is_some_and(|c| c.iter().any(|c| c["command"] == "hours")) && bot["short_description"] == "Cakes to order"
    })
    .await;
    let after = app.tg.get(&format!("bots/{}", b.bot)).await;
    assert_ne!(before["commands"], after["commands"]);
    assert_eq!(after["description"], "Rosa bakes cakes to order in Hamburg.");
    assert_eq!(after["commands"].as_array().unwrap().len(), 3);
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {} and status = 'live'", b.bot)).await == 1 }).await;

    let di = customer(&app, "Di", b.bot).await;
    app.tg.say(di, b.bot, "/start").await;
    let said = wait_reply(&app, b.bot, di, 1).await;
    assert!(said[0].contains("Welcome to Rosa's test kitchen!"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_test_chat_runs_the_pipeline_in_the_browser_without_telegram_or_storage() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    let app = spawn_app().await;
    let b = business(&app, "Ben", "ben_bikes_bot", "Ben's Bikes").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you rent e-bikes?", "Yes, 25 euros a day.").await.unwrap();
    let doc = "# Repairs\n\nFlat tyres are fixed while you wait, for 12 euros.\n";
    let new = bellhop::storage::sources::NewSource { bot: Some(bellhop::domain::BotId(b.bot)), kind: "file", name: "repairs.md", size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
    let source = bellhop::app::sources::add_source(&app.state, b.tenant, &new).await.unwrap();
    wait_until(Duration::from_secs(120), || async { count(app.db(), &format!("select count(*) from sources where id = {source} and status = 'ready'")).await == 1 }).await;
    let sent_before = app.tg.sent_by(b.bot).await.len();

    let (status, page) = get(&app, &b.cookie, "/app/test-chat").await;
    assert_eq!(status, 200);
    assert!(d(&page).contains("Your conversation appears here"));
    let bot = b.bot.to_string();
    let (status, _, _) = post(&app, &b.cookie, "/app/test-chat", &[("bot", &bot), ("question", "Do you rent e-bikes?")]).await;
    assert_eq!(status, 403);

    let (status, _, page) = post(&app, &b.cookie, "/app/test-chat", &[("csrf", &b.csrf), ("bot", &bot), ("question", "Do you rent e-bikes?"), ("history", "")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(d(&page).contains("Yes, 25 euros a day.") && d(&page).contains("your Q&A answer"), "{page}");
    let history = hidden(&page, "history");

    let (_, _, page) = post(&app, &b.cookie, "/app/test-chat", &[("csrf", &b.csrf), ("bot", &bot), ("question", "How much is fixing a flat tyre?"), ("history", &history)]).await;
    assert!(d(&page).contains("Yes, 25 euros a day."), "the earlier exchange stays in the page");
    assert!(d(&page).contains("from your sources") && d(&page).contains("class=\"cited\""), "{page}");
    let history = hidden(&page, "history");

    let (_, _, page) = post(&app, &b.cookie, "/app/test-chat", &[("csrf", &b.csrf), ("bot", &bot), ("question", "Who won the 1974 world cup? <script>x</script>"), ("history", &history)]).await;
    assert!(d(&page).contains("couldn't answer"), "{page}");
    assert!(d(&page).contains("I'm sorry"), "the fallback text: {page}");
    assert!(d(&page).contains("<script>x</script>") && !page.contains("<script>x"));
    assert_eq!(page.matches("class=\"bubble customer\"").count(), 3);

    assert_eq!(count(app.db(), "select count(*) from conversations").await, 0, "nothing stored");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages").await, 0);
    assert_eq!(count(app.db(), "select count(*) from model_usage").await, 0, "nothing metered");
    assert_eq!(app.tg.sent_by(b.bot).await.len(), sent_before, "nothing sent to Telegram");
    app.stop().await.unwrap();
}

/// The test chat names the bot tried; a bot that is not the owner's (another business's, a made-up
/// one, one deleted since the page was opened) is not asked, saying why, and nothing is counted —
/// never the owner's first bot answering instead (as it did).
#[tokio::test]
async fn the_test_chat_refuses_a_bot_not_the_owners_instead_of_asking_the_first_bot() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let b = business(&app, "Ben", "ben_bikes_bot", "Ben's Bikes").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you rent e-bikes?", "Yes, 25 euros a day.").await.unwrap();
    let owner: i64 = sqlx::query_scalar("select owner_user_id from bots where id = $1").bind(b.bot).fetch_one(&app.db().pool).await.unwrap();
    let boats = app.tg.create_managed_bot(owner, "ben_boats_bot", "Ben's Boats").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{boats}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {boats} and status = 'live'")).await == 1 }).await;
    let x = business(&app, "Otto", "otto_other_bot", "Otto's Oats").await;
    let used = || async { bellhop::storage::billing::get_account(&app.db().pool, b.tenant).await.unwrap().map(|a| (a.plan_credits, a.pack_credits, a.used_in_period)) };
    let ask = |bot: String| {
        let (app, b) = (&app, &b);
        async move { post(app, &b.cookie, "/app/test-chat", &[("csrf", &b.csrf), ("bot", &bot), ("question", "Do you rent e-bikes?"), ("history", "")]).await }
    };

    let (status, _, page) = ask(b.bot.to_string()).await;
    assert_eq!(status, 200, "{page}");
    assert!(d(&page).contains("Yes, 25 euros a day."), "the bikes bot answers: {page}");

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{boats}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let before = used().await;
    for (why, bot) in [("another business's bot", x.bot), ("a made-up bot", 999_999_999), ("a deleted bot", boats)] {
        let (status, _, page) = ask(bot.to_string()).await;
        assert_eq!(status, 422, "{why}: {page}");
        assert!(d(&page).contains("not one of your bots") && d(&page).contains("Nothing was counted"), "{why}: {page}");
        assert!(!d(&page).contains("Yes, 25 euros a day."), "{why}: not answered by the bikes bot: {page}");
        assert!(!page.contains("otto_other_bot"), "{why}: {page}");
    }
    assert_eq!(used().await, before, "nothing counted");
    app.stop().await.unwrap();
}

/// The value of a hidden input, unescaped as a browser would.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no {name} field")) + marker.len();
    let raw = &page[at..at + page[at..].find('"').unwrap()];
    d(raw)
}

#[tokio::test]
async fn another_tenant_gets_404_and_never_sees_the_canary() {
    let app = spawn_app().await;
    let a = business(&app, "Ann", "ann_shop_bot", "Ann's Shop").await;
    let canary = "CANARY-7f3k9 periscope";
    let cu = customer(&app, "Canary Customer", a.bot).await;
    app.tg.say(cu, a.bot, canary).await;
    wait_reply(&app, a.bot, cu, 1).await;
    let conv = conversation_id(&app, &a, cu).await;
    let (_, page) = get(&app, &a.cookie, "/app/gaps").await;
    assert!(d(&page).contains(canary), "tenant A sees its own gap");

    let (_, cookie_b, csrf_b) = app.signed_in_owner(880_001, "Other Business").await;
    for path in [format!("/app/conversations/{conv}"), format!("/app/bots/{}/settings", a.bot)] {
        let (status, body) = get(&app, &cookie_b, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("CANARY"));
    }
    for path in [format!("/app/conversations/{conv}/reply"), format!("/app/conversations/{conv}/close"), format!("/app/bots/{}/settings", a.bot)] {
        let (status, _, body) = post(&app, &cookie_b, &path, &[("csrf", &csrf_b), ("text", "hijack"), ("welcome_text", "hijack")]).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("CANARY"));
    }
    let bot = a.bot.to_string();
    let (_, _, page) = post(&app, &cookie_b, "/app/test-chat", &[("csrf", &csrf_b), ("bot", &bot), ("question", "periscope")]).await;
    assert!(!page.contains("CANARY") && !page.contains("ann_shop_bot"), "{page}");
    for path in ["/app", "/app/conversations", "/app/gaps", "/app/test-chat", "/app/sources"] {
        let (status, body) = get(&app, &cookie_b, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("CANARY") && !body.contains("Canary Customer") && !body.contains("ann_shop_bot"), "{path}: {body}");
    }
    assert_eq!(mode(&app, conv).await, "bot");
    assert_eq!(bot_said_to(&app, a.bot, cu).await.len(), 1, "nothing reached A's customer");
    assert_eq!(count(app.db(), "select count(*) from bot_settings").await, 0);
    app.stop().await.unwrap();
}

/// A browser that opens a conversation that is missing (or another business's) gets a page of
/// the admin, in plain words, with a way back — and the same 404; scripts still get the short
/// text.
#[tokio::test]
async fn a_missing_page_is_shown_in_the_admin_with_a_way_back() {
    let app = spawn_app().await;
    let (_, cookie, csrf) = app.signed_in_owner(880_101, "Lost Owner").await;
    let browser = |r: reqwest::RequestBuilder| r.header("cookie", &cookie).header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    let r = browser(app.http.get(app.url("/app/conversations/987654321"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let page = d(&r.text().await.unwrap());
    assert!(page.contains("<nav class=\"tabs\">"), "in the admin's layout: {page}");
    assert!(page.contains("This page doesn't exist, or isn't one of yours."), "{page}");
    assert!(page.contains("href=\"/app/conversations\">Back to your conversations</a>"), "{page}");
    // A form whose token is stale: the same status, a page that says what to do.
    let r = browser(app.http.post(app.url("/app/conversations/987654321/close"))).form(&[("csrf", "stale")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(d(&r.text().await.unwrap()).contains("This form has expired"));
    // Not a browser: unchanged.
    let (status, body) = get(&app, &cookie, "/app/conversations/987654321").await;
    assert_eq!((status, body.as_str()), (404, "not found"));
    let _ = csrf;
    app.stop().await.unwrap();
}

/// The bots list: each bot's "Settings" and "Knowledge" links sit apart, not run together as
/// "SettingsKnowledge" (two floats side by side, no space between them).
#[tokio::test]
async fn a_bots_links_on_the_home_page_stand_apart() {
    let app = spawn_app().await;
    let b = business(&app, "Lia", "lia_tea_bot", "Lia's Tea").await;
    let (status, page) = get(&app, &b.cookie, "/app").await;
    assert_eq!(status, 200);
    let links = format!("<span class=\"bot-links\"><a class=\"settings-link\" href=\"/app/bots/{0}/settings\">Settings</a> <a class=\"settings-link\" href=\"/app/sources?bot={0}\">Knowledge</a></span>", b.bot);
    assert!(page.contains(&links), "{page}");
    let css = app.http.get(app.url("/static/app.css")).send().await.unwrap().text().await.unwrap();
    assert!(css.contains(".bot-links { float:right; display:flex; gap:14px;"), "the links are spaced");
    assert!(!css.contains(".settings-link { float"), "each link floated on its own runs them together");
    app.stop().await.unwrap();
}
