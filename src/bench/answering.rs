//! `bellhop bench webhooks` and `bellhop bench answering`: the measurements of issue 6 behind
//! BENCHMARKS.md. Both run the real application (SQLite unless `database_url` says otherwise)
//! against an in-process sandbox with its rate limits off, so only bellhop's own pace shows.
//!
//! The models here are measurement instruments, never used to answer anyone: [`Stalled`] never
//! answers within 30 s (a hung model provider), [`Instant`] answers at once (so the pipeline's own
//! time is all that is left to measure).
use crate::config::Config;
use crate::domain::BotId;
use crate::llm::{ChatModel, ChatRequest, ModelError, Piece, TextStream};
use crate::app::{AppState, Application, HttpRoutes, Role};
use anyhow::Context;
use futures::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use super::pct;
use std::time::{Duration, Instant as Clock};

/// Telegram's header carrying a webhook's secret token (what `setWebhook` was given).
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// A model provider that hangs: nothing for 30 s, then an error.
pub struct Stalled;
impl ChatModel for Stalled {
    fn name(&self) -> &str {
        "stalled-30s"
    }
    fn context_tokens(&self) -> usize {
        4096
    }
    fn stream<'a>(&'a self, _req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Err(ModelError::Transient("stalled".into()))
        })
    }
}

/// A model that answers at once, citing the first source.
pub struct Instant;
impl ChatModel for Instant {
    fn name(&self) -> &str {
        "instant"
    }
    fn context_tokens(&self) -> usize {
        4096
    }
    fn stream<'a>(&'a self, _req: ChatRequest) -> BoxFuture<'a, Result<TextStream, ModelError>> {
        Box::pin(async { Ok(Box::pin(futures::stream::iter(["We open ".to_owned(), "at 9 every weekday [1].".to_owned()].into_iter().map(|t| Ok(Piece::Text(t))))) as TextStream) })
    }
}

struct Bench {
    app: AppState,
    tg: crate::sandbox::SandboxHandle,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// (bot, its webhook secret, customers who started it)
    bots: Vec<(i64, String, Vec<i64>)>,
    http: reqwest::Client,
}

async fn setup(mut cfg: Config, http: HttpRoutes, bots: usize, customers: usize, model: Arc<dyn ChatModel>, docs: bool) -> anyhow::Result<Bench> {
    let tg = crate::bench::sandbox_for(&mut cfg, bots + 1).await?;
    // The bench brings its own model (a stand-in), so it writes the answers whatever model
    // `auto` would pick.
    cfg.answering.model_answers = true;
    let app = Application::build(cfg, Role::All, true).await?;
    app.state.model.set(model);
    let state = app.state.clone();
    let running = tokio::spawn(app.run(http));
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let api = |path: &str| format!("{}/sandbox/api/{path}", tg.base_url);
    let manager = state.manager.as_ref().context("manager")?.username.clone();
    let mut ids = Vec::new();
    for i in 0..bots {
        let user: serde_json::Value = http.post(api("users")).json(&json!({"first_name": format!("Owner {i}")})).send().await?.json().await?;
        let user = user["result"]["id"].as_i64().context("user id")?;
        let link = format!("https://t.me/newbot/{manager}/shop_{i}_bot?name=Shop%20{i}");
        let req: serde_json::Value = http.post(api(&format!("users/{user}/creation_links"))).json(&json!({"link": link})).send().await?.json().await?;
        let id = req["result"]["id"].as_str().context("creation request id")?.to_owned();
        let bot: serde_json::Value = http.post(api(&format!("creation_requests/{id}/confirm"))).json(&json!({})).send().await?.json().await?;
        ids.push(bot["result"]["id"].as_i64().context("bot id")?);
    }
    let deadline = Clock::now() + Duration::from_secs(300);
    let mut out = Vec::new();
    let mut sources = Vec::new();
    for (i, &bot) in ids.iter().enumerate() {
        let row = loop {
            match crate::storage::bots::managed_row(&state.db.pool, BotId(bot)).await? {
                Some(r) if r.status == "live" => break r,
                _ => {
                    anyhow::ensure!(Clock::now() < deadline, "bot {bot} did not go live");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let sealed = crate::storage::bots::webhook_auth(&state.db.pool, BotId(bot)).await?.context("bot")?.secret;
        let secret = String::from_utf8(state.keys.open(&sealed.context("no webhook secret")?, &crate::storage::bots::webhook_secret_aad(BotId(bot)))?)?;
        if docs {
            let doc = format!("# Shop {i}\n\n## Opening hours\n\nShop {i} opens at 9:00 every weekday and closes at 18:00. On Saturdays we open at 10:00.\n\n## Returns\n\nItems can be returned within 30 days with the receipt.\n");
            let new = crate::storage::sources::NewSource { bot: Some(crate::domain::BotId(bot)), kind: "file", name: "shop.md", size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
            sources.push(crate::app::sources::add_source(&state, row.tenant_id, &new).await?);
        }
        let mut cs = Vec::new();
        for c in 0..customers {
            let u: serde_json::Value = http.post(api("users")).json(&json!({"first_name": format!("Customer {i}.{c}"), "started_bots": [bot]})).send().await?.json().await?;
            cs.push(u["result"]["id"].as_i64().context("customer id")?);
        }
        out.push((bot, secret, cs));
    }
    loop {
        let ready: i64 = sqlx::query_scalar("select count(*) from sources where status = 'ready'").fetch_one(&state.db.pool).await?;
        if ready as usize >= sources.len() {
            break;
        }
        anyhow::ensure!(Clock::now() < deadline, "sources were not indexed in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Bench { app: state, tg, running, bots: out, http })
}

impl Bench {
    async fn stop(self) -> anyhow::Result<()> {
        self.app.shutdown.cancel();
        self.running.await??;
        self.tg.shutdown().await?;
        Ok(())
    }
}

/// Webhook acknowledgements: `updates` customer messages posted to `/tg/bot/{id}` by
/// `concurrency` clients, each acknowledged only after the update and its job are committed.
/// With `stalled_model`, every answer job hangs on a model that never replies within 30 s.
pub async fn webhooks(cfg: Config, http: HttpRoutes, updates: usize, concurrency: usize, bots: usize, stalled_model: bool) -> anyhow::Result<()> {
    let model: Arc<dyn ChatModel> = if stalled_model { Arc::new(Stalled) } else { Arc::new(Instant) };
    let engine = cfg.database_url.engine_name();
    let mut b = setup(cfg.clone(), http, bots, 5, model, stalled_model).await?;
    let mut web_only = None;
    if !stalled_model {
        // Acknowledgements alone: a web process (workers elsewhere), on the same database.
        b.app.shutdown.cancel();
        (&mut b.running).await??;
        let mut cfg = cfg;
        cfg.listen = "127.0.0.1:0".parse()?;
        cfg.public_url = url::Url::parse("http://127.0.0.1:0")?;
        cfg.telegram.api_url = url::Url::parse(&b.tg.base_url)?;
        cfg.telegram.manager_token = Some(b.tg.manager_token.clone());
        cfg.telegram.manager_webhook_secret = b.app.cfg.telegram.manager_webhook_secret.clone();
        let web = Application::build(cfg, Role::Web, false).await?;
        let state = web.state.clone();
        b.running = tokio::spawn(web.run(http));
        web_only = Some(state.clone());
        b.app = state;
    }
    let addr = b.app.cfg.public_url.clone();
    let targets: Arc<Vec<(i64, String, Vec<i64>)>> = Arc::new(b.bots.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Clock::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, targets, next, addr) = (b.http.clone(), targets.clone(), next.clone(), addr.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= updates {
                    break;
                }
                let (bot, secret, customers) = &targets[k % targets.len()];
                let customer = customers[(k / targets.len()) % customers.len()];
                let body = json!({
                    "update_id": 1_000_000 + k,
                    "message": { "message_id": k + 1, "date": 1_790_000_000, "chat": { "id": customer, "type": "private" },
                                 "from": { "id": customer, "is_bot": false, "first_name": "Customer" }, "text": "When do you open on weekdays?" }
                });
                let t = Clock::now();
                let r = http.post(addr.join(&format!("tg/bot/{bot}")).expect("url")).header(SECRET_HEADER, secret).json(&body).send().await?;
                anyhow::ensure!(r.status() == 200, "webhook answered {}", r.status());
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let manager = b.app.manager.as_ref().map(|m| m.id.0).unwrap_or(0);
    let stored: i64 = sqlx::query_scalar("select count(*) from telegram_updates where update_id >= 1000000 and bot_id <> $1").bind(manager).fetch_one(&b.app.db.pool).await?;
    println!(
        "webhooks ({engine}, {}, {bots} bots, {concurrency} clients, model {}): {updates} updates acknowledged in {secs:.1} s = {:.0}/s; ack latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {stored} stored",
        if web_only.is_some() { "web role only" } else { "web + workers" },
        if stalled_model { "stalled 30 s" } else { "none called" },
        updates as f64 / secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!("{}", json!({"bench": "webhooks", "engine": engine, "updates": updates, "per_second": updates as f64 / secs, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99), "stalled_model": stalled_model, "stored": stored}));
    anyhow::ensure!(stored as usize == updates, "{stored} of {updates} updates stored");
    b.stop().await
}

/// The pipeline's own time per answer — retrieval (query embedding included), prompt, database,
/// Telegram sends — with a model that answers instantly: `bots` businesses × `customers` each
/// asking one question through the sandbox, all at once (`rate` 0) or `rate` per second.
/// Customers ask different questions (so no answer is a copy of another's work).
pub async fn answering(cfg: Config, http: HttpRoutes, bots: usize, customers: usize, rate: f64) -> anyhow::Result<()> {
    const QUESTIONS: [&str; 5] =
        ["When do you open on weekdays?", "Can items be returned?", "When do you open on Saturdays?", "Do I need the receipt to return an item?", "What time do you close on weekdays?"];
    let engine = cfg.database_url.engine_name();
    let b = setup(cfg, http, bots, customers, Arc::new(Instant), true).await?;
    b.app.answering.overhead.capture();
    let api = |path: &str| format!("{}/sandbox/api/{path}", b.tg.base_url);
    let started = Clock::now();
    let total = bots * customers;
    // Customer-major order: the first customers of every bot, then the second ones…
    let mut k = 0usize;
    for c in 0..customers {
        for (bot, _, cs) in &b.bots {
            if rate > 0.0 {
                tokio::time::sleep_until((started + Duration::from_secs_f64(k as f64 / rate)).into()).await;
            }
            let text = QUESTIONS[(c + k) % QUESTIONS.len()];
            b.http.post(api(&format!("users/{}/messages", cs[c]))).json(&json!({"bot_id": bot, "text": text})).send().await?;
            k += 1;
        }
    }
    let deadline = Clock::now() + Duration::from_secs(600);
    loop {
        let sent: i64 = sqlx::query_scalar("select count(*) from conversation_messages where author = 'bot' and delivery = 'sent'").fetch_one(&b.app.db.pool).await?;
        if sent as usize >= total {
            break;
        }
        anyhow::ensure!(Clock::now() < deadline, "only {sent} of {total} answers sent in 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let mut lat = b.app.answering.overhead.take();
    lat.sort();
    let answers: i64 = sqlx::query_scalar("select count(*) from conversation_messages where author = 'bot' and kind = 'answer'").fetch_one(&b.app.db.pool).await?;
    println!(
        "answering ({engine}, {bots} bots × {customers} customers = {total} questions {} in {secs:.1} s, {answers} model answers): pipeline overhead per answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (model time excluded)",
        if rate > 0.0 { format!("at {rate}/s") } else { "at once".to_owned() },
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!("{}", json!({"bench": "answering", "engine": engine, "questions": total, "rate": rate, "answers": answers, "samples": lat.len(), "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)}));
    b.stop().await
}
