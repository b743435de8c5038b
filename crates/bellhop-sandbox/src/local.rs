//! The sandbox as a *self-hosted* Bot API server (`telegram-bot-api --local`), in front of
//! another sandbox playing Telegram (`SandboxOptions::local_for`, `bellhop sandbox --local URL`).
//!
//! A real local server accepts any token Telegram knows: it logs the bot in to Telegram's data
//! centres with the token. Here the cloud sandbox plays those data centres: the first call with
//! a token this server does not know asks the cloud sandbox (`POST /sandbox/api/local-login`,
//! which is not a Bot API call, so it neither launches the bot on the cloud server nor is refused
//! while the bot is logged out there) for the bot behind it, and its owner, and remembers them.
//! A token the cloud does not know is 401 `Unauthorized`, as on Telegram.
//!
//! What is not shared: the two sandboxes are two worlds. Customers of the local server are its
//! own simulated users (the bot's owner is copied, with the same id); chats and messages from
//! before the move stay in the cloud sandbox; a token replaced at the cloud afterwards still
//! works here; bots are created through the cloud sandbox only.
use super::Shared;
use super::world::SimUser;
use serde_json::{Value, json};

/// The bot behind `token`, learned from the cloud sandbox; `None` when this sandbox is not a
/// local server or the cloud does not know the token.
pub async fn learn(s: &Shared, token: &str) -> Option<i64> {
    let upstream = s.opts.local_for.as_deref()?;
    let answer: Value = s.http.post(format!("{}/sandbox/api/local-login", upstream.trim_end_matches('/'))).json(&json!({ "token": token })).send().await.ok()?.json().await.ok()?;
    if answer["ok"] != json!(true) {
        return None;
    }
    let bot = &answer["result"]["bot"];
    let owner: Option<SimUser> = serde_json::from_value(answer["result"]["owner"].clone()).ok();
    let mut w = s.world();
    // Another request may have learned it meanwhile.
    if let Some(id) = w.tokens.get(token) {
        return Some(*id);
    }
    let id = w.add_bot(bot["username"].as_str()?, bot["first_name"].as_str().unwrap_or_default(), Some(token.to_owned()), bot["can_manage_bots"].as_bool().unwrap_or(false));
    if let Some(b) = w.bots.get_mut(&id) {
        b.can_read_all_group_messages = bot["can_read_all_group_messages"].as_bool().unwrap_or(false);
        b.manager_id = bot["manager_id"].as_i64();
        b.owner_id = bot["owner_id"].as_i64();
        b.name = bot["name"].as_str().map(str::to_owned);
    }
    if let Some(u) = owner {
        // Users made here later get ids after the owner's.
        w.next_user_id = w.next_user_id.max(u.id);
        w.users.entry(u.id).or_insert(u);
    }
    if bot["can_manage_bots"].as_bool() == Some(true) && s.manager_id() == 0 {
        s.set_manager_id(id);
    }
    Some(id)
}
