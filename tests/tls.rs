//! A farm whose links cross networks, on loopback with certificates the test
//! makes itself: gateway → agent over HTTPS with mutual TLS, a wrong CA and a
//! missing client certificate refused in words an operator can act on, and
//! the MCP listener and the registry serving HTTPS to clients and agents.

use std::time::Duration;

use browserfarm_http::ClientTls;
use browserfarm_testkit::{Fixtures, TlsFiles};
use serde_json::json;

use crate::util::{Agent, HttpServer, McpProcess, browserfarm, free_port};

fn certs(name: &str) -> TlsFiles {
    let dir =
        std::env::temp_dir().join(format!("browserfarm-e2e-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TlsFiles::make(&dir, name)
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn a_farm_over_mutual_tls_runs_jobs_and_refuses_a_wrong_ca_or_a_missing_client_cert() {
    let pages = Fixtures::start().await;
    let farm = certs("farm");
    let other = certs("other");
    let agent = Agent::start(&[
        "--tls-cert",
        path(&farm.cert),
        "--tls-key",
        path(&farm.key),
        "--tls-client-ca",
        path(&farm.ca),
    ])
    .await;
    let https = format!("https://127.0.0.1:{}", agent.port());
    let gateway = |ca: &TlsFiles, client: bool| {
        let mut args = vec![
            "--local-pool=false".to_owned(),
            "--node".to_owned(),
            https.clone(),
            "--ca-file".to_owned(),
            path(&ca.ca).to_owned(),
        ];
        if client {
            args.extend([
                "--tls-client-cert".to_owned(),
                path(&farm.client_cert).to_owned(),
                "--tls-client-key".to_owned(),
                path(&farm.client_key).to_owned(),
            ]);
        }
        args
    };
    let start = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        McpProcess::start_with(&refs).await
    };

    let mut good = start(gateway(&farm, true)).await;
    let text = good
        .ok("scrape", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(text.contains("Growing Browsers"), "{text}");
    let status = good.ok("farm_status", json!({})).await.text();
    assert!(
        status.contains(&format!("| {} | up |", agent.name())),
        "{status}"
    );

    let mut wrong = start(gateway(&other, true)).await;
    let refused = wrong
        .call("scrape", json!({"url": pages.url("/article")}))
        .await;
    refused
        .assert_error("not signed by a CA this process trusts (pass the farm's CA with --ca-file)");

    let mut anonymous = start(gateway(&farm, false)).await;
    anonymous
        .call("scrape", json!({"url": pages.url("/article")}))
        .await
        .assert_error("requires a client certificate");
}

#[tokio::test]
async fn the_mcp_listener_and_the_registry_serve_https_to_clients_and_agents() {
    let farm = certs("front");
    let registry_port = free_port();
    let server = HttpServer::start(&[
        "--tls-cert",
        path(&farm.cert),
        "--tls-key",
        path(&farm.key),
        "--local-pool=false",
        "--registry-listen",
        &format!("127.0.0.1:{registry_port}"),
    ])
    .await;
    let https = server.base.replace("http://", "https://");
    let client = ClientTls {
        ca_file: Some(farm.ca.clone()),
        identity: None,
    }
    .reqwest()
    .unwrap()
    .timeout(Duration::from_secs(5))
    .build()
    .unwrap();
    // No node yet: the gateway answers, over TLS, that it cannot serve.
    let health = client.get(format!("{https}/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert!(
        reqwest::get(format!("{}/health", server.base))
            .await
            .is_err(),
        "no plain HTTP on a TLS listener"
    );

    let _agent = Agent::start(&[
        "--register-with",
        &format!("https://127.0.0.1:{registry_port}"),
        "--ca-file",
        path(&farm.ca),
        "--heartbeat-secs",
        "1",
    ])
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let farm_status: serde_json::Value = client
            .get(format!("{https}/v1/farm"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if farm_status["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 1 && n[0]["state"] == "up")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never registered: {farm_status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = client.get(format!("{https}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the registered agent serves");
    let status = browserfarm(["status", "--gateway", &https, "--ca-file", path(&farm.ca)])
        .output()
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let untrusted = browserfarm(["status", "--gateway", &https])
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success());
    assert!(
        said.contains("not signed by a CA this process trusts"),
        "{said}"
    );
}
