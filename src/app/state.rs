//! [`AppState`]: what request handlers and jobs share, built once per application instance, and
//! the narrow handles the domain modules are given instead of it.
use super::ingress::Ingress;
use crate::answering::{Answering, Overhead, TenantPermits, pipeline};
use crate::billing::Billing;
use crate::config::Config;
use crate::crypto::KeyRing;
use crate::jobs::Queue;
use crate::llm::SharedModel;
use crate::manager::{ChildBots, Manager};
use crate::retrieval::SharedRetriever;
use crate::storage::Db;
use crate::telegram::Client;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What request handlers and jobs share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub db: Db,
    pub keys: Arc<KeyRing>,
    pub queue: Queue,
    /// Bot API client (Telegram, a self-hosted server, or the sandbox).
    pub telegram: Client,
    /// The manager bot, when configured (`serve`, `demo`).
    pub manager: Option<Manager>,
    /// The businesses' bots, opened from their sealed tokens.
    pub bots: ChildBots,
    /// Embedder + vector index, loaded on first use (model files are read once per instance).
    pub retriever: SharedRetriever,
    /// The chat model, loaded on first use; `None` when it can't be (answers then quote passages).
    pub model: SharedModel,
    /// Billing's handle: metering, Stars, Stripe.
    pub billing: Billing,
    /// Answering's handle: the answer pipeline, per-business model permits, the overhead
    /// measurement.
    pub answering: Answering,
    /// Cancelled when the process starts shutting down.
    pub shutdown: CancellationToken,
    /// Webhook updates are stored through this group-committing writer.
    pub ingress: Ingress,
    /// The bots this process polls (`telegram.updates = "polling"`; empty otherwise).
    pub polling: super::polling::Polled,
}

impl AppState {
    /// Wires the configuration and the connections into the domain's handles.
    pub fn new(cfg: Config, db: Db, keys: KeyRing, queue: Queue, telegram: Client, manager: Option<Manager>, ingress: Ingress) -> AppState {
        let cfg = Arc::new(cfg);
        let keys = Arc::new(keys);
        let bots = ChildBots { db: db.clone(), keys: keys.clone(), telegram: telegram.clone() };
        let retriever = SharedRetriever::from_config(cfg.clone());
        let model = SharedModel::from_config(cfg.clone());
        let billing = Billing { db: db.clone(), cfg: Arc::new(cfg.billing.clone()), manager: manager.clone(), bots: bots.clone() };
        let answering = Answering {
            pipeline: pipeline::Deps {
                db: db.clone(),
                cfg: Arc::new(cfg.answering.clone()),
                llm: Arc::new(cfg.llm.clone()),
                retriever: retriever.clone(),
                model: model.clone(),
                permits: TenantPermits::new(cfg.answering.tenant_concurrency),
                billing: billing.clone(),
            },
            manager: manager.clone(),
            overhead: Overhead::default(),
        };
        AppState { cfg, db, keys, queue, telegram, manager, bots, retriever, model, billing, answering, shutdown: CancellationToken::new(), ingress, polling: Default::default() }
    }
}
