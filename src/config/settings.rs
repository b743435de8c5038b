//! The settings table: every setting bellhop reads, declared once with its file key,
//! environment variable, default and meaning. Loading ([`super::layers`]), the section parsers
//! (which take their defaults from here), `bellhop config --markdown` and the README's
//! configuration table all come from [`SETTINGS`].
//!
//! Adding a setting: one line here (in the README's order), the field and its parsing in the
//! section's file (`config/<section>.rs`), then paste `bellhop config --markdown` into the README
//! (a test keeps the two equal).

/// One declared setting.
pub struct SettingDef {
    /// Dotted key in `bellhop.toml` (`[telegram] manager_token = …` is `telegram.manager_token`).
    pub key: &'static str,
    /// Environment variable that overrides the file.
    pub env: &'static str,
    /// Built-in default, if any. `{data_dir}` is replaced by the data directory.
    pub default: Option<&'static str>,
    /// Secret values are never printed.
    pub secret: bool,
    pub doc: &'static str,
}

macro_rules! settings {
    ($( $key:literal, $env:literal, $default:expr, $secret:literal, $doc:literal; )*) => {
        /// Every setting bellhop reads. Order is the README's order.
        pub const SETTINGS: &[SettingDef] = &[
            $( SettingDef { key: $key, env: $env, default: $default, secret: $secret, doc: $doc }, )*
        ];
    };
}

settings! {
    "data_dir", "BELLHOP_DATA_DIR", Some("bellhop-data"), false,
        "Directory for the SQLite database, the generated master key and local indexes. Created if missing; must be writable.";
    "database_url", "BELLHOP_DATABASE_URL", Some("sqlite://{data_dir}/bellhop.db"), true,
        "`sqlite://PATH` (default, one file, WAL, durable commits) or `postgres://USER:PASSWORD@HOST/DB`.";
    "listen", "BELLHOP_LISTEN", Some("127.0.0.1:8080"), false,
        "Address the web server binds (`HOST:PORT`; port 0 picks a free port).";
    "public_url", "BELLHOP_PUBLIC_URL", None, false,
        "Public base URL (`https://…`) Telegram posts webhooks to and links point at. Default: `http://` + the listen address. With Telegram's own Bot API server (`api.telegram.org`), `serve` requires `https://` on port 443, 80, 88 or 8443, Telegram's webhook rules.";
    "log_format", "BELLHOP_LOG_FORMAT", Some("auto"), false,
        "`pretty` (readable), `json` (one object per line) or `auto` (pretty on a terminal, JSON otherwise).";
    "log_level", "BELLHOP_LOG", Some("info"), false,
        "Log filter in `tracing` syntax, e.g. `info` or `bellhop=debug,sqlx=warn`.";
    "telegram.api_url", "BELLHOP_TELEGRAM_API_URL", Some("https://api.telegram.org"), false,
        "Bot API base URL: Telegram's, a self-hosted Bot API server, or the bellhop sandbox. After `bellhop telegram move`, the server it moved the bots to (stored in the database) overrides it.";
    "telegram.links_url", "BELLHOP_TELEGRAM_LINKS_URL", Some("https://t.me"), false,
        "Base of the bot-creation links on the landing page (`{links_url}/newbot/{manager}/{username}`); `demo` points it at the sandbox.";
    "telegram.manager_token", "BELLHOP_MANAGER_TOKEN", None, true,
        "Token of the manager bot (Bot Management Mode switched on in BotFather). Required by `serve`.";
    "telegram.manager_webhook_secret", "BELLHOP_MANAGER_WEBHOOK_SECRET", None, true,
        "Secret Telegram sends with every manager-webhook call (16–256 of `A-Z a-z 0-9 _ -`). Required by `serve` with webhooks (not with `telegram.updates = polling`).";
    "telegram.updates", "BELLHOP_TELEGRAM_UPDATES", Some("webhook"), false,
        "How bots get their updates: `webhook` (Telegram posts each one to `public_url`, which must be reachable by Telegram) or `polling` (bellhop asks Telegram with `getUpdates`, for the manager bot and every business's bot: no public address needed — e.g. trying bellhop with a real manager bot from a laptop). `serve --updates` overrides it. Switching back to `webhook` sets every bot's webhook again at the next start.";
    "telegram.polling_connections", "BELLHOP_TELEGRAM_POLLING_CONNECTIONS", Some("100"), false,
        "With `telegram.updates = polling`: most `getUpdates` requests open at once (1–10000). Up to this many bots each keep a long poll (25 s) open; with more, polls are short (1 s) and take turns, so each bot is still asked at least every (bots ÷ this) seconds.";
    "telegram.shared_limits", "BELLHOP_TELEGRAM_SHARED_LIMITS", Some("auto"), false,
        "Keep Telegram's per-bot and per-chat limits for all processes together, booking each message in the database: `on`, `off`, or `auto` (on with PostgreSQL, where several processes may send for one bot).";
    "secrets.master_key", "BELLHOP_MASTER_KEY", None, true,
        "Base64 of 32 random bytes encrypting bot tokens and webhook secrets. If unset, keys are read from `secrets.key_file`.";
    "secrets.old_master_keys", "BELLHOP_OLD_MASTER_KEYS", None, true,
        "Comma-separated earlier master keys, still accepted for decryption until `bellhop rotate-key` has re-encrypted everything.";
    "secrets.key_file", "BELLHOP_KEY_FILE", Some("{data_dir}/master.keys"), false,
        "Key ring file used when `secrets.master_key` is unset; `demo` creates it (mode 0600) and `rotate-key` adds to it.";
    "jobs.concurrency", "BELLHOP_JOBS_CONCURRENCY", Some("8"), false,
        "Jobs run at once per ordinary queue in each worker process.";
    "jobs.priority_concurrency", "BELLHOP_JOBS_PRIORITY_CONCURRENCY", Some("4"), false,
        "Jobs run at once on the priority lane (deadline work such as pre-checkout answers).";
    "jobs.tenant_concurrency", "BELLHOP_JOBS_TENANT_CONCURRENCY", Some("6"), false,
        "Jobs of one business run at once per queue, over all worker processes together: a busy business never takes every worker from the others.";
    "jobs.lease_seconds", "BELLHOP_JOBS_LEASE_SECONDS", Some("30"), false,
        "How long a claimed job stays owned by its worker without a heartbeat before another worker may run it.";
    "jobs.max_attempts", "BELLHOP_JOBS_MAX_ATTEMPTS", Some("8"), false,
        "Attempts before a failing job is dead-lettered with its last error (an announcement gets twice as many).";
    "jobs.poll_interval_ms", "BELLHOP_JOBS_POLL_INTERVAL_MS", Some("250"), false,
        "How often idle workers look for jobs nobody announced: jobs that come due (a retry after its wait), and work of other processes whose notification was missed. Work queued by this process wakes them at once, and with PostgreSQL so does work queued by any process (LISTEN/NOTIFY).";
    "jobs.retry_base_ms", "BELLHOP_JOBS_RETRY_BASE_MS", Some("1000"), false,
        "First retry delay of a failed job; it doubles with each attempt (up to an hour), with jitter.";
    "jobs.outage_budget_minutes", "BELLHOP_JOBS_OUTAGE_BUDGET_MINUTES", Some("60"), false,
        "How long after it was queued a job that fails because the database or the vector index (Qdrant) is unreachable keeps being retried (every 30 seconds at most) without using up its attempts: a customer's question asked during an outage is answered when it ends. 0: such failures count like any other.";
    "retention.updates_days", "BELLHOP_RETENTION_UPDATES_DAYS", Some("7"), false,
        "Days raw Telegram updates (customers' messages as received) are kept; at least 2 (Telegram redelivers for up to a day). Conversations are kept.";
    "retention.jobs_days", "BELLHOP_RETENTION_JOBS_DAYS", Some("7"), false,
        "Days finished jobs are kept.";
    "retention.dead_jobs_days", "BELLHOP_RETENTION_DEAD_JOBS_DAYS", Some("30"), false,
        "Days jobs that failed for good are kept, for inspection.";
    "retention.stripe_events_days", "BELLHOP_RETENTION_STRIPE_EVENTS_DAYS", Some("30"), false,
        "Days processed Stripe events are kept; at least 4 (Stripe retries for up to three days).";
    "retention.interval_minutes", "BELLHOP_RETENTION_INTERVAL_MINUTES", Some("10"), false,
        "How often worker processes purge, in batches of 500 rows: old updates, jobs and Stripe events, expired sessions and login links.";
    "auth.session_idle_minutes", "BELLHOP_SESSION_IDLE_MINUTES", Some("120"), false,
        "An admin session unused for this long ends.";
    "auth.session_max_hours", "BELLHOP_SESSION_MAX_HOURS", Some("168"), false,
        "An admin session ends this long after login, however active.";
    "http.body_limit_bytes", "BELLHOP_HTTP_BODY_LIMIT_BYTES", Some("1048576"), false,
        "Largest request body accepted by webhooks and forms (uploads have their own limit).";
    "http.shutdown_grace_seconds", "BELLHOP_HTTP_SHUTDOWN_GRACE_SECONDS", Some("20"), false,
        "On SIGTERM/Ctrl-C: how long in-flight requests and jobs may finish before leases are released.";
    "http.metrics_listen", "BELLHOP_METRICS_LISTEN", None, false,
        "Address (`HOST:PORT`) of a separate, internal port serving `/metrics` — in every role, workers included; the public port then has no `/metrics`. Unset: `/metrics` on the public port (web roles only).";
    "http.header_timeout_seconds", "BELLHOP_HTTP_HEADER_TIMEOUT_SECONDS", Some("30"), false,
        "Time a client has to send a request's headers; a kept-alive connection left idle this long is closed too, so slow clients cannot hold connections.";
    "http.request_timeout_seconds", "BELLHOP_HTTP_REQUEST_TIMEOUT_SECONDS", Some("60"), false,
        "Longest a request may take, its body included; past it the client gets 408 (uploads have `http.upload_timeout_seconds`).";
    "http.upload_timeout_seconds", "BELLHOP_HTTP_UPLOAD_TIMEOUT_SECONDS", Some("600"), false,
        "Longest a file upload to the knowledge page may take, its files included.";
    "http.max_concurrent_requests", "BELLHOP_HTTP_MAX_CONCURRENT_REQUESTS", Some("512"), false,
        "Requests served at once by one process; beyond it a request gets 503 with `Retry-After` at once (health checks are never refused).";
    "http.client_ip_header", "BELLHOP_HTTP_CLIENT_IP_HEADER", None, false,
        "Behind a reverse proxy: the header it puts the client's address in (e.g. `X-Forwarded-For`; the last address in it counts). Unset: the connection's address. Set it only behind a proxy that always sets it.";
    "http.new_bot_links_per_minute", "BELLHOP_HTTP_NEW_BOT_LINKS_PER_MINUTE", Some("30"), false,
        "Bot-creation links one client (an IPv4 address, an IPv6 /64) may make on the landing page per minute; beyond it, 429.";
    "http.sign_ins_per_minute", "BELLHOP_HTTP_SIGN_INS_PER_MINUTE", Some("30"), false,
        "Requests to sign-in links (opening one, confirming one) one client may make per minute; beyond it, 429.";
    "http.unknown_bot_webhooks_per_minute", "BELLHOP_HTTP_UNKNOWN_BOT_WEBHOOKS_PER_MINUTE", Some("30"), false,
        "Webhook calls for bots that do not exist one client may make per minute; beyond it its webhook calls get 429 without a database lookup (except for bots this process has seen a correct call for).";
    "models.dir", "BELLHOP_MODELS_DIR", Some("{data_dir}/models"), false,
        "Local model files, filled by `scripts/fetch-models.sh DIR` (all-MiniLM-L6-v2, SmolLM2). Nothing is downloaded at run time.";
    "embeddings.url", "BELLHOP_EMBEDDINGS_URL", None, false,
        "Base URL of an OpenAI-compatible embeddings API (e.g. `https://api.openai.com/v1`). Unset: all-MiniLM-L6-v2 runs in-process.";
    "embeddings.model", "BELLHOP_EMBEDDINGS_MODEL", Some("text-embedding-3-small"), false,
        "Model name sent to `embeddings.url`. Changing the model means re-indexing every source.";
    "embeddings.api_key", "BELLHOP_EMBEDDINGS_API_KEY", None, true,
        "Bearer key for `embeddings.url`, if it needs one.";
    // llm: the chat model that writes answers (docs/architecture.md, "Chat models")
    "llm.url", "BELLHOP_LLM_URL", None, false,
        "Base URL of an OpenAI-compatible chat-completions API (e.g. `https://api.openai.com/v1`, a vLLM, llama.cpp or Ollama server). Unset: the local model (`llm.model_file`) runs in-process.";
    "llm.runtime", "BELLHOP_LLM_RUNTIME", Some("llama"), false,
        "How the local model runs when `llm.url` is unset: `llama` (llama.cpp built in, any GGUF chat model) or `candle` (the earlier runtime: SmolLM2-135M-Instruct only, several times slower; kept for comparison).";
    "llm.model_file", "BELLHOP_LLM_MODEL_FILE", None, false,
        "GGUF file of the local model: any chat model llama.cpp reads (e.g. one `scripts/fetch-models.sh DIR --candidates` fetches). Unset: SmolLM2-135M-Instruct from `models.dir`.";
    "llm.threads", "BELLHOP_LLM_THREADS", None, false,
        "CPU threads the local model (`llama` runtime) uses for one answer (1–1024). Unset: one per CPU core. Answers generated at once take turns on these cores, token by token.";
    "llm.model", "BELLHOP_LLM_MODEL", Some("gpt-4o-mini"), false,
        "Model name sent to `llm.url`.";
    "llm.api_key", "BELLHOP_LLM_API_KEY", None, true,
        "Bearer key for `llm.url`, if it needs one.";
    "llm.context_tokens", "BELLHOP_LLM_CONTEXT_TOKENS", Some("2048"), false,
        "Most tokens the model reads at once, prompt and answer together; prompts are cut to fit (256–1000000; the local model reads at most 4096).";
    "llm.max_answer_tokens", "BELLHOP_LLM_MAX_ANSWER_TOKENS", Some("256"), false,
        "Longest answer, in tokens (16–8192, less than half of `llm.context_tokens`).";
    "llm.timeout_seconds", "BELLHOP_LLM_TIMEOUT_SECONDS", Some("60"), false,
        "Longest one answer may take from request to last word, retries included; then it fails and the passages are quoted instead.";
    "llm.first_token_seconds", "BELLHOP_LLM_FIRST_TOKEN_SECONDS", Some("20"), false,
        "Longest `llm.url` may take to connect and send the first word of an answer before that attempt is abandoned (and retried while time remains).";
    "llm.temperature", "BELLHOP_LLM_TEMPERATURE", Some("0"), false,
        "Randomness of answers from 0 to 2: 0 always picks the likeliest next word (the same question gets the same answer); higher varies the wording.";
    "qdrant.url", "BELLHOP_QDRANT_URL", None, false,
        "Qdrant server gRPC URL (e.g. `http://qdrant:6334`). Unset: Qdrant Edge in-process, one shard per tenant under `{data_dir}/index`.";
    "qdrant.api_key", "BELLHOP_QDRANT_API_KEY", None, true,
        "API key for `qdrant.url`, if it needs one.";
    "qdrant.collection", "BELLHOP_QDRANT_COLLECTION", Some("bellhop_chunks"), false,
        "Collection holding every tenant's chunks on the Qdrant server (tenant filter added to every call).";
    "knowledge.chunk_tokens", "BELLHOP_CHUNK_TOKENS", Some("256"), false,
        "Largest chunk in `cl100k_base` tokens, title and headings included (32–2048; the local embedder reads at most 256 word pieces).";
    "knowledge.chunk_overlap_tokens", "BELLHOP_CHUNK_OVERLAP_TOKENS", Some("32"), false,
        "Tokens repeated from the end of one chunk at the start of the next within a section (less than half of `knowledge.chunk_tokens`).";
    // knowledge: ingestion limits and URL import (docs/ingestion.md)
    "knowledge.max_file_bytes", "BELLHOP_KNOWLEDGE_MAX_FILE_BYTES", Some("20971520"), false,
        "Largest uploaded or fetched file accepted for the knowledge base (default 20 MB).";
    "knowledge.max_tenant_bytes", "BELLHOP_KNOWLEDGE_MAX_TENANT_BYTES", Some("209715200"), false,
        "Total size of the files one business may keep in its knowledge base (default 200 MB).";
    "knowledge.url_allow_hosts", "BELLHOP_KNOWLEDGE_URL_ALLOW_HOSTS", None, false,
        "Comma-separated host names URL import may fetch even though they resolve to private or loopback addresses (e.g. an intranet wiki; tests use `127.0.0.1`). Empty: only public addresses.";
    "knowledge.fetch_timeout_seconds", "BELLHOP_KNOWLEDGE_FETCH_TIMEOUT_SECONDS", Some("30"), false,
        "Total time one URL fetch may take, redirects and download included.";
    "knowledge.fetch_max_bytes", "BELLHOP_KNOWLEDGE_FETCH_MAX_BYTES", Some("10485760"), false,
        "Largest response body URL import downloads; the download stops at this size (default 10 MB).";
    "knowledge.crawl_max_pages", "BELLHOP_KNOWLEDGE_CRAWL_MAX_PAGES", Some("100"), false,
        "Most pages one whole-site import reads (through the sitemap or same-site links).";
    "knowledge.crawl_budget_seconds", "BELLHOP_KNOWLEDGE_CRAWL_BUDGET_SECONDS", Some("600"), false,
        "Time one whole-site import may take; pages not read by then are listed as skipped, and what was read is kept.";
    "knowledge.max_qa_pairs", "BELLHOP_KNOWLEDGE_MAX_QA_PAIRS", Some("2000"), false,
        "Most questions & answers one bot may hold (each question is compared with all of them for every message).";
    // answering (docs/answering.md)
    "answering.min_similarity_percent", "BELLHOP_ANSWERING_MIN_SIMILARITY_PERCENT", Some("35"), false,
        "How close (cosine similarity, in percent) the best passage must be to a question for the bot to answer; below it the bot says it doesn't know and offers a person — unless one sentence of the passages found answers the question closely by itself (a line of a price list; docs/answering.md).";
    "answering.sources", "BELLHOP_ANSWERING_SOURCES", Some("4"), false,
        "Passages retrieved for each question and given to the model (1–10).";
    "answering.history_messages", "BELLHOP_ANSWERING_HISTORY_MESSAGES", Some("6"), false,
        "Earlier messages of the conversation the model sees (fewer if they don't fit its context).";
    "answering.tenant_concurrency", "BELLHOP_ANSWERING_TENANT_CONCURRENCY", Some("4"), false,
        "Model calls one business may have running at once in each worker process; more wait their turn.";
    "answering.tenant_daily_tokens", "BELLHOP_ANSWERING_TENANT_DAILY_TOKENS", Some("2000000"), false,
        "Model tokens (prompt + answer) one business may use per UTC day; past it, answers quote passages instead of calling the model.";
    "answering.min_support_percent", "BELLHOP_ANSWERING_MIN_SUPPORT_PERCENT", Some("75"), false,
        "Share (percent) of each sentence's own words (those not taken from the question) that one passage must hold for a model's answer to be shown, for every model; otherwise the bot quotes the sentences of the passages that answer. Numbers, dates, addresses and contacts must always be in the passages. 0 turns only the sentence check off.";
    "answering.model_answers", "BELLHOP_ANSWERING_MODEL_ANSWERS", Some("auto"), false,
        "Whether the chat model writes answers: `on`, `off` (the bot quotes the sentences of the sources that answer, with the source), or `auto`: on for a model you chose (`llm.url` or `llm.model_file`), off for the built-in SmolLM2-135M, whose answers `bellhop eval answers` shows are too often wrong to show a customer (BENCHMARKS.md).";
    "answering.min_sentence_score_percent", "BELLHOP_ANSWERING_MIN_SENTENCE_SCORE_PERCENT", Some("42"), false,
        "How well (percent) the best sentence of the sources must match a question for the bot to answer or quote it; below it the bot says it doesn't know and offers a person. Set with `bellhop eval answers` (BENCHMARKS.md).";
    "answering.draft_interval_ms", "BELLHOP_ANSWERING_DRAFT_INTERVAL_MS", Some("300"), false,
        "Least time between two streamed drafts of an answer (`sendMessageDraft`) in a private chat.";
    "answering.handoff_idle_hours", "BELLHOP_ANSWERING_HANDOFF_IDLE_HOURS", Some("24"), false,
        "Hours a handed-off conversation stays with the owner or teammate who answered it after their last message there; then it goes back to the assistant, and the customer (in their language) and the team (in the manager chat) are told. 0–8760; 0 keeps it with them until they close it. A day lets a conversation carry on the next morning, yet leaves no customer with nobody for longer.";
    // billing (docs/billing.md)
    "billing.plans", "BELLHOP_BILLING_PLANS", Some("free|Free|0||100|1|5,starter|Starter|250||2000|3|50,pro|Pro|900||10000|10|500"), false,
        "Plans, comma-separated, each `id|Name|Stars a month|Stripe price id|answers a month|bots|sources`. The first is the plan every business starts on (price 0). An empty Stripe price id: not sold by card.";
    "billing.packs", "BELLHOP_BILLING_PACKS", Some("pack500|500 answers|100|500,pack2000|2000 answers|350|2000"), false,
        "One-off answer packs sold for Stars, comma-separated, each `id|Name|Stars|answers`. Pack answers do not expire.";
    "billing.grace_days", "BELLHOP_BILLING_GRACE_DAYS", Some("3"), false,
        "Days a paid plan keeps working after a card payment fails, before the business moves to the first plan.";
    "stripe.secret_key", "BELLHOP_STRIPE_SECRET_KEY", None, true,
        "Stripe secret key (`sk_…`). With `stripe.webhook_secret` set too, owners can also pay by card; unset: Telegram Stars only.";
    "stripe.webhook_secret", "BELLHOP_STRIPE_WEBHOOK_SECRET", None, true,
        "Signing secret (`whsec_…`) of the Stripe webhook endpoint `{public_url}/stripe/webhook`.";
    "stripe.api_base", "BELLHOP_STRIPE_API_BASE", Some("https://api.stripe.com"), false,
        "Base URL of the Stripe API (tests point it at a local stand-in).";
}

/// The declared default of `key` (`None` for a setting without one).
///
/// Panics on an undeclared key: every key the parsers read is in [`SETTINGS`].
pub fn default_of(key: &str) -> Option<&'static str> {
    match SETTINGS.iter().find(|d| d.key == key) {
        Some(d) => d.default,
        None => panic!("undeclared setting {key}"),
    }
}

/// The README's configuration table, generated from [`SETTINGS`].
pub fn markdown_table() -> String {
    let mut s = String::from("| setting (`bellhop.toml`) | environment | default | meaning |\n|---|---|---|---|\n");
    for d in SETTINGS {
        let default = d.default.map(|v| format!("`{v}`")).unwrap_or_else(|| "—".into());
        s.push_str(&format!("| `{}` | `{}` | {} | {} |\n", d.key, d.env, default, d.doc));
    }
    s
}

/// `BELLHOP_*` variables that are not settings, read by other parts of bellhop, its tests and
/// scripts: [`unknown_env`] does not take them for misspelled settings. (A test keeps every
/// `BELLHOP_` name in `src/` either a setting or here.)
pub const OTHER_ENV: &[&str] = &[
    // `--config`'s variable (clap reads it).
    "BELLHOP_CONFIG",
    // The PDF reader's worker binary (knowledge::extract::pdf).
    "BELLHOP_EXTRACT_WORKER",
    // Rewrites the prompt snapshot in the unit tests.
    "BELLHOP_UPDATE_SNAPSHOTS",
    // The test suite and scripts (scripts/test.sh, scripts/loadtest.sh, tests/).
    "BELLHOP_TEST_DATABASE",
    "BELLHOP_TEST_POSTGRES_URL",
    "BELLHOP_TEST_QDRANT_URL",
    "BELLHOP_TEST_LOG_DIR",
    "BELLHOP_TEST_THREADS",
    "BELLHOP_TEST_TOKEN_LOG",
    "BELLHOP_PYTHON",
    "BELLHOP_MODELS_CACHE",
    "BELLHOP_QDRANT_BIN",
    "BELLHOP_BUILD",
    "BELLHOP_BOT_API_JSON",
    "BELLHOP_SANDBOX_MANAGER_TOKEN",
    "BELLHOP_URL",
];

/// The `BELLHOP_*` variables among `names` that are neither a setting nor in [`OTHER_ENV`] —
/// most likely a setting misspelled, which would otherwise be silently ignored — each with the
/// setting's variable it is closest to, when one is close.
pub fn unknown_env(names: impl IntoIterator<Item = String>) -> Vec<(String, Option<&'static str>)> {
    let mut unknown: Vec<_> = names
        .into_iter()
        .filter(|n| n.starts_with("BELLHOP_") && !SETTINGS.iter().any(|d| d.env == n) && !OTHER_ENV.contains(&n.as_str()))
        .map(|n| {
            let near = SETTINGS.iter().map(|d| (edit_distance(&n, d.env), d.env)).min().filter(|(d, _)| *d <= 3).map(|(_, e)| e);
            (n, near)
        })
        .collect();
    unknown.sort();
    unknown
}

/// The warning or error line for an unknown variable.
pub fn unknown_env_message(near: Option<&str>) -> String {
    match near {
        Some(e) => format!("no setting has this environment variable, so it is ignored; did you mean {e}?"),
        None => "no setting has this environment variable, so it is ignored (`bellhop config --markdown` lists every setting)".to_owned(),
    }
}

/// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_variable_is_unknown_and_the_setting_it_is_close_to_is_named() {
        // Spelled in two pieces, so that the scan of the source below does not find them.
        let (typo, nothing) = (concat!("BELLHOP", "_QDRANT_ULR"), concat!("BELLHOP", "_NOTHING_LIKE_ANYTHING_AT_ALL"));
        let env = [typo, "BELLHOP_QDRANT_URL", "BELLHOP_TEST_DATABASE", nothing, "PATH"];
        assert_eq!(unknown_env(env.map(String::from)), vec![(nothing.to_owned(), None), (typo.to_owned(), Some("BELLHOP_QDRANT_URL"))]);
        assert_eq!(edit_distance("JOBS_CONCURENCY", "JOBS_CONCURRENCY"), 1);
    }

    /// Every `BELLHOP_` name written in `src/` is a setting or one of [`OTHER_ENV`]: a variable
    /// read somewhere new is declared, or `config` would call it unknown.
    #[test]
    fn every_bellhop_variable_named_in_the_source_is_a_setting_or_a_known_other() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut names = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            for (at, _) in text.match_indices("BELLHOP_") {
                let name: String = text[at..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
                if name.len() > "BELLHOP_".len() {
                    names.push(name);
                }
            }
        }
        assert!(names.iter().any(|n| n == "BELLHOP_EXTRACT_WORKER"), "the scan found the source");
        let unknown: Vec<_> = unknown_env(names).into_iter().map(|(n, _)| n).collect();
        assert!(unknown.is_empty(), "BELLHOP_ names in src/ that are neither settings nor in OTHER_ENV: {unknown:?}");
    }

    #[test]
    fn keys_and_variables_are_unique_and_named_by_the_rules() {
        for (i, d) in SETTINGS.iter().enumerate() {
            assert!(d.env.starts_with("BELLHOP_"), "{}", d.key);
            assert!(d.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'), "{}", d.key);
            assert!(!d.doc.is_empty(), "{} has no meaning", d.key);
            for e in &SETTINGS[i + 1..] {
                assert_ne!(d.key, e.key);
                assert_ne!(d.env, e.env);
            }
        }
    }
}
