-- Key rotation's shared state (issue 16, item 11). One row.
--
-- retired: the ids of keys `rotate-key --retire-old` has retired, space-separated. Nothing may
--   be sealed with them again: a process whose key ring is older than the retirement must read
--   the ring again and seal with the new key.
-- seals: a counter. Every write of a sealed value first updates this row in its own transaction
--   ("claims" its key, checking it is not retired), and a retirement updates the same row, so
--   the database orders the two: a sealed write either commits before the retirement (and the
--   re-seal that follows it finds the row) or sees the key retired.
create table key_ring (
    id integer primary key check (id = 1),
    retired text not null default '',
    seals bigint not null default 0
);

insert into key_ring (id, retired, seals) values (1, '', 0);
