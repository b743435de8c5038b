//! Key rotation's database half: re-seal every sealed column under the ring's active key.
//!
//! Runs beside live traffic: rows are re-sealed in small batches, each row with a
//! compare-and-swap on its old ciphertext, so a concurrent writer is never overwritten and a
//! reader always finds a ciphertext some key in its ring opens. Each re-seal claims its key
//! (`storage::keys`) like any sealed write.
use super::Db;
use super::bots::{SEALED_COLUMNS, reseal, sealed_not_under};
use crate::crypto::KeyRing;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    pub resealed: u64,
    pub failed: u64,
}

/// Re-seals every row not yet under the active key. Rows that fail to open are counted (and
/// logged by id) but left untouched: they need an operator, not a silent overwrite.
pub async fn reseal_all(db: &Db, keys: &KeyRing) -> anyhow::Result<ResealReport> {
    let active = keys.active_key_id();
    let mut report = ResealReport::default();
    for column in SEALED_COLUMNS {
        let mut skip = std::collections::HashSet::new();
        loop {
            let batch = sealed_not_under(&db.pool, column, &active, 200 + skip.len() as i64).await?;
            let todo: Vec<_> = batch.into_iter().filter(|v| !skip.contains(&v.bot)).collect();
            if todo.is_empty() {
                break;
            }
            for super::bots::SealedValue { bot, sealed: old } in todo {
                let aad = (column.aad)(bot);
                match keys.open(&old, &aad) {
                    Ok(plain) => {
                        let mut tx = db.begin().await?;
                        let new = super::keys::seal(&mut tx, keys, &plain, &aad).await?;
                        if reseal(&mut *tx, column, bot, &old, &new).await? {
                            report.resealed += 1;
                        }
                        tx.commit().await?;
                    }
                    Err(e) => {
                        tracing::error!(bot_id = bot.0, column = column.column, error = %e, "cannot re-seal");
                        report.failed += 1;
                        skip.insert(bot);
                    }
                }
            }
        }
    }
    Ok(report)
}
