//! Issue 18, item 6: what an independent client found the sandbox doing differently from
//! Telegram, each checked over raw HTTP (Telegram's envelope and wording, not our client's
//! reading of it): inline buttons keep every field, a text-only inline button is refused, HTML is
//! parsed with Telegram's rules and error texts, sent text is trimmed and gets automatic entities,
//! `savePreparedKeyboardButton` takes only request buttons. Also item 2 (managed-bot access
//! settings, Bot API 10.1) and item 5's redirect rule for webhook delivery.
use crate::sandbox_support::TestSandbox;
use bellhop_sandbox::SandboxOptions;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A sandbox without rate limits, the manager's token, and a user who started the manager.
async fn setup() -> (TestSandbox, BotToken, i64) {
    let sb = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let manager_id = sb.handle.sandbox.manager_id();
    let user = sb.post("users", json!({ "first_name": "Ann", "started_bots": [manager_id] })).await["id"].as_i64().unwrap();
    let token = sb.manager();
    (sb, token, user)
}

/// A Bot API call over plain HTTP; the whole envelope.
async fn raw(sb: &TestSandbox, token: &BotToken, method: &str, body: Value) -> Value {
    sb.http.post(format!("{}/bot{}/{method}", sb.base, token.expose())).json(&body).send().await.unwrap().json().await.unwrap()
}

fn description(answer: &Value) -> &str {
    assert_eq!(answer["ok"], json!(false), "expected a refusal: {answer}");
    answer["description"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn inline_buttons_keep_every_field_telegram_defines() {
    let (sb, token, ann) = setup().await;
    let keyboard = json!({ "inline_keyboard": [
        [{ "text": "Copy code", "copy_text": { "text": "PIZZA10" } }, { "text": "Search here", "switch_inline_query_current_chat": "pizza" }],
        [{ "text": "Share", "switch_inline_query": "" }, { "text": "Pick a chat", "switch_inline_query_chosen_chat": { "query": "q", "allow_group_chats": true } }],
        [{ "text": "Log in", "login_url": { "url": "https://shop.example/login", "request_write_access": true } }, { "text": "Open", "web_app": { "url": "https://shop.example/app" } }],
        [{ "text": "Site", "url": "https://shop.example", "style": "primary" }, { "text": "Yes", "callback_data": "y", "icon_custom_emoji_id": "5368324170671202286" }],
    ]});
    let sent = raw(&sb, &token, "sendMessage", json!({ "chat_id": ann, "text": "Buttons", "reply_markup": keyboard })).await;
    assert_eq!(sent["ok"], json!(true), "{sent}");
    assert_eq!(sent["result"]["reply_markup"], keyboard, "the message carries every button field back");
    // Read back through the transcript, and edited with the typed client: nothing is lost.
    let transcript = sb.sent_by(sb.handle.sandbox.manager_id()).await;
    assert_eq!(transcript.last().unwrap()["message"]["reply_markup"], keyboard);
    let typed: InlineKeyboardMarkup = serde_json::from_value(keyboard.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), keyboard, "the client's types keep every field too");
    let mid = sent["result"]["message_id"].as_i64().unwrap();
    let edited = sb.client.bot(token).call(&EditMessageText::new(ann, mid, "Buttons!").reply_markup(typed)).await.unwrap();
    assert_eq!(edited["reply_markup"], keyboard);
}

#[tokio::test]
async fn a_text_only_inline_button_is_refused_as_telegram_refuses_it() {
    let (sb, token, ann) = setup().await;
    let answer = raw(&sb, &token, "sendMessage", json!({ "chat_id": ann, "text": "Hi", "reply_markup": { "inline_keyboard": [[{ "text": "just text" }]] } })).await;
    assert_eq!(answer["error_code"], json!(400));
    assert_eq!(description(&answer), "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    let too_long = raw(&sb, &token, "sendMessage", json!({ "chat_id": ann, "text": "Hi", "reply_markup": { "inline_keyboard": [[{ "text": "c", "copy_text": { "text": "x".repeat(257) } }]] } })).await;
    assert_eq!(description(&too_long), "Bad Request: BUTTON_COPY_TEXT_INVALID");
    assert!(sb.sent_by(sb.handle.sandbox.manager_id()).await.is_empty(), "a refused message is not sent");
}

#[tokio::test]
async fn html_follows_telegrams_parser_and_its_error_texts() {
    let (sb, token, ann) = setup().await;
    let html = |text: &str| json!({ "chat_id": ann, "text": text, "parse_mode": "HTML" });
    // Telegram's own wording (TDLib's parse_html), after the Bot API's prefix.
    let refused = [
        ("<blink>x</blink>", "Unsupported start tag \"blink\" at byte offset 0"),
        ("<b>bold", "Can't find end tag corresponding to start tag b"),
        ("<b>x</i>", "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\""),
        ("a </b>", "Unexpected end tag at byte offset 2"),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("a < b", "Unsupported start tag \"\" at byte offset 2"),
        ("<span>x</span>", "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0"),
        ("<a href>x</a>", "Expected equal sign in declaration of an attribute of the tag \"a\" at byte offset 0"),
        ("<a href=x/y>x</a>", "Unexpected end of name token at byte offset 8"),
        ("<tg-emoji emoji-id=\"x\">🙂</tg-emoji>", "Invalid custom emoji identifier specified"),
    ];
    for (text, error) in refused {
        let answer = raw(&sb, &token, "sendMessage", html(text)).await;
        assert_eq!(description(&answer), format!("Bad Request: can't parse entities: {error}"), "{text}");
    }
    // A bare `>`, unknown `&…;` and `&lt` without `;` are text; `</>` closes the open tag.
    let sent = raw(&sb, &token, "sendMessage", html("1 > 0 &amp &foo; &lt;b&gt; <b>x</> &#x1F600;")).await;
    assert_eq!(sent["result"]["text"], "1 > 0 & &foo; <b> x 😀", "{sent}");
    assert_eq!(sent["result"]["entities"], json!([{ "type": "bold", "offset": 18, "length": 1 }]));
    let quote = raw(&sb, &token, "sendMessage", html("<blockquote expandable>long</blockquote>")).await;
    assert_eq!(quote["result"]["entities"][0]["type"], "expandable_blockquote", "{quote}");
}

#[tokio::test]
async fn sent_text_is_trimmed_and_gets_telegrams_automatic_entities() {
    let (sb, token, ann) = setup().await;
    let send = |body: Value| raw(&sb, &token, "sendMessage", body);
    let sent = send(json!({ "chat_id": ann, "text": " \n  Hi @alice_b: /start, #Pizza at https://shop.example/menu or me@shop.example \r\n\n " })).await;
    let m = &sent["result"];
    assert_eq!(m["text"], "Hi @alice_b: /start, #Pizza at https://shop.example/menu or me@shop.example", "{sent}");
    let found: Vec<(String, i64, i64)> = m["entities"].as_array().unwrap().iter().map(|e| (e["type"].as_str().unwrap().to_owned(), e["offset"].as_i64().unwrap(), e["length"].as_i64().unwrap())).collect();
    let expected = [("mention", 3, 8), ("bot_command", 13, 6), ("hashtag", 21, 6), ("url", 31, 25), ("email", 60, 15)];
    assert_eq!(found, expected.map(|(k, o, l)| (k.to_owned(), o, l)).to_vec());

    // With HTML: a bold run crossing a link is split at its edges, as Telegram does; nothing is
    // found inside code; entities follow the trimmed text.
    let sent = send(json!({ "chat_id": ann, "text": "\n <b>see https://x.test now</b> <code>@not_a_mention</code>\n", "parse_mode": "HTML" })).await;
    let m = &sent["result"];
    assert_eq!(m["text"], "see https://x.test now @not_a_mention");
    assert_eq!(
        m["entities"],
        json!([
            { "type": "bold", "offset": 0, "length": 4 },
            { "type": "url", "offset": 4, "length": 14 },
            { "type": "bold", "offset": 4, "length": 14 },
            { "type": "bold", "offset": 18, "length": 4 },
            { "type": "code", "offset": 23, "length": 14 },
        ]),
        "{sent}"
    );
    // Nothing but whitespace (after parsing) is an empty message.
    for body in [json!({ "chat_id": ann, "text": " \n\t " }), json!({ "chat_id": ann, "text": "<b> </b>\n", "parse_mode": "HTML" })] {
        assert_eq!(description(&send(body).await), "Bad Request: message text is empty");
    }
    // What a user types gets the same automatic entities.
    let said = sb.say(ann, sb.handle.sandbox.manager_id(), "mail me@shop.example or see shop.example").await;
    assert_eq!(said["entities"], json!([{ "type": "email", "offset": 5, "length": 15 }, { "type": "url", "offset": 28, "length": 12 }]));
}

#[tokio::test]
async fn only_request_buttons_can_be_prepared_for_a_mini_app() {
    let (sb, token, ann) = setup().await;
    let prepare = |button: Value| raw(&sb, &token, "savePreparedKeyboardButton", json!({ "user_id": ann, "button": button }));
    for button in [json!({ "text": "Hello" }), json!({ "text": "Phone", "request_contact": true }), json!({ "text": "Where", "request_location": true })] {
        assert_eq!(description(&prepare(button.clone()).await), "Bad Request: BUTTON_TYPE_INVALID", "{button}");
    }
    let users = json!({ "text": "Pick staff", "request_users": { "request_id": 7, "user_is_bot": false, "max_quantity": 3, "request_name": true } });
    let chat = json!({ "text": "Pick a group", "request_chat": { "request_id": 8, "chat_is_channel": false, "bot_is_member": true } });
    let bot = json!({ "text": "Create", "request_managed_bot": { "request_id": 9, "suggested_name": "Pizza", "suggested_username": "pizza_bot" } });
    for button in [users.clone(), chat.clone(), bot] {
        let answer = prepare(button.clone()).await;
        assert!(answer["result"]["id"].as_str().is_some_and(|id| !id.is_empty()), "{button}: {answer}");
    }
    // The client's types carry request_users / request_chat.
    let typed: KeyboardButton = serde_json::from_value(users.clone()).unwrap();
    assert_eq!(typed.request_users.as_ref().and_then(|r| r.max_quantity), Some(3));
    let prepared = sb.client.bot(token.clone()).call(&SavePreparedKeyboardButton::new(ann, serde_json::from_value::<KeyboardButton>(chat).unwrap())).await.unwrap();
    assert!(!prepared.id.is_empty());
    let too_many = json!({ "text": "Pick", "request_users": { "request_id": 1, "max_quantity": 11 } });
    assert_eq!(description(&prepare(too_many).await), "Bad Request: BUTTON_TYPE_INVALID");
}

#[tokio::test]
async fn managed_bot_access_settings_restrict_who_can_use_a_bot() {
    let (sb, manager_token, owner) = setup().await;
    let manager = sb.client.bot(manager_token.clone());
    let carol = sb.user("Carol").await;
    let dave = sb.user("Dave").await;
    let child = sb.create_managed_bot(owner, "bakery_help_bot", "Bakery").await["id"].as_i64().unwrap();

    let open = manager.call(&GetManagedBotAccessSettings::new(child)).await.unwrap();
    assert_eq!(open, BotAccessSettings { is_access_restricted: false, added_users: None });
    assert!(sb.api_raw(reqwest::Method::POST, &format!("users/{dave}/messages"), json!({ "bot_id": child, "text": "hi" })).await["ok"] == json!(true));

    assert!(manager.call(&SetManagedBotAccessSettings::restricted(child, vec![UserId(carol), UserId(owner)])).await.unwrap());
    let restricted = manager.call(&GetManagedBotAccessSettings::new(child)).await.unwrap();
    assert!(restricted.is_access_restricted);
    let added: Vec<i64> = restricted.added_users.unwrap().iter().map(|u| u.id).collect();
    assert_eq!(added, vec![carol], "the owner always has access and is not listed");
    let says = |user: i64| {
        let path = format!("users/{user}/messages");
        let sb = &sb;
        async move { sb.api_raw(reqwest::Method::POST, &path, json!({ "bot_id": child, "text": "hello" })).await }
    };
    assert_eq!(says(dave).await["ok"], json!(false), "Dave is not on the list");
    let from_dave = |all: Value| all.as_array().unwrap().iter().filter(|m| m["message"]["from"]["id"] == json!(dave)).count();
    assert_eq!(from_dave(sb.get(&format!("messages?bot_id={child}")).await), 1, "only Dave's message from before the restriction reached the bot");
    assert_eq!(says(carol).await["ok"], json!(true));
    assert_eq!(says(owner).await["ok"], json!(true));

    // Telegram's rules: at most 10 added users, real users only, only the bot's manager.
    let eleven: Vec<Value> = (0..11).map(|_| json!(carol)).collect();
    let answer = raw(&sb, &manager_token, "setManagedBotAccessSettings", json!({ "user_id": child, "is_access_restricted": true, "added_user_ids": eleven })).await;
    assert_eq!(description(&answer), "Bad Request: too many users specified");
    let answer = raw(&sb, &manager_token, "setManagedBotAccessSettings", json!({ "user_id": child, "is_access_restricted": true, "added_user_ids": [424242] })).await;
    assert_eq!(description(&answer), "Bad Request: user not found");
    let answer = raw(&sb, &manager_token, "getManagedBotAccessSettings", json!({ "user_id": sb.handle.sandbox.manager_id() })).await;
    assert_eq!(description(&answer), "Bad Request: BOT_NOT_MANAGED");
    let answer = raw(&sb, &manager_token, "setManagedBotAccessSettings", json!({ "user_id": child })).await;
    assert_eq!(answer["ok"], json!(false), "is_access_restricted is required: {answer}");
    assert!(manager.call(&GetManagedBotAccessSettings::new(child)).await.unwrap().is_access_restricted, "a refused call changes nothing");

    // Opening it again drops the list; everyone may talk to it.
    assert!(manager.call(&SetManagedBotAccessSettings::open(child)).await.unwrap());
    assert_eq!(manager.call(&GetManagedBotAccessSettings::new(child)).await.unwrap(), BotAccessSettings::default());
    assert_eq!(says(dave).await["ok"], json!(true));
}

#[tokio::test]
async fn webhook_delivery_does_not_follow_redirects() {
    let (sb, token, ann) = setup().await;
    let reached = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { axum::response::Redirect::temporary("/target") })).route(
        "/target",
        axum::routing::post({
            let reached = reached.clone();
            move || async move {
                reached.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let bot = sb.client.bot(token.clone());
    bot.call(&SetWebhook::new(format!("http://{addr}/hook"))).await.unwrap();
    sb.say(ann, sb.handle.sandbox.manager_id(), "hello").await;
    let mut info = WebhookInfo::default();
    for _ in 0..400 {
        info = bot.call(&GetWebhookInfo::new()).await.unwrap();
        if info.last_error_message.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(info.last_error_message.as_deref(), Some("Wrong response from the webhook: 307 Temporary Redirect"), "{info:?}");
    assert_eq!(info.pending_update_count, 1, "the update is kept for the next try");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "the redirect's target is never called");
}

/// The issue found `getManagedBotAccessSettings` answering 404: every method the client has a
/// request type for is one the sandbox implements (any answer but "method not found").
#[tokio::test]
async fn the_sandbox_implements_every_method_the_client_has() {
    let (sb, token, _) = setup().await;
    let mut missing = Vec::new();
    for method in bellhop_telegram::methods::ALL_METHODS {
        if *method == "logOut" {
            continue; // it would log the manager out for the rest of the test
        }
        let answer = raw(&sb, &token, method, json!({})).await;
        if answer["error_code"] == json!(404) {
            missing.push(*method);
        }
    }
    assert!(missing.is_empty(), "the sandbox does not implement {missing:?}");
    let unknown = raw(&sb, &token, "getNothing", json!({})).await;
    assert_eq!(unknown["description"], "Not Found: method not found", "the check above can fail");
}
