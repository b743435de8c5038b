//! One-time admin login links, sent by the manager bot (`/login`, welcome message).
//!
//! 256 random bits, URL-safe; only the SHA-256 is stored; single use; valid 10 minutes. The link
//! opens a confirm page, and only the POST from that page uses it — a link preview's or a
//! scanner's GET leaves it valid.
use crate::domain::{TenantId, UserId};
use crate::storage::{self, Db, now_ms};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;

/// A fresh random token: 32 bytes, base64url (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// How a token or session id is stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a login link for the owner of `tenant`.
pub async fn issue(db: &Db, public_url: &url::Url, tenant: TenantId, user: UserId) -> anyhow::Result<String> {
    let token = random_token();
    storage::auth::insert_login_token(&db.pool, &hash(&token), tenant, user, now_ms() + LOGIN_TTL_MS).await?;
    Ok(public_url.join(&format!("login/{token}"))?.to_string())
}
