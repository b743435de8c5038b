//! URL import: the SSRF guard (loopback, metadata, redirects re-checked at every hop), size,
//! time and content-type caps, robots.txt, and sitemap / same-site link crawls with a page cap.
//! Sites are served from an in-test server on 127.0.0.1, which the guard refuses unless the
//! test puts `127.0.0.1` on the operator allow-list. Refused addresses are never contacted.
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bellhop::knowledge::extract::Limits;
use bellhop::knowledge::fetch::{CrawlOptions, FetchError, FetchSettings, Fetcher, crawl};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
struct SiteState {
    hits: Arc<Mutex<Vec<String>>>,
    sitemap: bool,
    robots: RobotsFile,
    port: u16,
}

/// How the test site answers for its robots.txt (`Disallow: /private` for everyone).
#[derive(Clone, Copy)]
enum RobotsFile {
    Text,
    /// The same rules, labelled as some object stores label any file.
    OctetStream,
    /// No file, only this status.
    Status(u16),
}

struct TestSite {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
}

impl TestSite {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().iter().filter(|h| *h == path).count()
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

async fn start_site(sitemap: bool) -> TestSite {
    start_site_with(sitemap, RobotsFile::Text).await
}

async fn start_site_with(sitemap: bool, robots: RobotsFile) -> TestSite {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let state = SiteState { hits: hits.clone(), sitemap, robots, port: addr.port() };
    let app = Router::new().fallback(serve).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestSite { addr, hits }
}

fn html(title: &str, body: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], format!("<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")).into_response()
}

fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [(header::LOCATION, to.to_owned())]).into_response()
}

async fn serve(State(site): State<SiteState>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    site.hits.lock().unwrap().push(path.clone());
    let xml = |body: String| ([(header::CONTENT_TYPE, "application/xml")], body).into_response();
    match path.as_str() {
        "/robots.txt" => {
            let sitemap = if site.sitemap { "Sitemap: /sitemap_index.xml\n" } else { "" };
            let rules = format!("User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n{sitemap}");
            match site.robots {
                RobotsFile::Text => ([(header::CONTENT_TYPE, "text/plain")], rules).into_response(),
                RobotsFile::OctetStream => ([(header::CONTENT_TYPE, "binary/octet-stream")], rules).into_response(),
                RobotsFile::Status(status) => (StatusCode::from_u16(status).unwrap(), "unavailable").into_response(),
            }
        }
        "/sitemap_index.xml" if site.sitemap => xml("<?xml version=\"1.0\"?><sitemapindex><sitemap><loc>/sitemap-pages.xml</loc></sitemap></sitemapindex>".into()),
        "/sitemap-pages.xml" if site.sitemap => {
            let mut urls: String = (1..=10).map(|n| format!("<url><loc>http://127.0.0.1:{}/p/{n}</loc></url>", site.port)).collect();
            urls.push_str("<url><loc>https://other.example/elsewhere</loc></url>");
            xml(format!("<urlset>{urls}</urlset>"))
        }
        "/" => html(
            "Home",
            "<h1>Home</h1><p>Welcome to the shop.</p><a href='/a'>A</a> <a href='/a#top'>A again</a> <a href=\"b\">B</a> \
             <a href='/private/secret'>secret</a> <a href='https://other.example/'>elsewhere</a> <a href='/logo.png'>logo</a> <a href='mailto:x@y.example'>mail</a> <a href='/old'>old</a>",
        ),
        "/a" => html("A", "<h1>Page A</h1><p>About us.</p><a href='/c'>C</a> <a href='/'>home</a>"),
        "/b" => html("B", "<h1>Page B</h1><p>Delivery times.</p>"),
        "/c" => html("C", "<h1>Page C</h1><p>Contact.</p>"),
        p if p.starts_with("/p/") => html(p, &format!("<h1>Sitemap page {}</h1><p>From the sitemap.</p>", &p[3..])),
        "/private/secret" => html("Secret", "<p>SECRET</p>"),
        "/private/x" => html("Private", "<p>PRIVATE X</p>"),
        "/old" => redirect(StatusCode::MOVED_PERMANENTLY, "/private/x"),
        "/big" => {
            // Streamed with no Content-Length: the cap must stop the download itself.
            let chunks = futures::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; 16 * 1024]))));
            ([(header::CONTENT_TYPE, "text/plain")], axum::body::Body::from_stream(chunks)).into_response()
        }
        "/big-declared" => ([(header::CONTENT_TYPE, "text/plain")], vec![b'a'; 1024 * 1024]).into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            html("Slow", "<p>late</p>")
        }
        "/image" => ([(header::CONTENT_TYPE, "image/png")], b"\x89PNG\r\n\x1a\n".to_vec()).into_response(),
        "/to-loopback" => redirect(StatusCode::FOUND, &format!("http://127.0.0.2:{}/", site.port)),
        "/to-metadata" => redirect(StatusCode::FOUND, "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        "/to-metadata-name" => redirect(StatusCode::TEMPORARY_REDIRECT, "http://metadata.google.internal/computeMetadata/v1/"),
        "/to-a" => redirect(StatusCode::MOVED_PERMANENTLY, "/a"),
        p if p.starts_with("/go?to=") => redirect(StatusCode::MOVED_PERMANENTLY, &p["/go?to=".len()..]),
        "/loop" => redirect(StatusCode::FOUND, "/loop"),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn fetcher(allow: &[&str]) -> Fetcher {
    Fetcher::new(FetchSettings { allow_hosts: allow.iter().map(|s| s.to_string()).collect(), timeout: Duration::from_secs(2), max_bytes: 256 * 1024 }).unwrap()
}

fn limits() -> Limits {
    Limits { worker_exe: Some(env!("CARGO_BIN_EXE_bellhop").into()), ..Limits::default() }
}

fn blocked(e: &FetchError) -> bool {
    matches!(e, FetchError::Blocked { .. })
}

#[tokio::test]
async fn a_url_pointing_at_loopback_is_refused_unless_allow_listed() {
    let site = start_site(false).await;
    let f = fetcher(&[]);
    let e = f.fetch(&site.url("/")).await.unwrap_err();
    assert_eq!(e.to_string(), "127.0.0.1 is a loopback address; bellhop only imports pages from the public internet.");
    for url in [format!("http://localhost:{}/", site.addr.port()), format!("http://[::1]:{}/", site.addr.port()), format!("http://[::ffff:127.0.0.1]:{}/", site.addr.port()), format!("http://0.0.0.0:{}/", site.addr.port())] {
        let e = f.fetch(&url).await.unwrap_err();
        assert!(blocked(&e), "{url}: {e:?}");
    }
    let e = crawl(&f, &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 5, ..CrawlOptions::default() }, &limits()).await.unwrap_err();
    assert!(blocked(&e), "{e:?}");
    assert_eq!(site.total_hits(), 0, "a refused address is never contacted");

    let allowed = fetcher(&["127.0.0.1"]).fetch(&site.url("/")).await.unwrap();
    assert!(String::from_utf8_lossy(&allowed.body).contains("Welcome"));
    assert_eq!(site.hits("/"), 1);
}

#[tokio::test]
async fn the_cloud_metadata_address_is_refused() {
    let f = fetcher(&["127.0.0.1"]);
    let e = f.fetch("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
    assert_eq!(e.to_string(), "169.254.169.254 is the cloud metadata address; bellhop only imports pages from the public internet.");
    for url in ["http://metadata.google.internal/computeMetadata/v1/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/", "http://169.254.1.1/", "http://10.0.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://[fe80::1]/"] {
        let e = f.fetch(url).await.unwrap_err();
        assert!(blocked(&e), "{url}: {e:?}");
    }
}

#[tokio::test]
async fn every_redirect_hop_is_checked_again() {
    let site = start_site(false).await;
    let f = fetcher(&["127.0.0.1"]);
    for (path, host) in [("/to-loopback", "127.0.0.2"), ("/to-metadata", "169.254.169.254"), ("/to-metadata-name", "metadata.google.internal")] {
        match f.fetch(&site.url(path)).await {
            Err(FetchError::Blocked { host: h, .. }) => assert_eq!(h, host, "{path}"),
            other => panic!("{path}: expected a refusal, got {other:?}"),
        }
    }
    let ok = f.fetch(&site.url("/to-a")).await.unwrap();
    assert_eq!(ok.url.path(), "/a");
    assert_eq!(f.fetch(&site.url("/loop")).await.unwrap_err(), FetchError::TooManyRedirects);
    assert_eq!(site.hits("/loop"), 6, "the first request and five redirects, no more");
}

#[tokio::test]
async fn only_http_and_https_urls_are_fetched() {
    let f = fetcher(&["127.0.0.1"]);
    for url in ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "javascript:alert(1)"] {
        assert!(matches!(f.fetch(url).await, Err(FetchError::Scheme(_) | FetchError::InvalidUrl(_))), "{url}");
    }
    assert!(matches!(f.fetch("http://user:pw@example.com/").await, Err(FetchError::InvalidUrl(_))));
    assert!(matches!(f.fetch("http://").await, Err(FetchError::InvalidUrl(_))));
}

#[tokio::test]
async fn downloads_stop_at_the_size_cap() {
    let site = start_site(false).await;
    let f = fetcher(&["127.0.0.1"]);
    let e = f.fetch(&site.url("/big")).await.unwrap_err();
    assert_eq!(e, FetchError::TooLarge { limit: 256 * 1024 });
    assert_eq!(e.to_string(), "The page is larger than 256 KB, the most we download.");
    assert_eq!(f.fetch(&site.url("/big-declared")).await.unwrap_err(), FetchError::TooLarge { limit: 256 * 1024 });
}

#[tokio::test]
async fn a_slow_site_hits_the_time_cap() {
    let site = start_site(false).await;
    let f = Fetcher::new(FetchSettings { allow_hosts: vec!["127.0.0.1".into()], timeout: Duration::from_secs(1), max_bytes: 1024 * 1024 }).unwrap();
    let started = Instant::now();
    assert_eq!(f.fetch(&site.url("/slow")).await.unwrap_err(), FetchError::TimedOut { seconds: 1 });
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn content_types_that_are_not_documents_are_refused() {
    let site = start_site(false).await;
    let e = fetcher(&["127.0.0.1"]).fetch(&site.url("/image")).await.unwrap_err();
    assert!(matches!(&e, FetchError::ContentType { content_type, .. } if content_type == "image/png"), "{e:?}");
    let e = fetcher(&["127.0.0.1"]).fetch(&site.url("/missing")).await.unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 404, .. }), "{e:?}");
}

#[tokio::test]
async fn one_page_import_reads_just_that_page() {
    let site = start_site(true).await;
    let result = crawl(&fetcher(&["127.0.0.1"]), &site.url("/#intro"), &CrawlOptions { whole_site: false, max_pages: 50, ..CrawlOptions::default() }, &limits()).await.unwrap();
    assert_eq!(result.pages.len(), 1);
    let page = &result.pages[0];
    assert_eq!(page.url.as_str(), site.url("/"));
    assert_eq!(page.document.title.as_deref(), Some("Home"));
    assert!(page.document.text.starts_with("# Home\n\nWelcome to the shop."), "{}", page.document.text);
    assert_eq!(site.hits("/a") + site.hits("/sitemap_index.xml"), 0);
}

#[tokio::test]
async fn robots_txt_is_respected() {
    let site = start_site(false).await;
    let f = fetcher(&["127.0.0.1"]);
    let e = crawl(&f, &site.url("/private/secret"), &CrawlOptions { whole_site: false, max_pages: 1, ..CrawlOptions::default() }, &limits()).await.unwrap_err();
    assert!(matches!(e, FetchError::RobotsDisallowed(_)), "{e:?}");
    let result = crawl(&f, &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 50, ..CrawlOptions::default() }, &limits()).await.unwrap();
    assert!(result.pages.iter().all(|p| !p.document.text.contains("SECRET")));
    assert!(result.skipped.iter().any(|s| s.url.path() == "/private/secret" && s.reason.contains("robots.txt")), "{:?}", result.skipped);
    assert_eq!(site.hits("/private/secret"), 0, "a disallowed page is never requested");
    assert!(site.hits("/robots.txt") >= 1);
}

#[tokio::test]
async fn a_link_crawl_stays_on_the_site_and_reads_each_page_once() {
    let site = start_site(false).await;
    let result = crawl(&fetcher(&["127.0.0.1"]), &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 50, ..CrawlOptions::default() }, &limits()).await.unwrap();
    let mut paths: Vec<&str> = result.pages.iter().map(|p| p.url.path()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/a", "/b", "/c"]);
    assert_eq!((site.hits("/"), site.hits("/a"), site.hits("/logo.png")), (1, 1, 0), "fragments deduplicated, images skipped");
    assert!(result.pages.iter().any(|p| p.document.text.contains("# Page C")));
}

#[tokio::test]
async fn a_sitemap_crawl_follows_the_index_and_stops_at_the_page_cap() {
    let site = start_site(true).await;
    let result = crawl(&fetcher(&["127.0.0.1"]), &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 4, ..CrawlOptions::default() }, &limits()).await.unwrap();
    let paths: Vec<&str> = result.pages.iter().map(|p| p.url.path()).collect();
    assert_eq!(paths, ["/", "/p/1", "/p/2", "/p/3"], "the start page, then sitemap order");
    assert_eq!(site.hits("/sitemap-pages.xml"), 1);
    assert_eq!(site.hits("/p/4"), 0, "nothing is fetched past the cap");
    assert!(result.limit_reached, "pages were left queued: the site has more");

    let all = crawl(&fetcher(&["127.0.0.1"]), &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 100, ..CrawlOptions::default() }, &limits()).await.unwrap();
    assert_eq!(all.pages.len(), 1 + 10 + 3, "home, ten sitemap pages, and /a /b /c found through links");
    assert!(!all.limit_reached);
    // Exactly as many pages as allowed, none left over: nothing was left out.
    let links = start_site(false).await;
    let four = crawl(&fetcher(&["127.0.0.1"]), &links.url("/"), &CrawlOptions { whole_site: true, max_pages: 4, ..CrawlOptions::default() }, &limits()).await.unwrap();
    assert_eq!(four.pages.len(), 4);
    assert!(!four.limit_reached, "the site has no fifth page");
}

#[tokio::test]
async fn a_crawl_past_its_time_budget_keeps_what_it_read_and_lists_the_rest_as_skipped() {
    let site = start_site(true).await;
    let options = CrawlOptions { whole_site: true, max_pages: 100, time_budget: std::time::Duration::ZERO };
    let result = crawl(&fetcher(&["127.0.0.1"]), &site.url("/"), &options, &limits()).await.unwrap();
    let paths: Vec<&str> = result.pages.iter().map(|p| p.url.path()).collect();
    assert_eq!(paths, ["/"], "the start page is always read");
    let skipped: Vec<&str> = result.skipped.iter().map(|s| s.url.path()).collect();
    assert!(skipped.contains(&"/a") && skipped.contains(&"/b"), "the start page's links are listed: {:?}", result.skipped);
    assert!(result.skipped.iter().all(|s| s.reason.contains("time limit")), "{:?}", result.skipped);
    assert_eq!(site.hits("/p/1"), 0, "nothing is fetched past the budget");
    assert_eq!(site.hits("/sitemap_index.xml"), 0, "sitemaps count against the budget too");
}

/// Sitemaps that never answer must not hold the crawl past its time budget: the budget runs from
/// the first request (robots.txt), sitemap reads included, and the crawl ends at it with what it
/// read and the rest listed as skipped, in plain words.
#[tokio::test]
async fn slow_sitemaps_do_not_hold_a_crawl_past_its_time_budget() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|uri: Uri| async move {
        match uri.path() {
            "/robots.txt" => (1..=5).map(|n| format!("Sitemap: /slow-{n}.xml\n")).collect::<String>().into_response(),
            p if p.starts_with("/slow-") => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                ([(header::CONTENT_TYPE, "application/xml")], "<urlset></urlset>").into_response()
            }
            "/" => html("Home", "<h1>Home</h1><p>Welcome to the shop.</p><a href='/a'>A</a> <a href='/b'>B</a>"),
            _ => html("Page", "<p>A page.</p>"),
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Each sitemap request alone would wait the whole fetch timeout (2 s): five would take 10 s.
    let options = CrawlOptions { whole_site: true, max_pages: 100, time_budget: Duration::from_secs(3) };
    let started = Instant::now();
    let result = crawl(&fetcher(&["127.0.0.1"]), &format!("http://{addr}/"), &options, &limits()).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "the crawl took {took:?}, past its 3-second budget");
    assert_eq!(result.pages.iter().map(|p| p.url.path()).collect::<Vec<_>>(), ["/"], "the start page is always read");
    let skipped: Vec<&str> = result.skipped.iter().map(|s| s.url.path()).collect();
    assert_eq!(skipped, ["/a", "/b"], "{:?}", result.skipped);
    assert!(result.skipped.iter().all(|s| s.reason == "not read: reading the site stopped after 3 seconds (its time limit)"), "{:?}", result.skipped);
}

#[tokio::test]
async fn a_start_url_that_redirects_to_another_site_crawls_that_site() {
    let (old, new) = (start_site(false).await, start_site(false).await);
    let start = old.url(&format!("/go?to={}", new.url("/")));
    let result = crawl(&fetcher(&["127.0.0.1"]), &start, &CrawlOptions { whole_site: true, max_pages: 50, ..CrawlOptions::default() }, &limits()).await.unwrap();
    let mut urls: Vec<String> = result.pages.iter().map(|p| p.url.to_string()).collect();
    urls.sort();
    assert_eq!(urls, [new.url("/"), new.url("/a"), new.url("/b"), new.url("/c")]);
    assert_eq!(old.hits("/a"), 0);
    assert_eq!(new.hits("/robots.txt"), 1, "the new site's robots.txt applies");
}

#[tokio::test]
async fn a_redirect_to_a_page_robots_txt_disallows_is_not_followed() {
    let site = start_site(false).await;
    let f = fetcher(&["127.0.0.1"]);
    let one_page = CrawlOptions { whole_site: false, max_pages: 1, ..CrawlOptions::default() };
    let e = crawl(&f, &site.url("/old"), &one_page, &limits()).await.unwrap_err();
    assert!(matches!(&e, FetchError::RobotsDisallowed(u) if u.ends_with("/private/x")), "{e:?}");

    // Linked from the home page during a site crawl: skipped, with the reason.
    let result = crawl(&f, &site.url("/"), &CrawlOptions { whole_site: true, max_pages: 50, ..CrawlOptions::default() }, &limits()).await.unwrap();
    assert!(result.pages.iter().all(|p| !p.document.text.contains("PRIVATE X")), "{:?}", result.pages.iter().map(|p| p.url.as_str()).collect::<Vec<_>>());
    assert!(result.skipped.iter().any(|s| s.url.path() == "/old" && s.reason.contains("robots.txt") && s.reason.contains("/private/x")), "{:?}", result.skipped);
    assert_eq!(site.hits("/private/x"), 0, "the disallowed page is never requested");

    // A redirect to another site: that site's robots.txt decides.
    let other = start_site(false).await;
    let e = crawl(&f, &site.url(&format!("/go?to={}", other.url("/private/secret"))), &one_page, &limits()).await.unwrap_err();
    assert!(matches!(&e, FetchError::RobotsDisallowed(u) if u.ends_with("/private/secret")), "{e:?}");
    assert_eq!(other.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn a_robots_txt_answering_5xx_or_429_leaves_the_import_to_be_tried_again() {
    for status in [503, 500, 429] {
        let site = start_site_with(false, RobotsFile::Status(status)).await;
        let e = crawl(&fetcher(&["127.0.0.1"]), &site.url("/"), &CrawlOptions::default(), &limits()).await.unwrap_err();
        assert!(matches!(e, FetchError::Status { status: s, .. } if s == status), "{status}: {e:?}");
        assert!(e.is_transient(), "{status}: tried again later");
        assert!(!e.to_string().contains("asks bots not to read"), "{e}");
        assert_eq!(site.hits("/"), 0, "nothing is read meanwhile");
    }
}

#[tokio::test]
async fn an_unreachable_site_is_reported_as_unreachable_not_as_refused_by_robots_txt() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free); // nothing listens there now
    let e = crawl(&fetcher(&["127.0.0.1"]), &format!("http://{addr}/"), &CrawlOptions::default(), &limits()).await.unwrap_err();
    assert!(matches!(e, FetchError::Network(_)), "{e:?}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("could not be reached"), "{e}");
}

/// A mistyped address (a name no DNS server knows; `.invalid` never resolves, RFC 6761, and is
/// answered without asking one) fails at once, saying so — not "reading…" through minutes of
/// retries and then "could not be reached".
#[tokio::test]
async fn an_address_that_does_not_exist_fails_at_once_saying_so() {
    use crate::helpers::{spawn_app, wait_until};
    use bellhop::storage::sources;
    let e = crawl(&fetcher(&[]), "https://no-such-shop.invalid/prices", &CrawlOptions::default(), &limits()).await.unwrap_err();
    assert!(matches!(e, FetchError::NoSuchHost(_)), "{e:?}");
    assert!(!e.is_transient(), "a mistyped address is not tried again");
    assert_eq!(e.to_string(), "There is no website at no-such-shop.invalid — check the address.");

    let app = spawn_app().await;
    let (tenant, _, _) = app.signed_in_owner(7_950_101, "Nina").await;
    let new = sources::NewSource { bot: None, kind: "url", name: "https://no-such-shop.invalid/prices", size_bytes: 0, content: None, max_pages: None, recrawl_hours: None };
    let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
    wait_until(Duration::from_secs(60), || async { sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status == "failed" }).await;
    let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
    assert_eq!(source.status_reason.as_deref(), Some("There is no website at no-such-shop.invalid — check the address."));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_missing_robots_txt_allows_all_and_one_of_any_content_type_is_obeyed() {
    let one_page = CrawlOptions { whole_site: false, max_pages: 1, ..CrawlOptions::default() };
    let site = start_site_with(false, RobotsFile::Status(404)).await;
    let result = crawl(&fetcher(&["127.0.0.1"]), &site.url("/private/secret"), &one_page, &limits()).await.unwrap();
    assert!(result.pages[0].document.text.contains("SECRET"), "no robots.txt, no rules");

    let site = start_site_with(false, RobotsFile::OctetStream).await;
    let e = crawl(&fetcher(&["127.0.0.1"]), &site.url("/private/secret"), &one_page, &limits()).await.unwrap_err();
    assert!(matches!(e, FetchError::RobotsDisallowed(_)), "{e:?}");
    assert_eq!(site.hits("/private/secret"), 0);
}

/// A Russian site in windows-1251, declared by the server's `Content-Type` on one page and by a
/// `<meta charset>` alone on another: both are indexed as the Cyrillic their authors wrote, not
/// as Windows-1252 mojibake ("Ïåêàðíÿ").
#[tokio::test]
async fn pages_in_a_declared_legacy_charset_are_indexed_as_written() {
    use crate::helpers::{spawn_app_with, wait_until};
    use bellhop::storage::sources;
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await;
    let (_, tenant) = crate::billing_meter::owner_with_bot(&app, "Olga", 7_950_001).await;
    let cp1251 = |s: &str| encoding_rs::WINDOWS_1251.encode(s).0.into_owned();
    let header_page = cp1251("<!doctype html><html><head><title>Часы работы</title></head><body><h1>Часы работы</h1><p>Пекарня открывается в семь утра каждый будний день.</p></body></html>");
    let meta_page =
        cp1251("<!doctype html><html><head><meta charset=\"windows-1251\"><title>Доставка</title></head><body><h1>Доставка</h1><p>Мы доставляем торты по всему городу бесплатно.</p></body></html>");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let site = Router::new()
        .route("/hours", axum::routing::get(move || async move { ([(header::CONTENT_TYPE, "text/html; charset=windows-1251")], header_page) }))
        .route("/delivery", axum::routing::get(move || async move { ([(header::CONTENT_TYPE, "text/html")], meta_page) }));
    tokio::spawn(async move { axum::serve(listener, site).await });

    let bot = bellhop::domain::BotId(7_950_001);
    for path in ["/hours", "/delivery"] {
        let url = format!("{base}{path}");
        let new = sources::NewSource { bot: Some(bot), kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: None };
        let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
        wait_until(Duration::from_secs(120), || async { matches!(sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status.as_str(), "ready" | "failed") }).await;
        let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
        assert_eq!(source.status, "ready", "{path}: {:?}", source.status_reason);
    }
    let wanted = [("Пекарня открывается в семь утра", "Пекарня открывается в семь утра"), ("доставляем торты по всему городу", "Мы доставляем торты по всему городу")];
    for (query, words) in wanted {
        let (hits, _) = bellhop::knowledge::ingest::playground(app.db(), &app.state.retriever, tenant, Some(bot), query).await.unwrap();
        let texts: Vec<&str> = hits.iter().map(|h| h.payload.text.as_str()).collect();
        assert!(texts.iter().any(|t| t.contains(words)), "no passage reads {words:?}: {texts:?}");
        assert!(texts.iter().all(|t| !t.contains('Ï') && !t.contains('\u{fffd}')), "mojibake indexed: {texts:?}");
    }
    app.stop().await.unwrap();
}

/// The Knowledge page listed a web page by its address only. The read keeps the page's title,
/// and the page shows it, with the address small under it; a page without a title is still
/// listed by its address.
#[tokio::test]
async fn a_web_page_is_listed_by_its_title_with_its_address_under_it() {
    use crate::helpers::{spawn_app_with, wait_until};
    use bellhop::storage::sources;
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
    })
    .await;
    let (tenant, cookie, _) = app.signed_in_owner(7_950_202, "Rosa").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let site = Router::new()
        .route("/opening-hours", axum::routing::get(|| async { html("Opening hours | Rosa Bakery", "<h1>Opening hours</h1><p>We open at seven every weekday morning.</p>") }))
        .route("/plain", axum::routing::get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<!doctype html><html><body><p>We deliver cakes across the whole town for free.</p></body></html>") }));
    tokio::spawn(async move { axum::serve(listener, site).await });

    let mut ids = Vec::new();
    for path in ["/opening-hours", "/plain"] {
        let url = format!("{base}{path}");
        let new = sources::NewSource { bot: None, kind: "url", name: &url, size_bytes: 0, content: None, max_pages: None, recrawl_hours: None };
        let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
        wait_until(Duration::from_secs(120), || async { matches!(sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status.as_str(), "ready" | "failed") }).await;
        let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
        assert_eq!(source.status, "ready", "{path}: {:?}", source.status_reason);
        ids.push(source);
    }
    assert_eq!(ids[0].title.as_deref(), Some("Opening hours | Rosa Bakery"));
    assert_eq!(ids[1].title, None, "no <title>: nothing kept, the address names it");

    let (status, page) = crate::owner_lifecycle::get(&app, &cookie, "/app/sources").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<b>Opening hours | Rosa Bakery</b><br><span class=\"help address\">{base}/opening-hours</span>")), "{page}");
    assert!(page.contains(&format!("<b>{base}/plain</b>")), "{page}");
    app.stop().await.unwrap();
}

/// The Knowledge page showed a site read up to its page limit as "3 web pages", as if that were
/// the whole site. The read records that it stopped with pages left, and the page says so,
/// naming the limit: the owner's number, or the most the server reads of one site.
#[tokio::test]
async fn a_site_read_up_to_its_page_limit_says_other_pages_were_left_out() {
    use crate::helpers::{spawn_app_with, wait_until};
    use bellhop::storage::sources;
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", "127.0.0.1");
        s.set("BELLHOP_KNOWLEDGE_CRAWL_MAX_PAGES", "3");
    })
    .await;
    let (tenant, cookie, _) = app.signed_in_owner(7_950_303, "Lena").await;
    let (links, sitemap) = (start_site(false).await, start_site(true).await);
    let mut read = Vec::new();
    // Links only (4 pages) up to the owner's 2; the sitemap site (14 pages) up to 50, which the
    // server's 3 caps; the links site's first page alone.
    for (kind, url, max_pages) in [("site", links.url("/"), Some(2)), ("site", sitemap.url("/"), Some(50)), ("url", links.url("/a"), None)] {
        let new = sources::NewSource { bot: None, kind, name: &url, size_bytes: 0, content: None, max_pages, recrawl_hours: None };
        let id = bellhop::app::sources::add_source(&app.state, tenant, &new).await.unwrap();
        wait_until(Duration::from_secs(120), || async { matches!(sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap().status.as_str(), "ready" | "failed") }).await;
        let source = sources::get(&app.db().pool, tenant, id).await.unwrap().unwrap();
        assert_eq!(source.status, "ready", "{url}: {:?}", source.status_reason);
        read.push(source);
    }
    assert_eq!(read.iter().map(|s| s.page_limit_reached).collect::<Vec<_>>(), [Some(2), Some(3), None]);

    let chose = "Read 2 pages — the number you chose. Other pages of this site were left out: to read more, delete it and add the site again with more pages.";
    let most = "Read 3 pages — the most bellhop reads from one site. Other pages of this site were left out.";
    let (status, page) = crate::owner_lifecycle::get(&app, &cookie, "/app/sources").await;
    assert_eq!(status, 200);
    assert!(page.contains(chose), "{page}");
    assert!(page.contains(most), "{page}");
    assert_eq!(page.matches("left out").count(), 2, "the single page says nothing of the kind: {page}");
    // The list's live status (what the page shows once a read it waited for finishes) says it too.
    let (_, live) = crate::owner_lifecycle::get(&app, &cookie, "/app/sources/status").await;
    let live: serde_json::Value = serde_json::from_str(&live).unwrap();
    let note = |id: bellhop::domain::SourceId| live.as_array().unwrap().iter().find(|r| r["id"] == id.0).unwrap()["left_out"].clone();
    assert_eq!(note(read[0].id), chose);
    assert_eq!(note(read[1].id), most);
    assert!(note(read[2].id).is_null());
    app.stop().await.unwrap();
}
