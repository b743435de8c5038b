//! A tenant's account: which plan it is entitled to now, its usage period, and the movements
//! of credits. Every function here runs inside the caller's transaction, after [`open`] took
//! the account's lock, and writes a ledger row beside each change of a cached balance.
use super::{Pack, Plan};
use crate::config::BillingConfig;
use crate::domain::TenantId;
use crate::storage::billing::{self as sql, Account, Bucket, Movement, Period};
use crate::storage::Conn;

/// This period's AI answers of the plan, as owners are shown them: `used` of `allowance`. Answers
/// paid from packs are not among them (the account's `pack_credits` says what packs have left):
/// counted in, an owner whose plan ran out and whose pack paid 30 more would read "130 of 100".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanUsage {
    pub used: i64,
    /// The plan answers granted for this period.
    pub allowance: i64,
    /// Answers paid from packs this period.
    pub from_packs: i64,
}

/// The account as it stands at `now` (opened, so a finished period has rolled over), the plan it
/// is entitled to, and this period's use of the plan's answers: what the billing page, the test
/// chat and `/plan` show.
pub async fn current<'a>(db: &crate::storage::Db, cfg: &'a BillingConfig, tenant: TenantId, now: i64) -> anyhow::Result<(Account, &'a Plan, PlanUsage)> {
    let mut tx = db.begin().await?;
    let acc = open(&mut tx, cfg, tenant, now).await?;
    // `used_in_period` counts every answer, pack ones too (the usage notices go by it); the plan's
    // share is what its grant for the period has lost.
    let granted = sql::period_grant(&mut tx, tenant, acc.period_start).await?;
    tx.commit().await?;
    let plan = effective_plan(cfg, &acc, now);
    let allowance = granted.unwrap_or(acc.used_in_period + acc.plan_credits).max(0);
    let used = (allowance - acc.plan_credits).clamp(0, allowance);
    let from_packs = (acc.used_in_period - used).max(0);
    Ok((acc, plan, PlanUsage { used, allowance, from_packs }))
}

/// A usage period: 30 days, like a Telegram Star subscription's.
pub const PERIOD_MS: i64 = 2_592_000_000;

/// The plan an account is entitled to at `now`: its paid plan while paid time (or a card
/// payment's grace period) lasts, else the default (first) plan.
pub fn effective_plan<'a>(cfg: &'a BillingConfig, acc: &Account, now: i64) -> &'a Plan {
    let default = &cfg.plans[0];
    let Some(plan) = cfg.plans.iter().find(|p| p.id == acc.plan_id) else { return default };
    let paid = match acc.plan_source.as_str() {
        "stars" => acc.plan_expires_at.is_some_and(|t| t > now),
        "stripe" => match acc.stripe_status.as_deref() {
            Some("active" | "trialing") => true,
            // Past due: the grace period runs from the failed payment, or — if its event has
            // not been seen — from the subscription event that said so.
            Some("past_due" | "unpaid") => acc.grace_until.unwrap_or(acc.stripe_event_at + cfg.grace.as_millis() as i64) > now,
            _ => false,
        },
        _ => false,
    };
    if paid { plan } else { default }
}

/// Creates the account if needed, takes its lock, and brings it up to date: a plan whose paid
/// time ended falls back to the default plan, and a period that ended rolls over (unused plan
/// credits expire, the plan's allowance is granted). Returns the current account.
pub async fn open(conn: &mut Conn, cfg: &BillingConfig, tenant: TenantId, now: i64) -> anyhow::Result<Account> {
    // The lock and the account in one statement; a new business's account is made first.
    let acc = match sql::lock_account(conn, tenant, now).await? {
        Some(acc) => acc,
        None => {
            let default = &cfg.plans[0];
            if sql::create_account(conn, tenant, &default.id, default.answers, now, now + PERIOD_MS, now).await? {
                let (source, key) = (format!("plan:{}", default.id), format!("grant:{now}"));
                sql::ledger_insert(conn, tenant, &Movement { bucket: Bucket::Plan, amount: default.answers, kind: "grant", source: &source, key: &key, tokens: 0 }, now).await?;
            }
            sql::lock_account(conn, tenant, now).await?.ok_or_else(|| anyhow::anyhow!("billing account vanished"))?
        }
    };
    let plan = effective_plan(cfg, &acc, now);
    if plan.id != acc.plan_id {
        // Paid time is over: the default plan, from now.
        let period = Period { source: "default", expires_at: None, start: now, end: now + PERIOD_MS };
        new_period(conn, tenant, &acc, plan, &period, None, now).await?;
    } else if now >= acc.period_end {
        // Whole periods passed since: the new one starts where the clock is now.
        let skipped = (now - acc.period_end) / PERIOD_MS;
        let start = acc.period_end + skipped * PERIOD_MS;
        let end = match acc.plan_expires_at {
            Some(t) if acc.plan_source != "default" && t > start => t.min(start + PERIOD_MS),
            _ => start + PERIOD_MS,
        };
        let source = acc.plan_source.clone();
        new_period(conn, tenant, &acc, plan, &Period { source: &source, expires_at: acc.plan_expires_at, start, end }, None, now).await?;
    } else {
        return Ok(acc);
    }
    sql::get_account(&mut *conn, tenant).await?.ok_or_else(|| anyhow::anyhow!("billing account vanished"))
}

/// Ends the current period (unused plan credits expire) and starts one with `plan`'s allowance.
/// `grant_key` names the payment that pays for it; `None` for changes that follow from the
/// account's state under its lock (they need no idempotency key, so a unique one is made).
pub async fn new_period(conn: &mut Conn, tenant: TenantId, acc: &Account, plan: &Plan, period: &Period<'_>, grant_key: Option<&str>, now: i64) -> anyhow::Result<()> {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let grant_key = grant_key.map_or_else(|| format!("grant:{unique}"), str::to_owned);
    // The cached balance is set below; a ledger row that was not written would leave the two
    // apart, so an insert that finds its key taken aborts the whole transaction.
    let (old_plan, expire_key) = (format!("plan:{}", acc.plan_id), format!("expire:{unique}"));
    let expire = Movement { bucket: Bucket::Plan, amount: -acc.plan_credits, kind: "expire", source: &old_plan, key: &expire_key, tokens: 0 };
    if acc.plan_credits != 0 && sql::ledger_insert(conn, tenant, &expire, now).await?.is_none() {
        anyhow::bail!("ledger key expire:{unique} already used");
    }
    let new_plan = format!("plan:{}", plan.id);
    let grant = Movement { bucket: Bucket::Plan, amount: plan.answers, kind: "grant", source: &new_plan, key: &grant_key, tokens: 0 };
    if sql::ledger_insert(conn, tenant, &grant, now).await?.is_none() {
        anyhow::bail!("ledger key {grant_key} already used");
    }
    sql::start_period(conn, tenant, &plan.id, period, plan.answers).await?;
    Ok(())
}

/// A payment for a month of a plan (a Star subscription payment or renewal, or a paid Stripe
/// invoice), as [`start_paid_month`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct PaidMonth<'a> {
    /// Who took the payment: `stars` or `stripe`.
    pub source: &'a str,
    /// Until when it pays (ms).
    pub expires_at: i64,
    /// Names the payment (the grant's idempotency key is made from it).
    pub key: &'a str,
}

/// A paid month of `plan` until `paid.expires_at`: a fresh period with the plan's allowance.
pub async fn start_paid_month(conn: &mut Conn, cfg: &BillingConfig, tenant: TenantId, plan: &Plan, paid: &PaidMonth<'_>, now: i64) -> anyhow::Result<()> {
    let PaidMonth { source, expires_at, key } = *paid;
    let acc = open(conn, cfg, tenant, now).await?;
    let expires = acc.plan_expires_at.filter(|_| acc.plan_source == source).map_or(expires_at, |t| t.max(expires_at));
    let end = expires.max(now + 1);
    new_period(conn, tenant, &acc, plan, &Period { source, expires_at: Some(expires), start: now, end }, Some(&format!("grant:{key}")), now).await
}

/// Adds a pack's answers (kept until used).
pub async fn add_pack(conn: &mut Conn, tenant: TenantId, pack: &Pack, key: &str, now: i64) -> anyhow::Result<()> {
    let source = format!("pack:{}", pack.id);
    if sql::ledger_insert(conn, tenant, &Movement { bucket: Bucket::Pack, amount: pack.answers, kind: "purchase", source: &source, key, tokens: 0 }, now).await?.is_some() {
        sql::add_credits(conn, tenant, 0, pack.answers, 0).await?;
    }
    Ok(())
}

/// Takes back up to `credits` from `bucket` (a refund); never below zero. Returns how many.
pub async fn take_back(conn: &mut Conn, cfg: &BillingConfig, tenant: TenantId, bucket: Bucket, credits: i64, key: &str, now: i64) -> anyhow::Result<i64> {
    let acc = open(conn, cfg, tenant, now).await?;
    let have = match bucket {
        Bucket::Pack => acc.pack_credits,
        Bucket::Plan => acc.plan_credits,
    };
    let n = credits.min(have).max(0);
    if n > 0 && sql::ledger_insert(conn, tenant, &Movement { bucket, amount: -n, kind: "refund", source: "refund", key, tokens: 0 }, now).await?.is_some() {
        let (plan, pack) = bucket.split(-n);
        sql::add_credits(conn, tenant, plan, pack, 0).await?;
    }
    Ok(n)
}
