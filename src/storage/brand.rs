//! A bot's brand as the owner set it: its name (`bots.name`), profile photo and descriptions per
//! language (the default ones are `bots.description` / `bots.short_description`). This copy is
//! the source of truth; `manager::brand` applies it to Telegram and records here what Telegram
//! confirmed, or why it did not. Every function takes the tenant: a tenant sees only its bots.
use super::now_ms;
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

/// The owner's descriptions for one language (`language_code`); empty: the default one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Language {
    #[sqlx(rename = "language_code")]
    pub code: String,
    pub description: String,
    pub short_description: String,
}

/// The stored brand of one bot, without the photo's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    pub description: String,
    pub short_description: String,
    /// SHA-256 (hex) of the profile photo; empty: none set through bellhop.
    pub photo_sha256: String,
    /// What Telegram last confirmed (`"<token fingerprint>:<name>"`, `"<token fingerprint>:<sha256>"`).
    pub name_applied: String,
    pub photo_applied: String,
    /// Why Telegram does not show the stored brand yet; `None` once it does.
    pub error: Option<String>,
    pub languages: Vec<Language>,
}

pub async fn get(pool: &sqlx::AnyPool, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<Brand>> {
    #[derive(sqlx::FromRow)]
    struct BrandRow {
        name: String,
        description: String,
        short_description: String,
        photo_sha256: String,
        name_applied: String,
        photo_applied: String,
        brand_error: Option<String>,
    }
    let r: Option<BrandRow> =
        sqlx::query_as("select name, description, short_description, photo_sha256, name_applied, photo_applied, brand_error from bots where id = $1 and tenant_id = $2")
            .bind(bot.0)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await?;
    let Some(r) = r else { return Ok(None) };
    Ok(Some(Brand {
        name: r.name,
        description: r.description,
        short_description: r.short_description,
        photo_sha256: r.photo_sha256,
        name_applied: r.name_applied,
        photo_applied: r.photo_applied,
        error: r.brand_error,
        languages: languages(pool, tenant, bot).await?,
    }))
}

/// The languages the owner added, in the order they were added.
pub async fn languages<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Vec<Language>> {
    sqlx::query_as("select language_code, description, short_description from bot_languages where tenant_id = $1 and bot_id = $2 order by created_at, language_code")
        .bind(tenant.0)
        .bind(bot.0)
        .fetch_all(e)
        .await
}

/// Stores the name and the descriptions (default and per language) of one of the tenant's bots;
/// languages not in `languages` are removed. `false` if the bot isn't the tenant's.
pub async fn put_texts(tx: &mut super::Tx, tenant: TenantId, bot: BotId, name: &str, description: &str, short: &str, languages: &[Language]) -> sqlx::Result<bool> {
    let r = sqlx::query("update bots set name = $1, description = $2, short_description = $3, updated_at = $4 where id = $5 and tenant_id = $6 and status <> 'deleted'")
        .bind(name)
        .bind(description)
        .bind(short)
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    let kept: Vec<String> = languages.iter().map(|l| l.code.clone()).collect();
    for old in self::languages(&mut **tx, tenant, bot).await? {
        if !kept.contains(&old.code) {
            sqlx::query("delete from bot_languages where tenant_id = $1 and bot_id = $2 and language_code = $3").bind(tenant.0).bind(bot.0).bind(&old.code).execute(&mut **tx).await?;
        }
    }
    for (i, l) in languages.iter().enumerate() {
        sqlx::query(
            "insert into bot_languages (bot_id, tenant_id, language_code, description, short_description, created_at) values ($1, $2, $3, $4, $5, $6)
             on conflict (bot_id, language_code) do update set description = excluded.description, short_description = excluded.short_description",
        )
        .bind(bot.0)
        .bind(tenant.0)
        .bind(&l.code)
        .bind(&l.description)
        .bind(&l.short_description)
        .bind(now_ms() + i as i64)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// Stores a new profile photo (JPEG, checked by the caller) of one of the tenant's bots.
pub async fn put_photo<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, jpeg: &[u8], sha256: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("update bots set photo = $1, photo_sha256 = $2, updated_at = $3 where id = $4 and tenant_id = $5 and status <> 'deleted'")
        .bind(jpeg.to_vec())
        .bind(sha256)
        .bind(now_ms())
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The profile photo of one of the tenant's bots, if it has one.
pub async fn photo<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<Option<Vec<u8>>> {
    let r: Option<Option<Vec<u8>>> = sqlx::query_scalar("select photo from bots where id = $1 and tenant_id = $2").bind(bot.0).bind(tenant.0).fetch_optional(e).await?;
    Ok(r.flatten())
}

/// Records that Telegram took the name (`name`) or the photo (`photo`) — markers as in [`Brand`].
pub async fn mark_applied<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, name: Option<&str>, photo: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("update bots set name_applied = coalesce($1, name_applied), photo_applied = coalesce($2, photo_applied) where id = $3 and tenant_id = $4")
        .bind(name)
        .bind(photo)
        .bind(bot.0)
        .bind(tenant.0)
        .execute(e)
        .await?;
    Ok(())
}

/// Records why Telegram does not show the stored brand (`None`: it does).
pub async fn set_error<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, error: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("update bots set brand_error = $1 where id = $2 and tenant_id = $3").bind(error).bind(bot.0).bind(tenant.0).execute(e).await?;
    Ok(())
}
