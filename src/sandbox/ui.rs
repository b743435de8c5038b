//! The sandbox's web UI (placeholder routes; filled in below).
use super::Shared;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
}
