//! `bellhop demo`: everything on one machine with zero configuration — SQLite and a generated
//! master key in the data directory, the web app and job workers in one process.
use crate::config::Config;
use crate::startup::{Application, Role, cancel_on_signals};

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let app = Application::build(cfg, Role::All, true).await?;
    cancel_on_signals(app.state.shutdown.clone());
    let addr = app.local_addr().expect("demo runs the web role");
    println!();
    println!("  bellhop is running (data in {}).", app.state.cfg.data_dir.display());
    println!("  Web app:     http://{addr}/");
    println!("  Health:      http://{addr}/readyz");
    println!("  Metrics:     http://{addr}/metrics");
    println!("  Stop with Ctrl-C.");
    println!();
    app.run().await
}
