//! The sandbox's world: bots, simulated users, groups, every message, pending updates,
//! payments. Plain data behind one mutex, with synchronous operations; nothing here awaits.
//! Serializable, so a demo can survive a restart (`--state-file`).
use bellhop_telegram::types::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::Notify;

/// A bot known to the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotState {
    pub id: i64,
    pub token: String,
    pub username: String,
    pub first_name: String,
    pub can_manage_bots: bool,
    /// Privacy mode off: the bot sees every group message.
    pub can_read_all_group_messages: bool,
    /// For managed bots: the manager bot's id and the owning user's id.
    pub manager_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub webhook: Option<Webhook>,
    /// Bumped on every setWebhook/deleteWebhook so an old delivery loop stops.
    pub webhook_generation: u64,
    pub pending: VecDeque<Value>,
    pub next_update_id: i64,
    pub allowed_updates: Option<Vec<String>>,
    pub commands: Vec<BotCommand>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub short_description: Option<String>,
    /// The profile photo's size, as `"N bytes"` (the control API shows it).
    pub profile_photo: Option<String>,
    /// The profile photo itself (a static photo: JPEG), served at `/sandbox/api/bots/{id}/photo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Vec<u8>>,
    /// Bumped with every new photo, so pages showing it fetch the new one.
    #[serde(default)]
    pub photo_version: u64,
    pub logged_out: bool,
    /// When (sandbox clock, seconds) the bot called `logOut` on this server: for 10 minutes every
    /// call is refused with 400 `Logged out`; the first call after that logs it in again
    /// (`session.rs`).
    #[serde(default)]
    pub logged_out_at: Option<i64>,
    /// When this server launched the bot (its first call since start, `close` or `logOut`);
    /// `None`: not running here. `close` is refused with 429 for 10 minutes after it, and a bot
    /// that is not running gets no webhook deliveries.
    #[serde(default)]
    pub launched_at: Option<i64>,
    /// Bot API 10.1 access settings of a managed bot: when restricted, only the owner and
    /// `access_user_ids` may use it (`managed.rs`).
    #[serde(default)]
    pub access_restricted: bool,
    #[serde(default)]
    pub access_user_ids: Vec<i64>,
    /// Per `language_code`: the command menu, name, description and short description set for
    /// users of that language (default scope). What a user sees is theirs, else the default.
    #[serde(default)]
    pub localised: std::collections::BTreeMap<String, Localised>,
    /// `setChatMenuButton` without a chat: the menu button of every private chat without its own.
    #[serde(default)]
    pub menu_button: Option<MenuButton>,
    /// `setChatMenuButton` with a chat: that chat's own menu button.
    #[serde(default)]
    pub chat_menu_buttons: std::collections::BTreeMap<i64, MenuButton>,
}

/// A bot's texts for one language (`setMy…` with `language_code`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Localised {
    #[serde(default)]
    pub commands: Vec<BotCommand>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub short_description: Option<String>,
}

impl BotState {
    /// Whether `user` may talk to this bot under its access settings.
    pub fn may_use(&self, user: i64) -> bool {
        !self.access_restricted || self.owner_id == Some(user) || self.access_user_ids.contains(&user)
    }
    pub fn user(&self) -> User {
        User { id: self.id, is_bot: true, first_name: self.display_name().to_owned(), username: Some(self.username.clone()), ..Default::default() }
    }
    /// What a user whose Telegram is in `lang` sees: (name, description, short description) —
    /// the ones set for that language, else the default ones.
    pub fn shown_to(&self, lang: Option<&str>) -> (String, String, String) {
        let l = lang.and_then(|l| self.localised.get(l));
        let pick = |own: Option<&Option<String>>, default: &Option<String>| own.and_then(|o| o.clone()).filter(|v| !v.is_empty()).or_else(|| default.clone()).unwrap_or_default();
        (
            l.and_then(|l| l.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| self.display_name().to_owned()),
            pick(l.map(|l| &l.description), &self.description),
            pick(l.map(|l| &l.short_description), &self.short_description),
        )
    }
    pub fn display_name(&self) -> &str {
        self.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.first_name)
    }
    /// What `getMe` returns.
    pub fn me(&self) -> User {
        User {
            can_join_groups: Some(true),
            can_read_all_group_messages: Some(self.can_read_all_group_messages),
            supports_inline_queries: Some(false),
            can_connect_to_business: Some(false),
            has_main_web_app: Some(false),
            can_manage_bots: Some(self.can_manage_bots),
            ..self.user()
        }
    }
}

/// A webhook registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: i64,
    pub ip_address: Option<String>,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
}

/// A simulated person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
    /// Bots this user has started (written to), and bots they blocked.
    pub started: Vec<i64>,
    pub blocked: Vec<i64>,
}

impl SimUser {
    pub fn user(&self) -> User {
        User {
            id: self.id,
            is_bot: false,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            username: self.username.clone(),
            language_code: self.language_code.clone(),
            ..Default::default()
        }
    }
    pub fn chat(&self) -> Chat {
        Chat { id: self.id, kind: "private".into(), first_name: Some(self.first_name.clone()), last_name: self.last_name.clone(), username: self.username.clone(), ..Default::default() }
    }
}

/// A simulated supergroup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: i64,
    pub title: String,
    pub user_ids: Vec<i64>,
    pub bot_ids: Vec<i64>,
}

/// The `message_thread_id` Telegram gives a message: in a supergroup, a reply belongs to the
/// thread of the message it answers, named by the id of the thread's first message (not a topic:
/// the sandbox's supergroups have none, so `is_topic_message` is never set).
pub fn reply_thread(chat: &Chat, reply_to: Option<&Message>) -> Option<i64> {
    if chat.kind != "supergroup" {
        return None;
    }
    reply_to.map(|r| r.message_thread_id.unwrap_or(r.message_id))
}

impl Group {
    pub fn chat(&self) -> Chat {
        Chat { id: self.id, kind: "supergroup".into(), title: Some(self.title.clone()), ..Default::default() }
    }
}

/// One message in any chat, as the bot sees it, with sandbox bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub bot_id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    /// Sent by the bot (true) or by a user / Telegram (false).
    pub from_bot: bool,
    pub message: Message,
    /// The text as the bot sent it (with HTML tags), and its parse mode.
    pub raw_text: Option<String>,
    pub parse_mode: Option<String>,
    /// Any `reply_markup` (inline or reply keyboard) as sent.
    pub reply_markup: Option<Value>,
    /// Earlier texts, oldest first.
    pub edits: Vec<String>,
    pub invoice: Option<InvoiceSpec>,
}

/// An invoice as sent by a bot (message or link).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceSpec {
    pub bot_id: i64,
    pub title: String,
    pub description: String,
    pub payload: String,
    pub currency: String,
    pub amount: i64,
    pub subscription_period: Option<i64>,
}

/// One streamed draft state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub bot_id: i64,
    pub chat_id: i64,
    pub draft_id: i64,
    pub text: String,
    pub date: i64,
}

/// A successful Stars payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    pub bot_id: i64,
    pub user_id: i64,
    pub amount: i64,
    pub payload: String,
    pub date: i64,
    pub refunded: bool,
    /// For subscription payments: the subscription's id (its first charge).
    pub subscription: Option<String>,
}

/// A Star subscription, renewing every `period` seconds of sandbox time until canceled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub bot_id: i64,
    pub user_id: i64,
    pub amount: i64,
    pub payload: String,
    pub period: i64,
    pub expires: i64,
    pub canceled: bool,
    pub charges: Vec<String>,
}

/// A pending managed-bot creation screen: pre-filled, editable, not yet confirmed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreationRequest {
    pub id: String,
    pub user_id: i64,
    pub manager_id: i64,
    pub manager_username: String,
    pub suggested_username: String,
    pub suggested_name: String,
}

/// The outcome of a simulated payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub bot_id: i64,
    pub user_id: i64,
    /// `pending`, `paid` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub telegram_payment_charge_id: Option<String>,
    pub pre_checkout_query_id: String,
}

/// A callback query and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub id: String,
    pub bot_id: i64,
    pub user_id: i64,
    pub data: Option<String>,
    pub answered: bool,
    pub answer_text: Option<String>,
}

/// Everything the sandbox knows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct World {
    /// Seconds added to the real clock (tests advance it to renew subscriptions).
    pub clock_offset: i64,
    pub next_user_id: i64,
    pub next_bot_id: i64,
    pub next_group_id: i64,
    pub next_seq: u64,
    pub users: BTreeMap<i64, SimUser>,
    pub bots: BTreeMap<i64, BotState>,
    /// Valid tokens → bot id. Revoked tokens are removed (401).
    pub tokens: HashMap<String, i64>,
    pub groups: BTreeMap<i64, Group>,
    pub messages: Vec<Entry>,
    pub next_message_id: HashMap<String, i64>,
    pub drafts: Vec<Draft>,
    /// Every draft update ever streamed (the newest 10,000), for tests and the control API:
    /// `drafts` keeps only the live ones, which a final message clears.
    #[serde(default)]
    pub draft_history: Vec<Draft>,
    pub chat_actions: Vec<(i64, i64, String, i64)>,
    pub invoice_links: HashMap<String, InvoiceSpec>,
    pub charges: BTreeMap<String, Charge>,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub transactions: BTreeMap<i64, Vec<StarTransaction>>,
    pub creation_requests: BTreeMap<String, CreationRequest>,
    pub prepared_buttons: HashMap<String, (i64, i64, KeyboardButton)>,
    pub payments: BTreeMap<String, Payment>,
    pub callbacks: HashMap<String, CallbackRecord>,
    /// Wakes long polls and webhook loops; not saved.
    #[serde(skip)]
    pub notifiers: HashMap<i64, Arc<Notify>>,
    /// Per bot, the number of the latest `getUpdates` request: a long poll that sees a newer
    /// one was made ends with 409, as Telegram's does (`delivery::get_updates`). Not saved.
    #[serde(skip)]
    pub polls: HashMap<i64, u64>,
}

/// Update kinds delivered when `allowed_updates` is not set (Telegram leaves these out).
const OPT_IN_KINDS: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

impl World {
    pub fn now(&self) -> i64 {
        let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        real + self.clock_offset
    }

    pub fn notifier(&mut self, bot_id: i64) -> Arc<Notify> {
        self.notifiers.entry(bot_id).or_default().clone()
    }

    /// Queues an update for `bot_id` with the next `update_id`, unless the bot filtered it out.
    pub fn push_update(&mut self, bot_id: i64, kind: &str, payload: Value) {
        let Some(bot) = self.bots.get_mut(&bot_id) else { return };
        let wanted = match &bot.allowed_updates {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => !OPT_IN_KINDS.contains(&kind),
        };
        if !wanted {
            return;
        }
        let update_id = bot.next_update_id;
        bot.next_update_id += 1;
        bot.pending.push_back(json!({ "update_id": update_id, kind: payload }));
        self.notifier(bot_id).notify_waiters();
    }

    pub fn next_message_id(&mut self, bot_id: i64, chat_id: i64) -> i64 {
        // Private chats number messages per (bot, user); groups per group, shared by all bots.
        let key = if chat_id > 0 { format!("{bot_id}:{chat_id}") } else { format!("g:{chat_id}") };
        let n = self.next_message_id.entry(key).or_insert(0);
        *n += 1;
        *n
    }

    pub fn chat_for(&self, chat_id: i64) -> Option<Chat> {
        if chat_id > 0 {
            self.users.get(&chat_id).map(SimUser::chat)
        } else {
            self.groups.get(&chat_id).map(Group::chat)
        }
    }

    pub fn record(&mut self, mut entry: Entry) -> &Entry {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.messages.push(entry);
        self.messages.last().expect("just pushed")
    }

    pub fn find_message(&self, bot_id: i64, chat_id: i64, message_id: i64) -> Option<&Entry> {
        let key_bot = |e: &Entry| chat_id < 0 || e.bot_id == bot_id;
        self.messages.iter().rev().find(|e| e.chat_id == chat_id && e.message_id == message_id && key_bot(e))
    }

    pub fn find_message_mut(&mut self, bot_id: i64, chat_id: i64, message_id: i64) -> Option<&mut Entry> {
        self.messages.iter_mut().rev().find(|e| e.chat_id == chat_id && e.message_id == message_id && (chat_id < 0 || e.bot_id == bot_id))
    }

    pub fn bot_by_username(&self, username: &str) -> Option<&BotState> {
        let u = username.trim_start_matches('@').to_ascii_lowercase();
        self.bots.values().find(|b| b.username.to_ascii_lowercase() == u)
    }

    pub fn username_taken(&self, username: &str) -> bool {
        let u = username.to_ascii_lowercase();
        self.bot_by_username(&u).is_some() || self.users.values().any(|x| x.username.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(u.as_str()))
    }

    /// A new bot with a fresh token.
    pub fn add_bot(&mut self, username: &str, first_name: &str, token: Option<String>, can_manage_bots: bool) -> i64 {
        let id = match token.as_deref().and_then(|t| t.split_once(':')).and_then(|(id, _)| id.parse::<i64>().ok()) {
            Some(id) => id,
            None => {
                self.next_bot_id = self.next_bot_id.max(7_000_000_000) + 1;
                self.next_bot_id
            }
        };
        let token = token.unwrap_or_else(|| new_token(id));
        self.tokens.insert(token.clone(), id);
        self.bots.insert(
            id,
            BotState {
                id,
                token,
                username: username.to_owned(),
                first_name: first_name.to_owned(),
                can_manage_bots,
                can_read_all_group_messages: false,
                manager_id: None,
                owner_id: None,
                webhook: None,
                webhook_generation: 0,
                pending: VecDeque::new(),
                next_update_id: 100_000_000 + rand::random::<u16>() as i64 * 10,
                allowed_updates: None,
                commands: vec![],
                name: None,
                description: None,
                short_description: None,
                profile_photo: None,
                photo: None,
                photo_version: 0,
                logged_out: false,
                logged_out_at: None,
                launched_at: None,
                access_restricted: false,
                access_user_ids: vec![],
                localised: Default::default(),
                menu_button: None,
                chat_menu_buttons: Default::default(),
            },
        );
        id
    }

    pub fn add_user(&mut self, first_name: &str, username: Option<String>, language_code: Option<String>) -> i64 {
        self.next_user_id = self.next_user_id.max(100_000_000) + 1;
        let id = self.next_user_id;
        self.users.insert(id, SimUser { id, first_name: first_name.to_owned(), last_name: None, username, language_code, started: vec![], blocked: vec![] });
        id
    }

    /// A message from a user (or a service message) into a chat with `bot_id`, recorded and
    /// delivered to every bot that may see it.
    pub fn user_message(&mut self, user_id: i64, bot_id: i64, chat_id: i64, mut message: Message) -> Result<Message, String> {
        let user = self.users.get(&user_id).ok_or("no such user")?.user();
        let chat = self.chat_for(chat_id).ok_or("no such chat")?;
        // A restricted managed bot (Bot API 10.1) is not reachable for anyone else; nothing happens.
        if chat_id > 0 && self.bots.get(&bot_id).is_some_and(|b| !b.may_use(user_id)) {
            return Err("BOT_ACCESS_RESTRICTED: only the bot's owner and the users they chose can use this bot".into());
        }
        message.message_id = self.next_message_id(bot_id, chat_id);
        message.date = self.now();
        message.from = Some(user);
        message.message_thread_id = reply_thread(&chat, message.reply_to_message.as_deref());
        message.chat = chat;
        if let Some(text) = &message.text
            && message.entities.is_none() {
                let ents = detect_entities(text);
                message.entities = (!ents.is_empty()).then_some(ents);
            }
        if chat_id > 0 {
            if let Some(u) = self.users.get_mut(&user_id)
                && !u.started.contains(&bot_id) {
                    u.started.push(bot_id);
                }
            self.record(Entry { seq: 0, bot_id, chat_id, message_id: message.message_id, from_bot: false, raw_text: message.text.clone(), message: message.clone(), parse_mode: None, reply_markup: None, edits: vec![], invoice: None });
            self.push_update(bot_id, "message", serde_json::to_value(&message).unwrap_or_default());
        } else {
            let group = self.groups.get(&chat_id).cloned().ok_or("no such group")?;
            self.record(Entry { seq: 0, bot_id: 0, chat_id, message_id: message.message_id, from_bot: false, raw_text: message.text.clone(), message: message.clone(), parse_mode: None, reply_markup: None, edits: vec![], invoice: None });
            for b in group.bot_ids {
                if self.bot_sees_group_message(b, &message) {
                    self.push_update(b, "message", serde_json::to_value(&message).unwrap_or_default());
                }
            }
        }
        Ok(message)
    }

    /// Privacy mode: a bot sees commands, mentions of itself and replies to its messages.
    pub fn bot_sees_group_message(&self, bot_id: i64, m: &Message) -> bool {
        let Some(bot) = self.bots.get(&bot_id) else { return false };
        if bot.can_read_all_group_messages {
            return true;
        }
        let text = m.text.as_deref().unwrap_or("");
        let mention = format!("@{}", bot.username.to_ascii_lowercase());
        let lower = text.to_ascii_lowercase();
        if let Some(cmd) = lower.strip_prefix('/') {
            let first = cmd.split_whitespace().next().unwrap_or("");
            return match first.split_once('@') {
                Some((_, target)) => target == bot.username.to_ascii_lowercase(),
                None => true,
            };
        }
        if lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@')).any(|w| w == mention) {
            return true;
        }
        m.reply_to_message.as_ref().and_then(|r| r.from.as_ref()).is_some_and(|f| f.id == bot_id)
    }
}

/// The entities Telegram finds in a user's text (`bot_command`, `mention`, `url`, …: `text.rs`).
pub fn detect_entities(text: &str) -> Vec<MessageEntity> {
    super::text::find(text).into_iter().map(|(offset, length, kind)| MessageEntity { kind: kind.into(), offset, length, ..Default::default() }).collect()
}

/// `<id>:<35 url-safe characters>`, as BotFather issues them.
pub fn new_token(id: i64) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::thread_rng();
    let secret: String = (0..35).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{id}:AA{secret}")
}

/// A random id for queries, payments, links.
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{:016x}{:08x}", rand::random::<u64>(), rand::random::<u32>())
}
