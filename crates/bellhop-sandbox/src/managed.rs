//! The managed-bot world (Bot API 9.6+). A user opens a creation link
//! `https://t.me/newbot/{manager}/{username}?name={name}` or presses a `request_managed_bot`
//! button; Telegram shows a confirm screen with the name and username pre-filled and editable;
//! on confirm it validates them, creates the child bot with a fresh token, sends the manager a
//! `managed_bot` update and a `managed_bot_created` service message in its chat with the user.
//! The manager then reads the child's token with `getManagedBotToken`, and may restrict who
//! can use it with `setManagedBotAccessSettings` (Bot API 10.1).
use super::Shared;
use super::params::{ApiError, Params, ok};
use super::world::{CreationRequest, World, random_id};
use bellhop_telegram::{BotName, BotUsername};
use bellhop_telegram::types::*;
use axum::response::Response;
use serde_json::json;

/// Why a creation was refused, with Telegram's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CreationError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> CreationError {
    CreationError { code, message: message.into() }
}

/// Parses a creation link into (manager username, suggested username, suggested name).
#[cfg(test)]
pub fn parse_link(link: &str) -> Result<(String, String, String), CreationError> {
    parse_link_at(link, None)
}

/// [`parse_link`], also taking the link at this sandbox's own address (`own`: `host:port`, as
/// the request came in): what bellhop's landing page prints with `telegram.links_url` pointing at
/// the sandbox (`demo`), and what the sandbox's own `GET /newbot/…` page opens.
pub fn parse_link_at(link: &str, own: Option<&str>) -> Result<(String, String, String), CreationError> {
    let url = url::Url::parse(link).map_err(|_| refuse("LINK_INVALID", "not a link"))?;
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let authority = url.host_str().map(|h| match url.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_owned(),
    });
    let here = own.is_some_and(|o| authority.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(o)));
    if !(matches!(url.host_str(), Some("t.me" | "telegram.me")) || here) || segments.first() != Some(&"newbot") || segments.len() < 2 {
        return Err(refuse("LINK_INVALID", "expected https://t.me/newbot/{manager}/{username}?name={name} (or the same path at this sandbox's address)"));
    }
    let manager = segments[1].to_owned();
    let username = segments.get(2).map(|s| urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_default()).unwrap_or_default();
    let name = url.query_pairs().find(|(k, _)| k == "name").map(|(_, v)| v.into_owned()).unwrap_or_default();
    Ok((manager, username, name))
}

/// Opens the confirm screen for `user_id`.
pub fn open(w: &mut World, user_id: i64, manager_username: &str, username: &str, name: &str) -> Result<CreationRequest, CreationError> {
    if !w.users.contains_key(&user_id) {
        return Err(refuse("USER_INVALID", "no such user"));
    }
    let manager = w.bot_by_username(manager_username).ok_or_else(|| refuse("MANAGER_INVALID", format!("no bot @{manager_username}")))?;
    if !manager.can_manage_bots {
        return Err(refuse("MANAGER_PERMISSION_MISSING", "this bot cannot manage other bots"));
    }
    let req = CreationRequest {
        id: random_id("cr"),
        user_id,
        manager_id: manager.id,
        manager_username: manager.username.clone(),
        suggested_username: username.to_owned(),
        suggested_name: name.to_owned(),
    };
    w.creation_requests.insert(req.id.clone(), req.clone());
    Ok(req)
}

/// Confirms a creation screen with the (possibly edited) username and name.
pub fn confirm(w: &mut World, request_id: &str, username: &str, name: &str, limit: usize) -> Result<User, CreationError> {
    let req = w.creation_requests.get(request_id).cloned().ok_or_else(|| refuse("REQUEST_INVALID", "no such creation request"))?;
    let manager = w.bots.get(&req.manager_id).ok_or_else(|| refuse("MANAGER_INVALID", "the manager bot is gone"))?;
    if !manager.can_manage_bots {
        return Err(refuse("MANAGER_PERMISSION_MISSING", "this bot cannot manage other bots"));
    }
    let username = BotUsername::parse(username).map_err(|e| refuse(e.telegram_code(), e.to_string()))?;
    let name = BotName::parse(name).map_err(|e| refuse(e.telegram_code(), e.to_string()))?;
    if w.username_taken(username.as_str()) {
        return Err(refuse("USERNAME_OCCUPIED", "Sorry, this username is already taken."));
    }
    let owned = w.bots.values().filter(|b| b.owner_id == Some(req.user_id)).count();
    if owned >= limit {
        return Err(refuse("BOT_CREATE_LIMIT_EXCEEDED", format!("a user may own at most {limit} bots")));
    }
    w.creation_requests.remove(request_id);
    let id = w.add_bot(username.as_str(), name.as_str(), None, false);
    if let Some(b) = w.bots.get_mut(&id) {
        b.manager_id = Some(req.manager_id);
        b.owner_id = Some(req.user_id);
    }
    let bot_user = w.bots[&id].user();
    announce(w, req.manager_id, id, req.user_id);
    // The service message in the creator's chat with the manager.
    let service = Message { managed_bot_created: Some(ManagedBotCreated { bot: bot_user.clone() }), ..Default::default() };
    if let Some(u) = w.users.get_mut(&req.user_id)
        && !u.started.contains(&req.manager_id) {
            u.started.push(req.manager_id);
        }
    let _ = w.user_message(req.user_id, req.manager_id, req.user_id, service);
    Ok(bot_user)
}

/// Sends `managed_bot` to the manager: created, token replaced or owner changed.
pub fn announce(w: &mut World, manager_id: i64, bot_id: i64, owner_id: i64) {
    let Some(owner) = w.users.get(&owner_id).map(|u| u.user()) else { return };
    let Some(bot) = w.bots.get(&bot_id).map(|b| b.user()) else { return };
    let update = ManagedBotUpdated { user: owner, bot };
    w.push_update(manager_id, "managed_bot", serde_json::to_value(update).unwrap_or_default());
}

/// Changes a managed bot's owner (as if transferred in Telegram) and tells the manager.
pub fn change_owner(w: &mut World, bot_id: i64, new_owner: i64) -> Result<(), CreationError> {
    if !w.users.contains_key(&new_owner) {
        return Err(refuse("USER_INVALID", "no such user"));
    }
    let b = w.bots.get_mut(&bot_id).ok_or_else(|| refuse("BOT_INVALID", "no such bot"))?;
    let manager = b.manager_id.ok_or_else(|| refuse("BOT_NOT_MANAGED", "this bot has no manager"))?;
    b.owner_id = Some(new_owner);
    announce(w, manager, bot_id, new_owner);
    Ok(())
}

fn managed_by(w: &World, manager: i64, p: &Params) -> Result<i64, ApiError> {
    let id = p.req_i64("user_id")?;
    match w.bots.get(&id) {
        Some(b) if b.manager_id == Some(manager) => Ok(id),
        Some(_) => Err(ApiError::bad_request("BOT_NOT_MANAGED")),
        None => Err(ApiError::bad_request("user not found")),
    }
}

pub fn get_token(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let w = s.world();
    let child = managed_by(&w, bot, p)?;
    Ok(ok(w.bots[&child].token.clone()))
}

pub fn replace_token(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let mut w = s.world();
    let child = managed_by(&w, bot, p)?;
    let old = w.bots[&child].token.clone();
    let fresh = super::world::new_token(child);
    w.tokens.remove(&old);
    w.tokens.insert(fresh.clone(), child);
    let owner = w.bots[&child].owner_id;
    if let Some(b) = w.bots.get_mut(&child) {
        b.token = fresh.clone();
        // A revoked token loses its webhook and polling session, as in Telegram.
        b.webhook = None;
        b.webhook_generation += 1;
    }
    if let Some(owner) = owner {
        announce(&mut w, bot, child, owner);
    }
    Ok(ok(fresh))
}

pub fn save_prepared_button(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let user = p.req_i64("user_id")?;
    let button: KeyboardButton = p.typed("button")?.ok_or_else(|| ApiError::bad_request("parameter \"button\" is required"))?;
    // Only buttons that ask the user to pick someone or something can be prepared.
    if button.request_users.is_none() && button.request_chat.is_none() && button.request_managed_bot.is_none() {
        return Err(ApiError::bad_request("BUTTON_TYPE_INVALID"));
    }
    if button.request_users.as_ref().and_then(|r| r.max_quantity).is_some_and(|q| !(1..=10).contains(&q)) {
        return Err(ApiError::bad_request("BUTTON_TYPE_INVALID"));
    }
    let mut w = s.world();
    if !w.users.contains_key(&user) {
        return Err(ApiError::bad_request("user not found"));
    }
    if button.request_managed_bot.is_some() && !w.bots[&bot].can_manage_bots {
        return Err(ApiError::bad_request("MANAGER_PERMISSION_MISSING"));
    }
    let id = random_id("pkb");
    w.prepared_buttons.insert(id.clone(), (bot, user, button));
    Ok(ok(json!({ "id": id })))
}

/// `getManagedBotAccessSettings`: who may use a managed bot.
pub fn get_access(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let w = s.world();
    let child = &w.bots[&managed_by(&w, bot, p)?];
    let added_users = child.access_restricted.then(|| child.access_user_ids.iter().filter_map(|id| w.users.get(id).map(|u| u.user())).collect::<Vec<_>>());
    Ok(ok(BotAccessSettings { is_access_restricted: child.access_restricted, added_users }))
}

/// `setManagedBotAccessSettings`: restrict a managed bot to its owner and up to 10 users, or
/// open it. The list is ignored (and cleared) when access is not restricted.
pub fn set_access(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let restricted = p.bool("is_access_restricted")?.ok_or_else(|| ApiError::bad_request("parameter \"is_access_restricted\" is required"))?;
    let added: Vec<i64> = if restricted { p.typed("added_user_ids")?.unwrap_or_default() } else { vec![] };
    if added.len() > 10 {
        return Err(ApiError::bad_request("too many users specified"));
    }
    let mut w = s.world();
    let child = managed_by(&w, bot, p)?;
    if added.iter().any(|id| !w.users.contains_key(id)) {
        return Err(ApiError::bad_request("user not found"));
    }
    let owner = w.bots[&child].owner_id;
    let b = w.bots.get_mut(&child).ok_or_else(|| ApiError::bad_request("user not found"))?;
    b.access_restricted = restricted;
    b.access_user_ids = added.into_iter().filter(|id| Some(*id) != owner).fold(Vec::new(), |mut v, id| {
        if !v.contains(&id) {
            v.push(id);
        }
        v
    });
    Ok(ok(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_links_parse_with_encoded_names() {
        let (m, u, n) = parse_link("https://t.me/newbot/bellhop_manager_bot/pizza_bot?name=Pizza%20Pal").unwrap();
        assert_eq!((m.as_str(), u.as_str(), n.as_str()), ("bellhop_manager_bot", "pizza_bot", "Pizza Pal"));
        assert!(parse_link("https://example.com/newbot/x/y").is_err());
    }

    #[test]
    fn a_creation_link_at_the_sandboxs_own_address_is_taken_too() {
        let link = "http://127.0.0.1:19081/newbot/walkd_manager_bot/walkd_deli_bot?name=Deli";
        assert_eq!(parse_link_at(link, Some("127.0.0.1:19081")).unwrap(), ("walkd_manager_bot".into(), "walkd_deli_bot".into(), "Deli".into()));
        assert_eq!(parse_link_at(link, None).unwrap_err().code, "LINK_INVALID");
        assert_eq!(parse_link_at(link, Some("127.0.0.1:19082")).unwrap_err().code, "LINK_INVALID", "another address");
        assert!(parse_link_at("http://127.0.0.1:19081/other/x/y", Some("127.0.0.1:19081")).is_err());
    }
}
