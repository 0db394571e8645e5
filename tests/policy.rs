//! The host policy (--block-hosts, --allow-hosts, --block-private-networks)
//! applied to navigations, redirects, subresources and one-off jobs. The fixture
//! server answers on 127.0.0.1, which `localhost` also reaches: two names for one
//! server, one allowed and one refused.

use serde_json::json;

use browserfarm_testkit::Fixtures;

use crate::util::McpProcess;

#[tokio::test]
async fn blocked_hosts_are_refused_in_navigations_redirects_and_subresources() {
    let pages = Fixtures::start().await;
    let port = pages.addr.port();
    let blocked = format!("http://localhost:{port}");
    let mut mcp = McpProcess::start_with(&["--block-hosts", "localhost,*.internal"]).await;

    mcp.call("navigate", json!({"url": format!("{blocked}/p/1")}))
        .await
        .assert_error("blocked on this server (--block-hosts localhost)");
    mcp.call(
        "navigate",
        json!({"url": pages.url(&format!("/redirect?to={blocked}/p/1"))}),
    )
    .await
    .assert_error("URL policy");

    let page = mcp
        .ok(
            "navigate",
            json!({"url": pages.url(&format!("/embeds?src={blocked}/p/2"))}),
        )
        .await
        .text();
    let failed = mcp
        .ok("network_requests", json!({"failed_only": true}))
        .await
        .text();
    assert!(
        failed.contains("ERR_BLOCKED_BY_CLIENT") && failed.contains(&format!("{blocked}/p/2")),
        "{failed}"
    );
    let told = if page.contains("a request was blocked") {
        page
    } else {
        mcp.ok("scroll", json!({})).await.text()
    };
    assert!(told.contains("a request was blocked"), "{told}");

    // One-off jobs obey the same policy.
    let batch = mcp
        .ok(
            "batch_scrape",
            json!({"urls": [pages.url("/p/3"), format!("{blocked}/p/4")]}),
        )
        .await
        .text();
    assert!(batch.contains("1 ok, 1 failed"), "{batch}");
    assert!(
        batch.contains("Page 3") && batch.contains("--block-hosts"),
        "{batch}"
    );
}

#[tokio::test]
async fn an_allow_list_refuses_every_other_host() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--allow-hosts", "127.0.0.1"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/p/1")})).await;
    mcp.call(
        "scrape",
        json!({"url": format!("http://localhost:{}/p/1", pages.addr.port())}),
    )
    .await
    .assert_error("not on this server's allow list");
}

#[tokio::test]
async fn private_networks_are_refused_after_resolving_names() {
    let pages = Fixtures::start().await;
    let mut mcp = McpProcess::start_with(&["--block-private-networks"]).await;
    mcp.call("navigate", json!({"url": pages.url("/p/1")}))
        .await
        .assert_error("127.0.0.1, a private, loopback or link-local address");
    // A name is checked by what it resolves to.
    mcp.call(
        "navigate",
        json!({"url": format!("http://localhost:{}/p/1", pages.addr.port())}),
    )
    .await
    .assert_error("--block-private-networks");
    mcp.call(
        "navigate",
        json!({"url": "http://169.254.169.254/latest/meta-data/"}),
    )
    .await
    .assert_error("169.254.169.254");
    // Without the flag, the same server browses loopback as usual.
    let mut open = McpProcess::start_with(&[]).await;
    open.ok("navigate", json!({"url": pages.url("/p/1")})).await;
}
