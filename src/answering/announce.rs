//! Announcements: the owner's message to every customer who talked to the bot in the last N days,
//! each in a private chat, with a footer in the customer's language saying how to get no more
//! (`/stop`). Written and its recipients chosen at once ([`write`]); sent by one job
//! ([`send`]) through the bot's throttle, so Telegram's limits hold (30 messages a second per
//! bot, one a second per chat) and the bot's answers to customers keep flowing beside it.
//!
//! Never twice to one customer: each recipient row is claimed (committed) at its turn in the bot's
//! throttle, right before its Bot API call ([`crate::telegram::Preflight`]), and marked after it —
//! a process that stops while messages wait for their turn has claimed none of them; a row a dead process left claimed becomes `unknown` — it may have
//! arrived — and is not sent again. A refusal that cannot change (blocked, chat gone) is final; a
//! customer who blocked the bot (or deleted their account) is remembered, and left out of later
//! announcements until they write to the bot again. A passing failure (429 beyond the throttle's
//! retries, network) puts the row back for the job's next attempt; after the last attempt, the
//! rows still waiting are marked not reached ([`give_up`]).
use crate::domain::ChatId;
use super::language::Lang;
use crate::domain::{BotId, TenantId};
use crate::jobs::JobError;
use crate::storage::announcements::{self, Announcement, AnnouncementId, Claim, Outcome, Recipient};
use crate::storage::{self, Db};
use crate::telegram::methods::SendMessage;
use crate::telegram::{Bot, Preflight, TelegramError};
use futures::StreamExt;

/// The longest announcement, in characters as Telegram counts them (UTF-16 code units: an emoji
/// is two): one Telegram message (4,096) with room for the footer in any language.
pub const MAX_CHARS: usize = 3_900;
/// The longest look-back, in days.
pub const MAX_DAYS: i64 = 365;
/// Recipients claimed at a time.
const BATCH: i64 = 50;
/// Calls in flight at once: the throttle paces them; a few at a time leave the bot's own answers
/// room in its queue.
const IN_FLIGHT: usize = 8;

/// Why an announcement was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Checks the owner's text and look-back, in words they can act on.
pub fn check(text: &str, since_days: i64) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Write the message first: it is empty.".into());
    }
    // Telegram counts UTF-16 code units, as the page's text box does: an emoji is two.
    let chars = crate::telegram::html::utf16_len(text);
    if chars > MAX_CHARS {
        let emoji = if chars > text.chars().count() { " (Telegram counts an emoji as two)" } else { "" };
        return Err(format!("The message is {chars} characters long{emoji}; Telegram takes at most {MAX_CHARS} here. Shorten it by {} characters.", chars - MAX_CHARS));
    }
    if !(1..=MAX_DAYS).contains(&since_days) {
        return Err(format!("Choose how far back to look: 1 to {MAX_DAYS} days."));
    }
    Ok(text.to_owned())
}

/// Writes the announcement and chooses its recipients (in the caller's transaction, beside the
/// job that sends it).
pub async fn write(tx: &mut storage::Tx, tenant: TenantId, bot: BotId, text: &str, since_days: i64) -> Result<Announcement, WriteError> {
    write_once(tx, tenant, bot, text, since_days, None).await?.ok_or(WriteError::Db(sqlx::Error::RowNotFound))
}

/// [`write`], once per one-time form token (`form_token`): `None` when an announcement was
/// already written with it — the owner's form was sent twice (a double-click on Send).
pub async fn write_once(tx: &mut storage::Tx, tenant: TenantId, bot: BotId, text: &str, since_days: i64, form_token: Option<&str>) -> Result<Option<Announcement>, WriteError> {
    let text = check(text, since_days).map_err(WriteError::Invalid)?;
    Ok(announcements::create(tx, tenant, bot, &text, since_days, form_token).await?)
}

/// The text one customer receives: the owner's words, then the footer in their language.
pub fn message_for(text: &str, language: Option<&str>) -> String {
    format!("{text}\n\n— {}", Lang::of(language).words().announcement_footer)
}

/// Sends announcement `id` to every recipient not yet tried; returns when none is left. A
/// passing failure ends the attempt with a transient error (the job is retried later; the rows
/// it could not send wait for it).
pub async fn send(db: &Db, bot: &Bot, tenant: TenantId, id: AnnouncementId) -> Result<(), JobError> {
    let Some(a) = announcements::get(&db.pool, tenant, id).await? else {
        return Ok(()); // deleted with the bot's data meanwhile
    };
    let unknown = announcements::settle_interrupted(&db.pool, tenant, id).await?;
    if unknown > 0 {
        tracing::warn!(announcement = id.0, unknown, "announcement messages whose sending was interrupted are not sent again");
    }
    let text = a.text.as_str();
    let mut passing: Option<TelegramError> = None;
    // Telegram refused the bot's token: a new one was made meanwhile (or it was revoked).
    let mut token_refused = false;
    loop {
        // Disconnected (or no longer the business's) meanwhile: it sends nothing more.
        if let Some(why) = gone(db, tenant, a.bot_id).await? {
            end(db, tenant, id, why).await?;
            return Ok(());
        }
        let batch = announcements::next_pending(&db.pool, tenant, id, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        // Before any call of the batch: a customer who writes after it is back.
        let tried_at = storage::now_ms();
        let outcomes: Vec<(ChatId, Result<(), TelegramError>)> = futures::stream::iter(batch)
            .map(|r: Recipient| async move {
                let send = SendMessage::new(r.chat_id, message_for(text, r.language.as_deref()));
                (r.chat_id, bot.send_message_with(&send, claim(db, tenant, id, r.chat_id)).await.map(|_| ()))
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (chat, result) in outcomes {
            match result {
                Ok(()) => announcements::record(&db.pool, tenant, id, chat, Outcome::Sent, None).await?,
                // Claimed by another attempt at its turn: that attempt records it.
                Err(TelegramError::Withdrawn(_)) => {}
                // The token this attempt opened the bot with is no longer valid (the owner made a
                // new one): nothing was sent, and the customer is not to blame. The claim is given
                // back; the next attempt opens the bot with its current token.
                Err(TelegramError::Unauthorized) => {
                    announcements::release_one(&db.pool, tenant, id, chat).await?;
                    token_refused = true;
                }
                // Telegram's answer was lost: it may have arrived, so it is not sent again.
                Err(e) if e.may_have_taken_effect() => announcements::record(&db.pool, tenant, id, chat, Outcome::Unknown, Some(&e.to_string())).await?,
                // Refused with a 429 after its retries: the claim was given back at the 429
                // (see [`claim`]); the recipient waits for the job's next attempt.
                Err(e @ TelegramError::RetryAfter(_)) => {
                    passing.get_or_insert(e);
                }
                Err(e) if e.is_transient() => {
                    announcements::record(&db.pool, tenant, id, chat, Outcome::Retry, None).await?;
                    passing.get_or_insert(e);
                }
                // Refused for good, and for every later announcement too until the customer is
                // back: remembered, so those leave them out instead of failing on them again.
                Err(TelegramError::BotBlocked) => {
                    announcements::record(&db.pool, tenant, id, chat, Outcome::Blocked, None).await?;
                    announcements::mark_unreachable(&db.pool, tenant, a.bot_id, chat, tried_at).await?;
                }
                Err(e @ TelegramError::UserDeactivated) => {
                    announcements::record(&db.pool, tenant, id, chat, Outcome::Failed, Some(&e.to_string())).await?;
                    announcements::mark_unreachable(&db.pool, tenant, a.bot_id, chat, tried_at).await?;
                }
                Err(e) => announcements::record(&db.pool, tenant, id, chat, Outcome::Failed, Some(&e.to_string())).await?,
            }
        }
        if passing.is_some() || token_refused {
            break;
        }
    }
    if token_refused {
        // Not the Telegram error itself in the chain: a 401 is final for a call, not for the job.
        return Err(JobError::Retry(anyhow::anyhow!("sending an announcement: Telegram refused the bot's token (a new one was made?); the next attempt opens the bot again")));
    }
    if let Some(e) = passing {
        return Err(crate::jobs::job_error(e, "sending an announcement"));
    }
    if announcements::finish_if_done(&db.pool, tenant, id).await? {
        let done = announcements::get(&db.pool, tenant, id).await?;
        if let Some(d) = done {
            tracing::info!(announcement = id.0, total = d.total, sent = d.sent, blocked = d.blocked, failed = d.failed, unknown = d.unknown, "announcement sent");
        }
    }
    Ok(())
}

/// The job sending announcement `id` failed for the last time (`why`: its last error — Telegram
/// unreachable through every attempt, say): the recipients still waiting are marked not reached,
/// and the announcement is done, so the owner's page does not say "Sending" for ever. A row a
/// dead process left claimed becomes `unknown` first, as [`send`] does.
pub async fn give_up(db: &Db, tenant: TenantId, id: AnnouncementId, why: &JobError) -> Result<(), JobError> {
    announcements::settle_interrupted(&db.pool, tenant, id).await?;
    let left = announcements::give_up(&db.pool, tenant, id, &format!("not sent: the sending stopped after its last attempt ({why})")).await?;
    announcements::finish_if_done(&db.pool, tenant, id).await?;
    if left > 0 {
        tracing::warn!(announcement = id.0, left, error = %why, "an announcement's sending stopped after its last attempt; the customers it had not reached are marked not reached");
    }
    Ok(())
}

/// Why `bot` can no longer send for `tenant`, if it cannot: disconnected (its token forgotten),
/// its data deleted, no longer the business's, or paused by its owner. (A bot getting a new
/// token, or being set up again, is still connected: it goes on.)
///
/// A pause ends the announcement rather than holding it until the bot is resumed: the owner
/// pauses for a holiday or while their information changes, and a message written before may
/// be out of date by then — it should not go out days later without them sending it again.
/// (The job's retries cover hours, not a pause of days, either.)
pub async fn gone(db: &Db, tenant: TenantId, bot: BotId) -> Result<Option<&'static str>, JobError> {
    Ok(match storage::bots::status_of(&db.pool, tenant, bot).await?.as_deref() {
        None => Some("the bot is no longer this business's"),
        Some(storage::bots::DISCONNECTED) => Some("the bot was disconnected"),
        Some(storage::bots::DELETED) => Some("the bot's data was deleted"),
        Some(_) if storage::bots::paused_at(&db.pool, tenant, bot).await?.is_some() => Some("the bot was paused"),
        Some(_) => None,
    })
}

/// Ends announcement `id` early because its bot can no longer send (`why`, see [`gone`]): the
/// recipients it has not reached are marked not reached, with the reason, and it is done — the
/// owner's page does not say "Sending" for ever.
pub async fn end(db: &Db, tenant: TenantId, id: AnnouncementId, why: &str) -> Result<(), JobError> {
    announcements::settle_interrupted(&db.pool, tenant, id).await?;
    let left = announcements::give_up(&db.pool, tenant, id, &format!("not sent: {why} before it reached them")).await?;
    announcements::finish_if_done(&db.pool, tenant, id).await?;
    tracing::info!(announcement = id.0, left, reason = why, "an announcement's sending stopped: its bot can no longer send");
    Ok(())
}

/// The claim of one recipient, run by the throttle at the message's turn.
fn claim(db: &Db, tenant: TenantId, id: AnnouncementId, chat_id: ChatId) -> Preflight {
    let pool = db.pool.clone();
    let again = pool.clone();
    Preflight::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            match announcements::claim_one(&pool, tenant, id, chat_id).await {
                Ok(Claim::Claimed) => Ok(()),
                Ok(Claim::Taken) => Err(TelegramError::Withdrawn("the recipient is no longer waiting".into())),
                Ok(Claim::Stopped) => Err(TelegramError::Withdrawn("the customer sent /stop meanwhile".into())),
                // Left waiting: the sending ends at the next batch ([`gone`]).
                Ok(Claim::Paused) => Err(TelegramError::Withdrawn("the owner paused the bot".into())),
                Err(e) => Err(TelegramError::Network(format!("could not record the message as being sent: {e}"))),
            }
        })
    })
    // Refused with a 429: not delivered, so not held while the retry waits.
    .undone_by(move || {
        let pool = again.clone();
        Box::pin(async move { announcements::release_one(&pool, tenant, id, chat_id).await.map(drop).map_err(|e| TelegramError::Network(e.to_string())) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_overlong_announcement_or_a_bad_look_back_is_refused_in_words() {
        assert!(check("  ", 30).unwrap_err().contains("empty"));
        assert!(check(&"a".repeat(MAX_CHARS + 5), 30).unwrap_err().contains("by 5 characters"));
        assert!(check("Hi", 0).unwrap_err().contains("1 to 365 days"));
        assert!(check("Hi", 366).is_err());
        assert_eq!(check("  New hours from Monday  ", 30).unwrap(), "New hours from Monday");
    }

    #[test]
    fn the_length_is_counted_as_telegram_counts_it_footer_included() {
        // 2,100 emoji are 2,100 characters but 4,200 UTF-16 code units: too long for Telegram.
        let why = check(&"😀".repeat(2_100), 30).unwrap_err();
        assert!(why.contains("4200 characters long (Telegram counts an emoji as two)") && why.contains("Shorten it by 300 characters"), "{why}");
        // The longest message the owner may write still fits in one message with any footer.
        let longest = check(&"😀".repeat(MAX_CHARS / 2), 30).unwrap();
        for language in [None, Some("ru"), Some("es"), Some("fa"), Some("de"), Some("fr"), Some("it"), Some("pt")] {
            let sent = message_for(&longest, language);
            assert!(crate::telegram::html::utf16_len(&sent) <= crate::telegram::split::MESSAGE_LIMIT, "{language:?}");
        }
    }

    #[test]
    fn the_footer_is_in_the_customers_language() {
        assert!(message_for("Hi", None).ends_with("Send /stop to get no more announcements."));
        assert!(message_for("Hola", Some("es")).contains("Envía /stop"));
        assert!(message_for("Привет", Some("ru")).contains("/stop"));
        assert!(message_for("Hallo", Some("de")).ends_with("Senden Sie /stop, um keine Mitteilungen mehr zu bekommen."));
    }
}
