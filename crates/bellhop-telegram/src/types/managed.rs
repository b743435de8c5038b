//! Managed bots (Bot API 9.6+): the update a manager bot receives when a child bot is created,
//! its token is replaced or its owner changes, the service message in the creator's chat, and
//! who may use a managed bot (Bot API 10.1).
use super::User;
use serde::{Deserialize, Serialize};

/// `Update.managed_bot`: <https://core.telegram.org/bots/api#managedbotupdated>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedBotUpdated {
    /// The user who created (or now owns) the bot.
    pub user: User,
    /// The managed bot itself; its id is the `user_id` for `getManagedBotToken`.
    pub bot: User,
}

/// `Message.managed_bot_created`: <https://core.telegram.org/bots/api#managedbotcreated>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedBotCreated {
    pub bot: User,
}

/// Who may use a managed bot (Bot API 10.1): the result of `getManagedBotAccessSettings`,
/// <https://core.telegram.org/bots/api#botaccesssettings>. The owner can always use the bot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BotAccessSettings {
    /// Only the owner and `added_users` may use the bot.
    pub is_access_restricted: bool,
    /// The other users who may use it, when access is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_users: Option<Vec<User>>,
}
