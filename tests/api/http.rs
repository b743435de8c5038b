//! Health, readiness, metrics, request ids and graceful shutdown.
use crate::helpers::*;
use std::time::Duration;

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

/// With a Qdrant server configured, a process that cannot reach it cannot answer anyone: it is
/// not ready, and says that the vector index is why (it was "ready" with Qdrant down).
#[tokio::test]
async fn readiness_says_the_vector_index_is_unreachable_when_the_qdrant_server_is_down() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_QDRANT_URL", format!("http://127.0.0.1:{closed}"));
    })
    .await;
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.starts_with(&format!("vector index (Qdrant at http://127.0.0.1:{closed}) unreachable: ")), "{body}");
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await.unwrap();
}

/// A worker has no HTTP port but the internal one (`http.metrics_listen`): it serves `/healthz`
/// and `/readyz` there too (a worker had no health endpoint at all), and `/metrics` shows the
/// queue's depth — jobs queued, running and dead-lettered, read from the database.
#[tokio::test]
async fn a_worker_serves_health_readiness_and_the_queues_depth_on_the_internal_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(dir.path()).await;
    s.set("BELLHOP_METRICS_LISTEN", "127.0.0.1:0");
    let app = bellhop::app::Application::build(s.config(bellhop::config::Needs::Storage), bellhop::app::Role::Worker, true).await.unwrap();
    assert!(app.local_addr().is_none(), "a worker has no web port");
    let internal = app.metrics_addr().unwrap();
    let (state, stop) = (app.state.clone(), app.state.shutdown.clone());
    // Two jobs that wait (due tomorrow), one dead-lettered.
    let q = &state.queue;
    for _ in 0..2 {
        let mut job = q.job(bellhop::jobs::DEFAULT, "later", &());
        job.run_at_ms = bellhop::storage::now_ms() + 86_400_000;
        q.enqueue(&job).await.unwrap().unwrap();
    }
    let dead = q.enqueue(&q.job(bellhop::jobs::DEFAULT, "no-such-kind", &())).await.unwrap().unwrap();
    let task = tokio::spawn(app.run(bellhop::web::router));
    wait_until(Duration::from_secs(20), || async {
        bellhop::storage::jobs::last_error(&state.db.pool, dead).await.unwrap().is_some_and(|j| j.state == "dead")
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move { http.get(format!("http://{internal}{path}")).send().await.unwrap() }
    };
    assert_eq!(get("/healthz").await.text().await.unwrap(), "ok");
    let r = get("/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready");
    let body = get("/metrics").await.text().await.unwrap();
    // At least these (the process may queue work of its own).
    let gauge = |state: &str| -> i64 {
        let prefix = format!("bellhop_jobs_in_state{{state=\"{state}\"}} ");
        body.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("no gauge for {state}:\n{body}")).parse().unwrap()
    };
    assert!(gauge("queued") >= 2 && gauge("dead") >= 1 && gauge("running") >= 0, "{body}");
    stop.cancel();
    task.await.unwrap().unwrap();
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
