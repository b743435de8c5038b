//! robots.txt (RFC 9309), read by `texting_robots`: the group for `bellhop` if there is one,
//! else the `*` group; `Allow`/`Disallow` with `*` and `$`, the longest matching rule wins and
//! `Allow` wins a tie. Also read: `Sitemap:` lines (any group) and `Crawl-delay` (not in the
//! RFC; honoured up to 5 s). Fetching it (`crawl`): any content type, the first
//! [`MAX_ROBOTS_BYTES`]; a 4xx answer means no rules; a 5xx answer, a 429 or no answer means
//! "crawl nothing" for now (RFC 9309 §2.3.1.4): the import fails as unreachable and is retried.
//!
//! Budgets around the crate (docs/ingestion.md has the measurements): at most
//! [`MAX_ROBOTS_BYTES`] are read, and a file with more than [`MAX_ANCHORED_RULES`] `$` rules —
//! each of which the crate compiles to a regular expression of about 11 KB — is not evaluated
//! but treated like an unreadable one: crawl nothing. So is a file the crate refuses.
use std::sync::Arc;
use std::time::Duration;

/// The product token we match in `User-agent` lines.
pub const PRODUCT_TOKEN: &str = "bellhop";
/// Largest robots.txt read (RFC 9309 asks parsers to read at least 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;
/// Most lines with a `$` (end-anchored rules) evaluated. Real files have a handful; 1,000 cost
/// about 11 MB and 0.1 s to read (32,000 would cost 340 MB and 2.3 s).
pub const MAX_ANCHORED_RULES: usize = 1_000;

#[derive(Debug, Clone)]
enum Rules {
    /// No robots.txt, or no rules for us.
    AllowAll,
    /// The site's robots.txt answered 5xx, not at all, or is beyond our budget.
    DisallowAll,
    Parsed(Arc<texting_robots::Robot>),
}

/// The rules that apply to bellhop on one site.
#[derive(Debug, Clone)]
pub struct Robots {
    rules: Rules,
    pub sitemaps: Vec<String>,
    pub crawl_delay: Option<Duration>,
}

impl Robots {
    /// No rules at all (no robots.txt).
    pub fn allow_all() -> Self {
        Robots { rules: Rules::AllowAll, sitemaps: Vec::new(), crawl_delay: None }
    }

    /// Nothing may be fetched.
    pub fn disallow_all() -> Self {
        Robots { rules: Rules::DisallowAll, ..Robots::allow_all() }
    }

    pub fn parse(text: &str) -> Self {
        let text = &text[..floor_char_boundary(text, MAX_ROBOTS_BYTES)];
        let anchored = text.lines().filter(|l| l.split('#').next().is_some_and(|l| l.contains('$'))).count();
        if anchored > MAX_ANCHORED_RULES {
            tracing::info!(anchored, "robots.txt has more end-anchored rules than we evaluate: treating the site as disallowed");
            return Robots::disallow_all();
        }
        match texting_robots::Robot::new(PRODUCT_TOKEN, text.as_bytes()) {
            Ok(robot) => Robots {
                sitemaps: robot.sitemaps.clone(),
                crawl_delay: robot.delay.filter(|d| d.is_finite() && *d >= 0.0).map(|d| Duration::from_secs_f64(f64::from(d).min(5.0))),
                rules: Rules::Parsed(Arc::new(robot)),
            },
            Err(e) => {
                tracing::info!(error = %e, "robots.txt could not be read: treating the site as disallowed");
                Robots::disallow_all()
            }
        }
    }

    /// Whether `path` (path and query of a URL, starting with `/`) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        match &self.rules {
            Rules::AllowAll => true,
            Rules::DisallowAll => false,
            Rules::Parsed(robot) => robot.allowed(path),
        }
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
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

    #[test]
    fn non_ascii_rules_match_percent_encoded_paths() {
        let r = Robots::parse("User-agent: *\nDisallow: /café\n");
        assert!(!r.allowed("/caf%C3%A9/menu"));
        assert!(r.allowed("/cafe"));
    }

    #[test]
    fn a_file_beyond_the_rule_budget_means_crawl_nothing() {
        let many = "User-agent: *\n".to_owned() + &"Disallow: /x*y$\n".repeat(MAX_ANCHORED_RULES + 1);
        assert!(!Robots::parse(&many).allowed("/"));
        // At the budget it is read as usual.
        let some = "User-agent: *\n".to_owned() + &"Disallow: /x*y$\n".repeat(MAX_ANCHORED_RULES);
        assert!(Robots::parse(&some).allowed("/"));
        // Thousands of wildcard rules without `$` are cheap (no regex) and are read.
        let stars = "User-agent: *\nDisallow: /private\n".to_owned() + &"Disallow: /*a*a*a*a*a*a*a*a*a*b\n".repeat(20_000);
        let r = Robots::parse(&stars);
        assert!(r.allowed("/") && !r.allowed("/private/x"));
    }
}
