//! Rate limits as Telegram enforces them, plus injected faults for tests.
//!
//! Everything a bot posts into a chat counts — messages, invoices and edits that change a
//! message. Per (bot, private chat): a token bucket of 4 posts refilling at 1 per second. Per
//! (bot, group): 20 messages per 60 s. Per bot: 30 messages per second. A request beyond a
//! limit, or one the fault injector picks, gets 429 with `retry_after`, and the (bot, chat)
//! pair is blocked until then. The counters say how often a client broke a limit, and how often
//! it came back before `retry_after` — tests assert both are zero for bellhop's throttle.
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Counters over the sandbox's lifetime.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LimitStats {
    /// Messages accepted.
    pub sends: u64,
    /// 429s because a limit was exceeded, and which one.
    pub limit_breaches: u64,
    pub bot_breaches: u64,
    pub private_breaches: u64,
    pub group_breaches: u64,
    /// Requests to a (bot, chat) still inside its `retry_after`.
    pub early_retries: u64,
    /// 429s injected by a fault.
    pub injected: u64,
}

/// Makes a bot's sends fail with 429 at random.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Share of sends answered 429, 0.0–1.0.
    pub ratio: f64,
    pub retry_after: u64,
}

#[derive(Default)]
pub struct Limiter {
    pub enabled: bool,
    buckets: HashMap<(i64, i64), (f64, Instant)>,
    groups: HashMap<(i64, i64), VecDeque<Instant>>,
    bots: HashMap<i64, VecDeque<Instant>>,
    blocked: HashMap<(i64, i64), Instant>,
    pub faults: HashMap<i64, Fault>,
    pub stats: LimitStats,
}

const PRIVATE_BURST: f64 = 4.0;
const PRIVATE_RATE: f64 = 1.0;
const GROUP_MAX: usize = 20;
const GROUP_WINDOW: Duration = Duration::from_secs(60);
const BOT_MAX: usize = 30;
const BOT_WINDOW: Duration = Duration::from_secs(1);

impl Limiter {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, ..Default::default() }
    }

    /// Admits one message from `bot` to `chat`, or says how many seconds to wait.
    pub fn admit(&mut self, bot: i64, chat: i64) -> Result<(), u64> {
        let now = Instant::now();
        if let Some(until) = self.blocked.get(&(bot, chat)) {
            if now < *until {
                self.stats.early_retries += 1;
                return Err((*until - now).as_secs_f64().ceil().max(1.0) as u64);
            }
            self.blocked.remove(&(bot, chat));
        }
        if let Some(f) = self.faults.get(&bot)
            && rand::random::<f64>() < f.ratio {
                self.stats.injected += 1;
                let r = f.retry_after.max(1);
                self.blocked.insert((bot, chat), now + Duration::from_secs(r));
                return Err(r);
            }
        if self.enabled
            && let Err(wait) = self.check(bot, chat, now) {
                self.stats.limit_breaches += 1;
                let r = wait.as_secs_f64().ceil().max(1.0) as u64;
                self.blocked.insert((bot, chat), now + Duration::from_secs(r));
                return Err(r);
            }
        self.stats.sends += 1;
        Ok(())
    }

    fn check(&mut self, bot: i64, chat: i64, now: Instant) -> Result<(), Duration> {
        let window = self.bots.entry(bot).or_default();
        while window.front().is_some_and(|t| now.duration_since(*t) >= BOT_WINDOW) {
            window.pop_front();
        }
        if window.len() >= BOT_MAX {
            self.stats.bot_breaches += 1;
            return Err(BOT_WINDOW - now.duration_since(window[0]));
        }
        if chat < 0 {
            let g = self.groups.entry((bot, chat)).or_default();
            while g.front().is_some_and(|t| now.duration_since(*t) >= GROUP_WINDOW) {
                g.pop_front();
            }
            if g.len() >= GROUP_MAX {
                self.stats.group_breaches += 1;
                return Err(GROUP_WINDOW - now.duration_since(g[0]));
            }
            g.push_back(now);
        } else {
            let (level, at) = self.buckets.entry((bot, chat)).or_insert((PRIVATE_BURST, now));
            *level = (*level + now.duration_since(*at).as_secs_f64() * PRIVATE_RATE).min(PRIVATE_BURST);
            *at = now;
            if *level < 1.0 {
                self.stats.private_breaches += 1;
                return Err(Duration::from_secs_f64((1.0 - *level) / PRIVATE_RATE));
            }
            *level -= 1.0;
        }
        self.bots.entry(bot).or_default().push_back(now);
        Ok(())
    }
}
