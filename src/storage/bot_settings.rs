//! An owner's settings for one bot: persona, tone, extra instructions and the fixed texts. Empty
//! values mean "use the built-in default" (see `answering::settings`).
use super::now_ms;
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct BotSettings {
    pub persona: String,
    pub tone: String,
    pub extra_instructions: String,
    pub welcome_text: String,
    pub fallback_text: String,
    pub unavailable_text: String,
    pub help_text: String,
    pub privacy_text: String,
    pub paysupport_text: String,
    /// JSON list of `{command, description}`; empty = the defaults.
    pub commands: String,
    /// The reply to a photo, voice note, video, document, sticker, location or contact.
    pub media_text: String,
    /// The notice a paused bot gives customers.
    pub paused_text: String,
    /// Minutes a customer waits for a person before the assistant takes the conversation back
    /// (0: until the owner closes it).
    pub handoff_timeout_minutes: i64,
    /// Working hours: JSON, seven entries Monday first, each `[open, close]` in minutes of the
    /// day or `null` (closed); empty = always open (see `answering::hours`).
    pub working_hours: String,
    /// The IANA time zone the working hours are in.
    pub timezone: String,
    /// The note to a customer who asks for a person outside working hours (empty: the default).
    pub away_text: String,
}

/// The handoff timeout of a bot without settings, in minutes.
pub const DEFAULT_HANDOFF_TIMEOUT_MINUTES: i64 = 60;

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            persona: String::new(),
            tone: String::new(),
            extra_instructions: String::new(),
            welcome_text: String::new(),
            fallback_text: String::new(),
            unavailable_text: String::new(),
            help_text: String::new(),
            privacy_text: String::new(),
            paysupport_text: String::new(),
            commands: String::new(),
            media_text: String::new(),
            paused_text: String::new(),
            handoff_timeout_minutes: DEFAULT_HANDOFF_TIMEOUT_MINUTES,
            working_hours: String::new(),
            timezone: "UTC".into(),
            away_text: String::new(),
        }
    }
}

const COLUMNS: &str = "persona, tone, extra_instructions, welcome_text, fallback_text, unavailable_text, help_text, privacy_text, paysupport_text, commands, media_text, paused_text, handoff_timeout_minutes, working_hours, timezone, away_text";

pub async fn get<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId) -> sqlx::Result<BotSettings> {
    let sql = format!("select {COLUMNS} from bot_settings where tenant_id = $1 and bot_id = $2");
    let r: Option<BotSettings> = sqlx::query_as(&sql).bind(tenant.0).bind(bot.0).fetch_optional(e).await?;
    Ok(r.unwrap_or_default())
}

/// Saves the settings of a bot the tenant owns (`false` if it doesn't own it).
pub async fn put(tx: &mut super::Tx, tenant: TenantId, bot: BotId, s: &BotSettings) -> sqlx::Result<bool> {
    // A no-op update of the tenant's bot tells whether the bot is the tenant's and holds its row
    // until the commit.
    let owned = sqlx::query("update bots set status = status where tenant_id = $1 and id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    if owned.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "insert into bot_settings (bot_id, tenant_id, persona, tone, extra_instructions, welcome_text, fallback_text, unavailable_text, help_text, privacy_text, paysupport_text, commands, media_text, paused_text, handoff_timeout_minutes, working_hours, timezone, away_text, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         on conflict (bot_id) do update set tenant_id = excluded.tenant_id, persona = excluded.persona, tone = excluded.tone,
             extra_instructions = excluded.extra_instructions, welcome_text = excluded.welcome_text, fallback_text = excluded.fallback_text,
             unavailable_text = excluded.unavailable_text, help_text = excluded.help_text, privacy_text = excluded.privacy_text,
             paysupport_text = excluded.paysupport_text, commands = excluded.commands, media_text = excluded.media_text,
             paused_text = excluded.paused_text, handoff_timeout_minutes = excluded.handoff_timeout_minutes,
             working_hours = excluded.working_hours, timezone = excluded.timezone, away_text = excluded.away_text, updated_at = excluded.updated_at",
    )
    .bind(bot.0)
    .bind(tenant.0)
    .bind(&s.persona)
    .bind(&s.tone)
    .bind(&s.extra_instructions)
    .bind(&s.welcome_text)
    .bind(&s.fallback_text)
    .bind(&s.unavailable_text)
    .bind(&s.help_text)
    .bind(&s.privacy_text)
    .bind(&s.paysupport_text)
    .bind(&s.commands)
    .bind(&s.media_text)
    .bind(&s.paused_text)
    .bind(s.handoff_timeout_minutes)
    .bind(&s.working_hours)
    .bind(&s.timezone)
    .bind(&s.away_text)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(true)
}
