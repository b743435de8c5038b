//! The one integration-test binary.
mod telegram_reference;
