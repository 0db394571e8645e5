//! Gateway dispatch overhead against in-process stub nodes (no browsers).
//!
//! Run: `cargo run --release -p browserfarm-gateway --example dispatch [-- JOBS]`
//!
//! Three stub nodes on 127.0.0.1 answer `/health` and `/v1/jobs` at once with a
//! canned result, so what is measured is the gateway: placement, breaker, HTTP/JSON
//! to the node and back. Prints a markdown table: sequential latency (p50/p99) and
//! throughput with 64 jobs in flight.

use std::sync::Arc;
use std::time::Instant;

use axum::routing::{get, post};
use axum::{Json, Router};
use browserfarm_gateway::{Executor, FarmConfig, FarmExecutor, NodeSpec};
use browserfarm_protocol::{
    Health, Job, JobOutput, Operation, PageInfo, ScrapeArgs, ScrapeFormat, Scraped,
};

async fn stub_node() -> String {
    let health = || async {
        Json(Health {
            status: "ok".into(),
            version: "stub".into(),
            arch: std::env::consts::ARCH.into(),
            tags: Default::default(),
            capacity: 64,
            in_flight: 0,
            queued: 0,
            max_queue: 64,
            browsers_active: 0,
            browsers_idle: 0,
            sessions: 0,
            uptime_secs: 0,
        })
    };
    let job = |Json(_job): Json<Job>| async {
        Json(JobOutput::Scraped(Scraped {
            page: PageInfo {
                url: "http://stub/".into(),
                status: Some(200),
                title: "stub".into(),
                notes: vec![],
            },
            format: ScrapeFormat::Markdown,
            content: "stub content ".repeat(100),
            truncated_chars: 0,
        }))
    };
    let app = Router::new()
        .route("/health", get(health))
        .route("/v1/jobs", post(job));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn job(i: usize) -> Job {
    Job::new(
        None,
        Operation::Scrape(ScrapeArgs {
            url: Some(format!("http://127.0.0.1/{i}")),
            ..Default::default()
        }),
    )
}

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(NodeSpec {
            url: stub_node().await,
            token: None,
            weight: 1.0,
            tags: Default::default(),
        });
    }
    let farm = Arc::new(
        FarmExecutor::start(
            FarmConfig {
                nodes,
                ..FarmConfig::default()
            },
            None,
        )
        .await
        .unwrap(),
    );

    for i in 0..200 {
        farm.run(job(i)).await.unwrap();
    }
    let mut samples = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let started = Instant::now();
        farm.run(job(i)).await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: usize| samples[(samples.len() - 1) * p / 100];

    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let in_flight = 64;
    for worker in 0..in_flight {
        let farm = farm.clone();
        set.spawn(async move {
            for i in (worker..jobs).step_by(in_flight) {
                farm.run(job(i)).await.unwrap();
            }
        });
    }
    while set.join_next().await.is_some() {}
    let rate = jobs as f64 / started.elapsed().as_secs_f64();

    println!("| gateway dispatch, 3 stub nodes, {jobs} jobs | value |");
    println!("|---|---:|");
    println!("| sequential p50 | {:.0} µs |", pct(50));
    println!("| sequential p99 | {:.0} µs |", pct(99));
    println!("| throughput, {in_flight} in flight | {rate:.0} jobs/s |");
    farm.shutdown().await;
}
