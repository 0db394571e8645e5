//! A farm on one machine: real `browserfarm agent` processes on loopback ports and
//! the gateway (`browserfarm mcp --node …`) over stdio.

use std::time::Duration;

use browserfarm_testkit::Fixtures;
use serde_json::json;

use crate::util::{Agent, McpProcess, free_port, gateway, signal};

/// Rows of the farm_status table whose node column is `name`.
fn status_row(status: &str, name: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no row for {name} in {status}"))
        .to_owned()
}

fn jobs_ok(row: &str) -> u64 {
    row.split('|')
        .map(str::trim)
        .nth(9)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn batch_scrape_spreads_over_every_node_in_input_order() {
    let pages = Fixtures::start().await;
    let (a, b, c) = tokio::join!(Agent::start(&[]), Agent::start(&[]), Agent::start(&[]));
    let mut mcp = gateway(&[&a, &b, &c], &[]).await;
    let urls = pages.numbered(60);
    let text = mcp
        .ok("batch_scrape", json!({"urls": urls, "concurrency": 6}))
        .await
        .text();
    assert!(
        text.starts_with("Batch of 60 URLs: 60 ok, 0 failed"),
        "{text}"
    );
    for i in [0, 17, 59] {
        let section = format!("## {}. {} (HTTP 200) — Page {i}", i + 1, urls[i]);
        assert!(text.contains(&section), "missing {section}");
    }
    let status = mcp.ok("farm_status", json!({})).await.text();
    for agent in [&a, &b, &c] {
        let row = status_row(&status, &agent.name());
        assert!(row.contains("| up | closed |"), "{row}");
        assert!(jobs_ok(&row) > 0, "node got no jobs: {row}\n{status}");
    }
}

#[tokio::test]
async fn killed_node_mid_batch_loses_nothing_and_its_breaker_recovers() {
    let pages = Fixtures::start().await;
    let (a, b, c) = tokio::join!(Agent::start(&[]), Agent::start(&[]), Agent::start(&[]));
    let victim_port = c.port();
    let victim_name = c.name();
    let mut mcp = gateway(
        &[&a, &b, &c],
        &[
            "--breaker-failures",
            "1",
            "--breaker-open-secs",
            "3",
            "--health-interval-ms",
            "300",
        ],
    )
    .await;
    let urls = pages.numbered(60);
    let batch = mcp.call("batch_scrape", json!({"urls": urls, "concurrency": 3}));
    let killer = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.kill9().await;
    };
    let (result, ()) = tokio::join!(batch, killer);
    let text = result.text();
    assert!(!result.is_error(), "{text}");
    assert!(
        text.starts_with("Batch of 60 URLs: 60 ok, 0 failed"),
        "{text}"
    );

    let status = mcp.ok("farm_status", json!({})).await.text();
    let row = status_row(&status, &victim_name);
    // Open, or half-open for the instant a probe is being tried against it.
    assert!(
        row.contains("| down | open |") || row.contains("| down | half_open |"),
        "{row}"
    );

    // Back on the same port: the breaker half-opens after its wait, the health
    // probe succeeds, and it closes. (The half-open step can pass between two
    // polls; the breaker's unit tests cover it.)
    let _restarted = Agent::start_on(victim_port, &[]).await;
    let mut states = Vec::new();
    for _ in 0..100 {
        let status = mcp.ok("farm_status", json!({})).await.text();
        let row = status_row(&status, &victim_name);
        let breaker = row
            .split('|')
            .map(str::trim)
            .nth(3)
            .unwrap_or_default()
            .to_owned();
        if states.last() != Some(&breaker) {
            states.push(breaker.clone());
        }
        if breaker == "closed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("closed"),
        "breaker states: {states:?}"
    );
}

#[tokio::test]
async fn session_calls_stick_to_one_node() {
    let pages = Fixtures::start().await;
    let (a, b, c) = tokio::join!(Agent::start(&[]), Agent::start(&[]), Agent::start(&[]));
    let mut mcp = gateway(&[&a, &b, &c], &[]).await;
    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;
    let first = mcp.ok("farm_status", json!({})).await.text();
    let node = first
        .lines()
        .find(|l| l.starts_with("This session's browser is on node"))
        .unwrap()
        .to_owned();
    mcp.ok(
        "type",
        json!({"selector": "#q", "text": "sticky", "submit": true}),
    )
    .await;
    let page = mcp
        .ok("scrape", json!({"format": "text", "main_content": false}))
        .await
        .text();
    assert!(
        page.contains("You said: sticky"),
        "state kept across calls: {page}"
    );
    let again = mcp.ok("farm_status", json!({})).await.text();
    assert!(again.contains(&node), "session moved: {node} vs {again}");
}

#[tokio::test]
async fn wrong_token_is_refused_with_a_clear_error() {
    let pages = Fixtures::start().await;
    let agent = Agent::start(&["--token", "right-token"]).await;
    let mut mcp = gateway(&[&agent], &["--token", "wrong-token"]).await;
    let result = mcp
        .call("scrape", json!({"url": pages.url("/article")}))
        .await;
    result.assert_error("bearer token");
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(
        status_row(&status, &agent.name()).contains("bearer token"),
        "{status}"
    );

    // The right token, read from a file (kept out of argv and the environment).
    let token_file = std::env::temp_dir().join(format!("bf-token-{}", agent.port()));
    std::fs::write(&token_file, "right-token\n").unwrap();
    let mut good = gateway(&[&agent], &["--token-file", token_file.to_str().unwrap()]).await;
    let text = good
        .ok("scrape", json!({"url": pages.url("/article")}))
        .await
        .text();
    assert!(text.contains("Growing Browsers"), "{text}");
    let _ = std::fs::remove_file(token_file);
}

#[tokio::test]
async fn full_node_answers_429_and_jobs_land_elsewhere() {
    let pages = Fixtures::start().await;
    let (full, spare) = tokio::join!(Agent::start(&["--max-browsers", "1"]), Agent::start(&[]));
    // A session on the small node holds its only browser.
    let mut holder = gateway(&[&full], &[]).await;
    holder
        .ok("navigate", json!({"url": pages.url("/article")}))
        .await;

    let mut mcp = gateway(&[&full, &spare], &[]).await;
    let urls = pages.numbered(10);
    let text = mcp
        .ok("batch_scrape", json!({"urls": urls, "concurrency": 2}))
        .await
        .text();
    assert!(
        text.starts_with("Batch of 10 URLs: 10 ok, 0 failed"),
        "{text}"
    );
    let status = mcp.ok("farm_status", json!({})).await.text();
    let full_row = status_row(&status, &full.name());
    assert!(
        full_row.contains("| up | closed |"),
        "429 is not a failure: {full_row}"
    );
    assert_eq!(jobs_ok(&full_row), 0, "{status}");
    assert_eq!(jobs_ok(&status_row(&status, &spare.name())), 10, "{status}");
}

/// Sessions open, the most the agent holds and its free slots, from its `/health`.
async fn session_slots(agent: &Agent) -> (u64, u64, u64) {
    let health = agent.health().await;
    let field = |name: &str| {
        health[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} in {health}"))
    };
    (
        field("sessions"),
        field("sessions_max"),
        field("sessions_free"),
    )
}

#[tokio::test]
async fn sessions_are_placed_by_the_free_slots_agents_report() {
    let pages = Fixtures::start().await;
    let (small, large) = tokio::join!(
        Agent::start(&["--max-browsers", "1", "--sessions-per-browser", "1"]),
        Agent::start(&["--max-browsers", "1", "--sessions-per-browser", "2"]),
    );
    assert_eq!(session_slots(&small).await, (0, 1, 1));
    assert_eq!(session_slots(&large).await, (0, 2, 2));
    let health = small.health().await;
    assert!(health["memory_available"].as_u64() > Some(0), "{health}");

    // A full farm makes a new session wait for room; this test looks at the
    // error after the shortest wait.
    let mut mcp = gateway(&[&small, &large], &["--queue-wait-secs", "1"]).await;
    let new_session = json!({"url": pages.url("/article"), "session": "new"});
    let first = mcp
        .ok("navigate", new_session.clone())
        .await
        .session()
        .unwrap();
    assert_eq!(
        session_slots(&large).await,
        (1, 2, 1),
        "the node with more room first"
    );
    mcp.ok("navigate", new_session.clone()).await;
    mcp.ok("navigate", new_session.clone()).await;
    assert_eq!(
        session_slots(&small).await,
        (1, 1, 0),
        "the small node holds one"
    );
    assert_eq!(session_slots(&large).await, (2, 2, 0));

    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(
        status_row(&status, &small.name()).contains("| 1/1 |"),
        "{status}"
    );
    assert!(
        status_row(&status, &large.name()).contains("| 2/2 |"),
        "{status}"
    );
    mcp.call("navigate", new_session.clone())
        .await
        .assert_error("no farm node has room for another browser session (2 nodes, all full:");

    mcp.ok("close_session", json!({"session": first})).await;
    assert_eq!(
        session_slots(&large).await,
        (1, 2, 1),
        "a closed session frees its slot"
    );
    mcp.ok("navigate", new_session).await;
    assert_eq!(session_slots(&large).await, (2, 2, 0));
}

/// The row of `name`, polled until `pred` holds (or the deadline passes).
async fn wait_for_row(mcp: &mut McpProcess, name: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = mcp.ok("farm_status", json!({})).await.text();
        if last
            .lines()
            .any(|l| l.starts_with(&format!("| {name} |")) && pred(l))
        {
            return status_row(&last, name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never reached the expected state:\n{last}");
}

#[tokio::test]
async fn agents_register_themselves_and_go_offline_when_they_die() {
    let pages = Fixtures::start().await;
    let registry = free_port();
    let registry_url = format!("http://127.0.0.1:{registry}");
    let mut mcp = gateway(
        &[],
        &[
            "--registry-listen",
            &format!("127.0.0.1:{registry}"),
            "--token",
            "farm-secret",
            "--health-interval-ms",
            "300",
        ],
    )
    .await;
    // An empty farm explains itself rather than failing obscurely.
    mcp.call("scrape", json!({"url": pages.url("/article")}))
        .await
        .assert_error("no nodes yet");

    let agent = Agent::start(&[
        "--register-with",
        &registry_url,
        "--token",
        "farm-secret",
        "--heartbeat-secs",
        "1",
        "--tags",
        "kind=pi",
    ])
    .await;
    let row = wait_for_row(&mut mcp, &agent.name(), |r| r.contains("| up |")).await;
    assert!(row.contains("kind=pi") && row.contains("s ago"), "{row}");
    let text = mcp
        .ok("batch_scrape", json!({"urls": pages.numbered(6)}))
        .await
        .text();
    assert!(text.starts_with("Batch of 6 URLs: 6 ok"), "{text}");
    assert_eq!(
        jobs_ok(&status_row(
            &mcp.ok("farm_status", json!({})).await.text(),
            &agent.name()
        )),
        6
    );

    // Killed without a goodbye: three missed heartbeats take it offline.
    let port = agent.port();
    let name = agent.name();
    agent.kill9().await;
    wait_for_row(&mut mcp, &name, |r| r.contains("| offline |")).await;

    // Back again: it re-registers and serves.
    let again = Agent::start_on(
        port,
        &[
            "--register-with",
            &registry_url,
            "--token",
            "farm-secret",
            "--heartbeat-secs",
            "1",
        ],
    )
    .await;
    wait_for_row(&mut mcp, &again.name(), |r| r.contains("| up |")).await;
    mcp.ok("scrape", json!({"url": pages.url("/article")}))
        .await;

    // A registration without the farm's token is refused.
    let stranger = reqwest_post(&registry_url, "wrong").await;
    assert_eq!(stranger, 401);
}

#[tokio::test]
async fn an_agent_registers_with_every_gateway_given() {
    let pages = Fixtures::start().await;
    // Two gateway replicas, each with its own registry, and a third gateway that
    // is down: it must not keep the agent from the others.
    let [a, b, down] = [free_port(), free_port(), free_port()].map(|p| format!("127.0.0.1:{p}"));
    let (registry_a, registry_b) = (["--registry-listen", &a], ["--registry-listen", &b]);
    let (mut first, mut second) =
        tokio::join!(gateway(&[], &registry_a), gateway(&[], &registry_b));
    // Repeated and comma separated.
    let agent = Agent::start(&[
        "--register-with",
        &format!("http://{a},http://{down}"),
        "--register-with",
        &format!("http://{b}"),
        "--heartbeat-secs",
        "1",
    ])
    .await;
    for mcp in [&mut first, &mut second] {
        wait_for_row(mcp, &agent.name(), |r| r.contains("| up |")).await;
        mcp.ok("scrape", json!({"url": pages.url("/article")}))
            .await;
        let status = mcp.ok("farm_status", json!({})).await.text();
        assert!(jobs_ok(&status_row(&status, &agent.name())) > 0, "{status}");
    }

    // Stopped, it says goodbye to each gateway before it exits.
    let name = agent.name();
    assert!(agent.stop().await.success());
    for mcp in [&mut first, &mut second] {
        let status = mcp.ok("farm_status", json!({})).await.text();
        assert!(
            !status.contains(&format!("| {name} |")),
            "still listed after deregistering:\n{status}"
        );
    }
}

/// POSTs a registration with `token`; returns the HTTP status.
async fn reqwest_post(registry: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{registry}/v1/nodes"))
        .bearer_auth(token)
        .json(&json!({"url": "http://127.0.0.1:1", "heartbeat_secs": 1}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn node_tags_route_jobs_to_matching_nodes() {
    let pages = Fixtures::start().await;
    let (eu, us) = tokio::join!(Agent::start(&["--tags", "region=eu"]), Agent::start(&[]));
    // The US node gets its tag from the farm config file instead.
    let config = std::env::temp_dir().join(format!("farm-{}.toml", us.port()));
    std::fs::write(
        &config,
        format!(
            "[[node]]\nurl = \"{}\"\ntags = {{ region = \"us\" }}\n",
            us.url()
        ),
    )
    .unwrap();
    let mut mcp = gateway(&[&eu], &["--config", config.to_str().unwrap()]).await;
    let text = mcp
        .ok(
            "batch_scrape",
            json!({"urls": pages.numbered(6), "node_tags": {"region": "us"}, "priority": "high"}),
        )
        .await
        .text();
    assert!(text.starts_with("Batch of 6 URLs: 6 ok"), "{text}");
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert_eq!(jobs_ok(&status_row(&status, &us.name())), 6, "{status}");
    assert_eq!(jobs_ok(&status_row(&status, &eu.name())), 0, "{status}");
    assert!(
        status_row(&status, &us.name()).contains("region=us"),
        "{status}"
    );

    // The session lives where the tags say.
    mcp.ok(
        "navigate",
        json!({"url": pages.url("/article"), "node_tags": {"region": "eu"}}),
    )
    .await;
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(
        status.contains(&format!("This session's browser is on node {}.", eu.name())),
        "{status}"
    );

    mcp.call(
        "scrape",
        json!({"url": pages.url("/article"), "node_tags": {"region": "mars"}}),
    )
    .await
    .assert_error("no farm node carries node_tags region=mars");
    mcp.call("scrape", json!({"node_tags": "eu"}))
        .await
        .assert_error("invalid node_tags");
    mcp.call("scrape", json!({"priority": "urgent"}))
        .await
        .assert_error("invalid priority");
    let _ = std::fs::remove_file(config);
}

/// Regions: a farm.toml rule sends reads of a host to its region's nodes,
/// `prefer_tags` picks a region for a session, and with a region's nodes
/// killed the work runs in another and the result says where.
#[tokio::test]
async fn regions_are_preferred_while_up_and_a_dead_region_falls_back_and_says_so() {
    let pages = Fixtures::start().await;
    let (eu1, eu2, us) = tokio::join!(
        Agent::start(&["--tags", "region=eu"]),
        Agent::start(&["--tags", "region=eu"]),
        Agent::start(&["--tags", "region=us"]),
    );
    let config = std::env::temp_dir().join(format!("farm-regions-{}.toml", us.port()));
    std::fs::write(
        &config,
        "[[rule]]\nhosts = [\"127.0.0.1\"]\nprefer = { region = \"eu\" }\n",
    )
    .unwrap();
    let mut mcp = gateway(&[&eu1, &eu2, &us], &["--config", config.to_str().unwrap()]).await;
    let text = mcp
        .ok("batch_scrape", json!({"urls": pages.numbered(6)}))
        .await
        .text();
    assert!(text.starts_with("Batch of 6 URLs: 6 ok"), "{text}");
    assert!(!text.contains("no node with"), "{text}");
    let status = mcp.ok("farm_status", json!({})).await.text();
    let eu_jobs =
        jobs_ok(&status_row(&status, &eu1.name())) + jobs_ok(&status_row(&status, &eu2.name()));
    assert_eq!(eu_jobs, 6, "the rule kept the reads in eu: {status}");
    assert_eq!(jobs_ok(&status_row(&status, &us.name())), 0, "{status}");

    mcp.ok(
        "navigate",
        json!({"url": pages.url("/article"), "prefer_tags": {"region": "us"}}),
    )
    .await;
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(
        status.contains(&format!("This session's browser is on node {}.", us.name())),
        "{status}"
    );

    let (eu1_name, eu2_name) = (eu1.name(), eu2.name());
    tokio::join!(eu1.kill9(), eu2.kill9());
    let text = mcp
        .ok("batch_scrape", json!({"urls": pages.numbered(2)}))
        .await
        .text();
    assert!(text.starts_with("Batch of 2 URLs: 2 ok"), "{text}");
    let said = format!(
        "Ran on node {}: no node with region=eu could take it.",
        us.name()
    );
    assert_eq!(text.matches(&said).count(), 2, "{text}");
    let moved = mcp
        .ok(
            "navigate",
            json!({"url": pages.url("/article"), "session": "new", "prefer_tags": {"region": "eu"}}),
        )
        .await
        .text();
    assert!(moved.contains(&said), "{moved}");
    // The jobs fell back on connection errors; the status flips at the next
    // health check (every 2 s), which may not have come yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = mcp.ok("farm_status", json!({})).await.text();
        let down = [&eu1_name, &eu2_name]
            .iter()
            .all(|name| !status_row(&status, name).contains("| up |"));
        if down {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_file(config);
}

/// An agent short of memory (free memory under its --min-free-memory-mib)
/// says so in /health, and the gateway sends new sessions and reads elsewhere.
#[tokio::test]
async fn placement_skips_an_agent_that_reports_memory_pressure() {
    let pages = Fixtures::start().await;
    let (short, roomy) = tokio::join!(
        // More free memory than any machine has: always under pressure.
        Agent::start(&["--min-free-memory-mib", "16000000"]),
        Agent::start(&[]),
    );
    let health = short.health().await;
    assert_eq!(health["memory_pressure"], true, "{health}");
    assert!(health["cpu_load_pct"].is_u64(), "{health}");
    assert_eq!(roomy.health().await["memory_pressure"], false);
    let mut mcp = gateway(&[&short, &roomy], &[]).await;
    for _ in 0..3 {
        mcp.ok(
            "navigate",
            json!({"url": pages.url("/article"), "session": "new"}),
        )
        .await;
    }
    let text = mcp
        .ok("batch_scrape", json!({"urls": pages.numbered(4)}))
        .await
        .text();
    assert!(text.starts_with("Batch of 4 URLs: 4 ok"), "{text}");
    let status = mcp.ok("farm_status", json!({})).await.text();
    let short_row = status_row(&status, &short.name());
    assert!(short_row.contains("up, memory low"), "{status}");
    assert_eq!(jobs_ok(&short_row), 0, "{status}");
    let roomy_row = status_row(&status, &roomy.name());
    assert!(jobs_ok(&roomy_row) >= 7, "{status}");
    assert!(roomy_row.contains("| 3/"), "all three sessions: {status}");
}

#[tokio::test]
async fn the_local_pool_joins_a_farm_unless_disabled() {
    let pages = Fixtures::start().await;
    let agent = Agent::start(&[]).await;
    let mut mcp = gateway(
        &[&agent],
        &["--local-pool", "--max-browsers", "2", "--min-browsers", "1"],
    )
    .await;
    let text = mcp
        .ok(
            "batch_scrape",
            json!({"urls": pages.numbered(16), "concurrency": 4}),
        )
        .await
        .text();
    assert!(text.starts_with("Batch of 16 URLs: 16 ok"), "{text}");
    let status = mcp.ok("farm_status", json!({})).await.text();
    let local = jobs_ok(&status_row(&status, "local"));
    let remote = jobs_ok(&status_row(&status, &agent.name()));
    assert_eq!(local + remote, 16, "{status}");
    assert!(local > 0 && remote > 0, "both members work: {status}");
}

#[tokio::test]
async fn a_hung_node_is_marked_down_and_jobs_go_elsewhere_until_it_wakes() {
    let pages = Fixtures::start().await;
    let a = Agent::start(&[]).await;
    let b = Agent::start(&[]).await;
    let mut mcp = gateway(&[&a, &b], &["--health-interval-ms", "500"]).await;
    wait_for_row(&mut mcp, &b.name(), |r| r.contains("| up |")).await;

    // SIGSTOP: the process holds its port but never answers.
    b.signal("STOP");
    let row = wait_for_row(&mut mcp, &b.name(), |r| !r.contains("| up |")).await;
    assert!(!row.contains("| up |"), "{row}");
    let before = jobs_ok(&status_row(
        &mcp.ok("farm_status", json!({})).await.text(),
        &b.name(),
    ));
    let urls = pages.numbered(12);
    let text = mcp
        .ok("batch_scrape", json!({"urls": urls, "concurrency": 4}))
        .await
        .text();
    assert!(text.contains("12 ok, 0 failed"), "{text}");
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert_eq!(jobs_ok(&status_row(&status, &b.name())), before, "{status}");

    b.signal("CONT");
    wait_for_row(&mut mcp, &b.name(), |r| r.contains("| up |")).await;
    let text = mcp
        .ok("batch_scrape", json!({"urls": pages.numbered(4)}))
        .await
        .text();
    assert!(text.contains("4 ok, 0 failed"), "{text}");
}

#[tokio::test]
async fn jobs_held_by_a_node_that_hangs_mid_batch_fail_over_without_waiting_out_the_timeout() {
    let pages = Fixtures::start().await;
    let a = Agent::start(&[]).await;
    let b = Agent::start(&[]).await;
    let mut mcp = gateway(&[&a, &b], &["--health-interval-ms", "500"]).await;
    wait_for_row(&mut mcp, &b.name(), |r| r.contains("| up |")).await;
    wait_for_row(&mut mcp, &a.name(), |r| r.contains("| up |")).await;

    // Pages that take 3 s each, so both nodes hold jobs when one is stopped.
    let urls: Vec<String> = (0..8)
        .map(|i| pages.url(&format!("/wait/{}", 3000 + i)))
        .collect();
    let pid = b.pid();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        signal(pid, "STOP");
    });
    let started = std::time::Instant::now();
    let text = mcp
        .ok("batch_scrape", json!({"urls": urls, "concurrency": 4}))
        .await
        .text();
    stopper.await.unwrap();
    let took = started.elapsed();
    assert!(text.contains("8 ok, 0 failed"), "{text}");
    // The gateway's job timeout is 150 s; failing over on the health check's
    // verdict takes seconds.
    assert!(took < Duration::from_secs(60), "the batch took {took:?}");
    b.signal("CONT");
}
