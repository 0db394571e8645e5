//! Gateway dispatch overhead against in-process stub nodes (no browsers).
//!
//! Run: `cargo run --release -p browserfarm-gateway --example dispatch [-- JOBS]`
//!
//! Three stub nodes on 127.0.0.1 answer `/health` and `/v1/jobs` at once with a
//! canned result, so what is measured is the gateway: placement, breaker, HTTP/JSON
//! to the node and back. Prints a markdown table: sequential latency (p50/p99) and
//! throughput with 64 jobs in flight.
//!
//! Then farm scaling where the CPU is not the limit: 1 to 32 stub nodes, each
//! taking [`SCALE_JOB`] per job and reporting capacity [`SCALE_CAPACITY`], behind
//! the gateway's admission queue (as `browserfarm mcp` runs it), with far more
//! jobs submitted than the farm can run at once. A second table gives jobs/s
//! against the ideal (nodes × capacity / job time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use browserfarm_gateway::{Executor, FarmConfig, FarmExecutor, NodeSpec, QueueConfig, Queued};
use browserfarm_protocol::{
    Health, Job, JobOutput, Operation, PageInfo, ScrapeArgs, ScrapeFormat, Scraped,
};

/// Time a scaling stub node takes per job.
const SCALE_JOB: Duration = Duration::from_millis(100);
/// Jobs a scaling stub node reports it runs at once.
const SCALE_CAPACITY: usize = 4;

/// A stub node answering each job after `delay`, reporting `capacity`.
async fn stub_node(delay: Duration, capacity: usize) -> String {
    let health = move || async move {
        Json(Health {
            status: "ok".into(),
            version: "stub".into(),
            arch: std::env::consts::ARCH.into(),
            tags: Default::default(),
            capacity,
            in_flight: 0,
            queued: 0,
            max_queue: 64,
            browsers_active: 0,
            browsers_idle: 0,
            sessions: 0,
            sessions_max: None,
            sessions_free: None,
            memory_available: None,
            memory_pressure: None,
            cpu_load_pct: None,
            uptime_secs: 0,
            instance: None,
        })
    };
    let job = move |Json(_job): Json<Job>| async move {
        // Even a zero sleep would wait for the timer's next millisecond tick.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Json(JobOutput::Scraped(Scraped {
            page: PageInfo {
                url: "http://stub/".into(),
                status: Some(200),
                title: "stub".into(),
                notes: vec![],
                changes: None,
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
    let farm = Arc::new(stub_farm(3, Duration::ZERO, 64).await);

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

    println!();
    println!(
        "| stub nodes ({} ms a job, capacity {SCALE_CAPACITY}) | jobs | jobs/s | ideal jobs/s | of ideal |",
        SCALE_JOB.as_millis()
    );
    println!("|---:|---:|---:|---:|---:|");
    for nodes in [1, 2, 4, 8, 16, 32] {
        let farm: Arc<dyn Executor> = Arc::new(stub_farm(nodes, SCALE_JOB, SCALE_CAPACITY).await);
        // Ten waves of jobs, all submitted at once: the queue holds the rest.
        let jobs = nodes * SCALE_CAPACITY * 10;
        let queued = Arc::new(Queued::new(
            farm.clone(),
            QueueConfig {
                max_queue: jobs,
                ..QueueConfig::default()
            },
            move || nodes * SCALE_CAPACITY,
        ));
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..jobs {
            let queued = queued.clone();
            set.spawn(async move { queued.run(job(i)).await.unwrap() });
        }
        while set.join_next().await.is_some() {}
        let rate = jobs as f64 / started.elapsed().as_secs_f64();
        let ideal = (nodes * SCALE_CAPACITY) as f64 / SCALE_JOB.as_secs_f64();
        println!(
            "| {nodes} | {jobs} | {rate:.0} | {ideal:.0} | {:.0} % |",
            100.0 * rate / ideal
        );
        farm.shutdown().await;
    }
}

/// A farm of `count` stub nodes.
async fn stub_farm(count: usize, delay: Duration, capacity: usize) -> FarmExecutor {
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(NodeSpec {
            url: stub_node(delay, capacity).await,
            token: None,
            weight: 1.0,
            tags: Default::default(),
            server_name: None,
        });
    }
    FarmExecutor::start(
        FarmConfig {
            nodes,
            ..FarmConfig::default()
        },
        None,
    )
    .await
    .unwrap()
}
