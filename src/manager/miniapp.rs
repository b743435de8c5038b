//! The onboarding Mini App (Bot API 9.6): the manager bot's menu button opens bellhop's
//! `/miniapp`; the owner names the bot; bellhop prepares a `request_managed_bot` button for that
//! user (`savePreparedKeyboardButton`) and the Mini App asks Telegram to show it
//! (`WebApp.requestChat`); from Telegram's confirm screen on, the flow is the creation link's
//! (`managed_bot` → `updates::record_managed_bot` → provisioning).
//!
//! Who the owner is comes only from the launch data Telegram signed with the manager's token
//! (`telegram::webapp::verify`): checked in constant time, then refused when older than
//! [`LAUNCH_DATA_MAX_AGE_SECS`] ([`SIGN_IN_MAX_AGE_SECS`] to sign in) or dated in the future.
//! Must not: trust anything else the browser says about the user, or know the HTTP edge.
use super::{Manager, login};
use crate::domain::{BotName, BotUsername, TenantId, UserId};
use crate::storage::{self, Db, bots};
use crate::telegram::methods::{SavePreparedKeyboardButton, SetChatMenuButton};
use crate::telegram::webapp::{self, InitDataError, WebAppUser};
use crate::telegram::{KeyboardButton, KeyboardButtonRequestManagedBot, MenuButton, TelegramError, WebAppInfo};

/// Launch data older than this is refused: an hour covers naming a bot and confirming it, and
/// a copied `initData` (a log, a shared screen) stops signing anyone in soon after.
pub const LAUNCH_DATA_MAX_AGE_SECS: i64 = 60 * 60;

/// Signing in to the admin takes fresher launch data: no longer than the sign-in link it is
/// traded for lives (`login`, 10 minutes), so a copied `initData` opens the admin for minutes,
/// not an hour. An owner who kept the app open longer is asked to open it again.
pub const SIGN_IN_MAX_AGE_SECS: i64 = 10 * 60;

/// The text of the manager's menu button.
pub const MENU_BUTTON_TEXT: &str = "Create a bot";

/// The owner behind `init_data`, if Telegram signed it for this manager bot and it is no older
/// than `max_age_secs` ([`LAUNCH_DATA_MAX_AGE_SECS`] or [`SIGN_IN_MAX_AGE_SECS`]).
pub fn owner(m: &Manager, init_data: &str, max_age_secs: i64) -> Result<WebAppUser, InitDataError> {
    let now = storage::now_ms() / 1000;
    webapp::verify(m.bot.token(), init_data, now, max_age_secs).map(|d| d.user)
}

/// Prepares the `request_managed_bot` button the Mini App shows `user`, with the name and
/// username they chose as suggestions (Telegram's confirm screen lets them edit both). Returns
/// the prepared button's id for `WebApp.requestChat`.
pub async fn prepare_creation(m: &Manager, user: UserId, name: &BotName, username: &BotUsername) -> Result<String, TelegramError> {
    let button = KeyboardButton {
        text: "Create my support bot".into(),
        request_managed_bot: Some(KeyboardButtonRequestManagedBot { request_id: 1, suggested_name: Some(name.to_string()), suggested_username: Some(username.to_string()) }),
        ..Default::default()
    };
    Ok(m.bot.call(&SavePreparedKeyboardButton::new(user, button)).await?.id)
}

/// Where the owner's bot `username` stands: `None` until the `managed_bot` update made it ours.
/// For a page that did not send the time it prepared the button (a copy of the script cached
/// from before [`newest_bot_since`]).
pub async fn bot_status(db: &Db, user: UserId, username: &str) -> anyhow::Result<Option<String>> {
    let Some(tenant) = storage::tenants::find_by_owner(&db.pool, user).await? else { return Ok(None) };
    let list = bots::list_for_tenant(&db.pool, tenant.id).await?;
    Ok(list.into_iter().find(|b| b.username.eq_ignore_ascii_case(username.trim_start_matches('@'))).map(|b| b.status))
}

/// The owner's newest bot made ours at or after `since_ms` (when the Mini App prepared its
/// button): its real username and its status; `None` until the `managed_bot` update recorded
/// it. Found by time, not by the username the owner typed: Telegram's confirm screen lets them
/// change it, and they must when it is taken.
pub async fn newest_bot_since(db: &Db, user: UserId, since_ms: i64) -> anyhow::Result<Option<(String, String)>> {
    let Some(tenant) = storage::tenants::find_by_owner(&db.pool, user).await? else { return Ok(None) };
    Ok(bots::newest_since(&db.pool, tenant.id, since_ms).await?)
}

/// What the Mini App's sign-in comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// A one-time sign-in link (the login link's: single use, 10 minutes, confirmed by a POST
    /// from its page) to this business.
    Link(TenantId, String),
    /// Neither an owner nor on a team.
    NoBusiness,
    /// On several teams and owner of none: `/login` in the manager chat sends a link for each.
    SeveralTeams,
}

/// Signs `user` in to their own business, or else to the one team they are on.
pub async fn sign_in_link(db: &Db, public_url: &url::Url, user: UserId) -> anyhow::Result<SignIn> {
    let tenant = match storage::tenants::find_by_owner(&db.pool, user).await? {
        Some(own) => own.id,
        None => match storage::team::teams_of(&db.pool, user).await?.as_slice() {
            [] => return Ok(SignIn::NoBusiness),
            [team] => team.tenant_id,
            _ => return Ok(SignIn::SeveralTeams),
        },
    };
    Ok(SignIn::Link(tenant, login::issue(db, public_url, tenant, user).await?))
}

/// Points the manager's menu button (the default for every chat) at `/miniapp`. Telegram's cloud
/// opens only HTTPS Mini Apps: with a plain-http public URL there, nothing is set (the /start
/// button and the creation link still work) and the reason is logged.
pub async fn register_menu_button(m: &Manager, public_url: &url::Url, telegram_cloud: bool) -> anyhow::Result<()> {
    if telegram_cloud && public_url.scheme() != "https" {
        tracing::info!("manager menu button not set: Telegram opens Mini Apps only over HTTPS (public_url is {})", public_url.scheme());
        return Ok(());
    }
    let url = public_url.join("miniapp")?.to_string();
    let button = MenuButton::WebApp { text: MENU_BUTTON_TEXT.into(), web_app: WebAppInfo { url } };
    m.bot.call(&SetChatMenuButton::default_for_all(button)).await?;
    Ok(())
}
