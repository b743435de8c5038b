//! bellhop turns a small business's documents into a branded AI support bot on Telegram, and lets
//! one operator run that as a multi-tenant SaaS. One binary; this file is its table of contents.
//!
//! # Dependencies point one way
//!
//! ```text
//!  web (HTTP edge: handlers, pages, webhooks)     CLI (main, cli, demo, bench, eval)
//!                       │                                    │
//!  app (AppState and the wiring into narrow handles, job kinds and payloads, the routing of
//!       child-bot and manager updates, the webhook ingress writer, long polling)
//!                       │
//!  domain: answering · billing · knowledge · manager · retrieval · models · llm
//!                       │
//!  infrastructure: storage · jobs · telegram · sandbox · crypto · domain (types) · config · metrics
//! ```
//!
//! - A module uses only layers below it. Domain functions take the narrow things they use — a
//!   `Db`, a `Queue`, a config section, a `SharedRetriever`, a `SharedModel`, a `Bot`, a
//!   `Manager`, their module's handle (`Billing`, `Answering`) — never `AppState`.
//! - Nothing outside `web` uses `web`: the binary hands `web::router` to `Application::run`.
//! - Configuration holds plain data and uses no domain module.
//! - Two domain modules never use each other; where an update concerns both, `app` routes it.
//!
//! `tests/api/architecture.rs` fails when a file breaks this.

/// Answering customers: the one answer pipeline (Q&A pairs, retrieval, the model, metering),
/// drafts and delivery, feedback, groups, handoff.
pub mod answering;
/// The application layer: `Application`, `AppState` and the wiring into the domain's narrow
/// handles, job kinds and payloads, the routing of Telegram updates, the webhook ingress writer, long polling.
pub mod app;
/// Billing: plans, the credit ledger and metering, Telegram Stars and Stripe payments.
pub mod billing;
/// `bellhop bench …`: the measurements behind BENCHMARKS.md (answering and billing ones included).
pub mod bench;
/// Command-line interface: `serve`, `migrate`, `demo`, `sandbox`, `rotate-key`, `bench`.
pub mod cli;
/// Settings: defaults → `bellhop.toml` → `BELLHOP_*` environment, validated once at start-up.
pub mod config;
/// Secrets at rest: AES-256-GCM with a key ring that rotates while the service runs.
pub mod crypto;
/// `bellhop demo`: the zero-configuration local run.
pub mod demo;
/// Typed ids, parse-don't-validate values and calendar dates; no I/O.
pub mod domain;
/// `bellhop eval retrieval` / `bench retrieval`: retrieval quality on BEIR sets, and its speed.
pub mod eval;
/// The durable job queue (leases, retries, dead letters, priority lane) and its workers.
pub mod jobs;
/// Owners' knowledge: safe extraction and URL import, chunking, the indexing pipeline, ingestion,
/// Q&A-pair matching.
pub mod knowledge;
/// Chat models: the `ChatModel` trait, SmolLM2 in-process, OpenAI-compatible endpoints, and the
/// lazily loaded `SharedModel`.
pub mod llm;
/// The manager bot: managed-bot updates, provisioning, owner commands, login links; the
/// businesses' bots (`ChildBots`).
pub mod manager;
/// Prometheus metrics for HTTP, jobs, Telegram calls, model tokens and the answering overhead.
pub mod metrics;
/// Models: the `Embedder` trait, all-MiniLM-L6-v2 in-process, OpenAI-compatible endpoints.
pub mod models;
/// Retrieval: the per-tenant `VectorIndex` (Qdrant Edge / server), BM25, hybrid search, and the
/// lazily loaded `SharedRetriever`.
pub mod retrieval;
/// The local Telegram: Bot API server, simulated users, managed-bot creation, Stars payments
/// (the workspace crate `bellhop-sandbox`, under its old path).
pub use bellhop_sandbox as sandbox;
/// All SQL: one function per query, the tenant explicit in every tenant-owned query.
pub mod storage;
/// The Telegram Bot API: types, client, errors, throttle, message splitting (the workspace crate
/// `bellhop-telegram`, under its old path).
pub use bellhop_telegram as telegram;
/// Logs and spans: readable locally, JSON in production, quiet in tests.
pub mod telemetry;
/// The HTTP edge: health, metrics, webhooks (Telegram, Stripe), landing and admin pages.
pub mod web;
