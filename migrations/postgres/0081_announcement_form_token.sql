-- Announcements (review): a double-click on Send posted the form twice and sent the announcement
-- twice. The form now carries a one-time token, stored with the announcement it wrote; a second
-- post with the same token finds that announcement instead of writing another. Null for
-- announcements written before (nulls never collide). Never edit a released migration.
alter table announcements add column form_token text;
create unique index announcements_form_token on announcements (tenant_id, form_token);
