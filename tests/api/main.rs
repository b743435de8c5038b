//! The one integration-test binary: every test starts the real thing (`helpers::spawn_app`)
//! on port 0 with a fresh database — SQLite or PostgreSQL, as `BELLHOP_TEST_DATABASE` says —
//! and, where Telegram is involved, the bellhop sandbox as Telegram.
mod helpers;

mod answering;
mod answering_admin;
mod answering_crash;
mod answering_llm;
mod billing_meter;
mod billing_paywall;
mod billing_stars;
mod billing_stripe;
mod config_errors;
mod crash;
mod embedding;
mod http;
mod jobs;
mod knowledge_admin;
mod knowledge_extract;
mod knowledge_fetch;
mod llm;
mod llm_llama;
mod onboarding;
mod openai_standin;
mod retrieval_chunk;
mod retrieval_index;
mod retrieval_support;
mod sandbox_bench;
mod sandbox_ptb;
mod sandbox_state;
mod sandbox_support;
mod sandbox_ui;
mod sandbox_world;
mod secrets;
mod stripe_standin;
mod telegram_redaction;
mod telegram_reference;
mod telegram_scenario;
mod telegram_split;
mod telegram_throttle;
mod webhooks;
