//! Stripe subscriptions, when `stripe.secret_key` and `stripe.webhook_secret` are set.
//!
//! - Checkout: a Checkout Session in subscription mode for a plan's Stripe price, and a
//!   customer-portal link, through async-stripe, each create call with an `Idempotency-Key`.
//! - Webhook `POST /stripe/webhook` (its HTTP handler is in `web`): `Stripe-Signature` checked
//!   with [`verify`] (every `v1` signature in the header, 300 s tolerance both ways,
//!   constant-time compare), the event stored by its id and its job enqueued in one transaction,
//!   then 200. Nothing is changed for a bad request.
//! - The `billing.stripe_event` job applies each event once (its row is marked processed in the
//!   same transaction as its effect) and in any order: subscription events apply only if not
//!   older than the newest applied (by the event's `created`, and `canceled` is final for a
//!   subscription); credits come only from `invoice.paid`, once per invoice; a failed invoice
//!   starts a grace period measured from the event's own time, unless that invoice was paid;
//!   past the grace period the account falls back to the free plan (see `account::effective_plan`).
//!
//! Events are read as JSON (both the older shapes — `invoice.subscription`, `lines[].price`,
//! `subscription.current_period_end` — and the 2025 ones under `parent` / `pricing` / items).
use super::{Billing, account};
use crate::config::{BillingConfig, StripeConfig};
use crate::domain::TenantId;
use crate::jobs::JobError;
use crate::storage::billing as sql;
use crate::storage::{Db, now_ms};
use hmac::{Hmac, Mac};
use serde_json::Value;
use subtle::ConstantTimeEq;

/// Signatures older or newer than this are refused (Stripe's default tolerance).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook request was refused (400). Plain words; nothing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or has no timestamp and v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than 300 seconds from now")]
    OutsideTolerance,
    #[error("no signature in the Stripe-Signature header matches this body")]
    NoMatch,
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) for `payload`:
/// HMAC-SHA256 of `"{t}.{payload}"` with the endpoint secret, any `v1` matching, compared in
/// constant time; `t` within [`TOLERANCE_SECS`] of `now`.
/// <https://docs.stripe.com/webhooks#verify-manually>
pub fn verify(header: &str, payload: &[u8], secret: &str, now_secs: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else { return Err(SignatureError::Malformed) };
    if (now_secs - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance);
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let expected = mac.finalize().into_bytes();
    // Check every candidate, so the time taken does not depend on which one matched.
    let mut ok = subtle::Choice::from(0);
    for s in &signatures {
        ok |= expected.as_slice().ct_eq(s.as_slice());
    }
    if bool::from(ok) { Ok(()) } else { Err(SignatureError::NoMatch) }
}

fn str_at<'a>(v: &'a Value, paths: &[&[&str]]) -> Option<&'a str> {
    paths.iter().find_map(|p| p.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str).filter(|s| !s.is_empty()))
}

fn i64_at(v: &Value, paths: &[&[&str]]) -> Option<i64> {
    paths.iter().find_map(|p| p.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_i64))
}

/// The tenant an object belongs to: our metadata, the Checkout reference, or the customer.
async fn tenant_of(db: &Db, obj: &Value) -> anyhow::Result<Option<TenantId>> {
    let direct = str_at(
        obj,
        &[
            &["metadata", "tenant_id"],
            &["client_reference_id"],
            &["subscription_details", "metadata", "tenant_id"],
            &["parent", "subscription_details", "metadata", "tenant_id"],
        ],
    )
    .and_then(|s| s.parse::<i64>().ok())
    .map(TenantId);
    if let Some(t) = direct {
        return Ok(crate::storage::tenants::get(&db.pool, t).await?.map(|t| t.id));
    }
    match str_at(obj, &[&["customer"]]) {
        Some(c) => Ok(sql::tenant_by_stripe_customer(&db.pool, c).await?),
        None => Ok(None),
    }
}

fn plan_by_price<'a>(cfg: &'a BillingConfig, price: Option<&str>) -> Option<&'a super::Plan> {
    let price = price?;
    cfg.plans.iter().find(|p| p.stripe_price.as_deref() == Some(price))
}

/// Applies a stored Stripe event once (the `billing.stripe_event` job) (a retried or concurrent job finds it processed).
#[tracing::instrument(name = "billing.stripe_event", skip_all, fields(event_id, tenant_id))]
pub async fn process_event(billing: &Billing, event_id: &str) -> Result<(), JobError> {
    tracing::Span::current().record("event_id", event_id);
    let Some(body) = sql::unprocessed_stripe_event(&billing.db.pool, event_id).await? else { return Ok(()) };
    let event: Value = serde_json::from_str(&body).map_err(|e| JobError::Permanent(anyhow::anyhow!("stored event does not parse: {e}")))?;
    let kind = event["type"].as_str().unwrap_or_default();
    let created_ms = event["created"].as_i64().unwrap_or_default() * 1000;
    let obj = &event["data"]["object"];
    let handled = matches!(
        kind,
        "checkout.session.completed"
            | "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed"
    );
    let tenant = if handled { tenant_of(&billing.db, obj).await? } else { None };
    if handled && tenant.is_none() {
        // The event that links this customer to a business (checkout.session.completed, or
        // one carrying our metadata) has not been processed yet: try again later.
        return Err(JobError::Retry(anyhow::anyhow!("no business is linked to this Stripe customer yet")));
    }
    let cfg = &*billing.cfg;
    let now = now_ms();
    let mut tx = billing.db.begin().await?;
    if !sql::mark_stripe_event_processed(&mut tx, event_id, now).await? {
        return Ok(()); // processed meanwhile by another worker
    }
    if let Some(tenant) = tenant {
        tracing::Span::current().record("tenant_id", tenant.0);
        account::open(&mut tx, cfg, tenant, now).await?;
        if let Some(c) = str_at(obj, &[&["customer"]]) {
            sql::set_stripe_customer(&mut tx, tenant, c).await?;
        }
        match kind {
            "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
                let sub = str_at(obj, &[&["id"]]).unwrap_or_default();
                let status = if kind.ends_with("deleted") { "canceled" } else { str_at(obj, &[&["status"]]).unwrap_or("incomplete") };
                let item = &obj["items"]["data"][0];
                let plan = plan_by_price(cfg, str_at(item, &[&["price", "id"], &["plan", "id"]]));
                if plan.is_none() && status != "canceled" {
                    tracing::error!(tenant_id = tenant.0, "a Stripe subscription for a price no plan has (billing.plans)");
                }
                if sql::record_stripe_subscription(&mut tx, tenant, sub, status, plan.map(|p| p.id.as_str()), created_ms).await? {
                    follow_leading_subscription(&mut tx, tenant).await?;
                }
            }
            "invoice.paid" => invoice_paid(cfg, &mut tx, tenant, obj, created_ms, now).await?,
            "invoice.payment_failed" => {
                let invoice = str_at(obj, &[&["id"]]).unwrap_or_default();
                if sql::payment_by_charge(&mut *tx, invoice).await?.iter().all(|p| p.provider != "stripe") {
                    sql::set_grace(&mut tx, tenant, Some(created_ms + cfg.grace.as_millis() as i64)).await?;
                }
            }
            _ => {} // checkout.session.completed: the customer link above is all it brings
        }
        // Bring the period up to date with what changed (e.g. a cancellation: free plan now).
        account::open(&mut tx, cfg, tenant, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Brings the account's card subscription fields and plan to the leading subscription (a paying
/// one when there is one: `sql::leading_stripe_subscription`). The plan only: paid time and
/// credits come from paid invoices, so that the order in which the two kinds arrive does not
/// matter.
async fn follow_leading_subscription(tx: &mut crate::storage::Conn, tenant: TenantId) -> anyhow::Result<()> {
    let Some(lead) = sql::leading_stripe_subscription(tx, tenant).await? else { return Ok(()) };
    sql::set_account_subscription(tx, tenant, &lead).await?;
    if lead.status != "canceled"
        && let Some(plan) = &lead.plan_id
    {
        sql::set_stripe_plan(tx, tenant, plan, None).await?;
    }
    if lead.status == "active" || lead.status == "trialing" {
        sql::set_grace(tx, tenant, None).await?;
    }
    Ok(())
}

/// Whether the business pays by card now (a subscription that is paying, in arrears or being
/// set up): then Checkout is not offered again — a second subscription would charge twice.
pub fn pays_by_card(acc: &sql::Account) -> bool {
    acc.stripe_subscription_id.as_deref().is_some_and(|s| !s.is_empty())
        && matches!(acc.stripe_status.as_deref(), Some("active" | "trialing" | "past_due" | "unpaid" | "incomplete"))
}

/// `invoice.paid`: recorded once per invoice; a month of the plan starts unless a later month
/// was already paid (a late, older invoice credits nothing more).
async fn invoice_paid(cfg: &BillingConfig, tx: &mut crate::storage::Conn, tenant: TenantId, obj: &Value, created_ms: i64, now: i64) -> anyhow::Result<()> {
    let invoice = str_at(obj, &[&["id"]]).unwrap_or_default();
    let line = &obj["lines"]["data"][0];
    let price = str_at(line, &[&["price", "id"], &["pricing", "price_details", "price"], &["plan", "id"]]);
    let Some(plan) = plan_by_price(cfg, price) else {
        tracing::error!(tenant_id = tenant.0, "a paid Stripe invoice for a price no plan has (billing.plans)");
        return Ok(());
    };
    let period_end = i64_at(line, &[&["period", "end"]]).map(|s| s * 1000).unwrap_or(created_ms + account::PERIOD_MS);
    let new = sql::NewPayment {
        tenant_id: tenant,
        provider: "stripe",
        external_id: invoice,
        kind: "plan",
        product: &plan.id,
        amount: obj["amount_paid"].as_i64().unwrap_or_default(),
        currency: obj["currency"].as_str().unwrap_or("usd"),
        payer_id: None,
        bot_id: None,
        credits: plan.answers,
    };
    if !sql::insert_payment(tx, &new, now).await? {
        return Ok(());
    }
    sql::set_grace(tx, tenant, None).await?;
    let acc = sql::get_account(&mut *tx, tenant).await?.ok_or_else(|| anyhow::anyhow!("billing account vanished"))?;
    // A paid invoice is proof of a live subscription until a subscription event says more
    // (recorded at time 0: any event of that subscription overrides it).
    let sub = str_at(obj, &[&["subscription"], &["parent", "subscription_details", "subscription"]]).unwrap_or_default();
    if sql::record_stripe_subscription(tx, tenant, sub, "active", Some(&plan.id), 0).await? {
        follow_leading_subscription(tx, tenant).await?;
    }
    let newer = !(acc.plan_source == "stripe" && acc.plan_expires_at.is_some_and(|t| t >= period_end));
    if newer {
        account::start_paid_month(tx, cfg, tenant, plan, &account::PaidMonth { source: "stripe", expires_at: period_end, key: &format!("stripe:{invoice}") }, now).await?;
    }
    Ok(())
}

/// The Stripe client, pointed at `stripe.api_base`.
pub fn client(cfg: &StripeConfig) -> anyhow::Result<stripe::Client> {
    let mut base = cfg.api_base.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(stripe::ClientBuilder::new(cfg.secret_key.expose()).url(base).timeout(std::time::Duration::from_secs(20)).build()?)
}

fn idempotent(key: &str) -> anyhow::Result<stripe::RequestStrategy> {
    Ok(stripe::RequestStrategy::Idempotent(stripe::IdempotencyKey::new(key).map_err(|e| anyhow::anyhow!("idempotency key: {e:?}"))?))
}

/// A Checkout Session in subscription mode for `plan`; returns the page to send the owner to.
/// `attempt` (from the form) makes the idempotency key: a retried or double-submitted form
/// reuses the same session.
pub async fn checkout(billing: &Billing, public_url: &url::Url, tenant: TenantId, plan: &super::Plan, attempt: &str) -> anyhow::Result<String> {
    use stripe::StripeRequest;
    use stripe_checkout::CheckoutSessionMode;
    use stripe_checkout::checkout_session::{CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData};
    let cfg = billing.cfg.stripe.as_ref().ok_or_else(|| anyhow::anyhow!("Stripe is not configured"))?;
    let price = plan.stripe_price.as_deref().ok_or_else(|| anyhow::anyhow!("plan {} has no Stripe price", plan.id))?;
    let acc = sql::get_account(&billing.db.pool, tenant).await?;
    let base = public_url.as_str().trim_end_matches('/');
    let metadata = std::collections::HashMap::from([("tenant_id".to_owned(), tenant.0.to_string())]);
    let mut line = CreateCheckoutSessionLineItems::new();
    line.price = Some(price.to_owned());
    line.quantity = Some(1);
    let mut sub = CreateCheckoutSessionSubscriptionData::new();
    sub.metadata = Some(metadata.clone());
    let mut req = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![line])
        .client_reference_id(tenant.0.to_string())
        .metadata(metadata)
        .subscription_data(sub)
        .success_url(format!("{base}/app/billing?paid=card"))
        .cancel_url(format!("{base}/app/billing"));
    if let Some(customer) = acc.and_then(|a| a.stripe_customer_id) {
        req = req.customer(customer);
    }
    let session = req
        .customize()
        .request_strategy(idempotent(&format!("bellhop-checkout-{}-{}-{attempt}", tenant.0, plan.id))?)
        .send(&client(cfg)?)
        .await
        .map_err(|e| anyhow::anyhow!("Stripe refused the checkout: {e}"))?;
    session.url.ok_or_else(|| anyhow::anyhow!("Stripe returned a checkout session without a URL"))
}

/// A customer-portal session (change plan, card, cancel); returns its URL.
pub async fn portal(billing: &Billing, public_url: &url::Url, tenant: TenantId, attempt: &str) -> anyhow::Result<Option<String>> {
    use stripe::StripeRequest;
    use stripe_billing::billing_portal_session::CreateBillingPortalSession;
    let cfg = billing.cfg.stripe.as_ref().ok_or_else(|| anyhow::anyhow!("Stripe is not configured"))?;
    let Some(customer) = sql::get_account(&billing.db.pool, tenant).await?.and_then(|a| a.stripe_customer_id) else { return Ok(None) };
    let base = public_url.as_str().trim_end_matches('/');
    let session = CreateBillingPortalSession::new()
        .customer(customer)
        .return_url(format!("{base}/app/billing"))
        .customize()
        .request_strategy(idempotent(&format!("bellhop-portal-{}-{attempt}", tenant.0))?)
        .send(&client(cfg)?)
        .await
        .map_err(|e| anyhow::anyhow!("Stripe refused the portal link: {e}"))?;
    Ok(Some(session.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn any_v1_signature_may_match_and_everything_else_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign("whsec_a", 1000, body);
        let other = sign("whsec_old", 1000, body);
        assert_eq!(verify(&format!("t=1000,v1={other},v1={good},v0=zz"), body, "whsec_a", 1000), Ok(()));
        assert_eq!(verify(&format!("t=1000,v1={good}"), body, "whsec_a", 1300), Ok(()));
        assert_eq!(verify(&format!("t=1000,v1={good}"), body, "whsec_a", 1301), Err(SignatureError::OutsideTolerance));
        assert_eq!(verify(&format!("t=1000,v1={good}"), body, "whsec_a", 700), Ok(()));
        assert_eq!(verify(&format!("t=1000,v1={good}"), body, "whsec_a", 699), Err(SignatureError::OutsideTolerance));
        assert_eq!(verify(&format!("t=1000,v1={good}"), br#"{"id":"evt_2"}"#, "whsec_a", 1000), Err(SignatureError::NoMatch));
        assert_eq!(verify(&format!("t=1000,v1={good}"), body, "whsec_b", 1000), Err(SignatureError::NoMatch));
        assert_eq!(verify(&format!("v1={good}"), body, "whsec_a", 1000), Err(SignatureError::Malformed));
        assert_eq!(verify("t=1000", body, "whsec_a", 1000), Err(SignatureError::Malformed));
        assert_eq!(verify("", body, "whsec_a", 1000), Err(SignatureError::Malformed));
    }
}
