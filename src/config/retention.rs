//! `retention.*`: how long data that only serves operations is kept before the purge.
use super::read::Reader;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone)]
pub struct RetentionConfig {
    pub updates: Duration,
    pub jobs: Duration,
    pub dead_jobs: Duration,
    pub stripe_events: Duration,
    pub interval: Duration,
}

pub(super) fn parse(r: &mut Reader) -> RetentionConfig {
    RetentionConfig {
        updates: DAY * r.number("retention.updates_days", 2, 3650) as u32,
        jobs: DAY * r.number("retention.jobs_days", 1, 3650) as u32,
        dead_jobs: DAY * r.number("retention.dead_jobs_days", 1, 3650) as u32,
        stripe_events: DAY * r.number("retention.stripe_events_days", 4, 3650) as u32,
        interval: Duration::from_secs(60 * r.number("retention.interval_minutes", 1, 1440)),
    }
}
