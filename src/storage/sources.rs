//! Knowledge sources and Q&A pairs. Every function takes the tenant: one owner can never name
//! another's source, even by guessing its id.
use super::now_ms;
use crate::domain::TenantId;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone)]
pub struct Source {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub content_type: Option<String>,
    pub size_bytes: i64,
    pub status: String,
    pub status_reason: Option<String>,
    pub chunk_count: i64,
    pub max_pages: Option<i64>,
    pub recrawl_hours: Option<i64>,
    pub updated_at: i64,
    /// Failed reads in a row (0 once a read succeeds).
    pub recrawl_failures: i64,
    /// When the next re-crawl is due after failures (Unix ms).
    pub next_crawl_at: Option<i64>,
}

const COLUMNS: &str = "id, kind, name, content_type, size_bytes, status, status_reason, chunk_count, max_pages, recrawl_hours, updated_at, recrawl_failures, next_crawl_at";

fn source(r: sqlx::any::AnyRow) -> Source {
    Source {
        id: r.get(0),
        kind: r.get(1),
        name: r.get(2),
        content_type: r.get(3),
        size_bytes: r.get(4),
        status: r.get(5),
        status_reason: r.get(6),
        chunk_count: r.get(7),
        max_pages: r.get(8),
        recrawl_hours: r.get(9),
        updated_at: r.get(10),
        recrawl_failures: r.get(11),
        next_crawl_at: r.get(12),
    }
}

/// The id the vector index knows a source (or page `page` of a site) by.
pub fn index_id(source: i64, page: usize) -> String {
    if page == 0 { format!("src-{source}") } else { format!("src-{source}-p{page}") }
}

/// Pages a source had indexed (1 for files and single pages once read).
pub async fn page_count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("select page_count from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).fetch_optional(e).await?;
    Ok(n.unwrap_or(0))
}

/// Sets the pages a read indexed, unless the source is being deleted. False if it is (or is gone).
pub async fn set_page_count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64, pages: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update sources set page_count = $1 where tenant_id = $2 and id = $3 and status <> 'deleting'").bind(pages).bind(tenant.0).bind(id).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Raises the page count to at least `pages` before a read indexes that many, so that a delete
/// from then on removes every page the read may write. False if the source is being deleted
/// (or is gone): then the read must index nothing.
pub async fn reserve_pages<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64, pages: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update sources set page_count = case when page_count < $1 then $1 else page_count end
         where tenant_id = $2 and id = $3 and status <> 'deleting'",
    )
    .bind(pages)
    .bind(tenant.0)
    .bind(id)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The first step of a delete: the source is marked `deleting` — from then on no read stores
/// anything for it, no re-crawl queues it, and a read that finishes removes what it indexed —
/// and its page count is returned, every page a read may have indexed. `None` if there is no
/// such source.
pub async fn mark_deleting<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("update sources set status = 'deleting', status_reason = null, updated_at = $1 where tenant_id = $2 and id = $3 returning page_count")
        .bind(now_ms())
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(e)
        .await
}

pub struct NewSource<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub size_bytes: i64,
    pub content: Option<&'a [u8]>,
    pub max_pages: Option<i64>,
    pub recrawl_hours: Option<i64>,
}

pub async fn insert<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, s: &NewSource<'_>) -> sqlx::Result<i64> {
    let now = now_ms();
    sqlx::query_scalar(
        "insert into sources (tenant_id, kind, name, size_bytes, content, status, max_pages, recrawl_hours, created_at, updated_at)
         values ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8) returning id",
    )
    .bind(tenant.0)
    .bind(s.kind)
    .bind(s.name)
    .bind(s.size_bytes)
    .bind(s.content)
    .bind(s.max_pages)
    .bind(s.recrawl_hours)
    .bind(now)
    .fetch_one(e)
    .await
}

pub async fn list<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<Source>> {
    let rows = sqlx::query(&format!("select {COLUMNS} from sources where tenant_id = $1 order by id desc")).bind(tenant.0).fetch_all(e).await?;
    Ok(rows.into_iter().map(source).collect())
}

pub async fn get<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<Option<Source>> {
    let r = sqlx::query(&format!("select {COLUMNS} from sources where tenant_id = $1 and id = $2")).bind(tenant.0).bind(id).fetch_optional(e).await?;
    Ok(r.map(source))
}

/// The uploaded bytes of a file source.
pub async fn content<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    let r: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("select content from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).fetch_optional(e).await?;
    Ok(r.flatten())
}

/// How many sources (files, pages, sites) the tenant has, for its plan's limit.
pub async fn count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from sources where tenant_id = $1").bind(tenant.0).fetch_one(e).await
}

/// Total bytes the tenant has uploaded (for the per-tenant limit).
pub async fn total_bytes<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("select cast(coalesce(sum(size_bytes), 0) as bigint) from sources where tenant_id = $1")
        .bind(tenant.0)
        .fetch_one(e)
        .await?;
    Ok(n.unwrap_or(0))
}

/// Moves a source to `status` (queued, processing, ready, failed), unless it is being deleted.
/// False if it is (or is gone).
pub async fn set_status<'c>(
    e: impl Executor<'c, Database = Any>,
    tenant: TenantId,
    id: i64,
    status: &str,
    reason: Option<&str>,
    content_type: Option<&str>,
    chunks: Option<i64>,
) -> sqlx::Result<bool> {
    let now = now_ms();
    let r = sqlx::query(
        "update sources set status = $1, status_reason = $2, content_type = coalesce($3, content_type), chunk_count = coalesce($4, chunk_count),
                last_indexed_at = case when $1 = 'ready' then $5 else last_indexed_at end, updated_at = $5,
                recrawl_failures = case when $1 = 'ready' then 0 else recrawl_failures end,
                next_crawl_at = case when $1 = 'ready' then null else next_crawl_at end,
                failure_notice_at = case when $1 = 'ready' then null else failure_notice_at end
         where tenant_id = $6 and id = $7 and status <> 'deleting'",
    )
    .bind(status)
    .bind(reason)
    .bind(content_type)
    .bind(chunks)
    .bind(now)
    .bind(tenant.0)
    .bind(id)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the size a read found (a web page's or site's text), unless it is being deleted.
pub async fn set_size<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64, bytes: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update sources set size_bytes = $1 where tenant_id = $2 and id = $3 and status <> 'deleting'").bind(bytes).bind(tenant.0).bind(id).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("delete from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Records one more failed read of a source that is re-crawled on a schedule: the next try is
/// due at `next_at` (the caller's backoff). Not for a source being deleted.
pub async fn record_recrawl_failure<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64, failures: i64, next_at: i64) -> sqlx::Result<()> {
    sqlx::query("update sources set recrawl_failures = $1, next_crawl_at = $2 where tenant_id = $3 and id = $4 and status <> 'deleting'")
        .bind(failures)
        .bind(next_at)
        .bind(tenant.0)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// A failing scheduled source whose owner is to be told: claimed once per failing streak.
#[derive(Debug, Clone)]
pub struct FailureNotice {
    pub name: String,
    pub reason: String,
    pub next_crawl_at: Option<i64>,
    /// Passages still indexed from the last good read.
    pub chunk_count: i64,
}

/// Claims telling the owner that source `id` is failing (a scheduled source, failed, not told
/// yet in this streak). `None` if there is nothing to tell or it was claimed already.
pub async fn claim_failure_notice<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64, now: i64) -> sqlx::Result<Option<FailureNotice>> {
    let r = sqlx::query(
        "update sources set failure_notice_at = $1
         where tenant_id = $2 and id = $3 and status = 'failed' and recrawl_hours is not null and failure_notice_at is null
         returning name, status_reason, next_crawl_at, chunk_count",
    )
    .bind(now)
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(e)
    .await?;
    Ok(r.map(|r| FailureNotice { name: r.get(0), reason: r.get::<Option<String>, _>(1).unwrap_or_default(), next_crawl_at: r.get(2), chunk_count: r.get(3) }))
}

/// Gives a claimed notice back (it could not be sent): the next failure tells the owner.
pub async fn unclaim_failure_notice<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<()> {
    sqlx::query("update sources set failure_notice_at = null where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).execute(e).await?;
    Ok(())
}

/// Sites due for their scheduled re-crawl, across tenants (the scheduler's view): their interval
/// has passed since the last good read — or, after failures, their backoff.
pub async fn due_for_recrawl<'c>(e: impl Executor<'c, Database = Any>, now: i64) -> sqlx::Result<Vec<(TenantId, i64)>> {
    let rows = sqlx::query(
        "select tenant_id, id from sources
         where recrawl_hours is not null and status in ('ready', 'failed')
           and coalesce(next_crawl_at, coalesce(last_indexed_at, 0) + recrawl_hours * 3600000) <= $1",
    )
    .bind(now)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(|r| (TenantId(r.get(0)), r.get(1))).collect())
}

#[derive(Debug, Clone)]
pub struct QaPair {
    pub id: i64,
    pub question: String,
    pub answer: String,
}

pub async fn insert_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, question: &str, answer: &str) -> sqlx::Result<i64> {
    let now = now_ms();
    sqlx::query_scalar("insert into qa_pairs (tenant_id, question, answer, created_at, updated_at) values ($1, $2, $3, $4, $4) returning id")
        .bind(tenant.0)
        .bind(question)
        .bind(answer)
        .bind(now)
        .fetch_one(e)
        .await
}

pub async fn list_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<QaPair>> {
    let rows = sqlx::query("select id, question, answer from qa_pairs where tenant_id = $1 order by id desc").bind(tenant.0).fetch_all(e).await?;
    Ok(rows.into_iter().map(|r| QaPair { id: r.get(0), question: r.get(1), answer: r.get(2) }).collect())
}

/// Each Q&A pair's question and when it was last written (for hiding the gaps it answers).
pub async fn qa_questions<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query("select question, updated_at from qa_pairs where tenant_id = $1").bind(tenant.0).fetch_all(e).await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn delete_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("delete from qa_pairs where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).execute(e).await?;
    Ok(r.rows_affected() == 1)
}
