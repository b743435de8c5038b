-- The customer's language (a two-letter code: their latest message, else their Telegram app's
-- language), so texts sent later without a message of theirs to go by — "you're back with the
-- assistant" when the owner closes a handoff — are in it. Null: not known (English).
-- Keep in step with the other engine's file. Never edit a released migration.
alter table conversations add column language text;
