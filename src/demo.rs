//! `bellhop demo`: everything on one machine with zero configuration — the Telegram sandbox,
//! the web app and the job workers in one process; SQLite and a generated master key in the
//! data directory. The landing page's creation links open the sandbox's confirm screen, so a
//! person can do the whole flow in a browser.
use crate::config::Config;
use crate::domain::Secret;
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::app::{Application, HttpRoutes, Role, cancel_on_signals};
use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the demo's sandbox listens: where asked, else on loopback (of the web app's address
/// family) at the port after the web app's. The sandbox shows every bot token and the owners'
/// sign-in links, so it never follows the web app onto a public address by itself.
pub fn sandbox_addr(listen: SocketAddr, asked: Option<SocketAddr>) -> SocketAddr {
    if let Some(addr) = asked {
        return addr;
    }
    let ip: IpAddr = if listen.is_ipv6() { Ipv6Addr::LOCALHOST.into() } else { Ipv4Addr::LOCALHOST.into() };
    let port = if listen.port() == 0 { 0 } else { listen.port().checked_add(1).unwrap_or(0) };
    SocketAddr::new(ip, port)
}

/// Runs the demo, serving `http` (the HTTP edge's routes); the sandbox listens on
/// [`sandbox_addr`].
pub async fn run(mut cfg: Config, sandbox_listen: Option<SocketAddr>, http: HttpRoutes) -> anyhow::Result<()> {
    crate::storage::files::create_private_dir(&cfg.data_dir).with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
    let sandbox_addr = sandbox_addr(cfg.listen, sandbox_listen);
    let listener = tokio::net::TcpListener::bind(sandbox_addr).await.with_context(|| format!("binding the sandbox on {sandbox_addr}"))?;
    let sandbox = Sandbox::new(SandboxOptions { state_file: Some(cfg.data_dir.join("sandbox.json")), ..Default::default() })?;
    let tg = sandbox.spawn(listener).await?;

    cfg.telegram.api_url = url::Url::parse(&tg.base_url)?;
    cfg.telegram.links_url = url::Url::parse(&tg.base_url)?;
    cfg.telegram.manager_token = Some(tg.manager_token.clone());
    cfg.telegram.manager_webhook_secret = Some(Secret::new(crate::manager::login::random_token()));

    let app = Application::build(cfg, Role::All, true).await?;
    cancel_on_signals(app.state.shutdown.clone());
    let addr = app.local_addr().expect("demo runs the web role");
    println!();
    println!("  bellhop is running (data in {}).", app.state.cfg.data_dir.display());
    println!();
    println!("  1. Create a support bot:   http://{addr}/");
    println!("  2. Telegram (sandbox):     {}/   — pick a user, confirm the bot, chat with it", tg.base_url);
    println!("     Health / metrics:       http://{addr}/readyz   http://{addr}/metrics");
    println!();
    if !sandbox_addr.ip().is_loopback() {
        tracing::warn!(sandbox = %tg.base_url, "the sandbox is reachable from the network: it shows every bot token and the owners' sign-in links");
        println!("  Warning: the sandbox is on {sandbox_addr}, so anyone who can reach it sees every bot token");
        println!("  and the owners' sign-in links. Use this only on a network you trust.");
        println!();
    } else if !addr.ip().is_loopback() {
        println!("  Note: the web app listens on {addr}; the sandbox, which shows every bot token and the");
        println!("  owners' sign-in links, stays only on this machine ({}). To open it from elsewhere anyway:", tg.base_url);
        println!("  --sandbox-listen ADDRESS:PORT, on a network you trust.");
        println!();
    }
    println!("  Stop with Ctrl-C.");
    println!();
    // Seeding is best effort (a failure is logged) and ends with the run.
    let seeding = tokio::spawn(seed_example(app.state.clone(), tg.base_url.clone()));
    let result = app.run(http).await;
    seeding.abort();
    tg.shutdown().await?;
    result
}

/// The example business's knowledge, compiled in so the demo needs no files beside the binary.
pub const EXAMPLE_DOCS: &[(&str, &str)] = &[
    ("about.md", include_str!("../examples/demo-business/about.md")),
    ("orders.md", include_str!("../examples/demo-business/orders.md")),
    ("allergens.md", include_str!("../examples/demo-business/allergens.md")),
];
pub const EXAMPLE_QA: &[(&str, &str)] = &[
    ("Are you open on Sundays?", "No — we are closed on Sundays and public holidays. On Saturdays we are open 7:00 to 14:00."),
    ("Where are you?", "At 12 Harbour Street. We deliver within 5 km, Tuesday to Saturday."),
];
const EXAMPLE_BOT: &str = "sunrise_bakery_bot";

/// On first start, one example business is created through the real flow — its owner confirms a
/// creation link in the sandbox, the manager provisions the bot — and given a small knowledge
/// base, plus a customer who has started the bot: a person can chat with a working bot at once.
async fn seed_example(app: crate::app::AppState, sandbox: String) {
    let marker = app.cfg.data_dir.join("demo-example.done");
    if marker.exists() {
        return;
    }
    match try_seed(&app, &sandbox).await {
        Ok(bot) => {
            let _ = std::fs::write(&marker, bot.to_string());
            println!("  Example business ready: open {sandbox}/ as \"Alex\" and chat with @{EXAMPLE_BOT} (Sunrise Bakery).");
        }
        Err(e) => tracing::warn!(error = format!("{e:#}"), "could not set up the example business"),
    }
}

async fn try_seed(app: &crate::app::AppState, sandbox: &str) -> anyhow::Result<i64> {
    use serde_json::{Value, json};
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{sandbox}/sandbox/api/{path}");
    async fn ok(r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let v: Value = r.send().await?.json().await?;
        anyhow::ensure!(v["ok"] == json!(true), "sandbox said {v}");
        Ok(v["result"].clone())
    }
    let owner = ok(http.post(api("users")).json(&json!({ "first_name": "Sam", "username": "sam_sunrise" })))
        .await?["id"]
        .as_i64()
        .context("user id")?;
    let manager = app.manager.as_ref().context("no manager bot")?.username.clone();
    let link = format!("https://t.me/newbot/{manager}/{EXAMPLE_BOT}?name=Sunrise%20Bakery");
    let req = ok(http.post(api(&format!("users/{owner}/creation_links"))).json(&json!({ "link": link }))).await?;
    let id = req["id"].as_str().context("creation request id")?.to_owned();
    let bot = ok(http.post(api(&format!("creation_requests/{id}/confirm"))).json(&json!({}))).await?["id"].as_i64().context("bot id")?;
    // The manager provisions the bot from its webhook; wait until it is live.
    let mut tenant = None;
    for _ in 0..300 {
        if let Some(row) = crate::storage::bots::managed_row(&app.db.pool, crate::domain::BotId(bot)).await?
            && row.status == "live"
        {
            tenant = Some(row.tenant_id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let tenant = tenant.context("the example bot did not go live within 30 s")?;
    for (name, text) in EXAMPLE_DOCS {
        let new = crate::storage::sources::NewSource { bot: Some(crate::domain::BotId(bot)), kind: "file", name, size_bytes: text.len() as i64, content: Some(text.as_bytes()), max_pages: None, recrawl_hours: None };
        crate::app::sources::add_source(app, tenant, &new).await?;
    }
    for (q, a) in EXAMPLE_QA {
        crate::storage::sources::insert_qa(&app.db.pool, tenant, Some(crate::domain::BotId(bot)), q, a).await?;
    }
    ok(http.post(api("users")).json(&json!({ "first_name": "Alex", "language_code": "en", "started_bots": [bot] }))).await?;
    Ok(bot)
}

#[cfg(test)]
mod tests {
    use super::sandbox_addr;

    #[test]
    fn the_sandbox_stays_on_loopback_unless_asked() {
        let at = |s: &str| s.parse().unwrap();
        assert_eq!(sandbox_addr(at("127.0.0.1:8080"), None), at("127.0.0.1:8081"));
        assert_eq!(sandbox_addr(at("0.0.0.0:8080"), None), at("127.0.0.1:8081"));
        assert_eq!(sandbox_addr(at("192.0.2.7:9000"), None), at("127.0.0.1:9001"));
        assert_eq!(sandbox_addr(at("[::]:8080"), None), at("[::1]:8081"));
        assert_eq!(sandbox_addr(at("0.0.0.0:0"), None), at("127.0.0.1:0"));
        assert_eq!(sandbox_addr(at("0.0.0.0:65535"), None), at("127.0.0.1:0"));
        assert_eq!(sandbox_addr(at("0.0.0.0:8080"), Some(at("0.0.0.0:7000"))), at("0.0.0.0:7000"));
    }
}
