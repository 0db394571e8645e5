//! Prometheus metrics: the series' names in one place, the helpers that record
//! events where they happen (tool calls, jobs per node), and [`Exposition`],
//! which samples the gauges that are states rather than events (nodes, breakers,
//! queue, browsers, host CPU and memory) at scrape time and renders the text.
//!
//! Recording goes through the `metrics` facade: without an installed recorder
//! (library tests, embedders) every macro is a no-op. The binary installs the
//! Prometheus recorder and hands its handle to [`Exposition`]; the HTTP routes
//! that serve it (gateway, agent, stdio-mode listener) only call
//! [`Exposition::render`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use browserfarm_protocol::{ErrorKind, FarmStatus};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::queue::Admission;
use crate::{Executor, LocalExecutor, bearer_matches};

pub const TOOL_CALLS: &str = "browserfarm_tool_calls_total";
pub const TOOL_DURATION: &str = "browserfarm_tool_duration_seconds";
pub const JOBS: &str = "browserfarm_jobs_total";
pub const JOB_DURATION: &str = "browserfarm_job_duration_seconds";
pub const ACTIVE_BROWSERS: &str = "browserfarm_active_browsers";
pub const BROWSER_CONTEXTS: &str = "browserfarm_browser_contexts";
pub const PAGES_SCRAPED: &str = "browserfarm_pages_scraped_total";
pub const SCREENSHOTS: &str = "browserfarm_screenshots_total";
pub const ERRORS: &str = "browserfarm_errors_total";
pub const NODE_UP: &str = "browserfarm_node_up";
pub const BREAKER_STATE: &str = "browserfarm_breaker_state";
pub const QUEUE_DEPTH: &str = "browserfarm_queue_depth";
pub const CACHE_HITS: &str = "browserfarm_cache_hits_total";
pub const CACHE_MISSES: &str = "browserfarm_cache_misses_total";
pub const NODE_CPU: &str = "browserfarm_node_cpu_percent";
pub const NODE_MEMORY_USED: &str = "browserfarm_node_memory_used_bytes";
pub const NODE_MEMORY_TOTAL: &str = "browserfarm_node_memory_total_bytes";

/// Suffix of the histograms, for the recorder's bucket configuration.
pub const DURATION_SUFFIX: &str = "_duration_seconds";

/// Histogram buckets for tool and job durations, in seconds: a read is tens of
/// milliseconds, a slow page load tens of seconds, a batch minutes.
pub const DURATION_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// `Content-Type` of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Adds HELP text for every series and makes the unlabelled ones appear at zero,
/// so dashboards and alerts see them before the first event.
pub fn describe() {
    describe_counter!(TOOL_CALLS, "MCP tool calls by tool and status (ok, error).");
    describe_histogram!(
        TOOL_DURATION,
        metrics::Unit::Seconds,
        "MCP tool call duration."
    );
    describe_counter!(
        JOBS,
        "Jobs run per node and status (ok, failed, busy, node_failed, unauthorized)."
    );
    describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "Job duration per node."
    );
    describe_gauge!(
        ACTIVE_BROWSERS,
        "Chromium processes running in this process's pool."
    );
    describe_gauge!(
        BROWSER_CONTEXTS,
        "Browser contexts held for sessions in this process's pool."
    );
    describe_counter!(PAGES_SCRAPED, "Pages read by scrape and batch_scrape.");
    describe_counter!(SCREENSHOTS, "Screenshots taken.");
    describe_counter!(ERRORS, "Failed tool calls and batch pages by error kind.");
    describe_gauge!(
        NODE_UP,
        "1 when the node's last health check passed, else 0."
    );
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker per node: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Jobs waiting at the gateway for a free browser."
    );
    describe_counter!(CACHE_HITS, "Results served from the result cache.");
    describe_counter!(
        CACHE_MISSES,
        "Cacheable calls that ran because nothing was cached."
    );
    describe_gauge!(NODE_CPU, "CPU use of this host, all cores, in percent.");
    describe_gauge!(
        NODE_MEMORY_USED,
        metrics::Unit::Bytes,
        "Memory in use on this host."
    );
    describe_gauge!(
        NODE_MEMORY_TOTAL,
        metrics::Unit::Bytes,
        "Memory installed on this host."
    );
    for name in [PAGES_SCRAPED, SCREENSHOTS, CACHE_HITS, CACHE_MISSES] {
        counter!(name).increment(0);
    }
}

/// One finished MCP tool call (`error` is its kind when it failed).
pub fn tool_call(tool: &'static str, error: Option<ErrorKind>, elapsed: Duration) {
    let status = if error.is_some() { "error" } else { "ok" };
    counter!(TOOL_CALLS, "tool" => tool, "status" => status).increment(1);
    histogram!(TOOL_DURATION, "tool" => tool).record(elapsed.as_secs_f64());
    if let Some(kind) = error {
        self::error(kind);
    }
}

/// One failure, by kind (a tool call or one page of a batch).
pub fn error(kind: ErrorKind) {
    counter!(ERRORS, "kind" => kind.as_str()).increment(1);
}

/// Jobs waiting for a slot, for front ends whose queue is not an [`Admission`]
/// (an agent's admission control).
pub fn queue_depth(waiting: usize) {
    gauge!(QUEUE_DEPTH).set(waiting as f64);
}

pub fn cache_hit() {
    counter!(CACHE_HITS).increment(1);
}

pub fn cache_miss() {
    counter!(CACHE_MISSES).increment(1);
}

pub fn page_scraped() {
    counter!(PAGES_SCRAPED).increment(1);
}

pub fn screenshot_taken() {
    counter!(SCREENSHOTS).increment(1);
}

/// One job run on `node` (a farm member's name, or "local" for the pool).
pub fn job(node: &str, status: &'static str, elapsed: Duration) {
    counter!(JOBS, "node" => node.to_owned(), "status" => status).increment(1);
    histogram!(JOB_DURATION, "node" => node.to_owned()).record(elapsed.as_secs_f64());
}

/// The breaker state as the metric's number.
fn breaker_number(state: &str) -> f64 {
    match state {
        "half_open" => 1.0,
        "open" => 2.0,
        _ => 0.0,
    }
}

fn record_farm(status: &FarmStatus) {
    for node in &status.nodes {
        let up = if node.state == "up" { 1.0 } else { 0.0 };
        gauge!(NODE_UP, "node" => node.name.clone()).set(up);
        gauge!(BREAKER_STATE, "node" => node.name.clone()).set(breaker_number(&node.breaker));
    }
}

/// Host CPU and memory. CPU use is a difference between two readings, so the
/// first reading is taken at construction and later ones at most once per
/// sysinfo's minimum interval (a faster scrape reuses the last values).
struct Host {
    system: sysinfo::System,
    read_at: Instant,
}

impl Host {
    fn new() -> Host {
        let mut system = sysinfo::System::new();
        system.refresh_cpu_usage();
        system.refresh_memory();
        Host {
            system,
            read_at: Instant::now(),
        }
    }

    fn record(&mut self) {
        if self.read_at.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            self.system.refresh_cpu_usage();
            self.system.refresh_memory();
            self.read_at = Instant::now();
        }
        gauge!(NODE_CPU).set(f64::from(self.system.global_cpu_usage()));
        gauge!(NODE_MEMORY_USED).set(self.system.used_memory() as f64);
        gauge!(NODE_MEMORY_TOTAL).set(self.system.total_memory() as f64);
    }
}

/// What a `/metrics` route serves: the recorder's handle plus the sources of the
/// sampled gauges. Reading them is cheap (in-memory states, two /proc files), so
/// they are read on every scrape and never stale.
pub struct Exposition {
    handle: PrometheusHandle,
    executor: Option<Arc<dyn Executor>>,
    local: Option<Arc<LocalExecutor>>,
    admission: Option<Arc<Admission>>,
    host: Mutex<Host>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("executor", &self.executor.is_some())
            .field("local", &self.local.is_some())
            .field("admission", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

impl Exposition {
    pub fn new(handle: PrometheusHandle) -> Exposition {
        Exposition {
            handle,
            executor: None,
            local: None,
            admission: None,
            host: Mutex::new(Host::new()),
        }
    }

    /// Node up/down and breaker states come from this executor's status.
    pub fn with_executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Browsers and contexts come from this process's pool.
    pub fn with_local(mut self, local: Arc<LocalExecutor>) -> Self {
        self.local = Some(local);
        self
    }

    /// Queue depth comes from the gateway's admission queue.
    pub fn with_admission(mut self, admission: Arc<Admission>) -> Self {
        self.admission = Some(admission);
        self
    }

    /// Samples the gauges, then renders every series in the text format.
    pub async fn render(&self) -> String {
        if let Some(executor) = &self.executor {
            record_farm(&executor.status().await);
        }
        if let Some(local) = &self.local {
            let pool = local.pool().status();
            gauge!(ACTIVE_BROWSERS).set(pool.running as f64);
            gauge!(BROWSER_CONTEXTS).set(local.status().await.sessions as f64);
        }
        if let Some(admission) = &self.admission {
            queue_depth(admission.queued());
        }
        self.host.lock().unwrap_or_else(|e| e.into_inner()).record();
        self.handle.render()
    }

    /// Histograms buffer samples until upkeep folds them in; the binary calls
    /// this periodically so memory stays bounded when nobody scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The `/metrics` response.
    pub async fn response(&self) -> Response {
        ([(header::CONTENT_TYPE, TEXT_FORMAT)], self.render().await).into_response()
    }
}

#[derive(Clone)]
struct Served {
    exposition: Arc<Exposition>,
    token: Option<Arc<str>>,
}

/// A router serving only `GET /metrics`, for a listener of its own (stdio mode's
/// `--metrics-listen`). Behind the bearer token when one is set, like every other
/// route but `/health`.
pub fn metrics_router(exposition: Arc<Exposition>, token: Option<String>) -> Router {
    let served = Served {
        exposition,
        token: token.map(Arc::from),
    };
    Router::new()
        .route("/metrics", get(serve))
        .layer(middleware::from_fn_with_state(
            served.clone(),
            require_token,
        ))
        .with_state(served)
}

async fn serve(State(served): State<Served>) -> Response {
    served.exposition.response().await
}

async fn require_token(State(served): State<Served>, request: Request, next: Next) -> Response {
    match &served.token {
        Some(token) if !bearer_matches(request.headers(), token) => (
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token for /metrics\n",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    fn exposition() -> Arc<Exposition> {
        // A local recorder: the global one is the binary's to install.
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            tool_call("scrape", None, Duration::from_millis(30));
            tool_call("scrape", Some(ErrorKind::Timeout), Duration::from_secs(1));
        });
        Arc::new(Exposition::new(handle))
    }

    async fn get(app: Router, token: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::get("/metrics");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn tool_calls_are_counted_by_tool_and_status() {
        let (status, text) = get(metrics_router(exposition(), None), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains(r#"browserfarm_tool_calls_total{tool="scrape",status="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"browserfarm_errors_total{kind="timeout"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_token_guards_metrics_when_set() {
        let app = metrics_router(exposition(), Some("s3cret".into()));
        assert_eq!(get(app.clone(), None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(app.clone(), Some("wrong")).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(get(app, Some("s3cret")).await.0, StatusCode::OK);
    }

    #[test]
    fn breaker_states_map_to_their_documented_numbers() {
        assert_eq!(breaker_number("closed"), 0.0);
        assert_eq!(breaker_number("half_open"), 1.0);
        assert_eq!(breaker_number("open"), 2.0);
    }
}
