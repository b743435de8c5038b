//! The SSRF guard: which hosts and addresses URL import may reach.
//!
//! A URL pasted by an owner must not become a way into our own network, so every address a
//! request would connect to is checked — IP literals in the URL here, names by
//! [`GuardedResolver`], which resolves them itself and hands the connector only vetted
//! addresses (no second lookup an attacker's DNS could answer differently). Refused: loopback,
//! private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10, which includes the cloud
//! metadata address 169.254.169.254), carrier-grade NAT (100.64/10), multicast, unspecified,
//! broadcast and reserved, documentation and benchmarking ranges, IPv6 outside global unicast
//! (2000::/3), and IPv6 forms that embed one of those IPv4 addresses (mapped, compatible,
//! NAT64, 6to4). Names refused outright: single-label hosts (`metadata`, `intranet`),
//! `localhost`, `*.localhost`, `*.local`, `*.internal` (so `metadata.google.internal`),
//! `*.home.arpa`, `metadata.goog`. The operator's allow-list (`knowledge.url_allow_hosts`)
//! exempts named hosts from all of this.
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The hosts the operator allows despite the rules (lowercase; IPv6 without brackets).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow_hosts: Vec<String>,
}

impl Policy {
    pub fn new(allow_hosts: &[String]) -> Self {
        Policy { allow_hosts: allow_hosts.iter().map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()).collect() }
    }

    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.contains(&host)
    }
}

/// Why a host name is refused before resolving it, if it is.
pub fn blocked_name(host: &str) -> Option<&'static str> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") {
        return Some("a loopback name");
    }
    if h == "metadata.google.internal" || h == "metadata.goog" || h.ends_with(".internal") {
        return Some("an internal or cloud-metadata name");
    }
    if h.ends_with(".local") || h.ends_with(".home.arpa") || h.ends_with(".lan") {
        return Some("a local-network name");
    }
    if !h.contains('.') {
        return Some("a name without a domain (local network)");
    }
    None
}

/// Why an address is not public, if it is not.
pub fn blocked_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 169, 254], 32, "the cloud metadata address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "a reserved address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a reserved relay address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES.iter().find(|(net, prefix, _)| in_v4(ip, *net, *prefix)).map(|(_, _, why)| *why)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): judge the IPv4 inside.
    if seg[..5] == [0; 5] && (seg[5] == 0xffff || seg[5] == 0) {
        return blocked_v4(embedded_v4(seg[6], seg[7])).or(if seg[5] == 0 { Some("a deprecated IPv4-compatible address") } else { None });
    }
    // NAT64 well-known prefix 64:ff9b::/96 reaches the IPv4 inside.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return blocked_v4(embedded_v4(seg[6], seg[7]));
    }
    // 6to4 2002:AABB:CCDD::/48 reaches AA.BB.CC.DD.
    if seg[0] == 0x2002 {
        return blocked_v4(embedded_v4(seg[1], seg[2])).or(Some("a 6to4 relay address"));
    }
    match seg[0] {
        0xfc00..=0xfdff => return Some(if seg[..4] == [0xfd00, 0x0ec2, 0, 0] { "the cloud metadata address" } else { "a private (unique local) address" }),
        0xfe80..=0xfebf => return Some("a link-local address"),
        0xfec0..=0xfeff => return Some("a site-local address"),
        0xff00..=0xffff => return Some("a multicast address"),
        _ => {}
    }
    if seg[0] & 0xe000 != 0x2000 {
        return Some("a reserved IPv6 address (not global unicast)");
    }
    if seg[0] == 0x2001 && seg[1] < 0x0200 {
        return Some("a reserved IPv6 address (IETF protocol assignments, Teredo, benchmarking)");
    }
    if (seg[0] == 0x2001 && seg[1] == 0x0db8) || (seg[0] == 0x3fff && seg[1] < 0x1000) {
        return Some("a documentation address");
    }
    None
}

/// A resolved name that points at a refused address.
#[derive(Debug)]
pub struct BlockedAddress {
    pub host: String,
    pub ip: IpAddr,
    pub why: &'static str,
}

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to {} ({})", self.host, self.ip, self.why)
    }
}

impl std::error::Error for BlockedAddress {}

/// A name no DNS server knows (NXDOMAIN): a mistyped address. Trying again will not help.
#[derive(Debug)]
pub struct NoSuchHost {
    pub host: String,
}

impl std::fmt::Display for NoSuchHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not exist", self.host)
    }
}

impl std::error::Error for NoSuchHost {}

/// Whether a failed lookup said the name does not exist (glibc's, musl's and BSD's words for
/// `EAI_NONAME`/`EAI_NODATA`), as opposed to a resolver that could not answer for now.
fn no_such_name(e: &std::io::Error) -> bool {
    let msg = e.to_string();
    ["Name or service not known", "Name does not resolve", "nodename nor servname provided", "No address associated with hostname"].iter().any(|m| msg.contains(m))
}

/// Names under `.invalid` never resolve (RFC 6761 §6.4): they are answered at once, asking no
/// DNS server.
fn reserved_invalid(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "invalid" || h.ends_with(".invalid")
}

/// reqwest's DNS resolver, replaced: resolves with the system resolver, then refuses the name
/// if *any* of its addresses is not public (a mixed answer is how DNS-rebinding attacks
/// start), unless the host is allow-listed. The connector then connects only to these
/// addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            if reserved_invalid(&host) {
                return Err(Box::new(NoSuchHost { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            let looked_up = tokio::net::lookup_host((host.as_str(), 0)).await.map(|a| a.collect::<Vec<SocketAddr>>());
            let addrs: Vec<SocketAddr> = match looked_up {
                Ok(addrs) => addrs,
                Err(e) if no_such_name(&e) => return Err(Box::new(NoSuchHost { host }) as Box<dyn std::error::Error + Send + Sync>),
                Err(e) => return Err(e.into()),
            };
            if !policy.allows_host(&host) {
                if let Some(why) = blocked_name(&host) {
                    let ip = addrs.first().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), SocketAddr::ip);
                    return Err(Box::new(BlockedAddress { host, ip, why }) as Box<dyn std::error::Error + Send + Sync>);
                }
                if let Some((ip, why)) = addrs.iter().find_map(|a| blocked_ip(a.ip()).map(|why| (a.ip(), why))) {
                    return Err(Box::new(BlockedAddress { host, ip, why }) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> bool {
        blocked_ip(s.parse().unwrap()).is_some()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1", "127.5.6.7", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.1.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "255.255.255.255",
            "224.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "::1", "::", "fc00::1", "fd00:ec2::254", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
            "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2001:db8::1", "::127.0.0.1",
        ] {
            assert!(blocked(ip), "{ip} should be refused");
        }
        assert_eq!(blocked_ip("169.254.169.254".parse().unwrap()), Some("the cloud metadata address"));
        assert_eq!(blocked_ip("fd00:ec2::254".parse().unwrap()), Some("the cloud metadata address"));
    }

    #[tokio::test]
    async fn a_name_that_does_not_exist_is_told_apart() {
        use std::str::FromStr;
        let resolver = GuardedResolver { policy: Arc::new(Policy::default()) };
        let err = resolver.resolve(Name::from_str("no-such-shop.invalid").unwrap()).await.err().expect("no such host");
        assert!(err.downcast_ref::<NoSuchHost>().is_some_and(|e| e.host == "no-such-shop.invalid"), "{err}");
        let gai = std::io::Error::other("failed to lookup address information: Name or service not known");
        assert!(no_such_name(&gai));
        let again = std::io::Error::other("failed to lookup address information: Temporary failure in name resolution");
        assert!(!no_such_name(&again), "a resolver that cannot answer now is retried");
    }

    #[test]
    fn public_addresses_pass() {
        for ip in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(!blocked(ip), "{ip} should pass");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_private_addresses() {
        use std::str::FromStr;
        // A dotted name the system resolves to loopback without DNS: the IP check must catch it.
        let resolver = GuardedResolver { policy: Arc::new(Policy::default()) };
        let err = resolver.resolve(Name::from_str("127.0.0.1").unwrap()).await.err().expect("refused");
        let blocked = err.downcast_ref::<BlockedAddress>().expect("a BlockedAddress");
        assert_eq!(blocked.why, "a loopback address");
        let allowing = GuardedResolver { policy: Arc::new(Policy::new(&["127.0.0.1".into()])) };
        let addrs: Vec<SocketAddr> = allowing.resolve(Name::from_str("127.0.0.1").unwrap()).await.map_err(|e| e.to_string()).unwrap().collect();
        assert_eq!(addrs[0].ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn internal_names_are_refused_and_the_allow_list_is_exact() {
        for name in ["localhost", "api.localhost", "metadata.google.internal", "metadata", "printer.local", "router.home.arpa"] {
            assert!(blocked_name(name).is_some(), "{name}");
        }
        assert!(blocked_name("example.com").is_none());
        let p = Policy::new(&["127.0.0.1".into(), "Wiki.Corp.Example".into()]);
        assert!(p.allows_host("127.0.0.1") && p.allows_host("wiki.corp.example") && !p.allows_host("127.0.0.2"));
    }
}
