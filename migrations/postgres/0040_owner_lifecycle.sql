-- Issue 17 (items 3, 6, 7): replies to photos, voice notes and other media; pausing and
-- disconnecting a bot; deleting one customer's data. Keep in step with the other engine's
-- 0040_owner_lifecycle.sql. Never edit a released migration.

-- The bot's reply to a message it cannot read (photo, voice note, video, document, sticker,
-- location, contact); empty: the built-in default.
alter table bot_settings add column media_text text not null default '';
-- The notice a paused bot gives customers; empty: the built-in default.
alter table bot_settings add column paused_text text not null default '';

-- When the owner paused the bot (Unix ms); null: it answers. A paused bot stays connected to
-- Telegram and replies with a short notice, without the model and without using credits.
alter table bots add column paused_at bigint;

-- The webhook secret Telegram may still hold while a new one is being set (a new token, a
-- repair): updates signed with it are accepted until `setWebhook` with the new one succeeded,
-- then it is cleared. Sealed like the current one (same associated data).
alter table bots add column prev_webhook_secret_key_id text;
alter table bots add column prev_webhook_secret_ct bytea;

-- The Telegram user an update came from (message, edited message, button press, payment), so
-- one customer's stored updates can be found and deleted on request. Null: none (or unknown).
-- Stored bodies were parsed as JSON when they arrived; dead ones may not be, and are skipped.
-- PostgreSQL's JSON operators refuse a string with \u0000 in it (which Telegram may send): such
-- a body is read with those escapes removed, and one that still does not parse is left null.
alter table telegram_updates add column user_id bigint;
create function pg_temp.bellhop_update_sender(body text) returns bigint language plpgsql as $$
declare
    j json;
begin
    begin
        j := body::json;
        return coalesce((j #>> '{message,from,id}')::bigint, (j #>> '{edited_message,from,id}')::bigint,
                        (j #>> '{callback_query,from,id}')::bigint, (j #>> '{pre_checkout_query,from,id}')::bigint);
    exception when others then
        j := replace(body, '\u0000', '')::json;
        return coalesce((j #>> '{message,from,id}')::bigint, (j #>> '{edited_message,from,id}')::bigint,
                        (j #>> '{callback_query,from,id}')::bigint, (j #>> '{pre_checkout_query,from,id}')::bigint);
    end;
exception when others then
    return null;
end
$$;
update telegram_updates set user_id = pg_temp.bellhop_update_sender(body) where state = 'stored';
create index telegram_updates_user on telegram_updates (bot_id, user_id);
