//! Telegram Stars end to end through the sandbox: an owner buys a pack and a subscription with
//! the manager bot; each `successful_payment` delivered again (also concurrently) is credited
//! once; the sandbox clock renews the subscription; a cancellation stops renewal; a refund works
//! once; a pre-checkout with a wrong price, another's invoice or an unknown product is refused.
use crate::billing_meter::{manager_said, owner_with_bot};
use crate::helpers::*;
use bellhop::billing::stars::{RefundOutcome, refund};
use bellhop::storage::billing as sql;
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn manager_messages(app: &TestApp, owner: i64) -> Vec<Value> {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.get(&format!("messages?bot_id={manager}&chat_id={owner}&from_bot=true")).await.as_array().cloned().unwrap_or_default()
}

/// Sends `/plan` and returns the manager's answer (the newest message mentioning the plan).
async fn plan(app: &TestApp, owner: i64) -> Value {
    let before = manager_messages(app, owner).await.len();
    app.tg.say(owner, app.tg.handle.sandbox.manager_id(), "/plan").await;
    // This /plan's answer, not an earlier one: another message (a payment's thank-you) may come
    // in between.
    let answer = || async { manager_messages(app, owner).await.into_iter().skip(before).rev().find(|m| m["raw_text"].as_str().unwrap_or_default().contains("Your plan")) };
    wait_until(T, || async { answer().await.is_some() }).await;
    answer().await.expect("a /plan answer")
}

fn buttons(m: &Value) -> Vec<Value> {
    m["reply_markup"]["inline_keyboard"].as_array().into_iter().flatten().flat_map(|row| row.as_array().cloned().unwrap_or_default()).collect()
}

fn button(m: &Value, needle: &str) -> Value {
    buttons(m).into_iter().find(|b| b["text"].as_str().unwrap_or_default().contains(needle)).unwrap_or_else(|| panic!("no button with {needle}: {m}"))
}

async fn press(app: &TestApp, owner: i64, message: &Value, data: &str) {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.post(&format!("users/{owner}/callbacks"), json!({ "bot_id": manager, "message_id": message["message_id"], "data": data })).await;
}

async fn pay(app: &TestApp, owner: i64, target: Value) -> Value {
    let p = app.tg.post(&format!("users/{owner}/payments"), target).await;
    app.tg.payment_outcome(p["id"].as_str().unwrap()).await
}

/// The stored manager update carrying `successful_payment` for `charge`, re-posted `n` times at
/// once with fresh update ids (as if Telegram redelivered it under new ids).
async fn redeliver(app: &TestApp, charge: &str, n: usize, first_id: i64) {
    let bodies: Vec<String> = sqlx::query_scalar("select body from telegram_updates where body like $1").bind(format!("%{charge}%")).fetch_all(&app.db().pool).await.unwrap();
    let original: Value = serde_json::from_str(bodies.iter().find(|b| b.contains("successful_payment")).expect("the payment update was stored")).unwrap();
    let secret = app.settings.values["BELLHOP_MANAGER_WEBHOOK_SECRET"].clone();
    let posts = (0..n).map(|i| {
        let mut body = original.clone();
        body["update_id"] = json!(first_id + i as i64);
        let req = app.http.post(app.url("/tg/manager")).header("X-Telegram-Bot-Api-Secret-Token", secret.clone()).json(&body);
        async move { req.send().await.unwrap().status() }
    });
    for status in futures::future::join_all(posts).await {
        assert_eq!(status, 200);
    }
    app.drain_jobs(T).await;
}

async fn star_transactions(app: &TestApp) -> usize {
    let r: Value = app.tg.client.call_raw(&app.tg.manager(), "getStarTransactions", &json!({})).await.unwrap();
    r["transactions"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn an_owner_buys_a_pack_and_a_subscription_in_stars_each_credited_once_renewed_cancelled_and_refunded() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_001).await;
    let db = &app.db().pool;

    // /plan shows the usage and the offers.
    let m = plan(&app, owner).await;
    let text = m["raw_text"].as_str().unwrap();
    assert!(text.contains("Your plan: Free") && text.contains("0 of 100"), "{text}");

    // A pack: the button sends an invoice in Stars; the owner pays it.
    press(&app, owner, &m, button(&m, "500 answers")["callback_data"].as_str().unwrap()).await;
    wait_until(T, || async { manager_messages(&app, owner).await.iter().any(|m| m["message"]["invoice"].is_object()) }).await;
    let invoice = manager_messages(&app, owner).await.into_iter().find(|m| m["message"]["invoice"].is_object()).unwrap();
    assert_eq!(invoice["message"]["invoice"]["currency"], "XTR");
    assert_eq!(invoice["message"]["invoice"]["total_amount"], 100);
    let paid = pay(&app, owner, json!({ "bot_id": app.tg.handle.sandbox.manager_id(), "message_id": invoice["message_id"] })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let pack_charge = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.pack_credits == 500) }).await;

    // Delivered 3 more times, at once: still credited once.
    redeliver(&app, &pack_charge, 3, 900_000).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!(acc.pack_credits, 500);
    assert_eq!(count(app.db(), "select count(*) from billing_payments").await, 1);
    assert_eq!(count(app.db(), "select count(*) from billing_ledger where kind = 'purchase'").await, 1);

    // A subscription: the plan button is a Star subscription link.
    let m = plan(&app, owner).await;
    let link = button(&m, "Starter")["url"].as_str().unwrap().to_owned();
    let paid = pay(&app, owner, json!({ "link": link })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let sub_charge = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.plan_id == "starter") }).await;
    redeliver(&app, &sub_charge, 3, 910_000).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_source.as_str(), acc.plan_credits, acc.pack_credits), ("stars", 2000, 500));
    assert_eq!(count(app.db(), "select count(*) from billing_payments where kind = 'plan'").await, 1);
    let first_expiry = acc.plan_expires_at.unwrap();
    let said = manager_said(&app, owner).await;
    assert!(said_once(&said, "on the Starter plan"), "{said:?}");

    // A month passes on the sandbox clock: Telegram renews, the paid time extends by 30 days.
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    wait_until(T, || async { count(app.db(), "select count(*) from billing_payments where kind = 'plan'").await == 2 }).await;
    app.drain_jobs(T).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!(acc.plan_expires_at.unwrap(), first_expiry + 2_592_000_000);
    assert_eq!(acc.plan_credits, 2000);

    // Cancelled from /plan: the next month is not charged.
    let m = plan(&app, owner).await;
    press(&app, owner, &m, "bill:cancel").await;
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.stars_canceled) }).await;
    let before = star_transactions(&app).await;
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    assert_eq!(star_transactions(&app).await, before, "a cancelled subscription is not renewed");
    app.drain_jobs(T).await;
    assert_eq!(count(app.db(), "select count(*) from billing_payments where kind = 'plan'").await, 2);

    // The operator refunds the pack: once; the second time Telegram says "already refunded".
    assert_eq!(refund(&app.state.billing, &pack_charge, None).await.unwrap(), RefundOutcome::Refunded);
    assert_eq!(refund(&app.state.billing, &pack_charge, None).await.unwrap(), RefundOutcome::AlreadyRefunded);
    app.drain_jobs(T).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!(acc.pack_credits, 0);
    assert_eq!(count(app.db(), "select count(*) from billing_ledger where kind = 'refund'").await, 1);
    assert_eq!(count(app.db(), "select count(*) from billing_payments where status = 'refunded'").await, 1);
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), acc.plan_credits + acc.pack_credits);
    assert!(refund(&app.state.billing, "stxsbxnosuchcharge", None).await.is_err());
    // The charge id `billing refund --help` sends the operator to: on the owner's billing page,
    // as each payment's reference (it was in neither the page nor the logs).
    let (_, cookie, _) = app.signed_in_owner(owner, "Rosa").await;
    let page = app.http.get(app.url("/app/billing")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    for charge in [&pack_charge, &sub_charge] {
        assert!(page.contains(&format!("reference {charge}")), "{charge} is not on the page:\n{page}");
    }
    app.stop().await.unwrap();
}

/// A business whose plan a card subscription pays for is offered no plan in Stars (a second
/// subscription would charge twice, and each payment would switch the plan to its own); a plan
/// invoice from before is refused at the pre-checkout. Packs (one-off) are still offered.
#[tokio::test]
async fn a_business_paying_by_card_is_offered_no_plan_in_stars_and_an_older_plan_invoice_is_refused() {
    let app = spawn_app().await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_004).await;
    let m = plan(&app, owner).await;
    let old_link = button(&m, "Starter")["url"].as_str().unwrap().to_owned();
    let changed = sqlx::query(&format!("update billing_accounts set plan_id = 'starter', plan_source = 'stripe', stripe_subscription_id = 'sub_card', stripe_status = 'active' where tenant_id = {}", tenant.0))
        .execute(&app.db().pool)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);

    let m = plan(&app, owner).await;
    let text = m["raw_text"].as_str().unwrap();
    assert!(text.contains("paying in Stars as well would charge you twice"), "{text}");
    let offered: Vec<String> = buttons(&m).iter().map(|b| b["text"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(!offered.iter().any(|t| t.contains("⭐/month")), "a plan in Stars is offered: {offered:?}");
    assert!(offered.iter().any(|t| t.contains("500 answers")), "packs are still offered: {offered:?}");

    let outcome = pay(&app, owner, json!({ "link": old_link })).await;
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert!(outcome["error"].as_str().unwrap().contains("already pay for your plan by card"), "{outcome}");
    app.drain_jobs(T).await;
    assert_eq!(count(app.db(), "select count(*) from billing_payments").await, 0);
    app.stop().await.unwrap();
}

fn said_once(said: &[String], needle: &str) -> bool {
    said.iter().filter(|t| t.contains(needle)).count() == 1
}

#[tokio::test]
async fn a_pre_checkout_with_a_wrong_price_anothers_invoice_or_an_unknown_product_is_refused() {
    let app = spawn_app().await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_002).await;
    let (_, other) = owner_with_bot(&app, "Mallory", 7_200_003).await;
    let manager = app.tg.handle.sandbox.manager_id();
    let cases = [
        (format!("t{}:pack:pack500", tenant.0), 1, "price has changed"),
        (format!("t{}:pack:pack500", other.0), 100, "another account"),
        (format!("t{}:plan:platinum", tenant.0), 100, "no longer available"),
        ("hello".to_owned(), 100, "not valid"),
    ];
    for (payload, stars, why) in cases {
        let invoice = json!({ "chat_id": owner, "title": "Answers", "description": "Extra answers", "payload": payload, "currency": "XTR", "prices": [{ "label": "Answers", "amount": stars }] });
        let sent: Value = app.tg.client.call_raw(&app.tg.manager(), "sendInvoice", &invoice).await.unwrap();
        let outcome = pay(&app, owner, json!({ "bot_id": manager, "message_id": sent["message_id"] })).await;
        assert_eq!(outcome["status"], "failed", "{payload}: {outcome}");
        assert!(outcome["error"].as_str().unwrap().contains(why), "{payload}: {outcome}");
    }
    app.drain_jobs(T).await;
    assert_eq!(count(app.db(), "select count(*) from billing_payments").await, 0);
    assert_eq!(count(app.db(), "select count(*) from billing_checkouts where ok = 0").await, 4);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_paid_plan_that_ran_out_falls_back_to_the_free_plan_and_a_new_period_starts_with_its_allowance() {
    let app = spawn_app().await;
    let (_, tenant) = owner_with_bot(&app, "Rosa", 7_200_004).await;
    let db = &app.db().pool;
    assert!(matches!(bellhop::billing::reserve(&app.state.billing, tenant, "a").await.unwrap(), bellhop::billing::Reserve::Granted(_)));
    // As if a Star subscription had been paid and its month had passed without renewal.
    sqlx::query("update billing_accounts set plan_id = 'pro', plan_source = 'stars', plan_credits = 10, plan_expires_at = $1 where tenant_id = $2")
        .bind(bellhop::storage::now_ms() - 1000)
        .bind(tenant.0)
        .execute(db)
        .await
        .unwrap();
    sqlx::query("insert into billing_ledger (tenant_id, bucket, amount, kind, source, idem_key, created_at) values ($1, 'plan', -89, 'grant', 'test', 'test:align', 0)")
        .bind(tenant.0)
        .execute(db)
        .await
        .unwrap();
    assert!(matches!(bellhop::billing::reserve(&app.state.billing, tenant, "b").await.unwrap(), bellhop::billing::Reserve::Granted(_)));
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_id.as_str(), acc.plan_source.as_str(), acc.plan_credits, acc.used_in_period), ("free", "default", 99, 1));
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), 99);

    // A period that ended: unused plan credits expire and the allowance is granted again.
    sqlx::query("update billing_accounts set period_end = $1 where tenant_id = $2").bind(bellhop::storage::now_ms() - 1).bind(tenant.0).execute(db).await.unwrap();
    assert!(matches!(bellhop::billing::reserve(&app.state.billing, tenant, "c").await.unwrap(), bellhop::billing::Reserve::Granted(_)));
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (99, 1));
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), 99);
    app.stop().await.unwrap();
}

/// The manager update that carried `charge`'s `successful_payment`, posted again as a renewal of
/// the same subscription under a new charge id (what Telegram sends when a subscription renews).
async fn deliver_renewal_of(app: &TestApp, charge: &str, new_charge: &str, update_id: i64) {
    let bodies: Vec<String> = sqlx::query_scalar("select body from telegram_updates where body like $1").bind(format!("%{charge}%")).fetch_all(&app.db().pool).await.unwrap();
    let mut body: Value = serde_json::from_str(bodies.iter().find(|b| b.contains("successful_payment")).expect("the payment update was stored")).unwrap();
    body["update_id"] = json!(update_id);
    let paid = &mut body["message"]["successful_payment"];
    paid["telegram_payment_charge_id"] = json!(new_charge);
    paid["is_first_recurring"] = json!(false);
    paid["subscription_expiration_date"] = json!(paid["subscription_expiration_date"].as_i64().unwrap() + 2_592_000);
    let secret = app.settings.values["BELLHOP_MANAGER_WEBHOOK_SECRET"].clone();
    let status = app.http.post(app.url("/tg/manager")).header("X-Telegram-Bot-Api-Secret-Token", secret).json(&body).send().await.unwrap().status();
    assert_eq!(status, 200);
    app.drain_jobs(T).await;
}

/// Each plan link is its own Star subscription: moving from Starter to Pro cancels Starter's
/// renewal, so a month later only Pro is charged; and a renewal of Starter that comes all the
/// same (its cancellation lost) changes neither the plan nor its answers.
#[tokio::test]
async fn changing_plan_in_stars_cancels_the_old_subscription_and_its_stray_renewal_changes_nothing() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_011).await;
    let db = &app.db().pool;
    let plan_payments = || async { count(app.db(), "select count(*) from billing_payments where kind = 'plan'").await };

    let m = plan(&app, owner).await;
    let paid = pay(&app, owner, json!({ "link": button(&m, "Starter")["url"].as_str().unwrap() })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let starter_charge = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.plan_id == "starter") }).await;

    // Upgrading: /plan says the old renewal stops, and offers Pro.
    let m = plan(&app, owner).await;
    assert!(m["raw_text"].as_str().unwrap().contains("cancels this plan's renewal"), "{m}");
    let paid = pay(&app, owner, json!({ "link": button(&m, "Pro")["url"].as_str().unwrap() })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.plan_id == "pro") }).await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("renewal of your previous plan is cancelled")) }).await;
    app.drain_jobs(T).await;

    // A month later only Pro renews; the plan stays Pro.
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    wait_until(T, || async { plan_payments().await >= 3 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.drain_jobs(T).await;
    assert_eq!(plan_payments().await, 3, "Starter was charged again beside Pro");
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_id.as_str(), acc.plan_credits), ("pro", 10_000));
    let expiry = acc.plan_expires_at.unwrap();

    // A renewal of Starter all the same: booked with no answers; the plan, its expiry and the
    // subscription followed stay Pro's; the owner is told it is refunded.
    deliver_renewal_of(&app, &starter_charge, "stxsbxstrayrenewal", 930_000).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_id.as_str(), acc.plan_source.as_str(), acc.plan_credits, acc.plan_expires_at), ("pro", "stars", 10_000, Some(expiry)));
    assert_ne!(acc.stars_charge_id.as_deref(), Some("stxsbxstrayrenewal"));
    let stray = sql::payment_by_charge(db, "stxsbxstrayrenewal").await.unwrap();
    assert_eq!(stray.len(), 1);
    assert_eq!(stray[0].credits, 0);
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("which you no longer use")) }).await;
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), acc.plan_credits + acc.pack_credits);
    app.stop().await.unwrap();
}

/// Resuming a cancelled Stars renewal is refused once a card pays for the plan (both would
/// charge, and each payment would switch the plan) and once the account is closed; a closed
/// account is offered nothing and its pre-checkouts are refused.
#[tokio::test]
async fn an_old_resume_button_is_refused_once_a_card_pays_or_the_account_is_closed() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_012).await;
    let db = &app.db().pool;
    let m = plan(&app, owner).await;
    let paid = pay(&app, owner, json!({ "link": button(&m, "Starter")["url"].as_str().unwrap() })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.plan_id == "starter") }).await;
    let m = plan(&app, owner).await;
    press(&app, owner, &m, "bill:cancel").await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("Renewal cancelled")) }).await;
    let with_resume = plan(&app, owner).await;
    button(&with_resume, "Resume renewal");

    // The owner moves to a card subscription, then presses the old "Resume renewal".
    sqlx::query(&format!("update billing_accounts set plan_source = 'stripe', stripe_subscription_id = 'sub_card', stripe_status = 'active' where tenant_id = {}", tenant.0)).execute(db).await.unwrap();
    press(&app, owner, &with_resume, "bill:resume").await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("paid by card now")) }).await;
    assert!(sql::get_account(db, tenant).await.unwrap().unwrap().stars_canceled);
    assert!(!buttons(&plan(&app, owner).await).iter().any(|b| b["text"].as_str().unwrap_or_default().contains("Resume")));
    // Telegram was not asked to resume: a month later the Stars subscription does not charge.
    let before = star_transactions(&app).await;
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    app.drain_jobs(T).await;
    assert_eq!(star_transactions(&app).await, before, "the cancelled Stars subscription renewed");

    // Closed: nothing to resume and nothing to buy; a pack invoice from before is refused.
    sqlx::query("update billing_accounts set plan_source = 'stars', stripe_subscription_id = null, stripe_status = null, plan_expires_at = $1 where tenant_id = $2")
        .bind(bellhop::storage::now_ms() + 86_400_000)
        .bind(tenant.0)
        .execute(db)
        .await
        .unwrap();
    let m = plan(&app, owner).await;
    press(&app, owner, &m, button(&m, "500 answers")["callback_data"].as_str().unwrap()).await;
    wait_until(T, || async { manager_messages(&app, owner).await.iter().any(|m| m["message"]["invoice"].is_object()) }).await;
    let invoice = manager_messages(&app, owner).await.into_iter().find(|m| m["message"]["invoice"].is_object()).unwrap();
    sqlx::query("update tenants set closed_at = $1 where id = $2").bind(bellhop::storage::now_ms()).bind(tenant.0).execute(db).await.unwrap();
    press(&app, owner, &with_resume, "bill:resume").await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("account is closed")) }).await;
    assert!(sql::get_account(db, tenant).await.unwrap().unwrap().stars_canceled);
    let m = plan(&app, owner).await;
    assert!(buttons(&m).is_empty(), "{m}");
    let paid = pay(&app, owner, json!({ "bot_id": app.tg.handle.sandbox.manager_id(), "message_id": invoice["message_id"] })).await;
    assert_eq!(paid["status"], "failed", "{paid}");
    assert!(paid["error"].as_str().unwrap_or_default().contains("account is closed"), "{paid}");
    assert_eq!(count(app.db(), "select count(*) from billing_payments where kind = 'pack'").await, 0);
    app.stop().await.unwrap();
}

/// Walkthrough B: after cancelling the Stars renewal the Billing page only said when "this month
/// of the plan ends". It now says the renewal is cancelled, the plan ends that day, the Free
/// plan's limits follow — and what happens to sources and bots past them (they stay; new ones
/// are refused or parked).
#[tokio::test]
async fn a_cancelled_renewal_says_when_the_plan_ends_and_what_the_free_plan_then_allows() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|2,starter|Starter|250||2000|3|50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_031).await;
    app.create_bot(owner, 7_200_032).await;
    let db = &app.db().pool;
    for name in ["a.txt", "b.txt", "c.txt"] {
        let new = bellhop::storage::sources::NewSource { bot: Some(bellhop::domain::BotId(7_200_031)), kind: "file", name, size_bytes: 5, content: Some(b"Notes"), max_pages: None, recrawl_hours: None };
        bellhop::storage::sources::insert(db, tenant, &new).await.unwrap();
    }
    let (_, cookie, _) = app.signed_in_owner(owner, "Rosa").await;
    let billing = || async { app.http.get(app.url("/app/billing")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap() };
    billing().await;
    // Paid until the end of this month of the plan, as a Stars subscription is.
    let set = |canceled: i64| {
        sqlx::query("update billing_accounts set plan_id = 'starter', plan_source = 'stars', plan_expires_at = period_end, stars_charge_id = 'ch_starter', stars_canceled = $1 where tenant_id = $2").bind(canceled).bind(tenant.0)
    };
    set(0).execute(db).await.unwrap();
    let renewing = billing().await;
    assert!(renewing.contains("Starter") && !renewing.contains("Renewal is cancelled"), "{renewing}");

    set(1).execute(db).await.unwrap();
    let end = sql::get_account(db, tenant).await.unwrap().unwrap().period_end;
    let page = billing().await.replace("&#39;", "'");
    let said = format!(
        "Renewal is cancelled: your Starter plan ends on {}. After that, the Free plan's limits apply: 100 AI answers a month, 1 bot, 2 sources. You have 3 sources: they all stay and your bots keep answering from them, but you can't add another while you have 2 or more. You have 2 bots: they stay connected, but the Free plan includes 1 bot, so a bot you add or connect again is parked (it doesn't answer anyone).",
        bellhop::billing::stars::date(end)
    );
    assert!(page.contains(&said), "{said} not in {page}");
    assert!(page.contains("Resume monthly renewal"), "{page}");
    app.stop().await.unwrap();
}

/// Refunding an earlier month of a Star subscription takes nothing from the month paid since:
/// only a refund of the charge paying for the current month ends the plan.
#[tokio::test]
async fn refunding_an_earlier_month_keeps_the_plan_until_the_renewals_expiry() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_013).await;
    let db = &app.db().pool;
    let m = plan(&app, owner).await;
    let paid = pay(&app, owner, json!({ "link": button(&m, "Starter")["url"].as_str().unwrap() })).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let first = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    wait_until(T, || async { sql::get_account(db, tenant).await.unwrap().is_some_and(|a| a.plan_id == "starter") }).await;
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    wait_until(T, || async { count(app.db(), "select count(*) from billing_payments where kind = 'plan'").await == 2 }).await;
    app.drain_jobs(T).await;
    let renewed = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_ne!(renewed.stars_charge_id.as_deref(), Some(first.as_str()));

    // The first month is refunded: marked refunded; the renewal's month stays, renewing.
    assert_eq!(refund(&app.state.billing, &first, None).await.unwrap(), RefundOutcome::Refunded);
    app.drain_jobs(T).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_id.as_str(), acc.plan_source.as_str(), acc.plan_expires_at, acc.plan_credits, acc.stars_canceled), ("starter", "stars", renewed.plan_expires_at, 2000, false));
    assert_eq!(sql::payment_by_charge(db, &first).await.unwrap()[0].status, "refunded");

    // The renewal's own charge refunded: now the plan ends.
    let current = renewed.stars_charge_id.clone().unwrap();
    assert_eq!(refund(&app.state.billing, &current, None).await.unwrap(), RefundOutcome::Refunded);
    app.drain_jobs(T).await;
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_id.as_str(), acc.stars_canceled), ("free", true));
    app.stop().await.unwrap();
}

/// A plan the operator took out of the configuration while a subscription to it still runs (an
/// invoice link made before, paid now; its renewals come the same way): the payment buys
/// nothing, so it is refunded and the subscription cancelled — not left charging every month
/// for nothing — and the owner is told to choose a plan; the account's plan does not change.
#[tokio::test]
async fn a_payment_for_a_plan_no_longer_offered_is_refunded_and_its_subscription_cancelled() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_JOBS_RETRY_BASE_MS", "50");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_014).await;
    let db = &app.db().pool;
    let manager = app.tg.handle.sandbox.manager_id();
    plan(&app, owner).await;
    let before = sql::get_account(db, tenant).await.unwrap().unwrap();

    // A subscription link to a "gold" plan this configuration does not have (as if made while it
    // was offered). Its pre-checkout, answered before the plan went, is accepted.
    let payload = bellhop::billing::stars::Product::Plan { tenant, id: "gold".into() }.payload();
    let invoice = json!({ "title": "bellhop Gold", "description": "Gold", "payload": payload, "currency": "XTR", "prices": [{ "label": "Gold", "amount": 700 }], "subscription_period": 2_592_000 });
    let link = app.tg.client.call_raw(&app.tg.manager(), "createInvoiceLink", &invoice).await.unwrap();
    app.tg.fail_method(manager, "answerPreCheckoutQuery", 1, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid").await;
    let p = app.tg.post(&format!("users/{owner}/payments"), json!({ "link": link })).await;
    let to_catch = || async { app.tg.get(&format!("faults/methods?bot_id={manager}&method=answerPreCheckoutQuery")).await["to_catch"].as_u64() };
    wait_until(T, || async { to_catch().await == Some(0) }).await;
    let query = p["pre_checkout_query_id"].as_str().unwrap();
    app.tg.client.call_raw(&app.tg.manager(), "answerPreCheckoutQuery", &json!({ "pre_checkout_query_id": query, "ok": true })).await.unwrap();
    let paid = app.tg.payment_outcome(p["id"].as_str().unwrap()).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let charge = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();

    // Booked once with no answers, refunded; the owner is told in plain words.
    let status = || async { sql::payment_by_charge(db, &charge).await.unwrap().first().map(|p| p.status.clone()) };
    wait_until(T, || async { status().await.as_deref() == Some("refunded") }).await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("no longer offered")) }).await;
    app.drain_jobs(T).await;
    let said: Vec<String> = manager_said(&app, owner).await.into_iter().filter(|t| t.contains("no longer offered")).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("700 ⭐ are refunded") && said[0].contains("/plan"), "{said:?}");
    let booked = sql::payment_by_charge(db, &charge).await.unwrap();
    assert_eq!((booked.len(), booked[0].credits), (1, 0));
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!(
        (acc.plan_id.as_str(), acc.plan_source.as_str(), acc.plan_expires_at, acc.plan_credits, acc.stars_charge_id.as_deref()),
        (before.plan_id.as_str(), before.plan_source.as_str(), before.plan_expires_at, before.plan_credits, before.stars_charge_id.as_deref())
    );
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), acc.plan_credits + acc.pack_credits);

    // Delivered again: nothing more. And the subscription is cancelled: a month later Telegram
    // charges nothing.
    redeliver(&app, &charge, 2, 940_000).await;
    assert_eq!(manager_said(&app, owner).await.iter().filter(|t| t.contains("no longer offered")).count(), 1);
    let transactions = star_transactions(&app).await;
    app.tg.post("clock/advance", json!({ "seconds": 2_592_000 })).await;
    app.drain_jobs(T).await;
    assert_eq!(star_transactions(&app).await, transactions, "the subscription to the removed plan renewed");
    assert_eq!(count(app.db(), "select count(*) from billing_payments").await, 1);

    // The same for a pack taken out of the configuration: refunded, no answers added.
    let payload = bellhop::billing::stars::Product::Pack { tenant, id: "pack50".into() }.payload();
    let invoice = json!({ "chat_id": owner, "title": "50 answers", "description": "50", "payload": payload, "currency": "XTR", "prices": [{ "label": "50 answers", "amount": 20 }] });
    let sent = app.tg.client.call_raw(&app.tg.manager(), "sendInvoice", &invoice).await.unwrap();
    app.tg.fail_method(manager, "answerPreCheckoutQuery", 1, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid").await;
    let p = app.tg.post(&format!("users/{owner}/payments"), json!({ "bot_id": manager, "message_id": sent["message_id"] })).await;
    wait_until(T, || async { to_catch().await == Some(0) }).await;
    app.tg.client.call_raw(&app.tg.manager(), "answerPreCheckoutQuery", &json!({ "pre_checkout_query_id": p["pre_checkout_query_id"], "ok": true })).await.unwrap();
    let paid = app.tg.payment_outcome(p["id"].as_str().unwrap()).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let pack_charge = paid["telegram_payment_charge_id"].as_str().unwrap().to_owned();
    let status = || async { sql::payment_by_charge(db, &pack_charge).await.unwrap().first().map(|p| (p.status.clone(), p.credits)) };
    wait_until(T, || async { status().await == Some(("refunded".into(), 0)) }).await;
    wait_until(T, || async { manager_said(&app, owner).await.iter().any(|t| t.contains("pack you paid 20 ⭐ for is no longer offered")) }).await;
    assert_eq!(sql::get_account(db, tenant).await.unwrap().unwrap().pack_credits, 0);
    app.stop().await.unwrap();
}

/// "X of Y used" counts the plan's answers only: once the plan's 100 ran out and a pack paid 30
/// more, `/plan` and the billing page say 100 of 100 (not 130 of 130), with the pack answers
/// used and left beside it.
#[tokio::test]
async fn the_plans_answers_used_leave_out_the_answers_packs_paid_for() {
    let app = spawn_app().await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_200_015).await;
    let (billing, state_db) = (&app.state.billing, &app.state.db);
    let answer = move |key: String| async move {
        let bellhop::billing::Reserve::Granted(r) = bellhop::billing::reserve(billing, tenant, &key).await.unwrap() else { panic!("{key} refused") };
        r.settle(state_db, 10).await.unwrap();
    };
    for i in 0..100 {
        answer(format!("plan:{i}")).await;
    }
    let mut tx = app.db().begin().await.unwrap();
    let now = bellhop::storage::now_ms();
    bellhop::billing::account::open(&mut tx, &billing.cfg, tenant, now).await.unwrap();
    let pack = billing.cfg.packs.iter().find(|p| p.answers == 500).unwrap();
    bellhop::billing::account::add_pack(&mut tx, tenant, pack, "test:pack", now).await.unwrap();
    tx.commit().await.unwrap();
    for i in 0..30 {
        answer(format!("pack:{i}")).await;
    }
    // One pack answer given back (no answer went out): the counts follow.
    let bellhop::billing::Reserve::Granted(r) = bellhop::billing::reserve(billing, tenant, "pack:released").await.unwrap() else { panic!("refused") };
    r.release(&app.state.db).await.unwrap();
    let acc = sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.pack_credits), (0, 470));

    let text = plan(&app, owner).await["message"]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("100 of 100 used"), "{text}");
    assert!(text.contains("paid from packs this period: 30"), "{text}");
    assert!(text.contains("470 left"), "{text}");

    let (_, cookie, _) = app.signed_in_owner(owner, "Rosa").await;
    let page = app.http.get(app.url("/app/billing")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<b>100</b> of <b>100</b> AI answers of your plan"), "{page}");
    assert!(page.contains("<b>30</b> more paid from packs") && page.contains("<b>470</b> extra answers from packs left"), "{page}");
    app.stop().await.unwrap();
}
