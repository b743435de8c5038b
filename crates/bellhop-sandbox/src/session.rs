//! A bot's session on this Bot API server: `logOut`, `close`, and the launch every call makes,
//! as Telegram's Bot API server (tdlib/telegram-bot-api) does them
//! (<https://core.telegram.org/bots/api#logout>, <https://core.telegram.org/bots/api#close>):
//!
//! - A bot is *launched* on a server by its first call (or, after a restart, by its webhook being
//!   restored). A bot that is not running gets no webhook deliveries; its updates wait.
//! - `logOut` logs the bot out of this server: its webhook and waiting updates are dropped and
//!   for 10 minutes every call — `logOut` again included — is refused with 400 `Logged out`
//!   (the text Telegram's cloud answers, tdlib/telegram-bot-api#566). The first call after that
//!   logs the bot in again (levlam, tdlib/telegram-bot-api#324: "invocation of any method logs
//!   you back").
//! - `close` stops the bot's instance, so it can be moved to another local server; it is refused
//!   with 429 `Too Many Requests: retry after N` in the first 10 minutes after the bot was
//!   launched. The webhook is kept — which is why the docs say to delete it first: the next call
//!   (or a restart) launches the bot again, and it is then delivered to once more.
//!
//! Time is the sandbox clock (`World::now`), which `POST /sandbox/api/clock/advance` moves, so a
//! test need not wait 10 minutes.
use super::Shared;
use super::params::{ApiError, ok};
use axum::response::Response;

/// Seconds after `logOut` during which the bot cannot log in again, and after a launch during
/// which `close` is refused.
pub const LOCKOUT_SECONDS: i64 = 600;

/// Before any call of `bot`: refused while it is logged out; otherwise it is launched (if it was
/// not running) — a call after the lock-out logs it in again.
pub fn admit(s: &Shared, bot: i64) -> Result<(), ApiError> {
    let mut w = s.world();
    let now = w.now();
    let Some(b) = w.bots.get_mut(&bot) else { return Err(ApiError::unauthorized()) };
    if let Some(at) = b.logged_out_at {
        if now < at + LOCKOUT_SECONDS {
            return Err(logged_out());
        }
        b.logged_out_at = None;
        b.logged_out = false;
    }
    if b.launched_at.is_none() {
        b.launched_at = Some(now);
        // A webhook kept through `close` is delivered to again.
        let notify = w.notifier(bot);
        notify.notify_waiters();
    }
    Ok(())
}

/// `logOut`: drops the webhook and the waiting updates, and locks the bot out for 10 minutes.
pub fn log_out(s: &Shared, bot: i64) -> Result<Response, ApiError> {
    let mut w = s.world();
    let now = w.now();
    let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
    b.logged_out_at = Some(now);
    b.logged_out = true;
    b.launched_at = None;
    b.webhook = None;
    b.webhook_generation += 1;
    b.pending.clear();
    let notify = w.notifier(bot);
    notify.notify_waiters();
    Ok(ok(true))
}

/// `close`: 429 in the first 10 minutes after the launch; else the bot stops running here.
pub fn close(s: &Shared, bot: i64) -> Result<Response, ApiError> {
    let mut w = s.world();
    let now = w.now();
    let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
    let launched = b.launched_at.unwrap_or(now);
    let left = launched + LOCKOUT_SECONDS - now;
    if left > 0 {
        return Err(ApiError::too_many(left as u64));
    }
    b.launched_at = None;
    Ok(ok(true))
}

/// Whether `bot` runs on this server (webhook deliveries are made only then).
pub fn running(b: &super::world::BotState) -> bool {
    b.launched_at.is_some()
}

fn logged_out() -> ApiError {
    ApiError { code: 400, description: "Logged out".into(), retry_after: None, migrate_to_chat_id: None }
}
