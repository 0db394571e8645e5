//! Browser sessions as handles: MCP 2026-07-28 clients, which have no protocol
//! session, continue in a browser session by passing back the `session` handle
//! a result carries; connection-scoped clients get the handle too and may use
//! it to drive several browsers; forged, foreign and closed handles are refused
//! with a message saying what to do.

use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};

use crate::util::{FORM_STATE, HttpServer, McpProcess, Stateless, StreamableSession, ToolResult};

/// The handle a result names, in `_meta` and, when `in_text`, as the last
/// line of its text; never in `structuredContent` of a result whose text is
/// the result.
#[track_caller]
fn handle_of(result: &ToolResult, in_text: bool) -> String {
    let handle = result
        .session()
        .unwrap_or_else(|| panic!("no session handle in {}", result.0));
    assert!(handle.starts_with("bf1."), "{handle}");
    assert!(
        result.0["structuredContent"]["session"].is_null()
            || result.0["structuredContent"]["session"] == json!(handle),
        "{}",
        result.0
    );
    let last_line = result.text().lines().last().unwrap_or_default().to_owned();
    if in_text {
        assert_eq!(last_line, format!("session: {handle}"), "{}", result.text());
    } else {
        assert!(!result.text().contains("session: "), "{}", result.text());
    }
    handle
}

/// The value of an `evaluate` result (its text without the handle line).
fn value_of(result: &ToolResult) -> Value {
    let text = result.0["content"][0]["text"].as_str().unwrap_or_default();
    let value = match text.rfind("\n\nsession: ") {
        Some(at) => &text[..at],
        None => text,
    };
    serde_json::from_str(value).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The cookies the fixture server sees from a session (the connection's own
/// without a handle).
async fn cookies(mcp: &mut McpProcess, pages: &Fixtures, session: Option<&str>) -> String {
    let mut arguments = json!({"url": pages.url("/cookie/show"), "format": "text"});
    if let Some(session) = session {
        arguments["session"] = json!(session);
    }
    mcp.ok("scrape", arguments).await.text()
}

/// A handle with one character of its MAC changed.
fn forged(handle: &str) -> String {
    let mut chars: Vec<char> = handle.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn stateless_calls_continue_in_the_session_their_handle_names() {
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&[]).await;
    let mut client = Stateless::new(&server.base);

    let opened = client
        .ok("navigate", json!({"url": pages.url("/form")}))
        .await;
    let session = handle_of(&opened, true);
    let typed = client
        .ok(
            "type",
            json!({"selector": "#q", "text": "Ada", "session": session}),
        )
        .await;
    assert_eq!(
        handle_of(&typed, true),
        session,
        "the handle stays the same"
    );
    client
        .ok("click", json!({"selector": "#inc", "session": session}))
        .await;
    let seen = client
        .ok(
            "evaluate",
            json!({"expression": FORM_STATE, "session": session}),
        )
        .await;
    assert_eq!(
        value_of(&seen),
        json!("Ada 1 /form"),
        "one page across calls"
    );

    // A call without a handle stands alone: a new browser session.
    let fresh = client
        .ok("evaluate", json!({"expression": "location.href"}))
        .await;
    assert_eq!(value_of(&fresh), json!("about:blank"));
    let other = handle_of(&fresh, true);
    assert_ne!(other, session);

    // Two handles of one client are isolated browsers.
    client
        .ok(
            "navigate",
            json!({"url": pages.url("/cookie/set?v=first"), "session": session}),
        )
        .await;
    let show = json!({"url": pages.url("/cookie/show"), "format": "text"});
    let mut in_other = show.clone();
    in_other["session"] = json!(other);
    let text = client.ok("scrape", in_other).await.text();
    assert!(text.contains("cookies: none"), "{text}");
    let mut in_first = show;
    in_first["session"] = json!(session);
    let text = client.ok("scrape", in_first).await.text();
    assert!(text.contains("cookies: farm=first"), "{text}");

    // A forged handle is refused and says how to go on.
    let refused = client
        .call(
            "evaluate",
            json!({"expression": "1", "session": forged(&session)}),
        )
        .await;
    refused.assert_error("unknown or expired session handle");
    refused.assert_error("without `session`");

    // An ended session's handle is refused too.
    client.ok("close_session", json!({"session": other})).await;
    client
        .call("evaluate", json!({"expression": "1", "session": other}))
        .await
        .assert_error("unknown or expired session handle");
    client
        .call("close_session", json!({}))
        .await
        .assert_error("pass the `session` handle");
}

#[tokio::test]
async fn connection_sessions_carry_their_handle_and_may_drive_other_sessions() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&[]).await;
    let first = mcp
        .ok("navigate", json!({"url": pages.url("/cookie/set?v=conn")}))
        .await;
    // The connection's own session over stdio: the handle is in `_meta` only.
    let own = handle_of(&first, false);

    // `session: "new"` opens another browser, named in the result's text.
    let opened = mcp
        .ok(
            "navigate",
            json!({"url": pages.url("/cookie/show"), "session": "new"}),
        )
        .await;
    let second = handle_of(&opened, true);
    assert_ne!(second, own);
    let text = cookies(&mut mcp, &pages, Some(&second)).await;
    assert!(text.contains("cookies: none"), "{text}");
    let text = cookies(&mut mcp, &pages, Some(&own)).await;
    assert!(text.contains("cookies: farm=conn"), "{text}");
    // Without `session`, calls stay in the connection's session.
    let text = cookies(&mut mcp, &pages, None).await;
    assert!(text.contains("cookies: farm=conn"), "{text}");

    // Another server (another key) does not know these handles.
    let mut stranger = McpProcess::start_with(&[]).await;
    stranger
        .call("evaluate", json!({"expression": "1", "session": second}))
        .await
        .assert_error("unknown or expired session handle");
    stranger
        .call("navigate", json!({"url": pages.url("/form"), "session": 7}))
        .await
        .assert_error("invalid session 7");

    // Closing the connection's own session by its handle: the connection opens
    // a fresh one on its next call rather than failing in the closed one.
    mcp.ok("close_session", json!({"session": own})).await;
    let text = cookies(&mut mcp, &pages, None).await;
    assert!(text.contains("cookies: none"), "{text}");
    mcp.ok("navigate", json!({"url": pages.url("/cookie/set?v=again")}))
        .await;

    // Closing the connection's session: the next call opens a fresh one.
    let closed = mcp.ok("close_session", json!({})).await.text();
    assert!(closed.contains("next call starts a new one"), "{closed}");
    let text = cookies(&mut mcp, &pages, None).await;
    assert!(text.contains("cookies: none"), "{text}");
}

/// Sixty-four agents at once against one server with default flags: each gets
/// a browser session of its own (contexts packed into a few processes), sees
/// only its own cookies, and ends it.
#[tokio::test]
async fn sixty_four_sessions_at_once_with_default_flags_stay_isolated() {
    const AGENTS: usize = 64;
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&[]).await;
    let mut agents = tokio::task::JoinSet::new();
    for i in 0..AGENTS {
        let base = server.base.clone();
        let (set, show) = (
            pages.url(&format!("/cookie/set?v=s{i}")),
            pages.url("/cookie/show"),
        );
        agents.spawn(async move {
            let mut client = Stateless::new(&base);
            let opened = client.ok("navigate", json!({"url": set})).await;
            let session = handle_of(&opened, true);
            let seen = client
                .ok(
                    "scrape",
                    json!({"url": show, "format": "text", "session": session}),
                )
                .await
                .text();
            client
                .ok("close_session", json!({"session": session}))
                .await;
            (i, seen)
        });
    }
    let mut done = 0;
    while let Some(finished) = agents.join_next().await {
        let (i, seen) = finished.expect("agent task");
        let cookies = seen.lines().find(|l| l.starts_with("cookies: "));
        assert_eq!(
            cookies,
            Some(format!("cookies: farm=s{i}").as_str()),
            "agent {i}: {seen}"
        );
        done += 1;
    }
    assert_eq!(done, AGENTS);
}

/// The handle line of a result's text (`session: …`), if any.
fn handle_line(text: &str) -> Option<String> {
    text.lines()
        .last()
        .and_then(|l| l.strip_prefix("session: "))
        .map(str::to_owned)
}

/// A client that opens an MCP session (2025-11-25 HTTP) for every tool call,
/// as LangChain's MCP adapters do by default, keeps its browser through the
/// handle its results show; past `--max-detached-sessions` per client the
/// least recently used is closed, and its next use says so.
#[tokio::test]
async fn per_call_http_clients_keep_their_browser_by_handle() {
    let pages = Fixtures::start().await;
    let server = HttpServer::start(&["--max-detached-sessions", "2"]).await;
    let call = |arguments: Value, tool: &'static str| {
        let server = &server;
        async move {
            let mut mcp = StreamableSession::new(server, None);
            mcp.initialize().await;
            let reply = mcp
                .request("tools/call", json!({"name": tool, "arguments": arguments}))
                .await;
            assert_eq!(mcp.delete().await, 200);
            ToolResult(reply["result"].clone())
        }
    };
    // A detached session is kept by a task started when its MCP session's
    // server is dropped: let it land (milliseconds; a second on a busy machine
    // keeps the order of the three keeps this test relies on).
    let settle = || tokio::time::sleep(std::time::Duration::from_secs(1));
    let opened = call(json!({"url": pages.url("/cookie/set?v=kept")}), "navigate").await;
    let handle = handle_of(&opened, true);
    settle().await;
    // The MCP session that opened it is gone; the browser is not.
    let text = call(
        json!({"url": pages.url("/cookie/show"), "format": "text", "session": handle}),
        "scrape",
    )
    .await
    .text();
    assert!(text.contains("cookies: farm=kept"), "{text}");
    assert_eq!(handle_line(&text).as_deref(), Some(handle.as_str()));

    // Two more per-call sessions that never pass a handle, the first of them
    // older than the last use of `handle`: that one is closed to keep two.
    let b = call(json!({"url": pages.url("/cookie/set?v=b")}), "navigate").await;
    let b = handle_of(&b, true);
    settle().await;
    call(json!({"format": "text", "session": handle}), "scrape").await;
    let c = call(json!({"url": pages.url("/cookie/set?v=c")}), "navigate").await;
    let c = handle_of(&c, true);
    settle().await;
    let gone = call(json!({"format": "text", "session": b}), "scrape").await;
    gone.assert_error("--max-detached-sessions");
    gone.assert_error("without `session`");
    for (kept, v) in [(&handle, "kept"), (&c, "c")] {
        let text = call(
            json!({"url": pages.url("/cookie/show"), "format": "text", "session": kept}),
            "scrape",
        )
        .await
        .text();
        assert!(text.contains(&format!("cookies: farm={v}")), "{text}");
    }
}
