//! `knowledge.*`: chunking, ingestion limits and URL import (docs/ingestion.md).
use super::read::Reader;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    pub chunk_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub max_file_bytes: u64,
    pub max_tenant_bytes: u64,
    /// Lowercase host names exempt from the private-address check of URL import.
    pub url_allow_hosts: Vec<String>,
    pub fetch_timeout: Duration,
    pub fetch_max_bytes: u64,
    pub crawl_max_pages: usize,
    /// `knowledge.crawl_budget_seconds`: time for one whole-site crawl.
    pub crawl_budget: std::time::Duration,
    /// `knowledge.max_qa_pairs`: Q&A pairs one bot (or the knowledge no bot uses) may hold.
    pub max_qa_pairs: i64,
}

pub(super) fn parse(r: &mut Reader) -> KnowledgeConfig {
    let chunk_tokens = r.number("knowledge.chunk_tokens", 32, 2048) as usize;
    let chunk_overlap_tokens = r.number("knowledge.chunk_overlap_tokens", 0, 1024) as usize;
    let knowledge = KnowledgeConfig {
        chunk_tokens,
        chunk_overlap_tokens,
        max_file_bytes: r.number("knowledge.max_file_bytes", 1024, 1 << 34),
        max_tenant_bytes: r.number("knowledge.max_tenant_bytes", 1024, 1 << 44),
        url_allow_hosts: r
            .get("knowledge.url_allow_hosts")
            .map(|v| v.split(',').map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default(),
        fetch_timeout: Duration::from_secs(r.number("knowledge.fetch_timeout_seconds", 1, 3600)),
        fetch_max_bytes: r.number("knowledge.fetch_max_bytes", 1024, 1 << 34),
        crawl_max_pages: r.number("knowledge.crawl_max_pages", 1, 100_000) as usize,
        crawl_budget: std::time::Duration::from_secs(r.number("knowledge.crawl_budget_seconds", 10, 86_400)),
        max_qa_pairs: r.number("knowledge.max_qa_pairs", 1, 1_000_000) as i64,
    };
    if chunk_overlap_tokens * 2 >= chunk_tokens {
        r.bad("knowledge.chunk_overlap_tokens", format!("must be less than half of knowledge.chunk_tokens ({chunk_tokens})"));
    }
    knowledge
}
