//! The key ring's state shared through the database: which keys are retired (issue 16, item 11).
//!
//! Every write of a sealed value claims its key first, in the same transaction ([`seal`]);
//! `rotate-key --retire-old` marks keys retired ([`retire`]) before its last re-seal and before
//! it drops them from the ring file. Claims and the retirement update the same row, so the
//! database puts them in an order (PostgreSQL's row lock, SQLite's single writer): a sealed write
//! either commits before the retirement — and the re-seal after the retirement finds its row —
//! or sees the key retired, reads the ring again and seals with the new key. Either way no row
//! is left under a key that leaves the ring.
use super::{Conn, Db};
use crate::crypto::{KeyRing, Sealed};

/// Claims `key_id` for a sealed write in `conn`'s transaction: false if it is retired. A write,
/// so it holds the key ring's row (PostgreSQL) until the commit.
pub async fn claim(conn: &mut Conn, key_id: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("update key_ring set seals = seals + 1 where id = 1 and ' ' || retired || ' ' not like $1")
        .bind(format!("% {key_id} %"))
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Seals `plaintext` for the record `aad` under the ring's active key, claimed in `conn`'s
/// transaction (which must then write the value). If that key was retired meanwhile, the ring is
/// read again and the value sealed with its new active key.
pub async fn seal(conn: &mut Conn, keys: &KeyRing, plaintext: &[u8], aad: &str) -> anyhow::Result<Sealed> {
    let sealed = keys.seal(plaintext, aad);
    if claim(conn, &sealed.key_id).await? {
        return Ok(sealed);
    }
    keys.reload();
    let sealed = keys.seal(plaintext, aad);
    if claim(conn, &sealed.key_id).await? {
        return Ok(sealed);
    }
    anyhow::bail!(
        "the active master key {} was retired by `bellhop rotate-key --retire-old` and this process has no newer one (check secrets.master_key, or the key ring file)",
        sealed.key_id
    )
}

/// Retires `key_ids`: from the moment this returns, nothing is sealed with them. Waits for the
/// sealed writes in flight that claimed them (their rows are then visible to a re-seal).
pub async fn retire(db: &Db, key_ids: &[String]) -> sqlx::Result<()> {
    let added: String = key_ids.iter().map(|k| format!(" {k}")).collect();
    sqlx::query("update key_ring set retired = retired || $1 where id = 1").bind(added).execute(&db.pool).await?;
    Ok(())
}

/// The retired key ids.
pub async fn retired(db: &Db) -> sqlx::Result<Vec<String>> {
    let all: String = sqlx::query_scalar("select retired from key_ring where id = 1").fetch_one(&db.pool).await?;
    Ok(all.split_whitespace().map(str::to_owned).collect())
}
