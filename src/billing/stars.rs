//! Telegram Stars through the manager bot (<https://core.telegram.org/bots/payments-stars>).
//!
//! - `/plan` (and the notices' button): usage this period, the plans and packs.
//! - One-off packs: `sendInvoice` in XTR. Monthly plans: a Star subscription link from
//!   `createInvoiceLink` with `subscription_period` 2592000.
//! - `pre_checkout_query`: checked (the product exists, the price matches, the payer owns an
//!   existing business) and answered on the priority lane — Telegram waits 10 s at most.
//! - `successful_payment`: credited once per `telegram_payment_charge_id` (a unique row in
//!   `billing_payments`, written in the same transaction as the credit); a subscription's
//!   renewals arrive as new payments and extend the paid time. A new plan's first payment
//!   cancels the renewal of the Star subscription it replaces; a renewal of a subscription the
//!   account no longer follows changes nothing and is cancelled and refunded; so does a payment
//!   for a plan or pack the operator has taken out of the configuration (a plan's subscription is
//!   cancelled too), and the owner is told to choose from `/plan`.
//! - Cancelling and resuming renewal: `editUserStarSubscription`. Refunds: the operator's
//!   `bellhop billing refund` (`refundStarPayment`), and the `refunded_payment` message.
use super::notices::PLANS_BUTTON;
use super::{Billing, account};
use crate::domain::{BotId, ChatId, TenantId, UserId};
use crate::jobs::{JobError, job_error};
use crate::manager::Manager;
use crate::storage::billing::{self as sql, NewPayment};
use crate::storage::{self, Db, now_ms};
use crate::telegram::html::escape;
use crate::telegram::methods::{AnswerCallbackQuery, AnswerPreCheckoutQuery, CreateInvoiceLink, EditUserStarSubscription, RefundStarPayment, SendInvoice, SendMessage};
use crate::telegram::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, PreCheckoutQuery, ReplyMarkup, SuccessfulPayment, TelegramError};

/// What an invoice sells, as carried in its payload (≤ 128 bytes): `t<tenant>:pack:<id>`,
/// `t<tenant>:plan:<id>`, or for the customer paywall `pw:<tenant>:<bot>:<questions>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product {
    Pack { tenant: TenantId, id: String },
    Plan { tenant: TenantId, id: String },
    Paywall { tenant: TenantId, bot: i64, questions: i64 },
}

impl Product {
    pub fn payload(&self) -> String {
        match self {
            Product::Pack { tenant, id } => format!("t{}:pack:{id}", tenant.0),
            Product::Plan { tenant, id } => format!("t{}:plan:{id}", tenant.0),
            Product::Paywall { tenant, bot, questions } => format!("pw:{}:{bot}:{questions}", tenant.0),
        }
    }

    pub fn parse(s: &str) -> Option<Product> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts[..] {
            [t, "pack", id] => Some(Product::Pack { tenant: TenantId(t.strip_prefix('t')?.parse().ok()?), id: id.into() }),
            [t, "plan", id] => Some(Product::Plan { tenant: TenantId(t.strip_prefix('t')?.parse().ok()?), id: id.into() }),
            ["pw", t, bot, q] => Some(Product::Paywall { tenant: TenantId(t.parse().ok()?), bot: bot.parse().ok()?, questions: q.parse().ok()? }),
            _ => None,
        }
    }
}

/// Whether a manager-chat message is billing's: `/plan`, or a payment service message.
pub fn handles(msg: &Message) -> bool {
    let command = msg.text.as_deref().unwrap_or_default().split_whitespace().next().unwrap_or_default().split('@').next().unwrap_or_default();
    msg.successful_payment.is_some() || msg.refunded_payment.is_some() || command == "/plan"
}

/// A billing message in the manager chat.
pub async fn message(billing: &Billing, m: &Manager, msg: Message) -> Result<(), JobError> {
    let Some(from) = msg.from.as_ref() else { return Ok(()) };
    if let Some(paid) = &msg.successful_payment {
        return successful_payment(billing, m, from.id, paid).await;
    }
    if let Some(r) = &msg.refunded_payment {
        if let Some(p) = sql::payment_by_charge(&billing.db.pool, &r.telegram_payment_charge_id).await?.into_iter().find(|p| p.provider == "stars") {
            apply_refund(billing, &p).await?;
        }
        return Ok(());
    }
    let reply = plan_message(billing, ChatId(msg.chat.id), UserId(from.id)).await?;
    super::notices::send_patiently(&m.bot, &reply).await.map_err(|e| job_error(e, "sending /plan"))?;
    Ok(())
}

/// A day as owners read it: `21 Nov 2026` (UTC).
pub fn date(ms: i64) -> String {
    let (y, m, d) = crate::domain::civil(ms);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{d} {} {y}", MONTHS[(m - 1) as usize])
}

pub fn date_of_day(day: i64) -> String {
    date(day * 86_400_000)
}

/// Whether the business's plan is paid by a Stars subscription that still renews: a card
/// subscription beside it would charge the owner twice, and the next payment of either would
/// switch the plan to its own.
pub fn renews_in_stars(acc: &sql::Account, now: i64) -> bool {
    acc.plan_source == "stars" && acc.stars_charge_id.as_deref().is_some_and(|c| !c.is_empty()) && !acc.stars_canceled && acc.plan_expires_at.is_some_and(|e| e > now)
}

/// Usage and offers: what `/plan` answers.
pub async fn plan_message(billing: &Billing, chat: ChatId, user: UserId) -> Result<SendMessage, JobError> {
    let Some(tenant) = storage::tenants::find_by_owner(&billing.db.pool, user).await?.map(|t| t.id) else {
        return Ok(SendMessage::html(chat, "You don't have a bot yet. Send /start to create one — it starts on the free plan."));
    };
    let cfg = &*billing.cfg;
    let now = now_ms();
    let (acc, plan, usage) = account::current(&billing.db, cfg, tenant, now).await?;
    let closed = storage::privacy::is_closed(&billing.db.pool, tenant).await?;
    let mut text = format!(
        "📊 <b>Your plan: {}</b>\n\nThe plan's AI answers this period: <b>{} of {}</b> used (renews on {}).",
        escape(&plan.name),
        usage.used,
        usage.allowance,
        date(acc.period_end)
    );
    if usage.from_packs > 0 {
        text.push_str(&format!("\nAnswers paid from packs this period: <b>{}</b>.", usage.from_packs));
    }
    if acc.pack_credits > 0 {
        text.push_str(&format!("\nExtra answers from packs: <b>{}</b> left (they don't expire).", acc.pack_credits));
    }
    match (acc.plan_source.as_str(), acc.stars_canceled) {
        ("stars", false) => text.push_str(&format!("\nPaid monthly in Stars; next renewal around {}.", date(acc.plan_expires_at.unwrap_or(now)))),
        ("stars", true) => text.push_str(&format!("\nRenewal is cancelled: the plan ends on {}.", date(acc.plan_expires_at.unwrap_or(now)))),
        ("stripe", _) => text.push_str("\nPaid monthly by card — manage it on your admin page (Billing)."),
        _ => {}
    }
    // No Stars subscription beside a card one: it would charge twice (packs are one-off).
    let by_card = super::stripe::pays_by_card(&acc);
    if by_card {
        text.push_str("\nTo change your plan, use “Change or cancel the card subscription” on the Billing page: paying in Stars as well would charge you twice.");
    }
    if renews_in_stars(&acc, now) && !by_card {
        text.push_str("\nChoosing another plan below starts it at once and cancels this plan's renewal, so only one is charged each month.");
    }
    text.push_str("\n\n<b>Plans</b>");
    for p in &cfg.plans {
        let price = if p.stars == 0 { "free".to_owned() } else { format!("{} ⭐ a month", p.stars) };
        text.push_str(&format!("\n• {} — {} answers a month, {} bot{}, {} sources — {price}", escape(&p.name), p.answers, p.bots, if p.bots == 1 { "" } else { "s" }, p.sources));
    }
    let mut rows = Vec::new();
    if closed {
        text.push_str("\n\n");
        text.push_str(CLOSED);
        return Ok(SendMessage::html(chat, text));
    }
    for p in cfg.plans.iter().filter(|p| p.stars > 0 && p.id != plan.id && !by_card) {
        let link = CreateInvoiceLink::monthly_stars(
            &format!("bellhop {}", p.name),
            &format!("{} AI answers a month for your support bot, renewed every 30 days. Cancel any time with /plan.", p.answers),
            &super::stars::Product::Plan { tenant, id: p.id.clone() }.payload(),
            p.stars,
        );
        let manager = billing.manager.as_ref().ok_or_else(|| JobError::Permanent(anyhow::anyhow!("no manager bot")))?;
        let url = manager.bot.call(&link).await.map_err(|e| job_error(e, "createInvoiceLink"))?;
        rows.push(vec![InlineKeyboardButton::url(format!("⭐ {} — {} ⭐/month", p.name, p.stars), url)]);
    }
    for pack in &cfg.packs {
        rows.push(vec![InlineKeyboardButton::callback(format!("➕ {} — {} ⭐", pack.name, pack.stars), format!("bill:pack:{}", pack.id))]);
    }
    if acc.plan_source == "stars" && acc.stars_charge_id.is_some() {
        if !acc.stars_canceled {
            rows.push(vec![InlineKeyboardButton::callback("✖️ Cancel renewal", "bill:cancel")]);
        } else if resume_refusal(&acc, closed, now).is_none() {
            rows.push(vec![InlineKeyboardButton::callback("▶️ Resume renewal", "bill:resume")]);
        }
    }
    let mut msg = SendMessage::html(chat, text);
    if !rows.is_empty() {
        msg.reply_markup = Some(ReplyMarkup::Inline(InlineKeyboardMarkup { inline_keyboard: rows }));
    }
    Ok(msg)
}

/// A press of one of billing's buttons (`bill:…`) in the manager chat.
pub async fn callback(billing: &Billing, m: &Manager, q: CallbackQuery) -> Result<(), JobError> {
    let _ = m.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
    let chat = ChatId(q.message().map(|msg| msg.chat.id).unwrap_or(q.from.id));
    let user = UserId(q.from.id);
    let data = q.data.as_deref().unwrap_or_default();
    let Some(tenant) = storage::tenants::find_by_owner(&billing.db.pool, user).await?.map(|t| t.id) else {
        super::notices::send_patiently(&m.bot, &SendMessage::html(chat, "You don't have a bot yet. Send /start to create one.")).await.map_err(|e| job_error(e, "sendMessage"))?;
        return Ok(());
    };
    if data == PLANS_BUTTON {
        let reply = plan_message(billing, chat, user).await?;
        super::notices::send_patiently(&m.bot, &reply).await.map_err(|e| job_error(e, "sending /plan"))?;
    } else if let Some(id) = data.strip_prefix("bill:pack:") {
        let Some(pack) = billing.cfg.packs.iter().find(|p| p.id == id) else {
            super::notices::send_patiently(&m.bot, &SendMessage::html(chat, "That pack is no longer offered. Send /plan to see the current ones.")).await.map_err(|e| job_error(e, "sendMessage"))?;
            return Ok(());
        };
        let invoice = SendInvoice::stars(
            chat,
            &pack.name,
            &format!("{} extra AI answers for your support bot. They don't expire.", pack.answers),
            &Product::Pack { tenant, id: pack.id.clone() }.payload(),
            pack.stars,
        );
        m.bot.call(&invoice).await.map_err(|e| job_error(e, "sendInvoice"))?;
    } else if data == "bill:cancel" || data == "bill:resume" {
        let cancel = data == "bill:cancel";
        let (Renewal::Changed(text) | Renewal::Refused(text)) = set_renewal(billing, m, tenant, cancel).await?;
        super::notices::send_patiently(&m.bot, &SendMessage::html(chat, text)).await.map_err(|e| job_error(e, "sendMessage"))?;
    }
    Ok(())
}

/// Said to an owner whose account is closed and who tries to pay or renew.
pub const CLOSED: &str = "Your account is closed, so nothing can be bought or renewed. To keep it, send /login and press “Keep my account” on the Billing page.";

/// Why the Star subscription's renewal cannot be resumed, in the owner's words; `None`: it can.
/// Only a plan still paid in Stars and not yet ended resumes; never beside a card subscription
/// (both would charge, and each payment would switch the plan to its own), nor for a closed
/// account.
pub fn resume_refusal(acc: &sql::Account, closed: bool, now: i64) -> Option<&'static str> {
    if closed {
        Some(CLOSED)
    } else if super::stripe::pays_by_card(acc) {
        Some("Your plan is paid by card now, so the Stars renewal stays cancelled: resuming it would charge you twice.")
    } else if acc.plan_source != "stars" || !acc.plan_expires_at.is_some_and(|t| t > now) {
        Some("Your plan paid in Stars has ended and can't be resumed. Send /plan to choose a plan.")
    } else {
        None
    }
}

/// What [`set_renewal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// Telegram took the change; what to tell the owner.
    Changed(String),
    /// Nothing was changed; why, in the owner's words.
    Refused(String),
}

/// Cancels or resumes the renewal of the tenant's Star subscription (a resume only when
/// [`resume_refusal`] allows it).
pub async fn set_renewal(billing: &Billing, m: &Manager, tenant: TenantId, cancel: bool) -> Result<Renewal, JobError> {
    let acc = sql::get_account(&billing.db.pool, tenant).await?;
    let Some((charge, user)) = acc.as_ref().and_then(|a| Some((a.stars_charge_id.clone()?, a.stars_user_id?))) else {
        return Ok(Renewal::Refused("You have no subscription paid in Stars.".into()));
    };
    if !cancel {
        let closed = storage::privacy::is_closed(&billing.db.pool, tenant).await?;
        if let Some(why) = acc.as_ref().and_then(|a| resume_refusal(a, closed, now_ms())) {
            return Ok(Renewal::Refused(why.into()));
        }
    }
    let req = EditUserStarSubscription { user_id: UserId(user), telegram_payment_charge_id: charge, is_canceled: cancel };
    m.bot.call(&req).await.map_err(|e| job_error(e, "editUserStarSubscription"))?;
    let mut conn = billing.db.pool.acquire().await?;
    sql::set_stars_canceled(&mut conn, tenant, cancel).await?;
    let until = acc.and_then(|a| a.plan_expires_at).map(date).unwrap_or_default();
    Ok(Renewal::Changed(if cancel {
        format!("Renewal cancelled. Your plan stays until {until}; after that your bot moves to the free plan. Send /plan to resume.")
    } else {
        "Renewal resumed: your plan renews every 30 days.".into()
    }))
}

/// Why a pre-checkout is refused, in words the payer understands; `None`: accept.
async fn check(billing: &Billing, q: &PreCheckoutQuery, product: Option<&Product>) -> anyhow::Result<Option<&'static str>> {
    let cfg = &*billing.cfg;
    let Some(product) = product else { return Ok(Some("This invoice is not valid any more. Send /plan for a new one.")) };
    if q.currency != "XTR" {
        return Ok(Some("Payments are accepted in Telegram Stars only."));
    }
    let (tenant, price) = match product {
        Product::Pack { tenant, id } => (*tenant, cfg.packs.iter().find(|p| &p.id == id).map(|p| p.stars)),
        Product::Plan { tenant, id } => (*tenant, cfg.plans.iter().find(|p| &p.id == id && p.stars > 0).map(|p| p.stars)),
        Product::Paywall { .. } => return Ok(Some("This invoice is not valid any more.")),
    };
    let Some(price) = price else { return Ok(Some("This offer is no longer available. Send /plan to see the current ones.")) };
    if price != q.total_amount {
        return Ok(Some("The price has changed since this invoice was made. Send /plan for a new one."));
    }
    match storage::tenants::get(&billing.db.pool, tenant).await? {
        Some(t) if t.owner_user_id.0 == q.from.id => {}
        _ => return Ok(Some("This invoice belongs to another account. Send /plan for your own.")),
    }
    if storage::privacy::is_closed(&billing.db.pool, tenant).await? {
        return Ok(Some(CLOSED));
    }
    // A plan in Stars while a card subscription pays for one (an invoice from before, say):
    // both would charge, and each payment would switch the plan to its own.
    if matches!(product, Product::Plan { .. }) && sql::get_account(&billing.db.pool, tenant).await?.as_ref().is_some_and(super::stripe::pays_by_card) {
        return Ok(Some("You already pay for your plan by card. To change it, use the Billing page of your admin: paying in Stars as well would charge you twice."));
    }
    Ok(None)
}

/// Answers a manager-bot `pre_checkout_query` (priority lane; Telegram waits 10 s at most).
#[tracing::instrument(name = "billing.pre_checkout", skip_all)]
pub async fn pre_checkout(billing: &Billing, m: &Manager, q: PreCheckoutQuery) -> Result<(), JobError> {
    let started = now_ms();
    let product = Product::parse(&q.invoice_payload);
    let refusal = check(billing, &q, product.as_ref()).await?;
    answer_pre_checkout(&billing.db, &m.bot, &q, product.as_ref(), refusal, started).await
}

/// Sends the answer (and records a refusal). A query Telegram already gave up on is not retried.
pub async fn answer_pre_checkout(
    db: &Db,
    bot: &crate::telegram::Bot,
    q: &PreCheckoutQuery,
    product: Option<&Product>,
    refusal: Option<&str>,
    started: i64,
) -> Result<(), JobError> {
    let req = AnswerPreCheckoutQuery { pre_checkout_query_id: q.id.clone(), ok: refusal.is_none(), error_message: refusal.map(str::to_owned) };
    match bot.call(&req).await {
        Ok(_) => {}
        Err(TelegramError::QueryTooOld) => {
            tracing::warn!("pre-checkout query expired before it was answered");
        }
        Err(e) => return Err(job_error(e, "answerPreCheckoutQuery")),
    }
    // Refusals are kept for the owner's and the operator's questions. Accepted ones are not
    // written here: the payment that follows is, and on SQLite every write on this path costs
    // latency under load (see BENCHMARKS.md).
    if let Some(reason) = refusal {
        let tenant = product.map(|p| match p {
            Product::Pack { tenant, .. } | Product::Plan { tenant, .. } | Product::Paywall { tenant, .. } => *tenant,
        });
        let checkout = sql::Checkout { query_id: &q.id, tenant, payload: &q.invoice_payload, ok: false, reason: Some(reason), received_at: started, answered_at: now_ms() };
        sql::record_checkout(&db.pool, &checkout).await?;
    }
    Ok(())
}

/// A `successful_payment` in the manager chat: credited once per charge id.
#[tracing::instrument(name = "billing.successful_payment", skip_all)]
pub async fn successful_payment(billing: &Billing, m: &Manager, payer: i64, paid: &SuccessfulPayment) -> Result<(), JobError> {
    let cfg = &*billing.cfg;
    let Some(product) = Product::parse(&paid.invoice_payload) else {
        tracing::error!(charge = %paid.telegram_payment_charge_id, "a payment with a payload bellhop did not make; refund it with `bellhop billing refund`");
        return Ok(());
    };
    let now = now_ms();
    let charge = paid.telegram_payment_charge_id.as_str();
    let mut tx = billing.db.begin().await?;
    let (tenant, reply) = match &product {
        Product::Pack { tenant, id } => {
            let Some(pack) = cfg.packs.iter().find(|p| &p.id == id) else {
                // Taken out of `billing.packs` between the pre-checkout and the payment.
                let new = NewPayment { tenant_id: *tenant, provider: "stars", external_id: charge, kind: "pack", product: id, amount: paid.total_amount, currency: &paid.currency, payer_id: Some(payer), bot_id: Some(m.id.0), credits: 0 };
                if !sql::insert_payment(&mut tx, &new, now).await? {
                    return Ok(());
                }
                tx.commit().await?;
                return no_longer_offered(billing, m, *tenant, payer, paid, Offer::Pack).await;
            };
            let new = NewPayment { tenant_id: *tenant, provider: "stars", external_id: charge, kind: "pack", product: id, amount: paid.total_amount, currency: &paid.currency, payer_id: Some(payer), bot_id: Some(m.id.0), credits: pack.answers };
            if !sql::insert_payment(&mut tx, &new, now).await? {
                return Ok(()); // credited on an earlier delivery
            }
            account::open(&mut tx, cfg, *tenant, now).await?;
            account::add_pack(&mut tx, *tenant, pack, &format!("stars:{charge}"), now).await?;
            (*tenant, format!("✅ Thank you! <b>{}</b> extra AI answers are now available to your bot.", pack.answers))
        }
        Product::Plan { tenant, id } => {
            let Some(plan) = cfg.plans.iter().find(|p| &p.id == id) else {
                // A plan the operator took out of `billing.plans`: a renewal of its subscription,
                // or a first payment of an invoice made before. How many answers it would give is
                // no longer known, so it is not honoured: booked once with none, refunded, its
                // subscription cancelled so it stops charging, and the account left as it is.
                let new = NewPayment { tenant_id: *tenant, provider: "stars", external_id: charge, kind: "plan", product: id, amount: paid.total_amount, currency: &paid.currency, payer_id: Some(payer), bot_id: Some(m.id.0), credits: 0 };
                if !sql::insert_payment(&mut tx, &new, now).await? {
                    return Ok(());
                }
                tx.commit().await?;
                return no_longer_offered(billing, m, *tenant, payer, paid, Offer::Plan).await;
            };
            let renewal = paid.is_first_recurring == Some(false);
            let acc = account::open(&mut tx, cfg, *tenant, now).await?;
            // A renewal counts only if it renews the subscription the plan is tracked by; any
            // other one (an old plan's, or a Stars one while a card pays) would switch the plan.
            let stray = renewal && (super::stripe::pays_by_card(&acc) || tracked_plan(&mut tx, &acc).await?.as_deref() != Some(id.as_str()));
            let credits = if stray { 0 } else { plan.answers };
            let new = NewPayment { tenant_id: *tenant, provider: "stars", external_id: charge, kind: "plan", product: id, amount: paid.total_amount, currency: &paid.currency, payer_id: Some(payer), bot_id: Some(m.id.0), credits };
            if !sql::insert_payment(&mut tx, &new, now).await? {
                return Ok(());
            }
            if stray {
                tx.commit().await?;
                return stray_renewal(billing, m, *tenant, payer, paid, plan).await;
            }
            // The first payment of a new subscription (a change of plan): the one it replaces
            // is cancelled below, once this one is booked, so the owner pays for one plan.
            let replaced = if renewal {
                None
            } else {
                acc.stars_charge_id.clone().filter(|c| !c.is_empty() && c != charge && !acc.stars_canceled).zip(acc.stars_user_id)
            };
            // Telegram gives the end of the paid month; without it (never for subscriptions), 30 days.
            let expires = paid.subscription_expiration_date.map_or(now + account::PERIOD_MS, |s| s * 1000);
            account::start_paid_month(&mut tx, cfg, *tenant, plan, &account::PaidMonth { source: "stars", expires_at: expires, key: &format!("stars:{charge}") }, now).await?;
            sql::set_stars_subscription(&mut tx, *tenant, charge, UserId(payer)).await?;
            let mut text = if renewal {
                format!("🔁 Your <b>{}</b> plan renewed: {} AI answers until {}.", escape(&plan.name), plan.answers, date(expires))
            } else {
                format!("✅ Thank you! You're on the <b>{}</b> plan: {} AI answers until {}. It renews every 30 days; send /plan to cancel.", escape(&plan.name), plan.answers, date(expires))
            };
            if let Some((old, user)) = replaced {
                tx.commit().await?;
                if cancel_replaced(m, &old, UserId(user)).await {
                    text.push_str("

The renewal of your previous plan is cancelled, so you only pay for this one.");
                }
                thank(billing, m, *tenant, text).await?;
                return Ok(());
            }
            (*tenant, text)
        }
        Product::Paywall { .. } => return Ok(()),
    };
    tx.commit().await?;
    thank(billing, m, tenant, reply).await
}

/// Tells the owner a payment was booked (after its commit; a failure is only logged).
async fn thank(billing: &Billing, m: &Manager, tenant: TenantId, text: String) -> Result<(), JobError> {
    tracing::info!(tenant_id = tenant.0, "Stars payment credited");
    if let Some(owner) = storage::tenants::get(&billing.db.pool, tenant).await?.map(|t| t.owner_user_id) {
        if let Err(e) = super::notices::send_patiently(&m.bot, &SendMessage::html(owner.0, text)).await {
            tracing::warn!(error = %e, "could not thank the owner for a payment");
        }
    }
    Ok(())
}

/// The plan of the Star subscription the account is tracked by (the product of its newest
/// booked payment, `stars_charge_id`), if any.
async fn tracked_plan(conn: &mut crate::storage::Conn, acc: &sql::Account) -> anyhow::Result<Option<String>> {
    let Some(charge) = acc.stars_charge_id.as_deref().filter(|c| !c.is_empty()) else { return Ok(None) };
    Ok(sql::payment_by_charge(&mut *conn, charge).await?.into_iter().find(|p| p.provider == "stars" && p.kind == "plan").map(|p| p.product))
}

/// Cancels the renewal of the Star subscription a new one replaces. Whether Telegram took it;
/// if not, the old subscription's next renewal is caught as a stray one ([`stray_renewal`]).
async fn cancel_replaced(m: &Manager, charge: &str, user: UserId) -> bool {
    let req = EditUserStarSubscription { user_id: user, telegram_payment_charge_id: charge.to_owned(), is_canceled: true };
    match m.bot.call(&req).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, charge = %charge, "could not cancel the Star subscription a change of plan replaced; its next renewal will be refunded");
            false
        }
    }
}

/// A renewal of a Star subscription the account is no longer tracked by: the plan it was
/// replaced by stays, this subscription's renewal is cancelled and the charge refunded.
async fn stray_renewal(billing: &Billing, m: &Manager, tenant: TenantId, payer: i64, paid: &SuccessfulPayment, plan: &super::Plan) -> Result<(), JobError> {
    tracing::warn!(tenant_id = tenant.0, charge = %paid.telegram_payment_charge_id, "a renewal of a Star subscription that no longer pays for the plan; cancelling and refunding it");
    let refunded = give_back(billing, m, tenant, payer, paid, true).await?;
    let text = format!(
        "🔁 Telegram renewed your earlier <b>{}</b> plan, which you no longer use. Its renewal is now cancelled and {} — your current plan is not changed.",
        escape(&plan.name),
        if refunded { format!("the {} ⭐ are refunded to you", paid.total_amount) } else { format!("the {} ⭐ will be refunded to you", paid.total_amount) }
    );
    tell_owner(billing, m, tenant, text).await
}

/// What was paid for that is no longer offered ([`no_longer_offered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    Plan,
    Pack,
}

/// A payment for a plan or pack that is no longer in the configuration (booked with no answers
/// by the caller): the Stars go back, a plan's subscription is cancelled so it does not charge
/// again, and the owner is told to choose from what is offered now. Nothing of the account
/// changes: the plan it is on and until when stay as they were.
async fn no_longer_offered(billing: &Billing, m: &Manager, tenant: TenantId, payer: i64, paid: &SuccessfulPayment, offer: Offer) -> Result<(), JobError> {
    tracing::warn!(tenant_id = tenant.0, charge = %paid.telegram_payment_charge_id, payload = %paid.invoice_payload, "a Stars payment for a plan or pack that is not configured; refunding it");
    let refunded = give_back(billing, m, tenant, payer, paid, offer == Offer::Plan).await?;
    let (n, back) = (paid.total_amount, if refunded { "are refunded to you" } else { "will be refunded to you" });
    let text = match offer {
        Offer::Plan => format!(
            "↩️ Telegram charged you {n} ⭐ for a plan that is no longer offered. The {n} ⭐ {back} and that subscription is cancelled, so it won't charge you again; your current plan is not changed. Send /plan to choose one of the plans offered now."
        ),
        Offer::Pack => format!("↩️ The pack you paid {n} ⭐ for is no longer offered. The {n} ⭐ {back}. Send /plan to see the packs offered now."),
    };
    tell_owner(billing, m, tenant, text).await
}

/// Cancels the renewal of the subscription the payment belongs to (when `cancel`) and refunds the
/// payment, marking it refunded. Whether Telegram took the refund; a refund or cancellation that
/// fails is logged for the operator's `bellhop billing refund`, not retried (the payment is booked,
/// so a retry would find it and stop).
async fn give_back(billing: &Billing, m: &Manager, tenant: TenantId, payer: i64, paid: &SuccessfulPayment, cancel: bool) -> Result<bool, JobError> {
    let charge = paid.telegram_payment_charge_id.as_str();
    let user = UserId(payer);
    if cancel {
        let req = EditUserStarSubscription { user_id: user, telegram_payment_charge_id: charge.to_owned(), is_canceled: true };
        if let Err(e) = m.bot.call(&req).await {
            tracing::error!(error = %e, charge = %charge, "could not cancel the Star subscription of a refunded payment");
        }
    }
    let refunded = match m.bot.call(&RefundStarPayment { user_id: user, telegram_payment_charge_id: charge.to_owned() }).await {
        Ok(_) | Err(TelegramError::ChargeAlreadyRefunded) => true,
        Err(e) => {
            tracing::error!(error = %e, charge = %charge, "could not refund a Stars payment that bought nothing; refund it with `bellhop billing refund`");
            false
        }
    };
    if refunded {
        if let Some(p) = sql::payment_by_charge(&billing.db.pool, charge).await?.into_iter().find(|p| p.provider == "stars") {
            let mut tx = billing.db.begin().await?;
            sql::mark_refunded(&mut tx, tenant, p.id, now_ms()).await?;
            tx.commit().await?;
        }
    }
    Ok(refunded)
}

/// Tells the owner in the manager chat (a failure is only logged: the payment is booked).
async fn tell_owner(billing: &Billing, m: &Manager, tenant: TenantId, text: String) -> Result<(), JobError> {
    if let Some(owner) = storage::tenants::get(&billing.db.pool, tenant).await?.map(|t| t.owner_user_id) {
        if let Err(e) = super::notices::send_patiently(&m.bot, &SendMessage::html(owner.0, text)).await {
            tracing::warn!(error = %e, "could not tell the owner about a refunded payment");
        }
    }
    Ok(())
}

/// The result of a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded,
    /// Telegram said it was refunded before; the books now agree.
    AlreadyRefunded,
}

/// `bellhop billing refund`: refunds a Stars payment (`refundStarPayment`) and takes back what
/// it bought. "Already refunded" counts as success.
pub async fn refund(billing: &Billing, charge_id: &str, user_id: Option<UserId>) -> anyhow::Result<RefundOutcome> {
    let payments = sql::payment_by_charge(&billing.db.pool, charge_id).await?;
    let Some(p) = payments.into_iter().find(|p| p.provider == "stars" || p.provider == "stars_bot") else {
        anyhow::bail!("no Stars payment with charge id {charge_id} is recorded");
    };
    let user = user_id.or(p.payer_id.map(UserId)).ok_or_else(|| anyhow::anyhow!("the payment has no payer recorded: pass --user-id"))?;
    let bot = if p.provider == "stars" {
        billing.manager.as_ref().ok_or_else(|| anyhow::anyhow!("no manager bot is configured"))?.bot.clone()
    } else {
        let bot_id = crate::domain::BotId(p.bot_id.ok_or_else(|| anyhow::anyhow!("the payment has no bot recorded"))?);
        // The bot that was paid refunds, whoever owns it now: given to another owner since, it is
        // theirs to open (its Stars went with it).
        let owner_now = storage::bots::managed_row(&billing.db.pool, bot_id).await?.map_or(p.tenant_id, |r| r.tenant_id);
        billing.bots.open(owner_now, bot_id).await?.ok_or_else(|| anyhow::anyhow!("the bot that was paid is disconnected or deleted, so it can't refund"))?
    };
    let outcome = match bot.call(&RefundStarPayment { user_id: user, telegram_payment_charge_id: charge_id.to_owned() }).await {
        Ok(_) => RefundOutcome::Refunded,
        Err(TelegramError::ChargeAlreadyRefunded) => RefundOutcome::AlreadyRefunded,
        Err(e) => anyhow::bail!("Telegram refused the refund: {e}"),
    };
    apply_refund(billing, &p).await?;
    Ok(outcome)
}

/// Books a refund once: the payment is marked refunded and what it bought is taken back (pack
/// answers still unused are removed; a plan ends now and its renewal is cancelled — but only
/// when the refunded charge is the one paying for the current month, `stars_charge_id`: a
/// refund of an earlier month, or of a replaced subscription, leaves the month paid since).
pub async fn apply_refund(billing: &Billing, p: &sql::Payment) -> anyhow::Result<()> {
    let cfg = &*billing.cfg;
    let now = now_ms();
    let mut tx = billing.db.begin().await?;
    if !sql::mark_refunded(&mut tx, p.tenant_id, p.id, now).await? {
        return Ok(());
    }
    let key = format!("refund:{}:{}", p.provider, p.external_id);
    let mut ended = false;
    match p.kind.as_str() {
        "pack" => {
            account::take_back(&mut tx, cfg, p.tenant_id, sql::Bucket::Pack, p.credits, &key, now).await?;
        }
        "plan" => {
            let acc = account::open(&mut tx, cfg, p.tenant_id, now).await?;
            if p.provider == "stars" && acc.plan_source == "stars" && acc.stars_charge_id.as_deref() == Some(p.external_id.as_str()) {
                ended = true;
                sql::set_plan_expiry(&mut tx, p.tenant_id, Some(now)).await?;
                sql::set_stars_canceled(&mut tx, p.tenant_id, true).await?;
                account::open(&mut tx, cfg, p.tenant_id, now + 1).await?;
            }
        }
        "paywall" => {
            if let Some(bot) = p.bot_id {
                // From the bot's owner now: the questions went with the bot if it changed owner.
                sql::paywall_take_back(&mut tx, BotId(bot), ChatId(p.payer_id.unwrap_or_default()), p.credits).await?;
            }
        }
        _ => {}
    }
    tx.commit().await?;
    if ended {
        // The refunded month ends now; make sure Telegram does not charge the next one.
        if let (Some(m), Some(user)) = (&billing.manager, p.payer_id) {
            let req = EditUserStarSubscription { user_id: UserId(user), telegram_payment_charge_id: p.external_id.clone(), is_canceled: true };
            if let Err(e) = m.bot.call(&req).await {
                tracing::warn!(error = %e, "could not cancel the renewal of a refunded subscription");
            }
        }
    }
    tracing::info!(tenant_id = p.tenant_id.0, kind = %p.kind, "payment refunded");
    Ok(())
}
