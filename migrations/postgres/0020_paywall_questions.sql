-- Issue 16: the paywall's decision for each customer question, one row per update, so a retried
-- job makes the same decision — a free question, a bought question used, or an invoice — and an
-- invoice that failed to send is sent on the retry instead of turning into a free answer.
-- Keep in step with the other engine's 0020_paywall_questions.sql. Never edit a released migration.
-- (Issue 16's migrations are numbered from 0020 so that branches written at the same time
-- cannot take the same version.)
create table paywall_questions (
    tenant_id bigint not null references tenants (id),
    bot_id bigint not null,
    update_id bigint not null,
    chat_id bigint not null,
    -- free | bought | invoice
    outcome text not null,
    -- invoice: what reached the customer so far: 0 nothing, 1 the message, 2 the invoice too
    sent bigint not null default 0,
    created_at bigint not null,
    primary key (tenant_id, bot_id, update_id)
);
