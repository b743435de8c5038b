-- Issue 17 (item 4): a small team and working hours. Keep in step with the other engine's
-- 0076_team_and_hours.sql. Never edit a released migration.

-- Teammates of a business: people the owner invited, who sign in to the admin and get handoffs
-- in their own chat with the manager bot. The owner is not listed (tenants.owner_user_id).
create table team_members (
    tenant_id bigint not null references tenants (id),
    user_id bigint not null,
    name text not null,
    joined_at bigint not null,
    primary key (tenant_id, user_id)
);
create index team_members_user on team_members (user_id);

-- One-time invitation links (`t.me/<manager>?start=join_<token>`): only the token's SHA-256 is
-- stored; used once, within its expiry.
create table team_invites (
    token_hash text primary key,
    tenant_id bigint not null references tenants (id),
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint,
    used_by bigint
);
create index team_invites_tenant on team_invites (tenant_id);

-- Who took the current handoff (the first of the team to reply); null while nobody has.
alter table conversations add column taken_by bigint;

-- Working hours per bot: JSON, seven entries Monday first, each [open, close] in minutes of the
-- day or null (closed); '' = always open. In `timezone` (IANA). `away_text`: '' = the default.
alter table bot_settings add column working_hours text not null default '';
alter table bot_settings add column timezone text not null default 'UTC';
alter table bot_settings add column away_text text not null default '';
