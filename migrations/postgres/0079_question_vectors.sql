-- Issue 15: a customer question's embeddings, kept on its stored update once made, so that a
-- re-run of the update's job (its worker died while the model wrote) does not embed it again.
-- Deleted with the update (retention, a customer's erasure). Never edit a released migration.
alter table telegram_updates add column question_vectors bytea;
