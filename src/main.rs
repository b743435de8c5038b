//! `bellhop`: parse the command line, load and validate configuration, start telemetry, run.
use bellhop::cli::{BenchCommand, BillingCommand, Cli, Command, EvalCommand, load_config};
use bellhop::config::Needs;
use bellhop::startup::{Application, cancel_on_signals};
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
                println!("configuration is valid:\n{cfg:#?}");
            }
            Ok(())
        }
        Command::Serve { role } => {
            let cfg = load_config(&cli, Needs::Serve, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            let app = Application::build(cfg, *role, false).await?;
            cancel_on_signals(app.state.shutdown.clone());
            app.run().await
        }
        Command::Migrate => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            let db = bellhop::storage::Db::connect(&cfg.database_url).await?;
            db.migrate().await?;
            println!("database is up to date ({})", db.engine.name());
            Ok(())
        }
        Command::RotateKey { retire_old } => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, &cfg.log_level);
            bellhop::startup::rotate_key(&cfg, *retire_old).await
        }
        Command::Demo { listen } => {
            let listen = *listen;
            let cfg = load_config(&cli, Needs::Storage, |raw| {
                if !raw.is_set("listen") {
                    raw.set("listen", listen.to_string());
                }
            });
            telemetry::init(cfg.log_format, &cfg.log_level);
            demo::run(cfg).await
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
            bench::onboarding(cfg, *bots).await
        }
        Command::Bench(BenchCommand::Webhooks { updates, concurrency, bots, stalled_model }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "error");
            bellhop::answering::bench::webhooks(cfg, *updates, *concurrency, *bots, *stalled_model).await
        }
        Command::Bench(BenchCommand::Answering { bots, customers, rate }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "error");
            bellhop::answering::bench::answering(cfg, *bots, *customers, *rate).await
        }
        Command::Bench(BenchCommand::Llm { runs, answer_tokens }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
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
            let app = Application::build(cfg, bellhop::startup::Role::Worker, false).await?;
            match bellhop::billing::stars::refund(&app.state, charge_id, *user_id).await? {
                bellhop::billing::stars::RefundOutcome::Refunded => println!("refunded {charge_id}"),
                bellhop::billing::stars::RefundOutcome::AlreadyRefunded => println!("{charge_id} was already refunded; the books now agree"),
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Billing { payments, backlog, job_ms }) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn");
            bellhop::billing::bench::run(cfg, *payments, *backlog, *job_ms).await
        }
        Command::Eval(EvalCommand::Retrieval(args)) => {
            let cfg = load_config(&cli, Needs::Storage, |_| {});
            telemetry::init(cfg.log_format, "warn,qdrant_edge=error");
            bellhop::eval::retrieval(cfg, args.clone()).await
        }
    }
}
