//! Settings: built-in defaults → optional `bellhop.toml` → `BELLHOP_*` environment variables.
//!
//! - `settings`: every setting declared once in [`SETTINGS`] with its file key, environment
//!   variable, default and meaning; the README's configuration table is generated from it
//!   (`bellhop config --markdown`) and a test keeps the two equal.
//! - `layers`: [`RawSettings`], the layered string values with their origin.
//! - one parser per section (`server`, `telegram`, `secrets`, `jobs`, `http`, `models`, `llm`,
//!   `knowledge`, `answering`, `billing`), each next to the typed struct it fills, reading its
//!   defaults from the table through `read::Reader`.
//!
//! Values are parsed into typed fields in one pass that reports *every* problem, one line each,
//! naming the setting — and it does so before anything binds a port or writes a file.
//!
//! Configuration sits below the domain: it imports no domain module (`answering`, `billing`,
//! `knowledge`, `llm`, …), only `domain` types and `crypto`'s key check. Domain modules read
//! their section (`config::LlmConfig`, …).
mod answering;
mod billing;
mod database;
mod error;
mod http;
mod jobs;
mod knowledge;
mod layers;
mod llm;
mod models;
mod read;
mod retention;
mod secrets;
mod server;
mod settings;
mod telegram;

pub use answering::AnsweringConfig;
pub use billing::{BillingConfig, StripeConfig};
pub use database::DatabaseUrl;
pub use error::{ConfigError, Problem};
pub use http::{AuthConfig, HttpConfig};
pub use jobs::JobsConfig;
pub use retention::RetentionConfig;
pub use knowledge::KnowledgeConfig;
pub use layers::{Origin, RawSettings};
pub use llm::{LOCAL_MAX_CONTEXT, LlmConfig, LocalRuntime};
pub use models::{EmbeddingsConfig, QdrantConfig};
pub use secrets::SecretsConfig;
pub use server::LogFormat;
pub use settings::{OTHER_ENV, SETTINGS, SettingDef, default_of, markdown_table, unknown_env, unknown_env_message};
pub use telegram::{TELEGRAM_CLOUD_HOST, TelegramConfig, Updates, WEBHOOK_PORTS, webhook_url_problem};

use read::Reader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

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
    pub retention: RetentionConfig,
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
    /// Types and validates every setting, collecting all problems (in section order). Touches
    /// nothing on disk but reads; call [`Config::check_writable`] afterwards.
    pub fn from_raw(raw: &RawSettings, needs: Needs) -> Result<Config, ConfigError> {
        let mut r = Reader::new(raw);
        let server = server::parse(&mut r);
        let telegram = telegram::parse(&mut r, needs);
        let secrets = secrets::parse(&mut r);
        let jobs = jobs::parse(&mut r);
        let retention = retention::parse(&mut r);
        let auth = http::parse_auth(&mut r);
        let http = http::parse_http(&mut r);
        let models_dir = r.path("models.dir");
        let embeddings = models::parse_embeddings(&mut r);
        let llm = llm::parse(&mut r);
        let qdrant = models::parse_qdrant(&mut r);
        let knowledge = knowledge::parse(&mut r);
        let answering = answering::parse(&mut r, &llm);
        let billing = billing::parse(&mut r);
        let data_dir = r.data_dir().to_path_buf();

        let problems = r.into_problems();
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        let (Some(database_url), Some(listen), Some(public_url), Some(telegram)) = (server.database_url, server.listen, server.public_url, telegram) else {
            unreachable!("every None above recorded a problem");
        };
        Ok(Config {
            data_dir,
            database_url,
            listen,
            public_url,
            log_format: server.log_format,
            log_level: server.log_level,
            telegram,
            secrets,
            jobs,
            retention,
            auth,
            http,
            models_dir,
            embeddings,
            llm,
            qdrant,
            knowledge,
            answering,
            billing,
        })
    }

    /// Telegram's webhook rules, for `serve`: with Telegram's cloud as the Bot API server,
    /// `public_url` (where bots' webhooks point) must be HTTPS on port 443, 80, 88 or 8443.
    /// A self-hosted Bot API server and bellhop's sandbox accept any URL, so nothing is checked
    /// for them ([`TelegramConfig::is_telegram_cloud`]).
    /// With long polling (`telegram.updates = "polling"`) no webhook is set: any address will do.
    pub fn check_webhook_url(&self) -> Result<(), ConfigError> {
        if !self.telegram.is_telegram_cloud() || self.telegram.updates == Updates::Polling {
            return Ok(());
        }
        match webhook_url_problem(&self.public_url) {
            None => Ok(()),
            Some(message) => Err(ConfigError(vec![Problem { setting: "public_url".into(), message }])),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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

    /// Issue 18, item 5: with Telegram's cloud, `serve` refuses a webhook address Telegram
    /// would refuse, naming `public_url` in plain words; a sandbox or self-hosted Bot API server
    /// takes any address.
    #[test]
    fn serve_refuses_webhook_addresses_telegram_would_refuse() {
        let serve = |url: &str, api: Option<&str>| {
            let mut env = vec![
                ("BELLHOP_MANAGER_TOKEN", "4242:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("BELLHOP_MANAGER_WEBHOOK_SECRET", "s3cr3t-s3cr3t-s3cr3t"),
                ("BELLHOP_PUBLIC_URL", url),
            ];
            if let Some(api) = api {
                env.push(("BELLHOP_TELEGRAM_API_URL", api));
            }
            load(&env, Needs::Serve).unwrap().check_webhook_url()
        };
        for ok in ["https://bots.example.com", "https://bots.example.com:8443/", "https://bots.example.com:88/x", "https://bots.example.com:80"] {
            assert!(serve(ok, None).is_ok(), "{ok}");
        }
        let e = serve("http://bots.example.com", None).unwrap_err();
        assert_eq!(e.0[0].setting, "public_url");
        assert!(e.to_string().starts_with("configuration error: public_url: `http://bots.example.com/` is not an https:// address"), "{e}");
        let e = serve("https://bots.example.com:8080", None).unwrap_err().to_string();
        assert!(e.contains("uses port 8080") && e.contains("443, 80, 88 or 8443"), "{e}");
        // Without public_url, it defaults to http://{listen}: refused for Telegram too.
        let e = load(&[("BELLHOP_MANAGER_TOKEN", "4242:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ("BELLHOP_MANAGER_WEBHOOK_SECRET", "s3cr3t-s3cr3t-s3cr3t")], Needs::Serve).unwrap();
        assert!(e.check_webhook_url().is_err());
        // The sandbox (as in `demo` and the tests) and a self-hosted Bot API server: no rule.
        for api in ["http://127.0.0.1:8081", "http://bot-api.internal:8081"] {
            assert!(serve("http://127.0.0.1:8080", Some(api)).is_ok(), "{api}");
        }
        assert!(serve("http://x.example", Some("https://API.Telegram.org")).is_err(), "the host is compared without case");
    }

    #[test]
    fn polling_needs_no_webhook_secret_nor_a_public_https_address() {
        let token = ("BELLHOP_MANAGER_TOKEN", "4242:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        // From a laptop: the token and polling, nothing else — with Telegram's cloud.
        let cfg = load(&[token, ("BELLHOP_TELEGRAM_UPDATES", "polling")], Needs::Serve).unwrap();
        assert_eq!(cfg.telegram.updates, Updates::Polling);
        assert_eq!(cfg.telegram.polling_connections, 100);
        assert!(cfg.check_webhook_url().is_ok(), "no webhook, so no rule for public_url");
        // With webhooks (the default) both are still required.
        let e = load(&[token], Needs::Serve).unwrap_err().to_string();
        assert!(e.contains("telegram.manager_webhook_secret"), "{e}");
        let e = load(&[token, ("BELLHOP_TELEGRAM_UPDATES", "longpoll"), ("BELLHOP_TELEGRAM_POLLING_CONNECTIONS", "0")], Needs::Serve).unwrap_err().to_string();
        assert!(e.contains("telegram.updates: `longpoll` is not `webhook` or `polling`"), "{e}");
        assert!(e.contains("telegram.polling_connections"), "{e}");
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
