//! Sessions under node faults with load on the farm: agents `kill -9`ed and
//! restarted while MCP clients keep working, sessions that find their agent
//! restarted, and a farm with no room for one more session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};

use crate::util::{Agent, HttpServer, StreamableSession, gateway};

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    calls: usize,
    /// Calls that needed page state the session lost when it moved, told so.
    state_lost: Vec<String>,
    /// Any other failed call.
    failed: Vec<String>,
    wrong: Vec<String>,
    slowest: Duration,
}

fn text_of(reply: &Value) -> String {
    reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One MCP client (2025-11-25 handshake, so one session) going round a
/// `navigate`, a `scrape` of the page it is on (which needs the session's
/// state) and a `scrape {url}` of its own pages, checking every answer, until
/// `stop` is set and it has made at least `min_calls`.
async fn client(
    server: Arc<HttpServer>,
    pages: Arc<Fixtures>,
    n: usize,
    min_calls: usize,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut mcp = StreamableSession::new(&server, None);
    mcp.initialize().await;
    let mut tally = Tally::default();
    let mut on = None;
    while tally.calls < min_calls || !stop.load(Ordering::Acquire) {
        let page = n * 1000 + tally.calls;
        let url = pages.url(&format!("/p/{page}"));
        let (tool, args, expect, needs_state) = match tally.calls % 3 {
            0 => (
                "navigate",
                json!({"url": url}),
                format!("Page {page}"),
                false,
            ),
            1 => match on {
                Some(at) => (
                    "scrape",
                    json!({"format": "text"}),
                    format!("Paragraph 4 of page {at}"),
                    true,
                ),
                None => {
                    tally.calls += 1;
                    continue;
                }
            },
            _ => (
                "scrape",
                json!({"url": url, "format": "text"}),
                format!("Paragraph 4 of page {page}"),
                false,
            ),
        };
        let started = Instant::now();
        let reply = mcp
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        tally.slowest = tally.slowest.max(started.elapsed());
        tally.calls += 1;
        let text = text_of(&reply);
        if reply["result"]["isError"] != json!(false) {
            let call = format!("{tool} {page}: {text}{}", reply["error"]);
            if needs_state && text.contains("page state") {
                tally.state_lost.push(call);
            } else {
                tally.failed.push(call);
            }
            on = None;
        } else if !text.contains(&expect) {
            tally.wrong.push(format!("{tool} {page}: {text}"));
        } else if tool == "navigate" {
            on = Some(page);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tally
}

#[tokio::test]
async fn sessions_move_at_once_when_their_agent_is_killed_under_load() {
    let pages = Arc::new(Fixtures::start().await);
    let (a, b, c) = tokio::join!(Agent::start(&[]), Agent::start(&[]), Agent::start(&[]));
    let nodes = [a.url(), b.url(), c.url()];
    let mut agents = [Some(a), Some(b), Some(c)];
    // A breaker that opens at the first failure: sessions still on the dead
    // node must move, not be told it is cut off call after call.
    let mut args = vec!["--local-pool=false", "--breaker-failures", "1"];
    for url in &nodes {
        args.extend(["--node", url.as_str()]);
    }
    let server = Arc::new(HttpServer::start(&args).await);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..12)
        .map(|n| tokio::spawn(client(server.clone(), pages.clone(), n, 25, stop.clone())))
        .collect();

    // Twice: an agent dies without warning, stays away 6 s, and comes back
    // on its port as a new process (with none of its sessions).
    for victim in [0, 1] {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let agent = agents[victim].take().unwrap();
        let port = agent.port();
        agent.kill9().await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        agents[victim] = Some(Agent::start_on(port, &[]).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Release);

    let mut tallies = Vec::new();
    for client in clients {
        tallies.push(client.await.expect("client task"));
    }
    let calls: usize = tallies.iter().map(|t| t.calls).sum();
    let lost: Vec<&String> = tallies.iter().flat_map(|t| &t.state_lost).collect();
    let failed: Vec<&String> = tallies.iter().flat_map(|t| &t.failed).collect();
    let wrong: Vec<&String> = tallies.iter().flat_map(|t| &t.wrong).collect();
    let slowest = tallies.iter().map(|t| t.slowest).max().unwrap_or_default();
    eprintln!(
        "{calls} calls by 12 sessions, 2 agents killed: {} failed, {} told their page \
         state was lost, {} wrong, slowest {slowest:?}",
        failed.len(),
        lost.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    // Calls that stand alone (a navigate, a read with a URL) move with their
    // session and succeed; one that needs the lost page is told so, once a kill.
    assert!(failed.is_empty(), "failed calls: {failed:#?}");
    for (n, tally) in tallies.iter().enumerate() {
        assert!(
            tally.state_lost.len() <= 2,
            "session {n} was told more than once per kill: {:#?}",
            tally.state_lost
        );
    }
    // What the gateway promises a call, whatever the machine's speed: at most
    // its wait for a free browser (--queue-wait-secs) plus the job's own
    // deadline (the page load's, then a last CDP command's). A call that
    // waited on a dead node would take the node client's job timeout (150 s).
    // Under load calls are slower, never unbounded: this run's slowest is
    // printed above.
    let promised = QUEUE_WAIT + NAVIGATION_DEADLINE + CDP_DEADLINE;
    assert!(
        slowest < promised,
        "a call took {slowest:?}, past the {promised:?} a call is promised"
    );
}

/// The gateway's and agents' defaults, the bounds of one call.
const QUEUE_WAIT: Duration = Duration::from_secs(60);
const NAVIGATION_DEADLINE: Duration =
    Duration::from_millis(browserfarm_protocol::DEFAULT_TIMEOUT_MS);
const CDP_DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_session_whose_agent_restarted_is_told_it_moved() {
    let pages = Fixtures::start().await;
    let agent = Agent::start(&[]).await;
    let port = agent.port();
    // No health check falls between the restart and the next call (they are a
    // minute apart), so the gateway learns of the restart only from the node
    // not knowing the session, and must ask the node which process it is.
    let mut mcp = gateway(&[&agent], &["--health-interval-ms", "60000"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;
    mcp.ok("type", json!({"selector": "#q", "text": "kept?"}))
        .await;

    agent.kill9().await;
    let back = Agent::start_on(port, &[]).await;

    // A call that needs the old page is told once what happened and what to do.
    let lost = mcp.call("click", json!({"selector": "#inc"})).await;
    lost.assert_error("page state");
    let text = lost.text();
    assert!(text.contains("restarted"), "{text}");
    assert!(text.contains("Navigate again"), "{text}");
    // Then the session works on its new browser, and a navigate stands alone.
    let page = mcp
        .ok("navigate", json!({"url": pages.url("/form")}))
        .await
        .text();
    assert!(!page.contains("moved"), "told once: {page}");

    // A session opened on a node that restarted since its last health check
    // is that process's own: its next call does not take it for lost.
    back.kill9().await;
    let _again = Agent::start_on(port, &[]).await;
    let opened = mcp
        .ok(
            "navigate",
            json!({"url": pages.url("/form"), "session": "new"}),
        )
        .await;
    let fresh = opened.session().expect("a new session's handle");
    mcp.ok(
        "type",
        json!({"selector": "#q", "text": "kept", "session": fresh}),
    )
    .await;
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(status.contains("moved"), "{status}");
}

#[tokio::test]
async fn a_navigate_of_a_session_whose_agent_died_runs_elsewhere_and_says_so() {
    let pages = Fixtures::start().await;
    let (a, b) = tokio::join!(Agent::start(&[]), Agent::start(&[]));
    let mut mcp = gateway(&[&a, &b], &["--health-interval-ms", "300"]).await;
    mcp.ok("navigate", json!({"url": pages.url("/form")})).await;
    let status = mcp.ok("farm_status", json!({})).await.text();
    let (victim, survivor) = if status.contains(&format!("browser is on node {}", a.name())) {
        (a, b)
    } else {
        (b, a)
    };
    victim.kill9().await;
    // Before and after the gateway notices: the navigate runs on the survivor.
    let page = mcp
        .ok("navigate", json!({"url": pages.url("/p/7")}))
        .await
        .text();
    assert!(page.contains("Page 7"), "{page}");
    assert!(
        page.contains("moved"),
        "the result says the browser moved: {page}"
    );
    assert!(
        page.contains("lost"),
        "and that page state was lost: {page}"
    );
    let status = mcp.ok("farm_status", json!({})).await.text();
    assert!(
        status.contains(&format!("browser is on node {}", survivor.name())),
        "{status}"
    );
}

#[tokio::test]
async fn a_full_farm_queues_a_new_session_until_one_closes() {
    let pages = Fixtures::start().await;
    let agent = Agent::start(&["--max-sessions", "1"]).await;
    let mut args = vec![
        "--local-pool=false".to_owned(),
        "--node".to_owned(),
        agent.url(),
    ];
    args.extend(["--health-interval-ms".to_owned(), "300".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = HttpServer::start(&args).await;
    let mut first = StreamableSession::new(&server, None);
    first.initialize().await;
    first
        .tool_text("navigate", json!({"url": pages.url("/p/1")}))
        .await;

    let mut second = StreamableSession::new(&server, None);
    second.initialize().await;
    let url = pages.url("/p/2");
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let text = second.tool_text("navigate", json!({"url": url})).await;
        (text, started.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!waiting.is_finished(), "the second session waits for room");
    first.tool_text("close_session", json!({})).await;
    let (text, waited) = waiting.await.unwrap();
    assert!(text.contains("Page 2"), "{text}");
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
}
