//! Prometheus metrics: HTTP requests, jobs, Telegram calls and model tokens, served at `/metrics`.
//!
//! One process-wide registry (metrics are process-wide by nature); recording functions are plain
//! calls so that instrumented code does not carry a handle around. Label values are bounded sets
//! (route templates, method names, job kinds) — never ids, tokens or user text.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    queue: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TelegramLabels {
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    kind: String,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].into_iter()
}

struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
    jobs: Family<JobLabels, Counter>,
    job_duration: Family<JobLabels, Histogram>,
    job_wait: Family<QueueLabels, Histogram>,
    jobs_in_state: Family<StateLabels, Gauge>,
    telegram_calls: Family<TelegramLabels, Counter>,
    telegram_duration: Family<TelegramLabels, Histogram>,
    model_tokens: Family<ModelLabels, Counter>,
    answer_overhead: Histogram,
    answer_phases: Family<PhaseLabels, Histogram>,
    retrieval_steps: Family<StepLabels, Histogram>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("bellhop");
    let hist = || Histogram::new(latency_buckets());
    let m = Metrics {
        http_requests: Family::default(),
        http_duration: Family::new_with_constructor(hist),
        jobs: Family::default(),
        job_duration: Family::new_with_constructor(hist),
        job_wait: Family::new_with_constructor(hist),
        jobs_in_state: Family::default(),
        telegram_calls: Family::default(),
        telegram_duration: Family::new_with_constructor(hist),
        model_tokens: Family::default(),
        answer_overhead: Histogram::new(latency_buckets()),
        answer_phases: Family::new_with_constructor(hist),
        retrieval_steps: Family::new_with_constructor(hist),
        registry: Registry::default(),
    };
    registry.register("http_requests", "HTTP requests served", m.http_requests.clone());
    registry.register("http_request_duration_seconds", "HTTP request latency", m.http_duration.clone());
    registry.register("jobs", "Jobs finished, by queue and outcome", m.jobs.clone());
    registry.register("job_duration_seconds", "Job run time", m.job_duration.clone());
    registry.register("job_wait_seconds", "Time from a job being due to a worker starting it, by queue", m.job_wait.clone());
    registry.register("jobs_in_state", "Jobs queued, running and dead-lettered, over the whole cluster (read at each scrape)", m.jobs_in_state.clone());
    registry.register("telegram_calls", "Bot API calls, by method and outcome", m.telegram_calls.clone());
    registry.register("telegram_call_duration_seconds", "Bot API call latency", m.telegram_duration.clone());
    registry.register("model_tokens", "Model tokens, by model and kind (prompt/completion/embedding)", m.model_tokens.clone());
    registry.register(
        "answer_overhead_seconds",
        "The answering pipeline's own time per model answer: job start to reply sent, minus the model's time",
        m.answer_overhead.clone(),
    );
    registry.register(
        "answer_phase_seconds",
        "The answering overhead by phase (before, retrieval, generation, store, send; model time excluded)",
        m.answer_phases.clone(),
    );
    registry.register(
        "answer_retrieval_step_seconds",
        "The retrieval phase of model answers by step (embed, lookup, search, sentences)",
        m.retrieval_steps.clone(),
    );
    Metrics { registry, ..m }
});

/// One HTTP request; `route` is the matched route template (never the raw path) and `method`
/// one of a fixed set: anything a client can choose freely would grow the label sets forever.
pub fn record_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    let l = HttpLabels { method: method.to_owned(), route: route.to_owned(), status };
    METRICS.http_requests.get_or_create(&l).inc();
    METRICS.http_duration.get_or_create(&l).observe(elapsed.as_secs_f64());
}

/// The queue's depth as read from the database just now.
pub fn set_jobs_in_state(d: &crate::storage::jobs::QueueDepth) {
    for (state, n) in [("queued", d.queued), ("running", d.running), ("dead", d.dead)] {
        METRICS.jobs_in_state.get_or_create(&StateLabels { state }).set(n);
    }
}

/// One job attempt; `outcome` is `done`, `retry` or `dead`.
pub fn record_job(queue: &str, outcome: &str, elapsed: Duration) {
    let l = JobLabels { queue: queue.to_owned(), outcome: outcome.to_owned() };
    METRICS.jobs.get_or_create(&l).inc();
    METRICS.job_duration.get_or_create(&l).observe(elapsed.as_secs_f64());
}

/// A job started `waited` after it became due (its queue wait: too few slots, fairness, a
/// chat's earlier message still running).
pub fn record_job_wait(queue: &str, waited: Duration) {
    METRICS.job_wait.get_or_create(&QueueLabels { queue: queue.to_owned() }).observe(waited.as_secs_f64());
}

/// One Bot API call; `outcome` is `ok` or the error class (`retry_after`, `unauthorized`, …).
pub fn record_telegram_call(method: &str, outcome: &str, elapsed: Duration) {
    let l = TelegramLabels { method: method.to_owned(), outcome: outcome.to_owned() };
    METRICS.telegram_calls.get_or_create(&l).inc();
    METRICS.telegram_duration.get_or_create(&l).observe(elapsed.as_secs_f64());
}

/// Tokens used by a model call; `kind` is `prompt`, `completion` or `embedding`.
pub fn record_model_tokens(model: &str, kind: &str, tokens: u64) {
    let l = ModelLabels { model: model.to_owned(), kind: kind.to_owned() };
    METRICS.model_tokens.get_or_create(&l).inc_by(tokens);
}

/// The answering pipeline's own time for one model answer (the model's time excluded).
pub fn record_answer_overhead(elapsed: Duration) {
    METRICS.answer_overhead.observe(elapsed.as_secs_f64());
}

/// One phase of one model answer's overhead (see [`crate::answering::Overhead`]).
pub fn record_answer_phase(phase: &'static str, elapsed: Duration) {
    METRICS.answer_phases.get_or_create(&PhaseLabels { phase }).observe(elapsed.as_secs_f64());
}

/// One step of one model answer's retrieval (see [`crate::answering::compose::RetrievalSteps`]).
pub fn record_retrieval_step(step: &'static str, elapsed: Duration) {
    METRICS.retrieval_steps.get_or_create(&StepLabels { step }).observe(elapsed.as_secs_f64());
}

/// `/metrics`' response: the registry in OpenMetrics text.
pub fn response() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], render())
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &METRICS.registry).expect("writing to a String cannot fail");
    out
}
