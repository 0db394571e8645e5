//! MCP over HTTP: `browserfarm mcp --http` with streamable HTTP at /mcp and the
//! legacy SSE transport, driven by a plain HTTP client.

use std::time::Duration;

use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};

use crate::util::process::refused_to_start;
use crate::util::{HttpServer, PROTOCOL, Stateless, StreamableSession, TOOLS, browserfarm};

/// `GET /health`, polled until its open session count is `want`.
async fn wait_for_sessions(server: &HttpServer, want: u64) {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = reqwest::get(format!("{}/health", server.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if last["sessions"] == json!(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {want} open sessions: {last}");
}

#[tokio::test]
async fn streamable_http_sessions_keep_state_apart_until_deleted() {
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&[]).await;
    let mut a = StreamableSession::new(&server, None);
    let mut b = StreamableSession::new(&server, None);
    a.initialize().await;
    b.initialize().await;
    let tools = a.request("tools/list", json!({})).await;
    assert_eq!(
        tools["result"]["tools"].as_array().unwrap().len(),
        TOOLS.len()
    );
    let shot = a
        .request(
            "tools/call",
            json!({"name": "screenshot", "arguments": {"url": pages.url("/article")}}),
        )
        .await;
    let image = &shot["result"]["content"][0];
    assert_eq!(image["type"], "image", "{shot}");
    assert_eq!(image["mimeType"], "image/png");

    a.tool_text("navigate", json!({"url": pages.url("/cookie/set?v=alpha")}))
        .await;
    let seen_a = a
        .tool_text(
            "scrape",
            json!({"url": pages.url("/cookie/show"), "format": "text"}),
        )
        .await;
    assert!(seen_a.contains("farm=alpha"), "{seen_a}");
    let seen_b = b
        .tool_text(
            "scrape",
            json!({"url": pages.url("/cookie/show"), "format": "text"}),
        )
        .await;
    assert!(seen_b.contains("cookies: none"), "{seen_b}");

    assert!(a.delete().await == 200, "DELETE ends the session");
    let gone = a
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(gone, 404, "a deleted session is gone");

    let health: Value = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
}

#[tokio::test]
async fn the_http_gate_checks_host_origin_and_token() {
    let server = HttpServer::start(&["--token", "s3cret", "--allowed-hosts", "farm.test"]).await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "1"}}});
    let post = |headers: &[(&str, &str)]| {
        let mut req = http
            .post(format!("{}/mcp", server.base))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .body(init.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let bearer = ("Authorization", "Bearer s3cret");

    let no_token = post(&[]).await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(no_token.text().await.unwrap().contains("bearer token"));
    assert_eq!(
        post(&[("Authorization", "Bearer wrong")])
            .await
            .unwrap()
            .status(),
        401
    );
    let rebinding = post(&[bearer, ("Host", "evil.test")]).await.unwrap();
    assert_eq!(rebinding.status(), 403);
    assert!(rebinding.text().await.unwrap().contains("--allowed-hosts"));
    let foreign = post(&[bearer, ("Origin", "https://evil.test")])
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    assert!(post(&[bearer]).await.unwrap().status().is_success());
    assert!(
        post(&[bearer, ("Origin", "http://localhost:6274")])
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        post(&[bearer, ("Host", "farm.test:8931")])
            .await
            .unwrap()
            .status()
            .is_success()
    );
    // Load balancers probe without credentials.
    let health = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Prometheus scrapes by address, which the Host allow-list would refuse:
    // /metrics checks the token only.
    let metrics = |headers: &[(&str, &str)]| {
        let mut req = http.get(format!("{}/metrics", server.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    assert_eq!(metrics(&[]).await.unwrap().status(), 401);
    let scraped = metrics(&[bearer, ("Host", "10.1.2.3:8931")]).await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("browserfarm_pages_scraped_total 0")
    );
}

/// Reads SSE events from a streaming response until one satisfies `want`.
async fn next_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
    want: impl Fn(&str, &str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .unwrap_or("message")
                .trim()
                .to_owned();
            let data = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n");
            if want(&name, &data) {
                return data;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("SSE event in time")
            .expect("SSE stream")
            .expect("SSE stream still open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn legacy_sse_transport_serves_tools() {
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&[]).await;
    let http = reqwest::Client::new();
    let mut events = http
        .get(format!("{}/sse", server.base))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut buffer = String::new();
    let endpoint = next_event(&mut events, &mut buffer, |name, _| name == "endpoint").await;
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let post = |body: String| {
        http.post(format!("{}{endpoint}", server.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let reply_to = |id: u64| move |_: &str, data: &str| data.contains(&format!("\"id\":{id}"));

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "1"}}});
    assert_eq!(post(init.to_string()).await.unwrap().status(), 202);
    let reply = next_event(&mut events, &mut buffer, reply_to(1)).await;
    assert!(reply.contains("\"name\":\"browserfarm\""), "{reply}");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(note.to_string()).await.unwrap().status(), 202);

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "scrape", "arguments": {"url": pages.url("/article")}}});
    assert_eq!(post(call.to_string()).await.unwrap().status(), 202);
    let reply: Value =
        serde_json::from_str(&next_event(&mut events, &mut buffer, reply_to(2)).await).unwrap();
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("Growing Browsers"), "{reply}");
    // The connection's browser session outlives it, so its results name it.
    let handle = reply["result"]["_meta"]["browserfarm/session"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.ends_with(&format!("session: {handle}")), "{text}");

    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    assert_eq!(post(list.to_string()).await.unwrap().status(), 202);
    let reply: Value =
        serde_json::from_str(&next_event(&mut events, &mut buffer, reply_to(3)).await).unwrap();
    assert_eq!(
        reply["result"]["tools"].as_array().unwrap().len(),
        TOOLS.len()
    );

    let shot = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "screenshot", "arguments": {"max_width": 400}}});
    assert_eq!(post(shot.to_string()).await.unwrap().status(), 202);
    let reply: Value =
        serde_json::from_str(&next_event(&mut events, &mut buffer, reply_to(4)).await).unwrap();
    assert_eq!(reply["result"]["content"][0]["type"], "image", "{reply}");
    wait_for_sessions(&server, 1).await;

    let junk = post("{not json".into()).await.unwrap();
    assert_eq!(junk.status(), 400);
    assert!(junk.text().await.unwrap().contains("-32700"));
    let unknown = http
        .post(format!("{}/message?sessionId=nope", server.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Dropping the event stream ends the MCP session, not the browser session:
    // its handle still reaches it (from any connection), and closes it.
    drop(events);
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_for_sessions(&server, 1).await;
    let mut later = Stateless::new(&server.base);
    let page = later
        .ok("scrape", json!({"format": "text", "session": handle}))
        .await
        .text();
    assert!(page.contains("Growing Browsers"), "{page}");
    later.ok("close_session", json!({"session": handle})).await;
    wait_for_sessions(&server, 0).await;
}

#[tokio::test]
async fn http_beyond_loopback_needs_a_token() {
    let stderr = refused_to_start(&["mcp", "--http", "0.0.0.0:1"]).await;
    assert!(stderr.contains("without a token"), "{stderr}");
}

/// `browserfarm status` against a gateway; returns (exit code, stdout, stderr).
async fn status(gateway: &str, extra: &[&str]) -> (i32, String, String) {
    let output = browserfarm(["status", "--gateway", gateway])
        .args(extra)
        .env_remove("BROWSERFARM_TOKEN")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn status_cli_reports_nodes_and_exits_by_health() {
    let server = HttpServer::start(&["--token", "t0k"]).await;
    let (code, out, _) = status(&server.base, &["--token", "t0k"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("local") && out.contains("1 of 1 nodes up"),
        "{out}"
    );
    let (code, out, _) = status(&server.base, &["--token", "t0k", "--json"]).await;
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json["nodes"][0]["state"], "up");
    let (code, _, err) = status(&server.base, &[]).await;
    assert_eq!(code, 2);
    assert!(err.contains("401"), "{err}");

    // A farm whose agents have not registered: nothing is up.
    let registry = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let empty = HttpServer::start(&[
        "--local-pool=false",
        "--registry-listen",
        &registry.to_string(),
    ])
    .await;
    let (code, out, _) = status(&empty.base, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0 of 0 nodes up"), "{out}");

    let (code, _, err) = status("http://127.0.0.1:9", &[]).await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach the gateway"), "{err}");
}

/// An initialize request whose answer is returned as it is (a session is
/// opened when it succeeds).
async fn initialize_raw(server: &HttpServer) -> reqwest::Response {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                                 "clientInfo": {"name": "e2e", "version": "1"}}});
    reqwest::Client::new()
        .post(format!("{}/mcp", server.base))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", PROTOCOL)
        .body(init.to_string())
        .send()
        .await
        .unwrap()
}

/// One client address holds at most --max-sessions-per-client sessions; a
/// further initialize is refused with 429 and a clear message until one closes.
#[tokio::test]
async fn sessions_per_client_are_limited() {
    let server = HttpServer::start(&["--max-sessions-per-client", "2"]).await;
    let mut a = StreamableSession::new(&server, None);
    a.initialize().await;
    let mut b = StreamableSession::new(&server, None);
    b.initialize().await;
    let refused = initialize_raw(&server).await;
    assert_eq!(refused.status(), 429);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("already has 2 MCP sessions open")
            && body.contains("--max-sessions-per-client"),
        "{body}"
    );
    // Calls in the sessions already open are not affected.
    b.request("tools/list", json!({})).await;
    assert!(a.delete().await < 300);
    // The closed session's count is given back once rmcp drops it.
    for attempt in 0.. {
        let status = initialize_raw(&server).await.status();
        if status.is_success() {
            break;
        }
        assert_eq!(status, 429);
        assert!(
            attempt < 50,
            "a closed session still counts against its client"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--rate-limit` is per client, not per MCP session: a second session from
/// the same address shares the first one's burst.
#[tokio::test]
async fn the_rate_limit_is_per_client_across_its_sessions() {
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&["--rate-limit", "0.01", "--rate-burst", "2"]).await;
    let url = pages.url("/article");
    let mut first = StreamableSession::new(&server, None);
    first.initialize().await;
    for _ in 0..2 {
        first.tool_text("scrape", json!({"url": url})).await;
    }
    let mut second = StreamableSession::new(&server, None);
    second.initialize().await;
    let refused = second
        .request(
            "tools/call",
            json!({"name": "scrape", "arguments": {"url": url}}),
        )
        .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let text = refused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("rate limit reached"), "{text}");
}
