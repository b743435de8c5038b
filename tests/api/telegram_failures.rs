//! What bellhop does when Telegram refuses or fails a call (issue 16): a refusal that will not
//! change is not retried, a passing failure is, a customer's message that could not reach the
//! owner is marked on the conversation page, and a send whose answer was lost is never repeated.
use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

async fn said_to(app: &TestApp, bot: i64, chat: i64) -> Vec<String> {
    app.tg.sent_by(bot).await.iter().filter(|m| m["chat_id"] == json!(chat)).map(text_of).collect()
}

/// A live bot created by `owner` through the manager (webhook set), and a customer who started
/// it. Returns (owner, bot, customer).
pub async fn live_bot(app: &TestApp, username: &str) -> (i64, i64, i64) {
    let owner = app.tg.user("Rosa").await;
    let bot = app.tg.create_managed_bot(owner, username, "Rosa's Cakes").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(Duration::from_secs(30), || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    (owner, bot, customer)
}

/// The customer asks for a person; returns once the owner was told.
async fn hand_off(app: &TestApp, owner: i64, bot: i64, customer: i64) {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.say(customer, bot, "/human").await;
    wait_until(Duration::from_secs(30), || async { said_to(app, manager, owner).await.iter().any(|t| t.contains("wants to talk to a person")) }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_customer_message_that_could_not_reach_the_owner_is_retried_or_marked_on_the_conversation_page() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20");
    })
    .await;
    let (owner, bot, customer) = live_bot(&app, "rosa_handoff_bot").await;
    let manager = app.tg.handle.sandbox.manager_id();
    hand_off(&app, owner, bot, customer).await;

    // Telegram fails the forward once (a server error): the job tries again and it arrives.
    app.tg.fail_method(manager, "sendMessage", 1, 500, "Internal Server Error").await;
    app.tg.say(customer, bot, "Is the chocolate cake gluten-free?").await;
    wait_until(Duration::from_secs(30), || async { said_to(&app, manager, owner).await.iter().any(|t| t.contains("gluten-free")) }).await;

    // The owner's manager chat refuses (they blocked the manager bot): not retried, and marked.
    app.tg.fail_method(manager, "sendMessage", 20, 403, "Forbidden: bot was blocked by the user").await;
    app.tg.say(customer, bot, "Hello? Anyone there?").await;
    wait_until(Duration::from_secs(30), || async { count(app.db(), "select count(*) from conversation_messages where text like '%Anyone there%'").await == 1 }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.update' and state = 'dead'").await, 0, "a refused forward is recorded, not a failed job");
    assert_eq!(count(app.db(), "select max(attempts) from jobs where kind = 'bot.update'").await, 2, "only the server error was retried");
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let (_, cookie, _) = app.signed_in_owner(owner, "Rosa's Cakes").await;
    let conv = count(app.db(), &format!("select id from conversations where tenant_id = {}", tenant.0)).await;
    let page = app.http.get(app.url(&format!("/app/conversations/{conv}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let when = |text: &str| {
        let at = page.find(text).unwrap_or_else(|| panic!("{text} is on the page"));
        let from = at + page[at..].find("class=\"when\"").unwrap();
        page[from..from + page[from..].find("</div>").unwrap()].to_owned()
    };
    assert!(when("Anyone there?").contains("didn't reach you in Telegram"), "the message is marked as not passed on: {}", when("Anyone there?"));
    assert!(!when("gluten-free").contains("didn't reach you"), "the retried forward arrived and is not marked");
    app.stop().await.unwrap();
}

/// The handoff notice the owner got in the manager chat about `customer`'s conversation.
async fn handoff_notice(app: &TestApp, owner: i64) -> Value {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.sent_by(manager).await.into_iter().filter(|m| m["chat_id"] == json!(owner)).find(|m| text_of(m).contains("wants to talk to a person")).expect("the handoff notice")
}

#[tokio::test]
async fn an_owner_reply_and_a_closed_notice_whose_answer_was_lost_are_not_sent_twice() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20");
    })
    .await;
    let (owner, bot, customer) = live_bot(&app, "rosa_lossy_bot").await;
    let manager = app.tg.handle.sandbox.manager_id();
    hand_off(&app, owner, bot, customer).await;
    let notice = handoff_notice(&app, owner).await;
    let before = said_to(&app, bot, customer).await.len();

    // The owner replies in the manager chat; Telegram delivers it, but its answer is lost.
    app.tg.lose_response(bot, "sendMessage", 1).await;
    let reply = json!({ "bot_id": manager, "text": "Hi Carl, Rosa here: yes, gluten-free.", "reply_to_message_id": notice["message_id"] });
    app.tg.post(&format!("users/{owner}/messages"), reply).await;
    wait_until(Duration::from_secs(30), || async { said_to(&app, bot, customer).await.iter().any(|t| t.contains("Rosa here")) }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    let said = said_to(&app, bot, customer).await;
    assert_eq!(said.iter().filter(|t| t.contains("Rosa here")).count(), 1, "the owner's reply reached the customer twice: {said:?}");

    // Close: the "back with the assistant" notice is delivered, its answer lost.
    app.tg.lose_response(bot, "sendMessage", 1).await;
    let close = notice["reply_markup"]["inline_keyboard"][0][1]["callback_data"].as_str().unwrap().to_owned();
    app.tg.post(&format!("users/{owner}/callbacks"), json!({ "bot_id": manager, "message_id": notice["message_id"], "data": close })).await;
    wait_until(Duration::from_secs(30), || async { said_to(&app, bot, customer).await.iter().any(|t| t.contains("back with the assistant")) }).await;
    app.drain_jobs(Duration::from_secs(30)).await;
    let said = said_to(&app, bot, customer).await;
    assert_eq!(said.iter().filter(|t| t.contains("back with the assistant")).count(), 1, "the closed notice reached the customer twice: {said:?}");
    assert_eq!(said.len(), before + 2);
    // Unconfirmed, not "not delivered": the owner's page says so.
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where delivery = 'unknown'").await, 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_owner_reply_retried_while_its_first_send_is_under_way_is_sent_once() {
    let app = spawn_app().await;
    let (owner, bot, customer) = live_bot(&app, "rosa_slow_bot").await;
    hand_off(&app, owner, bot, customer).await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let conv = count(app.db(), &format!("select id from conversations where tenant_id = {}", tenant.0)).await;
    let words = bellhop::answering::handoff::OwnerWords { conv: bellhop::domain::conversation::ConversationId(conv), by: owner.into(), text: "Rosa here: we open at 8.", dedupe: Some(4242), last_try: false };

    // The first attempt's send is under way (Telegram is slow to answer) when a second attempt of
    // the same manager update starts — as after a worker stopped answering and its lease expired.
    app.tg.hold(bot, "sendMessage", 1).await;
    let first = tokio::spawn({
        let (db, bots) = (app.state.db.clone(), app.state.bots.clone());
        async move { bellhop::answering::handoff::owner_reply(&db, &bots, None, tenant, &words).await }
    });
    wait_until(Duration::from_secs(30), || async { app.tg.held(bot, "sendMessage").await == 1 }).await;
    let second = bellhop::answering::handoff::owner_reply(&app.state.db, &app.state.bots, None, tenant, &words).await;
    app.tg.release(bot, "sendMessage", false).await;
    let first = first.await.unwrap();
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let said = said_to(&app, bot, customer).await;
    assert_eq!(said.iter().filter(|t| t.contains("we open at 8")).count(), 1, "sent twice: {said:?}");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'owner' and delivery = 'sent'").await, 1);
    app.stop().await.unwrap();
}

/// Stores a customer's "Do you ship abroad?" as update `update_id` of `bot`, as the webhook would;
/// returns the update.
async fn store_question(app: &TestApp, tenant: bellhop::domain::TenantId, bot: i64, customer: i64, update_id: i64) -> Value {
    let update = json!({
        "update_id": update_id,
        "message": { "message_id": update_id - 760000, "date": 1_780_000_000, "chat": { "id": customer, "type": "private", "first_name": "Carl" },
                     "from": { "id": customer, "is_bot": false, "first_name": "Carl" }, "text": "Do you ship abroad?" }
    });
    bellhop::storage::updates::record(&app.db().pool, bellhop::domain::BotId(bot), Some(tenant), update_id, &update.to_string(), "stored").await.unwrap();
    update
}

/// One run of `update`'s job, sending through `h` (a worker's bot handle).
fn job_run(app: &TestApp, tenant: bellhop::domain::TenantId, bot: i64, h: bellhop::telegram::Bot, update: &Value) -> impl std::future::Future<Output = Result<(), bellhop::jobs::JobError>> + 'static {
    let (answering, update) = (app.state.answering.clone(), serde_json::from_value(update.clone()).unwrap());
    async move {
        let bot = bellhop::domain::BotId(bot);
        let view = bellhop::answering::bot_view(&answering, tenant, bot).await?;
        bellhop::answering::on_update(&answering, tenant, bot, &h, view, update, bellhop::answering::Arrival { started: std::time::Instant::now(), more_waiting: false, rerun: false }).await
    }
}

/// The delivery state of the bot's reply to update `update_id`, once stored.
async fn reply_state(app: &TestApp, update_id: i64) -> Option<String> {
    sqlx::query_scalar::<_, String>("select delivery from conversation_messages where author = 'bot' and update_id = $1").bind(update_id).fetch_optional(&app.db().pool).await.unwrap()
}

/// A reply waits for its chat's turn in the bot's throttle (one message a second to a private
/// chat) before its Bot API call. A worker that stops while the reply waits has claimed nothing:
/// the reply is still `pending`, nothing reached the customer, and the job's next run sends it,
/// once. (Before the claim moved to the message's turn, such a reply was `sending` from the
/// start, became `unknown` on the next run and was never sent: lost.)
#[tokio::test]
async fn a_reply_whose_worker_stops_while_it_waits_for_its_chats_turn_is_sent_by_the_next_run_once() {
    use bellhop::domain::BotId;
    use bellhop::telegram::methods::SendMessage;
    let app = spawn_app().await;
    let (owner, bot, customer) = live_bot(&app, "rosa_turn_bot").await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(BotId(bot)), "Do you ship abroad?", "Yes, to all EU countries.").await.unwrap();
    let handle = app.state.bots.open(tenant, BotId(bot)).await.unwrap().unwrap();

    // Ten messages to the customer's chat, queued in the bot's throttle first: the chat's burst
    // takes three, the rest go one a second, so the reply below waits its turn for seconds.
    let fillers: Vec<_> = (0..10)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move { h.send_message(&SendMessage::new(customer, format!("Notice {i}"))).await })
        })
        .collect();
    let update = store_question(&app, tenant, bot, customer, 770001).await;
    let run = || job_run(&app, tenant, bot, handle.clone(), &update);
    let reply_state = || reply_state(&app, 770001);

    // The first run stores the reply and waits for the chat's turn; its worker stops there.
    let first = tokio::spawn(run());
    wait_until(Duration::from_secs(30), || async { reply_state().await.is_some() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!first.is_finished(), "the reply did not wait for its turn; the test proves nothing");
    first.abort();
    assert_eq!(reply_state().await.as_deref(), Some("pending"), "a reply still waiting for its turn was already claimed as being sent");
    for f in fillers {
        f.await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answers = || async { said_to(&app, bot, customer).await.iter().filter(|t| t.contains("EU countries")).count() };
    assert_eq!(answers().await, 0, "the stopped run's reply went out after all");

    // The next run sends it, once; a run after that sends nothing.
    run().await.unwrap();
    run().await.unwrap();
    assert_eq!(answers().await, 1);
    assert_eq!(reply_state().await.as_deref(), Some("sent"));
    app.stop().await.unwrap();
}

/// A reply Telegram answered with 429 waits out `retry_after` unclaimed: a worker stopped during
/// that wait leaves it to be sent (once) by the next run, not "may have arrived" and never sent.
#[tokio::test]
async fn a_reply_whose_worker_stops_while_it_waits_out_a_429_is_sent_by_the_next_run_once() {
    use bellhop::domain::BotId;
    let app = spawn_app().await;
    let (owner, bot, customer) = live_bot(&app, "rosa_429_bot").await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(BotId(bot)), "Do you ship abroad?", "Yes, to all EU countries.").await.unwrap();
    let handle = app.state.bots.open(tenant, BotId(bot)).await.unwrap().unwrap();
    // Telegram's next sendMessage of this bot: "Too Many Requests", retry after 30 s.
    app.tg
        .post("faults/methods", json!({ "bot_id": bot, "method": "sendMessage", "times": 1, "error_code": 429, "description": "Too Many Requests: retry after 30", "retry_after": 30 }))
        .await;
    let update = store_question(&app, tenant, bot, customer, 770101).await;
    let reply_state = || reply_state(&app, 770101);
    let answers = || async { said_to(&app, bot, customer).await.iter().filter(|t| t.contains("EU countries")).count() };

    // The first run's send is answered 429; it waits the 30 s out, and its worker stops then.
    let first = tokio::spawn(job_run(&app, tenant, bot, handle.clone(), &update));
    wait_until(Duration::from_secs(30), || async { reply_state().await.is_some() }).await;
    // The claim is taken at the send and given back at the 429: wait for that.
    wait_until(Duration::from_secs(30), || async { reply_state().await.as_deref() == Some("pending") && app.tg.get(&format!("faults/methods?bot_id={bot}&method=sendMessage")).await["to_catch"].as_u64() == Some(0) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!first.is_finished(), "the reply did not wait out the 429; the test proves nothing");
    assert_eq!(reply_state().await.as_deref(), Some("pending"), "a reply waiting out a 429 is still claimed as being sent");
    first.abort();
    assert_eq!(answers().await, 0);

    // The next run (as on another worker: its own throttle, which has not seen the 429; no
    // shared pacer in this test) sends it once; a run after that sends nothing.
    let other = bellhop::telegram::Client::new(&app.tg.handle.base_url).unwrap().with_throttle(Default::default()).bot(handle.token().clone());
    job_run(&app, tenant, bot, other.clone(), &update).await.unwrap();
    job_run(&app, tenant, bot, other, &update).await.unwrap();
    assert_eq!(answers().await, 1);
    assert_eq!(reply_state().await.as_deref(), Some("sent"));
    app.stop().await.unwrap();
}

/// A send that fails gives the message back (`sending` → `pending`, so a retry sends it) only when
/// this attempt holds its claim: a failure before the claim — the shared pacing's database, a full
/// queue — must not take the message from another attempt that is in the middle of sending it
/// (the retry would then send it a second time).
#[tokio::test]
async fn a_failed_send_gives_the_message_back_only_if_its_attempt_claimed_it() {
    use bellhop::answering::delivery::send_once;
    use bellhop::domain::conversation::{Author, ChatKind, Delivery, MessageKind};
    use bellhop::domain::{BotId, ChatId, UserId};
    use bellhop::storage::conversations::{self, Customer, NewMsg};
    use bellhop::telegram::TelegramError;
    let app = spawn_app().await;
    let (_, bot, customer) = live_bot(&app, "claim_held_bot").await;
    let tenant: i64 = sqlx::query_scalar(&format!("select tenant_id from bots where id = {bot}")).fetch_one(&app.db().pool).await.unwrap();
    let tenant = bellhop::domain::TenantId(tenant);
    let db = app.db();
    let who = Customer { chat_id: ChatId(customer), thread_id: 0, chat_kind: ChatKind::Private, user_id: UserId(customer), name: "Carl", language: None };
    let conv = conversations::open(&db.pool, tenant, BotId(bot), &who).await.unwrap();
    let stored = |text: &'static str| {
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let new = NewMsg { author: Author::Owner, text, update_id: None, kind: MessageKind::Owner, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None };
            let (msg, _) = conversations::add(&mut tx, tenant, conv.id, &new).await.unwrap();
            tx.commit().await.unwrap();
            msg
        }
    };
    let state = |id| {
        let db = db.clone();
        async move { conversations::delivery_of(&db.pool, tenant, id).await.unwrap().unwrap() }
    };

    // Another attempt claimed the message after this one read it; this one fails before its own
    // claim: the message stays the other attempt's.
    let msg = stored("We open at nine.").await;
    assert!(conversations::claim_for_sending(&db.pool, tenant, msg.id).await.unwrap());
    let r = send_once(db, tenant, &msg, "testing", |_claim| async { Err(TelegramError::Network("the pacing's database is away".into())) }).await;
    assert!(r.is_err(), "nothing was sent: the job is retried");
    assert_eq!(state(msg.id).await, Delivery::Sending, "not given back: another attempt is sending it");

    // This attempt claimed it, and the request never reached Telegram: given back for the retry.
    let msg = stored("We close at six.").await;
    let r = send_once(db, tenant, &msg, "testing", |mut claim| async move {
        claim.check().await?;
        Err(TelegramError::Network("connection refused".into()))
    })
    .await;
    assert!(r.is_err());
    assert_eq!(state(msg.id).await, Delivery::Pending, "given back: a retry sends it");

    // Claimed, then refused with a 429: given back at the 429 (and still pending after).
    let msg = stored("We are closed on Sundays.").await;
    let r = send_once(db, tenant, &msg, "testing", |mut claim| async move {
        claim.check().await?;
        claim.undo().await;
        Err(TelegramError::RetryAfter(3))
    })
    .await;
    assert!(r.is_err());
    assert_eq!(state(msg.id).await, Delivery::Pending);
    app.stop().await.unwrap();
}
