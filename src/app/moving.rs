//! `bellhop telegram move --to URL`: moves the manager bot and every business's bot to another
//! Bot API server — from Telegram's cloud to a self-hosted `telegram-bot-api`, between two
//! self-hosted ones, or back (docs/telegram.md § Moving servers).
//!
//! 1. Leave the old server, bot by bot, with the bot's own token: `logOut` when it is Telegram's
//!    cloud (`api.telegram.org`), else `deleteWebhook` then `close` (the Bot API docs: delete the
//!    webhook first, or the old server launches the bot again when it restarts). Each bot that
//!    has left is noted (`telegram_move_left`), so a run after a partial failure never calls the
//!    old server for it again — 10 minutes after `logOut`, any call would log it back in there.
//!    Disconnected bots leave too: connected again, a bot runs on the new server, and the Bot API
//!    docs say a bot must be logged out of the cloud before it runs on a local server ("otherwise
//!    there is no guarantee that the bot will receive updates"), and closed on one local server
//!    before it moves to another. bellhop keeps no token of theirs, so the manager bot fetches
//!    each one's (`getManagedBotToken`) for this call only; it is not stored. The manager bot
//!    therefore leaves last, once every business's bot has.
//! 2. Only when every bot has left, the stored server (`telegram_server`) stops naming the old
//!    one: from then on it overrides `telegram.api_url` at every start (`Application::build`).
//!    While a move is unfinished, `serve` refuses to start, saying which command finishes it.
//! 3. On the new server: the manager's `getMe`, webhook (or, with long polling, its removal) and
//!    commands; every business's bot provisioned as the `bot.provision` job does it (webhook
//!    with a fresh secret, commands, descriptions); long polling's offsets forgotten (the new
//!    server numbers its updates itself). A run when the bots are already there does only this.
//!
//! Each step is safe to repeat, and each bot's outcome is printed in plain words — never a token.
//! bellhop must not be running meanwhile: a running process keeps calling the old server. Every
//! `serve` process records a heartbeat while it runs (`storage::processes`), and a worker holding
//! a job's lease is running too: the move refuses while any is seen, naming how many. A process
//! killed without stopping is seen for 30 seconds more. `--dry-run` prints the plan and changes
//! nothing.
use crate::config::{Config, Updates};
use crate::crypto::KeyRing;
use crate::domain::{BotId, BotToken, UserId};
use crate::manager::{ChildBots, provision, setup};
use crate::storage::telegram_server::{self, MovableBot, Server};
use crate::storage::{Db, bots};
use crate::telegram::methods::{Close, DeleteWebhook, GetManagedBotToken, LogOut};
use crate::telegram::{Client, TelegramError, ThrottleLimits};
use anyhow::{Context, bail};
use std::sync::Arc;
use url::Url;

/// Runs the move (see the module's documentation). `old_is_cloud`: whether the server being left
/// is Telegram's cloud (`logOut`) or a self-hosted one (`close`); `None`: by its host.
pub async fn run(cfg: Config, to: &str, dry_run: bool, old_is_cloud: Option<bool>) -> anyhow::Result<()> {
    let to = parse_server(to)?;
    let manager_token = cfg.telegram.manager_token.clone().context("telegram.manager_token is not set")?;
    let (keys, _) = KeyRing::load(&cfg.secrets, false)?;
    let db = Db::connect(&cfg.database_url).await?;
    db.require_migrated().await?;
    let stored = telegram_server::current(&db.pool).await?;
    let configured = cfg.telegram.api_url.clone();
    // Where the bots are, and whether a move is to be started, finished, or is done.
    let (from, resuming) = match &stored {
        Some(Server { api_url, leaving: Some(leaving) }) => {
            if !same(api_url, &to) {
                bail!(
                    "a move to {api_url} has not finished: some bots have not left {leaving} yet. Run `bellhop telegram move --to {api_url}` \
                     to finish it first, then move again."
                );
            }
            (Some(parse_server(leaving)?), true)
        }
        Some(Server { api_url, leaving: None }) => ((!same(api_url, &to)).then(|| parse_server(api_url)).transpose()?, false),
        None => ((!same(configured.as_str(), &to)).then_some(configured.clone()), false),
    };
    let movable = telegram_server::movable_bots(&db.pool).await?;
    let disconnected = telegram_server::disconnected_bots(&db.pool).await?;
    let busy = telegram_server::live_leases(&db.pool).await?;
    let running = crate::storage::processes::alive(&db.pool).await?;

    println!("Stop every `bellhop serve` process (web and workers) before moving: a running one keeps calling the old server.");
    if dry_run {
        if !running.is_empty() {
            println!("bellhop is still running ({} seen in the last 30 seconds): the move would refuse until they are stopped.", crate::storage::processes::describe(&running));
        }
        return plan(&db, &Route { from: &from, to: &to, resuming, old_is_cloud }, &manager_token, &movable, &disconnected, busy).await;
    }
    if !running.is_empty() {
        bail!(
            "bellhop is still running: {} seen in the last {} seconds. Stop every `bellhop serve` process (web and workers) first, then run the move again. Nothing was changed.",
            crate::storage::processes::describe(&running),
            crate::storage::processes::ALIVE_WITHIN.as_secs()
        );
    }
    if busy > 0 {
        bail!("a bellhop worker is running {busy} job(s) right now, so bellhop is still running: stop every `bellhop serve` process, then run the move again. Nothing was changed.");
    }

    if let Some(from) = &from {
        println!("Moving the bots from {from} to {to}.");
        if !resuming {
            let mut tx = db.begin().await?;
            telegram_server::start_move(&mut tx, from.as_str(), to.as_str()).await?;
            tx.commit().await.context("recording the move")?;
        }
        let old = Client::new(from.as_str())?;
        let cloud = old_is_cloud.unwrap_or_else(|| is_cloud(from));
        // Each business's bot with its token; a disconnected one's is fetched when it leaves.
        let mut bots_leaving: Vec<(String, BotId, Option<BotToken>)> = Vec::new();
        for b in &movable {
            bots_leaving.push((format!("@{}", b.username), b.id, Some(open_token(&keys, b)?)));
        }
        bots_leaving.extend(disconnected.iter().map(|(id, username)| (format!("@{username} (disconnected)"), *id, None)));
        // The manager bot last: it fetches the disconnected bots' tokens on the old server.
        bots_leaving.push((format!("the manager bot (id {})", manager_token.bot_id().0), manager_token.bot_id(), Some(manager_token.clone())));
        let mut failed = 0;
        for (label, id, token) in &bots_leaving {
            if telegram_server::has_left(&db.pool, *id).await? {
                println!("  {label}: had already left {from}");
                continue;
            }
            if *id == manager_token.bot_id() && failed > 0 {
                failed += 1;
                println!("  {label}: did not leave {from}: it leaves last, once every business's bot has");
                continue;
            }
            let token = match token {
                Some(token) => token.clone(),
                None => match fetch_token(&old, &manager_token, *id).await {
                    Ok(Some(token)) => token,
                    Ok(None) => {
                        telegram_server::mark_left(&db.pool, *id, from.as_str()).await?;
                        println!("  {label}: Telegram no longer lets the manager bot fetch its token (no longer managed, or deleted): nothing to log out");
                        continue;
                    }
                    Err(why) => {
                        failed += 1;
                        println!("  {label}: did not leave {from}: fetching its token there: {why}");
                        continue;
                    }
                },
            };
            match leave(&old, &token, cloud, from).await {
                Ok(done) => {
                    telegram_server::mark_left(&db.pool, *id, from.as_str()).await?;
                    println!("  {label}: {done}");
                }
                Err(why) => {
                    failed += 1;
                    println!("  {label}: did not leave {from}: {why}");
                }
            }
        }
        if failed > 0 {
            bail!(
                "{failed} of {} bots could not leave {from} (listed above). bellhop will not start until the move is finished: \
                 run `bellhop telegram move --to {to}` again (the bots that left are not called there again).",
                bots_leaving.len()
            );
        }
        telegram_server::finish_leaving(&db.pool).await?;
        println!(
            "Every bot has left {from}. bellhop now uses {to}: this is stored in the database and overrides telegram.api_url \
             (now {configured}) at every start; set telegram.api_url to {to} too, so the two agree."
        );
    } else {
        println!("The bots are on {to} already: nothing to leave. Setting their webhooks, commands and descriptions there again.");
    }
    arrive(&cfg, &db, keys, &to, manager_token, &movable).await
}

/// Step 3: the manager and every business's bot set up on the new server.
async fn arrive(cfg: &Config, db: &Db, keys: KeyRing, to: &Url, manager_token: BotToken, movable: &[MovableBot]) -> anyhow::Result<()> {
    let client = Client::new(to.as_str())?.with_throttle(ThrottleLimits::default());
    let manager = setup::connect(&client, manager_token).await.map_err(|e| anyhow::anyhow!("{}", arrival_problem(&e, to, "the manager bot")))?;
    match (cfg.telegram.updates, &cfg.telegram.manager_webhook_secret) {
        (Updates::Polling, _) => setup::register_for_polling(&manager).await?,
        (Updates::Webhook, Some(secret)) => setup::register(&manager, &cfg.public_url, secret).await?,
        (Updates::Webhook, None) => bail!("telegram.manager_webhook_secret is not set"),
    }
    let how = match cfg.telegram.updates {
        Updates::Webhook => "webhook and commands set",
        Updates::Polling => "webhook removed for long polling, commands set",
    };
    println!("  @{} (manager bot): {how} on {to}", manager.username);
    telegram_server::forget_poll_offsets(&db.pool).await?;
    let child_bots = ChildBots { db: db.clone(), keys: Arc::new(keys), telegram: client.clone() };
    let (mut ready, mut failed) = (0, 0);
    for b in movable {
        if !b.takes_updates() {
            println!("  @{}: {} — set up on {to} when it comes back", b.username, b.status);
            continue;
        }
        match provision::run(&child_bots, Some(&manager), &cfg.public_url, cfg.telegram.updates, b.tenant, b.id, false).await {
            Ok(()) => {
                ready += 1;
                println!("  @{}: {} on {to}", b.username, match cfg.telegram.updates {
                    Updates::Webhook => "webhook, commands and descriptions set",
                    Updates::Polling => "ready for long polling, commands and descriptions set",
                });
            }
            Err(crate::jobs::JobError::Retry(e) | crate::jobs::JobError::Permanent(e)) => {
                failed += 1;
                println!("  @{}: not set up on {to}: {}", b.username, arrival_problem(&e, to, "the bot"));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} bots could not be set up on {to} (listed above); run `bellhop telegram move --to {to}` again to retry them.");
    }
    println!("Done: the manager bot and {ready} businesses' bots are on {to}. Start bellhop again.");
    Ok(())
}

/// A disconnected bot's current token, fetched by the manager bot on the old server for its
/// leaving only (never stored). `Ok(None)`: Telegram refuses it for good — the manager no longer
/// manages the bot, or it was deleted — so there is nothing of it to log out.
async fn fetch_token(old: &Client, manager: &BotToken, bot: BotId) -> Result<Option<BotToken>, String> {
    match old.call(manager, &GetManagedBotToken { user_id: UserId(bot.0) }).await {
        Ok(raw) => BotToken::parse(&raw).map(Some).map_err(|e| format!("getManagedBotToken returned {e}")),
        Err(TelegramError::BadRequest(_)) => Ok(None),
        Err(e) => Err(format!("{e}")),
    }
}

/// Step 1 for one bot; `Ok` with what happened, `Err` with why it did not.
async fn leave(old: &Client, token: &BotToken, cloud: bool, from: &Url) -> Result<String, String> {
    if cloud {
        return match old.call(token, &LogOut::new()).await {
            Ok(_) => Ok(format!("logged out of {from}")),
            Err(TelegramError::LoggedOut) => Ok(format!("was logged out of {from} already")),
            Err(TelegramError::Unauthorized) => Ok("Telegram no longer accepts its token (replaced or revoked): nothing to log out".into()),
            Err(e) => Err(format!("{e}")),
        };
    }
    match old.call(token, &DeleteWebhook::new()).await {
        Ok(_) => {}
        Err(TelegramError::Unauthorized) => return Ok(format!("{from} no longer accepts its token: nothing to close")),
        Err(e) => return Err(format!("removing its webhook there: {e}")),
    }
    match old.call(token, &Close::new()).await {
        Ok(_) => Ok(format!("webhook removed and closed on {from}")),
        Err(TelegramError::RetryAfter(secs)) => Err(format!(
            "{from} refuses to close a bot in the first 10 minutes after it started it; run the move again in {secs} seconds (its webhook there is removed)"
        )),
        Err(e) => Err(format!("{e}")),
    }
}

/// Where a move goes: from the server the bots are on (`None`: they are on `to` already), and
/// whether it finishes an earlier run.
struct Route<'a> {
    from: &'a Option<Url>,
    to: &'a Url,
    resuming: bool,
    /// Whether the old server is Telegram's cloud, when the operator said so.
    old_is_cloud: Option<bool>,
}

/// `--dry-run`: what a run would do, from what is stored; calls no Bot API server.
async fn plan(db: &Db, route: &Route<'_>, manager_token: &BotToken, movable: &[MovableBot], disconnected: &[(BotId, String)], busy: i64) -> anyhow::Result<()> {
    let Route { from, to, resuming, old_is_cloud } = *route;
    println!("Dry run: nothing is changed and no Bot API server is called.");
    if busy > 0 {
        println!("A bellhop worker is running {busy} job(s) right now: the move would refuse until bellhop is stopped.");
    }
    let mut all: Vec<(String, BotId)> = movable.iter().map(|b| (format!("@{} ({})", b.username, b.status), b.id)).collect();
    all.extend(disconnected.iter().map(|(id, username)| (format!("@{username} (disconnected: the manager bot fetches its token for this)"), *id)));
    all.push((format!("the manager bot (id {}), last", manager_token.bot_id().0), manager_token.bot_id()));
    match from {
        Some(from) => {
            let how = if old_is_cloud.unwrap_or_else(|| is_cloud(from)) { "logOut (Telegram's cloud: the bot cannot log in there again for 10 minutes)" } else { "deleteWebhook, then close" };
            println!("{} the move from {from} to {to}; each bot would leave {from} with {how}:", if resuming { "Would finish" } else { "Would start" });
            for (label, id) in &all {
                let left = telegram_server::has_left(&db.pool, *id).await? && resuming;
                println!("  {label}: {}", if left { "has left already" } else { "would leave" });
            }
        }
        None => println!("The bots are on {to} already: nothing would be left."),
    }
    let set_up = movable.iter().filter(|b| b.takes_updates()).count();
    println!("Then on {to}: the manager bot's webhook and commands, and {set_up} businesses' bots set up (webhook, commands, descriptions).");
    Ok(())
}

fn open_token(keys: &KeyRing, b: &MovableBot) -> anyhow::Result<BotToken> {
    let raw = keys.open_string(&b.token, &bots::token_aad(b.id)).with_context(|| format!("opening the stored token of @{}", b.username))?;
    BotToken::parse(&raw).with_context(|| format!("the stored token of @{}", b.username))
}

/// Why a bot could not be set up on the new server, in words for the operator.
fn arrival_problem(e: &anyhow::Error, to: &Url, who: &str) -> String {
    match TelegramError::in_chain(e.as_ref()) {
        Some(TelegramError::LoggedOut) => {
            format!("{to} refuses {who} for 10 minutes after it logged out there; run the move again when they have passed")
        }
        Some(TelegramError::Unauthorized) => format!("{to} does not accept {who}'s token"),
        Some(TelegramError::Network(_)) => format!("{to} cannot be reached ({e:#})"),
        _ => format!("{e:#}"),
    }
}

/// A Bot API server's base URL: `http(s)://host[:port][/path]`, without a query.
fn parse_server(s: &str) -> anyhow::Result<Url> {
    let url = Url::parse(s.trim()).with_context(|| format!("--to {s}: not a URL (e.g. http://bot-api:8081 or https://api.telegram.org)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.query().is_some() {
        bail!("--to {s}: a Bot API server's base URL is http(s)://HOST[:PORT], e.g. http://bot-api:8081 or https://api.telegram.org");
    }
    Ok(url)
}

fn same(a: &str, b: &Url) -> bool {
    Url::parse(a).is_ok_and(|a| a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/'))
}

fn is_cloud(url: &Url) -> bool {
    url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(crate::config::TELEGRAM_CLOUD_HOST))
}
