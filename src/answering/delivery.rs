//! Delivery: exactly one reply per customer update, whatever crashes or redeliveries happen.
//!
//! A reply is stored before it is sent, and its `delivery` state moves one way:
//! `pending` (stored, not yet tried) → `sending` (the Bot API call is under way) → `sent`; a
//! Telegram error before anything arrived → back to `pending` (a retry may send); a lost answer
//! (a timeout or a broken connection after the request went out:
//! [`crate::telegram::TelegramError::may_have_taken_effect`]) → `unknown`; a worker that stopped
//! during the call leaves `sending`, which a retry turns into `unknown`. An `unknown` message may
//! have arrived, so it is never sent again automatically: the conversation page shows it as "not
//! confirmed", and the owner decides whether to write again. The owner's replies and the "closed"
//! notice go through the same states ([`send_once`]).
//!
//! The assistant's answer to a question goes out only while the conversation is with the
//! assistant: a person who took it over while the answer was written, or while it waited for its
//! turn, withdraws it ([`Given::Withdrawn`]) — the customer never gets the bot's answer after a
//! person said they are there.
use crate::domain::conversation::{Author, ChatKind, Delivery, MessageKind, MsgId};
use super::feedback::{feedback_buttons, human_button};
use super::{Ctx, compose};
use crate::domain::TenantId;
use crate::jobs::{JobError, job_error};
use crate::storage::Db;
use crate::storage::conversations::{self, Conversation, Msg, NewMsg};
use crate::telegram::methods::SendMessage;
use crate::telegram::{Preflight, ReplyParameters, TelegramError};
use compose::Cited;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How [`send_once`] left a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Delivered now.
    Now,
    /// Delivered by an earlier attempt: nothing sent.
    Before,
    /// It may have arrived (a lost answer, or a worker that stopped during the call): not sent
    /// again, marked `unknown`.
    Unconfirmed,
}

/// The claim `pending` → `sending` of a stored message, made at the message's turn in the bot's
/// throttle, right before its request goes out ([`crate::telegram::Preflight`]): a process that
/// stops while the message still waits for its chat's turn has claimed nothing, so whoever runs
/// the job next sends it. The claim fails with `Withdrawn` when the message is no longer
/// `pending` (another attempt has it); a database error fails it as a network error would —
/// nothing was sent, try again.
///
/// `held` tells whether this attempt holds the claim now: only then may its failure give the
/// message back (`sending` → `pending`). A failure before the claim — the shared pacing's
/// database, a full queue — leaves the message as it is: it may be another attempt's, in the
/// middle of its call.
///
/// `with_assistant_only`: the assistant's answer to a question, withdrawn too when a person has
/// taken the conversation over by its turn ([`conversations::claim_answer_for_sending`]).
pub(super) fn claim(db: &Db, tenant: TenantId, id: MsgId, held: &Arc<AtomicBool>, with_assistant_only: bool) -> Preflight {
    let pool = db.pool.clone();
    let again = pool.clone();
    let (took, gave_back) = (held.clone(), held.clone());
    Preflight::new(move || {
        let pool = pool.clone();
        let took = took.clone();
        Box::pin(async move {
            let claimed = if with_assistant_only { conversations::claim_answer_for_sending(&pool, tenant, id).await } else { conversations::claim_for_sending(&pool, tenant, id).await };
            match claimed {
                Ok(true) => {
                    took.store(true, Ordering::SeqCst);
                    Ok(())
                }
                Ok(false) => Err(TelegramError::Withdrawn("the message is no longer waiting to be sent, or a person has the conversation".into())),
                Err(e) => Err(TelegramError::Network(format!("could not record the message as being sent: {e}"))),
            }
        })
    })
    // Refused with a 429: not delivered, so not held while the retry waits.
    .undone_by(move || {
        let pool = again.clone();
        let gave_back = gave_back.clone();
        Box::pin(async move {
            gave_back.store(false, Ordering::SeqCst);
            conversations::release_claim(&pool, tenant, id).await.map(drop).map_err(|e| {
                tracing::warn!(reply_id = id.0, error = %e, "could not give back the claim of a message Telegram asked to retry later");
                TelegramError::Network(e.to_string())
            })
        })
    })
}

/// A preflight that checks nothing (a reply's later parts: the first part claimed the reply),
/// run again after each 429 like a claim.
fn nothing_to_claim() -> Preflight {
    Preflight::new(|| Box::pin(async { Ok(()) })).undone_by(|| Box::pin(async { Ok(()) }))
}

/// `preflight`, noting in `turn` when it last ran: the call's turn in the bot's throttle (after
/// the limits' waits and any 429's pause), right before its request goes out.
fn at_turn(preflight: Preflight, turn: &Arc<std::sync::Mutex<std::time::Instant>>) -> Preflight {
    let turn = turn.clone();
    preflight.before_each(move || *turn.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now())
}

/// Sends the stored message `msg` (a one-part message: an owner's reply, the "closed" notice) at
/// most once, whatever retries, redeliveries or crashes happen: `send` gets the [`claim`] to run
/// at the message's turn, which moves it `pending` → `sending` just before the Bot API call; it is
/// then marked `sent`; a refusal or a request that never reached Telegram puts it back to
/// `pending` and asks for a retry; a lost answer marks it `unknown`. A message found `sending` (a
/// worker stopped during the call, or another attempt is still in it) is marked `unknown` and
/// not sent.
pub async fn send_once<F, Fut>(db: &Db, tenant: TenantId, msg: &Msg, doing: &str, send: F) -> Result<Sent, JobError>
where
    F: FnOnce(Preflight) -> Fut,
    Fut: Future<Output = Result<crate::telegram::Message, TelegramError>>,
{
    if msg.delivery != Delivery::Pending {
        return settled(db, tenant, msg.id).await;
    }
    let held = Arc::new(AtomicBool::new(false));
    match send(claim(db, tenant, msg.id, &held, false)).await {
        Ok(sent) => {
            conversations::mark_sent(&db.pool, tenant, msg.id, Some(sent.message_id)).await?;
            Ok(Sent::Now)
        }
        Err(TelegramError::Withdrawn(_)) => settled(db, tenant, msg.id).await,
        Err(e) if e.may_have_taken_effect() => {
            tracing::warn!(message_id = msg.id.0, error = %e, "Telegram's answer was lost; the message may have arrived and is not sent again");
            conversations::set_delivery(&db.pool, tenant, msg.id, Delivery::Unknown).await?;
            Ok(Sent::Unconfirmed)
        }
        Err(e) => {
            // Nothing arrived: the claim, if this attempt holds it, is given back (after a 429 it
            // was given back already, at the 429: see [`claim`]).
            if held.load(Ordering::SeqCst) {
                conversations::release_claim(&db.pool, tenant, msg.id).await?;
            }
            Err(job_error(e, doing))
        }
    }
}

/// What became of a message this attempt may not send (it was not `pending` at its turn).
async fn settled(db: &Db, tenant: TenantId, id: MsgId) -> Result<Sent, JobError> {
    let now = conversations::delivery_of(&db.pool, tenant, id).await?;
    Ok(match now {
        Some(Delivery::Sent) => Sent::Before,
        Some(Delivery::Sending) => {
            tracing::warn!(message_id = id.0, "a message was being sent by another attempt or a stopped worker; not sending it again");
            // Only if still `sending`: the other attempt may have marked it sent meanwhile.
            conversations::mark_unknown_if_sending(&db.pool, tenant, id).await?;
            Sent::Unconfirmed
        }
        _ => Sent::Unconfirmed,
    })
}

/// Telegram's limit on a message's text, in UTF-16 units.
const MESSAGE_LIMIT: usize = 4096;

/// A reply about to be stored and sent.
pub(super) struct Reply<'a> {
    pub kind: MessageKind,
    pub text: &'a str,
    pub sources: &'a [Cited],
    pub tokens: u64,
    pub question: Option<&'a str>,
}

fn today() -> i64 {
    crate::storage::now_ms() / 86_400_000
}

/// What became of the assistant's answer to a question ([`Ctx::answer_reply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Given {
    /// Sent, or on its way (a retry sends it), or it may have arrived.
    Out,
    /// A person took the conversation over before it went out: not sent, and never will be.
    Withdrawn,
}

impl Ctx<'_> {
    /// Stores the reply (as `pending`), then sends it: it is claimed at its turn in the bot's
    /// throttle ([`claim`]).
    pub(super) async fn reply(&self, conv: &Conversation, update_id: i64, reply_to: i64, r: &Reply<'_>) -> Result<(), JobError> {
        self.store_and_send(conv, update_id, reply_to, r, false).await.map(drop)
    }

    /// The assistant's answer to a question, as [`Self::reply`] — but only while the conversation
    /// is with the assistant: the owner or a teammate may have taken it over while the answer was
    /// being written (a reply in the manager chat, the admin page), and the customer must not get
    /// the bot's answer after a person said they are there. Checked twice: when the answer is
    /// stored (in its transaction, holding the conversation: it is then not stored at all), and
    /// at its turn to be sent ([`claim`]: it is then marked failed, "not delivered" on the
    /// conversation page). A takeover after that finds the answer already on its way.
    pub(super) async fn answer_reply(&self, conv: &Conversation, update_id: i64, reply_to: i64, r: &Reply<'_>) -> Result<Given, JobError> {
        self.store_and_send(conv, update_id, reply_to, r, true).await
    }

    async fn store_and_send(&self, conv: &Conversation, update_id: i64, reply_to: i64, r: &Reply<'_>, with_assistant_only: bool) -> Result<Given, JobError> {
        let sources = serde_json::to_string(r.sources).unwrap_or_else(|_| "[]".into());
        let mut tx = self.db().begin().await?;
        if with_assistant_only && !conversations::hold_with_assistant(&mut *tx, self.tenant, conv.id).await? {
            // With a person now. The model's tokens were spent all the same: they count towards
            // the business's daily budget.
            if r.tokens > 0 {
                conversations::add_usage(&mut *tx, self.tenant, today(), r.tokens as i64).await?;
            }
            tx.commit().await.map_err(anyhow::Error::from)?;
            tracing::info!(conversation = conv.id.0, "a person took the conversation over while the answer was written: not sent");
            return Ok(Given::Withdrawn);
        }
        let (msg, fresh) = conversations::add(
            &mut tx,
            self.tenant,
            conv.id,
            &NewMsg { author: Author::Bot, text: r.text, update_id: Some(update_id), kind: r.kind, sources: &sources, delivery: Delivery::Pending, model_tokens: r.tokens as i64, question: r.question },
        )
        .await?;
        if fresh && r.tokens > 0 {
            conversations::add_usage(&mut *tx, self.tenant, today(), r.tokens as i64).await?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        if fresh {
            return self.deliver(conv, &msg, reply_to).await;
        }
        self.carry_on(conv, &msg, reply_to).await
    }

    /// Carries a stored reply on from its delivery state: pending (stored, or waiting for its
    /// turn when its worker stopped) → send; sending (a crash during the Bot API call: it may
    /// have arrived) → unknown, not re-sent; sent → nothing.
    pub(super) async fn resume(&self, conv: &Conversation, msg: &Msg, reply_to: i64) -> Result<(), JobError> {
        self.carry_on(conv, msg, reply_to).await.map(drop)
    }

    async fn carry_on(&self, conv: &Conversation, msg: &Msg, reply_to: i64) -> Result<Given, JobError> {
        match msg.delivery {
            Delivery::Pending => self.deliver(conv, msg, reply_to).await,
            Delivery::Sending => {
                tracing::warn!(reply_id = msg.id.0, "a reply was being sent when its worker stopped; not sending it again");
                conversations::mark_unknown_if_sending(&self.db().pool, self.tenant, msg.id).await?;
                Ok(Given::Out)
            }
            Delivery::Sent | Delivery::Unknown => Ok(Given::Out),
            // An answer withdrawn for a person (or a reply refused for good): never sent.
            Delivery::Failed => Ok(Given::Withdrawn),
        }
    }

    /// Sends a stored `pending` reply (split if long, buttons under the last part): the first
    /// part claims it at its turn ([`claim`]), and it is marked sent after the last. The
    /// assistant's answer to a question is claimed only while the conversation is with the
    /// assistant; withdrawn, it is marked failed ([`Given::Withdrawn`]).
    async fn deliver(&self, conv: &Conversation, msg: &Msg, reply_to: i64) -> Result<Given, JobError> {
        let stored = std::time::Instant::now();
        let sources: Vec<Cited> = serde_json::from_str(&msg.sources).unwrap_or_default();
        let html = match msg.kind {
            MessageKind::Answer | MessageKind::Extractive => compose::render_html(&msg.text, &sources, self.lang.words().sources),
            _ => crate::telegram::html::escape(&msg.text),
        };
        let buttons = match msg.kind {
            // Every answer — the owner's own from a Q&A pair too — has 👍, 👎 and 🙋 Person.
            MessageKind::Answer | MessageKind::Extractive | MessageKind::Qa => Some(feedback_buttons(msg.id, self.lang)),
            MessageKind::Fallback | MessageKind::Unavailable => Some(human_button(self.lang)),
            MessageKind::Forget => Some(super::forget::buttons(self.lang)),
            _ => None,
        };
        let parts = crate::telegram::split::split_html(&html, MESSAGE_LIMIT).unwrap_or_else(|_| crate::telegram::split::split_plain(&html, MESSAGE_LIMIT));
        let last = parts.len().saturating_sub(1);
        let mut last_id = None;
        let held = Arc::new(AtomicBool::new(false));
        // Time waited for the turn of each part: Telegram's 429 pauses and bellhop's own per-chat
        // and per-bot limits, not bellhop's work (left out of the overhead, like the model's).
        let mut waited = std::time::Duration::ZERO;
        for (i, part) in parts.into_iter().enumerate() {
            let mut send = SendMessage::html(conv.chat_id, part);
            if conv.thread_id != 0 {
                send.message_thread_id = Some(conv.thread_id);
            }
            if conv.chat_kind != ChatKind::Private && i == 0 {
                send.reply_parameters = Some(ReplyParameters { message_id: reply_to, allow_sending_without_reply: Some(true), ..Default::default() });
            }
            if i == last {
                send.reply_markup = buttons.clone();
            }
            let with_assistant_only = msg.kind.is_reply_to_question();
            let asked = std::time::Instant::now();
            let turn = Arc::new(std::sync::Mutex::new(asked));
            let preflight = if i == 0 { claim(self.db(), self.tenant, msg.id, &held, with_assistant_only) } else { nothing_to_claim() };
            let result = self.bot.send_message_with(&send, at_turn(preflight, &turn)).await;
            waited += turn.lock().unwrap_or_else(|p| p.into_inner()).saturating_duration_since(asked);
            let sent = match result {
                Ok(sent) => sent,
                Err(TelegramError::Withdrawn(_)) if with_assistant_only && conversations::withdraw_for_person(&self.db().pool, self.tenant, msg.id).await? => {
                    tracing::info!(reply_id = msg.id.0, "a person took the conversation over before the answer's turn: not sent");
                    return Ok(Given::Withdrawn);
                }
                Err(TelegramError::Withdrawn(why)) => {
                    // Another attempt of this job claimed the reply first (a redelivery, or a
                    // worker whose lease expired): it sends it, not this one.
                    tracing::info!(reply_id = msg.id.0, why, "the reply is another attempt's to send");
                    return Ok(Given::Out);
                }
                Err(e) if e.may_have_taken_effect() => {
                    // Telegram's answer was lost: the part may have arrived. Never sent twice.
                    tracing::warn!(reply_id = msg.id.0, error = %e, "Telegram's answer was lost; the reply may have arrived and is not sent again");
                    conversations::set_delivery(&self.db().pool, self.tenant, msg.id, Delivery::Unknown).await?;
                    return Ok(Given::Out);
                }
                Err(e) => {
                    // Telegram refused, or the request never reached it: nothing of this part was
                    // delivered, so a retry may send (the whole reply, when this was its first part
                    // and this attempt holds its claim; later parts leave it `sending`, which a
                    // retry marks `unknown`). After a 429 the claim was given back already, at the
                    // 429, and a failure before the claim leaves the message to whoever has it.
                    if i == 0 && held.load(Ordering::SeqCst) {
                        conversations::release_claim(&self.db().pool, self.tenant, msg.id).await?;
                    }
                    return Err(job_error(e, "sending the answer"));
                }
            };
            last_id = Some(sent.message_id);
        }
        conversations::mark_sent(&self.db().pool, self.tenant, msg.id, last_id).await?;
        if let Some(timing) = *self.timing.lock().unwrap_or_else(|p| p.into_inner()) {
            self.a.overhead.record_sent(self.started, &timing, stored, waited);
        }
        Ok(Given::Out)
    }
}
