//! Named tokens rotated without restarts: a gateway's batch keeps running
//! while its agent accepts the old and the new token, the gateway switches to
//! the new one (its --token-file changes) and the agent drops the old; the old
//! is refused afterwards. Over HTTP, the token's name is the caller's principal
//! in the audit log, and a name removed from the file is refused.

use std::time::{Duration, Instant};

use browserfarm_testkit::Fixtures;
use serde_json::json;

use crate::util::{Agent, HttpServer, StreamableSession, gateway};

const OLD: &str = "old-token-0123456789abcdef";
const NEW: &str = "new-token-0123456789abcdef";

fn dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("browserfarm-tokens-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn status_with(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (up to 10 s) until `url` answers `token` with `status`.
async fn until_status(url: &str, token: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_with(url, token).await != status {
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_token_rotated_mid_batch_fails_no_job_and_the_old_one_is_refused_after() {
    let pages = Fixtures::start().await;
    let dir = dir("rotate");
    let accepted = dir.join("agent-tokens");
    let presented = dir.join("gateway-token");
    std::fs::write(&accepted, format!("gateway {OLD}\n")).unwrap();
    std::fs::write(&presented, format!("{OLD}\n")).unwrap();
    let agent = Agent::start(&["--tokens-file", accepted.to_str().unwrap()]).await;
    let health = format!("{}/health", agent.url());
    assert_eq!(status_with(&health, NEW).await, 401);
    let mut mcp = gateway(&[&agent], &["--token-file", presented.to_str().unwrap()]).await;
    let urls: Vec<String> = (0..60).map(|i| pages.url(&format!("/slow/{i}"))).collect();
    let id = mcp
        .send(
            "tools/call",
            json!({"name": "batch_scrape", "arguments": {"urls": urls, "concurrency": 2}}),
        )
        .await;

    // The rotation, while the batch runs: the agent takes both, the gateway
    // switches, the agent drops the old one.
    std::fs::write(&accepted, format!("gateway-old {OLD}\ngateway {NEW}\n")).unwrap();
    until_status(&health, NEW, 200).await;
    std::fs::write(&presented, format!("{NEW}\n")).unwrap();
    // The gateway re-reads its file within two seconds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    std::fs::write(&accepted, format!("gateway {NEW}\n")).unwrap();
    until_status(&health, OLD, 401).await;
    assert!(
        pages.slow.total() < 60,
        "the rotation finished while the batch still ran"
    );

    let reply = loop {
        let message = mcp.read_message().await;
        if message.get("id") == Some(&json!(id)) {
            break message;
        }
    };
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Batch of 60 URLs: 60 ok, 0 failed"),
        "{text}"
    );
    assert_eq!(status_with(&health, NEW).await, 200);
    let after = mcp
        .ok("scrape", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(after.contains("Growing Browsers"), "{after}");
}

#[tokio::test]
async fn over_http_a_tokens_name_is_the_principal_and_a_removed_name_is_refused() {
    let pages = Fixtures::start().await;
    let dir = dir("http");
    let tokens = dir.join("tokens");
    let audit = dir.join("audit.jsonl");
    std::fs::write(&tokens, format!("# who may call\nalice {OLD}\nbob {NEW}\n")).unwrap();
    let server = HttpServer::start(&[
        "--tokens-file",
        tokens.to_str().unwrap(),
        "--audit-log",
        audit.to_str().unwrap(),
    ])
    .await;
    let mut alice = StreamableSession::new(&server, Some(OLD));
    alice.initialize().await;
    alice
        .tool_text("scrape", json!({"url": pages.url("/article")}))
        .await;
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"principal\":\"alice\""), "{log}");

    std::fs::write(&tokens, format!("bob {NEW}\n")).unwrap();
    let farm = format!("{}/v1/farm", server.base);
    until_status(&farm, OLD, 401).await;
    assert_eq!(status_with(&farm, NEW).await, 200, "bob still calls");
}
