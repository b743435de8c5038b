//! bellhop turns a small business's documents into a branded AI support bot on Telegram, and lets
//! one operator run that as a multi-tenant SaaS. One binary; this file is its table of contents.
//!
//! Dependencies point down the list: `web` and `jobs` may use everything below them, `domain`
//! uses nothing of ours.

/// Answering customers: Q&A pairs, grounded extractive answers with sources, handoff.
pub mod answering;
/// Billing: plans, the credit ledger and metering, Telegram Stars and Stripe payments.
pub mod billing;
/// `bellhop bench …`: the measurements behind BENCHMARKS.md.
pub mod bench;
/// Command-line interface: `serve`, `migrate`, `demo`, `sandbox`, `rotate-key`, `bench`.
pub mod cli;
/// Settings: defaults → `bellhop.toml` → `BELLHOP_*` environment, validated once at start-up.
pub mod config;
/// Secrets at rest: AES-256-GCM with a key ring that rotates while the service runs.
pub mod crypto;
/// `bellhop demo`: the zero-configuration local run.
pub mod demo;
/// Typed ids and parse-don't-validate values; no I/O.
pub mod domain;
/// `bellhop eval retrieval` / `bench retrieval`: retrieval quality on BEIR sets, and its speed.
pub mod eval;
/// The durable job queue (leases, retries, dead letters, priority lane) and its workers.
pub mod jobs;
/// Knowledge: structure-respecting chunking and the chunk → embed → index pipeline.
/// Owners' knowledge: safe extraction and URL import, chunking, the indexing pipeline, ingestion jobs.
pub mod knowledge;
/// Chat models: the `ChatModel` trait, SmolLM2 in-process, OpenAI-compatible endpoints.
pub mod llm;
/// The manager bot: managed-bot updates, provisioning, owner commands, login links.
pub mod manager;
/// Prometheus metrics for HTTP, jobs, Telegram calls and model tokens.
pub mod metrics;
/// Models: the `Embedder` trait, all-MiniLM-L6-v2 in-process, OpenAI-compatible endpoints.
pub mod models;
/// Retrieval: the per-tenant `VectorIndex` (Qdrant Edge / server), BM25, hybrid search.
pub mod retrieval;
/// The local Telegram: Bot API server, simulated users, managed-bot creation, Stars payments
/// (the workspace crate `bellhop-sandbox`, under its old path).
pub use bellhop_sandbox as sandbox;
/// Wiring: build the application from configuration and run its server and workers.
pub mod startup;
/// All SQL: one function per query, the tenant explicit in every tenant-owned query.
pub mod storage;
/// The Telegram Bot API: types, client, errors, throttle, message splitting (the workspace crate
/// `bellhop-telegram`, under its old path).
pub use bellhop_telegram as telegram;
/// Logs and spans: readable locally, JSON in production, quiet in tests.
pub mod telemetry;
/// The HTTP edge: health, metrics, webhooks, landing and admin pages.
pub mod web;
