//! The command line. Each command validates its configuration first and exits non-zero with
//! one line per problem — before binding a port or writing a file.
use crate::config::{Config, Needs, RawSettings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "bellhop", version, about = "AI customer-support bots on Telegram, for any small business.", long_about = None)]
pub struct Cli {
    /// Settings file (default: ./bellhop.toml if present). Environment variables override it.
    #[arg(long, global = true, env = "BELLHOP_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run bellhop in production: web server and job workers against real Telegram.
    ///
    /// Needs the manager bot's token, and its webhook secret unless updates are polled (see
    /// `bellhop config`).
    Serve {
        /// Which part to run in this process; scale out with several web and worker processes.
        #[arg(long, value_enum, default_value = "all")]
        role: crate::app::Role,
        /// How bots get their updates: `webhook` (Telegram posts them to `public_url`) or
        /// `polling` (`getUpdates`: no public address needed). Overrides `telegram.updates`.
        #[arg(long, value_parser = ["webhook", "polling"])]
        updates: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load the local embedding model once and write its packed weights next to it
    /// (`models.dir`), so that every process shares them from then on. Processes do this
    /// themselves when the directory is writable; run it where it is not, e.g. while building
    /// a container image.
    PrepareModels,
    /// Try bellhop locally with zero configuration: a local Telegram sandbox, the web app and
    /// job workers in one process, with a generated master key. Prints the URLs to open.
    Demo {
        /// Address of the web app.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Address of the sandbox (default: this machine only, on the port after the web
        /// app's). The sandbox shows every bot token and the owners' sign-in links: give it a
        /// public address only on a network you trust.
        #[arg(long)]
        sandbox_listen: Option<std::net::SocketAddr>,
    },
    /// Run the local Telegram sandbox on its own (Bot API server, simulated users, UI).
    Sandbox(crate::sandbox::SandboxArgs),
    /// Re-encrypt stored bot tokens and webhook secrets under a new master key, while bellhop
    /// keeps running. With a key ring file, a new key is generated and added to it first.
    RotateKey {
        /// After re-encrypting, remove keys no stored secret uses any more.
        #[arg(long)]
        retire_old: bool,
    },
    /// Show or check configuration.
    Config {
        /// Print the configuration table (the README's) in Markdown.
        #[arg(long)]
        markdown: bool,
    },
    /// Operator's billing tasks.
    #[command(subcommand)]
    Billing(BillingCommand),
    /// Operator's Telegram tasks.
    #[command(subcommand)]
    Telegram(TelegramCommand),
    /// Benchmarks whose results are recorded in BENCHMARKS.md.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Quality evaluations whose results are recorded in BENCHMARKS.md.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// A whole cluster on this machine (PostgreSQL, a Qdrant server, 1 web + N worker processes,
    /// the sandbox as Telegram, a model stand-in) under load and faults; see docs/scaling.md.
    Loadtest(crate::bench::loadtest::Options),
    /// Internal: parse one untrusted file read from stdin, as the resource-limited child process
    /// of knowledge extraction (see docs/ingestion.md). Not for people.
    #[command(hide = true)]
    ExtractWorker {
        format: crate::knowledge::extract::pdf::WorkerFormat,
        /// Text beyond this many bytes is refused.
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        max_text_bytes: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Refund a Telegram Stars payment (`refundStarPayment`) and take back what it bought.
    /// A payment Telegram already refunded counts as done.
    Refund {
        /// The payment's `telegram_payment_charge_id`: the "reference" under the payment on the owner's billing page.
        #[arg(long)]
        charge_id: String,
        /// The Telegram user who paid; defaults to the payer recorded with the payment.
        #[arg(long)]
        user_id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TelegramCommand {
    /// Move the manager bot and every business's bot to another Bot API server (Telegram's
    /// cloud, or a self-hosted telegram-bot-api): log them out of the current one (`logOut` for
    /// the cloud, `close` for a self-hosted server), store the new server (it overrides
    /// `telegram.api_url`) and set every webhook there. Stop bellhop first. Safe to run again
    /// after a failure; see docs/telegram.md.
    Move {
        /// The new Bot API server's base URL, e.g. http://bot-api:8081 or https://api.telegram.org.
        #[arg(long)]
        to: String,
        /// Print what would be done; change nothing and call no Bot API server.
        #[arg(long)]
        dry_run: bool,
        /// What the server being left is: `cloud` (Telegram's: bots leave with `logOut`) or
        /// `local` (a self-hosted Bot API server: `deleteWebhook`, then `close`). Default: `cloud`
        /// when its host is api.telegram.org, else `local`.
        #[arg(long, value_parser = ["cloud", "local"])]
        old_server: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Retrieval on a BEIR-format set: ingests the corpus into a fresh tenant through the real
    /// pipeline, runs every judged query, prints recall@1/5/10, MRR@10 and nDCG@10; the last
    /// line is JSON.
    Retrieval(crate::eval::EvalArgs),
    /// Answers on a SQuAD-2.0-style set (`data/eval/squad2`): each article becomes a
    /// business, each question is asked by a customer in the in-process sandbox and what the
    /// customer receives is scored (correct / wrong / abstained, refused / quoted / hallucinated,
    /// confidently wrong, time to first draft and final reply); the last line is JSON. Runs in a
    /// fresh temporary data directory.
    Answers(crate::eval::answers::AnswersArgs),
    /// Q&A pair matching on a set of small businesses' pairs (`data/eval/qa`): for each rule
    /// compared, the customers' rewordings matched to the right pair, to a wrong one, or missed,
    /// and the questions no pair answers that a rule matched anyway; the last line is JSON.
    Qa(crate::eval::qa::QaArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Job queue: enqueue and completion throughput, enqueue-to-start latency on an idle queue.
    Jobs {
        /// Jobs for the throughput run.
        #[arg(long, default_value_t = 20_000)]
        jobs: usize,
        /// Samples for the latency run.
        #[arg(long, default_value_t = 500)]
        samples: usize,
    },
    /// Webhook acknowledgements per second and their latency: customer messages posted to the
    /// child-bot webhook, each acknowledged after it and its job are committed.
    Webhooks {
        #[arg(long, default_value_t = 20_000)]
        updates: usize,
        /// Clients posting at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        bots: usize,
        /// Answer jobs hang on a model that doesn't reply for 30 s (the webhook must not care).
        #[arg(long)]
        stalled_model: bool,
    },
    /// The answering pipeline's own time per answer (model time excluded): every customer of
    /// every bot asks one question through the sandbox, all at once or at a steady rate.
    Answering {
        #[arg(long, default_value_t = 200)]
        bots: usize,
        #[arg(long, default_value_t = 5)]
        customers: usize,
        /// Questions per second, spread evenly; 0 sends them all at once (a burst).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
    },
    /// Onboarding: a managed_bot update's arrival → the bot live, against an in-process sandbox.
    Onboarding {
        #[arg(long, default_value_t = 200)]
        bots: usize,
    },
    /// Billing: `pre_checkout_query` answers (priority lane) while answer jobs fill the default
    /// queue, against an in-process sandbox.
    Billing {
        /// Pre-checkout queries (simulated Stars payments).
        #[arg(long, default_value_t = 1000)]
        payments: usize,
        /// Jobs waiting in the default queue, each taking `--job-ms` (stand-ins for answers).
        #[arg(long, default_value_t = 5000)]
        backlog: usize,
        #[arg(long, default_value_t = 200)]
        job_ms: u64,
    },
    /// Local chat model on the CPU: load time, prompt and generation tokens/s, time to first
    /// token on a ~580-token answering prompt, peak memory; p50 and range over `--runs`; the last
    /// line is JSON.
    Llm {
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Tokens generated per run (end of turn ignored, so every run does the same work).
        #[arg(long, default_value_t = 128)]
        answer_tokens: u32,
        /// `llama` or `candle` (default: `llm.runtime`).
        #[arg(long)]
        runtime: Option<String>,
        /// Threads (default: `llm.threads`, one per core; `llama` runtime only).
        #[arg(long)]
        threads: Option<usize>,
        /// A GGUF file (default: `llm.model_file`, or SmolLM2 from `models.dir`; `llama` only).
        #[arg(long)]
        model_file: Option<PathBuf>,
    },
    /// Parsers of untrusted input (HTML, Markdown, robots.txt) on hostile and large inputs,
    /// under their budgets: time and outcome per input.
    Parsers,
    /// Retrieval: ingestion throughput (chunk → embed → index) and query latency, embedding
    /// included, on a tenant grown to `--chunks` chunks from a BEIR corpus.
    Retrieval {
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long)]
        queries: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        chunks: usize,
        #[arg(long, default_value_t = 1000)]
        samples: usize,
    },
}

/// Loads configuration for a command; on problems prints them and exits with status 2.
pub fn load_config(cli: &Cli, needs: Needs, adjust: impl FnOnce(&mut RawSettings)) -> Config {
    let result = RawSettings::load(cli.config.as_deref(), &|k| std::env::var(k).ok()).and_then(|mut raw| {
        adjust(&mut raw);
        let cfg = Config::from_raw(&raw, needs)?;
        cfg.check_writable()?;
        Ok(cfg)
    });
    match result {
        Ok(cfg) => cfg,
        Err(e) => config_refused(e),
    }
}

/// Reports configuration problems, one line each, and exits with status 2 before anything
/// started.
pub fn config_refused(e: crate::config::ConfigError) -> ! {
    eprintln!("{e}");
    eprintln!("bellhop did not start; nothing was changed. `bellhop config --markdown` lists every setting.");
    std::process::exit(2);
}
