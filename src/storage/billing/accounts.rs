//! `billing_accounts`: a tenant's plan, usage period and cached balances (which always equal
//! the ledger's sum), its Telegram Stars subscription and grace period. Every balance change
//! starts with [`lock_account`].
use crate::domain::UserId;
use crate::storage::Conn;
use crate::domain::TenantId;
use sqlx::{Any, Executor};
use super::PaywallSettings;

/// A tenant's billing account.
#[derive(Debug, Clone)]
pub struct Account {
    pub tenant_id: TenantId,
    pub plan_id: String,
    /// `default` | `stars` | `stripe`
    pub plan_source: String,
    pub plan_expires_at: Option<i64>,
    pub period_start: i64,
    pub period_end: i64,
    pub plan_credits: i64,
    pub pack_credits: i64,
    pub used_in_period: i64,
    pub notified_80: i64,
    pub notified_100: i64,
    pub stars_charge_id: Option<String>,
    pub stars_user_id: Option<i64>,
    pub stars_canceled: bool,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_status: Option<String>,
    pub stripe_event_at: i64,
    pub grace_until: Option<i64>,
    pub paywall: PaywallSettings,
}

const ACCOUNT_COLUMNS: &str = "tenant_id, plan_id, plan_source, plan_expires_at, period_start, period_end, plan_credits, pack_credits, used_in_period, \
     notified_80, notified_100, stars_charge_id, stars_user_id, stars_canceled, stripe_customer_id, stripe_subscription_id, stripe_status, \
     stripe_event_at, grace_until, paywall_enabled, paywall_free_per_day, paywall_pack_stars, paywall_pack_questions";

/// A row of [`ACCOUNT_COLUMNS`] as stored (flags as 0/1).
#[derive(sqlx::FromRow)]
struct AccountRow {
    #[sqlx(try_from = "i64")]
    tenant_id: TenantId,
    plan_id: String,
    plan_source: String,
    plan_expires_at: Option<i64>,
    period_start: i64,
    period_end: i64,
    plan_credits: i64,
    pack_credits: i64,
    used_in_period: i64,
    notified_80: i64,
    notified_100: i64,
    stars_charge_id: Option<String>,
    stars_user_id: Option<i64>,
    stars_canceled: i64,
    stripe_customer_id: Option<String>,
    stripe_subscription_id: Option<String>,
    stripe_status: Option<String>,
    stripe_event_at: i64,
    grace_until: Option<i64>,
    paywall_enabled: i64,
    paywall_free_per_day: i64,
    paywall_pack_stars: i64,
    paywall_pack_questions: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            tenant_id: r.tenant_id,
            plan_id: r.plan_id,
            plan_source: r.plan_source,
            plan_expires_at: r.plan_expires_at,
            period_start: r.period_start,
            period_end: r.period_end,
            plan_credits: r.plan_credits,
            pack_credits: r.pack_credits,
            used_in_period: r.used_in_period,
            notified_80: r.notified_80,
            notified_100: r.notified_100,
            stars_charge_id: r.stars_charge_id,
            stars_user_id: r.stars_user_id,
            stars_canceled: r.stars_canceled != 0,
            stripe_customer_id: r.stripe_customer_id,
            stripe_subscription_id: r.stripe_subscription_id,
            stripe_status: r.stripe_status,
            stripe_event_at: r.stripe_event_at,
            grace_until: r.grace_until,
            paywall: PaywallSettings { enabled: r.paywall_enabled != 0, free_per_day: r.paywall_free_per_day, pack_stars: r.paywall_pack_stars, pack_questions: r.paywall_pack_questions },
        }
    }
}

/// Creates the account on the default plan if it does not exist. Returns whether it did (the
/// caller then writes the matching grant to the ledger, in the same transaction).
pub async fn create_account(conn: &mut Conn, tenant: TenantId, plan_id: &str, credits: i64, period_start: i64, period_end: i64, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into billing_accounts (tenant_id, plan_id, plan_source, period_start, period_end, plan_credits, pack_credits, created_at, updated_at)
         values ($1, $2, 'default', $3, $4, $5, 0, $6, $6)
         on conflict (tenant_id) do nothing",
    )
    .bind(tenant.0)
    .bind(plan_id)
    .bind(period_start)
    .bind(period_end)
    .bind(credits)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Takes the account's row lock (PostgreSQL) / the write lock (SQLite) for the rest of the
/// transaction and returns the account as it is under the lock (None: no account yet):
/// everything that reads a balance and then changes it starts here.
pub async fn lock_account(conn: &mut Conn, tenant: TenantId, now: i64) -> sqlx::Result<Option<Account>> {
    let r: Option<AccountRow> =
        sqlx::query_as(&format!("update billing_accounts set updated_at = $1 where tenant_id = $2 returning {ACCOUNT_COLUMNS}")).bind(now).bind(tenant.0).fetch_optional(&mut *conn).await?;
    Ok(r.map(Account::from))
}

pub async fn get_account<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Option<Account>> {
    let r: Option<AccountRow> = sqlx::query_as(&format!("select {ACCOUNT_COLUMNS} from billing_accounts where tenant_id = $1")).bind(tenant.0).fetch_optional(e).await?;
    Ok(r.map(Account::from))
}

/// Moves the cached balances by the amounts of the ledger rows written beside this call.
pub async fn add_credits(conn: &mut Conn, tenant: TenantId, plan: i64, pack: i64, used: i64) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_credits = plan_credits + $1, pack_credits = pack_credits + $2, used_in_period = used_in_period + $3 where tenant_id = $4")
        .bind(plan)
        .bind(pack)
        .bind(used)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A usage period: from `start` to `end` (ms), on a plan from `source` (`default`, `stars`,
/// `stripe`) that is paid until `expires_at`, if paid.
#[derive(Debug, Clone, Copy)]
pub struct Period<'a> {
    pub source: &'a str,
    pub expires_at: Option<i64>,
    pub start: i64,
    pub end: i64,
}

/// A new usage period with `plan_credits` (the caller has written the expiry and the grant).
pub async fn start_period(conn: &mut Conn, tenant: TenantId, plan_id: &str, period: &Period<'_>, plan_credits: i64) -> sqlx::Result<()> {
    sqlx::query(
        "update billing_accounts set plan_id = $1, plan_source = $2, plan_expires_at = $3, period_start = $4, period_end = $5,
         plan_credits = $6, used_in_period = 0 where tenant_id = $7",
    )
    .bind(plan_id)
    .bind(period.source)
    .bind(period.expires_at)
    .bind(period.start)
    .bind(period.end)
    .bind(plan_credits)
    .bind(tenant.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims the 80 % (`which` = 80) or 100 % notice for the period starting at `period`: true
/// once per period.
pub async fn claim_notice(conn: &mut Conn, tenant: TenantId, which: u8, period: i64) -> sqlx::Result<bool> {
    let col = if which >= 100 { "notified_100" } else { "notified_80" };
    let r = sqlx::query(&format!("update billing_accounts set {col} = $1 where tenant_id = $2 and {col} <> $1"))
        .bind(period)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_stars_subscription(conn: &mut Conn, tenant: TenantId, charge_id: &str, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stars_charge_id = $1, stars_user_id = $2, stars_canceled = 0 where tenant_id = $3")
        .bind(charge_id)
        .bind(user_id.0)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_stars_canceled(conn: &mut Conn, tenant: TenantId, canceled: bool) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stars_canceled = $1 where tenant_id = $2").bind(canceled as i64).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

pub async fn set_grace(conn: &mut Conn, tenant: TenantId, until: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set grace_until = $1 where tenant_id = $2").bind(until).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

pub async fn set_plan_expiry(conn: &mut Conn, tenant: TenantId, expires_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_expires_at = $1 where tenant_id = $2").bind(expires_at).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}
