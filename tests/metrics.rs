//! Prometheus metrics from the real binaries: a gateway in stdio mode with
//! `--metrics-listen` over one agent, both behind a token, scraped after a few
//! tool calls.

use std::collections::BTreeMap;
use std::time::Duration;

use browserfarm_testkit::Fixtures;
use serde_json::json;

use crate::farm::{Agent, free_port, gateway};

pub(crate) const TOKEN: &str = "metrics-e2e-token";

/// One line of the text exposition format: `name{label="value",…} number`.
#[derive(Debug)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the samples of a text exposition (comments skipped). Label values in
/// our series never contain quotes or commas, so a split is enough.
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_owned(), v.trim_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value: value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            }
        })
        .collect()
}

/// The sum of the samples of `name` carrying all of `labels`; None when there
/// is no such series.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

pub(crate) async fn get_metrics(base: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET /metrics");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Scrapes until `ready` holds for the samples (gauges such as node_up follow
/// health checks, which run every couple of seconds), or panics with the text.
async fn scrape_until(base: &str, ready: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let mut text = String::new();
    for _ in 0..100 {
        let (status, body) = get_metrics(base, Some(TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        let samples = parse(&body);
        if ready(&samples) {
            return samples;
        }
        text = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("metrics of {base} never got ready:\n{text}");
}

#[tokio::test]
async fn gateway_and_agent_metrics_count_calls_jobs_and_node_health() {
    let pages = Fixtures::start().await;
    let agent = Agent::start(&["--token", TOKEN]).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut mcp = gateway(&[&agent], &["--token", TOKEN, "--metrics-listen", &listen]).await;
    let gateway_base = format!("http://{listen}");

    for i in 0..3 {
        let url = pages.url(&format!("/p/{i}"));
        mcp.ok("scrape", json!({ "url": url })).await;
    }
    mcp.ok("screenshot", json!({})).await;
    let refused = mcp
        .call("navigate", json!({ "url": "file:///etc/hostname" }))
        .await;
    assert!(refused.is_error(), "{}", refused.text());

    assert_eq!(get_metrics(&gateway_base, None).await.0, 401);
    assert_eq!(get_metrics(&gateway_base, Some("wrong")).await.0, 401);
    let node = agent.name();
    let gw = scrape_until(&gateway_base, |s| {
        value(s, "browserfarm_node_up", &[("node", &node)]) == Some(1.0)
    })
    .await;
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let v = value(&gw, name, labels).unwrap_or(0.0);
        assert!(v >= min, "gateway {name}{labels:?} = {v}, expected ≥ {min}");
    };
    at_least(
        "browserfarm_tool_calls_total",
        &[("tool", "scrape"), ("status", "ok")],
        3.0,
    );
    at_least(
        "browserfarm_tool_calls_total",
        &[("tool", "screenshot"), ("status", "ok")],
        1.0,
    );
    at_least(
        "browserfarm_tool_calls_total",
        &[("tool", "navigate"), ("status", "error")],
        1.0,
    );
    at_least("browserfarm_errors_total", &[("kind", "url_refused")], 1.0);
    at_least(
        "browserfarm_tool_duration_seconds_count",
        &[("tool", "scrape")],
        3.0,
    );
    at_least(
        "browserfarm_jobs_total",
        &[("node", &node), ("status", "ok")],
        4.0,
    );
    at_least(
        "browserfarm_job_duration_seconds_count",
        &[("node", &node)],
        4.0,
    );
    at_least("browserfarm_pages_scraped_total", &[], 3.0);
    at_least("browserfarm_screenshots_total", &[], 1.0);
    at_least("browserfarm_node_memory_total_bytes", &[], 1.0);
    assert_eq!(
        value(&gw, "browserfarm_breaker_state", &[("node", &node)]),
        Some(0.0)
    );
    assert_eq!(value(&gw, "browserfarm_queue_depth", &[]), Some(0.0));
    assert_eq!(value(&gw, "browserfarm_cache_hits_total", &[]), Some(0.0));

    // The agent counts the same jobs as its own ("local" pool), behind the same token.
    assert_eq!(get_metrics(&agent.url(), None).await.0, 401);
    let ag = scrape_until(&agent.url(), |_| true).await;
    let jobs = value(
        &ag,
        "browserfarm_jobs_total",
        &[("node", "local"), ("status", "ok")],
    );
    assert!(jobs >= Some(4.0), "agent jobs ok = {jobs:?}");
    assert_eq!(
        value(&ag, "browserfarm_node_up", &[("node", "local")]),
        Some(1.0)
    );
    assert_eq!(
        value(&ag, "browserfarm_breaker_state", &[("node", "local")]),
        Some(0.0)
    );
    let browsers = value(&ag, "browserfarm_active_browsers", &[]);
    assert!(browsers >= Some(1.0), "agent browsers = {browsers:?}");
    let contexts = value(&ag, "browserfarm_browser_contexts", &[]);
    assert_eq!(contexts, Some(1.0), "the gateway's one session");
    assert!(value(&ag, "browserfarm_node_memory_used_bytes", &[]) > Some(0.0));
}

#[tokio::test]
async fn metrics_beyond_loopback_need_a_token() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_browserfarm"))
        .args(["mcp", "--metrics-listen", "0.0.0.0:1"])
        .env_remove("BROWSERFARM_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve metrics on 0.0.0.0:1 without a token"),
        "{stderr}"
    );
}
