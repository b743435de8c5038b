//! Deleting a source while it is being read (issue 16): whenever the owner's delete lands — while
//! the first read is under way, or during a re-crawl — no passage of the source is left in the
//! index and no page shows it again. The page is served by an in-test site that holds its answer
//! until the test lets it go, so the delete happens mid-read without timing anything.
use crate::helpers::*;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// A one-page site whose page says `CANARYV<version>` and waits for a permit before answering.
#[derive(Clone)]
struct Site {
    version: Arc<AtomicUsize>,
    /// Requests for the page that have arrived.
    asked: Arc<AtomicUsize>,
    /// One permit lets one request for the page be answered.
    permits: Arc<Semaphore>,
}

async fn serve(State(site): State<Site>, uri: axum::http::Uri) -> Response {
    if uri.path() != "/menu" {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    site.asked.fetch_add(1, Ordering::SeqCst);
    site.permits.acquire().await.expect("open").forget();
    let v = site.version.load(Ordering::SeqCst);
    let body = format!(
        "<!doctype html><html><head><title>Menu</title></head><body><h1>Our menu</h1>\
         <p>The seasonal cake of the week is called CANARYV{v}. It is a lemon sponge with raspberries and costs twelve euros.</p></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn start_site() -> (Site, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let site = Site { version: Arc::new(AtomicUsize::new(1)), asked: Arc::new(AtomicUsize::new(0)), permits: Arc::new(Semaphore::new(0)) };
    let app = axum::Router::new().fallback(serve).with_state(site.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (site, format!("http://{addr}/menu"))
}

async fn app_reading_loopback() -> TestApp {
    std::env::var("BELLHOP_MODELS_DIR").expect("BELLHOP_MODELS_DIR is unset: run `bash scripts/test.sh` (it fetches the model files) or set it");
    spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::StatusCode {
    app.http.post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap().status()
}

/// The passages the tenant's index holds that mention `word`.
async fn passages_with(app: &TestApp, tenant: bellhop::domain::TenantId, word: &str) -> usize {
    let retriever = app.state.retriever.get().await.unwrap();
    let hits = retriever.search(tenant, &bellhop::retrieval::Sources::All, &format!("seasonal cake of the week {word}"), &bellhop::retrieval::SearchOptions { limit: 20, ..Default::default() }).await.unwrap();
    hits.iter().filter(|h| h.payload.text.contains(word)).count()
}

async fn source_rows(app: &TestApp) -> i64 {
    count(app.db(), "select count(*) from sources").await
}

#[tokio::test]
async fn a_page_deleted_while_it_is_being_read_leaves_no_passages() {
    let app = app_reading_loopback().await;
    let (site, url) = start_site().await;
    let (tenant, cookie, csrf) = app.signed_in_owner(7_701, "Rosa's Bakery").await;
    assert_eq!(post(&app, &cookie, "/app/sources/url", &[("csrf", &csrf), ("url", &url)]).await, 303);
    // The read has begun: the site got the request and holds its answer.
    wait_until(Duration::from_secs(30), || async { site.asked.load(Ordering::SeqCst) == 1 }).await;
    let id = count(app.db(), "select id from sources").await;

    assert_eq!(post(&app, &cookie, &format!("/app/sources/{id}/delete"), &[("csrf", &csrf)]).await, 303);
    site.permits.add_permits(10);
    app.drain_jobs(Duration::from_secs(120)).await;

    assert_eq!(passages_with(&app, tenant, "CANARYV1").await, 0, "passages of the deleted page were indexed");
    assert_eq!(source_rows(&app).await, 0, "the deleted source came back");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_page_deleted_during_its_recrawl_leaves_no_passages_and_is_not_queued_again() {
    let app = app_reading_loopback().await;
    let (site, url) = start_site().await;
    let (tenant, cookie, csrf) = app.signed_in_owner(7_702, "Ben's Bakery").await;
    site.permits.add_permits(1);
    assert_eq!(post(&app, &cookie, "/app/sources/url", &[("csrf", &csrf), ("url", &url), ("recrawl_hours", "1")]).await, 303);
    wait_until(Duration::from_secs(120), || async { count(app.db(), "select count(*) from sources where status = 'ready'").await == 1 }).await;
    assert_eq!(passages_with(&app, tenant, "CANARYV1").await, 1, "the first read is indexed");
    // Ready means searchable; the read's job goes on to keep its sentences' vectors.
    app.drain_jobs(Duration::from_secs(120)).await;
    let retriever = app.state.retriever.get().await.unwrap();
    let hits = retriever.search(tenant, &bellhop::retrieval::Sources::All, "seasonal cake of the week", &bellhop::retrieval::SearchOptions::default()).await.unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.payload.sentences.is_some()), "the read kept no sentence vectors: {hits:?}");
    let id = count(app.db(), "select id from sources").await;

    // The re-crawl reads the new version of the page; the owner deletes the source meanwhile.
    site.version.store(2, Ordering::SeqCst);
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{id}/reindex"), &[("csrf", &csrf)]).await, 303);
    wait_until(Duration::from_secs(30), || async { site.asked.load(Ordering::SeqCst) == 2 }).await;
    assert_eq!(post(&app, &cookie, &format!("/app/sources/{id}/delete"), &[("csrf", &csrf)]).await, 303);
    // The scheduler's re-crawl of a source being deleted queues nothing.
    assert!(!bellhop::app::sources::requeue(&app.state, tenant, bellhop::domain::SourceId(id)).await.unwrap(), "a deleted source was queued again");
    site.permits.add_permits(10);
    app.drain_jobs(Duration::from_secs(120)).await;

    assert_eq!(passages_with(&app, tenant, "CANARYV1").await, 0, "passages of the first read remain");
    assert_eq!(passages_with(&app, tenant, "CANARYV2").await, 0, "passages of the re-crawl were indexed after the delete");
    assert_eq!(source_rows(&app).await, 0);
    app.stop().await.unwrap();
}
