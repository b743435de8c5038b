//! The inbox of Telegram updates: stored once per (bot, update_id) before acknowledging.
use super::now_ms;
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

/// Records an update. Returns false when this (bot, update_id) was already stored — a
/// redelivery, to be acknowledged and otherwise ignored.
pub async fn record<'c>(
    e: impl Executor<'c, Database = Any>,
    bot: BotId,
    tenant: Option<TenantId>,
    update_id: i64,
    body: &str,
    state: &str,
) -> sqlx::Result<bool> {
    record_from(e, bot, tenant, update_id, body, state, None).await
}

/// [`record`], with the Telegram user the update came from (so one customer's updates can be
/// erased on request: `storage::privacy`).
pub async fn record_from<'c>(
    e: impl Executor<'c, Database = Any>,
    bot: BotId,
    tenant: Option<TenantId>,
    update_id: i64,
    body: &str,
    state: &str,
    user: Option<i64>,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into telegram_updates (bot_id, tenant_id, update_id, body, state, received_at, user_id) values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (bot_id, update_id) do nothing",
    )
    .bind(bot.0)
    .bind(tenant.map(|t| t.0))
    .bind(update_id)
    .bind(body)
    .bind(state)
    .bind(now_ms())
    .bind(user)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn count<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from telegram_updates").fetch_one(e).await
}

/// The stored body of an update.
pub async fn body<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, update_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select body from telegram_updates where bot_id = $1 and update_id = $2").bind(bot.0).bind(update_id).fetch_optional(e).await
}

/// Replaces the stored body of an update (keeping the row, which later deliveries of it are
/// recognised by).
pub async fn set_body<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, update_id: i64, body: &str) -> sqlx::Result<()> {
    sqlx::query("update telegram_updates set body = $1 where bot_id = $2 and update_id = $3").bind(body).bind(bot.0).bind(update_id).execute(e).await?;
    Ok(())
}

/// When the newest update of `bot` reached us (Unix ms), if any did.
pub async fn last_received<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select max(received_at) from telegram_updates where bot_id = $1").bind(bot.0).fetch_one(e).await
}

/// Keeps the embeddings of the question an update asked, encoded by the caller (see
/// `answering::compose::EarlyVectors`), for a re-run of its job.
pub async fn keep_question_vectors<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, update_id: i64, vectors: &[u8]) -> sqlx::Result<()> {
    sqlx::query("update telegram_updates set question_vectors = $1 where bot_id = $2 and update_id = $3").bind(vectors).bind(bot.0).bind(update_id).execute(e).await?;
    Ok(())
}

/// The question embeddings [`keep_question_vectors`] kept for an update, if any.
pub async fn question_vectors<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, update_id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    let v: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("select question_vectors from telegram_updates where bot_id = $1 and update_id = $2").bind(bot.0).bind(update_id).fetch_optional(e).await?;
    Ok(v.flatten())
}
