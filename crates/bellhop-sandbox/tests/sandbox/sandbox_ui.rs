//! The web UI: a person adds a user, opens a creation link, edits the confirm screen, sees the
//! service message, watches a draft stream in, presses a button and pays an invoice.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::methods::*;
use bellhop_telegram::*;

#[tokio::test]
async fn a_person_can_create_a_bot_chat_and_pay_through_the_ui() {
    let sb = TestSandbox::start().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let ui = |p: &str| format!("{}{p}", sb.base);
    let home = http.get(ui("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("@bellhop_manager_bot"), "{home}");
    let r = http.post(ui("/ui/users")).form(&[("first_name", "Kim"), ("username", "")]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let kim = sb.get("users").await[0]["id"].as_i64().unwrap();
    let link = "https://t.me/newbot/bellhop_manager_bot/kims_bot?name=Kim%27s%20Shop";
    let r = http.post(ui("/ui/creation")).form(&[("user_id", kim.to_string().as_str()), ("link", link)]).send().await.unwrap();
    let confirm_url = r.headers()["location"].to_str().unwrap().to_owned();
    let screen = http.get(ui(&confirm_url)).send().await.unwrap().text().await.unwrap();
    assert!(screen.contains("value=\"Kim&#x27;s Shop\"") || screen.contains("Kim&#39;s Shop") || screen.contains("Kim's Shop"), "{screen}");
    let bad = http.post(ui(&confirm_url)).form(&[("name", "Kim's Shop"), ("username", "kims_shop")]).send().await.unwrap().text().await.unwrap();
    assert!(bad.contains("USERNAME_SUFFIX_MISSING"), "{bad}");
    let ok = http.post(ui(&confirm_url)).form(&[("name", "Kim's Shop"), ("username", "kims_shop_bot")]).send().await.unwrap();
    let chat_url = ok.headers()["location"].to_str().unwrap().to_owned();
    let chat = http.get(ui(&chat_url)).send().await.unwrap().text().await.unwrap();
    assert!(chat.contains("You created @kims_shop_bot"), "{chat}");

    let mid = sb.handle.sandbox.manager_id();
    let manager = sb.client.bot(sb.manager());
    assert!(manager.call(&SendMessageDraft::new(kim, 1).text("Let me think")).await.unwrap());
    let log = http.get(ui(&format!("/ui/chat/{kim}/{mid}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("Let me think ▍"), "{log}");
    let keyboard = InlineKeyboardMarkup { inline_keyboard: vec![vec![InlineKeyboardButton::callback("More", "more")]] };
    let sent = manager.send_message(&SendMessage { reply_markup: Some(ReplyMarkup::Inline(keyboard)), ..SendMessage::new(kim, "Here you go") }).await.unwrap();
    let log = http.get(ui(&format!("/ui/chat/{kim}/{mid}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(!log.contains("Let me think"), "the final message replaced the draft");
    let r = http.post(ui(&format!("/ui/chat/{kim}/{mid}/press"))).form(&[("message_id", sent.message_id.to_string()), ("data", "more".into())]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let inv = manager.call(&SendInvoice::stars(kim, "Pack", "A pack", "p", 5)).await.unwrap();
    let r = http.post(ui(&format!("/ui/chat/{kim}/{mid}/pay"))).form(&[("message_id", inv.message_id.to_string())]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let kinds: Vec<String> = manager.get_updates(None, 0).await.unwrap().into_iter().map(|u| u.kind.name().to_owned()).collect();
    assert!(kinds.contains(&"callback_query".to_owned()) && kinds.contains(&"pre_checkout_query".to_owned()), "{kinds:?}");
    let r = http.post(ui(&format!("/ui/chat/{kim}/{mid}/say"))).form(&[("text", "hello from the UI")]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let log = http.get(ui(&format!("/ui/chat/{kim}/{mid}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("hello from the UI") && log.contains("Pay ⭐"), "{log}");
}

/// Telegram's apps make addresses in a message clickable and show link buttons: so does the
/// chat. A link button with an invoice link the sandbox made opens its payment (the demo's
/// "/plan" offer), another opens its address.
#[tokio::test]
async fn link_buttons_and_addresses_in_text_can_be_used_and_an_invoice_link_button_pays() {
    let sb = TestSandbox::start().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let ui = |p: &str| format!("{}{p}", sb.base);
    let r = http.post(ui("/ui/users")).form(&[("first_name", "Lea"), ("username", "")]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let lea = sb.get("users").await[0]["id"].as_i64().unwrap();
    let mid = sb.handle.sandbox.manager_id();
    let manager = sb.client.bot(sb.manager());
    let r = http.post(ui(&format!("/ui/chat/{lea}/{mid}/say"))).form(&[("text", "/start")]).send().await.unwrap();
    assert!(r.status().is_redirection());
    let invoice = manager.call(&CreateInvoiceLink::monthly_stars("Starter", "The Starter plan", "plan:starter", 250)).await.unwrap();
    let keyboard = InlineKeyboardMarkup {
        inline_keyboard: vec![vec![InlineKeyboardButton::url("⭐ Starter — 250 ⭐/month", invoice.clone())], vec![InlineKeyboardButton::url("Terms", "https://example.com/terms?a=1&b=2")]],
    };
    manager.send_message(&SendMessage { reply_markup: Some(ReplyMarkup::Inline(keyboard)), ..SendMessage::new(lea, "Sign in: https://bellhop.example/login/abc. Or <not> a link.") }).await.unwrap();
    let log = http.get(ui(&format!("/ui/chat/{lea}/{mid}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(log.contains(r#"Sign in: <a href="https://bellhop.example/login/abc" target="_blank" rel="noopener">https://bellhop.example/login/abc</a>. Or &lt;not&gt; a link."#), "{log}");
    assert!(log.contains(&format!(r#"<input type="hidden" name="link" value="{invoice}"><button>⭐ Starter — 250 ⭐/month</button>"#)), "{log}");
    assert!(log.contains(r#"href="https://example.com/terms?a=1&#38;b=2""#) && log.contains("Terms ↗"), "{log}");
    let r = http.post(ui(&format!("/ui/chat/{lea}/{mid}/pay"))).form(&[("link", invoice.as_str())]).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.text().await.unwrap());
    let queries: Vec<_> = manager.get_updates(None, 0).await.unwrap().into_iter().filter(|u| u.kind.name() == "pre_checkout_query").collect();
    assert_eq!(queries.len(), 1, "the invoice link's payment began");
}
