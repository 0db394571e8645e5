//! The npm packages: `scripts/npm-pack.sh` packs the launcher and this platform's
//! binary package, and `npx` runs them offline from the tarballs, over stdio.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::util::{TOOLS, installed, repo_path};

/// `npx` over the two tarballs, with a cache of its own: nothing comes from a
/// registry or an earlier install.
fn npx(tarballs: &[String], cache: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("npx");
    cmd.args(["--yes", "--offline"]);
    for t in tarballs {
        cmd.args(["--package", t]);
    }
    cmd.arg("--").arg("browserfarm").args(args);
    cmd.env("npm_config_cache", cache)
        .env("npm_config_update_notifier", "false");
    cmd
}

#[tokio::test]
async fn npx_runs_the_packed_packages_offline() {
    if !installed::require(
        "npm",
        "apt-get install npm",
        "npx_runs_the_packed_packages_offline",
    ) {
        return;
    }
    let work = std::env::temp_dir().join(format!("browserfarm-npm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let packed = Command::new(repo_path("scripts/npm-pack.sh"))
        .arg(env!("CARGO_BIN_EXE_browserfarm"))
        .arg(work.join("out"))
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("run npm-pack.sh");
    assert!(packed.status.success(), "npm-pack.sh failed");
    let tarballs: Vec<String> = String::from_utf8(packed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tarballs.len(), 2, "{tarballs:?}");
    let cache = work.join("cache");

    let version = npx(&tarballs, &cache, &["--version"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success(), "{printed}");
    assert!(
        printed.contains(env!("CARGO_PKG_VERSION")),
        "npx printed {printed}"
    );

    // The launcher passes stdio through: a whole MCP exchange works.
    let mut child = npx(&tarballs, &cache, &["mcp", "--min-browsers", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let tools = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("a reply");
            let reply: Value = serde_json::from_str(&line).unwrap();
            if reply["id"] == 2 {
                return reply["result"]["tools"].as_array().unwrap().len();
            }
        }
    })
    .await
    .expect("tools/list answered through the launcher");
    assert_eq!(tools, TOOLS.len());
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&work);
}
