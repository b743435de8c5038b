//! Managed bots (Bot API 9.6+): the update a manager bot receives when a child bot is created,
//! its token is replaced or its owner changes, and the service message in the creator's chat.
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
