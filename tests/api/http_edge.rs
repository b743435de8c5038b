//! Issue 16, item 13: the HTTP edge's limits. A slow client cannot hold a connection forever
//! (headers, an idle kept-alive connection, a body that stops coming); past the concurrency
//! limit a request is refused at once instead of piling up; the landing page's link creation,
//! the sign-in endpoints and webhooks for bots that do not exist are limited per client.
//!
//! The timeouts are set to one second here. Each test asserts what happens, never how fast: the
//! guard below only stops a test that would otherwise wait forever.
use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any limit set in these tests; reaching it means the server never acted.
const GUARD: Duration = Duration::from_secs(60);

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open; it sent {:?}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_client_that_sends_its_headers_slowly_or_idles_is_disconnected() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_HEADER_TIMEOUT_SECONDS", "1");
    })
    .await;
    // Headers started and never finished (slowloris).
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: bellhop\r\nX-Slow: ").await.unwrap();
    read_until_closed(&mut slow).await;
    // A connection opened and never used.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    read_until_closed(&mut silent).await;
    // A kept-alive connection left idle after a request: answered, then closed.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: bellhop\r\n\r\n").await.unwrap();
    let said = read_until_closed(&mut idle).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    // The server still serves.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await.unwrap();
}

/// A request whose body stops coming: answered 408 once the request timeout passes.
#[tokio::test]
async fn a_request_whose_body_stops_coming_gets_408_and_its_connection_is_freed() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_REQUEST_TIMEOUT_SECONDS", "1");
    })
    .await;
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    stalled.write_all(b"POST /tg/manager HTTP/1.1\r\nHost: bellhop\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"update_id\": ").await.unwrap();
    let said = read_until_closed(&mut stalled).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert_eq!(count(app.db(), "select count(*) from telegram_updates").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn past_the_concurrency_limit_a_request_gets_503_at_once_and_serving_resumes() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_MAX_CONCURRENT_REQUESTS", "2");
    })
    .await;
    // Two requests in progress: their bodies are still coming.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"POST /tg/manager HTTP/1.1\r\nHost: bellhop\r\nContent-Length: 1000\r\n\r\n{").await.unwrap();
        stalled.push(s);
    }
    // The two are inside once a third is refused (the server may take a moment to read them).
    // (Not `/`: the metrics test counts the series of `/`, and metrics are process-wide.)
    let page = app.url("/static/app.css");
    wait_until(GUARD, || async { app.http.get(&page).send().await.unwrap().status() == 503 }).await;
    let r = app.http.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    // Health checks are never refused: an orchestrator must not restart a busy server.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    drop(stalled);
    wait_until(GUARD, || async { app.http.get(&page).send().await.unwrap().status() == 200 }).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn link_creation_sign_ins_and_webhooks_for_unknown_bots_are_limited_per_client() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_NEW_BOT_LINKS_PER_MINUTE", "5")
            .set("BELLHOP_HTTP_SIGN_INS_PER_MINUTE", "4")
            .set("BELLHOP_HTTP_UNKNOWN_BOT_WEBHOOKS_PER_MINUTE", "3");
    })
    .await;
    let new_link = || app.http.get(app.url("/new")).query(&[("name", "Rosa's Bakery"), ("username", "rosas_bakery_bot")]).send();
    for _ in 0..5 {
        assert_eq!(new_link().await.unwrap().status(), 200);
    }
    let r = new_link().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("wait a minute"), "plain words for a person");
    // The landing page itself is not limited.
    assert_eq!(app.http.get(app.url("/")).send().await.unwrap().status(), 200);

    let bogus = app.url(&format!("/login/{}", "x".repeat(43)));
    for _ in 0..2 {
        assert_eq!(app.http.get(&bogus).send().await.unwrap().status(), 410);
        assert_eq!(app.http.post(&bogus).send().await.unwrap().status(), 410);
    }
    assert_eq!(app.http.get(&bogus).send().await.unwrap().status(), 429);

    // A known bot with a wrong secret is not counted (Telegram itself can send those while a
    // bot is being set up again); a bot that does not exist is.
    let (_, _, secret) = app.create_bot(1, 8_100_001).await;
    let update = |id: i64| serde_json::json!({"update_id": id});
    assert_eq!(app.post_update(8_100_001, Some(&secret), &update(1)).await, 200);
    for _ in 0..10 {
        assert_eq!(app.post_update(8_100_001, Some("wrong"), &update(2)).await, 401);
    }
    for id in 0..3 {
        assert_eq!(app.post_update(8_100_100 + id, Some(&secret), &update(3)).await, 401);
    }
    assert_eq!(app.post_update(8_100_200, Some(&secret), &update(4)).await, 429, "the fourth unknown bot in a minute");
    // From the same address (say Telegram and an abuser behind one proxy), a bot already seen
    // with its right secret is still served; one not seen yet waits for the allowance.
    assert_eq!(app.post_update(8_100_001, Some(&secret), &update(5)).await, 200);
    let (_, _, other_secret) = app.create_bot(2, 8_100_002).await;
    assert_eq!(app.post_update(8_100_002, Some(&other_secret), &update(6)).await, 429);
    assert_eq!(count(app.db(), "select count(*) from telegram_updates").await, 2);
    app.stop().await.unwrap();
}
