//! The optional customer paywall: an owner can let each customer ask N questions a day for
//! free, then sell packs of questions for Stars paid to the owner's own bot. Off by default.
//! Answering calls [`paywall`] before answering a private-chat question, and hands child-bot
//! payment updates to [`on_child_update`].
use super::Billing;
use super::stars::{Product, answer_pre_checkout, apply_refund};
use crate::domain::{BotId, ChatId, TenantId};
use crate::storage::billing::{self as sql, NewPayment};
use crate::storage::now_ms;
use crate::telegram::methods::{SendInvoice, SendMessage};
use crate::telegram::{Bot, Update, UpdateKind};

/// "1 question" / "20 questions".
fn questions(n: i64) -> String {
    if n == 1 { "1 question".to_owned() } else { format!("{n} questions") }
}

/// "1 more question" / "20 more questions".
fn more_questions(n: i64) -> String {
    if n == 1 { "1 more question".to_owned() } else { format!("{n} more questions") }
}

fn today() -> i64 {
    now_ms().div_euclid(86_400_000)
}

/// The customer paywall for a child bot's private chat, for the customer's message of update
/// `update_id`: `false` = go on answering; `true` = the paywall handled the message (it told the
/// customer and sent an invoice).
///
/// The decision is recorded per update in the transaction that counts the question, so a
/// retried job makes the same one: a question is counted once, a bought question used once, and
/// an invoice that failed to send is sent by the retry — never skipped for a free answer. What
/// reached the customer is recorded step by step, so the retry sends only what is missing.
pub async fn paywall(billing: &Billing, tenant: TenantId, bot_id: BotId, bot: &Bot, customer_chat: ChatId, update_id: i64) -> anyhow::Result<bool> {
    // Both reads at once: one round trip's wait on every question, paywall on or off.
    let (acc, decision) = tokio::try_join!(sql::get_account(&billing.db.pool, tenant), sql::paywall_decision(&billing.db.pool, tenant, bot_id, update_id))?;
    let Some(acc) = acc else { return Ok(false) };
    let s = acc.paywall;
    let decided = match decision {
        Some(d) => d,
        None if !s.enabled => return Ok(false),
        None => {
            let mut tx = billing.db.begin().await?;
            let asked = sql::paywall_count_question(&mut tx, tenant, bot_id, customer_chat, today()).await?;
            let outcome = if asked <= s.free_per_day {
                "free"
            } else if sql::paywall_take_credit(&mut tx, tenant, bot_id, customer_chat).await? {
                "bought"
            } else {
                "invoice"
            };
            if sql::paywall_record_decision(&mut tx, tenant, bot_id, update_id, customer_chat, outcome, now_ms()).await? {
                tx.commit().await?;
                sql::PaywallDecision { outcome: outcome.to_owned(), sent: 0 }
            } else {
                // A concurrent run of the same job decided first: its decision stands.
                tx.rollback().await?;
                sql::paywall_decision(&billing.db.pool, tenant, bot_id, update_id).await?.ok_or_else(|| anyhow::anyhow!("the paywall decision vanished"))?
            }
        }
    };
    if decided.outcome != "invoice" {
        return Ok(false);
    }
    if decided.sent < 1 {
        let text = if s.free_per_day == 1 {
            format!("You've used your free question for today. You can buy {} for {} ⭐ — or come back tomorrow.", more_questions(s.pack_questions), s.pack_stars)
        } else if s.free_per_day > 0 {
            format!(
                "You've used your {} free questions for today. You can buy {} for {} ⭐ — or come back tomorrow.",
                s.free_per_day,
                more_questions(s.pack_questions),
                s.pack_stars
            )
        } else {
            format!("Questions to this assistant are paid. You can buy {} for {} ⭐.", questions(s.pack_questions), s.pack_stars)
        };
        bot.send_message(&SendMessage::html(customer_chat, text)).await?;
        sql::paywall_mark_sent(&billing.db.pool, tenant, bot_id, update_id, 1).await?;
    }
    if decided.sent < 2 {
        let product = Product::Paywall { tenant, bot: bot_id.0, questions: s.pack_questions };
        let invoice = SendInvoice::stars(customer_chat, &questions(s.pack_questions), "More questions to this assistant. They don't expire.", &product.payload(), s.pack_stars);
        bot.call(&invoice).await?;
        sql::paywall_mark_sent(&billing.db.pool, tenant, bot_id, update_id, 2).await?;
    }
    Ok(true)
}

/// The bot could not answer the customer's question — the business is out of AI answers (the
/// "temporarily unavailable" reply), or the sources don't say (the "I couldn't find that" reply):
/// the question goes back to the customer, a bought one to their bought questions, a free one to
/// the day's free questions. Once per update: the decision becomes `returned` in the same
/// transaction, so a retried job gives nothing twice.
pub async fn give_back(billing: &Billing, tenant: TenantId, bot_id: BotId, customer_chat: ChatId, update_id: i64) -> anyhow::Result<()> {
    let mut tx = billing.db.begin().await?;
    match sql::paywall_mark_returned(&mut tx, tenant, bot_id, update_id).await? {
        Some((outcome, _)) if outcome == "bought" => {
            sql::paywall_add_credits(&mut tx, tenant, bot_id, customer_chat, 1).await?;
            tracing::info!(tenant_id = tenant.0, "a bought question went unanswered; given back");
        }
        Some((_, decided_at)) => sql::paywall_uncount_question(&mut tx, tenant, bot_id, customer_chat, decided_at.div_euclid(86_400_000)).await?,
        None => {}
    }
    tx.commit().await?;
    Ok(())
}

/// Child-bot payment updates (`pre_checkout_query` / `successful_payment` / `refunded_payment`
/// for paywall packs). Returns true when it handled the update.
pub async fn on_child_update(billing: &Billing, tenant: TenantId, bot_id: BotId, bot: &Bot, update: &Update) -> anyhow::Result<bool> {
    match &update.kind {
        UpdateKind::PreCheckoutQuery(q) => {
            let started = now_ms();
            let product = Product::parse(&q.invoice_payload);
            let acc = sql::get_account(&billing.db.pool, tenant).await?;
            let refusal = match (&product, acc) {
                (Some(Product::Paywall { tenant: t, bot, questions }), Some(acc)) if *t == tenant && *bot == bot_id.0 => {
                    let s = acc.paywall;
                    if !s.enabled {
                        Some("Questions are free here now — just ask.")
                    } else if q.currency != "XTR" || q.total_amount != s.pack_stars || *questions != s.pack_questions {
                        Some("The price has changed. Ask a question to get a new offer.")
                    } else {
                        None
                    }
                }
                _ => Some("This invoice is not valid any more."),
            };
            answer_pre_checkout(&billing.db, bot, q, product.as_ref(), refusal, started).await.map_err(|e| match e {
                crate::jobs::JobError::Retry(e) | crate::jobs::JobError::Permanent(e) => e,
            })?;
            Ok(true)
        }
        UpdateKind::Message(m) if m.successful_payment.is_some() => {
            let paid = m.successful_payment.as_ref().expect("checked");
            let Some(Product::Paywall { tenant: t, bot: paid_to, questions }) = Product::parse(&paid.invoice_payload) else { return Ok(true) };
            if paid_to != bot_id.0 {
                tracing::error!(tenant_id = tenant.0, "a paywall payment made out to another bot; refund it with `bellhop billing refund`");
                return Ok(true);
            }
            if t != tenant {
                // An invoice of this bot from before it changed owner, paid as it did: booked to its
                // owner now, who holds the bot's Stars and its customers' bought questions.
                tracing::info!(tenant_id = tenant.0, from_tenant = t.0, "a paywall payment for the bot's earlier owner; booked to its owner now");
            }
            let payer = m.from.as_ref().map(|u| u.id);
            let new = NewPayment {
                tenant_id: tenant,
                provider: "stars_bot",
                external_id: &paid.telegram_payment_charge_id,
                kind: "paywall",
                product: "questions",
                amount: paid.total_amount,
                currency: &paid.currency,
                payer_id: payer,
                bot_id: Some(bot_id.0),
                credits: questions,
            };
            let mut tx = billing.db.begin().await?;
            let fresh = sql::insert_payment(&mut tx, &new, now_ms()).await?;
            if fresh {
                sql::paywall_add_credits(&mut tx, tenant, bot_id, ChatId(m.chat.id), questions).await?;
            }
            tx.commit().await?;
            // After the commit a retry finds the payment booked and sends nothing: so the
            // thank-you waits out a rate limit, and a failure is logged rather than retried.
            if fresh {
                let thanks = SendMessage::html(m.chat.id, format!("✅ Thank you! You can ask {}.", more_questions(questions)));
                if let Err(e) = super::notices::send_patiently(bot, &thanks).await {
                    tracing::warn!(tenant_id = tenant.0, error = %e, "could not thank a customer for bought questions");
                }
            }
            Ok(true)
        }
        UpdateKind::Message(m) if m.refunded_payment.is_some() => {
            // A payment to this bot, whichever business it was booked to: one made before the bot
            // changed owner is booked to the earlier one.
            let charge = &m.refunded_payment.as_ref().expect("checked").telegram_payment_charge_id;
            if let Some(p) = sql::payment_by_charge(&billing.db.pool, charge).await?.into_iter().find(|p| p.provider == "stars_bot" && p.bot_id == Some(bot_id.0)) {
                apply_refund(billing, &p).await?;
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}
