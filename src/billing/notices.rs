//! What the owner is told in the manager chat about their usage: at 80 % and at 100 % of the
//! period's answers, once each per period, with a button to see the plans.
use super::Billing;
use super::meter::Notice;
use crate::domain::TenantId;
use crate::storage;
use crate::telegram::methods::SendMessage;
use crate::telegram::{InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

/// Callback data of the "see plans" button (handled by `billing::stars::callback`).
pub const PLANS_BUTTON: &str = "bill:plan";

pub fn upgrade_button() -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: vec![vec![InlineKeyboardButton::callback("⬆️ Upgrade or buy answers", PLANS_BUTTON)]] })
}

pub fn text(n: Notice) -> &'static str {
    match n {
        Notice::Eighty => "📈 Your bot has used <b>80%</b> of this month's AI answers. When they run out, customers are offered a person instead of an answer. Upgrade or buy extra answers to keep it answering.",
        Notice::Exhausted => "⚠️ Your bot has used <b>all</b> of this month's AI answers. Customers now get your \"temporarily unavailable\" message and the offer of a person; answers from your Q&amp;A pairs still work. Upgrade or buy extra answers to switch AI answers back on.",
    }
}

/// Sends the notice; a failure is logged, not retried (the notice was claimed once already).
pub async fn send(billing: &Billing, tenant: TenantId, n: Notice) {
    let Some(manager) = &billing.manager else { return };
    let owner = match storage::tenants::get(&billing.db.pool, tenant).await {
        Ok(Some(t)) => t.owner_user_id,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(tenant_id = tenant.0, error = %e, "could not look up the owner for a usage notice");
            return;
        }
    };
    let mut msg = SendMessage::html(owner.0, text(n));
    msg.reply_markup = Some(upgrade_button());
    if let Err(e) = send_patiently(&manager.bot, &msg).await {
        tracing::warn!(tenant_id = tenant.0, error = %e, "could not send a usage notice to the owner");
    }
}

/// Sends a message, waiting out Telegram's per-chat rate limit (a few retries of `retry_after`):
/// a thank-you or a usage notice right after other messages in the same chat must not be lost.
pub async fn send_patiently(bot: &crate::telegram::Bot, msg: &SendMessage) -> Result<crate::telegram::Message, crate::telegram::TelegramError> {
    let mut attempt = 0;
    loop {
        match bot.send_message(msg).await {
            Err(crate::telegram::TelegramError::RetryAfter(secs)) if attempt < 3 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(secs.clamp(1, 30) as u64)).await;
            }
            other => return other,
        }
    }
}
