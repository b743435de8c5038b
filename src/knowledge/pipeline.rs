//! The indexing pipeline: chunk → embed (batched) → store, per source; and deleting a source.
//! Used by `bellhop eval retrieval` and by the ingestion jobs, so what is measured is what runs.
use super::chunk::{ChunkSettings, Document, chunk_document};
use crate::domain::TenantId;
use crate::retrieval::{ChunkPayload, Retriever, SearchError};

/// Chunks embedded and written per batch: large enough to keep the model busy, small enough
/// that one batch's memory stays modest and progress is visible.
const BATCH: usize = 64;

/// Indexes one source of `tenant`, replacing whatever the source had before (chunks of an
/// earlier, longer version are removed too). Returns the number of chunks stored.
pub async fn index_document(retriever: &Retriever, settings: &ChunkSettings, tenant: TenantId, source_id: &str, doc: &Document) -> Result<usize, SearchError> {
    index_documents(retriever, settings, tenant, &[(source_id, doc)], |_| {}).await
}

/// Indexes many sources of `tenant` at once, batching embeddings across sources; calls
/// `progress(chunks_done)` after each batch. Each source is replaced as in [`index_document`].
pub async fn index_documents(
    retriever: &Retriever,
    settings: &ChunkSettings,
    tenant: TenantId,
    docs: &[(&str, &Document)],
    mut progress: impl FnMut(usize),
) -> Result<usize, SearchError> {
    let mut chunks: Vec<ChunkPayload> = Vec::new();
    for (source_id, doc) in docs {
        retriever.delete_source(tenant, source_id).await?;
        chunks.extend(chunk_document(tenant, source_id, doc, settings));
    }
    let total = chunks.len();
    let mut done = 0;
    let mut rest = chunks.into_iter().peekable();
    while rest.peek().is_some() {
        let batch: Vec<ChunkPayload> = rest.by_ref().take(BATCH).collect();
        done += batch.len();
        retriever.upsert(tenant, batch).await?;
        progress(done);
    }
    Ok(total)
}

/// Removes every chunk of a source of `tenant` from the index.
pub async fn delete_source(retriever: &Retriever, tenant: TenantId, source_id: &str) -> Result<(), SearchError> {
    retriever.delete_source(tenant, source_id).await
}
