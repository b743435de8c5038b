//! Announcements: a message from the owner to every customer who talked to a bot lately, and the
//! customers who asked for none (`/stop`). The recipients are chosen once, when the announcement
//! is written, one row per chat (the primary key keeps any chat from being chosen twice); each
//! row is claimed as `sending` right before its Bot API call, so a process that dies during the
//! call leaves it `sending`, and it becomes `unknown` instead of being sent again.
//!
//! A customer Telegram refuses for good (they blocked the bot, or deleted their account) is marked
//! unreachable on their conversation ([`mark_unreachable`]): later announcements leave them out,
//! and say how many, until any new update from them shows they are back ([`reachable_again`];
//! a message clears it as it opens the conversation).
//!
//! A `/stop` is the customer's word to the bot, whoever owns it: when the bot changes owner, its
//! opt-outs move to the new owner with it ([`move_to_new_owner`]).
use super::now_ms;
use crate::domain::{BotId, ChatId, TenantId};
use sqlx::{Any, Executor};

bellhop_telegram::id_type!(
    /// An announcement.
    AnnouncementId
);

crate::domain::conversation::stored_text! {
    /// Whether an announcement is still going out.
    Status {
        Sending = "sending",
        Done = "done",
    }
}

/// An announcement and how far sending has got.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Announcement {
    #[sqlx(try_from = "i64")]
    pub id: AnnouncementId,
    #[sqlx(try_from = "i64")]
    pub bot_id: BotId,
    pub text: String,
    pub since_days: i64,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub total: i64,
    /// Customers left out when it was written: Telegram had refused them for good (blocked).
    pub unreachable: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Recipients by state (counted when read).
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
    pub unknown: i64,
    /// Sent /stop after the announcement was written, before it reached them: not sent.
    pub stopped: i64,
}

impl Announcement {
    /// Recipients not yet tried.
    pub fn pending(&self) -> i64 {
        (self.total - self.sent - self.failed - self.blocked - self.unknown - self.stopped).max(0)
    }
}

/// A recipient still to be sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recipient {
    #[sqlx(try_from = "i64")]
    pub chat_id: ChatId,
    /// The customer's language, when known (for the footer).
    pub language: Option<String>,
}

/// What a recipient's Bot API call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Telegram refused for good (the chat is gone, …).
    Failed,
    /// The customer blocked the bot.
    Blocked,
    /// Telegram's answer was lost: it may have arrived, so it is never sent again.
    Unknown,
    /// It certainly did not happen (a passing failure): the row waits for the next attempt.
    Retry,
}

impl Outcome {
    fn state(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::Blocked => "blocked",
            Outcome::Unknown => "unknown",
            Outcome::Retry => "pending",
        }
    }
}

/// The private chats with `bot` active since `since` (Unix ms), less those that opted out.
const ACTIVE: &str = "from conversations c
     where c.tenant_id = $1 and c.bot_id = $2 and c.chat_kind = 'private' and c.thread_id = 0 and c.last_message_at >= $3
       and not exists (select 1 from announcement_optouts o where o.tenant_id = c.tenant_id and o.bot_id = c.bot_id and o.chat_id = c.chat_id)";

/// An announcement's recipients: [`ACTIVE`], less those Telegram refused for good.
fn audience_sql() -> String {
    format!("{ACTIVE} and c.unreachable_at is null")
}

/// Whom an announcement would be for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct Audience {
    /// Customers it would be sent to.
    pub reached: i64,
    /// Customers left out: they blocked the bot (or left Telegram), so they cannot be reached.
    pub unreachable: i64,
}

/// Whom an announcement to those active in the last `since_days` days would be for.
pub async fn audience<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, since_days: i64) -> sqlx::Result<Audience> {
    let since = now_ms() - since_days * 86_400_000;
    // One row per private chat (thread 0): counted as they are.
    sqlx::query_as(&format!(
        "select coalesce(sum(case when c.unreachable_at is null then 1 else 0 end), 0) as reached,
                coalesce(sum(case when c.unreachable_at is null then 0 else 1 end), 0) as unreachable {ACTIVE}"
    ))
    .bind(tenant.0)
    .bind(bot.0)
    .bind(since)
    .fetch_one(e)
    .await
}

/// Writes an announcement and chooses its recipients, in the caller's transaction. With
/// `form_token` (the one-time token of the owner's form), `None` when the tenant already has an
/// announcement written with that token: the form was sent twice, and the announcement it wrote
/// first is [`by_form_token`]. (Two posts at once: the second waits for the first's transaction,
/// then finds its token taken.)
pub async fn create(tx: &mut super::Tx, tenant: TenantId, bot: BotId, text: &str, since_days: i64, form_token: Option<&str>) -> sqlx::Result<Option<Announcement>> {
    let now = now_ms();
    let id: Option<i64> = sqlx::query_scalar(
        "insert into announcements (tenant_id, bot_id, text, since_days, status, total, created_at, form_token) values ($1, $2, $3, $4, 'sending', 0, $5, $6)
         on conflict (tenant_id, form_token) do nothing returning id",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(text)
    .bind(since_days)
    .bind(now)
    .bind(form_token)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let chosen = sqlx::query(&format!(
        "insert into announcement_recipients (announcement_id, tenant_id, chat_id, state)
         select distinct $4, c.tenant_id, c.chat_id, 'pending' {}
         on conflict (announcement_id, chat_id) do nothing",
        audience_sql()
    ))
    .bind(tenant.0)
    .bind(bot.0)
    .bind(now - since_days * 86_400_000)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected() as i64;
    let unreachable: i64 = sqlx::query_scalar(&format!("select count(*) {ACTIVE} and c.unreachable_at is not null"))
        .bind(tenant.0)
        .bind(bot.0)
        .bind(now - since_days * 86_400_000)
        .fetch_one(&mut **tx)
        .await?;
    let status = if chosen == 0 { Status::Done } else { Status::Sending };
    sqlx::query("update announcements set total = $1, status = $2, finished_at = $3, unreachable = $4 where tenant_id = $5 and id = $6")
        .bind(chosen)
        .bind(status.as_str())
        .bind((chosen == 0).then_some(now))
        .bind(unreachable)
        .bind(tenant.0)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    get(&mut **tx, tenant, AnnouncementId(id)).await
}

/// The tenant's announcement written by the form with one-time token `form_token`, if any.
pub async fn by_form_token<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, form_token: &str) -> sqlx::Result<Option<Announcement>> {
    sqlx::query_as(&format!("select {COLUMNS} from announcements a where a.tenant_id = $1 and a.form_token = $2")).bind(tenant.0).bind(form_token).fetch_optional(e).await
}

const COLUMNS: &str = "a.id, a.bot_id, a.text, a.since_days, a.status, a.total, a.unreachable, a.created_at, a.finished_at,
    (select count(*) from announcement_recipients r where r.announcement_id = a.id and r.state = 'sent') as sent,
    (select count(*) from announcement_recipients r where r.announcement_id = a.id and r.state = 'failed') as failed,
    (select count(*) from announcement_recipients r where r.announcement_id = a.id and r.state = 'blocked') as blocked,
    (select count(*) from announcement_recipients r where r.announcement_id = a.id and r.state = 'unknown') as unknown,
    (select count(*) from announcement_recipients r where r.announcement_id = a.id and r.state = 'stopped') as stopped";

/// One of the tenant's announcements.
pub async fn get<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId) -> sqlx::Result<Option<Announcement>> {
    sqlx::query_as(&format!("select {COLUMNS} from announcements a where a.tenant_id = $1 and a.id = $2")).bind(tenant.0).bind(id.0).fetch_optional(e).await
}

/// A bot's announcements, newest first.
pub async fn list<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, limit: i64) -> sqlx::Result<Vec<Announcement>> {
    sqlx::query_as(&format!("select {COLUMNS} from announcements a where a.tenant_id = $1 and a.bot_id = $2 order by a.id desc limit $3"))
        .bind(tenant.0)
        .bind(bot.0)
        .bind(limit)
        .fetch_all(e)
        .await
}

/// Rows left `sending` by a process that died during the call become `unknown` (they may have
/// arrived: never sent again). Called before a batch, by the one job that sends an announcement.
pub async fn settle_interrupted<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId) -> sqlx::Result<u64> {
    Ok(sqlx::query("update announcement_recipients set state = 'unknown' where tenant_id = $1 and announcement_id = $2 and state = 'sending'")
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?
        .rows_affected())
}

/// The next `limit` recipients still to be sent, each with their language. Not claimed here:
/// each is claimed at its turn in the bot's throttle ([`claim_one`]), right before its call.
pub async fn next_pending<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, limit: i64) -> sqlx::Result<Vec<Recipient>> {
    // The customer's language, from their latest private conversation with the bot.
    sqlx::query_as(
        "select r.chat_id,
                (select c.language from conversations c
                  where c.tenant_id = a.tenant_id and c.bot_id = a.bot_id and c.chat_id = r.chat_id and c.chat_kind = 'private'
                  order by c.last_message_at desc limit 1) as language
           from announcement_recipients r join announcements a on a.tenant_id = r.tenant_id and a.id = r.announcement_id
          where r.tenant_id = $1 and r.announcement_id = $2 and r.state = 'pending'
          order by r.chat_id limit $3",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// What [`claim_one`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Now `sending`: this attempt sends it.
    Claimed,
    /// Not pending (another attempt has it, or it was tried): not sent.
    Taken,
    /// The customer sent /stop since the announcement was written: now `stopped`, not sent.
    Stopped,
    /// The owner paused the bot: still `pending`, not sent (the sending ends, see
    /// `answering::announce::gone`).
    Paused,
}

/// Claims one recipient for sending, `pending` → `sending`, committed right before its Bot API
/// call — or `pending` → `stopped` if the customer has opted out meanwhile (recipients are chosen
/// when the announcement is written; a /stop during the sending must still hold) — or left
/// `pending` if the owner has paused the bot: a paused bot sends no announcements. In one
/// statement, so a /stop or a pause committed before the claim is always seen.
pub async fn claim_one<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, chat_id: ChatId) -> sqlx::Result<Claim> {
    let state: Option<String> = sqlx::query_scalar(
        "update announcement_recipients set state = case when exists (
                select 1 from announcements a join bots b on b.id = a.bot_id and b.tenant_id = a.tenant_id
                 where a.id = announcement_recipients.announcement_id and b.paused_at is not null
             ) then 'pending' when exists (
                select 1 from announcement_optouts o join announcements a on a.tenant_id = o.tenant_id and a.bot_id = o.bot_id
                 where a.id = announcement_recipients.announcement_id and o.chat_id = announcement_recipients.chat_id
             ) then 'stopped' else 'sending' end
          where tenant_id = $1 and announcement_id = $2 and chat_id = $3 and state = 'pending' returning state",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(chat_id.0)
    .fetch_optional(e)
    .await?;
    Ok(match state.as_deref() {
        Some("sending") => Claim::Claimed,
        Some("pending") => Claim::Paused,
        Some(_) => Claim::Stopped,
        None => Claim::Taken,
    })
}

/// Gives a recipient's claim back (`sending` → `pending`) after a 429: nothing was delivered.
pub async fn release_one<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, chat_id: ChatId) -> sqlx::Result<bool> {
    move_recipient(e, tenant, id, chat_id, "sending", "pending").await
}

/// Moves a recipient's state `from` → `to`, only if it is still `from`; whether it moved.
async fn move_recipient<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, chat_id: ChatId, from: &str, to: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("update announcement_recipients set state = $1 where tenant_id = $2 and announcement_id = $3 and chat_id = $4 and state = $5")
        .bind(to)
        .bind(tenant.0)
        .bind(id.0)
        .bind(chat_id.0)
        .bind(from)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Records what sending to `chat_id` came to (a row still claimed as `sending` only).
pub async fn record<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, chat_id: ChatId, outcome: Outcome, error: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("update announcement_recipients set state = $1, error = $2 where tenant_id = $3 and announcement_id = $4 and chat_id = $5 and state = 'sending'")
        .bind(outcome.state())
        .bind(error)
        .bind(tenant.0)
        .bind(id.0)
        .bind(chat_id.0)
        .execute(e)
        .await?;
    Ok(())
}

/// Gives up on the recipients still waiting (`pending` → `failed`, with `error`): the job that
/// sends the announcement ran out of attempts. Returns how many.
pub async fn give_up<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId, error: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query("update announcement_recipients set state = 'failed', error = $1 where tenant_id = $2 and announcement_id = $3 and state = 'pending'")
        .bind(error)
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?
        .rows_affected())
}

/// Why the repair ends an announcement ([`end_abandoned`]), kept on each recipient it had not
/// reached.
pub const ABANDONED: &str = "not sent: the sending stopped (its last attempt was interrupted) before it reached them";

/// The announcements still `sending` whose job has ended without ending them: dead-lettered by
/// the reaper (its worker killed or stuck on the last attempt), or after a panic or a database
/// failure as it gave up. `kind` and `key_prefix`: the job's kind and dedup key prefix (the key
/// is `{key_prefix}:{announcement}`). One with no job at all is left alone: its job is written
/// in the same transaction, so that is only a test's, sending it by hand.
pub async fn abandoned<'c>(e: impl Executor<'c, Database = Any>, kind: &str, key_prefix: &str) -> sqlx::Result<Vec<(TenantId, AnnouncementId)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select a.tenant_id, a.id from announcements a
          where a.status = 'sending'
            and exists (select 1 from jobs j where j.dedup_key = $1 || ':' || a.id and j.kind = $2 and j.state in ('dead', 'done'))
          order by a.id",
    )
    .bind(key_prefix)
    .bind(kind)
    .fetch_all(e)
    .await?;
    Ok(rows.into_iter().map(|(t, a)| (TenantId(t), AnnouncementId(a))).collect())
}

/// Ends every [`abandoned`] announcement as its job would have on giving up: rows a dead process
/// left claimed become `unknown`, the rest not reached ([`ABANDONED`]), and it is done — so the
/// owner's page does not say "Sending" for ever. The periodic repair (`retention::run`) calls
/// it. Returns how many it ended.
pub async fn end_abandoned(db: &super::Db, kind: &str, key_prefix: &str) -> sqlx::Result<u64> {
    let mut ended = 0;
    for (tenant, id) in abandoned(&db.pool, kind, key_prefix).await? {
        settle_interrupted(&db.pool, tenant, id).await?;
        let left = give_up(&db.pool, tenant, id, ABANDONED).await?;
        if finish_if_done(&db.pool, tenant, id).await? {
            ended += 1;
            tracing::warn!(tenant_id = tenant.0, announcement = id.0, left, "an announcement whose job ended without finishing it is ended; the customers it had not reached are marked not reached");
        }
    }
    Ok(ended)
}

/// Marks the announcement done when no recipient is pending or sending any more; whether it is.
pub async fn finish_if_done<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: AnnouncementId) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update announcements set status = 'done', finished_at = $1 where tenant_id = $2 and id = $3 and status = 'sending'
           and not exists (select 1 from announcement_recipients where announcement_id = $3 and state in ('pending', 'sending'))",
    )
    .bind(now_ms())
    .bind(tenant.0)
    .bind(id.0)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Telegram refused a message to `chat_id` for good — the customer blocked the bot, or deleted
/// their account — when tried at or after `tried_at` (Unix ms): later announcements leave them
/// out. Not when they have written since `tried_at`: they were back before the mark would be.
/// Whether it was marked.
pub async fn mark_unreachable<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId, tried_at: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update conversations set unreachable_at = $4
          where tenant_id = $1 and bot_id = $2 and chat_id = $3 and chat_kind = 'private' and last_message_at < $4",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(chat_id.0)
    .bind(tried_at)
    .execute(e)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The customer of `chat_id` sent the bot something (a button press, an edit): they unblocked it,
/// so announcements reach them again. (A message does the same as it opens the conversation:
/// `conversations::open`.) Writes only when they were marked.
pub async fn reachable_again<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId) -> sqlx::Result<bool> {
    let r = sqlx::query("update conversations set unreachable_at = null where tenant_id = $1 and bot_id = $2 and chat_id = $3 and chat_kind = 'private' and unreachable_at is not null")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat_id.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// `/stop`: no announcements from `bot` for this chat. Whether it was not opted out before.
pub async fn opt_out<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId) -> sqlx::Result<bool> {
    let done = sqlx::query("insert into announcement_optouts (tenant_id, bot_id, chat_id, created_at) values ($1, $2, $3, $4) on conflict (tenant_id, bot_id, chat_id) do nothing")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat_id.0)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// `/start` after `/stop`: announcements again. Whether the chat had opted out.
pub async fn opt_in<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from announcement_optouts where tenant_id = $1 and bot_id = $2 and chat_id = $3").bind(tenant.0).bind(bot.0).bind(chat_id.0).execute(e).await?;
    Ok(done.rows_affected() == 1)
}

/// A bot that changed owner takes its customers' `/stop`s to its new owner `tenant`, from every
/// earlier one, in the caller's transaction (beside the owner change): the customer told the
/// bot they want no announcements, and the bot, not its owner, is whom they told. Moved, not
/// copied: a `/start` to the new owner must not be undone by a copy left with an earlier owner
/// if the bot went back to them. Reaches other tenants' rows on purpose, by `bot` only.
pub async fn move_to_new_owner(tx: &mut super::Conn, bot: BotId, tenant: TenantId) -> sqlx::Result<u64> {
    let moved = sqlx::query(
        "insert into announcement_optouts (tenant_id, bot_id, chat_id, created_at)
         select $1, bot_id, chat_id, min(created_at) from announcement_optouts where bot_id = $2 and tenant_id <> $1 group by bot_id, chat_id
         on conflict (tenant_id, bot_id, chat_id) do nothing",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("delete from announcement_optouts where bot_id = $1 and tenant_id <> $2").bind(bot.0).bind(tenant.0).execute(&mut *tx).await?;
    Ok(moved)
}

/// Whether this chat opted out of `bot`'s announcements.
pub async fn opted_out<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from announcement_optouts where tenant_id = $1 and bot_id = $2 and chat_id = $3")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat_id.0)
        .fetch_one(e)
        .await?;
    Ok(n > 0)
}
