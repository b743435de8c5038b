//! `jobs.*`: the durable job queue's workers, leases and retries.
use super::read::Reader;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub concurrency: usize,
    pub priority_concurrency: usize,
    pub tenant_concurrency: usize,
    pub lease: Duration,
    pub max_attempts: u32,
    pub poll_interval: Duration,
    pub retry_base: Duration,
    /// How long a job that fails for an outage of the database or the vector index keeps
    /// being retried without using up its attempts (zero: outages count like other failures).
    pub outage_budget: Duration,
}

pub(super) fn parse(r: &mut Reader) -> JobsConfig {
    JobsConfig {
        concurrency: r.number("jobs.concurrency", 1, 1024) as usize,
        priority_concurrency: r.number("jobs.priority_concurrency", 1, 1024) as usize,
        tenant_concurrency: r.number("jobs.tenant_concurrency", 1, 100_000) as usize,
        lease: Duration::from_secs(r.number("jobs.lease_seconds", 1, 86_400)),
        max_attempts: r.number("jobs.max_attempts", 1, 100) as u32,
        poll_interval: Duration::from_millis(r.number("jobs.poll_interval_ms", 1, 60_000)),
        retry_base: Duration::from_millis(r.number("jobs.retry_base_ms", 1, 3_600_000)),
        outage_budget: Duration::from_secs(60 * r.number("jobs.outage_budget_minutes", 0, 10_080)),
    }
}
