//! An independent client library — python-telegram-bot 22.8+, which knows managed bots — runs a
//! scripted session against the sandbox (`tests/ptb/scenario.py`). `scripts/test.sh` installs it
//! into a throwaway virtualenv and exports `BELLHOP_PYTHON`.
use crate::sandbox_support::TestSandbox;
use std::time::Duration;

#[tokio::test]
async fn python_telegram_bot_runs_the_scenario_against_the_sandbox() {
    let python = std::env::var("BELLHOP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "BELLHOP_PYTHON is not set: run scripts/test.sh (it creates a virtualenv with python-telegram-bot>=22.8), \
             or set BELLHOP_PYTHON to a python that has python-telegram-bot>=22.8 installed"
        )
    });
    let sb = TestSandbox::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ptb/scenario.py");
    let run = tokio::process::Command::new(&python).arg(script).arg(&sb.base).kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the PTB scenario finished within 2 minutes").expect("python starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "PTB scenario failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("scenario passed"), "{stdout}");
    println!("{}", stdout.trim());
    sb.handle.shutdown().await.unwrap();
}
