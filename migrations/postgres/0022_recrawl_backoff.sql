-- Issue 16: a web page or site whose scheduled re-crawl keeps failing is tried less and less
-- often (its re-crawl interval, doubling, at most a week apart), and its owner is told once per
-- failing streak. Keep in step with the other engine's 0022_recrawl_backoff.sql. Never edit a
-- released migration.
-- failed reads in a row (0 once a read succeeds)
alter table sources add column recrawl_failures bigint not null default 0;
-- when the next re-crawl is due after a failure (Unix ms); null: by last_indexed_at
alter table sources add column next_crawl_at bigint;
-- when the owner was told about the current failing streak; null: not yet (or no streak)
alter table sources add column failure_notice_at bigint;
