//! Wiring: configuration in, a running application out. `main` calls [`Application::build`]
//! then [`Application::run`]; tests do the same on port 0.
use crate::config::Config;
use crate::crypto::KeyRing;
use crate::jobs::{self, Queue, Registry, Workers};
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

/// What request handlers and jobs share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub db: Db,
    pub keys: Arc<KeyRing>,
    pub queue: Queue,
    /// Bot API client (Telegram, a self-hosted server, or the sandbox).
    pub telegram: crate::telegram::Client,
    /// The manager bot, when configured (`serve`, `demo`).
    pub manager: Option<crate::manager::Manager>,
    /// Embedder + vector index, loaded on first use (model files are read once per process).
    pub retriever_cell: Arc<tokio::sync::OnceCell<crate::retrieval::Retriever>>,
    /// The chat model, loaded on first use; `None` when it can't be (answers then quote passages).
    pub llm_cell: Arc<tokio::sync::OnceCell<Option<Arc<dyn crate::llm::ChatModel>>>>,
    /// Cancelled when the process starts shutting down.
    pub shutdown: CancellationToken,
    /// Webhook updates are stored through this group-committing writer.
    pub ingress: crate::web::ingress::Ingress,
}

impl AppState {
    /// The retriever (embedder + index) this process uses, loaded on first call.
    pub async fn retriever(&self) -> anyhow::Result<crate::retrieval::Retriever> {
        let r = self
            .retriever_cell
            .get_or_try_init(|| async {
                let embedder = crate::models::from_config(&self.cfg)
                    .await
                    .context("loading the embedding model (run scripts/fetch-models.sh into models.dir, or set embeddings.url)")?;
                let index = crate::retrieval::index_from_config(&self.cfg, embedder.dim()).await?;
                anyhow::Ok(crate::retrieval::Retriever::new(embedder, index)?)
            })
            .await?;
        Ok(r.clone())
    }

    /// The chat model this process uses, loaded on first call. A model that can't be loaded is
    /// logged once and answers fall back to quoting passages.
    pub async fn chat_model(&self) -> Option<Arc<dyn crate::llm::ChatModel>> {
        self.llm_cell
            .get_or_init(|| async {
                match crate::llm::from_config(&self.cfg).await {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "the chat model could not be loaded; answers will quote passages instead");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

/// Every job kind this binary can run.
pub fn registry() -> Registry<AppState> {
    let mut r = Registry::default();
    jobs::selftest::register(&mut r, |s: &AppState| &s.db);
    crate::manager::register(&mut r);
    crate::knowledge::ingest::register(&mut r);
    crate::answering::register(&mut r);
    crate::billing::register(&mut r);
    r
}

pub struct Application {
    pub state: AppState,
    listener: Option<TcpListener>,
    role: Role,
}

impl Application {
    /// Opens the key ring, connects and migrates the database, and binds the port (web roles).
    /// `create_keys`: generate a key ring file if none exists (zero-config `demo`).
    pub async fn build(cfg: Config, role: Role, create_keys: bool) -> anyhow::Result<Application> {
        let (keys, created) = KeyRing::load(&cfg.secrets, create_keys)?;
        if created {
            tracing::warn!(file = %cfg.secrets.key_file.display(), "generated a new master key (mode 0600); back it up — without it stored bot tokens cannot be read");
        }
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
        let db = Db::connect(&cfg.database_url).await?;
        db.migrate().await?;
        let mut cfg = cfg;
        let listener = match role {
            Role::Web | Role::All => Some(TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {} (listen)", cfg.listen))?),
            Role::Worker => None,
        };
        // Listening on port 0 (tests): links and webhooks must name the port actually bound.
        if let (Some(l), Some(0)) = (&listener, cfg.public_url.port()) {
            let _ = cfg.public_url.set_port(Some(l.local_addr()?.port()));
        }
        let queue = Queue::new(db.clone(), &cfg.jobs);
        let telegram = crate::telegram::Client::new(cfg.telegram.api_url.as_str())?
            .with_observer(crate::metrics::record_telegram_call)
            .with_throttle(crate::telegram::ThrottleLimits::default());
        let manager = match &cfg.telegram.manager_token {
            Some(token) => {
                let m = crate::manager::setup::connect(&telegram, token.clone()).await?;
                if let (Some(secret), Role::Web | Role::All) = (&cfg.telegram.manager_webhook_secret, role) {
                    crate::manager::setup::register(&m, &cfg.public_url, secret).await?;
                    tracing::info!(manager = %m.username, "manager bot webhook registered");
                }
                Some(m)
            }
            None => None,
        };
        let ingress = crate::web::ingress::Ingress::start(db.clone(), queue.clone());
        let state = AppState { cfg: Arc::new(cfg), db, keys: Arc::new(keys), queue, telegram, manager, retriever_cell: Arc::default(), llm_cell: Arc::default(), shutdown: CancellationToken::new(), ingress };
        Ok(Application { state, listener, role })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until the shutdown token is cancelled (or a part fails), then shuts down
    /// gracefully: stop accepting, finish in-flight requests, let jobs finish within the grace
    /// period, hand back the leases of the rest.
    pub async fn run(self) -> anyhow::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let grace = self.state.cfg.http.shutdown_grace;
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(listener) = self.listener {
            let app = crate::web::router(self.state.clone());
            let token = shutdown.clone();
            tracing::info!(addr = %listener.local_addr()?, "web server listening");
            tasks.spawn(async move {
                axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned()).await.context("web server")?;
                Ok::<_, anyhow::Error>("web server")
            });
        }
        if matches!(self.role, Role::Worker | Role::All) {
            let workers = Workers {
                queue: self.state.queue.clone(),
                registry: Arc::new(registry()),
                state: self.state.clone(),
                cfg: self.state.cfg.jobs.clone(),
                grace,
            };
            let token = shutdown.clone();
            tasks.spawn(async move {
                workers.run(token).await?;
                Ok("job workers")
            });
            tokio::spawn(crate::knowledge::ingest::recrawl_scheduler(self.state.clone(), std::time::Duration::from_secs(300)));
        }
        let mut result = Ok(());
        while let Some(done) = tasks.join_next().await {
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

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
        tracing::info!("shutdown requested");
        token.cancel();
    });
}

/// `bellhop rotate-key`: a new active key (key ring file), then every sealed secret re-sealed
/// under it while the service keeps running; optionally retire keys nothing uses any more.
pub async fn rotate_key(cfg: &Config, retire_old: bool) -> anyhow::Result<()> {
    let (keys, _) = KeyRing::load(&cfg.secrets, false)?;
    match keys.add_active_key()? {
        Some(id) => println!("new active key {id} added to {}", cfg.secrets.key_file.display()),
        None => println!("keys come from configuration: re-sealing under the configured secrets.master_key ({})", keys.active_key_id()),
    }
    let db = Db::connect(&cfg.database_url).await?;
    db.migrate().await?;
    let report = crate::storage::rotation::reseal_all(&db, &keys).await?;
    println!("re-encrypted {} secrets; {} could not be opened", report.resealed, report.failed);
    if retire_old {
        anyhow::ensure!(report.failed == 0, "not retiring keys: some secrets could not be re-encrypted");
        let in_use = crate::storage::bots::key_ids_in_use(&db).await?;
        let n = keys.retire_keys_except(&in_use)?;
        println!("retired {n} old keys");
    }
    anyhow::ensure!(report.failed == 0, "{} secrets could not be re-encrypted (see the log)", report.failed);
    Ok(())
}
