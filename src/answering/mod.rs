//! Answering: a customer's message to a business's bot becomes a reply grounded in that
//! business's own knowledge — streamed, with sources, feedback buttons and a way to a person.
//!
//! [`on_update`] handles one stored update of a business's bot (the application routes child-bot
//! updates here once billing has taken its payment updates): the conversation is loaded (per
//! customer chat, per forum topic in groups — [`groups`]), commands get the business's texts
//! ([`settings`]), and a question goes through the one answer [`pipeline`] (Q&A pair, retrieval,
//! the model answering from confident passages via [`compose`], prompts in `prompts/`), its text
//! streamed as drafts ([`drafts`]) in private chats. Below the threshold — or when the model says
//! the sources don't hold the answer — the owner's fallback text and a "talk to a person" button.
//! A handed-off conversation ([`handoff`]) gets no AI replies until it goes back to the
//! assistant — not even an answer that was being written when a person took it over (its drafts
//! stop, and it is neither stored nor sent: [`delivery`]);
//! 👍/👎 and "talk to a person" presses are [`feedback`]. Photos, voice notes and other media
//! get a short reply and go to the owner ([`media`]); a caption is read as text. A paused bot
//! answers every message with a short notice — no model, no credit. `/forget` erases the
//! customer's conversation after they confirm ([`forget`]).
//!
//! Exactly one reply per customer update ([`delivery`]): the reply is stored before it is sent
//! and marked sent after, so a retried or redelivered job re-sends a stored reply instead of
//! calling the model again, and sends nothing once it was sent.
//!
//! Must not: know the application layer or the HTTP edge; it is given narrow handles.
pub mod announce;
pub mod compose;
pub mod delivery;
mod drafts;
pub mod extract;
mod feedback;
mod forget;
mod groups;
pub mod handoff;
pub mod hours;
pub mod intent;
pub mod language;
pub mod limits;
pub mod media;
pub mod pipeline;
pub mod prompt;
pub mod settings;
pub mod verify;

pub use limits::{Overhead, TenantPermits};
pub use pipeline::{standalone_query, the_question_alone};

use crate::domain::conversation::{Author, ChatKind, Delivery, MessageKind, Mode};
use crate::domain::{BotId, ChatId, TenantId, UserId};
use crate::jobs::JobError;
use crate::manager::Manager;
use crate::storage::conversations::{self, Conversation, Msg, NewMsg};
use crate::storage::{self, announcements, bot_settings::BotSettings, bots};
use crate::telegram::methods::SendChatAction;
use crate::telegram::{Bot, CallbackQuery, MediaKind, Message, Update, UpdateKind};
use delivery::Reply;
use prompt::{Turn, Voice};
use std::sync::Mutex;
use std::time::Instant;

/// What answering works with. Built once by the application; cheap to clone.
#[derive(Clone)]
pub struct Answering {
    /// The answer pipeline's own dependencies (database, settings, retriever, model, permits,
    /// metering).
    pub pipeline: pipeline::Deps,
    /// The manager bot, through which owners hear of handoffs.
    pub manager: Option<Manager>,
    /// The pipeline's own time per model answer.
    pub overhead: Overhead,
}

/// How an update reaches answering.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When its job started (the overhead measurement runs from there).
    pub started: Instant,
    /// The customer has asked again since, and that question waits its turn ([`asked_again`]):
    /// this one is then stored (the later answer reads it as history) but not answered — a
    /// customer who sends a burst of messages gets one answer, to the last, and costs the owner
    /// one credit.
    pub more_waiting: bool,
    /// An earlier attempt of its job did not finish (its worker died, or it failed and is tried
    /// again): what it kept is looked for (the question's embeddings, see
    /// [`compose::EarlyVectors`]).
    pub rerun: bool,
}

/// Builds what answering makes on first use in a process — the `cl100k_base` tokenizer (the
/// prompt budget), the fact patterns and stemmers of verification and sentence ranking, the
/// language detector — by answering nothing: a sample checked as an answer would be. Blocking
/// (a few hundred milliseconds of CPU); a worker runs it before taking jobs.
pub fn warm_up() {
    let passage = "Shop 1 opens at 9:00 every weekday. A cake for 8 people costs 32 euros; write to shop@example.com or call +44 20 7946 0000.";
    let question = "When do you open, and how much is a cake?";
    let _ = crate::knowledge::chunk::count_tokens(passage);
    let evidence = verify::Evidence::new(&[passage], question, &["Shop"], verify::Rules::default());
    let _ = evidence.answer("Shop 1 opens at 9:00 [1]. A cake for 8 people costs 32 euros [1].");
    let _ = extract::rank(question, &[(0, 0, passage.to_owned())], None, &[0.5], &[String::new()], 1, extract::Tuning::default());
    let _ = language::customer_language(None, question);
    let _ = crate::retrieval::analysis::query_terms(question);
}

/// What answering reads of a business's bot for each update: its name and username, its
/// settings, whether the owner paused it. Read by [`bot_view`], which the caller runs beside its
/// own reads (the stored update, the bot's token): one round trip's wait for all of them.
#[derive(Debug, Clone)]
pub struct BotView {
    profile: Option<bots::Profile>,
    settings: BotSettings,
    paused: bool,
}

/// Reads the [`BotView`] of `bot_id` (three reads at once).
pub async fn bot_view(a: &Answering, tenant: TenantId, bot_id: BotId) -> Result<BotView, JobError> {
    let db = &a.pipeline.db;
    let (profile, settings, paused) = tokio::try_join!(bots::profile(&db.pool, tenant, bot_id), storage::bot_settings::get(&db.pool, tenant, bot_id), bots::paused_at(&db.pool, tenant, bot_id))?;
    Ok(BotView { profile, settings, paused: paused.is_some() })
}

/// Whether one of `later` (updates of the same conversation waiting behind the one being
/// handled, newest first) is a question the assistant will answer, so that it answers the
/// earlier one too ([`Arrival::more_waiting`]). Only a question counts: after a button press, a
/// command, a photo without words, or (in a group) a message that is not for the bot, the earlier
/// question would otherwise never be answered.
pub async fn asked_again(a: &Answering, bot_id: BotId, view: &BotView, later: &[i64]) -> Result<bool, JobError> {
    let username = view.profile.as_ref().map_or("", |p| p.username.as_str());
    for &update_id in later {
        let Some(body) = storage::updates::body(&a.pipeline.db.pool, bot_id, update_id).await? else { continue };
        if serde_json::from_str::<Update>(&body).is_ok_and(|u| matches!(&u.kind, UpdateKind::Message(m) if is_question(m, bot_id, username))) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether [`Ctx::message`] takes `m` to the assistant as a question: a customer's words (or a
/// caption), not a command; in a group only when addressed to the bot.
fn is_question(m: &Message, bot_id: BotId, username: &str) -> bool {
    if m.from.as_ref().is_some_and(|u| u.is_bot) {
        return false;
    }
    let Some(written) = m.text.as_deref().or(m.caption.as_deref()).map(str::trim).filter(|t| !t.is_empty()) else { return false };
    let text = if m.chat.is_private() { Some(written.to_owned()) } else { groups::addressed_to(m, written, username, bot_id) };
    text.is_some_and(|t| !t.is_empty() && !t.starts_with('/') && intent::of(&t).is_none())
}

/// Handles one update of the business's bot `bot` (already opened, its [`bot_view`] read).
#[tracing::instrument(name = "answering.update", skip_all, fields(tenant_id = tenant.0, bot_id = bot_id.0, update_id = update.update_id))]
pub async fn on_update(a: &Answering, tenant: TenantId, bot_id: BotId, bot: &Bot, view: BotView, update: Update, arrival: Arrival) -> Result<(), JobError> {
    handle(a, tenant, bot_id, bot, view, update, arrival, false).await
}

/// The update's job was dead-lettered (its attempts used up, or an outage longer than
/// `jobs.outage_budget_minutes`): a customer's message still without a reply gets the bot's
/// "can't answer right now" text (with the person button), once, through the usual delivery —
/// stored as the bot's reply, so the owner's conversation shows it. A message that has a reply
/// (sent or not), or whose conversation is with a person, gets nothing more.
#[tracing::instrument(name = "answering.unanswered", skip_all, fields(tenant_id = tenant.0, bot_id = bot_id.0, update_id = update.update_id))]
pub async fn could_not_answer(a: &Answering, tenant: TenantId, bot_id: BotId, bot: &Bot, view: BotView, update: Update) -> Result<(), JobError> {
    let arrival = Arrival { started: Instant::now(), more_waiting: false, rerun: true };
    handle(a, tenant, bot_id, bot, view, update, arrival, true).await
}

#[allow(clippy::too_many_arguments)]
async fn handle(a: &Answering, tenant: TenantId, bot_id: BotId, bot: &Bot, view: BotView, update: Update, arrival: Arrival, dead: bool) -> Result<(), JobError> {
    let Arrival { started, more_waiting, rerun } = arrival;
    // A question's embedding starts now, beside the database work below, and is kept on the
    // stored update for a re-run (see `compose::EarlyVectors`); a burst's earlier messages are
    // not answered.
    let early = match &update.kind {
        UpdateKind::Message(m) if !more_waiting && !dead => early_query(m).map(|q| {
            let kept = compose::KeptOn { db: a.pipeline.db.clone(), bot: bot_id, update_id: update.update_id, rerun };
            compose::EarlyVectors::start(a.pipeline.retriever.clone(), &a.pipeline.cfg, q, Some(kept))
        }),
        _ => None,
    };
    let BotView { profile, settings, paused } = view;
    let bots::Profile { name: business, username, .. } = profile.unwrap_or_default();
    // The customer's language: their message (a photo's caption is its text), else, in a
    // private chat, the language they have been writing in, else their Telegram app's language.
    let language = match &update.kind {
        UpdateKind::Message(m) => {
            let app = m.from.as_ref().and_then(|f| f.language_code.as_deref());
            let written = m.text.as_deref().or(m.caption.as_deref()).unwrap_or_default();
            let said = language::said(written);
            let so_far = if m.chat.is_private() && said.clearly().is_none() {
                conversations::language_of(&a.pipeline.db.pool, tenant, bot_id, ChatId(m.chat.id), 0).await?
            } else {
                None
            };
            language::message_language(app, &said, so_far.as_deref())
        }
        UpdateKind::CallbackQuery(q) => press_language(&a.pipeline.db, tenant, bot_id, q).await?,
        _ => None,
    };
    let lang = language::Lang::of(language.as_deref());
    let texts = settings::texts_in(&settings, &business, lang);
    let ctx = Ctx { a, tenant, bot_id, bot, business: &business, username: &username, settings: &settings, texts: &texts, language: language.as_deref(), lang, started, more_waiting, paused, early, timing: Mutex::new(None) };
    match update.kind {
        UpdateKind::Message(m) if dead => ctx.unanswered(update.update_id, m).await,
        _ if dead => Ok(()),
        UpdateKind::Message(m) => ctx.message(update.update_id, m).await,
        UpdateKind::CallbackQuery(q) => ctx.callback(update.update_id, q).await,
        _ => Ok(()),
    }
}

/// A customer the bot's announcements had found blocked is back: they sent the bot something in
/// their chat with it. A message clears the mark as it opens the conversation
/// (`conversations::open`); a button press, an edit or a payment (which billing handles, before
/// answering) here. Called for every update of a business's bot.
pub async fn customer_back(db: &storage::Db, tenant: TenantId, bot: BotId, kind: &UpdateKind) -> Result<(), JobError> {
    if let Some(chat) = back_in_private_chat(kind) {
        announcements::reachable_again(&db.pool, tenant, bot, chat).await?;
    }
    Ok(())
}

/// The customer's private chat with the bot, for an update from them that does not open the
/// conversation: a button press, an edited message, a payment (its pre-checkout, which has no
/// chat — a private chat's id is its user's — and its `successful_payment` message).
fn back_in_private_chat(kind: &UpdateKind) -> Option<ChatId> {
    let (chat, from) = match kind {
        UpdateKind::CallbackQuery(q) => (&q.message()?.chat, q.from.id),
        UpdateKind::EditedMessage(m) => (&m.chat, m.from.as_ref()?.id),
        UpdateKind::Message(m) if m.successful_payment.is_some() => (&m.chat, m.from.as_ref()?.id),
        UpdateKind::PreCheckoutQuery(q) => return Some(ChatId(q.from.id)),
        _ => return None,
    };
    (chat.is_private() && chat.id == from).then_some(ChatId(chat.id))
}

/// The language a button press is answered in. The pressed message is the bot's, and a quote in
/// it is in the documents' language, so it says nothing of the customer's: in a private chat the
/// language kept from the customer's own messages, else their Telegram app's; in a group, where
/// the conversation's language is whoever spoke last, the presser's app first.
async fn press_language(db: &storage::Db, tenant: TenantId, bot: BotId, q: &CallbackQuery) -> Result<Option<String>, JobError> {
    let app = language::customer_language(q.from.language_code.as_deref(), "");
    let Some(m) = q.message() else { return Ok(app) };
    let kept = conversations::language_of(&db.pool, tenant, bot, ChatId(m.chat.id), groups::topic(m)).await?;
    Ok(if m.chat.is_private() { kept.or(app) } else { app.or(kept) })
}

/// The retrieval query of a customer's private message, when it is sure to be the message's
/// own text: words (or a caption), not a command, not a follow-up (which is searched together
/// with the previous question). Computed as [`Ctx::message`] and the pipeline do.
fn early_query(m: &Message) -> Option<String> {
    if !m.chat.is_private() || m.from.as_ref().is_some_and(|u| u.is_bot) {
        return None;
    }
    let text = m.text.as_deref().or(m.caption.as_deref()).map(str::trim).filter(|t| !t.is_empty())?;
    (!text.starts_with('/') && !pipeline::is_follow_up(text) && intent::of(text).is_none()).then(|| text.to_owned())
}

/// Whether an earlier message belongs in the model's view of the conversation: the customer's
/// questions and the answers they got (from the sources, a Q&A pair, or the owner) — not
/// commands, greetings, handoff notices or "couldn't find" replies, which only give a small
/// model text to copy.
fn in_history(m: &conversations::Msg) -> bool {
    if m.text.trim().is_empty() {
        return false;
    }
    match m.author {
        Author::Customer => !m.text.starts_with('/') && m.kind != MessageKind::Media,
        Author::Owner => true,
        Author::Bot => m.kind.is_answer(),
    }
}

/// One update being handled: the business, its bot and its texts.
struct Ctx<'a> {
    a: &'a Answering,
    tenant: TenantId,
    bot_id: BotId,
    bot: &'a Bot,
    business: &'a str,
    username: &'a str,
    settings: &'a BotSettings,
    texts: &'a settings::Texts,
    /// The customer's language (a two-letter code), when known, and the bot's texts' language.
    language: Option<&'a str>,
    lang: language::Lang,
    /// When the job started, and the model's share of it once known: the overhead measurement.
    started: Instant,
    /// See [`Arrival::more_waiting`].
    more_waiting: bool,
    /// The owner paused the bot: every message gets the paused notice.
    paused: bool,
    /// The question's embeddings, started with the job.
    early: Option<compose::EarlyVectors>,
    /// A model answer's timing, once its pipeline ran: the overhead measurement's marks.
    timing: Mutex<Option<limits::Timing>>,
}

impl Ctx<'_> {
    fn db(&self) -> &storage::Db {
        &self.a.pipeline.db
    }

    async fn message(&self, update_id: i64, m: Message) -> Result<(), JobError> {
        if m.from.as_ref().is_some_and(|u| u.is_bot) {
            return Ok(());
        }
        let private = m.chat.is_private();
        // A caption is read as text: the question that comes with a photo or a document.
        let written = m.text.as_deref().or(m.caption.as_deref()).map(str::trim).filter(|t| !t.is_empty());
        // Media without words, in a private chat (in a group it is not addressed to the bot).
        let unreadable = if written.is_none() && private { m.media_kind() } else { None };
        let text = match (written, unreadable) {
            (Some(raw), _) if private => raw.to_owned(),
            (Some(raw), _) => match self.addressed(&m, raw) {
                Some(t) if !t.is_empty() => t,
                _ => return Ok(()),
            },
            (None, Some(kind)) => media::describe(kind, &m),
            (None, None) => return Ok(()),
        };
        let from = m.from.clone().unwrap_or_default();
        let name = groups::display_name(&from.first_name, from.last_name.as_deref());
        let customer = groups::customer(&m, UserId(from.id), &name, self.language);
        let command = if unreadable.is_some() { String::new() } else { text.split_whitespace().next().unwrap_or_default().split('@').next().unwrap_or_default().to_owned() };
        let mut tx = self.db().begin().await?;
        let conv = conversations::open(&mut *tx, self.tenant, self.bot_id, &customer).await?;
        // With a person, the message is the owner's to read: stored `pending` until it has been
        // passed on to them in the manager chat (a customer message's `delivery` is its delivery
        // to the owner).
        // `/start`, `/forget`, `/stop`, `/help` and `/privacy` (about the bot, not for the team)
        // are the bot's to answer even then, and `/human` (the customer hears they are waiting
        // already); a paused bot answers everything with its notice.
        let with_person = conv.mode == Mode::Human && !matches!(command.as_str(), "/start" | "/forget" | "/stop" | "/help" | "/privacy" | "/human") && !self.paused;
        let delivery = if with_person { Delivery::Pending } else { Delivery::Sent };
        let kind = if unreadable.is_some() { MessageKind::Media } else { MessageKind::Text };
        let (cmsg, fresh) = conversations::add(&mut tx, self.tenant, conv.id, &NewMsg { author: Author::Customer, text: &text, update_id: Some(update_id), kind, sources: "[]", delivery, model_tokens: 0, question: None }).await?;
        tx.commit().await.map_err(anyhow::Error::from)?;

        // A retried job: the reply was stored already — send it if it wasn't, never twice. Only
        // a message stored by an earlier attempt can have one (a reply is stored after it), so a
        // fresh message skips the round trip.
        if !fresh && let Some(r) = conversations::reply_to(&self.db().pool, self.tenant, conv.id, update_id).await? {
            if matches!(r.kind, MessageKind::Handoff | MessageKind::Media) {
                return self.finish_hand_off(&conv, &r, m.message_id, conv.mode != Mode::Human).await;
            }
            return self.resume(&conv, &r, m.message_id).await;
        }
        if cmsg.delivery != Delivery::Sent {
            // With a person: the assistant stays silent; the owner gets the message (a retried
            // job passes on what an earlier attempt could not).
            return handoff::forward_to_owner(self.db(), self.a.manager.as_ref(), self.tenant, &conv, &cmsg).await;
        }
        if with_person {
            return Ok(()); // passed on by an earlier attempt
        }
        if command == "/forget" {
            return self.forget_ask(&conv, update_id, m.message_id).await;
        }
        if command == "/stop" && private {
            // No announcements for this chat (a paused bot honours it too).
            announcements::opt_out(&self.db().pool, self.tenant, self.bot_id, conv.chat_id).await?;
            let text = self.lang.words().stop_done;
            return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text, sources: &[], tokens: 0, question: None }).await;
        }
        // `/start` after `/stop`: announcements again, paused or not — before the paused notice,
        // or a customer who sent it to a paused bot would stay opted out without knowing.
        let back = command == "/start" && private && announcements::opt_in(&self.db().pool, self.tenant, self.bot_id, conv.chat_id).await?;
        if self.paused {
            if back {
                // Both: that the bot is paused, and that announcements come again (even in a
                // burst: it is news of its own).
                let text = format!("{}\n\n{}", self.texts.paused, self.lang.words().stop_undone);
                return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Paused, text: &text, sources: &[], tokens: 0, question: None }).await;
            }
            if self.more_waiting {
                return Ok(()); // a burst gets one notice, to its last message
            }
            return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Paused, text: &self.texts.paused, sources: &[], tokens: 0, question: None }).await;
        }
        if unreadable == Some(MediaKind::Sticker) {
            // A sticker is small talk (a 👍, a smile), not a request for a person: a short reply,
            // as to "ok" — in a burst, none (what came after it is answered).
            if self.more_waiting {
                return Ok(());
            }
            let text = language::fill(self.lang.words().ok_reply, self.business);
            return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text: &text, sources: &[], tokens: 0, question: None }).await;
        }
        if unreadable.is_some() {
            // Even in a burst (`more_waiting`): the next message may be one the assistant
            // answers, and the photo must not be dropped silently. Once handed off, the rest of
            // the burst goes to the owner (`with_person` above), so the customer gets one reply.
            return self.media(&conv, update_id, m.message_id).await;
        }
        let t = self.texts;
        if back {
            // Back from `/stop`: the welcome, and that announcements come again.
            let text = format!("{}\n\n{}", t.welcome, self.lang.words().stop_undone);
            return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text: &text, sources: &[], tokens: 0, question: None }).await;
        }
        let fixed = match command.as_str() {
            "/start" => Some(&t.welcome),
            "/help" => Some(&t.help),
            "/privacy" => Some(&t.privacy),
            "/paysupport" => Some(&t.paysupport),
            "/human" if conv.mode == Mode::Human => {
                let text = self.already_waiting();
                return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text: &text, sources: &[], tokens: 0, question: None }).await;
            }
            "/human" => return self.handoff(&conv, update_id, m.message_id).await,
            // A command the bot does not have is not a question for the model. In a private
            // chat the customer gets the help (what the bot can do); in a group only when the
            // command names this bot ("/menu@shop_bot"): the group's other commands ("/weather",
            // "/shrug") are for other bots or for people, and cost the owner nothing.
            other if other.starts_with('/') => {
                let named = text.split_whitespace().next().is_some_and(|w| w.contains('@'));
                if !private && !named {
                    return Ok(());
                }
                Some(&t.help)
            }
            // Not a question: a request for a person in words is `/human`; small talk ("hi",
            // "thanks", "bye") gets a short reply — no retrieval, no model, no credit, no
            // knowledge gap. In a burst, small talk waits for the answer to what came after it.
            _ => match intent::of(&text) {
                Some(intent::Intent::Person) => return self.handoff(&conv, update_id, m.message_id).await,
                Some(_) if self.more_waiting => return Ok(()),
                Some(small) => {
                    let w = self.lang.words();
                    let text = match small {
                        intent::Intent::Greeting | intent::Intent::Person => t.welcome.clone(),
                        intent::Intent::Thanks => language::fill(w.thanks_reply, self.business),
                        intent::Intent::Ok => language::fill(w.ok_reply, self.business),
                        intent::Intent::Bye => language::fill(w.bye_reply, self.business),
                    };
                    return self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text: &text, sources: &[], tokens: 0, question: None }).await;
                }
                None => None,
            },
        };
        match fixed {
            Some(text) => self.reply(&conv, update_id, m.message_id, &Reply { kind: MessageKind::Command, text, sources: &[], tokens: 0, question: None }).await,
            None if self.more_waiting => {
                tracing::debug!("the customer wrote again: this message is answered with the next");
                Ok(())
            }
            None => {
                // The owner's optional paywall: past the free questions of the day, an invoice.
                // Decided once per update: a retried job (not `fresh`) gets the same decision.
                // The conversation so far is read beside it (one round trip's wait, not two).
                let walled = async {
                    match private {
                        true => crate::billing::paywall(&self.a.pipeline.billing, self.tenant, self.bot_id, self.bot, conv.chat_id, update_id).await,
                        false => Ok(false),
                    }
                };
                let earlier = async { conversations::recent(&self.db().pool, self.tenant, conv.id, cmsg.id, self.a.pipeline.cfg.history_messages as i64).await.map_err(anyhow::Error::from) };
                let (walled, earlier) = tokio::try_join!(walled, earlier)?;
                if walled {
                    return Ok(());
                }
                self.answer(&conv, &cmsg, &earlier, update_id, m.message_id, &text).await
            }
        }
    }

    /// The customer's message whose job was dead-lettered ([`could_not_answer`]).
    async fn unanswered(&self, update_id: i64, m: Message) -> Result<(), JobError> {
        if m.from.as_ref().is_some_and(|u| u.is_bot) {
            return Ok(());
        }
        let private = m.chat.is_private();
        let Some(written) = m.text.as_deref().or(m.caption.as_deref()).map(str::trim).filter(|t| !t.is_empty()) else { return Ok(()) };
        let text = if private {
            written.to_owned()
        } else {
            match self.addressed(&m, written) {
                Some(t) if !t.is_empty() => t,
                _ => return Ok(()),
            }
        };
        let from = m.from.clone().unwrap_or_default();
        let name = groups::display_name(&from.first_name, from.last_name.as_deref());
        let customer = groups::customer(&m, UserId(from.id), &name, self.language);
        let mut tx = self.db().begin().await?;
        let conv = conversations::open(&mut *tx, self.tenant, self.bot_id, &customer).await?;
        if conv.mode == Mode::Human {
            // The person has it: the message is theirs to answer.
            return Ok(());
        }
        // The question, as the job would have stored it (usually it did, before it failed).
        conversations::add(&mut tx, self.tenant, conv.id, &NewMsg { author: Author::Customer, text: &text, update_id: Some(update_id), kind: MessageKind::Text, sources: "[]", delivery: Delivery::Sent, model_tokens: 0, question: None }).await?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        if let Some(r) = conversations::reply_to(&self.db().pool, self.tenant, conv.id, update_id).await? {
            // It has its reply: sent now if it never went out, and never a second.
            return self.resume(&conv, &r, m.message_id).await;
        }
        if private {
            // A question the customer paid for, or one of their free ones, goes back to them.
            crate::billing::paywall::give_back(&self.a.pipeline.billing, self.tenant, self.bot_id, conv.chat_id, update_id).await?;
        }
        tracing::warn!("the customer's message could not be answered; telling them the bot cannot answer right now");
        let r = Reply { kind: MessageKind::Unavailable, text: &self.texts.unavailable, sources: &[], tokens: 0, question: Some(&text) };
        self.answer_reply(&conv, update_id, m.message_id, &r).await.map(drop)
    }

    /// A message the bot cannot read: the conversation goes to the owner (the transcript shows
    /// what was sent), and the customer gets the short reply saying so. No model, no credit.
    async fn media(&self, conv: &Conversation, update_id: i64, reply_to: i64) -> Result<(), JobError> {
        let away = self.away_note();
        let text = match &away {
            // The owner's own words for it, then the away note.
            Some(away) if !self.settings.media_text.trim().is_empty() => format!("{}\n\n{away}", self.texts.media),
            // One text that says both: the away note says it was passed on, and when the team is
            // back (the default's "a person will reply here" would promise it twice, and sooner).
            Some(away) => format!("{} {away}", self.lang.words().text_only),
            None => self.texts.media.clone(),
        };
        self.hand_off(conv, update_id, reply_to, MessageKind::Media, &text, away.is_some()).await
    }

    /// `/human` (or the person button, `update_id` being the button's press).
    async fn handoff(&self, conv: &Conversation, update_id: i64, reply_to: i64) -> Result<(), JobError> {
        let away = self.away_note();
        let text = away.clone().unwrap_or_else(|| feedback::handoff_note(self.business, self.lang));
        self.hand_off(conv, update_id, reply_to, MessageKind::Handoff, &text, away.is_some()).await
    }

    /// Hands the conversation to a person (unless `away`: outside working hours the assistant
    /// keeps answering) and stores the customer's note (`kind` [`MessageKind::Handoff`] or
    /// [`MessageKind::Media`]) in one commit, keyed by the update; then the team hears and the note
    /// goes out ([`Self::finish_hand_off`]). A retried job finds the note by its update and
    /// finishes what the earlier attempt began: with the mode changed and nothing stored, a retry
    /// would take the conversation as already with a person and the customer would hear nothing.
    async fn hand_off(&self, conv: &Conversation, update_id: i64, reply_to: i64, kind: MessageKind, text: &str, away: bool) -> Result<(), JobError> {
        let mut tx = self.db().begin().await?;
        if !away {
            conversations::set_mode(&mut *tx, self.tenant, conv.id, Mode::Human).await?;
        }
        let (note, _) = conversations::add(&mut tx, self.tenant, conv.id, &NewMsg { author: Author::Bot, text, update_id: Some(update_id), kind, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        self.finish_hand_off(conv, &note, reply_to, away).await
    }

    /// The rest of a handoff whose note is stored: while the note is unsent the team is told
    /// (again, when an earlier attempt stopped before sending it: the team may hear twice, never
    /// not at all), then the note is sent, at most once ([`Self::resume`]).
    async fn finish_hand_off(&self, conv: &Conversation, note: &Msg, reply_to: i64, away: bool) -> Result<(), JobError> {
        if note.delivery == Delivery::Pending {
            handoff::tell_team(self.db(), self.a.manager.as_ref(), self.tenant, conv, note.kind, away).await?;
        }
        self.resume(conv, note, reply_to).await
    }

    /// Outside the bot's working hours: the note for a customer who asks for a person (when the
    /// team is back); None while someone is there (or without working hours).
    fn away_note(&self) -> Option<String> {
        let h = hours::Hours::from_settings(&self.settings.working_hours, &self.settings.timezone)?;
        let now = storage::now_ms();
        if h.is_open(now) {
            return None;
        }
        Some(match h.next_open(now) {
            Some(back) => self.texts.away.replace("{when}", &h.describe(back, self.owners_language(&self.settings.away_text))),
            None if self.settings.away_text.trim().is_empty() => language::fill(self.lang.words().away_later, self.business),
            None => self.texts.away.replace("{when}", "later"),
        })
    }

    /// To a customer who sends `/human` while waiting for a person: that they are, and outside
    /// working hours when the team is back.
    fn already_waiting(&self) -> String {
        let w = self.lang.words();
        let now = storage::now_ms();
        let back = hours::Hours::from_settings(&self.settings.working_hours, &self.settings.timezone).filter(|h| !h.is_open(now)).and_then(|h| h.next_open(now).map(|b| h.describe(b, self.lang)));
        match back {
            Some(when) => language::fill(w.already_waiting_away, self.business).replace("{when}", &when),
            None => language::fill(w.already_waiting, self.business),
        }
    }

    /// The language to fill in a text of the owner's (`written`: empty for bellhop's own, in the
    /// customer's language) in: the one it is written in, when that is clear and the bot writes
    /// in it; else the customer's. "A person will answer {when}." gets "tomorrow at 08:00", not
    /// "завтра в 08:00", whoever reads it.
    fn owners_language(&self, written: &str) -> language::Lang {
        if written.trim().is_empty() {
            return self.lang;
        }
        match language::said(written).clearly() {
            Some(code) if code == "en" || language::Lang::of(Some(code)) != language::Lang::En => language::Lang::of(Some(code)),
            _ => self.lang,
        }
    }

    /// A question: the answer pipeline, its text drafted as the model writes (private chats),
    /// then the reply stored and sent.
    /// `earlier`: the conversation's messages before this one ([`conversations::recent`]).
    async fn answer(&self, conv: &Conversation, cmsg: &Msg, earlier: &[Msg], update_id: i64, reply_to: i64, question: &str) -> Result<(), JobError> {
        let deps = &self.a.pipeline;
        let mut typing = SendChatAction::typing(conv.chat_id);
        if conv.thread_id != 0 {
            typing.message_thread_id = Some(conv.thread_id);
        }
        // "typing…" goes out beside the work, not before it: a Bot API round trip would otherwise
        // start every answer's time. It is awaited before the reply, so it never arrives after it.
        let typing = {
            let bot = self.bot.clone();
            tokio::spawn(async move {
                let _ = bot.call(&typing).await;
            })
        };

        let history: Vec<Turn> = earlier.iter().filter(|m| in_history(m)).map(|m| Turn { customer: m.author == Author::Customer, text: m.text.clone() }).collect();
        let voice = Voice { business: self.business, persona: &self.settings.persona, tone: &self.settings.tone, extra: &self.settings.extra_instructions, language: self.language };
        let key = format!("answer:{}:{update_id}", self.bot_id.0);
        let request = pipeline::Request { tenant: self.tenant, bot: self.bot_id, voice, texts: self.texts, history: &history, question, credit_key: Some(&key), early: self.early.as_ref() };

        // Drafts in private chats: a task sends the latest text at most every draft_interval
        // (none once a person has the conversation).
        let (progress, drafts) = if conv.chat_kind == ChatKind::Private {
            let to = drafts::Chat { chat: conv.chat_id, draft_id: cmsg.id.0.max(1), db: deps.db.clone(), tenant: self.tenant, conv: conv.id };
            let (tx, task) = drafts::start(self.bot.clone(), to, deps.cfg.draft_interval);
            (Some(tx), Some(task))
        } else {
            (None, None)
        };
        let answering = Instant::now();
        let answered = pipeline::answer(deps, &request, progress.as_ref()).await;
        drop(progress);
        if let Some(d) = drafts {
            d.finish().await;
        }
        let mut answer = answered?;
        if answer.generated {
            let timing = limits::Timing { answering, retrieval: answer.retrieval_time, steps: answer.retrieval_steps, model: answer.reply.model_time, answered: Instant::now() };
            *self.timing.lock().unwrap_or_else(|p| p.into_inner()) = Some(timing);
        }
        let _ = typing.await;
        let r = &answer.reply;
        if matches!(r.kind, MessageKind::Unavailable | MessageKind::Fallback) && conv.chat_kind == ChatKind::Private {
            // The business is out of AI answers, or its sources don't say: a question the
            // customer paid for, or one of their free ones, was not answered, so it goes back to
            // them (once per update; before the reply is sent, so a retry after a failed send
            // finds it given back already).
            crate::billing::paywall::give_back(&deps.billing, self.tenant, self.bot_id, conv.chat_id, update_id).await?;
        }
        let given = self.answer_reply(conv, update_id, reply_to, &Reply { kind: r.kind, text: &r.text, sources: &r.sources, tokens: r.tokens, question: Some(question) }).await;
        // The credit: spent once the answer is given (or on its way: a failed send is retried
        // from the stored reply), back when a person took the conversation over first.
        match given {
            Ok(delivery::Given::Withdrawn) => answer.release(self.db()).await?,
            _ => answer.settle(self.db()).await?,
        }
        if given? == delivery::Given::Withdrawn {
            // The question is the person's to answer now: it goes to them in the manager chat, as
            // the customer's next messages will (they may have taken the conversation over
            // without seeing it).
            let Some(conv) = conversations::get(&self.db().pool, self.tenant, conv.id).await? else { return Ok(()) };
            return handoff::forward_to_owner(self.db(), self.a.manager.as_ref(), self.tenant, &conv, cmsg).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(chat_type: &str, from_bot: bool, text: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "message_id": 7, "date": 1_700_000_000,
            "chat": {"id": 42, "type": chat_type},
            "from": {"id": 42, "is_bot": from_bot, "first_name": "Ann"},
            "text": text,
        }))
        .unwrap()
    }

    #[test]
    fn only_a_private_question_searched_on_its_own_is_embedded_early() {
        let q = "How much is a cake for 8 people?";
        assert_eq!(early_query(&message("private", false, &format!("  {q}\n"))).as_deref(), Some(q));
        assert_eq!(early_query(&message("private", false, "/start")), None, "a command");
        assert_eq!(early_query(&message("private", false, "and on Sundays?")), None, "a follow-up: searched with the previous question");
        assert_eq!(early_query(&message("private", false, "   ")), None);
        assert_eq!(early_query(&message("group", false, q)), None, "in a group, only what is addressed to the bot");
        assert_eq!(early_query(&message("private", true, q)), None, "a bot's message is not answered");
    }

    #[test]
    fn only_a_question_for_the_bot_answers_a_burst() {
        let bot = BotId(900);
        let q = |chat: &str, text: &str| is_question(&message(chat, false, text), bot, "cake_shop_bot");
        assert!(q("private", "And do you deliver?"));
        assert!(!q("private", "/help"), "a command is answered, but not as the question before it");
        assert!(!q("private", "   "), "nothing written (a photo without a caption)");
        assert!(!is_question(&message("private", true, "Hello"), bot, "cake_shop_bot"), "a bot's message");
        assert!(q("supergroup", "@cake_shop_bot do you deliver?"), "addressed to the bot");
        assert!(!q("supergroup", "do you deliver?"), "in a group, said to the others");
        assert!(!q("supergroup", "@cake_shop_bot"), "a mention alone");
        assert!(!q("supergroup", "/help@cake_shop_bot"));
        let mut reply = message("supergroup", false, "and on Sundays?");
        reply.reply_to_message = Some(Box::new(serde_json::from_value(serde_json::json!({
            "message_id": 6, "date": 1_700_000_000, "chat": {"id": 42, "type": "supergroup"},
            "from": {"id": 900, "is_bot": true, "first_name": "Cake Shop"}, "text": "We open at 9."
        })).unwrap()));
        assert!(is_question(&reply, bot, "cake_shop_bot"), "a reply to the bot");
    }
}
