-- Handoff fixes (scale-out review): the handoff sweep, in every worker, looks for notices to a
-- customer that their conversation went back to the assistant ('closed') still pending — their
-- sending was cut short and no job retries them. A partial index keeps that look-up to the few
-- such rows, across every tenant. Never edit a released migration.
create index conversation_messages_pending_closed on conversation_messages (id) where kind = 'closed' and delivery = 'pending';
