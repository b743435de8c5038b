//! Metering at the ledger level: reservations never overspend under concurrency, are
//! idempotent per key, settle or release once, and the owner is told at 80 % and 100 % once.
//! (The answering pipeline wires reserve/settle/release around its model call.)
use crate::helpers::*;
use bellhop::billing::{Reserve, reserve};
use bellhop::storage::billing as sql;
use serde_json::{Value, json};
use std::time::Duration;

fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

/// What the manager bot said to `owner`.
pub async fn manager_said(app: &TestApp, owner: i64) -> Vec<String> {
    let manager = app.tg.handle.sandbox.manager_id();
    app.tg.get(&format!("messages?bot_id={manager}&chat_id={owner}&from_bot=true")).await.as_array().cloned().unwrap_or_default().iter().map(text_of).collect()
}

/// An owner who has opened the manager chat, with a tenant and one bot.
pub async fn owner_with_bot(app: &TestApp, name: &str, bot_id: i64) -> (i64, bellhop::domain::TenantId) {
    let manager = app.tg.handle.sandbox.manager_id();
    let owner = app.tg.post("users", json!({ "first_name": name, "started_bots": [manager] })).await["id"].as_i64().unwrap();
    let (tenant, _, _) = app.create_bot(owner, bot_id).await;
    (owner, tenant)
}

/// Spends `n` of the tenant's credits on answers (reserved and settled).
async fn spend(app: &TestApp, tenant: bellhop::domain::TenantId, n: usize) {
    for i in 0..n {
        let Reserve::Granted(r) = reserve(&app.state.billing, tenant, &format!("warmup:{i}")).await.unwrap() else { panic!("credit {i} refused") };
        r.settle(&app.state.db, 120).await.unwrap();
    }
}

#[tokio::test]
async fn the_last_ten_credits_and_a_hundred_concurrent_questions_grant_exactly_ten_and_tell_the_owner_once() {
    let app = spawn_app().await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_100_001).await;
    // The default plan gives 100 answers a month: use 90 of them.
    spend(&app, tenant, 90).await;
    let acc = sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.pack_credits, acc.used_in_period), (10, 0, 90));

    let outcomes = futures::future::join_all((0..100).map(|i| {
        let state = app.state.clone();
        async move { reserve(&state.billing, tenant, &format!("answer:1:{i}")).await.unwrap() }
    }))
    .await;
    let granted: Vec<_> = outcomes.into_iter().filter_map(|o| match o {
        Reserve::Granted(r) => Some(r),
        Reserve::Exhausted => None,
    }).collect();
    assert_eq!(granted.len(), 10, "exactly the last 10 credits are granted; the other 90 are refused");
    for r in granted {
        r.settle(&app.state.db, 100).await.unwrap();
    }
    assert_eq!(sql::ledger_balance(&app.db().pool, tenant).await.unwrap(), 0);
    let acc = sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.pack_credits, acc.used_in_period), (0, 0, 100));

    // The 80 % and 100 % notices, each exactly once, with the upgrade button.
    wait_until(Duration::from_secs(20), || async { manager_said(&app, owner).await.iter().any(|t| t.contains("all of this month")) }).await;
    // Further refused questions do not repeat it.
    assert!(matches!(reserve(&app.state.billing, tenant, "answer:1:late").await.unwrap(), Reserve::Exhausted));
    app.drain_jobs(Duration::from_secs(20)).await;
    let said = manager_said(&app, owner).await;
    assert_eq!(said.iter().filter(|t| t.contains("all of this month")).count(), 1, "{said:?}");
    assert_eq!(said.iter().filter(|t| t.contains("80%")).count(), 1, "{said:?}");
    let manager = app.tg.handle.sandbox.manager_id();
    let msgs = app.tg.get(&format!("messages?bot_id={manager}&chat_id={owner}&from_bot=true")).await;
    let last = msgs.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reply_markup"]["inline_keyboard"][0][0]["callback_data"], json!("bill:plan"), "{last}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_retried_reservation_gets_the_same_credit_and_settle_or_release_happens_once() {
    let app = spawn_app().await;
    let (_, tenant) = owner_with_bot(&app, "Ana", 7_100_002).await;
    let Reserve::Granted(a) = reserve(&app.state.billing, tenant, "answer:2:1").await.unwrap() else { panic!("refused") };
    let Reserve::Granted(b) = reserve(&app.state.billing, tenant, "answer:2:1").await.unwrap() else { panic!("refused") };
    assert_eq!(a, b, "the same key gives the same reservation");
    assert_eq!(sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap().plan_credits, 99);

    // Released: the credit comes back, once, and a later settle changes nothing.
    a.clone().release(&app.state.db).await.unwrap();
    a.clone().release(&app.state.db).await.unwrap();
    b.settle(&app.state.db, 10).await.unwrap();
    let acc = sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (100, 0));
    assert_eq!(sql::ledger_balance(&app.db().pool, tenant).await.unwrap(), 100);

    // Settled: the credit stays spent, and a later release changes nothing.
    let Reserve::Granted(c) = reserve(&app.state.billing, tenant, "answer:2:2").await.unwrap() else { panic!("refused") };
    c.clone().settle(&app.state.db, 10).await.unwrap();
    c.release(&app.state.db).await.unwrap();
    assert_eq!(sql::ledger_balance(&app.db().pool, tenant).await.unwrap(), 99);
    assert_eq!(sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap().plan_credits, 99);
    app.stop().await.unwrap();
}

/// A retry whose earlier attempt released its credit (no answer went out then) reserves again:
/// the model answer it then gives is paid for, once — and with no credit left it is refused,
/// not granted on the released reservation.
#[tokio::test]
async fn a_retry_after_its_credit_was_released_reserves_again() {
    let app = spawn_app().await;
    let (_, tenant) = owner_with_bot(&app, "Olga", 7_100_006).await;
    let db = &app.db().pool;
    let Reserve::Granted(first) = reserve(&app.state.billing, tenant, "answer:4:1").await.unwrap() else { panic!("refused") };
    first.clone().release(&app.state.db).await.unwrap();
    let Reserve::Granted(retry) = reserve(&app.state.billing, tenant, "answer:4:1").await.unwrap() else { panic!("the retry was refused") };
    assert_ne!(retry.id, first.id, "the released reservation stood for the retry");
    assert_eq!(sql::get_account(db, tenant).await.unwrap().unwrap().plan_credits, 99);
    retry.clone().settle(&app.state.db, 10).await.unwrap();
    // Retried once more after the answer was paid for: the same reservation, nothing more taken.
    let Reserve::Granted(again) = reserve(&app.state.billing, tenant, "answer:4:1").await.unwrap() else { panic!("refused") };
    assert_eq!(again, retry);
    again.settle(&app.state.db, 10).await.unwrap();
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (99, 1), "one answer, one credit");
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), 99);

    // The last credit reserved and released, then taken by another question: the retry is refused.
    spend(&app, tenant, 98).await;
    let Reserve::Granted(last) = reserve(&app.state.billing, tenant, "answer:4:2").await.unwrap() else { panic!("the last credit refused") };
    last.release(&app.state.db).await.unwrap();
    let Reserve::Granted(other) = reserve(&app.state.billing, tenant, "answer:4:3").await.unwrap() else { panic!("the last credit refused") };
    other.settle(&app.state.db, 10).await.unwrap();
    assert!(matches!(reserve(&app.state.billing, tenant, "answer:4:2").await.unwrap(), Reserve::Exhausted), "answered on a released credit");
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (0, 100));
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), 0);
    app.stop().await.unwrap();
}

/// The retry of the question that took the last credit finds its reservation, though none is
/// left for anyone else (the key is looked up before refusing, not only when inserting).
#[tokio::test]
async fn a_retried_reservation_of_the_last_credit_is_still_granted() {
    let app = spawn_app().await;
    let (_, tenant) = owner_with_bot(&app, "Iris", 7_100_005).await;
    spend(&app, tenant, 99).await;
    let Reserve::Granted(last) = reserve(&app.state.billing, tenant, "answer:3:1").await.unwrap() else { panic!("the last credit refused") };
    assert_eq!(sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap().plan_credits, 0);
    let Reserve::Granted(again) = reserve(&app.state.billing, tenant, "answer:3:1").await.unwrap() else { panic!("the retry was refused") };
    assert_eq!(last, again, "the retry gets the same reservation");
    assert!(matches!(reserve(&app.state.billing, tenant, "answer:3:2").await.unwrap(), Reserve::Exhausted), "another question is refused");
    let acc = sql::get_account(&app.db().pool, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (0, 100), "one credit taken for the question and its retry");
    assert_eq!(sql::ledger_balance(&app.db().pool, tenant).await.unwrap(), 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_tenants_usage_never_touches_anothers_credits() {
    let app = spawn_app().await;
    let (_, a) = owner_with_bot(&app, "Ana", 7_100_003).await;
    let (_, b) = owner_with_bot(&app, "Ben", 7_100_004).await;
    for i in 0..5 {
        assert!(matches!(reserve(&app.state.billing, a, &format!("k{i}")).await.unwrap(), Reserve::Granted(_)));
    }
    // The same key in another tenant is another reservation.
    assert!(matches!(reserve(&app.state.billing, b, "k0").await.unwrap(), Reserve::Granted(_)));
    assert_eq!(sql::ledger_balance(&app.db().pool, a).await.unwrap(), 95);
    assert_eq!(sql::ledger_balance(&app.db().pool, b).await.unwrap(), 99);
    app.stop().await.unwrap();
}

/// A credit reserved before the period rolled over and released after it (the answer failed
/// across midnight of the period) expired with its period: the new period gets its allowance,
/// not one more, and its count of answers used does not go below zero.
#[tokio::test]
async fn a_release_after_the_period_rolled_over_gives_nothing_to_the_new_period() {
    let app = spawn_app().await;
    let (_, tenant) = owner_with_bot(&app, "Rosa", 7_100_077).await;
    let db = &app.db().pool;
    let Reserve::Granted(r) = reserve(&app.state.billing, tenant, "late:1").await.unwrap() else { panic!("refused") };
    tokio::time::sleep(Duration::from_millis(5)).await;
    sqlx::query("update billing_accounts set period_end = $1 where tenant_id = $2").bind(bellhop::storage::now_ms() - 1).bind(tenant.0).execute(db).await.unwrap();
    bellhop::billing::account::current(&app.state.db, &app.state.cfg.billing, tenant, bellhop::storage::now_ms()).await.unwrap();
    r.clone().release(&app.state.db).await.unwrap();
    r.release(&app.state.db).await.unwrap();
    let acc = sql::get_account(db, tenant).await.unwrap().unwrap();
    assert_eq!((acc.plan_credits, acc.used_in_period), (100, 0));
    assert_eq!(sql::ledger_balance(db, tenant).await.unwrap(), acc.plan_credits + acc.pack_credits);
    app.stop().await.unwrap();
}
