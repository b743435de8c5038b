//! The HTTP server: accepts connections and serves the router over HTTP/1.1 with the edge's
//! connection limit — a request's headers must arrive within `http.header_timeout_seconds`, and
//! a kept-alive connection idle that long is closed — and gives each request its peer address
//! (`ConnectInfo`) for the per-client limits. Shutdown is graceful: stop accepting, let the
//! requests in progress finish, close idle connections.
//!
//! (`axum::serve` runs hyper without a timer, so it has no header timeout: a client sending its
//! headers slowly, or nothing at all, held its connection forever.)
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` is cancelled, then finishes gracefully.
pub async fn serve(listener: TcpListener, router: Router, header_timeout: Duration, shutdown: CancellationToken) {
    let graceful = GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(Body::new))
        });
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Timeouts and clients going away end connections with an error; nothing to do.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
