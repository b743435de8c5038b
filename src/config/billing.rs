//! `billing.*` and `stripe.*`: plans, packs and payment providers (docs/billing.md). The plan
//! and pack types and their entry syntax are domain types ([`crate::domain::plans`]).
use super::read::Reader;
use crate::domain::Secret;
use crate::domain::plans::{self, Pack, Plan};
use std::time::Duration;
use url::Url;

/// Plans, packs and payment providers (docs/billing.md).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// At least one; the first is the default plan.
    pub plans: Vec<Plan>,
    pub packs: Vec<Pack>,
    pub grace: Duration,
    /// Set when both Stripe keys are configured.
    pub stripe: Option<StripeConfig>,
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub api_base: Url,
}

pub(super) fn parse(r: &mut Reader) -> BillingConfig {
    let plans = plans::parse_plans(r.get("billing.plans").unwrap_or("")).map_err(|m| r.bad("billing.plans", m)).unwrap_or_default();
    let packs = plans::parse_packs(r.get("billing.packs").unwrap_or("")).map_err(|m| r.bad("billing.packs", m)).unwrap_or_default();
    let grace = Duration::from_secs(86_400 * r.number("billing.grace_days", 0, 365));
    let api_base = r.http_url("stripe.api_base");
    let stripe = match (r.get("stripe.secret_key"), r.get("stripe.webhook_secret")) {
        (Some(k), Some(w)) => api_base.map(|api_base| StripeConfig { secret_key: Secret::new(k), webhook_secret: Secret::new(w), api_base }),
        (None, None) => None,
        (Some(_), None) => {
            r.bad("stripe.webhook_secret", "is required with stripe.secret_key: copy the endpoint's signing secret (whsec_…) from Stripe");
            None
        }
        (None, Some(_)) => {
            r.bad("stripe.secret_key", "is required with stripe.webhook_secret: copy the secret key (sk_…) from Stripe");
            None
        }
    };
    BillingConfig { plans, packs, grace, stripe }
}
