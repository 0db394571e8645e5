//! Process lifecycle: the server exits cleanly and leaves no Chromium behind.

use std::time::Duration;

use serde_json::json;

use crate::client::{McpProcess, chromium_of};
use browserfarm_testkit::Fixtures;

async fn assert_no_chromium_left(pid: u32) {
    // Killed children are reaped asynchronously by the kernel; allow a moment.
    for _ in 0..50 {
        if chromium_of(pid).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        chromium_of(pid),
        Vec::<u32>::new(),
        "Chromium left behind by browserfarm pid {pid}"
    );
    let profiles = std::env::temp_dir()
        .join("browserfarm")
        .join(format!("pid-{pid}"));
    assert!(
        !profiles.exists(),
        "profile directory {} left behind",
        profiles.display()
    );
}

#[tokio::test]
async fn closing_stdin_exits_and_leaves_no_chromium() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    mcp.ok("navigate", json!({"url": pages.url("/article")}))
        .await;
    let pid = mcp.pid();
    assert!(
        !chromium_of(pid).is_empty(),
        "Chromium should be running during the session"
    );
    let status = mcp.close_and_wait().await;
    assert!(status.success(), "{status}");
    assert_no_chromium_left(pid).await;
}

#[tokio::test]
async fn sigterm_and_sigint_exit_and_leave_no_chromium() {
    let pages = Fixtures::start().await;
    for signal in [nix_signal::TERM, nix_signal::INT] {
        let (mut mcp, _) = McpProcess::start().await;
        mcp.ok("navigate", json!({"url": pages.url("/article")}))
            .await;
        let pid = mcp.pid();
        nix_signal::send(pid, signal);
        let status = tokio::time::timeout(Duration::from_secs(30), mcp.child.wait())
            .await
            .expect("exited after signal")
            .unwrap();
        assert!(status.success(), "{status}");
        assert_no_chromium_left(pid).await;
    }
}

/// Sending signals without `unsafe` or extra crates.
mod nix_signal {
    pub const TERM: &str = "TERM";
    pub const INT: &str = "INT";

    pub fn send(pid: u32, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
