//! A bad configuration stops bellhop before it binds a port or writes anything.
use std::process::Command;

fn bellhop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    // Only what each test sets: no BELLHOP_* leaking in from the developer's shell.
    for (k, _) in std::env::vars() {
        if k.starts_with("BELLHOP_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn bad_settings_exit_non_zero_naming_each_setting_without_binding_or_writing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Hold the port: had bellhop tried to bind it, it would fail with a different message.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let out = bellhop()
        .current_dir(dir.path())
        .args(["serve"])
        .env("BELLHOP_DATA_DIR", &data_dir)
        .env("BELLHOP_LISTEN", format!("127.0.0.1:{port}"))
        .env("BELLHOP_DATABASE_URL", "mysql://localhost/bellhop")
        .env("BELLHOP_MANAGER_TOKEN", "not-a-token")
        .env("BELLHOP_JOBS_CONCURRENCY", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for setting in ["database_url", "telegram.manager_token", "telegram.manager_webhook_secret", "jobs.concurrency"] {
        assert!(
            stderr.lines().any(|l| l.starts_with("configuration error: ") && l.contains(setting)),
            "no line names {setting}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("binding") && !stderr.contains("listening"), "{stderr}");
    assert!(!data_dir.exists(), "data directory was created");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "something was written");
    drop(held);
}

#[test]
fn an_unwritable_data_dir_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = bellhop().current_dir(dir.path()).args(["migrate"]).env("BELLHOP_DATA_DIR", file.join("data")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("configuration error: data_dir:"), "{stderr}");
}

#[test]
fn a_web_or_worker_process_on_storage_only_one_process_can_open_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    for role in ["web", "worker"] {
        let out = bellhop()
            .current_dir(dir.path())
            .args(["serve", "--role", role])
            .env("BELLHOP_DATA_DIR", &data_dir)
            .env("BELLHOP_LISTEN", "127.0.0.1:0")
            .env("BELLHOP_MANAGER_TOKEN", "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawAAAAAAAAAA")
            .env("BELLHOP_MANAGER_WEBHOOK_SECRET", "s".repeat(40))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains(&format!("`serve --role {role}`")), "{stderr}");
        assert!(stderr.contains("qdrant.url") && stderr.contains("Qdrant Edge"), "names the index setting: {stderr}");
        assert!(stderr.contains("database_url") && stderr.contains("PostgreSQL"), "names the database setting: {stderr}");
        assert!(!stderr.contains("listening") && !data_dir.exists(), "refused before starting: {stderr}");
    }
    // With a Qdrant server configured, only the database is left to complain about.
    let out = bellhop()
        .current_dir(dir.path())
        .args(["serve", "--role", "worker"])
        .env("BELLHOP_DATA_DIR", &data_dir)
        .env("BELLHOP_QDRANT_URL", "http://127.0.0.1:6334")
        .env("BELLHOP_MANAGER_TOKEN", "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawAAAAAAAAAA")
        .env("BELLHOP_MANAGER_WEBHOOK_SECRET", "s".repeat(40))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database_url") && !stderr.contains("Qdrant Edge"), "{stderr}");
}

/// Issue 18, item 5: with Telegram's cloud as the Bot API server (the default), `serve` refuses
/// a webhook address Telegram would refuse, before binding or writing anything.
#[test]
fn serve_refuses_a_public_url_telegram_cannot_deliver_to() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    for (url, words) in [("http://bots.example.com", "is not an https:// address"), ("https://bots.example.com:8080", "uses port 8080")] {
        let out = bellhop()
            .current_dir(dir.path())
            .args(["serve"])
            .env("BELLHOP_DATA_DIR", &data_dir)
            .env("BELLHOP_LISTEN", "127.0.0.1:0")
            .env("BELLHOP_PUBLIC_URL", url)
            .env("BELLHOP_MANAGER_TOKEN", "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawAAAAAAAAAA")
            .env("BELLHOP_MANAGER_WEBHOOK_SECRET", "s".repeat(40))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.lines().any(|l| l.starts_with("configuration error: public_url: ") && l.contains(words)), "{stderr}");
        assert!(!stderr.contains("listening") && !data_dir.exists(), "refused before starting: {stderr}");
    }
}

#[test]
fn an_unknown_key_in_the_settings_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bellhop.toml"), "[jobs]\nconcurency = 4\n").unwrap();
    let out = bellhop().current_dir(dir.path()).args(["migrate"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("jobs.concurency"), "{stderr}");
    assert!(!dir.path().join("bellhop-data").exists());
}

/// A misspelled variable was silently ignored ("configuration is valid") while a misspelled
/// key in bellhop.toml was an error: `config` names it, and the setting it is close to.
#[test]
fn config_names_a_misspelled_environment_variable_and_the_setting_it_is_close_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = bellhop()
        .current_dir(dir.path())
        .args(["config"])
        .env("BELLHOP_DATA_DIR", dir.path().join("data"))
        .env("BELLHOP_QDRANT_ULR", "http://x")
        .env("BELLHOP_TEST_DATABASE", "sqlite")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("configuration error: ")).collect();
    assert_eq!(lines.len(), 1, "only the misspelled one (the test suite's own variable is known):\n{stderr}");
    assert!(lines[0].starts_with("configuration error: BELLHOP_QDRANT_ULR: ") && lines[0].ends_with("did you mean BELLHOP_QDRANT_URL?"), "{stderr}");
    let ok = bellhop().current_dir(dir.path()).args(["config"]).env("BELLHOP_DATA_DIR", dir.path().join("data")).env("BELLHOP_QDRANT_URL", "http://x").output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn every_command_has_help() {
    for cmd in ["serve", "migrate", "demo", "sandbox", "rotate-key", "config", "bench", "loadtest"] {
        let out = bellhop().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help failed");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{cmd}");
    }
}

#[test]
fn the_readme_configuration_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = bellhop::config::markdown_table();
    assert!(readme.contains(&table), "README's configuration table is out of date: paste the output of `bellhop config --markdown`");
}

/// An unreachable PostgreSQL said "pool timed out while waiting for an open connection", after
/// 30 s, with no cause: now the message names the host and port, and the reason.
#[test]
fn an_unreachable_database_is_named_with_its_host_port_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = bellhop()
        .current_dir(dir.path())
        .args(["migrate"])
        .env("BELLHOP_DATA_DIR", dir.path().join("data"))
        .env("BELLHOP_DATABASE_URL", format!("postgres://bellhop:pw-s3cret@127.0.0.1:{closed}/bellhop"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("could not connect to PostgreSQL at 127.0.0.1:{closed} (database_url): ")), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "the reason is given: {stderr}");
    assert!(!stderr.contains("pool timed out") && !stderr.contains("s3cret"), "{stderr}");
}

/// `bellhop migrate` on a fresh database said "database is up to date", as when there was
/// nothing to do: it now says how many migrations it applied.
#[tokio::test]
async fn migrate_says_how_many_migrations_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::fresh_database_url(dir.path()).await;
    let run = || {
        let out = bellhop().current_dir(dir.path()).args(["migrate"]).env("BELLHOP_DATA_DIR", dir.path().join("data")).env("BELLHOP_DATABASE_URL", &url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let db = bellhop::storage::Db::connect(&bellhop::config::DatabaseUrl::parse(&url).unwrap()).await.unwrap();
    let all = db.migration_versions().len();
    let engine = db.engine.name();
    assert_eq!(run(), format!("applied {all} migrations ({engine}); the database is up to date\n"));
    assert_eq!(run(), format!("database is up to date ({engine}); nothing to apply\n"));
}
