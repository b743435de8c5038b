//! Which Bot API server the bots are on after `bellhop telegram move` (tables `telegram_server`
//! and `telegram_move_left`, migration 0074; the procedure is `app::moving`).
use super::now_ms;
use crate::crypto::Sealed;
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

/// The stored server: where the bots were moved to, and the server an unfinished move is
/// leaving.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Server {
    pub api_url: String,
    pub leaving: Option<String>,
}

/// The server a move stored, if bellhop's bots were ever moved.
pub async fn current<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Option<Server>> {
    sqlx::query_as("select api_url, leaving from telegram_server where id = 1").fetch_optional(e).await
}

/// Starts a move from `from` to `to`: the stored server becomes `to` with `from` still to be
/// left, and no bot has left yet.
pub async fn start_move(tx: &mut super::Tx, from: &str, to: &str) -> sqlx::Result<()> {
    sqlx::query(
        "insert into telegram_server (id, api_url, leaving, updated_at) values (1, $1, $2, $3)
         on conflict (id) do update set api_url = excluded.api_url, leaving = excluded.leaving, updated_at = excluded.updated_at",
    )
    .bind(to)
    .bind(from)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    sqlx::query("delete from telegram_move_left").execute(&mut **tx).await?;
    Ok(())
}

/// Every bot has left the old server: the move's switch is complete.
pub async fn finish_leaving<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<()> {
    sqlx::query("update telegram_server set leaving = null, updated_at = $1 where id = 1").bind(now_ms()).execute(e).await?;
    Ok(())
}

/// Notes that `bot` has left `server` (logged out or closed there).
pub async fn mark_left<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, server: &str) -> sqlx::Result<()> {
    sqlx::query("insert into telegram_move_left (bot_id, server, left_at) values ($1, $2, $3) on conflict (bot_id) do nothing")
        .bind(bot.0)
        .bind(server)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// Whether `bot` has already left the server being left.
pub async fn has_left<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>("select count(*) from telegram_move_left where bot_id = $1").bind(bot.0).fetch_one(e).await? > 0)
}

/// A business's bot as the move sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MovableBot {
    #[sqlx(try_from = "i64")]
    pub id: BotId,
    #[sqlx(rename = "tenant_id", try_from = "i64")]
    pub tenant: TenantId,
    pub username: String,
    pub status: String,
    /// Read from `token_key_id` and `token_ct` (see `storage::bots`).
    #[sqlx(flatten)]
    pub token: Sealed,
}

impl MovableBot {
    /// Whether bellhop takes this bot's updates (the statuses `storage::polling::pollable_bots`
    /// and the webhook accept), so it must be provisioned on the new server. Parked or suspended
    /// bots are provisioned when they come back; disconnected ones when connected again.
    pub fn takes_updates(&self) -> bool {
        !matches!(self.status.as_str(), "suspended" | "parked" | "disconnected" | "deleted")
    }
}

/// Every business's bot whose token bellhop holds (all but deleted ones): each is on the Bot API
/// server and must leave it.
pub async fn movable_bots<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<MovableBot>> {
    sqlx::query_as("select id, tenant_id, username, status, token_key_id as key_id, token_ct as blob from bots where status <> 'deleted' and token_key_id <> '' order by id")
        .fetch_all(e)
        .await
}

/// Every business's bot its owner disconnected (`bots::disconnect`: its token erased, so not
/// among [`movable_bots`]) as (bot, username): still logged in to the Bot API server it was on, it
/// must leave it too — connected again after the move, it runs on the new server.
pub async fn disconnected_bots<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<(BotId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as("select id, username from bots where status = 'disconnected' and token_key_id = '' order by id").fetch_all(e).await?;
    Ok(rows.into_iter().map(|(id, u)| (BotId(id), u)).collect())
}

/// The new server numbers its updates itself: every polled bot's next poll starts without an
/// offset (an old server's offset could confirm, and so drop, the new server's first updates).
pub async fn forget_poll_offsets<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<u64> {
    Ok(sqlx::query("update telegram_poll_offsets set next_offset = null, updated_at = $1").bind(now_ms()).execute(e).await?.rows_affected())
}

/// Jobs a worker holds a live lease on right now: a sign that a `serve` process is running.
pub async fn live_leases<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar::<_, i64>("select count(*) from jobs where state = 'running' and lease_until > $1").bind(now_ms()).fetch_one(e).await
}
