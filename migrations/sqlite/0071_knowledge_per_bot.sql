-- Issue 17 (item 1): knowledge belongs to a bot. A business with a bakery bot and a flower-shop
-- bot has two knowledge bases; a source can be shared with more of the owner's bots on purpose.
-- Keep in step with the other engine's 0071_knowledge_per_bot.sql. Never edit a released migration.
-- (Numbered after 0070, announcements, which reached main first.)
--
-- The model (docs/owners.md § Knowledge per bot):
-- - sources.bot_id / qa_pairs.bot_id: the bot the source or pair belongs to. Null, or a bot that
--   is no longer the business's (its data was deleted, it moved to another owner): knowledge
--   "not used by any bot", kept for the owner to delete or share, and given to the business's
--   next bot when that bot is its only one (storage::bots::insert).
-- - source_bots: the other bots of the same business a source is also used for ("Also use for").
-- The vector index is unchanged: chunks stay keyed by tenant and source ("src-<id>", pages
-- "src-<id>-p<k>"), and a bot's search is limited to the sources this schema gives it.

alter table sources add column bot_id bigint references bots (id);
alter table qa_pairs add column bot_id bigint references bots (id);

-- Today's knowledge goes to each business's first bot: the oldest (created_at, then id) of the
-- bots it still has. A business with no bot keeps it without one until its first bot exists.
update sources set bot_id = (
    select b.id from bots b where b.tenant_id = sources.tenant_id and b.status <> 'deleted' order by b.created_at, b.id limit 1);
update qa_pairs set bot_id = (
    select b.id from bots b where b.tenant_id = qa_pairs.tenant_id and b.status <> 'deleted' order by b.created_at, b.id limit 1);

create index sources_bot on sources (tenant_id, bot_id, id);
create index qa_pairs_bot on qa_pairs (tenant_id, bot_id, id);

-- A source also used by another bot of the same business (the owner's explicit choice).
create table source_bots (
    tenant_id bigint not null references tenants (id),
    source_id bigint not null references sources (id),
    bot_id bigint not null references bots (id),
    created_at bigint not null,
    primary key (source_id, bot_id)
);
create index source_bots_bot on source_bots (tenant_id, bot_id);
