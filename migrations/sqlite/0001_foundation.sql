-- bellhop foundation schema (SQLite). Keep in step with migrations/postgres/0001_foundation.sql:
-- same tables, columns and meaning; only the types differ. Never edit a released migration.
--
-- Conventions: times are Unix milliseconds (bigint) so both engines and sqlx's Any driver agree;
-- every tenant-owned table carries tenant_id; secrets are stored only as AES-256-GCM blobs
-- beside the id of the key that sealed them.

-- One business and its owner. The owner is a Telegram user (ManagedBotUpdated.user).
create table tenants (
    id integer primary key autoincrement,
    name text not null,
    owner_user_id bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
create unique index tenants_owner on tenants (owner_user_id);

-- Child bots. id is Telegram's bot id (the user id of the bot).
create table bots (
    id bigint primary key,
    tenant_id bigint not null references tenants (id),
    username text not null,
    name text not null,
    -- provisioning | live | failed | suspended
    status text not null,
    status_reason text,
    token_key_id text not null,
    token_ct blob not null,
    webhook_secret_key_id text,
    webhook_secret_ct blob,
    created_at bigint not null,
    updated_at bigint not null
);
create index bots_tenant on bots (tenant_id);

-- The inbox: every webhook update, stored before it is acknowledged. The unique pair makes a
-- redelivered update a no-op. tenant_id is null for the manager bot's own updates.
create table telegram_updates (
    id integer primary key autoincrement,
    bot_id bigint not null,
    tenant_id bigint,
    update_id bigint not null,
    body text not null,
    -- stored | dead (authenticated but unparsable: kept for inspection, never retried by Telegram)
    state text not null default 'stored',
    received_at bigint not null,
    unique (bot_id, update_id)
);

-- The durable job queue. A job is claimed by setting state = 'running' with a lease; a worker
-- that dies leaves an expired lease that the reaper turns back into 'queued'.
create table jobs (
    id integer primary key autoincrement,
    queue text not null,
    kind text not null,
    payload text not null,
    tenant_id bigint,
    -- queued | running | done | dead
    state text not null,
    attempts bigint not null default 0,
    max_attempts bigint not null,
    run_at bigint not null,
    lease_until bigint,
    locked_by text,
    last_error text,
    -- optional: enqueueing the same key twice creates one job
    dedup_key text unique,
    created_at bigint not null,
    updated_at bigint not null
);
create index jobs_ready on jobs (queue, run_at, id) where state = 'queued';
create index jobs_leases on jobs (lease_until) where state = 'running';

-- Effects of `selftest` jobs (benchmarks and crash tests): one row per job, insert-or-nothing.
create table selftest_effects (
    job_id bigint primary key,
    value bigint not null,
    applied_at bigint not null
);
