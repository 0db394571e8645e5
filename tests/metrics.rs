//! Prometheus metrics from the real binaries: a gateway in stdio mode with
//! `--metrics-listen` over one agent, both behind a token, scraped after a few
//! tool calls.

use std::time::Duration;

use browserfarm_testkit::Fixtures;
use serde_json::json;

use crate::util::metrics::{Sample, TOKEN, get_metrics, parse, value};
use crate::util::process::refused_to_start;
use crate::util::{Agent, free_port, gateway};

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
    let stderr = refused_to_start(&["mcp", "--metrics-listen", "0.0.0.0:1"]).await;
    assert!(
        stderr.contains("refusing to serve metrics on 0.0.0.0:1 without a token"),
        "{stderr}"
    );
}
