//! Moving servers (issue 18, item 4, Must show): `bellhop telegram move --to URL`, as the real
//! binary, from one sandbox (Telegram's cloud) to a second one started as a self-hosted Bot API
//! server. Bots made through the managed-bot flow on the cloud while `bellhop serve` runs; serve
//! stopped; a dry run changes nothing; the move logs every bot out of the cloud (its calls there
//! are refused) and sets the webhooks on the local server; serve started again with the *same*
//! configuration (telegram.api_url still the cloud's) answers a customer of the local server;
//! running the move again — after the cloud's 10-minute lock-out, when any call there would log
//! a bot back in — calls the cloud for no bot and leaves everything working.
use crate::crash::{base64_key, ready, start_bellhop, wait_showing_log};
use crate::helpers::*;
use crate::sandbox_support::TestSandbox;
use bellhop::sandbox::SandboxOptions;
use bellhop::telegram::TelegramError;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

// The cloud sandbox is not at api.telegram.org: `--old-server cloud` says it plays Telegram's
// cloud, so the bots leave it with logOut.

/// Runs `bellhop ARGS` to the end with exactly `settings`' environment; its status and output.
/// (Awaited, not blocking: the sandboxes run on this test's runtime.)
pub async fn bellhop(args: &[&str], settings: &TestSettings) -> (bool, String) {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_bellhop"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BELLHOP_") {
            c.env_remove(k);
        }
    }
    for (k, v) in &settings.values {
        c.env(k, v);
    }
    let out = c.args(args).env("BELLHOP_LOG_FORMAT", "json").stdin(Stdio::null()).kill_on_drop(true).output().await.expect("run bellhop");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Stops a `serve` the way an operator does (SIGTERM), and waits for it.
async fn stop(mut serve: Child) {
    let _ = Command::new("kill").arg("-TERM").arg(serve.id().to_string()).status();
    tokio::task::spawn_blocking(move || serve.wait().unwrap()).await.unwrap();
}

#[tokio::test]
async fn telegram_move_to_a_local_server_logs_every_bot_out_of_the_cloud_answers_customers_there_and_is_harmless_to_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let local = TestSandbox::start_with(SandboxOptions { enforce_limits: false, local_for: Some(cloud.base.clone()), ..Default::default() }).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&cloud);
    settings.set("BELLHOP_LISTEN", format!("127.0.0.1:{port}")).set("BELLHOP_MASTER_KEY", base64_key()).set("BELLHOP_JOBS_POLL_INTERVAL_MS", "50");
    let cfg = settings.config(bellhop::config::Needs::Storage);
    let log = dir.path().join("bellhop.log");

    // Two businesses' bots, made on the cloud while bellhop serves.
    let serve = start_bellhop(&["serve"], &settings, &log);
    ready(&url).await;
    let db = bellhop::storage::Db::connect(&cfg.database_url).await.unwrap();
    let mut bots = Vec::new();
    for (username, name) in [("sunrise_move_bot", "Sunrise Bakery"), ("tulip_move_bot", "Tulip Flowers")] {
        let owner = cloud.user(name).await;
        let bot = cloud.create_managed_bot(owner, username, name).await["id"].as_i64().unwrap();
        token_used(cloud.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
        bots.push((bot, username));
    }
    wait_showing_log(&log, Duration::from_secs(120), || async { count(&db, "select count(*) from bots where status = 'live'").await == 2 }).await;
    stop(serve).await;
    let manager = cloud.handle.sandbox.manager_id();
    let all: Vec<i64> = std::iter::once(manager).chain(bots.iter().map(|b| b.0)).collect();

    // A dry run says what would happen and changes nothing.
    let (ok, out) = bellhop(&["telegram", "move", "--to", &local.base, "--old-server", "cloud", "--dry-run"], &settings).await;
    assert!(ok, "{out}");
    assert!(out.contains("would leave") && out.contains("logOut"), "{out}");
    for id in &all {
        let b = cloud.get(&format!("bots/{id}")).await;
        assert_eq!(b["logged_out"], json!(false), "the dry run logged @{} out", b["username"]);
        assert!(b["webhook"]["url"].as_str().unwrap().starts_with(&url), "the dry run touched @{}'s webhook", b["username"]);
    }

    // The move.
    let (ok, out) = bellhop(&["telegram", "move", "--to", &local.base, "--old-server", "cloud"], &settings).await;
    assert!(ok, "{out}");
    for (_, username) in &bots {
        assert!(out.contains(&format!("@{username}: logged out of")), "{out}");
    }
    assert!(out.contains("the manager bot (id") && out.contains("Done"), "{out}");
    // Every bot is logged out of the cloud: its calls there are refused.
    for id in &all {
        let token = bellhop::domain::BotToken::parse(cloud.get(&format!("bots/{id}")).await["token"].as_str().unwrap()).unwrap();
        assert_eq!(cloud.client.bot(token).get_me().await.unwrap_err(), TelegramError::LoggedOut, "bot {id} still works on the cloud");
        assert!(cloud.get(&format!("bots/{id}")).await["webhook"].is_null());
    }
    for (bot, _) in &bots {
        let hook = local.get(&format!("bots/{bot}")).await["webhook"]["url"].as_str().map(str::to_owned);
        assert_eq!(hook, Some(format!("{url}/tg/bot/{bot}")), "bot {bot}'s webhook on the local server");
    }

    // bellhop started again with the same configuration (telegram.api_url is still the cloud's)
    // uses the local server: a customer there is answered.
    let serve = start_bellhop(&["serve"], &settings, &log);
    ready(&url).await;
    let (bot, _) = bots[0];
    let customer = local.user("Alex").await;
    local.say(customer, bot, "Are you open on Sundays?").await;
    let answered = || async { local.get(&format!("messages?bot_id={bot}&chat_id={customer}&from_bot=true")).await.as_array().is_some_and(|m| !m.is_empty()) };
    wait_showing_log(&log, Duration::from_secs(120), answered).await;
    stop(serve).await;

    // Again, after the cloud's lock-out: a call there would now log a bot back in — none is made.
    cloud.post("clock/advance", json!({ "seconds": 601 })).await;
    let (ok, out) = bellhop(&["telegram", "move", "--to", &local.base, "--old-server", "cloud"], &settings).await;
    assert!(ok, "{out}");
    assert!(out.contains("on ") && out.contains("already"), "{out}");
    for id in &all {
        assert_eq!(cloud.get(&format!("bots/{id}")).await["logged_out"], json!(true), "the second run called the cloud for bot {id}");
    }
    let serve = start_bellhop(&["serve"], &settings, &log);
    ready(&url).await;
    local.say(customer, bot, "And on Mondays?").await;
    wait_showing_log(&log, Duration::from_secs(120), || async { local.get(&format!("messages?bot_id={bot}&chat_id={customer}&from_bot=true")).await.as_array().map_or(0, |m| m.len()) >= 2 }).await;
    stop(serve).await;
}

/// Leaving a self-hosted server (`deleteWebhook` + `close`) in the first 10 minutes after it
/// launched the bots: `close` is refused, the move says so and stops, `serve` refuses to start
/// and a move elsewhere is refused until the same move, run again when the 10 minutes have
/// passed, finishes it.
#[tokio::test]
async fn an_unfinished_move_keeps_bellhop_from_starting_until_the_same_move_run_again_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    // The old server plays a self-hosted one (`--old-server local`): bots leave it with close.
    let old = TestSandbox::start_with(SandboxOptions { enforce_limits: false, ..Default::default() }).await;
    let new = TestSandbox::start_with(SandboxOptions { enforce_limits: false, local_for: Some(old.base.clone()), ..Default::default() }).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&old);
    settings.set("BELLHOP_LISTEN", format!("127.0.0.1:{port}")).set("BELLHOP_MASTER_KEY", base64_key()).set("BELLHOP_JOBS_POLL_INTERVAL_MS", "50");
    let cfg = settings.config(bellhop::config::Needs::Storage);
    let log = dir.path().join("bellhop.log");
    let serve = start_bellhop(&["serve"], &settings, &log);
    ready(&url).await;
    let db = bellhop::storage::Db::connect(&cfg.database_url).await.unwrap();
    let owner = old.user("Sam").await;
    let bot = old.create_managed_bot(owner, "sunrise_close_bot", "Sunrise").await["id"].as_i64().unwrap();
    token_used(old.get(&format!("bots/{bot}")).await["token"].as_str().unwrap());
    wait_showing_log(&log, Duration::from_secs(120), || async { count(&db, "select count(*) from bots where status = 'live'").await == 1 }).await;
    stop(serve).await;

    let (ok, out) = bellhop(&["telegram", "move", "--to", &new.base, "--old-server", "local"], &settings).await;
    assert!(!ok, "close cannot succeed in the first 10 minutes: {out}");
    assert!(out.contains("refuses to close a bot in the first 10 minutes") && out.contains("run the move again in"), "{out}");
    // A serve that starts would run until stopped: it must have exited on its own within a minute.
    let (ok, out) = tokio::time::timeout(Duration::from_secs(60), bellhop(&["serve"], &settings)).await.expect("serve started during an unfinished move");
    assert!(!ok && out.contains("has not finished") && out.contains(&format!("bellhop telegram move --to {}", new.base)), "serve started during a move: {out}");
    let (ok, out) = bellhop(&["telegram", "move", "--to", "http://127.0.0.1:9", "--old-server", "local"], &settings).await;
    assert!(!ok && out.contains("has not finished"), "a move elsewhere was not refused: {out}");

    old.post("clock/advance", json!({ "seconds": 600 })).await;
    let (ok, out) = bellhop(&["telegram", "move", "--to", &new.base, "--old-server", "local"], &settings).await;
    assert!(ok, "{out}");
    assert!(out.contains("@sunrise_close_bot: webhook removed and closed on"), "{out}");
    for id in [old.handle.sandbox.manager_id(), bot] {
        let b = old.get(&format!("bots/{id}")).await;
        assert!(b["launched_at"].is_null() && b["webhook"].is_null(), "bot {id} is still running on the old server: {b}");
    }
    assert_eq!(new.get(&format!("bots/{bot}")).await["webhook"]["url"], json!(format!("{url}/tg/bot/{bot}")));
    let serve = start_bellhop(&["serve"], &settings, &log);
    ready(&url).await;
    stop(serve).await;
}

/// A bot its owner disconnected (webhook removed, token erased) leaves the old server too:
/// connected again after the move it runs on the new server, and the Bot API requires a bot to be
/// logged out of the cloud before it runs on a local server (`logOut`: "otherwise there is no
/// guarantee that the bot will receive updates"). The manager bot fetches its token for this,
/// and bellhop still keeps none.
#[tokio::test]
async fn a_disconnected_bot_is_logged_out_of_the_cloud_too_and_its_token_is_not_kept() {
    let mut app = spawn_app().await;
    let kept = crate::owner_lifecycle::business(&app, "Ada", "ada_stays_bot", "Ada's Attic").await;
    let away = crate::owner_lifecycle::business(&app, "Ben", "ben_away_bot", "Ben's Bikes").await;
    let (status, _, _) = crate::owner_lifecycle::post(&app, &away.cookie, &format!("/app/bots/{}/disconnect", away.bot), &[("csrf", &away.csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    let disconnected = format!("select count(*) from bots where id = {} and status = 'disconnected' and token_key_id = ''", away.bot);
    assert_eq!(count(app.db(), &disconnected).await, 1);
    app.drain_jobs(Duration::from_secs(60)).await;
    app.stop_serving().await.unwrap();

    let local = TestSandbox::start_with(SandboxOptions { enforce_limits: false, local_for: Some(app.tg.base.clone()), ..Default::default() }).await;
    let cfg = app.settings.config(bellhop::config::Needs::Serve);
    bellhop::app::moving::run(cfg, &local.base, false, Some(true)).await.expect("the move finishes");

    let manager = app.tg.handle.sandbox.manager_id();
    for id in [kept.bot, away.bot, manager] {
        let b = app.tg.get(&format!("bots/{id}")).await;
        assert_eq!(b["logged_out"], json!(true), "bot {id} is still logged in to the cloud: {b}");
    }
    assert_eq!(count(app.db(), &disconnected).await, 1, "still disconnected, its token not kept");
    let hook = local.get(&format!("bots/{}", kept.bot)).await["webhook"]["url"].as_str().map(str::to_owned).unwrap_or_default();
    assert!(hook.ends_with(&format!("/tg/bot/{}", kept.bot)), "the connected bot is set up on the new server: {hook:?}");
}

/// An idle bellhop (no job running) was invisible to the move, which went ahead while web and
/// worker processes kept calling the old server. Every `serve` process now records a heartbeat:
/// the move refuses, naming how many processes of each kind are running, and changes nothing;
/// a process not seen for 30 seconds (killed) no longer counts, and one stopped is gone at once.
#[tokio::test]
async fn the_move_refuses_while_idle_web_and_worker_processes_run() {
    let app = spawn_app().await;
    let cfg = app.settings.config(bellhop::config::Needs::Serve);
    let db = app.state.db.clone();
    let pool = &db.pool;
    // The app's own heartbeat (web and workers in one process), and two more processes of a
    // cluster: a worker seen now, a web process last seen 5 minutes ago (killed).
    wait_until(Duration::from_secs(20), || async { count(app.db(), "select count(*) from processes where role = 'all'").await == 1 }).await;
    let now = bellhop::storage::now_ms();
    bellhop::storage::processes::beat(pool, "other-worker", "worker", "host-b").await.unwrap();
    sqlx::query("insert into processes (id, role, host, started_at, seen_at) values ('killed-web', 'web', 'host-c', $1, $1)").bind(now - 300_000).execute(pool).await.unwrap();

    let err = bellhop::app::moving::run(cfg.clone(), "http://127.0.0.1:9", false, Some(false)).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "bellhop is still running: 1 web-and-worker process and 1 worker process seen in the last 30 seconds. Stop every `bellhop serve` process (web and workers) first, then run the move again. Nothing was changed."
    );
    assert_eq!(count(app.db(), "select count(*) from telegram_server").await, 0, "nothing was changed");

    // Stopped: the app's row goes with it at once; the worker stops too.
    app.stop().await.unwrap();
    assert_eq!(count(&db, "select count(*) from processes where role = 'all'").await, 0);
    bellhop::storage::processes::gone(pool, "other-worker").await.unwrap();
    assert_eq!(bellhop::storage::processes::alive(pool).await.unwrap(), Vec::<(String, i64)>::new(), "the move no longer refuses");
}
