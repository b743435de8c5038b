//! The sandbox's web UI (askama, `templates/sandbox/`): pick a simulated user, open creation
//! links and confirm them, chat with any bot (drafts stream in through a small polling script),
//! press inline and keyboard buttons, pay invoices. Every action goes through the same
//! functions as the control API.
use super::Shared;
use super::control::{self, Confirm, KeyPress, Link, NewUser, Press, Say};
use bellhop_telegram::types::Message;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

type S = State<Arc<Shared>>;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/ui/users", post(add_user))
        .route("/ui/creation", post(open_creation))
        .route("/newbot/{manager}/{username}", get(open_link_page))
        .route("/ui/newbot", post(open_as_new_user))
        .route("/{username}", get(start_link_page))
        .route("/ui/start", post(start_with_payload))
        .route("/ui/creation/{id}", get(creation).post(confirm))
        .route("/ui/chat/{user}/{bot}", get(chat))
        .route("/ui/chat/{user}/{bot}/log", get(log))
        .route("/ui/chat/{user}/{bot}/say", post(say))
        .route("/ui/chat/{user}/{bot}/press", post(press))
        .route("/ui/chat/{user}/{bot}/key", post(key))
        .route("/ui/chat/{user}/{bot}/pay", post(pay))
        .route("/ui/chat/{user}/{bot}/webapp", get(web_app))
}

fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("template error: {e}")).into_response(),
    }
}

struct BotRow {
    id: i64,
    username: String,
    name: String,
    /// The profile photo's address, if the bot has one.
    photo: Option<String>,
    token: String,
    can_manage_bots: bool,
    owner_id: Option<i64>,
    webhook: Option<String>,
    pending: usize,
}

#[derive(Template)]
#[template(path = "sandbox/index.html")]
struct Index {
    bots: Vec<BotRow>,
    users: Vec<super::world::SimUser>,
    manager_username: String,
    error: Option<String>,
}

fn index_page(s: &Shared, error: Option<String>) -> Response {
    let w = s.world();
    let bots = w
        .bots
        .values()
        .map(|b| BotRow {
            id: b.id,
            username: b.username.clone(),
            name: b.display_name().to_owned(),
            photo: photo_url(b),
            token: b.token.clone(),
            can_manage_bots: b.can_manage_bots,
            owner_id: b.owner_id,
            webhook: b.webhook.as_ref().map(|h| h.url.clone()),
            pending: b.pending.len(),
        })
        .collect();
    let manager_username = w.bots.get(&s.manager_id()).map(|b| b.username.clone()).unwrap_or_default();
    page(Index { bots, users: w.users.values().cloned().collect(), manager_username, error })
}

fn photo_url(b: &super::world::BotState) -> Option<String> {
    b.photo.as_ref().map(|_| format!("/sandbox/api/bots/{}/photo?v={}", b.id, b.photo_version))
}

async fn index(State(s): S) -> Response {
    index_page(&s, None)
}

#[derive(Deserialize)]
struct UserForm {
    first_name: String,
    username: Option<String>,
    /// The user's Telegram language (`ru`, `es`…); empty: none.
    #[serde(default)]
    language_code: Option<String>,
}

async fn add_user(State(s): S, Form(f): Form<UserForm>) -> Response {
    let username = f.username.filter(|u| !u.trim().is_empty());
    let language_code = f.language_code.map(|l| l.trim().to_ascii_lowercase()).filter(|l| !l.is_empty());
    let _ = control::create_user(State(s), Json(NewUser { first_name: f.first_name, username, language_code, started_bots: vec![] })).await;
    Redirect::to("/").into_response()
}

#[derive(Deserialize)]
struct LinkForm {
    user_id: i64,
    link: String,
}

async fn open_creation(State(s): S, headers: axum::http::HeaderMap, Form(f): Form<LinkForm>) -> Response {
    match control::open_link(State(s.clone()), Path(f.user_id), headers, Json(Link { link: f.link })).await {
        Ok(Json(v)) => Redirect::to(&format!("/ui/creation/{}", v["result"]["id"].as_str().unwrap_or_default())).into_response(),
        Err(e) => index_page(&s, Some(format!("{}: {}", e.1, e.2))),
    }
}

#[derive(Template)]
#[template(path = "sandbox/creation.html")]
struct Creation {
    req: super::world::CreationRequest,
    name: String,
    username: String,
    error: Option<String>,
}

async fn creation(State(s): S, Path(id): Path<String>) -> Response {
    let req = s.world().creation_requests.get(&id).cloned();
    match req {
        Some(req) => page(Creation { name: req.suggested_name.clone(), username: req.suggested_username.clone(), req, error: None }),
        None => index_page(&s, Some("That creation screen is gone (already confirmed?).".into())),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    name: String,
    username: String,
}

async fn confirm(State(s): S, Path(id): Path<String>, Form(f): Form<ConfirmForm>) -> Response {
    let req = s.world().creation_requests.get(&id).cloned();
    let Some(req) = req else { return index_page(&s, Some("That creation screen is gone.".into())) };
    let answer = control::confirm(State(s.clone()), Path(id), Json(Confirm { username: Some(f.username.clone()), name: Some(f.name.clone()) })).await;
    match answer {
        Ok(_) => Redirect::to(&format!("/ui/chat/{}/{}", req.user_id, req.manager_id)).into_response(),
        Err(e) => page(Creation { req, name: f.name, username: f.username, error: Some(format!("{}: {}", e.1, e.2)) }),
    }
}

struct Line {
    class: &'static str,
    /// The text as HTML: escaped, its web addresses made links (as Telegram's apps do).
    html: String,
    message_id: i64,
    buttons: Vec<(String, String)>,
    /// Inline buttons that open an address: (text, address, the invoice link's address when
    /// it is one this sandbox made — pressed, it opens the payment as Telegram would).
    links: Vec<(String, String, Option<String>)>,
    keys: Vec<String>,
    invoice: bool,
}

#[derive(Template)]
#[template(path = "sandbox/log.html")]
struct Log {
    user_id: i64,
    bot_id: i64,
    messages: Vec<Line>,
    drafts: Vec<String>,
}

fn transcript(s: &Shared, user: i64, bot: i64) -> Log {
    let w = s.world();
    let messages = w
        .messages
        .iter()
        .filter(|e| e.bot_id == bot && e.chat_id == user)
        .map(|e| {
            let m = &e.message;
            let (class, text) = if let Some(c) = &m.managed_bot_created {
                ("service", format!("You created @{}", c.bot.username.clone().unwrap_or_default()))
            } else if let Some(p) = &m.successful_payment {
                ("service", format!("Paid ⭐{} ({})", p.total_amount, p.invoice_payload))
            } else if let Some(p) = &m.refunded_payment {
                ("service", format!("Refunded ⭐{}", p.total_amount))
            } else if let Some(i) = &m.invoice {
                ("bot", format!("🧾 {} — {}\n⭐{}", i.title, i.description, i.total_amount))
            } else {
                let edited = if m.edit_date.is_some() { " (edited)" } else { "" };
                (if e.from_bot { "bot" } else { "user" }, format!("{}{edited}", shown_text(m)))
            };
            let buttons = m.reply_markup.iter().flat_map(|k| k.inline_keyboard.iter().flatten()).filter_map(|b| Some((b.text.clone(), b.callback_data.clone()?))).collect();
            let links = m
                .reply_markup
                .iter()
                .flat_map(|k| k.inline_keyboard.iter().flatten())
                .filter_map(|b| {
                    let url = b.url.clone()?;
                    let invoice = url.strip_prefix("https://t.me/$").is_some_and(|slug| w.invoice_links.contains_key(slug)).then(|| url.clone());
                    Some((b.text.clone(), url, invoice))
                })
                .collect();
            let keys = e
                .reply_markup
                .clone()
                .and_then(|v| serde_json::from_value::<bellhop_telegram::ReplyKeyboardMarkup>(v).ok())
                .map(|k| k.keyboard.into_iter().flatten().map(|b| b.text).collect())
                .unwrap_or_default();
            Line { class, html: linked(&text), message_id: m.message_id, buttons, links, keys, invoice: e.invoice.is_some() }
        })
        .collect();
    let now = w.now();
    let drafts = w.drafts.iter().filter(|d| d.bot_id == bot && d.chat_id == user && now - d.date <= 30).map(|d| d.text.clone()).collect();
    Log { user_id: user, bot_id: bot, messages, drafts }
}

#[derive(Template)]
#[template(path = "sandbox/chat.html")]
struct Chat {
    user_id: i64,
    bot_id: i64,
    user_name: String,
    bot_username: String,
    /// The bot as this user sees it: its name, photo, and — in an empty chat — its description.
    bot_name: String,
    bot_initial: String,
    bot_photo: Option<String>,
    bot_short_description: String,
    description: Option<String>,
    log: String,
    error: Option<String>,
    /// The text of the bot's menu button when it opens a Mini App.
    menu: Option<String>,
}

fn chat_page(s: &Shared, user: i64, bot: i64, error: Option<String>) -> Response {
    let log = transcript(s, user, bot).render().unwrap_or_default();
    let (user_name, bot_username, bot_name, bot_photo, bot_short_description, description, menu) = {
        let w = s.world();
        let u = w.users.get(&user);
        let lang = u.and_then(|u| u.language_code.clone());
        let empty = !w.messages.iter().any(|e| e.bot_id == bot && e.chat_id == user);
        let (username, (name, description, short), photo) = match w.bots.get(&bot) {
            Some(b) => (b.username.clone(), b.shown_to(lang.as_deref()), photo_url(b)),
            None => Default::default(),
        };
        // Telegram shows the description in an empty chat ("What can this bot do?").
        let description = (empty && !description.is_empty()).then_some(description);
        let menu = match super::webapp::menu_button(&w, bot, user) {
            Some(bellhop_telegram::types::MenuButton::WebApp { text, .. }) => Some(text),
            _ => None,
        };
        (u.map(|u| u.first_name.clone()).unwrap_or_default(), username, name, photo, short, description, menu)
    };
    let bot_initial = bot_name.chars().next().map(String::from).unwrap_or_default();
    page(Chat { user_id: user, bot_id: bot, user_name, bot_username, bot_initial, bot_name, bot_photo, bot_short_description, log, error, description, menu })
}

async fn chat(State(s): S, Path((user, bot)): Path<(i64, i64)>) -> Response {
    chat_page(&s, user, bot, None)
}

async fn log(State(s): S, Path((user, bot)): Path<(i64, i64)>) -> Response {
    page(transcript(&s, user, bot))
}

fn back(s: &Shared, user: i64, bot: i64, r: Result<Json<serde_json::Value>, control::Fail>) -> Response {
    match r {
        Ok(_) => Redirect::to(&format!("/ui/chat/{user}/{bot}")).into_response(),
        Err(e) => chat_page(s, user, bot, Some(format!("{}: {}", e.1, e.2))),
    }
}

#[derive(Deserialize)]
struct TextForm {
    text: String,
}

async fn say(State(s): S, Path((user, bot)): Path<(i64, i64)>, Form(f): Form<TextForm>) -> Response {
    // As Telegram's apps do: when the bot's latest message asks for a reply (`ForceReply`), what
    // the user writes next is a reply to it.
    let reply_to = {
        let w = s.world();
        w.messages
            .iter()
            .rev()
            .find(|e| e.bot_id == bot && e.chat_id == user)
            .filter(|e| e.from_bot && e.reply_markup.as_ref().is_some_and(|k| k["force_reply"] == serde_json::Value::Bool(true)))
            .map(|e| e.message.message_id)
    };
    let r = control::user_says(State(s.clone()), Path(user), Json(Say { bot_id: Some(bot), bot_username: None, chat_id: None, text: f.text, reply_to_message_id: reply_to, media: None, file_name: None, latitude: None, longitude: None, phone_number: None, first_name: None })).await;
    back(&s, user, bot, r)
}

#[derive(Deserialize)]
struct PressForm {
    message_id: i64,
    data: String,
}

async fn press(State(s): S, Path((user, bot)): Path<(i64, i64)>, Form(f): Form<PressForm>) -> Response {
    let r = control::press_inline(State(s.clone()), Path(user), Json(Press { bot_id: bot, chat_id: None, message_id: f.message_id, data: f.data })).await;
    back(&s, user, bot, r)
}

async fn key(State(s): S, Path((user, bot)): Path<(i64, i64)>, Form(f): Form<TextForm>) -> Response {
    match control::press_keyboard(State(s.clone()), Path(user), Json(KeyPress { bot_id: bot, text: f.text })).await {
        Ok(Json(v)) if v["result"]["creation_request"].is_object() => {
            Redirect::to(&format!("/ui/creation/{}", v["result"]["creation_request"]["id"].as_str().unwrap_or_default())).into_response()
        }
        other => back(&s, user, bot, other),
    }
}

/// A payment: of an invoice message, or of an invoice link (a link button's `https://t.me/$…`).
#[derive(Deserialize)]
struct PayForm {
    #[serde(default)]
    message_id: Option<i64>,
    #[serde(default)]
    link: Option<String>,
}

async fn pay(State(s): S, Path((user, bot)): Path<(i64, i64)>, Form(f): Form<PayForm>) -> Response {
    let target = match (f.message_id, f.link) {
        (Some(message_id), _) => super::payments::PayTarget::Message { bot_id: bot, message_id },
        (None, Some(link)) => super::payments::PayTarget::Link { link },
        (None, None) => return chat_page(&s, user, bot, Some("nothing to pay: no message_id and no link".into())),
    };
    let r = control::pay(State(s.clone()), Path(user), Json(target)).await;
    back(&s, user, bot, r)
}

/// `text` as HTML: escaped, each `http://` or `https://` address a link that opens in a new tab.
fn linked(text: &str) -> String {
    // Text and double-quoted attributes, as the Telegram client escapes them.
    fn escape(s: &str, out: &mut String) {
        out.push_str(&bellhop_telegram::html::escape(s));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min() {
        escape(&rest[..at], &mut out);
        let tail = &rest[at..];
        let mut end = tail.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"')).unwrap_or(tail.len());
        // A sentence's closing punctuation is not part of the address.
        while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', '!', '?', ')']) {
            end -= 1;
        }
        let url = &tail[..end];
        if url.len() <= "https://".len() {
            escape(&tail[..end.max(1)], &mut out);
            rest = &tail[end.max(1)..];
            continue;
        }
        out.push_str("<a href=\"");
        escape(url, &mut out);
        out.push_str("\" target=\"_blank\" rel=\"noopener\">");
        escape(url, &mut out);
        out.push_str("</a>");
        rest = &tail[end..];
    }
    escape(rest, &mut out);
    out
}

/// `GET /newbot/{manager}/{username}?name=…`: what tapping `https://t.me/newbot/…` does on a
/// phone, for the demo (the landing page's links point here): choose who you are, then the
/// confirm screen.
#[derive(Template)]
#[template(path = "sandbox/open_link.html")]
struct OpenLink {
    link: String,
    users: Vec<super::world::SimUser>,
}

#[derive(Deserialize)]
struct NameQuery {
    #[serde(default)]
    name: String,
}

async fn open_link_page(State(s): S, Path((manager, username)): Path<(String, String)>, axum::extract::Query(q): axum::extract::Query<NameQuery>) -> Response {
    let link = format!("https://t.me/newbot/{manager}/{username}?name={}", urlencoding::encode(&q.name));
    let users = s.world().users.values().cloned().collect();
    page(OpenLink { link, users })
}

#[derive(Deserialize)]
struct NewUserLink {
    first_name: String,
    link: String,
}

async fn open_as_new_user(State(s): S, headers: axum::http::HeaderMap, Form(f): Form<NewUserLink>) -> Response {
    let created = control::create_user(State(s.clone()), Json(NewUser { first_name: f.first_name, username: None, language_code: None, started_bots: vec![] })).await;
    let Some(user) = created.ok().and_then(|Json(v)| v["result"]["id"].as_i64()) else {
        return index_page(&s, Some("could not create the user".into()));
    };
    open_creation(State(s), headers, Form(LinkForm { user_id: user, link: f.link })).await
}

#[derive(Deserialize)]
struct StartQuery {
    #[serde(default)]
    start: String,
}

#[derive(Template)]
#[template(path = "sandbox/start_link.html")]
struct StartLink {
    username: String,
    start: String,
    users: Vec<super::world::SimUser>,
}

/// `t.me/{username}?start={payload}` (a deep link): choose who opens it; Telegram's app then
/// shows the bot's chat, and tapping Start sends `/start {payload}`.
async fn start_link_page(State(s): S, Path(username): Path<String>, axum::extract::Query(q): axum::extract::Query<StartQuery>) -> Response {
    let users = s.world().users.values().cloned().collect();
    page(StartLink { username, start: q.start, users })
}

#[derive(Deserialize)]
struct StartForm {
    username: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    first_name: Option<String>,
}

async fn start_with_payload(State(s): S, Form(f): Form<StartForm>) -> Response {
    let user = match (f.user_id, f.first_name) {
        (Some(id), _) => Some(id),
        (None, Some(first_name)) => control::create_user(State(s.clone()), Json(NewUser { first_name, username: None, language_code: None, started_bots: vec![] }))
            .await
            .ok()
            .and_then(|Json(v)| v["result"]["id"].as_i64()),
        (None, None) => None,
    };
    let bot = s.world().bots.values().find(|b| b.username.eq_ignore_ascii_case(&f.username)).map(|b| b.id);
    let (Some(user), Some(bot)) = (user, bot) else {
        return index_page(&s, Some(format!("no user, or no bot @{}", f.username)));
    };
    let text = if f.start.is_empty() { "/start".to_owned() } else { format!("/start {}", f.start) };
    let r = control::user_says(State(s.clone()), Path(user), Json(Say { bot_id: Some(bot), bot_username: None, chat_id: None, text, reply_to_message_id: None, media: None, file_name: None, latitude: None, longitude: None, phone_number: None, first_name: None })).await;
    back(&s, user, bot, r)
}

/// What the chat shows of a message: its text; a media message as its kind and caption.
fn shown_text(m: &Message) -> String {
    match (m.text.clone(), m.media_kind()) {
        (Some(t), _) => t,
        (None, Some(kind)) => format!("[{kind:?}] {}", m.caption.as_deref().unwrap_or_default()).trim_end().to_owned(),
        (None, None) => String::new(),
    }
}

/// `GET /ui/chat/{user}/{bot}/webapp`: the user pressed the menu button. The Mini App opens in an
/// iframe with signed launch data in its fragment; the page plays Telegram's web client
/// (`templates/sandbox/webapp.html`): `requestChat` shows the creation screen, `openLink` opens
/// a new tab, `close` goes back to the chat.
#[derive(Template)]
#[template(path = "sandbox/webapp.html")]
struct WebApp {
    user_id: i64,
    bot_id: i64,
    bot_username: String,
    url: String,
}

async fn web_app(State(s): S, Path((user, bot)): Path<(i64, i64)>) -> Response {
    let opened = {
        let w = s.world();
        super::webapp::open(&w, bot, user).map(|(url, _)| (url, w.bots.get(&bot).map(|b| b.username.clone()).unwrap_or_default()))
    };
    match opened {
        Ok((url, bot_username)) => page(WebApp { user_id: user, bot_id: bot, bot_username, url }),
        Err(e) => chat_page(&s, user, bot, Some(format!("{}: {}", e.code, e.message))),
    }
}
