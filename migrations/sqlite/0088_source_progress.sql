-- A big file or site showed "reading…" for minutes with no sign of how far it was. A read now
-- records how many of its passages are indexed, out of how many, while it is `processing`; the
-- Knowledge page shows it as a percentage. Cleared on every change of status. Keep in step with
-- the other engine's 0088_source_progress.sql. Never edit a released migration.

alter table sources add column progress_done bigint;
alter table sources add column progress_total bigint;
