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
