//! Mini Apps, Telegram's side (issue 18, item 1): the menu button (`setChatMenuButton`,
//! `getChatMenuButton`), opening its Mini App with launch data signed by the bot's token, and
//! `requestChat` for a prepared `request_managed_bot` button, through the control API and the UI.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::methods::*;
use bellhop_telegram::webapp;
use bellhop_telegram::*;
use serde_json::{Value, json};

fn web_app(url: &str) -> MenuButton {
    MenuButton::WebApp { text: "Create a bot".into(), web_app: WebAppInfo { url: url.into() } }
}

async fn refused(sb: &TestSandbox, body: Value) -> String {
    match sb.client.call_raw(&sb.manager(), "setChatMenuButton", &body).await {
        Ok(v) => panic!("accepted: {v}"),
        Err(e) => format!("{e:?}"),
    }
}

#[tokio::test]
async fn the_menu_button_is_set_per_chat_or_by_default_and_read_back_as_telegram_does() {
    let sb = TestSandbox::start().await;
    let manager = sb.client.bot(sb.manager());
    let get = |chat: Option<i64>| {
        let body = chat.map(|c| json!({ "chat_id": c })).unwrap_or(json!({}));
        let (client, token) = (sb.client.clone(), sb.manager());
        async move { client.call_raw(&token, "getChatMenuButton", &body).await.unwrap() }
    };
    assert_eq!(get(None).await, json!({ "type": "default" }));
    assert!(manager.call(&SetChatMenuButton::default_for_all(web_app("https://shop.example/miniapp"))).await.unwrap());
    assert_eq!(get(None).await, json!({ "type": "web_app", "text": "Create a bot", "web_app": { "url": "https://shop.example/miniapp" } }));

    let kim = sb.user("Kim").await;
    assert!(manager.call(&SetChatMenuButton::default_for_all(MenuButton::Commands).chat_id(kim)).await.unwrap());
    assert_eq!(get(Some(kim)).await, json!({ "type": "commands" }), "the chat's own button");
    assert_eq!(get(None).await["type"], json!("web_app"), "the default is unchanged");
    assert!(manager.call(&SetChatMenuButton::default_for_all(MenuButton::Default).chat_id(kim)).await.unwrap());
    assert_eq!(get(Some(kim)).await["type"], json!("web_app"), "back to the default");

    assert!(refused(&sb, json!({ "menu_button": { "type": "web_app", "text": " ", "web_app": { "url": "https://x.example" } } })).await.contains("BUTTON_TEXT_INVALID"));
    assert!(refused(&sb, json!({ "menu_button": { "type": "web_app", "text": "Go", "web_app": { "url": "ftp://x.example" } } })).await.contains("BUTTON_URL_INVALID"));
    assert!(refused(&sb, json!({ "menu_button": { "type": "rocket" } })).await.contains("can't parse menu button"));
    assert!(refused(&sb, json!({ "chat_id": 424242, "menu_button": { "type": "commands" } })).await.contains("ChatNotFound"));
}

#[tokio::test]
async fn the_mini_app_opens_with_launch_data_signed_by_the_bot_and_request_chat_shows_the_creation_screen() {
    let sb = TestSandbox::start().await;
    let mid = sb.handle.sandbox.manager_id();
    let manager = sb.client.bot(sb.manager());
    let kim = sb.user("Kim").await;
    let lee = sb.user("Lee").await;
    // No Mini App yet.
    let none = sb.api_raw(reqwest::Method::POST, &format!("users/{kim}/web_apps"), json!({ "bot_id": mid })).await;
    assert_eq!(none["error"], json!("WEB_APP_NOT_SET"));
    manager.call(&SetChatMenuButton::default_for_all(web_app("https://shop.example/miniapp"))).await.unwrap();
    manager.call(&SetChatMenuButton::default_for_all(MenuButton::Commands).chat_id(lee)).await.unwrap();

    let opened = sb.post(&format!("users/{kim}/web_apps"), json!({ "bot_id": mid })).await;
    let url = url::Url::parse(opened["url"].as_str().unwrap()).unwrap();
    assert_eq!(format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.path()), "https://shop.example/miniapp");
    let fragment: Vec<(String, String)> = url::form_urlencoded::parse(url.fragment().unwrap().as_bytes()).into_owned().collect();
    let init_data = opened["init_data"].as_str().unwrap();
    assert_eq!(fragment[0], ("tgWebAppData".to_owned(), init_data.to_owned()), "launch data in the fragment, as Telegram passes it");
    assert!(fragment.contains(&("tgWebAppVersion".to_owned(), "9.6".to_owned())));
    let now = sb.get("state").await["now"].as_i64().unwrap();
    let checked = webapp::verify(&sb.manager(), init_data, now, 60).expect("signed with the manager's token");
    assert_eq!((checked.user.id, checked.user.first_name.as_str()), (kim, "Kim"));
    let other = BotToken::parse("123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    assert_eq!(webapp::verify(&other, init_data, now, 60), Err(webapp::InitDataError::BadSignature));
    let lees = sb.api_raw(reqwest::Method::POST, &format!("users/{lee}/web_apps"), json!({ "bot_id": mid })).await;
    assert_eq!(lees["error"], json!("WEB_APP_NOT_SET"), "Lee's chat has a commands button");

    // The Mini App's requestChat(id) for a prepared request_managed_bot button.
    let button = KeyboardButton {
        text: "Create".into(),
        request_managed_bot: Some(KeyboardButtonRequestManagedBot { request_id: 1, suggested_name: Some("Kim's Shop".into()), suggested_username: Some("kims_shop_bot".into()) }),
        ..Default::default()
    };
    let prepared = manager.call(&SavePreparedKeyboardButton::new(UserId(kim), button)).await.unwrap();
    let listed = sb.get(&format!("prepared_buttons?user_id={kim}")).await;
    assert_eq!(listed[0]["id"], json!(prepared.id));
    let stolen = sb.api_raw(reqwest::Method::POST, &format!("users/{lee}/web_app_requests"), json!({ "bot_id": mid, "req_id": prepared.id })).await;
    assert_eq!(stolen["error"], json!("REQUEST_INVALID"), "a button prepared for Kim is Kim's");
    let unknown = sb.api_raw(reqwest::Method::POST, &format!("users/{kim}/web_app_requests"), json!({ "bot_id": mid, "req_id": "pkb-nothing" })).await;
    assert_eq!(unknown["error"], json!("REQUEST_INVALID"));
    let req = sb.post(&format!("users/{kim}/web_app_requests"), json!({ "bot_id": mid, "req_id": prepared.id })).await;
    let screen = &req["creation_request"];
    assert_eq!((screen["suggested_name"].as_str(), screen["suggested_username"].as_str()), (Some("Kim's Shop"), Some("kims_shop_bot")));
    sb.post(&format!("creation_requests/{}/confirm", screen["id"].as_str().unwrap()), json!({})).await;
    let updates = manager.call(&GetUpdates::new()).await.unwrap();
    let created = updates.iter().find_map(|u| match &u.kind {
        UpdateKind::ManagedBot(m) => Some(m.clone()),
        _ => None,
    });
    let created = created.expect("managed_bot sent to the manager, as for the link");
    assert_eq!((created.user.id, created.bot.username.as_deref()), (kim, Some("kims_shop_bot")));

    // The UI: Kim's manager chat shows the menu button, which opens the Mini App in an iframe.
    let http = reqwest::Client::new();
    let chat = http.get(format!("{}/ui/chat/{kim}/{mid}", sb.base)).send().await.unwrap().text().await.unwrap();
    assert!(chat.contains("id=\"menu-button\"") && chat.contains("Create a bot"), "{chat}");
    let lee_chat = http.get(format!("{}/ui/chat/{lee}/{mid}", sb.base)).send().await.unwrap().text().await.unwrap();
    assert!(!lee_chat.contains("id=\"menu-button\""));
    let page = http.get(format!("{}/ui/chat/{kim}/{mid}/webapp", sb.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<iframe id=\"miniapp\" src=\"https://shop.example/miniapp#tgWebAppData="), "{page}");
    assert!(page.contains("web_app_request_chat") && page.contains("requested_chat_sent"), "the page answers requestChat");
}
