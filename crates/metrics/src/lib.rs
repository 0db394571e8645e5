//! browserfarm's Prometheus metrics: the series' names in one place, the helpers
//! that record events where they happen (tool calls, jobs per node), and
//! [`Exposition`], which samples the gauges that are states rather than events
//! (nodes, breakers, queue, browsers, host CPU and memory) at scrape time and
//! renders the text.
//!
//! Recording goes through the `metrics` facade: without an installed recorder
//! (library tests, embedders) every macro is a no-op. The binary installs the
//! Prometheus recorder and hands its handle to [`Exposition`]; the HTTP routes
//! that serve it (gateway, agent, stdio-mode listener) only call
//! [`Exposition::render`].
//!
//! **Architecture invariant:** this crate knows series, not where their values
//! come from: no executors, pools or queues (the gateway records into it, so it
//! cannot depend on the gateway) and no HTTP. What a scrape samples is handed in
//! as [`Gauges`], which the owners of those states implement.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browserfarm_protocol::{ErrorKind, FarmStatus};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::PrometheusHandle;

pub const TOOL_CALLS: &str = "browserfarm_tool_calls_total";
pub const TOOL_DURATION: &str = "browserfarm_tool_duration_seconds";
pub const PRINCIPAL_CALLS: &str = "browserfarm_principal_calls_total";
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
pub const SESSIONS_MOVED: &str = "browserfarm_sessions_moved_total";
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
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Adds HELP text for every series and makes the unlabelled ones appear at zero,
/// so dashboards and alerts see them before the first event.
pub fn describe() {
    describe_counter!(TOOL_CALLS, "MCP tool calls by tool and status (ok, error).");
    describe_counter!(
        PRINCIPAL_CALLS,
        "MCP tool calls by principal: the name of the token presented (--tokens-file, or \
         default for --token); as many series as the tokens file has names."
    );
    describe_histogram!(
        TOOL_DURATION,
        metrics::Unit::Seconds,
        "MCP tool call duration."
    );
    describe_counter!(
        JOBS,
        "Jobs run per node and status (ok, failed, busy, cut_off, node_failed, unauthorized)."
    );
    describe_counter!(
        SESSIONS_MOVED,
        "Sessions moved off a node to another, per node and reason (down, cut_off, \
         restarted, failed, unknown_session, tags)."
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

/// One tool call of `principal` (bounded: the names are the operator's).
pub fn principal_call(principal: &str) {
    counter!(PRINCIPAL_CALLS, "principal" => principal.to_owned()).increment(1);
}

/// One failure, by kind (a tool call or one page of a batch).
pub fn error(kind: ErrorKind) {
    counter!(ERRORS, "kind" => kind.as_str()).increment(1);
}

/// Jobs waiting for a slot (the gateway's admission queue, an agent's admission
/// control).
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

/// A session moved off `node` for `reason` (a short fixed word).
pub fn session_moved(node: &str, reason: &'static str) {
    counter!(SESSIONS_MOVED, "node" => node.to_owned(), "reason" => reason).increment(1);
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

/// Up/down and breaker state of every node in a farm's status.
pub fn nodes(status: &FarmStatus) {
    for node in &status.nodes {
        let up = if node.state == "up" { 1.0 } else { 0.0 };
        gauge!(NODE_UP, "node" => node.name.clone()).set(up);
        gauge!(BREAKER_STATE, "node" => node.name.clone()).set(breaker_number(&node.breaker));
    }
}

/// Chromium processes running in this process's pool, and the browser contexts
/// held for sessions.
pub fn browsers(running: usize, contexts: usize) {
    gauge!(ACTIVE_BROWSERS).set(running as f64);
    gauge!(BROWSER_CONTEXTS).set(contexts as f64);
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

/// A state some gauges show (a farm's nodes, a pool, a queue), read on every
/// scrape so the gauges are never stale. Implemented where the state lives; an
/// implementation sets its gauges through the helpers of this crate.
#[async_trait::async_trait]
pub trait Gauges: Send + Sync {
    /// Reads the state and sets the gauges. Called once per scrape, so it must be
    /// cheap (in-memory states, not network calls).
    async fn sample(&self);
}

/// What a `/metrics` route serves: the recorder's handle plus the sources of the
/// sampled gauges. Reading them is cheap (in-memory states, two /proc files), so
/// they are read on every scrape and never stale.
pub struct Exposition {
    handle: PrometheusHandle,
    gauges: Vec<Arc<dyn Gauges>>,
    host: Mutex<Host>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("gauges", &self.gauges.len())
            .finish_non_exhaustive()
    }
}

impl Exposition {
    pub fn new(handle: PrometheusHandle) -> Exposition {
        Exposition {
            handle,
            gauges: Vec::new(),
            host: Mutex::new(Host::new()),
        }
    }

    /// Samples `gauges` on every scrape, after the sources added before it.
    pub fn with_gauges(mut self, gauges: Arc<dyn Gauges>) -> Self {
        self.gauges.push(gauges);
        self
    }

    /// Samples the gauges, then renders every series in the text format
    /// ([`TEXT_FORMAT`]).
    pub async fn render(&self) -> String {
        for gauges in &self.gauges {
            gauges.sample().await;
        }
        self.host.lock().unwrap_or_else(|e| e.into_inner()).record();
        self.handle.render()
    }

    /// Histograms buffer samples until upkeep folds them in; the binary calls
    /// this periodically so memory stays bounded when nobody scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    struct Queue(usize);

    #[async_trait::async_trait]
    impl Gauges for Queue {
        async fn sample(&self) {
            queue_depth(self.0);
        }
    }

    #[tokio::test]
    async fn gauges_are_sampled_at_scrape_time() {
        // A local recorder: the global one is the binary's to install. The test
        // runtime has one thread, so the sampling runs where the recorder is set.
        let recorder = PrometheusBuilder::new().build_recorder();
        let _local = metrics::set_default_local_recorder(&recorder);
        let exposition = Exposition::new(recorder.handle()).with_gauges(Arc::new(Queue(3)));
        let text = exposition.render().await;
        assert!(text.contains("browserfarm_queue_depth 3"), "{text}");
        assert!(
            text.contains("browserfarm_node_memory_total_bytes"),
            "{text}"
        );
    }

    #[test]
    fn breaker_states_map_to_their_documented_numbers() {
        assert_eq!(breaker_number("closed"), 0.0);
        assert_eq!(breaker_number("half_open"), 1.0);
        assert_eq!(breaker_number("open"), 2.0);
    }
}
