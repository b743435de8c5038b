//! bellhop-sandbox's integration tests: the sandbox on port 0, driven through its control API
//! as a person would through the UI, with bellhop-telegram's client (and python-telegram-bot) as
//! the bots. `sandbox_support` is shared with bellhop's own `tests/api`.
mod sandbox_support;

mod sandbox_bench;
mod sandbox_brand;
mod sandbox_faults;
mod sandbox_fidelity;
mod sandbox_miniapp;
mod sandbox_move;
mod sandbox_polling;
mod sandbox_ptb;
mod sandbox_state;
mod sandbox_ui;
mod sandbox_world;
mod telegram_client;
mod telegram_redaction;
mod telegram_scenario;
mod telegram_throttle;
