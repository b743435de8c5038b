//! Knowledge sources and Q&A pairs. Every function takes the tenant: one owner can never name
//! another's source, even by guessing its id.
//!
//! Knowledge belongs to a bot (`bot_id`); a source may also be used by other bots of the same
//! business (`source_bots`, the owner's "Also use for"). Knowledge whose bot is null or no longer
//! one of the business's bots is "not used by any bot": no bot answers from it; the business's
//! next bot gets it when it is the only one ([`give_orphans_to`]). Where a function takes an
//! `Option<BotId>`, `None` means that knowledge.
use super::now_ms;
use crate::domain::{BotId, QaId, SourceId, TenantId};
use sqlx::{Any, Executor};

/// Rows of the tenant (`$1`) that belong to none of its bots.
const ORPHAN: &str = "(bot_id is null or bot_id not in (select id from bots where tenant_id = $1 and status <> 'deleted'))";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Source {
    #[sqlx(try_from = "i64")]
    pub id: SourceId,
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
    /// The bot it belongs to (`None`: no bot yet).
    pub bot_id: Option<i64>,
    /// While it is `processing`: passages indexed so far, out of `progress_total`.
    pub progress_done: Option<i64>,
    pub progress_total: Option<i64>,
    /// A web page's or site's title (its first page's `<title>`), once read; `None` for files.
    pub title: Option<String>,
    /// When it was last read well (Unix ms); with `recrawl_hours`, the next scheduled read is due
    /// that long after ([`due_for_recrawl`]).
    pub last_indexed_at: Option<i64>,
    /// A site whose last good read stopped at its page limit with pages of it left unread: that
    /// limit. `None`: the whole site (as the read found it) was read, or it is not a site.
    pub page_limit_reached: Option<i64>,
}

impl Source {
    /// When a source read well re-reads on its schedule next (Unix ms), as [`due_for_recrawl`]
    /// finds it; `None` if it has no schedule or isn't `ready`.
    pub fn next_scheduled_read(&self) -> Option<i64> {
        let hours = self.recrawl_hours.filter(|_| self.status == "ready")?;
        Some(self.next_crawl_at.unwrap_or(self.last_indexed_at.unwrap_or(0) + hours * 3_600_000))
    }

    /// How far a read is, in whole percent, once it knows how many passages it has to index.
    pub fn progress_percent(&self) -> Option<i64> {
        match (self.status.as_str(), self.progress_done, self.progress_total) {
            ("processing", Some(done), Some(total)) if total > 0 => Some((done.clamp(0, total) * 100) / total),
            _ => None,
        }
    }
}

const COLUMNS: &str = "id, kind, name, content_type, size_bytes, status, status_reason, chunk_count, max_pages, recrawl_hours, updated_at, recrawl_failures, next_crawl_at, bot_id, progress_done, progress_total, title, last_indexed_at, page_limit_reached";

/// The id the vector index knows a source (or page `page` of a site) by.
pub fn index_id(source: SourceId, page: usize) -> String {
    if page == 0 { format!("src-{source}") } else { format!("src-{source}-p{page}") }
}

/// Pages a source had indexed (1 for files and single pages once read).
pub async fn page_count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("select page_count from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await?;
    Ok(n.unwrap_or(0))
}

/// Sets the pages a read indexed, unless the source is being deleted. False if it is (or is gone).
pub async fn set_page_count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, pages: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update sources set page_count = $1 where tenant_id = $2 and id = $3 and status <> 'deleting'").bind(pages).bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Records whether a read stopped at its page limit `limit` with pages of the site left unread
/// (`None`: it read all it found). Shown on the Knowledge page.
pub async fn set_page_limit_reached<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, limit: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update sources set page_limit_reached = $1 where tenant_id = $2 and id = $3").bind(limit).bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(())
}

/// Raises the page count to at least `pages` before a read indexes that many, so that a delete
/// from then on removes every page the read may write. False if the source is being deleted
/// (or is gone): then the read must index nothing.
pub async fn reserve_pages<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, pages: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update sources set page_count = case when page_count < $1 then $1 else page_count end
         where tenant_id = $2 and id = $3 and status <> 'deleting'",
    )
    .bind(pages)
    .bind(tenant.0)
    .bind(id.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The first step of a delete: the source is marked `deleting` — from then on no read stores
/// anything for it, no re-crawl queues it, and a read that finishes removes what it indexed —
/// and its page count is returned, every page a read may have indexed. `None` if there is no
/// such source.
pub async fn mark_deleting<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("update sources set status = 'deleting', status_reason = null, updated_at = $1 where tenant_id = $2 and id = $3 returning page_count")
        .bind(now_ms())
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(e)
        .await
}

pub struct NewSource<'a> {
    /// The bot it is for (`None`: the business has no bot yet; its first bot gets it).
    pub bot: Option<BotId>,
    pub kind: &'a str,
    pub name: &'a str,
    pub size_bytes: i64,
    pub content: Option<&'a [u8]>,
    pub max_pages: Option<i64>,
    pub recrawl_hours: Option<i64>,
}

pub async fn insert<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, s: &NewSource<'_>) -> sqlx::Result<SourceId> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "insert into sources (tenant_id, kind, name, size_bytes, content, status, max_pages, recrawl_hours, created_at, updated_at, bot_id)
         values ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8, $9) returning id",
    )
    .bind(tenant.0)
    .bind(s.kind)
    .bind(s.name)
    .bind(s.size_bytes)
    .bind(s.content)
    .bind(s.max_pages)
    .bind(s.recrawl_hours)
    .bind(now)
    .bind(s.bot.map(|b| b.0))
    .fetch_one(e)
    .await?;
    Ok(SourceId(id))
}

/// The file source named `name` that `bot` owns (for `None`: of the knowledge no bot uses),
/// not being deleted — the newest if there are several: the one a new upload of that name
/// replaces. A file shared from another bot is not `bot`'s own and is never returned.
pub async fn own_file_named<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>, name: &str) -> sqlx::Result<Option<Source>> {
    let sql = |own: &str| format!("select {COLUMNS} from sources where tenant_id = $1 and kind = 'file' and name = $2 and status <> 'deleting' and {own} order by id desc limit 1");
    match bot {
        Some(bot) => sqlx::query_as(&sql("bot_id = $3")).bind(tenant.0).bind(name).bind(bot.0).fetch_optional(e).await,
        None => sqlx::query_as(&sql(ORPHAN)).bind(tenant.0).bind(name).fetch_optional(e).await,
    }
}

/// The bot's own web page or site (`kind` `url` or `site`) at address `name`, if it has one
/// (a failed one too): the same address added again is read again, not added twice.
pub async fn own_address<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>, kind: &str, name: &str) -> sqlx::Result<Option<Source>> {
    let sql = |own: &str| format!("select {COLUMNS} from sources where tenant_id = $1 and kind = $2 and name = $3 and status <> 'deleting' and {own} order by id desc limit 1");
    match bot {
        Some(bot) => sqlx::query_as(&sql("bot_id = $4")).bind(tenant.0).bind(kind).bind(name).bind(bot.0).fetch_optional(e).await,
        None => sqlx::query_as(&sql(ORPHAN)).bind(tenant.0).bind(kind).bind(name).fetch_optional(e).await,
    }
}

/// Puts a new version's bytes in file source `id` and marks it `queued` to be read again; its
/// passages so far stay until the read replaces them. False if it is being deleted (or is gone).
pub async fn replace_content<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, content: &[u8]) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update sources set content = $1, size_bytes = $2, status = 'queued', status_reason = null, updated_at = $3, progress_done = null, progress_total = null
         where tenant_id = $4 and id = $5 and kind = 'file' and status <> 'deleting'",
    )
    .bind(content)
    .bind(content.len() as i64)
    .bind(now_ms())
    .bind(tenant.0)
    .bind(id.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Every source of the tenant, whichever bot uses it (the page's live status).
pub async fn list<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<Source>> {
    sqlx::query_as(&format!("select {COLUMNS} from sources where tenant_id = $1 order by id desc")).bind(tenant.0).fetch_all(e).await
}

/// The sources `bot` answers from — its own, then those shared with it — or, for `None`, those
/// no bot of the tenant uses. Newest first.
pub async fn list_for<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>) -> sqlx::Result<Vec<Source>> {
    match bot {
        Some(bot) => {
            sqlx::query_as(&format!(
                "select {COLUMNS} from sources where tenant_id = $1
                   and (bot_id = $2 or id in (select source_id from source_bots where tenant_id = $1 and bot_id = $2))
                 order by case when bot_id = $2 then 0 else 1 end, id desc"
            ))
            .bind(tenant.0)
            .bind(bot.0)
            .fetch_all(e)
            .await
        }
        None => sqlx::query_as(&format!("select {COLUMNS} from sources where tenant_id = $1 and {ORPHAN} order by id desc")).bind(tenant.0).fetch_all(e).await,
    }
}

/// A source [`scope`] returns, with the pages the index may hold of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SourcePages {
    #[sqlx(try_from = "i64")]
    pub id: SourceId,
    pub page_count: i64,
}

/// What `bot` may retrieve: each source it uses (its own and those shared with it), with the
/// pages the index may hold of it (see [`index_id`]); for `None`, the sources no bot uses (what
/// the playground searches before the business has a bot). Sources being deleted are left out.
pub async fn scope<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>) -> sqlx::Result<Vec<SourcePages>> {
    match bot {
        Some(bot) => {
            sqlx::query_as(
                "select id, page_count from sources where tenant_id = $1 and status <> 'deleting'
                   and (bot_id = $2 or id in (select source_id from source_bots where tenant_id = $1 and bot_id = $2))",
            )
            .bind(tenant.0)
            .bind(bot.0)
            .fetch_all(e)
            .await
        }
        None => sqlx::query_as(&format!("select id, page_count from sources where tenant_id = $1 and status <> 'deleting' and {ORPHAN}")).bind(tenant.0).fetch_all(e).await,
    }
}

/// How many sources and Q&A pairs of the tenant no bot uses.
pub async fn orphans<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!(
        "select (select count(*) from sources where tenant_id = $1 and {ORPHAN}) + (select count(*) from qa_pairs where tenant_id = $1 and {ORPHAN})"
    ))
    .bind(tenant.0)
    .fetch_one(e)
    .await
}

/// A source used for another bot too (a row of `source_bots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Share {
    #[sqlx(try_from = "i64")]
    pub source_id: SourceId,
    #[sqlx(try_from = "i64")]
    pub bot_id: BotId,
}

/// The other bots each of the tenant's sources is also used for.
pub async fn shares<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<Share>> {
    sqlx::query_as("select source_id, bot_id from source_bots where tenant_id = $1 order by source_id, bot_id").bind(tenant.0).fetch_all(e).await
}

/// Stops using source `id` for the bots it was shared with (the first step of setting them).
pub async fn unshare_all<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from source_bots where tenant_id = $1 and source_id = $2").bind(tenant.0).bind(id.0).execute(e).await?.rows_affected())
}

/// Uses source `id` for `bot` too — only if both are the tenant's, the bot is not deleted and
/// the source is not already its own. Returns whether a share was added.
pub async fn share<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, bot: BotId) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into source_bots (tenant_id, source_id, bot_id, created_at)
         select s.tenant_id, s.id, b.id, $4 from sources s join bots b on b.tenant_id = s.tenant_id
         where s.tenant_id = $1 and s.id = $2 and b.id = $3 and b.status <> 'deleted' and (s.bot_id is null or s.bot_id <> b.id)
         on conflict do nothing",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(bot.0)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the tenant's knowledge that no bot uses (see the module's doc) to `bot`, if `bot` is
/// the tenant's only bot: knowledge added before the first bot existed, or left by a deleted
/// one, goes to the business's bot. Returns the sources and Q&A pairs moved.
pub async fn give_orphans_to(conn: &mut super::Conn, tenant: TenantId, bot: BotId) -> sqlx::Result<u64> {
    let only = "not exists (select 1 from bots where tenant_id = $1 and status <> 'deleted' and id <> $2)
                and exists (select 1 from bots where tenant_id = $1 and status <> 'deleted' and id = $2)";
    let mut moved = 0;
    for table in ["sources", "qa_pairs"] {
        moved += sqlx::query(&format!("update {table} set bot_id = $2 where tenant_id = $1 and {ORPHAN} and {only}"))
            .bind(tenant.0)
            .bind(bot.0)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(moved)
}

pub async fn get<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<Option<Source>> {
    sqlx::query_as(&format!("select {COLUMNS} from sources where tenant_id = $1 and id = $2")).bind(tenant.0).bind(id.0).fetch_optional(e).await
}

/// The uploaded bytes of a file source.
pub async fn content<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<Option<Vec<u8>>> {
    let r: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("select content from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await?;
    Ok(r.flatten())
}

/// How many sources (files, pages, sites) the tenant has, for its plan's limit. A source that
/// failed with nothing read from it (an unsupported file, an address that could not be reached)
/// takes no place; one whose re-read failed still answers from its earlier passages, and does.
pub async fn count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from sources where tenant_id = $1 and not (status = 'failed' and chunk_count = 0)").bind(tenant.0).fetch_one(e).await
}

/// Total bytes the tenant has uploaded (for the per-tenant limit). Like [`count`], a source that
/// failed with nothing read from it takes no space: a big file that could not be read does not
/// keep a smaller one out.
pub async fn total_bytes<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "select cast(coalesce(sum(size_bytes), 0) as bigint) from sources where tenant_id = $1 and not (status = 'failed' and chunk_count = 0)",
    )
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
    id: SourceId,
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
                failure_notice_at = case when $1 = 'ready' then null else failure_notice_at end,
                progress_done = null, progress_total = null
         where tenant_id = $6 and id = $7 and status <> 'deleting'",
    )
    .bind(status)
    .bind(reason)
    .bind(content_type)
    .bind(chunks)
    .bind(now)
    .bind(tenant.0)
    .bind(id.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether source `id` of `tenant` is being deleted, or is gone.
pub async fn is_deleted<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<bool> {
    let status: Option<String> = sqlx::query_scalar("select status from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await?;
    Ok(status.is_none_or(|s| s == "deleting"))
}

/// Records how far the read of a `processing` source is: `done` of its `total` passages indexed.
/// Changes nothing once the source has moved on (ready, failed, deleting).
pub async fn set_progress<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, done: i64, total: i64) -> sqlx::Result<()> {
    sqlx::query("update sources set progress_done = $1, progress_total = $2 where tenant_id = $3 and id = $4 and status = 'processing'")
        .bind(done)
        .bind(total)
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(())
}

/// What the owner reads of a source whose read failed on our side.
pub const INTERNAL_FAILURE: &str = "Something went wrong on our side while reading this source. Please try again later.";

/// Marks `failed` ([`INTERNAL_FAILURE`]) the sources left `processing` by a read that will not
/// finish: its job is neither queued nor running any more (its worker was killed on the last
/// attempt, or the job panicked or met a database error then, and was dead-lettered without
/// getting to record the failure). Otherwise such a source would read "reading…" for good, and
/// scheduled re-crawls (which take up `ready` and `failed` sources) would skip it. A read's job is
/// of kind `ingest_kind` with the serial key `{key_prefix}:{tenant}:{source}`
/// (`app::jobs::ingest`). Returns how many.
pub async fn fail_abandoned_reads<'c>(e: impl Executor<'c, Database = Any>, ingest_kind: &str, key_prefix: &str) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update sources set status = 'failed', status_reason = $1, updated_at = $2
         where status = 'processing' and not exists (
             select 1 from jobs where kind = $3 and state in ('queued', 'running')
                 and serial_key = $4 || ':' || sources.tenant_id || ':' || sources.id)",
    )
    .bind(INTERNAL_FAILURE)
    .bind(now_ms())
    .bind(ingest_kind)
    .bind(key_prefix)
    .execute(e)
    .await?;
    Ok(r.rows_affected())
}

/// Records the size a read found (a web page's or site's text), unless it is being deleted.
pub async fn set_size<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, bytes: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update sources set size_bytes = $1 where tenant_id = $2 and id = $3 and status <> 'deleting'").bind(bytes).bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Records the title a read found (a web page's or site's), unless it is being deleted.
pub async fn set_title<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, title: Option<&str>) -> sqlx::Result<bool> {
    let r = sqlx::query("update sources set title = $1 where tenant_id = $2 and id = $3 and status <> 'deleting'").bind(title).bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes the row of source `id` and its shares, in one transaction.
pub async fn delete(db: &super::Db, tenant: TenantId, id: SourceId) -> sqlx::Result<bool> {
    let mut tx = db.begin_tx().await?;
    unshare_all(&mut *tx, tenant, id).await?;
    let r = sqlx::query("delete from sources where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

/// Records one more failed read of a source that is re-crawled on a schedule: the next try is
/// due at `next_at` (the caller's backoff). Not for a source being deleted.
pub async fn record_recrawl_failure<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, failures: i64, next_at: i64) -> sqlx::Result<()> {
    sqlx::query("update sources set recrawl_failures = $1, next_crawl_at = $2 where tenant_id = $3 and id = $4 and status <> 'deleting'")
        .bind(failures)
        .bind(next_at)
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(())
}

/// A failing scheduled source whose owner is to be told: claimed once per failing streak.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailureNotice {
    pub name: String,
    /// Why the last read failed (empty if none was recorded).
    pub reason: String,
    pub next_crawl_at: Option<i64>,
    /// Passages still indexed from the last good read.
    pub chunk_count: i64,
}

/// Claims telling the owner that source `id` is failing (a scheduled source, failed, not told
/// yet in this streak). `None` if there is nothing to tell or it was claimed already.
pub async fn claim_failure_notice<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId, now: i64) -> sqlx::Result<Option<FailureNotice>> {
    sqlx::query_as(
        "update sources set failure_notice_at = $1
         where tenant_id = $2 and id = $3 and status = 'failed' and recrawl_hours is not null and failure_notice_at is null
         returning name, coalesce(status_reason, '') as reason, next_crawl_at, chunk_count",
    )
    .bind(now)
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(e)
    .await
}

/// Gives a claimed notice back (it could not be sent): the next failure tells the owner.
pub async fn unclaim_failure_notice<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: SourceId) -> sqlx::Result<()> {
    sqlx::query("update sources set failure_notice_at = null where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(())
}

/// Sites due for their scheduled re-crawl, across tenants (the scheduler's view): their interval
/// has passed since the last good read — or, after failures, their backoff.
pub async fn due_for_recrawl<'c>(e: impl Executor<'c, Database = Any>, now: i64) -> sqlx::Result<Vec<(TenantId, SourceId)>> {
    #[derive(sqlx::FromRow)]
    struct Due {
        #[sqlx(try_from = "i64")]
        tenant_id: TenantId,
        #[sqlx(try_from = "i64")]
        id: SourceId,
    }
    let rows: Vec<Due> = sqlx::query_as(
        "select tenant_id, id from sources
         where recrawl_hours is not null and status in ('ready', 'failed')
           and coalesce(next_crawl_at, coalesce(last_indexed_at, 0) + recrawl_hours * 3600000) <= $1",
    )
    .bind(now)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.id)).collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QaPair {
    #[sqlx(try_from = "i64")]
    pub id: QaId,
    pub question: String,
    pub answer: String,
}

/// A Q&A pair of `bot` (`None`: the business has no bot yet; its first bot gets it).
pub async fn insert_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>, question: &str, answer: &str) -> sqlx::Result<QaId> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar("insert into qa_pairs (tenant_id, bot_id, question, answer, created_at, updated_at) values ($1, $2, $3, $4, $5, $5) returning id")
        .bind(tenant.0)
        .bind(bot.map(|b| b.0))
        .bind(question)
        .bind(answer)
        .bind(now)
        .fetch_one(e)
        .await?;
    Ok(QaId(id))
}

/// How many Q&A pairs `bot` has (for `None`: those no bot of the tenant uses).
pub async fn count_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>) -> sqlx::Result<i64> {
    let n: i64 = match bot {
        Some(bot) => sqlx::query_scalar("select count(*) from qa_pairs where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).fetch_one(e).await?,
        None => sqlx::query_scalar(&format!("select count(*) from qa_pairs where tenant_id = $1 and {ORPHAN}")).bind(tenant.0).fetch_one(e).await?,
    };
    Ok(n)
}

/// `bot`'s Q&A pairs, or for `None` those no bot of the tenant uses. Newest first.
pub async fn list_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>) -> sqlx::Result<Vec<QaPair>> {
    match bot {
        Some(bot) => {
            sqlx::query_as("select id, question, answer from qa_pairs where tenant_id = $1 and bot_id = $2 order by id desc").bind(tenant.0).bind(bot.0).fetch_all(e).await
        }
        None => sqlx::query_as(&format!("select id, question, answer from qa_pairs where tenant_id = $1 and {ORPHAN} order by id desc")).bind(tenant.0).fetch_all(e).await,
    }
}

/// A Q&A pair's question and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QaQuestion {
    pub question: String,
    pub updated_at: i64,
}

/// Each of `bot`'s Q&A pairs' question and when it was last written (for hiding the gaps it answers).
pub async fn qa_questions<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Vec<QaQuestion>> {
    sqlx::query_as("select question, updated_at from qa_pairs where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).fetch_all(e).await
}

/// A Q&A pair of the tenant, with the bot it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnedQa {
    #[sqlx(try_from = "i64")]
    pub id: QaId,
    pub question: String,
    pub answer: String,
    pub bot_id: Option<i64>,
}

pub async fn get_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: QaId) -> sqlx::Result<Option<OwnedQa>> {
    sqlx::query_as("select id, question, answer, bot_id from qa_pairs where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await
}

/// Rewrites Q&A pair `id`'s question and answer. False if the tenant has no such pair.
pub async fn update_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: QaId, question: &str, answer: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("update qa_pairs set question = $1, answer = $2, updated_at = $3 where tenant_id = $4 and id = $5")
        .bind(question)
        .bind(answer)
        .bind(now_ms())
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_qa<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: QaId) -> sqlx::Result<bool> {
    let r = sqlx::query("delete from qa_pairs where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(r.rows_affected() == 1)
}
