//! Retrieval: the vector index behind [`VectorIndex`] (Qdrant Edge in-process by default, a
//! Qdrant server when configured), BM25 sparse vectors, and hybrid search that fuses the two
//! ([`Retriever`]). Knows tenants only as the required key of every call; knows nothing of
//! documents' formats (that is `knowledge`) or of answering.
pub mod analysis;
pub mod bm25;
mod edge;
mod hybrid;
mod index;
mod server;
mod shared;

pub use bm25::{Bm25Encoder, Bm25Params, SparseVector};
pub use edge::EdgeIndex;
pub use hybrid::{Fusion, Hit, Mode, Retriever, SearchError, SearchOptions};
pub use server::{ServerIndex, search_filter, tenant_filter};
pub use server::health as qdrant_health;
pub use shared::SharedRetriever;
pub use index::{ChunkPayload, DENSE, IndexError, IndexHit, IndexQuery, IndexedChunk, SPARSE, SentenceVectors, Sources, VectorIndex, label, list_marker, sentence_lines, sentences, unmarked};

/// The index the configuration asks for: a Qdrant server when `qdrant.url` is set, otherwise
/// Qdrant Edge shards under `{data_dir}/index`.
pub async fn index_from_config(cfg: &crate::config::Config, dim: usize) -> anyhow::Result<std::sync::Arc<dyn VectorIndex>> {
    use anyhow::Context;
    match &cfg.qdrant.url {
        Some(url) => {
            let s = ServerIndex::connect(url, cfg.qdrant.api_key.as_ref().map(|k| k.expose()), &cfg.qdrant.collection, dim)
                .await
                .context("connecting to the Qdrant server (qdrant.url)")?;
            Ok(std::sync::Arc::new(s))
        }
        None => Ok(std::sync::Arc::new(EdgeIndex::open(&cfg.data_dir.join("index"), dim)?)),
    }
}
