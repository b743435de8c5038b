//! `bellhop demo` as a person runs it, a process of its own: the files it creates hold bot
//! tokens and customers' conversations, so they are private; its sandbox (every bot token, the
//! owners' login links) stays on this machine unless asked otherwise.
use crate::helpers::*;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Demo {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    /// Starts `bellhop demo ARGS` with `data_dir` and nothing else from the environment, and
    /// waits until it says it is running.
    async fn start(data_dir: &std::path::Path, args: &[&str]) -> Demo {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
        for (k, _) in std::env::vars() {
            if k.starts_with("BELLHOP_") {
                c.env_remove(k);
            }
        }
        if let Ok(models) = std::env::var("BELLHOP_MODELS_DIR") {
            c.env("BELLHOP_MODELS_DIR", models);
        }
        c.env("BELLHOP_DATA_DIR", data_dir).env("BELLHOP_LOG_FORMAT", "json").env("BELLHOP_LOG", "warn");
        let mut child = c.arg("demo").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start bellhop demo");
        let out = Arc::new(Mutex::new(Vec::new()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        let demo = Demo { child, out };
        wait_until(Duration::from_secs(60), || async { demo.output().contains("Stop with Ctrl-C") }).await;
        demo
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    /// Ctrl-C, and the exit that follows.
    fn interrupt(mut self) -> String {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) }, 0);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "demo exited with {status}: {}", self.output());
        self.output()
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Issue 16, item 14: the data directory, the SQLite database (customers' conversations) and
/// the sandbox's state file (bot tokens) were created world-readable.
#[cfg(unix)]
#[tokio::test]
async fn a_fresh_demo_data_directory_is_private_to_its_owner() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("demo-data");
    let demo = Demo::start(&data, &["--listen", "127.0.0.1:0"]).await;
    let output = demo.interrupt();
    assert_eq!(mode(&data), 0o700, "data directory\n{output}");
    for file in ["bellhop.db", "sandbox.json", "master.keys"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("bellhop.db") {
            assert_eq!(mode(&path), 0o600, "{name}: the database's journal files too");
        }
    }
}

/// The local address `port` is listened on, from the kernel's socket table (IPv4).
#[cfg(target_os = "linux")]
fn listening_on(port: u16) -> Vec<std::net::Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, p) = f.get(1)?.split_once(':')?;
            // State 0A: LISTEN. The address is little-endian hex.
            let ip = std::net::Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?.swap_bytes());
            (f.get(3) == Some(&"0A") && u16::from_str_radix(p, 16).ok()? == port).then_some(ip)
        })
        .collect()
}

/// Issue 16, item 15: `bellhop demo --listen 0.0.0.0:…` also put the sandbox — every bot token
/// and the owners' login links — on every network the machine is on.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_demos_sandbox_stays_on_loopback_when_the_app_listens_on_every_address() {
    let parent = tempfile::tempdir().unwrap();
    let demo = Demo::start(&parent.path().join("demo-data"), &["--listen", "0.0.0.0:0"]).await;
    let output = demo.output();
    let sandbox_line = output.lines().find(|l| l.contains("Telegram (sandbox):")).unwrap_or_else(|| panic!("{output}"));
    let url = sandbox_line.split_whitespace().find(|w| w.starts_with("http://")).unwrap();
    let sandbox = url::Url::parse(url).unwrap();
    assert_eq!(sandbox.host_str(), Some("127.0.0.1"), "{sandbox_line}");
    assert_eq!(listening_on(sandbox.port().unwrap()), [std::net::Ipv4Addr::LOCALHOST], "the sandbox's socket");
    let app_port: u16 = output.lines().find(|l| l.contains("Create a support bot:")).unwrap().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    assert_eq!(listening_on(app_port), [std::net::Ipv4Addr::UNSPECIFIED], "the web app listens where it was told");
    assert!(output.contains("sandbox") && output.contains("only on this machine"), "the owner is told why: {output}");
    demo.interrupt();
}
