-- Issue 18, item 4: `bellhop telegram move --to URL` moves every bot to another Bot API server.
-- Keep in step with the other engine's 0074_telegram_move.sql. Never edit a released migration.
--
-- telegram_server: at most one row (id = 1), written only by the move. api_url: the Bot API
-- server the bots were moved to; it overrides `telegram.api_url` at every start, so the next
-- `serve` (every web and worker process) uses it. leaving: the server a move is taking the bots
-- from while the move is unfinished — `serve` refuses to start meanwhile, and the next run of
-- the move finishes it.
create table telegram_server (
    id bigint primary key,
    api_url text not null,
    leaving text,
    updated_at bigint not null
);
-- The bots (the manager included) a move has already logged out of (`logOut`) or closed on
-- (`close`) the server it is leaving, so a run after a partial failure never calls that server
-- for them again: after the 10-minute lock-out any call would log a bot back in there. Emptied
-- when a new move starts.
create table telegram_move_left (
    bot_id bigint primary key,
    server text not null,
    left_at bigint not null
);
