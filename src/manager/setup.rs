//! Start-up of the manager bot: check Bot Management Mode, register webhook (or, with long
//! polling, remove it) and commands.
use super::{MANAGER_UPDATES, Manager};
use crate::domain::{BotId, BotToken, Secret};
use crate::telegram::{self, BotCommand, methods};
use anyhow::Context;

/// Connects to the manager bot and checks it may manage bots. The error tells the operator
/// exactly what to switch on.
pub async fn connect(client: &telegram::Client, token: BotToken) -> anyhow::Result<Manager> {
    let bot = client.bot(token);
    let me = bot.get_me().await.context("calling getMe for the manager bot (telegram.manager_token, telegram.api_url)")?;
    if me.can_manage_bots != Some(true) {
        anyhow::bail!(
            "the manager bot @{} cannot manage bots: open @BotFather, choose the bot, open the Mini App and switch on \
             Bot Management Mode, then start bellhop again",
            me.username.as_deref().unwrap_or("?")
        );
    }
    let username = me.username.clone().context("the manager bot has no username")?;
    Ok(Manager { bot, id: BotId(me.id), username })
}

/// Points the manager's webhook at `/tg/manager` with its secret and sets its commands.
pub async fn register(manager: &Manager, public_url: &url::Url, secret: &Secret) -> anyhow::Result<()> {
    let url = public_url.join("tg/manager").context("building the manager webhook URL")?;
    manager
        .bot
        .call(
            &methods::SetWebhook::new(url.to_string())
                .secret_token(secret.expose())
                .allowed_updates(MANAGER_UPDATES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .max_connections(40),
        )
        .await
        .context("setWebhook for the manager bot")?;
    manager
        .bot
        .call(&methods::SetMyCommands::new(commands()))
        .await
        .context("setMyCommands for the manager bot")?;
    Ok(())
}

/// With long polling: removes the manager's webhook (Telegram refuses `getUpdates` while one is
/// set; updates waiting at Telegram are kept) and sets its commands.
pub async fn register_for_polling(manager: &Manager) -> anyhow::Result<()> {
    manager.bot.call(&methods::DeleteWebhook::new()).await.context("deleteWebhook for the manager bot")?;
    manager
        .bot
        .call(&methods::SetMyCommands::new(commands()))
        .await
        .context("setMyCommands for the manager bot")?;
    Ok(())
}

fn commands() -> Vec<BotCommand> {
    [("start", "Create your support bot"), ("bots", "Your bots and their status"), ("login", "A one-time link to your admin page"), ("plan", "Your plan, usage and payments"), ("help", "What I can do")]
        .into_iter()
        .map(|(c, d)| BotCommand { command: c.into(), description: d.into() })
        .collect()
}
