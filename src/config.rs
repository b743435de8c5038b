//! Settings: built-in defaults → optional `bellhop.toml` → `BELLHOP_*` environment variables.
//!
//! Every setting is declared once in [`SETTINGS`] with its file key, environment variable,
//! default and meaning; the README's configuration table is generated from that list
//! (`bellhop config --markdown`) and a test keeps the two equal. Values are parsed into typed
//! fields in one pass that reports *every* problem, one line each, naming the setting — and it
//! does so before anything binds a port or writes a file.
use crate::domain::{BotToken, Secret};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

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
        "Public base URL (`https://…`) Telegram posts webhooks to and links point at. Default: `http://` + the listen address.";
    "log_format", "BELLHOP_LOG_FORMAT", Some("auto"), false,
        "`pretty` (readable), `json` (one object per line) or `auto` (pretty on a terminal, JSON otherwise).";
    "log_level", "BELLHOP_LOG", Some("info"), false,
        "Log filter in `tracing` syntax, e.g. `info` or `bellhop=debug,sqlx=warn`.";
    "telegram.api_url", "BELLHOP_TELEGRAM_API_URL", Some("https://api.telegram.org"), false,
        "Bot API base URL: Telegram's, a self-hosted Bot API server, or the bellhop sandbox.";
    "telegram.links_url", "BELLHOP_TELEGRAM_LINKS_URL", Some("https://t.me"), false,
        "Base of the bot-creation links on the landing page (`{links_url}/newbot/{manager}/{username}`); `demo` points it at the sandbox.";
    "telegram.manager_token", "BELLHOP_MANAGER_TOKEN", None, true,
        "Token of the manager bot (Bot Management Mode switched on in BotFather). Required by `serve`.";
    "telegram.manager_webhook_secret", "BELLHOP_MANAGER_WEBHOOK_SECRET", None, true,
        "Secret Telegram sends with every manager-webhook call (16–256 of `A-Z a-z 0-9 _ -`). Required by `serve`.";
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
    "jobs.lease_seconds", "BELLHOP_JOBS_LEASE_SECONDS", Some("30"), false,
        "How long a claimed job stays owned by its worker without a heartbeat before another worker may run it.";
    "jobs.max_attempts", "BELLHOP_JOBS_MAX_ATTEMPTS", Some("8"), false,
        "Attempts before a failing job is dead-lettered with its last error.";
    "jobs.poll_interval_ms", "BELLHOP_JOBS_POLL_INTERVAL_MS", Some("250"), false,
        "How often idle workers look for work enqueued by other processes (work from this process wakes them at once).";
    "jobs.retry_base_ms", "BELLHOP_JOBS_RETRY_BASE_MS", Some("1000"), false,
        "First retry delay of a failed job; it doubles with each attempt (up to an hour), with jitter.";
    "auth.session_idle_minutes", "BELLHOP_SESSION_IDLE_MINUTES", Some("120"), false,
        "An admin session unused for this long ends.";
    "auth.session_max_hours", "BELLHOP_SESSION_MAX_HOURS", Some("168"), false,
        "An admin session ends this long after login, however active.";
    "http.body_limit_bytes", "BELLHOP_HTTP_BODY_LIMIT_BYTES", Some("1048576"), false,
        "Largest request body accepted by webhooks and forms (uploads have their own limit).";
    "http.shutdown_grace_seconds", "BELLHOP_HTTP_SHUTDOWN_GRACE_SECONDS", Some("20"), false,
        "On SIGTERM/Ctrl-C: how long in-flight requests and jobs may finish before leases are released.";
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
    // answering (docs/answering.md)
    "answering.min_similarity_percent", "BELLHOP_ANSWERING_MIN_SIMILARITY_PERCENT", Some("35"), false,
        "How close (cosine similarity, in percent) the best passage must be to a question for the bot to answer; below it the bot says it doesn't know and offers a person.";
    "answering.sources", "BELLHOP_ANSWERING_SOURCES", Some("4"), false,
        "Passages retrieved for each question and given to the model (1–10).";
    "answering.history_messages", "BELLHOP_ANSWERING_HISTORY_MESSAGES", Some("6"), false,
        "Earlier messages of the conversation the model sees (fewer if they don't fit its context).";
    "answering.tenant_concurrency", "BELLHOP_ANSWERING_TENANT_CONCURRENCY", Some("4"), false,
        "Model calls one business may have running at once in each worker process; more wait their turn.";
    "answering.tenant_daily_tokens", "BELLHOP_ANSWERING_TENANT_DAILY_TOKENS", Some("2000000"), false,
        "Model tokens (prompt + answer) one business may use per UTC day; past it, answers quote passages instead of calling the model.";
    "answering.min_support_percent", "BELLHOP_ANSWERING_MIN_SUPPORT_PERCENT", None, false,
        "Share (percent) of a model answer's words that must appear in its sources or the question; below it the bot quotes the passages instead. Unset: 50 for the built-in local model, 0 (off) for a model at `llm.url`, which may rightly answer in another language than the sources.";
    "answering.draft_interval_ms", "BELLHOP_ANSWERING_DRAFT_INTERVAL_MS", Some("300"), false,
        "Least time between two streamed drafts of an answer (`sendMessageDraft`) in a private chat.";
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

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env(v) => write!(f, "environment {v}"),
            Origin::Flag => f.write_str("command line"),
        }
    }
}

/// One problem with one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}: {}", self.setting, self.message)
    }
}

/// All problems found, one per line.
#[derive(Debug, Clone)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Raw string values before typing, each with its origin.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl RawSettings {
    /// Defaults, then the file (if any), then the environment.
    ///
    /// `file`: an explicit path must exist; without one, `./bellhop.toml` is read if present.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut raw = RawSettings::default();
        let mut problems = Vec::new();
        for def in SETTINGS {
            if let Some(d) = def.default {
                raw.values.insert(def.key, (d.to_owned(), Origin::Default));
            }
        }
        let (path, must_exist) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("bellhop.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => raw.merge_toml(&text, &path, &mut problems),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {}
            Err(e) => problems.push(Problem { setting: "--config".into(), message: format!("cannot read {}: {e}", path.display()) }),
        }
        for def in SETTINGS {
            if let Some(v) = env(def.env) {
                raw.values.insert(def.key, (v, Origin::Env(def.env)));
            }
        }
        if problems.is_empty() { Ok(raw) } else { Err(ConfigError(problems)) }
    }

    fn merge_toml(&mut self, text: &str, path: &Path, problems: &mut Vec<Problem>) {
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem { setting: path.display().to_string(), message: format!("not valid TOML: {e}") });
                return;
            }
        };
        let mut flat = Vec::new();
        flatten("", &toml::Value::Table(table), &mut flat);
        for (key, value) in flat {
            match SETTINGS.iter().find(|d| d.key == key) {
                Some(def) => {
                    self.values.insert(def.key, (value, Origin::File(path.to_path_buf())));
                }
                None => problems.push(Problem { setting: key, message: format!("unknown setting in {}", path.display()) }),
            }
        }
    }

    /// Sets a value from a command-line flag.
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) {
        assert!(SETTINGS.iter().any(|d| d.key == key), "undeclared setting {key}");
        self.values.insert(key, (value.into(), Origin::Flag));
    }

    /// Whether a value came from anywhere but the defaults.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.get(key).is_some_and(|(_, o)| *o != Origin::Default)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str()).filter(|v| !v.trim().is_empty())
    }
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        toml::Value::Array(a) => out.push((
            prefix.to_owned(),
            a.iter().map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(","),
        )),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// The database to use, parsed from `database_url`.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("expected `sqlite://PATH`, the path is missing".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let u = Url::parse(s).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            if u.host_str().is_none_or(str::is_empty) {
                return Err("the PostgreSQL URL names no host".into());
            }
            return Ok(DatabaseUrl::Postgres(Secret::new(s)));
        }
        Err("must start with `sqlite://` or `postgres://`".into())
    }

    pub fn engine_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // The URL may carry a password: show only the host.
            DatabaseUrl::Postgres(s) => {
                let host = Url::parse(s.expose()).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
                write!(f, "postgres://***@{host}/***")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api_url: Url,
    pub links_url: Url,
    pub manager_token: Option<BotToken>,
    pub manager_webhook_secret: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct SecretsConfig {
    pub master_key: Option<Secret>,
    pub old_master_keys: Vec<Secret>,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub concurrency: usize,
    pub priority_concurrency: usize,
    pub lease: Duration,
    pub max_attempts: u32,
    pub poll_interval: Duration,
    pub retry_base: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_idle: Duration,
    pub session_max: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub body_limit_bytes: usize,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct EmbeddingsConfig {
    /// OpenAI-compatible endpoint; `None` runs all-MiniLM-L6-v2 in-process.
    pub url: Option<Url>,
    pub model: String,
    pub api_key: Option<Secret>,
}

/// The chat model (`llm.*`).
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// OpenAI-compatible endpoint; `None` runs the local model in-process.
    pub url: Option<Url>,
    pub model: String,
    pub api_key: Option<Secret>,
    /// How the local model runs.
    pub runtime: crate::llm::Runtime,
    /// The local model's GGUF; `None`: SmolLM2-135M-Instruct from `models_dir`.
    pub model_file: Option<PathBuf>,
    /// Threads of one local forward pass.
    pub threads: usize,
    pub context_tokens: usize,
    pub max_answer_tokens: u32,
    /// Whole answer, retries included.
    pub timeout: Duration,
    /// Connect and first word, per attempt (`llm.url` only).
    pub first_token_timeout: Duration,
    pub temperature: f32,
}

#[derive(Debug, Clone)]
pub struct QdrantConfig {
    /// Qdrant server; `None` uses Qdrant Edge in-process.
    pub url: Option<Url>,
    pub api_key: Option<Secret>,
    pub collection: String,
}

/// Plans, packs and payment providers (docs/billing.md).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// At least one; the first is the default plan.
    pub plans: Vec<crate::billing::Plan>,
    pub packs: Vec<crate::billing::Pack>,
    pub grace: Duration,
    /// Set when both Stripe keys are configured.
    pub stripe: Option<StripeConfig>,
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub api_base: Url,
}

#[derive(Debug, Clone)]
pub struct AnsweringConfig {
    /// Cosine similarity in [0, 1] below which the bot doesn't answer.
    pub min_similarity: f32,
    pub sources: usize,
    pub history_messages: usize,
    pub tenant_concurrency: usize,
    pub tenant_daily_tokens: u64,
    pub draft_interval: Duration,
    /// Share in [0, 1] of an answer's words its sources must hold (see `compose::support`).
    pub min_support: f32,
}

#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    pub chunk_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub max_file_bytes: u64,
    pub max_tenant_bytes: u64,
    /// Lowercase host names exempt from the private-address check of URL import.
    pub url_allow_hosts: Vec<String>,
    pub fetch_timeout: Duration,
    pub fetch_max_bytes: u64,
    pub crawl_max_pages: usize,
}

/// Typed, validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    pub public_url: Url,
    pub log_format: LogFormat,
    pub log_level: String,
    pub telegram: TelegramConfig,
    pub secrets: SecretsConfig,
    pub jobs: JobsConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    /// Local model files (`scripts/fetch-models.sh`).
    pub models_dir: PathBuf,
    pub embeddings: EmbeddingsConfig,
    pub llm: LlmConfig,
    pub qdrant: QdrantConfig,
    pub knowledge: KnowledgeConfig,
    pub answering: AnsweringConfig,
    pub billing: BillingConfig,
}

/// What the command about to run needs beyond the always-required settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// `serve`: the manager bot's token and webhook secret.
    Serve,
    /// `migrate`, `rotate-key`, `demo` (which provides its own Telegram).
    Storage,
}

impl Config {
    /// Types and validates every setting, collecting all problems. Touches nothing on disk but
    /// reads; call [`Config::check_writable`] afterwards.
    pub fn from_raw(raw: &RawSettings, needs: Needs) -> Result<Config, ConfigError> {
        let mut p = Vec::new();
        let mut bad = |setting: &str, message: String| p.push(Problem { setting: setting.to_owned(), message });

        let data_dir = PathBuf::from(raw.get("data_dir").unwrap_or("bellhop-data"));
        let expand = |v: &str| v.replace("{data_dir}", &data_dir.to_string_lossy());

        let database_url = match raw.get("database_url").map(expand) {
            Some(v) => DatabaseUrl::parse(&v).map_err(|m| bad("database_url", m)).ok(),
            None => {
                bad("database_url", "is empty".into());
                None
            }
        };
        let listen = raw.get("listen").and_then(|v| {
            v.parse::<SocketAddr>().map_err(|_| bad("listen", format!("`{v}` is not HOST:PORT, e.g. 127.0.0.1:8080"))).ok()
        });
        let public_url = match (raw.get("public_url"), listen) {
            (Some(v), _) => match Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                _ => {
                    bad("public_url", format!("`{v}` is not an http(s) URL"));
                    None
                }
            },
            (None, Some(addr)) => Url::parse(&format!("http://{addr}")).ok(),
            (None, None) => None,
        };
        let log_format = match raw.get("log_format").unwrap_or("auto") {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            "auto" => {
                use std::io::IsTerminal;
                if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
            }
            other => {
                bad("log_format", format!("`{other}` is not one of pretty, json, auto"));
                LogFormat::Pretty
            }
        };
        let log_level = raw.get("log_level").unwrap_or("info").to_owned();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            bad("log_level", format!("`{log_level}` is not a valid log filter"));
        }
        let api_url = raw.get("telegram.api_url").and_then(|v| match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => {
                bad("telegram.api_url", format!("`{v}` is not an http(s) URL"));
                None
            }
        });
        let links_url = raw.get("telegram.links_url").and_then(|v| match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => {
                bad("telegram.links_url", format!("`{v}` is not an http(s) URL"));
                None
            }
        });
        let manager_token = raw.get("telegram.manager_token").and_then(|v| {
            BotToken::parse(v).map_err(|e| bad("telegram.manager_token", format!("{e}; copy it from BotFather"))).ok()
        });
        let manager_webhook_secret = raw.get("telegram.manager_webhook_secret").and_then(|v| {
            let ok = (16..=256).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok {
                Some(Secret::new(v))
            } else {
                bad("telegram.manager_webhook_secret", "must be 16–256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)".into());
                None
            }
        });
        if needs == Needs::Serve {
            if raw.get("telegram.manager_token").is_none() {
                bad("telegram.manager_token", "is required to serve: set BELLHOP_MANAGER_TOKEN to the manager bot's token (or run `bellhop demo` to try bellhop with a local Telegram)".into());
            }
            if raw.get("telegram.manager_webhook_secret").is_none() {
                bad("telegram.manager_webhook_secret", "is required to serve: set BELLHOP_MANAGER_WEBHOOK_SECRET to a random string of 32+ characters".into());
            }
        }
        let master_key = raw.get("secrets.master_key").and_then(|v| {
            crate::crypto::parse_key(v).map(|_| Secret::new(v)).map_err(|m| bad("secrets.master_key", m)).ok()
        });
        let old_master_keys = raw
            .get("secrets.old_master_keys")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .filter_map(|k| crate::crypto::parse_key(k).map(|_| Secret::new(k)).map_err(|m| bad("secrets.old_master_keys", m)).ok())
                    .collect()
            })
            .unwrap_or_default();
        let key_file = PathBuf::from(expand(raw.get("secrets.key_file").unwrap_or("{data_dir}/master.keys")));
        let models_dir = PathBuf::from(expand(raw.get("models.dir").unwrap_or("{data_dir}/models")));
        let mut http_url = |key: &str| {
            raw.get(key).and_then(|v| match Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                _ => {
                    bad(key, format!("`{v}` is not an http(s) URL"));
                    None
                }
            })
        };
        let embeddings = EmbeddingsConfig {
            url: http_url("embeddings.url"),
            model: raw.get("embeddings.model").unwrap_or("text-embedding-3-small").to_owned(),
            api_key: raw.get("embeddings.api_key").map(Secret::new),
        };
        let llm_url = http_url("llm.url");
        let qdrant = QdrantConfig {
            url: http_url("qdrant.url"),
            api_key: raw.get("qdrant.api_key").map(Secret::new),
            collection: raw.get("qdrant.collection").unwrap_or("bellhop_chunks").to_owned(),
        };
        let stripe_api_base = http_url("stripe.api_base");
        if !qdrant.collection.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            bad("qdrant.collection", "use only A-Z, a-z, 0-9, _ and -".into());
        }

        let mut number = |key: &str, min: u64, max: u64| -> u64 {
            let v = raw.get(key).unwrap_or("");
            match v.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    bad(key, format!("`{v}` is not a whole number from {min} to {max}"));
                    min
                }
            }
        };
        let jobs = JobsConfig {
            concurrency: number("jobs.concurrency", 1, 1024) as usize,
            priority_concurrency: number("jobs.priority_concurrency", 1, 1024) as usize,
            lease: Duration::from_secs(number("jobs.lease_seconds", 1, 86_400)),
            max_attempts: number("jobs.max_attempts", 1, 100) as u32,
            poll_interval: Duration::from_millis(number("jobs.poll_interval_ms", 1, 60_000)),
            retry_base: Duration::from_millis(number("jobs.retry_base_ms", 1, 3_600_000)),
        };
        let auth = AuthConfig {
            session_idle: Duration::from_secs(60 * number("auth.session_idle_minutes", 1, 525_600)),
            session_max: Duration::from_secs(3600 * number("auth.session_max_hours", 1, 8760)),
        };
        let http = HttpConfig {
            body_limit_bytes: number("http.body_limit_bytes", 1024, 1 << 30) as usize,
            shutdown_grace: Duration::from_secs(number("http.shutdown_grace_seconds", 0, 3600)),
        };
        let chunk_tokens = number("knowledge.chunk_tokens", 32, 2048) as usize;
        let chunk_overlap_tokens = number("knowledge.chunk_overlap_tokens", 0, 1024) as usize;
        let knowledge = KnowledgeConfig {
            chunk_tokens,
            chunk_overlap_tokens,
            max_file_bytes: number("knowledge.max_file_bytes", 1024, 1 << 34),
            max_tenant_bytes: number("knowledge.max_tenant_bytes", 1024, 1 << 44),
            url_allow_hosts: raw
                .get("knowledge.url_allow_hosts")
                .map(|v| v.split(',').map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or_default(),
            fetch_timeout: Duration::from_secs(number("knowledge.fetch_timeout_seconds", 1, 3600)),
            fetch_max_bytes: number("knowledge.fetch_max_bytes", 1024, 1 << 34),
            crawl_max_pages: number("knowledge.crawl_max_pages", 1, 100_000) as usize,
        };
        let answering = AnsweringConfig {
            min_similarity: number("answering.min_similarity_percent", 0, 100) as f32 / 100.0,
            sources: number("answering.sources", 1, 10) as usize,
            history_messages: number("answering.history_messages", 0, 100) as usize,
            tenant_concurrency: number("answering.tenant_concurrency", 1, 1024) as usize,
            tenant_daily_tokens: number("answering.tenant_daily_tokens", 1, u64::MAX >> 2),
            draft_interval: Duration::from_millis(number("answering.draft_interval_ms", 0, 60_000)),
            min_support: match raw.get("answering.min_support_percent") {
                Some(_) => number("answering.min_support_percent", 0, 100) as f32 / 100.0,
                None if raw.get("llm.url").is_some() => 0.0,
                None => 0.5,
            },
        };
        let grace = Duration::from_secs(86_400 * number("billing.grace_days", 0, 365));
        let llm_numbers = (
            number("llm.context_tokens", 256, 1_000_000) as usize,
            number("llm.max_answer_tokens", 16, 8192) as u32,
            Duration::from_secs(number("llm.timeout_seconds", 1, 3600)),
            Duration::from_secs(number("llm.first_token_seconds", 1, 3600)),
        );
        let threads = match raw.get("llm.threads") {
            Some(_) => number("llm.threads", 1, 1024) as usize,
            None => crate::llm::machine_cores(),
        };
        let temperature = raw.get("llm.temperature").unwrap_or("0");
        let runtime = match raw.get("llm.runtime").unwrap_or("llama") {
            "llama" => crate::llm::Runtime::Llama,
            "candle" => crate::llm::Runtime::Candle,
            other => {
                bad("llm.runtime", format!("`{other}` is neither `llama` nor `candle`"));
                crate::llm::Runtime::Llama
            }
        };
        let model_file = raw.get("llm.model_file").map(|f| PathBuf::from(expand(f)));
        if model_file.is_some() && runtime == crate::llm::Runtime::Candle {
            bad("llm.model_file", "needs llm.runtime = \"llama\": the candle runtime runs only the built-in SmolLM2 from models.dir".into());
        }
        let llm = LlmConfig {
            url: llm_url,
            model: raw.get("llm.model").unwrap_or("gpt-4o-mini").to_owned(),
            api_key: raw.get("llm.api_key").map(Secret::new),
            runtime,
            model_file,
            threads,
            context_tokens: llm_numbers.0,
            max_answer_tokens: llm_numbers.1,
            timeout: llm_numbers.2,
            first_token_timeout: llm_numbers.3,
            temperature: match temperature.parse::<f32>() {
                Ok(t) if (0.0..=2.0).contains(&t) => t,
                _ => {
                    bad("llm.temperature", format!("`{temperature}` is not a number from 0 to 2"));
                    0.0
                }
            },
        };
        if llm.url.is_none() && llm.context_tokens > crate::llm::LOCAL_MAX_CONTEXT {
            bad("llm.context_tokens", format!("the local model reads at most {} tokens; set llm.url for a larger model", crate::llm::LOCAL_MAX_CONTEXT));
        }
        if llm.max_answer_tokens as usize * 2 >= llm.context_tokens {
            bad("llm.max_answer_tokens", format!("must be less than half of llm.context_tokens ({})", llm.context_tokens));
        }
        if let Some(k) = &llm.api_key {
            // It goes into an HTTP header: no spaces, control characters or non-ASCII.
            if !k.expose().bytes().all(|b| b.is_ascii_graphic()) {
                bad("llm.api_key", "must be printable ASCII without spaces (copy the key exactly)".into());
            }
        }
        let plans = crate::billing::plans::parse_plans(raw.get("billing.plans").unwrap_or("")).map_err(|m| bad("billing.plans", m)).unwrap_or_default();
        let packs = crate::billing::plans::parse_packs(raw.get("billing.packs").unwrap_or("")).map_err(|m| bad("billing.packs", m)).unwrap_or_default();
        let stripe = match (raw.get("stripe.secret_key"), raw.get("stripe.webhook_secret")) {
            (Some(k), Some(w)) => stripe_api_base.map(|api_base| StripeConfig { secret_key: Secret::new(k), webhook_secret: Secret::new(w), api_base }),
            (None, None) => None,
            (Some(_), None) => {
                bad("stripe.webhook_secret", "is required with stripe.secret_key: copy the endpoint's signing secret (whsec_…) from Stripe".into());
                None
            }
            (None, Some(_)) => {
                bad("stripe.secret_key", "is required with stripe.webhook_secret: copy the secret key (sk_…) from Stripe".into());
                None
            }
        };
        if chunk_overlap_tokens * 2 >= chunk_tokens {
            bad("knowledge.chunk_overlap_tokens", format!("must be less than half of knowledge.chunk_tokens ({chunk_tokens})"));
        }

        if !p.is_empty() {
            return Err(ConfigError(p));
        }
        let (Some(database_url), Some(listen), Some(public_url), Some(api_url), Some(links_url)) = (database_url, listen, public_url, api_url, links_url) else {
            unreachable!("every None above recorded a problem");
        };
        Ok(Config {
            data_dir,
            database_url,
            listen,
            public_url,
            log_format,
            log_level,
            telegram: TelegramConfig { api_url, links_url, manager_token, manager_webhook_secret },
            secrets: SecretsConfig { master_key, old_master_keys, key_file },
            jobs,
            auth,
            http,
            models_dir,
            embeddings,
            llm,
            qdrant,
            knowledge,
            answering,
            billing: BillingConfig { plans, packs, grace, stripe },
        })
    }

    /// Checks that the data directory (and the SQLite file's directory) can be created and
    /// written, leaving nothing behind: the nearest existing ancestor is probed with a
    /// temporary file that is removed again.
    pub fn check_writable(&self) -> Result<(), ConfigError> {
        let mut dirs = vec![("data_dir", self.data_dir.clone())];
        if let DatabaseUrl::Sqlite(p) = &self.database_url {
            if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                dirs.push(("database_url", parent.to_path_buf()));
            }
        }
        let mut problems = Vec::new();
        for (setting, dir) in dirs {
            if let Err(m) = probe_writable(&dir) {
                problems.push(Problem { setting: setting.into(), message: m });
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError(problems)) }
    }
}

fn probe_writable(dir: &Path) -> Result<(), String> {
    let mut existing = dir.to_path_buf();
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
            _ => {
                existing = PathBuf::from(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".bellhop-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("{} is not writable ({e})", existing.display())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)], needs: Needs) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let raw = RawSettings::load(Some(Path::new("/dev/null")), &|k| env.get(k).cloned())?;
        Config::from_raw(&raw, needs)
    }

    #[test]
    fn defaults_give_a_working_storage_config() {
        let c = load(&[], Needs::Storage).unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert!(matches!(c.database_url, DatabaseUrl::Sqlite(ref p) if p.ends_with("bellhop.db")));
    }

    #[test]
    fn serve_names_each_missing_setting() {
        let e = load(&[], Needs::Serve).unwrap_err().to_string();
        assert!(e.contains("telegram.manager_token"), "{e}");
        assert!(e.contains("telegram.manager_webhook_secret"), "{e}");
        assert_eq!(e.lines().count(), 2, "{e}");
    }

    #[test]
    fn every_bad_value_is_reported_once_naming_its_setting() {
        let e = load(
            &[("BELLHOP_DATABASE_URL", "mysql://x"), ("BELLHOP_LISTEN", "nope"), ("BELLHOP_JOBS_CONCURRENCY", "0"), ("BELLHOP_MASTER_KEY", "short")],
            Needs::Storage,
        )
        .unwrap_err();
        let settings: Vec<_> = e.0.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(settings, ["database_url", "listen", "secrets.master_key", "jobs.concurrency"]);
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let c = load(
            &[
                ("BELLHOP_MANAGER_TOKEN", "4242:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("BELLHOP_MANAGER_WEBHOOK_SECRET", "s3cr3t-s3cr3t-s3cr3t"),
                ("BELLHOP_DATABASE_URL", "postgres://me:hunter2@db.internal/bellhop"),
            ],
            Needs::Serve,
        )
        .unwrap();
        let dbg = format!("{c:?}");
        for leaked in ["AAAAAAAAAAAAAAAAAAAA", "s3cr3t", "hunter2"] {
            assert!(!dbg.contains(leaked), "{leaked} in {dbg}");
        }
    }

    #[test]
    fn llm_settings_are_checked_and_the_key_stays_hidden() {
        let e = load(
            &[("BELLHOP_LLM_TEMPERATURE", "3"), ("BELLHOP_LLM_CONTEXT_TOKENS", "8192"), ("BELLHOP_LLM_MAX_ANSWER_TOKENS", "4096"), ("BELLHOP_LLM_API_KEY", "sk bad")],
            Needs::Storage,
        )
        .unwrap_err();
        let settings: Vec<_> = e.0.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(settings, ["llm.temperature", "llm.context_tokens", "llm.max_answer_tokens", "llm.api_key"]);
        // A model server may read more than the local model.
        let c = load(&[("BELLHOP_LLM_URL", "http://127.0.0.1:8000/v1"), ("BELLHOP_LLM_CONTEXT_TOKENS", "8192"), ("BELLHOP_LLM_API_KEY", "sk-hidden-1234")], Needs::Storage).unwrap();
        assert_eq!(c.llm.context_tokens, 8192);
        assert!(!format!("{c:?}").contains("sk-hidden-1234"));
        let d = load(&[], Needs::Storage).unwrap().llm;
        assert_eq!((d.url.is_none(), d.context_tokens, d.max_answer_tokens, d.temperature), (true, 2048, 256, 0.0));
    }

    #[test]
    fn toml_file_layers_under_the_environment_and_rejects_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("bellhop-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bellhop.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\n[jobs]\nconcurrency = 3\n").unwrap();
        let raw = RawSettings::load(Some(&file), &|k| (k == "BELLHOP_LISTEN").then(|| "127.0.0.1:9100".into())).unwrap();
        let c = Config::from_raw(&raw, Needs::Storage).unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.jobs.concurrency, 3);
        std::fs::write(&file, "[jobs]\nconcurency = 3\n").unwrap();
        let e = RawSettings::load(Some(&file), &|_| None).unwrap_err();
        assert_eq!(e.0[0].setting, "jobs.concurency");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
