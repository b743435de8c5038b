//! The customer paywall: the owner's settings (on the account) and each customer's daily
//! question count and bought questions (`paywall_usage`, `paywall_credits`).
use crate::storage::Conn;
use crate::domain::{BotId, ChatId, TenantId};
use sqlx::{Any, Executor};

/// The owner's customer-paywall settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaywallSettings {
    pub enabled: bool,
    pub free_per_day: i64,
    pub pack_stars: i64,
    pub pack_questions: i64,
}

pub async fn set_paywall(conn: &mut Conn, tenant: TenantId, s: &PaywallSettings) -> sqlx::Result<()> {
    sqlx::query(
        "update billing_accounts set paywall_enabled = $1, paywall_free_per_day = $2, paywall_pack_stars = $3, paywall_pack_questions = $4 where tenant_id = $5",
    )
    .bind(s.enabled as i64)
    .bind(s.free_per_day)
    .bind(s.pack_stars)
    .bind(s.pack_questions)
    .bind(tenant.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counts one more question of a customer today; returns today's count including it.
pub async fn paywall_count_question(conn: &mut Conn, tenant: TenantId, bot: BotId, chat: ChatId, day: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into paywall_usage (tenant_id, bot_id, chat_id, day, questions) values ($1, $2, $3, $4, 1)
         on conflict (tenant_id, bot_id, chat_id, day) do update set questions = paywall_usage.questions + 1
         returning questions",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(chat.0)
    .bind(day)
    .fetch_one(&mut *conn)
    .await
}

/// Uses one bought question of a customer, if they have one.
pub async fn paywall_take_credit(conn: &mut Conn, tenant: TenantId, bot: BotId, chat: ChatId) -> sqlx::Result<bool> {
    let r = sqlx::query("update paywall_credits set credits = credits - 1 where tenant_id = $1 and bot_id = $2 and chat_id = $3 and credits > 0")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks the update's question as given back (`returned`), if it was free or bought: what it was
/// ("free" or "bought") and when it was decided — once, for the caller that is to give it back.
pub async fn paywall_mark_returned(conn: &mut Conn, tenant: TenantId, bot: BotId, update_id: i64) -> sqlx::Result<Option<(String, i64)>> {
    let before: Option<(String, i64)> =
        sqlx::query_as("select outcome, created_at from paywall_questions where tenant_id = $1 and bot_id = $2 and update_id = $3 and outcome in ('free', 'bought')")
            .bind(tenant.0)
            .bind(bot.0)
            .bind(update_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((outcome, at)) = before else { return Ok(None) };
    let r = sqlx::query("update paywall_questions set outcome = 'returned' where tenant_id = $1 and bot_id = $2 and update_id = $3 and outcome = $4")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(update_id)
        .bind(&outcome)
        .execute(&mut *conn)
        .await?;
    Ok((r.rows_affected() == 1).then_some((outcome, at)))
}

/// Takes back one of a customer's questions of `day` (a free one given back).
pub async fn paywall_uncount_question(conn: &mut Conn, tenant: TenantId, bot: BotId, chat: ChatId, day: i64) -> sqlx::Result<()> {
    sqlx::query("update paywall_usage set questions = questions - 1 where tenant_id = $1 and bot_id = $2 and chat_id = $3 and day = $4 and questions > 0")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat.0)
        .bind(day)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn paywall_add_credits(conn: &mut Conn, tenant: TenantId, bot: BotId, chat: ChatId, n: i64) -> sqlx::Result<()> {
    sqlx::query(
        "insert into paywall_credits (tenant_id, bot_id, chat_id, credits) values ($1, $2, $3, $4)
         on conflict (tenant_id, bot_id, chat_id) do update set credits = paywall_credits.credits + $4",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(chat.0)
    .bind(n)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A bot given to another owner: its customers' bought questions go with it to `tenant` (they
/// paid the bot, whose Stars its new owner now holds). Added to any the new owner's business
/// already holds for them.
pub async fn paywall_move_to_new_owner(conn: &mut Conn, bot: BotId, tenant: TenantId) -> sqlx::Result<()> {
    sqlx::query(
        "insert into paywall_credits (tenant_id, bot_id, chat_id, credits)
         select $1, bot_id, chat_id, sum(credits) from paywall_credits where bot_id = $2 and tenant_id <> $1 and credits > 0 group by bot_id, chat_id
         on conflict (tenant_id, bot_id, chat_id) do update set credits = paywall_credits.credits + excluded.credits",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query("delete from paywall_credits where bot_id = $1 and tenant_id <> $2").bind(bot.0).bind(tenant.0).execute(&mut *conn).await?;
    Ok(())
}

pub async fn paywall_credits<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat: ChatId) -> sqlx::Result<i64> {
    let r: Option<i64> = sqlx::query_scalar("select credits from paywall_credits where tenant_id = $1 and bot_id = $2 and chat_id = $3")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat.0)
        .fetch_optional(e)
        .await?;
    Ok(r.unwrap_or(0))
}

/// Takes back up to `n` bought questions a customer bought from `bot` (a refund), wherever they
/// are now: they go with the bot to each new owner ([`paywall_move_to_new_owner`]), so the
/// business the payment was booked to may no longer hold them.
pub async fn paywall_take_back(conn: &mut Conn, bot: BotId, chat: ChatId, n: i64) -> sqlx::Result<()> {
    sqlx::query("update paywall_credits set credits = case when credits > $1 then credits - $1 else 0 end where bot_id = $2 and chat_id = $3")
        .bind(n)
        .bind(bot.0)
        .bind(chat.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What the paywall decided for one customer question: `free`, `bought` (a bought question used)
/// or `invoice`; for an invoice, how much of it reached the customer (0 nothing, 1 the message,
/// 2 the invoice too).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaywallDecision {
    pub outcome: String,
    pub sent: i64,
}

/// The decision already made for update `update_id` of `bot`, if any.
pub async fn paywall_decision<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, update_id: i64) -> sqlx::Result<Option<PaywallDecision>> {
    sqlx::query_as("select outcome, sent from paywall_questions where tenant_id = $1 and bot_id = $2 and update_id = $3")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(update_id)
        .fetch_optional(e)
        .await
}

/// Records the decision for update `update_id`; false if one was recorded first (by a
/// concurrent run of the same job).
pub async fn paywall_record_decision(conn: &mut Conn, tenant: TenantId, bot: BotId, update_id: i64, chat: ChatId, outcome: &str, now: i64) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into paywall_questions (tenant_id, bot_id, update_id, chat_id, outcome, sent, created_at) values ($1, $2, $3, $4, $5, 0, $6)
         on conflict (tenant_id, bot_id, update_id) do nothing",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(update_id)
    .bind(chat.0)
    .bind(outcome)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records how much of an invoice decision reached the customer.
pub async fn paywall_mark_sent<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, update_id: i64, sent: i64) -> sqlx::Result<()> {
    sqlx::query("update paywall_questions set sent = $1 where tenant_id = $2 and bot_id = $3 and update_id = $4 and sent < $1")
        .bind(sent)
        .bind(tenant.0)
        .bind(bot.0)
        .bind(update_id)
        .execute(e)
        .await?;
    Ok(())
}
