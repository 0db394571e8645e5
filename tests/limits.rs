//! Configurable limits and the popup switch: popups are off unless the server
//! allows them, tabs per session and URLs per batch are bounded by flags.

use serde_json::json;

use browserfarm_testkit::Fixtures;

use crate::util::McpProcess;

/// Off by default: a page cannot open windows from script, and the popup a
/// click opens is closed, with its URL in the result.
#[tokio::test]
async fn popups_are_off_unless_enabled() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&[]).await;
    mcp.ok("navigate", json!({"url": pages.url("/popup-storm")}))
        .await;
    let listed = mcp.ok("tabs", json!({})).await.text();
    assert!(listed.contains("1 tab(s)"), "{listed}");

    mcp.ok("navigate", json!({"url": pages.url("/controls")}))
        .await;
    let clicked = mcp.ok("click", json!({"selector": "#popup"})).await.text();
    assert!(
        clicked.contains("/p/7 in a new tab, which was closed: this server does not allow popups"),
        "{clicked}"
    );
    let listed = mcp.ok("tabs", json!({})).await.text();
    assert!(listed.contains("1 tab(s)"), "{listed}");
}

/// With --popups, script popups open, and a session keeps at most --max-tabs of
/// them; the rest are closed.
#[tokio::test]
async fn allowed_popups_stop_at_the_tab_limit() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--popups", "--max-tabs", "4"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/popup-storm")}))
        .await;
    // Popups open asynchronously; they are adopted when tabs is called.
    let mut listed = String::new();
    for _ in 0..20 {
        listed = mcp.ok("tabs", json!({})).await.text();
        if listed.contains("4 tab(s)") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(listed.contains("4 tab(s)"), "{listed}");
    mcp.call("tabs", json!({"action": "new"}))
        .await
        .assert_error("this session already has 4 tabs");
}

#[tokio::test]
async fn batches_are_bounded_by_max_batch_urls() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--max-batch-urls", "3"]).await;
    let urls = pages.numbered(4);
    mcp.call("batch_scrape", json!({"urls": urls}))
        .await
        .assert_error("4 URLs is more than the 3 one batch may carry on this server");
    let ok = mcp
        .ok("batch_scrape", json!({"urls": &urls[..3]}))
        .await
        .text();
    assert!(ok.contains("3 ok, 0 failed"), "{ok}");
}

#[tokio::test]
async fn results_are_bounded_by_max_output_chars() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--max-output-chars", "1500"]).await;
    let big = mcp
        .ok(
            "scrape",
            json!({"url": pages.url("/big"), "main_content": false}),
        )
        .await;
    // The bound is on all text blocks of the result together.
    let blocks: Vec<String> = big
        .content("text")
        .map(|c| c["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    let last = blocks.last().expect("text");
    let (cut, note) = last.rsplit_once("\n\n[").expect("the cut says so");
    let kept: usize = blocks[..blocks.len() - 1]
        .iter()
        .map(|b| b.chars().count())
        .sum::<usize>()
        + cut.chars().count();
    assert_eq!(kept, 1500, "{blocks:?}");
    assert!(note.contains("--max-output-chars"), "{note}");

    // A batch that could exceed the bound is refused before any page is read.
    let urls = pages.numbered(3);
    mcp.call("batch_scrape", json!({"urls": urls, "max_chars": 1000}))
        .await
        .assert_error("more than this server returns in one result (--max-output-chars 1500)");
    let ok = mcp
        .ok("batch_scrape", json!({"urls": urls, "max_chars": 400}))
        .await
        .text();
    assert!(ok.contains("3 ok, 0 failed"), "{ok}");
}

/// `notifications/cancelled` stops a running batch: no page starts after it,
/// and the server takes the next call at once.
#[tokio::test]
async fn a_cancelled_batch_starts_no_more_pages() {
    let pages = Fixtures::start().await;
    let log = std::env::temp_dir().join(format!(
        "browserfarm-cancel-audit-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let mut mcp = McpProcess::start_with(&["--audit-log", log.to_str().unwrap()]).await;
    let urls: Vec<String> = (0..40)
        .map(|i| pages.url(&format!("/reads/pixel.svg?delay=800&n={i}")))
        .collect();
    let id = mcp
        .send(
            "tools/call",
            json!({"name": "batch_scrape", "arguments": {"urls": urls, "concurrency": 2}}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    mcp.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "the user changed their mind"}),
    )
    .await;
    let at_cancel = pages.pixels.load(std::sync::atomic::Ordering::SeqCst);
    assert!(at_cancel < 40, "the batch was still running: {at_cancel}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let later = pages.pixels.load(std::sync::atomic::Ordering::SeqCst);
    // Pages asked for just before the cancel may still arrive; none after.
    assert!(
        later <= at_cancel + 2,
        "{at_cancel} at the cancel, {later} later"
    );
    let next = mcp
        .ok("scrape", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(next.contains("Growing Browsers"), "{next}");
    // The cancelled call has its audit line, which says so.
    let audit = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let cancelled: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["tool"] == "batch_scrape")
        .collect();
    assert_eq!(cancelled.len(), 1, "{audit}");
    assert_eq!(cancelled[0]["status"], "cancelled", "{audit}");
    // It ran until the cancel, about 2 s after the test sent it; the server
    // started its clock a moment after the send, so a 1999 ms line is right
    // too (seen in CI): the bound is what the call ran, not the test's sleep.
    assert!(
        cancelled[0]["duration_ms"].as_u64().unwrap() >= 1500,
        "{audit}"
    );
}

/// `--max-per-host`: the site sees at most N of a batch's pages at once, the
/// batch still reads them all, and its progress says why it is slower.
#[tokio::test]
async fn a_batch_loads_at_most_max_per_host_pages_of_one_host_at_once() {
    let pages = Fixtures::start().await;
    let urls: Vec<String> = (0..10).map(|i| pages.url(&format!("/slow/{i}"))).collect();
    let batch = |token: &str| {
        json!({
            "name": "batch_scrape",
            "arguments": {"urls": urls, "concurrency": 6},
            "_meta": {"progressToken": token}
        })
    };
    let mut polite = McpProcess::start_with(&["--max-per-host", "2"]).await;
    let (reply, notes) = polite
        .request_with_notifications("tools/call", batch("polite"))
        .await;
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Batch of 10 URLs: 10 ok"), "{text}");
    assert_eq!(pages.slow.total(), 10);
    assert_eq!(pages.slow.most(), 2, "two at once, never more");
    // The site sees the pages and nothing else a reader does not need (a
    // favicon after each page would double the requests): two at once in all.
    assert_eq!(
        pages.requests.to("/favicon.ico"),
        0,
        "{:?}",
        pages.requests.paths()
    );
    assert_eq!(
        pages.requests.at_once.most(),
        2,
        "{:?}",
        pages.requests.paths()
    );
    assert!(
        notes.iter().any(|n| n["params"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("waiting for a host at --max-per-host"))),
        "{notes:?}"
    );

    // Without the limit the same batch runs six at once: the limit is what
    // held it to two.
    let pages = Fixtures::start().await;
    let urls: Vec<String> = (0..10).map(|i| pages.url(&format!("/slow/{i}"))).collect();
    let mut free = McpProcess::start_with(&["--max-per-host", "0"]).await;
    let reply = free
        .request(
            "tools/call",
            json!({"name": "batch_scrape", "arguments": {"urls": urls, "concurrency": 6}}),
        )
        .await;
    assert!(
        !reply["result"]["isError"].as_bool().unwrap_or(false),
        "{reply}"
    );
    assert!(pages.slow.most() > 2, "{}", pages.slow.most());
}
