//! Billing SQL: accounts (entitlement + cached balances), the append-only ledger, payments,
//! Stripe events, pre-checkout answers and the customer paywall. The rules that use them are
//! in `crate::billing`; every function here that touches a tenant's data takes its `TenantId`.
use crate::domain::TenantId;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

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

/// The owner's customer-paywall settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaywallSettings {
    pub enabled: bool,
    pub free_per_day: i64,
    pub pack_stars: i64,
    pub pack_questions: i64,
}

const ACCOUNT_COLUMNS: &str = "tenant_id, plan_id, plan_source, plan_expires_at, period_start, period_end, plan_credits, pack_credits, used_in_period, \
     notified_80, notified_100, stars_charge_id, stars_user_id, stars_canceled, stripe_customer_id, stripe_subscription_id, stripe_status, \
     stripe_event_at, grace_until, paywall_enabled, paywall_free_per_day, paywall_pack_stars, paywall_pack_questions";

fn account(r: AnyRow) -> Account {
    Account {
        tenant_id: TenantId(r.get(0)),
        plan_id: r.get(1),
        plan_source: r.get(2),
        plan_expires_at: r.get(3),
        period_start: r.get(4),
        period_end: r.get(5),
        plan_credits: r.get(6),
        pack_credits: r.get(7),
        used_in_period: r.get(8),
        notified_80: r.get(9),
        notified_100: r.get(10),
        stars_charge_id: r.get(11),
        stars_user_id: r.get(12),
        stars_canceled: r.get::<i64, _>(13) != 0,
        stripe_customer_id: r.get(14),
        stripe_subscription_id: r.get(15),
        stripe_status: r.get(16),
        stripe_event_at: r.get(17),
        grace_until: r.get(18),
        paywall: PaywallSettings { enabled: r.get::<i64, _>(19) != 0, free_per_day: r.get(20), pack_stars: r.get(21), pack_questions: r.get(22) },
    }
}

/// Creates the account on the default plan if it does not exist. Returns whether it did (the
/// caller then writes the matching grant to the ledger, in the same transaction).
pub async fn create_account(conn: &mut super::Conn, tenant: TenantId, plan_id: &str, credits: i64, period_start: i64, period_end: i64, now: i64) -> sqlx::Result<bool> {
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
/// transaction: everything that reads a balance and then changes it starts here.
pub async fn lock_account(conn: &mut super::Conn, tenant: TenantId, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update billing_accounts set updated_at = $1 where tenant_id = $2").bind(now).bind(tenant.0).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

pub async fn get_account<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Option<Account>> {
    let r = sqlx::query(&format!("select {ACCOUNT_COLUMNS} from billing_accounts where tenant_id = $1")).bind(tenant.0).fetch_optional(e).await?;
    Ok(r.map(account))
}

/// Moves the cached balances by the amounts of the ledger rows written beside this call.
pub async fn add_credits(conn: &mut super::Conn, tenant: TenantId, plan: i64, pack: i64, used: i64) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_credits = plan_credits + $1, pack_credits = pack_credits + $2, used_in_period = used_in_period + $3 where tenant_id = $4")
        .bind(plan)
        .bind(pack)
        .bind(used)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A new usage period with `plan_credits` (the caller has written the expiry and the grant).
#[allow(clippy::too_many_arguments)]
pub async fn start_period(
    conn: &mut super::Conn,
    tenant: TenantId,
    plan_id: &str,
    source: &str,
    expires_at: Option<i64>,
    start: i64,
    end: i64,
    plan_credits: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update billing_accounts set plan_id = $1, plan_source = $2, plan_expires_at = $3, period_start = $4, period_end = $5,
         plan_credits = $6, used_in_period = 0 where tenant_id = $7",
    )
    .bind(plan_id)
    .bind(source)
    .bind(expires_at)
    .bind(start)
    .bind(end)
    .bind(plan_credits)
    .bind(tenant.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims the 80 % (`which` = 80) or 100 % notice for the period starting at `period`: true
/// once per period.
pub async fn claim_notice(conn: &mut super::Conn, tenant: TenantId, which: u8, period: i64) -> sqlx::Result<bool> {
    let col = if which >= 100 { "notified_100" } else { "notified_80" };
    let r = sqlx::query(&format!("update billing_accounts set {col} = $1 where tenant_id = $2 and {col} <> $1"))
        .bind(period)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

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
    conn: &mut super::Conn,
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

// --- payments ---------------------------------------------------------------------------------

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
pub async fn insert_payment(conn: &mut super::Conn, p: &NewPayment<'_>, now: i64) -> sqlx::Result<bool> {
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

#[derive(Debug, Clone)]
pub struct Payment {
    pub id: i64,
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

fn payment(r: AnyRow) -> Payment {
    Payment {
        id: r.get(0),
        tenant_id: TenantId(r.get(1)),
        provider: r.get(2),
        external_id: r.get(3),
        kind: r.get(4),
        product: r.get(5),
        amount: r.get(6),
        currency: r.get(7),
        payer_id: r.get(8),
        bot_id: r.get(9),
        credits: r.get(10),
        status: r.get(11),
        created_at: r.get(12),
    }
}

/// A payment by the provider's charge id. Not tenant-scoped: the operator's refund command
/// starts from a charge id, and this lookup is how it finds the tenant.
pub async fn payment_by_charge<'c>(e: impl Executor<'c, Database = Any>, external_id: &str) -> sqlx::Result<Vec<Payment>> {
    let rows = sqlx::query(&format!("select {PAYMENT_COLUMNS} from billing_payments where external_id = $1")).bind(external_id).fetch_all(e).await?;
    Ok(rows.into_iter().map(payment).collect())
}

pub async fn payments_for_tenant<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Payment>> {
    let rows = sqlx::query(&format!("select {PAYMENT_COLUMNS} from billing_payments where tenant_id = $1 order by id desc limit $2"))
        .bind(tenant.0)
        .bind(limit)
        .fetch_all(e)
        .await?;
    Ok(rows.into_iter().map(payment).collect())
}

/// Marks a paid payment refunded; false if it already was.
pub async fn mark_refunded(conn: &mut super::Conn, tenant: TenantId, id: i64, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update billing_payments set status = 'refunded', refunded_at = $1 where id = $2 and tenant_id = $3 and status = 'paid'")
        .bind(now)
        .bind(id)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

// --- Telegram Stars subscription --------------------------------------------------------------

pub async fn set_stars_subscription(conn: &mut super::Conn, tenant: TenantId, charge_id: &str, user_id: i64) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stars_charge_id = $1, stars_user_id = $2, stars_canceled = 0 where tenant_id = $3")
        .bind(charge_id)
        .bind(user_id)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_stars_canceled(conn: &mut super::Conn, tenant: TenantId, canceled: bool) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stars_canceled = $1 where tenant_id = $2").bind(canceled as i64).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

// --- Stripe -----------------------------------------------------------------------------------

/// Stores a verified Stripe event; false if its id was stored before.
pub async fn insert_stripe_event(conn: &mut super::Conn, id: &str, event_type: &str, created: i64, body: &str, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("insert into stripe_events (id, event_type, created, body, received_at) values ($1, $2, $3, $4, $5) on conflict (id) do nothing")
        .bind(id)
        .bind(event_type)
        .bind(created)
        .bind(body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A stored event's body, unless it was processed already.
pub async fn unprocessed_stripe_event<'c>(e: impl Executor<'c, Database = Any>, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select body from stripe_events where id = $1 and processed_at is null").bind(id).fetch_optional(e).await
}

/// Marks an event processed; false if another worker did first (the caller rolls back).
pub async fn mark_stripe_event_processed(conn: &mut super::Conn, id: &str, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update stripe_events set processed_at = $1 where id = $2 and processed_at is null").bind(now).bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

/// The tenant of a Stripe customer, if known.
pub async fn tenant_by_stripe_customer<'c>(e: impl Executor<'c, Database = Any>, customer: &str) -> sqlx::Result<Option<TenantId>> {
    let r: Option<i64> = sqlx::query_scalar("select tenant_id from billing_accounts where stripe_customer_id = $1").bind(customer).fetch_optional(e).await?;
    Ok(r.map(TenantId))
}

pub async fn set_stripe_customer(conn: &mut super::Conn, tenant: TenantId, customer: &str) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stripe_customer_id = $1 where tenant_id = $2 and (stripe_customer_id is null or stripe_customer_id <> $1)")
        .bind(customer)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies a subscription's state if the event is not older than the newest applied one.
/// Returns whether it applied.
#[allow(clippy::too_many_arguments)]
pub async fn apply_stripe_subscription(
    conn: &mut super::Conn,
    tenant: TenantId,
    subscription: &str,
    status: &str,
    event_at: i64,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update billing_accounts set stripe_subscription_id = $1, stripe_status = $2, stripe_event_at = $3
         where tenant_id = $4 and stripe_event_at <= $3
           and not (coalesce(stripe_status, '') = 'canceled' and coalesce(stripe_subscription_id, '') = $1)",
    )
    .bind(subscription)
    .bind(status)
    .bind(event_at)
    .bind(tenant.0)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_grace(conn: &mut super::Conn, tenant: TenantId, until: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set grace_until = $1 where tenant_id = $2").bind(until).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

pub async fn set_plan_expiry(conn: &mut super::Conn, tenant: TenantId, expires_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_expires_at = $1 where tenant_id = $2").bind(expires_at).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

// --- pre-checkout answers ---------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
pub async fn record_checkout<'c>(
    e: impl Executor<'c, Database = Any>,
    query_id: &str,
    tenant: Option<TenantId>,
    payload: &str,
    ok: bool,
    reason: Option<&str>,
    received_at: i64,
    answered_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into billing_checkouts (query_id, tenant_id, payload, ok, reason, received_at, answered_at) values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (query_id) do nothing",
    )
    .bind(query_id)
    .bind(tenant.map(|t| t.0))
    .bind(payload)
    .bind(ok as i64)
    .bind(reason)
    .bind(received_at)
    .bind(answered_at)
    .execute(e)
    .await?;
    Ok(())
}

/// (query id, ok, received_at, answered_at) of every recorded pre-checkout answer (benchmarks).
pub async fn checkouts<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<(String, bool, i64, i64)>> {
    let rows = sqlx::query("select query_id, ok, received_at, answered_at from billing_checkouts").fetch_all(e).await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get::<i64, _>(1) != 0, r.get(2), r.get(3))).collect())
}

// --- customer paywall -------------------------------------------------------------------------

pub async fn set_paywall(conn: &mut super::Conn, tenant: TenantId, s: &PaywallSettings) -> sqlx::Result<()> {
    sqlx::query(
        "update billing_accounts set paywall_enabled = $1, paywall_free_per_day = $2, paywall_pack_stars = $3, paywall_pack_questions = $4 where tenant_id = $5",
    )
    .bind(s.enabled as i64)
    .bind(s.free_per_day)
    .bind(s.pack_stars)
    .bind(s.pack_questions)
    .bind(tenant.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counts one more question of a customer today; returns today's count including it.
pub async fn paywall_count_question(conn: &mut super::Conn, tenant: TenantId, bot: i64, chat: i64, day: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into paywall_usage (tenant_id, bot_id, chat_id, day, questions) values ($1, $2, $3, $4, 1)
         on conflict (tenant_id, bot_id, chat_id, day) do update set questions = paywall_usage.questions + 1
         returning questions",
    )
    .bind(tenant.0)
    .bind(bot)
    .bind(chat)
    .bind(day)
    .fetch_one(&mut *conn)
    .await
}

/// Uses one bought question of a customer, if they have one.
pub async fn paywall_take_credit(conn: &mut super::Conn, tenant: TenantId, bot: i64, chat: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update paywall_credits set credits = credits - 1 where tenant_id = $1 and bot_id = $2 and chat_id = $3 and credits > 0")
        .bind(tenant.0)
        .bind(bot)
        .bind(chat)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn paywall_add_credits(conn: &mut super::Conn, tenant: TenantId, bot: i64, chat: i64, n: i64) -> sqlx::Result<()> {
    sqlx::query(
        "insert into paywall_credits (tenant_id, bot_id, chat_id, credits) values ($1, $2, $3, $4)
         on conflict (tenant_id, bot_id, chat_id) do update set credits = paywall_credits.credits + $4",
    )
    .bind(tenant.0)
    .bind(bot)
    .bind(chat)
    .bind(n)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn paywall_credits<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: i64, chat: i64) -> sqlx::Result<i64> {
    let r: Option<i64> = sqlx::query_scalar("select credits from paywall_credits where tenant_id = $1 and bot_id = $2 and chat_id = $3")
        .bind(tenant.0)
        .bind(bot)
        .bind(chat)
        .fetch_optional(e)
        .await?;
    Ok(r.unwrap_or(0))
}

/// Takes back up to `n` bought questions of a customer (a refund).
pub async fn paywall_take_back(conn: &mut super::Conn, tenant: TenantId, bot: i64, chat: i64, n: i64) -> sqlx::Result<()> {
    sqlx::query("update paywall_credits set credits = case when credits > $1 then credits - $1 else 0 end where tenant_id = $2 and bot_id = $3 and chat_id = $4")
        .bind(n)
        .bind(tenant.0)
        .bind(bot)
        .bind(chat)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The plan a Stripe subscription pays for, and the end of its paid period.
pub async fn set_stripe_plan(conn: &mut super::Conn, tenant: TenantId, plan_id: &str, expires_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_id = $1, plan_source = 'stripe', plan_expires_at = coalesce($2, plan_expires_at) where tenant_id = $3")
        .bind(plan_id)
        .bind(expires_at)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
