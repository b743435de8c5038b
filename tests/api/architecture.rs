//! The dependency rule (`src/lib.rs`, docs/architecture.md), checked on the source tree:
//!
//! ```text
//!   web (HTTP edge) · CLI (main, cli, demo, bench, eval)
//!        ↓
//!   app (AppState, job kinds, update routing, wiring)
//!        ↓
//!   domain: answering · billing · knowledge · manager · retrieval · models · llm
//!        ↓
//!   storage · jobs · telegram · sandbox · crypto · domain types · config · metrics
//! ```
//!
//! - the domain modules never mention `AppState`, `crate::app` or `crate::startup`;
//! - nothing outside `src/web` uses `crate::web` (the binary hands `web::router` down);
//! - configuration (`src/config*`) and the other infrastructure modules use no domain module,
//!   nor `app` or `web`;
//! - no two domain modules use each other (answering ↔ manager, billing ↔ manager, …): such
//!   routing belongs to `app`;
//! - transactions begin only through `Db::begin` (`src/storage/mod.rs`), which on SQLite takes
//!   the write lock at the start: a transaction begun on the pool or a connection directly would
//!   be SQLite's deferred kind, which fails instead of waiting when it reads before it writes.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOMAIN: &[&str] = &["answering", "billing", "knowledge", "manager", "retrieval", "models", "llm"];
/// The layer below the domain: plain infrastructure and data.
const INFRASTRUCTURE: &[&str] = &["storage", "jobs", "telegram", "sandbox", "crypto", "domain", "config", "metrics", "telemetry"];
/// Above the domain.
const UPPER: &[&str] = &["app", "startup", "web"];

/// Every `.rs` file under `dir`, with its path relative to `root` (`/`-separated).
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under root").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            out.push((rel, std::fs::read_to_string(&path).expect("readable source")));
        }
    }
}

/// The top-level modules of this crate that `text` uses through `crate::` paths, grouped
/// imports (`use crate::{a, b::c}`) included; comments are not uses.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let code: String = text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `bellhop_crate::x` or `some_crate::x` is not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.extend(first_ident(&item));
        } else {
            found.extend(first_ident(rest));
        }
    }
    found
}

fn first_ident(s: &str) -> Option<String> {
    let ident: String = s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!ident.is_empty() && ident != "self").then_some(ident)
}

/// The top-level module a source file belongs to (`answering` for `answering/mod.rs` and
/// `answering.rs`; `config` for `config.rs` and `config/…`).
fn module_of(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Every break of the rule in the crate whose sources are in `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, src, &mut files);
    assert!(!files.is_empty(), "no sources found under {}", src.display());
    let mut out = Vec::new();
    let mut uses: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in &files {
        let module = module_of(rel);
        let used = crate_modules(text);
        if rel == "main.rs" {
            continue; // the binary: its own crate, the composition root
        }
        if DOMAIN.contains(&module) {
            if text.contains("AppState") {
                out.push(format!("src/{rel}: a domain module mentions AppState (take the narrow handles instead)"));
            }
            for layer in ["app", "startup"] {
                if used.contains(layer) {
                    out.push(format!("src/{rel}: a domain module uses crate::{layer}"));
                }
            }
            uses.entry(module).or_default().extend(used.iter().filter(|m| DOMAIN.contains(&m.as_str()) && m.as_str() != module).cloned());
        }
        if module != "web" && used.contains("web") {
            out.push(format!("src/{rel}: uses crate::web from outside src/web"));
        }
        if INFRASTRUCTURE.contains(&module) {
            for m in used.iter().filter(|m| DOMAIN.contains(&m.as_str()) || UPPER.contains(&m.as_str())) {
                let what = if module == "config" { "configuration" } else { "an infrastructure module" };
                out.push(format!("src/{rel}: {what} uses crate::{m}"));
            }
        }
    }
    for (&a, used) in &uses {
        for b in used {
            if a < b.as_str() && uses.get(b.as_str()).is_some_and(|back| back.contains(a)) {
                out.push(format!("src/{a} and src/{b} use each other (route between them in src/app)"));
            }
        }
    }
    out
}

#[test]
fn dependencies_point_one_way() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "the dependency rule (src/lib.rs) is broken:\n{}", found.join("\n"));
}

/// Writes `text` to `rel` under `root`, making its folders.
fn write_source(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_rule_catches_each_kind_of_break() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| write_source(dir.path(), rel, text);
    write("lib.rs", "pub mod app;\npub mod web;\n");
    write("web/mod.rs", "use crate::app::AppState;\nuse crate::{billing, web::pages};\n");
    write("app/mod.rs", "use crate::answering::Answering;\n");
    write("main.rs", "use bellhop::web::router;\n");
    write("retrieval/mod.rs", "use crate::models::Embedder;\n");
    assert_eq!(violations(dir.path()), Vec::<String>::new(), "a tree that keeps the rule passes");

    write("answering/mod.rs", "pub fn run(app: &AppState) {}\nuse crate::{jobs, manager::Manager};\n");
    write("billing/stripe.rs", "use crate::web::AppError;\n");
    write("knowledge/ingest.rs", "use crate::{storage, app::jobs};\n");
    write("manager/updates.rs", "fn f() { crate::answering::handoff::close(); }\n");
    write("config/mod.rs", "pub plans: Vec<crate::billing::Plan>,\n");
    write("storage/billing.rs", "//! Used by `crate::billing`.\nfn f() -> crate::app::AppState {}\n");
    write("demo.rs", "use crate::web;\n");
    let found = violations(dir.path());
    let expect = [
        "src/answering/mod.rs: a domain module mentions AppState",
        "src/billing/stripe.rs: uses crate::web from outside src/web",
        "src/knowledge/ingest.rs: a domain module uses crate::app",
        "src/config/mod.rs: configuration uses crate::billing",
        "src/storage/billing.rs: an infrastructure module uses crate::app",
        "src/demo.rs: uses crate::web from outside src/web",
        "src/answering and src/manager use each other",
    ];
    for e in expect {
        assert!(found.iter().any(|f| f.starts_with(e)), "not caught: {e}\nfound:\n{}", found.join("\n"));
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn crate_paths_are_read_through_groups_and_not_from_other_crates() {
    let m = crate_modules("use crate::{a::b, c, d::{e, f}};\nlet x = crate::g::h();\nuse my_crate::z;\nuse crate::{\n    self,\n    i,\n};");
    assert_eq!(m.into_iter().collect::<Vec<_>>(), ["a", "c", "d", "g", "i"]);
}

/// Every place in the crate whose sources are in `src` that begins a transaction other than
/// through `Db::begin` (a receiver named `db`, or `db()`), one line each.
fn transactions_not_from_db(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, src, &mut files);
    let mut out = Vec::new();
    for (rel, text) in &files {
        if rel == "storage/mod.rs" {
            continue; // `Db::begin` itself
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.find("//").map_or(line, |i| &line[..i]);
            for bad in ["begin_with(", "try_begin("] {
                if code.contains(bad) {
                    out.push(format!("src/{rel}:{}: {bad}…) begins a transaction outside Db::begin", n + 1));
                }
            }
            let mut rest = code;
            while let Some(at) = rest.find(".begin(") {
                let receiver: String = rest[..at].chars().rev().take_while(|c| c.is_alphanumeric() || "_.()".contains(*c)).collect::<Vec<_>>().into_iter().rev().collect();
                if !(receiver.ends_with("db") || receiver.ends_with("db()")) {
                    out.push(format!("src/{rel}:{}: `{receiver}.begin()` begins a transaction outside Db::begin", n + 1));
                }
                rest = &rest[at + ".begin(".len()..];
            }
        }
    }
    out
}

#[test]
fn transactions_begin_only_through_db_begin() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = transactions_not_from_db(&src);
    assert!(found.is_empty(), "begin transactions with Db::begin (src/storage/mod.rs says why):\n{}", found.join("\n"));
}

#[test]
fn the_transaction_rule_catches_each_kind_of_break() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| write_source(dir.path(), rel, text);
    write("storage/mod.rs", "self.pool.begin_with(\"begin immediate\").await\n");
    write("app/a.rs", "let tx = app.db.begin().await?;\nlet t = self.db().begin().await?; // not db.pool.begin()\n");
    assert_eq!(transactions_not_from_db(dir.path()), Vec::<String>::new(), "a tree that keeps the rule passes");
    write("storage/pacing.rs", "let mut tx = self.db.pool.begin().await?;\n");
    write("billing/meter.rs", "let mut conn = db.pool.acquire().await?;\nlet tx = conn.begin().await?;\n");
    write("web/x.rs", "let tx = app.db.pool.try_begin().await?;\n");
    let found = transactions_not_from_db(dir.path());
    let expect = ["src/storage/pacing.rs:1: `self.db.pool.begin()`", "src/billing/meter.rs:2: `conn.begin()`", "src/web/x.rs:1: try_begin("];
    for e in expect {
        assert!(found.iter().any(|f| f.starts_with(e)), "not caught: {e}\nfound:\n{}", found.join("\n"));
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}
