-- Onboarding: managed-bot lifecycle, one-time admin login links and sessions.
-- Keep in step with the other engine's 0002_onboarding.sql. Never edit a released migration.

-- Who owns each bot according to Telegram, and the update that said so: managed_bot updates may
-- arrive out of order, and only a newer one may change the owner.
alter table bots add column owner_user_id bigint not null default 0;
alter table bots add column owner_update_id bigint not null default 0;
-- Hash of the token the bot was last provisioned for: a new token means provisioning again.
alter table bots add column token_fingerprint text not null default '';
-- Set when the welcome message was sent: exactly one per bot.
alter table bots add column welcome_sent_at bigint;
-- Texts Telegram shows on the bot's profile; editable by the owner later.
alter table bots add column description text not null default '';
alter table bots add column short_description text not null default '';

-- One-time admin login links. Only the SHA-256 of the token is stored; a link works once,
-- for 10 minutes, and only through a POST (link previews and scanners only GET).
create table login_tokens (
    token_hash text primary key,
    tenant_id bigint not null references tenants (id),
    user_id bigint not null,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint
);
create index login_tokens_tenant on login_tokens (tenant_id);

-- Admin sessions, stored server-side so logout and revocation are immediate. Only the SHA-256
-- of the cookie value is stored. csrf_token guards every state-changing form of the session.
create table sessions (
    id_hash text primary key,
    tenant_id bigint not null references tenants (id),
    user_id bigint not null,
    csrf_token text not null,
    created_at bigint not null,
    last_seen_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
create index sessions_tenant on sessions (tenant_id);
