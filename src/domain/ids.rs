//! bellhop's own ids, distinct types like Telegram's (`BotId`, `ChatId`, `UserId`, which live in
//! `bellhop_telegram` and are re-exported from `crate::domain`).
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    };
}

id_type!(
    /// A bellhop tenant (one business, one owner account).
    TenantId
);
id_type!(
    /// A row of the durable job queue.
    JobId
);
