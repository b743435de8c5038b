//! The one integration-test binary.
mod sandbox_ptb;
mod sandbox_support;
mod sandbox_world;
mod telegram_reference;
mod telegram_scenario;
mod telegram_throttle;
