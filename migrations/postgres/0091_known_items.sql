-- Owner-facing gaps found in walkthroughs. Keep in step with the other engine's
-- 0091_known_items.sql. Never edit a released migration.

-- A site read that stopped at its page limit said only "5 web pages": the owner was not told
-- that other pages of the site were left out. A read that had more pages queued than it was
-- allowed to read records the limit it stopped at; null: the whole site (as found) was read.
alter table sources add column page_limit_reached bigint;

-- The Knowledge gaps page could only answer a question, so one not worth answering (spam,
-- "asdf", off-topic) stayed listed for good. The owner can now hide it: its answers are marked
-- here (the conversation is kept), and the list and the overview leave them out. A customer who
-- asks it again brings it back. Null: not hidden.
alter table conversation_messages add column gap_dismissed_at bigint;
