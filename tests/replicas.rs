//! Gateway replicas: two `browserfarm mcp --http --local-pool=false` sharing a
//! session key and two agents, behind Debian's haproxy balancing round-robin
//! with no stickiness. A 2026-07-28 client's flow lands on both gateways, one
//! gateway is SIGKILLed in the middle, and the flow finishes on the same page:
//! the handle routes itself, so no gateway holds anything a call needs.
//!
//! Needs `haproxy` on PATH (Debian: `apt-get install haproxy`); see
//! `util::installed` for what happens without it.

use std::path::Path;
use std::process::Stdio;

use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::util::metrics::{get_metrics, parse, value};
use crate::util::{Agent, FORM_STATE, HttpServer, Stateless, free_port, installed, repo_path};

/// haproxy in the foreground on `port`, killed when dropped.
struct Balancer(Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// The shipped example config, aimed at the test's gateways: the same
/// balancing and stickiness rules, loopback addresses and quick health checks.
fn balancer_config(port: u16, gateways: [&HttpServer; 2]) -> String {
    let shipped = std::fs::read_to_string(repo_path("deploy/haproxy/haproxy.cfg")).unwrap();
    let mut config = shipped.replace("bind :8931", &format!("bind 127.0.0.1:{port}"));
    for (shipped, ours) in ["10.0.0.11:8931", "10.0.0.12:8931"].iter().zip(gateways) {
        assert!(
            config.contains(shipped),
            "the shipped config names {shipped}"
        );
        config = config.replace(shipped, ours.base.trim_start_matches("http://"));
    }
    config.replace("inter 2s fall 2 rise 2", "inter 500ms fall 1 rise 1")
}

async fn start_balancer(config: &Path, port: u16) -> Balancer {
    let check = Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(config)
        .output()
        .await
        .expect("run haproxy -c");
    assert!(
        check.status.success(),
        "haproxy refuses the config:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let balancer = Balancer(child);
    crate::util::process::wait_for_port(port, "haproxy").await;
    balancer
}

/// Tool calls a gateway has answered, from its `/metrics`.
async fn calls_served(gateway: &HttpServer) -> f64 {
    let (status, text) = get_metrics(&gateway.base, None).await;
    assert_eq!(status, 200, "{text}");
    value(&parse(&text), "browserfarm_tool_calls_total", &[]).unwrap_or(0.0)
}

/// Calls `tool` in `session` and returns the result's handle, which a
/// session keeps for as long as it stays on its node.
async fn step(client: &mut Stateless, tool: &str, mut arguments: Value, session: &str) -> String {
    arguments["session"] = json!(session);
    let result = client.ok(tool, arguments).await;
    result.session().expect("a handle")
}

#[tokio::test]
async fn a_flow_through_round_robin_replicas_survives_a_killed_gateway() {
    let test = "a_flow_through_round_robin_replicas_survives_a_killed_gateway";
    if !installed::require("haproxy", "apt-get install haproxy", test) {
        return;
    }
    let pages = Fixtures::start().await;
    let (a, b) = (Agent::start(&[]).await, Agent::start(&[]).await);
    let work = std::env::temp_dir().join(format!("browserfarm-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let key = work.join("session.key");
    std::fs::write(&key, "a farm key shared by both gateways\n").unwrap();
    let key = key.to_str().unwrap().to_owned();
    let gateway = || {
        let (a, b, key) = (a.url(), b.url(), key.clone());
        async move {
            HttpServer::start(&[
                "--local-pool=false",
                "--node",
                &a,
                "--node",
                &b,
                "--session-key-file",
                &key,
            ])
            .await
        }
    };
    let (first, second) = (gateway().await, gateway().await);
    let port = free_port();
    let config = work.join("haproxy.cfg");
    std::fs::write(&config, balancer_config(port, [&first, &second])).unwrap();
    let _balancer = start_balancer(&config, port).await;
    let mut client = Stateless::new(&format!("http://127.0.0.1:{port}"));

    let opened = client
        .ok("navigate", json!({"url": pages.url("/form")}))
        .await;
    let mut session = opened.session().expect("a handle");
    session = step(
        &mut client,
        "type",
        json!({"selector": "#q", "text": "Ada"}),
        &session,
    )
    .await;
    session = step(&mut client, "click", json!({"selector": "#inc"}), &session).await;
    session = step(&mut client, "click", json!({"selector": "#inc"}), &session).await;
    let (on_first, on_second) = (calls_served(&first).await, calls_served(&second).await);
    assert!(
        on_first >= 1.0 && on_second >= 1.0,
        "round robin spreads one flow over both gateways: {on_first} and {on_second} calls"
    );

    // One gateway dies without any chance to clean up; the balancer sends the
    // next calls to the other, which has never seen the session before.
    first.kill9().await;
    session = step(&mut client, "click", json!({"selector": "#inc"}), &session).await;
    let seen = client
        .ok(
            "evaluate",
            json!({"expression": FORM_STATE, "session": session}),
        )
        .await;
    let first_text =
        crate::util::without_handle(seen.0["content"][0]["text"].as_str().unwrap_or_default());
    assert_eq!(
        first_text, "\"Ada 3 /form\"",
        "the flow goes on in the same page after its gateway died"
    );
    assert!(calls_served(&second).await > on_second);
    let _ = std::fs::remove_dir_all(&work);
}
