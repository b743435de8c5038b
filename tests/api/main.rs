//! The one integration-test binary: every test starts the real thing (`helpers::spawn_app`)
//! on port 0 with a fresh database — SQLite or PostgreSQL, as `BELLHOP_TEST_DATABASE` says.
mod helpers;

mod config_errors;
mod crash;
mod http;
mod jobs;
mod retrieval_chunk;
mod retrieval_index;
mod retrieval_support;
mod secrets;
mod telegram_reference;
mod webhooks;
