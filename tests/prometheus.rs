//! The shipped Prometheus files against a real Prometheus: `promtool` checks
//! `deploy/prometheus/` (config syntax, rules, the alerts' unit tests), then a
//! Prometheus on a loopback port scrapes a running gateway and agent with the
//! bearer token until the tool calls made here show up in its query API.
//!
//! Needs `prometheus` and `promtool` on PATH (Debian: `apt-get install
//! prometheus`); see `util::installed` for what happens without them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::util::metrics::TOKEN;
use crate::util::{Agent, free_port, gateway, installed, repo_path};

fn deploy_dir() -> PathBuf {
    repo_path("deploy/prometheus")
}

async fn promtool(args: &[&str], dir: &Path) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A scrape config like the shipped one, aimed at the loopback targets, with a
/// one-second interval.
fn loopback_config(gateway: &str, agent: &str, token_file: &Path) -> String {
    let shipped = std::fs::read_to_string(deploy_dir().join("prometheus.yml")).unwrap();
    assert!(shipped.contains("credentials_file: /etc/prometheus/browserfarm.token"));
    format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: browserfarm-gateway
    authorization:
      type: Bearer
      credentials_file: {token}
    static_configs:
      - targets: ["{gateway}"]
  - job_name: browserfarm-agent
    authorization:
      type: Bearer
      credentials_file: {token}
    static_configs:
      - targets: ["{agent}"]
"#,
        token = token_file.display()
    )
}

/// Kills the Prometheus it holds when the test ends, however it ends.
struct Running(tokio::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn query(api: &str, promql: &str) -> Option<f64> {
    let url = reqwest::Url::parse_with_params(&format!("{api}/api/v1/query"), &[("query", promql)])
        .unwrap();
    let body: Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls `promql` until its value reaches `min` (Prometheus scrapes every second).
async fn wait_for(api: &str, promql: &str, min: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = query(api, promql).await;
        if let Some(v) = value
            && v >= min
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{promql} stayed at {value:?}, expected ≥ {min}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn prometheus_scrapes_gateway_and_agents_with_the_shipped_config() {
    let test = "prometheus_scrapes_gateway_and_agents_with_the_shipped_config";
    let install = "apt-get install prometheus";
    if !installed::require("prometheus", install, test)
        || !installed::require("promtool", install, test)
    {
        return;
    }
    let deploy = deploy_dir();
    // The shipped config names a token file that exists only where it is deployed.
    promtool(
        &["check", "config", "--syntax-only", "prometheus.yml"],
        &deploy,
    )
    .await;
    promtool(&["check", "rules", "alerts.yml"], &deploy).await;
    promtool(&["test", "rules", "alerts_test.yml"], &deploy).await;

    let pages = Fixtures::start().await;
    let agent = Agent::start(&["--token", TOKEN]).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut mcp = gateway(&[&agent], &["--token", TOKEN, "--metrics-listen", &listen]).await;

    let dir = std::env::temp_dir().join(format!("browserfarm-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("browserfarm.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    std::fs::copy(deploy.join("alerts.yml"), dir.join("alerts.yml")).unwrap();
    let agent_target = agent.name();
    std::fs::write(
        dir.join("prometheus.yml"),
        loopback_config(&listen, &agent_target, &token_file),
    )
    .unwrap();
    promtool(&["check", "config", "prometheus.yml"], &dir).await;

    let web = format!("127.0.0.1:{}", free_port());
    let prometheus = Running(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start prometheus"),
    );
    let api = format!("http://{web}");

    // Both targets are up, so the token file and /metrics paths are right.
    wait_for(&api, r#"sum(up{job=~"browserfarm-.*"})"#, 2.0).await;
    let calls =
        r#"sum(browserfarm_tool_calls_total{job="browserfarm-gateway",tool="scrape",status="ok"})"#;
    let before = query(&api, calls).await.unwrap_or(0.0);
    for i in 0..3 {
        let url = pages.url(&format!("/p/{i}"));
        mcp.ok("scrape", json!({ "url": url })).await;
    }
    let after = wait_for(&api, calls, before + 3.0).await;
    assert!(after >= 3.0);
    wait_for(
        &api,
        r#"sum(browserfarm_jobs_total{job="browserfarm-agent",node="local",status="ok"})"#,
        3.0,
    )
    .await;
    wait_for(
        &api,
        &format!(r#"browserfarm_node_up{{job="browserfarm-gateway",node="{agent_target}"}}"#),
        1.0,
    )
    .await;
    // The rules loaded and evaluate without errors against the live series.
    let rules: Value = reqwest::get(format!("{api}/api/v1/rules"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let loaded: Vec<&Value> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .expect("rule group")
        .iter()
        .collect();
    assert_eq!(loaded.len(), 5, "{rules}");
    for rule in loaded {
        assert_ne!(rule["health"], "err", "{rule}");
    }
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}
