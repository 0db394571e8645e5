//! `FarmExecutor` against in-process stub nodes on 127.0.0.1 that misbehave on
//! purpose: failures are retried elsewhere, busy nodes are skipped without counting
//! against them, hung nodes time out, and breakers open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use browserfarm_gateway::{
    BreakerConfig, Executor, FarmConfig, FarmExecutor, HostRule, NodeSpec, SessionScope,
};
use browserfarm_protocol::{
    ErrorKind, Health, Job, JobError, JobOutput, NodeTags, Operation, PageInfo, Registration,
    Resources, ScrapeArgs, ScrapeFormat, Scraped, SessionId, SessionOpened,
};

#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    /// Answers like `Ok` after 300 ms.
    Slow,
    Status(u16),
    Hang,
}

struct Stub {
    behaviour: Behaviour,
    jobs: AtomicUsize,
    /// The most sessions the stub holds, reported in `/health`; `None`: it
    /// reports no session slots (an older agent) and takes any number.
    slots: Option<usize>,
    /// Sessions open now.
    sessions: AtomicUsize,
    /// `POST /v1/sessions` calls, refused ones included.
    session_calls: AtomicUsize,
    /// Reported as `memory_pressure`.
    pressure: std::sync::atomic::AtomicBool,
}

impl Stub {
    fn new(behaviour: Behaviour) -> Stub {
        Stub {
            behaviour,
            jobs: AtomicUsize::new(0),
            slots: None,
            sessions: AtomicUsize::new(0),
            session_calls: AtomicUsize::new(0),
            pressure: Default::default(),
        }
    }

    fn sessions_free(&self) -> Option<usize> {
        self.slots
            .map(|max| max.saturating_sub(self.sessions.load(Ordering::SeqCst)))
    }
}

async fn health(State(stub): State<Arc<Stub>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: "stub".into(),
        arch: "stub".into(),
        tags: Default::default(),
        capacity: 4,
        in_flight: 0,
        queued: 0,
        max_queue: 4,
        browsers_active: 0,
        browsers_idle: 0,
        sessions: stub.sessions.load(Ordering::SeqCst),
        sessions_max: stub.slots,
        sessions_free: stub.sessions_free(),
        memory_available: None,
        memory_pressure: Some(stub.pressure.load(Ordering::SeqCst)),
        cpu_load_pct: None,
        uptime_secs: 0,
        instance: None,
    })
}

async fn open_session(State(stub): State<Arc<Stub>>) -> Response {
    let call = stub.session_calls.fetch_add(1, Ordering::SeqCst);
    if stub.sessions_free() == Some(0) {
        let full = JobError::new(ErrorKind::Busy, "stub is full");
        return (StatusCode::TOO_MANY_REQUESTS, Json(full)).into_response();
    }
    stub.sessions.fetch_add(1, Ordering::SeqCst);
    let session = SessionId(format!("s{call}"));
    (
        StatusCode::CREATED,
        Json(SessionOpened {
            session,
            instance: None,
        }),
    )
        .into_response()
}

async fn close_session(State(stub): State<Arc<Stub>>) -> StatusCode {
    stub.sessions.fetch_sub(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

async fn job(State(stub): State<Arc<Stub>>, Json(_job): Json<Job>) -> Response {
    stub.jobs.fetch_add(1, Ordering::SeqCst);
    if let Behaviour::Slow = stub.behaviour {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    match stub.behaviour {
        Behaviour::Ok | Behaviour::Slow => Json(JobOutput::Scraped(Scraped {
            page: PageInfo {
                url: "http://stub/".into(),
                status: Some(200),
                title: "ok".into(),
                notes: vec![],
                changes: None,
            },
            format: ScrapeFormat::Markdown,
            content: "stub".into(),
            truncated_chars: 0,
        }))
        .into_response(),
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let kind = match code {
                429 => ErrorKind::Busy,
                422 => ErrorKind::Navigation,
                _ => ErrorKind::Internal,
            };
            (
                status,
                Json(JobError::new(kind, format!("stub says {code}"))),
            )
                .into_response()
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}

async fn stub(behaviour: Behaviour) -> (String, Arc<Stub>) {
    serve(Stub::new(behaviour)).await
}

/// A stub holding at most `slots` sessions (`None`: not reported), `open` of
/// them open at start.
async fn session_stub(slots: Option<usize>, open: usize) -> (String, Arc<Stub>) {
    serve(Stub {
        slots,
        sessions: AtomicUsize::new(open),
        ..Stub::new(Behaviour::Ok)
    })
    .await
}

async fn serve(stub: Stub) -> (String, Arc<Stub>) {
    let state = Arc::new(stub);
    let app = Router::new()
        .route("/health", get(health))
        .route("/v1/jobs", post(job))
        .route("/v1/sessions", post(open_session))
        .route("/v1/sessions/{id}", delete(close_session))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

async fn farm(urls: &[&str], failures: u32) -> std::sync::Arc<FarmExecutor> {
    let farm = FarmExecutor::start(
        FarmConfig {
            nodes: urls
                .iter()
                .map(|u| NodeSpec {
                    url: u.to_string(),
                    token: None,
                    weight: 1.0,
                    tags: Default::default(),
                    server_name: None,
                })
                .collect(),
            breaker: BreakerConfig {
                failure_threshold: failures,
                open_for: Duration::from_secs(60),
            },
            job_timeout: Duration::from_millis(500),
            // Full farms wait for room; these tests look at the error after.
            session_wait: Duration::from_millis(300),
            ..FarmConfig::default()
        },
        None,
    )
    .await
    .unwrap();
    let farm = std::sync::Arc::new(farm);
    farm.watch();
    farm
}

fn scrape() -> Job {
    Job::new(
        None,
        Operation::Scrape(ScrapeArgs {
            url: Some("http://127.0.0.1/".into()),
            ..Default::default()
        }),
    )
}

fn breaker_of(status: &browserfarm_protocol::FarmStatus, url: &str) -> String {
    let name = url.trim_start_matches("http://");
    status
        .nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap()
        .breaker
        .clone()
}

#[tokio::test]
async fn failing_and_hung_nodes_fail_over_to_a_healthy_one() {
    let (broken, broken_stub) = stub(Behaviour::Status(500)).await;
    let (hung, hung_stub) = stub(Behaviour::Hang).await;
    let (good, good_stub) = stub(Behaviour::Ok).await;
    let farm = farm(&[&broken, &hung, &good], 100).await;
    for _ in 0..10 {
        let output = farm
            .run(scrape())
            .await
            .expect("every job ends on the healthy node");
        assert!(matches!(output, JobOutput::Scraped(_)));
    }
    assert_eq!(good_stub.jobs.load(Ordering::SeqCst), 10);
    assert!(broken_stub.jobs.load(Ordering::SeqCst) + hung_stub.jobs.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn busy_nodes_are_skipped_without_opening_their_breaker() {
    let (busy, busy_stub) = stub(Behaviour::Status(429)).await;
    let (good, _) = stub(Behaviour::Ok).await;
    let farm = farm(&[&busy, &good], 1).await;
    for _ in 0..10 {
        farm.run(scrape()).await.unwrap();
    }
    assert!(
        busy_stub.jobs.load(Ordering::SeqCst) > 0,
        "the busy node was tried"
    );
    assert_eq!(breaker_of(&farm.status().await, &busy), "closed");
}

#[tokio::test]
async fn page_failures_are_returned_not_retried() {
    let (a, a_stub) = stub(Behaviour::Status(422)).await;
    let (b, b_stub) = stub(Behaviour::Status(422)).await;
    let farm = farm(&[&a, &b], 1).await;
    let err = farm.run(scrape()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Navigation);
    let calls = a_stub.jobs.load(Ordering::SeqCst) + b_stub.jobs.load(Ordering::SeqCst);
    assert_eq!(calls, 1, "a job that failed on its page is not run again");
    assert_eq!(breaker_of(&farm.status().await, &a), "closed");
}

#[tokio::test]
async fn consecutive_failures_open_the_breaker_and_the_error_says_why() {
    let (broken, broken_stub) = stub(Behaviour::Status(500)).await;
    let farm = farm(&[&broken], 2).await;
    let err = farm.run(scrape()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.message.contains("stub says 500"), "{err}");
    assert_eq!(
        breaker_of(&farm.status().await, &broken),
        "closed",
        "one failure of two"
    );
    farm.run(scrape()).await.unwrap_err();
    assert_eq!(breaker_of(&farm.status().await, &broken), "open");
    let before = broken_stub.jobs.load(Ordering::SeqCst);
    let err = farm.run(scrape()).await.unwrap_err();
    assert!(err.message.contains("breaker open"), "{err}");
    assert_eq!(
        broken_stub.jobs.load(Ordering::SeqCst),
        before,
        "an open breaker sends nothing"
    );
}

/// A group's jobs sent one after another stay on one node (its warm tabs), jobs
/// without a group spread, and a group's jobs running side by side spread too.
#[tokio::test]
async fn a_groups_jobs_one_at_a_time_stay_on_one_node_and_side_by_side_spread() {
    let mut stubs = Vec::new();
    for _ in 0..3 {
        stubs.push(stub(Behaviour::Slow).await);
    }
    let urls: Vec<&str> = stubs.iter().map(|(u, _)| u.as_str()).collect();
    let farm = farm(&urls, 5).await;
    let counts = || -> Vec<usize> {
        stubs
            .iter()
            .map(|(_, s)| s.jobs.swap(0, Ordering::SeqCst))
            .collect()
    };
    let grouped = || {
        let mut job = scrape();
        job.group = Some("batch-1".into());
        job
    };
    for _ in 0..6 {
        farm.run(grouped()).await.unwrap();
    }
    let sequential = counts();
    assert!(sequential.contains(&6), "one at a time: {sequential:?}");
    // Random placement puts all 12 on one of 3 nodes once in 177,147 runs.
    for _ in 0..12 {
        farm.run(scrape()).await.unwrap();
    }
    let ungrouped = counts();
    assert!(!ungrouped.contains(&12), "without a group: {ungrouped:?}");
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (farm, job) = (farm.clone(), grouped());
        running.spawn(async move { farm.run(job).await.unwrap() });
    }
    running.join_all().await;
    let side_by_side = counts();
    assert!(
        side_by_side.iter().filter(|&&n| n > 0).count() >= 2,
        "side by side: {side_by_side:?}"
    );
    farm.shutdown().await;
}

fn opened(stubs: &[&Arc<Stub>]) -> Vec<usize> {
    stubs
        .iter()
        .map(|s| s.sessions.load(Ordering::SeqCst))
        .collect()
}

/// New sessions go to the node with the most free slots, by what nodes report
/// and what the gateway placed since; full nodes are not even asked, and when
/// all are full the error says so.
#[tokio::test]
async fn sessions_go_where_most_slots_are_free_and_skip_full_nodes() {
    let (full_url, full) = session_stub(Some(2), 2).await;
    let (small_url, small) = session_stub(Some(1), 0).await;
    let (big_url, big) = session_stub(Some(2), 0).await;
    let farm = farm(&[&full_url, &small_url, &big_url], 5).await;
    let anywhere = Default::default();
    let open = || farm.open_session(&anywhere, &anywhere, SessionScope::Connection);

    let first = open().await.unwrap();
    assert_eq!(opened(&[&full, &small, &big]), [2, 0, 1], "2 free beat 1");
    open().await.unwrap();
    open().await.unwrap();
    assert_eq!(opened(&[&full, &small, &big]), [2, 1, 2]);
    assert_eq!(full.session_calls.load(Ordering::SeqCst), 0);

    let err = open().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    let name = |url: &str| url.trim_start_matches("http://").to_owned();
    let expected = format!(
        "no farm node has room for another browser session (3 nodes, all full: {} 2/2, {} \
         1/1, {} 2/2 sessions)",
        name(&full_url),
        name(&small_url),
        name(&big_url)
    );
    assert!(err.message.starts_with(&expected), "{err}");
    assert!(
        err.message.contains("waited 0.3 s in the gateway queue"),
        "{err}"
    );
    let calls = |s: &Stub| s.session_calls.load(Ordering::SeqCst);
    assert_eq!(
        (calls(&full), calls(&small), calls(&big)),
        (0, 1, 2),
        "no node was asked for the session none has room for"
    );

    // A closed session frees its slot at once, before any health check.
    farm.close_session(&first).await.unwrap();
    open().await.unwrap();
    assert_eq!(opened(&[&full, &small, &big]), [2, 1, 2]);
    assert_eq!(calls(&big), 3);
    farm.shutdown().await;
}

/// A node that does not report session slots (an older agent) still takes
/// sessions, after the nodes that say they have room.
#[tokio::test]
async fn nodes_that_do_not_report_session_slots_still_take_sessions() {
    let (old_url, old) = session_stub(None, 0).await;
    let (new_url, new) = session_stub(Some(1), 0).await;
    let farm = farm(&[&old_url, &new_url], 5).await;
    farm.open_session(
        &Default::default(),
        &Default::default(),
        SessionScope::Connection,
    )
    .await
    .unwrap();
    assert_eq!(opened(&[&old, &new]), [0, 1], "room reported beats none");
    for _ in 0..2 {
        farm.open_session(
            &Default::default(),
            &Default::default(),
            SessionScope::Connection,
        )
        .await
        .unwrap();
    }
    assert_eq!(opened(&[&old, &new]), [2, 1]);
    assert_eq!(new.session_calls.load(Ordering::SeqCst), 1);
    farm.shutdown().await;
}

/// A node short of memory (it refuses new sessions) gets no new sessions or
/// one-off jobs while another node can take them, and work again when every
/// node is short: a farm under pressure still serves.
#[tokio::test]
async fn nodes_short_of_memory_get_new_work_only_when_all_are() {
    let (low_url, low) = session_stub(Some(10), 0).await;
    low.pressure.store(true, Ordering::SeqCst);
    let (ok_url, ok) = session_stub(Some(10), 0).await;
    let farm = farm(&[&low_url, &ok_url], 5).await;
    let anywhere = Default::default();
    for _ in 0..4 {
        farm.open_session(&anywhere, &anywhere, SessionScope::Connection)
            .await
            .unwrap();
        farm.run(scrape()).await.unwrap();
    }
    assert_eq!(opened(&[&low, &ok]), [0, 4]);
    assert_eq!(low.jobs.load(Ordering::SeqCst), 0);
    assert_eq!(ok.jobs.load(Ordering::SeqCst), 4);
    let status = farm.status().await;
    let low_status = status
        .nodes
        .iter()
        .find(|n| low_url.ends_with(&n.name))
        .unwrap();
    assert!(low_status.memory_pressure, "{status:?}");
    farm.shutdown().await;

    ok.pressure.store(true, Ordering::SeqCst);
    let farm = self::farm(&[&low_url, &ok_url], 5).await;
    for _ in 0..8 {
        farm.run(scrape()).await.unwrap();
    }
    assert!(low.jobs.load(Ordering::SeqCst) > 0, "all short: both serve");
    farm.shutdown().await;
}

/// A heartbeat's figures count at once: a registered node whose heartbeat says
/// it is short of memory gets no new work before its next health check (its
/// `/health` here still says it is fine), and work again when a heartbeat says
/// it has room.
#[tokio::test]
async fn heartbeat_figures_steer_placement_before_the_next_health_check() {
    let (a_url, a) = session_stub(Some(10), 0).await;
    let (b_url, b) = session_stub(Some(10), 0).await;
    let farm = FarmExecutor::start(
        FarmConfig {
            health_interval: Duration::from_secs(3600),
            ..FarmConfig::default()
        },
        None,
    )
    .await
    .unwrap();
    let beat = |url: &str, pressure: bool| Registration {
        url: url.to_owned(),
        heartbeat_secs: 60,
        weight: None,
        resources: Some(Resources {
            memory_pressure: Some(pressure),
            ..Default::default()
        }),
    };
    for url in [&a_url, &b_url] {
        assert!(farm.register(&beat(url, false)).await.unwrap(), "new node");
    }
    assert!(
        !farm.register(&beat(&a_url, true)).await.unwrap(),
        "a heartbeat"
    );
    let anywhere = Default::default();
    for _ in 0..4 {
        farm.open_session(&anywhere, &anywhere, SessionScope::Connection)
            .await
            .unwrap();
        farm.run(scrape()).await.unwrap();
    }
    assert_eq!(opened(&[&a, &b]), [0, 4]);
    assert_eq!(a.jobs.load(Ordering::SeqCst), 0);
    let status = farm.status().await;
    let a_status = status.nodes.iter().find(|n| a_url.ends_with(&n.name));
    assert!(a_status.unwrap().memory_pressure, "{status:?}");

    farm.register(&beat(&a_url, false)).await.unwrap();
    for _ in 0..8 {
        farm.run(scrape()).await.unwrap();
    }
    assert!(a.jobs.load(Ordering::SeqCst) > 0, "room again: a serves");
    farm.shutdown().await;
}

async fn regional_farm(nodes: &[(&str, &str)], rules: Vec<HostRule>) -> Arc<FarmExecutor> {
    let farm = FarmExecutor::start(
        FarmConfig {
            nodes: nodes
                .iter()
                .map(|(url, region)| NodeSpec {
                    url: url.to_string(),
                    token: None,
                    weight: 1.0,
                    tags: [("region".to_owned(), region.to_string())].into(),
                    server_name: None,
                })
                .collect(),
            breaker: BreakerConfig {
                failure_threshold: 1,
                open_for: Duration::from_secs(60),
            },
            job_timeout: Duration::from_millis(500),
            rules,
            ..FarmConfig::default()
        },
        None,
    )
    .await
    .unwrap();
    let farm = Arc::new(farm);
    farm.watch();
    farm
}

fn scrape_of(url: &str) -> Job {
    Job::new(
        None,
        Operation::Scrape(ScrapeArgs {
            url: Some(url.into()),
            ..Default::default()
        }),
    )
}

fn notes(output: &JobOutput) -> Vec<String> {
    match output {
        JobOutput::Scraped(s) => s.page.notes.clone(),
        other => panic!("unexpected {other:?}"),
    }
}

/// `prefer_tags` (or a host rule) keeps jobs and sessions on a region's nodes
/// while one is up; with the region down they run elsewhere and say where.
#[tokio::test]
async fn preferred_regions_are_used_while_up_and_the_fallback_says_so() {
    let (eu_url, eu) = session_stub(Some(10), 0).await;
    let (us_url, us) = stub(Behaviour::Ok).await;
    let rules = vec![HostRule {
        hosts: vec!["*.de".into()],
        prefer: [("region".to_owned(), "eu".to_owned())].into(),
    }];
    let farm = regional_farm(&[(&eu_url, "eu"), (&us_url, "us")], rules).await;
    let eu_tags: NodeTags = [("region".to_owned(), "eu".to_owned())].into();
    for _ in 0..4 {
        let out = farm
            .run(scrape().preferring(eu_tags.clone()))
            .await
            .unwrap();
        assert!(notes(&out).is_empty(), "{:?}", notes(&out));
        farm.run(scrape_of("http://shop.example.de/"))
            .await
            .unwrap();
    }
    assert_eq!(
        eu.jobs.load(Ordering::SeqCst),
        8,
        "all on the preferred region"
    );
    assert_eq!(us.jobs.load(Ordering::SeqCst), 0);
    farm.open_session(&NodeTags::new(), &eu_tags, SessionScope::Connection)
        .await
        .unwrap();
    assert_eq!(eu.sessions.load(Ordering::SeqCst), 1);

    // The region goes down: its one node fails every job.
    let (down_url, _down) = stub(Behaviour::Status(500)).await;
    let farm = regional_farm(&[(&down_url, "eu"), (&us_url, "us")], Vec::new()).await;
    let out = farm
        .run(scrape().preferring(eu_tags.clone()))
        .await
        .unwrap();
    let said = notes(&out);
    let us_name = us_url.trim_start_matches("http://");
    assert_eq!(
        said,
        [format!(
            "Ran on node {us_name}: no node with region=eu could take it."
        )]
    );
    assert_eq!(us.jobs.load(Ordering::SeqCst), 1);
    // Required tags still bind: no fallback outside them.
    let only_eu = farm
        .run(scrape().with_placement(eu_tags.clone(), Default::default()))
        .await;
    assert!(only_eu.is_err());
    farm.shutdown().await;
}
