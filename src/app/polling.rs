//! Long polling (`telegram.updates = "polling"`, `serve --updates polling`): the manager bot and
//! every business's bot take their updates with `getUpdates`
//! (<https://core.telegram.org/bots/api#getupdates>) instead of webhooks, so bellhop needs no
//! public HTTPS address — an operator can try it with a real manager bot from a laptop.
//!
//! - **Webhooks removed first.** Telegram refuses `getUpdates` while a webhook is set, so each
//!   bot's loop starts with `deleteWebhook` (updates waiting at Telegram are kept), and does it
//!   again if Telegram says a webhook was set meanwhile. Provisioning in polling mode sets no
//!   webhook either (`manager::provision`).
//! - **Stored before confirmed.** A poll's updates go through the webhooks' durable path
//!   (`app::ingress`: `telegram_updates` row + job, one group commit) together with the bot's
//!   next offset, in one transaction; only the *next* `getUpdates`, which carries that offset,
//!   tells Telegram to forget them. A crash anywhere leaves Telegram holding every update not
//!   yet stored; an update fetched twice (a crash between the commit and the next poll, a lost
//!   response, a second poller) is a no-op in the store — the (bot, update_id) key, not luck.
//! - **Bounded concurrency.** One task per bot, but a `getUpdates` request is made only with one
//!   of `telegram.polling_connections` permits (a FIFO semaphore, so bots take turns fairly).
//!   While every polled bot fits, each keeps a long poll of [`LONG_POLL_SECONDS`] open: one
//!   connection per bot, updates arrive at once, an idle bot costs one request per 25 s. With
//!   more bots than permits a poll waits only [`SHORT_POLL_SECONDS`], so permits rotate and each
//!   bot is asked at least every (bots ÷ permits) seconds — never more connections than permits.
//! - **New and gone bots.** The list of bots to poll is read again every [`RESCAN`]: a bot
//!   provisioned meanwhile (the managed-bot flow, by any worker) is polled within a second
//!   without a restart; a parked, suspended or disconnected bot's loop stops; a bot whose token
//!   changed is polled with the new one. Paused bots are polled: they answer with a notice.
//! - **Switching back.** With `telegram.updates = "webhook"` a web process forgets every polled
//!   bot at start and queues its provisioning, which sets its webhook again ([`back_to_webhooks`]).
//!
//! One process polls: two pollers of one bot end each other's requests (409 Conflict, which is
//! logged and retried — nothing is lost or doubled, but it is wasteful). Run polling with one
//! `serve` (role `all` or a single `web`).
use super::AppState;
use super::ingress::{self, PollOffset};
use crate::domain::{BotId, BotToken, TenantId};
use crate::manager::{CHILD_UPDATES, MANAGER_UPDATES};
use crate::storage::{self, bots};
use crate::telegram::methods::{DeleteWebhook, GetUpdates, Method};
use crate::telegram::{self, TelegramError};
use anyhow::Context;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a poll waits at Telegram for an update while every bot can keep one open (Telegram
/// allows up to 50 s; 25 s stays under common proxies' idle timeouts).
pub const LONG_POLL_SECONDS: i64 = 25;
/// How long a poll waits when there are more bots than `telegram.polling_connections`.
pub const SHORT_POLL_SECONDS: i64 = 1;
/// How often the list of bots to poll is read again.
pub const RESCAN: Duration = Duration::from_secs(1);
/// Most updates one poll takes (Telegram's maximum).
const LIMIT: i64 = 100;
/// Longest wait between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `getUpdates` with the updates kept as Telegram sent them (stored verbatim, as a webhook's
/// body is). The client adds the long-poll `timeout` to its HTTP timeout for this method name.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Poll(GetUpdates);

impl Method for Poll {
    const NAME: &'static str = "getUpdates";
    type Response = Vec<serde_json::Value>;
}

/// Which bots this process is polling right now (their loop has removed the webhook and is
/// asking for updates). Cheap to clone; shared by the application instance.
#[derive(Clone, Default)]
pub struct Polled(Arc<Mutex<BTreeSet<BotId>>>);

impl Polled {
    pub fn bots(&self) -> Vec<BotId> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
    }
    fn set(&self, bot: BotId, polled: bool) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if polled {
            set.insert(bot);
        } else {
            set.remove(&bot);
        }
    }
}

/// Whose updates a loop takes: they become different jobs.
#[derive(Clone, Copy, Debug)]
enum Target {
    Manager,
    Child(TenantId),
}

struct Pollers {
    state: AppState,
    permits: Arc<Semaphore>,
    connections: usize,
    /// Bots with a loop, for choosing long or short polls.
    bots: AtomicUsize,
}

/// Polls the manager bot and every business's bot until `stop`.
pub async fn run(state: AppState, stop: CancellationToken) -> anyhow::Result<()> {
    let connections = state.cfg.telegram.polling_connections;
    let pollers = Arc::new(Pollers { state: state.clone(), permits: Arc::new(Semaphore::new(connections)), connections, bots: AtomicUsize::new(0) });
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(m) = &state.manager {
        tasks.spawn(poll_bot(pollers.clone(), m.bot.clone(), m.id, Target::Manager, stop.child_token()));
    }
    let managers = usize::from(state.manager.is_some());
    tracing::info!(connections, "long polling started");
    // Each business's bot's loop, with what it was started with: a change restarts it.
    let mut running: HashMap<BotId, ((TenantId, Vec<u8>), CancellationToken)> = HashMap::new();
    loop {
        match storage::polling::pollable_bots(&state.db.pool).await {
            Ok(list) => {
                let wanted: HashMap<BotId, storage::polling::Pollable> = list.into_iter().map(|p| (p.id, p)).collect();
                running.retain(|id, (key, token)| {
                    let keep = wanted.get(id).is_some_and(|p| *key == (p.tenant, p.token.blob.clone()));
                    if !keep {
                        token.cancel();
                    }
                    keep
                });
                for (id, p) in wanted {
                    if running.contains_key(&id) {
                        continue;
                    }
                    let token = match state.keys.open_string(&p.token, &bots::token_aad(id)).map_err(anyhow::Error::from).and_then(|raw| Ok(BotToken::parse(&raw)?)) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::error!(bot_id = id.0, error = %format!("{e:#}"), "cannot open this bot's token; not polling it");
                            continue;
                        }
                    };
                    let child_stop = stop.child_token();
                    running.insert(id, ((p.tenant, p.token.blob.clone()), child_stop.clone()));
                    tasks.spawn(poll_bot(pollers.clone(), state.telegram.bot(token), id, Target::Child(p.tenant), child_stop));
                }
                pollers.bots.store(running.len() + managers, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not read the bots to poll; trying again"),
        }
        // Reap loops that ended (a bot no longer polled, a token Telegram refused).
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(RESCAN) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
    tracing::info!("long polling stopped");
    Ok(())
}

/// One bot's loop: remove its webhook, then poll, store, repeat, until `stop` (or, for a
/// business's bot, until Telegram refuses its token: a new token restarts it).
#[tracing::instrument(name = "polling.bot", skip_all, fields(bot_id = id.0))]
async fn poll_bot(pollers: Arc<Pollers>, bot: telegram::Bot, id: BotId, target: Target, stop: CancellationToken) {
    let state = &pollers.state;
    let mut backoff = Backoff::default();
    let mut offset = loop {
        match prepare(state, &bot, id).await {
            Ok(offset) => break offset,
            Err(e) if matches!(target, Target::Child(_)) && TelegramError::in_chain(e.as_ref()).is_some_and(|t| matches!(t, TelegramError::Unauthorized)) => {
                tracing::info!("Telegram no longer accepts this bot's token; not polling it until a new one is stored");
                return;
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not switch this bot to polling; trying again"),
        }
        if !backoff.wait(&stop).await {
            return;
        }
    };
    let kinds = match target {
        Target::Manager => MANAGER_UPDATES,
        Target::Child(_) => CHILD_UPDATES,
    };
    let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    state.polling.set(id, true);
    loop {
        let permit = tokio::select! {
            p = pollers.permits.clone().acquire_owned() => p.expect("the permits are never closed"),
            _ = stop.cancelled() => break,
        };
        let wait = if pollers.bots.load(Ordering::Relaxed) <= pollers.connections { LONG_POLL_SECONDS } else { SHORT_POLL_SECONDS };
        let request = Poll(GetUpdates { offset, limit: Some(LIMIT), timeout: Some(wait), allowed_updates: Some(kinds.clone()) });
        let polled = tokio::select! {
            r = bot.call(&request) => r,
            _ = stop.cancelled() => break,
        };
        drop(permit);
        match polled {
            Ok(updates) if updates.is_empty() => backoff.reset(),
            Ok(updates) => match store(state, id, target, &updates).await {
                Ok(next) => {
                    offset = next.or(offset);
                    backoff.reset();
                }
                // Not stored, so not confirmed: the next poll (same offset) gets them again.
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), updates = updates.len(), "could not store polled updates; asking Telegram for them again");
                    if !backoff.wait(&stop).await {
                        break;
                    }
                }
            },
            Err(TelegramError::Conflict(why)) => {
                if why.contains("webhook") {
                    tracing::warn!(conflict = %why, "a webhook was set for this bot while it is polled; removing it");
                    if let Err(e) = bot.call(&DeleteWebhook::new()).await {
                        tracing::warn!(error = %e, "deleteWebhook failed");
                    }
                } else {
                    tracing::warn!(conflict = %why, "another process polls this bot too (one `serve` should poll); both get every update once");
                }
                if !backoff.wait(&stop).await {
                    break;
                }
            }
            Err(TelegramError::RetryAfter(secs)) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                    _ = stop.cancelled() => break,
                }
            }
            Err(TelegramError::Unauthorized) if matches!(target, Target::Child(_)) => {
                tracing::info!("Telegram no longer accepts this bot's token; not polling it until a new one is stored");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "getUpdates failed; trying again");
                if !backoff.wait(&stop).await {
                    break;
                }
            }
        }
    }
    state.polling.set(id, false);
}

/// Removes the bot's webhook (keeping the updates waiting at Telegram), notes it as polled and
/// returns its stored offset.
async fn prepare(state: &AppState, bot: &telegram::Bot, id: BotId) -> anyhow::Result<Option<i64>> {
    bot.call(&DeleteWebhook::new()).await.context("deleteWebhook")?;
    storage::polling::mark(&state.db.pool, id).await?;
    Ok(storage::polling::offset(&state.db.pool, id).await?)
}

/// Stores a poll's updates with the offset that confirms them; returns that offset (`None`
/// when no update had an id, which Telegram never sends).
async fn store(state: &AppState, id: BotId, target: Target, updates: &[serde_json::Value]) -> anyhow::Result<Option<i64>> {
    // Telegram returns a poll's updates in ascending order: one past the last confirms them all.
    let next = updates.iter().rev().find_map(|u| u.get("update_id")?.as_i64()).map(|last| last + 1);
    let mut pending = Vec::with_capacity(updates.len());
    for u in updates {
        let body = serde_json::to_vec(u).context("re-encoding an update")?;
        pending.push(match target {
            Target::Manager => ingress::manager_update(&state.queue, id, &body),
            Target::Child(tenant) => ingress::child_update(&state.queue, id, tenant, &body),
        });
    }
    state.ingress.store_polled(pending, next.map(|next| PollOffset { bot: id, next })).await?;
    Ok(next)
}

/// One poll of `bot` from `offset`, stored as the loop stores it, without waiting (`timeout` 0);
/// returns the offset that confirms what it took. For tests of the offset and duplicate rules;
/// the application's loops are [`run`]'s.
pub async fn poll_once(state: &AppState, bot: &telegram::Bot, id: BotId, tenant: Option<TenantId>, offset: Option<i64>) -> anyhow::Result<Option<i64>> {
    let target = tenant.map_or(Target::Manager, Target::Child);
    let updates = bot.call(&Poll(GetUpdates { offset, limit: Some(LIMIT), timeout: Some(0), allowed_updates: None })).await?;
    if updates.is_empty() {
        return Ok(offset);
    }
    Ok(store(state, id, target, &updates).await?.or(offset))
}

/// `telegram.updates = "webhook"` in a web process: every bot that was polled is forgotten and
/// provisioned again, which sets its webhook (one commit: a crash leaves them all still listed).
pub async fn back_to_webhooks(state: &AppState) -> anyhow::Result<usize> {
    let mut tx = state.db.begin().await?;
    let bots = storage::polling::take_polled_bots(&mut tx).await?;
    for b in &bots {
        state.queue.enqueue_in(&mut tx, &super::jobs::provision(&state.queue, b.tenant, b.bot)).await?;
    }
    tx.commit().await.context("queueing webhooks for the bots that were polled")?;
    if !bots.is_empty() {
        state.queue.notify(crate::jobs::DEFAULT);
        tracing::info!(bots = bots.len(), "switched back to webhooks: setting the polled bots' webhooks again");
    }
    Ok(bots.len())
}

/// Waits 1 s, doubling to [`MAX_BACKOFF`] while failures go on.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    fn reset(&mut self) {
        self.0 = 0;
    }
    /// False when `stop` came first.
    async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let d = Duration::from_secs(1u64 << self.0.min(5)).min(MAX_BACKOFF);
        self.0 += 1;
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stop.cancelled() => false,
        }
    }
}
