//! The [`Embedder`] trait, its error type, and choosing an implementation from configuration.
use futures::future::BoxFuture;
use std::sync::Arc;

/// Why an embedding call failed. Callers branch on it: a job retries [`EmbedError::Transient`]
/// and fails the source at once on [`EmbedError::Permanent`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// Worth retrying later: timeouts, connection errors, 5xx, rate limits.
    #[error("embedding failed, will retry: {0}")]
    Transient(String),
    /// Retrying will not help: missing model files, bad key, unknown model, quota exhausted,
    /// malformed input, a response of the wrong shape.
    #[error("embedding failed: {0}")]
    Permanent(String),
}

/// Turns texts into vectors of one fixed dimension.
///
/// Implementations batch internally (one call may carry hundreds of texts); the output has one
/// vector per input, in input order, each of [`Embedder::dim`] values and unit L2 norm, so that
/// dot product and cosine similarity agree.
pub trait Embedder: Send + Sync {
    /// A stable name for the model, recorded with indexes (e.g. `all-MiniLM-L6-v2`).
    fn name(&self) -> &str;
    /// Dimension of every vector returned.
    fn dim(&self) -> usize;
    /// Embeds `texts`, one vector per text. An empty slice gives an empty result.
    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn l2_normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The embedder the configuration asks for: the OpenAI-compatible endpoint when
/// `embeddings.url` is set, otherwise all-MiniLM-L6-v2 from `models.dir`.
pub async fn from_config(cfg: &crate::config::Config) -> anyhow::Result<Arc<dyn Embedder>> {
    use anyhow::Context;
    match &cfg.embeddings.url {
        Some(url) => {
            let e = super::OpenAiEmbedder::connect(url.as_str(), &cfg.embeddings.model, cfg.embeddings.api_key.as_ref().map(|k| k.expose()))
                .await
                .context("connecting to the embeddings endpoint (embeddings.url)")?;
            Ok(Arc::new(e))
        }
        None => {
            let dir = cfg.models_dir.clone();
            let m = tokio::task::spawn_blocking(move || super::LocalMiniLm::load(&dir)).await??;
            Ok(Arc::new(m))
        }
    }
}
