//! `bellhop bench …`: the measurements recorded in BENCHMARKS.md, reproducible with one
//! command each. They run against the configured database, in a fresh data set of their own.
//!
//! - [`answering`]: `bench webhooks` and `bench answering` (the answering pipeline's overhead).
//! - [`billing`]: `bench billing` (pre-checkout answers under load).
//! - [`loadtest`]: `bellhop loadtest` (a whole cluster under load and faults).
pub mod answering;
pub mod billing;
pub mod loadtest;

use crate::config::Config;
use crate::jobs::{self, Job, JobError, Queue, Registry, Workers};
use crate::storage::{self, Db};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct BenchState {
    db: Db,
    latencies: Arc<Mutex<Vec<Duration>>>,
    done: Arc<tokio::sync::Notify>,
    remaining: Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    enqueued_at_us: i64,
    effect: bool,
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

async fn handle(s: BenchState, job: Job) -> Result<(), JobError> {
    let p: Payload = job.payload()?;
    s.latencies.lock().expect("lock").push(Duration::from_micros((now_us() - p.enqueued_at_us).max(0) as u64));
    if p.effect {
        storage::jobs::apply_selftest_effect(&s.db.pool, job.id, 1).await?;
    }
    if s.remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
        s.done.notify_one();
    }
    Ok(())
}

/// The `p` quantile of sorted durations, in milliseconds.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Throughput of enqueue (batches of 500 per transaction) and of claim → run → complete with
/// no-op jobs and with jobs that write an effect row; then enqueue-to-start latency on an idle
/// queue, one job at a time.
pub async fn jobs(mut cfg: Config, n: usize, samples: usize) -> anyhow::Result<()> {
    cfg.jobs.concurrency = 64;
    let db = Db::connect(&cfg.database_url).await?;
    db.migrate().await?;
    let queue = Queue::new(db.clone(), &cfg.jobs);
    match db.engine {
        storage::Engine::Sqlite => println!("engine: sqlite (WAL, synchronous=FULL: every commit fsynced)"),
        storage::Engine::Postgres => println!("engine: postgres"),
    }
    for effect in [false, true] {
        let state = BenchState {
            db: db.clone(),
            latencies: Arc::default(),
            done: Arc::default(),
            remaining: Arc::new(n.into()),
        };
        let started = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let mut tx = db.begin().await?;
            for _ in chunk {
                let job = queue.job(jobs::DEFAULT, "bench", &Payload { enqueued_at_us: now_us(), effect });
                queue.enqueue_in(&mut tx, &job).await?;
            }
            tx.commit().await?;
        }
        let enq = started.elapsed();
        let shutdown = CancellationToken::new();
        let run_started = Instant::now();
        let handle = spawn_workers(&queue, &cfg, state.clone(), shutdown.clone());
        state.done.notified().await;
        let ran = run_started.elapsed();
        shutdown.cancel();
        handle.await??;
        println!(
            "throughput ({}): enqueued {n} jobs in {:.2}s = {:.0} jobs/s; completed in {:.2}s = {:.0} jobs/s",
            if effect { "jobs writing an effect row" } else { "no-op jobs" },
            enq.as_secs_f64(),
            n as f64 / enq.as_secs_f64(),
            ran.as_secs_f64(),
            n as f64 / ran.as_secs_f64()
        );
    }

    let state = BenchState { db: db.clone(), latencies: Arc::default(), done: Arc::default(), remaining: Arc::new(samples.into()) };
    let shutdown = CancellationToken::new();
    let handle = spawn_workers(&queue, &cfg, state.clone(), shutdown.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..samples {
        let job = queue.job(jobs::DEFAULT, "bench", &Payload { enqueued_at_us: now_us(), effect: false });
        queue.enqueue(&job).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.done.notified().await;
    shutdown.cancel();
    handle.await??;
    let mut l = state.latencies.lock().expect("lock").clone();
    l.sort();
    println!("latency (idle queue, enqueue → handler start, {samples} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", pct(&l, 0.5), pct(&l, 0.99), pct(&l, 1.0));
    let counts = storage::jobs::purge_done(&db.pool, i64::MAX).await?;
    println!("cleaned up {counts} finished bench jobs");
    Ok(())
}

fn spawn_workers(queue: &Queue, cfg: &Config, state: BenchState, shutdown: CancellationToken) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let mut registry = Registry::default();
    registry.register("bench", jobs::DEFAULT, handle);
    let workers = Workers { queue: queue.clone(), registry: Arc::new(registry), state, cfg: cfg.jobs.clone(), grace: Duration::from_secs(5) };
    tokio::spawn(workers.run(shutdown))
}

/// Starts the in-process sandbox as Telegram on loopback (its limits off, room for `bots` bots)
/// and points `cfg` at it: the manager bot's token and webhook secret, listening on a free port.
/// For the benchmarks and evals that run the whole app.
pub async fn sandbox_for(cfg: &mut Config, bots: usize) -> anyhow::Result<crate::sandbox::SandboxHandle> {
    use crate::sandbox::{Sandbox, SandboxOptions};
    let sandbox = Sandbox::new(SandboxOptions { enforce_limits: false, bot_create_limit: bots, ..Default::default() })?;
    let tg = sandbox.spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await?;
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.public_url = url::Url::parse("http://127.0.0.1:0")?;
    cfg.telegram.api_url = url::Url::parse(&tg.base_url)?;
    cfg.telegram.manager_token = Some(tg.manager_token.clone());
    cfg.telegram.manager_webhook_secret = Some(crate::domain::Secret::new(crate::manager::login::random_token()));
    Ok(tg)
}

/// Onboarding: `bots` creation links confirmed in an in-process sandbox (rate limits off, so
/// only bellhop's own pace shows), each `managed_bot` update's arrival at the manager webhook
/// → the bot `live` (token fetched, sealed and stored; webhook with a fresh secret, commands and
/// both descriptions set). Timestamps come from the database rows themselves.
pub async fn onboarding(mut cfg: Config, bots: usize, http: crate::app::HttpRoutes) -> anyhow::Result<()> {
    let tg = sandbox_for(&mut cfg, bots + 1).await?;
    let app = crate::app::Application::build(cfg, crate::app::Role::All, true).await?;
    let db = app.state.db.clone();
    let shutdown = app.state.shutdown.clone();
    let running = tokio::spawn(app.run(http));
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/sandbox/api/{path}", tg.base_url);
    let started = Instant::now();
    for i in 0..bots {
        let user: serde_json::Value = http.post(api("users")).json(&serde_json::json!({"first_name": format!("Owner {i}")})).send().await?.json().await?;
        let user = user["result"]["id"].as_i64().context_msg("user id")?;
        let link = format!("https://t.me/newbot/bellhop_manager_bot/bench_{i}_bot?name=Shop%20{i}");
        let req: serde_json::Value = http.post(api(&format!("users/{user}/creation_links"))).json(&serde_json::json!({"link": link})).send().await?.json().await?;
        let id = req["result"]["id"].as_str().context_msg("creation request id")?.to_owned();
        http.post(api(&format!("creation_requests/{id}/confirm"))).json(&serde_json::json!({})).send().await?;
        // About 20 new bots a second: a busy launch day, not a flood.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let live: i64 = sqlx::query_scalar("select count(*) from bots where status = 'live'").fetch_one(&db.pool).await?;
        if live as usize >= bots {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {live} of {bots} bots went live within 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first `managed_bot` update naming each bot, and when that bot went live.
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select min(u.received_at), b.updated_at from bots b join telegram_updates u
           on u.body like '%\"managed_bot\"%' and u.body like '%\"id\":' || cast(b.id as text) || '%'
         where b.status = 'live' group by b.id, b.updated_at",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut lat: Vec<Duration> = rows.iter().map(|(a, b)| Duration::from_millis((b - a).max(0) as u64)).collect();
    lat.sort();
    println!(
        "onboarding ({bots} bots over {:.1}s, SQLite={}): managed_bot arrival → live p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        started.elapsed().as_secs_f64(),
        db.engine == storage::Engine::Sqlite,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    shutdown.cancel();
    running.await??;
    tg.shutdown().await?;
    Ok(())
}

trait ContextMsg<T> {
    fn context_msg(self, what: &str) -> anyhow::Result<T>;
}

impl<T> ContextMsg<T> for Option<T> {
    fn context_msg(self, what: &str) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("the sandbox answer has no {what}"))
    }
}

/// The local chat model on the CPU, on the runtime `llm.runtime` picks (`--runtime`): load
/// time, then `runs` generations of a realistic answering prompt (~580 tokens: instructions, five
/// numbered passages, a question) to exactly `answer_tokens` tokens (end of turn ignored, so
/// every run does the same work), greedy. Prompt tokens/s counts the forward passes over the
/// prompt (llama-bench's `pp`); time to first token adds making the context (KV cache) and
/// sampling; generation tokens/s counts the tokens after the first (llama-bench's `tg`). Peak
/// memory is the process's high-water mark (VmHWM).
pub async fn llm(cfg: Config, runs: usize, answer_tokens: u32) -> anyhow::Result<()> {
    use crate::llm::{ChatMessage, LlamaChat, LlamaOptions, LocalSmolLm, Runtime};
    anyhow::ensure!(runs > 0, "--runs must be at least 1");
    #[derive(Clone)]
    enum Local {
        Llama(LlamaChat),
        Candle(LocalSmolLm),
    }
    let started = Instant::now();
    let dir = cfg.models_dir.clone();
    let ctx = cfg.llm.context_tokens;
    let threads = cfg.llm.threads.unwrap_or_else(crate::llm::machine_cores);
    let file = cfg.llm.model_file.clone().unwrap_or_else(|| crate::llm::default_model_file(&dir));
    let model = match cfg.llm.runtime {
        Runtime::Llama => {
            let f = file.clone();
            Local::Llama(tokio::task::spawn_blocking(move || LlamaChat::load(&f, LlamaOptions { context_tokens: ctx, threads })).await??)
        }
        Runtime::Candle => Local::Candle(tokio::task::spawn_blocking(move || LocalSmolLm::load(&dir, ctx)).await??),
    };
    let load = started.elapsed();
    let rss_loaded = proc_status_kb("VmRSS");
    let messages = vec![ChatMessage::system(RAG_SYSTEM), ChatMessage::user("Can I return the running shoes I bought three weeks ago if I already wore them outside, and how long does the refund take?")];
    let (runtime, name, prompt) = match &model {
        Local::Llama(m) => ("llama", crate::llm::ChatModel::name(m).to_owned(), m.prompt_ids(&messages)?),
        Local::Candle(m) => ("candle", crate::llm::SMOLLM_NAME.to_owned(), m.prompt_ids(&messages)?),
    };
    let threads_shown = match &model {
        Local::Llama(m) => m.threads().to_string(),
        Local::Candle(_) => "all cores (rayon/gemm)".into(),
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "model: {name} ({}), runtime {runtime}, threads {threads_shown}, {cores} cores, {} build; loaded in {:.2}s; prompt {} tokens, answer {answer_tokens} tokens, {runs} runs after 1 warm-up",
        file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        if cfg!(debug_assertions) { "dev" } else { "release" },
        load.as_secs_f64(),
        prompt.len()
    );
    let (mut ttft, mut decode, mut prefill, mut setup) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..=runs {
        let (m, p) = (model.clone(), prompt.clone());
        let g = tokio::task::spawn_blocking(move || match m {
            Local::Llama(m) => m.generate_blocking(&p, answer_tokens, 0.0, false, |_| true),
            Local::Candle(m) => m.generate_blocking(&p, answer_tokens, 0.0, false, |_| true),
        })
        .await??;
        let first = g.first_token.unwrap_or(g.elapsed);
        let rest = (g.elapsed - first).as_secs_f64();
        let tps = if rest > 0.0 { (g.answer_tokens.saturating_sub(1)) as f64 / rest } else { f64::NAN };
        let pp = g.prompt_tokens as f64 / g.prompt_time.as_secs_f64();
        if run == 0 {
            println!("warm-up: first token {:.0} ms, prompt {pp:.0} tokens/s, generation {tps:.1} tokens/s", first.as_secs_f64() * 1000.0);
            continue;
        }
        println!(
            "run {run}: context {:.1} ms, prompt {pp:.0} tokens/s, first token {:.0} ms, then {} tokens at {tps:.1} tokens/s",
            g.setup.as_secs_f64() * 1000.0,
            first.as_secs_f64() * 1000.0,
            g.answer_tokens.saturating_sub(1)
        );
        ttft.push(first.as_secs_f64() * 1000.0);
        prefill.push(pp);
        decode.push(tps);
        setup.push(g.setup.as_secs_f64() * 1000.0);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[(v.len() - 1) / 2], v[0], v[v.len() - 1])
    };
    let (ttft, prefill, decode, setup) = (stats(&mut ttft), stats(&mut prefill), stats(&mut decode), stats(&mut setup));
    let (peak, rss_end) = (proc_status_kb("VmHWM"), proc_status_kb("VmRSS"));
    let mb = |kb: Option<u64>| kb.map_or(f64::NAN, |k| k as f64 / 1024.0);
    println!(
        "p50 (min–max): prompt {:.0} ({:.0}–{:.0}) tokens/s, generation {:.1} ({:.1}–{:.1}) tokens/s, time to first token {:.0} ({:.0}–{:.0}) ms, context {:.1} ms",
        prefill.0, prefill.1, prefill.2, decode.0, decode.1, decode.2, ttft.0, ttft.1, ttft.2, setup.0
    );
    println!("memory: {:.0} MB resident after loading, {:.0} MB at the end, peak {:.0} MB (VmHWM)", mb(rss_loaded), mb(rss_end), mb(peak));
    println!(
        "{}",
        serde_json::json!({
            "bench": "llm", "runtime": runtime, "model": name, "threads": threads_shown, "cores": cores,
            "prompt_tokens": prompt.len(), "answer_tokens": answer_tokens, "runs": runs, "load_s": load.as_secs_f64(),
            "prefill_tokens_per_s_p50": prefill.0, "prefill_tokens_per_s_min": prefill.1, "prefill_tokens_per_s_max": prefill.2,
            "decode_tokens_per_s_p50": decode.0, "decode_tokens_per_s_min": decode.1, "decode_tokens_per_s_max": decode.2,
            "ttft_ms_p50": ttft.0, "ttft_ms_min": ttft.1, "ttft_ms_max": ttft.2, "context_ms_p50": setup.0,
            "rss_loaded_mb": mb(rss_loaded), "peak_rss_mb": mb(peak),
            "profile": if cfg!(debug_assertions) { "dev" } else { "release" }
        })
    );
    Ok(())
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), on Linux.
fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// The shape of answering's prompt: rules, then numbered passages from the owner's knowledge.
const RAG_SYSTEM: &str = "You are the customer-support assistant of Trailhead Outfitters, a small shop for running and hiking gear. \
Answer the customer's question using only the numbered sources below. Cite the sources you use like [1] or [2]. \
If the sources do not answer the question, say you don't know and offer to connect the customer with a person. \
Be brief, friendly and precise; never invent prices, dates or policies.

Sources:
[1] Returns policy. Unworn items in their original packaging can be returned within 30 days of delivery for a full refund. \
Shoes that have been worn outdoors can only be returned if they are faulty; our 60-day comfort promise covers shoes worn \
indoors on a treadmill or at home, which we exchange once for another size or model. Sale items marked final sale cannot be returned. \
To start a return, reply to your order confirmation email or use the returns page, and include your order number.
[2] Refunds. Once your return reaches our warehouse we inspect it within two working days. Approved refunds go back to the \
original payment method: card refunds usually appear within 5 to 10 working days depending on your bank, PayPal refunds within \
48 hours. Store credit is issued at once and is 10% higher than the refund amount. Original shipping costs are not refunded \
unless the item was faulty or we sent the wrong item.
[3] Faulty products. If a product develops a fault within 12 months, such as a sole separating, a seam splitting or a zip \
breaking, send us photos and your order number. We repair, replace or refund faulty items free of charge, including return \
shipping. Normal wear, like worn tread after heavy use, is not a fault.
[4] Shipping. Orders placed before 2 pm on working days leave the same day. Standard delivery takes 2 to 4 working days and is \
free above 50 euros; express delivery takes one working day and costs 7.90 euros. We ship to all EU countries, Switzerland and \
the United Kingdom. Tracking links are sent by email as soon as the parcel leaves.
[5] Shop and contact. Our shop in Freiburg is open Monday to Friday 10 am to 7 pm and Saturday 10 am to 4 pm. Items bought \
online can be returned or exchanged in the shop. You can reach the team by email at help@trailhead.example or by phone \
on weekdays from 9 am to 5 pm; we answer emails within one working day.";

/// `bellhop bench parsers`: the parsers of untrusted input (html5ever, pulldown-cmark,
/// texting_robots) on hostile and on large ordinary inputs, through the real entry points and
/// their budgets (default limits: 30 s per file). Prints one line per input: its size, the time
/// taken and the outcome (an error is the budget working). docs/ingestion.md cites the figures.
pub async fn parsers() -> anyhow::Result<()> {
    use crate::knowledge::extract::{Limits, extract_with};
    use crate::knowledge::fetch::robots::Robots;
    let n = 100_000;
    let attrs = |k: usize| format!("<p {}>x</p>", (0..k).map(|i| format!("a{i}=1")).collect::<Vec<_>>().join(" "));
    let files: Vec<(&str, &str, String)> = vec![
        ("html: 100,000 nested <div>", "a.html", "<div>".repeat(n) + "deep" + &"</div>".repeat(n)),
        ("html: 50,000 nested <ul><li>", "a.html", "<ul><li>".repeat(n / 2) + "deep"),
        ("html: 14,000 × unclosed <b><i><u><s><em><strong><div>", "a.html", "<b><i><u><s><em><strong><div>".repeat(n / 7) + "x"),
        ("html: 100,000 nested <b>", "a.html", "<b>".repeat(n) + "deep"),
        ("html: 100,000 nested <table>", "a.html", "<table>".repeat(n) + "deep"),
        ("html: 100,000 entities", "a.html", "&amp;&lt;&notin;&#x1F600;".repeat(n)),
        ("html: 10,000 attributes on one tag", "a.html", attrs(10_000)),
        ("html: 50,000 attributes on one tag", "a.html", attrs(50_000)),
        ("html: 200,000 attributes on one tag", "a.html", attrs(200_000)),
        ("html: 10 MB ordinary page (200,000 paragraphs)", "a.html", "<p>hello world, this is a paragraph of text.</p>\n".repeat(200_000)),
        ("markdown: 50,000 nested block quotes", "a.md", "> ".repeat(n / 2) + "deep\n"),
        ("markdown: 100,000 unmatched [ then ](x)", "a.md", "[".repeat(n) + &"](x)".repeat(n)),
        ("markdown: 100,000 × *a **", "a.md", "*a **".repeat(n)),
        ("markdown: 10,000 nested list markers", "a.md", "- ".repeat(n / 10) + "x\n"),
        ("markdown: 10 MB ordinary file", "a.md", "## Section\n\nSome *text* with a [link](https://example.com).\n\n- one\n- two\n\n".repeat(130_000)),
    ];
    let limits = Limits::default();
    for (name, hint, input) in files {
        let size = input.len();
        let t = Instant::now();
        let outcome = match extract_with(bytes::Bytes::from(input), hint, &limits).await {
            Ok(doc) => format!("ok, {} bytes of text", doc.text.len()),
            Err(e) => format!("refused: {e}"),
        };
        println!("{name} ({} KB): {:.2} s — {outcome}", size / 1024, t.elapsed().as_secs_f64());
    }
    let robots: Vec<(&str, String)> = vec![
        ("robots.txt: 1,000 `$` rules (the budget)", "User-agent: *\n".to_owned() + &"Disallow: /x*y$\n".repeat(1_000)),
        ("robots.txt: 32,000 `$` rules (over the budget)", "User-agent: *\n".to_owned() + &"Disallow: /x*y$\n".repeat(32_000)),
        ("robots.txt: 12,000 rules of 20 `*` each", "User-agent: *\n".to_owned() + &"Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n".repeat(12_000)),
        ("robots.txt: 32,000 prefix rules", "User-agent: *\n".to_owned() + &"Disallow: /xy/z\n".repeat(32_000)),
    ];
    for (name, text) in robots {
        let t = Instant::now();
        let r = Robots::parse(&text);
        let parsed = t.elapsed();
        let t = Instant::now();
        let allowed = (0..300).filter(|i| r.allowed(&format!("/products/category-{i}/item-{i}.html?page=2"))).count();
        println!(
            "{name} ({} KB): read in {:.3} s; 300 URLs checked in {:.3} s ({allowed} allowed)",
            text.len() / 1024,
            parsed.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    }
    println!("profile: {}", if cfg!(debug_assertions) { "dev" } else { "release" });
    Ok(())
}
