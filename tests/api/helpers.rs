//! `spawn_app()` and `TestApp`: bellhop started as it runs in production, on port 0, with a
//! fresh database on the engine under test.
use bellhop::config::{Config, Needs, RawSettings};
use bellhop::domain::{BotId, BotToken, TenantId, UserId};
use bellhop::app::{AppState, Application, Role};
use bellhop::storage::{self, Db};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

/// The engine under test.
pub fn engine() -> &'static str {
    match std::env::var("BELLHOP_TEST_DATABASE").as_deref() {
        Ok("postgres") => "postgres",
        Ok("sqlite") | Err(_) => "sqlite",
        Ok(other) => panic!("BELLHOP_TEST_DATABASE={other}: expected sqlite or postgres"),
    }
}

/// Logs of every test go to a file (scanned for leaked tokens by scripts/test.sh), at debug
/// level, so tests stay quiet on the console.
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(dir) = std::env::var("BELLHOP_TEST_LOG_DIR") else { return };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(std::path::Path::new(&dir).join(format!("api-{}-{}.log", engine(), std::process::id())))
            .expect("open test log");
        let _ = tracing_subscriber::fmt().with_env_filter("debug,sqlx=info,hyper=info,h2=info,rustls=info").with_writer(std::sync::Mutex::new(file)).with_ansi(false).try_init();
    });
}

/// Records a token the test used, so scripts/test.sh can prove no output contains it.
pub fn token_used(token: &str) {
    if let Ok(path) = std::env::var("BELLHOP_TEST_TOKEN_LOG") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("token log");
        writeln!(f, "{token}").expect("token log write");
    }
}

/// A fresh, empty database on the engine under test; returns its URL.
pub async fn fresh_database_url(data_dir: &std::path::Path) -> String {
    match engine() {
        "sqlite" => format!("sqlite://{}/bellhop.db", data_dir.display()),
        _ => {
            let admin = std::env::var("BELLHOP_TEST_POSTGRES_URL")
                .expect("BELLHOP_TEST_POSTGRES_URL is unset: run the suite with `bash scripts/test.sh`, which starts PostgreSQL");
            sqlx::any::install_default_drivers();
            use sqlx::Connection;
            let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
            let name = format!("bellhop_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(&format!("create database {name}")).execute(&mut conn).await.expect("create test database");
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            url.to_string()
        }
    }
}

/// Settings for a test app: everything explicit, nothing from the process environment.
pub struct TestSettings {
    pub values: BTreeMap<&'static str, String>,
}

impl TestSettings {
    /// Points bellhop at a sandbox as its Telegram, with the sandbox's manager bot.
    pub fn telegram(&mut self, tg: &crate::sandbox_support::TestSandbox) -> &mut Self {
        token_used(tg.manager().expose());
        self.set("BELLHOP_TELEGRAM_API_URL", tg.base.clone())
            .set("BELLHOP_MANAGER_TOKEN", tg.manager().expose().to_owned())
            .set("BELLHOP_MANAGER_WEBHOOK_SECRET", random_secret(40))
    }

    pub fn set(&mut self, env: &'static str, v: impl Into<String>) -> &mut Self {
        self.values.insert(env, v.into());
        self
    }

    pub fn config(&self, needs: Needs) -> Config {
        let raw = RawSettings::load(Some(std::path::Path::new("/dev/null")), &|k| self.values.get(k).cloned()).expect("test settings load");
        Config::from_raw(&raw, needs).expect("test settings are valid")
    }
}

pub struct TestApp {
    /// The local Telegram this app talks to.
    pub tg: crate::sandbox_support::TestSandbox,
    pub addr: SocketAddr,
    pub state: AppState,
    pub settings: TestSettings,
    pub http: reqwest::Client,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Default settings for a test app in `data_dir`, with a fresh database.
pub async fn test_settings(data_dir: &std::path::Path) -> TestSettings {
    let mut s = TestSettings { values: BTreeMap::new() };
    s.set("BELLHOP_DATA_DIR", data_dir.display().to_string())
        .set("BELLHOP_DATABASE_URL", fresh_database_url(data_dir).await)
        .set("BELLHOP_LISTEN", "127.0.0.1:0")
        .set("BELLHOP_LOG_FORMAT", "pretty")
        .set("BELLHOP_JOBS_POLL_INTERVAL_MS", "50")
        .set("BELLHOP_HTTP_SHUTDOWN_GRACE_SECONDS", "2");
    if let Ok(models) = std::env::var("BELLHOP_MODELS_DIR") {
        s.set("BELLHOP_MODELS_DIR", models);
    }
    if let Some(url) = qdrant_server() {
        s.set("BELLHOP_QDRANT_URL", url).set("BELLHOP_QDRANT_COLLECTION", fresh_collection());
    }
    s
}

/// The Qdrant server the index tests run against, when the suite runs its server-backend pass
/// (`BELLHOP_TEST_QDRANT_URL`, set by scripts/test.sh); unset: Qdrant Edge in-process.
pub fn qdrant_server() -> Option<String> {
    std::env::var("BELLHOP_TEST_QDRANT_URL").ok().filter(|u| !u.is_empty())
}

/// A collection name no other test uses, so tests sharing one Qdrant server start empty.
pub fn fresh_collection() -> String {
    format!("test_{}", uuid::Uuid::new_v4().simple())
}

/// Starts bellhop (web + workers) with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut TestSettings)) -> TestApp {
    spawn_app_as(Role::All, adjust).await
}

/// Starts bellhop in `role` (`Role::Web`: pages and webhooks, no job workers).
pub async fn spawn_app_as(role: Role, adjust: impl FnOnce(&mut TestSettings)) -> TestApp {
    init_logging();
    let tg = crate::sandbox_support::TestSandbox::start().await;
    // Kept while the process lives: the in-process index flushes its shards when the last
    // handle drops, which can be after a failing test unwinds. scripts/test.sh points TMPDIR at
    // a folder it removes at the end.
    let data_dir = tempfile::tempdir().expect("temp dir").keep();
    let mut settings = test_settings(&data_dir).await;
    settings.telegram(&tg);
    adjust(&mut settings);
    let cfg = settings.config(Needs::Serve);
    let app = Application::build(cfg, role, true).await.expect("bellhop starts");
    let addr = app.local_addr().expect("web role binds");
    let state = app.state.clone();
    let task = tokio::spawn(app.run(bellhop::web::router));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { tg, addr, state, settings, http, task: Some(task) }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Graceful shutdown of bellhop alone: its Telegram sandbox keeps running (a command such as
    /// `telegram move` runs against it next).
    pub async fn stop_serving(&mut self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.task.take().expect("running").await.expect("run task")
    }

    /// Graceful shutdown; returns what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.task.take().expect("running").await.expect("run task")
    }

    /// A tenant owned by `owner`, with one bot whose token and webhook secret are sealed.
    pub async fn create_bot(&self, owner: i64, bot_id: i64) -> (TenantId, BotToken, String) {
        let token = BotToken::parse(&format!("{bot_id}:{}", random_secret(35))).unwrap();
        let secret = random_secret(48);
        token_used(token.expose());
        let mut conn = self.db().pool.acquire().await.unwrap();
        let tenant = storage::tenants::find_or_create_for_owner(&mut conn, UserId(owner), "Test Business").await.unwrap();
        let bot = BotId(bot_id);
        let keys = &self.state.keys;
        let new = storage::bots::NewBot {
            id: bot,
            tenant_id: tenant.id,
            username: &format!("test{bot_id}_bot"),
            name: "Test Bot",
            token: keys.seal(token.expose().as_bytes(), &storage::bots::token_aad(bot)),
            webhook_secret: Some(keys.seal(secret.as_bytes(), &storage::bots::webhook_secret_aad(bot))),
        };
        assert!(storage::bots::insert(&mut conn, &new).await.unwrap());
        (tenant.id, token, secret)
    }

    /// A tenant owned by `owner`, signed in to the admin pages: returns (tenant, cookie, csrf).
    pub async fn signed_in_owner(&self, owner: i64, name: &str) -> (TenantId, String, String) {
        let mut conn = self.db().pool.acquire().await.unwrap();
        let tenant = storage::tenants::find_or_create_for_owner(&mut conn, UserId(owner), name).await.unwrap().id;
        drop(conn);
        let link = bellhop::manager::login::issue(self.db(), &self.state.cfg.public_url, tenant, UserId(owner)).await.unwrap();
        let r = self.sign_in(&link).await;
        assert_eq!(r.status(), 303);
        let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = self.http.get(self.url("/app")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        (tenant, cookie, html[at..at + 43].to_owned())
    }

    /// Signs in as a browser does: opens the login link (the confirm page and its cookie), then
    /// submits the page's form. Returns the response to the form.
    pub async fn sign_in(&self, link: &str) -> reqwest::Response {
        let page = self.http.get(link).send().await.unwrap();
        assert_eq!(page.status(), 200, "the sign-in link's page");
        let cookie = page.headers().get("set-cookie").expect("the confirm page's cookie").to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = page.text().await.unwrap();
        let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        let csrf = html[at..at + 43].to_owned();
        self.http.post(link).header("origin", self.url("")).header("cookie", cookie).form(&[("csrf", csrf)]).send().await.unwrap()
    }

    /// POSTs an update to a child bot's webhook.
    pub async fn post_update(&self, bot_id: i64, secret: Option<&str>, body: &serde_json::Value) -> reqwest::StatusCode {
        let mut req = self.http.post(self.url(&format!("/tg/bot/{bot_id}"))).json(body);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send().await.expect("request").status()
    }

    /// Waits until no job is queued or running (or panics after `timeout`).
    pub async fn drain_jobs(&self, timeout: Duration) {
        wait_until(timeout, || async {
            let counts = storage::jobs::count_by_state(&self.db().pool).await.unwrap();
            !counts.iter().any(|c| (c.state == "queued" || c.state == "running") && c.count > 0)
        })
        .await;
    }
}

pub fn random_secret(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// Polls `cond` every 20 ms until it holds; panics after `timeout` (a deadlock guard, not a
/// performance assertion).
pub async fn wait_until<F, Fut>(timeout: Duration, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until_or(timeout, cond, String::new).await
}

/// [`wait_until`], its panic message followed by what `explain` says then (a log's end, say).
pub async fn wait_until_or<F, Fut>(timeout: Duration, mut cond: F, explain: impl FnOnce() -> String)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond().await {
        if tokio::time::Instant::now() >= deadline {
            panic!("condition not reached within {timeout:?}{}", explain());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts rows of a table.
pub async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&db.pool).await.unwrap()
}
