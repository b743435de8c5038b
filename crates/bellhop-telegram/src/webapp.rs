//! Mini App launch data: the `initData` string Telegram hands a Mini App
//! (<https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app>).
//!
//! `initData` is a URL-encoded query string (`query_id`, `user` as JSON, `auth_date`, …, `hash`).
//! Telegram signs it with the bot's token: the data-check-string is every field but `hash`,
//! decoded, as `key=value` sorted by key and joined with `\n`; the secret key is
//! HMAC-SHA256(key = "WebAppData", message = bot token); `hash` is the hex HMAC-SHA256 of the
//! data-check-string under that secret key. [`verify`] checks it in constant time
//! (`Mac::verify_slice`) and then the age of `auth_date`; [`sign`] makes it (the sandbox, tests).
//!
//! A Mini App must never trust `initDataUnsafe` (the same fields, unchecked, in the browser): the
//! server checks the raw string before it believes who the user is.
use crate::token::BotToken;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far in the future an `auth_date` may be (clocks differ a little).
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// The user who opened the Mini App (<https://core.telegram.org/bots/webapps#webappuser>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAppUser {
    pub id: i64,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

/// Checked launch data: who opened the Mini App, and when Telegram signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitData {
    pub user: WebAppUser,
    /// Unix seconds.
    pub auth_date: i64,
    pub query_id: Option<String>,
}

/// Why launch data was refused. The texts are for the person in front of the Mini App.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitDataError {
    #[error("This page must be opened from the menu button in Telegram (no launch data).")]
    Missing,
    #[error("The launch data has no signature. Please open this page again from the menu button in Telegram.")]
    MissingHash,
    #[error("The launch data is not signed by Telegram for this bot. Please open this page again from the menu button in Telegram.")]
    BadSignature,
    #[error("The launch data is {age_minutes} minutes old. Please close this page and open it again from the menu button in Telegram.")]
    Stale { age_minutes: i64 },
    #[error("The launch data is dated in the future. Please check your device's clock and open this page again from Telegram.")]
    FromTheFuture,
    #[error("The launch data is damaged ({0}). Please open this page again from the menu button in Telegram.")]
    Malformed(&'static str),
}

fn secret_key(token: &BotToken) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(b"WebAppData").expect("HMAC takes any key length");
    mac.update(token.expose().as_bytes());
    mac.finalize().into_bytes().into()
}

fn data_check_string(fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().filter(|(k, _)| k != "hash").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

fn mac_over(token: &BotToken, fields: &[(String, String)]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&secret_key(token)).expect("HMAC takes any key length");
    mac.update(data_check_string(fields).as_bytes());
    mac
}

/// Signs `fields` (decoded values; any `hash` among them is ignored) as Telegram does and returns
/// the URL-encoded `initData` string, `hash` last.
pub fn sign(token: &BotToken, fields: &[(&str, String)]) -> String {
    let owned: Vec<(String, String)> = fields.iter().filter(|(k, _)| *k != "hash").map(|(k, v)| (k.to_string(), v.clone())).collect();
    let hash = hex::encode(mac_over(token, &owned).finalize().into_bytes());
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &owned {
        out.append_pair(k, v);
    }
    out.append_pair("hash", &hash);
    out.finish()
}

/// The launch data of a user opening a Mini App now: `query_id`, `user`, `auth_date`, signed.
pub fn sign_for_user(token: &BotToken, user: &WebAppUser, auth_date: i64, query_id: &str) -> String {
    let user = serde_json::to_string(user).expect("a WebAppUser serializes");
    sign(token, &[("query_id", query_id.to_owned()), ("user", user), ("auth_date", auth_date.to_string())])
}

/// Checks `init_data` (the raw string, as the Mini App received it) against `token`: the
/// signature first, in constant time, then that `auth_date` is at most `max_age_secs` before
/// `now` (Unix seconds) and not more than [`MAX_CLOCK_SKEW_SECS`] after it.
pub fn verify(token: &BotToken, init_data: &str, now: i64, max_age_secs: i64) -> Result<InitData, InitDataError> {
    if init_data.trim().is_empty() {
        return Err(InitDataError::Missing);
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(init_data.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(InitDataError::Malformed("a field appears twice"));
    }
    let Some(hash) = fields.iter().find(|(k, _)| k == "hash").map(|(_, v)| v) else { return Err(InitDataError::MissingHash) };
    let Ok(given) = hex::decode(hash) else { return Err(InitDataError::BadSignature) };
    mac_over(token, &fields).verify_slice(&given).map_err(|_| InitDataError::BadSignature)?;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let auth_date: i64 = field("auth_date").and_then(|v| v.parse().ok()).ok_or(InitDataError::Malformed("no auth_date"))?;
    if auth_date > now + MAX_CLOCK_SKEW_SECS {
        return Err(InitDataError::FromTheFuture);
    }
    if now - auth_date > max_age_secs {
        return Err(InitDataError::Stale { age_minutes: (now - auth_date) / 60 });
    }
    let user: WebAppUser = field("user").and_then(|u| serde_json::from_str(u).ok()).ok_or(InitDataError::Malformed("no user"))?;
    Ok(InitData { user, auth_date, query_id: field("query_id").map(str::to_owned) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> BotToken {
        BotToken::parse(s).unwrap()
    }

    fn rosa() -> WebAppUser {
        WebAppUser { id: 42, first_name: "Rosa".into(), last_name: None, username: Some("rosa".into()), language_code: Some("en".into()) }
    }

    /// A hash computed independently of `sign`, straight from Telegram's description.
    #[test]
    fn the_hash_is_telegrams_hmac_over_the_sorted_fields() {
        let t = token("123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678");
        let data = sign(&t, &[("user", "{\"id\":1}".into()), ("auth_date", "1700000000".into()), ("query_id", "AAE".into())]);
        let mut k = HmacSha256::new_from_slice(b"WebAppData").unwrap();
        k.update(t.expose().as_bytes());
        let secret = k.finalize().into_bytes();
        let mut m = HmacSha256::new_from_slice(&secret).unwrap();
        m.update(b"auth_date=1700000000\nquery_id=AAE\nuser={\"id\":1}");
        let expected = hex::encode(m.finalize().into_bytes());
        assert!(data.ends_with(&format!("hash={expected}")), "{data}");
    }

    #[test]
    fn signed_data_verifies_and_every_forgery_or_stale_date_is_refused() {
        let t = token("123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678");
        let other = token("654321:ABCdefGHIjklMNOpqrSTUvwxYZ012345678");
        let now = 1_800_000_000;
        let good = sign_for_user(&t, &rosa(), now - 10, "q1");
        assert_eq!(verify(&t, &good, now, 3600).unwrap().user, rosa());
        assert_eq!(verify(&other, &good, now, 3600), Err(InitDataError::BadSignature));
        let changed = good.replace("%22id%22%3A42", "%22id%22%3A43");
        assert_ne!(changed, good);
        assert_eq!(verify(&t, &changed, now, 3600), Err(InitDataError::BadSignature));
        let no_hash = good.split("&hash=").next().unwrap().to_owned();
        assert_eq!(verify(&t, &no_hash, now, 3600), Err(InitDataError::MissingHash));
        assert_eq!(verify(&t, &format!("{no_hash}&hash=zz"), now, 3600), Err(InitDataError::BadSignature));
        assert_eq!(verify(&t, "", now, 3600), Err(InitDataError::Missing));
        let old = sign_for_user(&t, &rosa(), now - 3601, "q1");
        assert_eq!(verify(&t, &old, now, 3600), Err(InitDataError::Stale { age_minutes: 60 }));
        let future = sign_for_user(&t, &rosa(), now + MAX_CLOCK_SKEW_SECS + 1, "q1");
        assert_eq!(verify(&t, &future, now, 3600), Err(InitDataError::FromTheFuture));
        assert!(verify(&t, &format!("{good}&auth_date=1"), now, 3600).is_err());
    }
}
