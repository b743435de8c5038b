//! Child-bot webhook ingress: authenticate, store durably with its job, then acknowledge.
use crate::helpers::*;

#[tokio::test]
async fn forged_secrets_get_401_and_leave_no_row() {
    let app = spawn_app().await;
    let (_, _, secret) = app.create_bot(1, 8_000_001).await;
    let update = serde_json::json!({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}});
    assert_eq!(app.post_update(8_000_001, None, &update).await, 401);
    assert_eq!(app.post_update(8_000_001, Some("wrong"), &update).await, 401);
    assert_eq!(app.post_update(8_000_001, Some(&secret[..secret.len() - 1]), &update).await, 401);
    assert_eq!(app.post_update(8_000_999, Some(&secret), &update).await, 401, "unknown bot");
    assert_eq!(count(app.db(), "select count(*) from telegram_updates").await, 0);
    assert_eq!(count(app.db(), "select count(*) from jobs").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_update_is_stored_once_with_its_job_however_often_it_is_delivered() {
    let app = spawn_app().await;
    let (_, _, secret) = app.create_bot(1, 8_000_002).await;
    let update = serde_json::json!({"update_id": 77, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}});
    let mut sends = Vec::new();
    for _ in 0..5 {
        let (app_url, http, secret, update) = (app.url("/tg/bot/8000002"), app.http.clone(), secret.clone(), update.clone());
        sends.push(tokio::spawn(async move {
            http.post(app_url).header("X-Telegram-Bot-Api-Secret-Token", secret).json(&update).send().await.unwrap().status()
        }));
    }
    for s in sends {
        assert_eq!(s.await.unwrap(), 200);
    }
    assert_eq!(count(app.db(), "select count(*) from telegram_updates").await, 1);
    assert_eq!(count(app.db(), "select count(*) from jobs where kind = 'bot.update'").await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unparsable_authenticated_body_is_acknowledged_and_dead_lettered() {
    let app = spawn_app().await;
    let (_, _, secret) = app.create_bot(1, 8_000_003).await;
    let r = app.http.post(app.url("/tg/bot/8000003")).header("X-Telegram-Bot-Api-Secret-Token", &secret).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(count(app.db(), "select count(*) from telegram_updates where state = 'dead'").await, 1);
    assert_eq!(count(app.db(), "select count(*) from jobs").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_BODY_LIMIT_BYTES", "2048");
    })
    .await;
    let (_, _, secret) = app.create_bot(1, 8_000_004).await;
    let big = serde_json::json!({"update_id": 1, "pad": "x".repeat(10_000)});
    assert_eq!(app.post_update(8_000_004, Some(&secret), &big).await, 413);
    assert_eq!(count(app.db(), "select count(*) from telegram_updates").await, 0);
    app.stop().await.unwrap();
}
