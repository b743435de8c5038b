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
        bellhop::storage::jobs::last_error(&app.db().pool, id).await.unwrap().unwrap().state == "running"
    })
    .await;
    let db = app.db().clone();
    app.stop().await.unwrap();
    let bellhop::storage::jobs::JobState { state, attempts, .. } = bellhop::storage::jobs::last_error(&db.pool, id).await.unwrap().unwrap();
    assert_eq!(state, "queued", "lease not handed back");
    assert_eq!(attempts, 0, "an interrupted attempt must not count against the job");
}

/// The lines of `/metrics` about HTTP requests to the routes the test below uses. (The metrics
/// are process-wide and other tests run beside this one; they reach these routes only with
/// methods and statuses the warm-up already produced.)
async fn http_series(app: &TestApp) -> Vec<String> {
    let body = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    body.lines()
        .filter(|l| l.starts_with("bellhop_http_request"))
        .filter(|l| l.contains("route=\"/\"") || l.contains("route=\"/healthz\"") || l.contains("route=\"unmatched\""))
        .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_owned())
        .collect()
}

/// Issue 16, item 3: every distinct method used to add a label set to `/metrics` — unbounded
/// memory for anyone on the internet.
#[tokio::test]
async fn a_bounded_run_of_random_methods_and_paths_leaves_metrics_the_same_size() {
    use rand::Rng;
    let app = spawn_app().await;
    let send = |method: &str, path: String| {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.http.request(m, app.url(&path)).send()
    };
    let random_word = |rng: &mut rand::rngs::ThreadRng, len: usize| -> String {
        (0..len).map(|_| if rng.gen_bool(0.5) { rng.gen_range(b'A'..=b'Z') as char } else { rng.gen_range(b'a'..=b'z') as char }).collect()
    };
    let paths = |rng: &mut rand::rngs::ThreadRng| ["/".to_owned(), "/healthz".to_owned(), format!("/{}/{}", random_word(rng, 9), random_word(rng, 5))];
    // Warm-up: each known method and one unknown, on each kind of path.
    let mut rng = rand::thread_rng();
    for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "WARMUP"] {
        for path in paths(&mut rng) {
            send(method, path).await.unwrap();
        }
    }
    let before = http_series(&app).await;
    let mut verbs = Vec::new();
    for _ in 0..300 {
        let len = rng.gen_range(3..12);
        let verb = random_word(&mut rng, len);
        if ["GET", "PUT", "POST", "HEAD", "PATCH", "TRACE", "DELETE", "OPTIONS", "CONNECT"].contains(&verb.to_ascii_uppercase().as_str()) {
            continue;
        }
        let i = rng.gen_range(0..3);
        let path = paths(&mut rng)[i].clone();
        send(&verb, path).await.unwrap();
        verbs.push(verb);
    }
    let after = http_series(&app).await;
    let grown: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    assert!(grown.is_empty(), "{} new series, e.g. {:?}", grown.len(), &grown[..grown.len().min(3)]);
    assert_eq!(after.len(), before.len());
    let body = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!verbs.iter().any(|v| body.contains(&format!("method=\"{v}\""))), "a random method became a label");
    app.stop().await.unwrap();
}
