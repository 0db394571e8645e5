//! Process lifecycle: the server exits cleanly and leaves no Chromium behind.

use std::time::Duration;

use serde_json::json;

use browserfarm_testkit::Fixtures;

use crate::util::{Agent, McpProcess, ToolResult, chromium_of, gateway, signal};

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
    for name in ["TERM", "INT"] {
        let (mut mcp, _) = McpProcess::start().await;
        mcp.ok("navigate", json!({"url": pages.url("/article")}))
            .await;
        let pid = mcp.pid();
        assert!(signal(pid, name), "SIG{name} delivered");
        let status = mcp.wait_exit().await;
        assert!(status.success(), "{status}");
        assert_no_chromium_left(pid).await;
    }
}

/// Reads messages until the answers to all of `ids` are in; returns them by id.
async fn answers(mcp: &mut McpProcess, ids: &[u64]) -> Vec<ToolResult> {
    let mut got: Vec<Option<ToolResult>> = ids.iter().map(|_| None).collect();
    while got.iter().any(Option::is_none) {
        let message = mcp.read_message().await;
        if let Some(i) = ids.iter().position(|id| message["id"] == json!(id)) {
            let result = message
                .get("result")
                .unwrap_or_else(|| panic!("JSON-RPC error {message}"));
            got[i] = Some(ToolResult(result.clone()));
        }
    }
    got.into_iter().map(Option::unwrap).collect()
}

/// SIGTERM to a gateway in the middle of a batch on two agents: the batch runs to
/// the end and is answered, and once the agents stop too no Chromium is left.
#[tokio::test]
async fn sigterm_mid_batch_finishes_the_running_call() {
    let pages = Fixtures::start().await;
    let (a, b) = (Agent::start(&[]).await, Agent::start(&[]).await);
    let mut mcp = gateway(&[&a, &b], &[]).await;
    let urls: Vec<String> = (0..4)
        .map(|i| pages.url(&format!("/wait/{}", 1500 + i)))
        .collect();
    let id = mcp
        .send(
            "tools/call",
            json!({"name": "batch_scrape", "arguments": {"urls": urls, "concurrency": 4}}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(signal(mcp.pid(), "TERM"), "SIGTERM delivered");
    let [batch] = <[ToolResult; 1]>::try_from(answers(&mut mcp, &[id]).await)
        .ok()
        .unwrap();
    assert!(!batch.is_error(), "{}", batch.text());
    assert!(batch.text().contains("4 ok, 0 failed"), "{}", batch.text());
    let status = mcp.wait_exit().await;
    assert!(status.success(), "{status}");
    for agent in [a, b] {
        let pid = agent.pid();
        let status = agent.stop().await;
        assert!(status.success(), "agent: {status}");
        assert_no_chromium_left(pid).await;
    }
}

/// A call that outlives the shutdown grace period is answered with an error
/// saying so, a call sent during the grace period is refused, and the server
/// still exits cleanly without Chromium.
#[tokio::test]
async fn sigterm_answers_calls_that_outlive_the_grace_period() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--shutdown-grace-secs", "1"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/article")}))
        .await;
    let pid = mcp.pid();
    let slow = mcp
        .send(
            "tools/call",
            json!({"name": "batch_scrape", "arguments": {"urls": [pages.url("/wait/20000")]}}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = std::time::Instant::now();
    assert!(signal(pid, "TERM"), "SIGTERM delivered");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let late = mcp
        .send("tools/call", json!({"name": "scrape", "arguments": {}}))
        .await;
    let [cut, refused] = <[ToolResult; 2]>::try_from(answers(&mut mcp, &[slow, late]).await)
        .ok()
        .unwrap();
    cut.assert_error("the server shut down before this call finished");
    refused.assert_error("the server is shutting down; this call was not run");
    let status = mcp.wait_exit().await;
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "stopped {:?} after SIGTERM; the 20 s page was not cut",
        signalled.elapsed()
    );
    assert_no_chromium_left(pid).await;
}
