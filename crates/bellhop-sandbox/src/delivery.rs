//! Update delivery, as Telegram does it (<https://core.telegram.org/bots/api#getting-updates>):
//! `getUpdates` long polling with `offset`/`limit`/`timeout`, or a webhook — exclusive with
//! `getUpdates` (409) — POSTed with `X-Telegram-Bot-Api-Secret-Token`, at most
//! `max_connections` at a time, retried with exponential backoff after a non-2xx answer.
use super::Shared;
use super::params::{ApiError, Params, ok};
use super::world::Webhook;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Longest long poll the sandbox holds open.
const MAX_POLL: i64 = 50;

pub fn set_webhook(s: &Arc<Shared>, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let url = p.str("url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(s, bot, p);
    }
    let parsed = url::Url::parse(&url).map_err(|_| ApiError::bad_request("bad webhook: Failed to resolve host: Name or service not known"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(ApiError::bad_request("bad webhook: An HTTPS URL must be provided for webhook"));
    }
    let secret = p.str("secret_token").filter(|t| !t.is_empty());
    if let Some(t) = &secret {
        let valid = t.len() <= 256 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(ApiError::bad_request("secret token contains unallowed characters"));
        }
    }
    let max_connections = p.i64("max_connections")?.unwrap_or(40);
    if !(1..=100).contains(&max_connections) {
        return Err(ApiError::bad_request("bad webhook: max_connections must be between 1 and 100"));
    }
    let allowed: Option<Vec<String>> = p.typed("allowed_updates")?;
    let drop = p.bool("drop_pending_updates")?.unwrap_or(false);
    let generation = {
        let mut w = s.world();
        let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
        b.webhook = Some(Webhook { url, secret_token: secret, max_connections, ip_address: p.str("ip_address"), last_error_date: None, last_error_message: None });
        b.webhook_generation += 1;
        if allowed.is_some() {
            b.allowed_updates = allowed;
        }
        if drop {
            b.pending.clear();
        }
        let g = b.webhook_generation;
        w.notifier(bot).notify_waiters();
        g
    };
    tokio::spawn(webhook_loop(s.clone(), bot, generation));
    Ok(ok(true))
}

pub fn delete_webhook(s: &Arc<Shared>, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let drop = p.bool("drop_pending_updates")?.unwrap_or(false);
    let mut w = s.world();
    let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
    b.webhook = None;
    b.webhook_generation += 1;
    if drop {
        b.pending.clear();
    }
    w.notifier(bot).notify_waiters();
    Ok(ok(true))
}

/// Restarts the delivery loops of bots that had a webhook when the state was saved.
pub fn resume_webhooks(s: &Arc<Shared>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    let bots: Vec<(i64, u64)> = s.world().bots.values().filter(|b| b.webhook.is_some()).map(|b| (b.id, b.webhook_generation)).collect();
    for (bot, generation) in bots {
        handle.spawn(webhook_loop(s.clone(), bot, generation));
    }
}

/// Telegram's answer to a long poll that a newer `getUpdates` of the same bot replaced: one
/// bot, one poller (the newer request goes on).
pub const POLL_TERMINATED: &str = "terminated by other getUpdates request; make sure that only one bot instance is running";
/// Telegram's answer to `getUpdates` while the bot has a webhook.
pub const WEBHOOK_ACTIVE: &str = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
/// Telegram's answer to a long poll cut short by `setWebhook`.
pub const POLL_TERMINATED_BY_WEBHOOK: &str = "terminated by setWebhook request";

/// `getUpdates`: updates below `offset` are confirmed (forgotten); waits up to `timeout` seconds
/// (at most 50) for one. As on Telegram, a bot has one poller: a request made while an earlier
/// one waits ends the earlier one with 409 [`POLL_TERMINATED`], and a webhook set meanwhile
/// ends it with 409 [`POLL_TERMINATED_BY_WEBHOOK`].
pub async fn get_updates(s: &Arc<Shared>, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let offset = p.i64("offset")?;
    let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.i64("timeout")?.unwrap_or(0).clamp(0, MAX_POLL);
    let allowed: Option<Vec<String>> = p.typed("allowed_updates")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout as u64);
    let mut this_poll = None;
    loop {
        let notify = {
            let mut w = s.world();
            let b = w.bots.get_mut(&bot).ok_or_else(ApiError::unauthorized)?;
            if b.webhook.is_some() {
                let why = if this_poll.is_some() { POLL_TERMINATED_BY_WEBHOOK } else { WEBHOOK_ACTIVE };
                return Err(ApiError::conflict(why));
            }
            if let Some(a) = &allowed {
                b.allowed_updates = Some(a.clone());
            }
            // Updates below `offset` are confirmed; a negative offset keeps the last -offset.
            match offset {
                Some(o) if o < 0 => {
                    let keep = (-o) as usize;
                    while b.pending.len() > keep {
                        b.pending.pop_front();
                    }
                }
                Some(o) => b.pending.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= o),
                None => {}
            }
            let batch: Vec<Value> = b.pending.iter().take(limit).cloned().collect();
            let latest = w.polls.entry(bot).or_default();
            match this_poll {
                None => {
                    // This request replaces any poll still waiting: wake it to end with 409.
                    *latest += 1;
                    this_poll = Some(*latest);
                    w.notifier(bot).notify_waiters();
                }
                Some(mine) if mine != *latest => return Err(ApiError::conflict(POLL_TERMINATED)),
                Some(_) => {}
            }
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(ok(batch));
            }
            w.notifier(bot)
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Re-check after registering, in case an update, a webhook or a newer poll came in between.
        let changed = {
            let w = s.world();
            let replaced = w.polls.get(&bot).copied() != this_poll;
            replaced || w.bots.get(&bot).is_some_and(|b| !b.pending.is_empty() || b.webhook.is_some())
        };
        if changed {
            continue;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = s.shutdown.cancelled() => return Ok(ok(Vec::<Value>::new())),
        }
    }
}

/// Delivers a bot's updates to its webhook until the webhook changes or the sandbox stops.
async fn webhook_loop(s: Arc<Shared>, bot: i64, generation: u64) {
    let base = s.opts.webhook_retry_base;
    let mut backoff = base;
    loop {
        let (hook, batch, notify) = {
            let mut w = s.world.lock().unwrap_or_else(|p| p.into_inner());
            let Some(b) = w.bots.get(&bot) else { return };
            if b.webhook_generation != generation {
                return;
            }
            let Some(hook) = b.webhook.clone() else { return };
            // A bot that is not running on this server (closed) is not delivered to (session.rs).
            let batch: Vec<Value> = if super::session::running(b) { b.pending.iter().take(hook.max_connections as usize).cloned().collect() } else { vec![] };
            (hook, batch, w.notifier(bot))
        };
        if batch.is_empty() {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let empty = s.world.lock().unwrap_or_else(|p| p.into_inner()).bots.get(&bot).is_none_or(|b| b.pending.is_empty() || !super::session::running(b));
            if empty {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = s.shutdown.cancelled() => return,
                }
            }
            continue;
        }
        let posts = batch.iter().map(|u| post(&s, &hook, u));
        let results = futures::future::join_all(posts).await;
        let mut failure = None;
        {
            let mut w = s.world();
            let now = w.now();
            let Some(b) = w.bots.get_mut(&bot) else { return };
            for (u, r) in batch.iter().zip(&results) {
                match r {
                    Ok(()) => {
                        let id = u["update_id"].as_i64();
                        b.pending.retain(|p| p["update_id"].as_i64() != id);
                    }
                    Err(e) => failure = Some(e.clone()),
                }
            }
            if let (Some(e), Some(h)) = (&failure, b.webhook.as_mut()) {
                h.last_error_date = Some(now);
                h.last_error_message = Some(e.clone());
            }
        }
        if failure.is_some() {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = s.shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        } else {
            backoff = base;
        }
    }
}

async fn post(s: &Shared, hook: &Webhook, update: &Value) -> Result<(), String> {
    let mut req = s.http.post(&hook.url).json(update);
    if let Some(secret) = &hook.secret_token {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("Wrong response from the webhook: {}", r.status())),
        Err(e) if e.is_connect() => Err("Connection refused".into()),
        Err(e) if e.is_timeout() => Err("Read timeout expired".into()),
        Err(e) => Err(e.without_url().to_string()),
    }
}
