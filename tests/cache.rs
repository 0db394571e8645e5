//! The result cache (`--result-cache`) through the real binary: hits and misses
//! counted at `/metrics`, `cache: false` bypassing it, and cached calls never
//! touching the session's state.

use browserfarm_testkit::Fixtures;
use serde_json::json;

use crate::util::metrics::{get_metrics, parse, value};
use crate::util::{McpProcess, free_port};

/// (hits, misses) as the gateway's /metrics reports them.
async fn counts(base: &str) -> (f64, f64) {
    let (status, text) = get_metrics(base, None).await;
    assert_eq!(status, 200, "{text}");
    let samples = parse(&text);
    (
        value(&samples, "browserfarm_cache_hits_total", &[]).unwrap(),
        value(&samples, "browserfarm_cache_misses_total", &[]).unwrap(),
    )
}

#[tokio::test]
async fn repeated_one_shot_reads_are_served_from_the_cache_and_never_see_the_session() {
    let pages = Fixtures::start().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let mut mcp = McpProcess::spawn(&[
        "--result-cache",
        // The session holds one browser; one-shot reads need another.
        "--max-browsers",
        "2",
        "--metrics-listen",
        &listen,
    ]);
    mcp.initialize().await;

    // batch_scrape pages are cached by default.
    let urls = [pages.url("/p/0"), pages.url("/p/1")];
    let first = mcp.ok("batch_scrape", json!({ "urls": urls })).await.text();
    assert_eq!(counts(&base).await, (0.0, 2.0));
    let second = mcp.ok("batch_scrape", json!({ "urls": urls })).await.text();
    assert_eq!(counts(&base).await, (2.0, 2.0));
    let sections = |text: &str| text.split_once('\n').map(|(_, rest)| rest.to_owned());
    assert_eq!(
        sections(&first),
        sections(&second),
        "same pages, same content"
    );
    // cache: false reads afresh and leaves the counters alone.
    mcp.ok("batch_scrape", json!({ "urls": urls, "cache": false }))
        .await;
    assert_eq!(counts(&base).await, (2.0, 2.0));

    // A session call is not cached unless it asks to be.
    mcp.ok(
        "navigate",
        json!({ "url": pages.url("/cookie/set?v=secret") }),
    )
    .await;
    let in_session = mcp
        .ok("scrape", json!({ "url": pages.url("/cookie/show") }))
        .await
        .text();
    assert!(in_session.contains("farm=secret"), "{in_session}");
    assert_eq!(counts(&base).await, (2.0, 2.0));

    // cache: true reads in a fresh context: no session cookie, twice the same.
    for expected in [(2.0, 3.0), (3.0, 3.0)] {
        let cached = mcp
            .ok(
                "scrape",
                json!({ "url": pages.url("/cookie/show"), "cache": true }),
            )
            .await
            .text();
        assert!(cached.contains("cookies: none"), "{cached}");
        assert_eq!(counts(&base).await, expected);
    }
    // ...and the session's tab stayed where it was.
    let tab = mcp.ok("scrape", json!({})).await.text();
    assert!(tab.contains("farm=secret"), "{tab}");

    // Screenshots are cached the same way.
    for expected in [(3.0, 4.0), (4.0, 4.0)] {
        let shot = mcp
            .ok(
                "screenshot",
                json!({ "url": pages.url("/p/3"), "cache": true }),
            )
            .await;
        assert_eq!(shot.content("image").count(), 1);
        assert_eq!(counts(&base).await, expected);
    }
    let refused = mcp
        .call(
            "scrape",
            json!({ "url": pages.url("/p/0"), "cache": "yes" }),
        )
        .await;
    refused.assert_error("invalid cache");
}
