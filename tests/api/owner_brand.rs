//! Issue 17, item 2: the bot's brand — name, profile photo, descriptions per language — edited on
//! the settings page, applied to Telegram at once and seen in the sandbox; bad input refused in
//! plain words with nothing changed; a Telegram failure shown, not hidden; the stored brand
//! applied again after a new token.
use crate::helpers::*;
use crate::owner_lifecycle::{business, get, post};
use bellhop::domain::BotToken;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

/// A JPEG's first bytes, then `len` bytes in all.
fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    b.resize(len, fill);
    b
}

/// Uploads `bytes` as the profile photo (file name `name`): (status, Location, body).
async fn upload(app: &TestApp, cookie: &str, csrf: &str, bot: i64, name: &str, bytes: Vec<u8>) -> (u16, String, String) {
    let form = reqwest::multipart::Form::new().text("csrf", csrf.to_owned()).part("photo", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
    let r = app.http.post(app.url(&format!("/app/bots/{bot}/brand/photo"))).header("cookie", cookie).multipart(form).send().await.unwrap();
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    (r.status().as_u16(), location, r.text().await.unwrap())
}

async fn bot_state(app: &TestApp, bot: i64) -> Value {
    app.tg.get(&format!("bots/{bot}")).await
}

/// The bot's photo as the sandbox serves it (empty: none).
async fn sandbox_photo(app: &TestApp, bot: i64) -> Vec<u8> {
    let Some(url) = bot_state(app, bot).await["profile_photo_url"].as_str().map(str::to_owned) else { return vec![] };
    app.http.get(format!("{}{url}", app.tg.base)).send().await.unwrap().bytes().await.unwrap().to_vec()
}

fn d(s: &str) -> String {
    s.replace("&#x27;", "'").replace("&#39;", "'").replace("&quot;", "\"").replace("&amp;", "&")
}

#[tokio::test]
async fn name_photo_and_descriptions_per_language_change_at_once_and_the_sandbox_shows_them() {
    let app = spawn_app().await;
    let b = business(&app, "Rosa", "rosa_brand_bot", "Rosa's").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    let settings = format!("/app/bots/{}/settings", b.bot);

    // The name, and Russian added to the owner's languages.
    let (status, location, body) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Rosa's Bakery 🎂"), ("add", "1"), ("new_language", "ru")]).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=applied#brand").as_str()), "{body}");
    let state = bot_state(&app, b.bot).await;
    assert_eq!(state["name"], "Rosa's Bakery 🎂", "applied during the request: {state}");
    let token = BotToken::parse(state["token"].as_str().unwrap()).unwrap();
    assert_eq!(app.tg.client.bot(token.clone()).get_me().await.unwrap().first_name, "Rosa's Bakery 🎂");
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(d(&page).contains("Telegram shows it now") && d(&page).contains("value=\"Rosa's Bakery 🎂\"") && page.contains("id=\"language-ru\""), "{page}");

    // Descriptions for Russian-speaking customers; the default ones stay.
    let default_description = state["description"].as_str().unwrap().to_owned();
    let form = [
        ("csrf", b.csrf.as_str()),
        ("name", "Rosa's Bakery 🎂"),
        ("language", "ru"),
        ("description_ru", "Пекарня Розы: торты на заказ."),
        ("short_ru", "Торты на заказ"),
        ("add", "1"),
        ("new_language", "de"),
    ];
    let (status, location, _) = post(&app, &b.cookie, &path, &form).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=applied#brand").as_str()));
    let state = bot_state(&app, b.bot).await;
    assert_eq!(state["localised"]["ru"]["description"], "Пекарня Розы: торты на заказ.");
    assert_eq!(state["localised"]["ru"]["short_description"], "Торты на заказ");
    assert_eq!(state["description"], default_description.as_str(), "the default description is unchanged");
    assert!(state["localised"]["de"]["description"].is_null(), "German added with empty texts: the default shows: {state}");
    let mine = bellhop::storage::brand::languages(&app.db().pool, b.tenant, bellhop::domain::BotId(b.bot)).await.unwrap();
    assert_eq!(mine.iter().map(|l| l.code.as_str()).collect::<Vec<_>>(), ["ru", "de"]);
    // A customer whose Telegram is in Russian sees it in the sandbox's chat.
    let ivan = app.tg.post("users", serde_json::json!({ "first_name": "Ivan", "language_code": "ru" })).await["id"].as_i64().unwrap();
    let chat = app.http.get(format!("{}/ui/chat/{ivan}/{}", app.tg.base, b.bot)).send().await.unwrap().text().await.unwrap();
    assert!(chat.contains("Пекарня Розы: торты на заказ.") && d(&chat).contains("Rosa's Bakery 🎂"), "{chat}");

    // Removing Russian removes the owner's text at Telegram too: bellhop's own Russian one shows again.
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Rosa's Bakery 🎂"), ("language", "ru"), ("language", "de"), ("remove", "ru")]).await;
    assert_eq!(status, 303);
    let ru = bot_state(&app, b.bot).await["localised"]["ru"]["description"].as_str().unwrap_or_default().to_owned();
    assert!(ru.starts_with("Здравствуйте!") && ru.contains("Rosa's Bakery 🎂"), "{ru}");

    // The profile photo: the bytes Telegram got are the bytes uploaded.
    let photo = jpeg(42, 150_000);
    let (status, location, body) = upload(&app, &b.cookie, &b.csrf, b.bot, "logo.JPG", photo.clone()).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=applied#brand").as_str()), "{body}");
    assert_eq!(sandbox_photo(&app, b.bot).await, photo);
    let (_, page) = get(&app, &b.cookie, &settings).await;
    let preview = format!("/app/bots/{}/photo.jpg", b.bot);
    assert!(page.contains(&preview), "the page shows the photo: {page}");
    let served = app.http.get(app.url(&preview)).header("cookie", &b.cookie).send().await.unwrap().bytes().await.unwrap().to_vec();
    assert_eq!(served, photo);
    let unchanged = count(app.db(), &format!("select count(*) from bots where id = {} and brand_error is null", b.bot)).await;
    assert_eq!(unchanged, 1);
}

/// Renamed, the bot's descriptions (bellhop's own, every language) say the new name; a
/// description the owner wrote stays as written.
#[tokio::test]
async fn renaming_the_bot_carries_the_new_name_into_bellhops_descriptions_in_every_language() {
    let app = spawn_app().await;
    let b = business(&app, "Sunny", "sunrise_brand_bot", "Sunrise Bakery").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    let state = bot_state(&app, b.bot).await;
    assert!(state["localised"]["de"]["description"].as_str().unwrap_or_default().contains("Sunrise Bakery"), "{state}");

    let (status, location, body) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Sunrise Bakery & Café")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?brand=applied#brand", b.bot).as_str()), "{body}");
    let state = bot_state(&app, b.bot).await;
    assert_eq!(state["name"], "Sunrise Bakery & Café");
    for text in [&state["description"], &state["short_description"], &state["localised"]["de"]["description"], &state["localised"]["ru"]["short_description"]] {
        assert!(text.as_str().unwrap_or_default().contains("Sunrise Bakery & Café"), "{text} in {state}");
    }

    // The owner's own description is kept as written through a rename; bellhop's translations
    // of its own text then give way to it.
    sqlx::query(&format!("update bots set description = 'Fresh bread every morning.' where id = {}", b.bot)).execute(&app.db().pool).await.unwrap();
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Sunrise Café")]).await;
    assert_eq!(status, 303);
    let state = bot_state(&app, b.bot).await;
    assert_eq!(state["description"], "Fresh bread every morning.", "{state}");
    assert!(state["localised"]["de"]["description"].is_null(), "{state}");
    assert!(state["short_description"].as_str().unwrap_or_default().contains("Sunrise Café"), "{state}");
}

#[tokio::test]
async fn bad_brand_input_is_refused_in_plain_words_and_changes_nothing() {
    let app = spawn_app().await;
    let b = business(&app, "Ana", "ana_brand_bot", "Ana's").await;
    let other = business(&app, "Otto", "otto_brand_bot", "Otto's").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    let before = bot_state(&app, b.bot).await;
    let brand_columns = |bot: i64| format!("select count(*) from bots where id = {bot} and photo is null and photo_sha256 = '' and name_applied <> ''");

    let long_name = "N".repeat(65);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("name", long_name.clone())], "Name: Telegram needs 1 to 64 characters (it has 65)"),
        (vec![("name", "  ".into())], "Name: Telegram needs 1 to 64 characters (it has 0)"),
        (vec![("name", "Ana".into()), ("language", "ru".into()), ("description_ru", "д".repeat(513))], "Description in Русский (Russian): Telegram allows at most 512 characters (it has 513)"),
        (vec![("name", "Ana".into()), ("language", "ru".into()), ("short_ru", "к".repeat(121))], "Short description in Русский (Russian): Telegram allows at most 120 characters"),
        (vec![("name", "Ana".into()), ("add", "1".into()), ("new_language", "xx".into())], "“xx” is not one of the languages you can add"),
    ];
    for (fields, says) in cases {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &b.csrf)];
        form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        let (status, _, page) = post(&app, &b.cookie, &path, &form).await;
        assert_eq!(status, 422, "{says}");
        assert!(d(&page).contains("Nothing was saved yet") && d(&page).contains(says), "{says}: {page}");
    }
    // What the owner typed is shown again, to fix.
    let (_, _, page) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Ana's Attic"), ("language", "ru"), ("description_ru", &"д".repeat(513))]).await;
    assert!(d(&page).contains("value=\"Ana's Attic\"") && page.contains(&"д".repeat(513)), "{page}");
    // Photos: by content, not by name; at most 5 MB.
    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![1; 2000]].concat();
    let photos: Vec<(&str, Vec<u8>, &str)> = vec![
        ("logo.jpg", png, "That photo is a PNG file. Telegram takes profile photos as JPEG"),
        ("logo.jpg", b"GIF89a and the rest".to_vec(), "That file isn't a JPEG photo"),
        ("logo.jpg", jpeg(3, 5 * 1024 * 1024 + 1), "That photo is larger than 5 MB"),
        ("logo.jpg", vec![], "Choose a photo to upload first"),
    ];
    for (name, bytes, says) in photos {
        let (status, _, page) = upload(&app, &b.cookie, &b.csrf, b.bot, name, bytes).await;
        assert_eq!(status, 422, "{says}");
        assert!(d(&page).contains(says), "{says}: {page}");
    }
    // Another owner's bot: not found, whatever the form; without the CSRF token: forbidden.
    let (status, _, _) = post(&app, &other.cookie, &path, &[("csrf", &other.csrf), ("name", "Taken over")]).await;
    assert_eq!(status, 404);
    let (status, _, _) = upload(&app, &other.cookie, &other.csrf, b.bot, "logo.jpg", jpeg(1, 1000)).await;
    assert_eq!(status, 404);
    let (status, _, _) = post(&app, &other.cookie, &format!("/app/bots/{}/brand/apply", b.bot), &[("csrf", &other.csrf)]).await;
    assert_eq!(status, 404);
    let (status, _, _) = post(&app, &b.cookie, &path, &[("name", "Forged")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = upload(&app, &b.cookie, "wrong", b.bot, "logo.jpg", jpeg(1, 1000)).await;
    assert_eq!(status, 403);

    // Nothing changed: not in bellhop, not at Telegram.
    let after = bot_state(&app, b.bot).await;
    for k in ["name", "description", "short_description", "localised", "profile_photo"] {
        assert_eq!(after[k], before[k], "{k}");
    }
    assert_eq!(count(app.db(), &brand_columns(b.bot)).await, 1, "no photo stored");
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and name = 'Ana''s'", b.bot)).await, 1);
    assert_eq!(count(app.db(), "select count(*) from bot_languages").await, 0);
}

#[tokio::test]
async fn a_telegram_refusal_is_shown_on_the_page_and_applying_again_makes_telegram_show_the_stored_brand() {
    let app = spawn_app().await;
    let b = business(&app, "Lea", "lea_brand_bot", "Lea's").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    app.tg.fail_method(b.bot, "setMyName", 1, 400, "Bad Request: BOT_TITLE_INVALID").await;
    let (status, location, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Lea's Lamps")]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?brand=failed#brand", b.bot).as_str()));
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(d(&page).contains("Saved in bellhop, but Telegram didn't take it yet") && page.contains("BOT_TITLE_INVALID") && page.contains("Apply again"), "{page}");
    assert_eq!(bot_state(&app, b.bot).await["name"], "Lea's", "Telegram still shows the old name");
    // The page keeps saying so until Telegram shows the stored brand.
    let (_, page) = get(&app, &b.cookie, &format!("/app/bots/{}/settings", b.bot)).await;
    assert!(d(&page).contains("Telegram doesn't show your latest changes yet"), "{page}");

    let (status, location, _) = post(&app, &b.cookie, &format!("{path}/apply"), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("/app/bots/{}/settings?brand=applied#brand", b.bot).as_str()));
    assert_eq!(bot_state(&app, b.bot).await["name"], "Lea's Lamps");
    let (_, page) = get(&app, &b.cookie, &location).await;
    assert!(!page.contains("id=\"brand-error\""), "{page}");
}

#[tokio::test]
async fn a_new_token_applies_the_stored_brand_again() {
    let app = spawn_app().await;
    let b = business(&app, "Max", "max_brand_bot", "Max's").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Max's Bikes"), ("add", "1"), ("new_language", "es")]).await;
    assert_eq!(status, 303);
    let (status, _, _) = post(&app, &b.cookie, &path, &[("csrf", &b.csrf), ("name", "Max's Bikes"), ("language", "es"), ("description_es", "Bicicletas de Max.")]).await;
    assert_eq!(status, 303);
    let photo = jpeg(5, 4000);
    assert_eq!(upload(&app, &b.cookie, &b.csrf, b.bot, "a.jpg", photo.clone()).await.0, 303);

    // Telegram's copy drifts (changed elsewhere with the old token).
    let old = BotToken::parse(bot_state(&app, b.bot).await["token"].as_str().unwrap()).unwrap();
    let child = app.tg.client.bot(old);
    use bellhop::telegram::methods::{SetMyDescription, SetMyName, SetMyProfilePhoto};
    child.call(&SetMyName::new().name("Somebody else")).await.unwrap();
    child.call(&SetMyDescription::new().description("").language_code("es")).await.unwrap();
    let other = bellhop::telegram::InputFile { part: "p".into(), file_name: "p.jpg".into(), mime: "image/jpeg".into(), bytes: jpeg(9, 100) };
    child.call_with_files(&SetMyProfilePhoto::new(bellhop::telegram::InputProfilePhoto::Static { photo: "attach://p".into() }), &[other]).await.unwrap();

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/token", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    token_used(bot_state(&app, b.bot).await["token"].as_str().unwrap());
    wait_until(WAIT, || async {
        let s = bot_state(&app, b.bot).await;
        s["name"] == "Max's Bikes" && s["localised"]["es"]["description"] == "Bicicletas de Max."
    })
    .await;
    wait_until(WAIT, || async { sandbox_photo(&app, b.bot).await == photo }).await;
    crate::owner_lifecycle::wait_live(&app, b.bot).await;
}

#[tokio::test]
async fn deleting_a_bots_data_erases_its_stored_photo_and_languages() {
    let app = spawn_app().await;
    let b = business(&app, "Ida", "ida_brand_bot", "Ida's").await;
    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/brand", b.bot), &[("csrf", &b.csrf), ("name", "Ida's Ink"), ("add", "1"), ("new_language", "fr")]).await;
    assert_eq!(status, 303);
    assert_eq!(upload(&app, &b.cookie, &b.csrf, b.bot, "a.jpg", jpeg(2, 3000)).await.0, 303);
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and photo is not null", b.bot)).await, 1);

    let (status, _, _) = post(&app, &b.cookie, &format!("/app/bots/{}/delete", b.bot), &[("csrf", &b.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert_eq!(count(app.db(), &format!("select count(*) from bots where id = {} and photo is null and photo_sha256 = ''", b.bot)).await, 1);
    assert_eq!(count(app.db(), &format!("select count(*) from bot_languages where bot_id = {}", b.bot)).await, 0);
    let (status, _) = get(&app, &b.cookie, &format!("/app/bots/{}/photo.jpg", b.bot)).await;
    assert_eq!(status, 404);
}

/// A profile photo Telegram refuses does not block the rest: each part of the brand is sent on
/// its own, so a description change still reaches Telegram, and the page names the photo as
/// the problem. "Apply again" sends what Telegram has not confirmed — not the name it shows,
/// which would use up Telegram's rename allowance.
#[tokio::test]
async fn a_refused_photo_does_not_keep_descriptions_from_telegram_and_the_page_names_the_photo() {
    let app = spawn_app().await;
    let b = business(&app, "Ida", "ida_brand_bot", "Ida's").await;
    let path = format!("/app/bots/{}/brand", b.bot);
    let settings = format!("/app/bots/{}/settings", b.bot);
    app.tg.fail_method(b.bot, "setMyProfilePhoto", 100, 400, "Bad Request: IMAGE_PROCESS_FAILED").await;
    let (status, location, body) = upload(&app, &b.cookie, &b.csrf, b.bot, "logo.jpg", jpeg(7, 20_000)).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=failed#brand").as_str()), "{body}");
    assert!(sandbox_photo(&app, b.bot).await.is_empty());

    // A new description: Telegram shows it although the photo is still refused.
    let form = [("csrf", b.csrf.as_str()), ("name", "Ida's"), ("description", "Fresh bread every morning."), ("short_description", "Fresh bread")];
    let (status, location, _) = post(&app, &b.cookie, &path, &form).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=failed#brand").as_str()));
    let state = bot_state(&app, b.bot).await;
    assert_eq!((state["description"].as_str(), state["short_description"].as_str()), (Some("Fresh bread every morning."), Some("Fresh bread")), "{state}");
    let (_, page) = get(&app, &b.cookie, &location).await;
    let page = d(&page);
    assert!(page.contains("The profile photo: Telegram refused it") && page.contains("IMAGE_PROCESS_FAILED"), "{page}");
    assert!(!page.contains("The name:") && !page.contains("The descriptions:"), "only the photo is named: {page}");

    // Apply again: the name Telegram shows is not sent again (a refusal waiting for it stays).
    app.tg.fail_method(b.bot, "setMyName", 1, 400, "Bad Request: BOT_TITLE_INVALID").await;
    let (status, location, _) = post(&app, &b.cookie, &format!("{path}/apply"), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=failed#brand").as_str()));
    assert_eq!(app.tg.get(&format!("faults/methods?bot_id={}&method=setMyName", b.bot)).await["to_catch"], 1, "setMyName not called");

    // Once Telegram takes the photo, Apply again clears the problem.
    app.tg.fail_method(b.bot, "setMyProfilePhoto", 0, 400, "Bad Request: IMAGE_PROCESS_FAILED").await;
    let (status, location, _) = post(&app, &b.cookie, &format!("{path}/apply"), &[("csrf", &b.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, format!("{settings}?brand=applied#brand").as_str()));
    assert_eq!(sandbox_photo(&app, b.bot).await, jpeg(7, 20_000));
    assert_eq!(bot_state(&app, b.bot).await["name"], "Ida's");
}
