//! Per-client rate limits at the HTTP edge: the landing page's link creation, the sign-in
//! endpoints, and webhook calls for bots that do not exist (`http.*_per_minute`).
//!
//! A client is an IPv4 address or an IPv6 /64 (one subscriber's prefix), taken from the
//! connection or, behind a reverse proxy, from `http.client_ip_header`. Each client has a token
//! bucket holding a minute's allowance, refilled continuously. Memory is bounded: at most
//! [`MAX_CLIENTS`] buckets per limit; when the table is full, buckets that have refilled (the same
//! as new ones) are dropped, and while it stays full new clients share one bucket.
//!
//! Webhooks are different from pages: a request is charged only once it turns out to name a bot
//! that does not exist, and a client whose allowance is spent gets 429 before any lookup — unless
//! the bot is one this process has already seen a correct call for. (Telegram itself never calls
//! for bots that do not exist, and its calls for real bots are not held up even when it shares
//! an address with an abuser, as behind a reverse proxy with `http.client_ip_header` unset; a
//! wrong secret for a real bot is not charged, since Telegram sends those while a bot is set up
//! again.)
use crate::domain::BotId;
use super::pages::message;
use crate::app::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::time::{Duration, Instant};

/// Buckets kept per limit: about 5 MB at most.
pub const MAX_CLIENTS: usize = 100_000;
/// How often a full table may be swept (a sweep walks the whole table).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The client a request comes from, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    /// IPv4 addresses as they are (IPv4-mapped IPv6 included); IPv6 by its /64.
    pub fn from_ip(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Client(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }

    /// The request's client: the last address in `ip_header` when one is configured (the one the
    /// proxy added), else the connection's peer. Unknown (no such header, no connection info)
    /// clients share one bucket.
    pub fn of(headers: &HeaderMap, peer: Option<SocketAddr>, ip_header: Option<&str>) -> Client {
        let from_header = ip_header.and_then(|h| {
            let v = headers.get_all(h).iter().filter_map(|v| v.to_str().ok()).last()?;
            let last = v.rsplit(',').next()?.trim();
            last.parse::<IpAddr>().ok().or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
        });
        let ip = match ip_header {
            Some(_) => from_header,
            None => peer.map(|p| p.ip()),
        };
        Client::from_ip(ip.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
struct Table {
    buckets: HashMap<Client, Bucket>,
    /// Shared by new clients while the table is full.
    overflow: Option<Bucket>,
    swept: Option<Instant>,
}

/// One limit: `per_minute` requests per client per minute, with a minute's burst.
#[derive(Debug)]
pub struct Limit {
    per_minute: f64,
    table: Mutex<Table>,
}

impl Limit {
    pub fn per_minute(n: u32) -> Limit {
        Limit { per_minute: f64::from(n.max(1)), table: Mutex::new(Table::default()) }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_minute / 60.0).min(self.per_minute);
        Bucket { tokens, at: now }
    }

    /// Time until `b` holds a whole token again.
    fn wait(&self, b: Bucket) -> Duration {
        Duration::from_secs_f64(((1.0 - b.tokens) * 60.0 / self.per_minute).max(0.0))
    }

    /// Runs `f` on the client's bucket (refilled to now), creating it if there is room.
    fn with_bucket<T>(&self, client: Client, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let now = Instant::now();
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let full = Bucket { tokens: self.per_minute, at: now };
        if !t.buckets.contains_key(&client) && t.buckets.len() >= MAX_CLIENTS && t.swept.is_none_or(|s| now.duration_since(s) >= SWEEP_EVERY) {
            t.swept = Some(now);
            let per_minute = self.per_minute;
            t.buckets.retain(|_, b| self.refilled(*b, now).tokens < per_minute);
        }
        let bucket = if t.buckets.contains_key(&client) || t.buckets.len() < MAX_CLIENTS {
            t.buckets.entry(client).or_insert(full)
        } else {
            t.overflow.get_or_insert(full)
        };
        *bucket = self.refilled(*bucket, now);
        f(bucket)
    }

    /// Takes one request from the client's allowance; `Err(wait)` if it is spent.
    pub fn take(&self, client: Client) -> Result<(), Duration> {
        self.with_bucket(client, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(self.wait(*b))
            }
        })
    }

    /// Whether the client's allowance is spent (`Err(wait)`), without taking from it.
    pub fn check(&self, client: Client) -> Result<(), Duration> {
        self.with_bucket(client, |b| if b.tokens >= 1.0 { Ok(()) } else { Err(self.wait(*b)) })
    }

    /// Takes one request from the allowance, even past the end (a charge after the fact).
    pub fn charge(&self, client: Client) {
        self.with_bucket(client, |b| b.tokens = (b.tokens - 1.0).max(0.0));
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.table.lock().unwrap().buckets.len()
    }
}

/// The edge's limits, built from `http.*` once per router.
#[derive(Debug)]
pub struct EdgeLimits {
    pub new_bot_links: Limit,
    pub sign_ins: Limit,
    pub unknown_bot_webhooks: Limit,
    /// Bots a webhook call authenticated for, in this process: never refused before the lookup.
    /// Only a correct secret adds to it, so it holds at most the real bots.
    known_bots: Mutex<HashSet<BotId>>,
}

impl EdgeLimits {
    pub fn new(cfg: &crate::config::HttpConfig) -> Arc<EdgeLimits> {
        Arc::new(EdgeLimits {
            new_bot_links: Limit::per_minute(cfg.new_bot_links_per_minute),
            sign_ins: Limit::per_minute(cfg.sign_ins_per_minute),
            unknown_bot_webhooks: Limit::per_minute(cfg.unknown_bot_webhooks_per_minute),
            known_bots: Mutex::default(),
        })
    }

    /// Records a bot a webhook call authenticated for.
    pub fn bot_seen(&self, bot: BotId) {
        self.known_bots.lock().unwrap_or_else(|p| p.into_inner()).insert(bot);
    }

    /// Whether a webhook call for `bot` from `client` is refused before the lookup: the client
    /// has spent its allowance for unknown bots and the bot is not one already seen.
    pub fn webhook_refused_before_lookup(&self, client: Client, bot: BotId) -> Option<Duration> {
        if self.known_bots.lock().unwrap_or_else(|p| p.into_inner()).contains(&bot) {
            return None;
        }
        self.unknown_bot_webhooks.check(client).err()
    }
}

/// Which limit a route is under.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    NewBotLinks,
    SignIns,
}

/// Sets the request's [`Client`] for the handlers and limits below.
pub async fn identify(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip_header = app.cfg.http.client_ip_header.as_deref();
    static WARNED: AtomicBool = AtomicBool::new(false);
    if ip_header.is_none() && req.headers().contains_key("x-forwarded-for") && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!("requests come through a reverse proxy (X-Forwarded-For) but http.client_ip_header is unset: every client counts as the proxy for the per-client limits");
    }
    let client = Client::of(req.headers(), peer, ip_header);
    req.extensions_mut().insert(client);
    next.run(req).await
}

/// The per-client limit of a page route (`Kind`).
pub async fn limit_pages(State((limits, kind)): State<(Arc<EdgeLimits>, Kind)>, req: Request, next: Next) -> Response {
    let client = req.extensions().get::<Client>().copied().unwrap_or(Client::from_ip(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
    let limit = match kind {
        Kind::NewBotLinks => &limits.new_bot_links,
        Kind::SignIns => &limits.sign_ins,
    };
    match limit.take(client) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::info!(limit = ?kind, "client over its rate limit");
            let mut res = message(StatusCode::TOO_MANY_REQUESTS, "Too many tries", "Too many tries from your network in a short time. Please wait a minute and try again.", None);
            res.headers_mut().insert(header::RETRY_AFTER, retry_after(wait));
            res
        }
    }
}

/// 429 for a webhook call from a client past its allowance of calls for unknown bots.
pub fn webhook_refused(wait: Duration) -> Response {
    let mut res = StatusCode::TOO_MANY_REQUESTS.into_response();
    res.headers_mut().insert(header::RETRY_AFTER, retry_after(wait));
    res
}

fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(wait.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u32) -> Client {
        Client::from_ip(IpAddr::V4(n.into()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_clients_allowance_is_a_minutes_worth_and_refills_over_the_minute() {
        let l = Limit::per_minute(3);
        for _ in 0..3 {
            assert!(l.take(client(1)).is_ok());
        }
        let wait = l.take(client(1)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20), "one request every 20 s");
        assert!(l.take(client(2)).is_ok(), "another client has its own");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(l.take(client(1)).is_ok());
        assert!(l.take(client(1)).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn check_does_not_take_and_charge_does() {
        let l = Limit::per_minute(2);
        for _ in 0..5 {
            assert!(l.check(client(1)).is_ok());
        }
        l.charge(client(1));
        l.charge(client(1));
        assert!(l.check(client(1)).is_err());
        l.charge(client(1));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(l.check(client(1)).is_ok(), "charges past the end do not pile up");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_stays_bounded_and_refilled_buckets_make_room() {
        let l = Limit::per_minute(1);
        for n in 0..MAX_CLIENTS as u32 {
            assert!(l.take(client(n)).is_ok());
        }
        // Full: a new client shares the overflow bucket.
        assert!(l.take(client(u32::MAX)).is_ok());
        assert!(l.take(client(u32::MAX - 1)).is_err(), "the overflow bucket is shared");
        assert_eq!(l.clients(), MAX_CLIENTS);
        // A minute later every bucket has refilled: the next new client sweeps them away.
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(l.take(client(u32::MAX - 2)).is_ok());
        assert_eq!(l.clients(), 1);
    }

    #[test]
    fn clients_are_ipv4_addresses_and_ipv6_prefixes() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(Client::from_ip(ip("2001:db8:1:2:aaaa::1")), Client::from_ip(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(Client::from_ip(ip("2001:db8:1:2::1")), Client::from_ip(ip("2001:db8:1:3::1")));
        assert_eq!(Client::from_ip(ip("::ffff:192.0.2.1")), Client::from_ip(ip("192.0.2.1")));
        let peer: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "198.51.100.7, 203.0.113.9".parse().unwrap());
        assert_eq!(Client::of(&h, Some(peer), None), Client::from_ip(ip("192.0.2.1")), "the header counts only when configured");
        assert_eq!(Client::of(&h, Some(peer), Some("x-forwarded-for")), Client::from_ip(ip("203.0.113.9")), "the address the proxy added");
        assert_eq!(Client::of(&HeaderMap::new(), Some(peer), Some("x-forwarded-for")), Client::from_ip(ip("::")), "no header: unknown");
    }
}
