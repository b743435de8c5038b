//! robots.txt (RFC 9309): the group for `bellhop` if there is one, else the `*` group;
//! `Allow`/`Disallow` with `*` and `$`, the longest matching rule wins and `Allow` wins a tie.
//! Also read: `Sitemap:` lines (any group) and `Crawl-delay` (not in the RFC; honoured up to
//! 5 s). Fetching it: a 4xx answer means no rules; a 5xx answer or no answer means "crawl
//! nothing" (RFC 9309 §2.3.1.4), a failure of the start URL reported as such.
use std::time::Duration;

/// The product token we match in `User-agent` lines.
pub const PRODUCT_TOKEN: &str = "bellhop";
/// Largest robots.txt read (RFC 9309 asks parsers to read at least 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    pattern: String,
}

/// The rules that apply to bellhop on one site.
#[derive(Debug, Clone, Default)]
pub struct Robots {
    rules: Vec<Rule>,
    /// Everything disallowed (the site's robots.txt answered 5xx or not at all).
    disallow_all: bool,
    pub sitemaps: Vec<String>,
    pub crawl_delay: Option<Duration>,
}

impl Robots {
    /// No rules at all (no robots.txt).
    pub fn allow_all() -> Self {
        Robots::default()
    }

    /// Nothing may be fetched.
    pub fn disallow_all() -> Self {
        Robots { disallow_all: true, ..Robots::default() }
    }

    pub fn parse(text: &str) -> Self {
        let text = &text[..floor_char_boundary(text, MAX_ROBOTS_BYTES)];
        struct Group {
            agents: Vec<String>,
            rules: Vec<Rule>,
            delay: Option<f64>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut sitemaps = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group { agents: Vec::new(), rules: Vec::new(), delay: None });
                    }
                    in_agents = true;
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // An empty Disallow allows everything: no rule.
                        if !value.is_empty() {
                            g.rules.push(Rule { allow: key == "allow", pattern: value.to_owned() });
                        }
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        g.delay = value.parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 0.0);
                    }
                }
                "sitemap" => sitemaps.push(value.to_owned()),
                _ => {}
            }
        }
        let ours = |g: &&Group| g.agents.iter().any(|a| a == PRODUCT_TOKEN || a.starts_with("bellhop/"));
        let chosen: Vec<&Group> = if groups.iter().any(|g| ours(&g)) {
            groups.iter().filter(|g| ours(g)).collect()
        } else {
            groups.iter().filter(|g| g.agents.iter().any(|a| a == "*")).collect()
        };
        Robots {
            rules: chosen.iter().flat_map(|g| g.rules.iter().cloned()).collect(),
            disallow_all: false,
            sitemaps,
            crawl_delay: chosen.iter().find_map(|g| g.delay).map(|d| Duration::from_secs_f64(d.min(5.0))),
        }
    }

    /// Whether `path` (path and query of a URL, starting with `/`) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        if self.disallow_all {
            return false;
        }
        let mut best: Option<&Rule> = None;
        for rule in &self.rules {
            if matches(&rule.pattern, path) {
                best = match best {
                    Some(b) if b.pattern.len() > rule.pattern.len() || (b.pattern.len() == rule.pattern.len() && b.allow) => Some(b),
                    _ => Some(rule),
                };
            }
        }
        best.is_none_or(|r| r.allow)
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Robots pattern match: `*` matches any run of characters, a trailing `$` anchors the end;
/// otherwise the pattern matches a prefix of the path.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let p = pattern.as_bytes();
    let s = path.as_bytes();
    // Iterative wildcard matching with backtracking to the last `*` (linear-ish, no recursion).
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi == p.len() {
            if !anchored || si == s.len() {
                return true;
            }
        } else if p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
            continue;
        } else if si < s.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
            continue;
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_group_wins_and_the_longest_rule_decides() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /\n\nUser-agent: Bellhop\nUser-agent: other\nDisallow: /private\nAllow: /private/faq\nDisallow: /*.pdf$\nCrawl-delay: 1\nSitemap: https://x.example/s.xml\n",
        );
        assert!(r.allowed("/"));
        assert!(r.allowed("/about"));
        assert!(!r.allowed("/private/notes"));
        assert!(r.allowed("/private/faq/1"));
        assert!(!r.allowed("/files/a.pdf"));
        assert!(r.allowed("/files/a.pdf?x=1"));
        assert_eq!(r.sitemaps, ["https://x.example/s.xml"]);
        assert_eq!(r.crawl_delay, Some(Duration::from_secs(1)));
    }

    #[test]
    fn star_group_applies_otherwise_and_ties_allow() {
        let r = Robots::parse("User-agent: googlebot\nDisallow: /\nUser-agent: *\nDisallow: /a\nAllow: /a\nDisallow: /b*c\nDisallow:\n");
        assert!(r.allowed("/a/x"));
        assert!(!r.allowed("/b/long/c/x"));
        assert!(r.allowed("/b/long"));
        assert!(Robots::parse("").allowed("/anything"));
        assert!(!Robots::disallow_all().allowed("/"));
    }
}
