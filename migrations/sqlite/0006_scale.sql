-- Scale-out (issue 15): fair, serialised, coalescing job claims; Telegram's limits shared by
-- every process; indexes for the retention purge.

-- Jobs with the same serial_key run one at a time, oldest first (a customer chat's updates, one
-- bot's provisioning, one source's reading). A job with a coalesce_key is not added while another
-- with the same key is still queued: a re-index or provision asked for twice runs once.
alter table jobs add column serial_key text;
alter table jobs add column coalesce_key text;
-- Fair share between tenants: a job's virtual time is one past its tenant's last queued job, or
-- the lowest queued virtual time when its tenant has nothing queued. Claims go in virtual-time
-- order, so a tenant with a thousand jobs queued delays another tenant's job by one of its jobs.
alter table jobs add column fair_vt bigint not null default 0;
drop index jobs_ready;
create index jobs_ready on jobs (queue, fair_vt, id) where state = 'queued';
create index jobs_tenant_vt on jobs (queue, tenant_id, fair_vt) where state = 'queued';
create index jobs_serial on jobs (serial_key, state, id) where serial_key is not null;
-- A tenant's running jobs per queue (jobs.tenant_concurrency, counted at every claim).
create index jobs_tenant_running on jobs (tenant_id, queue) where state = 'running';
create unique index jobs_coalesce on jobs (coalesce_key) where state = 'queued';
create index jobs_finished on jobs (updated_at) where state in ('done', 'dead');

-- Telegram's per-bot and per-chat limits, kept for the whole cluster: for each key (a bot, a
-- chat) the earliest moment, in Unix milliseconds, the next message may be sent.
create table telegram_pacing (
    key text primary key,
    next_at bigint not null
);

-- Retention: the purge finds old rows by these.
create index telegram_updates_received on telegram_updates (received_at);
create index stripe_events_processed on stripe_events (processed_at);
create index sessions_expires on sessions (expires_at);
create index login_tokens_expires on login_tokens (expires_at);
