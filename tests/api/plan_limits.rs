//! The plan's and the operator's limits hold (issue 16): web pages count toward the tenant's
//! byte quota like uploads, and concurrent uploads cannot go past the plan's number of sources.
use crate::helpers::*;
use axum::http::header;
use axum::response::IntoResponse;
use std::time::Duration;

/// A site with `/small` (about 6 KB of text) and `/large` (about 16 KB).
async fn site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let page = |words: usize| {
        let text: String = (0..words).map(|i| format!("Sentence number {i} of the price list says the cake costs {i} euros. ")).collect();
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], format!("<!doctype html><html><head><title>Prices</title></head><body><p>{text}</p></body></html>")).into_response()
    };
    let app = axum::Router::new().route("/small", axum::routing::get(move || async move { page(90) })).route("/large", axum::routing::get(move || async move { page(240) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn settled(app: &TestApp, n: i64) {
    wait_until(Duration::from_secs(120), || async { count(app.db(), "select count(*) from sources where status in ('ready', 'failed')").await == n }).await;
}

#[tokio::test]
async fn web_pages_count_toward_the_byte_quota_like_uploads() {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh` (it fetches the model files) or set it");
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1").set("BELLHOP_KNOWLEDGE_MAX_TENANT_BYTES", "20000");
    })
    .await;
    let base = site().await;
    let (_, cookie, csrf) = app.signed_in_owner(7_900_001, "Rosa's Cakes").await;
    let import = |path: &str| {
        let url = format!("{base}{path}");
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move { app.http.post(app.url("/app/sources/url")).header("cookie", &cookie).form(&[("csrf", csrf.as_str()), ("url", url.as_str())]).send().await.unwrap().status() }
    };
    assert_eq!(import("/small").await, 303);
    settled(&app, 1).await;
    let size: i64 = count(app.db(), "select size_bytes from sources").await;
    assert!(size > 5_000, "a read web page is stored with its size ({size} bytes)");

    // 6 KB + 16 KB is over the 20 KB quota: the second page is refused, with the reason.
    assert_eq!(import("/large").await, 303);
    settled(&app, 2).await;
    let (status, reason): (String, Option<String>) = sqlx::query_as("select status, status_reason from sources where name like '%/large'").fetch_one(&app.db().pool).await.unwrap();
    assert_eq!(status, "failed", "a page past the byte quota was indexed");
    assert!(reason.as_deref().unwrap_or_default().contains("your business can store is free"), "the owner reads why: {reason:?}");

    // And an upload that would go past the quota with the pages counted is refused at once.
    let form = reqwest::multipart::Form::new().text("csrf", csrf.clone()).part("files", reqwest::multipart::Part::bytes(vec![b'a'; 15_000]).file_name("notes.txt"));
    let page = app.http.post(app.url("/app/sources/upload")).header("cookie", &cookie).multipart(form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("This file is 14.6 KB, but only"), "{page}");
    assert_eq!(count(app.db(), "select count(*) from sources where kind = 'file'").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_uploads_never_go_past_the_plans_number_of_sources() {
    // A plan of 2 sources; 12 uploads at once.
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|2");
    })
    .await;
    let (_, cookie, csrf) = app.signed_in_owner(7_900_002, "Ben's Bikes").await;
    let uploads = (0..12).map(|i| {
        let form = reqwest::multipart::Form::new().text("csrf", csrf.clone()).part("files", reqwest::multipart::Part::bytes(format!("Note {i}: we open at {i} o'clock.").into_bytes()).file_name(format!("note{i}.txt")));
        app.http.post(app.url("/app/sources/upload")).header("cookie", &cookie).multipart(form).send()
    });
    let answers = futures::future::join_all(uploads).await;
    assert!(answers.iter().all(|r| r.as_ref().is_ok_and(|r| r.status().is_success() || r.status() == 422)), "{answers:?}");
    assert_eq!(count(app.db(), "select count(*) from sources").await, 2, "the plan's 2 sources were exceeded");
    app.stop().await.unwrap();
}
