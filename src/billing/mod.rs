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
//!
//! The admin billing page and the Stripe webhook's HTTP handler are the HTTP edge's (`web`);
//! the `billing.stripe_event` job is registered by the application.
//!
//! How it fits together, and why it cannot overspend: docs/billing.md. SQL: `storage::billing`.
pub mod account;
pub mod meter;
pub mod notices;
pub mod paywall;
pub mod stars;
pub mod stripe;

pub use meter::{Reservation, Reserve, reserve};
pub use paywall::{on_child_update, paywall};
pub use crate::domain::plans::{Pack, Plan};

use crate::config::BillingConfig;
use crate::manager::{ChildBots, Manager};
use crate::storage::Db;
use std::sync::Arc;

/// What billing works with: the database, its configuration section, the manager bot (owner
/// notices, Stars invoices and refunds) and the businesses' bots (paywall refunds). Built once by
/// the application; cheap to clone.
#[derive(Clone)]
pub struct Billing {
    pub db: Db,
    pub cfg: Arc<BillingConfig>,
    pub manager: Option<Manager>,
    pub bots: ChildBots,
}
