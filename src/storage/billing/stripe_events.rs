//! `stripe_events` (verified webhook events, stored once by id) and the Stripe customer and
//! subscription state on the account, applied in event order.
use crate::storage::Conn;
use crate::domain::TenantId;
use sqlx::{Any, Executor};

/// Stores a verified Stripe event; false if its id was stored before.
pub async fn insert_stripe_event(conn: &mut Conn, id: &str, event_type: &str, created: i64, body: &str, now: i64) -> sqlx::Result<bool> {
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
pub async fn mark_stripe_event_processed(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update stripe_events set processed_at = $1 where id = $2 and processed_at is null").bind(now).bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

/// The tenant of a Stripe customer, if known.
pub async fn tenant_by_stripe_customer<'c>(e: impl Executor<'c, Database = Any>, customer: &str) -> sqlx::Result<Option<TenantId>> {
    let r: Option<i64> = sqlx::query_scalar("select tenant_id from billing_accounts where stripe_customer_id = $1").bind(customer).fetch_optional(e).await?;
    Ok(r.map(TenantId))
}

pub async fn set_stripe_customer(conn: &mut Conn, tenant: TenantId, customer: &str) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stripe_customer_id = $1 where tenant_id = $2 and (stripe_customer_id is null or stripe_customer_id <> $1)")
        .bind(customer)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The plan a Stripe subscription pays for, and the end of its paid period.
pub async fn set_stripe_plan(conn: &mut Conn, tenant: TenantId, plan_id: &str, expires_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set plan_id = $1, plan_source = 'stripe', plan_expires_at = coalesce($2, plan_expires_at) where tenant_id = $3")
        .bind(plan_id)
        .bind(expires_at)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records one card subscription's state from an event, unless a newer event was recorded for
/// that subscription or it is already `canceled` (final). Returns whether it changed. `plan_id`
/// is the plan its price pays for, when the event says.
///
/// Stripe stamps events in whole seconds, so a subscription's creation (`incomplete`) and its
/// activation after the first payment often share one: of two events of the same second, the
/// later one recorded wins, except that `incomplete` — where every subscription starts — never
/// replaces another state of that second.
pub async fn record_stripe_subscription(conn: &mut Conn, tenant: TenantId, subscription: &str, status: &str, plan_id: Option<&str>, event_at: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into stripe_subscriptions (subscription_id, tenant_id, status, plan_id, event_at) values ($1, $2, $3, $4, $5)
         on conflict (subscription_id) do update set status = excluded.status, plan_id = coalesce(excluded.plan_id, stripe_subscriptions.plan_id),
             event_at = excluded.event_at, tenant_id = excluded.tenant_id
         where (stripe_subscriptions.event_at < excluded.event_at
                or (stripe_subscriptions.event_at = excluded.event_at and excluded.status <> 'incomplete'))
           and stripe_subscriptions.status <> 'canceled'",
    )
    .bind(subscription)
    .bind(tenant.0)
    .bind(status)
    .bind(plan_id)
    .bind(event_at)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// One card subscription as last recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StripeSubscription {
    pub id: String,
    pub status: String,
    pub plan_id: Option<String>,
    pub event_at: i64,
}

/// The subscription that speaks for the account when a business has more than one: a paying
/// one (active or trialing), else one in arrears (past due, unpaid), else one being set up,
/// else the latest — so one subscription ending never ends the plan another still pays for.
pub async fn leading_stripe_subscription(conn: &mut Conn, tenant: TenantId) -> sqlx::Result<Option<StripeSubscription>> {
    sqlx::query_as(
        "select subscription_id as id, status, plan_id, event_at from stripe_subscriptions where tenant_id = $1
         order by case status when 'active' then 0 when 'trialing' then 0 when 'past_due' then 1 when 'unpaid' then 1 when 'incomplete' then 2 else 3 end,
                  event_at desc, subscription_id
         limit 1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await
}

/// Puts the account's card subscription fields to `sub`'s state.
pub async fn set_account_subscription(conn: &mut Conn, tenant: TenantId, sub: &StripeSubscription) -> sqlx::Result<()> {
    sqlx::query("update billing_accounts set stripe_subscription_id = $1, stripe_status = $2, stripe_event_at = $3 where tenant_id = $4")
        .bind(&sub.id)
        .bind(&sub.status)
        .bind(sub.event_at)
        .bind(tenant.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
