-- Operations fixes (walkthrough D). Keep in step with the other engine's 0093_processes.sql.
-- Never edit a released migration.

-- `bellhop telegram move` must not run while bellhop runs (a running process keeps calling the
-- old server), but it could only see a worker in the middle of a job: an idle web or worker
-- process was invisible. Every `serve` process now records itself here and refreshes `seen_at`
-- every few seconds while it runs (its row is removed when it stops); one not seen for a while
-- has stopped (or was killed).
create table processes (
    id text primary key,
    role text not null,
    host text not null,
    started_at bigint not null,
    seen_at bigint not null
);
