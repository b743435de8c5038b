-- The Knowledge page listed a web page or site by its address only, while the page has a title
-- (its <title>) that says what it is. A read now records the title of the first page read; the
-- page shows it with the address small under it. Null for files and for pages without a title.
-- Keep in step with the other engine's 0090_source_title.sql. Never edit a released migration.

alter table sources add column title text;
