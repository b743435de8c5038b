//! Tenants: one business and its owner.
use super::now_ms;
use crate::domain::{TenantId, UserId};
use sqlx::{Any, Executor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    #[sqlx(try_from = "i64")]
    pub id: TenantId,
    pub name: String,
    #[sqlx(try_from = "i64")]
    pub owner_user_id: UserId,
}

/// The owner's tenant, created on first sight. Write-first (insert-or-nothing, then read), so
/// it is safe inside a SQLite transaction and under concurrent calls.
pub async fn find_or_create_for_owner(conn: &mut super::Conn, owner: UserId, name: &str) -> sqlx::Result<Tenant> {
    let now = now_ms();
    sqlx::query("insert into tenants (name, owner_user_id, created_at, updated_at) values ($1, $2, $3, $3) on conflict (owner_user_id) do nothing")
        .bind(name)
        .bind(owner.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as("select id, name, owner_user_id from tenants where owner_user_id = $1").bind(owner.0).fetch_one(&mut *conn).await
}

pub async fn get<'c>(e: impl Executor<'c, Database = Any>, id: TenantId) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("select id, name, owner_user_id from tenants where id = $1").bind(id.0).fetch_optional(e).await
}

/// The tenant owned by `owner`, if any.
pub async fn find_by_owner<'c>(e: impl Executor<'c, Database = Any>, owner: UserId) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("select id, name, owner_user_id from tenants where owner_user_id = $1").bind(owner.0).fetch_optional(e).await
}

/// Takes the tenant's row lock for the rest of the transaction (a write: PostgreSQL's row lock,
/// SQLite's write lock): checks of a tenant's limits (sources, bytes, bots) and the insert they
/// allow then happen one transaction at a time, so concurrent requests cannot both pass.
pub async fn lock(conn: &mut super::Conn, tenant: TenantId) -> sqlx::Result<bool> {
    let r = sqlx::query("update tenants set updated_at = updated_at where id = $1").bind(tenant.0).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}
