//! `billing_payments` (Stars and card payments, refunds) and `billing_checkouts` (the manager
//! bot's answers to pre-checkout queries).
use crate::storage::Conn;
use crate::domain::TenantId;
use sqlx::{Any, Executor};

#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub tenant_id: TenantId,
    pub provider: &'a str,
    pub external_id: &'a str,
    pub kind: &'a str,
    pub product: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub payer_id: Option<i64>,
    pub bot_id: Option<i64>,
    pub credits: i64,
}

/// Records a payment; a charge already recorded is left alone (returns false).
pub async fn insert_payment(conn: &mut Conn, p: &NewPayment<'_>, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into billing_payments (tenant_id, provider, external_id, kind, product, amount, currency, payer_id, bot_id, credits, status, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'paid', $11)
         on conflict (provider, external_id) do nothing",
    )
    .bind(p.tenant_id.0)
    .bind(p.provider)
    .bind(p.external_id)
    .bind(p.kind)
    .bind(p.product)
    .bind(p.amount)
    .bind(p.currency)
    .bind(p.payer_id)
    .bind(p.bot_id)
    .bind(p.credits)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payment {
    pub id: i64,
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    pub provider: String,
    pub external_id: String,
    pub kind: String,
    pub product: String,
    pub amount: i64,
    pub currency: String,
    pub payer_id: Option<i64>,
    pub bot_id: Option<i64>,
    pub credits: i64,
    pub status: String,
    pub created_at: i64,
}

const PAYMENT_COLUMNS: &str = "id, tenant_id, provider, external_id, kind, product, amount, currency, payer_id, bot_id, credits, status, created_at";

/// A payment by the provider's charge id. Not tenant-scoped: the operator's refund command
/// starts from a charge id, and this lookup is how it finds the tenant.
pub async fn payment_by_charge<'c>(e: impl Executor<'c, Database = Any>, external_id: &str) -> sqlx::Result<Vec<Payment>> {
    sqlx::query_as(&format!("select {PAYMENT_COLUMNS} from billing_payments where external_id = $1")).bind(external_id).fetch_all(e).await
}

pub async fn payments_for_tenant<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Payment>> {
    sqlx::query_as(&format!("select {PAYMENT_COLUMNS} from billing_payments where tenant_id = $1 order by id desc limit $2"))
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(e)
        .await
}

/// Marks a paid payment refunded; false if it already was.
pub async fn mark_refunded(conn: &mut Conn, tenant: TenantId, id: i64, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update billing_payments set status = 'refunded', refunded_at = $1 where id = $2 and tenant_id = $3 and status = 'paid'")
        .bind(now)
        .bind(id)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

// --- pre-checkout answers ---------------------------------------------------------------------

/// A pre-checkout query and how it was answered.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    pub query_id: &'a str,
    /// The business the invoice was for, when its payload named one.
    pub tenant: Option<TenantId>,
    pub payload: &'a str,
    pub ok: bool,
    /// Why it was refused.
    pub reason: Option<&'a str>,
    pub received_at: i64,
    pub answered_at: i64,
}

pub async fn record_checkout<'c>(e: impl Executor<'c, Database = Any>, c: &Checkout<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into billing_checkouts (query_id, tenant_id, payload, ok, reason, received_at, answered_at) values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (query_id) do nothing",
    )
    .bind(c.query_id)
    .bind(c.tenant.map(|t| t.0))
    .bind(c.payload)
    .bind(c.ok as i64)
    .bind(c.reason)
    .bind(c.received_at)
    .bind(c.answered_at)
    .execute(e)
    .await?;
    Ok(())
}

/// A pre-checkout query the manager bot received, and when its job was recorded done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutAnswer {
    /// The query's id, from the stored update.
    pub query_id: String,
    /// Unix ms; just after the answer was accepted.
    pub done_at: i64,
}

/// For benchmarks: each pre-checkout query the manager bot received and when it was answered.
pub async fn pre_checkout_answer_times<'c>(e: impl Executor<'c, Database = Any>, manager: i64) -> sqlx::Result<Vec<PreCheckoutAnswer>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        body: String,
        updated_at: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select u.body, j.updated_at from telegram_updates u
           join jobs j on j.kind = 'manager.update' and j.state = 'done' and j.payload = '{\"update_id\":' || cast(u.update_id as text) || '}'
         where u.bot_id = $1 and u.body like '%\"pre_checkout_query\"%'",
    )
    .bind(manager)
    .fetch_all(e)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
            Some(PreCheckoutAnswer { query_id: v["pre_checkout_query"]["id"].as_str()?.to_owned(), done_at: r.updated_at })
        })
        .collect())
}
