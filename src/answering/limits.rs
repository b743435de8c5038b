//! Per-instance limits and measurements of answering: how many model calls of one business run
//! at once ([`TenantPermits`]), and the pipeline's own time per model answer ([`Overhead`]).
//! Both belong to the application instance that owns them — never to the process — so two
//! instances (tests, benchmarks) never share a limit or a sample.
use crate::domain::TenantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// At most `limit` model calls of one business at once in this instance. Cheap to clone; clones
/// share the permits.
#[derive(Clone)]
pub struct TenantPermits {
    limit: usize,
    map: Arc<Mutex<HashMap<TenantId, Arc<Semaphore>>>>,
}

impl TenantPermits {
    /// `limit` model calls per business at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), map: Arc::default() }
    }

    /// The business's permits.
    pub fn of(&self, tenant: TenantId) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant).or_insert_with(|| Arc::new(Semaphore::new(self.limit))).clone()
    }
}

/// Where one model answer's time went, from its job's start: the marks taken on the way.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The answer pipeline started (conversation, customer message and history are in before it).
    pub answering: Instant,
    /// Retrieval's share of the pipeline: embedding the question, the hybrid search, the passages.
    pub retrieval: Duration,
    /// Retrieval by step.
    pub steps: crate::answering::compose::RetrievalSteps,
    /// The model's share of the pipeline (excluded from the overhead).
    pub model: Duration,
    /// The pipeline ended; the reply is stored next, then sent.
    pub answered: Instant,
}

impl Timing {
    /// The overhead's phases for an answer whose job started at `started`, whose reply was
    /// stored by `stored` and sent by `sent`: (before, retrieval, generation without the model,
    /// store, send).
    pub fn phases(&self, started: Instant, stored: Instant, sent: Instant) -> [(&'static str, Duration); 5] {
        let pipeline = self.answered.saturating_duration_since(self.answering);
        [
            ("before", self.answering.saturating_duration_since(started)),
            ("retrieval", self.retrieval),
            ("generation", pipeline.saturating_sub(self.retrieval).saturating_sub(self.model)),
            ("store", stored.saturating_duration_since(self.answered)),
            ("send", sent.saturating_duration_since(stored)),
        ]
    }
}

/// An answer whose own time is over this is logged as slow (the target of BENCHMARKS.md).
pub const SLOW: Duration = Duration::from_millis(100);

/// The pipeline's own time per model answer (job start → reply sent, minus the model's time).
/// Every sample goes to the `bellhop_answer_overhead_seconds` histogram; while a benchmark
/// [captures](Self::capture), the samples are kept for it too. Cheap to clone.
#[derive(Clone, Default)]
pub struct Overhead {
    captured: Arc<Mutex<Option<Vec<Duration>>>>,
}

impl Overhead {
    /// Records the overhead of an answer sent just now, whose job started at `started` and
    /// whose reply was stored by `stored`: in all and by phase. One over [`SLOW`] is also
    /// logged with its phases (target `bellhop::slow_answer`, level info), like a database's
    /// slow-query log: where the time of the answers that miss the target went.
    ///
    /// `waited`: how long the sending waited for its turn — Telegram's 429 pauses and the
    /// per-chat and per-bot limits — which is not the pipeline's own time: left out of the
    /// overhead and of its `send` phase, as the model's time is.
    pub fn record_sent(&self, started: Instant, t: &Timing, stored: Instant, waited: Duration) {
        let now = Instant::now();
        let sent = now.checked_sub(waited).unwrap_or(now).max(stored);
        let phases = t.phases(started, stored, sent);
        for (phase, took) in phases {
            crate::metrics::record_answer_phase(phase, took);
        }
        for (step, took) in t.steps.named() {
            crate::metrics::record_retrieval_step(step, took);
        }
        let overhead = sent.saturating_duration_since(started).saturating_sub(t.model);
        if overhead > SLOW {
            let ms = |d: Duration| d.as_millis() as u64;
            let [before, retrieval, generation, store, send] = phases.map(|p| ms(p.1));
            let s = &t.steps;
            tracing::info!(
                target: "bellhop::slow_answer",
                overhead_ms = ms(overhead), before_ms = before, retrieval_ms = retrieval, generation_ms = generation, store_ms = store, send_ms = send,
                embed_ms = ms(s.embed), lookup_ms = ms(s.lookup), search_ms = ms(s.search), sentences_ms = ms(s.sentences),
                uptime_ms = ms(crate::telemetry::uptime()), at_ms = crate::storage::now_ms(),
                "an answer's own time (model excluded) was over 100 ms"
            );
        }
        self.record(overhead);
    }

    /// Records one answer's overhead.
    pub fn record(&self, d: Duration) {
        crate::metrics::record_answer_overhead(d);
        if let Some(v) = self.captured.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            v.push(d);
        }
    }

    /// Keeps the samples recorded from now on (until [`take`](Self::take)); drops any kept before.
    pub fn capture(&self) {
        *self.captured.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }

    /// The samples kept since [`capture`](Self::capture); stops keeping them.
    pub fn take(&self) -> Vec<Duration> {
        self.captured.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_per_business_and_per_instance() {
        let a = TenantPermits::new(2);
        let _held = a.of(TenantId(1)).try_acquire_owned().unwrap();
        assert_eq!(a.of(TenantId(1)).available_permits(), 1);
        assert_eq!(a.of(TenantId(2)).available_permits(), 2);
        assert_eq!(a.clone().of(TenantId(1)).available_permits(), 1, "clones share the permits");
        assert_eq!(TenantPermits::new(2).of(TenantId(1)).available_permits(), 2, "another instance has its own");
        assert_eq!(TenantPermits::new(0).of(TenantId(1)).available_permits(), 1, "at least one");
    }

    #[test]
    fn the_phases_add_up_to_the_overhead() {
        let started = Instant::now();
        let ms = Duration::from_millis;
        let t = Timing { answering: started + ms(5), retrieval: ms(20), steps: Default::default(), model: ms(800), answered: started + ms(835) };
        let phases = t.phases(started, started + ms(840), started + ms(900));
        assert_eq!(phases, [("before", ms(5)), ("retrieval", ms(20)), ("generation", ms(10)), ("store", ms(5)), ("send", ms(60))]);
        assert_eq!(phases.iter().map(|p| p.1).sum::<Duration>(), ms(900) - t.model);
    }

    #[test]
    fn overhead_samples_are_kept_only_while_captured() {
        let o = Overhead::default();
        o.record(Duration::from_millis(1));
        o.capture();
        o.record(Duration::from_millis(2));
        o.clone().record(Duration::from_millis(3));
        assert_eq!(o.take(), vec![Duration::from_millis(2), Duration::from_millis(3)]);
        o.record(Duration::from_millis(4));
        assert!(o.take().is_empty());
    }
}
