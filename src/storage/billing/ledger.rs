//! `billing_ledger`: the append-only credit ledger, one row per change, idempotent per tenant
//! and key.
use crate::storage::Conn;
use crate::domain::TenantId;
use sqlx::{Any, Executor};

/// Which credits a ledger movement counts: the plan's allowance for the period, or bought packs
/// (kept until used). Stored as `plan` / `pack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Plan,
    Pack,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Plan => "plan",
            Bucket::Pack => "pack",
        }
    }

    /// `(plan, pack)` credits for `n` credits of this bucket.
    pub fn split(self, n: i64) -> (i64, i64) {
        match self {
            Bucket::Plan => (n, 0),
            Bucket::Pack => (0, n),
        }
    }

}

impl TryFrom<String> for Bucket {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "plan" => Ok(Bucket::Plan),
            "pack" => Ok(Bucket::Pack),
            other => Err(format!("unknown ledger bucket `{other}`")),
        }
    }
}

/// One movement to record: `amount` credits of `bucket` (negative: taken), what happened
/// (`kind`: grant, expire, purchase, reserve, settle, release, refund), what for (`source`), its
/// idempotency key per tenant, and the model tokens an answer took.
#[derive(Debug, Clone, Copy)]
pub struct Movement<'a> {
    pub bucket: Bucket,
    pub amount: i64,
    pub kind: &'a str,
    pub source: &'a str,
    pub key: &'a str,
    pub tokens: i64,
}

/// One ledger row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub bucket: Bucket,
    pub amount: i64,
    pub kind: String,
    pub source: String,
    pub idem_key: String,
    pub created_at: i64,
}

/// A new ledger row; none if the tenant already has one with this key (returns `None`).
pub async fn ledger_insert(conn: &mut Conn, tenant: TenantId, m: &Movement<'_>, now: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into billing_ledger (tenant_id, bucket, amount, kind, source, idem_key, tokens, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (tenant_id, idem_key) do nothing
         returning id",
    )
    .bind(tenant.0)
    .bind(m.bucket.as_str())
    .bind(m.amount)
    .bind(m.kind)
    .bind(m.source)
    .bind(m.key)
    .bind(m.tokens)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn ledger_by_key<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, key: &str) -> sqlx::Result<Option<LedgerRow>> {
    sqlx::query_as("select id, bucket, amount, kind, source, idem_key, created_at from billing_ledger where tenant_id = $1 and idem_key = $2")
        .bind(tenant.0)
        .bind(key)
        .fetch_optional(e)
        .await
}

/// When the tenant's ledger row `id` was written (ms), if it exists.
pub async fn ledger_created_at(conn: &mut Conn, tenant: TenantId, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select created_at from billing_ledger where tenant_id = $1 and id = $2").bind(tenant.0).bind(id).fetch_optional(&mut *conn).await
}

/// The plan answers granted for the tenant's current period, which started at `period_start`:
/// its newest `grant` (each period starts with one; a change of plan starts a new period).
/// `created_at` bounds the search to the period's rows.
pub async fn period_grant(conn: &mut Conn, tenant: TenantId, period_start: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select amount from billing_ledger where tenant_id = $1 and kind = 'grant' and created_at >= $2 order by id desc limit 1")
        .bind(tenant.0)
        .bind(period_start)
        .fetch_optional(&mut *conn)
        .await
}

/// The tenant's balance by the ledger alone (the cached balances must always equal it).
pub async fn ledger_balance<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select cast(coalesce(sum(amount), 0) as bigint) from billing_ledger where tenant_id = $1").bind(tenant.0).fetch_one(e).await
}

/// The newest `limit` ledger rows.
pub async fn ledger_recent<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<LedgerRow>> {
    sqlx::query_as("select id, bucket, amount, kind, source, idem_key, created_at from billing_ledger where tenant_id = $1 order by id desc limit $2")
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(e)
        .await
}

/// AI answers on one UTC day (days since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct DayCount {
    pub day: i64,
    pub answers: i64,
}

/// AI answers per UTC day since `since_ms`: reservations minus releases.
pub async fn answers_per_day<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, since_ms: i64) -> sqlx::Result<Vec<DayCount>> {
    sqlx::query_as(
        "select created_at / 86400000 as day,
                cast(sum(case when kind = 'reserve' then 1 when kind = 'release' then -1 else 0 end) as bigint) as answers
         from billing_ledger where tenant_id = $1 and created_at >= $2 and kind in ('reserve', 'release')
         group by created_at / 86400000 order by day",
    )
    .bind(tenant.0)
    .bind(since_ms)
    .fetch_all(e)
    .await
}
