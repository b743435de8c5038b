-- Owner changes (review): a bot given to a user (Telegram's managed_bot update naming another
-- owner) was welcomed as if they had created it, or not at all when Telegram did not let the
-- manager bot write to them first; and their /start then offered to create their first bot.
-- Noted on the bot when it is given, so its welcome says it is theirs now, and is sent when they
-- open the manager chat if it could not be sent before. Keep in step with the other engine's
-- 0085_given_bots.sql. Never edit a released migration.

-- When the bot was last given to its owner (an owner change); null: its owner created it.
alter table bots add column given_at bigint;
