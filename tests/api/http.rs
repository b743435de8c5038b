//! Health, readiness, metrics, request ids and graceful shutdown.
use crate::helpers::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready");
    let body = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("bellhop_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"), "{body}");
    assert!(body.contains("# TYPE bellhop_jobs counter"), "{body}");
    assert!(body.contains("bellhop_telegram_calls"), "{body}");
    assert!(body.contains("bellhop_model_tokens"), "{body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = r.headers().get("x-request-id").expect("request id").to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = app.http.get(app.url("/healthz")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "trace-me-42");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_hands_back_job_leases() {
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_HTTP_SHUTDOWN_GRACE_SECONDS", "0");
    })
    .await;
    // A job that runs far longer than the grace period.
    let job = app.state.queue.job(bellhop::jobs::DEFAULT, bellhop::jobs::selftest::KIND, &serde_json::json!({"value": 1, "sleep_ms": 60_000}));
    let id = app.state.queue.enqueue(&job).await.unwrap().unwrap();
    wait_until(std::time::Duration::from_secs(10), || async {
        bellhop::storage::jobs::last_error(&app.db().pool, id).await.unwrap().unwrap().0 == "running"
    })
    .await;
    let db = app.db().clone();
    app.stop().await.unwrap();
    let (state, _, attempts) = bellhop::storage::jobs::last_error(&db.pool, id).await.unwrap().unwrap();
    assert_eq!(state, "queued", "lease not handed back");
    assert_eq!(attempts, 0, "an interrupted attempt must not count against the job");
}
