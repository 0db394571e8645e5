//! The dashboard's routes over real sockets on 127.0.0.1 (the event stream is a
//! long-lived response, best read the way a browser reads it), against a stub
//! executor whose farm status the test changes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use browserfarm_gateway::SessionScope;
use browserfarm_protocol::{
    Job, JobError, JobOutput, NodeStatus, NodeTags, SessionId, SessionRoute,
};
use serde_json::Value;

use super::*;
use crate::audit::AuditEntry;
use crate::http::HttpOptions;

struct StubFarm {
    status: Mutex<FarmStatus>,
}

fn node(name: &str, state: &str, breaker: &str) -> NodeStatus {
    NodeStatus {
        name: name.into(),
        state: state.into(),
        breaker: breaker.into(),
        in_flight: 0,
        capacity: 2,
        sessions: Some(1),
        sessions_max: Some(16),
        arch: Some("x86_64".into()),
        tags: BTreeMap::from([("region".into(), "eu".into())]),
        jobs_ok: 0,
        jobs_failed: 0,
        last_error: None,
        last_heartbeat_secs: None,
        sessions_moved: 0,
        last_move: None,
        memory_pressure: false,
        cpu_load_pct: None,
    }
}

impl StubFarm {
    fn new() -> Arc<StubFarm> {
        Arc::new(StubFarm {
            status: Mutex::new(FarmStatus {
                nodes: vec![node("a", "up", "closed"), node("b", "up", "closed")],
                sessions: 1,
            }),
        })
    }
}

#[async_trait]
impl Executor for StubFarm {
    async fn open_session(
        &self,
        _: &NodeTags,
        _: &NodeTags,
        _: SessionScope,
    ) -> Result<SessionId, JobError> {
        Err(JobError::internal("stub"))
    }
    async fn close_session(&self, _: &SessionId) -> Result<(), JobError> {
        Ok(())
    }
    async fn run(&self, _: Job) -> Result<JobOutput, JobError> {
        Err(JobError::internal("stub"))
    }
    async fn status(&self) -> FarmStatus {
        self.status.lock().unwrap().clone()
    }
    async fn session_node(&self, _: &SessionId) -> Option<String> {
        None
    }
    async fn session_route(&self, _: &SessionId) -> Option<SessionRoute> {
        None
    }
    async fn shutdown(&self) {}
}

/// Serves `app` on a loopback port until the returned token is cancelled.
async fn serve(app: Router) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.cancelled().await })
            .await
            .unwrap();
    });
    (base, stop)
}

/// Reads the stream until the next `snapshot` event and returns its data.
async fn next_snapshot(response: &mut reqwest::Response, buffer: &mut String) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: snapshot") {
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return serde_json::from_str(&data).expect("snapshot is JSON");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("stream still open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

fn call(tool: &str, status: &'static str) -> AuditEntry {
    AuditEntry {
        time: crate::audit::now_rfc3339(),
        session: Some("secret-session".into()),
        client: Some("test".into()),
        principal: None,
        tool: tool.into(),
        host: Some("example.org".into()),
        node: Some("a".into()),
        status,
        duration_ms: 42,
        error_kind: None,
        text_chars: None,
        urls: None,
    }
}

#[tokio::test]
async fn events_start_with_a_full_snapshot_and_follow_changes() {
    let farm = StubFarm::new();
    let activity = Activity::default();
    let shutdown = CancellationToken::new();
    let app = router(
        farm.clone(),
        activity.clone(),
        Default::default(),
        browserfarm_http::Tokens::fixed(None),
        shutdown.clone(),
    );
    let (base, stop) = serve(app).await;
    let mut events = reqwest::get(format!("{base}/events")).await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut buffer = String::new();
    let first = next_snapshot(&mut events, &mut buffer).await;
    assert_eq!(first["farm"]["nodes"][0]["name"], "a");
    assert_eq!(first["farm"]["nodes"][1]["state"], "up");
    assert_eq!(first["totals"]["nodes_up"], 2);
    assert_eq!(first["totals"]["sessions"], 1);
    assert_eq!(first["recent"], serde_json::json!([]));

    // A finished call is pushed well before the next poll would find it.
    let started = std::time::Instant::now();
    activity.record(&call("scrape", "ok"));
    activity.record(&call("click", "error"));
    let next = next_snapshot(&mut events, &mut buffer).await;
    assert!(started.elapsed() < POLL, "{:?}", started.elapsed());
    assert_eq!(next["recent"][0]["tool"], "click");
    assert_eq!(next["recent"][1]["host"], "example.org");
    assert!(next["recent"][0].get("session").is_none(), "{next}");
    assert_eq!(next["totals"]["calls_ok"], 1);
    assert_eq!(next["totals"]["calls_failed"], 1);

    // A node going down is found by the poll.
    farm.status.lock().unwrap().nodes[1] = node("b", "down", "open");
    let next = next_snapshot(&mut events, &mut buffer).await;
    assert_eq!(next["farm"]["nodes"][1]["state"], "down");
    assert_eq!(next["totals"]["nodes_up"], 1);

    // Shutdown ends the stream, so graceful shutdown does not wait for pages.
    shutdown.cancel();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ends on shutdown");
    stop.cancel();
}

#[tokio::test]
async fn with_a_token_the_dashboard_needs_a_sign_in_that_opens_nothing_else() {
    let options = HttpOptions {
        token: Some("s3cret".into()),
        ..HttpOptions::default()
    };
    let app = crate::http::router(StubFarm::new(), options, CancellationToken::new());
    let (base, stop) = serve(app).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = http.get(format!("{base}/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), 401);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(page.text().await.unwrap().contains("name=\"token\""));
    let events = http.get(format!("{base}/events")).send().await.unwrap();
    assert_eq!(events.status(), 401);
    let style = http
        .get(format!("{base}/dashboard/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(style.status(), 200, "the sign-in page's style is public");

    let sign_in = |token: &'static str| {
        http.post(format!("{base}/dashboard/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let wrong = sign_in("guess").await.unwrap();
    assert_eq!(wrong.status(), 303);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert_eq!(wrong.headers()["location"], "../dashboard?signin=failed");
    let again = http
        .get(format!("{base}/dashboard?signin=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    assert!(again.text().await.unwrap().contains("Wrong token"));

    let right = sign_in("s3cret").await.unwrap();
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "../dashboard");
    let set_cookie = right.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(
        !set_cookie.contains("s3cret"),
        "the cookie is not the token"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let get = |path: &str, cookie: &str| {
        http.get(format!("{base}{path}"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(get("/dashboard", &cookie).await.unwrap().status(), 200);
    assert_eq!(get("/events", &cookie).await.unwrap().status(), 200);
    assert_eq!(
        get("/dashboard/app.js", &cookie).await.unwrap().status(),
        200
    );
    assert_eq!(
        get("/v1/farm", &cookie).await.unwrap().status(),
        401,
        "the cookie opens the dashboard only"
    );
    let bearer = http
        .get(format!("{base}/events"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200, "scripts may use the bearer token");

    // Host and Origin checks apply as on every other route.
    let rebinding = http
        .get(format!("{base}/dashboard"))
        .header("cookie", &cookie)
        .header("host", "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);
    let foreign = http
        .post(format!("{base}/dashboard/login"))
        .header("origin", "https://evil.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    let out = http
        .post(format!("{base}/dashboard/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(get("/events", &cookie).await.unwrap().status(), 401);
    stop.cancel();
}

#[tokio::test]
async fn without_a_token_the_dashboard_is_open_on_loopback() {
    let app = crate::http::router(
        StubFarm::new(),
        HttpOptions::default(),
        CancellationToken::new(),
    );
    let (base, stop) = serve(app).await;
    let page = reqwest::get(format!("{base}/dashboard")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("dashboard/app.js"), "{html}");
    let off = crate::http::router(
        StubFarm::new(),
        HttpOptions {
            dashboard: false,
            ..HttpOptions::default()
        },
        CancellationToken::new(),
    );
    let (off_base, off_stop) = serve(off).await;
    let page = reqwest::get(format!("{off_base}/dashboard")).await.unwrap();
    assert_eq!(page.status(), 404, "--dashboard=false");
    stop.cancel();
    off_stop.cancel();
}
