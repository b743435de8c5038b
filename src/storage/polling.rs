//! Long polling's bookkeeping (`telegram.updates = "polling"`): which bots bellhop takes updates
//! from with `getUpdates`, and each one's next `offset` (table `telegram_poll_offsets`).
//!
//! An offset is written only in the transaction that stores the updates below it
//! (`app::ingress`), so Telegram is told to forget an update only once it is stored.
use super::now_ms;
use crate::crypto::Sealed;
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

/// Notes that `bot` takes its updates by polling (no offset yet if it is new).
pub async fn mark<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<()> {
    sqlx::query("insert into telegram_poll_offsets (bot_id, next_offset, updated_at) values ($1, null, $2) on conflict (bot_id) do nothing")
        .bind(bot.0)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// The offset of `bot`'s next poll: one past the last update stored from a poll. Not a maximum:
/// Telegram may restart a quiet bot's update ids from a random lower number, so the offset is
/// whatever the last stored batch said.
pub async fn set_offset<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, next: i64) -> sqlx::Result<()> {
    sqlx::query(
        "insert into telegram_poll_offsets (bot_id, next_offset, updated_at) values ($1, $2, $3)
         on conflict (bot_id) do update set next_offset = excluded.next_offset, updated_at = excluded.updated_at",
    )
    .bind(bot.0)
    .bind(next)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(())
}

/// The stored offset of `bot`'s next poll, if any.
pub async fn offset<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<Option<i64>> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("select next_offset from telegram_poll_offsets where bot_id = $1").bind(bot.0).fetch_optional(e).await?.flatten())
}

/// A business's bot to poll: its id, tenant and sealed token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pollable {
    #[sqlx(try_from = "i64")]
    pub id: BotId,
    #[sqlx(rename = "tenant_id", try_from = "i64")]
    pub tenant: TenantId,
    /// Read from `token_key_id` and `token_ct` (see `storage::bots`).
    #[sqlx(flatten)]
    pub token: Sealed,
}

/// Every business's bot whose updates bellhop takes — the statuses whose webhook calls it would
/// accept (`bots::webhook_auth`): not parked, suspended, disconnected or deleted. Paused bots
/// are polled: they answer customers with a notice.
pub async fn pollable_bots<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<Pollable>> {
    sqlx::query_as(
        "select id, tenant_id, token_key_id as key_id, token_ct as blob from bots where status not in ('suspended', 'parked', 'disconnected', 'deleted') and token_key_id <> '' order by id",
    )
    .fetch_all(e)
    .await
}

/// A business's bot that was polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PolledBot {
    #[sqlx(rename = "tenant_id", try_from = "i64")]
    pub tenant: TenantId,
    #[sqlx(rename = "id", try_from = "i64")]
    pub bot: BotId,
}

/// Switching back to webhooks: forgets every polled bot and returns the businesses' bots among
/// them that must be given their webhook again (the same statuses as [`pollable_bots`]).
pub async fn take_polled_bots(tx: &mut super::Tx) -> sqlx::Result<Vec<PolledBot>> {
    let rows: Vec<PolledBot> = sqlx::query_as(
        "select b.tenant_id, b.id from telegram_poll_offsets p join bots b on b.id = p.bot_id
         where b.status not in ('suspended', 'parked', 'disconnected', 'deleted') order by b.id",
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("delete from telegram_poll_offsets").execute(&mut **tx).await?;
    Ok(rows)
}
