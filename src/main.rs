//! `bellhop`: parse the command line, load and validate configuration, start telemetry, run.
use bellhop::cli::{BenchCommand, BillingCommand, Cli, Command, EvalCommand, TelegramCommand, load_config};
use bellhop::config::Needs;
use bellhop::app::{Application, cancel_on_signals};
use bellhop::{bench, demo, telemetry};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The PDF reader child process runs before any runtime, configuration or telemetry exists,
    // so its memory limit applies to the parser alone (docs/ingestion.md).
    if let Command::ExtractWorker { format, max_text_bytes } = &cli.command {
        return bellhop::knowledge::extract::pdf::worker_main(*format, *max_text_bytes);
    }
    serve_cli(cli)
}

#[tokio::main]
async fn serve_cli(cli: Cli) -> std::process::ExitCode {
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "bellhop stopped with an error");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Config { markdown } => {
            if *markdown {
                print!("{}", bellhop::config::markdown_table());
            } else {
                let cfg = load_config(&cli, Needs::Storage, |_| {});
                // A misspelled variable would be ignored: here it is an error.
                let unknown = bellhop::config::unknown_env(std::env::vars().map(|(k, _)| k));
                if !unknown.is_empty() {
                    let problems = unknown.into_iter().map(|(name, near)| bellhop::config::Problem { setting: name, message: bellhop::config::unknown_env_message(near) });
                    bellhop::cli::config_refused(bellhop::config::ConfigError(problems.collect()));
                }
                drop(cfg);
                let raw = bellhop::config::RawSettings::load(cli.config.as_deref(), &|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!("{e}"))?;
                print!("configuration is valid:\n{}", raw.describe());
            }
            Ok(())
        }
        Command::Serve { role, updates } => {
            let cfg = load_config(&cli, Needs::Serve, |raw| {
                if let Some(u) = updates {
                    raw.set("telegram.updates", u.clone());
                }
            });
            telemetry::init(cfg.log_format, &cfg.log_level);
            for (name, near) in bellhop::config::unknown_env(std::env::vars().map(|(k, _)| k)) {
                tracing::warn!(variable = %name, "{}", bellhop::config::unknown_env_message(near));
            }
            role.check_deployment(&cfg)?;
            // Telegram's webhook rules (HTTPS, port 443/80/88/8443) when its cloud is the Bot
            // API server; a sandbox or self-hosted Bot API server takes any address.
            if let Err(e) = cfg.check_webhook_url() {
                bellhop::cli::config_refused(e);
            }
            let app = Application::build(cfg, *role, false).await?;
            cancel_on_signals(app.state.shutdown.clone());
            app.run(bellhop::web::router).await
        }
        Command::Migrate => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            let db = bellhop::storage::Db::connect(&cfg.database_url).await?;
            let pending = db.pending_migrations().await?;
            db.migrate().await?;
            match pending {
                0 => println!("database is up to date ({}); nothing to apply", db.engine.name()),
                n => println!("applied {n} migration{} ({}); the database is up to date", if n == 1 { "" } else { "s" }, db.engine.name()),
            }
            Ok(())
        }
        Command::PrepareModels => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            let dir = cfg.models_dir.clone();
            let model = tokio::task::spawn_blocking(move || bellhop::models::LocalMiniLm::load(&dir)).await??;
            match model.packed_file() {
                Some(file) => println!("the embedding model's packed weights are in {}", file.display()),
                None => anyhow::bail!("could not write the packed weights into {} (see the log above)", cfg.models_dir.display()),
            }
            Ok(())
        }
        Command::RotateKey { retire_old } => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            bellhop::app::rotate_key(&cfg, *retire_old).await
        }
        Command::Demo { listen, sandbox_listen } => {
            let (listen, sandbox_listen) = (*listen, *sandbox_listen);
            let cfg = load_config(&cli, Needs::Storage, |raw| {
                if !raw.is_set("listen") {
                    raw.set("listen", listen.to_string());
                }
            });
            telemetry::init(cfg.log_format, &cfg.log_level);
            demo::run(cfg, sandbox_listen, bellhop::web::router).await
        }
        Command::Sandbox(args) => {
            telemetry::init(bellhop::config::LogFormat::Pretty, "info");
            let token = tokio_util::sync::CancellationToken::new();
            cancel_on_signals(token.clone());
            bellhop::sandbox::run(args.clone(), token).await
        }
        Command::Bench(BenchCommand::Jobs { jobs, samples }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bench::jobs(cfg, *jobs, *samples).await
        }
        Command::ExtractWorker { .. } => anyhow::bail!("extract-worker runs without a runtime (see main)"),
        Command::Bench(BenchCommand::Onboarding { bots }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bench::onboarding(cfg, *bots, bellhop::web::router).await
        }
        Command::Bench(BenchCommand::Webhooks { updates, concurrency, bots, stalled_model }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "error");
            bellhop::bench::answering::webhooks(cfg, bellhop::web::router, *updates, *concurrency, *bots, *stalled_model).await
        }
        Command::Bench(BenchCommand::Answering { bots, customers, rate }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "error");
            bellhop::bench::answering::answering(cfg, bellhop::web::router, *bots, *customers, *rate).await
        }
        Command::Bench(BenchCommand::Llm { runs, answer_tokens, runtime, threads, model_file }) => {
            let cfg = load_config(&cli, Needs::Storage, |raw| {
                if let Some(r) = runtime {
                    raw.set("llm.runtime", r.clone());
                }
                if let Some(t) = threads {
                    raw.set("llm.threads", t.to_string());
                }
                if let Some(f) = model_file {
                    raw.set("llm.model_file", f.display().to_string());
                }
            });
            telemetry::init(cfg.log_format, "warn");
            bench::llm(cfg, *runs, *answer_tokens).await
        }
        Command::Bench(BenchCommand::Parsers) => {
            telemetry::init(bellhop::config::LogFormat::Pretty, "warn");
            bench::parsers().await
        }
        Command::Bench(BenchCommand::Retrieval { corpus, queries, chunks, samples }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn,qdrant_edge=error");
            bellhop::eval::bench(cfg, corpus, queries, *chunks, *samples).await
        }
        Command::Billing(BillingCommand::Refund { charge_id, user_id }) => {
            let cfg = load_config(&cli, Needs::Serve, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            // Building the application would migrate: an operator's command does not.
            bellhop::storage::Db::connect(&cfg.database_url).await?.require_migrated().await?;
            let app = Application::build(cfg, bellhop::app::Role::Worker, false).await?;
            match bellhop::billing::stars::refund(&app.state.billing, charge_id, user_id.map(bellhop::domain::UserId)).await? {
                bellhop::billing::stars::RefundOutcome::Refunded => println!("refunded {charge_id}"),
                bellhop::billing::stars::RefundOutcome::AlreadyRefunded => println!("{charge_id} was already refunded; the books now agree"),
            }
            Ok(())
        }
        Command::Telegram(TelegramCommand::Move { to, dry_run, old_server }) => {
            let cfg = load_config(&cli, Needs::Serve, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bellhop::app::moving::run(cfg, to, *dry_run, old_server.as_deref().map(|k| k == "cloud")).await
        }
        Command::Loadtest(opts) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bellhop::bench::loadtest::run(cfg, opts.clone()).await
        }
        Command::Bench(BenchCommand::Billing { payments, backlog, job_ms }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bellhop::bench::billing::run(cfg, *payments, *backlog, *job_ms, bellhop::web::router).await
        }
        Command::Eval(EvalCommand::Retrieval(args)) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn,qdrant_edge=error");
            bellhop::eval::retrieval(cfg, args.clone()).await
        }
        Command::Eval(EvalCommand::Qa(args)) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bellhop::eval::qa::qa(cfg, args.clone()).await
        }
        Command::Eval(EvalCommand::Answers(args)) => {
            // A clean data directory of its own; the models stay where they are.
            let scratch = tempfile::Builder::new().prefix("bellhop-eval-answers-").tempdir()?;
            let models = load_config(&cli, Needs::Storage, |_| {}).models_dir;
            let models = std::path::absolute(&models).unwrap_or(models);
            let cfg = load_config(&cli, Needs::Storage, |raw| {
                raw.set("models.dir", models.to_string_lossy().into_owned());
                raw.set("data_dir", scratch.path().to_string_lossy().into_owned());
                raw.set("database_url", "sqlite://{data_dir}/bellhop.db");
                // Room for every answer: a plan's monthly quota is not what is measured here.
                raw.set("billing.plans", "eval|Eval|0||10000000|100|100000");
            });
            telemetry::init(cfg.log_format, "warn,qdrant_edge=error");
            let r = bellhop::eval::answers::answers(cfg, args.clone(), bellhop::web::router).await;
            drop(scratch);
            r
        }
    }
}
