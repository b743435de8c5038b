-- Issue 17 (item 2): the bot's brand — its name, profile photo and descriptions per language.
-- bellhop's copy is the source of truth: the admin stores what the owner sets, then applies it to
-- Telegram; every provisioning (repair, new token, connect again) applies it again. Keep in step
-- with the other engine's 0073_brand.sql. Never edit a released migration.
--
-- bots.name (the bot's name, already there) is the name the owner set; the default description
-- and short description stay in bots.description / bots.short_description.

-- The profile photo as uploaded (JPEG, at most 5 MB: web/brand.rs) and its SHA-256 (hex).
alter table bots add column photo blob;
alter table bots add column photo_sha256 text not null default '';
-- What Telegram last confirmed, as "<token fingerprint>:<name>" and "<token fingerprint>:<photo
-- sha256>": provisioning sends the name and the photo again only when they differ (a new token,
-- a new name or photo, or a change that failed), since Telegram limits how often a bot may be
-- renamed and keeps every uploaded photo in the bot's profile.
alter table bots add column name_applied text not null default '';
alter table bots add column photo_applied text not null default '';
-- Why Telegram does not show the stored brand yet, in the owner's words; null once it does.
alter table bots add column brand_error text;

-- The owner's descriptions for customers whose Telegram is in another language
-- (setMyDescription / setMyShortDescription with language_code). One row per language the
-- owner added; an empty text means "the default one".
create table bot_languages (
    bot_id bigint not null references bots (id),
    tenant_id bigint not null references tenants (id),
    language_code text not null,
    description text not null default '',
    short_description text not null default '',
    created_at bigint not null,
    primary key (bot_id, language_code)
);
