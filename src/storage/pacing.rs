//! [`DbPacer`]: Telegram's per-bot and per-chat limits kept for the whole cluster, in the
//! database every process shares (`telegram_pacing`). One short transaction per message books
//! its moment under both the bot's and the chat's rule at once ([`telegram::throttle::pace`]);
//! the process then waits for that moment and sends. A 429 moves the chat's next moment past its
//! `retry_after` for every process.
//!
//! Why a shared bucket rather than routing a bot's sends to one process: any worker can run any
//! job (no bot affinity to hand over when a worker dies, no forwarding of sends between
//! processes), and a process killed mid-send leaves nothing to recover — a booked moment it did
//! not use is simply lost capacity. The cost is one short transaction per message (an upsert that
//! locks both rows, and an update), small beside Telegram's own latency. Moments are wall-clock milliseconds of the booking process, so the
//! machines' clocks should agree (NTP) to well under the 40 ms between a bot's messages.
use super::{Db, now_ms};
use crate::telegram::throttle::{PACE_BOT, PaceRule, Pacer, pace};
use crate::telegram::{BotId, ChatId, TelegramError};
use futures::future::BoxFuture;
use sqlx::Row;
use std::time::Duration;

/// What [`DbPacer::book`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booking {
    /// Booked under both rules: the message may go at this moment (Unix ms).
    At(i64),
    /// Nothing booked: the chat may not receive before this moment (Unix ms), well after the bot
    /// could send (a group's 3.2 s, a 429's pause). Booking the bot's slot that late would hold
    /// every other chat of the bot back until then, in every process; the caller books again
    /// at that moment.
    ChatBusyUntil(i64),
}

/// The database-backed [`Pacer`]. Cheap to clone.
#[derive(Clone)]
pub struct DbPacer {
    db: Db,
}

impl DbPacer {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Books the moment for `bot` → `chat` ([`Booking::At`]), unless the chat's own rule puts it
    /// more than one of the bot's intervals after the bot's next moment ([`Booking::ChatBusyUntil`]).
    pub async fn book(&self, bot: BotId, chat: ChatId, now: i64) -> sqlx::Result<Booking> {
        let keys = [(format!("bot:{}", bot.0), PACE_BOT), (format!("chat:{}:{}", bot.0, chat.0), PaceRule::for_chat(chat))];
        let mut tx = self.db.begin_tx().await?;
        // One statement makes the rows that do not exist yet and locks both (an upsert locks the
        // row it finds, as `select … for update` would), returning their moments. The keys are
        // in the same order in every booking ("bot:…" before "chat:…"), so two never deadlock.
        let rows = sqlx::query(
            "insert into telegram_pacing (key, next_at) values ($1, 0), ($2, 0)
             on conflict (key) do update set next_at = telegram_pacing.next_at
             returning key, next_at",
        )
        .bind(&keys[0].0)
        .bind(&keys[1].0)
        .fetch_all(&mut *tx)
        .await?;
        let next_of = |k: &str| rows.iter().find(|r| r.get::<String, _>(0) == k).map_or(0, |r| r.get::<i64, _>(1));
        let stored: Vec<(i64, PaceRule)> = keys.iter().map(|(k, rule)| (next_of(k), *rule)).collect();
        let earliest = |(next, rule): (i64, PaceRule)| next - rule.tolerance().as_millis() as i64;
        let chat_at = earliest(stored[1]);
        if chat_at > now.max(earliest(stored[0])) + PACE_BOT.interval.as_millis() as i64 {
            tx.rollback().await?;
            return Ok(Booking::ChatBusyUntil(chat_at));
        }
        let (at, after) = pace(now, &stored);
        sqlx::query("update telegram_pacing set next_at = case when key = $1 then $2 else $4 end where key in ($1, $3)")
            .bind(&keys[0].0)
            .bind(after[0])
            .bind(&keys[1].0)
            .bind(after[1])
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Booking::At(at))
    }

    /// Nothing goes to `chat` of `bot` before `until` (Unix ms).
    pub async fn pause_until(&self, bot: BotId, chat: ChatId, until: i64) -> sqlx::Result<()> {
        let key = format!("chat:{}:{}", bot.0, chat.0);
        // Past `until`, the chat's rule applies again from a clean slate.
        let next = until + PaceRule::for_chat(chat).tolerance().as_millis() as i64;
        sqlx::query(
            "insert into telegram_pacing (key, next_at) values ($1, $2)
             on conflict (key) do update set next_at = case when telegram_pacing.next_at > excluded.next_at then telegram_pacing.next_at else excluded.next_at end",
        )
        .bind(key)
        .bind(next)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }
}

impl Pacer for DbPacer {
    fn reserve(&self, bot: BotId, chat: ChatId) -> BoxFuture<'static, Result<Duration, TelegramError>> {
        let this = self.clone();
        Box::pin(async move {
            loop {
                let now = now_ms();
                match this.book(bot, chat, now).await.map_err(|e| TelegramError::Network(format!("booking the send in the shared rate limits: {e}")))? {
                    Booking::At(at) => return Ok(Duration::from_millis((at - now).max(0) as u64)),
                    // Only this message waits (its chat's turn), not the bot's other chats.
                    Booking::ChatBusyUntil(at) => tokio::time::sleep(Duration::from_millis((at - now).max(1) as u64)).await,
                }
            }
        })
    }

    fn pause(&self, bot: BotId, chat: ChatId, wait: Duration) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move {
            if let Err(e) = this.pause_until(bot, chat, now_ms() + wait.as_millis() as i64).await {
                tracing::warn!(error = %e, "could not share a chat's 429 pause with the other processes");
            }
        })
    }
}
