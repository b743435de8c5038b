//! bellhop's own ids, distinct types like Telegram's (`BotId`, `ChatId`, `UserId`, which live in
//! `bellhop_telegram` and are re-exported from `crate::domain`).
use bellhop_telegram::id_type;

id_type!(
    /// A bellhop tenant (one business, one owner account).
    TenantId
);
id_type!(
    /// A row of the durable job queue.
    JobId
);
