//! The one integration-test binary.
mod sandbox_bench;
mod sandbox_ptb;
mod sandbox_state;
mod sandbox_support;
mod sandbox_ui;
mod sandbox_world;
mod telegram_reference;
mod telegram_redaction;
mod telegram_scenario;
mod telegram_split;
mod telegram_throttle;
