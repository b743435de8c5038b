-- Announcements (review): a customer's /stop stayed with the bot's owner of the time. When the
-- bot changed owner, the new owner's announcements reached customers who had sent /stop. A /stop
-- is the customer's word to the bot, whoever owns it: the opt-outs now move with the bot
-- (storage::announcements::move_to_new_owner); this moves those left behind by earlier owner
-- changes to each bot's owner now. Keep in step with the other engine's
-- 0082_optouts_follow_the_bot.sql. Never edit a released migration.
insert into announcement_optouts (tenant_id, bot_id, chat_id, created_at)
    select b.tenant_id, o.bot_id, o.chat_id, min(o.created_at)
      from announcement_optouts o join bots b on b.id = o.bot_id
     where o.tenant_id <> b.tenant_id
     group by b.tenant_id, o.bot_id, o.chat_id
    on conflict (tenant_id, bot_id, chat_id) do nothing;
delete from announcement_optouts
 where exists (select 1 from bots b where b.id = announcement_optouts.bot_id and b.tenant_id <> announcement_optouts.tenant_id);
