//! Throughput on loopback: the sandbox serving `sendMessage`, and bellhop's client driving it.
//! Ignored by default; run with
//! `cargo test --release --test api sandbox_bench -- --ignored --nocapture`.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::BotToken;
use bellhop_sandbox::SandboxOptions;
use bellhop_telegram::methods::{GetMe, SendMessage};
use serde_json::json;
use std::time::{Duration, Instant};

async fn measure<F, Fut>(concurrency: usize, duration: Duration, f: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < duration {
                assert!(f(worker).await, "a request failed");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run explicitly with --release"]
async fn sandbox_bench_requests_per_second_on_loopback() {
    let sb = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let mut bots = Vec::new();
    for i in 0..16 {
        let b = sb.post("bots", json!({ "username": format!("bench{i}_bot") })).await;
        bots.push((b["id"].as_i64().unwrap(), BotToken::parse(b["token"].as_str().unwrap()).unwrap()));
    }
    let ids: Vec<i64> = bots.iter().map(|b| b.0).collect();
    let user = sb.post("users", json!({ "first_name": "Bench", "started_bots": ids })).await["id"].as_i64().unwrap();
    let secs = Duration::from_secs(5);
    let client = sb.client.clone();
    let b2 = bots.clone();
    let get_me = measure(64, secs, move |w| {
        let (client, token) = (client.clone(), b2[w % b2.len()].1.clone());
        async move { client.call(&token, &GetMe {}).await.is_ok() }
    })
    .await;
    let client = sb.client.clone();
    let b3 = bots.clone();
    let send = measure(64, secs, move |w| {
        let (client, token) = (client.clone(), b3[w % b3.len()].1.clone());
        async move { client.call(&token, &SendMessage::new(user, "benchmark message text")).await.is_ok() }
    })
    .await;
    println!("bellhop client → sandbox on loopback, 64 concurrent callers, 16 bots: getMe {get_me:.0} req/s, sendMessage {send:.0} req/s");
}
