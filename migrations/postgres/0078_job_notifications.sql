-- Issue 15: a worker in any process learns of a job the moment it can run, instead of at its next
-- poll (`jobs.poll_interval_ms`). A job that is queued and due — inserted, handed back by a
-- stopping worker, or re-queued by the reaper after its worker died — sends its queue's name on
-- the `bellhop_jobs` channel; every worker process LISTENs there (`jobs::listen`). NOTIFY is
-- transactional: it is delivered at commit, never for a rolled-back enqueue, and PostgreSQL sends
-- one notification per queue however many rows a transaction queues. A job due later (a retry's
-- backoff) is found by polling. No SQLite twin: SQLite is one process, woken in memory. Never
-- edit a released migration.
create function jobs_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('bellhop_jobs', new.queue);
    return null;
end
$$;
create trigger jobs_notify after insert or update of state on jobs
    for each row
    when (new.state = 'queued' and new.run_at <= (extract(epoch from clock_timestamp()) * 1000)::bigint + 1000)
    execute function jobs_notify();
