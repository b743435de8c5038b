//! The indexing pipeline: chunk → embed (batched) → store, per source, which makes the sources
//! searchable; then their sentences → embed → keep with each chunk; and deleting a source.
//! Used by `bellhop eval retrieval` and by the ingestion jobs, so what is measured is what runs.
use super::chunk::{ChunkSettings, Document, chunk_document};
use crate::domain::TenantId;
use crate::retrieval::{ChunkPayload, Retriever, SearchError};

/// Chunks embedded and written per batch: large enough to keep the model busy, small enough
/// that one batch's memory stays modest and progress is visible.
const BATCH: usize = 64;

/// Indexes one source of `tenant`, replacing whatever the source had before (chunks of an
/// earlier, longer version are removed too), and keeps its sentences' vectors: both steps of
/// [`index_documents`]. Returns the number of chunks stored.
pub async fn index_document(retriever: &Retriever, settings: &ChunkSettings, tenant: TenantId, source_id: &str, doc: &Document) -> Result<usize, SearchError> {
    let indexed = index_documents(retriever, settings, tenant, &[(source_id, doc)], |_| {}).await?;
    let chunks = indexed.chunks;
    indexed.keep_sentences(retriever).await?;
    Ok(chunks)
}

/// Sources just indexed: searchable, their chunks' sentences not yet embedded.
#[must_use = "the sentences' vectors are still to be kept: Indexed::keep_sentences"]
pub struct Indexed {
    tenant: TenantId,
    /// Chunks stored.
    pub chunks: usize,
    /// Each chunk's id and the text its sentences are made of ([`ChunkPayload::sentence_text`]).
    pending: Vec<(uuid::Uuid, String)>,
}

impl Indexed {
    /// The second step: embeds the chunks' sentences and keeps them with each chunk, in
    /// batches. Until it is done answers embed the sentences they rank themselves, to the same
    /// vectors; a chunk deleted meanwhile is left alone.
    pub async fn keep_sentences(self, retriever: &Retriever) -> Result<(), SearchError> {
        for batch in self.pending.chunks(BATCH) {
            let chunks: Vec<(uuid::Uuid, &str)> = batch.iter().map(|(id, text)| (*id, text.as_str())).collect();
            retriever.keep_sentences(self.tenant, &chunks).await?;
        }
        Ok(())
    }
}

/// Indexes many sources of `tenant` at once, batching embeddings across sources; calls
/// `progress(chunks_done)` after each batch. Each source is replaced as in [`index_document`],
/// and is searchable when this returns; its sentences' vectors are the second step
/// ([`Indexed::keep_sentences`]), left out of this one so that a source is searchable sooner.
///
/// A source read again stays searchable meanwhile: its new chunks overwrite the earlier ones
/// (a chunk's id is its source and position), and only then is what the earlier version had
/// beyond them removed. A re-read that fails half-way leaves the earlier version, partly
/// updated, not nothing.
pub async fn index_documents(
    retriever: &Retriever,
    settings: &ChunkSettings,
    tenant: TenantId,
    docs: &[(&str, &Document)],
    progress: impl FnMut(usize),
) -> Result<Indexed, SearchError> {
    let chunked = chunk_documents(settings, tenant, docs).await;
    let indexed = index_chunked(retriever, tenant, chunked, progress, || std::future::ready(true)).await?;
    Ok(indexed.expect("a read that always goes on is never stopped"))
}

/// Sources split into chunks, not yet indexed.
pub struct Chunked {
    /// Each source's id and chunks, in order.
    sources: Vec<(String, Vec<ChunkPayload>)>,
}

impl Chunked {
    /// Chunks of all the sources together.
    pub fn len(&self) -> usize {
        self.sources.iter().map(|(_, c)| c.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits sources of `tenant` into chunks, on a blocking thread: counting tokens is CPU work
/// (seconds for a big document), which would otherwise stall every task of the worker thread
/// it runs on, customers' answers included.
pub async fn chunk_documents(settings: &ChunkSettings, tenant: TenantId, docs: &[(&str, &Document)]) -> Chunked {
    let settings = *settings;
    let docs: Vec<(String, Document)> = docs.iter().map(|(id, doc)| ((*id).to_owned(), (*doc).clone())).collect();
    let task = tokio::task::spawn_blocking(move || {
        docs.into_iter()
            .map(|(id, doc)| {
                let own = chunk_document(tenant, &id, &doc, &settings);
                (id, own)
            })
            .collect()
    });
    match task.await {
        Ok(sources) => Chunked { sources },
        // As if it had run here: a panic stays a panic.
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("chunking was cancelled: {e}"),
        },
    }
}

/// The indexing half of [`index_documents`], for sources already chunked. Before each batch
/// after the first, `go_on()` says whether the read is still wanted; `None` if it was stopped
/// (the chunks indexed so far are left for whoever stopped it to remove).
pub async fn index_chunked<Go: Future<Output = bool>>(
    retriever: &Retriever,
    tenant: TenantId,
    chunked: Chunked,
    mut progress: impl FnMut(usize),
    mut go_on: impl FnMut() -> Go,
) -> Result<Option<Indexed>, SearchError> {
    let mut chunks: Vec<ChunkPayload> = Vec::new();
    let mut ids: Vec<(String, Vec<uuid::Uuid>)> = Vec::with_capacity(chunked.sources.len());
    for (source_id, own) in chunked.sources {
        ids.push((source_id, own.iter().map(|c| c.chunk_id).collect()));
        chunks.extend(own);
    }
    let total = chunks.len();
    let pending = chunks.iter().map(|c| (c.chunk_id, c.sentence_text().into_owned())).collect();
    let mut done = 0;
    let mut rest = chunks.into_iter().peekable();
    while rest.peek().is_some() {
        if done > 0 && !go_on().await {
            return Ok(None);
        }
        let batch: Vec<ChunkPayload> = rest.by_ref().take(BATCH).collect();
        done += batch.len();
        retriever.upsert(tenant, batch).await?;
        progress(done);
    }
    for (source_id, keep) in ids {
        retriever.delete_source_except(tenant, &source_id, keep).await?;
    }
    Ok(Some(Indexed { tenant, chunks: total, pending }))
}

/// Removes every chunk of a source of `tenant` from the index.
pub async fn delete_source(retriever: &Retriever, tenant: TenantId, source_id: &str) -> Result<(), SearchError> {
    retriever.delete_source(tenant, source_id).await
}
