//! Child bots and their sealed secrets (token, webhook secret).
//!
//! Secrets enter and leave this module only as [`Sealed`] values; the associated data that
//! binds a ciphertext to its row and column is built here, by [`token_aad`] and
//! [`webhook_secret_aad`], so every caller seals and opens the same way.
use super::now_ms;
use crate::crypto::Sealed;
use crate::domain::{BotId, TenantId, UserId};
use sqlx::{Any, Executor, Row};

/// A sealed value read from a row as the columns `key_id` and `blob` (queries alias a sealed
/// column's `{column}_key_id` and `{column}_ct` to those names).
impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for Sealed {
    fn from_row(r: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
        Ok(Sealed { key_id: r.try_get("key_id")?, blob: r.try_get("blob")? })
    }
}

pub fn token_aad(bot: BotId) -> String {
    format!("bots.token:{bot}")
}

pub fn webhook_secret_aad(bot: BotId) -> String {
    format!("bots.webhook_secret:{bot}")
}

#[derive(Debug, Clone)]
pub struct NewBot<'a> {
    pub id: BotId,
    pub tenant_id: TenantId,
    pub username: &'a str,
    pub name: &'a str,
    pub token: Sealed,
    pub webhook_secret: Option<Sealed>,
}

#[derive(Debug, Clone)]
pub struct Bot {
    pub id: BotId,
    pub tenant_id: TenantId,
    pub username: String,
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// Paused by its owner: connected, but answering every customer with a short notice.
    pub paused: bool,
}

/// Statuses of a bot bellhop no longer drives: `disconnected` (its owner took it back; no
/// token kept) and `deleted` (disconnected and its data erased; the row stays as a tombstone so
/// that a later `managed_bot` update does not connect it again).
pub const DISCONNECTED: &str = "disconnected";
pub const DELETED: &str = "deleted";

/// Inserts a bot; an existing row with the same id is left as it is (returns false). A new bot
/// that is its business's only one gets the knowledge no bot uses (added before the business
/// had a bot, or left by a deleted one: `sources::give_orphans_to`).
pub async fn insert(conn: &mut super::Conn, b: &NewBot<'_>) -> sqlx::Result<bool> {
    let (ws_key, ws_ct) = match &b.webhook_secret {
        Some(s) => (Some(s.key_id.as_str()), Some(s.blob.as_slice())),
        None => (None, None),
    };
    let r = sqlx::query(
        "insert into bots (id, tenant_id, username, name, status, token_key_id, token_ct, webhook_secret_key_id, webhook_secret_ct, created_at, updated_at)
         values ($1, $2, $3, $4, 'provisioning', $5, $6, $7, $8, $9, $9)
         on conflict (id) do nothing",
    )
    .bind(b.id.0)
    .bind(b.tenant_id.0)
    .bind(b.username)
    .bind(b.name)
    .bind(b.token.key_id.as_str())
    .bind(b.token.blob.as_slice())
    .bind(ws_key)
    .bind(ws_ct)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    super::sources::give_orphans_to(conn, b.tenant_id, b.id).await?;
    Ok(true)
}

/// A row of [`list_for_tenant`], before `paused_at` becomes [`Bot::paused`].
#[derive(sqlx::FromRow)]
struct BotRow {
    #[sqlx(try_from = "i64")]
    id: BotId,
    #[sqlx(try_from = "i64")]
    tenant_id: TenantId,
    username: String,
    name: String,
    status: String,
    status_reason: Option<String>,
    paused_at: Option<i64>,
}

impl From<BotRow> for Bot {
    fn from(r: BotRow) -> Self {
        Bot { id: r.id, tenant_id: r.tenant_id, username: r.username, name: r.name, status: r.status, status_reason: r.status_reason, paused: r.paused_at.is_some() }
    }
}

/// The tenant's bots. Tenant-scoped by construction.
pub async fn list_for_tenant<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<Bot>> {
    let rows: Vec<BotRow> = sqlx::query_as("select id, tenant_id, username, name, status, status_reason, paused_at from bots where tenant_id = $1 and status <> 'deleted' order by id")
        .bind(tenant.0)
        .fetch_all(e)
        .await?;
    Ok(rows.into_iter().map(Bot::from).collect())
}

/// The tenant's newest bot (not deleted) recorded at or after `since_ms`: (username, status).
pub async fn newest_since<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, since_ms: i64) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("select username, status from bots where tenant_id = $1 and created_at >= $2 and status <> 'deleted' order by created_at desc, id desc limit 1")
        .bind(tenant.0)
        .bind(since_ms)
        .fetch_optional(e)
        .await
}

/// What [`webhook_auth`] finds out about a bot.
#[derive(Debug, Clone)]
pub struct WebhookAuth {
    pub tenant_id: TenantId,
    /// Its sealed webhook secret, if it has one.
    pub secret: Option<Sealed>,
}

/// What the webhook edge needs to authenticate a child bot's update: its tenant and its sealed
/// webhook secret. Not tenant-scoped: the tenant is what this lookup finds out, from the bot id
/// in the URL, and nothing of the tenant's is returned before the secret matches.
pub async fn webhook_auth<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<Option<WebhookAuth>> {
    #[derive(sqlx::FromRow)]
    struct AuthRow {
        #[sqlx(try_from = "i64")]
        tenant_id: TenantId,
        webhook_secret_key_id: Option<String>,
        webhook_secret_ct: Option<Vec<u8>>,
    }
    // A parked bot (past its plan's number of bots) is not connected, nor is one its owner
    // disconnected: their updates are refused.
    let r: Option<AuthRow> =
        sqlx::query_as("select tenant_id, webhook_secret_key_id, webhook_secret_ct from bots where id = $1 and status not in ('suspended', 'parked', 'disconnected', 'deleted')")
            .bind(bot.0)
            .fetch_optional(e)
            .await?;
    Ok(r.map(|r| {
        let secret = match (r.webhook_secret_key_id, r.webhook_secret_ct) {
            (Some(key_id), Some(blob)) => Some(Sealed { key_id, blob }),
            _ => None,
        };
        WebhookAuth { tenant_id: r.tenant_id, secret }
    }))
}

/// Whether a bot with this id exists at all (suspended ones included). Not tenant-scoped: the
/// webhook edge asks it about an id from a URL, and learns nothing else.
pub async fn exists<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<bool> {
    Ok(sqlx::query("select 1 from bots where id = $1").bind(bot.0).fetch_optional(e).await?.is_some())
}

/// The sealed token of one of the tenant's bots; none once it was disconnected (its token is
/// then no longer kept).
pub async fn sealed_token<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<Sealed>> {
    sqlx::query_as("select token_key_id as key_id, token_ct as blob from bots where id = $1 and tenant_id = $2 and token_key_id <> ''")
        .bind(bot.0)
        .bind(tenant.0)
        .fetch_optional(e)
        .await
}

/// One sealed column: which table/column pair holds it and how its associated data is built.
pub struct SealedColumn {
    pub column: &'static str,
    pub aad: fn(BotId) -> String,
}

/// Every sealed secret in the schema. Key rotation walks this list; a new sealed column must
/// be added here or rotation would leave it under an old key.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { column: "token", aad: token_aad },
    SealedColumn { column: "webhook_secret", aad: webhook_secret_aad },
    // The previous webhook secret is the same secret moved aside: same associated data.
    SealedColumn { column: "prev_webhook_secret", aad: webhook_secret_aad },
];

/// A bot's value of one sealed column.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedValue {
    #[sqlx(rename = "id", try_from = "i64")]
    pub bot: BotId,
    #[sqlx(flatten)]
    pub sealed: Sealed,
}

/// Up to `limit` rows whose `column` is sealed with a key other than `active_key_id`.
pub async fn sealed_not_under<'c>(e: impl Executor<'c, Database = Any>, column: &SealedColumn, active_key_id: &str, limit: i64) -> sqlx::Result<Vec<SealedValue>> {
    let c = column.column;
    sqlx::query_as(&format!(
        "select id, {c}_key_id as key_id, {c}_ct as blob from bots where {c}_key_id is not null and {c}_key_id <> '' and {c}_key_id <> $1 order by id limit $2"
    ))
    .bind(active_key_id)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// Replaces a sealed value only if it is still `old` (a concurrent writer wins; the rotation
/// loop then sees the row again if it is still under an old key).
pub async fn reseal<'c>(e: impl Executor<'c, Database = Any>, column: &SealedColumn, bot: BotId, old: &Sealed, new: &Sealed) -> sqlx::Result<bool> {
    let c = column.column;
    let r = sqlx::query(&format!(
        "update bots set {c}_key_id = $1, {c}_ct = $2 where id = $3 and {c}_key_id = $4 and {c}_ct = $5"
    ))
    .bind(new.key_id.as_str())
    .bind(new.blob.as_slice())
    .bind(bot.0)
    .bind(old.key_id.as_str())
    .bind(old.blob.as_slice())
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Distinct key ids still referenced by any sealed column.
pub async fn key_ids_in_use(db: &super::Db) -> sqlx::Result<Vec<String>> {
    let mut ids = Vec::new();
    for col in SEALED_COLUMNS {
        let c = col.column;
        let rows: Vec<String> = sqlx::query_scalar(&format!("select distinct {c}_key_id from bots where {c}_key_id is not null and {c}_key_id <> ''")).fetch_all(&db.pool).await?;
        ids.extend(rows);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A bot as the manager bot sees it during provisioning.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ManagedRow {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "i64")]
    pub owner_user_id: UserId,
    pub owner_update_id: i64,
    #[sqlx(flatten)]
    pub token: Sealed,
    pub token_fingerprint: String,
    pub status: String,
}

/// The managed-bot state of a bot, if we know it. Not tenant-scoped: the manager bot is the
/// one place that decides which tenant a bot belongs to.
pub async fn managed_row<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<Option<ManagedRow>> {
    sqlx::query_as("select tenant_id, owner_user_id, owner_update_id, token_key_id as key_id, token_ct as blob, token_fingerprint, status from bots where id = $1")
        .bind(bot.0)
        .fetch_optional(e)
        .await
}

/// Records who owns a bot according to update `update_id`, unless a newer update already
/// spoke (updates may arrive out of order), and that it was given to them (`given_at`: its
/// welcome says so). Returns whether this update was applied.
pub async fn set_owner<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, tenant: TenantId, owner: UserId, update_id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("update bots set tenant_id = $1, owner_user_id = $2, owner_update_id = $3, updated_at = $4, given_at = $4 where id = $5 and owner_update_id < $3")
        .bind(tenant.0)
        .bind(owner.0)
        .bind(update_id)
        .bind(now_ms())
        .bind(bot.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Stores a new token (a `managed_bot` update after `replaceManagedBotToken`) if it differs
/// from the stored one. Returns whether it changed.
pub async fn set_token<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, token: &Sealed, fingerprint: &str) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update bots set token_key_id = $1, token_ct = $2, token_fingerprint = $3, status = 'provisioning', status_reason = null, updated_at = $4
         where id = $5 and token_fingerprint <> $3",
    )
    .bind(token.key_id.as_str())
    .bind(token.blob.as_slice())
    .bind(fingerprint)
    .bind(now_ms())
    .bind(bot.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Stores the managed-bot fields of a freshly inserted bot.
pub async fn init_managed<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, owner: UserId, update_id: i64, fingerprint: &str, description: &str, short: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update bots set owner_user_id = $1, owner_update_id = $2, token_fingerprint = $3, description = $4, short_description = $5 where id = $6",
    )
    .bind(owner.0)
    .bind(update_id)
    .bind(fingerprint)
    .bind(description)
    .bind(short)
    .bind(bot.0)
    .execute(e)
    .await?;
    Ok(())
}

/// The statuses provisioning may move a bot from (and the condition on a token to provision it
/// with): never a parked, disconnected or deleted bot — a disconnect (an account closing) while
/// a provisioning runs wins over it.
const PROVISIONABLE: &str = "status in ('provisioning', 'live', 'failed') and token_key_id <> ''";

/// Replaces the sealed webhook secret of one of the tenant's bots, if it can be provisioned (see
/// [`set_provisioned_status`]): returns false otherwise. The one it replaces is kept as the
/// previous secret — still accepted ([`previous_webhook_secret`]) until
/// [`forget_previous_webhook_secret`] after Telegram took the new one — unless a previous one is
/// kept already: then the last setup did not finish, and Telegram may still hold that older one.
pub async fn set_webhook_secret<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, secret: &Sealed) -> sqlx::Result<bool> {
    let r = sqlx::query(&format!(
        "update bots set
             prev_webhook_secret_key_id = case when prev_webhook_secret_ct is null then webhook_secret_key_id else prev_webhook_secret_key_id end,
             prev_webhook_secret_ct = case when prev_webhook_secret_ct is null then webhook_secret_ct else prev_webhook_secret_ct end,
             webhook_secret_key_id = $1, webhook_secret_ct = $2, updated_at = $3
         where id = $4 and tenant_id = $5 and {PROVISIONABLE}",
    ))
        .bind(secret.key_id.as_str())
        .bind(secret.blob.as_slice())
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The previous webhook secret of a connected bot, while a new one is being set (see
/// [`set_webhook_secret`]). Not tenant-scoped, like [`webhook_auth`].
pub async fn previous_webhook_secret<'c>(e: impl Executor<'c, Database = Any>, bot: BotId) -> sqlx::Result<Option<Sealed>> {
    sqlx::query_as(
        "select prev_webhook_secret_key_id as key_id, prev_webhook_secret_ct as blob from bots
         where id = $1 and prev_webhook_secret_key_id is not null and prev_webhook_secret_ct is not null
           and status not in ('suspended', 'parked', 'disconnected', 'deleted')",
    )
    .bind(bot.0)
    .fetch_optional(e)
    .await
}

/// Telegram holds the current webhook secret (`setWebhook` succeeded with it): the previous one
/// is refused from now on. Only if `current` is still the stored secret.
pub async fn forget_previous_webhook_secret<'c>(e: impl Executor<'c, Database = Any>, bot: BotId, current: &Sealed) -> sqlx::Result<()> {
    sqlx::query("update bots set prev_webhook_secret_key_id = null, prev_webhook_secret_ct = null where id = $1 and webhook_secret_ct = $2")
        .bind(bot.0)
        .bind(current.blob.as_slice())
        .execute(e)
        .await?;
    Ok(())
}

/// Sets the status `live` or `failed` the provisioning job ends with, if the bot is still one it
/// may provision (provisioning, live or failed, with a token): a bot parked, disconnected or
/// deleted while the job ran keeps that status. Returns whether it was set.
pub async fn set_provisioned_status<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, status: &str, reason: Option<&str>) -> sqlx::Result<bool> {
    let r = sqlx::query(&format!("update bots set status = $1, status_reason = $2, updated_at = $3 where id = $4 and tenant_id = $5 and {PROVISIONABLE}"))
        .bind(status)
        .bind(reason)
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether one of the tenant's bots may be provisioned (see [`set_provisioned_status`]).
pub async fn provisionable<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!("select count(*) from bots where id = $1 and tenant_id = $2 and {PROVISIONABLE}")).bind(bot.0).bind(tenant.0).fetch_one(e).await?;
    Ok(n > 0)
}

/// Sets the status (provisioning | live | failed | parked | suspended) of one of the tenant's bots.
pub async fn set_status<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, status: &str, reason: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("update bots set status = $1, status_reason = $2, updated_at = $3 where id = $4 and tenant_id = $5")
        .bind(status)
        .bind(reason)
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(())
}

/// Claims the right to send the welcome message (once per bot). Undo with [`unclaim_welcome`]
/// if sending fails.
pub async fn claim_welcome<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<bool> {
    let r = sqlx::query("update bots set welcome_sent_at = $1 where id = $2 and tenant_id = $3 and welcome_sent_at is null")
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The tenant's live bots whose welcome never reached their owner (Telegram refused it: they
/// had not opened the manager chat yet), by id: (bot, username).
pub async fn unwelcomed<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<(BotId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as("select id, username from bots where tenant_id = $1 and status = 'live' and welcome_sent_at is null order by id")
        .bind(tenant.0)
        .fetch_all(e)
        .await?;
    Ok(rows.into_iter().map(|(id, u)| (BotId(id), u)).collect())
}

/// The bot's name if it was given to its owner (an owner change) rather than created by them.
pub async fn given_name<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select name from bots where id = $1 and tenant_id = $2 and given_at is not null").bind(bot.0).bind(tenant.0).fetch_optional(e).await
}

pub async fn unclaim_welcome<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<()> {
    sqlx::query("update bots set welcome_sent_at = null where id = $1 and tenant_id = $2").bind(bot.0).bind(tenant.0).execute(e).await?;
    Ok(())
}

/// The profile texts of a bot.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Profile {
    /// The bot's name (the business's, as customers see it).
    pub name: String,
    pub username: String,
    pub description: String,
    pub short_description: String,
}

/// Profile texts of one of the tenant's bots.
pub async fn profile<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<Profile>> {
    sqlx::query_as("select name, username, description, short_description from bots where id = $1 and tenant_id = $2")
        .bind(bot.0)
        .bind(tenant.0)
        .fetch_optional(e)
        .await
}

/// Sets the profile texts Telegram shows for one of the tenant's bots (`setMyDescription`,
/// `setMyShortDescription`; at most 512 and 120 characters — the caller checks). The provisioning
/// job sends them. Returns false if the bot isn't the tenant's.
pub async fn set_descriptions<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, description: &str, short: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("update bots set description = $1, short_description = $2, updated_at = $3 where id = $4 and tenant_id = $5")
        .bind(description)
        .bind(short)
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// How many of the tenant's bots count toward its plan's number of bots: every one but the
/// parked, disconnected and deleted ones, and but `except`.
pub async fn count_unparked<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, except: BotId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from bots where tenant_id = $1 and status not in ('parked', 'disconnected', 'deleted') and id <> $2").bind(tenant.0).bind(except.0).fetch_one(e).await
}

/// How many of the tenant's bots are connected (or being connected): those the plan's number
/// of bots counts (see `app::parking`).
pub async fn count_connected<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from bots where tenant_id = $1 and status not in ('parked', 'disconnected', 'deleted')").bind(tenant.0).fetch_one(e).await
}

/// The tenant's parked bots, oldest first.
pub async fn parked<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<BotId>> {
    let ids: Vec<i64> = sqlx::query_scalar("select id from bots where tenant_id = $1 and status = 'parked' order by created_at, id").bind(tenant.0).fetch_all(e).await?;
    Ok(ids.into_iter().map(BotId).collect())
}

/// Tenants with a parked bot.
pub async fn tenants_with_parked_bots<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<TenantId>> {
    let ids: Vec<i64> = sqlx::query_scalar("select distinct tenant_id from bots where status = 'parked'").fetch_all(e).await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// A bot's status (provisioning | live | failed | parked | suspended), if it is the tenant's.
pub async fn status_of<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select status from bots where id = $1 and tenant_id = $2").bind(bot.0).bind(tenant.0).fetch_optional(e).await
}

/// When one of the tenant's bots was paused, if it is.
pub async fn paused_at<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<i64>> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("select paused_at from bots where id = $1 and tenant_id = $2").bind(bot.0).bind(tenant.0).fetch_optional(e).await?.flatten())
}

/// Pauses (`true`) or resumes one of the tenant's connected bots. Returns false if it isn't the
/// tenant's, or was disconnected.
pub async fn set_paused<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, paused: bool) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update bots set paused_at = case when $1 = 1 then coalesce(paused_at, $2) else null end, updated_at = $2
         where id = $3 and tenant_id = $4 and status not in ('disconnected', 'deleted')",
    )
    .bind(paused as i64)
    .bind(now_ms())
    .bind(bot.0)
    .bind(tenant.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks one of the tenant's bots disconnected and forgets its token and webhook secret (the
/// ciphertexts are overwritten): bellhop can no longer act as the bot. Returns false if it isn't
/// the tenant's.
pub async fn disconnect<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update bots set status = 'disconnected', status_reason = null, paused_at = null, token_key_id = '', token_ct = $1,
             token_fingerprint = '', webhook_secret_key_id = null, webhook_secret_ct = null,
             prev_webhook_secret_key_id = null, prev_webhook_secret_ct = null, updated_at = $2
         where id = $3 and tenant_id = $4 and status <> 'deleted'",
    )
    .bind(Vec::<u8>::new())
    .bind(now_ms())
    .bind(bot.0)
    .bind(tenant.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Makes a disconnected bot of the tenant's a tombstone (`deleted`): its profile texts are
/// cleared; its id, name and username stay so that Telegram's later updates about it are known.
pub async fn mark_deleted<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update bots set status = 'deleted', description = '', short_description = '', updated_at = $1
         where id = $2 and tenant_id = $3 and status = 'disconnected'",
    )
    .bind(now_ms())
    .bind(bot.0)
    .bind(tenant.0)
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}
