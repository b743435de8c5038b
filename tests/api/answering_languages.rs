//! Customers writing Russian, Spanish, Persian and German to businesses whose documents are in those
//! languages, through the real pipeline (ingestion, BM25 + MiniLM retrieval, sentence selection,
//! delivery through the Telegram sandbox): the reply quotes the sentence with the right price,
//! and the bot's own words — the lead-in, "Sources", "I don't know" and its button — are in the
//! customer's language, from their message even when their Telegram app is set to English.
//!
//! The default settings: with the built-in model, replies are the owner's sentences quoted
//! (`answering.model_answers = auto`).
use crate::answering_llm::{add_doc, live_bot, wait_sources_ready};
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

struct Case {
    username: &'static str,
    business: &'static str,
    language_code: Option<&'static str>,
    document: &'static str,
    /// A question, what the reply must contain (the price) and must not (the other prices).
    question: &'static str,
    price: &'static str,
    not: &'static [&'static str],
    lead_in: &'static str,
    sources: &'static str,
    /// A question the document does not answer, and the start of the "I don't know" text and
    /// its button.
    unknown: &'static str,
    fallback: &'static str,
    button: &'static str,
}

const CASES: &[Case] = &[
    Case {
        username: "rassvet_bot",
        business: "Рассвет",
        // Telegram in English, the customer writes Russian.
        language_code: Some("en"),
        document: "Пекарня «Рассвет»\n\nТорты на заказ. Торт на двенадцать человек стоит 45 евро. Маленький торт на шесть человек стоит 28 евро. \
                   Заказ торта нужно сделать за два дня.\n\nЧасы работы. Мы открыты с понедельника по субботу с 8 до 19 часов. В воскресенье пекарня закрыта.\n\n\
                   Доставка. Доставка по городу стоит 5 евро.",
        question: "Сколько стоит торт на двенадцать человек?",
        price: "45 евро",
        not: &["28", "Доставка"],
        lead_in: "Вот что сказано в наших материалах:",
        sources: "Источники",
        unknown: "Вы ремонтируете велосипеды и самокаты?",
        fallback: "Извините, я не нашёл этого в информации Рассвет.",
        button: "Поговорить с человеком",
    },
    Case {
        username: "amanecer_bot",
        business: "Amanecer",
        language_code: Some("es"),
        document: "Pastelería Amanecer\n\nPasteles por encargo. Un pastel para doce personas cuesta 45 euros. Un pastel pequeño para seis personas cuesta 28 euros. \
                   Los pasteles se encargan con dos días de antelación.\n\nHorario. Abrimos de lunes a sábado de 8 a 19 horas. Los domingos la pastelería está cerrada.\n\n\
                   Envíos. El envío dentro de la ciudad cuesta 5 euros.",
        question: "¿Cuánto cuestan los pasteles para doce personas?",
        price: "45 euros",
        not: &["28", "envío"],
        lead_in: "Esto es lo que dice nuestra información:",
        sources: "Fuentes",
        unknown: "¿Reparan bicicletas y patinetes eléctricos?",
        fallback: "Lo siento, no encontré eso en la información de Amanecer.",
        button: "Hablar con una persona",
    },
    Case {
        username: "sepideh_bot",
        business: "سپیده",
        // No language from Telegram: the message's script says it.
        language_code: None,
        // Arabic letter forms (ي, ك) and Arabic-Indic digits in the document, Persian ones in
        // the question: the same words to retrieval.
        document: "قنادی سپیده\n\nکیک سفارشی. قيمت كيك برای دوازده نفر ٤٥ یورو است. کیک کوچک برای شش نفر ۲۸ یورو است. \
                   سفارش کیک باید دو روز زودتر ثبت شود.\n\nساعت کاری. از شنبه تا پنجشنبه از ساعت ۸ تا ۱۹ باز هستیم. جمعه‌ها قنادی تعطیل است.\n\n\
                   ارسال. ارسال در شهر ۵ یورو هزینه دارد.",
        question: "قیمت کیک برای دوازده نفر چقدر است؟",
        price: "٤٥ یورو",
        not: &["۲۸", "ارسال"],
        lead_in: "این را در اطلاعات ما پیدا کردم:",
        sources: "منابع",
        unknown: "آیا دوچرخه و اسکوتر برقی تعمیر می‌کنید؟",
        fallback: "متأسفم، این را در اطلاعات سپیده پیدا نکردم.",
        button: "گفتگو با یک نفر",
    },
    Case {
        username: "sonne_bot",
        business: "Sonne",
        language_code: Some("de"),
        document: "Bäckerei Sonne\n\nTorten auf Bestellung. Eine Torte für zwölf Personen kostet 45 Euro. Eine kleine Torte für sechs Personen kostet 28 Euro. \
                   Torten bitte zwei Tage vorher bestellen.\n\nÖffnungszeiten. Wir haben von Montag bis Samstag von 8 bis 19 Uhr geöffnet. Sonntags ist die Bäckerei geschlossen.\n\n\
                   Lieferung. Die Lieferung in der Stadt kostet 5 Euro.",
        question: "Wie viel kostet eine Torte für zwölf Personen?",
        price: "45 Euro",
        not: &["28", "Lieferung"],
        lead_in: "Das steht in unseren Unterlagen:",
        sources: "Quellen",
        unknown: "Reparieren Sie Fahrräder und Elektroroller?",
        fallback: "Das tut mir leid – das habe ich in den Informationen von Sonne nicht gefunden.",
        button: "Mit einem Menschen sprechen",
    },
];

#[tokio::test]
async fn customers_get_the_right_sentence_and_the_bots_words_in_their_language() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    let app = spawn_app().await;
    let mut bots = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let (bot, tenant, _) = live_bot(&app, &format!("Owner {i}"), c.username, c.business).await;
        add_doc(&app, tenant, &format!("{}.txt", c.username), c.document).await;
        wait_sources_ready(&app, tenant, 1).await;
        bots.push(bot);
    }
    for (c, &bot) in CASES.iter().zip(&bots) {
        let mut user = json!({ "first_name": "Customer", "started_bots": [bot] });
        if let Some(code) = c.language_code {
            user["language_code"] = json!(code);
        }
        let customer = app.tg.post("users", user).await["id"].as_i64().unwrap();
        let mut said: Vec<Value> = Vec::new();
        for (i, q) in [c.question, c.unknown].into_iter().enumerate() {
            app.tg.say(customer, bot, q).await;
            wait_until(Duration::from_secs(120), || async { app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(customer)).count() > i }).await;
            said = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).collect();
        }
        let answer = text_of(&said[0]);
        assert!(answer.starts_with(c.lead_in), "{}: the lead-in in the customer's language: {answer:?}", c.username);
        let body = answer.split(&format!("\n\n{}", c.sources)).next().unwrap_or_default();
        // Cited by the document's first line, its title ("Bäckerei Sonne"), not its file name.
        let title = c.document.lines().next().unwrap();
        assert!(answer.contains(&format!("\n\n{}\n[1] {title}", c.sources)), "{}: the sources under their heading: {answer:?}", c.username);
        assert!(body.contains(c.price), "{}: the price asked about is quoted: {answer:?}", c.username);
        for other in c.not {
            assert!(!body.contains(other), "{}: only the sentence that answers ({other} is not asked about): {answer:?}", c.username);
        }
        let unknown = text_of(&said[1]);
        assert!(unknown.starts_with(c.fallback), "{}: \"I don't know\" in the customer's language: {unknown:?}", c.username);
        assert!(said[1]["reply_markup"].to_string().contains(c.button), "{}: the button in the customer's language: {}", c.username, said[1]["reply_markup"]);
    }
    app.stop().await.unwrap();
}

/// The owner's own "I don't know" text is shown as written, whatever the customer's language;
/// and the bot's words after its button is pressed are in the customer's language, not in the
/// language of the owner's text on the pressed message.
#[tokio::test]
async fn the_owners_own_text_is_shown_as_written() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Owner", "own_words_bot", "Rassvet").await;
    let own = "Please ask us in the bakery, and Sam will be happy to help you with anything you need.";
    let settings = bellhop::storage::bot_settings::BotSettings { fallback_text: own.into(), ..Default::default() };
    // Provisioning finished first, as it would before an owner could save settings.
    app.drain_jobs(Duration::from_secs(60)).await;
    let mut tx = app.db().begin().await.unwrap();
    bellhop::storage::bot_settings::put(&mut tx, tenant, bellhop::domain::BotId(bot), &settings).await.unwrap();
    tx.commit().await.unwrap();
    let customer = app.tg.post("users", json!({ "first_name": "Customer", "language_code": "es", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    app.tg.say(customer, bot, "¿Tienen pasteles sin gluten?").await;
    wait_until(Duration::from_secs(60), || async { !app.tg.sent_by(bot).await.is_empty() }).await;
    let reply = app.tg.sent_by(bot).await.into_iter().find(|m| m["chat_id"] == json!(customer)).unwrap();
    assert_eq!(text_of(&reply), own);
    assert!(reply["reply_markup"].to_string().contains("Hablar con una persona"), "{}", reply["reply_markup"]);
    // The press is answered in Spanish, though the pressed message is English.
    let human = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    assert_eq!(human, "human", "{}", reply["reply_markup"]);
    app.tg.post(&format!("users/{customer}/callbacks"), json!({ "bot_id": bot, "message_id": reply["message_id"], "data": human })).await;
    let to_customer = || async { app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).map(|m| text_of(&m)).collect::<Vec<_>>() };
    wait_until(Duration::from_secs(60), || async { to_customer().await.len() == 2 }).await;
    let said = to_customer().await;
    assert_eq!(said[1], bellhop::answering::language::Lang::Es.words().handoff.replace("{b}", "Rassvet"), "{said:?}");
    app.stop().await.unwrap();
}

/// A handoff the owner closes: the customer is told they are back with the assistant in their
/// language, kept from their earlier message when the last one (a command) does not tell.
#[tokio::test]
async fn the_end_of_a_handoff_is_announced_in_the_customers_language() {
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Owner", "back_words_bot", "Rassvet").await;
    let owner = bellhop::storage::tenants::get(&app.db().pool, tenant).await.unwrap().unwrap().owner_user_id.0;
    let manager = app.tg.handle.sandbox.manager_id();
    // No Telegram language: the Persian message is all there is to go by.
    let customer = app.tg.post("users", json!({ "first_name": "Sara", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    let to_customer = || async { app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).map(|m| text_of(&m)).collect::<Vec<_>>() };
    app.tg.say(customer, bot, "سلام، کیک تولد برای دوازده نفر دارید؟").await;
    wait_until(Duration::from_secs(60), || async { to_customer().await.len() == 1 }).await;
    app.tg.say(customer, bot, "/human").await;
    wait_until(Duration::from_secs(60), || async { to_customer().await.len() == 2 }).await;
    let notice = || async { app.tg.sent_by(manager).await.into_iter().filter(|m| m["chat_id"] == json!(owner)).find(|m| text_of(m).contains("wants to talk to a person")) };
    wait_until(Duration::from_secs(30), || async { notice().await.is_some() }).await;
    let notice = notice().await.unwrap();
    let close = notice["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{owner}/callbacks"), json!({ "bot_id": manager, "message_id": notice["message_id"], "data": close })).await;
    wait_until(Duration::from_secs(60), || async { to_customer().await.len() == 3 }).await;
    let said = to_customer().await;
    assert_eq!(said[2], bellhop::answering::language::Lang::Fa.words().back_with_assistant, "{said:?}");
    assert!(!said[2].contains("back with the assistant"));
    app.stop().await.unwrap();
}

/// A customer whose Telegram app is in Spanish but who writes English gets the bot's words in
/// English throughout: a message that does not say its language (a command, "and for 20?")
/// keeps the language they write in, rather than switching to the app's by turns.
#[tokio::test]
async fn a_customer_writing_another_language_than_their_app_s_is_answered_in_it_throughout() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    let app = spawn_app().await;
    let (bot, tenant, _) = live_bot(&app, "Owner", "dawn_words_bot", "Dawn Bakery").await;
    add_doc(&app, tenant, "cakes.txt", "Cakes to order. A cake for twelve people costs 45 euros. A small cake for six people costs 28 euros.").await;
    wait_sources_ready(&app, tenant, 1).await;
    let customer = app.tg.post("users", json!({ "first_name": "Lucía", "language_code": "es", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    let to_customer = || async { app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).map(|m| text_of(&m)).collect::<Vec<_>>() };
    app.tg.say(customer, bot, "How much does a cake for twelve people cost?").await;
    wait_until(Duration::from_secs(120), || async { to_customer().await.len() == 1 }).await;
    app.tg.say(customer, bot, "/help").await;
    wait_until(Duration::from_secs(60), || async { to_customer().await.len() == 2 }).await;
    let said = to_customer().await;
    assert!(said[0].contains("45 euros") && said[0].contains("\n\nSources\n"), "{said:?}");
    use bellhop::answering::language::{Lang, fill};
    assert_eq!(said[1], fill(Lang::En.words().help, "Dawn Bakery"), "{said:?}");
    app.stop().await.unwrap();
}
