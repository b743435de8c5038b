//! [`SharedModel`]: the one chat model of an application instance, loaded on first use. A model
//! that cannot be loaded is logged once, and answers fall back to quoting passages.
use super::ChatModel;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::OnceCell;

type Loader = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<Arc<dyn ChatModel>>> + Send + Sync>;

/// A lazily loaded chat model. Cheap to clone; clones share the one model.
#[derive(Clone)]
pub struct SharedModel {
    cell: Arc<OnceCell<Option<Arc<dyn ChatModel>>>>,
    load: Loader,
}

impl SharedModel {
    /// A model made by `load` on the first [`get`](Self::get). A failed load is final for this
    /// instance (logged once): answers quote passages instead.
    pub fn new<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Arc<dyn ChatModel>>> + Send + 'static,
    {
        Self { cell: Arc::default(), load: Arc::new(move || -> BoxFuture<'static, anyhow::Result<Arc<dyn ChatModel>>> { Box::pin(load()) }) }
    }

    /// The model the configuration asks for ([`super::from_config`]).
    pub fn from_config(cfg: Arc<crate::config::Config>) -> Self {
        Self::new(move || {
            let cfg = cfg.clone();
            async move { super::from_config(&cfg).await }
        })
    }

    /// Uses `model` from now on, if no model was loaded yet (benchmarks' measurement models).
    /// Returns false when a model was there already.
    pub fn set(&self, model: Arc<dyn ChatModel>) -> bool {
        self.cell.set(Some(model)).is_ok()
    }

    /// The model, loaded on the first call; `None` when it can't be.
    pub async fn get(&self) -> Option<Arc<dyn ChatModel>> {
        self.cell
            .get_or_init(|| async {
                match (self.load)().await {
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
