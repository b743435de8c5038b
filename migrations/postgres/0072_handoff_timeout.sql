-- Issue 17 (item 4, part): a handoff nobody answers goes back to the assistant. Minutes a
-- customer waits for a person before the assistant takes the conversation back and tells them;
-- 0: they wait until the owner closes it. Bots without a settings row use the default, 60. Keep
-- in step with the other engine's 0072_handoff_timeout.sql. Never edit a released migration.
alter table bot_settings add column handoff_timeout_minutes bigint not null default 60;
-- The sweep that finds them reads only conversations with a person.
create index conversations_with_person on conversations (handed_off_at) where mode = 'human';
