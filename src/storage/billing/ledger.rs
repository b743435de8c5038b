//! `billing_ledger`: the append-only credit ledger, one row per change, idempotent per tenant
//! and key.
use crate::storage::Conn;
use crate::domain::TenantId;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// One ledger row.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: i64,
    pub bucket: String,
    pub amount: i64,
    pub kind: String,
    pub source: String,
    pub idem_key: String,
    pub created_at: i64,
}

/// A new ledger row; none if the tenant already has one with this key (returns `None`).
#[allow(clippy::too_many_arguments)]
pub async fn ledger_insert(
    conn: &mut Conn,
    tenant: TenantId,
    bucket: &str,
    amount: i64,
    kind: &str,
    source: &str,
    key: &str,
    tokens: i64,
    now: i64,
) -> sqlx::Result<Option<i64>> {
    let r = sqlx::query(
        "insert into billing_ledger (tenant_id, bucket, amount, kind, source, idem_key, tokens, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (tenant_id, idem_key) do nothing
         returning id",
    )
    .bind(tenant.0)
    .bind(bucket)
    .bind(amount)
    .bind(kind)
    .bind(source)
    .bind(key)
    .bind(tokens)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(r.map(|r| r.get(0)))
}

fn ledger_row(r: AnyRow) -> LedgerRow {
    LedgerRow { id: r.get(0), bucket: r.get(1), amount: r.get(2), kind: r.get(3), source: r.get(4), idem_key: r.get(5), created_at: r.get(6) }
}

pub async fn ledger_by_key<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, key: &str) -> sqlx::Result<Option<LedgerRow>> {
    let r = sqlx::query("select id, bucket, amount, kind, source, idem_key, created_at from billing_ledger where tenant_id = $1 and idem_key = $2")
        .bind(tenant.0)
        .bind(key)
        .fetch_optional(e)
        .await?;
    Ok(r.map(ledger_row))
}

/// The tenant's balance by the ledger alone (the cached balances must always equal it).
pub async fn ledger_balance<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select cast(coalesce(sum(amount), 0) as bigint) from billing_ledger where tenant_id = $1").bind(tenant.0).fetch_one(e).await
}

/// The newest `limit` ledger rows.
pub async fn ledger_recent<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<LedgerRow>> {
    let rows = sqlx::query("select id, bucket, amount, kind, source, idem_key, created_at from billing_ledger where tenant_id = $1 order by id desc limit $2")
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(e)
        .await?;
    Ok(rows.into_iter().map(ledger_row).collect())
}

/// AI answers per UTC day since `since_ms`: reservations minus releases.
pub async fn answers_per_day<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, since_ms: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "select created_at / 86400000 as day,
                cast(sum(case when kind = 'reserve' then 1 when kind = 'release' then -1 else 0 end) as bigint)
         from billing_ledger where tenant_id = $1 and created_at >= $2 and kind in ('reserve', 'release')
         group by created_at / 86400000 order by day",
    )
    .bind(tenant.0)
    .bind(since_ms)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
