-- Team (review): an owner could not take back an invitation link they made (or sent to the wrong
-- person). The owner may now cancel an unused link on the Team page; a cancelled link is kept,
-- so whoever opens it is told that it was cancelled, and it adds no one to the team. Keep in step
-- with the other engine's 0084_team_invite_revoked.sql. Never edit a released migration.

-- When the owner cancelled the invitation; null: not cancelled.
alter table team_invites add column revoked_at bigint;
