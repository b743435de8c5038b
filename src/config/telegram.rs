//! `telegram.*`: the Bot API server and the manager bot; and Telegram's rules for the webhook
//! address (`public_url`) when the Bot API server is Telegram's own.
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
    /// `telegram.updates`: webhooks or long polling.
    pub updates: Updates,
    /// `telegram.polling_connections`: most `getUpdates` requests open at once.
    pub polling_connections: usize,
}

/// How bots get their updates (`telegram.updates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updates {
    /// Telegram posts each update to `{public_url}/tg/…` (a public HTTPS address).
    Webhook,
    /// bellhop asks for them with `getUpdates` (`app::polling`): no public address needed.
    Polling,
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
    let updates = match r.get_or_default("telegram.updates") {
        "webhook" => Updates::Webhook,
        "polling" => Updates::Polling,
        other => {
            r.bad("telegram.updates", format!("`{other}` is not `webhook` or `polling`"));
            Updates::Webhook
        }
    };
    let polling_connections = r.number("telegram.polling_connections", 1, 10_000) as usize;
    if needs == Needs::Serve {
        if r.get("telegram.manager_token").is_none() {
            r.bad("telegram.manager_token", "is required to serve: set BELLHOP_MANAGER_TOKEN to the manager bot's token (or run `bellhop demo` to try bellhop with a local Telegram)");
        }
        // Polling needs no webhook, so no secret to authenticate one.
        if updates == Updates::Webhook && r.get("telegram.manager_webhook_secret").is_none() {
            r.bad("telegram.manager_webhook_secret", "is required to serve: set BELLHOP_MANAGER_WEBHOOK_SECRET to a random string of 16–256 characters of A-Z, a-z, 0-9, _ and - (e.g. `openssl rand -hex 24`)");
        }
    }
    Some(TelegramConfig { api_url: api_url?, links_url: links_url?, manager_token, manager_webhook_secret, shared_limits, updates, polling_connections })
}

/// Telegram's cloud Bot API host. Only there do Telegram's webhook rules apply: a self-hosted
/// Bot API server (`telegram-bot-api --local`) accepts plain-http webhooks on any port, and so
/// does bellhop's sandbox (which `demo` and the tests point `telegram.api_url` at).
pub const TELEGRAM_CLOUD_HOST: &str = "api.telegram.org";

/// The ports Telegram delivers webhooks to (<https://core.telegram.org/bots/api#setwebhook>).
pub const WEBHOOK_PORTS: [u16; 4] = [443, 80, 88, 8443];

impl TelegramConfig {
    /// Whether the Bot API server is Telegram's cloud (`api.telegram.org`), whose webhook rules
    /// [`webhook_url_problem`] checks.
    pub fn is_telegram_cloud(&self) -> bool {
        self.api_url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(TELEGRAM_CLOUD_HOST))
    }
}

/// Why Telegram's cloud would refuse webhooks under `public_url` (an HTTPS URL on port 443,
/// 80, 88 or 8443), in words for the person starting bellhop; `None` when it is fine.
pub fn webhook_url_problem(public_url: &Url) -> Option<String> {
    if public_url.scheme() != "https" {
        return Some(format!(
            "`{public_url}` is not an https:// address, and Telegram delivers messages to bots only over HTTPS: \
             set BELLHOP_PUBLIC_URL to this server's public https:// address (or run `bellhop demo` to try bellhop without Telegram)"
        ));
    }
    let port = public_url.port_or_known_default().unwrap_or(443);
    if !WEBHOOK_PORTS.contains(&port) {
        return Some(format!(
            "`{public_url}` uses port {port}, and Telegram delivers messages to bots only on ports 443, 80, 88 or 8443: \
             use one of those in BELLHOP_PUBLIC_URL (a reverse proxy can forward it to bellhop's listen port)"
        ));
    }
    None
}
