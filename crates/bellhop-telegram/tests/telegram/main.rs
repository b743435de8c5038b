//! bellhop-telegram's integration tests: the types and methods against the Bot API reference,
//! and message splitting. Tests that need a Bot API server (the client against the sandbox, the
//! throttle under Telegram's limits, token redaction) live in bellhop-sandbox's tests.
mod telegram_reference;
mod telegram_split;
