-- Answering: conversations with customers, their messages (with feedback), owners' per-bot
-- settings, the manager-chat messages that route an owner's reply back to a customer, and
-- model-token use per tenant and day. Keep in step with the other engine's 0004_answering.sql.
-- Never edit a released migration.

-- One customer chat with one bot (a forum topic of a group is its own conversation). Keyed by
-- tenant too: when a bot changes owner, the earlier conversations stay with the earlier tenant.
create table conversations (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    chat_id bigint not null,
    -- forum topic (message_thread_id), 0 outside topics
    thread_id bigint not null default 0,
    -- private | group | supergroup
    chat_kind text not null,
    customer_user_id bigint not null default 0,
    customer_name text not null default '',
    -- bot: the AI answers | human: handed off, the AI stays silent until the owner closes it
    mode text not null default 'bot',
    handed_off_at bigint,
    created_at bigint not null,
    last_message_at bigint not null,
    unique (tenant_id, bot_id, chat_id, thread_id)
);
create index conversations_tenant on conversations (tenant_id, last_message_at);

-- Every message of a conversation, both ways. One reply per customer update: the answer is
-- committed as sending right before the Bot API call and marked sent after; when Telegram answers
-- with an error (nothing delivered) it goes back to pending, which a retry sends — without calling
-- the model again. A reply found still sending (the process died during the call, so it may have
-- arrived) is marked unknown and not re-sent: a customer never gets the same answer twice.
create table conversation_messages (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    conversation_id bigint not null references conversations (id),
    -- customer | bot | owner
    author text not null,
    text text not null,
    -- customer messages: the update they came in; bot replies: the update they answer
    update_id bigint,
    -- bot replies: answer | qa | fallback | extractive | handoff | command | unavailable
    kind text not null default '',
    -- bot replies: JSON list of {n, title, url, source_id} cited
    sources text not null default '[]',
    -- bot replies: pending | sending | sent | unknown (see above)
    delivery text not null default 'sent',
    telegram_message_id bigint,
    model_tokens bigint not null default 0,
    -- 1 = 👍, -1 = 👎, null = none
    feedback bigint,
    feedback_at bigint,
    -- bot replies that answered a question: the question, for the knowledge-gaps page
    question text,
    created_at bigint not null
);
create index conversation_messages_conv on conversation_messages (conversation_id, id);
create index conversation_messages_tenant on conversation_messages (tenant_id, kind, id);
-- At most one bot reply per customer update (bot replies carry the update they answer).
create unique index conversation_messages_reply on conversation_messages (conversation_id, update_id, author);

-- An owner's settings for one bot; missing columns/rows mean the built-in defaults.
create table bot_settings (
    bot_id bigint primary key,
    tenant_id bigint not null references tenants (id),
    persona text not null default '',
    tone text not null default '',
    extra_instructions text not null default '',
    welcome_text text not null default '',
    fallback_text text not null default '',
    unavailable_text text not null default '',
    help_text text not null default '',
    privacy_text text not null default '',
    paysupport_text text not null default '',
    -- JSON list of {command, description}; empty: the defaults
    commands text not null default '',
    updated_at bigint not null
);
create index bot_settings_tenant on bot_settings (tenant_id);

-- Messages the manager bot sent to an owner about a conversation (handoff notices, "write your
-- reply" prompts): an owner's Telegram reply to one of them goes to that conversation.
create table relay_messages (
    owner_chat_id bigint not null,
    message_id bigint not null,
    tenant_id bigint not null references tenants (id),
    conversation_id bigint not null references conversations (id),
    created_at bigint not null,
    primary key (owner_chat_id, message_id)
);

-- Model tokens each tenant used per UTC day, for the per-tenant budget.
create table model_usage (
    tenant_id bigint not null references tenants (id),
    day bigint not null,
    tokens bigint not null default 0,
    answers bigint not null default 0,
    primary key (tenant_id, day)
);
