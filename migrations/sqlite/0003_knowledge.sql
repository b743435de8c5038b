-- Knowledge: an owner's sources (uploaded files, imported URLs and sites) and Q&A pairs.
-- Keep in step with the other engine's 0003_knowledge.sql. Never edit a released migration.

-- One source of knowledge. Its chunks live in the vector index under source id "src-<id>".
create table sources (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    -- file | url | site
    kind text not null,
    -- file name, or the URL the owner gave
    name text not null,
    -- what the bytes turned out to be (pdf, docx, html, markdown, text, csv) once read
    content_type text,
    size_bytes bigint not null default 0,
    -- the uploaded bytes, kept so a source can be re-indexed (null for URLs)
    content blob,
    -- queued | processing | ready | failed
    status text not null,
    -- for failed: a sentence the owner understands
    status_reason text,
    chunk_count bigint not null default 0,
    -- pages indexed (sites): page k > 0 is indexed as "src-<id>-p<k>"
    page_count bigint not null default 0,
    -- sites: page cap, and re-crawl period in hours (null: never)
    max_pages bigint,
    recrawl_hours bigint,
    last_indexed_at bigint,
    created_at bigint not null,
    updated_at bigint not null
);
create index sources_tenant on sources (tenant_id, id);

-- Exact answers the owner wrote, used before retrieval when a question matches.
create table qa_pairs (
    id integer primary key autoincrement,
    tenant_id bigint not null references tenants (id),
    question text not null,
    answer text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index qa_pairs_tenant on qa_pairs (tenant_id, id);
