//! The local Telegram (placeholder until the sandbox lands).
use tokio_util::sync::CancellationToken;

/// Options of `bellhop sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: std::net::SocketAddr,
}

/// Runs the sandbox until `shutdown` is cancelled.
pub async fn run(_args: SandboxArgs, _shutdown: CancellationToken) -> anyhow::Result<()> {
    anyhow::bail!("the sandbox is not built yet")
}
