//! The optional customer paywall, as answering will call it: N free questions a day, then an
//! invoice from the owner's own bot; the pre-checkout is checked, the payment credits the
//! customer once (however often delivered), bought questions are used, and a refund takes them
//! back. The test plays the dispatcher (getUpdates on the child bot) that answering will be.
use crate::helpers::*;
use bellhop::billing::{on_child_update, paywall};
use bellhop::domain::{BotId, ChatId};
use bellhop::storage::billing as sql;
use bellhop::telegram::Update;
use serde_json::{Value, json};

/// A new update id for each question (the paywall decides once per update).
fn next_update() -> i64 {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

async fn updates(app: &TestApp, token: &bellhop::domain::BotToken, offset: i64) -> Vec<Update> {
    let v: Value = app.tg.client.call_raw(token, "getUpdates", &json!({ "offset": offset, "timeout": 5 })).await.unwrap();
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn after_the_free_questions_a_customer_buys_a_pack_from_the_owners_bot_credited_once_and_refundable() {
    let app = spawn_app().await;
    let owner = app.tg.user("Rosa").await;
    let bot_id = 7_400_001;
    let (tenant, token, _) = app.create_bot(owner, bot_id).await;
    app.tg.post("bots", json!({ "username": "rosas_shop_bot", "first_name": "Rosa's Shop", "token": token.expose() })).await;
    let bot = app.state.telegram.bot(token.clone());
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    let b = BotId(bot_id);

    // Off by default: every question goes on to answering.
    for _ in 0..5 {
        assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    }
    // Switched on: 2 free a day (counted from now), then packs of 20 for 50 Stars.
    let mut conn = app.db().pool.acquire().await.unwrap();
    bellhop::billing::account::open(&mut conn, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 2, pack_stars: 50, pack_questions: 20 }).await.unwrap();
    drop(conn);
    let other = app.tg.post("users", json!({ "first_name": "Dana", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(other), next_update()).await.unwrap());
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(other), next_update()).await.unwrap());
    assert!(paywall(&app.state.billing, tenant, b, &bot, ChatId(other), next_update()).await.unwrap(), "the third question of the day is paywalled");
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    assert!(paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());

    // The customer pays the invoice the bot sent.
    let sent = app.tg.sent_by(bot_id).await;
    let invoice = sent.iter().find(|m| m["chat_id"] == json!(customer) && m["message"]["invoice"].is_object()).expect("an invoice to the customer").clone();
    assert_eq!(invoice["message"]["invoice"]["total_amount"], 50);
    let payment = app.tg.post(&format!("users/{customer}/payments"), json!({ "bot_id": bot_id, "message_id": invoice["message_id"] })).await;
    let ups = updates(&app, &token, 0).await;
    let pre = ups.iter().find(|u| u.kind.name() == "pre_checkout_query").expect("the pre-checkout query");
    assert!(on_child_update(&app.state.billing, tenant, b, &bot, pre).await.unwrap());
    let outcome = app.tg.payment_outcome(payment["id"].as_str().unwrap()).await;
    assert_eq!(outcome["status"], "paid", "{outcome}");
    let charge = outcome["telegram_payment_charge_id"].as_str().unwrap().to_owned();

    // The successful_payment, delivered 3 times at once: 20 questions, once.
    let mut last = ups.iter().map(|u| u.update_id).max().unwrap();
    let paid = loop {
        let ups = updates(&app, &token, last + 1).await;
        if let Some(u) = ups.iter().find(|u| matches!(&u.kind, bellhop::telegram::UpdateKind::Message(m) if m.successful_payment.is_some())) {
            break u.clone();
        }
        last = ups.iter().map(|u| u.update_id).max().unwrap_or(last);
    };
    let handled = futures::future::join_all((0..3).map(|_| on_child_update(&app.state.billing, tenant, b, &bot, &paid))).await;
    assert!(handled.into_iter().all(|h| h.unwrap()));
    assert_eq!(sql::paywall_credits(&app.db().pool, tenant, BotId(bot_id), ChatId(customer)).await.unwrap(), 20);
    assert_eq!(count(app.db(), "select count(*) from billing_payments where provider = 'stars_bot'").await, 1);

    // A bought question is used instead of the invoice; an unrelated update is not billing's.
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    assert_eq!(sql::paywall_credits(&app.db().pool, tenant, BotId(bot_id), ChatId(customer)).await.unwrap(), 19);
    let text: Update = serde_json::from_value(json!({ "update_id": 1, "message": { "message_id": 1, "date": 1, "chat": { "id": customer, "type": "private" }, "text": "hi" } })).unwrap();
    assert!(!on_child_update(&app.state.billing, tenant, b, &bot, &text).await.unwrap());

    // The operator refunds it (from the owner's bot): the questions are taken back.
    assert_eq!(bellhop::billing::stars::refund(&app.state.billing, &charge, None).await.unwrap(), bellhop::billing::stars::RefundOutcome::Refunded);
    assert_eq!(sql::paywall_credits(&app.db().pool, tenant, BotId(bot_id), ChatId(customer)).await.unwrap(), 0);
    app.stop().await.unwrap();
}

/// One free question a day and packs of one: the customer reads "your free question" and
/// "1 more question", never "1 free questions".
#[tokio::test]
async fn a_paywall_of_one_free_question_says_question_not_questions() {
    let app = spawn_app().await;
    let owner = app.tg.user("Rosa").await;
    let bot_id = 7_400_009;
    let (tenant, token, _) = app.create_bot(owner, bot_id).await;
    app.tg.post("bots", json!({ "username": "rosas_single_bot", "first_name": "Rosa's Shop", "token": token.expose() })).await;
    let bot = app.state.telegram.bot(token.clone());
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    let b = BotId(bot_id);
    let mut conn = app.db().pool.acquire().await.unwrap();
    bellhop::billing::account::open(&mut conn, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 1, pack_stars: 5, pack_questions: 1 }).await.unwrap();
    drop(conn);
    assert!(!paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    assert!(paywall(&app.state.billing, tenant, b, &bot, ChatId(customer), next_update()).await.unwrap());
    let sent = app.tg.sent_by(bot_id).await;
    let texts: Vec<&str> = sent.iter().filter(|m| m["chat_id"] == json!(customer)).filter_map(|m| m["message"]["text"].as_str()).collect();
    assert_eq!(texts, ["You've used your free question for today. You can buy 1 more question for 5 ⭐ — or come back tomorrow."]);
    let invoice = sent.iter().find(|m| m["message"]["invoice"].is_object()).expect("an invoice");
    assert_eq!(invoice["message"]["invoice"]["title"], "1 question");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_paywall_pre_checkout_with_a_changed_price_or_for_another_bot_is_refused() {
    let app = spawn_app().await;
    let owner = app.tg.user("Rosa").await;
    let bot_id = 7_400_002;
    let (tenant, token, _) = app.create_bot(owner, bot_id).await;
    app.tg.post("bots", json!({ "username": "rosas_other_bot", "token": token.expose() })).await;
    let bot = app.state.telegram.bot(token.clone());
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    let mut conn = app.db().pool.acquire().await.unwrap();
    bellhop::billing::account::open(&mut conn, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 0, pack_stars: 50, pack_questions: 20 }).await.unwrap();
    drop(conn);
    let mut offset = 0;
    for (payload, stars, why) in [(format!("pw:{}:{bot_id}:20", tenant.0), 10, "price has changed"), (format!("pw:{}:999:20", tenant.0), 50, "not valid")] {
        let invoice = json!({ "chat_id": customer, "title": "Questions", "description": "More questions", "payload": payload, "currency": "XTR", "prices": [{ "label": "Questions", "amount": stars }] });
        let sent: Value = app.tg.client.call_raw(&token, "sendInvoice", &invoice).await.unwrap();
        let payment = app.tg.post(&format!("users/{customer}/payments"), json!({ "bot_id": bot_id, "message_id": sent["message_id"] })).await;
        let ups = updates(&app, &token, offset).await;
        offset = ups.iter().map(|u| u.update_id).max().unwrap() + 1;
        let pre = ups.iter().find(|u| u.kind.name() == "pre_checkout_query").unwrap();
        assert!(on_child_update(&app.state.billing, tenant, BotId(bot_id), &bot, pre).await.unwrap());
        let outcome = app.tg.payment_outcome(payment["id"].as_str().unwrap()).await;
        assert_eq!(outcome["status"], "failed", "{outcome}");
        assert!(outcome["error"].as_str().unwrap().contains(why), "{outcome}");
    }
    assert_eq!(count(app.db(), "select count(*) from paywall_credits").await, 0);
    app.stop().await.unwrap();
}

/// A business's bot made live through the manager (webhook set), with the paywall on: no free
/// questions, packs of 20 for 50 Stars. Returns (tenant, bot id, customer).
async fn live_bot_with_paywall(app: &TestApp, username: &str) -> (bellhop::domain::TenantId, i64, i64) {
    let owner = app.tg.user("Rosa").await;
    let bot = app.tg.create_managed_bot(owner, username, "Rosa's Shop").await["id"].as_i64().unwrap();
    token_used(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_until(std::time::Duration::from_secs(30), || async { count(app.db(), &format!("select count(*) from bots where id = {bot} and status = 'live'")).await == 1 }).await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, owner.into()).await.unwrap().unwrap().id;
    let mut conn = app.db().pool.acquire().await.unwrap();
    bellhop::billing::account::open(&mut conn, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 0, pack_stars: 50, pack_questions: 20 }).await.unwrap();
    drop(conn);
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot] })).await["id"].as_i64().unwrap();
    (tenant, bot, customer)
}

/// A customer's free question spent on "I couldn't find that" was gone: their next question got
/// the invoice. A question the bot can't answer from the owner's information now doesn't count.
#[tokio::test]
async fn a_question_the_bot_cannot_answer_does_not_use_up_a_free_question() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh`");
    let app = spawn_app().await;
    let (tenant, bot, customer) = live_bot_with_paywall(&app, "rosas_fair_paywall_bot").await;
    let mut conn = app.db().pool.acquire().await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 1, pack_stars: 50, pack_questions: 20 }).await.unwrap();
    drop(conn);
    bellhop::storage::sources::insert_qa(&app.db().pool, tenant, Some(BotId(bot)), "Do you deliver on Sundays?", "Yes, until noon.").await.unwrap();

    let to_customer = || async { app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).collect::<Vec<Value>>() };
    app.tg.say(customer, bot, "What is the wifi password?").await;
    wait_until(std::time::Duration::from_secs(60), || async { !to_customer().await.is_empty() }).await;
    assert!(to_customer().await[0]["message"]["text"].as_str().unwrap().contains("couldn't find"), "{:?}", to_customer().await);
    app.tg.say(customer, bot, "Do you deliver on Sundays?").await;
    wait_until(std::time::Duration::from_secs(60), || async { to_customer().await.len() >= 2 }).await;
    app.drain_jobs(std::time::Duration::from_secs(60)).await;
    let said = to_customer().await;
    assert!(said.iter().all(|m| !m["message"]["invoice"].is_object()), "the free question went on 'I couldn't find that': {said:?}");
    assert!(said[1]["message"]["text"].as_str().unwrap().contains("until noon"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_paywall_invoice_that_failed_to_send_is_sent_on_retry_and_never_becomes_a_free_answer() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "20");
    })
    .await;
    let (_, bot, customer) = live_bot_with_paywall(&app, "rosas_paywall_bot").await;
    // Telegram fails the invoice once (a server error: worth retrying).
    app.tg.fail_method(bot, "sendInvoice", 1, 500, "Internal Server Error").await;

    app.tg.say(customer, bot, "Do you deliver on Sundays?").await;
    wait_until(std::time::Duration::from_secs(30), || async { count(app.db(), "select count(*) from jobs where kind = 'bot.update' and attempts >= 1").await >= 1 }).await;
    app.drain_jobs(std::time::Duration::from_secs(60)).await;

    let to_customer: Vec<Value> = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(customer)).collect();
    let invoices = to_customer.iter().filter(|m| m["message"]["invoice"].is_object()).count();
    assert_eq!(invoices, 1, "the invoice reached the customer on the retry: {to_customer:?}");
    let notes = to_customer.iter().filter(|m| m["message"]["text"].as_str().unwrap_or_default().contains("⭐")).count();
    assert_eq!(notes, 1, "the paywall's message once: {to_customer:?}");
    assert!(
        to_customer.iter().all(|m| m["message"]["invoice"].is_object() || m["message"]["text"].as_str().unwrap_or_default().contains("⭐")),
        "nothing but the paywall's message and invoice — no answer: {to_customer:?}"
    );
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'bot'").await, 0, "no reply was stored for the paywalled question");
    assert_eq!(count(app.db(), "select cast(coalesce(sum(questions), 0) as bigint) from paywall_usage").await, 1, "the question counted once");
    app.stop().await.unwrap();
}

/// The customer's thank-you for bought questions is sent after the payment's commit: a send that
/// fails there is logged and does not fail the update (its retry would find the payment booked
/// and send nothing anyway); the questions stand.
#[tokio::test]
async fn a_thank_you_that_fails_after_the_payment_is_booked_is_logged_and_the_questions_stand() {
    let app = spawn_app().await;
    let owner = app.tg.user("Rosa").await;
    let bot_id = 7_400_009;
    let (tenant, token, _) = app.create_bot(owner, bot_id).await;
    app.tg.post("bots", json!({ "username": "rosas_thanks_bot", "token": token.expose() })).await;
    let bot = app.state.telegram.bot(token.clone());
    let customer = app.tg.post("users", json!({ "first_name": "Carl", "started_bots": [bot_id] })).await["id"].as_i64().unwrap();
    let mut conn = app.db().pool.acquire().await.unwrap();
    bellhop::billing::account::open(&mut conn, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    sql::set_paywall(&mut conn, tenant, &sql::PaywallSettings { enabled: true, free_per_day: 0, pack_stars: 50, pack_questions: 20 }).await.unwrap();
    drop(conn);
    let invoice = json!({ "chat_id": customer, "title": "Questions", "description": "More questions", "payload": format!("pw:{}:{bot_id}:20", tenant.0), "currency": "XTR", "prices": [{ "label": "Questions", "amount": 50 }] });
    let sent: Value = app.tg.client.call_raw(&token, "sendInvoice", &invoice).await.unwrap();
    let payment = app.tg.post(&format!("users/{customer}/payments"), json!({ "bot_id": bot_id, "message_id": sent["message_id"] })).await;
    let ups = updates(&app, &token, 0).await;
    let pre = ups.iter().find(|u| u.kind.name() == "pre_checkout_query").unwrap();
    assert!(on_child_update(&app.state.billing, tenant, BotId(bot_id), &bot, pre).await.unwrap());
    assert_eq!(app.tg.payment_outcome(payment["id"].as_str().unwrap()).await["status"], "paid");
    let mut last = ups.iter().map(|u| u.update_id).max().unwrap();
    let paid = loop {
        let ups = updates(&app, &token, last + 1).await;
        if let Some(u) = ups.iter().find(|u| matches!(&u.kind, bellhop::telegram::UpdateKind::Message(m) if m.successful_payment.is_some())) {
            break u.clone();
        }
        last = ups.iter().map(|u| u.update_id).max().unwrap_or(last);
    };
    app.tg.post("faults/methods", json!({ "bot_id": bot_id, "method": "sendMessage", "times": 10, "error_code": 400, "description": "Bad Request: chat not found" })).await;
    let handled = on_child_update(&app.state.billing, tenant, BotId(bot_id), &bot, &paid).await;
    assert!(handled.as_ref().is_ok_and(|h| *h), "{handled:?}");
    assert_eq!(sql::paywall_credits(&app.db().pool, tenant, BotId(bot_id), ChatId(customer)).await.unwrap(), 20);
    assert_eq!(count(app.db(), "select count(*) from billing_payments where provider = 'stars_bot'").await, 1);
    app.stop().await.unwrap();
}

/// The questions a customer bought from a bot go with the bot to its new owner: they paid the
/// bot (whose Stars its new owner now holds), and would otherwise lose what they paid for.
#[tokio::test]
async fn a_customers_bought_questions_go_with_the_bot_to_its_new_owner() {
    let app = spawn_app().await;
    let first = crate::owner_lifecycle::business(&app, "Ada", "ada_paid_bot", "Ada's Answers").await;
    let carl = crate::owner_lifecycle::customer(&app, "Carl", first.bot).await;
    let mut tx = app.db().begin().await.unwrap();
    sql::paywall_add_credits(&mut tx, first.tenant, BotId(first.bot), ChatId(carl), 5).await.unwrap();
    tx.commit().await.unwrap();

    let manager = app.tg.handle.sandbox.manager_id();
    let second = app.tg.post("users", json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{}/owner", first.bot), json!({ "user_id": second })).await;
    let moved = format!("select count(*) from bots where id = {} and owner_user_id = {second}", first.bot);
    wait_until(std::time::Duration::from_secs(60), || async { count(app.db(), &moved).await == 1 }).await;
    let tenant = bellhop::storage::tenants::find_by_owner(&app.db().pool, second.into()).await.unwrap().unwrap().id;
    assert_ne!(tenant, first.tenant);
    assert_eq!(sql::paywall_credits(&app.db().pool, tenant, BotId(first.bot), ChatId(carl)).await.unwrap(), 5, "Carl's questions are the new owner's to answer");
    assert_eq!(count(app.db(), &format!("select count(*) from paywall_credits where tenant_id = {}", first.tenant.0)).await, 0, "none left behind");
    app.stop().await.unwrap();
}

/// Questions a customer bought from a bot before it was given to another owner went with it (see
/// above); a refund of that payment takes them back from there — by the operator's refund
/// command (the bot, now the new owner's, refunds), and by a refund made in Telegram (its
/// `refunded_payment` message to the bot, handled for the new owner).
#[tokio::test]
async fn a_payment_made_before_the_bot_changed_owner_is_refunded_from_its_new_owner() {
    let app = spawn_app().await;
    let (tenant, bot, carl) = live_bot_with_paywall(&app, "rosas_handed_bot").await;
    let token = bellhop::domain::BotToken::parse(app.tg.get(&format!("bots/{bot}")).await["token"].as_str().unwrap()).unwrap();
    let wait = std::time::Duration::from_secs(60);
    // Carl buys two packs of 20 questions from the bot, booked to Rosa's business.
    let mut charges = vec![];
    for bought in [20, 40] {
        let invoice = json!({ "chat_id": carl, "title": "Questions", "description": "More questions", "payload": format!("pw:{}:{bot}:20", tenant.0), "currency": "XTR", "prices": [{ "label": "Questions", "amount": 50 }] });
        let sent: Value = app.tg.client.call_raw(&token, "sendInvoice", &invoice).await.unwrap();
        let payment = app.tg.post(&format!("users/{carl}/payments"), json!({ "bot_id": bot, "message_id": sent["message_id"] })).await;
        let path = format!("payments/{}", payment["id"].as_str().unwrap());
        wait_until(wait, || async { app.tg.get(&path).await["status"] != "pending" }).await;
        charges.push(app.tg.get(&path).await["telegram_payment_charge_id"].as_str().unwrap().to_owned());
        wait_until(wait, || async { sql::paywall_credits(&app.db().pool, tenant, BotId(bot), ChatId(carl)).await.unwrap() == bought }).await;
    }

    // The bot is given to Ben: Carl's 40 questions go with it.
    let manager = app.tg.handle.sandbox.manager_id();
    let ben = app.tg.post("users", json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": ben })).await;
    let moved = format!("select count(*) from bots where id = {bot} and owner_user_id = {ben} and status = 'live'");
    wait_until(wait, || async { count(app.db(), &moved).await == 1 }).await;
    let bens = bellhop::storage::tenants::find_by_owner(&app.db().pool, ben.into()).await.unwrap().unwrap().id;
    let held_by_ben = || async { sql::paywall_credits(&app.db().pool, bens, BotId(bot), ChatId(carl)).await.unwrap() };
    assert_eq!(held_by_ben().await, 40);

    // The operator refunds the first payment.
    let refunded = bellhop::billing::stars::refund(&app.state.billing, &charges[0], None).await;
    assert_eq!(refunded.unwrap(), bellhop::billing::stars::RefundOutcome::Refunded);
    assert_eq!(held_by_ben().await, 20, "the first pack is taken back from Ben's business");
    // The second is refunded in Telegram: the bot is told (`refunded_payment`).
    let _: Value = app.tg.client.call_raw(&token, "refundStarPayment", &json!({ "user_id": carl, "telegram_payment_charge_id": charges[1] })).await.unwrap();
    let status = || async { sql::payment_by_charge(&app.db().pool, &charges[1]).await.unwrap()[0].status.clone() };
    wait_until(wait, || async { status().await == "refunded" }).await;
    app.drain_jobs(wait).await;
    assert_eq!(held_by_ben().await, 0, "the second pack is taken back too");
    assert_eq!(count(app.db(), "select cast(coalesce(sum(credits), 0) as bigint) from paywall_credits").await, 0, "none left anywhere");
    app.stop().await.unwrap();
}

/// A customer pays for questions as the bot is given to another owner: the payment (its
/// `successful_payment` stored for the first owner, handled after the change) is booked, and the
/// questions given, to the bot's owner now — who holds the bot's Stars and its customers'
/// questions — not refused as "made out to another bot", with the customer's Stars taken.
#[tokio::test]
async fn a_payment_that_arrives_as_the_bot_changes_owner_gives_the_questions_under_the_new_owner() {
    let app = spawn_app().await;
    let (tenant, bot, carl) = live_bot_with_paywall(&app, "rosas_inflight_bot").await;
    let wait = std::time::Duration::from_secs(60);
    // Carl's payment of an invoice the bot sent for Rosa's business, stored as the webhook stores it.
    let update_id = 990_101;
    let paid = json!({
        "update_id": update_id,
        "message": { "message_id": 81, "date": 1_780_000_000, "chat": { "id": carl, "type": "private", "first_name": "Carl" },
                     "from": { "id": carl, "is_bot": false, "first_name": "Carl" },
                     "successful_payment": { "currency": "XTR", "total_amount": 50, "invoice_payload": format!("pw:{}:{bot}:20", tenant.0),
                                             "telegram_payment_charge_id": "stxinflight1", "provider_payment_charge_id": "" } }
    });
    bellhop::storage::updates::record(&app.db().pool, BotId(bot), Some(tenant), update_id, &paid.to_string(), "stored").await.unwrap();

    // The bot is given to Ben before a worker takes the payment.
    let manager = app.tg.handle.sandbox.manager_id();
    let ben = app.tg.post("users", json!({ "first_name": "Ben", "started_bots": [manager] })).await["id"].as_i64().unwrap();
    app.tg.post(&format!("bots/{bot}/owner"), json!({ "user_id": ben })).await;
    let moved = format!("select count(*) from bots where id = {bot} and owner_user_id = {ben} and status = 'live'");
    wait_until(wait, || async { count(app.db(), &moved).await == 1 }).await;
    app.drain_jobs(wait).await;
    let bens = bellhop::storage::tenants::find_by_owner(&app.db().pool, ben.into()).await.unwrap().unwrap().id;

    let job = bellhop::app::jobs::bot_update(&app.state.queue, bellhop::jobs::PRIORITY, tenant, BotId(bot), update_id, None);
    app.state.queue.enqueue(&job).await.unwrap();
    app.drain_jobs(wait).await;
    assert_eq!(sql::paywall_credits(&app.db().pool, bens, BotId(bot), ChatId(carl)).await.unwrap(), 20, "Carl's questions, with the bot's owner now");
    assert_eq!(count(app.db(), &format!("select count(*) from billing_payments where provider = 'stars_bot' and external_id = 'stxinflight1' and tenant_id = {}", bens.0)).await, 1);
    let thanks = app.tg.sent_by(bot).await.into_iter().filter(|m| m["chat_id"] == json!(carl)).any(|m| m["message"]["text"].as_str().unwrap_or_default().contains("Thank you"));
    assert!(thanks, "Carl is thanked");
    app.stop().await.unwrap();
}
