//! Migration 0071 (knowledge per bot) on a copy of a database with data in every table: the
//! schema as the release before it left it, a row (or more) in every table, then the remaining
//! migrations. Nothing is lost, and each business's knowledge now belongs to its first bot.
//!
//! "Every table" checks itself: the tables are listed from the schema catalogue, and the test
//! fails naming any table that got no row: a table the schema gains before this migration must
//! get a row in `fill()` too.
use crate::helpers::*;
use bellhop::domain::{BotId, TenantId};
use bellhop::retrieval::Sources;
use bellhop::storage::{Db, Engine};
use std::collections::BTreeMap;

/// The migration under test.
const VERSION: i64 = 71;

async fn tables(db: &Db) -> Vec<String> {
    let sql = match db.engine {
        Engine::Sqlite => "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name <> '_sqlx_migrations' order by name",
        Engine::Postgres => {
            "select cast(table_name as text) from information_schema.tables
             where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations' order by 1"
        }
    };
    sqlx::query_scalar(sql).fetch_all(&db.pool).await.unwrap()
}

async fn columns(db: &Db, table: &str) -> Vec<String> {
    let sql = match db.engine {
        Engine::Sqlite => "select name from pragma_table_info($1) order by cid",
        Engine::Postgres => {
            "select cast(column_name as text) from information_schema.columns where table_schema = current_schema() and table_name = $1 order by ordinal_position"
        }
    };
    sqlx::query_scalar(sql).bind(table).fetch_all(&db.pool).await.unwrap()
}

/// Every row of `table`, each column as text (blobs included), sorted: what "nothing lost"
/// compares.
async fn dump(db: &Db, table: &str, cols: &[String]) -> Vec<Vec<Option<String>>> {
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match db.engine {
            Engine::Sqlite => format!("quote(\"{c}\")"),
            Engine::Postgres => format!("cast(\"{c}\" as text)"),
        })
        .collect();
    let rows = sqlx::query(&format!("select {} from {table}", exprs.join(", "))).fetch_all(&db.pool).await.unwrap();
    use sqlx::Row;
    let mut out: Vec<Vec<Option<String>>> = rows.iter().map(|r| (0..cols.len()).map(|i| r.get::<Option<String>, _>(i)).collect()).collect();
    out.sort();
    out
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sql).execute(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows in every table of the schema before 0071. Four businesses: one with two bots (the
/// first by creation time has the higher id, and a deleted bot older than both), one with one
/// bot, one with no bot yet, one whose only bot was deleted.
async fn fill(db: &Db) {
    for sql in [
        "insert into tenants (id, name, owner_user_id, created_at, updated_at) values
            (1, 'Two Shops', 9001, 100, 100), (2, 'One Shop', 9002, 100, 100), (3, 'No Bot Yet', 9003, 100, 100), (4, 'Bot Deleted', 9004, 100, 100)",
        "insert into telegram_updates (bot_id, tenant_id, update_id, body, state, received_at, user_id) values (501, 1, 1, '{\"update_id\":1}', 'stored', 100, 77)",
        "insert into jobs (queue, kind, payload, tenant_id, state, max_attempts, run_at, created_at, updated_at, serial_key) values ('default', 'selftest', '{}', 1, 'queued', 5, 100, 100, 100, 'k')",
        "insert into selftest_effects (job_id, value, applied_at) values (1, 1, 100)",
        "insert into login_tokens (token_hash, tenant_id, user_id, created_at, expires_at) values ('h1', 1, 9001, 100, 200)",
        "insert into sessions (id_hash, tenant_id, user_id, csrf_token, created_at, last_seen_at, expires_at) values ('s1', 1, 9001, 'c', 100, 100, 200)",
        "insert into sources (id, tenant_id, kind, name, status, chunk_count, page_count, created_at, updated_at) values
            (11, 1, 'file', 'bread.md', 'ready', 2, 1, 100, 100),
            (12, 1, 'site', 'https://bakery.example/', 'ready', 9, 3, 100, 100),
            (21, 2, 'file', 'roses.md', 'ready', 1, 1, 100, 100),
            (31, 3, 'url', 'https://nobot.example/', 'failed', 0, 0, 100, 100),
            (41, 4, 'file', 'old.md', 'ready', 1, 1, 100, 100)",
        "insert into qa_pairs (id, tenant_id, question, answer, created_at, updated_at) values
            (1, 1, 'Open on Sunday?', 'No.', 100, 100), (2, 2, 'Roses?', 'Yes.', 100, 100), (3, 3, 'Parking?', 'Yes.', 100, 100), (4, 4, 'Old?', 'Yes.', 100, 100)",
        "insert into conversations (id, tenant_id, bot_id, chat_id, chat_kind, created_at, last_message_at, language) values (1, 1, 501, 77, 'private', 100, 100, 'en')",
        "insert into conversation_messages (tenant_id, conversation_id, author, text, update_id, kind, question, created_at) values (1, 1, 'bot', 'Hi', 1, 'fallback', 'Hi?', 100)",
        "insert into bot_settings (bot_id, tenant_id, persona, updated_at, media_text) values (501, 1, 'kind', 100, 'media')",
        "insert into relay_messages (owner_chat_id, message_id, tenant_id, conversation_id, created_at) values (9001, 5, 1, 1, 100)",
        "insert into model_usage (tenant_id, day, tokens, answers) values (1, 20000, 10, 1)",
        "insert into billing_accounts (tenant_id, plan_id, plan_source, period_start, period_end, plan_credits, pack_credits, created_at, updated_at, stripe_subscription_id)
            values (1, 'free', 'default', 0, 100, 10, 0, 100, 100, 'sub_1')",
        "insert into billing_ledger (tenant_id, bucket, amount, kind, source, idem_key, created_at) values (1, 'plan', 10, 'grant', 'plan:free', 'grant:1', 100)",
        "insert into billing_payments (tenant_id, provider, external_id, kind, product, amount, currency, status, created_at) values (1, 'stars', 'ch1', 'pack', 'p', 50, 'XTR', 'paid', 100)",
        "insert into stripe_events (id, event_type, created, body, received_at) values ('evt_1', 'invoice.paid', 1, '{}', 100)",
        "insert into billing_checkouts (query_id, tenant_id, payload, ok, received_at, answered_at) values ('q1', 1, 'p', 1, 100, 100)",
        "insert into paywall_usage (tenant_id, bot_id, chat_id, day, questions) values (1, 501, 77, 20000, 2)",
        "insert into paywall_credits (tenant_id, bot_id, chat_id, credits) values (1, 501, 77, 3)",
        "insert into telegram_pacing (key, next_at) values ('bot:501', 100)",
        "insert into paywall_questions (tenant_id, bot_id, update_id, chat_id, outcome, created_at) values (1, 501, 1, 77, 'free', 100)",
        "insert into stripe_subscriptions (subscription_id, tenant_id, status, event_at) values ('sub_1', 1, 'active', 0)",
        "update key_ring set seals = 3 where id = 1",
        "insert into announcements (id, tenant_id, bot_id, text, since_days, status, total, created_at) values (1, 1, 501, 'We open on Sunday!', 30, 'done', 1, 100)",
        "insert into announcement_recipients (announcement_id, tenant_id, chat_id, state) values (1, 1, 77, 'sent')",
        "insert into announcement_optouts (tenant_id, bot_id, chat_id, created_at) values (1, 501, 78, 100)",
        "insert into telegram_poll_offsets (bot_id, next_offset, updated_at) values (501, 1234, 100)",
    ] {
        exec(db, sql).await;
    }
    // Bots carry sealed blobs: bound, so both engines get real bytes.
    for (id, tenant, status, created) in [(501, 1, "live", 3000), (502, 1, "live", 1000), (503, 1, "deleted", 500), (601, 2, "live", 1000), (701, 4, "deleted", 1000)] {
        sqlx::query(
            "insert into bots (id, tenant_id, username, name, status, token_key_id, token_ct, created_at, updated_at, paused_at, prev_webhook_secret_key_id, prev_webhook_secret_ct)
             values ($1, $2, $3, 'Bot', $4, 'k1', $5, $6, $6, null, 'k1', $7)",
        )
        .bind(id)
        .bind(tenant)
        .bind(format!("b{id}_bot"))
        .bind(status)
        .bind(vec![0u8, 1, 2, 255])
        .bind(created)
        .bind(vec![9u8, 0, 7])
        .execute(&db.pool)
        .await
        .unwrap();
    }
    sqlx::query("update sources set content = $1 where id = 11").bind(vec![0u8, 159, 146, 150]).execute(&db.pool).await.unwrap();
}

async fn owners(db: &Db, table: &str) -> BTreeMap<i64, Option<i64>> {
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(&format!("select id, bot_id from {table}")).fetch_all(&db.pool).await.unwrap();
    rows.into_iter().collect()
}

#[tokio::test]
async fn the_migration_gives_each_businesss_knowledge_to_its_first_bot_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = bellhop::config::DatabaseUrl::parse(&fresh_database_url(dir.path()).await).unwrap();
    let db = Db::connect(&url).await.unwrap();
    assert!(db.migration_versions().contains(&VERSION));
    db.migrate_before(VERSION).await.unwrap();
    assert!(!tables(&db).await.contains(&"source_bots".to_owned()), "the schema is the one before {VERSION}");

    fill(&db).await;
    let mut before = BTreeMap::new();
    for t in tables(&db).await {
        let cols = columns(&db, &t).await;
        let rows = dump(&db, &t, &cols).await;
        assert!(!rows.is_empty(), "table {t} got no row: add rows for it to fill() so the migration is tested on it");
        before.insert(t, (cols, rows));
    }

    db.migrate().await.unwrap();

    // Nothing lost: every table, every row, every column that was there.
    let after_tables = tables(&db).await;
    for (t, (cols, rows)) in &before {
        assert!(after_tables.contains(t), "table {t} is gone");
        assert_eq!(&dump(&db, t, cols).await, rows, "rows of {t} changed");
    }
    // Today's knowledge belongs to each business's first bot (created first, not deleted); a
    // business without a bot keeps it for its first one.
    let expected = BTreeMap::from([(11, Some(502)), (12, Some(502)), (21, Some(601)), (31, None), (41, None)]);
    assert_eq!(owners(&db, "sources").await, expected);
    assert_eq!(owners(&db, "qa_pairs").await, BTreeMap::from([(1, Some(502)), (2, Some(601)), (3, None), (4, None)]));
    assert_eq!(count(&db, "select count(*) from source_bots").await, 0, "nothing is shared by the migration");

    // The index needs nothing: chunks stay under tenant and "src-<id>[-p<k>]", and the first
    // bot's search covers every page of its sources; the other bot's covers none of them.
    let scope = bellhop::knowledge::scope::of_bot(&db.pool, TenantId(1), Some(BotId(502))).await.unwrap();
    let Sources::Only(mut ids) = scope else { panic!("a bot's scope names its sources") };
    ids.sort();
    assert_eq!(ids, ["src-11", "src-12", "src-12-p1", "src-12-p2"]);
    assert_eq!(bellhop::knowledge::scope::of_bot(&db.pool, TenantId(1), Some(BotId(501))).await.unwrap(), Sources::Only(vec![]));

    // The business without a bot: its first bot gets the knowledge when it is created.
    let mut conn = db.pool.acquire().await.unwrap();
    let new = bellhop::storage::bots::NewBot {
        id: BotId(801),
        tenant_id: TenantId(3),
        username: "first_bot",
        name: "First",
        token: bellhop::crypto::Sealed { key_id: "k1".into(), blob: vec![1, 2, 3] },
        webhook_secret: None,
    };
    assert!(bellhop::storage::bots::insert(&mut conn, &new).await.unwrap());
    assert_eq!(owners(&db, "sources").await[&31], Some(801));
    assert_eq!(owners(&db, "qa_pairs").await[&3], Some(801));
}
