//! The JSON control API under `/sandbox/api/`: what a person does in the UI, for tests — create
//! users, groups and bots, send messages as a user, press buttons, open creation links, pay,
//! advance the clock, inject 429s — and read everything: every message every bot sent, drafts,
//! bots' webhooks, commands, names and descriptions.
//!
//! Answers are `{"ok":true,"result":…}` or `{"ok":false,"error":"CODE","description":…}`.
use super::Shared;
use super::managed::{self, CreationError};
use super::payments::{self, PayTarget};
use super::world::{CallbackRecord, Group, random_id};
use bellhop_telegram::types::*;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) type S = State<Arc<Shared>>;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sandbox/api/state", get(state))
        .route("/sandbox/api/bots", post(create_bot))
        .route("/sandbox/api/bots/{id}", get(bot))
        .route("/sandbox/api/bots/{id}/owner", post(change_owner))
        .route("/sandbox/api/bots/{id}/photo", get(photo))
        .route("/sandbox/api/users", post(create_user).get(users))
        .route("/sandbox/api/users/{id}/messages", post(user_says))
        .route("/sandbox/api/users/{id}/callbacks", post(press_inline))
        .route("/sandbox/api/users/{id}/keyboard_buttons", post(press_keyboard))
        .route("/sandbox/api/users/{id}/block", post(block))
        .route("/sandbox/api/users/{id}/creation_links", post(open_link))
        .route("/sandbox/api/users/{id}/web_apps", post(super::webapp::open_web_app))
        .route("/sandbox/api/users/{id}/web_app_requests", post(super::webapp::request_chat))
        .route("/sandbox/api/prepared_buttons", get(super::webapp::prepared_buttons))
        .route("/sandbox/api/users/{id}/payments", post(pay))
        .route("/sandbox/api/creation_requests/{id}/confirm", post(confirm))
        .route("/sandbox/api/payments/{id}", get(payment))
        .route("/sandbox/api/callbacks/{id}", get(callback))
        .route("/sandbox/api/groups", post(create_group))
        .route("/sandbox/api/messages", get(messages))
        .route("/sandbox/api/drafts", get(drafts))
        .route("/sandbox/api/clock/advance", post(advance_clock))
        .route("/sandbox/api/faults", post(set_fault))
        .route("/sandbox/api/faults/methods", post(set_method_fault).get(held_calls))
        .route("/sandbox/api/faults/methods/release", post(release_held))
        .route("/sandbox/api/stats", get(stats))
        .route("/sandbox/api/local-login", post(local_login))
}

/// A control API failure.
pub struct Fail(StatusCode, pub(super) String, pub(super) String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "ok": false, "error": self.1, "description": self.2 }))).into_response()
    }
}

impl From<CreationError> for Fail {
    fn from(e: CreationError) -> Self {
        Fail(StatusCode::BAD_REQUEST, e.code.into(), e.message)
    }
}

fn bad(code: &str, description: impl Into<String>) -> Fail {
    Fail(StatusCode::BAD_REQUEST, code.into(), description.into())
}

pub(super) fn not_found(what: &str) -> Fail {
    Fail(StatusCode::NOT_FOUND, "NOT_FOUND".into(), format!("no such {what}"))
}

pub(super) fn done(v: impl serde::Serialize) -> Result<Json<Value>, Fail> {
    Ok(Json(json!({ "ok": true, "result": v })))
}

pub(super) type R = Result<Json<Value>, Fail>;

fn bot_json(s: &Shared, id: i64) -> Option<Value> {
    let info = super::bot_api::webhook_info(s, id);
    let w = s.world();
    let b = w.bots.get(&id)?;
    Some(json!({
        "id": b.id, "token": b.token, "username": b.username, "first_name": b.first_name,
        "name": b.name, "description": b.description, "short_description": b.short_description,
        "commands": b.commands, "localised": b.localised, "profile_photo": b.profile_photo,
        "profile_photo_url": b.photo.as_ref().map(|_| format!("/sandbox/api/bots/{}/photo?v={}", b.id, b.photo_version)), "can_manage_bots": b.can_manage_bots,
        "manager_id": b.manager_id, "owner_id": b.owner_id, "logged_out": b.logged_out,
        "logged_out_at": b.logged_out_at, "launched_at": b.launched_at,
        "webhook": b.webhook.as_ref().map(|h| json!({ "url": h.url, "secret_token": h.secret_token, "max_connections": h.max_connections })),
        "webhook_info": info, "allowed_updates": b.allowed_updates,
    }))
}

/// `GET /sandbox/api/bots/{id}/photo`: the bot's profile photo as uploaded (JPEG), 404 without one.
async fn photo(State(s): S, Path(id): Path<i64>) -> Response {
    match s.world().bots.get(&id).and_then(|b| b.photo.clone()) {
        Some(bytes) => ([(axum::http::header::CONTENT_TYPE, "image/jpeg"), (axum::http::header::CACHE_CONTROL, "no-cache")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn state(State(s): S) -> R {
    let ids: Vec<i64> = s.world().bots.keys().copied().collect();
    let bots: Vec<Value> = ids.into_iter().filter_map(|id| bot_json(&s, id)).collect();
    let w = s.world();
    done(json!({ "now": w.now(), "manager_id": s.manager_id(), "bots": bots, "users": w.users.values().collect::<Vec<_>>(), "groups": w.groups.values().collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
struct NewBot {
    username: String,
    first_name: Option<String>,
    token: Option<String>,
    #[serde(default)]
    can_manage_bots: bool,
    #[serde(default)]
    can_read_all_group_messages: bool,
}

async fn create_bot(State(s): S, Json(b): Json<NewBot>) -> R {
    bellhop_telegram::BotUsername::parse(&b.username).map_err(|e| bad(e.telegram_code(), e.to_string()))?;
    if let Some(t) = &b.token {
        bellhop_telegram::BotToken::parse(t).map_err(|e| bad("TOKEN_INVALID", e.to_string()))?;
    }
    let id = {
        let mut w = s.world();
        if w.username_taken(&b.username) {
            return Err(bad("USERNAME_OCCUPIED", "username taken"));
        }
        let id = w.add_bot(&b.username, b.first_name.as_deref().unwrap_or(&b.username), b.token, b.can_manage_bots);
        if let Some(bot) = w.bots.get_mut(&id) {
            bot.can_read_all_group_messages = b.can_read_all_group_messages;
        }
        id
    };
    done(bot_json(&s, id))
}

async fn bot(State(s): S, Path(id): Path<i64>) -> R {
    bot_json(&s, id).map(done).unwrap_or_else(|| Err(not_found("bot")))
}

#[derive(Deserialize)]
struct UserRef {
    user_id: i64,
}

async fn change_owner(State(s): S, Path(id): Path<i64>, Json(u): Json<UserRef>) -> R {
    managed::change_owner(&mut s.world(), id, u.user_id)?;
    done(true)
}

#[derive(Deserialize)]
pub(super) struct NewUser {
    pub(super) first_name: String,
    pub(super) username: Option<String>,
    pub(super) language_code: Option<String>,
    /// Bots the user has already started (so bots may write first).
    #[serde(default)]
    pub(super) started_bots: Vec<i64>,
}

pub(super) async fn create_user(State(s): S, Json(u): Json<NewUser>) -> R {
    let mut w = s.world();
    let id = w.add_user(&u.first_name, u.username, u.language_code);
    if let Some(user) = w.users.get_mut(&id) {
        user.started = u.started_bots;
    }
    done(&w.users[&id])
}

async fn users(State(s): S) -> R {
    done(s.world().users.values().collect::<Vec<_>>())
}

#[derive(Deserialize)]
pub(super) struct Say {
    pub(super) bot_id: Option<i64>,
    pub(super) bot_username: Option<String>,
    /// A group id; default: the user's private chat with the bot.
    pub(super) chat_id: Option<i64>,
    /// The text; with `media`, optional (a caption when given).
    #[serde(default)]
    pub(super) text: String,
    pub(super) reply_to_message_id: Option<i64>,
    /// Something other than text: `photo`, `voice`, `audio`, `video`, `video_note`, `animation`,
    /// `document`, `sticker`, `location` or `contact` (see [`media_message`]).
    pub(super) media: Option<String>,
    /// A document's or audio file's name.
    pub(super) file_name: Option<String>,
    pub(super) latitude: Option<f64>,
    pub(super) longitude: Option<f64>,
    /// A contact's phone number and first name.
    pub(super) phone_number: Option<String>,
    pub(super) first_name: Option<String>,
}

/// A message carrying `kind` of media as Telegram shapes it (made-up file ids), with `text` as
/// its caption when the kind takes one.
pub(super) fn media_message(kind: &str, m: &Say) -> Result<Message, String> {
    let file = |prefix: &str| (random_id(prefix), random_id("u"));
    let caption = (!m.text.trim().is_empty()).then(|| m.text.clone());
    let mut msg = Message::default();
    match kind {
        "photo" => {
            let (file_id, file_unique_id) = file("ph");
            msg.photo = Some(vec![PhotoSize { file_id, file_unique_id, width: 1280, height: 960, file_size: Some(120_000) }]);
            msg.caption = caption;
        }
        "voice" => {
            let (file_id, file_unique_id) = file("vo");
            msg.voice = Some(Voice { file_id, file_unique_id, duration: 4, mime_type: Some("audio/ogg".into()), file_size: Some(4096) });
            msg.caption = caption;
        }
        "audio" => {
            let (file_id, file_unique_id) = file("au");
            msg.audio = Some(Audio { file_id, file_unique_id, duration: 180, file_name: m.file_name.clone(), mime_type: Some("audio/mpeg".into()), ..Default::default() });
            msg.caption = caption;
        }
        "video" => {
            let (file_id, file_unique_id) = file("vi");
            msg.video = Some(Video { file_id, file_unique_id, width: 640, height: 360, duration: 12, mime_type: Some("video/mp4".into()), ..Default::default() });
            msg.caption = caption;
        }
        "video_note" => {
            let (file_id, file_unique_id) = file("vn");
            msg.video_note = Some(VideoNote { file_id, file_unique_id, length: 240, duration: 9, file_size: Some(4096) });
        }
        "animation" => {
            let (file_id, file_unique_id) = file("an");
            msg.animation = Some(Video { file_id: file_id.clone(), file_unique_id: file_unique_id.clone(), width: 320, height: 240, duration: 3, mime_type: Some("video/mp4".into()), ..Default::default() });
            // Telegram sends an animation as a document too.
            msg.document = Some(Document { file_id, file_unique_id, file_name: Some("animation.gif.mp4".into()), mime_type: Some("video/mp4".into()), file_size: Some(4096) });
            msg.caption = caption;
        }
        "document" => {
            let (file_id, file_unique_id) = file("do");
            msg.document = Some(Document { file_id, file_unique_id, file_name: m.file_name.clone().or(Some("file.pdf".into())), mime_type: Some("application/pdf".into()), file_size: Some(4096) });
            msg.caption = caption;
        }
        "sticker" => {
            let (file_id, file_unique_id) = file("st");
            msg.sticker = Some(Sticker { file_id, file_unique_id, kind: "regular".into(), width: 512, height: 512, is_animated: false, is_video: false, emoji: Some("👍".into()) });
        }
        "location" => msg.location = Some(Location { latitude: m.latitude.unwrap_or(52.3676), longitude: m.longitude.unwrap_or(4.9041) }),
        "contact" => {
            msg.contact = Some(Contact {
                phone_number: m.phone_number.clone().unwrap_or_else(|| "+31 20 555 0100".into()),
                first_name: m.first_name.clone().unwrap_or_else(|| "Anna".into()),
                last_name: None,
                user_id: None,
            })
        }
        other => return Err(format!("unknown media kind {other:?}")),
    }
    Ok(msg)
}

pub(super) async fn user_says(State(s): S, Path(user): Path<i64>, Json(m): Json<Say>) -> R {
    let mut w = s.world();
    let bot = match (m.bot_id, &m.bot_username) {
        (Some(id), _) => id,
        (None, Some(name)) => w.bot_by_username(name).map(|b| b.id).ok_or_else(|| not_found("bot"))?,
        (None, None) if m.chat_id.is_some_and(|c| c < 0) => 0,
        _ => return Err(bad("BOT_REQUIRED", "give bot_id or bot_username")),
    };
    let chat_id = m.chat_id.unwrap_or(user);
    if chat_id > 0 && !w.bots.contains_key(&bot) {
        return Err(not_found("bot"));
    }
    let reply = m.reply_to_message_id.and_then(|id| w.find_message(bot, chat_id, id)).map(|e| Box::new(e.message.clone()));
    let mut msg = match m.media.as_deref() {
        Some(kind) => media_message(kind, &m).map_err(|e| bad("INVALID", e))?,
        None => Message { text: Some(m.text.clone()), ..Default::default() },
    };
    msg.reply_to_message = reply;
    let sent = w.user_message(user, bot, chat_id, msg).map_err(|e| bad("INVALID", e))?;
    done(sent)
}

#[derive(Deserialize)]
pub(super) struct Press {
    pub(super) bot_id: i64,
    pub(super) chat_id: Option<i64>,
    pub(super) message_id: i64,
    pub(super) data: String,
}

pub(super) async fn press_inline(State(s): S, Path(user): Path<i64>, Json(p): Json<Press>) -> R {
    let mut w = s.world();
    let chat_id = p.chat_id.unwrap_or(user);
    let from = w.users.get(&user).ok_or_else(|| not_found("user"))?.user();
    let entry = w.find_message(p.bot_id, chat_id, p.message_id).filter(|e| e.from_bot).ok_or_else(|| not_found("message"))?;
    let has_button = entry.message.reply_markup.iter().flat_map(|k| k.inline_keyboard.iter().flatten()).any(|b| b.callback_data.as_deref() == Some(p.data.as_str()));
    if !has_button {
        return Err(bad("BUTTON_NOT_FOUND", "the message has no button with this callback_data"));
    }
    let query = CallbackQuery {
        id: random_id(""),
        from,
        message: Some(MaybeInaccessibleMessage::Message(Box::new(entry.message.clone()))),
        inline_message_id: None,
        chat_instance: format!("{}", (p.bot_id ^ chat_id).unsigned_abs()),
        data: Some(p.data.clone()),
    };
    w.callbacks.insert(query.id.clone(), CallbackRecord { id: query.id.clone(), bot_id: p.bot_id, user_id: user, data: Some(p.data), answered: false, answer_text: None });
    w.push_update(p.bot_id, "callback_query", serde_json::to_value(&query).unwrap_or_default());
    done(json!({ "callback_query_id": query.id }))
}

#[derive(Deserialize)]
pub(super) struct KeyPress {
    pub(super) bot_id: i64,
    pub(super) text: String,
}

/// Presses a reply-keyboard button: a `request_managed_bot` button opens the creation screen,
/// any other button sends its text.
pub(super) async fn press_keyboard(State(s): S, Path(user): Path<i64>, Json(k): Json<KeyPress>) -> R {
    let mut w = s.world();
    let button = w
        .messages
        .iter()
        .rev()
        .filter(|e| e.bot_id == k.bot_id && e.chat_id == user && e.from_bot)
        .filter_map(|e| serde_json::from_value::<ReplyKeyboardMarkup>(e.reply_markup.clone()?).ok())
        .flat_map(|m| m.keyboard.into_iter().flatten())
        .find(|b| b.text == k.text)
        .or_else(|| w.prepared_buttons.values().find(|(b, u, btn)| *b == k.bot_id && *u == user && btn.text == k.text).map(|x| x.2.clone()));
    let Some(button) = button else {
        return Err(bad("BUTTON_NOT_FOUND", "no keyboard button with this text"));
    };
    if let Some(req) = button.request_managed_bot {
        let manager = w.bots.get(&k.bot_id).map(|b| b.username.clone()).ok_or_else(|| not_found("bot"))?;
        let r = managed::open(&mut w, user, &manager, req.suggested_username.as_deref().unwrap_or(""), req.suggested_name.as_deref().unwrap_or(""))?;
        return done(json!({ "creation_request": r }));
    }
    let sent = w.user_message(user, k.bot_id, user, Message { text: Some(button.text), ..Default::default() }).map_err(|e| bad("INVALID", e))?;
    done(json!({ "message": sent }))
}

#[derive(Deserialize)]
struct Block {
    bot_id: i64,
    blocked: bool,
}

async fn block(State(s): S, Path(user): Path<i64>, Json(b): Json<Block>) -> R {
    let mut w = s.world();
    let u = w.users.get_mut(&user).ok_or_else(|| not_found("user"))?;
    u.blocked.retain(|x| *x != b.bot_id);
    if b.blocked {
        u.blocked.push(b.bot_id);
    }
    done(true)
}

#[derive(Deserialize)]
pub(super) struct Link {
    pub(super) link: String,
}

pub(super) async fn open_link(State(s): S, Path(user): Path<i64>, headers: axum::http::HeaderMap, Json(l): Json<Link>) -> R {
    // The link bellhop prints with `telegram.links_url` at this sandbox is taken too.
    let own = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    let (manager, username, name) = managed::parse_link_at(&l.link, own)?;
    let r = managed::open(&mut s.world(), user, &manager, &username, &name)?;
    done(r)
}

#[derive(Deserialize)]
pub(super) struct Confirm {
    pub(super) username: Option<String>,
    pub(super) name: Option<String>,
}

pub(super) async fn confirm(State(s): S, Path(id): Path<String>, Json(c): Json<Confirm>) -> R {
    let mut w = s.world();
    let req = w.creation_requests.get(&id).cloned().ok_or_else(|| not_found("creation request"))?;
    let username = c.username.unwrap_or(req.suggested_username);
    let name = c.name.unwrap_or(req.suggested_name);
    let bot = managed::confirm(&mut w, &id, &username, &name, s.opts.bot_create_limit)?;
    done(bot)
}

pub(super) async fn pay(State(s): S, Path(user): Path<i64>, Json(t): Json<PayTarget>) -> R {
    let p = payments::start_payment(&s, user, t).map_err(|e| bad("PAYMENT_INVALID", e))?;
    done(p)
}

async fn payment(State(s): S, Path(id): Path<String>) -> R {
    let w = s.world();
    w.payments.get(&id).map(done).unwrap_or_else(|| Err(not_found("payment")))
}

async fn callback(State(s): S, Path(id): Path<String>) -> R {
    let w = s.world();
    w.callbacks.get(&id).map(done).unwrap_or_else(|| Err(not_found("callback query")))
}

#[derive(Deserialize)]
struct NewGroup {
    title: String,
    #[serde(default)]
    user_ids: Vec<i64>,
    #[serde(default)]
    bot_ids: Vec<i64>,
}

async fn create_group(State(s): S, Json(g): Json<NewGroup>) -> R {
    let mut w = s.world();
    w.next_group_id = w.next_group_id.max(1_000_000_000) + 1;
    let id = -(1_000_000_000_000 + w.next_group_id);
    let group = Group { id, title: g.title, user_ids: g.user_ids, bot_ids: g.bot_ids };
    w.groups.insert(id, group.clone());
    done(group)
}

#[derive(Deserialize)]
struct MessageQuery {
    bot_id: Option<i64>,
    chat_id: Option<i64>,
    /// Only entries with a larger `seq`.
    after_seq: Option<u64>,
    /// Only messages sent by bots.
    #[serde(default)]
    from_bot: Option<bool>,
    /// Drafts: every update streamed so far instead of only the live drafts.
    #[serde(default)]
    history: Option<bool>,
}

async fn messages(State(s): S, Query(q): Query<MessageQuery>) -> R {
    let w = s.world();
    let list: Vec<_> = w
        .messages
        .iter()
        .filter(|e| q.bot_id.is_none_or(|b| e.bot_id == b || (e.chat_id < 0 && e.bot_id == 0)))
        .filter(|e| q.chat_id.is_none_or(|c| e.chat_id == c))
        .filter(|e| q.after_seq.is_none_or(|a| e.seq > a))
        .filter(|e| q.from_bot.is_none_or(|f| e.from_bot == f))
        .collect();
    done(list)
}

async fn drafts(State(s): S, Query(q): Query<MessageQuery>) -> R {
    let w = s.world();
    let all = if q.history == Some(true) { &w.draft_history } else { &w.drafts };
    let list: Vec<_> = all.iter().filter(|d| q.bot_id.is_none_or(|b| d.bot_id == b) && q.chat_id.is_none_or(|c| d.chat_id == c)).collect();
    done(list)
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(s): S, Json(a): Json<Advance>) -> R {
    let mut w = s.world();
    w.clock_offset += a.seconds.max(0);
    let renewed = payments::renew_due(&mut w);
    done(json!({ "now": w.now(), "renewed": renewed }))
}

#[derive(Deserialize)]
struct FaultSpec {
    bot_ids: Vec<i64>,
    ratio: f64,
    #[serde(default = "one")]
    retry_after: u64,
}

fn one() -> u64 {
    1
}

async fn set_fault(State(s): S, Json(f): Json<FaultSpec>) -> R {
    let mut l = s.limiter();
    for id in f.bot_ids {
        if f.ratio <= 0.0 {
            l.faults.remove(&id);
        } else {
            l.faults.insert(id, super::Fault { ratio: f.ratio.min(1.0), retry_after: f.retry_after });
        }
    }
    done(true)
}

async fn set_method_fault(State(s): S, Json(f): Json<super::faults::FaultRequest>) -> R {
    let fault = f.into_fault().map_err(|e| bad("FAULT_INVALID", e))?;
    s.faults().add(fault);
    done(true)
}

#[derive(Deserialize)]
struct MethodRef {
    bot_id: i64,
    method: String,
    #[serde(default)]
    newest_first: bool,
}

/// `GET faults/methods?bot_id=…&method=…`: how many calls are held, and how many the faults
/// will still catch.
async fn held_calls(State(s): S, Query(m): Query<MethodRef>) -> R {
    let (method, f) = (m.method.to_ascii_lowercase(), s.faults());
    done(json!({ "held": f.held(m.bot_id, &method), "to_catch": f.to_catch(m.bot_id, &method) }))
}

async fn release_held(State(s): S, Json(m): Json<MethodRef>) -> R {
    done(json!({ "released": s.faults().release(m.bot_id, &m.method.to_ascii_lowercase(), m.newest_first) }))
}

async fn stats(State(s): S) -> R {
    done(s.limiter().stats.clone())
}

#[derive(Deserialize)]
struct LocalLogin {
    token: String,
}

/// Telegram's side of a self-hosted Bot API server logging a bot in with its token (the
/// sandbox `--local` asks this; `local.rs`): the bot behind the token and its owner. Not a Bot
/// API call: the bot is neither launched here nor refused while logged out here.
async fn local_login(State(s): S, Json(l): Json<LocalLogin>) -> R {
    let w = s.world();
    let Some(b) = w.tokens.get(&l.token).and_then(|id| w.bots.get(id)) else {
        return Err(Fail(StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into(), "no bot has this token".into()));
    };
    let owner = b.owner_id.and_then(|o| w.users.get(&o));
    done(json!({
        "bot": { "id": b.id, "username": b.username, "first_name": b.first_name, "name": b.name, "can_manage_bots": b.can_manage_bots,
                 "can_read_all_group_messages": b.can_read_all_group_messages, "manager_id": b.manager_id, "owner_id": b.owner_id },
        "owner": owner,
    }))
}
