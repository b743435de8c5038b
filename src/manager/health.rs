//! Whether Telegram can deliver a business's bot's updates to bellhop: `getWebhookInfo`
//! (<https://core.telegram.org/bots/api#getwebhookinfo>) read as an owner needs it. A bot can
//! be "live" in our database and still silently dead — its webhook pointing elsewhere, or
//! Telegram's deliveries refused (a webhook secret that no longer matches: every update 401) —
//! and only Telegram can tell.
use crate::telegram::{self, methods::GetWebhookInfo};

/// What is wrong with the bot's webhook, in the owner's words; `None` when Telegram reports
/// nothing wrong (or could not be asked: an unanswered check is no alarm).
///
/// `expected_url` is the webhook bellhop sets for this bot; `last_received_ms` when its newest
/// update reached us. Telegram keeps its last delivery error after later successes, so an
/// error counts only while updates are waiting and it is newer than the last one that arrived.
pub async fn webhook_problem(bot: &telegram::Bot, expected_url: &str, last_received_ms: Option<i64>) -> Option<String> {
    let info = match bot.call(&GetWebhookInfo {}).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "getWebhookInfo failed; webhook health unknown");
            return None;
        }
    };
    if info.url != expected_url {
        return Some(if info.url.is_empty() {
            "Telegram has no address to deliver this bot's messages to.".to_owned()
        } else {
            "Telegram delivers this bot's messages to another address.".to_owned()
        });
    }
    let failing = info.pending_update_count > 0 && info.last_error_date.is_some_and(|at| last_received_ms.is_none_or(|r| at * 1000 > r));
    failing.then(|| match info.last_error_message.as_deref() {
        Some(m) if !m.is_empty() => format!("Telegram can't deliver your customers' messages to this bot (Telegram says: “{m}”); {} waiting.", waiting(info.pending_update_count)),
        _ => format!("Telegram can't deliver your customers' messages to this bot; {} waiting.", waiting(info.pending_update_count)),
    })
}

fn waiting(n: i64) -> String {
    if n == 1 { "1 message is".to_owned() } else { format!("{n} messages are") }
}
