//! Telegram Stars (<https://core.telegram.org/bots/payments-stars>): invoices and invoice links
//! in `XTR`, the pre-checkout query the bot must answer within 10 s, the `successful_payment`
//! message, subscriptions renewing on the sandbox clock, refunds and the transaction list.
use super::Shared;
use super::messaging::{admit, read_markup};
use super::params::{ApiError, Params, ok};
use super::world::{Charge, Entry, InvoiceSpec, Payment, Subscription, World, random_id};
use bellhop_telegram::types::*;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The only subscription period Telegram accepts.
const MONTH: i64 = 2_592_000;

fn read_invoice(bot: i64, p: &Params, allow_subscription: bool) -> Result<InvoiceSpec, ApiError> {
    let title = p.req_str("title")?;
    let description = p.req_str("description")?;
    let payload = p.req_str("payload")?;
    let currency = p.req_str("currency")?;
    let prices: Vec<LabeledPrice> = p.typed("prices")?.ok_or_else(|| ApiError::bad_request("parameter \"prices\" is required"))?;
    if !(1..=32).contains(&title.chars().count()) {
        return Err(ApiError::bad_request("INVOICE_TITLE_INVALID"));
    }
    if !(1..=255).contains(&description.chars().count()) {
        return Err(ApiError::bad_request("INVOICE_DESCRIPTION_INVALID"));
    }
    if payload.is_empty() || payload.len() > 128 {
        return Err(ApiError::bad_request("INVOICE_PAYLOAD_INVALID"));
    }
    if currency != "XTR" {
        return Err(ApiError::bad_request("the sandbox simulates only payments in Telegram Stars (currency XTR)"));
    }
    if !p.str("provider_token").unwrap_or_default().is_empty() {
        return Err(ApiError::bad_request("PROVIDER_TOKEN_INVALID: pass an empty provider_token for payments in Telegram Stars"));
    }
    if prices.len() != 1 || prices[0].amount <= 0 {
        return Err(ApiError::bad_request("CURRENCY_TOTAL_AMOUNT_INVALID: payments in Telegram Stars need exactly one positive price"));
    }
    let subscription_period = p.i64("subscription_period")?;
    if let Some(period) = subscription_period {
        if !allow_subscription {
            return Err(ApiError::bad_request("subscription_period is supported only by createInvoiceLink"));
        }
        if period != MONTH {
            return Err(ApiError::bad_request("SUBSCRIPTION_PERIOD_INVALID"));
        }
        if prices[0].amount > 10_000 {
            return Err(ApiError::bad_request("SUBSCRIPTION_PRICE_INVALID"));
        }
    }
    Ok(InvoiceSpec { bot_id: bot, title, description, payload, currency, amount: prices[0].amount, subscription_period })
}

pub fn send_invoice(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let chat_id = p.chat_id()?;
    let spec = read_invoice(bot, p, false)?;
    let (raw_markup, inline) = read_markup(p)?;
    let mut w = s.world();
    let chat = admit(s, &w, bot, chat_id)?;
    let message = Message {
        message_id: w.next_message_id(bot, chat_id),
        from: Some(w.bots[&bot].user()),
        date: w.now(),
        chat,
        invoice: Some(Invoice {
            title: spec.title.clone(),
            description: spec.description.clone(),
            start_parameter: p.str("start_parameter").unwrap_or_default(),
            currency: spec.currency.clone(),
            total_amount: spec.amount,
        }),
        reply_markup: inline,
        ..Default::default()
    };
    w.record(Entry { seq: 0, bot_id: bot, chat_id, message_id: message.message_id, from_bot: true, message: message.clone(), raw_text: None, parse_mode: None, reply_markup: raw_markup, edits: vec![], invoice: Some(spec) });
    Ok(ok(message))
}

pub fn create_link(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let spec = read_invoice(bot, p, true)?;
    let slug = random_id("");
    s.world().invoice_links.insert(slug.clone(), spec);
    Ok(ok(format!("https://t.me/${slug}")))
}

/// What a simulated user pays: an invoice message, or an invoice link.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum PayTarget {
    Message { bot_id: i64, message_id: i64 },
    Link { link: String },
}

/// Starts a payment: sends `pre_checkout_query` to the bot and waits (in the background) for the
/// answer. The returned payment is `pending`; its status changes to `paid` or `failed`.
pub fn start_payment(s: &Arc<Shared>, user_id: i64, target: PayTarget) -> Result<Payment, String> {
    let mut w = s.world();
    let user = w.users.get(&user_id).ok_or("no such user")?.user();
    let spec = match target {
        PayTarget::Message { bot_id, message_id } => {
            w.find_message(bot_id, user_id, message_id).and_then(|e| e.invoice.clone()).ok_or("no invoice with that message id in this user's chat")?
        }
        PayTarget::Link { link } => {
            let slug = link.rsplit('$').next().unwrap_or_default();
            w.invoice_links.get(slug).cloned().ok_or("unknown invoice link")?
        }
    };
    let query_id = random_id("");
    let payment = Payment {
        id: random_id("pay"),
        bot_id: spec.bot_id,
        user_id,
        status: "pending".into(),
        error: None,
        telegram_payment_charge_id: None,
        pre_checkout_query_id: query_id.clone(),
    };
    w.payments.insert(payment.id.clone(), payment.clone());
    let query = PreCheckoutQuery { id: query_id.clone(), from: user, currency: spec.currency.clone(), total_amount: spec.amount, invoice_payload: spec.payload.clone(), shipping_option_id: None };
    let (tx, rx) = oneshot::channel();
    s.checkouts.lock().unwrap_or_else(|p| p.into_inner()).insert(query_id.clone(), tx);
    w.push_update(spec.bot_id, "pre_checkout_query", serde_json::to_value(query).unwrap_or_default());
    drop(w);
    let s2 = s.clone();
    let payment_id = payment.id.clone();
    tokio::spawn(async move {
        let answer = tokio::time::timeout(s2.opts.precheckout_timeout, rx).await;
        s2.checkouts.lock().unwrap_or_else(|p| p.into_inner()).remove(&query_id);
        let outcome = match answer {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(message),
            _ => Err("the bot did not answer the pre-checkout query within 10 seconds".to_owned()),
        };
        let mut w = s2.world();
        let result = outcome.map(|()| complete(&mut w, &spec, user_id, None));
        if let Some(p) = w.payments.get_mut(&payment_id) {
            match result {
                Ok(charge) => {
                    p.status = "paid".into();
                    p.telegram_payment_charge_id = Some(charge);
                }
                Err(e) => {
                    p.status = "failed".into();
                    p.error = Some(e);
                }
            }
        }
    });
    Ok(payment)
}

/// Books a successful payment: charge, transaction, and the `successful_payment` message.
/// Returns the `telegram_payment_charge_id`.
fn complete(w: &mut World, spec: &InvoiceSpec, user_id: i64, renewing: Option<&str>) -> String {
    let charge_id = format!("stxsbx{}", random_id(""));
    let now = w.now();
    let (subscription, expires) = match (spec.subscription_period, renewing) {
        (Some(period), None) => {
            let sub = Subscription { id: charge_id.clone(), bot_id: spec.bot_id, user_id, amount: spec.amount, payload: spec.payload.clone(), period, expires: now + period, canceled: false, charges: vec![charge_id.clone()] };
            let expires = sub.expires;
            w.subscriptions.insert(sub.id.clone(), sub);
            (Some(charge_id.clone()), Some(expires))
        }
        (Some(_), Some(sub_id)) => {
            let sub = w.subscriptions.get_mut(sub_id).expect("renewing an existing subscription");
            sub.expires += sub.period;
            sub.charges.push(charge_id.clone());
            (Some(sub_id.to_owned()), Some(sub.expires))
        }
        (None, _) => (None, None),
    };
    w.charges.insert(charge_id.clone(), Charge { id: charge_id.clone(), bot_id: spec.bot_id, user_id, amount: spec.amount, payload: spec.payload.clone(), date: now, refunded: false, subscription: subscription.clone() });
    let user = w.users[&user_id].user();
    w.transactions.entry(spec.bot_id).or_default().push(StarTransaction {
        id: charge_id.clone(),
        amount: spec.amount,
        date: now,
        source: Some(TransactionPartner::User(TransactionPartnerUser {
            kind: TransactionPartnerUserTag::User,
            transaction_type: "invoice_payment".into(),
            user,
            invoice_payload: Some(spec.payload.clone()),
            subscription_period: spec.subscription_period,
        })),
        receiver: None,
    });
    let paid = SuccessfulPayment {
        currency: spec.currency.clone(),
        total_amount: spec.amount,
        invoice_payload: spec.payload.clone(),
        subscription_expiration_date: expires,
        is_recurring: subscription.as_ref().map(|_| true),
        is_first_recurring: subscription.as_ref().map(|_| renewing.is_none()),
        telegram_payment_charge_id: charge_id.clone(),
        provider_payment_charge_id: String::new(),
    };
    let _ = w.user_message(user_id, spec.bot_id, user_id, Message { successful_payment: Some(paid), ..Default::default() });
    charge_id
}

/// Renews every active subscription that expired by the sandbox clock.
pub fn renew_due(w: &mut World) -> usize {
    let mut renewed = 0;
    loop {
        let now = w.now();
        let due: Vec<Subscription> = w.subscriptions.values().filter(|s| !s.canceled && s.expires <= now).cloned().collect();
        if due.is_empty() {
            return renewed;
        }
        for sub in due {
            let spec = InvoiceSpec { bot_id: sub.bot_id, title: String::new(), description: String::new(), payload: sub.payload.clone(), currency: "XTR".into(), amount: sub.amount, subscription_period: Some(sub.period) };
            complete(w, &spec, sub.user_id, Some(&sub.id));
            renewed += 1;
        }
    }
}

pub fn answer_pre_checkout(s: &Shared, _bot: i64, p: &Params) -> Result<Response, ApiError> {
    let id = p.req_str("pre_checkout_query_id")?;
    let is_ok = p.bool("ok")?.ok_or_else(|| ApiError::bad_request("parameter \"ok\" is required"))?;
    let message = p.str("error_message").unwrap_or_default();
    if !is_ok && message.is_empty() {
        return Err(ApiError::bad_request("ERROR_MESSAGE_EMPTY"));
    }
    let sender = s.checkouts.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    let Some(sender) = sender else {
        return Err(ApiError::bad_request("query is too old and response timeout expired or query ID is invalid"));
    };
    let _ = sender.send(if is_ok { Ok(()) } else { Err(message) });
    Ok(ok(true))
}

fn charge_of(w: &World, bot: i64, p: &Params) -> Result<Charge, ApiError> {
    let user = p.req_i64("user_id")?;
    let id = p.req_str("telegram_payment_charge_id")?;
    w.charges.get(&id).filter(|c| c.bot_id == bot && c.user_id == user).cloned().ok_or_else(|| ApiError::bad_request("CHARGE_ID_INVALID"))
}

pub fn refund(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let mut w = s.world();
    let charge = charge_of(&w, bot, p)?;
    if charge.refunded {
        return Err(ApiError::bad_request("CHARGE_ALREADY_REFUNDED"));
    }
    if let Some(c) = w.charges.get_mut(&charge.id) {
        c.refunded = true;
    }
    let now = w.now();
    let user = w.users[&charge.user_id].user();
    w.transactions.entry(bot).or_default().push(StarTransaction {
        id: charge.id.clone(),
        amount: charge.amount,
        date: now,
        source: None,
        receiver: Some(TransactionPartner::User(TransactionPartnerUser {
            kind: TransactionPartnerUserTag::User,
            transaction_type: "invoice_payment".into(),
            user,
            invoice_payload: Some(charge.payload.clone()),
            subscription_period: None,
        })),
    });
    let refunded = RefundedPayment { currency: "XTR".into(), total_amount: charge.amount, invoice_payload: charge.payload.clone(), telegram_payment_charge_id: charge.id.clone(), provider_payment_charge_id: None };
    let _ = w.user_message(charge.user_id, bot, charge.user_id, Message { refunded_payment: Some(refunded), ..Default::default() });
    Ok(ok(true))
}

pub fn edit_subscription(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let canceled = p.bool("is_canceled")?.ok_or_else(|| ApiError::bad_request("parameter \"is_canceled\" is required"))?;
    let mut w = s.world();
    let charge = charge_of(&w, bot, p)?;
    let sub_id = charge.subscription.ok_or_else(|| ApiError::bad_request("SUBSCRIPTION_NOT_FOUND"))?;
    let sub = w.subscriptions.get_mut(&sub_id).ok_or_else(|| ApiError::bad_request("SUBSCRIPTION_NOT_FOUND"))?;
    sub.canceled = canceled;
    Ok(ok(true))
}

pub fn transactions(s: &Shared, bot: i64, p: &Params) -> Result<Response, ApiError> {
    let offset = p.i64("offset")?.unwrap_or(0).max(0) as usize;
    let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let w = s.world();
    let all = w.transactions.get(&bot).cloned().unwrap_or_default();
    Ok(ok(StarTransactions { transactions: all.into_iter().skip(offset).take(limit).collect() }))
}
