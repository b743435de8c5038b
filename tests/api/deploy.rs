//! The operator's deployment files, checked without a Docker engine: every path the Dockerfile
//! copies exists; everything the code reads at build time (`include_str!`, `include_bytes!`,
//! `sqlx::migrate!`, askama templates, workspace members) is copied; every `BELLHOP_*` variable
//! the Dockerfile, docker-compose.yml or .env.example sets is a setting bellhop reads; compose
//! runs the Qdrant server version the client is pinned to, and gives every bellhop process the
//! server (Qdrant Edge cannot be shared by processes).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The sources of the Dockerfile's `COPY` lines from the build context (not `--from` a stage).
fn copied() -> Vec<String> {
    let mut out = Vec::new();
    for line in read("Dockerfile").lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"COPY") || words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let args: Vec<&str> = words[1..].iter().copied().filter(|w| !w.starts_with("--")).collect();
        out.extend(args[..args.len() - 1].iter().map(|s| s.trim_end_matches('/').to_owned()));
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "tests" || n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Paths (relative to the repository) the build reads besides `.rs` files.
fn build_inputs() -> BTreeSet<String> {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "crates", "kernels"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut out = BTreeSet::new();
    let rel = |p: &Path| p.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", p.display())).strip_prefix(root.canonicalize().unwrap()).unwrap().display().to_string();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Code under #[cfg(test)] is not compiled into the image.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for (mac, relative_to_file) in [("include_str!(\"", true), ("include_bytes!(\"", true), ("migrate!(\"", false)] {
            for part in text.split(mac).skip(1) {
                let arg = part.split('"').next().unwrap();
                let base = if relative_to_file { f.parent().unwrap().to_path_buf() } else { manifest_dir(&f) };
                out.insert(rel(&base.join(arg)));
            }
        }
        if text.contains("askama::Template") || text.contains("derive(Template") {
            out.insert(rel(&manifest_dir(&f).join("templates")));
        }
        out.insert(rel(&f));
    }
    out
}

/// The directory of the Cargo.toml that owns `file`.
fn manifest_dir(file: &Path) -> PathBuf {
    let mut d = file.parent().unwrap().to_path_buf();
    while !d.join("Cargo.toml").exists() {
        d = d.parent().unwrap().to_path_buf();
    }
    d
}

#[test]
fn every_path_the_dockerfile_copies_exists_and_everything_the_build_reads_is_copied() {
    let copied = copied();
    assert!(copied.contains(&"src".to_owned()) && copied.contains(&"Cargo.lock".to_owned()), "{copied:?}");
    for c in &copied {
        assert!(root().join(c).exists(), "the Dockerfile copies {c}, which does not exist");
    }
    let inputs = build_inputs();
    assert!(inputs.iter().any(|i| i.starts_with("static/")) && inputs.iter().any(|i| i.starts_with("examples/")), "the scan finds the includes: {inputs:?}");
    let missing: Vec<_> = inputs.iter().filter(|i| !copied.iter().any(|c| *i == c || i.starts_with(&format!("{c}/")))).collect();
    assert!(missing.is_empty(), "the image build reads these, which the Dockerfile does not copy: {missing:?}");
    // Workspace members, and the script the models stage runs.
    let manifest = read("Cargo.toml");
    let members = manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap();
    for m in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        assert!(copied.iter().any(|c| m == c || m.starts_with(&format!("{c}/"))), "workspace member {m} is not copied");
    }
    assert!(copied.contains(&"scripts/fetch-models.sh".to_owned()), "the image has its model files");
}

/// `BELLHOP_*` names set in `text` (`NAME=…` or `NAME: …`), ignoring comments.
fn variables_set(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches('#').trim();
        for word in line.split(|c: char| c.is_whitespace() || c == '\\') {
            let name: String = word.chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            let rest = &word[name.len()..];
            if name.starts_with("BELLHOP_") && (rest.starts_with('=') || rest.starts_with(':')) {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_bellhop_variable_the_deployment_sets_is_a_setting_bellhop_reads() {
    let known: BTreeSet<&str> = bellhop::config::SETTINGS.iter().map(|s| s.env).collect();
    let mut seen = 0;
    for file in ["Dockerfile", "docker-compose.yml", ".env.example"] {
        let set = variables_set(&read(file));
        seen += set.len();
        let unknown: Vec<_> = set.iter().filter(|v| !known.contains(v.as_str())).collect();
        assert!(unknown.is_empty(), "{file} sets {unknown:?}, which bellhop does not read");
    }
    assert!(seen >= 15, "the scan found only {seen} variables");
    // Documented-but-commented settings in .env.example count too: they are what an operator
    // uncomments. The scan above includes them (comments are stripped of their `#`).
    assert!(variables_set(&read(".env.example")).contains("BELLHOP_LLM_URL"));
}

#[test]
fn compose_gives_every_process_the_qdrant_server_the_client_is_pinned_to() {
    let compose = read("docker-compose.yml");
    assert!(compose.contains("BELLHOP_QDRANT_URL: http://qdrant:6334"), "bellhop processes must use the Qdrant server");
    let image = compose.split("image: qdrant/qdrant:v").nth(1).expect("a qdrant/qdrant image").split_whitespace().next().unwrap().to_owned();
    let lock = read("Cargo.lock");
    let client = lock.split("name = \"qdrant-client\"\nversion = \"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(minor(&image), minor(&client), "compose runs Qdrant {image}, the client is {client}");
    assert!(!compose.contains("bellhop-data:/"), "no data volume shared between processes");
    for role in ["web", "worker"] {
        assert!(compose.contains(&format!("[\"serve\", \"--role\", \"{role}\"]")));
    }
    assert!(compose.contains("443:443") && !compose.contains("\"8080:8080\"") && !compose.contains("9090:"), "only the TLS terminator is published");
}

/// Every `bellhop …` command the image build runs, and the command compose starts, is one the
/// binary has (the build cannot be run here: a wrong name would fail only in a Docker engine).
#[test]
fn every_bellhop_command_the_deployment_runs_exists() {
    use clap::CommandFactory;
    let cli = bellhop::cli::Cli::command();
    let mut run = Vec::new();
    for line in read("Dockerfile").lines().filter(|l| l.trim_start().starts_with("RUN ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            // `bellhop` as a command, not `cargo build --bin bellhop`.
            if *w == "bellhop" && (i == 0 || words[i - 1] != "--bin") {
                run.push(words.get(i + 1).copied().unwrap_or_default().to_owned());
            }
        }
    }
    assert!(run.contains(&"prepare-models".to_owned()), "the image packs the embedding model's weights: {run:?}");
    let cmd = read("Dockerfile").lines().find_map(|l| l.strip_prefix("CMD [\"").map(|r| r.split('"').next().unwrap().to_owned())).expect("a CMD");
    run.push(cmd);
    for name in &run {
        assert!(cli.find_subcommand(name).is_some(), "the Dockerfile runs `bellhop {name}`, which bellhop does not have");
    }
}

/// Docker stops a container with SIGTERM, then SIGKILL after its `stop_grace_period` (10 s
/// unless set). bellhop's own shutdown takes up to `http.shutdown_grace_seconds` for running
/// jobs and requests, then up to 5 s to record results before handing back the rest: killed
/// before that, finished jobs run again and their leases wait out their time. And a service that
/// sets `environment:` replaces the shared block's (YAML merge is shallow): bellhop-web's must
/// still set every variable the shared block sets.
#[test]
fn compose_lets_bellhop_finish_its_shutdown_and_gives_web_the_shared_settings() {
    let compose = read("docker-compose.yml");
    let anchor = compose.split("x-bellhop: &bellhop").nth(1).expect("the shared x-bellhop block").split("\nservices:").next().unwrap();
    let period = anchor.lines().find_map(|l| l.trim().strip_prefix("stop_grace_period:")).expect("the shared block sets stop_grace_period");
    let seconds: u64 = period.trim().strip_suffix('s').and_then(|s| s.parse().ok()).expect("stop_grace_period in seconds, e.g. 40s");
    let grace: u64 = bellhop::config::SETTINGS.iter().find(|s| s.key == "http.shutdown_grace_seconds").and_then(|s| s.default).unwrap().parse().unwrap();
    assert!(seconds >= grace + 5 + 5, "stop_grace_period {seconds} s leaves bellhop's {grace} s grace and 5 s of recording no margin");
    assert!(!compose.lines().filter(|l| !l.trim_start().starts_with('#')).skip_while(|l| !l.starts_with("services:")).any(|l| l.trim().starts_with("stop_grace_period:")), "no service overrides it");

    let web = compose.split("\n  bellhop-web:").nth(1).expect("a bellhop-web service").split("\n  bellhop-worker:").next().unwrap();
    let names = |block: &str| -> BTreeSet<String> {
        block.lines().filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned())).filter(|k| k.starts_with("BELLHOP_")).collect()
    };
    let shared = names(anchor);
    assert!(shared.len() >= 3);
    let in_web = names(web);
    let missing: Vec<_> = shared.difference(&in_web).collect();
    assert!(missing.is_empty(), "bellhop-web's environment replaces the shared one and lacks {missing:?}");
}
