//! The `bot.provision` job: bring a child bot to `live`.
//!
//! Steps, each safe to repeat: a fresh 256-bit webhook secret (sealed and stored *before*
//! Telegram learns it, so the first update authenticates; the one it replaces is still accepted
//! until `setWebhook` succeeded, so updates in flight meanwhile are not refused; checked again
//! after `setWebhook`, so a provisioning that raced another runs again rather than leave the
//! two apart),
//! `setWebhook` to `/tg/bot/{id}` with
//! the update kinds bellhop handles, `setMyCommands`, the owner's brand (`super::brand`: name,
//! photo, descriptions per language), status `live`, then the welcome message — claimed in the database
//! first, so duplicated or concurrent jobs send it once. The secret and the status are written
//! only while the bot is still being set up (`bots::set_provisioned_status`): a bot parked,
//! disconnected or deleted meanwhile stays so, gets no welcome, and loses the webhook the job
//! may have set after the disconnect removed the one before.
//!
//! With long polling (`telegram.updates = "polling"`) there is no webhook and no secret: the
//! webhook is removed instead (`deleteWebhook`; Telegram refuses `getUpdates` while one is set)
//! and the bot is noted as polled (`storage::polling`), which the application's poller picks up.
use super::{CHILD_UPDATES, ChildBots, Manager, login};
use crate::domain::{BotId, BotToken, TenantId, UserId};
use crate::jobs::{JobError, job_error};
use crate::storage::{self, bots};
use crate::telegram::html::escape;
use crate::config::Updates;
use crate::telegram::methods::{DeleteWebhook, SendMessage, SetMyCommands, SetWebhook};
use crate::telegram::{BotCommand, TelegramError};
use anyhow::Context;
use base64::Engine;

/// The commands a bot shows in Telegram's menu: the owner's list, or the defaults.
pub fn commands(s: &crate::storage::bot_settings::BotSettings) -> Vec<BotCommand> {
    serde_json::from_str::<Vec<BotCommand>>(&s.commands).ok().filter(|c| !c.is_empty()).unwrap_or_else(child_commands)
}

/// The child bot's commands. `/paysupport` and `/privacy` are expected of bots that take
/// payments (<https://core.telegram.org/bots/payments-stars>).
pub fn child_commands() -> Vec<BotCommand> {
    menu(&EN)
}

fn menu(l: &Localised) -> Vec<BotCommand> {
    ["start", "help", "human", "paysupport", "privacy", "forget", "stop"]
        .into_iter()
        .zip(l.commands)
        .map(|(c, d)| BotCommand { command: c.into(), description: d.into() })
        .collect()
}

/// The child bot's default menu and descriptions in one language (`{b}`: the business's name).
/// English is the default; the others are set with `language_code`, for customers whose
/// Telegram is in that language — the languages answering writes its own texts in.
pub(super) struct Localised {
    pub(super) code: &'static str,
    commands: [&'static str; 7],
    description: &'static str,
    short: &'static str,
}

const EN: Localised = Localised {
    code: "en",
    commands: ["Start a conversation", "How I can help", "Talk to a person", "Help with a payment", "How your data is used", "Delete our conversation", "No more announcements"],
    description: "Hi! I'm the support assistant of {b}. Ask me anything about {b} — I answer from their own information, and can put you through to a person.",
    short: "Support assistant of {b}",
};

pub(super) const OTHERS: [Localised; 7] = [
    Localised {
        code: "ru",
        commands: ["Начать разговор", "Чем я могу помочь", "Поговорить с человеком", "Помощь с оплатой", "Как используются ваши данные", "Удалить нашу переписку", "Не получать объявления"],
        description: "Здравствуйте! Я помощник службы поддержки {b}. Спросите меня о {b} что угодно — я отвечаю по их собственной информации и могу связать вас с человеком.",
        short: "Помощник службы поддержки {b}",
    },
    Localised {
        code: "es",
        commands: ["Empezar una conversación", "Cómo puedo ayudar", "Hablar con una persona", "Ayuda con un pago", "Cómo se usan tus datos", "Borrar nuestra conversación", "No recibir más anuncios"],
        description: "¡Hola! Soy el asistente de atención al cliente de {b}. Pregúntame lo que quieras sobre {b}: respondo con su propia información y puedo ponerte con una persona.",
        short: "Asistente de atención al cliente de {b}",
    },
    Localised {
        code: "fa",
        commands: ["شروع گفتگو", "چطور می‌توانم کمک کنم", "گفتگو با یک نفر", "کمک درباره پرداخت", "اطلاعات شما چطور استفاده می‌شود", "پاک کردن گفتگوی ما", "دریافت نکردن اطلاعیه‌ها"],
        description: "سلام! من دستیار پشتیبانی {b} هستم. هر سؤالی درباره {b} دارید بپرسید — از اطلاعات خود آن‌ها پاسخ می‌دهم و می‌توانم شما را به یک نفر وصل کنم.",
        short: "دستیار پشتیبانی {b}",
    },
    Localised {
        code: "de",
        commands: ["Gespräch beginnen", "Wobei ich helfen kann", "Mit einem Menschen sprechen", "Hilfe bei einer Zahlung", "Wie Ihre Daten verwendet werden", "Unser Gespräch löschen", "Keine Mitteilungen mehr"],
        description: "Hallo! Ich bin der Support-Assistent von {b}. Fragen Sie mich alles über {b} – ich antworte anhand ihrer eigenen Informationen und kann Sie mit einem Menschen verbinden.",
        short: "Support-Assistent von {b}",
    },
    Localised {
        code: "fr",
        commands: ["Commencer une conversation", "Comment je peux vous aider", "Parler à une personne", "Aide pour un paiement", "Comment vos données sont utilisées", "Effacer notre conversation", "Ne plus recevoir d'annonces"],
        description: "Bonjour ! Je suis l'assistant du service client de {b}. Posez-moi toutes vos questions sur {b} : je réponds à partir de leurs propres informations et je peux vous mettre en relation avec une personne.",
        short: "Assistant du service client de {b}",
    },
    Localised {
        code: "it",
        commands: ["Inizia una conversazione", "Come posso aiutarti", "Parla con una persona", "Aiuto con un pagamento", "Come vengono usati i tuoi dati", "Cancella la nostra conversazione", "Non ricevere più annunci"],
        description: "Ciao! Sono l'assistente clienti di {b}. Chiedimi qualsiasi cosa su {b}: rispondo con le loro informazioni e posso metterti in contatto con una persona.",
        short: "Assistente clienti di {b}",
    },
    Localised {
        code: "pt",
        commands: ["Começar uma conversa", "Como posso ajudar", "Falar com uma pessoa", "Ajuda com um pagamento", "Como os seus dados são usados", "Apagar a nossa conversa", "Não receber mais avisos"],
        description: "Olá! Sou o assistente de atendimento de {b}. Pode perguntar o que quiser sobre {b}: respondo com as informações da própria empresa e posso passar você para uma pessoa.",
        short: "Assistente de atendimento de {b}",
    },
];

/// A new bot's description and short description (English, the default), for `name`.
pub fn default_descriptions(name: &str) -> (String, String) {
    descriptions(&EN, name)
}

pub(super) fn descriptions(l: &Localised, name: &str) -> (String, String) {
    (l.description.replace("{b}", name), l.short.replace("{b}", name).chars().take(120).collect())
}

/// Brings `bot_id` of `tenant` to `live` (the `bot.provision` job); on a failure that will not be
/// retried (permanent, or the `last_attempt`), marks it `failed` with a reason the owner reads.
#[tracing::instrument(name = "manager.provision", skip_all, fields(bot_id = bot_id.0, tenant_id = tenant.0))]
pub async fn run(
    child_bots: &ChildBots,
    manager: Option<&Manager>,
    public_url: &url::Url,
    updates: Updates,
    tenant: TenantId,
    bot_id: BotId,
    last_attempt: bool,
) -> Result<(), JobError> {
    match provision(child_bots, manager, public_url, updates, tenant, bot_id).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let last = !e.worth_retrying() || last_attempt;
            if last {
                let reason = match &e {
                    JobError::Retry(e) | JobError::Permanent(e) => plain_reason(e),
                };
                // Not over a bot parked, disconnected or deleted meanwhile.
                if bots::set_provisioned_status(&child_bots.db.pool, tenant, bot_id, "failed", Some(&reason)).await? {
                    tell_owner_it_failed(&child_bots.db, manager, tenant, bot_id, &reason).await;
                }
            }
            Err(e)
        }
    }
}

/// Tells the owner in the manager chat that the bot could not be set up, and what to do: a new
/// bot's owner was told "I'll message you as soon as it's ready", and a token change happens
/// without the admin page open. Best effort: the status and reason are on the admin page too.
async fn tell_owner_it_failed(db: &storage::Db, manager: Option<&Manager>, tenant: TenantId, bot_id: BotId, reason: &str) {
    let Some(manager) = manager else { return };
    let bot = bots::list_for_tenant(&db.pool, tenant).await.ok().and_then(|b| b.into_iter().find(|b| b.id == bot_id));
    let owner = storage::tenants::get(&db.pool, tenant).await.ok().flatten().map(|t| t.owner_user_id);
    let (Some(bot), Some(owner)) = (bot, owner) else { return };
    let text = format!(
        "⚠️ <b>@{u} couldn't be set up.</b> {reason}\n\nSend /login for your admin page and press “Repair the connection” to try again.",
        u = escape(&bot.username),
        reason = escape(reason)
    );
    if let Err(e) = manager.bot.send_message(&SendMessage::html(owner.0, text)).await {
        tracing::warn!(error = %e, "could not tell the owner that their bot's setup failed");
    }
}

/// An owner-readable reason for a failed setup.
fn plain_reason(e: &anyhow::Error) -> String {
    match e.downcast_ref::<TelegramError>() {
        Some(TelegramError::Unauthorized) => "Telegram no longer accepts this bot's token (it was probably replaced); the new one is picked up automatically.".into(),
        // The whole chain: the step and Telegram's own words ("setWebhook: Bad Request: …").
        _ => format!("Telegram could not complete the setup: {e:#}"),
    }
}

async fn provision(child_bots: &ChildBots, manager: Option<&Manager>, public_url: &url::Url, updates: Updates, tenant: TenantId, bot_id: BotId) -> Result<(), JobError> {
    let (db, keys) = (&child_bots.db, &child_bots.keys);
    let Some(sealed) = bots::sealed_token(&db.pool, tenant, bot_id).await? else {
        // The bot moved to another owner's tenant since this job was queued; that tenant's
        // own provisioning job takes over.
        tracing::info!("bot no longer belongs to this tenant; nothing to do");
        return Ok(());
    };
    if bots::status_of(&db.pool, tenant, bot_id).await?.as_deref() == Some("parked") {
        // Past the plan's number of bots (app::parking): not connected until an upgrade.
        tracing::info!("bot is parked; not provisioning it");
        return Ok(());
    }
    let raw = keys.open_string(&sealed, &bots::token_aad(bot_id)).map_err(|e| JobError::Permanent(e.into()))?;
    let token = BotToken::parse(&raw).map_err(|e| JobError::Permanent(e.into()))?;
    let child = child_bots.telegram.bot(token);

    let tg = |e: TelegramError, doing: &str| {
        let transient = e.is_transient();
        let err = anyhow::Error::new(e).context(doing.to_owned());
        if transient { JobError::Retry(err) } else { JobError::Permanent(err) }
    };
    match updates {
        Updates::Polling => {
            child.call(&DeleteWebhook::new()).await.map_err(|e| tg(e, "deleteWebhook"))?;
            storage::polling::mark(&db.pool, bot_id).await?;
        }
        Updates::Webhook => {
            let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
            let secret_plain = secret.clone();
            let mut tx = db.begin().await?;
            let sealed_secret = storage::keys::seal(&mut tx, keys, secret.as_bytes(), &bots::webhook_secret_aad(bot_id)).await?;
            if !bots::set_webhook_secret(&mut *tx, tenant, bot_id, &sealed_secret).await? {
                tracing::info!("bot was parked, disconnected or deleted meanwhile; not provisioning it");
                return Ok(());
            }
            tx.commit().await.context("storing the webhook secret")?;
            let url = public_url.join(&format!("tg/bot/{bot_id}")).context("webhook URL")?;
            child
                .call(&SetWebhook::new(url.to_string()).secret_token(secret).allowed_updates(CHILD_UPDATES.iter().map(|s| s.to_string()).collect::<Vec<_>>()).max_connections(40))
                .await
                .map_err(|e| tg(e, "setWebhook"))?;
            // Provisionings of one bot run one at a time (the job's serial key), but a worker that lost
            // its lease (stalled, cut off from the database) can still be in its call when the next one
            // runs. If another provisioning stored a newer secret meanwhile, Telegram may now hold ours
            // while the database holds theirs — every update refused with 401. Then run again: the
            // retry stores and sets one secret, and both agree.
            let stored = bots::webhook_auth(&db.pool, bot_id).await?.and_then(|a| a.secret);
            let still_ours = stored.is_some_and(|s| keys.open(&s, &bots::webhook_secret_aad(bot_id)).is_ok_and(|plain| plain == secret_plain.as_bytes()));
            if !still_ours {
                if !bots::provisionable(&db.pool, tenant, bot_id).await? {
                    // Not another setup: a disconnect (an account closing) cleared the secret
                    // while our setWebhook was under way, maybe after its deleteWebhook.
                    withdraw(&child).await;
                    return Ok(());
                }
                return Err(JobError::Retry(anyhow::anyhow!("another setup of this bot stored a newer webhook secret meanwhile; setting it up again")));
            }
            // Telegram signs with the new secret from now on: the one it replaced is refused again.
            bots::forget_previous_webhook_secret(&db.pool, bot_id, &sealed_secret).await?;
        }
    }
    // The owner's commands from the bot's settings, or the defaults.
    let settings = storage::bot_settings::get(&db.pool, tenant, bot_id).await?;
    let commands = commands(&settings);
    let custom_menu = commands != child_commands();
    child.call(&SetMyCommands::new(commands.clone())).await.map_err(|e| tg(e, "setMyCommands"))?;
    let username = bots::profile(&db.pool, tenant, bot_id).await?.context("bot row vanished")?.username;
    // The default menu in the other languages, for customers whose Telegram is in one of them;
    // the owner's menu is shown as written to everyone.
    for l in &OTHERS {
        let menu = if custom_menu { commands.clone() } else { menu(l) };
        child.call(&SetMyCommands::new(menu).language_code(l.code.to_owned())).await.map_err(|e| tg(e, "setMyCommands"))?;
    }
    // The brand the owner set — name, photo, descriptions in their languages (bellhop's own
    // translations of its default description otherwise) — from bellhop's copy, the source of
    // truth. Telegram's refusal of it does not keep the bot from answering: it is recorded and
    // shown on the settings page; a passing failure is retried with the job.
    match super::brand::apply(db, &child, tenant, bot_id).await? {
        Ok(()) => {}
        // A rename limit (429) can last hours: the bot goes live, the owner applies it later.
        Err(e) if e.is_transient() && !matches!(e, TelegramError::RetryAfter(_)) => return Err(tg(e, "applying the bot's brand")),
        Err(e) => tracing::warn!(error = %e, "the bot's brand was refused; the bot goes live without it"),
    }
    if !bots::set_provisioned_status(&db.pool, tenant, bot_id, "live", None).await? {
        // Parked, disconnected or deleted while it was being set up (an account closing, the
        // owner's Disconnect): it stays so, and its owner gets no welcome. (Or given to another
        // owner: their own provisioning, queued behind this one, sets the webhook again.)
        withdraw(&child).await;
        return Ok(());
    }
    tracing::info!("bot is live");

    if bots::claim_welcome(&db.pool, tenant, bot_id).await? {
        match welcome(db, manager, public_url, tenant, bot_id, &username).await {
            Ok(()) => {}
            // The owner never started the manager bot (e.g. they got the bot by an owner
            // change): Telegram forbids writing first. The bot is live all the same; the welcome
            // waits for the owner to open the manager chat (their /start: `updates::message`).
            Err(e) if e.is_forbidden() => {
                bots::unclaim_welcome(&db.pool, tenant, bot_id).await?;
                tracing::warn!(error = %e, "the owner cannot be messaged yet; the welcome waits for their /start");
            }
            Err(e) => {
                bots::unclaim_welcome(&db.pool, tenant, bot_id).await?;
                return Err(job_error(e, "sending the welcome message"));
            }
        }
    }
    Ok(())
}

/// The bot was parked, disconnected or deleted while this provisioning ran: removes the webhook
/// it may have set after the disconnect removed the one before (Telegram would otherwise keep
/// delivering to a bot bellhop refuses). Best effort: a token replaced meanwhile took the webhook
/// with it.
async fn withdraw(child: &crate::telegram::Bot) {
    tracing::info!("bot was parked, disconnected or deleted while it was being set up; leaving it so");
    match child.call(&DeleteWebhook::new()).await {
        Ok(_) | Err(TelegramError::Unauthorized) => {}
        Err(e) => tracing::warn!(error = %e, "could not remove the webhook of a bot disconnected during its setup"),
    }
}

/// The owner's welcome for their live bot, with a login link: "it is live" for a bot they
/// created; for one given to them, that it is theirs now, what it is and what to do next.
pub(super) async fn welcome(db: &storage::Db, manager: Option<&Manager>, public_url: &url::Url, tenant: TenantId, bot_id: BotId, username: &str) -> Result<(), TelegramError> {
    let internal = |e: anyhow::Error| TelegramError::Server(format!("{e:#}"));
    let manager = manager.ok_or_else(|| internal(anyhow::anyhow!("no manager bot configured")))?;
    let owner = storage::tenants::get(&db.pool, tenant).await.map_err(|e| internal(e.into()))?.ok_or_else(|| internal(anyhow::anyhow!("tenant vanished")))?.owner_user_id;
    let given = bots::given_name(&db.pool, tenant, bot_id).await.map_err(|e| internal(e.into()))?;
    let link = login::issue(db, public_url, tenant, UserId(owner.0)).await.map_err(internal)?;
    let next = "<b>Next step:</b> teach it about your business — add files, web pages or questions and answers on your admin page:";
    let text = match given {
        None => format!(
            "🎉 <b>Your support bot @{u} is live!</b>\n\n\
             Customers can write to it now. {next}\n{link}\n\n\
             The link works once, within 10 minutes. Send /login any time for a new one.",
            u = escape(username),
            link = escape(&link)
        ),
        Some(name) => format!(
            "🎁 <b>@{u} is now yours!</b>\n\n\
             <b>{name}</b> was given to you in Telegram, and bellhop runs it for you: it's an AI support bot that answers your customers from your own documents, \
             web pages and Q&amp;A — and hands over to you when it can't help. Customers can write to it now.\n\n\
             What its earlier owner taught it stayed with them. {next}\n{link}\n\n\
             The link works once, within 10 minutes. Send /login any time for a new one.",
            u = escape(username),
            name = escape(&name),
            link = escape(&link)
        ),
    };
    manager.bot.send_message(&SendMessage::html(owner.0, text)).await?;
    Ok(())
}
