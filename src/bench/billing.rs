//! `bellhop bench billing`: Telegram waits at most 10 s for the answer to a
//! `pre_checkout_query`. This fills the default queue with `--backlog` slow jobs (stand-ins for
//! answer jobs), then has simulated owners pay `--payments` Stars invoices in an in-process
//! sandbox, and reports how many pre-checkouts were answered ok and how fast: from the moment
//! the payment started (the sandbox sends the query at once) to the moment the answering job was
//! recorded done, just after Telegram accepted the answer (both clocks are this machine's).
//! Figures: BENCHMARKS.md.
use crate::config::Config;
use crate::domain::UserId;
use crate::storage::{self, now_ms};
use anyhow::Context;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(mut cfg: Config, payments: usize, backlog: usize, job_ms: u64, http: crate::app::HttpRoutes) -> anyhow::Result<()> {
    use crate::sandbox::{Sandbox, SandboxOptions};
    let sandbox = Sandbox::new(SandboxOptions { enforce_limits: false, ..Default::default() })?;
    let manager_id = sandbox.manager_id();
    let tg = sandbox.spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await?;
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.http.shutdown_grace = Duration::from_secs(1);
    cfg.public_url = url::Url::parse("http://127.0.0.1:0")?;
    cfg.telegram.api_url = url::Url::parse(&tg.base_url)?;
    cfg.telegram.manager_token = Some(tg.manager_token.clone());
    cfg.telegram.manager_webhook_secret = Some(crate::domain::Secret::new(crate::manager::login::random_token()));
    let pack = cfg.billing.packs.first().cloned().context("the benchmark sells the first pack of billing.packs; none is configured")?;
    let app = crate::app::Application::build(cfg, crate::app::Role::All, true).await?;
    let state = app.state.clone();
    let db = state.db.clone();
    let shutdown = state.shutdown.clone();
    let running = tokio::spawn(app.run(http));
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/sandbox/api/{path}", tg.base_url);
    // Owners, each with a business and an invoice link for the pack.
    let owners = 50.min(payments.max(1));
    let mut links = Vec::new();
    for i in 0..owners {
        let user: Value = http.post(api("users")).json(&json!({ "first_name": format!("Owner {i}"), "started_bots": [manager_id] })).send().await?.json().await?;
        let user = user["result"]["id"].as_i64().context("user id")?;
        let mut conn = db.pool.acquire().await?;
        let tenant = storage::tenants::find_or_create_for_owner(&mut conn, UserId(user), &format!("Shop {i}")).await?.id;
        drop(conn);
        let payload = crate::billing::stars::Product::Pack { tenant, id: pack.id.clone() }.payload();
        let link = crate::telegram::methods::CreateInvoiceLink::stars(&pack.name, "Extra answers", &payload, pack.stars);
        let url = state.manager.as_ref().context("manager")?.bot.call(&link).await?;
        links.push((user, url));
    }

    // The backlog: slow jobs on the default queue, as answer jobs would be.
    let mut tx = db.begin().await?;
    for i in 0..backlog {
        let job = state.queue.job(crate::jobs::DEFAULT, crate::jobs::selftest::KIND, &crate::jobs::selftest::Payload { value: i as i64, sleep_ms: job_ms });
        state.queue.enqueue_in(&mut tx, &job).await?;
    }
    tx.commit().await?;
    state.queue.notify(crate::jobs::DEFAULT);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The payments: about 100 a second, from the owners in turn.
    let started = Instant::now();
    let mut sent = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..payments {
        let (user, link) = links[i % links.len()].clone();
        let http = http.clone();
        let url = api(&format!("users/{user}/payments"));
        tasks.spawn(async move {
            let t0 = now_ms();
            let r: Value = http.post(url).json(&json!({ "link": link })).send().await?.json().await?;
            let id = r["result"]["id"].as_str().context("payment id")?.to_owned();
            let query = r["result"]["pre_checkout_query_id"].as_str().context("query id")?.to_owned();
            anyhow::Ok((id, query, t0))
        });
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    while let Some(r) = tasks.join_next().await {
        sent.push(r??);
    }
    let waiting_backlog: i64 = sqlx::query_scalar("select count(*) from jobs where queue = 'default' and state in ('queued', 'running')").fetch_one(&db.pool).await?;

    // Every payment settles (paid or failed) within Telegram's 10 s; wait for all.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut outcomes = std::collections::HashMap::new();
    while outcomes.len() < sent.len() {
        anyhow::ensure!(Instant::now() < deadline, "payments still pending after 2 minutes");
        for (id, _, _) in &sent {
            if outcomes.contains_key(id) {
                continue;
            }
            let p: Value = http.get(api(&format!("payments/{id}"))).send().await?.json().await?;
            let status = p["result"]["status"].as_str().unwrap_or("pending").to_owned();
            if status != "pending" {
                outcomes.insert(id.clone(), status);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let paid = outcomes.values().filter(|s| *s == "paid").count();
    // Let the last completions reach the database.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answers: std::collections::HashMap<String, i64> = storage::billing::pre_checkout_answer_times(&db.pool, manager_id).await?.into_iter().map(|a| (a.query_id, a.done_at)).collect();
    let refused: i64 = sqlx::query_scalar("select count(*) from billing_checkouts").fetch_one(&db.pool).await?;
    let mut lat: Vec<i64> = sent.iter().filter_map(|(_, q, t0)| answers.get(q).map(|at| at - t0)).collect();
    lat.sort();
    // A query whose payment completed was answered ok (the sandbox completes only after `ok`).
    let ok = paid;
    anyhow::ensure!(lat.len() == sent.len(), "{} of {} pre-checkout jobs found", lat.len(), sent.len());
    println!(
        "billing ({} engine): {payments} pre_checkout_query over {:.1}s while {backlog} jobs of {job_ms} ms filled the default queue ({waiting_backlog} still waiting when the last payment started)",
        db.engine.name(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  answered ok: {ok}/{payments} ({:.1}%), refused: {refused}; query sent → answered (its job recorded done): p50 {} ms, p99 {} ms, max {} ms",
        ok as f64 * 100.0 / payments.max(1) as f64,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    shutdown.cancel();
    let _ = running.await;
    tg.shutdown().await?;
    Ok(())
}
