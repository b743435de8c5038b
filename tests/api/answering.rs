//! A customer writes to a business's bot in the sandbox and gets an answer grounded in that
//! business's sources, "I don't know" with a person offered otherwise, and a handoff on /human.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

async fn bot_said_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(chat)).map(text_of).collect()
}

async fn wait_reply(app: &TestApp, bot: i64, chat: i64, n: usize) -> Vec<String> {
    wait_until(Duration::from_secs(60), || async { bot_said_to(app, bot, chat).await.len() >= n }).await;
    bot_said_to(app, bot, chat).await
}

#[tokio::test]
async fn a_customer_gets_an_answer_from_the_owners_document_or_a_person_offered() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    let app = spawn_app().await;
    let owner = app.tg.user("Rosa").await;
    let bot = app.tg.create_managed_bot(owner, "rosa_cakes_bot", "Rosa's Cakes").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(Duration::from_secs(30), || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let doc = "# Returns\n\nUnopened cakes can be returned within 24 hours with the receipt.\n\n# Delivery\n\nWe deliver in the city centre on Fridays, free above 30 euros.\n";
    let new = bellhop::storage::sources::NewSource { kind: "file", name: "policies.md", size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
    let source = bellhop::knowledge::ingest::add_source(&app.state, tenant, &new).await.unwrap();
    wait_until(Duration::from_secs(60), || async { count(app.db(), &format!("select count(*) from sources where id = {source} and status = 'ready'")).await == 1 }).await;

    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot, "/start").await;
    let said = wait_reply(&app, bot, customer, 1).await;
    assert!(said[0].contains("Rosa's Cakes"), "{said:?}");

    app.tg.say(customer, bot, "Can I return a cake I bought yesterday?").await;
    let said = wait_reply(&app, bot, customer, 2).await;
    assert!(said[1].contains("returned within 24 hours"), "{said:?}");
    assert!(said[1].contains("Sources") && said[1].contains("[1]"), "{said:?}");

    app.tg.say(customer, bot, "Who won the football world cup in 1974?").await;
    let said = wait_reply(&app, bot, customer, 3).await;
    assert!(said[2].contains("couldn't find that") && said[2].contains("talk to a person"), "{said:?}");

    app.tg.say(customer, bot, "/human").await;
    let said = wait_reply(&app, bot, customer, 4).await;
    assert!(said[3].contains("asked a person"), "{said:?}");
    let manager = app.tg.handle.sandbox.manager_id();
    wait_until(Duration::from_secs(30), || async { bot_said_to(&app, manager, owner).await.iter().any(|t| t.contains("Carl") && t.contains("wants to talk to a person")) }).await;
    app.stop().await.unwrap();
}
