//! `FarmExecutor`: jobs run on agent nodes over HTTP.
//!
//! Placement: among nodes that are up and whose breaker lets a call through, two
//! are drawn at random and the less loaded one (in-flight per weighted capacity)
//! wins: power of two choices, which spreads load without a global view.
//! Sessions are sticky: a session lives on one node and every job of it goes there.
//! Failures: a stateless job is retried on other nodes (up to `attempts`, jittered
//! backoff; a busy node is skipped without counting against it); a session whose
//! node failed is re-created elsewhere and the caller is told its page state is
//! gone. Nothing is dropped silently: every job ends in a result or an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use browserfarm_protocol::{
    ErrorKind, FarmStatus, Health, Job, JobError, JobOutput, NodeStatus, SessionId,
};
use rand::Rng;

use crate::Executor;
use crate::breaker::{Breaker, BreakerConfig};
use crate::remote::{CallError, NodeClient};

/// One node as configured.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub url: String,
    pub token: Option<String>,
    /// Relative share of load (default 1.0).
    pub weight: f64,
}

/// Farm settings; every field is a documented flag of `browserfarm mcp`.
#[derive(Debug, Clone)]
pub struct FarmConfig {
    pub nodes: Vec<NodeSpec>,
    pub breaker: BreakerConfig,
    /// How often each node's `/health` is polled.
    pub health_interval: Duration,
    /// Deadline for one job on a node, network included.
    pub job_timeout: Duration,
    /// Tries for a stateless job, each on a different node.
    pub attempts: usize,
}

impl Default for FarmConfig {
    fn default() -> Self {
        FarmConfig {
            nodes: Vec::new(),
            breaker: BreakerConfig::default(),
            health_interval: Duration::from_secs(2),
            job_timeout: Duration::from_secs(150),
            attempts: 3,
        }
    }
}

struct Node {
    name: String,
    client: NodeClient,
    weight: f64,
    breaker: Breaker,
    in_flight: AtomicUsize,
    /// None until the first health check answered or failed.
    up: Mutex<Option<bool>>,
    health: Mutex<Option<Health>>,
    last_error: Mutex<Option<String>>,
    jobs_ok: AtomicU64,
    jobs_failed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    fn is_up(&self) -> bool {
        lock(&self.up).unwrap_or(false)
    }

    fn load(&self) -> f64 {
        let capacity = lock(&self.health).as_ref().map_or(1, |h| h.capacity.max(1));
        (self.in_flight.load(Ordering::Relaxed) as f64 + 1.0) / (capacity as f64 * self.weight)
    }

    fn note_error(&self, message: &str) {
        *lock(&self.last_error) = Some(message.to_owned());
    }

    async fn check_health(&self) {
        let Some(permit) = self.breaker.acquire() else {
            *lock(&self.up) = Some(false);
            return;
        };
        match self.client.health().await {
            Ok(health) => {
                permit.success();
                let was = lock(&self.up).replace(health.status == "ok");
                if was != Some(true) && health.status == "ok" {
                    tracing::info!(node = %self.name, capacity = health.capacity, "node up");
                }
                *lock(&self.health) = Some(health);
            }
            Err(e) => {
                if matches!(e, CallError::Failed(_)) {
                    permit.failure();
                }
                let was = lock(&self.up).replace(false);
                if was != Some(false) {
                    tracing::warn!(node = %self.name, error = e.message(), "node down");
                }
                self.note_error(e.message());
            }
        }
    }

    /// Runs one call through the breaker, keeping counts and the in-flight gauge.
    async fn call<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let Some(permit) = self.breaker.acquire() else {
            return Err(CallError::Busy(JobError::new(
                ErrorKind::NodeFailed,
                format!("node {} is cut off by its circuit breaker", self.name),
            )));
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = work.await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match &result {
            Ok(_) | Err(CallError::Rejected(_)) => {
                permit.success();
                self.jobs_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(CallError::Failed(message)) => {
                permit.failure();
                self.jobs_failed.fetch_add(1, Ordering::Relaxed);
                self.note_error(message);
            }
            Err(CallError::Busy(_)) => drop(permit),
            Err(CallError::Unauthorized(e)) => {
                drop(permit);
                self.note_error(&e.message);
            }
        }
        result
    }

    fn status(&self) -> NodeStatus {
        let health = lock(&self.health).clone();
        NodeStatus {
            name: self.name.clone(),
            state: match *lock(&self.up) {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            }
            .to_owned(),
            breaker: serde_json::to_value(self.breaker.state())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            capacity: health.as_ref().map_or(0, |h| h.capacity),
            arch: health.as_ref().map(|h| h.arch.clone()),
            tags: health.map(|h| h.tags).unwrap_or_default(),
            jobs_ok: self.jobs_ok.load(Ordering::Relaxed),
            jobs_failed: self.jobs_failed.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
        }
    }
}

struct Placement {
    node: Arc<Node>,
    remote: SessionId,
}

pub struct FarmExecutor {
    nodes: Vec<Arc<Node>>,
    config: FarmConfig,
    sessions: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<Placement>>>>,
    next_id: AtomicU64,
    health_task: tokio::task::AbortHandle,
    stopped: AtomicBool,
}

impl FarmExecutor {
    /// Builds the farm and checks every node once before returning, so the first
    /// jobs are placed on nodes known to be up.
    pub async fn start(config: FarmConfig) -> Result<FarmExecutor, String> {
        if config.nodes.is_empty() {
            return Err("no farm nodes configured".into());
        }
        let mut nodes = Vec::new();
        for spec in &config.nodes {
            let client = NodeClient::new(&spec.url, spec.token.clone(), config.job_timeout)?;
            let name = client.base().trim_start_matches("http://").to_owned();
            nodes.push(Arc::new(Node {
                breaker: Breaker::new(name.clone(), config.breaker),
                name,
                client,
                weight: if spec.weight > 0.0 { spec.weight } else { 1.0 },
                in_flight: AtomicUsize::new(0),
                up: Mutex::new(None),
                health: Mutex::new(None),
                last_error: Mutex::new(None),
                jobs_ok: AtomicU64::new(0),
                jobs_failed: AtomicU64::new(0),
            }));
        }
        check_all(&nodes).await;
        let watched = nodes.clone();
        let interval = config.health_interval;
        let health_task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                check_all(&watched).await;
            }
        })
        .abort_handle();
        Ok(FarmExecutor {
            nodes,
            config,
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            health_task,
            stopped: AtomicBool::new(false),
        })
    }

    /// Power of two choices among usable nodes not in `exclude`.
    fn pick(&self, exclude: &[String]) -> Option<Arc<Node>> {
        let usable: Vec<&Arc<Node>> = self
            .nodes
            .iter()
            .filter(|n| !exclude.contains(&n.name))
            .filter(|n| n.is_up() && n.breaker.state() != crate::BreakerState::Open)
            .collect();
        let mut rng = rand::rng();
        match usable.len() {
            0 => None,
            1 => Some(usable[0].clone()),
            len => {
                let a = rng.random_range(0..len);
                let mut b = rng.random_range(0..len - 1);
                if b >= a {
                    b += 1;
                }
                let (a, b) = (usable[a], usable[b]);
                Some(if a.load() <= b.load() {
                    a.clone()
                } else {
                    b.clone()
                })
            }
        }
    }

    fn no_node(&self, tried: &[String], last: Option<&CallError>) -> JobError {
        let summary: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let status = n.status();
                let why = status
                    .last_error
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                format!(
                    "{} {}, breaker {}{why}",
                    n.name, status.state, status.breaker
                )
            })
            .collect();
        let last = last
            .map(|e| format!("; last error: {}", e.message()))
            .unwrap_or_default();
        JobError::new(
            ErrorKind::Unavailable,
            format!(
                "no farm node could take the job (tried {}; nodes: {}){last}",
                if tried.is_empty() {
                    "none".to_owned()
                } else {
                    tried.join(", ")
                },
                summary.join(", ")
            ),
        )
    }

    /// Opens a session on some node other than those in `exclude`.
    async fn place_session(&self, exclude: &[String]) -> Result<Placement, JobError> {
        let mut tried = exclude.to_vec();
        let mut last = None;
        for _ in 0..self.nodes.len() {
            let Some(node) = self.pick(&tried) else { break };
            match node.call(node.client.open_session()).await {
                Ok(remote) => return Ok(Placement { node, remote }),
                Err(CallError::Rejected(e)) => return Err(e),
                Err(e) => {
                    tried.push(node.name.clone());
                    last = Some(e);
                }
            }
        }
        Err(self.no_node(&tried, last.as_ref()))
    }

    async fn run_stateless(&self, job: Job) -> Result<JobOutput, JobError> {
        let mut tried: Vec<String> = Vec::new();
        let mut last: Option<CallError> = None;
        let mut attempt = 0;
        while attempt < self.config.attempts.max(1) {
            let Some(node) = self.pick(&tried) else { break };
            match node.call(node.client.run(&job)).await {
                Ok(output) => return Ok(output),
                Err(CallError::Rejected(e)) if !e.kind.is_transient() => return Err(e),
                Err(e) => {
                    tracing::info!(node = %node.name, error = e.message(), "job failed on node; trying another");
                    tried.push(node.name.clone());
                    // A busy node is not a failed attempt; a failed one earns backoff.
                    if !matches!(e, CallError::Busy(_)) {
                        attempt += 1;
                        let jitter = rand::rng().random_range(25..100);
                        tokio::time::sleep(Duration::from_millis(jitter * attempt as u64)).await;
                    }
                    last = Some(e);
                }
            }
        }
        match last {
            Some(CallError::Rejected(e)) => Err(e),
            Some(CallError::Unauthorized(e)) => Err(e),
            other => Err(self.no_node(&tried, other.as_ref())),
        }
    }

    async fn run_in_session(&self, id: &SessionId, job: Job) -> Result<JobOutput, JobError> {
        let cell = lock(&self.sessions).get(id).cloned().ok_or_else(|| {
            JobError::new(
                ErrorKind::SessionNotFound,
                format!("session '{id}' does not exist"),
            )
        })?;
        let mut placement = cell.lock().await;
        let remote_job = Job::new(Some(placement.remote.clone()), job.operation.clone());
        let node = placement.node.clone();
        let lost = match node.call(node.client.run(&remote_job)).await {
            Ok(output) => return Ok(output),
            Err(CallError::Rejected(e)) if e.kind != ErrorKind::SessionNotFound => return Err(e),
            Err(CallError::Busy(e)) | Err(CallError::Unauthorized(e)) => return Err(e),
            Err(e) => e,
        };
        // The node failed or forgot the session: move it.
        tracing::warn!(node = %node.name, error = lost.message(), "session lost its node; moving it");
        let moved = self.place_session(std::slice::from_ref(&node.name)).await?;
        let new_node = moved.node.name.clone();
        *placement = moved;
        if job.operation.url().is_some() {
            // The job loads its own page: run it where the session now lives.
            let retry = Job::new(Some(placement.remote.clone()), job.operation);
            let node = placement.node.clone();
            return node
                .call(node.client.run(&retry))
                .await
                .map_err(|e| match e {
                    CallError::Failed(m) => JobError::new(ErrorKind::NodeFailed, m),
                    CallError::Rejected(e) | CallError::Busy(e) | CallError::Unauthorized(e) => e,
                });
        }
        Err(JobError::new(
            ErrorKind::BrowserCrashed,
            format!(
                "the browser session moved to node {new_node} because node {} failed ({}); \
                 page state was lost, navigate again",
                node.name,
                lost.message()
            ),
        ))
    }
}

/// Checks every node's health concurrently.
async fn check_all(nodes: &[Arc<Node>]) {
    let mut set = tokio::task::JoinSet::new();
    for node in nodes {
        let node = node.clone();
        set.spawn(async move { node.check_health().await });
    }
    while set.join_next().await.is_some() {}
}

#[async_trait]
impl Executor for FarmExecutor {
    async fn open_session(&self) -> Result<SessionId, JobError> {
        let placement = self.place_session(&[]).await?;
        let id = SessionId(format!(
            "farm-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
        tracing::debug!(session = %id, node = %placement.node.name, "session placed");
        lock(&self.sessions).insert(id.clone(), Arc::new(tokio::sync::Mutex::new(placement)));
        Ok(id)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), JobError> {
        let cell = lock(&self.sessions).remove(id).ok_or_else(|| {
            JobError::new(
                ErrorKind::SessionNotFound,
                format!("session '{id}' does not exist"),
            )
        })?;
        let placement = cell.lock().await;
        let _ = placement.node.client.close_session(&placement.remote).await;
        Ok(())
    }

    async fn run(&self, job: Job) -> Result<JobOutput, JobError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(JobError::new(
                ErrorKind::Unavailable,
                "the gateway is shutting down",
            ));
        }
        job.operation.validate()?;
        match job.session.clone() {
            Some(id) => self.run_in_session(&id, job).await,
            None => self.run_stateless(job).await,
        }
    }

    async fn status(&self) -> FarmStatus {
        FarmStatus {
            nodes: self.nodes.iter().map(|n| n.status()).collect(),
        }
    }

    /// Which node serves a session (for `farm_status` and tests).
    async fn session_node(&self, id: &SessionId) -> Option<String> {
        let cell = lock(&self.sessions).get(id).cloned()?;
        let placement = cell.lock().await;
        Some(placement.node.name.clone())
    }

    async fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
        self.health_task.abort();
        let ids: Vec<SessionId> = lock(&self.sessions).keys().cloned().collect();
        for id in ids {
            let _ = self.close_session(&id).await;
        }
    }
}
