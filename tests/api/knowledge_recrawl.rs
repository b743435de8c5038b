//! Scheduled re-crawls of a web page that keeps failing (issue 16): each failure pushes the next
//! try further out (the page's re-crawl interval, doubling), instead of the page being fetched
//! again at every scheduler tick forever, and the owner is told once, in plain words.
//! Time is not waited for: the scheduler's query is asked about future moments.
use crate::billing_meter::{manager_said, owner_with_bot};
use crate::helpers::*;
use bellhop::storage::sources;
use std::time::Duration;

const HOUR: i64 = 3_600_000;

/// A site whose every page is gone (404).
async fn gone_site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "gone") });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/opening-hours")
}

async fn due_at(app: &TestApp, id: bellhop::domain::SourceId, at: i64) -> bool {
    sources::due_for_recrawl(&app.db().pool, at).await.unwrap().iter().any(|(_, s)| *s == id)
}

/// Waits until `n` reads of the source have ended, the last one failed.
async fn failed_reads(app: &TestApp, tenant: bellhop::domain::TenantId, id: bellhop::domain::SourceId, n: i64) {
    wait_until(Duration::from_secs(60), || async { count(app.db(), "select count(*) from jobs where kind = 'knowledge.ingest' and state = 'done'").await >= n }).await;
    app.drain_jobs(Duration::from_secs(60)).await;
    assert_eq!(sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status, "failed");
}

#[tokio::test]
async fn a_page_whose_recrawl_keeps_failing_is_tried_less_and_less_often_and_the_owner_is_told_once() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Rosa", 7_800_001).await;
    let url = gone_site().await;
    let new = sources::NewSource { bot: Some(bellhop::domain::BotId(7_800_001)), kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: Some(1) };
    let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
    failed_reads(&app, tenant, id, 1).await;
    let failed_at = bellhop::storage::now_ms();

    // Not due again at once (the scheduler runs every 5 minutes), but after its interval.
    assert!(!due_at(&app, id, failed_at + 5 * 60_000).await, "a failed page is fetched again at the next tick");
    assert!(due_at(&app, id, failed_at + HOUR + 60_000).await, "the page is tried again after its re-crawl interval");

    // The scheduled try fails too: the next one waits twice as long.
    assert!(bellhop::app::sources::requeue(&app.state, tenant, id).await.unwrap());
    failed_reads(&app, tenant, id, 2).await;
    let failed_again = bellhop::storage::now_ms();
    assert!(!due_at(&app, id, failed_again + HOUR + 60_000).await, "no backoff after the second failure");
    assert!(due_at(&app, id, failed_again + 2 * HOUR + 60_000).await);

    // The owner heard about it once, with the address and what to do.
    wait_until(Duration::from_secs(30), || async { manager_said(&app, owner).await.iter().any(|t| t.contains("opening-hours")) }).await;
    let said: Vec<String> = manager_said(&app, owner).await.into_iter().filter(|t| t.contains("opening-hours")).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("HTTP 404") && said[0].contains("delete"), "{}", said[0]);
    app.stop().await.unwrap();
}

/// A page that failed with nothing read takes no place among the plan's sources, so the owner
/// may fill the plan after it; its scheduled re-crawl then went on and gave the business more
/// sources than its plan holds. It is now checked like the owner's "Re-read": not read, the
/// reason saying why, and tried again later.
#[tokio::test]
async fn a_scheduled_recrawl_that_no_longer_fits_the_plan_is_not_read_and_says_why() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
        s.set("BELLHOP_BILLING_PLANS", "free|Free|0||100|1|2");
    })
    .await;
    let (_, tenant) = owner_with_bot(&app, "Rosa", 7_800_003).await;
    let bot = Some(bellhop::domain::BotId(7_800_003));
    let url = gone_site().await;
    let new = sources::NewSource { bot, kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: Some(1) };
    let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
    failed_reads(&app, tenant, id, 1).await;
    for (name, text) in [("hours.txt", "We open at nine."), ("prices.txt", "A loaf costs four euros.")] {
        let file = sources::NewSource { bot, kind: "file", name, size_bytes: text.len() as i64, content: Some(text.as_bytes()), max_pages: None, recrawl_hours: None };
        let limits = bellhop::app::sources::SourceLimits { max_sources: 2, max_bytes: i64::MAX };
        assert!(bellhop::app::sources::add_source_within(&app.state, tenant, &file, limits).await.unwrap().is_ok(), "the failed page takes no place");
    }

    let at = bellhop::storage::now_ms();
    assert!(!bellhop::app::sources::recrawl(&app.state, tenant, id).await.unwrap(), "queued past the plan's sources");
    let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
    assert_eq!(source.status, "failed");
    assert_eq!(
        source.status_reason.as_deref(),
        Some("Not read again on its schedule: the Free plan holds 2 sources and you have 2. Delete a source you no longer need, or choose a bigger plan on the Billing page.")
    );
    assert!(!due_at(&app, id, at + 5 * 60_000).await, "tried again at every tick");
    assert!(due_at(&app, id, at + 2 * HOUR + 60_000).await, "never tried again");
    app.stop().await.unwrap();
}

/// A page read well once, then again with no text to index (now only a heading): the read
/// fails, and the passages of the first read stay searchable, as the owner's notice says.
#[tokio::test]
async fn a_reread_with_nothing_to_index_keeps_the_passages_read_before() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await;
    let (_, tenant) = owner_with_bot(&app, "Ines", 7_800_002).await;
    let emptied = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/opening-hours", listener.local_addr().unwrap());
    let page = emptied.clone();
    let site = axum::Router::new().route(
        "/opening-hours",
        axum::routing::get(move || {
            let emptied = page.load(std::sync::atomic::Ordering::SeqCst);
            let body = if emptied { "<h1>Opening hours</h1>" } else { "<h1>Opening hours</h1><p>The bakery opens at seven every weekday morning.</p>" };
            async move { axum::response::Html(format!("<!doctype html><html><head><title>Hours</title></head><body>{body}</body></html>")) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, site).await });
    let bot = bellhop::domain::BotId(7_800_002);
    let new = sources::NewSource { bot: Some(bot), kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: None };
    let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
    wait_until(Duration::from_secs(120), || async { sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status == "ready" }).await;
    let chunks = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().chunk_count;
    assert!(chunks >= 1);

    emptied.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(bellhop::app::sources::requeue(&app.state, tenant, id).await.unwrap());
    failed_reads(&app, tenant, id, 2).await;
    let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
    assert!(source.status_reason.as_deref().unwrap_or("").contains("no text"), "{:?}", source.status_reason);
    assert_eq!(source.chunk_count, chunks);
    let (hits, _) = bellhop::knowledge::ingest::playground(app.db(), &app.state.retriever, tenant, Some(bot), "when does the bakery open").await.unwrap();
    assert!(hits.iter().any(|h| h.payload.text.contains("opens at seven")), "the earlier passages were removed");
    app.stop().await.unwrap();
}

/// Walkthrough B: a page read well that is re-read on a schedule only said "ready"; the
/// Knowledge page now says how often and when it is read next — the day the scheduler reads it.
#[tokio::test]
async fn a_scheduled_page_read_well_says_when_it_is_read_again() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await;
    let (owner, tenant) = owner_with_bot(&app, "Lena", 7_800_004).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/opening-hours", listener.local_addr().unwrap());
    let site = axum::Router::new().route(
        "/opening-hours",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><html><head><title>Hours</title></head><body><h1>Opening hours</h1><p>The bakery opens at seven every weekday morning.</p></body></html>") }),
    );
    tokio::spawn(async move { axum::serve(listener, site).await });
    let bot = bellhop::domain::BotId(7_800_004);
    let new = sources::NewSource { bot: Some(bot), kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: Some(24) };
    let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
    wait_until(Duration::from_secs(120), || async { sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status == "ready" }).await;
    let read_at = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().last_indexed_at.expect("read well");
    let next = read_at + 24 * HOUR;
    assert!(!due_at(&app, id, next - 60_000).await && due_at(&app, id, next).await, "the scheduler reads it a day after");

    let (_, cookie, _) = app.signed_in_owner(owner, "Lena").await;
    let page = app.http.get(app.url(&format!("/app/sources?bot={}", bot.0))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let said = format!("Read again every day — next on {}.", bellhop::billing::stars::date(next));
    assert!(page.contains(&said), "{said} not in {page}");
    app.stop().await.unwrap();
}
