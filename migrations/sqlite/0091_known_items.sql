-- Owner-facing gaps found in walkthroughs. Keep in step with the other engine's
-- 0091_known_items.sql. Never edit a released migration.

-- A site read that stopped at its page limit said only "5 web pages": the owner was not told
-- that other pages of the site were left out. A read that had more pages queued than it was
-- allowed to read records the limit it stopped at; null: the whole site (as found) was read.
alter table sources add column page_limit_reached bigint;
