//! `telegram.*`: the Bot API server and the manager bot.
use super::Needs;
use super::read::Reader;
use crate::domain::{BotToken, Secret};
use url::Url;

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api_url: Url,
    pub links_url: Url,
    pub manager_token: Option<BotToken>,
    pub manager_webhook_secret: Option<Secret>,
    /// `telegram.shared_limits`: `None` is `auto` (decided by the database engine).
    pub shared_limits: Option<bool>,
}

/// `None` when a URL is bad (the problem is recorded).
pub(super) fn parse(r: &mut Reader, needs: Needs) -> Option<TelegramConfig> {
    let api_url = r.http_url("telegram.api_url");
    let links_url = r.http_url("telegram.links_url");
    let manager_token = r.get("telegram.manager_token").and_then(|v| {
        BotToken::parse(v).map_err(|e| r.bad("telegram.manager_token", format!("{e}; copy it from BotFather"))).ok()
    });
    let manager_webhook_secret = r.get("telegram.manager_webhook_secret").and_then(|v| {
        let ok = (16..=256).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Some(Secret::new(v))
        } else {
            r.bad("telegram.manager_webhook_secret", "must be 16–256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)");
            None
        }
    });
    let shared_limits = match r.get_or_default("telegram.shared_limits") {
        "auto" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => {
            r.bad("telegram.shared_limits", format!("`{other}` is not `auto`, `on` or `off`"));
            None
        }
    };
    if needs == Needs::Serve {
        if r.get("telegram.manager_token").is_none() {
            r.bad("telegram.manager_token", "is required to serve: set BELLHOP_MANAGER_TOKEN to the manager bot's token (or run `bellhop demo` to try bellhop with a local Telegram)");
        }
        if r.get("telegram.manager_webhook_secret").is_none() {
            r.bad("telegram.manager_webhook_secret", "is required to serve: set BELLHOP_MANAGER_WEBHOOK_SECRET to a random string of 32+ characters");
        }
    }
    Some(TelegramConfig { api_url: api_url?, links_url: links_url?, manager_token, manager_webhook_secret, shared_limits })
}
