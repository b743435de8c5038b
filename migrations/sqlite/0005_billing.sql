-- Billing: plans, an append-only credit ledger, payments (Telegram Stars, Stripe), Stripe
-- events, pre-checkout answers and the optional customer paywall.
-- Keep in step with the other engine's 0005_billing.sql. Never edit a released migration.
-- How it fits together: docs/billing.md.

-- One row per tenant: its entitlement and the cached balance of the ledger. Every change of a
-- balance column happens in the same transaction as the ledger row that explains it, and the
-- row is updated first, which serialises reservations of one tenant (no overspend).
create table billing_accounts (
    tenant_id bigint primary key references tenants (id),
    -- plan id from billing.plans, and where it comes from: default | stars | stripe
    plan_id text not null,
    plan_source text not null,
    -- end of the paid time (Unix ms); null for the default plan
    plan_expires_at bigint,
    -- the current usage period [period_start, period_end)
    period_start bigint not null,
    period_end bigint not null,
    -- remaining credits: the plan's (expire at the period's end) and packs' (kept)
    plan_credits bigint not null,
    pack_credits bigint not null,
    used_in_period bigint not null default 0,
    -- period_start of the period in which the owner was told of 80 % / 100 %
    notified_80 bigint not null default 0,
    notified_100 bigint not null default 0,
    -- Telegram Stars subscription: a charge of it and who pays it (for editUserStarSubscription)
    stars_charge_id text,
    stars_user_id bigint,
    stars_canceled bigint not null default 0,
    -- Stripe: customer, subscription, its status, the creation time of the newest subscription
    -- event applied (events apply only if not older: reordering converges), grace end
    stripe_customer_id text,
    stripe_subscription_id text,
    stripe_status text,
    stripe_event_at bigint not null default 0,
    grace_until bigint,
    -- the customer paywall, switched on by the owner
    paywall_enabled bigint not null default 0,
    paywall_free_per_day bigint not null default 3,
    paywall_pack_stars bigint not null default 50,
    paywall_pack_questions bigint not null default 20,
    created_at bigint not null,
    updated_at bigint not null
);
create unique index billing_accounts_stripe_customer on billing_accounts (stripe_customer_id) where stripe_customer_id is not null;

-- The ledger: append-only, one row per credit (+) or debit (-) of one bucket (plan | pack).
-- idem_key makes every movement happen once per tenant: "answer:…" (a reservation),
-- "close:<reservation id>" (its settlement or release, never both), "grant:…", "stars:<charge>"…
create table billing_ledger (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    bucket text not null,
    amount bigint not null,
    -- grant | expire | purchase | reserve | settle | release | refund
    kind text not null,
    -- what caused it: plan:<id>, pack:<id>, stars, stripe, answer
    source text not null,
    idem_key text not null,
    -- settle: model tokens used by the answer
    tokens bigint not null default 0,
    created_at bigint not null,
    unique (tenant_id, idem_key)
);
create index billing_ledger_tenant on billing_ledger (tenant_id, created_at);

-- Payments received, one row per provider charge: a redelivered successful_payment or Stripe
-- invoice finds its row and credits nothing.
create table billing_payments (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    -- stars (manager bot) | stars_bot (a customer paid the owner's bot) | stripe
    provider text not null,
    -- telegram_payment_charge_id, or the Stripe invoice id
    external_id text not null,
    -- pack | plan | paywall
    kind text not null,
    product text not null,
    amount bigint not null,
    currency text not null,
    -- who paid (Telegram user id) and through which bot
    payer_id bigint,
    bot_id bigint,
    credits bigint not null default 0,
    -- paid | refunded
    status text not null,
    created_at bigint not null,
    refunded_at bigint,
    unique (provider, external_id)
);
create index billing_payments_tenant on billing_payments (tenant_id, created_at);

-- Stripe events, stored (after the signature check) before the webhook is acknowledged; each
-- event id is processed once.
create table stripe_events (
    id text primary key,
    event_type text not null,
    -- the event's `created` (Unix seconds)
    created bigint not null,
    body text not null,
    received_at bigint not null,
    processed_at bigint
);

-- Every pre-checkout answer: which query, whether it was accepted and why not.
create table billing_checkouts (
    query_id text primary key,
    tenant_id bigint,
    payload text not null,
    ok bigint not null,
    reason text,
    received_at bigint not null,
    answered_at bigint not null
);

-- Customer paywall: questions asked per customer per day, and answers they bought.
create table paywall_usage (
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    chat_id bigint not null,
    -- days since the Unix epoch (UTC)
    day bigint not null,
    questions bigint not null,
    unique (tenant_id, bot_id, chat_id, day)
);
create table paywall_credits (
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    chat_id bigint not null,
    credits bigint not null,
    unique (tenant_id, bot_id, chat_id)
);
