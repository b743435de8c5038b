//! Issue 17, item 4: a small team and working hours. The owner invites teammates with one-time
//! links opened in Telegram; each gets handoffs in their own manager chat and may sign in to the
//! admin (not billing); the first to reply takes the conversation and the others are told.
//! Outside the bot's working hours a customer who asks for a person gets the away message and
//! the assistant keeps answering, while the team still gets the conversation.
use crate::helpers::*;
use crate::owner_lifecycle::{bot_said_to, business, customer, get, manager_said, post, wait_reply};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

pub fn text_of(m: &Value) -> String {
    m["message"]["text"].as_str().or_else(|| m["raw_text"].as_str()).unwrap_or_default().to_owned()
}

/// The `join_…` start parameter of the invitation link on the Team page.
pub fn invite_token(html: &str) -> String {
    let at = html.find("?start=join_").expect("an invitation link on the page") + "?start=".len();
    html[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

/// Makes an invitation link as a browser does: the POST goes back to the Team page (a refresh
/// there makes no other link), which shows the link carried by a cookie. That page.
pub async fn made_invite(app: &TestApp, cookie: &str, csrf: &str) -> String {
    let r = app.http.post(app.url("/app/team/invite")).header("cookie", cookie).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(r.status(), 303, "not sent back to the Team page");
    assert_eq!(r.headers()["location"], "/app/team");
    let carried = r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned()).find(|c| c.starts_with("bellhop_invite="));
    let carried = carried.expect("the link's cookie");
    let r = app.http.get(app.url("/app/team")).header("cookie", format!("{cookie}; {carried}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

pub async fn say_to_manager(app: &TestApp, user: i64, text: &str, reply_to: Option<&Value>) {
    let manager = app.tg.handle.sandbox.manager_id();
    let mut m = json!({ "bot_id": manager, "text": text });
    if let Some(r) = reply_to {
        m["reply_to_message_id"] = r.clone();
    }
    app.tg.post(&format!("users/{user}/messages"), m).await;
}

/// The manager's latest message to `user` containing `needle`, waited for.
pub async fn manager_message(app: &TestApp, user: i64, needle: &str) -> Value {
    let manager = app.tg.handle.sandbox.manager_id();
    let deadline = std::time::Instant::now() + WAIT;
    while !manager_said(app, user).await.iter().any(|t| t.contains(needle)) {
        assert!(std::time::Instant::now() < deadline, "the manager never said {needle:?} to {user}: {:?}", manager_said(app, user).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.tg.sent_by(manager).await.into_iter().filter(|m| m["chat_id"] == json!(user)).rfind(|m| text_of(m).contains(needle)).unwrap()
}

async fn members(app: &TestApp) -> i64 {
    count(app.db(), "select count(*) from team_members").await
}

/// Signs `user` in through `/login` in the manager chat: the session cookie.
async fn teammate_session(app: &TestApp, user: i64) -> String {
    say_to_manager(app, user, "/login", None).await;
    let m = manager_message(app, user, "Your admin page").await;
    let text = text_of(&m);
    let at = text.find("http").unwrap();
    let link: String = text[at..].split_whitespace().next().unwrap().to_owned();
    let r = app.sign_in(&link).await;
    assert_eq!(r.status(), 303, "the teammate signs in");
    r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_teammate_joins_with_a_one_time_link_gets_handoffs_and_the_first_reply_takes_the_conversation() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_team_bot", "Rosa's Cakes").await;
    let other = business(&app, "Otto", "otto_team_bot", "Otto's Optics").await;
    let (status, page) = get(&app, &b.cookie, "/app/team").await;
    assert_eq!(status, 200);
    assert!(page.contains("It's just you so far."), "{page}");

    // An invitation: a t.me link to the manager bot with a one-time start parameter, and a QR code.
    let page = made_invite(&app, &b.cookie, &b.csrf).await;
    assert!(page.contains("/bellhop_manager_bot?start=join_") && page.contains("<svg"), "{page}");
    // A Copy button beside the link, copying it (static/app.js copies the field a button names).
    assert!(page.contains("<input id=\"invite-link\"") && page.contains("<button class=\"button secondary\" type=\"button\" data-copy=\"invite-link\" hidden>Copy</button>"), "{page}");
    let js = app.http.get(app.url("/static/app.js")).send().await.unwrap().text().await.unwrap();
    assert!(js.contains("document.querySelectorAll('button[data-copy]')") && js.contains("navigator.clipboard.writeText(field.value)"), "the page's script copies");
    // The link just made is in a box of its own; the button under it says it makes another one
    // (owners made a second link by mistake), and only it is there.
    let made = page.split("<div class=\"made-link\" id=\"made-link\">").nth(1).expect("the new link's own box").split("</div>").next().unwrap();
    assert!(made.contains("id=\"invite-link\"") && made.contains("data-copy=\"invite-link\"") && !made.contains("/app/team/invite\""), "{made}");
    let after = page.split("<div class=\"made-link\"").nth(1).unwrap().split_once("</div>").unwrap().1;
    assert!(after.contains("Make another link, for another teammate") && !page.contains("Make an invitation link"), "{page}");
    let (_, plain) = get(&app, &b.cookie, "/app/team").await;
    assert!(plain.contains("Make an invitation link") && !plain.contains("made-link"), "without a new link, the usual button: {plain}");
    let token = invite_token(&page);
    let tom = app.tg.user("Tom").await;
    say_to_manager(&app, tom, &format!("/start {token}"), None).await;
    manager_message(&app, tom, "You're on the team of Rosa's Cakes").await;
    manager_message(&app, b.owner, "Tom joined your team").await;
    // The link works once.
    let uma = app.tg.user("Uma").await;
    say_to_manager(&app, uma, &format!("/start {token}"), None).await;
    manager_message(&app, uma, "expired or was already used").await;
    assert_eq!(members(&app).await, 1);
    // A made-up token joins nobody either.
    say_to_manager(&app, uma, "/start join_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None).await;
    wait_until(WAIT, || async { manager_said(&app, uma).await.iter().filter(|t| t.contains("expired or was already used")).count() == 2 }).await;
    let page = made_invite(&app, &b.cookie, &b.csrf).await;
    say_to_manager(&app, uma, &format!("/start {}", invite_token(&page)), None).await;
    manager_message(&app, uma, "You're on the team of Rosa's Cakes").await;
    assert_eq!(members(&app).await, 2);
    let (_, page) = get(&app, &b.cookie, "/app/team").await;
    assert!(page.contains("Tom") && page.contains("Uma"), "{page}");

    // A customer asks for a person: the owner and both teammates get the conversation.
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    let for_owner = manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    let for_tom = manager_message(&app, tom, "Carl wants to talk to a person").await;
    let for_uma = manager_message(&app, uma, "Carl wants to talk to a person").await;
    assert!(text_of(&for_tom).contains("The first of your team to reply takes the conversation"), "{}", text_of(&for_tom));
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);

    // Tom replies first: Carl gets it, the owner and Uma are told Tom has it.
    say_to_manager(&app, tom, "Hi Carl, Tom here — how can I help?", Some(&for_tom["message_id"])).await;
    let said = wait_reply(&app, b.bot, carl, 2).await;
    assert!(said[1].contains("Tom here"), "{said:?}");
    manager_message(&app, b.owner, "Tom took the conversation with Carl").await;
    manager_message(&app, uma, "Tom took the conversation with Carl").await;
    // Uma's reply is refused and reaches nobody.
    say_to_manager(&app, uma, "Hi Carl, Uma here!", Some(&for_uma["message_id"])).await;
    manager_message(&app, uma, "Tom is already answering this customer").await;
    // Carl writes again: it goes to Tom only.
    app.tg.say(carl, b.bot, "I'd like a birthday cake for Saturday").await;
    manager_message(&app, tom, "birthday cake").await;
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 2, "Uma's reply never reached Carl, and the assistant stays quiet");
    assert!(!manager_said(&app, uma).await.iter().any(|t| t.contains("birthday cake")), "the message went to Tom only");
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("birthday cake")));
    let _ = for_owner;

    // Tom signs in to the admin with /login: conversations yes, billing and the team no.
    let tom_cookie = teammate_session(&app, tom).await;
    let (status, page) = get(&app, &tom_cookie, "/app/conversations").await;
    assert_eq!(status, 200);
    assert!(page.contains("Carl"), "{page}");
    let (status, page) = get(&app, &tom_cookie, "/app/billing").await;
    assert_eq!(status, 403);
    assert!(page.contains("Only the owner can do this"), "{page}");
    assert_eq!(get(&app, &tom_cookie, "/app/team").await.0, 403);
    // Uma cannot hand Tom's conversation back from the admin either (as with the Close button):
    // she is told who is answering, and Carl stays with Tom.
    let uma_cookie = teammate_session(&app, uma).await;
    let conv = count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await;
    let (_, page) = get(&app, &uma_cookie, &format!("/app/conversations/{conv}")).await;
    let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let uma_csrf = page[at..at + 43].to_owned();
    let (status, _, page) = post(&app, &uma_cookie, &format!("/app/conversations/{conv}/close"), &[("csrf", &uma_csrf)]).await;
    assert_eq!(status, 422);
    assert!(page.contains("Tom is answering this customer, so only Tom or the business"), "{page}");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and mode = 'human' and taken_by = {tom}")).await, 1);
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 2, "Carl was told nothing");

    // Another business cannot remove Rosa's teammate; Rosa can: Tom is signed out at once and
    // his replies reach nobody any more.
    let (status, _, _) = post(&app, &other.cookie, &format!("/app/team/{tom}/remove"), &[("csrf", &other.csrf)]).await;
    assert_eq!(status, 404);
    let (status, location, _) = post(&app, &b.cookie, &format!("/app/team/{tom}/remove"), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/app/team?removed=1"));
    assert!(get(&app, &b.cookie, &location).await.1.contains("They are no longer on your team"));
    // The page's words are its own, whatever the address says.
    let (_, page) = get(&app, &b.cookie, "/app/team?removed=Call%20%2B1%20555%200100%20now.%20Tom").await;
    assert!(!page.contains("555 0100") && page.contains("They are no longer on your team"), "{page}");
    assert_eq!(get(&app, &tom_cookie, "/app/conversations").await.0, 401);
    say_to_manager(&app, tom, "Still me, Tom!", Some(&for_tom["message_id"])).await;
    manager_message(&app, tom, "You're no longer on the team of Rosa's Cakes, so your reply was not sent").await;
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 2, "a removed teammate's reply reaches nobody");
    // Now nobody has it: Uma can take it.
    say_to_manager(&app, uma, "Hi Carl, Uma here — Saturday is fine.", Some(&for_uma["message_id"])).await;
    manager_message(&app, uma, "Sent").await;
    let said = wait_reply(&app, b.bot, carl, 3).await;
    assert!(said[2].contains("Uma here"), "{said:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_teammate_removed_while_their_reply_is_on_its_way_neither_sends_it_nor_takes_the_conversation() {
    use bellhop::answering::handoff::{OwnerWords, Relayed, owner_reply};
    use bellhop::domain::UserId;
    use bellhop::domain::conversation::ConversationId;
    use bellhop::storage::team::{self, Took};
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_gone_bot", "Rosa's Cakes").await;
    let page = made_invite(&app, &b.cookie, &b.csrf).await;
    let tom = app.tg.user("Tom").await;
    say_to_manager(&app, tom, &format!("/start {}", invite_token(&page)), None).await;
    manager_message(&app, tom, "You're on the team of Rosa's Cakes").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    manager_message(&app, tom, "Carl wants to talk to a person").await;
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);
    let conv = ConversationId(count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await);

    // Tom's reply has been matched to Carl's handoff (he was on the team then) when Rosa removes
    // him; then it comes to be sent.
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/team/{tom}/remove"), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    let words = OwnerWords { conv, by: UserId(tom), text: "Hi Carl, Tom here!", dedupe: Some(777), last_try: false };
    let relayed = owner_reply(&app.state.db, &app.state.bots, None, b.tenant, &words).await.unwrap();
    assert_eq!(relayed, Relayed::NotOnTeam("Rosa's Cakes".into()));
    assert_eq!(team::take(app.db(), b.tenant, conv, UserId(tom), false).await.unwrap(), Took::NotOnTeam);
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and taken_by is null and mode = 'human'")).await, 1, "the conversation is free for the rest of the team");
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'owner'").await, 0, "nothing was stored to send");
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 1, "Carl got nothing from Tom");
    // A removed teammate cannot hand a conversation with the assistant to a person either.
    sqlx::query(&format!("update conversations set mode = 'bot', handed_off_at = null where id = {conv}")).execute(&app.db().pool).await.unwrap();
    assert_eq!(owner_reply(&app.state.db, &app.state.bots, None, b.tenant, &words).await.unwrap(), Relayed::NotOnTeam("Rosa's Cakes".into()));
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and mode = 'bot'")).await, 1, "the assistant still answers Carl");
    // The owner still can.
    let mine = OwnerWords { conv, by: UserId(b.owner), text: "Hi Carl, Rosa here!", dedupe: None, last_try: true };
    assert_eq!(owner_reply(&app.state.db, &app.state.bots, None, b.tenant, &mine).await.unwrap(), Relayed::Sent);
    assert!(wait_reply(&app, b.bot, carl, 2).await[1].contains("Rosa here"));
    app.stop().await.unwrap();
}

/// After "Make an invitation link" the browser stayed on the POST's address, so a refresh made
/// another link. It goes back to the Team page, which shows the link once — carried there by a
/// short-lived cookie of the business's, never in an address.
#[tokio::test]
async fn an_invitation_link_is_shown_once_on_the_team_page_the_form_goes_back_to() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_once_bot", "Rosa's Cakes").await;
    let other = business(&app, "Otto", "otto_once_bot", "Otto's Optics").await;
    let r = app.http.post(app.url("/app/team/invite")).header("cookie", &b.cookie).form(&[("csrf", &b.csrf)]).send().await.unwrap();
    assert_eq!(r.status(), 303, "the browser stays on the POST's address");
    assert_eq!(r.headers()["location"], "/app/team");
    let set = r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).find(|c| c.starts_with("bellhop_invite=")).expect("the link's cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/app/team"), "{set}");
    let carried = set.split(';').next().unwrap().to_owned();

    // Another business's session never shows it.
    let page = app.http.get(app.url("/app/team")).header("cookie", format!("{}; {carried}", other.cookie)).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("?start=join_"), "another business was shown the link: {page}");
    // The owner's Team page shows it, and forgets it.
    let r = app.http.get(app.url("/app/team")).header("cookie", format!("{}; {carried}", b.cookie)).send().await.unwrap();
    let cleared = r.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("bellhop_invite=;") && c.to_str().unwrap().contains("Max-Age=0"));
    let page = r.text().await.unwrap();
    assert!(page.contains("/bellhop_manager_bot?start=join_") && page.contains("<svg"), "{page}");
    assert!(cleared, "the link's cookie is kept");
    let token = invite_token(&page);
    let (_, page) = get(&app, &b.cookie, "/app/team").await;
    assert!(!page.contains("?start=join_"), "shown again: {page}");
    // It is the link made: it works.
    let tom = app.tg.user("Tom").await;
    say_to_manager(&app, tom, &format!("/start {token}"), None).await;
    manager_message(&app, tom, "You're on the team of Rosa's Cakes").await;
    assert_eq!(members(&app).await, 1);
    app.stop().await.unwrap();
}

/// An owner who made an invitation link by mistake (or sent it to the wrong person) cancels it on
/// the Team page: whoever opens it is told it was cancelled and joins nothing. Only an unused link
/// of the owner's own business can be cancelled; the other links keep working.
#[tokio::test]
async fn an_owner_cancels_an_unused_invitation_link_and_whoever_opens_it_is_told_so_and_joins_nothing() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_cancel_bot", "Rosa's Cakes").await;
    let other = business(&app, "Otto", "otto_cancel_bot", "Otto's Optics").await;
    let page = made_invite(&app, &b.cookie, &b.csrf).await;
    assert!(page.contains("Sent it to the wrong person? Cancel it below."), "{page}");
    let wrong = invite_token(&page);
    let page = made_invite(&app, &b.cookie, &b.csrf).await;
    let right = invite_token(&page);
    let id_of = |token: &str| bellhop::manager::login::hash(token.strip_prefix("join_").unwrap());
    let (_, page) = get(&app, &b.cookie, "/app/team").await;
    assert_eq!(page.matches("Cancel this link").count(), 2, "both unused links are listed: {page}");
    assert!(page.contains(&id_of(&wrong)) && page.contains(&id_of(&right)), "{page}");

    // Another business cannot cancel Rosa's link.
    let (status, location, _) = post(&app, &other.cookie, "/app/team/invites/cancel", &[("csrf", &other.csrf), ("invite", &id_of(&wrong))]).await;
    assert_eq!((status, location.as_str()), (303, "/app/team?cancelled=0"));
    let (_, page) = get(&app, &other.cookie, &location).await;
    assert!(page.contains("could not be cancelled"), "{page}");
    assert_eq!(count(app.db(), "select count(*) from team_invites where revoked_at is not null").await, 0);
    // Rosa can.
    let (status, location, _) = post(&app, &b.cookie, "/app/team/invites/cancel", &[("csrf", &b.csrf), ("invite", &id_of(&wrong))]).await;
    assert_eq!((status, location.as_str()), (303, "/app/team?cancelled=1"));
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(page.contains("The invitation link is cancelled"), "{page}");
    assert_eq!(page.matches("Cancel this link").count(), 1, "only the other link is left: {page}");
    // Whoever opens it is told so, and joins nothing.
    let uma = app.tg.user("Uma").await;
    say_to_manager(&app, uma, &format!("/start {wrong}"), None).await;
    manager_message(&app, uma, "This invitation was cancelled").await;
    assert_eq!(members(&app).await, 0);
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("joined your team")), "the owner hears of no one joining");

    // The other link still works; once used, it can no longer be cancelled.
    let tom = app.tg.user("Tom").await;
    say_to_manager(&app, tom, &format!("/start {right}"), None).await;
    manager_message(&app, tom, "You're on the team of Rosa's Cakes").await;
    let (_, location, _) = post(&app, &b.cookie, "/app/team/invites/cancel", &[("csrf", &b.csrf), ("invite", &id_of(&right))]).await;
    assert_eq!(location, "/app/team?cancelled=0");
    assert_eq!(members(&app).await, 1, "Tom stays on the team");
    app.stop().await.unwrap();
}

/// A paused bot tells customers only that it is taking a break (and what they write then reaches
/// no one), as the owner was told when pausing it: a reply from the owner or a teammate to one of
/// its customers is not sent, takes nobody the conversation, and the person is told why, in the
/// manager chat and on the admin page. Once the bot is resumed, the reply goes out.
#[tokio::test]
async fn a_reply_to_a_customer_of_a_paused_bot_is_not_sent_and_says_why() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_break_bot", "Rosa's Cakes").await;
    let carl = customer(&app, "Carl", b.bot).await;
    app.tg.say(carl, b.bot, "/human").await;
    let handoff = manager_message(&app, b.owner, "Carl wants to talk to a person").await;
    assert_eq!(wait_reply(&app, b.bot, carl, 1).await.len(), 1);
    let conv = count(app.db(), &format!("select id from conversations where chat_id = {carl}")).await;

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/pause", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    let (_, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings?done=paused", b.bot)).await;
    assert!(page.contains("announcements stop") && page.contains("replies from you or your team"), "the owner is told what the pause means: {page}");
    say_to_manager(&app, b.owner, "Hi Carl, Rosa here!", Some(&handoff["message_id"])).await;
    manager_message(&app, b.owner, "The bot is paused, so your reply was not sent").await;
    let (status, _, page) = post(&app, &b.cookie, &format!("/app/conversations/{conv}/reply"), &[("csrf", &b.csrf), ("text", "Hi Carl, Rosa again!")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("The bot is paused, so your reply was not sent"), "{page}");
    assert_eq!(bot_said_to(&app, b.bot, carl).await.len(), 1, "Carl got nothing while the bot was paused");
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where id = {conv} and taken_by is null and mode = 'human'")).await, 1);
    assert_eq!(count(app.db(), "select count(*) from conversation_messages where author = 'owner' and delivery <> 'failed'").await, 0, "nothing waits to be sent later");

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/resume", b.bot), &[("csrf", &b.csrf)]).await;
    assert_eq!(status, 303);
    say_to_manager(&app, b.owner, "Hi Carl, Rosa here — back now!", Some(&handoff["message_id"])).await;
    manager_message(&app, b.owner, "Sent").await;
    assert!(wait_reply(&app, b.bot, carl, 2).await[1].contains("back now"));
    app.stop().await.unwrap();
}

/// `html` with the escapes of apostrophes and ampersands undone.
fn d(html: &str) -> String {
    html.replace("&#x27;", "'").replace("&#39;", "'").replace("&amp;", "&")
}

/// An hour of the UTC day that is not now (nor the next hour): the bot's only working hour.
fn closed_hour() -> u32 {
    let now_hour = ((bellhop::storage::now_ms() / 3_600_000) % 24) as u32;
    (now_hour + 3) % 23
}

#[tokio::test]
async fn outside_working_hours_the_customer_gets_the_away_message_and_the_assistant_keeps_answering() {
    let app = spawn_app().await;
    let b = business(&app, "Vera", "vera_hours_bot", "Vera's Vases").await;
    bellhop::storage::sources::insert_qa(&app.db().pool, b.tenant, Some(bellhop::domain::BotId(b.bot)), "Do you deliver?", "Yes, we deliver in town every day.").await.unwrap();
    let path = format!("/app/bots/{}/settings", b.bot);
    let hours = |open: &str, close: &str, zone: &str| {
        let mut f: Vec<(String, String)> = vec![("csrf".into(), b.csrf.clone()), ("use_hours".into(), "on".into()), ("timezone".into(), zone.into())];
        for d in 0..7 {
            f.push((format!("open_{d}"), open.into()));
            f.push((format!("close_{d}"), close.into()));
        }
        f
    };
    let send = |form: Vec<(String, String)>| {
        let app = &app;
        let cookie = b.cookie.clone();
        let path = path.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(app, &cookie, &path, &form).await
        }
    };
    // Bad input: refused in words, nothing saved.
    let send = |form| {
        let send = &send;
        async move {
            let (status, location, body) = send(form).await;
            (status, location, body.replace("&#39;", "'"))
        }
    };
    let (status, _, body) = send(hours("09:00", "18:00", "Mars/Olympus")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Time zone: “Mars/Olympus” isn't one we know"), "{body}");
    let (status, _, body) = send(hours("09:00", "09:00", "UTC")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Monday: the opening and closing times can't be the same"), "{body}");
    let (status, _, body) = send(hours("24:00", "06:00", "UTC")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Monday: 24:00 is a closing time"), "{body}");
    let (status, _, body) = send(hours("9 o'clock", "", "UTC")).await;
    assert_eq!(status, 422);
    assert!(body.contains("write both times as hours and minutes"), "{body}");
    assert_eq!(count(app.db(), "select count(*) from bot_settings where working_hours <> ''").await, 0);
    // Hours past midnight are taken: 22:00 to 06:00 the next morning.
    let (status, _, _) = send(hours("22:00", "06:00", "UTC")).await;
    assert_eq!(status, 303);
    let (_, page) = get(&app, &b.cookie, &path).await;
    assert!(page.contains("value=\"22:00\"") && page.contains("value=\"06:00\""), "the settings page shows them");

    // Open one hour a day, not now.
    let h = closed_hour();
    let (status, _, _) = send(hours(&format!("{h:02}:00"), &format!("{:02}:00", h + 1), "UTC")).await;
    assert_eq!(status, 303);
    let (_, page) = get(&app, &b.cookie, &path).await;
    assert!(page.contains(&format!("value=\"{h:02}:00\"")) && page.contains("name=\"use_hours\" value=\"on\" checked"), "the settings page shows the hours");

    let dana = customer(&app, "Dana", b.bot).await;
    app.tg.say(dana, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, dana, 1).await;
    assert!(said[0].starts_with("Our team is away right now and back"), "{said:?}");
    assert!(said[0].contains(&format!("at {h:02}:00 (UTC time)")), "{said:?}");
    // The team still gets it, marked as outside working hours; the assistant keeps answering.
    let notice = manager_message(&app, b.owner, "outside your working hours").await;
    assert_eq!(count(app.db(), &format!("select count(*) from conversations where chat_id = {dana} and mode = 'bot'")).await, 1);
    app.tg.say(dana, b.bot, "Do you deliver?").await;
    let said = wait_reply(&app, b.bot, dana, 2).await;
    assert!(said[1].contains("we deliver in town"), "{said:?}");
    // The owner replies anyway: the conversation is theirs now.
    say_to_manager(&app, b.owner, "Vera here — I saw your message.", Some(&notice["message_id"])).await;
    let said = wait_reply(&app, b.bot, dana, 3).await;
    assert!(said[2].contains("Vera here"), "{said:?}");
    assert!(said[2].starts_with("A person from the team has joined the chat"), "Dana is told her messages go to a person now: {said:?}");
    wait_until(WAIT, || async { count(app.db(), &format!("select count(*) from conversations where chat_id = {dana} and mode = 'human'")).await == 1 }).await;
    // Waiting for a person, Dana asks for one again: she is told she is waiting already, and
    // when the team is back; /help gets its usual reply. Neither goes to the team.
    manager_message(&app, b.owner, "Sent").await;
    let told = manager_said(&app, b.owner).await.len();
    app.tg.say(dana, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, dana, 4).await;
    assert!(said[3].starts_with("You're already waiting for a person from Vera's Vases. Our team is away right now and back"), "{said:?}");
    assert!(said[3].contains(&format!("at {h:02}:00 (UTC time)")), "{said:?}");
    app.tg.say(dana, b.bot, "/help").await;
    let said = wait_reply(&app, b.bot, dana, 5).await;
    assert!(said[4].starts_with("Ask me a question in your own words."), "{said:?}");
    assert_eq!(manager_said(&app, b.owner).await.len(), told, "the team was not told: {:?}", manager_said(&app, b.owner).await);
    // Anything else still goes to the team.
    app.tg.say(dana, b.bot, "Is the blue vase still there?").await;
    manager_message(&app, b.owner, "blue vase").await;

    // A photo outside working hours: one reply that says both, that it was passed on and when
    // the team is back.
    let ola = customer(&app, "Ola", b.bot).await;
    app.tg.post(&format!("users/{ola}/messages"), json!({ "bot_id": b.bot, "media": "photo" })).await;
    let said = wait_reply(&app, b.bot, ola, 1).await;
    assert!(said[0].starts_with("I can only read text messages. Our team is away right now and back"), "{said:?}");
    assert_eq!(said[0].matches("passed").count(), 1, "{said:?}");
    // The team is told what happened — a photo the assistant can't read — not that Ola asked
    // for a person.
    let notice = text_of(&manager_message(&app, b.owner, "Ola sent a photo to @vera_hours_bot outside your working hours").await);
    assert!(notice.contains("can only read text"), "{notice}");
    assert!(!manager_said(&app, b.owner).await.iter().any(|t| t.contains("Ola asked for a person")), "{notice}");

    // The owner's own away message, in English: the time it fills in is in English too, for a
    // customer whose Telegram is in Russian as for anyone (not "завтра в …" inside English).
    let mut form = hours(&format!("{h:02}:00"), &format!("{:02}:00", h + 1), "UTC");
    form.push(("away_text".into(), "We are closed right now. A person will answer {when}.".into()));
    let (status, _, _) = send(form).await;
    assert_eq!(status, 303);
    let (_, page) = get(&app, &b.cookie, &path).await;
    assert!(d(&page).contains("bellhop's own texts are shown to each customer in their language; a text you write here is shown as you wrote it, to everyone."), "{page}");
    let olga = app.tg.post("users", json!({ "first_name": "Olga", "language_code": "ru", "started_bots": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.say(olga, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, olga, 1).await;
    assert!(said[0].starts_with("We are closed right now. A person will answer ") && said[0].ends_with(&format!("at {h:02}:00 (UTC time).")), "{said:?}");

    // Open all day: a handoff as usual.
    let (status, _, _) = send(hours("00:00", "24:00", "Europe/Berlin")).await;
    assert_eq!(status, 303);
    let eli = customer(&app, "Eli", b.bot).await;
    app.tg.say(eli, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, eli, 1).await;
    assert!(said[0].contains("asked a person"), "{said:?}");
    manager_message(&app, b.owner, "Eli wants to talk to a person").await;
    app.tg.say(eli, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, eli, 2).await;
    assert_eq!(said[1], "You're already waiting for a person from Vera's Vases: they'll reply here.", "{said:?}");
    // In the customer's language, and /privacy answered as ever.
    let greta = app.tg.post("users", json!({ "first_name": "Greta", "language_code": "de", "started_bots": [b.bot] })).await["id"].as_i64().unwrap();
    app.tg.say(greta, b.bot, "/human").await;
    wait_reply(&app, b.bot, greta, 1).await;
    manager_message(&app, b.owner, "Greta wants to talk to a person").await;
    app.tg.say(greta, b.bot, "/human").await;
    let said = wait_reply(&app, b.bot, greta, 2).await;
    assert!(said[1].starts_with("Sie warten bereits auf eine Person von Vera's Vases"), "{said:?}");
    app.tg.say(greta, b.bot, "/privacy").await;
    let said = wait_reply(&app, b.bot, greta, 3).await;
    assert!(said[2].starts_with("Ihre Nachrichten"), "{said:?}");
    // Working hours off again: stored as always open.
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("timezone", "UTC")]).await;
    assert_eq!(status, 303);
    assert_eq!(count(app.db(), "select count(*) from bot_settings where working_hours <> ''").await, 0);
    app.stop().await.unwrap();
}
