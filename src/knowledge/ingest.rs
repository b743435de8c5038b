//! Ingestion as jobs: a source is stored and queued in one transaction; the `knowledge.ingest`
//! job reads it (files: `extract`, in a child process for PDFs; web pages and sites: `fetch`,
//! with every address checked), then chunk → embed → index through `pipeline`, and records
//! `ready` with the chunk count or `failed` with a reason the owner understands.
//!
//! Ingestion has its own queue (`ingest`) so a big upload never delays customers' answers.
use super::chunk::{ChunkSettings, Document};
use super::extract::{self, ExtractError};
use super::fetch::{self, FetchError};
use super::pipeline;
use crate::domain::TenantId;
use crate::jobs::{Job, JobError, Registry};
use crate::retrieval::{Hit, Retriever, SearchOptions};
use crate::startup::AppState;
use crate::storage::sources::{self, NewSource, Source, index_id};
use crate::web::sources::HitRow;
use anyhow::Context;

pub const INGEST_JOB: &str = "knowledge.ingest";
pub const INGEST_QUEUE: &str = "ingest";
/// Below this cosine similarity a passage is shown as a weak match (the answering work uses
/// the same threshold to decide "I don't know").
pub const CONFIDENT_SIMILARITY: f32 = 0.35;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct IngestJob {
    pub source_id: i64,
}

pub fn register(r: &mut Registry<AppState>) {
    r.register(INGEST_JOB, INGEST_QUEUE, run);
}

fn job(app: &AppState, tenant: TenantId, source_id: i64) -> crate::storage::jobs::NewJob {
    let mut j = app.queue.job(INGEST_QUEUE, INGEST_JOB, &IngestJob { source_id });
    j.tenant_id = Some(tenant);
    j
}

/// Stores a new source and queues it for reading, in one transaction.
pub async fn add_source(app: &AppState, tenant: TenantId, new: &NewSource<'_>) -> anyhow::Result<i64> {
    let mut tx = app.db.begin().await?;
    let id = sources::insert(&mut *tx, tenant, new).await?;
    app.queue.enqueue_in(&mut tx, &job(app, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(id)
}

/// Reads a source again (re-index, scheduled re-crawl). False if the tenant has no such source.
pub async fn requeue(app: &AppState, tenant: TenantId, id: i64) -> anyhow::Result<bool> {
    let mut tx = app.db.begin().await?;
    if !sources::set_status(&mut *tx, tenant, id, "queued", None, None, None).await? {
        return Ok(false);
    }
    app.queue.enqueue_in(&mut tx, &job(app, tenant, id)).await?;
    tx.commit().await?;
    app.queue.notify(INGEST_QUEUE);
    Ok(true)
}

/// Removes a source's chunks from the index, then the source. False if there is no such source.
pub async fn delete_source(app: &AppState, tenant: TenantId, id: i64) -> anyhow::Result<bool> {
    if sources::get(&app.db.pool, tenant, id).await?.is_none() {
        return Ok(false);
    }
    let retriever = app.retriever().await?;
    let pages = sources::page_count(&app.db.pool, tenant, id).await?.max(1) as usize;
    for page in 0..pages {
        pipeline::delete_source(&retriever, tenant, &index_id(id, page)).await.context("removing the source's passages from the index")?;
    }
    Ok(sources::delete(&app.db.pool, tenant, id).await?)
}

#[tracing::instrument(name = "knowledge.ingest", skip_all, fields(tenant_id, source_id))]
pub async fn run(app: AppState, job: Job) -> Result<(), JobError> {
    let p: IngestJob = job.payload()?;
    let tenant = job.tenant_id.ok_or_else(|| JobError::Permanent(anyhow::anyhow!("ingest job without a tenant")))?;
    tracing::Span::current().record("tenant_id", tenant.0).record("source_id", p.source_id);
    let Some(source) = sources::get(&app.db.pool, tenant, p.source_id).await? else {
        return Ok(()); // deleted meanwhile
    };
    sources::set_status(&app.db.pool, tenant, source.id, "processing", None, None, None).await?;
    match read_and_index(&app, tenant, &source).await {
        Ok((kind, chunks)) => {
            sources::set_status(&app.db.pool, tenant, source.id, "ready", None, Some(&kind), Some(chunks as i64)).await?;
            tracing::info!(chunks, "source indexed");
            Ok(())
        }
        Err(Failure::Owner(reason)) => {
            sources::set_status(&app.db.pool, tenant, source.id, "failed", Some(&reason), None, None).await?;
            tracing::info!(%reason, "source could not be read");
            Ok(())
        }
        Err(Failure::Internal(e)) => {
            let last = job.attempt >= job.max_attempts;
            if last {
                sources::set_status(&app.db.pool, tenant, source.id, "failed", Some("Something went wrong on our side while reading this source. Please try again later."), None, None)
                    .await?;
            }
            Err(JobError::Retry(e))
        }
    }
}

/// Why a source could not be indexed: the owner's to fix, or ours (retried).
enum Failure {
    Owner(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

/// Reads a source and indexes it; returns what it turned out to be and the chunks stored.
async fn read_and_index(app: &AppState, tenant: TenantId, source: &Source) -> Result<(String, usize), Failure> {
    let cfg = &app.cfg.knowledge;
    let limits = extract::Limits::from_config(cfg);
    let docs: Vec<Document> = match source.kind.as_str() {
        "file" => {
            let bytes = sources::content(&app.db.pool, tenant, source.id).await.map_err(anyhow::Error::from)?.unwrap_or_default();
            let d = extract::extract_with(bytes.into(), &source.name, &limits).await.map_err(extract_failure)?;
            vec![Document { title: d.title.unwrap_or_else(|| source.name.clone()), text: d.text, url: None }]
        }
        "url" | "site" => {
            let fetcher = fetch::Fetcher::new(fetch::FetchSettings::from_config(cfg)).map_err(fetch_failure)?;
            let options = fetch::crawl::CrawlOptions {
                whole_site: source.kind == "site",
                max_pages: source.max_pages.map(|p| p.max(1) as usize).unwrap_or(1).min(cfg.crawl_max_pages),
            };
            let crawl = fetch::crawl::crawl(&fetcher, &source.name, &options, &limits).await.map_err(fetch_failure)?;
            if crawl.pages.is_empty() {
                let why = crawl.skipped.first().map(|s| s.reason.clone()).unwrap_or_else(|| "no readable page was found".into());
                return Err(Failure::Owner(format!("Nothing could be imported from this address: {why}")));
            }
            crawl
                .pages
                .into_iter()
                .map(|p| Document { title: p.document.title.unwrap_or_else(|| p.url.to_string()), text: p.document.text, url: Some(p.url.to_string()) })
                .collect()
        }
        other => return Err(Failure::Internal(anyhow::anyhow!("unknown source kind {other}"))),
    };
    let retriever = app.retriever().await?;
    let settings = ChunkSettings { max_tokens: cfg.chunk_tokens, overlap_tokens: cfg.chunk_overlap_tokens };
    // Pages of an earlier crawl beyond this one's count would otherwise linger in the index.
    let old_pages = sources::page_count(&app.db.pool, tenant, source.id).await.map_err(anyhow::Error::from)? as usize;
    for page in docs.len()..old_pages {
        pipeline::delete_source(&retriever, tenant, &index_id(source.id, page)).await.map_err(anyhow::Error::from)?;
    }
    let ids: Vec<String> = (0..docs.len()).map(|p| index_id(source.id, p)).collect();
    let pairs: Vec<(&str, &Document)> = ids.iter().map(String::as_str).zip(docs.iter()).collect();
    let chunks = pipeline::index_documents(&retriever, &settings, tenant, &pairs, |_| {}).await.map_err(anyhow::Error::from)?;
    sources::set_page_count(&app.db.pool, tenant, source.id, docs.len() as i64).await.map_err(anyhow::Error::from)?;
    if chunks == 0 {
        return Err(Failure::Owner("This source has no text we could read.".into()));
    }
    let kind = match source.kind.as_str() {
        "file" => "document".to_owned(),
        _ if docs.len() == 1 => "web page".to_owned(),
        _ => format!("{} web pages", docs.len()),
    };
    Ok((kind, chunks))
}

fn extract_failure(e: ExtractError) -> Failure {
    if e.is_transient() { Failure::Internal(anyhow::anyhow!("{e}")) } else { Failure::Owner(e.to_string()) }
}

fn fetch_failure(e: FetchError) -> Failure {
    if e.is_transient() { Failure::Internal(anyhow::anyhow!("{e}")) } else { Failure::Owner(e.to_string()) }
}

/// Normalised for matching Q&A pairs: lower case, letters and digits only, single spaces.
pub fn normalise(q: &str) -> String {
    q.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The owner's Q&A pair that answers `question`, if one does: the same words, or a question the
/// embedder finds nearly identical (cosine ≥ 0.85).
///
/// `question_vector` is the question's embedding when the caller has it already (answering
/// embeds each question once, for this and for retrieval); the pairs' vectors are remembered.
pub async fn match_qa(app: &AppState, retriever: &Retriever, tenant: TenantId, question: &str, question_vector: Option<&[f32]>) -> anyhow::Result<Option<sources::QaPair>> {
    let pairs = sources::list_qa(&app.db.pool, tenant).await?;
    if pairs.is_empty() {
        return Ok(None);
    }
    let wanted = normalise(question);
    if let Some(p) = pairs.iter().find(|p| normalise(&p.question) == wanted) {
        return Ok(Some(p.clone()));
    }
    let own;
    let q = match question_vector {
        Some(v) => v,
        None => {
            own = retriever.embedder().embed(&[question]).await?.into_iter().next().context("no embedding returned")?;
            own.as_slice()
        }
    };
    let texts: Vec<&str> = pairs.iter().map(|p| p.question.as_str()).collect();
    let vectors = retriever.embed_memoised(&texts).await?;
    let best = vectors
        .iter()
        .zip(&pairs)
        .map(|(v, p)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), p))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Ok(best.filter(|(s, _)| *s >= 0.85).map(|(_, p)| p.clone()))
}

/// The search playground: the Q&A pair that would answer, and the passages retrieval finds.
pub async fn playground(app: &AppState, tenant: TenantId, q: &str) -> anyhow::Result<(Vec<HitRow>, Option<(String, String)>)> {
    let retriever = app.retriever().await?;
    let qa = match_qa(app, &retriever, tenant, q, None).await?.map(|p| (p.question, p.answer));
    let hits = retriever.search(tenant, q, &SearchOptions { limit: 8, ..Default::default() }).await?;
    Ok((hits.into_iter().map(hit_row).collect(), qa))
}

fn hit_row(h: Hit) -> HitRow {
    let p = h.payload;
    let source = match (&p.url, p.title.is_empty()) {
        (Some(u), true) => u.clone(),
        (_, false) => p.title.clone(),
        (None, true) => "Untitled".into(),
    };
    HitRow {
        source,
        // The first heading is often the title itself; don't say it twice.
        heading: {
            let hs: Vec<&String> = p.headings.iter().skip_while(|h| **h == p.title).collect();
            (!hs.is_empty()).then(|| hs.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(" › "))
        },
        text: p.text,
        similarity: h.similarity.map(|s| format!("{:.0}%", (s.max(0.0) * 100.0))).unwrap_or_else(|| "—".into()),
        score: format!("{:.3}", h.score),
        confident: h.similarity.unwrap_or(0.0) >= CONFIDENT_SIMILARITY,
    }
}

/// Scheduled re-crawls: every few minutes, sources whose `recrawl_hours` have passed since
/// they were last read are queued again. Runs in every worker process; re-queueing the same
/// source twice is harmless (the second read replaces the first).
pub async fn recrawl_scheduler(app: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.shutdown.cancelled() => return,
        }
        match sources::due_for_recrawl(&app.db.pool, crate::storage::now_ms()).await {
            Ok(due) => {
                for (tenant, id) in due {
                    if let Err(e) = requeue(&app, tenant, id).await {
                        tracing::warn!(tenant_id = tenant.0, source_id = id, error = %format!("{e:#}"), "could not queue a re-crawl");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for sources to re-crawl failed"),
        }
    }
}
