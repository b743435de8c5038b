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
}

const COLUMNS: &str = "id, kind, name, content_type, size_bytes, status, status_reason, chunk_count, max_pages, recrawl_hours, updated_at";

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
                last_indexed_at = case when $1 = 'ready' then $5 else last_indexed_at end, updated_at = $5
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

pub async fn delete<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("delete from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Sites due for their scheduled re-crawl, across tenants (the scheduler's view).
pub async fn due_for_recrawl<'c>(e: impl Executor<'c, Database = Any>, now: i64) -> sqlx::Result<Vec<(TenantId, i64)>> {
    let rows = sqlx::query(
        "select tenant_id, id from sources
         where recrawl_hours is not null and status in ('ready', 'failed') and coalesce(last_indexed_at, 0) + recrawl_hours * 3600000 <= $1",
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
