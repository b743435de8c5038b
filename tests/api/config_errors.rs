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
fn an_unknown_key_in_the_settings_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bellhop.toml"), "[jobs]\nconcurency = 4\n").unwrap();
    let out = bellhop().current_dir(dir.path()).args(["migrate"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("jobs.concurency"), "{stderr}");
    assert!(!dir.path().join("bellhop-data").exists());
}

#[test]
fn every_command_has_help() {
    for cmd in ["serve", "migrate", "demo", "sandbox", "rotate-key", "config", "bench"] {
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
