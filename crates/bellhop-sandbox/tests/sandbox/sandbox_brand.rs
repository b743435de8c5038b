//! A bot's brand in the sandbox: a static profile photo uploaded with bellhop-telegram's
//! multipart call is kept (a JPEG only, as Telegram takes it) and served; the chat page shows the
//! bot's name and photo, and in an empty chat its description in the user's language.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;
use serde_json::json;

fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.resize(len, fill);
    b
}

fn photo_file(bytes: Vec<u8>) -> InputFile {
    InputFile { part: "logo".into(), file_name: "logo.jpg".into(), mime: "image/jpeg".into(), bytes }
}

fn static_photo() -> SetMyProfilePhoto {
    SetMyProfilePhoto::new(InputProfilePhoto::Static { photo: "attach://logo".into() })
}

#[tokio::test]
async fn a_static_profile_photo_is_kept_and_served_as_uploaded_and_must_be_a_jpeg() {
    let sb = TestSandbox::start().await;
    let owner = sb.user("Rosa").await;
    let bot = sb.create_managed_bot(owner, "rosa_brand_bot", "Rosa's").await;
    let id = bot["id"].as_i64().unwrap();
    let token = BotToken::parse(sb.get(&format!("bots/{id}")).await["token"].as_str().unwrap()).unwrap();
    let child = sb.client.bot(token);
    let http = reqwest::Client::new();

    let first = jpeg(7, 20_000);
    assert!(child.call_with_files(&static_photo(), &[photo_file(first.clone())]).await.unwrap());
    let state = sb.get(&format!("bots/{id}")).await;
    assert_eq!(state["profile_photo"], json!("20000 bytes"));
    let url = state["profile_photo_url"].as_str().expect("the photo has an address").to_owned();
    let served = http.get(format!("{}{url}", sb.base)).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.bytes().await.unwrap().to_vec(), first, "the bytes as uploaded");

    // A PNG is not a static profile photo: refused, the photo kept.
    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; 100]].concat();
    let refused = child.call_with_files(&static_photo(), &[photo_file(png)]).await.unwrap_err();
    assert!(matches!(&refused, TelegramError::BadRequest(d) if d.contains("IMAGE_PROCESS_FAILED")), "{refused:?}");
    let again = sb.get(&format!("bots/{id}")).await;
    assert_eq!(again["profile_photo_url"], state["profile_photo_url"]);
    assert_eq!(http.get(format!("{}{url}", sb.base)).send().await.unwrap().bytes().await.unwrap().to_vec(), first);

    // A new photo gets a new address (pages showing the old one fetch the new one).
    let second = jpeg(9, 3_000);
    assert!(child.call_with_files(&static_photo(), &[photo_file(second.clone())]).await.unwrap());
    let url2 = sb.get(&format!("bots/{id}")).await["profile_photo_url"].as_str().unwrap().to_owned();
    assert_ne!(url2, url);
    assert_eq!(http.get(format!("{}{url2}", sb.base)).send().await.unwrap().bytes().await.unwrap().to_vec(), second);
    assert_eq!(http.get(format!("{}/sandbox/api/bots/{}/photo", sb.base, sb.handle.sandbox.manager_id())).send().await.unwrap().status(), 404, "no photo, no file");
}

#[tokio::test]
async fn the_chat_shows_the_bots_name_and_photo_and_in_an_empty_chat_its_description_in_the_users_language() {
    let sb = TestSandbox::start().await;
    let owner = sb.user("Rosa").await;
    let bot = sb.create_managed_bot(owner, "rosa_face_bot", "Rosa's").await;
    let id = bot["id"].as_i64().unwrap();
    let token = BotToken::parse(sb.get(&format!("bots/{id}")).await["token"].as_str().unwrap()).unwrap();
    let child = sb.client.bot(token);
    assert!(child.call(&SetMyName::new().name("Rosa's Bakery 🎂")).await.unwrap());
    assert!(child.call(&SetMyDescription::new().description("We bake cakes to order.")).await.unwrap());
    assert!(child.call(&SetMyDescription::new().description("Мы печём торты на заказ.").language_code("ru")).await.unwrap());
    assert!(child.call(&SetMyShortDescription::new().short_description("Cakes to order")).await.unwrap());
    assert!(child.call_with_files(&static_photo(), &[photo_file(jpeg(1, 500))]).await.unwrap());
    let photo_url = sb.get(&format!("bots/{id}")).await["profile_photo_url"].as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let page = |user: i64| {
        let (http, base) = (http.clone(), sb.base.clone());
        async move { http.get(format!("{base}/ui/chat/{user}/{id}")).send().await.unwrap().text().await.unwrap() }
    };
    let en = sb.post("users", json!({ "first_name": "Alex", "language_code": "en" })).await["id"].as_i64().unwrap();
    let ru = sb.post("users", json!({ "first_name": "Ivan", "language_code": "ru" })).await["id"].as_i64().unwrap();
    let chat = page(en).await;
    assert!(chat.contains("Rosa&#x27;s Bakery 🎂") || chat.contains("Rosa&#39;s Bakery 🎂"), "the name in the header: {chat}");
    assert!(chat.contains(&format!("src=\"{}\"", photo_url.replace('&', "&amp;"))) || chat.contains(&format!("src=\"{photo_url}\"")), "the photo in the header: {chat}");
    assert!(chat.contains("We bake cakes to order.") && chat.contains("Cakes to order"), "{chat}");
    let chat = page(ru).await;
    assert!(chat.contains("Мы печём торты на заказ.") && !chat.contains("We bake cakes to order."), "the Russian description: {chat}");
    // The bot list shows the name and photo too.
    let home = http.get(format!("{}/", sb.base)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Bakery 🎂") && home.contains(&format!("/sandbox/api/bots/{id}/photo")), "{home}");

    // Once the chat has messages, the description is no longer shown.
    sb.say(en, id, "Hello").await;
    let chat = page(en).await;
    assert!(!chat.contains("We bake cakes to order."), "{chat}");
}
