//! Telegram's ids as distinct types, so a `ChatId` can't go where a `UserId` goes
//! (teloxide `types/chat_id.rs`). All are 64-bit in the Bot API.
/// Declares an `i64` id as its own type (serde-transparent, shown as the number). Exported so
/// that bellhop's own ids (`TenantId`, `JobId`) are made the same way.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::convert::From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    };
}

id_type!(
    /// A Telegram user id (people and bots alike; a bot's user id is its bot id).
    UserId
);
id_type!(
    /// A Telegram chat id: positive for private chats, negative for groups and channels.
    ChatId
);
id_type!(
    /// A Telegram bot's user id, the number before the colon in its token.
    BotId
);

impl From<BotId> for UserId {
    fn from(b: BotId) -> Self {
        UserId(b.0)
    }
}
