-- Issue 17 (item 8): announcements — the owner writes to everyone who talked to a bot lately —
-- and customers opting out of them with /stop. Keep in step with the other engine's
-- 0070_announcements.sql. Never edit a released migration.

-- One announcement of a bot: its text, whom it is for (private chats active in the last
-- since_days days, when it was written) and how far sending has got.
create table announcements (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    text text not null,
    since_days bigint not null,
    -- sending | done
    status text not null,
    -- recipients when it was written
    total bigint not null,
    created_at bigint not null,
    finished_at bigint
);
create index announcements_bot on announcements (tenant_id, bot_id, id);

-- One row per customer chat an announcement is for, chosen when it was written: the primary key
-- is what makes "never twice to one customer" hold. A row is claimed as sending (committed)
-- right before the Bot API call and marked after it; one found still sending — the process died
-- during the call, so it may have arrived — becomes unknown and is not sent again.
create table announcement_recipients (
    announcement_id bigint not null references announcements (id),
    tenant_id bigint not null references tenants (id),
    chat_id bigint not null,
    -- pending | sending | sent | failed | blocked | unknown
    state text not null,
    error text,
    primary key (announcement_id, chat_id)
);
create index announcement_recipients_state on announcement_recipients (announcement_id, state);

-- Customers who sent /stop to a bot: no announcements for them until they send /start again.
create table announcement_optouts (
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    chat_id bigint not null,
    created_at bigint not null,
    primary key (tenant_id, bot_id, chat_id)
);
