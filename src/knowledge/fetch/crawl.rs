//! Importing one page or a whole site.
//!
//! A site crawl stays on the start URL's site (same scheme, host and port), reads the site's
//! `robots.txt` first and skips what it disallows — a redirect to a disallowed page of the site
//! included, refused before it is followed — seeds its queue from the sitemaps robots.txt
//! names (else `/sitemap.xml`; sitemap indexes followed two levels deep, gzip accepted) and
//! then follows same-site links breadth-first, until `max_pages` pages were read or the crawl's
//! time budget is spent (`knowledge.crawl_budget_seconds`: one slow site cannot hold a worker
//! for hours; what was read is kept, and the rest is listed as skipped). The budget runs from
//! the crawl's first request: robots.txt, the sitemaps and every page fetch count against it,
//! and a fetch still running when it ends is cut off (the start page aside: it is always read,
//! each of its requests within `knowledge.fetch_timeout_seconds`). URLs are
//! deduplicated after dropping their fragment. Requests are sequential, spaced by the site's
//! `Crawl-delay` (at most 5 s): a small business's site should not notice us.
use super::robots::Robots;
use super::{FetchError, Fetcher, HopCheck, Purpose};
use crate::knowledge::extract::{self, Document, Limits};
use quick_xml::events::Event;
use std::collections::{HashSet, VecDeque};
use std::io::Read;
use url::Url;

/// Sitemap files read per crawl (an index may name many).
const MAX_SITEMAPS: usize = 20;
/// URLs taken from sitemaps and links, at most.
const MAX_QUEUE: usize = 50_000;
/// Extensions never worth fetching as knowledge.
const SKIP_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "css", "js", "mjs", "json", "zip", "gz", "tgz", "rar", "7z", "mp3", "mp4", "m4a", "mov", "avi", "webm", "wav", "ogg",
    "woff", "woff2", "ttf", "otf", "eot", "exe", "dmg", "apk", "iso", "bin", "xls", "xlsx", "ppt", "pptx", "rss", "atom",
];

#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Read the whole site (sitemap and links) rather than just the start page.
    pub whole_site: bool,
    /// Pages read at most (`knowledge.crawl_max_pages`).
    pub max_pages: usize,
    /// Time for the whole crawl (`knowledge.crawl_budget_seconds`); the start page is always read.
    pub time_budget: std::time::Duration,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        Self { whole_site: false, max_pages: 1, time_budget: std::time::Duration::from_secs(600) }
    }
}

/// One imported page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the text came from (after redirects, without fragment).
    pub url: Url,
    pub document: Document,
}

/// A URL the crawl did not import, and why (owner-readable).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub url: Url,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Crawl {
    pub pages: Vec<Page>,
    pub skipped: Vec<Skipped>,
    /// The crawl stopped at `max_pages` with pages of the site still queued: the site has more
    /// than was read.
    pub limit_reached: bool,
}

/// Imports `start_url` (and, with `whole_site`, the rest of its site). Fails only when the
/// start page itself cannot be imported — blocked, disallowed by robots.txt, unreachable (its
/// robots.txt included), unreadable; later pages that fail are listed in [`Crawl::skipped`].
pub async fn crawl(fetcher: &Fetcher, start_url: &str, options: &CrawlOptions, limits: &Limits) -> Result<Crawl, FetchError> {
    let deadline = tokio::time::Instant::now() + options.time_budget;
    let start = normalise(super::parse_url(start_url)?);
    let mut robots = fetch_robots(fetcher, &start).await?;
    if !robots.allowed(&path_of(&start)) {
        return Err(FetchError::RobotsDisallowed(start.to_string()));
    }
    // The start page first: its failure is the import's failure, and where it lands (after
    // `http://shop.example` → `https://www.shop.example`, say) is the site crawled. A redirect
    // within the start site is checked before it is followed; a page reached on another site is
    // checked against that site's robots.txt once we know where it is.
    let (first, links) = fetch_page(fetcher, &start, &robots_hop(&start, &robots), limits).await?;
    let site = first.url.clone();
    if !same_site(&start, &site) {
        robots = fetch_robots(fetcher, &site).await?;
        if !robots.allowed(&path_of(&site)) {
            return Err(FetchError::RobotsDisallowed(site.to_string()));
        }
    }
    let mut out = Crawl::default();
    if !options.whole_site {
        out.pages.push(first);
        return Ok(out);
    }
    let mut queue: VecDeque<Url> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::from([start.to_string(), site.to_string()]);
    enqueue_links(&site, &first.url, &links, &mut queue, &mut seen);
    out.pages.push(first);
    // Sitemap URLs go before the links found on the start page: the site's own list first.
    let mut from_sitemaps = VecDeque::new();
    for url in sitemap_urls(fetcher, &site, &robots, deadline).await {
        enqueue(&site, url, &mut from_sitemaps, &mut seen);
    }
    from_sitemaps.append(&mut queue);
    let mut queue = from_sitemaps;

    let max_pages = options.max_pages.max(1);
    let mut attempts = 1;
    let out_of_time = |url: Url, queue: &mut VecDeque<Url>, out: &mut Crawl| {
        let reason = format!("not read: reading the site stopped after {} (its time limit)", in_words(options.time_budget));
        out.skipped.push(Skipped { url, reason: reason.clone() });
        out.skipped.extend(queue.drain(..).map(|url| Skipped { url, reason: reason.clone() }));
    };
    while let Some(url) = queue.pop_front() {
        if out.pages.len() >= max_pages || attempts >= max_pages * 3 + 10 {
            out.limit_reached = out.pages.len() >= max_pages;
            break;
        }
        let delay = robots.crawl_delay.unwrap_or_default();
        if tokio::time::Instant::now() + delay >= deadline {
            out_of_time(url, &mut queue, &mut out);
            break;
        }
        if !robots.allowed(&path_of(&url)) {
            out.skipped.push(Skipped { reason: FetchError::RobotsDisallowed(url.to_string()).to_string(), url });
            continue;
        }
        tokio::time::sleep(delay).await;
        attempts += 1;
        let fetched = tokio::time::timeout_at(deadline, fetch_page(fetcher, &url, &robots_hop(&site, &robots), limits)).await;
        let (page, links) = match fetched {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                out.skipped.push(Skipped { url, reason: e.to_string() });
                continue;
            }
            Err(_) => {
                out_of_time(url, &mut queue, &mut out);
                break;
            }
        };
        let new_final_url = seen.insert(page.url.to_string());
        if !same_site(&site, &page.url) || (page.url != url && !new_final_url) {
            // Redirected off the site, or onto a page already queued or read.
            continue;
        }
        enqueue_links(&site, &page.url, &links, &mut queue, &mut seen);
        out.pages.push(page);
    }
    Ok(out)
}

/// "45 seconds", "1 minute", "10 minutes" (minutes rounded up).
fn in_words(d: std::time::Duration) -> String {
    let (n, unit) = match d.as_secs() {
        s if s < 60 => (s, "second"),
        s => (s.div_ceil(60), "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Queues a page's same-site links, resolved against its `<base href>` or its own URL.
fn enqueue_links(site: &Url, page_url: &Url, links: &extract::Links, queue: &mut VecDeque<Url>, seen: &mut HashSet<String>) {
    let base = links.base.as_deref().and_then(|b| page_url.join(b).ok()).unwrap_or_else(|| page_url.clone());
    for href in &links.hrefs {
        if let Ok(link) = base.join(href) {
            enqueue(site, link, queue, seen);
        }
    }
}

async fn fetch_page(fetcher: &Fetcher, url: &Url, hop: &HopCheck<'_>, limits: &Limits) -> Result<(Page, extract::Links), FetchError> {
    let fetched = fetcher.get_checked(url.clone(), Purpose::Document, hop).await?;
    let final_url = normalise(fetched.url);
    let hint = name_hint(&final_url, fetched.content_type.as_deref());
    let charset = fetched.content_type.as_deref().and_then(extract::charset_param);
    let (document, links) = extract::extract_page(fetched.body, &hint, charset, limits).await?;
    Ok((Page { url: final_url, document }, links))
}

/// A file-name hint for the extractor: the URL's last segment, or an extension from the
/// content type (it only breaks ties between text flavours; the bytes decide the rest).
fn name_hint(url: &Url, content_type: Option<&str>) -> String {
    let essence = content_type.and_then(|c| c.split(';').next()).unwrap_or("").trim();
    match essence {
        "text/html" | "application/xhtml+xml" => "page.html".into(),
        "text/markdown" | "text/x-markdown" => "page.md".into(),
        "text/csv" | "application/csv" => "page.csv".into(),
        "text/tab-separated-values" => "page.tsv".into(),
        _ => url.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)).unwrap_or_default(),
    }
}

/// Refuses a redirect within `site` to a page its `robots` disallow. A redirect to another
/// site passes: the crawl drops pages off its site, and checks the start page's landing site.
fn robots_hop<'a>(site: &'a Url, robots: &'a Robots) -> impl Fn(&Url) -> Result<(), FetchError> + Send + Sync + 'a {
    move |next| match same_site(site, next) && !robots.allowed(&path_of(next)) {
        true => Err(FetchError::RobotsDisallowed(next.to_string())),
        false => Ok(()),
    }
}

/// The site's rules for us (RFC 9309 §2.3.1). Any content type is read, the first 512 KiB of
/// it. A 4xx answer (429 aside) or a redirect loop means there are none. A 5xx answer, a 429,
/// or no answer at all means "crawl nothing" for now: that is returned as the error it is, so
/// the owner reads "could not be reached" (not "robots.txt asks bots not to read") and the
/// import is tried again later; a refused address is the answer for the whole import too.
async fn fetch_robots(fetcher: &Fetcher, site: &Url) -> Result<Robots, FetchError> {
    let Ok(robots_url) = site.join("/robots.txt") else { return Ok(Robots::allow_all()) };
    match fetcher.get(robots_url, Purpose::Robots).await {
        Ok(f) => Ok(Robots::parse(&String::from_utf8_lossy(&f.body))),
        Err(FetchError::Status { status, .. }) if (400..500).contains(&status) && status != 429 => Ok(Robots::allow_all()),
        Err(FetchError::TooManyRedirects) => Ok(Robots::allow_all()),
        Err(e) => {
            tracing::info!(error = %e, %site, "robots.txt could not be fetched: the site is not read for now");
            Err(e)
        }
    }
}

/// URLs from the site's sitemaps (robots.txt's `Sitemap:` lines on this site, else
/// `/sitemap.xml`), following sitemap indexes two levels deep, until `deadline` (the crawl's
/// time budget): a sitemap not read by then is left unread. Failures only mean fewer URLs.
async fn sitemap_urls(fetcher: &Fetcher, start: &Url, robots: &Robots, deadline: tokio::time::Instant) -> Vec<Url> {
    let mut pending: VecDeque<(Url, usize)> = robots.sitemaps.iter().filter_map(|s| start.join(s).ok()).filter(|u| same_site(start, u)).map(|u| (u, 0)).collect();
    if let Some(u) = start.join("/sitemap.xml").ok().filter(|_| pending.is_empty()) {
        pending.push_back((u, 0));
    }
    let mut read = 0;
    let mut urls = Vec::new();
    let mut seen = HashSet::new();
    while let Some((sitemap, depth)) = pending.pop_front() {
        if tokio::time::Instant::now() >= deadline {
            tracing::info!(%start, "the crawl's time budget ran out while its sitemaps were read");
            break;
        }
        if read >= MAX_SITEMAPS || !seen.insert(sitemap.to_string()) || !robots.allowed(&path_of(&sitemap)) {
            continue;
        }
        read += 1;
        let Ok(Ok(fetched)) = tokio::time::timeout_at(deadline, fetcher.get(sitemap.clone(), Purpose::Sitemap)).await else { continue };
        let Some(xml) = gunzip_if_needed(&fetched.body, fetcher.settings().max_bytes) else { continue };
        let (is_index, locs) = parse_sitemap(&xml);
        for loc in locs {
            let Ok(u) = sitemap.join(loc.trim()) else { continue };
            if !same_site(start, &u) {
                continue;
            }
            if is_index {
                if depth < 2 {
                    pending.push_back((u, depth + 1));
                }
            } else if urls.len() < MAX_QUEUE {
                urls.push(u);
            }
        }
    }
    urls
}

fn gunzip_if_needed(body: &[u8], max: u64) -> Option<Vec<u8>> {
    if !body.starts_with(b"\x1f\x8b") {
        return Some(body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).take(max + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= max).then_some(out)
}

/// `(is a sitemap index, <loc> values)`.
fn parse_sitemap(xml: &[u8]) -> (bool, Vec<String>) {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut is_index = false;
    let mut in_loc = false;
    let mut current = String::new();
    let mut locs = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"sitemapindex" => is_index = true,
                b"loc" => {
                    in_loc = true;
                    current.clear();
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_loc => current.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::CData(t)) if in_loc => current.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::GeneralRef(g)) if in_loc => {
                let name = g.decode().unwrap_or_default();
                current.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"loc" => {
                in_loc = false;
                if locs.len() < MAX_QUEUE {
                    locs.push(current.trim().to_owned());
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    (is_index, locs)
}

fn enqueue(start: &Url, url: Url, queue: &mut VecDeque<Url>, seen: &mut HashSet<String>) {
    if !matches!(url.scheme(), "http" | "https") || !same_site(start, &url) || queue.len() >= MAX_QUEUE {
        return;
    }
    let ext = url.path().rsplit('/').next().and_then(|last| last.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
    if ext.is_some_and(|e| SKIP_EXTENSIONS.contains(&e.as_str())) {
        return;
    }
    let url = normalise(url);
    if seen.insert(url.to_string()) {
        queue.push_back(url);
    }
}

/// Same scheme, host and port.
fn same_site(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// Drops the fragment (and an empty query) so one page is read once.
fn normalise(mut url: Url) -> Url {
    url.set_fragment(None);
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

fn path_of(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sitemaps_and_indexes_parse() {
        let (index, locs) = parse_sitemap(b"<?xml version='1.0'?><sitemapindex xmlns='x'><sitemap><loc> https://a.example/s1.xml </loc></sitemap></sitemapindex>");
        assert!(index);
        assert_eq!(locs, ["https://a.example/s1.xml"]);
        let (index, locs) = parse_sitemap(b"<urlset><url><loc>https://a.example/?a=1&amp;b=2</loc></url><url><loc><![CDATA[/faq]]></loc></url></urlset>");
        assert!(!index);
        assert_eq!(locs, ["https://a.example/?a=1&b=2", "/faq"]);
    }

    #[test]
    fn time_limits_read_in_words() {
        use std::time::Duration;
        assert_eq!(in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
        assert_eq!(in_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(in_words(Duration::from_secs(600)), "10 minutes");
        assert_eq!(in_words(Duration::from_secs(601)), "11 minutes");
    }

    #[test]
    fn dedup_ignores_fragments_and_other_sites() {
        let start = Url::parse("https://a.example/").unwrap();
        let mut queue = VecDeque::new();
        let mut seen = HashSet::from([start.to_string()]);
        for u in ["https://a.example/#top", "https://a.example/faq#q1", "https://a.example/faq", "http://a.example/faq", "https://b.example/", "https://a.example/logo.png"] {
            enqueue(&start, Url::parse(u).unwrap(), &mut queue, &mut seen);
        }
        assert_eq!(queue.iter().map(Url::as_str).collect::<Vec<_>>(), ["https://a.example/faq"]);
    }
}
