//! No bot token in any error, `Debug` output or log line, on every failure path of the client:
//! connection refused (reqwest errors carry the URL, which holds the token), 401, 400, 404, a
//! non-JSON answer, a timeout.
use crate::sandbox_support::TestSandbox;
use bellhop_telegram::BotToken;
use bellhop_telegram::methods::*;
use bellhop_telegram::{Client, Throttle, ThrottleLimits};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_token_appears_in_errors_debug_output_or_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || sink.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sb = TestSandbox::start().await;
    let secret = "987654:AAsecretSECRETsecretSECRETsecret12345";
    let token = BotToken::parse(secret).unwrap();
    let manager = sb.manager();
    // The client's log lines are callsites shared with the tests running on other threads.
    // tracing-core computes a callsite's interest once, when it is first hit, from the
    // subscribers alive at that moment; a test on another thread hitting it while this
    // subscriber was being set can leave it cached as "nobody listens" (the callsite is
    // registered after its interest is computed, so even a rebuild can miss it). So ask every
    // callsite again and go through the failures; if the client's line is still missing, the
    // cache was caught mid-registration: once everything is registered, a rebuild is exact, so
    // a second pass settles it. A client that never logs fails all three passes.
    // Every pass's errors and log lines are kept and scanned.
    let mut shown = Vec::new();
    let mut logged = false;
    for _ in 0..3 {
        let before = logs.0.lock().unwrap().len();
        tracing::callsite::rebuild_interest_cache();
        shown.extend(go_through_failures(&sb, &token, &manager).await);
        logged = String::from_utf8_lossy(&logs.0.lock().unwrap()[before..]).contains("Bot API call failed");
        if logged {
            break;
        }
    }

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let everything = format!("{}\n{logs}", shown.join("\n"));
    for t in [secret, manager.expose()] {
        let secret_part = t.split_once(':').unwrap().1;
        assert!(!everything.contains(secret_part), "a token leaked:\n{everything}");
    }
    assert!(logged, "the failures were logged (and scanned): {logs}");
    assert!(shown[0].contains("error") || shown[0].contains("connect"), "{}", shown[0]);
}

/// Every failure path of the client once, and what each error and handle shows.
async fn go_through_failures(sb: &TestSandbox, token: &BotToken, manager: &BotToken) -> Vec<String> {
    let mut shown = Vec::new();
    // Connection refused: the port of a listener we just closed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = Client::new(&dead).unwrap().call(token, &GetMe {}).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    // 401, 400, 404.
    let e = sb.client.call(token, &GetMe {}).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    let e = sb.client.call(manager, &SendMessage::new(1, "")).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    let e = sb.client.call_raw(manager, "noSuchMethod", &serde_json::json!({})).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    // Not a Bot API server at all, and a timeout.
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "<html>nope</html>"
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let odd = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let e = Client::new(&odd).unwrap().call(token, &GetMe {}).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    let e = Client::new(&odd).unwrap().with_timeout(Duration::from_millis(50)).call(token, &GetMe {}).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    // Handles that hold a token.
    let bot = sb.client.bot(token.clone());
    shown.push(format!("{bot:?} {:?} {token:?} {token}", sb.client));
    let t = Throttle::new(Client::new(&dead).unwrap(), ThrottleLimits::default());
    let e = t.send_message(token, SendMessage::new(5, "x")).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    shown
}
