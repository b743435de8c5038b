//! The manager bot's own updates: `managed_bot` (a new bot, a new token, a new owner) and the
//! owner's commands in the manager chat. The application routes each manager update — payments
//! and billing buttons to billing, handoff replies to answering, the rest here.
use crate::domain::ChatId;
use super::{Manager, login};
use crate::crypto::KeyRing;
use crate::domain::{BotId, BotToken, TenantId, UserId};
use crate::jobs::{JobError, job_error};
use crate::storage::{self, Conn, Db, bots};
use crate::telegram::html::escape;
use crate::telegram::methods::{GetManagedBotToken, SendMessage};
use crate::telegram::{KeyboardButton, KeyboardButtonRequestManagedBot, ManagedBotUpdated, Message, ReplyKeyboardMarkup, ReplyMarkup};
use anyhow::Context;
use sha2::{Digest, Sha256};

/// Short, irreversible fingerprint of a token: tells whether it changed without storing it.
pub fn fingerprint(token: &BotToken) -> String {
    hex::encode(&Sha256::digest(token.expose().as_bytes())[..8])
}

/// A child bot to provision (the `bot.provision` job): the bot and the tenant it belongs to now.
/// Only a new bot, a new token or a new owner asks for one, so a repeated update does not; and
/// requests for the same tenant made while one is queued are that job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    pub bot: BotId,
    pub tenant: TenantId,
}

/// The managed bot's current token, fetched fresh (`getManagedBotToken`).
pub async fn fetch_token(m: &Manager, mbu: &ManagedBotUpdated) -> Result<BotToken, JobError> {
    let raw = m.bot.call(&GetManagedBotToken { user_id: UserId(mbu.bot.id) }).await.map_err(|e| job_error(e, "getManagedBotToken"))?;
    BotToken::parse(&raw).map_err(|e| JobError::Permanent(anyhow::anyhow!("getManagedBotToken returned {e}")))
}

/// A `managed_bot` update with the bot's fresh `token`, recorded in the caller's transaction: a
/// new bot, a new token, or a new owner. Returns the provisioning to queue in the same
/// transaction, if any. Converges on Telegram's current state whatever the order or number of
/// deliveries: the token is always fetched fresh, and an owner is taken only from an update
/// newer than the one we have. Only a bot its owner creates reopens their closed account; one
/// given to them is recorded as theirs but left disconnected, and any other update about a bot
/// of a closed account records nothing.
pub async fn record_managed_bot(tx: &mut Conn, keys: &KeyRing, update_id: i64, mbu: &ManagedBotUpdated, token: &BotToken) -> Result<Option<Provisioning>, JobError> {
    let bot_id = BotId(mbu.bot.id);
    let owner = UserId(mbu.user.id);
    let fp = fingerprint(token);
    let name = mbu.bot.first_name.clone();
    let username = mbu.bot.username.clone().unwrap_or_default();
    // The claim of the sealing key, then the tenant insert-or-nothing.
    let sealed = storage::keys::seal(&mut *tx, keys, token.expose().as_bytes(), &bots::token_aad(bot_id)).await?;
    let tenant = storage::tenants::find_or_create_for_owner(tx, owner, &name).await?;
    let new = bots::NewBot { id: bot_id, tenant_id: tenant.id, username: &username, name: &name, token: sealed.clone(), webhook_secret: None };
    let inserted = bots::insert(tx, &new).await?;
    let row = if inserted { None } else { Some(bots::managed_row(&mut *tx, bot_id).await?.context("bot row vanished")?) };
    // A bot new to this owner: just created, or given to them by an update newer than the one
    // that gave it to its current owner. Telegram also sends `managed_bot` when a bot's token
    // changes; that is not a new bot.
    let new_for_owner = row.as_ref().is_none_or(|r| r.owner_user_id != owner && update_id > r.owner_update_id);
    let now = storage::now_ms();
    if new_for_owner {
        // An owner who closed their account and creates a bot wants it back — unless its
        // erasure is due (the caller erases such an account first; one that fell due since is
        // retried). A bot someone else gives them is not their word: their account stays closed
        // (below, the bot stays disconnected until they keep it).
        if row.is_none() && storage::privacy::reopen_account(&mut *tx, tenant.id, now).await? {
            tracing::info!(tenant_id = tenant.id.0, "a closed account reopened by a new bot");
        } else if storage::privacy::erasure_due(&mut *tx, tenant.id, now).await? {
            return Err(JobError::Retry(anyhow::anyhow!("the owner's closed account is being erased; the new bot is recorded once that is done")));
        }
    }
    let provision = if let Some(row) = row {
        // A new token (or a repeated or delayed update) of a bot whose account is closed: its bots
        // were disconnected by the closing and stay so; the account stays closed, and its erasure
        // stays due.
        if !new_for_owner && storage::privacy::is_closed(&mut *tx, row.tenant_id).await? {
            tracing::info!(bot_id = bot_id.0, tenant_id = row.tenant_id.0, "managed bot update for a bot of a closed account; nothing recorded");
            return Ok(None);
        }
        if matches!(row.status.as_str(), bots::DISCONNECTED | bots::DELETED) && !new_for_owner {
            // Its owner disconnected it in the admin: a new token (or a repeated update, or a
            // delayed one naming an earlier owner) does not connect it again; only the owner's
            // "Connect again" does.
            tracing::info!(bot_id = bot_id.0, "managed bot update for a disconnected bot; not connecting it");
            return Ok(None);
        }
        let token_changed = bots::set_token(&mut *tx, bot_id, &sealed, &fp).await?;
        let owner_changed = row.owner_user_id != owner && bots::set_owner(&mut *tx, bot_id, tenant.id, owner, update_id).await?;
        if owner_changed {
            // The new owner gets their own welcome and login link; the old tenant loses the bot.
            bots::unclaim_welcome(&mut *tx, tenant.id, bot_id).await?;
            // Its knowledge stays with the earlier business; the new one's knowledge without a
            // bot comes to it if it is that business's only bot.
            storage::sources::give_orphans_to(tx, tenant.id, bot_id).await?;
            // Its customers' `/stop`s go with it: they asked the bot for no announcements,
            // whoever owns it.
            storage::announcements::move_to_new_owner(tx, bot_id, tenant.id).await?;
            // And the questions they bought from it: they paid the bot, whose Stars go with it.
            storage::billing::paywall_move_to_new_owner(tx, bot_id, tenant.id).await?;
            tracing::info!(bot_id = bot_id.0, from_tenant = row.tenant_id.0, to_tenant = tenant.id.0, "managed bot changed owner");
        }
        if owner_changed && storage::privacy::is_closed(&mut *tx, tenant.id).await? {
            // Given to someone whose account is closed: theirs in Telegram, but not answering
            // here (it would answer until the erasure took it) — "Connect it again" once they keep
            // the account.
            bots::disconnect(&mut *tx, tenant.id, bot_id).await?;
            tracing::info!(bot_id = bot_id.0, tenant_id = tenant.id.0, "managed bot given to a closed account; left disconnected");
            return Ok(None);
        }
        if token_changed {
            tracing::info!(bot_id = bot_id.0, "managed bot token changed; provisioning again");
        }
        token_changed || owner_changed
    } else {
        let (description, short) = super::provision::default_descriptions(&name);
        bots::init_managed(&mut *tx, bot_id, owner, update_id, &fp, &description, &short).await?;
        tracing::info!(bot_id = bot_id.0, tenant_id = tenant.id.0, "new managed bot");
        true
    };
    let current_tenant = bots::managed_row(&mut *tx, bot_id).await?.context("bot row vanished")?.tenant_id;
    Ok(provision.then_some(Provisioning { bot: bot_id, tenant: current_tenant }))
}

/// A message in the manager chat: the owner's commands (`/start`, `/bots`, `/login`, `/help`).
pub async fn message(db: &Db, public_url: &url::Url, m: &Manager, msg: Message) -> Result<(), JobError> {
    let Some(from) = msg.from.as_ref() else { return Ok(()) };
    if !msg.chat.is_private() {
        return Ok(());
    }
    let chat = ChatId(msg.chat.id);
    let user = UserId(from.id);
    let reply = if let Some(created) = &msg.managed_bot_created {
        // The managed_bot update usually wins the race and the welcome is already out; a
        // "setting up" note after "it's live" would only confuse.
        // Only while it is being set up: a parked bot's owner is told why instead, and a failed
        // one's that it failed (`provision::run`) — "I'll message you" would be a promise nobody keeps.
        let status = bots::managed_row(&db.pool, BotId(created.bot.id)).await?.map(|r| r.status);
        if !matches!(status.as_deref(), None | Some("provisioning")) {
            return Ok(());
        }
        let u = created.bot.username.as_deref().unwrap_or("your bot");
        SendMessage::html(chat, format!("⏳ Setting up @{} — I'll message you here as soon as it's ready.", escape(u)))
    } else {
        let text = msg.text.as_deref().unwrap_or_default().trim();
        let command = text.split_whitespace().next().unwrap_or_default().split('@').next().unwrap_or_default();
        let payload = text.split_whitespace().nth(1).unwrap_or_default();
        if command == "/start" && let Some(token) = payload.strip_prefix(super::team::JOIN) {
            let name = match from.last_name.as_deref() {
                Some(last) if !last.is_empty() => format!("{} {last}", from.first_name),
                _ => from.first_name.clone(),
            };
            return super::team::join(db, m, chat, user, &name, token).await;
        }
        match command {
            "/start" => match start_reply(db, public_url, m, chat, user).await? {
                Some(reply) => reply,
                None => return Ok(()),
            },
            "/bots" => bots_message(db, chat, user).await?,
            "/login" => login_message(db, public_url, chat, user).await?,
            // Words that are no command and no reply to a customer's message reach nobody: while
            // customers wait for a person, the owner is told so, and how to answer them.
            _ if !text.is_empty() && !text.starts_with('/') => match waiting_message(db, chat, user).await? {
                Some(msg) => msg,
                None => help_message(chat),
            },
            _ => help_message(chat),
        }
    };
    m.bot.send_message(&reply).await.map_err(|e| job_error(e, "sendMessage in the manager chat"))?;
    Ok(())
}

/// The reply to `/start`: for someone without a bot, how to create one. An owner gets the
/// welcome of any live bot of theirs that never reached them (given to them before they opened
/// this chat: Telegram lets no bot write first) — `None`, as it is sent — or else their bots
/// and what to do with them.
async fn start_reply(db: &Db, public_url: &url::Url, m: &Manager, chat: ChatId, user: UserId) -> Result<Option<SendMessage>, JobError> {
    let Some(tenant) = owner_tenant(db, user).await? else { return Ok(Some(start_message(chat, &m.username))) };
    let list = bots::list_for_tenant(&db.pool, tenant).await?;
    if list.is_empty() {
        return Ok(Some(start_message(chat, &m.username)));
    }
    let mut welcomed = false;
    for (bot, username) in bots::unwelcomed(&db.pool, tenant).await? {
        if bots::claim_welcome(&db.pool, tenant, bot).await? {
            if let Err(e) = super::provision::welcome(db, Some(m), public_url, tenant, bot, &username).await {
                bots::unclaim_welcome(&db.pool, tenant, bot).await?;
                return Err(job_error(e, "sending the welcome message"));
            }
            welcomed = true;
        }
    }
    if welcomed {
        return Ok(None);
    }
    let mut text = String::from("👋 <b>Welcome back!</b>\n\n");
    text.push_str(if list.len() == 1 { "Your support bot:" } else { "Your support bots:" });
    for b in &list {
        text.push_str(&format!("\n@{} — {}", escape(&b.username), status_label(b)));
    }
    text.push_str(&format!(
        "\n\nSend /login for a one-time link to your admin page, where you teach your bot about your business and see its conversations.\n\n\
         To create another bot, tap <b>Create another bot</b> below.\n\n\
         Managed by @{}.",
        escape(&m.username)
    ));
    let mut msg = SendMessage::html(chat, text);
    msg.reply_markup = Some(create_keyboard("➕ Create another bot"));
    Ok(Some(msg))
}

fn create_keyboard(label: &str) -> ReplyMarkup {
    ReplyMarkup::Keyboard(ReplyKeyboardMarkup {
        keyboard: vec![vec![KeyboardButton {
            text: label.into(),
            request_managed_bot: Some(KeyboardButtonRequestManagedBot { request_id: 1, suggested_name: None, suggested_username: None }),
            ..Default::default()
        }]],
        resize_keyboard: Some(true),
        ..Default::default()
    })
}

fn start_message(chat: ChatId, manager_username: &str) -> SendMessage {
    let mut msg = SendMessage::html(
        chat,
        format!(
            "👋 <b>Welcome to bellhop!</b>\n\nI create an AI support bot for your business in under a minute. \
             It answers your customers from your own documents, web pages and Q&amp;A — and hands over to you when it can't help.\n\n\
             Tap <b>Create my support bot</b> below, pick a name, and confirm. (You can also use the link on our website.)\n\n\
             Managed by @{}.",
            escape(manager_username)
        ),
    );
    msg.reply_markup = Some(create_keyboard("➕ Create my support bot"));
    msg
}

fn help_message(chat: ChatId) -> SendMessage {
    SendMessage::html(
        chat,
        "I'm the bellhop manager bot.\n\n/start — create your support bot\n/bots — your bots and their status\n/login — a one-time link to your admin page\n/plan — your plan, usage and payments\n/help — this message",
    )
}

/// For a message that reached nobody (not a reply to a customer's message): when customers of
/// the businesses `user` answers for are with a person, that it was not sent, and how to answer
/// them. Nobody is guessed as its recipient.
async fn waiting_message(db: &Db, chat: ChatId, user: UserId) -> Result<Option<SendMessage>, JobError> {
    let mut waiting = Vec::new();
    for (tenant, _) in super::team::businesses(db, user).await? {
        waiting.extend(storage::conversations::with_person_for(&db.pool, tenant, user).await?);
    }
    let text = match &waiting[..] {
        [] => return Ok(None),
        [(name, bot)] => format!(
            "This message wasn't sent to anyone. To answer <b>{}</b> (@{}), tap <b>✍️ Reply</b> under their message, or reply to it.",
            escape(name),
            escape(bot)
        ),
        many => {
            let names = many.iter().take(10).map(|(name, bot)| format!("<b>{}</b> (@{})", escape(name), escape(bot))).collect::<Vec<_>>().join(", ");
            let more = if many.len() > 10 { format!(" and {} more", many.len() - 10) } else { String::new() };
            format!(
                "This message wasn't sent to anyone. {} customers are waiting for a person: {names}{more}. Each has its own <b>✍️ Reply</b> button under their message: tap it to answer that customer.",
                many.len()
            )
        }
    };
    Ok(Some(SendMessage::html(chat, text)))
}

async fn owner_tenant(db: &Db, user: UserId) -> Result<Option<TenantId>, JobError> {
    Ok(storage::tenants::find_by_owner(&db.pool, user).await?.map(|t| t.id))
}

async fn bots_message(db: &Db, chat: ChatId, user: UserId) -> Result<SendMessage, JobError> {
    let list = match owner_tenant(db, user).await? {
        Some(tenant) => bots::list_for_tenant(&db.pool, tenant).await?,
        None => vec![],
    };
    if list.is_empty() {
        // A teammate with no bot of their own: "you don't have a bot" would send them to create
        // a second business instead of the one they help with.
        let teams = storage::team::teams_of(&db.pool, user).await?;
        if !teams.is_empty() {
            let names = teams.iter().map(|t| format!("<b>{}</b>", escape(&t.name))).collect::<Vec<_>>().join(", ");
            return Ok(SendMessage::html(
                chat,
                format!("You're on the team of {names}: send /login to open its admin page, where its bots are. To create a bot of your own, send /start."),
            ));
        }
        return Ok(SendMessage::html(chat, "You don't have a bot yet. Send /start to create one."));
    }
    let mut text = String::from("<b>Your bots</b>\n");
    for b in list {
        text.push_str(&format!("\n@{} — {}", escape(&b.username), status_label(&b)));
    }
    Ok(SendMessage::html(chat, text))
}

/// A bot's status as its owner reads it in the manager chat.
fn status_label(b: &bots::Bot) -> String {
    match (b.status.as_str(), b.status_reason.as_deref()) {
        ("live", _) if b.paused => "⏸ paused".to_owned(),
        ("live", _) => "✅ live".to_owned(),
        ("disconnected", _) => "⏏️ disconnected".to_owned(),
        ("provisioning", _) => "⏳ setting up".to_owned(),
        ("failed", Some(r)) => format!("⚠️ setup failed: {}", escape(r)),
        (s, _) => escape(s),
    }
}

async fn login_message(db: &Db, public_url: &url::Url, chat: ChatId, user: UserId) -> Result<SendMessage, JobError> {
    let businesses = super::team::businesses(db, user).await?;
    if businesses.is_empty() {
        return Ok(SendMessage::html(chat, "You don't have a bot yet. Send /start to create one, then I'll send you your admin link."));
    }
    if let [(tenant, _)] = businesses[..] {
        let link = login::issue(db, public_url, tenant, user).await?;
        return Ok(SendMessage::html(chat, format!("🔐 Your admin page: {}\n\nThe link works once, within 10 minutes. Send /login for a new one.", escape(&link))));
    }
    // On several teams (or their own business and a team): one link each.
    let mut text = String::from("🔐 Your admin pages:\n");
    for (tenant, name) in businesses {
        let link = login::issue(db, public_url, tenant, user).await?;
        text.push_str(&format!("\n<b>{}</b>: {}", escape(&name), escape(&link)));
    }
    text.push_str("\n\nEach link works once, within 10 minutes. Send /login for new ones.");
    Ok(SendMessage::html(chat, text))
}
