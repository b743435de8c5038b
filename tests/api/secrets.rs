//! Secrets at rest: nothing in plaintext, ciphertexts bound to their row, rotation live.
use crate::helpers::*;
use bellhop::crypto::KeyRing;
use bellhop::domain::BotId;
use bellhop::storage::{self, Db};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Every value of every table, as bytes (a database dump).
async fn dump(db: &Db) -> Vec<u8> {
    let tables: Vec<String> = match db.engine {
        storage::Engine::Sqlite => sqlx::query("select name from sqlite_master where type = 'table'").fetch_all(&db.pool).await.unwrap(),
        storage::Engine::Postgres => {
            sqlx::query("select table_name::text from information_schema.tables where table_schema = 'public'").fetch_all(&db.pool).await.unwrap()
        }
    }
    .into_iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.iter().any(|t| t == "bots"));
    let mut out = Vec::new();
    for t in tables {
        // Cast every column to text/bytes the portable way: select each row as JSON-ish text.
        let cols: Vec<String> = match db.engine {
            storage::Engine::Sqlite => sqlx::query(&format!("select name from pragma_table_info('{t}')")).fetch_all(&db.pool).await.unwrap(),
            storage::Engine::Postgres => sqlx::query("select column_name::text from information_schema.columns where table_name = $1")
                .bind(&t)
                .fetch_all(&db.pool)
                .await
                .unwrap(),
        }
        .into_iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        for c in cols {
            let expr = match db.engine {
                storage::Engine::Sqlite => format!("cast(\"{c}\" as blob)"),
                storage::Engine::Postgres => format!("convert_to(\"{c}\"::text, 'UTF8')"),
            };
            for r in sqlx::query(&format!("select {expr} from \"{t}\"")).fetch_all(&db.pool).await.unwrap() {
                if let Ok(Some(v)) = r.try_get::<Option<Vec<u8>>, _>(0) {
                    out.extend(v);
                    out.push(b'\n');
                }
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_holds_no_plaintext_token_or_webhook_secret() {
    let app = spawn_app().await;
    let mut plain = Vec::new();
    for i in 0..5 {
        let (_, token, secret) = app.create_bot(1000 + i, 5_000_000 + i).await;
        plain.push(token.expose().to_owned());
        plain.push(secret);
    }
    let d = dump(app.db()).await;
    assert!(contains(&d, b"test5000000_bot"), "the dump is not reading the bots table");
    for p in &plain {
        assert!(!contains(&d, p.as_bytes()), "plaintext secret found in the database");
        // Nor the secret half of a token on its own.
        let tail = p.rsplit(':').next().unwrap();
        assert!(!contains(&d, tail.as_bytes()));
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_ciphertext_copied_onto_another_row_does_not_open() {
    let app = spawn_app().await;
    app.create_bot(1, 6_000_001).await;
    app.create_bot(2, 6_000_002).await;
    let a = storage::bots::sealed_token(&app.db().pool, storage::tenants::find_or_create_for_owner(&mut *app.db().pool.acquire().await.unwrap(), 1.into(), "x").await.unwrap().id, BotId(6_000_001))
        .await
        .unwrap()
        .unwrap();
    // Copy bot 1's token ciphertext onto bot 2's row, and into bot 1's webhook-secret column.
    sqlx::query("update bots set token_key_id = $1, token_ct = $2 where id = $3")
        .bind(&a.key_id)
        .bind(&a.blob)
        .bind(6_000_002i64)
        .execute(&app.db().pool)
        .await
        .unwrap();
    let keys = &app.state.keys;
    assert!(keys.open(&a, &storage::bots::token_aad(BotId(6_000_001))).is_ok());
    let copied = storage::bots::sealed_token(&app.db().pool, storage::tenants::find_or_create_for_owner(&mut *app.db().pool.acquire().await.unwrap(), 2.into(), "x").await.unwrap().id, BotId(6_000_002))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copied, a);
    assert!(keys.open(&copied, &storage::bots::token_aad(BotId(6_000_002))).is_err(), "copied ciphertext opened on another row");
    assert!(keys.open(&a, &storage::bots::webhook_secret_aad(BotId(6_000_001))).is_err(), "token ciphertext opened as a webhook secret");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn key_rotation_reencrypts_everything_with_no_failed_request_meanwhile() {
    let app = spawn_app().await;
    let mut bots = Vec::new();
    for i in 0..40 {
        let (_, _, secret) = app.create_bot(2000 + i, 7_000_000 + i).await;
        bots.push((7_000_000 + i, secret));
    }
    let old_key = app.state.keys.active_key_id();

    // Live traffic: authenticated webhook calls (each opens a sealed secret) until told to stop.
    // Progress is counted, not timed: rotation starts after 100 accepted calls and the traffic
    // stops 100 accepted calls after it ended, however slow the machine.
    let stop = tokio_util::sync::CancellationToken::new();
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (http, base, bots, stop, accepted) = (app.http.clone(), app.url(""), bots.clone(), stop.clone(), accepted.clone());
        clients.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut n) = (0, 0, 0i64);
            while !stop.is_cancelled() {
                let (bot, secret) = &bots[(n as usize) % bots.len()];
                n += 1;
                let body = serde_json::json!({"update_id": c * 1_000_000 + n});
                let r = http.post(format!("{base}/tg/bot/{bot}")).header("X-Telegram-Bot-Api-Secret-Token", secret).json(&body).send().await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        ok += 1;
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let accepted_at_least = |n: usize| {
        let accepted = accepted.clone();
        async move { accepted.load(Ordering::SeqCst) >= n }
    };
    wait_until(Duration::from_secs(120), || accepted_at_least(100)).await;

    // `bellhop rotate-key`, as another process would run it: its own key ring from the same file.
    let cfg = app.settings.config(bellhop::config::Needs::Storage);
    let (ring, created) = KeyRing::load(&cfg.secrets, false).unwrap();
    assert!(!created);
    let new_key = ring.add_active_key().unwrap().expect("file key ring");
    let report = storage::rotation::reseal_all(app.db(), &ring).await.unwrap();
    assert_eq!(report, storage::rotation::ResealReport { resealed: 80, failed: 0 });
    let after_rotation = accepted.load(Ordering::SeqCst) + 100;
    wait_until(Duration::from_secs(120), || accepted_at_least(after_rotation)).await;
    stop.cancel();
    let (mut ok, mut failed) = (0, 0);
    for c in clients {
        let (o, f) = c.await.unwrap();
        ok += o;
        failed += f;
    }
    assert!(ok >= 200, "too little traffic to prove anything ({ok})");
    assert_eq!(failed, 0, "requests failed during rotation");

    assert_ne!(new_key, old_key);
    let in_use = storage::bots::key_ids_in_use(app.db()).await.unwrap();
    assert_eq!(in_use, vec![new_key.clone()], "something is still under the old key");
    assert_eq!(ring.retire_keys_except(&in_use).unwrap(), 1);
    // The running app still authenticates (it reloads the ring on the unknown key id).
    let (bot, secret) = &bots[0];
    assert_eq!(app.post_update(*bot, Some(secret), &serde_json::json!({"update_id": 424242})).await, 200);
    app.stop().await.unwrap();
}

/// Every sealed value in the database, opened with a key ring read fresh from the ring file.
async fn unreadable_rows(app: &TestApp) -> Vec<String> {
    let cfg = app.settings.config(bellhop::config::Needs::Storage);
    let (ring, _) = KeyRing::load(&cfg.secrets, false).unwrap();
    let mut bad = Vec::new();
    for column in storage::bots::SEALED_COLUMNS {
        let c = column.column;
        let rows = sqlx::query(&format!("select id, {c}_key_id, {c}_ct from bots where {c}_key_id is not null")).fetch_all(&app.db().pool).await.unwrap();
        for r in rows {
            let bot = BotId(r.get(0));
            let sealed = bellhop::crypto::Sealed { key_id: r.get(1), blob: r.get(2) };
            if let Err(e) = ring.open(&sealed, &(column.aad)(bot)) {
                bad.push(format!("bot {bot} {c}: {e}"));
            }
        }
    }
    bad
}

/// Issue 16, item 11: a server that read the key ring (with the key that is about to be
/// retired active) up to two seconds before `rotate-key --retire-old` sealed new rows with the
/// retired key: unreadable once the key left the ring.
#[tokio::test]
async fn a_server_that_read_the_key_ring_just_before_a_rotation_never_seals_with_the_retired_key() {
    let app = spawn_app().await;
    let old_key = app.state.keys.active_key_id(); // the server has just looked at the ring
    let cfg = app.settings.config(bellhop::config::Needs::Storage);
    bellhop::app::rotate_key(&cfg, true).await.unwrap();

    // A bot arrives right after: the server stores its token.
    let token = bellhop::domain::BotToken::parse(&format!("7100001:{}", random_secret(35))).unwrap();
    token_used(token.expose());
    let user = |id: i64, name: &str| bellhop::telegram::User { id, is_bot: id > 7_000_000, first_name: name.into(), username: Some(format!("{name}_bot")), ..Default::default() };
    let update = bellhop::telegram::ManagedBotUpdated { user: user(4242, "owner"), bot: user(7_100_001, "shop") };
    let mut tx = app.db().begin().await.unwrap();
    bellhop::manager::updates::record_managed_bot(&mut tx, &app.state.keys, 1, &update, &token).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(unreadable_rows(&app).await, Vec::<String>::new());
    let key_ids = storage::bots::key_ids_in_use(app.db()).await.unwrap();
    assert!(!key_ids.contains(&old_key), "sealed with the retired key {old_key}: {key_ids:?}");
    app.stop().await.unwrap();
}

/// Issue 16, item 11: two `rotate-key` runs at once each read the ring, added a key and wrote
/// the ring back: one key was lost, with every row the losing run had re-sealed under it.
#[tokio::test]
async fn rotate_key_runs_at_the_same_time_leave_every_row_readable() {
    let app = spawn_app().await;
    for i in 0..10 {
        app.create_bot(3000 + i, 7_200_000 + i).await;
    }
    let cfg = app.settings.config(bellhop::config::Needs::Storage);
    let runs = 6;
    let start = Arc::new(std::sync::Barrier::new(runs));
    let threads: Vec<_> = (0..runs)
        .map(|i| {
            let (cfg, start) = (cfg.clone(), start.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                start.wait();
                rt.block_on(bellhop::app::rotate_key(&cfg, i % 2 == 1)).map_err(|e| format!("{e:#}"))
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().expect("every run finishes");
    }
    assert_eq!(unreadable_rows(&app).await, Vec::<String>::new());
    let ring = std::fs::read_to_string(&cfg.secrets.key_file).unwrap();
    let keys = ring.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).count();
    assert!(keys >= 1, "{ring}");
    app.stop().await.unwrap();
}

/// Issue 16, item 11: the database's refusal is what holds when a process cannot see a newer
/// ring at all (here keys from configuration, never re-read): it gets an error, and writes no row
/// under the retired key.
#[tokio::test]
async fn a_sealed_write_with_a_retired_key_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let stale = KeyRing::from_keys(&[[1u8; 32]]);
    let current = KeyRing::from_keys(&[[2u8; 32], [1u8; 32]]);
    storage::keys::retire(app.db(), &[stale.active_key_id()]).await.unwrap();
    assert_eq!(storage::keys::retired(app.db()).await.unwrap(), [stale.active_key_id()]);

    let mut tx = app.db().begin().await.unwrap();
    let refused = storage::keys::seal(&mut tx, &stale, b"secret", "bots.webhook_secret:1").await.unwrap_err();
    assert!(format!("{refused:#}").contains("retired"), "{refused:#}");
    drop(tx);
    let mut tx = app.db().begin().await.unwrap();
    let sealed = storage::keys::seal(&mut tx, &current, b"secret", "bots.webhook_secret:1").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sealed.key_id, current.active_key_id());
    app.stop().await.unwrap();
}

/// With the master key in the configuration (BELLHOP_MASTER_KEY), the processes already running
/// cannot learn the new key: after `rotate-key` every webhook of theirs failed with HTTP 500
/// until they were restarted, and nothing said so. `rotate-key` now says to restart them, with
/// the old key kept, once it re-encrypted anything.
#[tokio::test]
async fn rotate_key_with_a_configured_master_key_says_to_restart_every_process() {
    let old = crate::crash::base64_key();
    let app = spawn_app_with(|s| {
        s.set("BELLHOP_MASTER_KEY", old.clone());
    })
    .await;
    let (_, _, secret) = app.create_bot(2900, 7_900_001).await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BELLHOP_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg("rotate-key")
        .env("BELLHOP_DATA_DIR", &app.settings.values["BELLHOP_DATA_DIR"])
        .env("BELLHOP_DATABASE_URL", &app.settings.values["BELLHOP_DATABASE_URL"])
        .env("BELLHOP_MASTER_KEY", crate::crash::base64_key())
        .env("BELLHOP_OLD_MASTER_KEYS", &old)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("re-encrypted 2 secrets"), "{stdout}");
    assert!(stdout.contains(bellhop::app::RESTART_AFTER_ROTATION), "{stdout}");
    // As the reminder says: the running process, with the old key only, cannot open the secret.
    assert_eq!(app.post_update(7_900_001, Some(&secret), &serde_json::json!({"update_id": 1})).await, 500);
    app.stop().await.unwrap();
}

/// `rotate-key`, `telegram move` and `billing refund` applied pending migrations on the way
/// (printing sqlx's notices): on a database that needs `bellhop migrate` they now refuse, saying
/// so, and change nothing — neither the database nor the key ring file.
#[tokio::test]
async fn operator_commands_refuse_a_database_with_pending_migrations_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tg = crate::sandbox_support::TestSandbox::start().await;
    let mut settings = test_settings(dir.path()).await;
    settings.telegram(&tg);
    let cfg = settings.config(bellhop::config::Needs::Serve);
    let db = Db::connect(&cfg.database_url).await.unwrap();
    let last = *db.migration_versions().last().unwrap();
    db.migrate_before(last).await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 1);
    let applied = || async { count(&db, "select count(*) from _sqlx_migrations").await };
    let before = applied().await;
    let key_path = cfg.secrets.key_file.clone();
    let key_file = || std::fs::read(&key_path).ok();
    let keys_before = key_file();
    let refused = "the database needs `bellhop migrate` first (1 migration pending); nothing was changed";

    let err = bellhop::app::rotate_key(&cfg, false).await.unwrap_err();
    assert_eq!(format!("{err:#}"), refused);
    assert_eq!(key_file(), keys_before, "the key ring file was changed");
    assert!(keys_before.is_none(), "rotate-key would have created the key ring");
    // The other commands need the key ring: from the configuration here.
    settings.set("BELLHOP_MASTER_KEY", crate::crash::base64_key());
    let cfg = settings.config(bellhop::config::Needs::Serve);
    let err = bellhop::app::moving::run(cfg.clone(), "http://127.0.0.1:9", false, Some(false)).await.unwrap_err();
    assert_eq!(format!("{err:#}"), refused);
    let (ok, text) = crate::telegram_move::bellhop(&["billing", "refund", "--charge-id", "ch_1"], &settings).await;
    assert!(!ok && text.contains(refused), "{text}");
    assert!(!text.contains("migrat") || !text.contains("sqlx"), "{text}");
    assert_eq!(applied().await, before, "a migration was applied");
    assert_eq!(db.pending_migrations().await.unwrap(), 1);
    // `migrate` applies it; then the commands run.
    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
}
