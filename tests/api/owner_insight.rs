//! Issue 17, item 5: insight. The overview page's figures (questions per day by how they were
//! answered, 👍/👎, busiest hours, top unanswered questions), conversation search and paging,
//! and the conversations export (CSV) — each tenant's own only. A gap's answer goes to the bot the
//! question was asked to, never another.
use bellhop::domain::conversation::{Author, ChatKind, Delivery, MessageKind};
use crate::helpers::*;
use crate::owner_lifecycle::{business, get, post, wait_live};
use bellhop::domain::{BotId, TenantId};
use bellhop::storage::conversations::{self, Customer, NewMsg};

const DAY: i64 = 86_400_000;

/// A conversation of `name` with `bot` holding `(customer text, reply kind, rating, days ago)`
/// exchanges.
async fn conversation(app: &TestApp, tenant: TenantId, bot: i64, chat: i64, name: &str, turns: &[(&str, &str, Option<i64>, i64)]) -> i64 {
    let who = Customer { chat_id: bellhop::domain::ChatId(chat), thread_id: 0, chat_kind: ChatKind::Private, user_id: bellhop::domain::UserId(chat), name, language: None };
    let conv = conversations::open(&app.db().pool, tenant, BotId(bot), &who).await.unwrap();
    for (i, (text, kind, rating, days_ago)) in turns.iter().enumerate() {
        let update = chat * 100 + i as i64;
        let mut tx = app.db().begin().await.unwrap();
        let (q, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Customer, text, update_id: Some(update), kind: MessageKind::Text, sources: "[]", delivery: Delivery::Sent, model_tokens: 0, question: None }).await.unwrap();
        let (r, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Bot, text: "a reply", update_id: Some(update), kind: kind.parse().unwrap(), sources: "[]", delivery: Delivery::Sent, model_tokens: 0, question: Some(text) })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Noon UTC of that day, so the day is the same in any time zone of the test machine.
        let at = (bellhop::storage::now_ms().div_euclid(DAY) - days_ago) * DAY + 12 * 3_600_000;
        sqlx::query(&format!("update conversation_messages set created_at = {at}, feedback = {} where id in ({}, {})", rating.map_or("null".into(), |r| r.to_string()), q.id, r.id))
            .execute(&app.db().pool)
            .await
            .unwrap();
        sqlx::query(&format!("update conversation_messages set feedback = null where id = {}", q.id)).execute(&app.db().pool).await.unwrap();
    }
    conv.id.0
}

#[tokio::test]
async fn the_overview_counts_questions_by_outcome_ratings_and_hours_of_this_business_only() {
    let app = spawn_app().await;
    let b = business(&app, "Vera", "vera_insight_bot", "Vera's Tea").await;
    let (bot, tenant, cookie) = (b.bot, b.tenant, b.cookie);
    conversation(&app, tenant, bot, 7001, "Ann", &[("Do you sell matcha?", "answer", Some(1), 0), ("Opening hours?", "qa", None, 1)]).await;
    conversation(&app, tenant, bot, 7002, "Ben", &[("Do you ship to Norway?", "fallback", Some(-1), 0), ("I want a person", "handoff", None, 2)]).await;
    conversation(&app, tenant, bot, 7003, "Cleo", &[("Is oolong caffeinated?", "extractive", None, 3), ("Do you ship to Norway?", "fallback", None, 4), ("/start", "command", None, 4)]).await;
    // Outside the last 7 days.
    conversation(&app, tenant, bot, 7004, "Dan", &[("Old question", "answer", None, 10)]).await;
    // Another business's conversation.
    let x = business(&app, "Xavier", "xavier_insight_bot", "Xavier's Coffee").await;
    let (bot_x, tenant_x) = (x.bot, x.tenant);
    conversation(&app, tenant_x, bot_x, 7101, "Xena", &[("Secret question of another shop", "fallback", Some(-1), 0)]).await;

    let (status, page) = get(&app, &cookie, "/app/overview?days=7").await;
    assert_eq!(status, 200);
    assert!(page.contains("6 questions in the last 7 days"), "answer, qa, fallback ×2, handoff, extractive; not the command, not the old one: {page}");
    for expect in ["answered: <b>2</b>", "quoted from your sources: <b>1</b>", "&quot;don&#39;t know&quot;: <b>2</b>", "handed to a person: <b>1</b>"] {
        assert!(page.contains(expect) || page.replace("&#34;", "&quot;").contains(expect), "{expect} in the legend");
    }
    assert!(page.contains("👍 1") && page.contains("👎 1"), "ratings: one each (not the other shop's 👎)");
    assert!(page.contains("12:00–13:00 UTC (7 messages)"), "every customer message of the period was at noon");
    assert_eq!(page.matches("<svg class=\"bars\"").count(), 3, "three charts");
    assert!(page.contains("“Do you ship to Norway?” <span class=\"help\">— asked 2 times</span>"), "the top unanswered question, grouped");
    assert!(!page.contains("Secret question of another shop"));
    let (status, page30) = get(&app, &cookie, "/app/overview?days=30").await;
    assert_eq!(status, 200);
    assert!(page30.contains("7 questions in the last 30 days"));
    // Another business's bot cannot be picked.
    assert_eq!(get(&app, &cookie, &format!("/app/overview?bot={bot_x}")).await.0, 404);
    app.stop().await.unwrap();
}

/// The busiest hours are told in the bot's time zone when it has one (Tokyo: noon UTC is 21:00
/// there), and say which; a bot without one is told in UTC.
#[tokio::test]
async fn the_busiest_hours_are_in_the_bots_time_zone() {
    let app = spawn_app().await;
    let b = business(&app, "Yuki", "yuki_insight_bot", "Yuki's Yakitori").await;
    conversation(&app, b.tenant, b.bot, 7401, "Aki", &[("Are you open late?", "answer", None, 0), ("Do you take bookings?", "answer", None, 1)]).await;
    let (_, page) = get(&app, &b.cookie, "/app/overview?days=7").await;
    assert!(page.contains("12:00–13:00 UTC (2 messages)") && page.contains("by hour of the day (UTC)"), "no time zone set: {page}");

    let mut settings = bellhop::storage::bot_settings::get(&app.db().pool, b.tenant, BotId(b.bot)).await.unwrap();
    settings.timezone = "Asia/Tokyo".into();
    let mut tx = app.db().begin().await.unwrap();
    assert!(bellhop::storage::bot_settings::put(&mut tx, b.tenant, BotId(b.bot), &settings).await.unwrap());
    tx.commit().await.unwrap();
    for path in ["/app/overview?days=7".to_owned(), format!("/app/overview?days=7&bot={}", b.bot)] {
        let (status, page) = get(&app, &b.cookie, &path).await;
        assert_eq!(status, 200);
        assert!(page.contains("21:00–22:00 (Asia/Tokyo time, 2 messages)"), "{path}: {page}");
        assert!(page.contains("Customer messages by hour of the day (Asia/Tokyo time)"), "{path}: {page}");
        assert!(!page.contains("UTC ("), "{path}: {page}");
    }
    app.stop().await.unwrap();
}

/// `n` messages of `conv` written straight into the table (`n` through the bot would take far too
/// long), every other one a customer's question and the rest the bot's answers, all at noon UTC
/// `days_ago`.
async fn bulk_exchanges(app: &TestApp, tenant: TenantId, conv: i64, n: i64, days_ago: i64) {
    bulk_messages(app, tenant, conv, n, days_ago, "author, text, kind", "case when i % 2 = 1 then 'customer' else 'bot' end, 'Is it in stock?', case when i % 2 = 1 then '' else 'answer' end").await;
}

/// Inserts `n` messages into `conv` at noon `days_ago` days ago, in one statement: `columns`
/// filled by `values` (SQL over the row number `i`, 1 to `n`).
async fn bulk_messages(app: &TestApp, tenant: TenantId, conv: i64, n: i64, days_ago: i64, columns: &str, values: &str) {
    let at = (bellhop::storage::now_ms().div_euclid(DAY) - days_ago) * DAY + 12 * 3_600_000;
    sqlx::query(&format!(
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < {n})
         insert into conversation_messages (tenant_id, conversation_id, {columns}, created_at)
         select {tenant}, {conv}, {values}, {at} from n",
        tenant = tenant.0
    ))
    .execute(&app.db().pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_busy_business_sees_its_newest_days_whatever_the_number_of_messages() {
    let app = spawn_app().await;
    let b = business(&app, "Tess", "tess_insight_bot", "Tess's Trainers").await;
    // 200,000 messages three days ago (as many as the overview once read at most, oldest first),
    // then today's.
    let busy = conversation(&app, b.tenant, b.bot, 7301, "Busy", &[]).await;
    bulk_exchanges(&app, b.tenant, busy, 200_000, 3).await;
    conversation(&app, b.tenant, b.bot, 7302, "Lea", &[("Do you sell running shoes?", "answer", Some(1), 0), ("Do you ship to Malta?", "fallback", Some(-1), 0)]).await;

    let (status, page) = get(&app, &b.cookie, "/app/overview?days=7").await;
    assert_eq!(status, 200);
    assert!(page.contains("100002 questions in the last 7 days"), "100,000 answers three days ago and today's two: {}", &page[page.find("questions-total").unwrap_or(0)..][..80]);
    assert!(page.contains("answered: <b>100001</b>"), "{page}");
    assert!(page.contains("👍 1") && page.contains("👎 1"), "today's ratings");
    assert!(page.contains("12:00–13:00 UTC (100002 messages)"), "every customer message was at noon");
    assert!(page.contains("“Do you ship to Malta?”"), "today's unanswered question");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_questions_the_bot_couldnt_answer_are_those_of_the_chosen_period_and_say_so() {
    let app = spawn_app().await;
    let b = business(&app, "Uma", "uma_insight_bot", "Uma's Umbrellas").await;
    conversation(&app, b.tenant, b.bot, 7201, "Ida", &[("Do you repair umbrellas?", "fallback", None, 1)]).await;
    conversation(&app, b.tenant, b.bot, 7202, "Jo", &[("Do you sell parasols?", "fallback", None, 20), ("Do you repair umbrellas?", "fallback", None, 20)]).await;
    conversation(&app, b.tenant, b.bot, 7203, "Kai", &[("Do you ship to Iceland?", "fallback", None, 60)]).await;

    let (_, week) = get(&app, &b.cookie, "/app/overview?days=7").await;
    let unanswered = |page: &str| page[page.find("Questions your bot couldn't answer").expect("the list's heading")..].split("</section>").next().unwrap().to_owned();
    let list = unanswered(&week);
    assert!(!list.contains("parasols") && !list.contains("Iceland"), "questions of before the period are not listed: {list}");
    assert!(list.contains("“Do you repair umbrellas?” · "), "asked once in the last 7 days (not 2 times): {list}");
    assert!(list.contains("Questions your bot couldn't answer in the last 7 days"), "the list says its period: {list}");

    let list = unanswered(&get(&app, &b.cookie, "/app/overview?days=30").await.1);
    assert!(list.contains("“Do you repair umbrellas?” <span class=\"help\">— asked 2 times</span>") && list.contains("parasols"), "{list}");
    assert!(!list.contains("Iceland"), "{list}");
    assert!(unanswered(&get(&app, &b.cookie, "/app/overview?days=90").await.1).contains("Iceland"));
    app.stop().await.unwrap();
}


/// `n` answers "couldn't find" to `question` in `conv`, written straight into the table, at noon
/// UTC `days_ago`.
async fn bulk_gaps(app: &TestApp, tenant: TenantId, conv: i64, question: &str, n: i64, days_ago: i64) {
    bulk_messages(app, tenant, conv, n, days_ago, "author, text, kind, question", &format!("'bot', 'I could not find that', 'fallback', '{question}'")).await;
}

/// "Asked N times" counts every asking of the period, however many (it once counted only among
/// the newest 500 answers); a question asked both before and after its Q&A pair was written
/// counts the askings after it.
#[tokio::test]
async fn a_question_asked_more_than_500_times_is_counted_in_full() {
    let app = spawn_app().await;
    let b = business(&app, "Gus", "gus_insight_bot", "Gus's Gifts").await;
    let conv = conversation(&app, b.tenant, b.bot, 7501, "Many", &[]).await;
    bulk_gaps(&app, b.tenant, conv, "Do you sell gift cards?", 640, 2).await;
    bulk_gaps(&app, b.tenant, conv, "Do you wrap presents?", 30, 3).await;
    // Asked 3 times five days ago, answered by a pair four days ago, asked twice again since.
    bulk_gaps(&app, b.tenant, conv, "Do you engrave?", 3, 5).await;
    bulk_gaps(&app, b.tenant, conv, "Do you engrave?", 2, 1).await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(BotId(b.bot)), "Do you engrave?", "Yes, names up to 12 letters.").await.unwrap();
    let written = (bellhop::storage::now_ms().div_euclid(DAY) - 4) * DAY;
    sqlx::query(&format!("update qa_pairs set updated_at = {written}, created_at = {written}")).execute(&app.db().pool).await.unwrap();

    let (_, page) = get(&app, &b.cookie, "/app/overview?days=7").await;
    assert!(page.contains("“Do you sell gift cards?” <span class=\"help\">— asked 640 times</span>"), "{page}");
    assert!(page.contains("“Do you wrap presents?” <span class=\"help\">— asked 30 times</span>"), "{page}");
    assert!(page.contains("“Do you engrave?” <span class=\"help\">— asked 2 times</span>"), "only the askings after the pair: {page}");
    let (_, gaps) = get(&app, &b.cookie, &format!("/app/gaps?bot={}", b.bot)).await;
    assert!(gaps.contains("asked 640 times"), "{gaps}");
    assert!(gaps.contains("asked 30 times") && gaps.contains("asked 2 times"), "{gaps}");
    app.stop().await.unwrap();
}

/// The Q&A pairs of every bot: (bot, question).
async fn qa_pairs(app: &TestApp) -> Vec<(i64, String)> {
    sqlx::query_as("select coalesce(bot_id, 0), question from qa_pairs order by id").fetch_all(&app.db().pool).await.unwrap()
}

/// Answers the gap "Do you deliver tulips?" through the gaps page's form, for `bot` (as the form
/// sends it; none: without the field).
async fn answer_gap(app: &TestApp, cookie: &str, csrf: &str, bot: Option<&str>) -> (u16, String, String) {
    let mut form = vec![("csrf", csrf), ("question", "Do you deliver tulips?"), ("answer", "Yes, within the city.")];
    form.extend(bot.map(|b| ("bot", b)));
    post(app, cookie, "/app/gaps/qa", &form).await
}

/// The knowledge page's Q&A form names the bot shown; a bot that is not the owner's (another
/// business's, a made-up one, one deleted since the page was opened) is refused, saying why, and
/// nothing is written — never the owner's first bot instead (as it was).
#[tokio::test]
async fn a_knowledge_page_qa_pair_for_a_bot_not_the_owners_is_refused_not_given_to_the_first_bot() {
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let b = business(&app, "Ivy", "ivy_cakes_bot", "Ivy's Cakes").await;
    let flowers = app.tg.create_managed_bot(b.owner, "ivy_flowers_bot", "Ivy's Flowers").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{flowers}")).await["token"].as_str().unwrap());
    wait_live(&app, flowers).await;
    let x = business(&app, "Otto", "otto_other_bot", "Otto's Oats").await;
    let add = |bot: String| {
        let (app, b) = (&app, &b);
        async move { post(app, &b.cookie, "/app/qa", &[("csrf", &b.csrf), ("bot", &bot), ("question", "Do you deliver tulips?"), ("answer", "Yes, within the city.")]).await }
    };

    let (status, location, _) = add(flowers.to_string()).await;
    assert_eq!((status, location.starts_with(&format!("/app/sources?bot={flowers}&done=qa-added&qa="))), (303, true), "{location}");
    assert_eq!(qa_pairs(&app).await, vec![(flowers, "Do you deliver tulips?".to_owned())]);

    for (why, bot) in [("another business's bot", x.bot), ("a made-up bot", 999_999_999)] {
        let (status, _, page) = add(bot.to_string()).await;
        assert_eq!(status, 422, "{why}");
        assert!(page.contains("not one of your bots") && page.contains("Nothing was changed"), "{why}: {page}");
        assert_eq!(qa_pairs(&app).await.len(), 1, "{why}: nothing added");
    }
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{flowers}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let before = qa_pairs(&app).await;
    let (status, _, page) = add(flowers.to_string()).await;
    assert_eq!(status, 422, "a deleted bot: {page}");
    assert!(page.contains("not one of your bots"), "{page}");
    assert_eq!(qa_pairs(&app).await, before, "not given to the cake bot");
    assert_eq!(count(app.db(), &format!("select count(*) from qa_pairs where tenant_id = {}", x.tenant.0)).await, 0, "nothing for the other business");
    app.stop().await.unwrap();
}

async fn knowledge_sources(app: &TestApp) -> Vec<(i64, String)> {
    sqlx::query_as("select coalesce(bot_id, 0), name from sources order by id").fetch_all(&app.db().pool).await.unwrap()
}

/// The knowledge page's file upload and web-address forms name the bot shown, like its Q&A form;
/// a bot that is not the owner's (another business's, a made-up one, one deleted since the page
/// was opened) is refused, saying why, and nothing is stored — never given to the owner's first
/// bot instead (as it was).
#[tokio::test]
async fn a_knowledge_page_file_or_web_address_for_a_bot_not_the_owners_is_refused_not_given_to_the_first_bot() {
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let b = business(&app, "Ivy", "ivy_cakes_bot", "Ivy's Cakes").await;
    let flowers = app.tg.create_managed_bot(b.owner, "ivy_flowers_bot", "Ivy's Flowers").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{flowers}")).await["token"].as_str().unwrap());
    wait_live(&app, flowers).await;
    let x = business(&app, "Otto", "otto_other_bot", "Otto's Oats").await;
    let upload = |bot: String, name: &'static str| {
        let (app, b) = (&app, &b);
        async move {
            let form = reqwest::multipart::Form::new()
                .text("csrf", b.csrf.clone())
                .text("bot", bot)
                .part("files", reqwest::multipart::Part::bytes(b"Tulips are delivered within the city.".to_vec()).file_name(name));
            let r = app.http.post(app.url("/app/sources/upload")).header("cookie", &b.cookie).multipart(form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let add_url = |bot: String, url: &'static str| {
        let (app, b) = (&app, &b);
        async move {
            let (status, _, page) = post(app, &b.cookie, "/app/sources/url", &[("csrf", &b.csrf), ("bot", &bot), ("url", url)]).await;
            (status, page)
        }
    };

    let (status, page) = upload(flowers.to_string(), "tulips.txt").await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = add_url(flowers.to_string(), "https://example.com/tulips").await;
    assert_eq!(status, 303, "{page}");
    let mine = vec![(flowers, "tulips.txt".to_owned()), (flowers, "https://example.com/tulips".to_owned())];
    assert_eq!(knowledge_sources(&app).await, mine);

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{flowers}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let before = knowledge_sources(&app).await;
    for (why, bot) in [("another business's bot", x.bot), ("a made-up bot", 999_999_999), ("a deleted bot", flowers)] {
        let (status, page) = upload(bot.to_string(), "roses.txt").await;
        assert_eq!(status, 422, "a file for {why}: {page}");
        assert!(page.contains("not one of your bots") && page.contains("Nothing was changed"), "a file for {why}: {page}");
        let (status, page) = add_url(bot.to_string(), "https://example.com/roses").await;
        assert_eq!(status, 422, "a web address for {why}: {page}");
        assert!(page.contains("not one of your bots") && page.contains("Nothing was changed"), "a web address for {why}: {page}");
        assert_eq!(knowledge_sources(&app).await, before, "{why}: nothing added, not given to the cake bot");
    }
    assert_eq!(count(app.db(), &format!("select count(*) from sources where tenant_id = {}", x.tenant.0)).await, 0, "nothing for the other business");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_gaps_answer_goes_to_the_bot_the_question_was_asked_and_a_bot_not_the_owners_is_refused() {
    // A plan with room for two bots.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||1000|2|10");
    })
    .await;
    let b = business(&app, "Nia", "nia_cakes_bot", "Nia's Cakes").await;
    let flowers = app.tg.create_managed_bot(b.owner, "nia_flowers_bot", "Nia's Flowers").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{flowers}")).await["token"].as_str().unwrap());
    wait_live(&app, flowers).await;
    conversation(&app, b.tenant, flowers, 7401, "Ola", &[("Do you deliver tulips?", "fallback", None, 0)]).await;
    let x = business(&app, "Omar", "omar_insight_bot", "Omar's Olives").await;

    // The overview of all bots links the question to the gaps of the bot it was asked to.
    let (_, page) = get(&app, &b.cookie, "/app/overview?days=7").await;
    assert!(page.contains(&format!("“Do you deliver tulips?” · <a href=\"/app/gaps?bot={flowers}\">answer it for ")), "{page}");
    // That bot's gaps: the form names the bot the question was asked to, and the answer goes to
    // it.
    let (_, page) = get(&app, &b.cookie, &format!("/app/gaps?bot={flowers}")).await;
    assert!(page.contains(&format!("name=\"bot\" value=\"{flowers}\"")), "{page}");
    let (status, location, _) = answer_gap(&app, &b.cookie, &b.csrf, Some(&flowers.to_string())).await;
    assert_eq!((status, location), (303, format!("/app/gaps?added=1&bot={flowers}")));
    assert_eq!(qa_pairs(&app).await, vec![(flowers, "Do you deliver tulips?".to_owned())], "the flower bot's, not the first bot's");

    // Another business's bot, no bot, a made-up one, a bot deleted since the page was opened:
    // refused, saying why, nothing written — never the owner's first bot instead.
    for (why, bot) in [("another business's bot", Some(x.bot.to_string())), ("no bot", None), ("a made-up bot", Some("0".to_owned()))] {
        let (status, _, page) = answer_gap(&app, &b.cookie, &b.csrf, bot.as_deref()).await;
        assert_eq!(status, 422, "{why}");
        assert!(page.contains("not one of your bots") && page.contains("Nothing was changed"), "{why}: {page}");
        assert_eq!(qa_pairs(&app).await.len(), 1, "{why}: nothing added");
    }
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{flowers}/delete"), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let before = qa_pairs(&app).await;
    let (status, _, page) = answer_gap(&app, &b.cookie, &b.csrf, Some(&flowers.to_string())).await;
    assert_eq!(status, 422, "a deleted bot: {page}");
    assert_eq!(qa_pairs(&app).await, before, "not given to the cake bot");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn conversations_are_searched_paged_and_exported_safely_for_spreadsheets() {
    let app = spawn_app().await;
    let b = business(&app, "Wim", "wim_insight_bot", "Wim's Bikes").await;
    let (bot, tenant, cookie) = (b.bot, b.tenant, b.cookie);
    for i in 0..120 {
        let text = if i == 17 { "Do you repair 100% carbon_frames?" } else { "How much is a tune-up?" };
        conversation(&app, tenant, bot, 8000 + i, &format!("Rider {i:03}"), &[(text, "answer", None, 0)]).await;
    }
    conversation(&app, tenant, bot, 8500, "=cmd|' /C calc'!A0", &[("=HYPERLINK(\"http://evil.example\")", "fallback", None, 0)]).await;
    let x = business(&app, "Yara", "yara_insight_bot", "Yara's Boards").await;
    let (bot_x, tenant_x) = (x.bot, x.tenant);
    conversation(&app, tenant_x, bot_x, 9001, "Other Rider", &[("Do you repair carbon frames?", "answer", None, 0)]).await;

    let (_, first) = get(&app, &cookie, "/app/conversations").await;
    assert!(first.contains("1–50 of 121"), "paged: {}", &first[first.find("showing").unwrap_or(0)..][..80]);
    assert!(first.contains("href=\"/app/conversations?page=2\"") && !first.contains("← Newer"));
    let (_, third) = get(&app, &cookie, "/app/conversations?page=3").await;
    assert!(third.contains("101–121 of 121") && third.contains("← Newer") && !third.contains("Older →"));
    // A page past the end shows the last one.
    assert!(get(&app, &cookie, "/app/conversations?page=99").await.1.contains("101–121 of 121"));

    // Words from a message, case-insensitive, wildcards taken literally; a name.
    let (_, found) = get(&app, &cookie, "/app/conversations?q=CARBON_frames").await;
    assert!(found.contains("1–1 of 1") && found.contains("Rider 017"), "{}", &found[found.find("showing").unwrap_or(0)..][..100]);
    assert!(!found.contains("Other Rider"), "another business's conversation is not found");
    assert!(get(&app, &cookie, "/app/conversations?q=100%25").await.1.contains("1–1 of 1"), "% is a character, not a wildcard");
    assert!(get(&app, &cookie, "/app/conversations?q=rider%2005").await.1.contains("1–10 of 10"), "Rider 050–059 by name");
    assert!(get(&app, &cookie, "/app/conversations?q=nothing%20like%20this").await.1.contains("No conversation has"));

    let r = app.http.get(app.url("/app/conversations.csv")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{FEFF}conversation,".as_bytes()), "a UTF-8 byte order mark first, for Excel");
    let body = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["conversation", "bot", "chat", "customer", "time (UTC)", "from", "reply kind", "text", "rating"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 242, "121 conversations × question and reply");
    assert!(rows.iter().all(|r| &r[1] == "@wim_insight_bot"));
    assert!(!body.contains("Other Rider"), "only this business's conversations");
    let evil = rows.iter().find(|r| r[3].contains("calc")).unwrap();
    assert_eq!(&evil[3], "'=cmd|' /C calc'!A0", "a name that would run as a formula is quoted");
    assert!(rows.iter().any(|r| &r[7] == "'=HYPERLINK(\"http://evil.example\")"), "so is a message");
    // Signed out: no export.
    assert_eq!(app.http.get(app.url("/app/conversations.csv")).send().await.unwrap().status(), 401);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_knowledge_of_one_bot_is_exported_as_csv_and_no_other_bots_or_businesss() {
    let app = spawn_app().await;
    let b = business(&app, "Zoe", "zoe_export_bot", "Zoe's Zines").await;
    let tenant = b.tenant;
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(BotId(b.bot)), "Do you ship zines?", "=Yes, worldwide").await.unwrap();
    let x = business(&app, "Yann", "yann_export_bot", "Yann's Yarn").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, x.tenant, Some(BotId(x.bot)), "Secret of another shop?", "Nope").await.unwrap();
    let r = app.http.get(app.url(&format!("/app/qa.csv?bot={}", b.bot))).header("cookie", &b.cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("questions-and-answers.csv"));
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{FEFF}question,answer".as_bytes()), "a UTF-8 byte order mark first, for Excel");
    // The file uploaded back as knowledge reads as it was written: the mark is not taken for
    // part of the first column's name.
    let read = bellhop::knowledge::extract::extract(bytes.clone(), "questions-and-answers.csv").await.unwrap();
    assert_eq!(read.text, "question: Do you ship zines? | answer: '=Yes, worldwide");
    let body = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(body.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!((&rows[0][0], &rows[0][1]), ("Do you ship zines?", "'=Yes, worldwide"));
    // Another business's bot: the first bot of the asker instead, never the other's pairs.
    let r = app.http.get(app.url(&format!("/app/qa.csv?bot={}", x.bot))).header("cookie", &b.cookie).send().await.unwrap();
    assert!(!r.text().await.unwrap().contains("Secret of another shop"));
    let r = app.http.get(app.url(&format!("/app/sources.csv?bot={}", b.bot))).header("cookie", &b.cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap().lines().next().unwrap(), "\u{FEFF}id,kind,name or address,status,problem,passages,bytes,updated (UTC)");
    app.stop().await.unwrap();
}

/// A very long question (3,000 characters) is shown cut to 200 characters with "…", in full
/// only when opened, and its answer form starts with no more than a Q&A pair's question holds
/// (500 characters), so adding the answer is not refused.
#[tokio::test]
async fn a_very_long_gap_question_is_shown_short_and_fills_the_form_within_the_question_limit() {
    let app = spawn_app().await;
    let b = business(&app, "Gus", "gus_long_bot", "Gus's Gifts").await;
    let conv = conversation(&app, b.tenant, b.bot, 7502, "Long", &[]).await;
    let long: String = (0..300).map(|i| format!("word{:05} ", i)).collect::<String>().trim_end().to_owned();
    assert!(long.chars().count() > 2900);
    bulk_gaps(&app, b.tenant, conv, &long, 1, 1).await;
    let (_, page) = get(&app, &b.cookie, "/app/gaps").await;
    let shown = format!("<p class=\"q\">“{}…”</p>", long[..200].trim_end());
    assert!(page.contains(&shown), "cut to 200 characters: {page}");
    assert!(page.contains("<summary>Show the whole question</summary>") && page.contains(&format!("<p>{long}</p>")), "in full on request: {page}");
    let value = format!("name=\"question\" value=\"{}\"", &long[..500].trim_end());
    assert!(page.contains(&value), "the form starts with 500 characters: {page}");
    assert_eq!(page.matches(long.as_str()).count(), 1, "the whole question once, in the details: {page}");
    // A short question is shown as it is.
    bulk_gaps(&app, b.tenant, conv, "Do you wrap presents?", 1, 1).await;
    let (_, page) = get(&app, &b.cookie, "/app/gaps").await;
    assert!(page.contains("<p class=\"q\">“Do you wrap presents?”</p>") && page.contains("name=\"question\" value=\"Do you wrap presents?\""), "{page}");
    app.stop().await.unwrap();
}

/// The gaps page could only answer a question: one not worth answering ("asdf", spam) stayed
/// listed for good. "Not needed — hide" takes it off the bot's gaps and the overview, in each
/// wording the list counts as the same, and keeps the conversation; another business's same
/// question stays, a bot not the owner's hides nothing, and a later asking shows it again.
#[tokio::test]
async fn a_gap_not_worth_answering_can_be_hidden_without_deleting_the_conversation() {
    let app = spawn_app().await;
    let b = business(&app, "Hana", "hana_gaps_bot", "Hana's Hats").await;
    conversation(&app, b.tenant, b.bot, 7601, "Ivo", &[("asdf", "fallback", None, 1), ("ASDF!", "fallback", None, 0), ("Do you ship to Norway?", "fallback", None, 0)]).await;
    let x = business(&app, "Xia", "xia_gaps_bot", "Xia's Yarn").await;
    conversation(&app, x.tenant, x.bot, 7602, "Yan", &[("asdf", "fallback", None, 0)]).await;
    let gaps = format!("/app/gaps?bot={}", b.bot);
    let messages = "select count(*) from conversation_messages";
    let before = count(app.db(), messages).await;
    assert!(get(&app, &b.cookie, &gaps).await.1.contains("asked 2 times"), "asdf, in two wordings");

    // Another business's bot: refused, nothing hidden.
    // The form names the question by its newest answer.
    let newest: i64 = sqlx::query_scalar(&format!("select max(id) from conversation_messages where tenant_id = {} and question = 'ASDF!'", b.tenant.0)).fetch_one(&app.db().pool).await.unwrap();
    assert!(get(&app, &b.cookie, &gaps).await.1.contains(&format!("name=\"message\" value=\"{newest}\"")));
    let hide = |bot: i64, message: i64| {
        let (app, cookie, csrf) = (&app, b.cookie.clone(), b.csrf.clone());
        async move { post(app, &cookie, "/app/gaps/dismiss", &[("csrf", &csrf), ("bot", &bot.to_string()), ("message", &message.to_string())]).await }
    };
    // Another business's answer, from the owner's bot: nothing hidden.
    let theirs: i64 = sqlx::query_scalar(&format!("select max(id) from conversation_messages where tenant_id = {} and question = 'asdf'", x.tenant.0)).fetch_one(&app.db().pool).await.unwrap();
    let (status, location, _) = hide(b.bot, theirs).await;
    assert_eq!(status, 303, "{location}");
    let (_, other) = get(&app, &x.cookie, &format!("/app/gaps?bot={}", x.bot)).await;
    assert!(other.contains("asdf"), "another business's gap stays: {other}");
    let (status, _, page) = hide(x.bot, newest).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Not hidden") && page.contains("Nothing was changed"), "{page}");
    assert!(get(&app, &b.cookie, &gaps).await.1.contains("ASDF!"));

    let (status, location, _) = hide(b.bot, newest).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/gaps?hidden=1&bot={}", b.bot).as_str()));
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(page.contains("Hidden from this list. The conversation is kept"), "{page}");
    assert!(!page.to_lowercase().contains("asdf"), "both wordings hidden: {page}");
    assert!(page.contains("Do you ship to Norway?"), "the other question stays: {page}");
    let (_, overview) = get(&app, &b.cookie, "/app/overview?days=7").await;
    assert!(!overview.to_lowercase().contains("asdf") && overview.contains("“Do you ship to Norway?”"), "{overview}");
    assert_eq!(count(app.db(), messages).await, before, "no message deleted");
    let (_, other) = get(&app, &x.cookie, &format!("/app/gaps?bot={}", x.bot)).await;
    assert!(other.contains("asdf"), "another business's gap stays: {other}");

    // Asked again after it was hidden: listed again, counted from then.
    conversation(&app, b.tenant, b.bot, 7603, "Jon", &[("asdf", "fallback", None, 0)]).await;
    let (_, page) = get(&app, &b.cookie, &gaps).await;
    assert!(page.contains("“asdf”") && !page.contains("asked 2 times"), "{page}");
    app.stop().await.unwrap();
}
