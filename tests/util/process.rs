//! Starting the real `browserfarm` binary and looking at the processes it leaves:
//! free loopback ports, signals, and the Chromium processes of one server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The `browserfarm` binary Cargo built for this test run, with `args`, logging
/// at `RUST_LOG` (default `warn`), every tool group listed (`BROWSERFARM_TOOLS`,
/// default `all`: the suite drives every tool; tests of the default list remove
/// it) and no stdin. Output is left as Command leaves it: `output()` captures
/// stdout and stderr, `spawn()` inherits them.
pub fn browserfarm<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_browserfarm"));
    command
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env(
            "BROWSERFARM_TOOLS",
            std::env::var("BROWSERFARM_TOOLS").unwrap_or_else(|_| "all".into()),
        )
        .stdin(Stdio::null());
    command
}

/// Runs `browserfarm` with `args` and no token in the environment, which must
/// refuse to start; returns what it said on stderr.
pub async fn refused_to_start(args: &[&str]) -> String {
    let output = browserfarm(args)
        .env_remove("BROWSERFARM_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "{args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 5 s) until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} on port {port} did not start");
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, `STOP`, `CONT`) to `pid` with
/// kill(1), which keeps the suite free of `unsafe` and of a signal crate.
/// Returns whether the process was there to receive it.
pub fn signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A path under the repository's root (`deploy/…`, `scripts/…`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Processes whose command line mentions the profile directory of browserfarm
/// process `pid`, i.e. its Chromium processes.
pub fn chromium_of(pid: u32) -> Vec<u32> {
    let needle = format!("/browserfarm/pid-{pid}/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}
