//! One-time login links and admin sessions. Only SHA-256 hashes of the secrets are stored, so
//! a database dump gives no way in.
use super::now_ms;
use crate::domain::{TenantId, UserId};
use sqlx::{Any, Executor};

pub async fn insert_login_token<'c>(e: impl Executor<'c, Database = Any>, hash: &str, tenant: TenantId, user: UserId, expires_at: i64) -> sqlx::Result<()> {
    sqlx::query("insert into login_tokens (token_hash, tenant_id, user_id, created_at, expires_at) values ($1, $2, $3, $4, $5)")
        .bind(hash)
        .bind(tenant.0)
        .bind(user.0)
        .bind(now_ms())
        .bind(expires_at)
        .execute(e)
        .await?;
    Ok(())
}

/// Whether a login token exists, unused and unexpired (for the confirm page; does not use it).
pub async fn login_token_valid<'c>(e: impl Executor<'c, Database = Any>, hash: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from login_tokens where token_hash = $1 and used_at is null and expires_at > $2")
        .bind(hash)
        .bind(now_ms())
        .fetch_one(e)
        .await?;
    Ok(n == 1)
}

/// Whether a login token was used already (it stays stored, used, until it would have expired;
/// then it is deleted and reads as expired).
pub async fn login_token_used<'c>(e: impl Executor<'c, Database = Any>, hash: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from login_tokens where token_hash = $1 and used_at is not null").bind(hash).fetch_one(e).await?;
    Ok(n > 0)
}

/// Whose a login token was: the business and the person it signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginToken {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "i64")]
    pub user_id: UserId,
}

/// Uses a login token: atomically marks it used if it is unused and unexpired, returning whose
/// it was. A second use, or a use after 10 minutes, returns `None`.
pub async fn consume_login_token<'c>(e: impl Executor<'c, Database = Any>, hash: &str) -> sqlx::Result<Option<LoginToken>> {
    let now = now_ms();
    sqlx::query_as("update login_tokens set used_at = $1 where token_hash = $2 and used_at is null and expires_at > $1 returning tenant_id, user_id")
        .bind(now)
        .bind(hash)
        .fetch_optional(e)
        .await
}

pub async fn insert_session<'c>(e: impl Executor<'c, Database = Any>, id_hash: &str, tenant: TenantId, user: UserId, csrf: &str, expires_at: i64) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query("insert into sessions (id_hash, tenant_id, user_id, csrf_token, created_at, last_seen_at, expires_at) values ($1, $2, $3, $4, $5, $5, $6)")
        .bind(id_hash)
        .bind(tenant.0)
        .bind(user.0)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(e)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Session {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub csrf_token: String,
    pub last_seen_at: i64,
    /// The business's owner (not a teammate).
    pub is_owner: bool,
}

/// A live session: not revoked, not past its absolute expiry, seen within `idle_ms`, and of
/// someone still on the business's team (its owner, or a teammate not removed since, while the
/// account is not closed: closing closes the admin page to everyone but the owner, who may keep it).
pub async fn live_session<'c>(e: impl Executor<'c, Database = Any>, id_hash: &str, idle_ms: i64) -> sqlx::Result<Option<Session>> {
    /// `is_owner` is 1 or 0 (a boolean expression is an integer on SQLite).
    #[derive(sqlx::FromRow)]
    struct SessionRow {
        #[sqlx(try_from = "i64")]
        tenant_id: TenantId,
        #[sqlx(try_from = "i64")]
        user_id: UserId,
        csrf_token: String,
        last_seen_at: i64,
        is_owner: i64,
    }
    let now = now_ms();
    let r: Option<SessionRow> = sqlx::query_as(
        "select s.tenant_id, s.user_id, s.csrf_token, s.last_seen_at, cast(case when t.owner_user_id = s.user_id then 1 else 0 end as bigint) as is_owner
         from sessions s join tenants t on t.id = s.tenant_id
         where s.id_hash = $1 and s.revoked_at is null and s.expires_at > $2 and s.last_seen_at > $3
           and (t.owner_user_id = s.user_id
                or t.closed_at is null and exists (select 1 from team_members m where m.tenant_id = s.tenant_id and m.user_id = s.user_id))",
    )
    .bind(id_hash)
    .bind(now)
    .bind(now - idle_ms)
    .fetch_optional(e)
    .await?;
    Ok(r.map(|r| Session { tenant_id: r.tenant_id, user_id: r.user_id, csrf_token: r.csrf_token, last_seen_at: r.last_seen_at, is_owner: r.is_owner == 1 }))
}

pub async fn touch_session<'c>(e: impl Executor<'c, Database = Any>, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("update sessions set last_seen_at = $1 where id_hash = $2").bind(now_ms()).bind(id_hash).execute(e).await?;
    Ok(())
}

pub async fn revoke_session<'c>(e: impl Executor<'c, Database = Any>, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("update sessions set revoked_at = $1 where id_hash = $2 and revoked_at is null").bind(now_ms()).bind(id_hash).execute(e).await?;
    Ok(())
}
