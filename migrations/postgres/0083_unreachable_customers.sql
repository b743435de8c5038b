-- Announcements (review): a customer who blocked the bot (or deleted their Telegram account) was
-- tried again by every announcement, and counted as not reached each time. Telegram's refusal is
-- now remembered on their private conversation with the bot, and later announcements leave them
-- out until any new update from them shows they are back (they unblocked it). Kept on the
-- conversation row, so whatever erases the conversation (/forget, the owner's erasure, a closed
-- account) erases the mark with it. Keep in step with the other engine's
-- 0083_unreachable_customers.sql. Never edit a released migration.

-- When Telegram last refused a message to this private chat for good (blocked, deactivated);
-- null: reachable.
alter table conversations add column unreachable_at bigint;

-- Customers an announcement left out when it was written because they could not be reached
-- (shown to the owner beside its progress).
alter table announcements add column unreachable bigint not null default 0;

-- Refusals already on record: a customer an earlier announcement found blocked, who has not
-- written since it was written.
update conversations set unreachable_at = (
        select max(a.created_at) from announcement_recipients r join announcements a on a.tenant_id = r.tenant_id and a.id = r.announcement_id
         where a.tenant_id = conversations.tenant_id and a.bot_id = conversations.bot_id and r.chat_id = conversations.chat_id and r.state = 'blocked')
 where chat_kind = 'private' and thread_id = 0
   and last_message_at < (
        select max(a.created_at) from announcement_recipients r join announcements a on a.tenant_id = r.tenant_id and a.id = r.announcement_id
         where a.tenant_id = conversations.tenant_id and a.bot_id = conversations.bot_id and r.chat_id = conversations.chat_id and r.state = 'blocked');
