//! `FarmExecutor` against in-process stub nodes on 127.0.0.1 that misbehave on
//! purpose: failures are retried elsewhere, busy nodes are skipped without counting
//! against them, hung nodes time out, and breakers open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use browserfarm_gateway::{BreakerConfig, Executor, FarmConfig, FarmExecutor, NodeSpec};
use browserfarm_protocol::{
    ErrorKind, Health, Job, JobError, JobOutput, Operation, PageInfo, ScrapeArgs, ScrapeFormat,
    Scraped,
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
}

async fn health() -> Json<Health> {
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
        sessions: 0,
        sessions_max: None,
        sessions_free: None,
        memory_available: None,
        uptime_secs: 0,
    })
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
    let state = Arc::new(Stub {
        behaviour,
        jobs: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/health", get(health))
        .route("/v1/jobs", post(job))
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
                })
                .collect(),
            breaker: BreakerConfig {
                failure_threshold: failures,
                open_for: Duration::from_secs(60),
            },
            job_timeout: Duration::from_millis(500),
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
