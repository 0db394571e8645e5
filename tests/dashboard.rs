//! The live dashboard of `browserfarm mcp --http`, opened in real headless
//! Chromium (the project's own browser crate) over a two-agent loopback farm.
//!
//! With `BROWSERFARM_DASHBOARD_PNG=PATH` set, the test also saves a screenshot of
//! the page (how `docs/dashboard.png` is made).

use std::time::{Duration, Instant};

use browserfarm_browser::{Pool, PoolConfig, Session};
use browserfarm_protocol::{
    ClickArgs, EvaluateArgs, ImageFormat, JobOutput, NavigateArgs, Operation, PageInfo,
    ScreenshotArgs, TypeArgs,
};
use browserfarm_testkit::Fixtures;
use serde_json::{Value, json};

use crate::util::{Agent, HttpServer, StreamableSession, free_port};

/// What the page shows: connection state, node rows and call rows, read from the
/// DOM the way a person would read the tables.
const VIEW: &str = "({
    connection: document.body.dataset.connection,
    marker: window.e2eMarker || null,
    nodes: Object.fromEntries([...document.querySelectorAll('#nodes-body tr[data-node]')]
        .map(r => [r.dataset.node, r.dataset.state + '/' + r.dataset.breaker])),
    calls: [...document.querySelectorAll('#calls-body tr[data-tool]')]
        .map(r => r.dataset.tool + ':' + r.dataset.status),
    text: document.body.innerText,
})";

async fn run(page: &mut Session, op: Operation) -> JobOutput {
    page.run(&op).await.expect("page operation")
}

async fn view(page: &mut Session) -> Value {
    let op = Operation::Evaluate(EvaluateArgs {
        expression: VIEW.into(),
        max_chars: None,
    });
    match run(page, op).await {
        JobOutput::Evaluated { value } => value,
        other => panic!("unexpected {other:?}"),
    }
}

/// Polls the open page (never reloading it) until `want` holds.
async fn wait_until(
    page: &mut Session,
    within: Duration,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let seen = view(page).await;
        if want(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard never showed {what} within {within:?}: {seen:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A browser of our own (the test's, not the farm's) with the dashboard open.
async fn open_dashboard(server: &HttpServer) -> (Pool, Session) {
    let (pool, page, info) = open_page(server).await;
    assert_eq!(info.status, Some(200), "{info:?}");
    (pool, page)
}

async fn open_page(server: &HttpServer) -> (Pool, Session, PageInfo) {
    let pool = Pool::start(PoolConfig {
        min_browsers: 0,
        max_browsers: 1,
        ..PoolConfig::default()
    })
    .expect("Chromium is installed");
    let mut page = Session::open(&pool).await.expect("browser session");
    let opened = run(
        &mut page,
        Operation::Navigate(NavigateArgs {
            url: Some(format!("{}/dashboard", server.base)),
            ..Default::default()
        }),
    )
    .await;
    let JobOutput::Navigated { page: info } = opened else {
        panic!("unexpected {opened:?}")
    };
    (pool, page, info)
}

/// Types into the sign-in form and submits it.
async fn sign_in(page: &mut Session, token: &str) {
    let op = Operation::Type(TypeArgs {
        element: None,
        selector: Some("#token".into()),
        text: token.into(),
        submit: Some(true),
        ..Default::default()
    });
    run(page, op).await;
}

/// Marks the open document: if the page reloaded, the mark would be gone.
async fn mark(page: &mut Session) {
    let mark = Operation::Evaluate(EvaluateArgs {
        expression: "window.e2eMarker = 'same page'".into(),
        max_chars: None,
    });
    run(page, mark).await;
}

#[tokio::test]
async fn dashboard_shows_nodes_live_and_a_killed_node_goes_down_without_reload() {
    let pages = Fixtures::start().await;
    let (a, b) = tokio::join!(
        Agent::start(&["--tags", "region=eu"]),
        Agent::start(&["--tags", "region=us"])
    );
    let (a_name, b_name) = (a.name(), b.name());
    let server = HttpServer::start(&[
        "--local-pool=false",
        "--node",
        &a.url(),
        "--node",
        &b.url(),
        "--health-interval-ms",
        "300",
        "--breaker-failures",
        "1",
    ])
    .await;

    // Some traffic for the recent-calls table: a read and a call that fails.
    let mut mcp = StreamableSession::new(&server, None);
    mcp.initialize().await;
    mcp.tool_text("scrape", json!({"url": pages.url("/article")}))
        .await;
    let missing = mcp
        .request(
            "tools/call",
            json!({"name": "wait_for", "arguments": {"selector": "#absent", "timeout_ms": 300}}),
        )
        .await;
    assert_eq!(missing["result"]["isError"], true, "{missing}");

    let (pool, mut page) = open_dashboard(&server).await;

    let both_up = format!("{a_name} and {b_name} up");
    let seen = wait_until(&mut page, Duration::from_secs(20), &both_up, |v| {
        v["connection"] == "live"
            && v["nodes"][&a_name] == "up/closed"
            && v["nodes"][&b_name] == "up/closed"
    })
    .await;
    let calls = seen["calls"].as_array().unwrap();
    assert!(
        calls.contains(&json!("scrape:ok")) && calls.contains(&json!("wait_for:error")),
        "{seen:#}"
    );
    let text = seen["text"].as_str().unwrap().to_lowercase();
    assert!(
        text.contains("calls ok") && text.contains("sessions open"),
        "{text}"
    );

    mark(&mut page).await;

    let killed = Instant::now();
    b.kill9().await;
    let seen = wait_until(
        &mut page,
        Duration::from_secs(15),
        &format!("{b_name} down"),
        |v| {
            let row = v["nodes"][&b_name].as_str().unwrap_or("");
            !row.starts_with("up/") || row.ends_with("/open")
        },
    )
    .await;
    eprintln!(
        "dashboard showed {b_name} as {} {:?} after the kill",
        seen["nodes"][&b_name],
        killed.elapsed()
    );
    assert_eq!(seen["marker"], "same page", "updated in place, no reload");
    assert_eq!(seen["nodes"][&a_name], "up/closed", "{seen:#}");
    assert_eq!(seen["connection"], "live");

    if let Ok(path) = std::env::var("BROWSERFARM_DASHBOARD_PNG") {
        let shot = run(
            &mut page,
            Operation::Screenshot(ScreenshotArgs {
                full_page: Some(true),
                format: Some(ImageFormat::Png),
                max_width: Some(1000),
                ..Default::default()
            }),
        )
        .await;
        let JobOutput::Screenshot { image, .. } = shot else {
            panic!("unexpected {shot:?}")
        };
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(image.data_base64)
            .unwrap();
        std::fs::write(&path, png).unwrap();
        eprintln!("saved {path}");
    }

    page.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn dashboard_shows_reconnecting_while_the_gateway_is_gone_and_recovers_in_place() {
    let port = free_port();
    // A gateway waiting for agents to register: no browser of its own to start.
    let gateway = |registry: u16| {
        let registry = format!("127.0.0.1:{registry}");
        async move {
            HttpServer::start_on(
                port,
                &["--local-pool=false", "--registry-listen", &registry],
            )
            .await
        }
    };
    let server = gateway(free_port()).await;
    let (pool, mut page) = open_dashboard(&server).await;
    let seen = wait_until(&mut page, Duration::from_secs(20), "live", |v| {
        v["connection"] == "live"
    })
    .await;
    assert!(
        seen["text"].as_str().unwrap().contains("no nodes"),
        "{seen:#}"
    );
    mark(&mut page).await;

    server.stop().await;
    wait_until(&mut page, Duration::from_secs(10), "reconnecting…", |v| {
        v["connection"] == "reconnecting" && v["text"].as_str().unwrap().contains("reconnecting…")
    })
    .await;

    let _server = gateway(free_port()).await;
    let seen = wait_until(&mut page, Duration::from_secs(20), "live again", |v| {
        v["connection"] == "live"
    })
    .await;
    assert_eq!(seen["marker"], "same page", "reconnected without a reload");

    page.close().await;
    pool.shutdown().await;
}

#[tokio::test]
async fn with_a_token_the_browser_signs_in_once_and_the_stream_follows() {
    let registry = format!("127.0.0.1:{}", free_port());
    let server = HttpServer::start(&[
        "--token",
        "dash-t0ken",
        "--local-pool=false",
        "--registry-listen",
        &registry,
    ])
    .await;
    let (pool, mut page, info) = open_page(&server).await;
    assert_eq!(info.status, Some(401), "{info:?}");
    let seen = view(&mut page).await;
    assert!(seen["text"].as_str().unwrap().contains("Token"), "{seen:#}");

    sign_in(&mut page, "not-it").await;
    let seen = view(&mut page).await;
    assert!(
        seen["text"].as_str().unwrap().contains("Wrong token"),
        "{seen:#}"
    );

    sign_in(&mut page, "dash-t0ken").await;
    let seen = wait_until(&mut page, Duration::from_secs(20), "live", |v| {
        v["connection"] == "live"
    })
    .await;
    assert!(
        seen["text"].as_str().unwrap().contains("Sign out"),
        "{seen:#}"
    );
    let cookie = Operation::Evaluate(EvaluateArgs {
        expression: "document.cookie".into(),
        max_chars: None,
    });
    let JobOutput::Evaluated { value } = run(&mut page, cookie).await else {
        panic!("evaluate")
    };
    assert_eq!(value, "", "the sign-in cookie is HttpOnly");

    let sign_out = Operation::Click(ClickArgs {
        element: None,
        selector: Some("#sign-out button".into()),
        ..Default::default()
    });
    run(&mut page, sign_out).await;
    let seen = view(&mut page).await;
    assert!(
        seen["text"].as_str().unwrap().contains("Sign in"),
        "signed out: {seen:#}"
    );

    page.close().await;
    pool.shutdown().await;
}
