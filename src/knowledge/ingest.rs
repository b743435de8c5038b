//! Ingestion: a stored source (queued by the application in the transaction that stored it) is
//! read — files through `extract`, in a child process for PDFs; web pages and sites through
//! `fetch`, with every address checked — then chunk → embed → index through `pipeline`, and
//! recorded `ready` with the chunk count or `failed` with a reason the owner understands; a
//! ready source's sentences are embedded after that, so it is searchable without waiting.
//!
//! Ingestion runs on its own queue (`ingest`) so a big upload never delays customers' answers.
use super::chunk::{ChunkSettings, Document};
use super::extract::{self, ExtractError};
use super::fetch::{self, FetchError};
use super::pipeline;
use crate::config::KnowledgeConfig;
use crate::domain::{BotId, SourceId, TenantId};
use crate::jobs::JobError;
use crate::retrieval::{Hit, SearchOptions, SharedRetriever};
use crate::storage::Db;
use crate::storage::sources::{self, Source, index_id};
use anyhow::Context;

/// Deletes a source: marks it `deleting` (so no read in flight can store anything for it, and
/// no re-crawl queues it), removes every page it may have indexed, then the row. False if there
/// is no such source. When removing the passages fails, the source stays listed as `deleting`
/// and deleting it again finishes the work.
pub async fn delete_source(db: &Db, retriever: &SharedRetriever, tenant: TenantId, id: SourceId) -> anyhow::Result<bool> {
    let Some(pages) = sources::mark_deleting(&db.pool, tenant, id).await? else {
        return Ok(false);
    };
    let retriever = retriever.get().await?;
    forget_pages(&retriever, tenant, id, pages).await.context("removing the source's passages from the index")?;
    sources::delete(db, tenant, id).await?;
    Ok(true)
}

/// Removes pages `0..pages` (at least the first) of source `id` from the index.
async fn forget_pages(retriever: &crate::retrieval::Retriever, tenant: TenantId, id: SourceId, pages: i64) -> Result<(), crate::retrieval::SearchError> {
    for page in 0..pages.max(1) as usize {
        pipeline::delete_source(retriever, tenant, &index_id(id, page)).await?;
    }
    Ok(())
}

/// Reads and indexes source `source_id` of `tenant` (the `knowledge.ingest` job). An owner's
/// problem (unreadable file, unreachable site) marks it `failed` with the reason; an internal
/// error is retried, and marks it `failed` only on the `last_attempt`.
///
/// A delete may land at any moment of the read (the owner presses Delete on "reading…", or
/// during a re-crawl). The read reserves its pages before indexing them, and every state change
/// it makes afterwards is refused for a source marked `deleting`; a read that finds its source
/// deleted removes what it indexed itself. Between the two, no passage outlives its source.
#[tracing::instrument(name = "knowledge.ingest", skip_all, fields(tenant_id = tenant.0, source_id))]
pub async fn ingest(db: &Db, cfg: &KnowledgeConfig, retriever: &SharedRetriever, tenant: TenantId, source_id: SourceId, last_attempt: bool) -> Result<(), JobError> {
    tracing::Span::current().record("source_id", source_id.0);
    let Some(source) = sources::get(&db.pool, tenant, source_id).await? else {
        return Ok(()); // deleted meanwhile
    };
    if !sources::set_status(&db.pool, tenant, source.id, "processing", None, None, None).await? {
        return Ok(()); // being deleted
    }
    let docs = read(db, cfg, tenant, &source).await;
    let read_pages = docs.as_ref().map_or(0, |(d, _)| d.len() as i64);
    let outcome = match docs {
        Ok((docs, limit_reached)) => index(db, cfg, retriever, tenant, &source, &docs, limit_reached).await,
        Err(f) => Err(f),
    };
    let recorded = match &outcome {
        Ok(Indexed { kind, sentences }) => sources::set_status(&db.pool, tenant, source.id, "ready", None, Some(kind), Some(sentences.chunks as i64)).await?,
        Err(Failure::Owner(reason)) => sources::set_status(&db.pool, tenant, source.id, "failed", Some(reason), None, None).await?,
        Err(Failure::Internal(_)) if last_attempt => sources::set_status(&db.pool, tenant, source.id, "failed", Some(sources::INTERNAL_FAILURE), None, None).await?,
        Err(Failure::Unavailable(reason)) if last_attempt => sources::set_status(&db.pool, tenant, source.id, "failed", Some(reason), None, None).await?,
        Err(Failure::Internal(_) | Failure::Unavailable(_)) => sources::get(&db.pool, tenant, source.id).await?.is_some_and(|s| s.status != "deleting"),
    };
    if !recorded {
        // Deleted while it was being read: whatever this read indexed goes too (the delete
        // removed the pages indexed before it began; these may have come after).
        let pages = sources::page_count(&db.pool, tenant, source.id).await?.max(read_pages);
        let retriever = retriever.get().await?;
        forget_pages(&retriever, tenant, source.id, pages).await.map_err(anyhow::Error::from)?;
        tracing::info!("source deleted while it was being read; its passages were removed");
        return Ok(());
    }
    let failed_for_good = matches!(&outcome, Err(Failure::Owner(_))) || (matches!(&outcome, Err(Failure::Internal(_) | Failure::Unavailable(_))) && last_attempt);
    if failed_for_good && let Some(hours) = source.recrawl_hours {
        let failures = source.recrawl_failures + 1;
        sources::record_recrawl_failure(&db.pool, tenant, source.id, failures, crate::storage::now_ms() + recrawl_backoff(hours, failures)).await?;
    }
    match outcome {
        Ok(Indexed { sentences, .. }) => {
            let chunks = sentences.chunks;
            tracing::info!(chunks, "source indexed");
            // Searchable and shown ready already; the sentences' vectors follow. Answers in
            // between embed the sentences they rank, so a failure here costs only time: it is
            // logged, not retried (a retry would read the whole source again).
            let started = std::time::Instant::now();
            let kept = async { Ok::<_, anyhow::Error>(sentences.keep_sentences(&retriever.get().await?).await?) };
            match kept.await {
                Ok(()) => tracing::info!(chunks, took_ms = started.elapsed().as_millis() as u64, "the source's sentences were embedded"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not keep the source's sentence vectors; answers will embed them"),
            }
            Ok(())
        }
        Err(Failure::Owner(reason)) => {
            tracing::info!(%reason, "source could not be read");
            Ok(())
        }
        Err(Failure::Internal(e)) => Err(JobError::Retry(e)),
        Err(Failure::Unavailable(reason)) => Err(JobError::Retry(anyhow::anyhow!(reason))),
    }
}

/// The longest wait between tries of a failing re-crawl.
pub const MAX_RECRAWL_BACKOFF_MS: i64 = 7 * 24 * 3_600_000;

/// How long after its `failures`-th failed read in a row a source re-crawled every `hours` is
/// tried again: its interval, doubling with each failure, at most [`MAX_RECRAWL_BACKOFF_MS`].
pub fn recrawl_backoff(hours: i64, failures: i64) -> i64 {
    let interval = hours.max(1).saturating_mul(3_600_000);
    interval.saturating_mul(1i64 << (failures - 1).clamp(0, 20)).min(MAX_RECRAWL_BACKOFF_MS.max(interval))
}

/// Why a source could not be indexed: the owner's to fix, ours (retried), or a site that did
/// not answer (retried; after the last try the owner is told why, in these words).
enum Failure {
    Owner(String),
    Internal(anyhow::Error),
    Unavailable(String),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

/// What a read stored: what the source turned out to be, and its chunks (their sentences still
/// to embed).
struct Indexed {
    kind: String,
    sentences: pipeline::Indexed,
}

/// Reads a source: its documents (one per page), and the page limit a site's read stopped at
/// with pages of the site left unread (`None`: it read all it found).
async fn read(db: &Db, cfg: &KnowledgeConfig, tenant: TenantId, source: &Source) -> Result<(Vec<Document>, Option<i64>), Failure> {
    let limits = extract::Limits::from_config(cfg);
    let docs: (Vec<Document>, Option<i64>) = match source.kind.as_str() {
        "file" => {
            let bytes = sources::content(&db.pool, tenant, source.id).await.map_err(anyhow::Error::from)?.unwrap_or_default();
            let d = extract::extract_with(bytes.into(), &source.name, &limits).await.map_err(extract_failure)?;
            // A file without a title of its own is named for customers by its file name in words
            // ("Services prices", not "services-prices.csv").
            (vec![Document { title: d.title.unwrap_or_else(|| extract::title_from_file_name(&source.name)), text: d.text, url: None }], None)
        }
        "url" | "site" => {
            let fetcher = fetch::Fetcher::new(fetch::FetchSettings::from_config(cfg)).map_err(fetch_failure)?;
            let options = fetch::crawl::CrawlOptions {
                whole_site: source.kind == "site",
                max_pages: source.max_pages.map(|p| p.max(1) as usize).unwrap_or(1).min(cfg.crawl_max_pages),
                time_budget: cfg.crawl_budget,
            };
            let crawl = fetch::crawl::crawl(&fetcher, &source.name, &options, &limits).await.map_err(fetch_failure)?;
            if crawl.pages.is_empty() {
                let why = crawl.skipped.first().map(|s| s.reason.clone()).unwrap_or_else(|| "no readable page was found".into());
                return Err(Failure::Owner(format!("Nothing could be imported from this address: {why}")));
            }
            let limit_reached = (options.whole_site && crawl.limit_reached).then_some(options.max_pages as i64);
            let docs = crawl
                .pages
                .into_iter()
                .map(|p| Document { title: p.document.title.unwrap_or_else(|| p.url.to_string()), text: p.document.text, url: Some(p.url.to_string()) })
                .collect();
            (docs, limit_reached)
        }
        other => return Err(Failure::Internal(anyhow::anyhow!("unknown source kind {other}"))),
    };
    Ok(docs)
}

/// Indexes a source's documents, page `p` under `index_id(source, p)`, replacing an earlier
/// read's pages.
async fn index(db: &Db, cfg: &KnowledgeConfig, retriever: &SharedRetriever, tenant: TenantId, source: &Source, docs: &[Document], limit_reached: Option<i64>) -> Result<Indexed, Failure> {
    let settings = ChunkSettings { max_tokens: cfg.chunk_tokens, overlap_tokens: cfg.chunk_overlap_tokens };
    let ids: Vec<String> = (0..docs.len()).map(|p| index_id(source.id, p)).collect();
    let pairs: Vec<(&str, &Document)> = ids.iter().map(String::as_str).zip(docs.iter()).collect();
    // Chunked before anything is touched: a read with nothing to index (a page that is all
    // headings, say) fails with the earlier read's passages and size left as they were, so the
    // bot keeps answering from them, as the owner is told.
    let chunked = pipeline::chunk_documents(&settings, tenant, &pairs).await;
    if chunked.is_empty() {
        return Err(Failure::Owner("This source has no text we could read.".into()));
    }
    if source.kind != "file" {
        // A web page or site counts toward the tenant's byte quota like an upload: by the text
        // read, checked and recorded under the tenant's lock (uploads check the same total).
        let size: i64 = docs.iter().map(|d| d.text.len() as i64).sum();
        let mut tx = db.begin().await.map_err(anyhow::Error::from)?;
        crate::storage::tenants::lock(&mut tx, tenant).await.map_err(anyhow::Error::from)?;
        let others = sources::total_bytes(&mut *tx, tenant).await.map_err(anyhow::Error::from)? - source.size_bytes;
        let limit = cfg.max_tenant_bytes.min(i64::MAX as u64) as i64;
        if others.saturating_add(size) > limit {
            return Err(Failure::Owner(extract::storage_full(Some(("The text read from this address", size as u64)), others.max(0) as u64, limit as u64)));
        }
        sources::set_size(&mut *tx, tenant, source.id, size).await.map_err(anyhow::Error::from)?;
        // The first page's title, for the Knowledge page (a page without one is named by its address).
        let title = docs.first().map(|d| (d.title.trim(), d.url.as_deref())).filter(|(t, url)| !t.is_empty() && *url != Some(*t) && *t != source.name).map(|(t, _)| t);
        sources::set_title(&mut *tx, tenant, source.id, title).await.map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
    } else {
        // The name customers see in citations, for the Knowledge page (the file name under it).
        let title = docs.first().map(|d| d.title.trim()).filter(|t| !t.is_empty() && *t != source.name);
        sources::set_title(&db.pool, tenant, source.id, title).await.map_err(anyhow::Error::from)?;
    }
    let retriever = retriever.get().await?;
    let pages = docs.len() as i64;
    // Reserved before anything is indexed: a delete from now on covers every page written here.
    let old_pages = sources::page_count(&db.pool, tenant, source.id).await.map_err(anyhow::Error::from)?;
    if !sources::reserve_pages(&db.pool, tenant, source.id, pages).await.map_err(anyhow::Error::from)? {
        return Err(Failure::Internal(anyhow::anyhow!("the source is being deleted")));
    }
    // The earlier read stays searchable until this one is written (see `index_documents`).
    // Meanwhile the owner sees how far it is: each batch's count goes through a watch to one
    // writer, which records the latest (a slow write skips counts, never holds up the read).
    let total = chunked.len() as i64;
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(0usize);
    let recording = async {
        let _ = sources::set_progress(&db.pool, tenant, source.id, 0, total).await;
        while done_rx.changed().await.is_ok() {
            let done = *done_rx.borrow_and_update() as i64;
            // Progress is only shown: a failed write costs the owner a stale percentage.
            let _ = sources::set_progress(&db.pool, tenant, source.id, done, total).await;
        }
    };
    // A source deleted mid-read (the owner pressed Delete on "reading… 12 %") stops the read at
    // the next batch, rather than embedding the rest for nothing; the delete has removed what
    // was indexed before it, and `ingest` removes the rest.
    let (pool, id) = (&db.pool, source.id);
    let wanted = move || async move { sources::is_deleted(pool, tenant, id).await.map_or(true, |deleted| !deleted) };
    let indexing = pipeline::index_chunked(&retriever, tenant, chunked, move |done| {
        done_tx.send_replace(done);
    }, wanted);
    let (indexed, ()) = tokio::join!(indexing, recording);
    let Some(sentences) = indexed.map_err(anyhow::Error::from)? else {
        return Err(Failure::Internal(anyhow::anyhow!("the source is being deleted")));
    };
    // Pages of an earlier crawl beyond this one's count would otherwise linger in the index.
    for page in docs.len()..old_pages as usize {
        pipeline::delete_source(&retriever, tenant, &index_id(source.id, page)).await.map_err(anyhow::Error::from)?;
    }
    sources::set_page_count(&db.pool, tenant, source.id, pages).await.map_err(anyhow::Error::from)?;
    sources::set_page_limit_reached(&db.pool, tenant, source.id, limit_reached).await.map_err(anyhow::Error::from)?;
    let kind = match source.kind.as_str() {
        "file" => "document".to_owned(),
        _ if docs.len() == 1 => "web page".to_owned(),
        _ => format!("{} web pages", docs.len()),
    };
    Ok(Indexed { kind, sentences })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_recrawl_waits_its_interval_doubling_up_to_a_week() {
        const H: i64 = 3_600_000;
        assert_eq!(recrawl_backoff(1, 1), H);
        assert_eq!(recrawl_backoff(1, 2), 2 * H);
        assert_eq!(recrawl_backoff(1, 3), 4 * H);
        assert_eq!(recrawl_backoff(24, 2), 48 * H);
        assert_eq!(recrawl_backoff(1, 60), MAX_RECRAWL_BACKOFF_MS);
        // An interval longer than a week is kept as it is.
        assert_eq!(recrawl_backoff(24 * 30, 3), 24 * 30 * H);
    }
}

fn extract_failure(e: ExtractError) -> Failure {
    if e.is_transient() { Failure::Internal(anyhow::anyhow!("{e}")) } else { Failure::Owner(e.to_string()) }
}

fn fetch_failure(e: FetchError) -> Failure {
    if e.is_transient() { Failure::Unavailable(e.to_string()) } else { Failure::Owner(e.to_string()) }
}

/// The search playground: the Q&A pair of `bot` that would answer `q` — or, when none does, the
/// one that came nearest and why it was not used — and the passages retrieval finds among the
/// bot's sources, best first.
pub async fn playground(db: &Db, retriever: &SharedRetriever, tenant: TenantId, bot: Option<BotId>, q: &str) -> anyhow::Result<(Vec<Hit>, super::qa::QaVerdict)> {
    let retriever = retriever.get().await?;
    let qa = super::qa::explain_qa(db, &retriever, tenant, bot, q, None).await?;
    let scope = super::scope::of_bot(&db.pool, tenant, bot).await?;
    let hits = retriever.search(tenant, &scope, q, &SearchOptions { limit: 8, ..Default::default() }).await?;
    Ok((hits, qa))
}
