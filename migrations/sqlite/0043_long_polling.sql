-- Issue 18, item 3: long polling (`telegram.updates = "polling"`). One row per bot whose
-- updates bellhop takes with getUpdates instead of a webhook (the manager bot included): the row
-- says the bot was switched to polling — so switching back to webhooks knows which bots need
-- their webhook set again — and holds the `offset` of its next getUpdates.
--
-- next_offset is written in the same transaction as the updates it confirms (app::ingress), so
-- Telegram forgets an update only after it is stored. Null: nothing taken yet (the first poll
-- asks without an offset and gets every update Telegram still holds; duplicates are no-ops in
-- telegram_updates). Keep in step with the other engine's file. Never edit a released migration.
create table telegram_poll_offsets (
    bot_id bigint primary key,
    next_offset bigint,
    updated_at bigint not null
);
