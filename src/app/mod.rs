//! The application layer: configuration in, a running application out, and the wiring between
//! the HTTP edge and the domain. `main` calls [`Application::build`] then [`Application::run`];
//! tests do the same on port 0.
//!
//! - [`AppState`] (`state`): what handlers and jobs share, and the narrow handles the domain
//!   modules are given (a `Billing`, an `Answering`, a `SharedRetriever`, `ChildBots`, …).
//! - [`jobs`]: every job kind, its payload and its handler, and the registry of them.
//! - [`updates`]: the routing of child-bot and manager-bot updates to domain code.
//! - [`sources`]: storing and (re-)queueing owners' sources; the re-crawl scheduler.
//! - [`lifecycle`]: pausing, a new token, disconnecting and deleting a bot, as its owner asks.
//! - [`parking`]: the plan's number of bots — a bot past it is parked, and provisioned on upgrade.
//! - [`ingress`]: the group-committing writer behind the webhooks (and long polling).
//! - [`polling`]: long polling (`telegram.updates = "polling"`): every bot on `getUpdates`.
//! - [`moving`]: `bellhop telegram move`: every bot to another Bot API server.
//! - `server`: the HTTP server loop (header timeout, peer addresses, graceful shutdown).
//!
//! Dependencies point one way (see `lib.rs`): `web` and the CLI use this layer; this layer uses
//! the domain modules; the domain modules never use this layer or `web`.
pub mod account;
pub mod health;
pub mod ingress;
pub mod jobs;
pub mod lifecycle;
pub mod moving;
pub mod parking;
pub mod polling;
mod server;
pub mod sources;
mod state;
pub mod updates;

pub use state::AppState;

use crate::config::{Config, Updates};
use crate::crypto::KeyRing;
use crate::jobs::{Queue, Workers};
use crate::storage::Db;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Which parts of bellhop this process runs. Processes are stateless: run as many web and
/// worker processes as needed against one PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// HTTP only: pages, webhooks (they enqueue jobs for workers elsewhere).
    Web,
    /// Job workers only.
    Worker,
    /// Both (the default).
    All,
}

impl Role {
    /// `web` and `worker` are one process of several (on this machine or others), which share
    /// nothing but the database and the vector index: refuses a configuration whose storage
    /// belongs to one process — Qdrant Edge (the in-process index, used when `qdrant.url` is
    /// unset) takes an exclusive lock on each tenant's shard, and SQLite is one file on one
    /// machine. `all` (one process) works with either.
    pub fn check_deployment(self, cfg: &Config) -> anyhow::Result<()> {
        let role = match self {
            Role::All => return Ok(()),
            Role::Web => "web",
            Role::Worker => "worker",
        };
        let mut missing = Vec::new();
        if cfg.qdrant.url.is_none() {
            missing.push(
                "qdrant.url (BELLHOP_QDRANT_URL) is unset, so the index is Qdrant Edge inside this process, \
                 which only one process can open: point qdrant.url at a Qdrant server",
            );
        }
        if matches!(cfg.database_url, crate::config::DatabaseUrl::Sqlite(_)) {
            missing.push("database_url is SQLite, a file one machine's processes cannot safely share under load: use PostgreSQL");
        }
        if missing.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "`serve --role {role}` runs as one of several processes that share only PostgreSQL and a Qdrant server, but {}. \
             (For a single process, run `serve` or `serve --role all`.)",
            missing.join("; and ")
        )
    }
}

/// The Bot API server `bellhop telegram move` stored overrides `telegram.api_url` (`moving`);
/// while a move is unfinished bellhop does not start — some bots are on each server.
async fn bot_api_server(db: &Db, cfg: &mut Config) -> anyhow::Result<()> {
    let Some(server) = crate::storage::telegram_server::current(&db.pool).await? else { return Ok(()) };
    if let Some(leaving) = &server.leaving {
        anyhow::bail!(
            "`bellhop telegram move` is moving the bots from {leaving} to {to} and has not finished: run `bellhop telegram move --to {to}` \
             again to finish it, then start bellhop",
            to = server.api_url
        );
    }
    let stored = url::Url::parse(&server.api_url).context("the Bot API server stored by `bellhop telegram move`")?;
    if stored.as_str().trim_end_matches('/') != cfg.telegram.api_url.as_str().trim_end_matches('/') {
        tracing::warn!(
            configured = %cfg.telegram.api_url, used = %stored,
            "the bots were moved by `bellhop telegram move`: using the Bot API server it stored instead of telegram.api_url; set telegram.api_url to it"
        );
        cfg.telegram.api_url = stored;
    }
    Ok(())
}

/// The HTTP routes a web role serves: `web::router`, handed down by the caller (the HTTP edge
/// sits above this layer, so this layer never names it).
pub type HttpRoutes = fn(AppState) -> axum::Router;

pub struct Application {
    pub state: AppState,
    listener: Option<TcpListener>,
    /// `http.metrics_listen`: the internal `/metrics` port, in every role.
    metrics_listener: Option<TcpListener>,
    role: Role,
    ingress_writer: ingress::Writer,
}

/// Loads what answering needs before a worker takes jobs: the retriever (embedding model and
/// index connection, with one embedding made so its first real one is not slower), when model
/// answers are on the chat model, a database connection for each job slot (the pool keeps
/// them open), and answering's tables made on first use ([`crate::answering::warm_up`]), so the
/// first jobs do not each pay for these. A failure is logged and left to the
/// jobs, which try again and report it as they do without a warm-up.
async fn warm_up(state: &AppState) {
    let started = std::time::Instant::now();
    let slots = state.cfg.jobs.concurrency.min(state.db.pool.options().get_max_connections() as usize);
    let connections = futures::future::join_all((0..slots).map(|_| state.db.pool.acquire())).await;
    if let Some(Err(e)) = connections.iter().find(|c| c.is_err()) {
        tracing::warn!(error = %e, "could not open the database connections before taking jobs");
    }
    drop(connections);
    if let Err(e) = tokio::task::spawn_blocking(crate::answering::warm_up).await {
        tracing::warn!(error = %e, "answering's warm-up failed");
    }
    match state.retriever.get().await {
        Ok(r) => {
            if let Err(e) = r.embedder().embed(&["warm-up"]).await {
                tracing::warn!(error = %e, "the embedding model failed its warm-up embedding");
            }
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not load the retriever before taking jobs; jobs will try again"),
    }
    if state.cfg.answering.model_answers {
        let _ = state.model.get().await;
    }
    tracing::info!(took_ms = started.elapsed().as_millis() as u64, "models loaded; taking jobs");
}

impl Application {
    /// Opens the key ring, connects and migrates the database, and binds the port (web roles).
    /// `create_keys`: generate a key ring file if none exists (zero-config `demo`).
    pub async fn build(cfg: Config, role: Role, create_keys: bool) -> anyhow::Result<Application> {
        let (keys, created) = KeyRing::load(&cfg.secrets, create_keys)?;
        if created {
            tracing::warn!(file = %cfg.secrets.key_file.display(), "generated a new master key (mode 0600); back it up — without it stored bot tokens cannot be read");
        }
        crate::storage::files::create_private_dir(&cfg.data_dir).with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
        crate::storage::files::warn_if_shared(&cfg.data_dir);
        let db = Db::connect(&cfg.database_url).await?;
        db.migrate().await?;
        let mut cfg = cfg;
        bot_api_server(&db, &mut cfg).await?;
        let listener = match role {
            Role::Web | Role::All => Some(TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {} (listen)", cfg.listen))?),
            Role::Worker => None,
        };
        let metrics_listener = match cfg.http.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr} (http.metrics_listen)"))?),
            None => None,
        };
        // Listening on port 0 (tests): links and webhooks must name the port actually bound.
        if let (Some(l), Some(0)) = (&listener, cfg.public_url.port()) {
            let _ = cfg.public_url.set_port(Some(l.local_addr()?.port()));
        }
        let queue = Queue::new(db.clone(), &cfg.jobs);
        let mut telegram = crate::telegram::Client::new(cfg.telegram.api_url.as_str())?
            .with_observer(crate::metrics::record_telegram_call)
            .with_throttle(crate::telegram::ThrottleLimits::default());
        // Several processes on PostgreSQL may send for one bot: Telegram's limits are booked in
        // the database so that they hold for all of them together.
        if cfg.telegram.shared_limits.unwrap_or(matches!(db.engine, crate::storage::Engine::Postgres)) {
            telegram = telegram.with_pacer(Arc::new(crate::storage::pacing::DbPacer::new(db.clone())));
        }
        let manager = match &cfg.telegram.manager_token {
            Some(token) => {
                let m = crate::manager::setup::connect(&telegram, token.clone()).await?;
                let web = matches!(role, Role::Web | Role::All);
                match (&cfg.telegram.updates, &cfg.telegram.manager_webhook_secret) {
                    (Updates::Polling, _) if web => {
                        crate::manager::setup::register_for_polling(&m).await?;
                        tracing::info!(manager = %m.username, "manager bot on long polling (webhook removed)");
                    }
                    (Updates::Webhook, Some(secret)) if web => {
                        crate::manager::setup::register(&m, &cfg.public_url, secret).await?;
                        tracing::info!(manager = %m.username, "manager bot webhook registered");
                    }
                    _ => {}
                }
                if web {
                    // The onboarding Mini App behind the menu button; not worth refusing to start.
                    if let Err(e) = crate::manager::miniapp::register_menu_button(&m, &cfg.public_url, cfg.telegram.is_telegram_cloud()).await {
                        tracing::warn!(error = %e, "could not set the manager bot's menu button (the Mini App)");
                    }
                }
                Some(m)
            }
            None => None,
        };
        let (ingress, ingress_writer) = ingress::Ingress::new(db.clone(), queue.clone());
        let state = AppState::new(cfg, db, keys, queue, telegram, manager, ingress);
        // Back from long polling: the bots that were polled get their webhooks again.
        if matches!(role, Role::Web | Role::All) && state.cfg.telegram.updates == Updates::Webhook {
            polling::back_to_webhooks(&state).await?;
        }
        Ok(Application { state, listener, metrics_listener, role, ingress_writer })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The internal metrics port's address, when `http.metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until the shutdown token is cancelled (or a part fails), serving `http` in web roles,
    /// then shuts down gracefully: stop accepting, finish in-flight requests, let jobs finish
    /// within the grace period, hand back the leases of the rest.
    ///
    /// Every part runs as a tracked task — the web server, the webhook ingress writer, the job
    /// workers, the re-crawl scheduler: when one fails or stops on its own, the failure is
    /// reported and the rest are shut down; `run` then returns the error.
    pub async fn run(self, http: HttpRoutes) -> anyhow::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let grace = self.state.cfg.http.shutdown_grace;
        let mut tasks = tokio::task::JoinSet::new();
        // The ingress writer outlives the web server: requests still in flight during a graceful
        // shutdown get their updates stored before the writer stops.
        let writer_stop = match self.listener {
            Some(listener) => {
                let app = http(self.state.clone());
                let token = shutdown.clone();
                let served = CancellationToken::new();
                let done = served.clone();
                let header_timeout = self.state.cfg.http.header_timeout;
                tracing::info!(addr = %listener.local_addr()?, "web server listening");
                // Long polling feeds the ingress writer like the web server: the writer stops
                // after both.
                let poller = (self.state.cfg.telegram.updates == Updates::Polling).then(|| polling::run(self.state.clone(), shutdown.clone()));
                tasks.spawn(async move {
                    let polled = async move {
                        match poller {
                            Some(p) => p.await.context("long polling"),
                            None => Ok(()),
                        }
                    };
                    let ((), polled) = tokio::join!(server::serve(listener, app, header_timeout, token), polled);
                    done.cancel();
                    polled?;
                    Ok::<_, anyhow::Error>("web server")
                });
                served
            }
            None => shutdown.clone(),
        };
        if let Some(listener) = self.metrics_listener {
            let token = shutdown.clone();
            tracing::info!(addr = %listener.local_addr()?, "metrics, health and readiness listening (http.metrics_listen)");
            // The same connection rules as the web server (headers within the timeout).
            let header_timeout = self.state.cfg.http.header_timeout;
            let routes = health::internal_router(self.state.clone());
            tasks.spawn(async move {
                server::serve(listener, routes, header_timeout, token).await;
                Ok::<_, anyhow::Error>("metrics server")
            });
        }
        let writer = self.ingress_writer;
        tasks.spawn(async move {
            writer.run(writer_stop).await.context("webhook ingress writer")?;
            Ok("webhook ingress writer")
        });
        let (db, role, token) = (self.state.db.clone(), self.role, shutdown.clone());
        tasks.spawn(async move {
            heartbeat(db, role, token).await;
            Ok("process heartbeat")
        });
        if matches!(self.role, Role::Worker | Role::All) {
            let workers = Workers {
                queue: self.state.queue.clone(),
                registry: Arc::new(jobs::registry()),
                state: self.state.clone(),
                cfg: self.state.cfg.jobs.clone(),
                grace,
            };
            let token = shutdown.clone();
            // A dedicated worker loads its models before it takes a job: otherwise the first
            // jobs after every (re)start wait for the load, and count it as their own time.
            let warm = (self.role == Role::Worker).then(|| self.state.clone());
            tasks.spawn(async move {
                if let Some(state) = warm {
                    tokio::select! {
                        () = warm_up(&state) => {}
                        () = token.cancelled() => {}
                    }
                }
                workers.run(token).await?;
                Ok("job workers")
            });
            let state = self.state.clone();
            tasks.spawn(async move {
                sources::recrawl_scheduler(state, std::time::Duration::from_secs(300)).await.context("re-crawl scheduler")?;
                Ok("re-crawl scheduler")
            });
            let state = self.state.clone();
            tasks.spawn(async move {
                lifecycle::handoff_timeouts(state, std::time::Duration::from_secs(20)).await;
                Ok("handoff timeouts")
            });
            let state = self.state.clone();
            tasks.spawn(async move {
                account::erasure(state, std::time::Duration::from_secs(300)).await;
                Ok("account erasure")
            });
            let (db, retention, token) = (self.state.db.clone(), self.state.cfg.retention.clone(), shutdown.clone());
            tasks.spawn(async move {
                crate::storage::retention::run(db, retention, jobs::names(), token).await;
                Ok("retention purge")
            });
        }
        let mut result = Ok(());
        // Once stopping, the parts get the grace period and a little more. A part still running
        // then waits on something that may never come (a database held by someone else, the
        // result of a finished job that cannot be written): it is left behind, so that the
        // process ends. Nothing is lost: unfinished and unrecorded jobs stay in the job queue
        // and run again once their lease runs out.
        let deadline = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                tokio::time::sleep(grace + STOP_AFTER_GRACE).await;
            }
        };
        tokio::pin!(deadline);
        loop {
            let done = tokio::select! {
                done = tasks.join_next() => match done {
                    Some(done) => done,
                    None => break,
                },
                () = &mut deadline => {
                    tracing::warn!(
                        parts = tasks.len(),
                        "still stopping after the grace period (is the database stuck?); stopping anyway — jobs not finished or not recorded stay queued and run again after the restart"
                    );
                    tasks.abort_all();
                    break;
                }
            };
            let outcome = done.context("a task panicked").and_then(|r| r);
            match &outcome {
                Ok(part) if !shutdown.is_cancelled() => tracing::error!(part, "stopped unexpectedly; shutting down the rest"),
                Ok(part) => tracing::info!(part, "stopped"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "failed; shutting down the rest"),
            }
            if let Err(e) = outcome {
                result = Err(e);
            }
            shutdown.cancel();
        }
        result
    }
}

/// Records this process as running (`storage::processes`) every few seconds until `stop`, then
/// removes it: `bellhop telegram move` refuses while any process is seen. A failed beat is only
/// logged — the process keeps serving.
async fn heartbeat(db: crate::storage::Db, role: Role, stop: CancellationToken) {
    use crate::storage::processes;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "unknown".into());
    let role = match role {
        Role::Web => "web",
        Role::Worker => "worker",
        Role::All => "all",
    };
    let mut tick = tokio::time::interval(processes::BEAT_EVERY);
    let mut warned = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        match processes::beat(&db.pool, &id, role, &host).await {
            Ok(()) => warned = false,
            Err(e) if !warned => {
                tracing::warn!(error = %e, "could not record this process as running");
                warned = true;
            }
            Err(_) => {}
        }
    }
    if let Err(e) = processes::gone(&db.pool, &id).await {
        tracing::warn!(error = %e, "could not record this process as stopped; `bellhop telegram move` will see it for 30 seconds more");
    }
}

/// How long past the grace period a shutdown waits for its parts before leaving them
/// ([`Application::run`]).
const STOP_AFTER_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Cancels `token` on Ctrl-C or SIGTERM. On Unix both handlers are installed before this
/// returns, so a signal sent right after (a test, a supervisor, a quick Ctrl-C) is never the
/// default action that kills the process.
pub fn cancel_on_signals(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (int, term) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        tokio::spawn(async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {}
                _ = wait(term) => {}
            }
            tracing::info!("shutdown requested");
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
        token.cancel();
    });
}

/// What `rotate-key` reminds of when it re-sealed secrets under a configured master key.
pub const RESTART_AFTER_ROTATION: &str = "now restart every bellhop process with the new BELLHOP_MASTER_KEY, keeping the old one in BELLHOP_OLD_MASTER_KEYS: \
     until they are restarted, they cannot open the re-encrypted secrets and the bots' webhooks fail";

/// `bellhop rotate-key`: a new active key (key ring file), then every sealed secret re-sealed
/// under it while the service keeps running (with a key ring file; with keys from the
/// configuration, every process must then be restarted with the new key); optionally retire
/// keys nothing uses any more.
///
/// Runs one at a time (`crypto::lock_rotation`). Retiring: the old keys are first marked retired
/// in the database — from then on no process seals with them, however old its ring — then the
/// rows sealed with them meanwhile are re-sealed, and only keys no row uses leave the ring file.
pub async fn rotate_key(cfg: &Config, retire_old: bool) -> anyhow::Result<()> {
    // Before anything changes (the key ring file included).
    let db = Db::connect(&cfg.database_url).await?;
    db.require_migrated().await?;
    let secrets = cfg.secrets.clone();
    let _lock = tokio::task::spawn_blocking(move || crate::crypto::lock_rotation(&secrets)).await.context("waiting for the key ring lock")??;
    let (keys, _) = KeyRing::load(&cfg.secrets, false)?;
    let keys_from_config = match keys.add_active_key()? {
        Some(id) => {
            println!("new active key {id} added to {}", cfg.secrets.key_file.display());
            false
        }
        None => {
            println!("keys come from configuration: re-sealing under the configured secrets.master_key ({})", keys.active_key_id());
            true
        }
    };
    let report = crate::storage::rotation::reseal_all(&db, &keys).await?;
    println!("re-encrypted {} secrets; {} could not be opened", report.resealed, report.failed);
    if keys_from_config && report.resealed > 0 {
        // Processes read a configured key at start only: until restarted they cannot open what
        // was re-sealed (every webhook of those bots fails).
        println!("{RESTART_AFTER_ROTATION}");
    }
    if retire_old {
        anyhow::ensure!(report.failed == 0, "not retiring keys: some secrets could not be re-encrypted");
        let old = keys.retirable_key_ids()?;
        if !old.is_empty() {
            crate::storage::keys::retire(&db, &old).await?;
            // Rows sealed with an old key by a process that claimed it before the retirement.
            let late = crate::storage::rotation::reseal_all(&db, &keys).await?;
            anyhow::ensure!(late.failed == 0, "not retiring keys: {} secrets could not be re-encrypted", late.failed);
        }
        let in_use = crate::storage::bots::key_ids_in_use(&db).await?;
        let n = keys.retire_keys_except(&in_use)?;
        println!("retired {n} old keys");
    }
    anyhow::ensure!(report.failed == 0, "{} secrets could not be re-encrypted (see the log)", report.failed);
    Ok(())
}
