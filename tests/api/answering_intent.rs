//! What a customer says that is not a question for the business's information: asking for a
//! person in words (a handoff, as `/human`), small talk ("hi", "thanks", "bye" — a short reply),
//! neither costing a credit nor landing in the owner's knowledge gaps. And the bot's own words
//! naming a business whose name ends in "s".
//!
//! Zero-config: no sources, no model — a question gets the "couldn't find" reply.
use crate::answering_llm::live_bot;
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

async fn said_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(chat)).map(text_of).collect()
}

/// A new customer of `bot` (Telegram in `language`, when given).
async fn customer(app: &TestApp, bot: i64, language: Option<&str>) -> i64 {
    let mut user = json!({ "first_name": "Carl", "started_bots": [bot] });
    if let Some(code) = language {
        user["language_code"] = json!(code);
    }
    app.tg.post("users", user).await["id"].as_i64().unwrap()
}

/// The customer says `text`; the bot's reply to it.
async fn ask(app: &TestApp, bot: i64, chat: i64, text: &str) -> String {
    let before = said_to(app, bot, chat).await.len();
    app.tg.say(chat, bot, text).await;
    wait_until(Duration::from_secs(120), || async { said_to(app, bot, chat).await.len() > before }).await;
    said_to(app, bot, chat).await.pop().unwrap()
}

async fn gap_questions(app: &TestApp, tenant: bellhop::domain::TenantId, bot: i64) -> Vec<String> {
    app.drain_jobs(Duration::from_secs(30)).await;
    let gaps = bellhop::storage::conversations::gaps(&app.db().pool, tenant, bellhop::domain::BotId(bot), 0, 50).await.unwrap();
    gaps.iter().filter_map(|g| g.question.clone()).collect()
}

#[tokio::test]
async fn asking_for_a_person_in_words_hands_the_conversation_over_like_human() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Rosa", "rosa_person_bot", "Rosa's Cakes").await;
    let owner = bellhop::storage::tenants::get(&app.db().pool, tenant).await.unwrap().unwrap().owner_user_id.0;
    let manager = app.tg.handle.sandbox.manager_id();
    // The request, the customer's Telegram language, and the start of the handoff note they get.
    let asks: &[(&str, Option<&str>, &str)] = &[
        ("I want to talk to a human", Some("en"), "I've asked a person from Rosa's Cakes"),
        ("Can I speak to someone?", None, "I've asked a person from Rosa's Cakes"),
        ("operator", None, "I've asked a person from Rosa's Cakes"),
        ("Ich möchte mit einem Menschen sprechen", Some("de"), "Ich habe eine Person von Rosa's Cakes gebeten"),
        ("quiero hablar con una persona", Some("es"), "He pedido a una persona de Rosa's Cakes"),
        ("хочу поговорить с человеком", None, "Я попросил сотрудника Rosa's Cakes"),
        ("می‌خواهم با یک انسان صحبت کنم", None, "از یک نفر از Rosa's Cakes"),
    ];
    for (i, &(words, language, note)) in asks.iter().enumerate() {
        let chat = customer(&app, bot, language).await;
        let reply = ask(&app, bot, chat, words).await;
        assert!(reply.starts_with(note), "{words:?}: the handoff note: {reply:?}");
        let handed = count(app.db(), &format!("select count(*) from conversations where bot_id = {bot} and chat_id = {chat} and mode = 'human'")).await;
        assert_eq!(handed, 1, "{words:?}: the conversation is with a person");
        // The team hears, as for /human.
        wait_until(Duration::from_secs(30), || async { said_to(&app, manager, owner).await.iter().filter(|t| t.contains("wants to talk to a person")).count() > i }).await;
    }
    // Not a request for a person: questions that only mention one.
    for words in ["Can a person pick up the order?", "Do you have staff who speak Spanish?"] {
        let chat = customer(&app, bot, Some("en")).await;
        let reply = ask(&app, bot, chat, words).await;
        assert!(reply.contains("couldn't find that"), "{words:?} is a question: {reply:?}");
        assert_eq!(count(app.db(), &format!("select count(*) from conversations where bot_id = {bot} and chat_id = {chat} and mode = 'human'")).await, 0, "{words:?}");
    }
    assert_eq!(gap_questions(&app, tenant, bot).await, vec!["Do you have staff who speak Spanish?".to_owned(), "Can a person pick up the order?".to_owned()], "a request for a person is no knowledge gap");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where model_tokens > 0").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn small_talk_gets_a_short_reply_in_the_customers_language_and_is_no_knowledge_gap() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Rosa", "rosa_chat_bot", "Rosa's Cakes").await;
    // The message, the customer's Telegram language, and the start of the reply.
    let talk: &[(&str, Option<&str>, &str)] = &[
        ("hi", Some("en"), "👋 Hi! I'm the assistant of Rosa's Cakes."),
        ("Thanks a lot!", Some("en"), "You're welcome!"),
        ("thank you 🙏", Some("en"), "You're welcome!"),
        ("ok", Some("en"), "👍"),
        ("bye", Some("en"), "Goodbye!"),
        ("hola", Some("es"), "👋 ¡Hola! Soy el asistente de Rosa's Cakes."),
        ("¡Muchas gracias!", Some("es"), "¡De nada!"),
        ("привет", None, "👋 Здравствуйте! Я помощник Rosa's Cakes."),
        ("спасибо", Some("ru"), "Пожалуйста!"),
        ("سلام", None, "👋 سلام! من دستیار Rosa's Cakes هستم."),
        ("مرسی", None, "خواهش می‌کنم!"),
        ("danke", Some("de"), "Gern geschehen!"),
        ("Bonjour !", Some("fr"), "👋 Bonjour ! Je suis l'assistant de Rosa's Cakes."),
        ("grazie", Some("it"), "Prego!"),
        ("obrigado", Some("pt"), "De nada!"),
    ];
    for &(words, language, start) in talk {
        let chat = customer(&app, bot, language).await;
        let reply = ask(&app, bot, chat, words).await;
        assert!(reply.starts_with(start), "{words:?}: {reply:?}");
    }
    // A greeting with a question is a question.
    let chat = customer(&app, bot, Some("en")).await;
    let reply = ask(&app, bot, chat, "Hi, how much is a cake?").await;
    assert!(reply.contains("couldn't find that"), "{reply:?}");
    assert_eq!(gap_questions(&app, tenant, bot).await, vec!["Hi, how much is a cake?".to_owned()], "small talk is no knowledge gap");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where bot_id = {bot} and mode = 'human'")).await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_business_name_ending_in_s_is_not_given_a_second_s() {
    let app = spawn_app().await;
    let (bot, _, _) = live_bot(&app, "Rosa", "rosa_flowers_bot", "Rosa's Flowers").await;
    let chat = customer(&app, bot, Some("en")).await;
    let reply = ask(&app, bot, chat, "Do you sell left-handed submarine periscopes?").await;
    assert!(reply.starts_with("I'm sorry — I couldn't find that in Rosa's Flowers' information."), "{reply:?}");
    let reply = ask(&app, bot, chat, "/help").await;
    assert!(reply.contains("I answer from Rosa's Flowers' information"), "{reply:?}");
    app.stop().await.unwrap();
}
