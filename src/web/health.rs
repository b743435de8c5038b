//! `/healthz`, `/readyz` and `/metrics` on the web port: the same as on the internal port
//! ([`crate::app::health`]).
pub use crate::app::health::{healthz, metrics, readyz};
