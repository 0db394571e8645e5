//! Each tool against real pages.

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

use browserfarm_testkit::Fixtures;

use crate::util::{McpProcess, ToolResult};

fn decode_image(result: &ToolResult) -> (image::ImageFormat, u32, u32) {
    let img = result
        .content("image")
        .next()
        .unwrap_or_else(|| panic!("no image in {}", result.0));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(img["data"].as_str().unwrap())
        .unwrap();
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap();
    let format = reader.format().unwrap();
    let decoded = reader.decode().expect("image decodes");
    (format, decoded.width(), decoded.height())
}

#[tokio::test]
async fn navigate_returns_final_url_status_and_title() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    let text = mcp
        .ok("navigate", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(text.contains("HTTP 200"), "{text}");
    assert!(text.contains("Farm Article"), "{text}");
    assert!(text.contains(&pages.url("/article")), "{text}");

    let text = mcp
        .ok(
            "navigate",
            json!({"url": pages.url("/missing"), "wait_until": "domcontentloaded"}),
        )
        .await
        .text();
    assert!(
        text.contains("HTTP 404") && text.contains("Not here"),
        "{text}"
    );
    let text = mcp
        .ok(
            "navigate",
            json!({"url": pages.url("/article"), "wait_until": "networkidle"}),
        )
        .await
        .text();
    assert!(text.contains("Farm Article"), "{text}");
}

#[tokio::test]
async fn screenshot_is_a_viewport_png_and_respects_max_width() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    let shot = mcp
        .ok("screenshot", json!({"url": pages.url("/article")}))
        .await;
    assert_eq!(decode_image(&shot), (image::ImageFormat::Png, 1280, 720));
    assert!(shot.text().contains("1280×720"), "{}", shot.text());

    let small = mcp.ok("screenshot", json!({"max_width": 400})).await;
    assert_eq!(decode_image(&small), (image::ImageFormat::Png, 400, 225));

    let jpeg = mcp
        .ok(
            "screenshot",
            json!({"format": "jpeg", "quality": 50, "full_page": true}),
        )
        .await;
    let (format, width, height) = decode_image(&jpeg);
    assert_eq!((format, width), (image::ImageFormat::Jpeg, 1280));
    assert!(
        height >= 720,
        "full page is at least the viewport: {height}"
    );

    let element = mcp.ok("screenshot", json!({"selector": "h1"})).await;
    let (_, width, height) = decode_image(&element);
    assert!(
        width < 1280 && height < 200,
        "element capture is the element: {width}×{height}"
    );

    let missing = mcp.call("screenshot", json!({"selector": "#nope"})).await;
    missing.assert_error("no element matches selector '#nope'");
}

#[tokio::test]
async fn large_screenshots_and_pdfs_come_as_resource_links_when_asked() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::spawn(&["--resource-links-over", "2000"]);
    let init = mcp.initialize().await;
    assert!(init["capabilities"]["resources"].is_object(), "{init}");

    let shot = mcp
        .ok("screenshot", json!({"url": pages.url("/article")}))
        .await;
    assert!(shot.content("image").next().is_none(), "{}", shot.0);
    let link = shot
        .content("resource_link")
        .next()
        .unwrap_or_else(|| panic!("no link in {}", shot.0))
        .clone();
    assert_eq!(link["mimeType"], "image/png", "{link}");
    assert!(
        shot.text().contains("1280×720"),
        "the caption stays: {}",
        shot.0
    );
    let read = mcp
        .request("resources/read", json!({"uri": link["uri"]}))
        .await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["uri"], link["uri"], "{read}");
    assert_eq!(contents["mimeType"], "image/png", "{read}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(contents["blob"].as_str().unwrap())
        .unwrap();
    assert_eq!(link["size"].as_u64(), Some(bytes.len() as u64));
    let image = image::load_from_memory(&bytes).expect("a PNG");
    assert_eq!((image.width(), image.height()), (1280, 720));

    // Under the threshold, inline as before.
    let tiny = mcp
        .ok("screenshot", json!({"selector": "h1", "max_width": 40}))
        .await;
    assert!(tiny.content("image").next().is_some(), "{}", tiny.0);

    let pdf = mcp.ok("pdf", json!({})).await;
    let link = pdf
        .content("resource_link")
        .next()
        .unwrap_or_else(|| panic!("{}", pdf.0));
    assert_eq!(link["mimeType"], "application/pdf", "{link}");
    let caption = pdf.text();
    assert!(
        caption.contains(link["uri"].as_str().unwrap()),
        "the caption names the link: {caption}"
    );
    let read = mcp
        .request("resources/read", json!({"uri": link["uri"]}))
        .await;
    let blob = read["result"]["contents"][0]["blob"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    assert!(bytes.starts_with(b"%PDF"), "a PDF");

    let forged = mcp
        .request(
            "resources/read",
            json!({"uri": "browserfarm://held/00000000000000000000000000000000/x.png"}),
        )
        .await;
    assert_eq!(forged["error"]["code"], -32002, "{forged}");
    let message = forged["error"]["message"].as_str().unwrap();
    assert!(message.contains("repeat the call"), "{message}");
}

#[tokio::test]
async fn scrape_markdown_keeps_the_article_and_drops_page_junk() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    let text = mcp
        .ok("scrape", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(text.contains("Growing Browsers on Small Farms"), "{text}");
    assert!(
        text.contains("[farm operations guide]("),
        "link kept as markdown: {text}"
    );
    for junk in [
        "ScriptJunkMarker",
        "NavJunkHome",
        "FooterJunkMarker",
        "SidebarJunkMarker",
    ] {
        assert!(!text.contains(junk), "{junk} leaked into: {text}");
    }

    let full = mcp
        .ok("scrape", json!({"main_content": false}))
        .await
        .text();
    assert!(
        full.contains("NavJunkHome") && !full.contains("ScriptJunkMarker"),
        "{full}"
    );

    let links = mcp.ok("scrape", json!({"format": "links"})).await.text();
    assert!(
        links.contains(&format!("[farm operations guide]({})", pages.url("/guide"))),
        "{links}"
    );

    let plain = mcp.ok("scrape", json!({"format": "text"})).await.text();
    assert!(
        plain.contains("Recycling") && !plain.contains("##"),
        "{plain}"
    );

    let html = mcp
        .ok("scrape", json!({"format": "html", "main_content": false}))
        .await
        .text();
    assert!(html.contains("<article>"), "{html}");

    let cut = mcp.ok("scrape", json!({"max_chars": 100})).await.text();
    assert!(cut.contains("…[truncated, "), "{cut}");
}

#[tokio::test]
async fn click_and_type_change_page_state() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;

    mcp.ok("click", json!({"selector": "#inc"})).await;
    mcp.ok("click", json!({"selector": "#inc"})).await;
    let count = mcp
        .ok(
            "evaluate",
            json!({"expression": "document.getElementById('count').textContent"}),
        )
        .await
        .text();
    assert_eq!(count, "\"2\"");

    mcp.ok("type", json!({"selector": "#notes", "text": "first line"}))
        .await;
    let notes = mcp
        .ok(
            "evaluate",
            json!({"expression": "document.getElementById('notes').value"}),
        )
        .await
        .text();
    assert_eq!(notes, "\"first line\"");

    let typed = mcp
        .ok(
            "type",
            json!({"selector": "#q", "text": "hello <farm>", "submit": true}),
        )
        .await
        .text();
    assert!(typed.contains("/echo?q=hello"), "submit navigated: {typed}");
    let page = mcp
        .ok("scrape", json!({"format": "text", "main_content": false}))
        .await
        .text();
    assert!(page.contains("You said: hello <farm>"), "{page}");

    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;
    let clicked = mcp
        .ok("click", json!({"selector": "#to-article"}))
        .await
        .text();
    assert!(
        clicked.contains("Farm Article"),
        "click followed the link: {clicked}"
    );

    let missing = mcp
        .call("click", json!({"selector": "#does-not-exist"}))
        .await;
    missing.assert_error("no element matches selector '#does-not-exist' on http://");
    let bad = mcp.call("click", json!({"selector": "##"})).await;
    bad.assert_error("invalid CSS selector");
}

#[tokio::test]
async fn evaluate_returns_json_and_awaits_promises() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    mcp.ok("navigate", json!({"url": pages.url("/article")}))
        .await;
    let value = mcp
        .ok(
            "evaluate",
            json!({"expression": "({title: document.title, n: [1, 2]})"}),
        )
        .await
        .text();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&value).unwrap(),
        json!({"title": "Farm Article", "n": [1, 2]})
    );
    let awaited = mcp
        .ok(
            "evaluate",
            json!({"expression": "new Promise(r => setTimeout(() => r(42), 20))"}),
        )
        .await
        .text();
    assert_eq!(awaited, "42");
    let thrown = mcp
        .call("evaluate", json!({"expression": "null.boom"}))
        .await;
    thrown.assert_error("TypeError");
    let cut = mcp
        .ok(
            "evaluate",
            json!({"expression": "'x'.repeat(500)", "max_chars": 50}),
        )
        .await
        .text();
    assert!(cut.starts_with(&format!("\"{}", "x".repeat(49))), "{cut}");
    assert!(
        cut.contains("452 more chars") && cut.contains("raise max_chars"),
        "{cut}"
    );
}

#[tokio::test]
async fn evaluate_infinite_loop_is_stopped_and_page_recovers() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--script-timeout-ms", "500"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/article")}))
        .await;
    let looped = mcp
        .call("evaluate", json!({"expression": "while (true) {}"}))
        .await;
    looped.assert_error("was stopped");
    let title = mcp
        .ok("evaluate", json!({"expression": "document.title"}))
        .await
        .text();
    assert_eq!(title, "\"Farm Article\"");
}

#[tokio::test]
async fn concurrent_sessions_do_not_share_cookies() {
    let pages = Fixtures::start().await;
    let ((mut alice, _), (mut bob, _)) = tokio::join!(McpProcess::start(), McpProcess::start());
    let (a, b) = tokio::join!(
        alice.ok("navigate", json!({"url": pages.url("/cookie/set?v=alice")})),
        bob.ok("navigate", json!({"url": pages.url("/cookie/show")})),
    );
    drop((a, b));
    let seen_by_alice = alice
        .ok(
            "scrape",
            json!({"url": pages.url("/cookie/show"), "format": "text"}),
        )
        .await
        .text();
    assert!(seen_by_alice.contains("farm=alice"), "{seen_by_alice}");
    let seen_by_bob = bob
        .ok(
            "scrape",
            json!({"url": pages.url("/cookie/show"), "format": "text"}),
        )
        .await
        .text();
    assert!(seen_by_bob.contains("cookies: none"), "{seen_by_bob}");
}

#[tokio::test]
async fn forbidden_schemes_are_refused() {
    let (mut mcp, _) = McpProcess::start().await;
    for url in [
        "file:///etc/passwd",
        "chrome://settings",
        "javascript:alert(1)",
        "data:text/html,hi",
    ] {
        let refused = mcp.call("navigate", json!({"url": url})).await;
        refused.assert_error("only http and https");
    }
    let refused = mcp
        .call("scrape", json!({"url": "file:///etc/passwd"}))
        .await;
    refused.assert_error("only http and https");
    assert!(!refused.text().contains("root:"));
}

#[tokio::test]
async fn closed_port_and_slow_page_fail_within_their_deadline() {
    let pages = Fixtures::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (mut mcp, _) = McpProcess::start().await;
    let started = Instant::now();
    let refused = mcp
        .call(
            "navigate",
            json!({"url": format!("http://{closed}/"), "timeout_ms": 5000}),
        )
        .await;
    refused.assert_error("ERR_CONNECTION_REFUSED");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed port took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let slow = mcp
        .call(
            "navigate",
            json!({"url": pages.url("/slow"), "timeout_ms": 1500}),
        )
        .await;
    slow.assert_error("did not reach 'ready' within 1500 ms");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "slow page took {:?}",
        started.elapsed()
    );

    // The same browser keeps working.
    let text = mcp
        .ok("navigate", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(text.contains("Farm Article"), "{text}");
}

#[tokio::test]
async fn batch_scrape_on_the_local_pool_reports_progress_and_keeps_order() {
    let pages = Fixtures::start().await;
    let (mut mcp, _) = McpProcess::start().await;
    let mut urls = pages.numbered(5);
    urls.insert(2, "file:///etc/passwd".to_owned());
    let params = json!({
        "name": "batch_scrape",
        "arguments": {"urls": urls, "concurrency": 2},
        "_meta": {"progressToken": "batch-1"}
    });
    let (reply, notes) = mcp.request_with_notifications("tools/call", params).await;
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("Batch of 6 URLs: 5 ok, 1 failed"),
        "{text}"
    );
    let order: Vec<usize> = (0..6)
        .map(|i| text.find(&format!("## {}. ", i + 1)).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "sections out of order: {text}"
    );
    assert!(
        text.contains("## 3. file:///etc/passwd\n\nERROR: refusing"),
        "{text}"
    );
    let progress: Vec<f64> = notes
        .iter()
        .filter(|n| {
            n["method"] == "notifications/progress" && n["params"]["progressToken"] == "batch-1"
        })
        .map(|n| n["params"]["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "{notes:?}");

    let too_many: Vec<String> = (0..1001).map(|i| format!("http://127.0.0.1/{i}")).collect();
    mcp.call("batch_scrape", json!({"urls": too_many}))
        .await
        .assert_error("1000");
}

#[tokio::test]
async fn rate_limit_refuses_calls_beyond_the_burst_and_paces_batches() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--rate-limit", "1", "--rate-burst", "2"]).await;
    // The first call may wait for Chromium; after it, calls on the warm tab take
    // milliseconds, far quicker than the bucket refills (one token a second).
    mcp.ok("navigate", json!({"url": "about:blank"})).await;
    let mut refused = None;
    for _ in 0..4 {
        let result = mcp.call("navigate", json!({"url": "about:blank"})).await;
        if result.is_error() {
            refused = Some(result);
            break;
        }
    }
    refused
        .expect("some call beyond the burst is refused")
        .assert_error("rate limit reached (1 calls/s, burst 2)");
    // farm_status runs no job and is never limited.
    mcp.ok("farm_status", json!({})).await;

    // A batch is paced, not refused: the call takes the next token, then each
    // page waits for its own, one a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let urls = pages.numbered(3);
    let text = mcp
        .ok("batch_scrape", json!({"urls": urls, "priority": "low"}))
        .await
        .text();
    assert!(text.starts_with("Batch of 3 URLs: 3 ok"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "the batch was not paced: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn node_tags_on_the_embedded_pool_are_matched_against_its_tags() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--local-tags", "region=eu"]).await;
    mcp.ok(
        "scrape",
        json!({"url": pages.url("/article"), "node_tags": {"region": "eu"}}),
    )
    .await;
    mcp.call(
        "scrape",
        json!({"url": pages.url("/article"), "node_tags": {"region": "us"}}),
    )
    .await
    .assert_error("no node carries node_tags region=us");
    let tools = mcp.request("tools/list", json!({})).await;
    let navigate = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "navigate")
        .unwrap();
    let props = &navigate["inputSchema"]["properties"];
    assert_eq!(props["priority"]["enum"], json!(["high", "normal", "low"]));
    assert_eq!(props["node_tags"]["type"], "object");
}

#[tokio::test]
async fn the_audit_log_has_one_line_per_call_and_never_the_typed_text() {
    let pages = Fixtures::start().await;
    let log = std::env::temp_dir().join(format!("browserfarm-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut mcp = McpProcess::start_with(&["--audit-log", log.to_str().unwrap()]).await;
    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;
    mcp.ok("type", json!({"selector": "#q", "text": "hunter2-secret"}))
        .await;
    mcp.call("click", json!({"selector": "#missing"})).await;
    mcp.ok(
        "batch_scrape",
        json!({"urls": [pages.url("/p/1"), pages.url("/p/2")]}),
    )
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("hunter2"), "typed text leaked: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    let host = pages
        .url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(lines[0]["tool"], "navigate");
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(lines[0]["host"], host.as_str());
    assert_eq!(lines[0]["client"], "browserfarm-tests");
    assert_eq!(lines[0]["node"], "local");
    assert!(lines[0]["session"].is_string() && lines[0]["duration_ms"].is_u64());
    assert_eq!(lines[1]["tool"], "type");
    assert_eq!(lines[1]["text_chars"], 14);
    assert_eq!(lines[2]["status"], "error");
    assert_eq!(lines[2]["error_kind"], "element_not_found");
    assert_eq!(lines[3]["tool"], "batch_scrape");
    assert_eq!(lines[3]["urls"], 2);
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn screenshots_over_the_byte_budget_are_shrunk_and_say_so() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--screenshot-max-bytes", "60000"]).await;
    let shot = mcp
        .ok(
            "screenshot",
            json!({"url": pages.url("/big"), "full_page": true}),
        )
        .await;
    let img = shot.content("image").next().unwrap();
    assert_eq!(img["mimeType"], "image/jpeg");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(img["data"].as_str().unwrap())
        .unwrap();
    assert!(bytes.len() <= 60_000, "{} bytes", bytes.len());
    let (format, width, _) = decode_image(&shot);
    assert_eq!(format, image::ImageFormat::Jpeg);
    assert!(width < 1280, "scaled down: {width}");
    assert!(
        shot.text()
            .contains("over the 60000-byte screenshot budget"),
        "{}",
        shot.text()
    );
    // A viewport capture of a small page fits as asked.
    let small = mcp
        .ok(
            "screenshot",
            json!({"url": pages.url("/p/1"), "max_width": 400}),
        )
        .await;
    assert_eq!(decode_image(&small).0, image::ImageFormat::Png);
    assert!(!small.text().contains("budget"), "{}", small.text());
}
