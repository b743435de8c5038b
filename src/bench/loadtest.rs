//! `bellhop loadtest`: a whole cluster on this machine, driven by many bots and customers while
//! faults are injected — the measurement behind docs/scaling.md and BENCHMARKS.md.
//!
//! The cluster is what docker-compose.yml runs, as local processes: PostgreSQL (a server the
//! operator names, on which a fresh database is made), a Qdrant server (started here from its
//! binary, restarted for the Qdrant fault), one `bellhop serve --role web` and N `bellhop serve
//! --role worker` processes (this binary), the sandbox as Telegram (in this process, with
//! Telegram's rate limits enforced and counted), and an OpenAI-compatible stand-in as the model
//! (in this process: every answer takes `--model-latency-ms`, then streams a sentence of the
//! first source, so that it passes verification).
//!
//! Customers ask, wait for the answer, think, and ask again. Faults: `kill -9` of a worker every
//! `--kill-every` seconds (restarted at once), and at fixed points a PostgreSQL restart (with
//! `--postgres-restart`), a Qdrant restart and a 429 storm (the sandbox answers half of a quarter
//! of the bots' sends with 429 for 10 s). In the second half, one business floods
//! (`--flood-rate` messages a second over ten chats).
//!
//! Printed at the end: updates acknowledged, replies, lost and duplicated replies, Telegram-limit
//! breaches (the sandbox's counters), answer latency (customer's send → reply, end to end) p50 /
//! p99 for the quiet businesses before and during the flood, and the pipeline overhead (job start
//! → reply, model time excluded) from the workers' own `bellhop_answer_overhead_seconds`
//! histograms. The last line is JSON.
use crate::config::Config;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `bellhop loadtest`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// PostgreSQL server to use (a URL that may create databases); the run makes a fresh database.
    #[arg(long)]
    pub postgres: String,
    /// Shell command restarting that PostgreSQL server (the PostgreSQL fault); without it, that
    /// fault is skipped.
    #[arg(long)]
    pub postgres_restart: Option<String>,
    /// The Qdrant server binary (e.g. ../shared/qdrant/qdrant); started and restarted on loopback.
    #[arg(long)]
    pub qdrant_bin: PathBuf,
    /// Worker processes.
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// Jobs at once in each worker process (`jobs.concurrency`).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Businesses, each with its own bot and one document.
    #[arg(long, default_value_t = 500)]
    pub bots: usize,
    /// Customers per bot.
    #[arg(long, default_value_t = 4)]
    pub customers: usize,
    /// Length of the load phase.
    #[arg(long, default_value_t = 300)]
    pub seconds: u64,
    /// The model stand-in's time per answer.
    #[arg(long, default_value_t = 800)]
    pub model_latency_ms: u64,
    /// A worker killed with SIGKILL (and restarted) every this many seconds; 0: never.
    #[arg(long, default_value_t = 20)]
    pub kill_every: u64,
    /// Other faults, at a third, a half and two thirds of the run: `postgres`, `qdrant`, `429`;
    /// `none` for none.
    #[arg(long, value_delimiter = ',', default_value = "postgres,qdrant,429")]
    pub faults: Vec<String>,
    /// Messages a second from one flooding business in the second half; 0: no flood.
    #[arg(long, default_value_t = 0)]
    pub flood_rate: u64,
    /// Seconds a customer thinks between an answer and the next question (uniform in
    /// min..=max); 0 and 0 saturate the cluster (the throughput measurement).
    #[arg(long, default_value_t = 60)]
    pub think_min: u64,
    #[arg(long, default_value_t = 120)]
    pub think_max: u64,
    /// Keep every loopback port the run listens on within this range (`FIRST-LAST`, e.g.
    /// `19000-19099`): Qdrant's two, the web process's two, one per worker, the sandbox's and the
    /// model stand-in's. Without it, free ports are picked at random.
    #[arg(long, value_parser = parse_ports)]
    pub ports: Option<(u16, u16)>,
}

/// `--ports FIRST-LAST`.
fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("expected FIRST-LAST, e.g. 19000-19099, not `{s}`"))?;
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("`{p}` is not a port (1-65535)"));
    let (a, b) = (port(a)?, port(b)?);
    if a > b {
        return Err(format!("the range {a}-{b} is empty: the first port comes first"));
    }
    Ok((a, b))
}

/// Ports one run listens on: Qdrant's HTTP and gRPC, the web process's and its metrics port, one
/// metrics port per worker, the sandbox and the model stand-in.
fn ports_needed(workers: usize) -> usize {
    6 + workers
}

/// Whether `range` holds enough ports for a run with `workers` workers.
fn check_ports(range: (u16, u16), workers: usize) -> anyhow::Result<()> {
    let have = (range.1 - range.0) as usize + 1;
    let need = ports_needed(workers);
    anyhow::ensure!(
        have >= need,
        "--ports {}-{} has {have} port{}, and this run needs {need} (Qdrant 2, the web process 2, 1 per worker ({workers}), the sandbox 1, the model stand-in 1): widen the range",
        range.0,
        range.1,
        if have == 1 { "" } else { "s" }
    );
    Ok(())
}

/// The range `--ports` set for this run, if any.
static PORT_RANGE: Mutex<Option<(u16, u16)>> = Mutex::new(None);

/// A loopback port free now and never handed out before by this harness: the kernel may give a
/// released port again at once, and the harness binds most of its ports only later (in another
/// process), so two calls could otherwise return the same port (seen: Qdrant's HTTP and gRPC).
fn free_port() -> anyhow::Result<u16> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let range = *PORT_RANGE.lock().expect("ports");
    pick_port(range, &mut GIVEN.lock().expect("ports"))
}

/// A free loopback port not in `given` (then added to it): within `range` when there is one.
fn pick_port(range: Option<(u16, u16)>, given: &mut BTreeSet<u16>) -> anyhow::Result<u16> {
    let Some((first, last)) = range else {
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            if given.insert(port) {
                return Ok(port);
            }
        }
    };
    for port in first..=last {
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free port left in --ports {first}-{last} (the others are taken, by this run or by other programs): widen the range")
}

/// A listener on a free port ([`free_port`]: within `--ports` when set).
async fn listen_free() -> anyhow::Result<tokio::net::TcpListener> {
    Ok(tokio::net::TcpListener::bind(("127.0.0.1", free_port()?)).await?)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

// --- Qdrant ---------------------------------------------------------------------------------

struct Qdrant {
    bin: PathBuf,
    dir: PathBuf,
    http: u16,
    grpc: u16,
    child: Option<Child>,
}

impl Qdrant {
    async fn start(bin: &Path, dir: &Path) -> anyhow::Result<Qdrant> {
        std::fs::create_dir_all(dir)?;
        let mut q = Qdrant { bin: bin.to_owned(), dir: dir.to_owned(), http: free_port()?, grpc: free_port()?, child: None };
        q.spawn().await?;
        Ok(q)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("qdrant.log"))?;
        let child = Command::new(&self.bin)
            .current_dir(&self.dir)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", self.dir.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", self.dir.join("snapshots"))
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the Qdrant server {}", self.bin.display()))?;
        self.child = Some(child);
        let ready = format!("http://127.0.0.1:{}/readyz", self.http);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reqwest::get(&ready).await.is_ok_and(|r| r.status().is_success()) {
            anyhow::ensure!(Instant::now() < deadline, "the Qdrant server did not become ready (see {})", self.dir.join("qdrant.log").display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        self.spawn().await
    }
}

impl Drop for Qdrant {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// --- The bellhop processes -----------------------------------------------------------------------

struct Process {
    role: &'static str,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Child,
    /// `http.metrics_listen` of this process.
    metrics: u16,
}

impl Process {
    fn spawn(role: &'static str, env: &[(String, String)], log: &Path, metrics: u16) -> anyhow::Result<Process> {
        let exe = std::env::current_exe().context("locating the bellhop binary")?;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let mut c = Command::new(exe);
        for (k, _) in std::env::vars() {
            if k.starts_with("BELLHOP_") {
                c.env_remove(k);
            }
        }
        c.args(["serve", "--role", role]).envs(env.iter().map(|(k, v)| (k, v))).env("BELLHOP_METRICS_LISTEN", format!("127.0.0.1:{metrics}"));
        let child = c.stdout(Stdio::null()).stderr(out).spawn().context("starting bellhop serve")?;
        Ok(Process { role, env: env.to_vec(), log: log.to_owned(), child, metrics })
    }

    fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill()?; // SIGKILL
        self.child.wait()?;
        *self = Process::spawn(self.role, &self.env, &self.log, self.metrics)?;
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last scrape of each worker incarnation's answer-overhead histograms: the overhead in all
/// (series `all`) and by phase (series `before`, `retrieval`, …).
#[derive(Default)]
struct Overheads {
    /// Keyed by the worker's metrics port (one per worker) and its incarnation.
    last: HashMap<(u16, u64), Scrape>,
}

/// One scrape: (series, upper bound) → cumulative count, and series → sum of seconds.
#[derive(Default)]
struct Scrape {
    buckets: BTreeMap<(String, String), u64>,
    sums: BTreeMap<String, f64>,
}

/// A label's value in a Prometheus text line.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

impl Overheads {
    fn parse(text: &str) -> Scrape {
        let mut out = Scrape::default();
        for line in text.lines() {
            let series = if line.starts_with("bellhop_answer_overhead_seconds_") {
                "all"
            } else if line.starts_with("bellhop_answer_phase_seconds_") {
                let Some(p) = label(line, "phase") else { continue };
                p
            } else if line.starts_with("bellhop_answer_retrieval_step_seconds_") {
                match label(line, "step") {
                    Some("embed") => "step:embed",
                    Some("lookup") => "step:lookup",
                    Some("search") => "step:search",
                    Some("sentences") => "step:sentences",
                    _ => continue,
                }
            } else {
                continue;
            };
            let Some(Ok(n)) = line.split_whitespace().last().map(str::parse::<f64>) else { continue };
            if line.contains("_seconds_bucket{") {
                if let Some(le) = label(line, "le") {
                    out.buckets.insert((series.to_owned(), le.to_owned()), n as u64);
                }
            } else if line.contains("_seconds_sum") {
                out.sums.insert(series.to_owned(), n);
            }
        }
        out
    }

    /// `series`' buckets summed over every incarnation: (upper bound, cumulative count), ascending.
    fn total(&self, series: &str) -> Vec<(f64, u64)> {
        let mut sum: BTreeMap<&str, u64> = BTreeMap::new();
        for scrape in self.last.values() {
            for ((s, le), n) in &scrape.buckets {
                if s == series {
                    *sum.entry(le.as_str()).or_default() += n;
                }
            }
        }
        let mut v: Vec<(f64, u64)> = sum.into_iter().map(|(le, n)| (if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) }, n)).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    /// `series`' mean in milliseconds.
    fn mean_ms(&self, series: &str) -> f64 {
        let sum: f64 = self.last.values().filter_map(|s| s.sums.get(series)).sum();
        let count = self.total(series).last().map_or(0, |b| b.1);
        if count == 0 { 0.0 } else { 1000.0 * sum / count as f64 }
    }
}

/// Of cumulative buckets: the count, the share within 100 ms, and the bucket holding the p99.
fn summary(hist: &[(f64, u64)]) -> (u64, f64, f64) {
    let count = hist.last().map_or(0, |b| b.1);
    let within = hist.iter().find(|(le, _)| (*le - 0.1).abs() < 1e-9).map_or(0, |b| b.1);
    let p99 = hist.iter().find(|(_, n)| count > 0 && *n as f64 >= 0.99 * count as f64).map_or(f64::NAN, |b| b.0);
    (count, if count > 0 { within as f64 / count as f64 } else { 0.0 }, p99)
}

/// The answer phases, in the order they happen.
const PHASES: [&str; 5] = ["before", "retrieval", "generation", "store", "send"];

// --- The model stand-in -------------------------------------------------------------------------

/// The model stand-in: an OpenAI-compatible chat endpoint that waits `latency`, then answers with
/// the first sentence of source [1] of the prompt (streamed when asked), as OpenAI's wire format
/// has it. Returns its URL and how many chat completions it has answered.
async fn model_standin(latency: Duration) -> anyhow::Result<(String, Arc<std::sync::atomic::AtomicU64>)> {
    use axum::response::IntoResponse;
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = calls.clone();
    let chat = move |axum::Json(body): axum::Json<Value>| async move {
        tokio::time::sleep(latency).await;
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prompt: String = body["messages"].as_array().map(|m| m.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n")).unwrap_or_default();
        let text = first_source_sentence(&prompt).map(|s| format!("{s} [1].")).unwrap_or_else(|| "I don't know.".to_owned());
        let model = body["model"].as_str().unwrap_or("stand-in").to_owned();
        if body["stream"].as_bool() != Some(true) {
            return axum::Json(json!({"id": "chatcmpl-loadtest", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt.len() / 4, "completion_tokens": text.len() / 4, "total_tokens": (prompt.len() + text.len()) / 4}}))
            .into_response();
        }
        let chunk = |delta: Value, finish: Value| {
            let c = json!({"id": "chatcmpl-loadtest", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            format!("data: {c}\n\n")
        };
        let mut sse = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
        for word in text.split_inclusive(' ') {
            sse.push_str(&chunk(json!({"content": word}), Value::Null));
        }
        sse.push_str(&chunk(json!({}), Value::from("stop")));
        sse.push_str("data: [DONE]\n\n");
        ([("content-type", "text/event-stream")], sse).into_response()
    };
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat));
    let listener = listen_free().await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/v1"), calls))
}

/// The first sentence of source `[1]` in a prompt's last "Sources:" (its text on the line after
/// `[1] title`; the system message's "like [1] or [2]" is not a source).
fn first_source_sentence(prompt: &str) -> Option<String> {
    let at = prompt.rfind("Sources:\n[1] ")? + "Sources:\n".len();
    let mut lines = prompt[at + 4..].lines();
    let head = lines.next()?;
    let text = lines.next().filter(|l| !l.trim().is_empty() && !l.starts_with('[')).unwrap_or(head);
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    let s = text[..end].trim().trim_end_matches('.').trim();
    (!s.is_empty()).then(|| s.to_owned())
}

// --- Customers -------------------------------------------------------------------------------

/// One question a customer asked.
struct Asked {
    chat: i64,
    message_id: i64,
    at: Instant,
    /// Asked in the second half (the flood's), by a quiet business's customer.
    second_half: bool,
    flood: bool,
}

/// The private chats' messages seen in the sandbox, in order: (sent by the bot, message id, when
/// seen). In a private chat bellhop does not quote the question it answers, so a question's
/// replies are the bot's messages after it and before the customer's next message (customers ask
/// one question at a time).
#[derive(Default)]
struct Seen {
    chats: HashMap<i64, Vec<(bool, i64, Instant)>>,
    cursor: usize,
}

impl Seen {
    /// When the bot's replies to `message_id` in `chat` arrived.
    fn replies(&self, chat: i64, message_id: i64) -> Vec<Instant> {
        let Some(entries) = self.chats.get(&chat) else { return Vec::new() };
        let Some(at) = entries.iter().position(|(bot, id, _)| !bot && *id == message_id) else { return Vec::new() };
        entries[at + 1..].iter().take_while(|(bot, _, _)| *bot).map(|(_, _, t)| *t).collect()
    }
}

struct Shared {
    asked: Mutex<Vec<Asked>>,
    seen: Mutex<Seen>,
    wake: tokio::sync::Notify,
}

async fn say(http: &reqwest::Client, api: &str, user: i64, bot: i64, text: &str) -> anyhow::Result<i64> {
    let v: Value = http.post(format!("{api}/users/{user}/messages")).json(&json!({"bot_id": bot, "text": text})).send().await?.json().await?;
    v["result"]["message_id"].as_i64().with_context(|| format!("the sandbox refused a customer's message: {v}"))
}

const QUESTIONS: &[&str] = &["When do you open on weekdays?", "Can I return an item?", "What time do you close?", "Are you open on Saturday?"];

/// One customer of `bot`.
struct Customer {
    http: reqwest::Client,
    api: String,
    shared: Arc<Shared>,
    user: i64,
    bot: i64,
    /// The second half of the run starts at `half`; it ends at `end`.
    half: Instant,
    end: Instant,
    think: (u64, u64),
}

/// Ask, wait for the reply (up to a minute), think, ask again, until the end.
async fn customer(c: Customer) {
    use rand::Rng;
    let Customer { http, api, shared, user, bot, half, end, think } = c;
    let mut n = rand::random::<u32>() as usize;
    // Spread the first questions over the first think time.
    let first = rand::thread_rng().gen_range(0..=think.1.max(2) * 1000);
    tokio::time::sleep(Duration::from_millis(first)).await;
    while Instant::now() < end {
        n += 1;
        let Ok(message_id) = say(&http, &api, user, bot, QUESTIONS[n % QUESTIONS.len()]).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let at = Instant::now();
        shared.asked.lock().expect("asked lock").push(Asked { chat: user, message_id, at, second_half: at >= half, flood: false });
        let deadline = at + Duration::from_secs(60);
        loop {
            let wake = shared.wake.notified();
            if !shared.seen.lock().expect("seen lock").replies(user, message_id).is_empty() || Instant::now() > deadline {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), wake).await;
        }
        let pause = if think.1 == 0 { 0 } else { rand::thread_rng().gen_range(think.0 * 1000..=think.1 * 1000) };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

// --- The machine's speed, for comparing runs -------------------------------------------------

/// This machine's CPU time since boot, from `/proc/stat` (Linux): all, idle (with I/O wait) and
/// stolen by the hypervisor, in clock ticks; `None` elsewhere. All is the first eight fields
/// (user to steal): the guest fields after them are already counted in user and nice.
fn cpu_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).take(8).map(|x| x.parse().ok()).collect::<Option<_>>()?;
    Some((v.iter().sum(), v.get(3)? + v.get(4)?, *v.get(7).unwrap_or(&0)))
}

/// Cores busy on average between two [`cpu_ticks`] readings (time stolen counts as busy: the
/// core was not ours to use), and the share stolen.
fn busy_between(a: Option<(u64, u64, u64)>, b: Option<(u64, u64, u64)>, cores: usize) -> Option<(f64, f64)> {
    let ((t0, i0, s0), (t1, i1, s1)) = (a?, b?);
    let total = t1.checked_sub(t0).filter(|&t| t > 0)? as f64;
    Some(((total - i1.saturating_sub(i0) as f64) / total * cores as f64, s1.saturating_sub(s0) as f64 / total))
}

/// The median time, in ms, of embedding one customer question with the local model on one
/// thread, as a worker's merging thread does: the same build on the same machine, idle, is
/// faster or slower from one hour to the next (a virtual machine's host), and every answer's
/// overhead with it. Measured before and after the load, so runs can be compared.
async fn embedding_speed(models_dir: &Path) -> anyhow::Result<f64> {
    let model = crate::models::LocalMiniLm::load(models_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::task::spawn_blocking(move || {
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        one.install(|| {
            let mut times = Vec::with_capacity(100);
            for i in 0..110 {
                let t = Instant::now();
                model.embed_blocking(&[QUESTIONS[i % QUESTIONS.len()]]).map_err(|e| anyhow::anyhow!("{e}"))?;
                if i >= 10 {
                    times.push(t.elapsed());
                }
            }
            times.sort();
            Ok(ms(pct(&times, 0.5)))
        })
    })
    .await?
}

// --- The run ---------------------------------------------------------------------------------

pub async fn run(cfg: Config, o: Options) -> anyhow::Result<()> {
    if let Some(range) = o.ports {
        check_ports(range, o.workers)?;
    }
    *PORT_RANGE.lock().expect("ports") = o.ports;
    let work = tempfile::tempdir()?;
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());

    step("measuring this machine's speed (one question's embedding on one core, idle)");
    let speed_before = embedding_speed(&cfg.models_dir).await?;
    step("starting the Qdrant server");
    let mut qdrant = Qdrant::start(&o.qdrant_bin, &work.path().join("qdrant")).await?;
    step("creating a fresh PostgreSQL database");
    let database_url = fresh_database(&o.postgres).await?;
    let sandbox = crate::sandbox::Sandbox::new(crate::sandbox::SandboxOptions { enforce_limits: true, bot_create_limit: 2, ..Default::default() })?;
    let tg = sandbox.spawn(listen_free().await?).await?;
    let (model_url, model_calls) = model_standin(Duration::from_millis(o.model_latency_ms)).await?;

    let web_port = free_port()?;
    let master_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let env: Vec<(String, String)> = [
        ("BELLHOP_DATABASE_URL", database_url.clone()),
        ("BELLHOP_QDRANT_URL", qdrant.url()),
        ("BELLHOP_TELEGRAM_API_URL", tg.base_url.clone()),
        ("BELLHOP_MANAGER_TOKEN", tg.manager_token.expose().to_owned()),
        ("BELLHOP_MANAGER_WEBHOOK_SECRET", crate::manager::login::random_token()),
        ("BELLHOP_MASTER_KEY", master_key),
        ("BELLHOP_LISTEN", format!("127.0.0.1:{web_port}")),
        ("BELLHOP_PUBLIC_URL", format!("http://127.0.0.1:{web_port}")),
        ("BELLHOP_MODELS_DIR", cfg.models_dir.display().to_string()),
        ("BELLHOP_LLM_URL", model_url),
        ("BELLHOP_LLM_MODEL", "stand-in".to_owned()),
        ("BELLHOP_ANSWERING_MODEL_ANSWERS", "on".to_owned()),
        ("BELLHOP_ANSWERING_MIN_SENTENCE_SCORE_PERCENT", "0".to_owned()),
        ("BELLHOP_JOBS_CONCURRENCY", o.concurrency.to_string()),
        ("BELLHOP_JOBS_LEASE_SECONDS", "5".to_owned()),
        ("BELLHOP_JOBS_POLL_INTERVAL_MS", "100".to_owned()),
        ("BELLHOP_LOG_FORMAT", "json".to_owned()),
        // Warnings, and each answer over 100 ms with its phases (the report's "slow answers").
        ("BELLHOP_LOG", "warn,bellhop::slow_answer=info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let with_dir = |i: usize| {
        let mut e = env.clone();
        e.push(("BELLHOP_DATA_DIR".to_owned(), work.path().join(format!("p{i}")).display().to_string()));
        e
    };
    step(&format!("starting 1 web and {} worker processes", o.workers));
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut web = Process::spawn("web", &with_dir(0), &logs.join("web.log"), free_port()?)?;
    let ready = format!("http://127.0.0.1:{web_port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reqwest::get(&ready).await.is_ok_and(|r| r.status().is_success()) {
        anyhow::ensure!(Instant::now() < deadline, "the web process did not start (its log: {})", logs.join("web.log").display());
        anyhow::ensure!(web.child.try_wait()?.is_none(), "the web process exited: {}", tail(&logs.join("web.log")));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut workers = Vec::new();
    for i in 0..o.workers {
        workers.push(Process::spawn("worker", &with_dir(i + 1), &logs.join(format!("worker-{i}.log")), free_port()?)?);
    }

    // This process reads the database (bots live, sources ready) and adds the documents.
    let mut own = cfg.clone();
    own.database_url = crate::config::DatabaseUrl::parse(&database_url).map_err(anyhow::Error::msg)?;
    own.qdrant.url = Some(url::Url::parse(&qdrant.url())?);
    own.telegram.api_url = url::Url::parse(&tg.base_url)?;
    own.telegram.manager_token = Some(tg.manager_token.clone());
    own.data_dir = work.path().join("harness");
    own.secrets.master_key = env.iter().find(|(k, _)| k == "BELLHOP_MASTER_KEY").map(|(_, v)| crate::domain::Secret::new(v.clone()));
    let app = crate::app::Application::build(own, crate::app::Role::Worker, false).await?;
    let state = app.state.clone();

    let http = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    let api = format!("{}/sandbox/api", tg.base_url);
    let manager = state.manager.as_ref().context("manager bot")?.username.clone();
    let flood_bot = o.flood_rate > 0;
    let total_bots = o.bots + usize::from(flood_bot);
    step(&format!("onboarding {total_bots} bots through creation links"));
    let mut bots = Vec::new();
    for i in 0..total_bots {
        let owner: Value = http.post(format!("{api}/users")).json(&json!({"first_name": format!("Owner {i}")})).send().await?.json().await?;
        let owner = owner["result"]["id"].as_i64().context("owner id")?;
        let link = format!("https://t.me/newbot/{manager}/load_{i}_bot?name=Shop%20{i}");
        let req: Value = http.post(format!("{api}/users/{owner}/creation_links")).json(&json!({"link": link})).send().await?.json().await?;
        let id = req["result"]["id"].as_str().context("creation request")?.to_owned();
        let bot: Value = http.post(format!("{api}/creation_requests/{id}/confirm")).json(&json!({})).send().await?.json().await?;
        bots.push(bot["result"]["id"].as_i64().context("bot id")?);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let live: i64 = sqlx::query_scalar("select count(*) from bots where status = 'live'").fetch_one(&state.db.pool).await?;
        if live as usize >= total_bots {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {live} of {total_bots} bots went live");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    step("adding one document per business and reading them");
    let mut tenants = Vec::new();
    for (i, &bot) in bots.iter().enumerate() {
        let row = crate::storage::bots::managed_row(&state.db.pool, crate::domain::BotId(bot)).await?.context("bot row")?;
        let doc = format!(
            "# Shop {i}\n\n## Opening hours\n\nShop {i} opens at 9:00 every weekday and closes at 18:00. On Saturdays we open at 10:00.\n\n## Returns\n\nItems can be returned within 30 days with the receipt.\n"
        );
        let new = crate::storage::sources::NewSource { bot: Some(crate::domain::BotId(bot)), kind: "file", name: "shop.md", size_bytes: doc.len() as i64, content: Some(doc.as_bytes()), max_pages: None, recrawl_hours: None };
        crate::app::sources::add_source(&state, row.tenant_id, &new).await?;
        tenants.push(row.tenant_id);
    }
    // Ready (searchable), and every reading's job finished: its second step, the sentences'
    // vectors, must not run into the load.
    loop {
        let ready: i64 = sqlx::query_scalar("select count(*) from sources where status = 'ready'").fetch_one(&state.db.pool).await?;
        let reading: i64 = sqlx::query_scalar("select count(*) from jobs where queue = 'ingest' and state in ('queued', 'running')").fetch_one(&state.db.pool).await?;
        if ready as usize >= total_bots && reading == 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {ready} of {total_bots} documents were read in time ({reading} readings unfinished, the sentences' vectors, their second step, included)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    step(&format!("creating {} customers", o.bots * o.customers));
    let mut people = Vec::new();
    for (i, &bot) in bots.iter().take(o.bots).enumerate() {
        for c in 0..o.customers {
            let u: Value = http.post(format!("{api}/users")).json(&json!({"first_name": format!("Customer {i}.{c}"), "started_bots": [bot]})).send().await?.json().await?;
            people.push((u["result"]["id"].as_i64().context("customer id")?, bot));
        }
    }
    let mut flooders = Vec::new();
    if flood_bot {
        for c in 0..10 {
            let u: Value = http.post(format!("{api}/users")).json(&json!({"first_name": format!("Flooder {c}"), "started_bots": [bots[o.bots]]})).send().await?.json().await?;
            flooders.push(u["result"]["id"].as_i64().context("flooder id")?);
        }
    }

    // --- Load ---------------------------------------------------------------------------------
    let before = tg.sandbox.limit_stats();
    let calls_before = model_calls.load(std::sync::atomic::Ordering::Relaxed);
    let shared = Arc::new(Shared { asked: Mutex::default(), seen: Mutex::default(), wake: tokio::sync::Notify::new() });
    tg.sandbox.with_world(|w| shared.seen.lock().expect("seen").cursor = w.messages.len());
    let load_start = Instant::now();
    let load_start_ms = crate::storage::now_ms();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_at_start = cpu_ticks();
    let end = load_start + Duration::from_secs(o.seconds);
    let half = load_start + Duration::from_secs(o.seconds / 2);
    step(&format!("load: {} customers for {} s (think {}–{} s), model {} ms", people.len(), o.seconds, o.think_min, o.think_max, o.model_latency_ms));
    // Follows the sandbox's messages: every bot message replying to a customer's is recorded.
    let scanner = {
        let (shared, sandbox) = (shared.clone(), tg.sandbox.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let running = stop.clone();
        let task = tokio::spawn(async move {
            while !running.is_cancelled() {
                scan_world(&sandbox, &shared);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        (stop, task)
    };
    let mut tasks = tokio::task::JoinSet::new();
    for &(user, bot) in &people {
        tasks.spawn(customer(Customer { http: http.clone(), api: api.clone(), shared: shared.clone(), user, bot, half, end, think: (o.think_min, o.think_max) }));
    }
    if flood_bot {
        let (http, api, shared, flooders, bot, rate) = (http.clone(), api.clone(), shared.clone(), flooders.clone(), bots[o.bots], o.flood_rate);
        tasks.spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(half)).await;
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            let mut n = 0usize;
            while Instant::now() < end {
                tick.tick().await;
                n += 1;
                let user = flooders[n % flooders.len()];
                if let Ok(message_id) = say(&http, &api, user, bot, &format!("hello? {n}")).await {
                    shared.asked.lock().expect("asked").push(Asked { chat: user, message_id, at: Instant::now(), second_half: true, flood: true });
                }
            }
        });
    }

    // Faults.
    let faults: Vec<&str> = o.faults.iter().map(String::as_str).filter(|f| *f != "none").collect();
    let mut events = Vec::new();
    let mut next_kill = if o.kill_every > 0 { Some(load_start + Duration::from_secs(o.kill_every)) } else { None };
    let mut fault_points: Vec<(Instant, &str)> = Vec::new();
    // When each fault began and ended (epoch ms), for the slow answers' report.
    let mut windows: Vec<(&str, i64, i64)> = Vec::new();
    for f in &faults {
        let at = match *f {
            "postgres" => o.seconds / 3,
            "qdrant" => o.seconds / 2,
            "429" => 2 * o.seconds / 3,
            other => anyhow::bail!("unknown fault `{other}`: postgres, qdrant, 429 or none"),
        };
        fault_points.push((load_start + Duration::from_secs(at), f));
    }
    let mut overheads = Overheads::default();
    let mut incarnation = vec![0u64; workers.len()];
    let mut victim = 0usize;
    let mut storm_end: Option<(Instant, Vec<i64>)> = None;
    let mut last_scrape = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_scrape.elapsed() >= Duration::from_secs(2) {
            scrape(&http, &workers, &incarnation, &mut overheads).await;
            last_scrape = Instant::now();
        }
        if next_kill.is_some_and(|k| Instant::now() >= k) {
            let i = victim % workers.len();
            victim += 1;
            scrape(&http, &workers[i..=i], &incarnation[i..=i], &mut overheads).await;
            workers[i].kill_and_restart()?;
            incarnation[i] += 1;
            windows.push(("kill", crate::storage::now_ms(), crate::storage::now_ms()));
            events.push(format!("{:.0}s kill -9 worker {i}", load_start.elapsed().as_secs_f64()));
            next_kill = Some(Instant::now() + Duration::from_secs(o.kill_every));
        }
        if let Some((at, f)) = fault_points.first().copied()
            && Instant::now() >= at {
                fault_points.remove(0);
                let t = load_start.elapsed().as_secs_f64();
                let began = crate::storage::now_ms();
                match f {
                    "postgres" => match &o.postgres_restart {
                        Some(cmd) => {
                            let ok = tokio::process::Command::new("sh").arg("-c").arg(cmd).status().await?.success();
                            events.push(format!("{t:.0}s PostgreSQL restarted ({})", if ok { "ok" } else { "the command failed" }));
                            windows.push(("PostgreSQL restart", began, crate::storage::now_ms()));
                        }
                        None => events.push(format!("{t:.0}s PostgreSQL restart skipped (no --postgres-restart)")),
                    },
                    "qdrant" => {
                        qdrant.restart().await?;
                        events.push(format!("{t:.0}s Qdrant killed and restarted"));
                        windows.push(("Qdrant restart", began, crate::storage::now_ms()));
                    }
                    _ => {
                        let stormed: Vec<i64> = bots.iter().step_by(4).copied().collect();
                        http.post(format!("{api}/faults")).json(&json!({"bot_ids": stormed, "ratio": 0.5, "retry_after": 2})).send().await?;
                        events.push(format!("{t:.0}s 429 storm on {} bots for 10 s", stormed.len()));
                        storm_end = Some((Instant::now() + Duration::from_secs(10), stormed));
                        windows.push(("429 storm", began, began + 10_000));
                    }
                }
            }
        if let Some((at, stormed)) = &storm_end
            && Instant::now() >= *at {
                http.post(format!("{api}/faults")).json(&json!({"bot_ids": stormed, "ratio": 0.0})).send().await?;
                storm_end = None;
            }
    }
    let cpu_busy = busy_between(cpu_at_start, cpu_ticks(), cores);
    step("load done; waiting for the last answers (up to 90 s)");
    while tasks.join_next().await.is_some() {}
    let drain_deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending: i64 = sqlx::query_scalar("select count(*) from jobs where state in ('queued', 'running') and queue = 'default'").fetch_one(&state.db.pool).await.unwrap_or(1);
        if pending == 0 || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    scrape(&http, &workers, &incarnation, &mut overheads).await;
    scanner.0.cancel();
    let _ = scanner.1.await;
    scan_world(&tg.sandbox, &shared);
    let after = tg.sandbox.limit_stats();

    // --- Report -----------------------------------------------------------------------------
    let stored: i64 = sqlx::query_scalar("select count(*) from telegram_updates where tenant_id is not null").fetch_one(&state.db.pool).await?;
    let deliveries: Vec<(String, i64)> =
        sqlx::query_as("select delivery, count(*) from conversation_messages where author <> 'customer' group by delivery order by delivery").fetch_all(&state.db.pool).await?;
    let kinds: Vec<(String, i64)> =
        sqlx::query_as("select kind, count(*) from conversation_messages where author = 'bot' group by kind order by kind").fetch_all(&state.db.pool).await?;
    let calls = model_calls.load(std::sync::atomic::Ordering::Relaxed) - calls_before;
    let slowest = slowest_answers(&state.db.pool, &shared, &people, load_start, load_start_ms).await?;
    let slow_logged: Vec<SlowAnswer> = (0..workers.len()).flat_map(|i| slow_answers(&logs.join(format!("worker-{i}.log")))).collect();
    let slow_report = slow_answers_report(&slow_logged, &windows);
    let asked = shared.asked.lock().expect("asked");
    let seen = shared.seen.lock().expect("seen");
    let (mut lost, mut duplicated, mut replies) = (0usize, 0usize, 0usize);
    // Throughput: first replies that arrived in the steady part of the load phase (after its
    // first fifth, before its end), per second — not the replies sent while the harness waits
    // for the backlog afterwards.
    let steady = (load_start + Duration::from_secs(o.seconds) / 5, end);
    let mut steady_replies = 0usize;
    let (mut lat_a, mut lat_b) = (Vec::new(), Vec::new());
    let (mut flood_sent, mut flood_answered, mut flood_extra) = (0usize, 0usize, 0usize);
    for a in asked.iter() {
        let r = seen.replies(a.chat, a.message_id);
        let n = r.len();
        if a.flood {
            flood_sent += 1;
            flood_answered += n.min(1);
            // Not counted as duplicates: at 5 messages a second per chat, a late answer to one
            // burst lands after the next message and cannot be told from a second answer to it.
            flood_extra += n.saturating_sub(1);
            continue;
        }
        replies += n;
        if r.first().is_some_and(|t| *t >= steady.0 && *t < steady.1) {
            steady_replies += 1;
        }
        match r.first() {
            None => lost += 1,
            Some(t) => {
                let d = t.saturating_duration_since(a.at);
                if a.second_half { lat_b.push(d) } else { lat_a.push(d) }
            }
        }
        duplicated += n.saturating_sub(1);
    }
    lat_a.sort();
    lat_b.sort();
    let all: Vec<Duration> = {
        let mut v: Vec<Duration> = lat_a.iter().chain(lat_b.iter()).copied().collect();
        v.sort();
        v
    };
    let questions = asked.iter().filter(|a| !a.flood).count();
    let breaches = after.limit_breaches - before.limit_breaches;
    let early = after.early_retries - before.early_retries;
    let (count, within_100ms, p99_bucket) = summary(&overheads.total("all"));
    let phases: Vec<(&str, f64, f64, f64)> = PHASES
        .iter()
        .map(|p| {
            let (_, within, p99) = summary(&overheads.total(p));
            (*p, overheads.mean_ms(p), within, p99)
        })
        .collect();
    step("measuring this machine's speed again");
    let speed_after = embedding_speed(&cfg.models_dir).await?;
    let secs = o.seconds as f64;
    let throughput = steady_replies as f64 / (steady.1 - steady.0).as_secs_f64();
    println!("bellhop loadtest — 1 web + {} workers (concurrency {}), PostgreSQL + Qdrant server, {} bots × {} customers, model {} ms, {} s", o.workers, o.concurrency, o.bots, o.customers, o.model_latency_ms, o.seconds);
    println!(
        "machine: {cores} cores, {}; one question's embedding on one core, idle: {speed_before:.1} ms before the run, {speed_after:.1} ms after (median of 100)",
        cpu_busy.map_or_else(|| "load unknown (no /proc/stat)".to_owned(), |(busy, steal)| format!("{busy:.2} cores busy on average during the load ({:.1} % stolen)", 100.0 * steal))
    );
    for e in &events {
        println!("  fault: {e}");
    }
    println!("customer questions:       {questions} ({:.1}/s)", questions as f64 / secs);
    println!("updates acknowledged:     {stored} of {} customer messages (each stored before its acknowledgement)", asked.len());
    println!("replies to questions:     {replies} (bellhop's records, by delivery state: {deliveries:?})");
    println!("throughput:               {throughput:.2} answers/s (answers arriving in the last four fifths of the load phase)");
    println!("bot replies by kind:      {kinds:?}; model calls: {calls}");
    println!("lost (no reply):          {lost}");
    println!("duplicated replies:       {duplicated}");
    println!("Telegram-limit breaches:  {breaches} (and {early} sends inside a retry_after); 429s injected: {}", after.injected - before.injected);
    println!("answer latency, end to end (send → reply): p50 {} ms, p99 {} ms", ms(pct(&all, 0.5)), ms(pct(&all, 0.99)));
    println!("  quiet businesses, first half:  n={} p50 {} ms, p99 {} ms", lat_a.len(), ms(pct(&lat_a, 0.5)), ms(pct(&lat_a, 0.99)));
    println!("  quiet businesses, second half: n={} p50 {} ms, p99 {} ms{}", lat_b.len(), ms(pct(&lat_b, 0.5)), ms(pct(&lat_b, 0.99)), if flood_bot { format!(" (one business flooding {} msg/s)", o.flood_rate) } else { String::new() });
    if flood_bot {
        println!(
            "  flood: {flood_sent} messages, {flood_answered} answered (a burst in one chat is answered once); {flood_extra} more bot messages in the flooding chats (late answers to an earlier burst — bellhop's records hold at most one reply per message, see the delivery states)"
        );
    }
    println!("{slowest}");
    println!(
        "pipeline overhead (job start → reply, model time excluded; workers' histograms): {count} answers, {:.2} % within 100 ms, p99 ≤ {} s",
        100.0 * within_100ms,
        p99_bucket
    );
    println!("  by phase (mean; within 100 ms; p99 bucket): {}", phases.iter().map(|(p, mean, within, p99)| format!("{p} {mean:.0} ms, {:.1} %, ≤ {p99} s", 100.0 * within)).collect::<Vec<_>>().join(" · "));
    println!(
        "  retrieval by step (mean; within 100 ms): {}",
        STEPS
            .iter()
            .map(|st| {
                let series = format!("step:{st}");
                let (_, within, _) = summary(&overheads.total(&series));
                format!("{st} {:.1} ms, {:.1} %", overheads.mean_ms(&series), 100.0 * within)
            })
            .collect::<Vec<_>>()
            .join(" · ")
    );
    println!("{slow_report}");
    println!(
        "{}",
        json!({
            "workers": o.workers, "bots": o.bots, "customers": o.customers, "seconds": o.seconds, "model_latency_ms": o.model_latency_ms,
            "questions": questions, "messages": asked.len(), "throughput_per_s": throughput, "updates_stored": stored, "replies": replies, "model_calls": calls, "lost": lost, "duplicated": duplicated, "flood_extra_messages": flood_extra,
            "limit_breaches": breaches, "early_retries": early, "latency_p50_ms": ms(pct(&all, 0.5)), "latency_p99_ms": ms(pct(&all, 0.99)),
            "quiet_p99_first_half_ms": ms(pct(&lat_a, 0.99)), "quiet_p99_second_half_ms": ms(pct(&lat_b, 0.99)),
            "overhead_answers": count, "overhead_within_100ms": within_100ms, "overhead_p99_bucket_s": p99_bucket,
            "overhead_phases": phases.iter().map(|(p, mean, within, p99)| json!({"phase": p, "mean_ms": mean, "within_100ms": within, "p99_bucket_s": p99})).collect::<Vec<_>>(),
            "faults": events,
            "machine": {"cores": cores, "busy_cores": cpu_busy.map(|b| b.0), "steal_share": cpu_busy.map(|b| b.1), "embed_ms_before": speed_before, "embed_ms_after": speed_after},
        })
    );
    if lost + duplicated > 0 {
        let kept = work.keep();
        eprintln!("lost or duplicated replies: the processes' logs are kept in {}", kept.join("logs").display());
    }
    drop(asked);
    drop(seen);
    drop(workers);
    drop(web);
    tg.shutdown().await?;
    Ok(())
}

/// One answer over 100 ms, from a worker's slow-answer log line (see
/// `answering::limits::Overhead::record_sent`).
#[derive(Debug, Clone, Default, PartialEq)]
struct SlowAnswer {
    at_ms: i64,
    uptime_ms: i64,
    /// (phase, ms) for the five phases, then (retrieval step, ms) for its four steps.
    phases: Vec<(&'static str, i64)>,
    steps: Vec<(&'static str, i64)>,
}

const STEPS: [&str; 4] = ["embed", "lookup", "search", "sentences"];

/// The slow answers a worker's log (JSON lines, all its lives appended) holds.
fn slow_answers(log: &Path) -> Vec<SlowAnswer> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "bellhop::slow_answer")
        .map(|v| {
            let n = |k: &str| v[k].as_i64().unwrap_or(0);
            SlowAnswer {
                at_ms: n("at_ms"),
                uptime_ms: n("uptime_ms"),
                phases: PHASES.iter().map(|p| (*p, n(&format!("{p}_ms")))).collect(),
                steps: STEPS.iter().map(|p| (*p, n(&format!("{p}_ms")))).collect(),
            }
        })
        .collect()
}

/// What the slow answers had in common: the phase (and retrieval step) that took longest, and
/// the fault they came during — their own worker's first 15 s after a restart, up to 15 s
/// after another fault began (or a storm ended), up to 10 s after another worker's kill.
fn slow_answers_report(slow: &[SlowAnswer], windows: &[(&str, i64, i64)]) -> String {
    let mut largest: BTreeMap<&str, usize> = BTreeMap::new();
    let mut steps: BTreeMap<&str, usize> = BTreeMap::new();
    let mut during: BTreeMap<&str, usize> = BTreeMap::new();
    for a in slow {
        let top = |v: &[(&'static str, i64)]| v.iter().max_by_key(|p| p.1).map_or("?", |p| p.0);
        let phase = top(&a.phases);
        *largest.entry(phase).or_default() += 1;
        if phase == "retrieval" {
            *steps.entry(top(&a.steps)).or_default() += 1;
        }
        let cause = if a.uptime_ms < 15_000 {
            "its worker's first 15 s"
        } else if let Some(w) = windows.iter().find(|w| w.0 != "kill" && a.at_ms >= w.1 && a.at_ms <= w.2 + 15_000) {
            w.0
        } else if windows.iter().any(|w| w.0 == "kill" && a.at_ms >= w.1 && a.at_ms <= w.1 + 10_000) {
            "another worker's kill -9 (10 s)"
        } else {
            "no fault"
        };
        *during.entry(cause).or_default() += 1;
    }
    let list = |m: &BTreeMap<&str, usize>| m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
    format!(
        "  answers over 100 ms (workers' slow-answer log): {} — longest phase: {}; longest retrieval step: {}; during: {}",
        slow.len(),
        list(&largest),
        list(&steps),
        list(&during)
    )
}

/// Where the slowest 1 % of the answers' time went (median of each leg): the customer's message
/// reaching the web process (the sandbox's webhook, stored), its job finishing (queue wait and
/// run, retries included), and the reply reaching the sandbox after that.
async fn slowest_answers(pool: &sqlx::AnyPool, shared: &Shared, people: &[(i64, i64)], load_start: Instant, load_start_ms: i64) -> anyhow::Result<String> {
    let bot_of: HashMap<i64, i64> = people.iter().copied().collect();
    let updates: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("select bot_id, update_id, received_at, body from telegram_updates where tenant_id is not null").fetch_all(pool).await?;
    // (bot, chat, message id) → (update id, received at)
    let mut received: HashMap<(i64, i64, i64), (i64, i64)> = HashMap::new();
    for (bot, update_id, at, body) in updates {
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        if let (Some(chat), Some(id)) = (v["message"]["chat"]["id"].as_i64(), v["message"]["message_id"].as_i64()) {
            received.insert((bot, chat, id), (update_id, at));
        }
    }
    let jobs: Vec<(String, i64, i64)> = sqlx::query_as("select payload, updated_at, attempts from jobs where kind = 'bot.update' and state = 'done'").fetch_all(pool).await?;
    // (bot, update id) → (finished at, attempts)
    let finished: HashMap<(i64, i64), (i64, i64)> = jobs
        .into_iter()
        .filter_map(|(payload, at, attempts)| {
            let v: Value = serde_json::from_str(&payload).ok()?;
            Some(((v["bot_id"].as_i64()?, v["update_id"].as_i64()?), (at, attempts)))
        })
        .collect();
    let asked = shared.asked.lock().expect("asked");
    let seen = shared.seen.lock().expect("seen");
    let epoch = |t: Instant| load_start_ms + t.saturating_duration_since(load_start).as_millis() as i64;
    let mut answered: Vec<(i64, i64, i64)> = Vec::new(); // (latency, sent at, reply at), epoch ms
    // (chat, message id) → (message → stored, stored → job done, job done → reply, job attempts)
    let mut legs: HashMap<(i64, i64), (i64, i64, i64, i64)> = HashMap::new();
    for a in asked.iter().filter(|a| !a.flood) {
        let Some(reply) = seen.replies(a.chat, a.message_id).first().copied() else { continue };
        let (sent, reply) = (epoch(a.at), epoch(reply));
        answered.push((reply - sent, a.chat, a.message_id));
        let Some(bot) = bot_of.get(&a.chat) else { continue };
        let Some(&(update_id, at)) = received.get(&(*bot, a.chat, a.message_id)) else { continue };
        let Some(&(done, attempts)) = finished.get(&(*bot, update_id)) else { continue };
        legs.insert((a.chat, a.message_id), (at - sent, done - at, reply - done, attempts));
    }
    answered.sort_by_key(|a| std::cmp::Reverse(a.0));
    let n = (answered.len() / 100).max(1).min(answered.len());
    let mut web = Vec::new();
    let mut job = Vec::new();
    let mut after = Vec::new();
    let mut retried = 0;
    for (_, chat, id) in &answered[..n] {
        if let Some(&(w, j, r, attempts)) = legs.get(&(*chat, *id)) {
            web.push(w);
            job.push(j);
            after.push(r);
            retried += usize::from(attempts > 1);
        }
    }
    let median = |v: &mut Vec<i64>| {
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    Ok(format!(
        "  slowest 1 % ({} answers, from {} ms): median legs — message → stored {} ms, stored → job done {} ms, job done → reply seen {} ms; {} of their jobs ran more than once",
        n,
        answered.get(n.saturating_sub(1)).map_or(0, |a| a.0),
        median(&mut web),
        median(&mut job),
        median(&mut after),
        retried
    ))
}

fn scan_world(tg: &crate::sandbox::Sandbox, shared: &Shared) {
    let now = Instant::now();
    let mut seen = shared.seen.lock().expect("seen lock");
    let start = seen.cursor;
    let (new, len): (Vec<(i64, bool, i64)>, usize) = tg.with_world(|w| {
        let new = w.messages[start.min(w.messages.len())..].iter().filter(|e| e.chat_id > 0).map(|e| (e.chat_id, e.from_bot, e.message_id)).collect();
        (new, w.messages.len())
    });
    seen.cursor = len.max(start);
    for (chat, bot, id) in new {
        seen.chats.entry(chat).or_default().push((bot, id, now));
    }
    drop(seen);
    shared.wake.notify_waiters();
}

async fn scrape(http: &reqwest::Client, workers: &[Process], incarnation: &[u64], into: &mut Overheads) {
    for (w, inc) in workers.iter().zip(incarnation) {
        let url = format!("http://127.0.0.1:{}/metrics", w.metrics);
        if let Ok(r) = http.get(&url).timeout(Duration::from_secs(2)).send().await
            && let Ok(text) = r.text().await {
                let h = Overheads::parse(&text);
                if !h.buckets.is_empty() {
                    into.last.insert((w.metrics, *inc), h);
                }
            }
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A fresh database on the PostgreSQL server `admin`; returns its URL.
async fn fresh_database(admin: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin).await.context("connecting to --postgres")?;
    let name = format!("bellhop_loadtest_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("create database {name}")).execute(&mut conn).await?;
    let mut url = url::Url::parse(admin)?;
    url.set_path(&name);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_port_range_is_parsed_checked_and_kept_to() {
        use super::{check_ports, parse_ports, pick_port};
        assert_eq!(parse_ports("19000-19099"), Ok((19000, 19099)));
        assert!(parse_ports("19099-19000").unwrap_err().contains("empty"));
        assert!(parse_ports("19000").unwrap_err().contains("FIRST-LAST"));
        assert!(parse_ports("0-5").is_err() && parse_ports("1-70000").is_err());
        assert!(check_ports((19000, 19008), 3).is_ok());
        let e = check_ports((19000, 19007), 3).unwrap_err().to_string();
        assert!(e.starts_with("--ports 19000-19007 has 8 ports, and this run needs 9 ("), "{e}");
        // Kept within the range, never the same port twice, and a clear error when it runs out.
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = held.local_addr().unwrap().port();
        drop(held);
        let range = Some((base, base));
        let mut given = std::collections::BTreeSet::new();
        if let Ok(p) = pick_port(range, &mut given) {
            assert_eq!(p, base);
        }
        let e = pick_port(range, &mut given).unwrap_err().to_string();
        assert!(e.contains(&format!("no free port left in --ports {base}-{base}")), "{e}");
    }

    use std::sync::{Arc, Mutex};

    #[test]
    fn slow_answers_are_read_from_the_workers_json_log_and_put_down_to_their_fault() {
        use crate::answering::limits::{Overhead, Timing};
        use std::time::{Duration, Instant};
        // The worker's log as `telemetry::init` writes it (JSON, fields flattened).
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = {
            let buf = buf.clone();
            move || Capture(buf.clone())
        };
        let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_env_filter("warn,bellhop::slow_answer=info").with_writer(writer).finish();
        let ms = Duration::from_millis;
        let started = Instant::now() - ms(1100);
        let steps = crate::answering::compose::RetrievalSteps { embed: ms(200), search: ms(5), ..Default::default() };
        // 5 before, 250 retrieval, 35 generation, 5 store, at least 5 send.
        let t = Timing { answering: started + ms(5), retrieval: ms(250), steps, model: ms(800), answered: started + ms(1090) };
        tracing::subscriber::with_default(subscriber, || {
            Overhead::default().record_sent(started, &t, started + ms(1095), Duration::ZERO);
            // Started 300 ms later: 0 ms over the model's 800.
            Overhead::default().record_sent(started + ms(300), &t, started + ms(1095), Duration::ZERO);
        });
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("worker-0.log");
        std::fs::write(&log, [b"not json\n".as_slice(), &buf.lock().unwrap()].concat()).unwrap();
        let slow = super::slow_answers(&log);
        assert_eq!(slow.len(), 1, "only the answer over 100 ms is logged: {slow:?}");
        assert_eq!(slow[0].phases[..4], [("before", 5), ("retrieval", 250), ("generation", 35), ("store", 5)]);
        assert_eq!(slow[0].steps, [("embed", 200), ("lookup", 0), ("search", 5), ("sentences", 0)]);
        assert!(slow[0].uptime_ms >= 0 && slow[0].at_ms > 1_700_000_000_000, "{slow:?}");
        let at = slow[0].at_ms;
        let mut old = slow[0].clone();
        old.uptime_ms = 60_000;
        let report = super::slow_answers_report(&[slow[0].clone(), old.clone(), old.clone()], &[("Qdrant restart", at - 40_000, at - 30_000), ("kill", at - 5_000, at - 5_000)]);
        assert!(report.contains(": 3 — longest phase: retrieval 3; longest retrieval step: embed 3;"), "{report}");
        assert!(report.contains("during: another worker's kill -9 (10 s) 2, its worker's first 15 s 1"), "{report}");
        let report = super::slow_answers_report(&[old], &[("Qdrant restart", at - 20_000, at - 10_000)]);
        assert!(report.contains("during: Qdrant restart 1"), "{report}");
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_stand_in_answers_from_the_first_source_not_from_the_rules() {
        let prompt = "Rules.\n2. After each fact, cite the source it came from by its number in square brackets, like [1] or [2].\n3. If the sources do not contain the answer, reply with exactly this and nothing else: NO_ANSWER\nHi\nSources:\n[1] Opening hours\nShop 3 opens at 9:00 every weekday and closes at 18:00. On Saturdays we open at 10:00.\n\n[2] Returns\nItems can be returned.\n\nCustomer's question: When do you open?";
        assert_eq!(super::first_source_sentence(prompt).as_deref(), Some("Shop 3 opens at 9:00 every weekday and closes at 18:00"));
        assert_eq!(super::first_source_sentence("no sources here, like [1] or [2].\nmore"), None);
    }

    #[test]
    fn the_workers_overhead_histograms_are_read_in_all_and_by_phase() {
        use std::time::Duration;
        crate::metrics::record_answer_overhead(Duration::from_millis(40));
        crate::metrics::record_answer_phase("send", Duration::from_millis(30));
        crate::metrics::record_retrieval_step("sentences", Duration::from_millis(20));
        let scrape = super::Overheads::parse(&crate::metrics::render());
        let mut o = super::Overheads::default();
        o.last.insert((1, 0), scrape);
        for series in ["all", "send", "step:sentences"] {
            let (count, within, p99) = super::summary(&o.total(series));
            assert!(count >= 1 && within > 0.0 && p99.is_finite(), "{series}: {count} {within} {p99}");
            assert!(o.mean_ms(series) > 0.0, "{series}");
        }
        assert_eq!(o.total("nowhere"), vec![]);
    }

    #[test]
    fn the_machine_line_reads_cores_busy_and_stolen_between_two_readings() {
        // 1,000 ticks went by on 2 cores: 400 idle or waiting for I/O, 50 stolen.
        let (busy, steal) = super::busy_between(Some((10_000, 6_000, 100)), Some((11_000, 6_400, 150)), 2).unwrap();
        assert!((busy - 1.2).abs() < 1e-9 && (steal - 0.05).abs() < 1e-9, "{busy} {steal}");
        assert_eq!(super::busy_between(Some((10, 5, 0)), Some((10, 5, 0)), 2), None, "no time went by");
        assert_eq!(super::busy_between(None, Some((10, 5, 0)), 2), None);
        if cfg!(target_os = "linux") {
            let (total, idle, steal) = super::cpu_ticks().expect("/proc/stat read");
            assert!(total > 0 && idle <= total && steal <= total, "{total} {idle} {steal}");
        }
    }
}
