//! The local Telegram: a Bot API server (`/bot<token>/<method>`) with Telegram's envelope,
//! errors and rate limits; update delivery by long polling or webhook; simulated users, private
//! chats and groups with privacy mode; the managed-bot world (a manager bot, creation links,
//! child bots and their tokens); Stars payments and subscriptions; a small web UI for people and
//! a JSON control API (`/sandbox/api/…`) for tests.
//!
//! Embedding: [`Sandbox::new`] → [`Sandbox::router`] to mount it yourself, or
//! [`Sandbox::spawn`] on a listener (port 0 in tests) → [`SandboxHandle`] with the base URL and
//! the manager bot's token. `bellhop sandbox` is [`run`].
//!
//! It must not be mistaken for Telegram: it listens on loopback by default, accepts plain-http
//! webhooks and any port, and keeps everything in memory unless `--state-file` is given.
mod bot_api;
mod control;
mod delivery;
mod faults;
mod limits;
mod local;
mod managed;
mod messaging;
mod params;
mod payments;
mod persist;
mod session;
mod text;
mod ui;
mod webapp;
mod world;

pub use limits::{Fault, LimitStats};
pub use world::World;

use bellhop_telegram::BotToken;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Options of `bellhop sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: std::net::SocketAddr,
    /// Username of the manager bot the sandbox creates at start.
    #[arg(long, default_value = "bellhop_manager_bot")]
    pub manager_username: String,
    /// The manager bot's token (default: generated; shown on the sandbox's front page, never logged).
    #[arg(long, env = "BELLHOP_SANDBOX_MANAGER_TOKEN", hide_env_values = true)]
    pub manager_token: Option<String>,
    /// Create the manager bot without Bot Management Mode (to see creation being refused).
    #[arg(long)]
    pub manager_cannot_manage_bots: bool,
    /// Save the world to this JSON file (and load it at start) so a demo survives a restart.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Do not enforce Telegram's rate limits.
    #[arg(long)]
    pub no_limits: bool,
    /// Play a self-hosted Bot API server (`telegram-bot-api --local`) for the bots of the
    /// sandbox at this URL, which plays Telegram: any token it knows is accepted here.
    #[arg(long, value_name = "CLOUD_SANDBOX_URL")]
    pub local: Option<String>,
    /// Also trust this PEM root certificate when delivering to an HTTPS webhook. Telegram trusts
    /// the public certificate authorities only; this lets a TLS terminator with a private CA
    /// (Caddy's `--internal-certs`, say) stand in for a public certificate in a rehearsal.
    #[arg(long, value_name = "PEM_FILE")]
    pub trust_ca: Option<PathBuf>,
}

/// How to build a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub manager_username: String,
    /// `None`: generate one.
    pub manager_token: Option<String>,
    pub manager_can_manage_bots: bool,
    pub state_file: Option<PathBuf>,
    /// Telegram gives bots 10 s to answer a pre-checkout query.
    pub precheckout_timeout: Duration,
    /// First webhook retry delay after a non-2xx; doubles up to 60 s.
    pub webhook_retry_base: Duration,
    /// Managed bots one user may own.
    pub bot_create_limit: usize,
    pub enforce_limits: bool,
    /// `Some(url)`: this sandbox is a self-hosted Bot API server in front of the sandbox at
    /// `url` (Telegram's cloud): it creates no manager bot and learns every bot from there by
    /// its token (`local.rs`).
    pub local_for: Option<String>,
    /// PEM root certificates trusted for HTTPS webhooks besides the public ones (`--trust-ca`).
    pub trusted_roots: Vec<Vec<u8>>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            manager_username: "bellhop_manager_bot".into(),
            manager_token: None,
            manager_can_manage_bots: true,
            state_file: None,
            precheckout_timeout: Duration::from_secs(10),
            webhook_retry_base: Duration::from_secs(1),
            bot_create_limit: 20,
            enforce_limits: true,
            local_for: None,
            trusted_roots: Vec::new(),
        }
    }
}

pub(crate) struct Shared {
    world: Mutex<World>,
    limiter: Mutex<limits::Limiter>,
    faults: Mutex<faults::Faults>,
    opts: SandboxOptions,
    http: reqwest::Client,
    checkouts: Mutex<std::collections::HashMap<String, oneshot::Sender<Result<(), String>>>>,
    shutdown: CancellationToken,
    dirty: AtomicBool,
    /// 0 on a local server until it learns the manager bot.
    manager_id: AtomicI64,
}

impl Shared {
    /// The world, for a short synchronous section. Never held across an await.
    fn world(&self) -> MutexGuard<'_, World> {
        self.dirty.store(true, Ordering::Relaxed);
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn limiter(&self) -> MutexGuard<'_, limits::Limiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn faults(&self) -> MutexGuard<'_, faults::Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn manager_id(&self) -> i64 {
        self.manager_id.load(Ordering::Relaxed)
    }
    fn set_manager_id(&self, id: i64) {
        self.manager_id.store(id, Ordering::Relaxed);
    }
}

/// An in-process Telegram; cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

impl Sandbox {
    /// Builds the world (from the state file, if one is given and exists) and registers the
    /// manager bot.
    pub fn new(opts: SandboxOptions) -> anyhow::Result<Self> {
        let mut world = match &opts.state_file {
            Some(path) if path.exists() => persist::load(path)?,
            _ => World::default(),
        };
        let manager_id = match world.bot_by_username(&opts.manager_username) {
            Some(b) => b.id,
            // A local server learns the manager like every bot, from the cloud (local.rs).
            None if opts.local_for.is_some() => 0,
            None => {
                if let Some(t) = &opts.manager_token {
                    BotToken::parse(t).context("the manager token is not a bot token")?;
                }
                world.add_bot(&opts.manager_username, "bellhop manager", opts.manager_token.clone(), opts.manager_can_manage_bots)
            }
        };
        if let Some(b) = world.bots.get_mut(&manager_id) {
            b.can_manage_bots = opts.manager_can_manage_bots;
        }
        // Started again from its state file: a bot with a webhook is launched at once, as a Bot
        // API server restores its webhooks at start (session.rs).
        let now = world.now();
        for b in world.bots.values_mut() {
            b.launched_at = b.webhook.as_ref().map(|_| now);
        }
        // Telegram does not follow redirects when delivering to a webhook: a 3xx is a failed delivery.
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(30)).no_proxy().redirect(reqwest::redirect::Policy::none());
        for pem in &opts.trusted_roots {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(pem).context("reading a trusted root certificate (PEM)")?);
        }
        let http = http.build().context("building the webhook HTTP client")?;
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            limiter: Mutex::new(limits::Limiter::new(opts.enforce_limits)),
            faults: Mutex::default(),
            opts,
            http,
            checkouts: Mutex::default(),
            shutdown: CancellationToken::new(),
            dirty: AtomicBool::new(true),
            manager_id: AtomicI64::new(manager_id),
        });
        Ok(Self { shared })
    }

    /// The Bot API, the control API and the UI, to mount in any axum server. Webhook loops are
    /// started when the first request arrives or by [`Sandbox::spawn`].
    pub fn router(&self) -> axum::Router {
        delivery::resume_webhooks(&self.shared);
        axum::Router::new()
            .merge(control::routes())
            .merge(ui::routes())
            .route("/{bot_token}/{method}", axum::routing::any(bot_api::handle))
            .with_state(self.shared.clone())
    }

    /// The manager bot's token.
    pub fn manager_token(&self) -> BotToken {
        let w = self.shared.world();
        let raw = w.bots.get(&self.shared.manager_id()).map(|b| b.token.clone()).unwrap_or_default();
        BotToken::parse(&raw).expect("the sandbox issues well-formed tokens")
    }

    /// The manager bot's id.
    pub fn manager_id(&self) -> i64 {
        self.shared.manager_id()
    }

    /// Read access to the world (for in-process tests and the demo).
    pub fn with_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.shared.world())
    }

    /// Counters of the rate limiter.
    pub fn limit_stats(&self) -> LimitStats {
        self.shared.limiter().stats.clone()
    }

    /// Serves on `listener` until [`SandboxHandle::shutdown`]; saves state periodically.
    pub async fn spawn(self, listener: tokio::net::TcpListener) -> anyhow::Result<SandboxHandle> {
        let addr = listener.local_addr().context("reading the sandbox's address")?;
        let base_url = format!("http://{addr}");
        let app = self.router();
        let token = self.shared.shutdown.clone();
        let server = tokio::spawn({
            let token = token.clone();
            async move {
                axum::serve(listener, app).with_graceful_shutdown(async move { token.cancelled().await }).await.context("sandbox server")
            }
        });
        if self.shared.opts.state_file.is_some() {
            tokio::spawn(persist::autosave(self.shared.clone()));
        }
        if let Some(cloud) = self.shared.opts.local_for.clone()
            && self.shared.manager_id() == 0
        {
            // A local server knows the manager bot once it is used; the handle names it at once.
            let state: serde_json::Value = self.shared.http.get(format!("{}/sandbox/api/state", cloud.trim_end_matches('/'))).send().await.context("reaching the cloud sandbox")?.json().await.context("reading the cloud sandbox's state")?;
            let id = state["result"]["manager_id"].as_i64().unwrap_or_default();
            let token = state["result"]["bots"].as_array().and_then(|bots| bots.iter().find(|b| b["id"].as_i64() == Some(id))).and_then(|b| b["token"].as_str()).context("the cloud sandbox has no manager bot")?.to_owned();
            local::learn(&self.shared, &token).await.context("the cloud sandbox does not know its manager bot")?;
        }
        let manager_token = self.manager_token();
        Ok(SandboxHandle { base_url, manager_token, sandbox: self, server })
    }
}

/// A running sandbox.
pub struct SandboxHandle {
    /// `http://127.0.0.1:<port>`: the Bot API base URL, and the UI.
    pub base_url: String,
    pub manager_token: BotToken,
    pub sandbox: Sandbox,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl SandboxHandle {
    /// Stops serving, stops webhook loops and writes the state file.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.sandbox.shared.shutdown.cancel();
        let result = self.server.await.context("sandbox server task")?;
        persist::save_now(&self.sandbox.shared)?;
        result
    }
}

/// `bellhop sandbox`: runs until `shutdown` is cancelled.
pub async fn run(args: SandboxArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let opts = SandboxOptions {
        manager_username: args.manager_username,
        manager_token: args.manager_token,
        manager_can_manage_bots: !args.manager_cannot_manage_bots,
        state_file: args.state_file,
        enforce_limits: !args.no_limits,
        local_for: args.local,
        trusted_roots: match &args.trust_ca {
            Some(f) => vec![std::fs::read(f).with_context(|| format!("reading --trust-ca {}", f.display()))?],
            None => Vec::new(),
        },
        ..Default::default()
    };
    let sandbox = Sandbox::new(opts)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let handle = sandbox.spawn(listener).await?;
    tracing::info!(base_url = %handle.base_url, manager_bot_id = handle.sandbox.manager_id(), "sandbox listening; UI at the base URL");
    // The manager token is shown on the UI's front page (it is a sandbox token), never logged.
    println!("sandbox listening on {} (UI and Bot API)", handle.base_url);
    shutdown.cancelled().await;
    handle.shutdown().await
}
