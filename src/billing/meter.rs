//! Metering: one AI answer = one credit, reserved before the model is called, then settled
//! (the answer went out) or released (no answer was produced).
//!
//! Why it cannot overspend: a reservation is one transaction that first takes the tenant's
//! account lock (an `update` of its row: a row lock on PostgreSQL, the write lock on SQLite),
//! then reads the balance, and writes the debit and the new balance before committing. Two
//! reservations of one tenant therefore run one after the other, and the second sees the
//! first's debit. The ledger's unique `(tenant_id, idem_key)` makes a retried job get its
//! existing reservation back instead of a second one, and `close:<id>` makes settle and release
//! mutually exclusive and once-only. A reservation that was released does not stand for a
//! retry: the retry reserves again (under `reserve:<key>:after:<released id>`), so a model
//! answer it delivers costs its one credit.
use super::{Billing, account};
use crate::domain::TenantId;
use crate::storage::billing::{self as sql, Bucket, Movement};
use crate::storage::{Db, now_ms};

/// The outcome of [`reserve`].
#[derive(Debug)]
pub enum Reserve {
    /// A credit is held for this answer: settle it once the answer is sent, release it if not.
    Granted(Reservation),
    /// No credit left: give the customer the owner's "temporarily unavailable" text and offer a
    /// person (Q&A-pair answers and handoff need no credit).
    Exhausted,
}

/// One held credit (a `reserve` row of the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The ledger row of the debit.
    pub id: i64,
    pub tenant: TenantId,
    /// `plan` or `pack`: where the credit came from, and goes back to on release.
    pub bucket: Bucket,
}

/// Which notice to send the owner after a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Eighty,
    Exhausted,
}

/// Atomically reserves one answer credit for `tenant` (idempotent per `key`, e.g.
/// `answer:{bot_id}:{update_id}`: a retried job gets its existing reservation back). Sends the
/// 80 % / 100 % notices to the owner once per period (through the manager bot) when crossing them.
#[tracing::instrument(name = "billing.reserve", skip_all, fields(tenant_id = tenant.0))]
pub async fn reserve(billing: &Billing, tenant: TenantId, key: &str) -> anyhow::Result<Reserve> {
    let (outcome, notice) = reserve_quietly(&billing.db, &billing.cfg, tenant, key).await?;
    if let Some(n) = notice {
        super::notices::send(billing, tenant, n).await;
    }
    Ok(outcome)
}

/// [`reserve`] without sending the notice: returns the notice that was claimed, if any.
pub async fn reserve_quietly(db: &Db, cfg: &crate::config::BillingConfig, tenant: TenantId, key: &str) -> anyhow::Result<(Reserve, Option<Notice>)> {
    let first = format!("reserve:{key}");
    let now = now_ms();
    let mut tx = db.begin().await?;
    let acc = account::open(&mut tx, cfg, tenant, now).await?;
    // A retried job's reservation stands (its key is taken) unless it was released. Looked for
    // first only when no credit is left; otherwise the insert finds it, saving a round trip on
    // every answer.
    let bucket = if acc.plan_credits > 0 {
        Bucket::Plan
    } else if acc.pack_credits > 0 {
        Bucket::Pack
    } else {
        if let Earlier::Holds(row) = earlier(&mut tx, tenant, key).await? {
            tx.commit().await?;
            return Ok((Reserve::Granted(Reservation { id: row.id, tenant, bucket: row.bucket }), None));
        }
        let notice = sql::claim_notice(&mut tx, tenant, 100, acc.period_start).await?.then_some(Notice::Exhausted);
        tx.commit().await?;
        return Ok((Reserve::Exhausted, notice));
    };
    let reserve = Movement { bucket, amount: -1, kind: "reserve", source: "answer", key: &first, tokens: 0 };
    let id = match sql::ledger_insert(&mut tx, tenant, &reserve, now).await? {
        Some(id) => id,
        // Reserved by an earlier attempt (under the account's lock, so it is committed).
        None => match earlier(&mut tx, tenant, key).await? {
            Earlier::Holds(row) => {
                tx.commit().await?;
                return Ok((Reserve::Granted(Reservation { id: row.id, tenant, bucket: row.bucket }), None));
            }
            Earlier::Released { next } => {
                let again = Movement { key: &next, ..reserve };
                sql::ledger_insert(&mut tx, tenant, &again, now).await?.ok_or_else(|| anyhow::anyhow!("the reservation key {next} is taken"))?
            }
        },
    };
    let (plan, pack) = bucket.split(-1);
    sql::add_credits(&mut tx, tenant, plan, pack, 1).await?;
    let remaining = acc.plan_credits + acc.pack_credits - 1;
    let used = acc.used_in_period + 1;
    let allowance = used + remaining;
    let notice = if remaining == 0 {
        // Told once: the 80 % notice is not sent after this one.
        sql::claim_notice(&mut tx, tenant, 80, acc.period_start).await?;
        sql::claim_notice(&mut tx, tenant, 100, acc.period_start).await?.then_some(Notice::Exhausted)
    } else if used * 5 >= allowance * 4 {
        sql::claim_notice(&mut tx, tenant, 80, acc.period_start).await?.then_some(Notice::Eighty)
    } else {
        None
    };
    tx.commit().await?;
    Ok((Reserve::Granted(Reservation { id, tenant, bucket }), notice))
}

/// What earlier attempts under a reservation key left.
enum Earlier {
    /// A reservation that was not released (open, or settled): a retry gets it back.
    Holds(sql::LedgerRow),
    /// None, or only released ones: a new reservation is needed, under this ledger key.
    Released { next: String },
}

/// Follows `key`'s reservations: the first is `reserve:{key}`, and one made after a release
/// `reserve:{key}:after:{released id}`. A released reservation must not stand for the retry:
/// its `close:` key is taken, so the retry's settle would be a no-op and the model's answer on
/// the retry would cost nothing (and with no credit left it would be given all the same).
async fn earlier(conn: &mut crate::storage::Conn, tenant: TenantId, key: &str) -> anyhow::Result<Earlier> {
    let mut idem = format!("reserve:{key}");
    loop {
        let Some(row) = sql::ledger_by_key(&mut *conn, tenant, &idem).await? else { return Ok(Earlier::Released { next: idem }) };
        let closed = sql::ledger_by_key(&mut *conn, tenant, &format!("close:{}", row.id)).await?;
        if !closed.is_some_and(|c| c.kind == "release") {
            return Ok(Earlier::Holds(row));
        }
        idem = format!("reserve:{key}:after:{}", row.id);
    }
}

impl Reservation {
    /// The answer went out: the credit is spent. Records the model tokens it took. Idempotent.
    pub async fn settle(self, db: &Db, model_tokens: u64) -> anyhow::Result<()> {
        let mut conn = db.pool.acquire().await?;
        let tokens = i64::try_from(model_tokens).unwrap_or(i64::MAX);
        let key = format!("close:{}", self.id);
        let settle = Movement { bucket: self.bucket, amount: 0, kind: "settle", source: "answer", key: &key, tokens };
        sql::ledger_insert(&mut conn, self.tenant, &settle, now_ms()).await?;
        Ok(())
    }

    /// No answer was produced: the credit goes back. Idempotent, and a no-op after `settle`.
    /// Reserved in a period that has rolled over since: a plan credit expired with that period
    /// (the release is recorded with nothing to give back), a pack credit comes back without
    /// touching the new period's count of answers used.
    pub async fn release(self, db: &Db) -> anyhow::Result<()> {
        let mut tx = db.begin().await?;
        let now = now_ms();
        // The account's lock first, so a rollover cannot fall between the check and the write.
        let acc = sql::lock_account(&mut tx, self.tenant, now).await?;
        let reserved_at = sql::ledger_created_at(&mut tx, self.tenant, self.id).await?;
        let earlier_period = matches!((&acc, reserved_at), (Some(a), Some(at)) if at < a.period_start);
        let (amount, used) = match (self.bucket, earlier_period) {
            (Bucket::Plan, true) => (0, 0),
            (Bucket::Pack, true) => (1, 0),
            (_, false) => (1, -1),
        };
        let key = format!("close:{}", self.id);
        let release = Movement { bucket: self.bucket, amount, kind: "release", source: "answer", key: &key, tokens: 0 };
        if sql::ledger_insert(&mut tx, self.tenant, &release, now).await?.is_some() && amount != 0 {
            let (plan, pack) = self.bucket.split(amount);
            sql::add_credits(&mut tx, self.tenant, plan, pack, used).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
