//! Human handoff. A customer asks for a person (`/human` or the button): the conversation goes
//! to `human` mode — the AI stays silent in it — and the owner and every teammate get the
//! transcript in their own chat with the manager bot, with Reply and Close buttons. Whatever one
//! of them writes as a Telegram reply to one of those messages (or from the admin page) reaches
//! the customer through the business's bot; the first to reply takes the conversation (the
//! others are told who did, and their replies are refused), and the customer's next messages go
//! to that person only. Close hands the conversation back to the AI; so does the handoff
//! timeout when nobody replied ([`time_out`]), and `answering.handoff_idle_hours` without a word
//! from the team once someone had ([`end_idle`]).
//!
//! Outside the bot's working hours ([`super::hours`]) the conversation stays with the assistant
//! (the customer gets the away message from the caller): the team still gets the transcript,
//! and whoever replies takes it.
use crate::domain::conversation::{Author, ConversationId, Delivery, MessageKind, Mode};
use crate::domain::{TenantId, UserId};
use super::delivery::{Sent, send_once};
use crate::jobs::{JobError, job_error};
use crate::manager::{ChildBots, Manager};
use crate::storage::conversations::{self, Conversation, Msg, NewMsg};
use crate::storage::{self, Db, bots, team};
use crate::telegram::html::escape;
use crate::telegram::methods::{AnswerCallbackQuery, SendMessage};
use crate::telegram::{CallbackQuery, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyMarkup};

/// Callback data prefixes of the owner's buttons in the manager chat.
const REPLY: &str = "ho:r:";
const CLOSE: &str = "ho:c:";
/// Messages of the transcript sent to the owner.
const TRANSCRIPT: i64 = 12;
/// The most characters of a handoff alert, as Telegram counts them: within its 4,096.
const ALERT_LIMIT: usize = 4000;
/// The longest reply passed on to a customer, in characters (as on the admin page): with the
/// bot's name in front it stays within Telegram's 4,096 for one message.
pub const MAX_REPLY: usize = 4000;

fn owner_buttons(conv: ConversationId) -> ReplyMarkup {
    ReplyMarkup::Inline(InlineKeyboardMarkup {
        inline_keyboard: vec![vec![
            InlineKeyboardButton { text: "✍️ Reply".into(), callback_data: Some(format!("{REPLY}{conv}")), ..Default::default() },
            InlineKeyboardButton { text: "✅ Close".into(), callback_data: Some(format!("{CLOSE}{conv}")), ..Default::default() },
        ]],
    })
}

/// Tells the owner and every teammate that the customer of `conv` asked for a person — or, for
/// `kind` [`MessageKind::Media`], sent something the assistant can't read — with the transcript
/// (`away`: outside working hours, when the assistant keeps answering). The caller has handed the
/// conversation over (mode `human`, unless `away`) and stored the customer's note in the same
/// commit. Returns whether anyone could be told.
pub async fn tell_team(db: &Db, manager: Option<&Manager>, tenant: TenantId, conv: &Conversation, kind: MessageKind, away: bool) -> anyhow::Result<bool> {
    let Some(manager) = manager else { return Ok(false) };
    let team = team::recipients(&db.pool, tenant).await?;
    let username = bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.username).unwrap_or_default();
    let mut lines = Vec::new();
    let all = conversations::transcript(&db.pool, tenant, conv.id).await?;
    // The bot's notes about the handoff itself (to the customer) tell the team nothing.
    let said: Vec<&Msg> = all.iter().filter(|m| !(m.author == Author::Bot && matches!(m.kind, MessageKind::Handoff | MessageKind::Media))).collect();
    for m in said.iter().rev().take(TRANSCRIPT as usize).rev() {
        let who = match m.author {
            Author::Customer => escape(&conv.customer_name),
            Author::Owner => "You".into(),
            Author::Bot => "Bot".into(),
        };
        let text: String = m.text.chars().take(400).collect();
        lines.push(format!("<b>{who}:</b> {}", escape(&text)));
    }
    let first = if team.len() > 1 { " The first of your team to reply takes the conversation." } else { "" };
    // For media, what was sent ("a photo", "a voice message", …), as the transcript describes it.
    let sent = (kind == MessageKind::Media).then(|| {
        let last = all.iter().rev().find(|m| m.author == Author::Customer && m.kind == MessageKind::Media);
        last.and_then(|m| super::media::what(&m.text)).unwrap_or("something").to_owned()
    });
    let note = |lines: &[String], left_out: bool| {
        let mut transcript = lines.join("\n");
        if left_out {
            transcript = format!("<i>… (the earlier messages are on the conversation page)</i>\n{transcript}");
        }
        if let Some(sent) = &sent {
            let headline = if away {
                format!(
                    "🌙 <b>{}</b> sent {} to @{} outside your working hours. The assistant can only read text: it told them your team will reply, and it keeps answering their questions.",
                    escape(&conv.customer_name),
                    escape(sent),
                    escape(&username),
                )
            } else {
                format!(
                    "📎 <b>{}</b> sent {} to @{}. The assistant can only read text, so it passed the conversation on to you.",
                    escape(&conv.customer_name),
                    escape(sent),
                    escape(&username),
                )
            };
            let after = if away { "" } else { " The assistant stays quiet in this chat until you tap Close." };
            format!("{headline}\n\n{transcript}\n\n<i>Reply to this message (or tap Reply) to take the conversation: your answer goes to them through the bot.{after}{first}</i>")
        } else if away {
            format!(
                "🌙 <b>{}</b> asked for a person in @{} — outside your working hours, so the assistant keeps answering them.\n\n{transcript}\n\n<i>Reply to this message (or tap Reply) to take the conversation: your answer goes to them through the bot.{first}</i>",
                escape(&conv.customer_name),
                escape(&username),
            )
        } else {
            format!(
                "🙋 <b>{}</b> wants to talk to a person in @{}.\n\n{transcript}\n\n<i>Reply to this message (or tap Reply) and your answer goes to them through the bot. The assistant stays quiet in this chat until you tap Close.{first}</i>",
                escape(&conv.customer_name),
                escape(&username),
            )
        }
    };
    // One message, headline and footer kept: the oldest lines of a long transcript are left out.
    let fits = |html: &str| crate::telegram::split::split_html(html, ALERT_LIMIT).is_ok_and(|parts| parts.len() == 1);
    let mut dropped = 0;
    while dropped < lines.len() && !fits(&note(&lines[dropped..], dropped > 0)) {
        dropped += 1;
    }
    let note = note(&lines[dropped..], dropped > 0);
    let mut told = false;
    for person in team {
        let mut msg = SendMessage::html(person.0, note.clone());
        msg.reply_markup = Some(owner_buttons(conv.id));
        match manager.bot.send_message(&msg).await {
            Ok(sent) => {
                conversations::add_relay(&db.pool, person.0, sent.message_id, tenant, conv.id).await?;
                told = true;
            }
            Err(e) => tracing::warn!(error = %e, "could not tell a member of the team about a handoff"),
        }
    }
    Ok(told)
}

/// Whoever took the conversation, while they are still on the team.
async fn current_taker(db: &Db, tenant: TenantId, conv: ConversationId) -> anyhow::Result<Option<UserId>> {
    Ok(match team::taken_by(&db.pool, tenant, conv).await? {
        Some(who) if team::belongs(&db.pool, tenant, who).await? => Some(who),
        _ => None,
    })
}

/// What passing a message on to some of the team came to.
#[derive(Default)]
struct Passed {
    /// Someone got it.
    reached: bool,
    /// A failure that may pass (the last one), when someone's failed so.
    passing: Option<crate::telegram::TelegramError>,
}

/// Sends `text` (with the Reply and Close buttons) to each of `people` in the manager chat.
async fn pass_on(db: &Db, manager: &Manager, tenant: TenantId, conv: ConversationId, people: &[UserId], text: &str) -> anyhow::Result<Passed> {
    let mut out = Passed::default();
    for person in people {
        let mut msg = SendMessage::html(person.0, text.to_owned());
        msg.reply_markup = Some(owner_buttons(conv));
        match manager.bot.send_message(&msg).await {
            Ok(sent) => {
                conversations::add_relay(&db.pool, person.0, sent.message_id, tenant, conv).await?;
                out.reached = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a customer's message could not be passed on to a member of the team");
                if e.is_transient() {
                    out.passing = Some(e);
                }
            }
        }
    }
    Ok(out)
}

/// While a conversation is with a person, a customer's new message `m` (stored `pending`) goes
/// to whoever took it — else the whole team — and is marked `sent` once it has. When Telegram
/// refuses it for good to the one who took the conversation (they blocked the manager bot, …),
/// the conversation is free again and the rest of the team gets the message, told why. When it
/// reaches nobody it is marked `failed` — the conversation page says it didn't reach the owner —
/// and the job ends; a passing failure (Telegram's server, the network, a rate limit) marks it
/// `failed` too and asks for a retry, which tries again.
pub async fn forward_to_owner(db: &Db, manager: Option<&Manager>, tenant: TenantId, conv: &Conversation, m: &Msg) -> Result<(), JobError> {
    let Some(manager) = manager else {
        tracing::warn!("no manager bot in this process: a customer's message could not be passed on to the owner");
        conversations::set_delivery(&db.pool, tenant, m.id, Delivery::Failed).await?;
        return Ok(());
    };
    let quoted: String = m.text.chars().take(3500).collect();
    let text = format!("💬 <b>{}:</b> {}", escape(&conv.customer_name), escape(&quoted));
    let taker = current_taker(db, tenant, conv.id).await?;
    let team = team::recipients(&db.pool, tenant).await?;
    let first = match taker {
        Some(who) => vec![who],
        None => team.clone(),
    };
    let mut passed = pass_on(db, manager, tenant, conv.id, &first, &text).await?;
    if let Some(who) = taker
        && !passed.reached
        && passed.passing.is_none()
    {
        // The one who took it can no longer be reached in the manager chat: the rest of the team
        // hears the customer, and the first of them to reply takes the conversation.
        team::give_back(&db.pool, tenant, conv.id, who).await?;
        let name = team::display_name(&db.pool, tenant, who).await?;
        let rest: Vec<UserId> = team.into_iter().filter(|p| *p != who).collect();
        let note = format!("{text}\n\n<i>{} took this conversation, but this bot can no longer reach them (they may have blocked it), so it comes to you: the first to reply takes it.</i>", escape(&name));
        passed = pass_on(db, manager, tenant, conv.id, &rest, &note).await?;
    }
    let Passed { reached, passing } = passed;
    conversations::set_delivery(&db.pool, tenant, m.id, if reached { Delivery::Sent } else { Delivery::Failed }).await?;
    match passing {
        // Nobody got it and it may pass: try again (nobody gets it twice).
        Some(e) if !reached => Err(job_error(e, "passing a customer's message on to the owner")),
        _ => Ok(()),
    }
}

/// Tells the rest of the team that `taker` took the conversation.
async fn announce_taken(db: &Db, manager: &Manager, tenant: TenantId, conv: &Conversation, taker: UserId) -> anyhow::Result<()> {
    let name = team::display_name(&db.pool, tenant, taker).await?;
    let text = format!("👤 <b>{}</b> took the conversation with <b>{}</b> and answers it from now on.", escape(&name), escape(&conv.customer_name));
    for person in team::recipients(&db.pool, tenant).await?.into_iter().filter(|p| *p != taker) {
        if let Err(e) = manager.bot.send_message(&SendMessage::html(person.0, text.clone())).await {
            tracing::warn!(error = %e, "could not tell a member of the team who took a conversation");
        }
    }
    Ok(())
}

/// What became of an owner's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// The conversation is not the tenant's (or no longer exists).
    NotFound,
    /// It reached the customer (now, or by an earlier attempt).
    Sent,
    /// Telegram's answer was lost: it may have reached the customer, and is not sent again.
    Unconfirmed,
    /// Someone else of the team took the conversation first (their name): nothing was sent.
    TakenBy(String),
    /// The owner paused the bot: while paused it sends customers nothing but its notice, so
    /// nothing was sent, and the conversation is as it was.
    Paused,
    /// The one who replied is no longer on the business's team (its name): removed while their
    /// reply was on its way. Nothing was sent, and the conversation is not theirs.
    NotOnTeam(String),
    /// It reached the customer, just after the conversation had gone back to the assistant (the
    /// timeout or a Close, at the same moment): the customer was told so, then got the reply,
    /// and the conversation is with a person — whoever replied — again.
    Reopened,
    /// The conversation went back to the assistant while the reply was on its way, twice over:
    /// nothing was sent.
    Closed,
    /// Longer than one Telegram message can be ([`MAX_REPLY`]): nothing was stored or sent.
    TooLong,
    /// Telegram refused it for good, or still failed on the last try: nothing reached the
    /// customer, the stored message is marked failed, and the reply took nobody the
    /// conversation. Why, in plain words for the owner.
    NotDelivered(&'static str),
}

/// Every reason [`Relayed::NotDelivered`] gives, in words for an owner who is not a developer:
/// the admin page names one by its place here in the address it redirects to.
pub const WHY_NOT_DELIVERED: [&str; 9] = [
    "the customer has blocked the bot",
    "the customer's Telegram account has been deleted",
    "the bot may no longer write in that chat",
    "the bot is disconnected from Telegram (its token no longer works)",
    "it is longer than Telegram allows in one message",
    "Telegram could not be reached",
    "Telegram refused it",
    "something went wrong on our side",
    "the bot is no longer connected to your business",
];

/// Why a reply did not reach the customer, in words for an owner who is not a developer.
fn why_not_delivered(e: &JobError) -> &'static str {
    use crate::telegram::TelegramError as T;
    let (JobError::Retry(err) | JobError::Permanent(err)) = e;
    WHY_NOT_DELIVERED[match T::in_chain(err.as_ref()) {
        Some(T::BotBlocked) => 0,
        Some(T::UserDeactivated) => 1,
        Some(T::CantInitiateConversation | T::ChatNotFound | T::NotAMember | T::Forbidden(_)) => 2,
        Some(T::Unauthorized) => 3,
        Some(T::MessageTooLong) => 4,
        Some(t) if t.is_transient() => 5,
        Some(_) => 6,
        None => 7,
    }]
}

/// What the owner or a teammate (`by`) wrote to the customer of conversation `conv`; `dedupe`:
/// the manager update it came in, when it did; `last_try`: no retry follows this attempt (the
/// job's last, or the admin page, which never retries), so a passing failure is final too.
#[derive(Debug, Clone, Copy)]
pub struct OwnerWords<'a> {
    pub conv: ConversationId,
    pub by: UserId,
    pub text: &'a str,
    pub dedupe: Option<i64>,
    pub last_try: bool,
}

/// Sends the words of `by` (the owner or a teammate) to the customer through the business's
/// bot, once per `dedupe` (the manager update id) when given — at most once, through the stored
/// message's delivery states ([`super::delivery::send_once`]). The first of the team to reply
/// takes the conversation; once the reply is out, the rest of the team is told (through
/// `manager`), and their replies are refused from then on. A reply Telegram refuses for good (the
/// customer blocked the bot, …) — or that still fails on the last try — is marked failed and
/// takes nobody the conversation: [`Relayed::NotDelivered`] says why, and the job ends well.
pub async fn owner_reply(db: &Db, bots: &ChildBots, manager: Option<&Manager>, tenant: TenantId, words: &OwnerWords<'_>) -> Result<Relayed, JobError> {
    let &OwnerWords { conv: conv_id, by, text, dedupe, last_try } = words;
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(Relayed::NotFound) };
    // A redelivered manager update whose reply went out already changes nothing (not even who
    // took the conversation: it may have been closed since); one refused before is not retried.
    if let Some(d) = dedupe
        && let Some(m) = conversations::owner_message_for_update(&db.pool, tenant, conv.id, d).await?
    {
        match m.delivery {
            Delivery::Sent => return Ok(Relayed::Sent),
            Delivery::Failed => return Ok(Relayed::NotDelivered(WHY_NOT_DELIVERED[6])),
            _ => {}
        }
    }
    // What the customer reads: the bot's name, then the words. Telegram counts UTF-16 units.
    let name = bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.name).unwrap_or_default();
    if text.chars().count() > MAX_REPLY || format!("{name}: {text}").encode_utf16().count() > crate::telegram::split::MESSAGE_LIMIT {
        return Ok(Relayed::TooLong);
    }
    // A paused bot says nothing to customers but its "taking a break" notice — what the owner was
    // told when pausing it — and the customer's answer would get that notice too, never reaching
    // whoever replied: the reply is not sent, and changes nothing.
    if bots::paused_at(&db.pool, tenant, conv.bot_id).await?.is_some() {
        if let Some(d) = dedupe
            && let Some(m) = conversations::owner_message_for_update(&db.pool, tenant, conv.id, d).await?
        {
            conversations::mark_failed_if_pending(&db.pool, tenant, m.id).await?;
        }
        return Ok(Relayed::Paused);
    }
    // An owner who replies has taken the conversation over: with a person first (a new handoff
    // has nobody's name on it), then theirs. Taken before the send, so that of two replies at
    // once only one goes out; given back if nothing reached the customer (a retry takes it
    // again). Only by the owner or someone still on the team, checked as it is taken.
    let mut took = team::take(db, tenant, conv.id, by, conv.mode != Mode::Human).await?;
    let mut reopened = false;
    if took == team::Took::WithAssistant {
        // The timeout (or a Close) handed it back to the assistant between the read above and
        // the take, and the customer was told so. The reply is still sent — as it would be a
        // moment later, when it would find the conversation with the assistant — and takes the
        // conversation back to a person; the owner is told what happened.
        took = team::take(db, tenant, conv.id, by, true).await?;
        reopened = true;
    }
    if took == team::Took::NotOnTeam {
        // Removed from the team while the reply was on its way: it is not sent, and an earlier
        // attempt's stored copy never will be.
        if let Some(d) = dedupe
            && let Some(m) = conversations::owner_message_for_update(&db.pool, tenant, conv.id, d).await?
        {
            conversations::mark_failed_if_pending(&db.pool, tenant, m.id).await?;
        }
        let business = storage::tenants::get(&db.pool, tenant).await?.map(|t| t.name).unwrap_or_default();
        return Ok(Relayed::NotOnTeam(business));
    }
    // This reply handed the conversation to a person: if nothing reaches the customer, it goes
    // back to the assistant, as it was — or the customer's next questions would wait for a
    // person who never wrote to them.
    let handed = conv.mode != Mode::Human || reopened;
    // Nothing reached the customer: whatever this reply took is given back.
    let undo = async || -> Result<(), JobError> {
        match (took == team::Took::Now, handed) {
            (true, true) => drop(team::hand_back(&db.pool, tenant, conv_id, by).await?),
            (true, false) => drop(team::give_back(&db.pool, tenant, conv_id, by).await?),
            _ => {}
        }
        Ok(())
    };
    if took == team::Took::WithAssistant {
        // Handed back again at once (a Close pressed at the same moment): leave it so.
        return Ok(Relayed::Closed);
    }
    if let team::Took::Other(other) = took {
        // An earlier attempt of this update may have stored the reply: it will not be sent.
        if let Some(d) = dedupe
            && let Some(m) = conversations::owner_message_for_update(&db.pool, tenant, conv.id, d).await?
        {
            conversations::mark_failed_if_pending(&db.pool, tenant, m.id).await?;
        }
        return Ok(Relayed::TakenBy(team::display_name(&db.pool, tenant, other).await?));
    }
    let mut tx = db.begin().await?;
    let (msg, _) = conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Owner, text, update_id: dedupe, kind: MessageKind::Owner, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    if msg.delivery == Delivery::Sent {
        return Ok(Relayed::Sent); // a redelivered manager update: already relayed
    }
    // Nothing reached the customer: the conversation is not theirs by this reply (a retry takes
    // it again), and a reply no retry will send is marked failed.
    let Some(bot) = bots.open(tenant, conv.bot_id).await? else {
        undo().await?;
        conversations::mark_failed_if_pending(&db.pool, tenant, msg.id).await?;
        return Ok(Relayed::NotDelivered(WHY_NOT_DELIVERED[8]));
    };
    // Taken from the assistant (a reply after a Close, the timeout, or outside working hours):
    // the customer is told that a person answers from now on, and that their messages go to them.
    let joined = if handed { format!("<i>{}</i>\n\n", escape(super::language::Lang::of(conv.language.as_deref()).words().person_joined)) } else { String::new() };
    let mut send = SendMessage::html(conv.chat_id, format!("{joined}<b>{}:</b> {}", escape(&name), escape(text)));
    if conv.thread_id != 0 {
        send.message_thread_id = Some(conv.thread_id);
    }
    let relayed = match send_once(db, tenant, &msg, "relaying the owner's reply", |claim| bot.send_message_with(&send, claim)).await {
        Ok(Sent::Now | Sent::Before) if reopened => Relayed::Reopened,
        Ok(Sent::Now | Sent::Before) => Relayed::Sent,
        Ok(Sent::Unconfirmed) => Relayed::Unconfirmed,
        Err(e) => {
            undo().await?;
            if !last_try && e.worth_retrying() {
                return Err(e);
            }
            tracing::warn!(error = %e, "an owner's reply could not be delivered to the customer");
            conversations::mark_failed_if_pending(&db.pool, tenant, msg.id).await?;
            return Ok(Relayed::NotDelivered(why_not_delivered(&e)));
        }
    };
    // It went out (or may have): the rest of the team hears who answers from now on.
    if took == team::Took::Now
        && let Some(m) = manager
    {
        announce_taken(db, m, tenant, &conv, by).await?;
    }
    Ok(relayed)
}

/// Hands the conversation back to the assistant and tells the customer. The mode change and
/// the message to the customer are stored in one commit, then the message is sent at most once
/// ([`super::delivery::send_once`]): a retry after a failed send (a Telegram refusal, a crash
/// before the call) sends the stored message rather than nothing, and never a second copy.
pub async fn close(db: &Db, bots: &ChildBots, tenant: TenantId, conv_id: ConversationId) -> Result<bool, JobError> {
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(false) };
    if conv.mode == Mode::Human {
        // In the customer's language, as the conversation last knew it.
        let text = super::language::Lang::of(conv.language.as_deref()).words().back_with_assistant;
        let mut tx = db.begin().await?;
        // Only if still with a person: of two closes at once (or a close and the timeout), one
        // tells the customer; the other sends what is unsent, below.
        if conversations::end_handoff(&mut *tx, tenant, conv.id).await? {
            conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Bot, text, update_id: None, kind: MessageKind::Closed, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
    }
    send_closed_notice(db, bots, tenant, &conv).await?;
    Ok(true)
}

/// A notice that the conversation went back to the assistant, stored and not sent because its
/// sending was cut short ([`conversations::stranded_closed_notices`]): sent now, at most once —
/// unless it is no longer true (the conversation is with a person again, or a newer notice
/// exists) or cannot be sent (the bot is gone, Telegram refuses for good): then it is marked
/// failed, so the sweep does not try it again.
pub async fn send_stranded_notice(db: &Db, bots: &ChildBots, n: &conversations::StrandedNotice) -> Result<(), JobError> {
    let tenant = n.tenant_id;
    let Some(conv) = conversations::get(&db.pool, tenant, n.conversation_id).await? else { return Ok(()) };
    let Some(m) = conversations::message(&db.pool, tenant, conv.id, n.id).await? else { return Ok(()) };
    if m.delivery != Delivery::Pending {
        return Ok(());
    }
    let stale = conv.mode == Mode::Human || conversations::newer_of_kind(&db.pool, tenant, conv.id, m.id, MessageKind::Closed).await?;
    let Some(bot) = bots.open(tenant, conv.bot_id).await?.filter(|_| !stale) else {
        conversations::set_delivery(&db.pool, tenant, m.id, Delivery::Failed).await?;
        return Ok(());
    };
    match send_notice(db, tenant, &conv, &bot, &m).await {
        Err(JobError::Permanent(e)) => {
            conversations::set_delivery(&db.pool, tenant, m.id, Delivery::Failed).await?;
            Err(JobError::Permanent(e))
        }
        other => other.map(drop),
    }
}

/// Sends the conversation's notice that it went back to the assistant, if one is unsent (at most
/// once, [`send_once`]). The close and the timeout send it right after storing it; the handoff
/// sweep sends one whose sending was cut short ([`send_stranded_notice`]).
pub async fn send_closed_notice(db: &Db, bots: &ChildBots, tenant: TenantId, conv: &Conversation) -> Result<(), JobError> {
    let Some(m) = conversations::unsent_of_kind(&db.pool, tenant, conv.id, MessageKind::Closed).await? else { return Ok(()) };
    let Some(bot) = bots.open(tenant, conv.bot_id).await? else { return Ok(()) };
    send_notice(db, tenant, conv, &bot, &m).await?;
    Ok(())
}

/// Sends a stored notice that the conversation went back to the assistant to the customer's chat
/// (in its forum topic, if it has one), at most once ([`send_once`]).
async fn send_notice(db: &Db, tenant: TenantId, conv: &Conversation, bot: &crate::telegram::Bot, m: &Msg) -> Result<Sent, JobError> {
    let mut send = SendMessage::new(conv.chat_id, m.text.clone());
    if conv.thread_id != 0 {
        send.message_thread_id = Some(conv.thread_id);
    }
    send_once(db, tenant, m, "telling the customer the chat went back to the assistant", |claim| bot.send_message_with(&send, claim)).await
}

/// A handoff nobody answered within the bot's handoff timeout: the conversation goes back to the
/// assistant and the customer is told, in their language — once: the mode change and the message
/// are committed together, only if the conversation is still in that handoff, and the message is
/// sent at most once (as [`close`]).
pub async fn time_out(db: &Db, bots: &ChildBots, tenant: TenantId, conv_id: ConversationId, handed_off_at: i64) -> Result<bool, JobError> {
    let Some(conv) = conversations::get(&db.pool, tenant, conv_id).await? else { return Ok(false) };
    let text = super::language::Lang::of(conv.language.as_deref()).words().handoff_timed_out;
    let mut tx = db.begin().await?;
    if !conversations::end_handoff_if(&mut *tx, tenant, conv.id, handed_off_at).await? {
        return Ok(false); // answered, closed or handed off again meanwhile
    }
    conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Bot, text, update_id: None, kind: MessageKind::Closed, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = tenant.0, conversation = conv.id.0, "a handoff nobody answered went back to the assistant");
    send_closed_notice(db, bots, tenant, &conv).await?;
    Ok(true)
}

/// A handoff the team answered and then went quiet in: nobody of the team has written to the
/// customer for `idle` (`answering.handoff_idle_hours`, since `quiet_since`). The conversation
/// goes back to the assistant and the customer is told, in their language, with the words of a
/// Close — once, as [`time_out`]: the mode change (only if still in that handoff with nothing
/// written since) and the notice are one commit, and the notice is sent at most once. Then the
/// team hears it in the manager chat; replying to that message writes to the customer again and
/// takes the conversation back. Without this, a customer whose person stopped writing got no
/// answer from anyone, however long they waited: the assistant stayed silent for them.
pub async fn end_idle(db: &Db, bots: &ChildBots, manager: Option<&Manager>, h: &conversations::TimedOutHandoff, quiet_since: i64, idle: std::time::Duration) -> Result<bool, JobError> {
    let tenant = h.tenant_id;
    let Some(conv) = conversations::get(&db.pool, tenant, h.conversation_id).await? else { return Ok(false) };
    let text = super::language::Lang::of(conv.language.as_deref()).words().back_with_assistant;
    let mut tx = db.begin().await?;
    if !conversations::end_handoff_if_idle(&mut *tx, tenant, conv.id, h.handed_off_at, quiet_since).await? {
        return Ok(false); // written in, closed or handed off again meanwhile
    }
    conversations::add(&mut tx, tenant, conv.id, &NewMsg { author: Author::Bot, text, update_id: None, kind: MessageKind::Closed, sources: "[]", delivery: Delivery::Pending, model_tokens: 0, question: None }).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(tenant_id = tenant.0, conversation = conv.id.0, "a handoff the team went quiet in went back to the assistant");
    // A notice whose sending fails is sent by the sweep later; the team hears either way.
    let told = send_closed_notice(db, bots, tenant, &conv).await;
    if let Some(manager) = manager {
        tell_team_idle(db, manager, tenant, &conv, idle).await?;
    }
    told?;
    Ok(true)
}

/// Tells the owner and every teammate that the conversation went back to the assistant after
/// `idle` without a word from them. A reply to the message reaches the customer (and takes the
/// conversation back), as a reply to a handoff does.
async fn tell_team_idle(db: &Db, manager: &Manager, tenant: TenantId, conv: &Conversation, idle: std::time::Duration) -> anyhow::Result<()> {
    let hours = idle.as_secs() / 3600;
    let span = if hours == 1 { "an hour".to_owned() } else { format!("{hours} hours") };
    let name = escape(&conv.customer_name);
    let bot = escape(&bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.username).unwrap_or_default());
    let text = format!(
        "⏰ No one has written to <b>{name}</b> in @{bot} for {span}, so the conversation went back to the assistant, and {name} was told so.\n\n<i>Reply to this message to write to them again: that takes the conversation back.</i>"
    );
    for person in team::recipients(&db.pool, tenant).await? {
        match manager.bot.send_message(&SendMessage::html(person.0, text.clone())).await {
            Ok(sent) => conversations::add_relay(&db.pool, person.0, sent.message_id, tenant, conv.id).await?,
            Err(e) => tracing::warn!(error = %e, "could not tell a member of the team that a conversation went back to the assistant"),
        }
    }
    Ok(())
}

/// Drops from the stored copy of manager update `update_id` what it quotes (`field` of its
/// `kind`: a reply's `reply_to_message`, a press's `message`) of a message no handoff route leads
/// to: a handoff message whose conversation was erased (the customer's `/forget`, the owner's
/// deletion) stays in the team member's Telegram chat, and a reply to it or a press on it would
/// otherwise bring the customer's erased words back into storage. Nothing reads it again.
async fn drop_quoted(db: &Db, manager: &Manager, update_id: i64, kind: &str, field: &str) -> Result<(), JobError> {
    let Some(body) = storage::updates::body(&db.pool, manager.id, update_id).await? else { return Ok(()) };
    let Ok(mut u) = serde_json::from_str::<serde_json::Value>(&body) else { return Ok(()) };
    if u.get_mut(kind).and_then(serde_json::Value::as_object_mut).and_then(|o| o.remove(field)).is_some() {
        storage::updates::set_body(&db.pool, manager.id, update_id, &u.to_string()).await?;
    }
    Ok(())
}

/// The owner's Reply / Close buttons in the manager chat (update `update_id`). Returns true when
/// it was one of them.
pub async fn on_owner_callback(db: &Db, bots: &ChildBots, manager: &Manager, update_id: i64, q: &CallbackQuery) -> Result<bool, JobError> {
    let data = q.data.as_deref().unwrap_or_default();
    let (is_reply, rest) = match (data.strip_prefix(REPLY), data.strip_prefix(CLOSE)) {
        (Some(r), _) => (true, r),
        (_, Some(c)) => (false, c),
        _ => return Ok(false),
    };
    let conv_id = ConversationId(rest.parse().unwrap_or(0));
    let owner = q.from.id;
    // Who pressed the button decides: the message it is on must be one sent to them about this
    // conversation, and they must still be on its business's team.
    let message_id = match &q.message {
        Some(crate::telegram::MaybeInaccessibleMessage::Message(m)) => Some(m.message_id),
        Some(crate::telegram::MaybeInaccessibleMessage::Inaccessible { message_id, .. }) => Some(*message_id),
        None => None,
    };
    let target = match message_id {
        Some(id) => conversations::relay_target(&db.pool, owner, id).await?.filter(|t| t.conversation_id == conv_id),
        None => None,
    };
    let conv = match target {
        Some(t) => conversations::get(&db.pool, t.tenant_id, t.conversation_id).await?.map(|c| (t.tenant_id, c)),
        None => None,
    };
    let Some((tenant, conv)) = conv else {
        drop_quoted(db, manager, update_id, "callback_query", "message").await?;
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text("That conversation is not yours.")).await;
        return Ok(true);
    };
    let is_owner = storage::tenants::get(&db.pool, tenant).await?.is_some_and(|t| t.owner_user_id.0 == owner);
    if let Some(other) = team::taken_by(&db.pool, tenant, conv.id).await?.filter(|o| o.0 != owner) {
        // Taken by someone else: only the owner may still close it.
        if is_reply || !is_owner {
            let name = team::display_name(&db.pool, tenant, other).await?;
            let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text(format!("{name} is answering this conversation."))).await;
            return Ok(true);
        }
    }
    if is_reply {
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone())).await;
        // The bot too: a customer may talk to more than one of the business's bots.
        let username = bots::profile(&db.pool, tenant, conv.bot_id).await?.map(|p| p.username).unwrap_or_default();
        let mut prompt = SendMessage::html(owner, format!("✍️ Write your reply to <b>{}</b> (@{}):", escape(&conv.customer_name), escape(&username)));
        prompt.reply_markup = Some(ReplyMarkup::ForceReply(ForceReply { force_reply: true, input_field_placeholder: Some(format!("Your reply to {}", conv.customer_name.chars().take(40).collect::<String>())) }));
        let sent = manager.bot.send_message(&prompt).await.map_err(|e| job_error(e, "asking the owner for a reply"))?;
        conversations::add_relay(&db.pool, owner, sent.message_id, tenant, conv.id).await?;
    } else {
        close(db, bots, tenant, conv.id).await?;
        let _ = manager.bot.call(&AnswerCallbackQuery::new(q.id.clone()).text("Closed: the assistant answers again.")).await;
        let _ = manager.bot.send_message(&SendMessage::html(owner, format!("✅ Closed. The assistant answers <b>{}</b> again.", escape(&conv.customer_name)))).await;
    }
    Ok(true)
}

/// What the owner or a teammate reads when they reply to a customer of a paused bot.
pub const PAUSED: &str = "The bot is paused, so your reply was not sent: while it is paused, customers get only its “taking a break” message. Resume the bot on its settings page, then reply again.";

/// What someone who is no longer on the team of `business` reads when they reply to a customer.
fn not_on_team(business: &str) -> String {
    format!("You're no longer on the team of {business}, so your reply was not sent to the customer.")
}

/// An owner's message in the manager chat that replies to a handoff message: relay it, and tell
/// them what became of it. `last_try`: the job's last attempt (a passing failure is reported,
/// not retried). Returns true when it was such a reply.
///
/// Only text is passed on. A photo, voice message, sticker, … cannot simply be handed on (a file
/// the manager bot received is not the business's bot's to send), and its caption alone would
/// tell the customer about something they never get: the owner is told to write instead.
pub async fn on_owner_message(db: &Db, bots: &ChildBots, manager: &Manager, update_id: i64, m: &Message, last_try: bool) -> Result<bool, JobError> {
    let Some(reply_to) = &m.reply_to_message else { return Ok(false) };
    let owner = m.chat.id;
    let Some(conversations::RelayTarget { tenant_id: tenant, conversation_id: conv }) = conversations::relay_target(&db.pool, owner, reply_to.message_id).await? else {
        drop_quoted(db, manager, update_id, "message", "reply_to_message").await?;
        // A reply to a handoff of a business whose team they have left: they are told so.
        if let Some(business) = conversations::relay_business(&db.pool, owner, reply_to.message_id).await? {
            let _ = manager.bot.send_message(&SendMessage::new(owner, not_on_team(&business))).await;
            return Ok(true);
        }
        return Ok(false);
    };
    let Some(text) = m.text.as_deref() else {
        let note = "Only text replies are passed on to the customer, so this was not sent. Please write your answer as a text message (a link works for a picture or a file).";
        let _ = manager.bot.send_message(&SendMessage::new(owner, note)).await;
        return Ok(true);
    };
    let note = match owner_reply(db, bots, Some(manager), tenant, &OwnerWords { conv, by: UserId(owner), text, dedupe: Some(update_id), last_try }).await? {
        Relayed::Sent => "✓ Sent. Tap Close on the conversation when you're done.".to_owned(),
        Relayed::Unconfirmed => "Telegram didn't confirm that your reply arrived — it may have. It won't be sent twice; check with the customer before writing it again.".to_owned(),
        Relayed::NotFound => "That conversation no longer exists.".to_owned(),
        Relayed::TakenBy(name) => format!("{name} is already answering this customer, so your reply was not sent."),
        Relayed::NotOnTeam(business) => not_on_team(&business),
        Relayed::Paused => PAUSED.to_owned(),
        Relayed::Reopened => "✓ Sent. The conversation had just gone back to the assistant (the customer was told so), and your reply took it back: the assistant stays quiet again until you tap Close.".to_owned(),
        Relayed::Closed => "The conversation went back to the assistant just as you replied, so your reply was not sent. Reply again to take it over.".to_owned(),
        Relayed::TooLong => "Your reply is longer than one Telegram message can be (4,000 characters), so it was not sent. Please send it as two or more shorter replies.".to_owned(),
        Relayed::NotDelivered(why) => format!("⚠️ Your reply could not be delivered: {why}. The customer did not get it."),
    };
    let _ = manager.bot.send_message(&SendMessage::new(owner, note)).await;
    Ok(true)
}
