//! What the owner's overview, conversation search and exports read: tenant-scoped by
//! construction, like every query here.
use super::conversations::Conversation;
use crate::domain::conversation::{Author, ChatKind, ConversationId, MessageKind, MsgId};
use crate::domain::{BotId, TenantId};
use sqlx::{Any, Executor};

/// How many of the tenant's messages of one UTC day and hour had one author, reply kind and
/// rating: the overview's charts, counted by the database (no text, no row per message).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActivityCount {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// The hour of that day, 0–23 (UTC).
    pub hour: i64,
    #[sqlx(try_from = "String")]
    pub author: Author,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    /// 1 = 👍, -1 = 👎
    pub feedback: Option<i64>,
    pub messages: i64,
}

/// The tenant's messages since `since` (Unix ms), with `bot`'s only when given, counted by UTC
/// day, hour, author, kind and rating. Counted here rather than read one row per message: the
/// answer is at most days × 24 × a few kinds rows whatever the volume, so no cap on rows read can
/// drop the newest days of a busy business (it once did, at 200,000 messages).
pub async fn activity<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: Option<BotId>, since: i64) -> sqlx::Result<Vec<ActivityCount>> {
    sqlx::query_as(
        "select m.created_at / 86400000 as day, (m.created_at % 86400000) / 3600000 as hour, m.author, m.kind, m.feedback, count(*) as messages
         from conversation_messages m join conversations c on c.id = m.conversation_id and c.tenant_id = m.tenant_id
         where m.tenant_id = $1 and m.created_at >= $2 and ($3 = 0 or c.bot_id = $3)
         group by m.created_at / 86400000, (m.created_at % 86400000) / 3600000, m.author, m.kind, m.feedback",
    )
    .bind(tenant.0)
    .bind(since)
    .bind(bot.map_or(0, |b| b.0))
    .fetch_all(e)
    .await
}

/// `text` as a `like` pattern matching it anywhere, its wildcards taken literally (escaped with
/// `\`), lower-cased (SQLite lower-cases ASCII only; PostgreSQL every letter).
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const CONV_COLUMNS: &str = "c.id, c.bot_id, c.chat_id, c.thread_id, c.chat_kind, c.customer_user_id, c.customer_name, c.mode, c.last_message_at, c.language";

/// The tenant's conversations, newest first, a page of them (`limit` from `offset`); with `query`,
/// only those whose customer's name or any message contains it (case-insensitive).
pub async fn search<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, query: Option<&str>, limit: i64, offset: i64) -> sqlx::Result<Vec<Conversation>> {
    let pattern = query.map(str::trim).filter(|q| !q.is_empty()).map(contains_pattern);
    let sql = format!(
        "select {CONV_COLUMNS} from conversations c where c.tenant_id = $1
           and ($2 = '' or lower(c.customer_name) like $2 escape '\\'
                or exists (select 1 from conversation_messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and lower(m.text) like $2 escape '\\'))
         order by c.last_message_at desc, c.id desc limit $3 offset $4"
    );
    let rows = sqlx::query(&sql).bind(tenant.0).bind(pattern.unwrap_or_default()).bind(limit).bind(offset).fetch_all(e).await?;
    rows.into_iter().map(super::conversations::from_row).collect()
}

/// One row of the conversations export.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    #[sqlx(try_from = "i64")]
    pub message_id: MsgId,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
    #[sqlx(try_from = "i64")]
    pub bot_id: BotId,
    #[sqlx(try_from = "String")]
    pub chat_kind: ChatKind,
    pub customer_name: String,
    #[sqlx(try_from = "String")]
    pub author: Author,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub text: String,
    pub feedback: Option<i64>,
    pub created_at: i64,
}

/// Up to `limit` messages of the tenant's conversations after message id `after`, in id order
/// (the export reads them page by page).
pub async fn export_page<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, after: MsgId, limit: i64) -> sqlx::Result<Vec<ExportRow>> {
    sqlx::query_as(
        "select m.id as message_id, m.conversation_id, c.bot_id, c.chat_kind, c.customer_name, m.author, m.kind, m.text, m.feedback, m.created_at
         from conversation_messages m join conversations c on c.id = m.conversation_id and c.tenant_id = m.tenant_id
         where m.tenant_id = $1 and m.id > $2 order by m.id limit $3",
    )
    .bind(tenant.0)
    .bind(after.0)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// How many of the tenant's conversations match `query` (as [`search`]).
pub async fn count<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, query: Option<&str>) -> sqlx::Result<i64> {
    let pattern = query.map(str::trim).filter(|q| !q.is_empty()).map(contains_pattern);
    sqlx::query_scalar(
        "select count(*) from conversations c where c.tenant_id = $1
           and ($2 = '' or lower(c.customer_name) like $2 escape '\\'
                or exists (select 1 from conversation_messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and lower(m.text) like $2 escape '\\'))",
    )
    .bind(tenant.0)
    .bind(pattern.unwrap_or_default())
    .fetch_one(e)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_takes_percent_and_underscore_literally() {
        assert_eq!(contains_pattern(" 50%_Off "), "%50\\%\\_off%");
        assert_eq!(contains_pattern("a\\b"), "%a\\\\b%");
    }
}
