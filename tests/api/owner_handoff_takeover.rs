//! A person taking a conversation over while the assistant is still writing its answer: the
//! answer never reaches the customer (no final message, no more drafts), costs the business no
//! credit, and the question goes to the person in the manager chat instead. The model (the
//! OpenAI stand-in) is held at a gate until the takeover is done, so nothing here depends on how
//! long anything takes.
use crate::answering_llm::{add_doc, wait_sources_ready};
use crate::helpers::*;
use crate::openai_standin::{Gate, OpenAiStandIn, Reply};
use crate::owner_lifecycle::{bot_said_to, business, customer, post, wait_reply};
use crate::owner_team::manager_message;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

const CAKES: &str = "# Nora's Cakes\n\n## Delivery\n\nWe deliver cakes in Altona every Saturday morning for 6 euros.\n\n## Prices\n\nA cake for 12 people costs 45 euros.\n";

async fn drafts_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    let all = app.tg.get(&format!("drafts?bot_id={bot}&chat_id={chat}&history=true")).await;
    all.as_array().unwrap().iter().map(|d| d["text"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The business's credit ledger rows of `kind` (`reserve`, `settle`, `release`).
async fn ledger(app: &TestApp, tenant: bellhop::domain::TenantId, kind: &str) -> i64 {
    count(app.db(), &format!("select count(*) from billing_ledger where tenant_id = {} and kind = '{kind}'", tenant.0)).await
}

#[tokio::test]
async fn an_answer_being_written_when_the_owner_takes_over_is_not_sent_and_costs_no_credit() {
    let gate = Gate::new();
    let held = gate.clone();
    let llm = OpenAiStandIn::spawn(move |_| Reply::gated(&held, Reply::cite_sources())).await;
    let url = llm.url();
    let app = spawn_app_with(move |s| {
        // Every question with a passage goes to the model; drafts as often as it writes.
        s.set("BELLHOP_LLM_URL", url).set("BELLHOP_LLM_MODEL", "gpt-4o-mini").set("BELLHOP_ANSWERING_MIN_SENTENCE_SCORE_PERCENT", "0").set("BELLHOP_ANSWERING_DRAFT_INTERVAL_MS", "0");
    })
    .await;
    let b = business(&app, "Nora", "nora_takeover_bot", "Nora's Cakes").await;
    add_doc(&app, b.tenant, "cakes.md", CAKES).await;
    wait_sources_ready(&app, b.tenant, 1).await;

    // Arrange: the customer asks; the answer is being written (the quote is drafted at once, the
    // model is called and held at the gate).
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "Do you deliver cakes to Altona on Saturdays?").await;
    wait_until(WAIT, || async { llm.calls() == 1 }).await;
    wait_until(WAIT, || async { !drafts_to(&app, b.bot, carl).await.is_empty() }).await;

    // Act: the owner takes the conversation over from the admin page, then the model finishes.
    let conv = count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "Hi Carl, Nora here — let me check for you.")]).await;
    assert_eq!(status, 303);
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);
    let drafted = drafts_to(&app, b.bot, carl).await.len();
    gate.open();
    app.drain_jobs(WAIT).await;

    // Assert: Carl got Nora's words only — no answer from the assistant after she took over.
    let said = bot_said_to(&app, b.bot, carl).await;
    assert_eq!(said.len(), 1, "only the owner's reply: {said:?}");
    assert!(said[0].contains("Nora here"), "{said:?}");
    assert_eq!(drafts_to(&app, b.bot, carl).await.len(), drafted, "no draft after the takeover");
    // The question reaches Nora instead, in the manager chat.
    manager_message(&app, b.owner, "Do you deliver cakes to Altona").await;
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and mode = 'human'")).await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and author = 'bot'")).await, 0, "no answer stored to be sent later");
    // The credit reserved for the answer went back.
    let ledger = [ledger(&app, b.tenant, "reserve").await, ledger(&app, b.tenant, "settle").await, ledger(&app, b.tenant, "release").await];
    assert_eq!(ledger, [1, 0, 1], "reserved, then released, not settled");
    let used = bellhop::storage::billing::get_account(&app.db().pool, b.tenant).await.unwrap().map_or(0, |a| a.used_in_period);
    assert_eq!(used, 0, "no credit spent");
    app.stop().await.unwrap();
}

/// The answer was stored, but its sending failed for a moment (Telegram answered 500) and waits
/// for the job's retry; meanwhile the owner takes the conversation over. The retry does not send
/// it: the claim right before the send finds the conversation with a person, and the answer is
/// marked failed ("not delivered" on the conversation page).
#[tokio::test]
async fn a_stored_answer_still_waiting_to_be_sent_is_withdrawn_when_the_owner_takes_over() {
    // The retry waits until the test lets it run (its due time is moved below).
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "600000");
    })
    .await;
    let b = business(&app, "Rita", "rita_withdrawn_bot", "Rita's Rolls").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "What are your opening hours?", "Monday to Friday, 9 to 5.").await.unwrap();
    let carl = customer(&app, "Carl", b.bot).await;

    // Arrange: the answer is stored, its first send refused.
    app.tg.fail_method(b.bot, "sendMessage", 1, 500, "Internal Server Error").await;
    app.tg.say(carl, b.bot, "What are your opening hours?").await;
    wait_until(WAIT, || async { count(app.db(), "select count(*) from jobs where kind = 'bot.update' and state = 'queued' and attempts >= 1").await == 1 }).await;
    let conv = count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await;
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and kind = 'qa' and delivery = 'pending'")).await, 1);

    // Act: the owner takes over from the admin page; then the retry runs.
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "Hi Carl, Rita here.")]).await;
    assert_eq!(status, 303);
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);
    sqlx::query("update jobs set run_at = 0 where kind = 'bot.update' and state = 'queued'").execute(&app.db().pool).await.unwrap();
    wait_until(WAIT, || async { count(app.db(), "select count(*) from jobs where kind = 'bot.update' and state = 'done' and attempts >= 2").await == 1 }).await;

    // Assert
    let said = bot_said_to(&app, b.bot, carl).await;
    assert_eq!(said.len(), 1, "only the owner's reply: {said:?}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversation_messages where conversation_id = {conv} and kind = 'qa' and delivery = 'failed'")).await, 1, "withdrawn, never to be sent");
    app.stop().await.unwrap();
}
