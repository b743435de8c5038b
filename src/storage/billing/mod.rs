//! Billing SQL, one file per table group. The rules that use them are in `crate::billing`;
//! every function here that touches a tenant's data takes its `TenantId`.
//!
//! - `accounts`: entitlement, usage period, cached balances, Stars subscription, grace.
//! - `ledger`: the append-only credit ledger.
//! - `payments`: payments, refunds and pre-checkout answers.
//! - `stripe_events`: verified Stripe events and the subscription state they apply.
//! - `paywall`: the optional per-customer daily limit and bought questions.
mod accounts;
mod ledger;
mod payments;
mod paywall;
mod stripe_events;

pub use accounts::*;
pub use ledger::*;
pub use payments::*;
pub use paywall::*;
pub use stripe_events::*;
