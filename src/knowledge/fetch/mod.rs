//! URL import: fetching owners' web pages safely, then crawling a site ([`crawl()`]).
//!
//! [`Fetcher::fetch`] accepts `http`/`https` only; checks every address it would connect to
//! ([`guard`]); follows at most 5 redirects itself, checking each hop again; streams the body
//! and stops at `knowledge.fetch_max_bytes`; bounds the whole fetch (redirects included) by
//! `knowledge.fetch_timeout_seconds`; refuses content types that are not documents; never uses
//! a proxy from the environment (a proxy would resolve names where our guard cannot see); and
//! says who it is (`User-Agent: bellhop/<version>`). Every error reads well on the sources page.
pub mod crawl;
pub mod guard;
pub mod robots;

pub use crawl::{Crawl, CrawlOptions, Page, Skipped, crawl};

use crate::knowledge::extract::{ExtractError, human_size};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Redirects followed per fetch.
pub const MAX_REDIRECTS: usize = 5;

/// Why a URL could not be imported. `Display` is written for the owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("\"{0}\" is not a web address we can import.")]
    InvalidUrl(String),
    #[error("Only http:// and https:// addresses can be imported (this one is {0}:).")]
    Scheme(String),
    #[error("{host} is {why}; bellhop only imports pages from the public internet.")]
    Blocked { host: String, why: &'static str },
    #[error("The page redirected more than {MAX_REDIRECTS} times; import the final address instead.")]
    TooManyRedirects,
    #[error("The site answered with an error (HTTP {status}) for {url}.")]
    Status { status: u16, url: String },
    #[error("The page is larger than {}, the most we download.", human_size(*limit))]
    TooLarge { limit: u64 },
    #[error("The site did not answer within {seconds} seconds.")]
    TimedOut { seconds: u64 },
    #[error("{url} is {content_type}, not a page or document we can read.")]
    ContentType { url: String, content_type: String },
    #[error("The site could not be reached ({0}).")]
    Network(String),
    #[error("There is no website at {0} — check the address.")]
    NoSuchHost(String),
    #[error("The site's robots.txt asks bots not to read {0}.")]
    RobotsDisallowed(String),
    #[error("{0}")]
    Extract(#[from] ExtractError),
}

impl FetchError {
    /// Network trouble and timeouts may pass; everything else will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Network(_) | FetchError::TimedOut { .. } => true,
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::Extract(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Fetch settings (from `knowledge.*`, see [`FetchSettings::from_config`]).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Hosts exempt from the private-address rules (`knowledge.url_allow_hosts`).
    pub allow_hosts: Vec<String>,
    /// Whole fetch, redirects included.
    pub timeout: Duration,
    /// Largest body downloaded.
    pub max_bytes: u64,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings { allow_hosts: Vec::new(), timeout: Duration::from_secs(30), max_bytes: 10 * 1024 * 1024 }
    }
}

impl FetchSettings {
    pub fn from_config(cfg: &crate::config::KnowledgeConfig) -> Self {
        FetchSettings { allow_hosts: cfg.url_allow_hosts.clone(), timeout: cfg.fetch_timeout, max_bytes: cfg.fetch_max_bytes }
    }
}

/// Asked about each address a redirect leads to, before it is requested.
pub(crate) type HopCheck<'a> = dyn Fn(&Url) -> Result<(), FetchError> + Send + Sync + 'a;

/// What a fetch is for, which decides the content types accepted (and, for robots.txt, that a
/// long file is cut rather than refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Document,
    Robots,
    Sitemap,
}

/// A fetched response body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The final URL, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// A client for URL import; cheap to clone, one per process is enough.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<guard::Policy>,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let policy = Arc::new(guard::Policy::new(&settings.allow_hosts));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver { policy: policy.clone() }))
            .user_agent(user_agent())
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| FetchError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher { client, policy, settings })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// Fetches a page or document for import (HTML, text, Markdown, CSV, PDF, DOCX).
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let url = parse_url(url)?;
        self.get(url, Purpose::Document).await
    }

    /// Fetches `url` under the total time limit, following redirects by hand.
    pub(crate) async fn get(&self, url: Url, purpose: Purpose) -> Result<Fetched, FetchError> {
        self.get_checked(url, purpose, &|_| Ok(())).await
    }

    /// [`Fetcher::get`], asking `hop` about every address a redirect leads to before it is
    /// requested (the crawl refuses, there, a page its robots.txt disallows); an error from
    /// `hop` ends the fetch.
    pub(crate) async fn get_checked(&self, url: Url, purpose: Purpose, hop: &HopCheck<'_>) -> Result<Fetched, FetchError> {
        let seconds = self.settings.timeout.as_secs();
        match tokio::time::timeout(self.settings.timeout, self.get_inner(url, purpose, hop)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::TimedOut { seconds }),
        }
    }

    async fn get_inner(&self, mut url: Url, purpose: Purpose, hop: &HopCheck<'_>) -> Result<Fetched, FetchError> {
        let mut redirects = 0;
        loop {
            self.check_url(&url)?;
            let response = self.client.get(url.clone()).send().await.map_err(|e| self.request_error(&url, &e))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
                let Some(next) = location.and_then(|l| url.join(l).ok()) else {
                    return Err(FetchError::Status { status: status.as_u16(), url: url.to_string() });
                };
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                hop(&next)?;
                tracing::debug!(from = %url, to = %next, "following a redirect");
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status { status: status.as_u16(), url: url.to_string() });
            }
            let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.to_ascii_lowercase());
            if let Some(ct) = content_type.as_deref().filter(|ct| !acceptable(ct, purpose)) {
                let essence = ct.split(';').next().unwrap_or(ct).trim().to_owned();
                return Err(FetchError::ContentType { url: url.to_string(), content_type: essence });
            }
            let body = self.read_body(response, purpose).await?;
            return Ok(Fetched { url, content_type, body });
        }
    }

    /// Scheme, credentials, host name and IP-literal checks; names are also checked again on
    /// resolution by [`guard::GuardedResolver`].
    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl(redact(url)));
        }
        let host = url.host().ok_or_else(|| FetchError::InvalidUrl(url.to_string()))?;
        let host_str = host.to_string();
        if self.policy.allows_host(&host_str) {
            return Ok(());
        }
        let why = match host {
            url::Host::Domain(d) => guard::blocked_name(d),
            url::Host::Ipv4(ip) => guard::blocked_ip(ip.into()),
            url::Host::Ipv6(ip) => guard::blocked_ip(ip.into()),
        };
        match why {
            Some(why) => Err(FetchError::Blocked { host: host_str, why }),
            None => Ok(()),
        }
    }

    /// Turns a reqwest error into an owner-facing one; a refusal by the resolver is found in
    /// the error's source chain.
    fn request_error(&self, url: &Url, e: &reqwest::Error) -> FetchError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(blocked) = s.downcast_ref::<guard::BlockedAddress>() {
                return FetchError::Blocked { host: blocked.host.clone(), why: blocked.why };
            }
            if let Some(missing) = s.downcast_ref::<guard::NoSuchHost>() {
                return FetchError::NoSuchHost(missing.host.clone());
            }
            source = s.source();
        }
        let host = url.host_str().unwrap_or("the site");
        if e.is_timeout() {
            return FetchError::TimedOut { seconds: self.settings.timeout.as_secs() };
        }
        if e.is_connect() {
            return FetchError::Network(format!("could not connect to {host}"));
        }
        FetchError::Network(format!("{host} did not answer properly"))
    }

    /// Streams the body, stopping as soon as it passes the cap (a declared Content-Length over
    /// the cap stops it before the first byte). A robots.txt is never too large: its first
    /// [`robots::MAX_ROBOTS_BYTES`] are kept and the rest is not downloaded (RFC 9309 §2.5).
    async fn read_body(&self, mut response: reqwest::Response, purpose: Purpose) -> Result<Bytes, FetchError> {
        let (limit, truncate) = match purpose {
            Purpose::Robots => (robots::MAX_ROBOTS_BYTES as u64, true),
            _ => (self.settings.max_bytes, false),
        };
        if !truncate && response.content_length().is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| FetchError::Network("the download was interrupted".into()))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                if truncate {
                    body.extend_from_slice(&chunk[..limit as usize - body.len()]);
                    break;
                }
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }
}

/// `bellhop/<version>`, also the robots.txt product token.
pub fn user_agent() -> String {
    format!("bellhop/{}", env!("CARGO_PKG_VERSION"))
}

/// Parses an owner's URL; a missing scheme means `https://`.
pub fn parse_url(input: &str) -> Result<Url, FetchError> {
    let input = input.trim();
    let with_scheme = if input.contains("://") { input.to_owned() } else { format!("https://{input}") };
    let url = Url::parse(&with_scheme).map_err(|_| FetchError::InvalidUrl(input.chars().take(200).collect()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Scheme(url.scheme().to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl(input.chars().take(200).collect()));
    }
    Ok(url)
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    format!("{u} (with a user name or password in it)")
}

/// Content types a fetch of this purpose accepts (a missing one is sniffed from the bytes).
fn acceptable(content_type: &str, purpose: Purpose) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let document = matches!(
        essence,
        "text/html"
            | "application/xhtml+xml"
            | "text/plain"
            | "text/markdown"
            | "text/x-markdown"
            | "text/csv"
            | "application/csv"
            | "text/tab-separated-values"
            | "application/pdf"
            | "application/x-pdf"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/octet-stream"
            | "binary/octet-stream"
    );
    match purpose {
        Purpose::Document => document,
        // Servers label robots.txt all sorts of ways (`binary/octet-stream` from some object
        // stores); the text is what matters, and ignoring the file would ignore its rules.
        Purpose::Robots => true,
        Purpose::Sitemap => document || matches!(essence, "application/xml" | "text/xml" | "application/gzip" | "application/x-gzip" | "application/rss+xml" | "application/atom+xml"),
    }
}
