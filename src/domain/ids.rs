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
id_type!(
    /// A knowledge source of a tenant: an uploaded file, a web page or a site.
    SourceId
);
id_type!(
    /// One of an owner's question-and-answer pairs.
    QaId
);
