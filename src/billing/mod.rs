//! Billing: plans, the credit ledger, metering of AI answers, Telegram Stars and Stripe.
//!
//! - plans and packs ([`Plan`], [`Pack`]) are domain types (`domain::plans`), parsed by
//!   `config` from `billing.plans` and `billing.packs`, re-exported here.
//! - `account`: a tenant's entitlement and usage period; every balance change beside its
//!   ledger row, under the account's lock.
//! - `meter`: `reserve` → `settle` / `release` around each AI answer (the answering pipeline
//!   calls these); never overspends, idempotent per key.
//! - `notices`: the owner is told at 80 % and 100 %, once per period.
//! - `stars`: `/plan`, packs and Star subscriptions through the manager bot, pre-checkout,
//!   payments credited once, cancellation, refunds.
//!
//! - `stripe`: Checkout and the customer portal (async-stripe), the verified, idempotent,
//!   order-independent webhook.
//! - `paywall`: the optional per-customer daily limit with question packs for Stars.
//! - `page`: the admin billing page.
//!
//! How it fits together, and why it cannot overspend: docs/billing.md. SQL: `storage::billing`.
pub mod account;
pub mod bench;
pub mod meter;
pub mod notices;
pub mod page;
pub mod paywall;
pub mod stars;
pub mod stripe;

pub use meter::{Reservation, Reserve, reserve};
pub use paywall::{on_child_update, paywall};
pub use crate::domain::plans::{Pack, Plan};

/// Registers billing's job handlers.
pub fn register(r: &mut crate::jobs::Registry<crate::startup::AppState>) {
    r.register(stripe::EVENT_JOB, crate::jobs::DEFAULT, stripe::run);
}
