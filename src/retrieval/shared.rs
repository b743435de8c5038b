//! [`SharedRetriever`]: the one retriever (embedder + index) of an application instance, loaded
//! on first use — model files are read once, and a process that never searches never loads them.
use super::Retriever;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::OnceCell;

type Loader = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<Retriever>> + Send + Sync>;

/// A lazily loaded [`Retriever`]. Cheap to clone; clones share the one retriever.
#[derive(Clone)]
pub struct SharedRetriever {
    cell: Arc<OnceCell<Retriever>>,
    load: Loader,
}

impl SharedRetriever {
    /// A retriever made by `load` on the first [`get`](Self::get); a failed load is tried again
    /// on the next call.
    pub fn new<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Retriever>> + Send + 'static,
    {
        Self { cell: Arc::default(), load: Arc::new(move || -> BoxFuture<'static, anyhow::Result<Retriever>> { Box::pin(load()) }) }
    }

    /// The retriever the configuration asks for: the embedder of `embeddings.*` / `models.dir`
    /// and the index of `qdrant.*` / `data_dir`.
    pub fn from_config(cfg: Arc<crate::config::Config>) -> Self {
        use anyhow::Context;
        Self::new(move || {
            let cfg = cfg.clone();
            async move {
                let embedder = crate::models::from_config(&cfg)
                    .await
                    .context("loading the embedding model (run scripts/fetch-models.sh into models.dir, or set embeddings.url)")?;
                let index = super::index_from_config(&cfg, embedder.dim()).await?;
                anyhow::Ok(Retriever::new(embedder, index)?)
            }
        })
    }

    /// The retriever, loaded on the first call.
    pub async fn get(&self) -> anyhow::Result<Retriever> {
        Ok(self.cell.get_or_try_init(|| (self.load)()).await?.clone())
    }
}
