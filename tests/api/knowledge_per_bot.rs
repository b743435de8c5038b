//! Knowledge per bot (issue 17, item 1): an owner with a bakery bot and a flower-shop bot has
//! two knowledge bases. Each bot answers customers — and the playground searches — only from its
//! own sources and Q&A pairs, plus a source the owner shared with it on purpose; knowledge added
//! before the business had a bot goes to its first bot.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn models_dir() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh` (it fetches the model files) or set it");
}

async fn live_bot(app: &TestApp, owner: i64, username: &str, name: &str) -> i64 {
    let bot = app.tg.create_managed_bot(owner, username, name).await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    bot
}

async fn upload(app: &TestApp, cookie: &str, csrf: &str, bot: i64, name: &str, text: &str) {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("bot", bot.to_string())
        .part("files", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_owned()));
    let r = app.http.post(app.url("/app/sources/upload")).header("cookie", cookie).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = app.http.get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap().replace("&#39;", "'").replace("&#64;", "@")
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> u16 {
    app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap().status().as_u16()
}

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

/// A new customer asks `bot` `question`; returns the reply's kind (as stored) and text.
async fn ask(app: &TestApp, bot: i64, question: &str) -> (String, String) {
    let customer = app.tg.post("users", json!({ "first_name": "Customer", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot, question).await;
    let said = || async { app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(customer)).map(text_of).collect::<Vec<_>>() };
    wait_until(WAIT, || async { !said().await.is_empty() }).await;
    let kind: String = sqlx::query_scalar(
        "select m.kind from conversation_messages m join conversations c on c.id = m.conversation_id where c.bot_id = $1 and c.chat_id = $2 and m.author = 'bot'",
    )
    .bind(bot)
    .bind(customer)
    .fetch_one(&app.db().pool)
    .await
    .unwrap();
    (kind, said().await.join("\n"))
}

#[tokio::test]
async fn each_bot_of_one_owner_answers_only_from_its_own_sources_and_a_shared_source_serves_both() {
    models_dir();
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let owner = app.tg.user("Flora").await;
    let bakery = live_bot(&app, owner, "floras_bakery_bot", "Flora's Bakery").await;
    let flowers = live_bot(&app, owner, "floras_flowers_bot", "Flora's Flowers").await;
    let (tenant, cookie, csrf) = app.signed_in_owner(owner, "Flora").await;
    assert_eq!(bellhop::storage::bots::list_for_tenant(&app.db().pool, tenant).await.unwrap().len(), 2, "one owner, two bots");

    upload(&app, &cookie, &csrf, bakery, "bread.md", "# Bread\n\nOur sourdough loaf costs 4 euros and is baked every morning at six.\n").await;
    upload(&app, &cookie, &csrf, flowers, "roses.md", "# Roses\n\nA bouquet of twelve red roses costs 30 euros.\n").await;
    upload(&app, &cookie, &csrf, bakery, "delivery.md", "# Delivery\n\nWe deliver within 5 km of the shop; delivery costs 3 euros.\n").await;
    let b = bakery.to_string();
    assert_eq!(post(&app, &cookie, "/app/qa", &[("csrf", &csrf), ("bot", &b), ("question", "Do you bake wedding cakes?"), ("answer", "Yes, three tiers for 120 euros.")]).await, 303);
    wait_until(WAIT, || async { count(app.db(), "select count(*) from sources where status = 'ready'").await == 3 }).await;

    // The knowledge page shows one bot's knowledge, with a selector for the other.
    let f = flowers.to_string();
    let page = get(&app, &cookie, &format!("/app/sources?bot={bakery}")).await;
    assert!(page.contains("bread.md") && page.contains("delivery.md") && page.contains("three tiers"), "{page}");
    assert!(!page.contains("roses.md"), "the flower shop's source on the bakery's page");
    assert!(page.contains("id=\"pick-bot\"") && page.contains("@floras_flowers_bot") && page.contains("@floras_bakery_bot"), "the bot selector");
    let page = get(&app, &cookie, &format!("/app/sources?bot={flowers}")).await;
    assert!(page.contains("roses.md") && !page.contains("bread.md") && !page.contains("delivery.md") && !page.contains("three tiers"), "{page}");

    // Before sharing: each bot answers from its own knowledge only.
    let (kind, reply) = ask(&app, flowers, "How much is a bouquet of twelve red roses?").await;
    assert!(reply.contains("30 euros"), "{kind}: {reply}");
    let (kind, reply) = ask(&app, bakery, "How much is a bouquet of twelve red roses?").await;
    assert_eq!(kind, "fallback", "the bakery answered from the flower shop's source: {reply}");
    let (_, reply) = ask(&app, bakery, "How much does your sourdough loaf cost?").await;
    assert!(reply.contains("4 euros"), "{reply}");
    let (kind, reply) = ask(&app, flowers, "How much does your sourdough loaf cost?").await;
    assert_eq!(kind, "fallback", "the flower shop answered from the bakery's source: {reply}");
    let (kind, reply) = ask(&app, flowers, "Do you bake wedding cakes?").await;
    assert_ne!(kind, "qa", "the flower shop used the bakery's Q&A pair: {reply}");
    let (kind, _) = ask(&app, flowers, "How much does delivery cost?").await;
    assert_eq!(kind, "fallback", "not shared yet");

    // Shared on purpose: the bakery's delivery source is also used by the flower shop.
    let delivery: i64 = count(app.db(), "select id from sources where name = 'delivery.md'").await;
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{delivery}/bots"), &[("csrf", &csrf), ("bot", &b), ("also", &f)]).await, 303);
    let page = get(&app, &cookie, &format!("/app/sources?bot={flowers}")).await;
    assert!(page.contains("delivery.md") && page.contains("shared from @floras_bakery_bot"), "{page}");
    for bot in [bakery, flowers] {
        let (kind, reply) = ask(&app, bot, "How much does delivery cost?").await;
        assert!(reply.contains("3 euros"), "bot {bot} ({kind}): {reply}");
    }
    let (kind, _) = ask(&app, flowers, "How much does your sourdough loaf cost?").await;
    assert_eq!(kind, "fallback", "sharing one source shares only that one");

    // The playground searches the chosen bot's knowledge.
    let found = get(&app, &cookie, &format!("/app/search?bot={flowers}&q=delivery+price+for+roses")).await;
    assert!(found.contains("3 euros") && found.contains("30 euros") && !found.contains("sourdough"), "{found}");
    let found = get(&app, &cookie, &format!("/app/search?bot={bakery}&q=delivery+price+for+roses")).await;
    assert!(found.contains("3 euros") && !found.contains("30 euros"), "{found}");

    // Sharing undone (nothing ticked): the flower shop no longer finds it.
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{delivery}/bots"), &[("csrf", &csrf), ("bot", &b)]).await, 303);
    let found = get(&app, &cookie, &format!("/app/search?bot={flowers}&q=delivery+price")).await;
    assert!(!found.contains("3 euros"), "{found}");
    // Only the owner's own bots can be chosen: another business's bot id is refused silently.
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{delivery}/bots"), &[("csrf", &csrf), ("bot", &b), ("also", "999999")]).await, 303);
    assert_eq!(count(app.db(), "select count(*) from source_bots").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn knowledge_added_before_the_first_bot_belongs_to_it_and_a_later_bot_starts_empty() {
    let app = spawn_app().await;
    let owner = 7_310_001;
    let (tenant, cookie, csrf) = app.signed_in_owner(owner, "Early Bird").await;
    assert_eq!(post(&app, &cookie, "/app/qa", &[("csrf", &csrf), ("question", "Do you open on Sundays?"), ("answer", "From 10 to 2.")]).await, 303);
    let page = get(&app, &cookie, "/app/sources").await;
    assert!(page.contains("From 10 to 2.") && page.contains("You have no bot yet"), "{page}");
    assert_eq!(count(app.db(), "select count(*) from qa_pairs where bot_id is null").await, 1);

    app.create_bot(owner, 7_310_101).await;
    assert_eq!(count(app.db(), "select count(*) from qa_pairs where bot_id = 7310101").await, 1, "the first bot gets it");
    let (second_tenant, _, _) = app.create_bot(owner, 7_310_102).await;
    assert_eq!(second_tenant, tenant);
    assert_eq!(count(app.db(), "select count(*) from qa_pairs where bot_id = 7310101").await, 1, "it stays the first bot's");
    let page = get(&app, &cookie, "/app/sources?bot=7310102").await;
    assert!(!page.contains("From 10 to 2."), "the second bot starts with its own, empty knowledge");
    let page = get(&app, &cookie, "/app/sources?bot=7310101").await;
    assert!(page.contains("From 10 to 2."));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_deleted_bots_knowledge_is_used_by_no_bot_until_the_owner_shares_it() {
    models_dir();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let owner = app.tg.user("Gerda").await;
    let old = live_bot(&app, owner, "gerdas_old_bot", "Gerda's Garden").await;
    let new = live_bot(&app, owner, "gerdas_new_bot", "Gerda's Garden Shop").await;
    let (_, cookie, csrf) = app.signed_in_owner(owner, "Gerda").await;
    upload(&app, &cookie, &csrf, old, "ferns.md", "# Ferns\n\nA potted Boston fern costs 14 euros and likes shade.\n").await;
    wait_until(WAIT, || async { count(app.db(), "select count(*) from sources where status = 'ready'").await == 1 }).await;

    assert_eq!(post(&app, &cookie, &format!("/app/bots/{old}/delete"), &[("csrf", &csrf), ("confirm", "yes")]).await, 303);
    let (kind, reply) = ask(&app, new, "How much is a potted Boston fern?").await;
    assert_eq!(kind, "fallback", "the deleted bot's knowledge answered for another bot: {reply}");
    let page = get(&app, &cookie, "/app/sources").await;
    assert!(page.contains("Not used by any bot") && !page.contains("ferns.md"), "{page}");
    let page = get(&app, &cookie, "/app/sources?bot=0").await;
    assert!(page.contains("ferns.md") && page.contains("No bot answers from this knowledge"), "{page}");
    assert!(page.contains(&format!("name=\"also\" value=\"{new}\"")), "it can be shared with the bot left: {page}");

    let fern: i64 = count(app.db(), "select id from sources where name = 'ferns.md'").await;
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{fern}/bots"), &[("csrf", &csrf), ("bot", "0"), ("also", &new.to_string())]).await, 303);
    let (_, reply) = ask(&app, new, "How much is a potted Boston fern?").await;
    assert!(reply.contains("14 euros"), "{reply}");
    app.stop().await.unwrap();
}

/// A walkthrough found that uploading an edited `prices.txt` kept the old one too: two sources of
/// one name, and the bot quoted both prices. A file uploaded for a bot under the name of a file
/// the bot owns replaces it: the same source (its id, the bots it is shared with), the new bytes
/// and size, read again — taking no new place among the plan's sources, and counting its new
/// size instead of the old toward the storage limit. A file shared from another bot is not the
/// bot's own: a file of its name is a new source of the bot.
#[tokio::test]
async fn an_edited_file_uploaded_again_replaces_the_bots_own_file_of_that_name() {
    models_dir();
    // Two bots, three sources, and room for 1,024 bytes.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|3").set("BELLHOP_KNOWLEDGE_MAX_TENANT_BYTES", "1024");
    })
    .await;
    let owner = app.tg.user("Rosa").await;
    let flowers = live_bot(&app, owner, "rosas_roses_bot", "Rosa's Roses").await;
    let bakery = live_bot(&app, owner, "rosas_rolls_bot", "Rosa's Rolls").await;
    let (_, cookie, csrf) = app.signed_in_owner(owner, "Rosa").await;
    let (f, b) = (flowers.to_string(), bakery.to_string());
    // 600 bytes, then 610.
    let old = format!("{:<600}", "A bouquet of 12 red roses costs 45 dollars.");
    let new = format!("{:<610}", "A bouquet of 12 red roses costs 50 dollars.");
    upload(&app, &cookie, &csrf, flowers, "prices.txt", &old).await;
    wait_until(WAIT, || async { count(app.db(), "select count(*) from sources where status = 'ready'").await == 1 }).await;
    let id: i64 = count(app.db(), "select id from sources where name = 'prices.txt'").await;
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{id}/bots"), &[("csrf", &csrf), ("bot", &f), ("also", &b)]).await, 303);

    // The bakery has it shared, not as its own: a prices.txt uploaded for it is its own new source.
    upload(&app, &cookie, &csrf, bakery, "prices.txt", "Rolls: 1 dollar.").await;
    upload(&app, &cookie, &csrf, bakery, "hours.txt", "Open 7 to 7.").await;
    assert_eq!(count(app.db(), &format!("select count(*) from sources where name = 'prices.txt' and bot_id = {bakery}")).await, 1);
    assert_eq!(count(app.db(), "select count(*) from sources").await, 3, "the plan's 3 sources are taken");

    // The edited file, for the flower shop: the plan is full and 610 more bytes would pass the
    // 1,024-byte limit, but it replaces the earlier version, so neither grows.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("bot", f.clone())
        .part("files", reqwest::multipart::Part::bytes(new.as_bytes().to_vec()).file_name("prices.txt"));
    let r = app.http.post(app.url("/app/sources/upload")).header("cookie", &cookie).multipart(form).send().await.unwrap();
    let (status, page) = (r.status(), r.text().await.unwrap());
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<p class=\"notice\" role=\"status\">Replaced prices.txt with the new version; your bot answers from it once it is read.</p>"), "{page}");
    assert!(page.contains("3 of the 3 sources"), "{page}");
    assert_eq!(count(app.db(), &format!("select count(*) from sources where bot_id = {flowers}")).await, 1, "two files of one name");
    assert_eq!(count(app.db(), &format!("select count(*) from sources where id = {id} and size_bytes = 610")).await, 1, "the same source, with the new size");
    assert_eq!(count(app.db(), &format!("select count(*) from source_bots where source_id = {id} and bot_id = {bakery}")).await, 1, "its sharing was lost");
    wait_until(WAIT, || async { count(app.db(), "select count(*) from sources where status = 'ready'").await == 3 }).await;
    let found = get(&app, &cookie, &format!("/app/search?bot={flowers}&q=how+much+are+12+red+roses")).await;
    assert!(found.contains("50 dollars") && !found.contains("45 dollars"), "{found}");
    let found = get(&app, &cookie, &format!("/app/search?bot={bakery}&q=how+much+are+12+red+roses")).await;
    assert!(found.contains("50 dollars") && !found.contains("45 dollars"), "the bot it is shared with: {found}");
    app.stop().await.unwrap();
}

/// The home page's next step is per bot: with one bot taught and another not, it names the one
/// with nothing to answer from instead of saying "try your bot"; once both know something, it
/// says to try them.
#[tokio::test]
async fn the_home_page_names_the_bot_that_has_no_knowledge_yet() {
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let owner = app.tg.user("Hanna").await;
    let bakery = live_bot(&app, owner, "hanna_bakes_bot", "Hanna's Bakery").await;
    let bikes = live_bot(&app, owner, "harbor_bikes_bot", "Harbor Bikes").await;
    let (tenant, cookie, _) = app.signed_in_owner(owner, "Hanna's Bakery").await;
    let home = get(&app, &cookie, "/app").await;
    assert!(home.contains("Next step: teach your bot") && !home.contains("try your bot"), "{home}");
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(bellhop::domain::BotId(bakery)), "Do you bake on Sundays?", "Yes, from 8.").await.unwrap();
    let home = get(&app, &cookie, "/app").await;
    assert!(home.contains("Next step: teach @harbor_bikes_bot") && home.contains("has no knowledge yet"), "{home}");
    assert!(home.contains(&format!("href=\"/app/sources?bot={bikes}\">Add knowledge")), "{home}");
    assert!(!home.contains("try your bot") && !home.contains("teach @hanna_bakes_bot"), "{home}");
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(bellhop::domain::BotId(bikes)), "Do you rent tandems?", "Yes, two.").await.unwrap();
    let home = get(&app, &cookie, "/app").await;
    assert!(home.contains("Next step: try your bot") && !home.contains("no knowledge yet"), "{home}");
    app.stop().await.unwrap();
}
