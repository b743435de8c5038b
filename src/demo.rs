//! `bellhop demo`: everything on one machine with zero configuration — the Telegram sandbox,
//! the web app and the job workers in one process; SQLite and a generated master key in the
//! data directory. The landing page's creation links open the sandbox's confirm screen, so a
//! person can do the whole flow in a browser.
use crate::config::Config;
use crate::domain::Secret;
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::startup::{Application, Role, cancel_on_signals};
use anyhow::Context;

pub async fn run(mut cfg: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
    // The sandbox listens on the port after the web app's.
    let mut sandbox_addr = cfg.listen;
    sandbox_addr.set_port(if cfg.listen.port() == 0 { 0 } else { cfg.listen.port() + 1 });
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
    println!("  Stop with Ctrl-C.");
    println!();
    let result = app.run().await;
    tg.shutdown().await?;
    result
}
