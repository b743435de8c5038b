-- Issue 16: every card subscription of a business, each in its own event order, so that when a
-- business has two (one made before the billing page stopped offering a second, or in Stripe's
-- dashboard) one ending does not end the plan the other still pays for. The account's
-- stripe_subscription_id / stripe_status follow the leading one (billing::stripe).
-- Keep in step with the other engine's 0021_stripe_subscriptions.sql. Never edit a released migration.
create table stripe_subscriptions (
    subscription_id text primary key,
    tenant_id bigint not null references tenants (id),
    -- Stripe's status: active | trialing | past_due | unpaid | incomplete | incomplete_expired | canceled
    status text not null,
    -- the plan its price pays for, when known
    plan_id text,
    -- the created time (ms) of the newest event applied; 0: known only from a paid invoice
    event_at bigint not null
);
create index stripe_subscriptions_tenant on stripe_subscriptions (tenant_id);

-- The subscriptions the accounts know of so far.
insert into stripe_subscriptions (subscription_id, tenant_id, status, plan_id, event_at)
select stripe_subscription_id, tenant_id, coalesce(stripe_status, 'active'), case when plan_source = 'stripe' then plan_id end, stripe_event_at
from billing_accounts where stripe_subscription_id is not null and stripe_subscription_id <> '';
