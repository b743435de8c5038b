//! Conversations with customers, their messages and feedback, the manager-chat messages that
//! route an owner's reply, and model-token use. Every function takes the tenant.
use super::now_ms;
use crate::domain::conversation::{Author, ChatKind, ConversationId, Delivery, MessageKind, Mode, MsgId};
use crate::domain::{BotId, ChatId, TenantId, UserId};
use sqlx::{Any, Executor, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct Conversation {
    #[sqlx(try_from = "i64")]
    pub id: ConversationId,
    #[sqlx(try_from = "i64")]
    pub bot_id: BotId,
    #[sqlx(try_from = "i64")]
    pub chat_id: ChatId,
    pub thread_id: i64,
    #[sqlx(try_from = "String")]
    pub chat_kind: ChatKind,
    #[sqlx(try_from = "i64")]
    pub customer_user_id: UserId,
    pub customer_name: String,
    /// Who answers: the assistant, or a person (handed off).
    #[sqlx(try_from = "String")]
    pub mode: Mode,
    pub last_message_at: i64,
    /// The customer's language (two-letter code), when known.
    pub language: Option<String>,
}

const CONV_COLUMNS: &str = "id, bot_id, chat_id, thread_id, chat_kind, customer_user_id, customer_name, mode, last_message_at, language";

/// A conversation from a row of [`CONV_COLUMNS`].
pub(super) fn from_row(r: sqlx::any::AnyRow) -> sqlx::Result<Conversation> {
    Conversation::from_row(&r)
}

/// Who a conversation is with, as the latest message says.
pub struct Customer<'a> {
    pub chat_id: ChatId,
    pub thread_id: i64,
    pub chat_kind: ChatKind,
    pub user_id: UserId,
    pub name: &'a str,
    /// Their language, when this message tells (kept from earlier messages otherwise).
    pub language: Option<&'a str>,
}

/// The conversation of this chat (and topic) with this bot, created on first contact. The
/// customer wrote, so they can be reached again if Telegram had refused them (they blocked the
/// bot, and are back): announcements reach them again (`announcements::mark_unreachable`).
pub async fn open<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, c: &Customer<'_>) -> sqlx::Result<Conversation> {
    let now = now_ms();
    let sql = format!(
        "insert into conversations (tenant_id, bot_id, chat_id, thread_id, chat_kind, customer_user_id, customer_name, created_at, last_message_at, language)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
         on conflict (tenant_id, bot_id, chat_id, thread_id) do update set last_message_at = excluded.last_message_at,
             customer_user_id = excluded.customer_user_id, customer_name = excluded.customer_name,
             language = coalesce(excluded.language, conversations.language),
             unreachable_at = null
         returning {CONV_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(bot.0)
        .bind(c.chat_id.0)
        .bind(c.thread_id)
        .bind(c.chat_kind.as_str())
        .bind(c.user_id.0)
        .bind(c.name)
        .bind(now)
        .bind(c.language)
        .fetch_one(e)
        .await
}

pub async fn get<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId) -> sqlx::Result<Option<Conversation>> {
    let sql = format!("select {CONV_COLUMNS} from conversations where tenant_id = $1 and id = $2");
    sqlx::query_as(&sql).bind(tenant.0).bind(id.0).fetch_optional(e).await
}

/// The language kept on the conversation of this chat (and topic) with this bot, if any: what a
/// button press, which carries no words of the customer's, is answered in.
pub async fn language_of<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId, thread_id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as("select language from conversations where tenant_id = $1 and bot_id = $2 and chat_id = $3 and thread_id = $4")
        .bind(tenant.0)
        .bind(bot.0)
        .bind(chat_id.0)
        .bind(thread_id)
        .fetch_optional(e)
        .await?;
    Ok(row.and_then(|(l,)| l))
}

/// The tenant's conversations, most recent first.
pub async fn list<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, limit: i64) -> sqlx::Result<Vec<Conversation>> {
    let sql = format!("select {CONV_COLUMNS} from conversations where tenant_id = $1 order by last_message_at desc, id desc limit $2");
    sqlx::query_as(&sql).bind(tenant.0).bind(limit).fetch_all(e).await
}

/// The assistant answers, or a person (handed off: the assistant stays silent). Back to the
/// assistant, nobody has the conversation any more (`taken_by`).
pub async fn set_mode<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId, mode: Mode) -> sqlx::Result<bool> {
    let handed = (mode == Mode::Human).then(now_ms);
    // A conversation already with a person keeps the moment it was handed off (the timeout runs
    // from there) and whoever took it; a new handoff starts with nobody having taken it.
    let done = sqlx::query(
        "update conversations set handed_off_at = case when $1 = 'human' and mode = 'human' then handed_off_at else $2 end,
             taken_by = case when $1 = 'human' and mode = 'human' then taken_by else null end, mode = $1 where tenant_id = $3 and id = $4",
    )
        .bind(mode.as_str())
        .bind(handed)
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct Msg {
    #[sqlx(try_from = "i64")]
    pub id: MsgId,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
    #[sqlx(try_from = "String")]
    pub author: Author,
    pub text: String,
    pub update_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    /// JSON list of the sources cited.
    pub sources: String,
    /// Bot and owner replies: `Pending` (stored, not sent), `Sending` (the Bot API call may have
    /// happened), `Sent`, or `Unknown` (a crash during the call: not re-sent, so never twice).
    /// Customer messages: their delivery to the owner during a handoff — `Pending`, `Sent`, or
    /// `Failed` (Telegram refused it; shown on the conversation page); `Sent` outside handoffs.
    #[sqlx(try_from = "String")]
    pub delivery: Delivery,
    pub telegram_message_id: Option<i64>,
    pub model_tokens: i64,
    pub feedback: Option<i64>,
    pub question: Option<String>,
    pub created_at: i64,
}

const MSG_COLUMNS: &str = "id, conversation_id, author, text, update_id, kind, sources, delivery, telegram_message_id, model_tokens, feedback, question, created_at";

/// A message to store. Bot replies are stored `Pending` and claimed right before their call.
pub struct NewMsg<'a> {
    pub author: Author,
    pub text: &'a str,
    pub update_id: Option<i64>,
    pub kind: MessageKind,
    pub sources: &'a str,
    pub delivery: Delivery,
    pub model_tokens: i64,
    pub question: Option<&'a str>,
}

/// Stores a message; with an `update_id`, at most one per (conversation, update, author): a
/// second call returns the first message instead (`false` = it existed already).
pub async fn add(tx: &mut super::Tx, tenant: TenantId, conv: ConversationId, m: &NewMsg<'_>) -> sqlx::Result<(Msg, bool)> {
    let sql = format!(
        "insert into conversation_messages (tenant_id, conversation_id, author, text, update_id, kind, sources, delivery, model_tokens, question, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (conversation_id, update_id, author) do nothing
         returning {MSG_COLUMNS}"
    );
    let inserted = sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(conv.0)
        .bind(m.author.as_str())
        .bind(m.text)
        .bind(m.update_id)
        .bind(m.kind.as_str())
        .bind(m.sources)
        .bind(m.delivery.as_str())
        .bind(m.model_tokens)
        .bind(m.question)
        .bind(now_ms())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(m) = inserted {
        return Ok((m, true));
    }
    let sql = format!("select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and update_id = $3 and author = $4");
    let existing = sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(m.update_id).bind(m.author.as_str()).fetch_one(&mut **tx).await?;
    Ok((existing, false))
}

/// The bot's reply to a customer update, if one was stored (sent or not).
pub async fn reply_to<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, update_id: i64) -> sqlx::Result<Option<Msg>> {
    let sql = format!("select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and update_id = $3 and author = 'bot'");
    sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(update_id).fetch_optional(e).await
}

/// The newest bot message of `kind` in the conversation not (known to be) sent yet — `pending`,
/// or `sending` when a worker stopped during the call (a job that stored it and then failed finds
/// it again on its retry).
pub async fn unsent_of_kind<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, kind: MessageKind) -> sqlx::Result<Option<Msg>> {
    let sql = format!(
        "select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and author = 'bot' and kind = $3 and delivery in ('pending', 'sending') order by id desc limit 1"
    );
    sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(kind.as_str()).fetch_optional(e).await
}

/// Sets a reply's delivery state: `sending` is committed before the Bot API call, so a job that
/// finds it after a crash knows the reply may already have reached the customer.
pub async fn set_delivery<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId, delivery: Delivery) -> sqlx::Result<()> {
    sqlx::query("update conversation_messages set delivery = $1 where tenant_id = $2 and id = $3").bind(delivery.as_str()).bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(())
}

/// Moves a message's delivery `from` → `to`, only if it is still `from`; whether it moved.
async fn move_delivery<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId, from: Delivery, to: Delivery) -> sqlx::Result<bool> {
    let r = sqlx::query("update conversation_messages set delivery = $1 where tenant_id = $2 and id = $3 and delivery = $4")
        .bind(to.as_str())
        .bind(tenant.0)
        .bind(id.0)
        .bind(from.as_str())
        .execute(e)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// `sending` → `unknown`: the message may have arrived (a worker stopped during its call). Only if
/// still `sending`, so an attempt that marked it sent meanwhile keeps its `sent`.
pub async fn mark_unknown_if_sending<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<()> {
    move_delivery(e, tenant, id, Delivery::Sending, Delivery::Unknown).await.map(drop)
}

/// Claims a stored message for sending: `pending` → `sending`, committed right before the Bot API
/// call (at its turn in the throttle: `answering::delivery::claim`). False if it was not pending (sent, being sent, or in doubt): then nobody may send it.
pub async fn claim_for_sending<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<bool> {
    move_delivery(e, tenant, id, Delivery::Pending, Delivery::Sending).await
}

/// [`claim_for_sending`] for the assistant's answer to a question: only while its conversation
/// is with the assistant. A person who took the conversation over while the answer waited for
/// its turn gets it withdrawn (one statement: no takeover can fall between the check and the
/// claim). False if it was not pending, or the conversation is with a person.
pub async fn claim_answer_for_sending<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<bool> {
    move_pending_if(e, tenant, id, Delivery::Sending, Mode::Bot).await
}

/// `pending` → `failed` for an answer of the assistant's whose conversation a person has taken
/// over: it is never sent. Whether it was (still pending, and the conversation with a person).
pub async fn withdraw_for_person<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<bool> {
    move_pending_if(e, tenant, id, Delivery::Failed, Mode::Human).await
}

/// A pending message moved to `to` only while its conversation is with `mode`, in one statement.
async fn move_pending_if<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId, to: Delivery, mode: Mode) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "update conversation_messages set delivery = $3 where tenant_id = $1 and id = $2 and delivery = 'pending'
           and exists (select 1 from conversations c where c.tenant_id = $1 and c.id = conversation_messages.conversation_id and c.mode = $4)",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(to.as_str())
    .bind(mode.as_str())
    .execute(e)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether the conversation is with the assistant, holding it so until the caller's transaction
/// ends: a no-op update takes the conversation's row lock (on PostgreSQL; SQLite's transaction
/// holds the write lock once it writes), so a person's takeover ([`set_mode`]) comes before it
/// or after the caller's commit, never in between.
pub async fn hold_with_assistant<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId) -> sqlx::Result<bool> {
    let r = sqlx::query("update conversations set mode = mode where tenant_id = $1 and id = $2 and mode = 'bot'").bind(tenant.0).bind(id.0).execute(e).await?;
    Ok(r.rows_affected() == 1)
}

/// Who the conversation is with now (None: it no longer exists).
pub async fn mode_of<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId) -> sqlx::Result<Option<Mode>> {
    let text: Option<String> = sqlx::query_scalar("select mode from conversations where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await?;
    text.map(|t| t.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))).transpose()
}

/// Gives a claim back (`sending` → `pending`): Telegram refused the request with a 429, so
/// nothing was delivered, and the message waits for its retry unclaimed.
pub async fn release_claim<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<bool> {
    move_delivery(e, tenant, id, Delivery::Sending, Delivery::Pending).await
}

/// `pending` → `failed`: a message nothing will send any more (Telegram refused it for good).
/// Only if still `pending`, so a message another attempt is sending keeps its state.
pub async fn mark_failed_if_pending<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<bool> {
    move_delivery(e, tenant, id, Delivery::Pending, Delivery::Failed).await
}

/// The current delivery state of a message.
pub async fn delivery_of<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId) -> sqlx::Result<Option<Delivery>> {
    let text: Option<String> = sqlx::query_scalar("select delivery from conversation_messages where tenant_id = $1 and id = $2").bind(tenant.0).bind(id.0).fetch_optional(e).await?;
    text.map(|t| t.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))).transpose()
}

pub async fn mark_sent<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: MsgId, telegram_message_id: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("update conversation_messages set delivery = 'sent', telegram_message_id = $1 where tenant_id = $2 and id = $3")
        .bind(telegram_message_id)
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(())
}

/// The last `limit` delivered messages of a conversation, oldest first (the model's history).
pub async fn recent<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, before_id: MsgId, limit: i64) -> sqlx::Result<Vec<Msg>> {
    let sql = format!(
        "select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and id < $3 and delivery = 'sent'
         order by id desc limit $4"
    );
    let mut v: Vec<Msg> = sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(before_id.0).bind(limit).fetch_all(e).await?;
    v.reverse();
    Ok(v)
}

/// A whole transcript, oldest first.
pub async fn transcript<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId) -> sqlx::Result<Vec<Msg>> {
    let sql = format!("select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 order by id");
    sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).fetch_all(e).await
}

/// Records 👍 (1) or 👎 (-1) on a bot reply in the given chat; `false` when no such reply.
pub async fn set_feedback<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, chat_id: ChatId, msg_id: MsgId, value: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update conversation_messages set feedback = $1, feedback_at = $2
         where tenant_id = $3 and id = $4 and author = 'bot'
           and conversation_id in (select id from conversations where tenant_id = $3 and bot_id = $5 and chat_id = $6)",
    )
    .bind(value)
    .bind(now_ms())
    .bind(tenant.0)
    .bind(msg_id.0)
    .bind(bot.0)
    .bind(chat_id.0)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Questions the bot could not answer, or whose answer got a 👎, since `since` (Unix ms; 0: ever),
/// newest first.
pub async fn gaps<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, since: i64, limit: i64) -> sqlx::Result<Vec<Msg>> {
    let sql = format!(
        "select {MSG_COLUMNS} from conversation_messages
         where tenant_id = $1 and author = 'bot' and question is not null and (kind = 'fallback' or feedback = -1) and created_at >= $4
           and gap_dismissed_at is null
           and conversation_id in (select id from conversations where tenant_id = $1 and bot_id = $3)
         order by id desc limit $2"
    );
    sqlx::query_as(&sql).bind(tenant.0).bind(limit).bind(bot.0).bind(since).fetch_all(e).await
}

/// One question (the same text) of [`gap_questions`]: how often it was asked, counted over every
/// message, however many.
#[derive(Debug, Clone, FromRow)]
pub struct GapQuestion {
    pub question: String,
    pub times: i64,
    /// One of its answers was "couldn't find" (1), got a 👎 (1).
    pub unanswered: i64,
    pub thumbs_down: i64,
    /// Its first and latest asking (Unix ms).
    pub first_at: i64,
    pub last_at: i64,
    /// Its latest answer, and that one's conversation.
    pub last_id: i64,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
}

/// The questions of [`gaps`] since `since` (Unix ms), grouped by their text and counted in full:
/// the `limit` asked most recently, or (`most_asked`) most often. `question`: only that text.
pub async fn gap_questions<'c>(
    e: impl Executor<'c, Database = Any>,
    tenant: TenantId,
    bot: BotId,
    since: i64,
    question: Option<&str>,
    most_asked: bool,
    limit: i64,
) -> sqlx::Result<Vec<GapQuestion>> {
    let order = if most_asked { "g.times desc, g.last_id desc" } else { "g.last_id desc" };
    let sql = format!(
        "select g.question, g.times, g.unanswered, g.thumbs_down, g.first_at, g.last_at, g.last_id, m.conversation_id
           from (select question, count(*) as times,
                        cast(max(case when kind = 'fallback' then 1 else 0 end) as bigint) as unanswered,
                        cast(max(case when feedback = -1 then 1 else 0 end) as bigint) as thumbs_down,
                        min(created_at) as first_at, max(created_at) as last_at, max(id) as last_id
                   from conversation_messages
                  where tenant_id = $1 and author = 'bot' and question is not null and (kind = 'fallback' or feedback = -1) and created_at >= $4
                    and gap_dismissed_at is null and (cast($5 as text) is null or question = $5)
                    and conversation_id in (select id from conversations where tenant_id = $1 and bot_id = $3)
                  group by question) g
           join conversation_messages m on m.id = g.last_id
          order by {order} limit $2"
    );
    sqlx::query_as(&sql).bind(tenant.0).bind(limit).bind(bot.0).bind(since).bind(question).fetch_all(e).await
}

/// The question bot answer `message` of the tenant's `bot` answered, if it is one.
pub async fn gap_question_of<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, message: i64) -> sqlx::Result<Option<String>> {
    let q: Option<Option<String>> = sqlx::query_scalar(
        "select question from conversation_messages
          where tenant_id = $1 and id = $3 and author = 'bot'
            and conversation_id in (select id from conversations where tenant_id = $1 and bot_id = $2)",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(message)
    .fetch_optional(e)
    .await?;
    Ok(q.flatten())
}

/// Hides the gaps of the tenant's `bot` asked in the words `question` (the text as asked) from
/// [`gaps`] and [`gap_questions`]: the owner's "Not needed — hide". The messages stay; a later
/// asking is a gap again. Returns the answers hidden.
pub async fn dismiss_gap<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, bot: BotId, question: &str) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update conversation_messages set gap_dismissed_at = $4
          where tenant_id = $1 and author = 'bot' and question = $3 and (kind = 'fallback' or feedback = -1) and gap_dismissed_at is null
            and conversation_id in (select id from conversations where tenant_id = $1 and bot_id = $2)",
    )
    .bind(tenant.0)
    .bind(bot.0)
    .bind(question)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(r.rows_affected())
}

/// Remembers that the manager bot's message `message_id` in the owner's chat is about `conv`.
pub async fn add_relay<'c>(e: impl Executor<'c, Database = Any>, owner_chat: i64, message_id: i64, tenant: TenantId, conv: ConversationId) -> sqlx::Result<()> {
    sqlx::query("insert into relay_messages (owner_chat_id, message_id, tenant_id, conversation_id, created_at) values ($1, $2, $3, $4, $5) on conflict do nothing")
        .bind(owner_chat)
        .bind(message_id)
        .bind(tenant.0)
        .bind(conv.0)
        .bind(now_ms())
        .execute(e)
        .await?;
    Ok(())
}

/// The conversation a manager-chat message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct RelayTarget {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
}

/// The conversation a manager-chat message is about, if the owner or teammate of that chat
/// (still) may see it.
pub async fn relay_target<'c>(e: impl Executor<'c, Database = Any>, owner_chat: i64, message_id: i64) -> sqlx::Result<Option<RelayTarget>> {
    sqlx::query_as(
        "select r.tenant_id, r.conversation_id from relay_messages r join tenants t on t.id = r.tenant_id
         where r.owner_chat_id = $1 and r.message_id = $2
           and (t.owner_user_id = $1 or exists (select 1 from team_members m where m.tenant_id = t.id and m.user_id = $1))",
    )
    .bind(owner_chat)
    .bind(message_id)
    .fetch_optional(e)
    .await
}

/// The business of a handoff message `message_id` sent to `owner_chat`, whatever their place in
/// its team now: a reply [`relay_target`] refuses can say whose team they are no longer on.
pub async fn relay_business<'c>(e: impl Executor<'c, Database = Any>, owner_chat: i64, message_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select t.name from relay_messages r join tenants t on t.id = r.tenant_id where r.owner_chat_id = $1 and r.message_id = $2")
        .bind(owner_chat)
        .bind(message_id)
        .fetch_optional(e)
        .await
}

/// Adds model tokens (and one answer) to the tenant's use for `day` (days since the epoch, UTC).
pub async fn add_usage<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, day: i64, tokens: i64) -> sqlx::Result<()> {
    sqlx::query(
        "insert into model_usage (tenant_id, day, tokens, answers) values ($1, $2, $3, 1)
         on conflict (tenant_id, day) do update set tokens = model_usage.tokens + excluded.tokens, answers = model_usage.answers + 1",
    )
    .bind(tenant.0)
    .bind(day)
    .bind(tokens)
    .execute(e)
    .await?;
    Ok(())
}

pub async fn usage<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, day: i64) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("select tokens from model_usage where tenant_id = $1 and day = $2").bind(tenant.0).bind(day).fetch_optional(e).await?;
    Ok(n.unwrap_or(0))
}

/// How many bot replies of one conversation got a 👎.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct ThumbsDown {
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
    pub count: i64,
}

/// How many bot replies of each of the tenant's conversations got a 👎 (conversations with none
/// are left out).
pub async fn thumbs_down_counts<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId) -> sqlx::Result<Vec<ThumbsDown>> {
    sqlx::query_as(
        "select conversation_id, count(*) as count from conversation_messages where tenant_id = $1 and author = 'bot' and feedback = -1 group by conversation_id",
    )
    .bind(tenant.0)
    .fetch_all(e)
    .await
}

/// A handoff nobody answered in time (or, from [`idle_handoffs`], one the team went quiet in).
#[derive(Debug, Clone, Copy, FromRow)]
pub struct TimedOutHandoff {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
    pub handed_off_at: i64,
}

/// The handoffs nobody answered in time, at most
/// `limit` — conversations with a person whose bot's handoff timeout (60 minutes without
/// settings; 0: never) has passed since the handoff, that no one of the team has taken (the
/// first reply takes it) and with no owner message since (but one that failed to reach the
/// customer). Every tenant's
/// (the sweep of `app`); each is then ended with [`end_handoff_if`], scoped to its tenant.
pub async fn timed_out_handoffs<'c>(e: impl Executor<'c, Database = Any>, now: i64, limit: i64) -> sqlx::Result<Vec<TimedOutHandoff>> {
    sqlx::query_as(
        "select c.tenant_id, c.id as conversation_id, c.handed_off_at from conversations c
           left join bot_settings s on s.tenant_id = c.tenant_id and s.bot_id = c.bot_id
         where c.mode = 'human' and c.handed_off_at is not null and c.taken_by is null
           and coalesce(s.handoff_timeout_minutes, 60) > 0
           and c.handed_off_at <= $1 - coalesce(s.handoff_timeout_minutes, 60) * 60000
           and not exists (select 1 from conversation_messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and m.author = 'owner' and m.delivery <> 'failed' and m.created_at >= c.handed_off_at)
         order by c.handed_off_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// Handed-off conversations the team has answered but gone quiet in, every tenant's, at most
/// `limit`: with a person, someone of the team has written to the customer since the handoff (a
/// message that did not fail), and nobody has since `quiet_since` (the sweep of `app`, with
/// `answering.handoff_idle_hours`). The unanswered ones are [`timed_out_handoffs`]'. Each is then
/// ended with [`end_handoff_if_idle`], scoped to its tenant.
pub async fn idle_handoffs<'c>(e: impl Executor<'c, Database = Any>, quiet_since: i64, limit: i64) -> sqlx::Result<Vec<TimedOutHandoff>> {
    sqlx::query_as(
        "select c.tenant_id, c.id as conversation_id, c.handed_off_at from conversations c
         where c.mode = 'human' and c.handed_off_at is not null
           and exists (select 1 from conversation_messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and m.author = 'owner' and m.delivery <> 'failed' and m.created_at >= c.handed_off_at)
           and not exists (select 1 from conversation_messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and m.author = 'owner' and m.delivery <> 'failed' and m.created_at > $1)
         order by c.handed_off_at limit $2",
    )
    .bind(quiet_since)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// Back to the assistant if the conversation is still in the handoff that began at
/// `handed_off_at` and nobody of the team has written to the customer since `quiet_since` (a
/// reply stored meanwhile keeps it with them): whether it was.
pub async fn end_handoff_if_idle<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId, handed_off_at: i64, quiet_since: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update conversations set mode = 'bot', handed_off_at = null, taken_by = null
         where tenant_id = $1 and id = $2 and mode = 'human' and handed_off_at = $3
           and not exists (select 1 from conversation_messages m where m.tenant_id = $1 and m.conversation_id = $2 and m.author = 'owner' and m.delivery <> 'failed' and m.created_at > $4)",
    )
    .bind(tenant.0)
    .bind(id.0)
    .bind(handed_off_at)
    .bind(quiet_since)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The customers of the tenant's conversations with a person that `user` may answer (nobody or
/// they took it), newest first: (the customer's name, the bot's username).
pub async fn with_person_for<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, user: UserId) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select c.customer_name, b.username from conversations c join bots b on b.id = c.bot_id and b.tenant_id = c.tenant_id
         where c.tenant_id = $1 and c.mode = 'human' and (c.taken_by is null or c.taken_by = $2)
         order by c.last_message_at desc, c.id desc",
    )
    .bind(tenant.0)
    .bind(user.0)
    .fetch_all(e)
    .await
}

/// Back to the assistant if the conversation is with a person (the owner's Close): whether it
/// was. Two closes at once (the button and the admin page), or a close and the timeout, change
/// it once, so the customer is told once.
pub async fn end_handoff<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId) -> sqlx::Result<bool> {
    let done = sqlx::query("update conversations set mode = 'bot', handed_off_at = null, taken_by = null where tenant_id = $1 and id = $2 and mode = 'human'")
        .bind(tenant.0)
        .bind(id.0)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A stored notice that a conversation went back to the assistant, still to be sent.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct StrandedNotice {
    #[sqlx(try_from = "i64")]
    pub tenant_id: TenantId,
    #[sqlx(try_from = "i64")]
    pub conversation_id: ConversationId,
    #[sqlx(try_from = "i64")]
    pub id: MsgId,
}

/// Notices that a conversation went back to the assistant (kind `closed`) still `pending` a
/// minute after they were stored and less than an hour ago, every tenant's, oldest first, at most
/// `limit`: their sending was cut short (a worker killed, a passing Telegram failure after the
/// close or the timeout committed), and no job will retry them. The handoff sweep sends them, or
/// marks them failed; older ones are stale news, left as they are.
pub async fn stranded_closed_notices<'c>(e: impl Executor<'c, Database = Any>, now: i64, limit: i64) -> sqlx::Result<Vec<StrandedNotice>> {
    sqlx::query_as(
        "select tenant_id, conversation_id, id from conversation_messages
          where kind = 'closed' and delivery = 'pending' and author = 'bot' and created_at < $1 and created_at > $2
          order by id limit $3",
    )
    .bind(now - 60_000)
    .bind(now - 3_600_000)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// One of the conversation's messages.
pub async fn message<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, id: MsgId) -> sqlx::Result<Option<Msg>> {
    let sql = format!("select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and id = $3");
    sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(id.0).fetch_optional(e).await
}

/// Whether the conversation has a bot message of `kind` stored after message `id`.
pub async fn newer_of_kind<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, id: MsgId, kind: MessageKind) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from conversation_messages where tenant_id = $1 and conversation_id = $2 and id > $3 and author = 'bot' and kind = $4")
        .bind(tenant.0)
        .bind(conv.0)
        .bind(id.0)
        .bind(kind.as_str())
        .fetch_one(e)
        .await?;
    Ok(n > 0)
}

/// The owner's (or a teammate's) message relayed for manager update `update_id`, if stored.
pub async fn owner_message_for_update<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, conv: ConversationId, update_id: i64) -> sqlx::Result<Option<Msg>> {
    let sql = format!("select {MSG_COLUMNS} from conversation_messages where tenant_id = $1 and conversation_id = $2 and update_id = $3 and author = 'owner'");
    sqlx::query_as(&sql).bind(tenant.0).bind(conv.0).bind(update_id).fetch_optional(e).await
}

/// Back to the assistant if the conversation is still in the handoff that began at
/// `handed_off_at` and no one of the team has taken it (a new handoff, a reply, or the owner
/// closing it, changes that): whether it was.
pub async fn end_handoff_if<'c>(e: impl Executor<'c, Database = Any>, tenant: TenantId, id: ConversationId, handed_off_at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update conversations set mode = 'bot', handed_off_at = null, taken_by = null where tenant_id = $1 and id = $2 and mode = 'human' and handed_off_at = $3 and taken_by is null",
    )
        .bind(tenant.0)
        .bind(id.0)
        .bind(handed_off_at)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}
