-- Issue 17 (item 6): closing an account. `closed_at`: when the owner closed it (bots disconnected,
-- sessions ended); `erase_after`: the end of the grace period, after which its data is erased;
-- `erased_at`: when that was done (the row stays, nameless, for the accounting records that
-- must be kept). Reopening within the grace period clears the first two. Keep in step with the
-- other engine's 0077_account_closing.sql. Never edit a released migration.
alter table tenants add column closed_at bigint;
alter table tenants add column erase_after bigint;
alter table tenants add column erased_at bigint;
create index tenants_to_erase on tenants (erase_after) where erase_after is not null;
