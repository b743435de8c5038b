//! The one integration-test binary: every test starts the real thing (`helpers::spawn_app`)
//! on port 0 with a fresh database — SQLite or PostgreSQL, as `BELLHOP_TEST_DATABASE` says —
//! and, where Telegram is involved, the bellhop sandbox as Telegram.
mod helpers;

mod answering;
mod answering_admin;
mod answering_crash;
mod answering_demo;
mod answering_intent;
mod answering_languages;
mod answering_llm;
mod answering_verify;
mod architecture;
mod billing_meter;
mod billing_paywall;
mod billing_stars;
mod billing_stripe;
mod config_errors;
mod crash;
mod deploy;
mod demo_process;
mod embedding;
mod http;
mod http_edge;
mod jobs;
mod knowledge_admin;
mod knowledge_extract;
mod knowledge_fetch;
mod knowledge_per_bot;
mod knowledge_races;
mod knowledge_recrawl;
mod llm;
mod llm_llama;
mod migration_knowledge_per_bot;
mod miniapp;
mod onboarding;
mod openai_standin;
mod owner_account;
mod owner_announcements;
mod owner_brand;
mod owner_handoff_delivery;
mod owner_handoff_takeover;
mod owner_handoff_timeout;
mod owner_team;
mod owner_insight;
mod owner_lifecycle;
mod owner_privacy;
mod plan_limits;
mod polling;
mod polling_crash;
mod provisioning_races;
mod retrieval_chunk;
mod retrieval_index;
mod retrieval_support;
// The sandbox helpers, shared with bellhop-sandbox's own tests (which hold the sandbox and
// Telegram-client tests that need no bellhop app).
#[path = "../../crates/bellhop-sandbox/tests/sandbox/sandbox_support.rs"]
mod sandbox_support;
mod scale;
mod secrets;
mod storage_abandoned;
mod storage_write_first;
mod stripe_standin;
mod telegram_failures;
mod telegram_move;
mod webhooks;
