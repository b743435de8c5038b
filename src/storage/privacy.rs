//! Erasing personal data on request: one customer's conversations with a bot (their messages,
//! the bot's replies, feedback, the manager-chat routes of a handoff and the manager bot's
//! stored updates quoting it) and the Telegram updates they sent it; or everything a bot's customers left. Each function runs in the caller's
//! transaction and takes the tenant: nothing of another business's is reached — except
//! [`customer_tenants`], which a customer's own `/forget` asks: a bot that changed owner leaves
//! its earlier owners' records of its customers behind, and the customer asked the bot, whoever
//! owns it now, to forget them.
//!
//! Kept, because they hold no message content and are needed for accounting or limits: payment
//! records and the ledger, the paywall's per-customer counters and bought questions, and the
//! daily token totals; and a customer's `/stop` (only their chat id), which keeps announcements
//! from reaching them.
use crate::domain::conversation::ConversationId;
use crate::domain::{BotId, TenantId, UserId};

/// What an erasure removed (for the owner's confirmation and the log).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub conversations: u64,
    pub messages: u64,
    pub updates: u64,
}

/// The tenant's private conversations with `bot` of Telegram user `user` (group conversations
/// hold other people's messages too: they are erased only as a whole, by the owner).
pub async fn customer_conversations(tx: &mut super::Tx, tenant: TenantId, bot: BotId, user: UserId) -> sqlx::Result<Vec<ConversationId>> {
    let ids: Vec<i64> = sqlx::query_scalar("select id from conversations where tenant_id = $1 and bot_id = $2 and chat_id = $3 and chat_kind = 'private' order by id")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(user.0)
        .fetch_all(&mut **tx)
        .await?;
    Ok(ids.into_iter().map(ConversationId).collect())
}

/// The tenants holding a private conversation of Telegram user `user` with `bot`, or an update
/// they sent it: its owner now and, if it changed owner, the earlier ones (which keep their own
/// records but no longer control the bot). A customer's `/forget` erases their data with each.
pub async fn customer_tenants(tx: &mut super::Tx, bot: BotId, user: UserId) -> sqlx::Result<Vec<TenantId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select tenant_id from conversations where bot_id = $1 and chat_id = $2 and chat_kind = 'private'
         union select tenant_id from telegram_updates where bot_id = $1 and user_id = $2 and tenant_id is not null",
    )
    .bind(bot.0)
    .bind(user.0)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// Erases conversation `conv` of the tenant (its messages, feedback and handoff routes, the
/// stored updates its messages came in, and the `manager` bot's stored updates that quote it:
/// [`erase_manager_copies`]) and, when it is a private chat, every update its customer, Telegram
/// user `user`, sent `bot`. A group's conversation is many people's, and `user` is only whoever
/// spoke last: their updates elsewhere (their private chat with the bot) are not this
/// conversation's, and the group's other members' messages in it go with its messages' updates.
pub async fn erase_conversation(tx: &mut super::Tx, manager: Option<BotId>, tenant: TenantId, bot: BotId, conv: ConversationId, user: UserId) -> sqlx::Result<Erased> {
    let mut out = Erased::default();
    let chat: Option<(i64, String)> = sqlx::query_as("select chat_id, chat_kind from conversations where tenant_id = $1 and id = $2 and bot_id = $3")
        .bind(tenant.0)
        .bind(conv.0)
        .bind(bot.0)
        .fetch_optional(&mut **tx)
        .await?;
    let Some((chat_id, kind)) = chat else { return Ok(out) };
    let private = kind == "private";
    // Found through the handoff routes and the team's replies: before those go.
    out.updates += erase_manager_copies(tx, manager, tenant, "select id from conversations where tenant_id = $1 and id = $2", conv.0).await?;
    // The updates the conversation's messages came in (older ones may predate the user column).
    out.updates += sqlx::query(
        "delete from telegram_updates where bot_id = $1 and tenant_id = $2 and update_id in
           (select update_id from conversation_messages where tenant_id = $2 and conversation_id = $3 and author = 'customer' and update_id is not null)",
    )
    .bind(bot.0)
    .bind(tenant.0)
    .bind(conv.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if private {
        out.updates += erase_updates_from(tx, tenant, bot, user).await?;
    }
    sqlx::query("delete from relay_messages where tenant_id = $1 and conversation_id = $2").bind(tenant.0).bind(conv.0).execute(&mut **tx).await?;
    // Which announcements reached the chat (an opt-out, which holds nothing but the chat, stays:
    // it is what keeps a `/stop` in force). Each announcement's total goes down by the row it
    // loses, so its progress can still reach its total.
    sqlx::query(
        "update announcements set total = total - 1 where tenant_id = $1 and bot_id = $3 and total > 0
           and id in (select announcement_id from announcement_recipients where tenant_id = $1 and chat_id = $2)",
    )
    .bind(tenant.0)
    .bind(chat_id)
    .bind(bot.0)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "delete from announcement_recipients where tenant_id = $1 and chat_id = $2
           and announcement_id in (select id from announcements where tenant_id = $1 and bot_id = $3)",
    )
    .bind(tenant.0)
    .bind(chat_id)
    .bind(bot.0)
    .execute(&mut **tx)
    .await?;
    out.messages += sqlx::query("delete from conversation_messages where tenant_id = $1 and conversation_id = $2")
        .bind(tenant.0)
        .bind(conv.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    out.conversations += sqlx::query("delete from conversations where tenant_id = $1 and id = $2 and bot_id = $3")
        .bind(tenant.0)
        .bind(conv.0)
        .bind(bot.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(out)
}

/// Erases the `manager` bot's stored updates about a handoff of the conversations `convs` selects
/// (a subquery of conversation ids: `$1` the tenant, `$2` `scope`): a team member's press of a
/// button on a message relayed to them (which holds the transcript, or the customer's words) and
/// their replies to one (which quote it, and say what they wrote to the customer). The manager's
/// updates belong to no tenant, so they are stored without one: they are found through the
/// conversations' handoff routes (who was sent which message) and the team's replies (the
/// updates they came in), and must be erased before those are. Nothing without a manager bot.
async fn erase_manager_copies(tx: &mut super::Tx, manager: Option<BotId>, tenant: TenantId, convs: &str, scope: i64) -> sqlx::Result<u64> {
    let Some(manager) = manager else { return Ok(0) };
    let relays: Vec<(i64, i64)> = sqlx::query_as(&format!("select owner_chat_id, message_id from relay_messages where tenant_id = $1 and conversation_id in ({convs})"))
        .bind(tenant.0)
        .bind(scope)
        .fetch_all(&mut **tx)
        .await?;
    if relays.is_empty() {
        return Ok(0); // never handed over: the team was sent nothing about it
    }
    let replies: Vec<i64> =
        sqlx::query_scalar(&format!("select update_id from conversation_messages where tenant_id = $1 and author = 'owner' and update_id is not null and conversation_id in ({convs})"))
            .bind(tenant.0)
            .bind(scope)
            .fetch_all(&mut **tx)
            .await?;
    let relays: std::collections::HashSet<(i64, i64)> = relays.into_iter().collect();
    let members: std::collections::BTreeSet<i64> = relays.iter().map(|&(chat, _)| chat).collect();
    let mut erased = 0;
    for member in members {
        let stored: Vec<(i64, i64, String)> = sqlx::query_as("select id, update_id, body from telegram_updates where bot_id = $1 and user_id = $2 and tenant_id is null")
            .bind(manager.0)
            .bind(member)
            .fetch_all(&mut **tx)
            .await?;
        for (id, update_id, body) in stored {
            if replies.contains(&update_id) || quotes_relay(&body, &relays) {
                erased += sqlx::query("delete from telegram_updates where id = $1").bind(id).execute(&mut **tx).await?.rows_affected();
            }
        }
    }
    Ok(erased)
}

/// Whether a manager update (its body as Telegram sent it) is about one of `relays` (chat,
/// message id) — a message replying to it, or a press of a button on it.
fn quotes_relay(body: &str, relays: &std::collections::HashSet<(i64, i64)>) -> bool {
    let Ok(u) = serde_json::from_str::<serde_json::Value>(body) else { return false };
    let on = |m: &serde_json::Value| match (m["chat"]["id"].as_i64(), m["message_id"].as_i64()) {
        (Some(chat), Some(id)) => relays.contains(&(chat, id)),
        _ => false,
    };
    ["message", "edited_message"].iter().any(|k| u[k].get("reply_to_message").is_some_and(on)) || u["callback_query"].get("message").is_some_and(on)
}

/// Erases every update Telegram user `user` sent the tenant's `bot`.
pub async fn erase_updates_from(tx: &mut super::Tx, tenant: TenantId, bot: BotId, user: UserId) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from telegram_updates where bot_id = $1 and tenant_id = $2 and user_id = $3")
        .bind(bot.0)
        .bind(tenant.0)
        .bind(user.0)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Erases everything `bot`'s customers left with the tenant: conversations, messages, feedback,
/// handoff routes, stored updates (the `manager` bot's about their handoffs too), the bot's
/// settings, its stored brand (the profile photo and the descriptions per language) and its
/// paywall's per-question decisions.
pub async fn erase_bot(tx: &mut super::Tx, manager: Option<BotId>, tenant: TenantId, bot: BotId) -> sqlx::Result<Erased> {
    let mut out = Erased::default();
    let convs = "select id from conversations where tenant_id = $1 and bot_id = $2";
    out.updates += erase_manager_copies(tx, manager, tenant, convs, bot.0).await?;
    sqlx::query(&format!("delete from relay_messages where tenant_id = $1 and conversation_id in ({convs})")).bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    out.messages = sqlx::query(&format!("delete from conversation_messages where tenant_id = $1 and conversation_id in ({convs})"))
        .bind(tenant.0)
        .bind(bot.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    out.conversations = sqlx::query("delete from conversations where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?.rows_affected();
    out.updates += sqlx::query("delete from telegram_updates where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?.rows_affected();
    sqlx::query("delete from bot_settings where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    sqlx::query("delete from paywall_questions where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    sqlx::query("delete from bot_languages where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    sqlx::query("update bots set photo = null, photo_sha256 = '', photo_applied = '', brand_error = null where tenant_id = $1 and id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    let announcements = "select id from announcements where tenant_id = $1 and bot_id = $2";
    sqlx::query(&format!("delete from announcement_recipients where tenant_id = $1 and announcement_id in ({announcements})")).bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    sqlx::query("delete from announcements where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    sqlx::query("delete from announcement_optouts where tenant_id = $1 and bot_id = $2").bind(tenant.0).bind(bot.0).execute(&mut **tx).await?;
    Ok(out)
}

/// Tables whose rows of an erased account are kept: the accounting records (plan account,
/// ledger, payments, checkouts, Stripe subscriptions — amounts, dates and payment ids, no
/// message content), which the law asks a business to keep, and `tenants` itself (nameless).
pub const KEPT_ON_ERASURE: &[&str] = &["tenants", "billing_accounts", "billing_ledger", "billing_payments", "billing_checkouts", "stripe_subscriptions"];

/// Tables whose rows of an erased account are scrubbed, not deleted: each of its bots is left a
/// `deleted` tombstone ([`scrub_bots`]) holding its id and its owner's Telegram id, nothing else
/// (no name, texts, photo, token or secret). Without it Telegram's later `managed_bot` update
/// about the bot (a new token, a repeated delivery) would find no row and connect it again as a
/// new bot, behind the back of the owner who closed the account.
pub const SCRUBBED_ON_ERASURE: &[&str] = &["bots"];

/// Every other table with a `tenant_id`, in an order the foreign keys allow: erasing an account
/// deletes all its rows from each. A test compares this list (with the two above) with the
/// schema, so a new table with tenant data cannot be forgotten here.
pub const ERASED_ON_ERASURE: &[&str] = &[
    "announcement_recipients",
    "announcement_optouts",
    "announcements",
    "relay_messages",
    "conversation_messages",
    "conversations",
    "paywall_questions",
    "paywall_usage",
    "paywall_credits",
    "model_usage",
    "source_bots",
    "qa_pairs",
    "sources",
    "bot_settings",
    "team_invites",
    "team_members",
    "login_tokens",
    "sessions",
    "telegram_updates",
    "jobs",
    "bot_languages",
];

/// Closes the account: it is erased after `erase_after` unless reopened before. Returns false if
/// it was closed already (the first closing's date stands).
pub async fn close_account(tx: &mut super::Tx, tenant: TenantId, now: i64, erase_after: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("update tenants set closed_at = $1, erase_after = $2 where id = $3 and closed_at is null")
        .bind(now)
        .bind(erase_after)
        .bind(tenant.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("update sessions set revoked_at = $1 where tenant_id = $2 and revoked_at is null").bind(now).bind(tenant.0).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

/// Reopens a closed account at `now` — within its grace period, or after its erasure (a fresh
/// start with the same accounting records): whether it did. Not in between, while the grace
/// period is over and the erasure is due or under way ([`erasure_due`]): the erasure deletes the
/// knowledge before its claim on the row, and would otherwise delete that of an account open again.
pub async fn reopen_account<'c>(e: impl sqlx::Executor<'c, Database = sqlx::Any>, tenant: TenantId, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update tenants set closed_at = null, erase_after = null, erased_at = null
          where id = $1 and closed_at is not null and (erased_at is not null or erase_after is null or erase_after > $2)",
    )
    .bind(tenant.0)
    .bind(now)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a closed account's grace period is over at `now` and it is not erased yet: its
/// erasure is due or under way, and it cannot be reopened until that is done.
pub async fn erasure_due<'c>(e: impl sqlx::Executor<'c, Database = sqlx::Any>, tenant: TenantId, now: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from tenants where id = $1 and erase_after is not null and erase_after <= $2 and erased_at is null")
        .bind(tenant.0)
        .bind(now)
        .fetch_one(e)
        .await?;
    Ok(n > 0)
}

/// Whether the account is closed: within its grace period, due for erasure, or erased (and not
/// reopened since).
pub async fn is_closed<'c>(e: impl sqlx::Executor<'c, Database = sqlx::Any>, tenant: TenantId) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from tenants where id = $1 and closed_at is not null").bind(tenant.0).fetch_one(e).await?;
    Ok(n > 0)
}

/// When a closed account will be erased (None: not closed).
pub async fn erase_date<'c>(e: impl sqlx::Executor<'c, Database = sqlx::Any>, tenant: TenantId) -> sqlx::Result<Option<i64>> {
    let r: Option<Option<i64>> = sqlx::query_scalar("select erase_after from tenants where id = $1 and erased_at is null").bind(tenant.0).fetch_optional(e).await?;
    Ok(r.flatten())
}

/// Closed accounts whose grace period is over, at most `limit`.
pub async fn due_for_erasure<'c>(e: impl sqlx::Executor<'c, Database = sqlx::Any>, now: i64, limit: i64) -> sqlx::Result<Vec<TenantId>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("select id from tenants where erase_after is not null and erase_after <= $1 and erased_at is null order by erase_after limit $2").bind(now).bind(limit).fetch_all(e).await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// Erases a closed account's data (the knowledge's index entries and files are the caller's, done
/// before): every row of [`ERASED_ON_ERASURE`], the business's name, and all but the tombstone of
/// each bot ([`SCRUBBED_ON_ERASURE`]). Only if the account is still closed and due (a reopening
/// in between wins). Returns the rows deleted.
pub async fn erase_account(tx: &mut super::Tx, tenant: TenantId, now: i64) -> sqlx::Result<Option<u64>> {
    let claimed = sqlx::query("update tenants set erased_at = $1, name = '', erase_after = null where id = $2 and erase_after is not null and erase_after <= $1 and erased_at is null")
        .bind(now)
        .bind(tenant.0)
        .execute(&mut **tx)
        .await?;
    if claimed.rows_affected() != 1 {
        return Ok(None);
    }
    let mut rows = 0;
    for table in ERASED_ON_ERASURE {
        rows += sqlx::query(&format!("delete from {table} where tenant_id = $1")).bind(tenant.0).execute(&mut **tx).await?.rows_affected();
    }
    scrub_bots(tx, tenant, now).await?;
    Ok(Some(rows))
}

/// Leaves each of the tenant's bots a `deleted` tombstone: its id, tenant and owner (who the
/// bot's later `managed_bot` updates are compared with) and nothing else — no name, username,
/// texts, photo, brand markers, token or webhook secret.
async fn scrub_bots(tx: &mut super::Tx, tenant: TenantId, now: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update bots set status = 'deleted', status_reason = null, username = '', name = '', description = '', short_description = '',
             photo = null, photo_sha256 = '', name_applied = '', photo_applied = '', brand_error = null, paused_at = null, welcome_sent_at = null, given_at = null,
             token_key_id = '', token_ct = $1, token_fingerprint = '', webhook_secret_key_id = null, webhook_secret_ct = null,
             prev_webhook_secret_key_id = null, prev_webhook_secret_ct = null, updated_at = $2
         where tenant_id = $3",
    )
    .bind(Vec::<u8>::new())
    .bind(now)
    .bind(tenant.0)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::quotes_relay;

    #[test]
    fn a_manager_update_is_about_a_relayed_message_when_it_replies_to_it_or_presses_its_button() {
        let relays = [(7, 40), (8, 41)].into_iter().collect();
        let reply = r#"{"update_id":1,"message":{"message_id":50,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"is_bot":false,"first_name":"O"},"text":"ok","reply_to_message":{"message_id":40,"date":1,"chat":{"id":7,"type":"private"},"text":"A: my order"}}}"#;
        assert!(quotes_relay(reply, &relays));
        let press = r#"{"update_id":2,"callback_query":{"id":"q","from":{"id":8,"is_bot":false,"first_name":"T"},"chat_instance":"1","data":"ho:r:3","message":{"message_id":41,"date":1,"chat":{"id":8,"type":"private"},"text":"A wants a person"}}}"#;
        assert!(quotes_relay(press, &relays));
        // The same message id in another member's chat, a reply to something else, a command,
        // a body that is not JSON: not about them.
        let elsewhere = r#"{"update_id":3,"callback_query":{"id":"q","from":{"id":7,"is_bot":false,"first_name":"O"},"chat_instance":"1","data":"x","message":{"message_id":41,"date":1,"chat":{"id":7,"type":"private"}}}}"#;
        assert!(!quotes_relay(elsewhere, &relays));
        let other = r#"{"update_id":4,"message":{"message_id":51,"date":1,"chat":{"id":7,"type":"private"},"text":"hi","reply_to_message":{"message_id":39,"date":1,"chat":{"id":7,"type":"private"}}}}"#;
        assert!(!quotes_relay(other, &relays));
        assert!(!quotes_relay(r#"{"update_id":5,"message":{"message_id":52,"date":1,"chat":{"id":7,"type":"private"},"text":"/help"}}"#, &relays));
        assert!(!quotes_relay("not json", &relays));
    }
}
